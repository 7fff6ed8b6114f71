// The twin of poemnet/generation/generate.py: the rules of a request in the same order, and the
// generation loop, one poem at a time (Python runs a batch).
import { UserError } from './errors.js';
import { lookAhead, penultimatePositions } from './lookahead.js';
import { RhymeGroupRule, TemplateRule, TokenClasses, allowedTokens, formatRule, lineStartRule, noRepeatRule, novelRule,
         rhymeRule } from './rules.js';
import { mulberry32, sample } from './sampling.js';
import { parallelBias, positionScores, wordPairs } from './scoring.js';
import { forcedRule, keywordRule, titlePrefixIds } from './topic.js';

export class Constraints {  // what the user asked of the poem beyond its layout
  constructor({ firstChars = {}, rhyme = false, rhymeGroup = null, tones = false, template = null, noRepeat = false,
                novel = false, parallel = false, lookahead = true, title = null, keywords = [], firstLine = null } = {}) {
    Object.assign(this, { firstChars, rhyme, rhymeGroup, tones, template, noRepeat, novel, parallel, lookahead });
    Object.assign(this, { title, keywords, firstLine });  // topic.js: read before the form, must appear, given
    Object.freeze(this);
  }

  get needsProsody() { return this.rhyme || this.tones; }

  get needsLineFilter() { return this.novel; }
}

export class Decoder {  // the rules of one request, and what they chose per poem
  constructor(rules, groupNames = null) {
    Object.assign(this, { rules, templates: null, rhymeGroups: null, groupNames, bias: null, ahead: new Set(), title: [] });
  }

  describe(history) {  // the template the poem followed and its rhyme group, where those rules are on
    const info = {};
    if (this.templates) info.template = this.templates.chosen(history);
    if (this.rhymeGroups) {
      const group = this.rhymeGroups.group(history);
      info.rhyme_group = group >= 0 ? this.groupNames[group] : null;
    }
    return info;
  }
}

// The form's layout and forced first characters (hard), then the soft rules in the order they are
// relaxed: tones, rhyme group, rhyme, novel lines, no repeats; the 对仗 bias, and where rhyme or
// tones restrict the line ends, the lookahead.
export function poemRules(vocab, form, constraints, prosody = null, lineFilter = null, parallelPairs = null) {
  const c = constraints, classes = TokenClasses.fromVocab(vocab);
  const hard = [formatRule(form, classes)];
  const forced = Object.fromEntries(Object.entries(c.firstChars).map(([line, ch]) => [Number(line), vocab.index.get(ch)]));
  if (Object.keys(forced).length) hard.push(lineStartRule(form, forced, vocab.length));
  const positions = forcedPositions(vocab, form, forced, c.firstLine);  // every forced character
  if (c.firstLine) hard.push(forcedRule(firstLinePositions(vocab, c.firstLine), vocab.length));
  if (c.needsProsody && !prosody) {
    throw new UserError('this model carries no prosody data (tones and rhyme groups): build the page with a re-exported model');
  }
  if (c.needsLineFilter && !lineFilter) {
    throw new UserError('this model carries no corpus line filter: build the page with a re-exported model');
  }
  if (c.parallel && !parallelPairs) {
    throw new UserError('this model carries no 对仗 pairs: build the page with a re-exported model to use 对仗');
  }
  const decoder = new Decoder({ hard, soft: [] }, prosody?.groupNames ?? null);
  decoder.title = titlePrefixIds(vocab, c.title);
  if (c.parallel) decoder.bias = parallelBias(form, parallelPairs, vocab.length);
  if (c.lookahead && c.needsProsody) decoder.ahead = penultimatePositions(form);
  const soft = decoder.rules.soft;
  if (c.tones) {
    decoder.templates = new TemplateRule(form, templates(prosody, form, c.template, positions), prosody, c.rhyme);
    soft.push(['tones', decoder.templates.rule()]);
  }
  if (c.rhyme) {
    decoder.rhymeGroups = new RhymeGroupRule(form, prosody, c.rhymeGroup);
    soft.push(['rhyme_group', decoder.rhymeGroups.rule()], ['rhyme', rhymeRule(form, prosody)]);
  }
  if (c.novel) soft.push(['novel', novelRule(form, classes, lineFilter)]);
  if (c.noRepeat) soft.push(['no_repeat', noRepeatRule(classes, positions)]);
  if (c.keywords.length) {  // relaxed last: what the poem is about outweighs the other soft rules
    const words = c.keywords.map((word) => Array.from(word, (ch) => vocab.index.get(ch)));
    soft.push(['keywords', keywordRule(form, words, vocab.length)]);
  }
  return decoder;
}

