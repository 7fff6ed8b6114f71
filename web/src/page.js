// The page: controls and query parameters -> a request (request.js, the twin of infer.py's) -> poems in #poems.
// Contract for links, scripts and tests: ?form=&start=&acrostic=&rhyme=&tones=&template=&no_repeat=
// &novel=&parallel=&title=&keywords=江,孤舟&first_line=&temperature=&n=&seed=&greedy=&vertical=&auto=1 (also top_k=, top_p=). A flag is 1, true or
// yes, or 0, false or no; rhyme= a flag (any group) or a group's name (东, 一東 ...). The query fills
// the controls; auto=1 then writes what they show. Each write puts its settings and seed in the URL.
// body[data-state]: loading, ready, working, done, or error with the message in #error; each child
// of #poems is one poem (data-text, data-seed), its lines in .verse.
import { UserError } from './errors.js';
import { FLAGS, chooseForm, fromQuery, parseFlag, prepare, write } from './request.js';
import { PoemModel } from './runtime.js';
import { isLushi } from './scoring.js';
import { checkTitle, titleEndId } from './topic.js';

const $ = (selector) => document.querySelector(selector);
const controls = $('#controls'), fields = controls.elements;
const TEXT_FIELDS = ['start', 'acrostic', 'template', 'title', 'keywords', 'first_line'];
const QUERY_ONLY = ['top_k', 'top_p'];  // sampling settings without a control, kept in the links
const RELAXED = { tones: '平仄', rhyme_group: '韵部', rhyme: '押韵', novel: '不抄袭', no_repeat: '不重字', keywords: '关键词' };
const MB = (bytes) => (bytes / 1e6).toFixed(1);
let model, queryOnly = {};

function fail(message) {
  $('#error').textContent = message;
  document.body.dataset.state = 'error';
}

function setBusy(busy) {
  controls.querySelector('fieldset').disabled = busy;
}

// --- Loading: the runtime's WebAssembly, model.json and the model file, with the bytes shown.

async function download(url, progress) {  // -> Uint8Array, its bytes counted in progress as they come
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  progress.expect(Number(response.headers.get('content-length')));
  const reader = response.body.getReader(), chunks = [];
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    chunks.push(chunk.value);
    progress.add(chunk.value.length);
  }
  const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  chunks.reduce((offset, c) => { bytes.set(c, offset); return offset + c.length; }, 0);
  return bytes;
}

class Progress {  // one bar over every file, each size known once its headers arrive
  loaded = 0;
  total = 0;

  expect(size) {
    this.total = size > 0 && this.total !== null ? this.total + size : null;  // null: a size is unknown
  }

  add(bytes) {
    this.loaded += bytes;
    const known = this.total !== null && this.loaded <= this.total;  // a compressed body outgrows its length
    Object.assign(document.body.dataset, { loaded: this.loaded, total: known ? this.total : '' });
    if (known) Object.assign($('#loading progress'), { max: this.total, value: this.loaded });
    $('#progress').textContent = `正在下载模型：${MB(this.loaded)}${known ? ` / ${MB(this.total)}` : ''} MB`;
  }
}

async function loadModel(base) {  // the runtime's WebAssembly and the model file download side by side
  const ort = globalThis.ort, progress = new Progress();
  const runtime = download(new URL('ort/ort-wasm-simd-threaded.wasm', base), progress);
  runtime.catch(() => {});  // awaited below; a failure is reported there
  const meta = JSON.parse(new TextDecoder().decode(await download(new URL('model.json', base), progress)));
  const onnx = await download(new URL(meta.file, base), progress);
  ort.env.wasm.wasmPaths = new URL('ort/', base).href;  // must be absolute (the .mjs beside the .wasm)
  ort.env.wasm.wasmBinary = await runtime;
  $('#progress').textContent = '正在启动模型……';
  return PoemModel.create(ort, meta, onnx);
}

// --- The controls: filled from the query, read into a request, written back into the URL.

