// The page's JavaScript against golden cases the Python generation code wrote (tests/golden_cases.py):
// for each request, the same form, sampling, masks and relaxations at every position of Python's
// poem, the same description, and for greedy ones the same poem. $POEMNET_GOLDEN names the folder;
// tests/test_js_twin.py writes it and runs `node --test web/test/`.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';

import * as ort from 'onnxruntime-web';

import { UserError } from '../src/errors.js';
import { DamagedModel, readMetadata } from '../src/model_file.js';
import { allowedTokens } from '../src/rules.js';
import { REQUEST, fromQuery, prepare, write } from '../src/request.js';
import { PoemModel } from '../src/runtime.js';
import { Sampling, sample } from '../src/sampling.js';
import { decodeParallel } from '../src/scoring.js';

const NEAR_TIE = 1e-5;  // a logit gap the two runtimes' rounding may close: a greedy poem may part there
const dir = process.env.POEMNET_GOLDEN;

function pack(mask) {  // as numpy's packbits(bitorder="little"), in base64
  const bytes = new Uint8Array(Math.ceil(mask.length / 8));
  mask.forEach((a, v) => { if (a) bytes[v >> 3] |= 1 << (v & 7); });
  return Buffer.from(bytes).toString('base64');
}

function toSampling(python) {  // Python's Sampling as a dict -> the twin's
  return new Sampling({ temperature: python.temperature, topK: python.top_k, topP: python.top_p, greedy: python.greedy });
}

function unpack(base64, size) {
  const bytes = Buffer.from(base64, 'base64');
  return Uint8Array.from({ length: size }, (_, v) => (bytes[v >> 3] >> (v & 7)) & 1);
}

function maskDifference(model, mine, theirs) {
  const ids = (a, b) => [...a.keys()].filter((v) => a[v] && !b[v]).map((v) => `${v} ${model.vocab.tokens[v]}`);
  const python = unpack(theirs, mine.length);
  return `JavaScript alone allows [${ids(mine, python).slice(0, 8)}], Python alone [${ids(python, mine).slice(0, 8)}]`;
}

async function loadModels(golden) {  // each model.json names its model file (the titled model has its own)
  const files = new Map(), models = {};
  for (const [name, file] of Object.entries(golden.models)) {
    const meta = JSON.parse(await readFile(join(dir, file), 'utf8'));
    if (!files.has(meta.file)) files.set(meta.file, await readFile(join(dir, meta.file)));
    models[name] = await PoemModel.create(ort, meta, files.get(meta.file));
  }
  return models;
}

function checkMasks(model, prepared, golden) {
  const { history, masks, relaxations } = golden;
  for (let position = 0; position < prepared.form.length; position++) {
    const before = history.slice(0, position);
    const { allowed, relaxed } = allowedTokens(prepared.decoder.rules, position, before, model.vocab.length);
    if (pack(allowed) !== masks[position]) assert.fail(`position ${position}: ${maskDifference(model, allowed, masks[position])}`);
    assert.deepEqual(relaxed, relaxations[position], `position ${position}: relaxed`);
  }
  const relaxed = relaxations.flatMap((names, position) => (names.length ? [{ position, relaxed: names }] : []));
  const described = { text: model.vocab.decode(history), ...prepared.decoder.describe(history) };
  if ('relaxed' in golden.poem) described.relaxed = relaxed;
  assert.deepEqual(described, golden.poem);
}

async function checkGreedy(model, prepared, golden) {  // returns whether the poems parted at a near-tie
  const [poem] = await write(model, prepared);
  if (poem.text === golden.poem.text) {
    assert.deepEqual(poem, golden.poem);
    return false;
  }
  const mine = Array.from(poem.text), theirs = Array.from(golden.poem.text);
  const parted = mine.findIndex((ch, p) => ch !== theirs[p]);
  const gap = golden.margins[parted];
  assert.ok(gap !== null && gap < NEAR_TIE,
            `the poems part at ${parted} (logit gap ${gap}): ${poem.text} against Python's ${golden.poem.text}`);
  return true;
}

