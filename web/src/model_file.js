// The twin of poemnet/generation/model_file.py for model.json, which web/build.py writes from the
// model file's metadata (web_metadata): read and check every field a rule will read, strictly,
// before decoding starts. The constants (reserved ids, character ranges, form layouts) come from
// here, never from a table in the page. Prosody and the line filter are decoded on first use.
import { Form, PUNCTUATION } from './forms.js';
import { BASES, LineFilter, PRIME } from './line_filter.js';
import { Vocab } from './vocab.js';

export const READABLE_FORMATS = [1, 2, 3];
export const TONE_CLASSES = 'PZEU-';  // 平 only, 仄 only, either, unknown to the rhyme book, not a character
export const TEMPLATE_TONES = '平仄中';

export class DamagedModel extends Error {}

function need(ok, message) {
  if (!ok) throw new DamagedModel(message);
}

const isCount = (value, least = 1) => Number.isInteger(value) && value >= least;
const isList = (value, each) => Array.isArray(value) && value.every(each);

export function readMetadata(json) {  // model.json as parsed -> Metadata; throws DamagedModel
  need(READABLE_FORMATS.includes(json.format), `format ${json.format} is not one of ${READABLE_FORMATS}`);
  const ranges = json.hanzi_ranges;
  need(isList(ranges, (r) => isList(r, (x) => isCount(x, 0)) && r.length === 2) && ranges.length,
       'hanzi_ranges must be a list of [first, last] code points');
  need(isList(json.vocab, (t) => typeof t === 'string') && isCount(json.num_reserved),
       'vocab must be a list of tokens and num_reserved a positive count');
  let vocab;
  try {
    vocab = new Vocab(json.vocab, json.num_reserved, ranges);
  } catch (e) {
    throw new DamagedModel(`vocab: ${e.message}`);
  }
  need(isList(json.forms, (name) => typeof name === 'string') && json.forms.length, 'forms must be a non-empty list');
  need(new Set(json.forms).size === json.forms.length, 'forms must not repeat a form');
  const forms = json.forms.map((name) => {
    need(vocab.formId(name) < vocab.numReserved, `the vocabulary reserves no token for ${name}`);
    return readForm(name, json.form_layouts?.[name]);
  });
  need(['simplified', 'traditional'].includes(json.script), `script ${json.script} is neither simplified nor traditional`);
  need(isCount(json.num_layers) && isCount(json.hidden_dim), 'num_layers and hidden_dim must be positive counts');
  const aliases = json.form_aliases ?? {};  // {form: [other names]}, where the build writes them
  need(Object.values(aliases).every((a) => isList(a, (name) => typeof name === 'string')),
       'form_aliases must map forms to lists of names');
  return new Metadata(json, vocab, forms, aliases, readScriptMap(json.script_map ?? {}, vocab));
}

// A form_layouts entry: {kind, layout: [[length, mark], ...], pian, traditional} (web_metadata), or
// {line_len, num_lines} for a 诗 form as an older build wrote it.
function readForm(name, data) {
  need(typeof data === 'object' && data !== null, `form_layouts has no layout for ${name}`);
  if (data.layout === undefined) {
    need(isCount(data.line_len) && isCount(data.num_lines), `form_layouts has no layout for ${name}`);
    const layout = Array.from({ length: data.num_lines }, (_, i) => [data.line_len, i % 2 ? '。' : '，']);
    return new Form(name, layout);
  }
  const { layout, kind, pian = null, traditional = null } = data;
  need(isList(layout, (l) => Array.isArray(l) && l.length === 2 && isCount(l[0]) && typeof l[1] === 'string'
                             && l[1].length === 1 && PUNCTUATION.includes(l[1])) && layout.length,
       `form_layouts[${name}] must give lines of [length, one of ${PUNCTUATION}]`);
  need(['诗', '词'].includes(kind), `form_layouts[${name}].kind must be 诗 or 词`);
  need(pian === null || (Number.isInteger(pian) && pian > 0 && pian < layout.length),
       `form_layouts[${name}].pian must be a line inside the poem or null`);
  need(traditional === null || typeof traditional === 'string', `form_layouts[${name}].traditional must be a name`);
  return new Form(name, layout, { kind, pian, traditional: traditional === name ? null : traditional });
}