function formValues() {  // the controls as query strings, as a link carries them
  const values = { form: fields.form.value, n: fields.n.value, ...queryOnly };
  for (const key of TEXT_FIELDS) if (fields[key].value.trim() && !fields[key].disabled) values[key] = fields[key].value.trim();
  for (const key of FLAGS) if (fields[key].checked && !fields[key].disabled) values[key] = '1';
  if (!fields.greedy.checked) values.temperature = fields.temperature.value;
  if (fields.seed.value !== '') values.seed = fields.seed.value;
  const group = fields.group.value.trim();
  if (group && !fields.rhyme.checked) throw new UserError(`填了韵部「${group}」却没勾选押韵：勾选押韵，或清空韵部`);
  if (fields.rhyme.checked) values.rhyme = group || '1';
  return values;
}

function applyQuery(params) {  // -> whether to write at once (auto=1)
  fromQuery(params);  // a bad flag or number: an error naming its parameter
  const auto = parseFlag('auto', params.auto);
  for (const [key, value] of Object.entries(params)) {
    if (key === 'rhyme') {  // off, any group (''), or a group's name
      const { rhyme } = fromQuery({ rhyme: value });
      [fields.rhyme.checked, fields.group.value] = [rhyme !== undefined, rhyme ?? ''];
    } else if (key === 'form') fields.form.value = chooseForm(model, value).name;
    else if (QUERY_ONLY.includes(key)) queryOnly[key] = value;
    else if (key === 'title' && fields.title.disabled && value.trim()) checkTitle(model.vocab, (ch) => ch, value);  // refused
    else if (key === 'seed' && auto) continue;  // writes these poems once; the next press draws anew
    else if (fields[key]?.type === 'checkbox') fields[key].checked = parseFlag(key, value);
    else if (fields[key]) fields[key].value = value;
  }
  showTemplates();
  layOut();
  return auto;
}

function updateUrl(values, seed, greedy) {  // the link that writes these poems again
  const query = new URLSearchParams({ ...values, ...(greedy ? {} : { seed }) });
  if (fields.vertical.checked) query.set('vertical', '1');
  query.set('auto', '1');
  history.replaceState(null, '', `?${query}`);
}

function showTemplates() {  // the form's template names and the 平 groups, offered as the fields' choices
  const prosody = model.prosody, form = chooseForm(model, fields.form.value);
  const options = (names) => names.map((name) => new Option(name));
  $('#templates').replaceChildren(...options((prosody?.templates[form.name] ?? []).map((t) => t.name)));
  $('#groups').replaceChildren(...options(prosody?.groupNames ?? []));
  fields.parallel.disabled = !(isLushi(form) && model.meta.json.parallel);  // 对仗: a 律诗's middle couplets
}

function offerTitle() {  // a model trained without titles has no <title> token: the field says so, disabled
  const known = titleEndId(model.vocab) !== null;
  fields.title.disabled = !known;
  $('#title-note').hidden = known;
}

function layOut() {
  $('#poems').classList.toggle('vertical', fields.vertical.checked);
  const query = new URLSearchParams(location.search);
  if (!query.has('auto')) return;  // no link yet
  if (fields.vertical.checked) query.set('vertical', '1'); else query.delete('vertical');
  history.replaceState(null, '', `?${query}`);
}

// --- Writing and showing poems.

async function copy(text, button) {  // the clipboard where the page may use it, else a selected textarea
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = Object.assign(document.createElement('textarea'), { value: text, readOnly: true });
    area.style.cssText = 'position: fixed; opacity: 0';
    document.body.append(area);
    area.select();
    document.execCommand('copy');
    area.remove();
  }
  button.textContent = '已复制';
  setTimeout(() => { button.textContent = '复制'; }, 1500);
}

