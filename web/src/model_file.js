// The twin of poemnet/generation/model_file.py for model.json, which web/build.py writes from the
// model file's metadata (web_metadata): read and check every field a rule will read, strictly,
// before decoding starts. The constants (reserved ids, character ranges, form layouts) come from
// here, never from a table in the page. Prosody and the line filter are decoded on first use.
import { Form } from './forms.js';
import { BASES, LineFilter, PRIME } from './line_filter.js';
import { Vocab } from './vocab.js';

export const READABLE_FORMATS = [1, 2];
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
  const forms = json.forms.map((name) => {
    const layout = json.form_layouts?.[name];
    need(isCount(layout?.line_len) && isCount(layout?.num_lines), `form_layouts has no layout for ${name}`);
    need(vocab.formId(name) < vocab.numReserved, `the vocabulary reserves no token for ${name}`);
    return new Form(name, layout.line_len, layout.num_lines);
  });
  need(['simplified', 'traditional'].includes(json.script), `script ${json.script} is neither simplified nor traditional`);
  need(isCount(json.num_layers) && isCount(json.hidden_dim), 'num_layers and hidden_dim must be positive counts');
  const aliases = json.form_aliases ?? {};  // {form: [other names]}, where the build writes them
  need(Object.values(aliases).every((a) => isList(a, (name) => typeof name === 'string')),
       'form_aliases must map forms to lists of names');
  return new Metadata(json, vocab, forms, aliases, readScriptMap(json.script_map ?? {}, vocab));
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
    this.canonicalForm = new Map(names);  // any name of a form -> the form's name
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
    p.rhymeChar = new Uint8Array(n);  // 平 only, in exactly one 平 group: may end a rhyming line
    p.rhymeGroup = new Int32Array(n).fill(-1);
    for (let i = 0; i < n; i++) {
      const tone = data.tones[i], groups = data.ping_groups[i];
      p.ping[i] = tone === 'P' || tone === 'E' ? 1 : 0;
      p.ze[i] = tone === 'Z' || tone === 'E' ? 1 : 0;
      p.zeOnly[i] = tone === 'Z' ? 1 : 0;
      if (tone === 'P' && groups.length === 1) [p.rhymeChar[i], p.rhymeGroup[i]] = [1, groups[0]];
    }
    p.groupNames = data.group_names;
    p.templates = data.templates;
    return p;
  }
}

export function checkProsody(data, vocabSize, forms) {
  const { tones, ping_groups: groups, group_names: names, templates } = data ?? {};
  need(typeof tones === 'string' && tones.length === vocabSize && [...tones].every((t) => TONE_CLASSES.includes(t)),
       `prosody.tones must be ${vocabSize} classes from ${TONE_CLASSES}`);
  need(isList(names, (name) => typeof name === 'string' && name) && names.length,
       'prosody.group_names must be a list of names');
  need(isList(groups, (g) => isList(g, (i) => isCount(i, 0) && i < names.length)) && groups.length === vocabSize,
       `prosody.ping_groups must list group ids below ${names.length} for all ${vocabSize} entries`);
  for (const form of forms) checkTemplates(templates?.[form.name], form);
  return data;
}

function checkTemplates(templates, form) {
  need(isList(templates, () => true) && templates.length, `prosody.templates has no templates for ${form.name}`);
  const lineOk = (line) => typeof line === 'string' && Array.from(line).length === form.lineLen
    && [...line].every((tone) => TEMPLATE_TONES.includes(tone));
  for (const t of templates) {
    need(typeof t?.name === 'string' && isList(t.lines, lineOk) && t.lines.length === form.numLines,
         `a ${form.name} template must have a name and ${form.numLines} lines of ${form.lineLen} of ${TEMPLATE_TONES}`);
  }
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