// script_map (web/build.py makes it with OpenCC): chars, a character of the other script -> the
// model's; group_names, a character of a 平 group's name in traditional -> the simplified one.
function readScriptMap({ chars = {}, group_names: groupNames = {} }, vocab) {
  const isCharMap = (map, ok) => typeof map === 'object'
    && Object.entries(map).every(([from, to]) => vocab.isHanzi(from) && vocab.isHanzi(to) && ok(to));
  need(isCharMap(chars, (to) => vocab.has(to)), 'script_map.chars must map characters to vocabulary characters');
  need(isCharMap(groupNames, () => true), 'script_map.group_names must map characters to characters');
  return { chars: new Map(Object.entries(chars)), groupNames: new Map(Object.entries(groupNames)) };
}

export class Metadata {
  constructor(json, vocab, forms, formAliases, scriptMap) {
    Object.assign(this, { json, vocab, forms, scriptMap, script: json.script, numLayers: json.num_layers,
                          hiddenDim: json.hidden_dim });
    const names = Object.entries(formAliases).flatMap(([name, others]) => [name, ...others].map((a) => [a, name]));
    const traditional = forms.filter((f) => f.traditional).map((f) => [f.traditional, f.name]);
    this.canonicalForm = new Map([...names, ...traditional]);  // any name of a form -> the form's name
    this.decoded = {};
  }

  prosody() {  // VocabProsody, or null in a format-1 file
    if (!('prosody' in this.decoded)) {
      const data = this.json.prosody;
      this.decoded.prosody = data ? VocabProsody.fromData(checkProsody(data, this.vocab.length, this.forms)) : null;
    }
    return this.decoded.prosody;
  }

  lineFilter() {  // LineFilter, or null in a format-1 file
    if (!('novel' in this.decoded)) {
      this.decoded.novel = this.json.novel ? decodeLineFilter(this.json.novel, this.json.novel_bloom) : null;
    }
    return this.decoded.novel;
  }
}

export class VocabProsody {  // the prosody data as arrays over the vocabulary
  static fromData(data) {
    const p = new VocabProsody(), n = data.tones.length;
    p.ping = new Uint8Array(n);  // may stand where 平 is required
    p.ze = new Uint8Array(n);  // may stand where 仄 is required
    p.zeOnly = new Uint8Array(n);  // 仄 only: may end a line that must not rhyme
    p.rhymeChar = new Uint8Array(n);  // 平 only, in exactly one 平 group: may end a rhyming line of a 诗
    p.rhymeGroup = new Int32Array(n).fill(-1);
    for (let i = 0; i < n; i++) {
      const tone = data.tones[i], groups = data.ping_groups[i];
      p.ping[i] = tone === 'P' || tone === 'E' ? 1 : 0;
      p.ze[i] = tone === 'Z' || tone === 'E' ? 1 : 0;
      p.zeOnly[i] = tone === 'Z' ? 1 : 0;
      if (tone === 'P' && groups.length === 1) [p.rhymeChar[i], p.rhymeGroup[i]] = [1, groups[0]];
    }
    p.numGroups = data.group_names.length;  // the 平 groups; the 词林正韵 部 follow them in groupNames
    p.groupNames = [...data.group_names, ...(data.cilin_names ?? [])];
    p.templates = data.templates;
    if (data.cilin) {  // a 词's rhyme: a character of one tone only, in one 部 of that tone
      const single = (tone, only) => Int32Array.from(data.cilin, (parts, i) => (
        data.tones[i] === only && parts[tone].length === 1 ? parts[tone][0] : -1));
      [p.partPing, p.partZe] = [single(0, 'P'), single(1, 'Z')];
      p.groupPart = Int32Array.from(data.group_cilin);
    }
    return p;
  }
}