function show(poem, form, seed) {
  const figure = Object.assign(document.createElement('figure'), { className: 'poem' });
  const verse = Object.assign(document.createElement('div'), { className: 'verse' });
  const lines = form.lines(poem.text);  // a 词's 下片 starts after a gap (.pian), as its copy does
  const span = (line) => Object.assign(document.createElement('span'), { textContent: line });
  verse.append(...lines.map((line, i) => Object.assign(span(line), i === form.pian ? { className: 'pian' } : {})));
  const caption = document.createElement('figcaption');
  const relaxed = [...new Set((poem.relaxed ?? []).flatMap((r) => r.relaxed))].map((name) => RELAXED[name] ?? name);
  const about = [poem.template, poem.rhyme_group, relaxed.length ? `放宽了${relaxed.join('、')}` : null,
                 seed === null ? null : `种子 ${seed}`].filter(Boolean);
  caption.append(...about.map((text) => Object.assign(document.createElement('span'), { textContent: text })));
  const button = Object.assign(document.createElement('button'), { type: 'button', className: 'copy', textContent: '复制' });
  const copied = lines.map((line, i) => (i === form.pian ? `\n${line}` : line)).join('\n');  // a blank line between 片
  button.addEventListener('click', () => copy(copied, button));
  caption.append(button);
  figure.append(verse, caption);
  Object.assign(figure.dataset, { text: poem.text, ...(seed === null ? {} : { seed }) });
  $('#poems').append(figure);
}

async function run(seed = null) {  // seed: a link's, for this write only
  $('#error').textContent = $('#status').textContent = '';
  $('#poems').replaceChildren();
  window.poemnet = null;
  document.body.dataset.state = 'working';
  setBusy(true);
  try {
    const values = formValues(), request = fromQuery(values);
    const prepared = prepare(model, seed === null ? request : { ...request, seed: Number(seed) });
    const greedy = prepared.sampling.greedy, started = performance.now();
    updateUrl(values, prepared.seed, greedy);
    let i = 0;  // poem i of a page's request is poem 0 of seed + i: each shows the seed that writes it alone
    const poems = await write(model, prepared, (poem) => show(poem, prepared.form, greedy ? null : prepared.seed + i++));
    const ms = performance.now() - started;
    $('#status').textContent = `${poems.length} 首，用时 ${(ms / 1000).toFixed(1)} 秒（每首 ${(ms / poems.length).toFixed(0)} 毫秒）`
      + (greedy ? '' : `，种子 ${prepared.seed}`);
    document.body.dataset.ms = ms.toFixed(1);
    window.poemnet = { poems, seed: greedy ? null : prepared.seed };
    document.body.dataset.state = 'done';
  } catch (e) {
    $('#poems').replaceChildren();
    fail(e instanceof UserError ? e.message : `error: ${e.message}`);
  } finally {
    setBusy(false);
  }
}

function listen() {
  controls.addEventListener('submit', (event) => {  // Enter in a field, or 作诗
    event.preventDefault();
    if (document.body.dataset.state !== 'working') run();
  });
  fields.group.addEventListener('input', () => { if (fields.group.value.trim()) fields.rhyme.checked = true; });
  fields.template.addEventListener('input', () => { if (fields.template.value.trim()) fields.tones.checked = true; });
  fields.form.addEventListener('change', showTemplates);
  fields.vertical.addEventListener('change', layOut);
}

async function main() {
  if (location.protocol === 'file:') return;  // index.html says how to serve the page
  const started = performance.now();
  try {
    model = await loadModel(new URL('./', location.href));
  } catch (e) {
    fail(`模型没能载入（${e.message}）：用 make web 构建页面，用 make serve 经 HTTP 打开`);
    $('#loading').hidden = true;
    return;
  }
  document.body.dataset.loadMs = (performance.now() - started).toFixed(1);
  $('#loading').hidden = true;
  const options = (kind) => model.forms.filter((f) => f.kind === kind).map((f) => new Option(f.name, f.name));
  const cipai = Object.assign(document.createElement('optgroup'), { label: '词牌' });
  cipai.append(...options('词'));  // the 词牌 after the 诗 forms, in a group of their own
  fields.form.replaceChildren(...options('诗'), ...(cipai.children.length ? [cipai] : []));
  showTemplates();
  offerTitle();
  listen();
  setBusy(false);
  document.body.dataset.state = 'ready';
  const params = Object.fromEntries(new URLSearchParams(location.search));
  try {
    if (applyQuery(params)) await run(params.seed ?? null);
  } catch (e) {
    fail(e instanceof UserError ? e.message : `error: ${e.message}`);
  }
}

main();
