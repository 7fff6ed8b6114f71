// The twin of poemnet/generation/request.py: the page's one request builder. A request has the
// fields of Python's Request, by the same names; `prepare` checks it against a model and returns
// the form, the decoder (rules), the sampling and the seed; `write` runs the loop.
import { UserError } from './errors.js';
import { Constraints, generateDetailed, poemRules } from './generate.js';
import { DamagedModel } from './model_file.js';
import { groupId } from './prosody.js';
import { Sampling } from './sampling.js';
import { decodeParallel } from './scoring.js';
import { checkFirstLine, checkKeywords, checkTitle } from './topic.js';

export const MAX_POEMS = 1024;

// Python's Request and its defaults. rhyme: null off, '' any group, else a group's name.
export const REQUEST = Object.freeze({
  form: null, start: null, acrostic: null, rhyme: null, tones: false, template: null, no_repeat: false, novel: false,
  parallel: false, title: null, keywords: Object.freeze([]), first_line: null, n: 1, temperature: 0.8, top_k: null, top_p: 0.9, greedy: false, seed: null,
});

// The page's strings (query parameters, form fields) -> a request, as infer.py's parser makes one
// from the command line: rhyme=1 any group, rhyme=东 that group, rhyme=0 off; a flag is 1, true or
// yes, or 0, false or no; an empty field is left out. Anything else is an error naming the parameter.
export const FLAGS = ['tones', 'no_repeat', 'novel', 'parallel', 'greedy'];
const NUMBERS = ['n', 'seed', 'temperature', 'top_k', 'top_p'];
const TRUE = ['1', 'true', 'yes'], FALSE = ['0', 'false', 'no'];

export function parseFlag(name, value) {  // '', absent: false
  const word = (value ?? '').trim().toLowerCase();
  if (word === '' || FALSE.includes(word)) return false;
  check(TRUE.includes(word), `${name}=${value} is not a yes or no: use 1, true or yes, or 0, false or no`);
  return true;
}

export function fromQuery(values) {
  const given = (key) => values[key] !== undefined && values[key] !== '';
  const r = {};
  for (const key of ['form', 'start', 'acrostic', 'template', 'title', 'first_line']) if (given(key)) r[key] = values[key];
  if (given('keywords')) r.keywords = splitKeywords(values.keywords);
  for (const key of FLAGS) r[key] = parseFlag(key, values[key]);
  for (const key of NUMBERS.filter(given)) {
    r[key] = Number(values[key]);
    check(values[key].trim() !== '' && !Number.isNaN(r[key]), `${key}=${values[key]} is not a number`);
  }
  if (given('rhyme')) {
    const word = values.rhyme.trim().toLowerCase();
    if (TRUE.includes(word)) r.rhyme = '';
    else if (!FALSE.includes(word)) r.rhyme = values.rhyme;
  }
  return r;
}

export function splitKeywords(text) {  // 江,孤舟 (also ， and 、 between them), as infer.py's --keywords
  return text.replace(/[，、]/gu, ',').split(',');
}

function check(ok, message) {
  if (!ok) throw new UserError(message);
}

export function checkSampling(r) {
  check(r.seed === null || (Number.isSafeInteger(r.seed) && r.seed >= 0),
        `seed ${r.seed} must be a whole number between 0 and 2**53 - 1`);
  check(Number.isInteger(r.n) && r.n >= 1 && r.n <= MAX_POEMS, `n ${r.n} must be between 1 and ${MAX_POEMS}`);
  check(r.top_p > 0 && r.top_p <= 1, `top_p ${r.top_p} must be in (0, 1]`);
  check(r.top_k === null || (Number.isInteger(r.top_k) && r.top_k >= 1),
        `top_k ${r.top_k} must be >= 1 (leave it out to sample among all characters)`);
  const options = { topK: r.top_k ?? 0, topP: r.top_p };
  if (r.greedy) return new Sampling({ ...options, temperature: 1, greedy: true });  // the temperature does not enter
  check(r.temperature > 0 && Number.isFinite(r.temperature),
        `temperature ${r.temperature} must be > 0 and finite (or turn greedy on for the likeliest poem)`);
  return new Sampling({ ...options, temperature: r.temperature });
}

export function chooseForm(model, name) {  // by its name, or another name model.json gives it (五絕, wujue ...)
  if (name === null) return model.forms[0];
  const canonical = model.canonicalForm.get(name.trim().toLowerCase()) ?? name;
  const form = model.forms.find((f) => f.name === canonical);
  check(form, `form ${name} is not one this model knows: choose from ${model.forms.map((f) => f.name).join(', ')}`);
  return form;
}

