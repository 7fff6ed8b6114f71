// The twin of poemnet/generation/generate.py: the rules of a request in the same order, and the
// generation loop, one poem at a time (Python runs a batch).
import { UserError } from './errors.js';
import { RhymeGroupRule, TemplateRule, TokenClasses, allowedTokens, formatRule, lineStartRule, maskLogits,
         noRepeatRule, novelRule, rhymeRule } from './rules.js';
import { mulberry32, sample } from './sampling.js';

export class Constraints {  // what the user asked of the poem beyond its layout
  constructor({ firstChars = {}, rhyme = false, rhymeGroup = null, tones = false, template = null, noRepeat = false,
                novel = false } = {}) {
    Object.assign(this, { firstChars, rhyme, rhymeGroup, tones, template, noRepeat, novel });
    Object.freeze(this);
  }

  get needsProsody() { return this.rhyme || this.tones; }

  get needsLineFilter() { return this.novel; }
}

export class Decoder {  // the rules of one request, and what they chose per poem
  constructor(rules, groupNames = null) { Object.assign(this, { rules, templates: null, rhymeGroups: null, groupNames }); }

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
// relaxed: tones, rhyme group, rhyme, novel lines, no repeats.
export function poemRules(vocab, form, constraints, prosody = null, lineFilter = null) {
  const c = constraints, classes = TokenClasses.fromVocab(vocab);
  const hard = [formatRule(form, classes)];
  const forced = Object.fromEntries(Object.entries(c.firstChars).map(([line, ch]) => [Number(line), vocab.index.get(ch)]));
  if (Object.keys(forced).length) hard.push(lineStartRule(form, forced, vocab.length));
  if (c.needsProsody && !prosody) {
    throw new UserError('this model carries no prosody data (tones and rhyme groups): build the page with a re-exported model');
  }
  if (c.needsLineFilter && !lineFilter) {
    throw new UserError('this model carries no corpus line filter: build the page with a re-exported model');
  }
  const decoder = new Decoder({ hard, soft: [] }, prosody?.groupNames ?? null);
  const soft = decoder.rules.soft;
  if (c.tones) {
    decoder.templates = new TemplateRule(form, templates(prosody, form, c.template, forced), prosody, c.rhyme);
    soft.push(['tones', decoder.templates.rule()]);
  }
  if (c.rhyme) {
    decoder.rhymeGroups = new RhymeGroupRule(form, prosody, c.rhymeGroup);
    soft.push(['rhyme_group', decoder.rhymeGroups.rule()], ['rhyme', rhymeRule(form, prosody)]);
  }
  if (c.novel) soft.push(['novel', novelRule(form, classes, lineFilter)]);
  if (c.noRepeat) {
    const starts = Object.fromEntries(Object.entries(forced).map(([line, token]) => [line * (form.lineLen + 1), token]));
    soft.push(['no_repeat', noRepeatRule(classes, starts)]);
  }
  return decoder;
}

// The form's templates (or the named one) that fit the forced first characters best.
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
  const conflicts = rule.requirements.map((req) => Object.entries(forced).reduce((n, [line, token]) => {
    const need = req[Number(line) * (form.lineLen + 1)];
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

async function generateOne(step, zeroState, vocab, form, decoder, sampling, uniform) {
  let [h, cell] = zeroState(), logits;
  for (const token of [vocab.bosId, vocab.formId(form.name)]) [logits, h, cell] = await step(token, h, cell);
  const history = [], relaxed = [];
  for (let position = 0; position < form.length; position++) {
    const { allowed, relaxed: names } = allowedTokens(decoder.rules, position, history, vocab.length);
    if (names.length) relaxed.push({ position, relaxed: names });
    const draw = uniform();  // one per position, used or not, as in Python
    const single = allowed.reduce((n, a) => n + a, 0) === 1;  // punctuation, a forced character: nothing to sample
    history.push(single ? allowed.indexOf(1) : sample(maskLogits(logits, allowed), sampling, draw));
    if (position + 1 < form.length) [logits, h, cell] = await step(history.at(-1), h, cell);  // <eos> is forced next
  }
  return { text: vocab.decode(history), ...decoder.describe(history), ...(decoder.rules.soft.length ? { relaxed } : {}) };
}
