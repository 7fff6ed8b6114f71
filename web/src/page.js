// The page: controls and query parameters -> a request (request.js, the twin of infer.py's) -> poems in #poems.
// Contract for scripts and tests: ?form=&start=&acrostic=&rhyme=&tones=1&seed=&greedy=1&n=&auto=1
// (also no_repeat=1, novel=1, template=, temperature=, top_k=, top_p=; rhyme=1 any group, rhyme=东
// that group); when done, body[data-state] is "done", or "error" with the message in #error; each
// child of #poems holds one poem's text.
import { UserError } from './errors.js';
import { fromQuery, prepare, write } from './request.js';
import { PoemModel } from './runtime.js';

const $ = (selector) => document.querySelector(selector);
const controls = $('#controls');
let model;

function fail(message) {
  $('#error').textContent = message;
  document.body.dataset.state = 'error';
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
    const prepared = prepare(model, { seed: 1, ...fromQuery(values) });
    const started = performance.now();
    const poems = await write(model, prepared, (poem) => show(poem, prepared.form));
    const ms = performance.now() - started;
    $('#status').textContent = `${poems.length} poem(s) in ${ms.toFixed(0)} ms (${(ms / poems.length).toFixed(0)} ms each)`;
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