// Python's to_model_char: the character itself if the model knows it, else its form in the model's
// script (Python asks OpenCC; the page reads the table web/build.py made with it, model.json's script_map).
function modelChar(ch, model, what) {
  const { vocab } = model, converted = model.meta.scriptMap.chars.get(ch);
  check(vocab.isHanzi(ch), `the ${what} ${ch} is not a Chinese character: use one such as 月`);
  if (vocab.has(ch)) return ch;
  check(converted !== undefined, `the ${what} ${ch} is not in the model's vocabulary: choose a more common character`);
  return converted;
}

function simplifiedGroupName(model, name) {  // as group_id converts a traditional name (東, 一東, 上平聲一東)
  const map = model.meta.scriptMap.groupNames;
  return Array.from(name, (ch) => map.get(ch) ?? ch).join('');
}

export function firstChars(model, form, start, acrostic) {  // {line: character} forced by start or acrostic
  check(!(start && acrostic), 'a start character and an acrostic both choose the first character: use one');
  if (start !== null) {
    const chars = Array.from(start);
    check(chars.length === 1, `the start takes one character, got ${chars.length}: use the acrostic for one per line`);
    return { 0: modelChar(start, model, 'start character') };
  }
  if (acrostic !== null) {
    const chars = Array.from(acrostic);
    check(chars.length === form.numLines,
          `the acrostic needs ${form.numLines} characters for a ${form.name}, got ${chars.length}`);
    return Object.fromEntries(chars.map((ch, line) => [line, modelChar(ch, model, 'acrostic character')]));
  }
  return {};
}

export function constraints(r, model, form, forced) {  // the decoding options, checked against what model.json carries
  check(r.template === null || r.tones, 'a template chooses the 平仄: turn tones on with it');
  check(r.first_line === null || !(0 in forced),
        'the first line gives the first character already: leave out the start or the acrostic');
  let group = null;
  if (r.rhyme && model.prosody) {  // without prosody data poemRules refuses rhyme
    group = groupId(simplifiedGroupName(model, r.rhyme), model.prosody.groupNames);
    check(group !== null, `${r.rhyme} is not a 平水韵 平 group: use one such as 东, 一东 or 下平声七阳`);
  }
  return new Constraints({ firstChars: forced, rhyme: r.rhyme !== null, rhymeGroup: group, tones: r.tones,
                           template: r.template, noRepeat: r.no_repeat, novel: r.novel, parallel: r.parallel,
                           ...topicConstraints(r, model, form) });
}

function topicConstraints(r, model, form) {  // title, keywords and first line in the model's characters (topic.js)
  const toChar = (ch, what) => modelChar(ch, model, what), vocab = model.vocab;
  return { title: checkTitle(vocab, toChar, r.title), keywords: checkKeywords(vocab, toChar, form, r.keywords),
           firstLine: checkFirstLine(vocab, toChar, form, r.first_line) };
}

export function prepare(model, request) {  // {form, decoder, sampling, seed, n} for the loop
  const r = { ...REQUEST, ...request };
  const sampling = checkSampling(r);
  const form = chooseForm(model, r.form);
  const wanted = constraints(r, model, form, firstChars(model, form, r.start, r.acrostic));
  const decoder = poemRules(model.vocab, form, wanted, wanted.needsProsody ? model.prosody : null,
                            wanted.needsLineFilter ? model.lineFilter : null, wanted.parallel ? parallelPairs(model) : null);
  const seed = r.seed ?? Math.floor(Math.random() * 2 ** 31);
  return { form, decoder, sampling, seed, n: r.n };
}

const decoded = new WeakMap();  // model -> its 对仗 pairs, decoded on first use (null: model.json carries none)

function parallelPairs(model) {
  if (!decoded.has(model)) {
    const data = model.meta.json.parallel;
    try {
      decoded.set(model, data === undefined ? null : decodeParallel(data, model.vocab));
    } catch (e) {
      if (!(e instanceof DamagedModel)) throw e;
      throw new UserError(`model.json is damaged (${e.message.slice(0, 120)}): rebuild the page with make web`);
    }
  }
  return decoded.get(model);
}

export async function write(model, prepared, onPoem = () => {}) {  // the poems of a prepared request; never a malformed one
  const p = prepared, step = (token, h, cell) => model.step(token, h, cell);
  const checked = (poem) => {  // the layout rule makes a malformed poem impossible
    check(p.form.matches(poem.text, model.vocab.isHanzi),
          `generation produced a malformed poem (${poem.text}): the model may be damaged; re-export it`);
    onPoem(poem);
  };
  return generateDetailed(step, () => model.zeroState(), model.vocab, p.form, p.n, p.decoder, p.sampling, p.seed, checked);
}
