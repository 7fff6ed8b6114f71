// The page: controls and query parameters -> constraints -> poems in #poems.
// Contract for scripts and tests: ?form=&start=&acrostic=&rhyme=&tones=1&seed=&greedy=1&n=&auto=1
// (also no_repeat=1, novel=1, temperature=); when done, body[data-state] is "done", or "error"
// with the message in #error; each child of #poems holds one poem's text.
import { PoemModel } from './runtime.js';
import { UserError, generate, groupId, poemRules } from './generate.js';

const $ = (selector) => document.querySelector(selector);
const controls = $('#controls');
let model;

function fail(message) {
  $('#error').textContent = message;
  document.body.dataset.state = 'error';
}

function request(values) {
  const form = model.forms.find((f) => f.name === (values.form || model.forms[0].name));
  if (!form) throw new UserError(`form ${values.form} is not one this model knows: ${model.forms.map((f) => f.name).join(', ')}`);
  const firstChars = {};
  if (values.start && values.acrostic) throw new UserError('a start character and an acrostic both choose the first character: use one');
  if (values.start) {
    if (Array.from(values.start).length !== 1) throw new UserError('the start takes one character');
    firstChars[0] = values.start;
  }
  if (values.acrostic) {
    const chars = Array.from(values.acrostic);
    if (chars.length !== form.numLines) throw new UserError(`the acrostic needs ${form.numLines} characters for a ${form.name}, got ${chars.length}`);
    chars.forEach((ch, i) => { firstChars[i] = ch; });
  }
  for (const ch of Object.values(firstChars)) {
    if (!model.index.has(ch) || !model.classes.hanzi[model.index.get(ch)]) throw new UserError(`${ch} is not in the model's vocabulary: choose a more common character`);
  }
  const rhyme = values.rhyme !== undefined && values.rhyme !== '0';
  let rhymeGroup = null;
  if (rhyme && values.rhyme && values.rhyme !== '1') {
    rhymeGroup = groupId(values.rhyme, model.prosody?.groupNames ?? []);
    if (rhymeGroup === null) throw new UserError(`${values.rhyme} is not a 平水韵 平 group: use one such as 东, 一东 or 下平声七阳`);
  }
  const n = Number(values.n ?? 1), seed = Number(values.seed ?? 1), temperature = Number(values.temperature ?? 0.8);
  if (!(Number.isInteger(n) && n >= 1 && n <= 50)) throw new UserError('n must be between 1 and 50');
  if (!(Number.isInteger(seed) && seed >= 0)) throw new UserError('seed must be a whole number >= 0');
  if (!(temperature > 0 && Number.isFinite(temperature))) throw new UserError('temperature must be > 0');
  return { form, n, seed, sampling: { greedy: values.greedy === '1', temperature, topP: 0.9 },
           constraints: { firstChars, rhyme, rhymeGroup, tones: values.tones === '1', noRepeat: values.no_repeat === '1',
                          novel: values.novel === '1' } };
}

function show(poem, form) {
  const div = document.createElement('div');
  div.className = 'poem';
  div.dataset.text = poem.text;
  div.title = [poem.template, poem.rhyme_group].filter(Boolean).join(' · ');
  for (const line of form.lines(poem.text)) {
    const span = document.createElement('span');
    span.textContent = line;
    div.appendChild(span);
  }
  $('#poems').appendChild(div);
}

async function run(values) {
  document.body.dataset.state = 'working';
  $('#error').textContent = '';
  $('#poems').replaceChildren();
  try {
    const r = request(values);
    const decoder = poemRules(model, r.form, r.constraints);
    const started = performance.now(), poems = [];
    for (let i = 0; i < r.n; i++) {
      const poem = await generate(model, r.form, decoder, r.sampling, r.seed + i);
      poems.push(poem);
      show(poem, r.form);
    }
    const ms = performance.now() - started;
    $('#status').textContent = `${r.n} poem(s) in ${ms.toFixed(0)} ms (${(ms / r.n).toFixed(0)} ms each)`;
    document.body.dataset.ms = ms.toFixed(1);
    window.poemnet = { poems };
    document.body.dataset.state = 'done';
  } catch (e) {
    fail(e instanceof UserError ? e.message : `error: ${e.message}`);
  }
}

function formValues() {
  const data = new FormData(controls), values = {};
  for (const [key, value] of data) if (value !== '') values[key] = value;
  for (const box of ['tones', 'no_repeat', 'novel', 'greedy']) values[box] = data.has(box) ? '1' : '0';
  if (data.has('rhyme')) values.rhyme = data.get('group') || '1'; else delete values.rhyme;
  return values;
}

async function main() {
  const started = performance.now();
  try {
    model = await PoemModel.load(new URL('./', location.href));
  } catch (e) {
    fail(`the model could not be loaded (${e.message}): build the page with make web and serve it over HTTP`);
    return;
  }
  document.body.dataset.loadMs = (performance.now() - started).toFixed(1);
  controls.form.replaceChildren(...model.forms.map((f) => new Option(f.name, f.name)));
  controls.addEventListener('submit', (event) => { event.preventDefault(); run(formValues()); });
  const params = Object.fromEntries(new URLSearchParams(location.search));
  for (const [key, value] of Object.entries(params)) {
    if (key === 'rhyme') {  // rhyme=1: any group; rhyme=东: that group
      controls.elements.rhyme.checked = value !== '0';
      if (value !== '1' && value !== '0') controls.elements.group.value = value;
      continue;
    }
    const field = controls.elements[key];
    if (field?.type === 'checkbox') field.checked = value === '1';
    else if (field) field.value = value;
  }
  document.body.dataset.state = 'ready';
  if (params.auto === '1') await run(params);
}

main();