function firstLinePositions(vocab, firstLine) {  // {position: token id} of a given first line
  return Object.fromEntries(Array.from(firstLine ?? '', (ch, p) => [p, vocab.index.get(ch)]));
}

// {position: token id} of every forced character: start characters, an acrostic, a first line
function forcedPositions(vocab, form, forced, firstLine) {
  const starts = Object.entries(forced).map(([line, token]) => [form.linePosition(Number(line)), token]);
  return { ...Object.fromEntries(starts), ...firstLinePositions(vocab, firstLine) };
}

// The form's templates (or the named one) that fit the forced characters ({position: token}) best:
// a start character, an acrostic or a given first line chooses among them.
function templates(prosody, form, name, forced) {
  const known = prosody.templates[form.name] ?? [];
  if (name !== null) {
    const chosen = known.filter((t) => t.name === name);
    const names = known.map((t) => t.name).join(', ');
    if (!chosen.length) throw new UserError(`template ${name} is not a template of ${form.name}: choose from ${names}`);
    return chosen;
  }
  if (!Object.keys(forced).length) return known;
  const rule = new TemplateRule(form, known, prosody, false);
  const conflicts = rule.requirements.map((req) => Object.entries(forced).reduce((n, [position, token]) => {
    const need = req[Number(position)];
    return n + (need && !need[token] ? 1 : 0);
  }, 0));
  return known.filter((_, k) => conflicts[k] === Math.min(...conflicts));
}

// `n` poems as objects: text, and where the rules are on, template, rhyme group, relaxations.
// step(token, h, cell) -> [logits, h, cell]; zeroState() -> [h, cell]; onPoem sees each poem as it is done.
export async function generateDetailed(step, zeroState, vocab, form, n, decoder, sampling, seed, onPoem = () => {}) {
  const poems = [];
  for (let i = 0; i < n; i++) {
    const poem = await generateOne(step, zeroState, vocab, form, decoder, sampling, mulberry32(seed + i));
    poems.push(poem);
    onPoem(poem);
  }
  return poems;
}

// The tokens the model reads before the poem's first character: <bos> [title <title>] <form>.
export function prefixTokens(vocab, form, title = []) { return [vocab.bosId, ...title, vocab.formId(form.name)]; }

async function generateOne(step, zeroState, vocab, form, decoder, sampling, uniform) {
  let [h, cell] = zeroState(), logits;
  for (const token of prefixTokens(vocab, form, decoder.title)) [logits, h, cell] = await step(token, h, cell);
  const history = [], relaxed = [], pairs = wordPairs(form);
  const score = (l, position, past, allowed) => positionScores(l, position, past, allowed, decoder.bias, pairs);
  for (let position = 0; position < form.length; position++) {
    const { allowed, relaxed: names } = allowedTokens(decoder.rules, position, history, vocab.length);
    if (names.length) relaxed.push({ position, relaxed: names });
    const draw = uniform();  // one per position, used or not, as in Python
    const single = allowed.reduce((n, a) => n + a, 0) === 1;  // punctuation, a forced character: nothing to sample
    let steps = null;
    if (single) history.push(allowed.indexOf(1));
    else {
      let [, scores] = score(logits, position, history, allowed);
      if (decoder.ahead.has(position)) {
        ({ scores, steps } = await lookAhead(step, decoder.rules, position, history, scores, [h, cell], score));
      }
      history.push(sample(scores, sampling, draw));
    }
    if (position + 1 < form.length) {  // <eos> is forced next
      [logits, h, cell] = steps ? steps.get(history.at(-1)) : await step(history.at(-1), h, cell);
    }
  }
  return { text: vocab.decode(history), ...decoder.describe(history), ...(decoder.rules.soft.length ? { relaxed } : {}) };
}
