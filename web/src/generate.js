// The generation loop of poemnet/generation/generate.py, one poem at a time, with the same rules in the same order.
import { RhymeGroupRule, TemplateRule, allowedTokens, formatRule, lineStartRule, noRepeatRule, novelRule,
         rhymeRule } from './rules.js';
import { mulberry32, sample } from './sampling.js';

export class UserError extends Error {}

export function groupId(query, names) {
  for (let i = 0; i < names.length; i++) {
    const short = names[i].replace(/^[上下]平声/, '');
    if ([names[i], short, short.at(-1)].includes(query.trim())) return i;
  }
  return null;
}

function templates(prosody, form, name, forced) {
  const known = prosody.templates[form.name] ?? [];
  if (name) {
    const chosen = known.filter((t) => t.name === name);
    if (!chosen.length) throw new UserError(`template ${name} is not one of ${form.name}: ${known.map((t) => t.name).join(', ')}`);
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

export function poemRules(model, form, c) {
  const hard = [formatRule(form, model.classes)];
  const forced = Object.fromEntries(Object.entries(c.firstChars ?? {}).map(([line, ch]) => [line, model.index.get(ch)]));
  if (Object.keys(forced).length) hard.push(lineStartRule(form, forced, model.tokens.length));
  if ((c.rhyme || c.tones) && !model.prosody) throw new UserError('this model carries no prosody data: re-export it');
  if (c.novel && !model.lineFilter) throw new UserError('this model carries no corpus line filter: re-export it');
  const decoder = { soft: [], hard };
  if (c.tones) {
    decoder.templates = new TemplateRule(form, templates(model.prosody, form, c.template, forced), model.prosody, c.rhyme);
    decoder.soft.push(['tones', decoder.templates.rule()]);
  }
  if (c.rhyme) {
    decoder.rhymeGroups = new RhymeGroupRule(form, model.prosody, c.rhymeGroup ?? null);
    decoder.soft.push(['rhyme_group', decoder.rhymeGroups.rule()], ['rhyme', rhymeRule(form, model.prosody)]);
  }
  if (c.novel) decoder.soft.push(['novel', novelRule(form, model.classes, model.lineFilter)]);
  if (c.noRepeat) decoder.soft.push(['no_repeat', noRepeatRule(model.classes)]);
  return decoder;
}

export async function generate(model, form, decoder, sampling, seed) {
  const uniform = mulberry32(seed);
  let [h, c] = model.zeroState(), logits;
  for (const token of ['<bos>', `<${form.name}>`]) [logits, h, c] = await model.step(model.index.get(token), h, c);
  const history = [], relaxed = [], size = model.tokens.length;
  for (let position = 0; position < form.length; position++) {
    const { allowed, relaxed: names } = allowedTokens(decoder, position, history, size);
    if (names.length) relaxed.push({ position, relaxed: names });
    const id = sample(logits, allowed, sampling, uniform());
    history.push(id);
    if (position + 1 < form.length) [logits, h, c] = await model.step(id, h, c);
  }
  const poem = { text: history.filter((t) => t >= model.numReserved).map((t) => model.tokens[t]).join(''), relaxed };
  if (decoder.templates) poem.template = decoder.templates.chosen(history);
  if (decoder.rhymeGroups) {
    const g = decoder.rhymeGroups.group(history);
    poem.rhyme_group = g >= 0 ? model.prosody.groupNames[g] : null;
  }
  return poem;
}