if (!dir) {
  const skip = 'set POEMNET_GOLDEN to a folder tests/golden_cases.py wrote (tests/test_js_twin.py does)';
  test('golden cases', { skip }, () => {});
} else {
  const golden = JSON.parse(await readFile(join(dir, 'golden.json'), 'utf8'));
  const models = await loadModels(golden);
  const tally = { poems: 0, masks: 0, greedy: 0, nearTies: 0, rejected: 0, samples: 0 };

  for (const g of golden.poems) {
    test(`poem ${g.name}`, async () => {
      const model = models[g.model], prepared = prepare(model, g.request);
      assert.deepEqual(prepared.sampling, toSampling(g.sampling));
      checkMasks(model, prepared, g);
      tally.poems++;
      tally.masks += g.masks.length;
      if (g.greedy) {
        tally.greedy++;
        tally.nearTies += await checkGreedy(model, prepared, g);
      }
    });
  }

  for (const g of golden.rejected) {
    test(`rejects: ${g.name}`, () => {
      assert.throws(() => prepare(models[g.model ?? 'plain'], g.request), UserError, `Python: ${g.error}`);
      tally.rejected++;
    });
  }

  test('sampling picks the token Python picks', () => {
    for (const [row, g] of golden.sampling.entries()) {
      const logits = Float32Array.from(g.logits, (x) => (x === null ? -Infinity : x));
      assert.equal(sample(logits, toSampling(g.sampling), g.uniform), g.id, `row ${row}`);
      tally.samples++;
    }
  });

  test("the page's query strings become a request", () => {
    const flags = { tones: false, no_repeat: false, novel: false, parallel: false, greedy: false };
    assert.deepEqual(fromQuery({}), flags);
    assert.deepEqual(fromQuery({ rhyme: '1', tones: '1', n: '3', start: '' }), { ...flags, rhyme: '', tones: true, n: 3 });
    assert.deepEqual(fromQuery({ rhyme: '东', top_p: '0.5', top_k: '4' }), { ...flags, rhyme: '东', top_p: 0.5, top_k: 4 });
    assert.deepEqual(fromQuery({ rhyme: '0', greedy: '1', form: '七律', acrostic: '春夏秋冬' }),
                     { ...flags, greedy: true, form: '七律', acrostic: '春夏秋冬' });
    assert.deepEqual(fromQuery({ rhyme: 'Yes', tones: 'true', greedy: 'no', novel: 'FALSE' }), { ...flags, rhyme: '', tones: true });
    assert.deepEqual(fromQuery({ rhyme: 'false' }), flags);
    assert.throws(() => fromQuery({ greedy: 'on' }), /greedy=on is not a yes or no/);
    assert.throws(() => fromQuery({ n: 'three' }), /n=three is not a number/);
    const keys = Object.keys(fromQuery({ form: 'x', start: 'x', acrostic: 'x', template: 'x', rhyme: 'x', n: '1', seed: '1',
                                         temperature: '1', top_k: '1', top_p: '1', title: 'x', keywords: 'x', first_line: 'x' }));
    assert.deepEqual(fromQuery({ keywords: '江,孤舟，月、山', title: '秋夜', first_line: '' }),
                     { ...flags, keywords: ['江', '孤舟', '月', '山'], title: '秋夜' });
    assert.deepEqual({ ...REQUEST }, golden.request_defaults, "Python's Request: its fields and defaults");
    assert.deepEqual(keys.sort(), Object.keys(REQUEST).sort(), 'every field of a request');
  });

  test('a damaged model.json is refused', () => {
    const json = JSON.parse(JSON.stringify(models.plain.meta.json));
    const damages = {
      'format 9': (j) => { j.format = 9; },
      'no layout': (j) => { delete j.form_layouts[j.forms[0]]; },
      'no ranges': (j) => { j.hanzi_ranges = []; },
      'a duplicate token': (j) => { j.vocab.push(j.vocab.at(-1)); },
      'short tones': (j) => { j.prosody.tones = j.prosody.tones.slice(1); },
      'a group out of range': (j) => { j.prosody.ping_groups[0] = [j.prosody.group_names.length]; },
      'a short template line': (j) => { j.prosody.templates[j.forms[0]][0].lines[0] = '平'; },
      'a short filter': (j) => { j.novel_bloom = j.novel_bloom.slice(8); },
      'other hash constants': (j) => { j.novel.prime = 7; },
    };
    for (const [name, damage] of Object.entries(damages)) {
      const damaged = JSON.parse(JSON.stringify(json));
      damage(damaged);
      assert.throws(() => {
        const meta = readMetadata(damaged);
        meta.prosody();
        meta.lineFilter();
      }, DamagedModel, name);
    }
    const meta = readMetadata(json);
    assert.ok(meta.prosody() && meta.lineFilter(), 'the undamaged model.json reads');
    const pairs = models.parallel.meta.json.parallel, vocab = models.parallel.vocab;
    for (const damage of [['花'], { 花: [['鸟']] }, { 花: [['鸟', 'x']] }, { 花: [['鸟', Infinity]] }, null]) {
      assert.throws(() => decodeParallel(damage, vocab), DamagedModel, `parallel ${JSON.stringify(damage)}`);
    }
    assert.ok(decodeParallel(pairs, vocab).size > 0, 'the undamaged 对仗 pairs read');
  });

  // A model that knows 词牌 (tests/test_ci_twin.py): the 词 fields are checked as strictly.
  const ci = models.plain.meta.forms.find((f) => f.kind === '词');
  if (ci) {
    test('a damaged 词 model.json is refused', () => {
      const json = models.plain.meta.json, name = ci.name;
      const damages = {
        'a mark that is not one': (j) => { j.form_layouts[name].layout[0][1] = ':'; },
        'a line of no characters': (j) => { j.form_layouts[name].layout[0][0] = 0; },
        'a 片 outside the poem': (j) => { j.form_layouts[name].pian = j.form_layouts[name].layout.length; },
        'no kind': (j) => { delete j.form_layouts[name].kind; },
        'short cilin': (j) => { j.prosody.cilin = j.prosody.cilin.slice(1); },
        'a 部 out of range': (j) => { j.prosody.cilin[0] = [[j.prosody.cilin_names.length], []]; },
        'no group_cilin': (j) => { delete j.prosody.group_cilin; },
        'a rhyme line outside': (j) => { j.prosody.templates[name][0].rhymes.push(j.form_layouts[name].layout.length); },
        'a rhyme tone that is not one': (j) => { j.prosody.templates[name][0].rhyme_tones = '中'.repeat(99); },
        'a template line of another length': (j) => { j.prosody.templates[name][0].lines[0] += '平'; },
      };
      for (const [what, damage] of Object.entries(damages)) {
        const damaged = JSON.parse(JSON.stringify(json));
        damage(damaged);
        assert.throws(() => readMetadata(damaged).prosody(), DamagedModel, what);
      }
    });
  }

  test('summary', () => {
    assert.ok(tally.nearTies <= tally.greedy / 20, `${tally.nearTies} of ${tally.greedy} greedy poems parted at near-ties`);
    console.log(`twin checked: ${JSON.stringify(tally)}`);
  });
}