export function checkProsody(data, vocabSize, forms) {
  const { tones, ping_groups: groups, group_names: names, templates } = data ?? {};
  need(typeof tones === 'string' && tones.length === vocabSize && [...tones].every((t) => TONE_CLASSES.includes(t)),
       `prosody.tones must be ${vocabSize} classes from ${TONE_CLASSES}`);
  need(isList(names, (name) => typeof name === 'string' && name) && names.length,
       'prosody.group_names must be a list of names');
  need(isList(groups, (g) => isIds(g, names.length)) && groups.length === vocabSize,
       `prosody.ping_groups must list group ids below ${names.length} for all ${vocabSize} entries`);
  if (forms.some((f) => f.kind === '词') || data.cilin) checkCilin(data, vocabSize, names.length);
  for (const form of forms) checkTemplates(templates?.[form.name], form);
  return data;
}

const isIds = (value, below) => isList(value, (i) => isCount(i, 0) && i < below);

function checkCilin({ cilin, cilin_names: names, group_cilin: groupParts }, vocabSize, numGroups) {
  need(isList(names, (name) => typeof name === 'string' && name) && names.length,
       'prosody.cilin_names must be a list of the 词林正韵 部 names');
  need(isList(cilin, (p) => Array.isArray(p) && p.length === 2 && p.every((ids) => isIds(ids, names.length)))
       && cilin.length === vocabSize, `prosody.cilin must list [平 部, 仄 部] below ${names.length} for all entries`);
  need(isIds(groupParts, names.length) && groupParts.length === numGroups,
       `prosody.group_cilin must give the 部 of each of the ${numGroups} 平 groups`);
}

function checkTemplates(templates, form) {
  need(isList(templates, () => true) && templates.length, `prosody.templates has no templates for ${form.name}`);
  const linesOk = (lines) => Array.isArray(lines) && lines.length === form.numLines
    && lines.every((line, i) => typeof line === 'string' && Array.from(line).length === form.layout[i][0]
                                && [...line].every((tone) => TEMPLATE_TONES.includes(tone)));
  for (const t of templates) {
    need(typeof t?.name === 'string' && linesOk(t.lines),
         `a ${form.name} template must have a name and ${form.numLines} lines of its layout's lengths of ${TEMPLATE_TONES}`);
    if ('rhymes' in t || form.kind === '词') checkRhymes(t, form);
  }
}

// A template's rhyme lines (ascending, inside the poem), the rhyme set and tone of each; a 诗
// template rhymes where the 诗 rule says, all in 平, in one set.
function checkRhymes(t, form) {
  const { rhymes, rhyme_sets: sets, rhyme_tones: tones } = t;
  need(isIds(rhymes, form.numLines) && rhymes.every((line, i) => i === 0 || line > rhymes[i - 1])
       && isIds(sets, Math.max(rhymes.length, 1)) && sets.length === rhymes.length && typeof tones === 'string'
       && tones.length === rhymes.length && [...tones].every((tone) => '平仄'.includes(tone)),
       `a ${form.name} template must give its rhyme lines, their rhyme sets and tones (平 or 仄)`);
  if (form.kind !== '诗') return;
  const expected = t.lines.map((_, i) => i).filter((i) => i % 2 === 1 || (i === 0 && t.lines[0].at(-1) === '平'));
  need(String(rhymes) === String(expected) && !tones.includes('仄') && sets.every((s) => s === 0),
       `a ${form.name} template must rhyme in 平 on its even lines (and line 1 where it ends in 平)`);
}

export function decodeLineFilter(params, bitsBase64) {
  need(typeof params === 'object' && typeof bitsBase64 === 'string', 'the line filter needs novel and novel_bloom');
  for (const key of ['num_bits', 'num_hashes', 'count']) {
    need(isCount(params[key], key === 'count' ? 0 : 1), `novel.${key} must be a positive integer`);
  }
  need(params.prime === PRIME && String(params.bases) === String(BASES), 'the line filter was hashed with other constants');
  let bits;
  try {
    bits = Uint8Array.from(atob(bitsBase64), (c) => c.charCodeAt(0));
  } catch (e) {
    throw new DamagedModel(`novel_bloom is not base64 (${e.message})`);
  }
  const bytes = Math.ceil(params.num_bits / 8);
  need(bits.length === bytes, `novel_bloom holds ${bits.length} bytes, its size says ${bytes}`);
  return new LineFilter(bits, params.num_bits, params.num_hashes, params.count);
}
