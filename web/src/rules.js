// The twin of poemnet/generation/rules.py, name for name, for one poem at a time: a rule is
// rule(position, history) -> Uint8Array mask over the vocabulary (1 = allowed), or null (allows
// all); `history` is the array of token ids chosen so far. The hard rules always hold; the soft
// ones (tones, rhyme group, rhyme, novel lines, no repeats: relaxed in that order) give way only
// where they would leave no candidate, and each relaxation is reported. One engine for every form: a
// 诗 rhymes by 平水韵 平 group, a 词 by 词林正韵 部, each rhyme set in one 部 (see rules.py).
import { UserError } from './errors.js';
import { COMMA, PERIOD, PUNCTUATION } from './forms.js';
import { completedHashes, prefixHashes } from './line_filter.js';

export class TokenClasses {  // which ids are characters, the ids of the punctuation and <eos>
  static fromVocab(vocab) {
    const c = new TokenClasses(), tokens = vocab.tokens;
    c.size = tokens.length;
    c.hanzi = Uint8Array.from(tokens, (t, i) => (i >= vocab.numReserved && vocab.isHanzi(t) ? 1 : 0));
    c.codePoints = Float64Array.from(tokens, (t, i) => (c.hanzi[i] ? t.codePointAt(0) : 0));
    c.comma = vocab.index.get(COMMA) ?? -1;
    c.period = vocab.index.get(PERIOD) ?? -1;
    c.eos = vocab.eosId;
    c.marks = new Map([...PUNCTUATION].filter((m) => vocab.index.has(m)).map((m) => [m, vocab.index.get(m)]));
    return c;
  }
}

function only(size, id) {
  const mask = new Uint8Array(size);
  mask[id] = 1;
  return mask;
}

export function formatRule(form, classes) {  // exactly the layout: characters, each line's mark at its end, <eos>
  if (classes.comma < 0 || classes.period < 0) throw new UserError('the vocabulary lacks ， or 。: train on a poem corpus');
  const lacking = form.layout.map(([, mark]) => mark).filter((mark) => !classes.marks.has(mark));
  if (lacking.length) throw new UserError(`the vocabulary lacks ${lacking[0]}, which ${form.name} ends a line with`);
  const slots = { end: only(classes.size, classes.eos), char: classes.hanzi };
  for (const [, mark] of form.layout) slots[mark] = only(classes.size, classes.marks.get(mark));
  return (position) => slots[form.slot(position)];
}

export function lineStartRule(form, firstIds, size) {  // {line: token id}: a start character or an acrostic
  const masks = new Map(Object.entries(firstIds).map(([line, id]) => [Number(line), only(size, id)]));
  return (position) => masks.get(form.lineStart(position)) ?? null;
}

export function rhymesAtLine(templateLines, line) {  // even lines rhyme; line 1 when its template ends in 平
  return line % 2 === 1 || (line === 0 && templateLines[0].at(-1) === '平');
}

// {line: the tone its rhyme is taken in}: the template's own rhymes where it gives them, else the 诗 rule's
export function rhymeLines(template) {
  if ('rhymes' in template) return new Map(template.rhymes.map((line, i) => [line, template.rhyme_tones[i]]));
  return new Map(template.lines.map((_, i) => i).filter((i) => rhymesAtLine(template.lines, i)).map((i) => [i, '平']));
}

// What may end a line with the rhyme rule on (null: anything): rules.py's end_mask.
export function endMask(form, prosody, rhymeTone, mark) {
  if (form.kind === '诗') return rhymeTone ? prosody.rhymeChar : prosody.zeOnly;
  if (rhymeTone) return Uint8Array.from(rhymeTone === '平' ? prosody.partPing : prosody.partZe, (p) => (p >= 0 ? 1 : 0));
  return { 仄: prosody.zeOnly, 平: prosody.ping }[mark] ?? null;
}

const formTemplate = (prosody, form) => prosody.templates[form.name][0];  // a 词牌's one template

export class TemplateRule {  // the 平仄 of the templates the poem's characters so far fit
  constructor(form, templates, prosody, rhyme) {
    this.form = form;
    this.size = prosody.ping.length;
    this.names = templates.map((t) => t.name);
    this.requirements = templates.map((t) => this.#requirements(t, prosody, rhyme));
  }

  #requirements(template, prosody, rhyme) {  // per position, the mask a template asks for (null: any)
    const form = this.form, req = new Array(form.length).fill(null), rhymes = rhymeLines(template);
    template.lines.forEach((line, i) => Array.from(line).forEach((tone, j, chars) => {
      const position = form.linePosition(i) + j;
      const end = rhyme && j === chars.length - 1 ? endMask(form, prosody, rhymes.get(i), tone) : null;
      if (end) req[position] = end;
      else if (tone === '平') req[position] = prosody.ping;
      else if (tone === '仄') req[position] = prosody.ze;
    }));
    return req;
  }

  // Per template: is it live. Each character keeps the live templates it fits; one that fits none
  // (where this rule gave way) keeps them all: the set only shrinks.
  alive(history) {
    let live = this.names.map(() => true);
    history.forEach((token, p) => {
      const narrowed = live.map((l, k) => l && (!this.requirements[k][p] || this.requirements[k][p][token] === 1));
      if (narrowed.some((l) => l)) live = narrowed;
    });
    return live;
  }

  rule() {
    return (position, history) => {
      if (this.form.slot(position) !== 'char') return null;
      const alive = this.alive(history), mask = new Uint8Array(this.size);
      this.requirements.forEach((req, k) => {
        if (!alive[k]) return;
        const allowed = req[position];
        for (let v = 0; v < this.size; v++) mask[v] |= allowed ? allowed[v] : 1;
      });
      return mask;
    };
  }

  chosen(history) { return this.names[this.alive(history).indexOf(true)]; }
}

// Without a template: a 诗's even lines rhyme, odd ones end in a 仄-only character (line 1 may
// rhyme); a 词's line ends as endMask says under its template. No line ends in a character that
// ended an earlier line (重韵).
export function rhymeRule(form, prosody) {
  const masks = new Map(), ends = Array.from({ length: form.numLines }, (_, line) => form.lineEnd(line));
  const template = form.kind === '诗' ? null : formTemplate(prosody, form), rhymes = template && rhymeLines(template);
  ends.forEach((end, line) => {
    if (template) masks.set(end, endMask(form, prosody, rhymes.get(line), template.lines[line].at(-1)));
    else if (line % 2 === 1) masks.set(end, prosody.rhymeChar);
    else masks.set(end, prosody.zeOnly.map((z, v) => (z || (line === 0 && prosody.rhymeChar[v]) ? 1 : 0)));
  });
  return (position, history) => {
    if (!masks.has(position)) return null;
    const base = masks.get(position), earlier = ends.filter((p) => p < position);
    if (!earlier.length) return base;
    const mask = base ? Uint8Array.from(base) : new Uint8Array(prosody.ping.length).fill(1);
    for (const p of earlier) mask[history[p]] = 0;
    return mask;
  };
}

// Every rhyme character at a line end in one group: the given one, or the first drawn. A 诗 rhymes
// in one 平 group; each rhyme set of a 词 in one 部 (a 平 group given stands for its 部).
export class RhymeGroupRule {
  constructor(form, prosody, group = null) {
    Object.assign(this, { form, prosody, offset: prosody.numGroups });
    if (form.kind === '诗') {
      if (group !== null && group >= this.offset) {
        throw new UserError(`${prosody.groupNames[group]} is a 词林正韵 部: a 诗 rhymes in one 平水韵 平 group, such as 东`);
      }
      this.fixed = group;
      this.ends = Array.from({ length: form.numLines }, (_, line) => form.lineEnd(line));
      return;
    }
    const t = formTemplate(prosody, form);
    this.lines = new Map(t.rhymes.map((line, i) => [form.lineEnd(line), [t.rhyme_sets[i], t.rhyme_tones[i]]]));
    this.ends = [...this.lines.keys()].sort((a, b) => a - b);
    this.fixed = group === null ? null : group >= this.offset ? group - this.offset : prosody.groupPart[group];
  }

  parts(tone) { return tone === '平' ? this.prosody.partPing : this.prosody.partZe; }

  setPart(history, rhymeSet) {  // a 词's 部 for one rhyme set, -1 while none is set
    if (this.fixed !== null) return this.fixed;
    for (const p of this.ends) {
      const [set, tone] = this.lines.get(p);
      if (set === rhymeSet && p < history.length && this.parts(tone)[history[p]] >= 0) return this.parts(tone)[history[p]];
    }
    return -1;
  }

  group(history) {  // the poem's rhyme group (a 词's: its first set's 部, after the 平 groups), -1 while none is set
    if (this.form.kind === '词') {
      if (!this.ends.length) return -1;
      const part = this.setPart(history, this.lines.get(this.ends[0])[0]);
      return part >= 0 ? part + this.offset : -1;
    }
    if (this.fixed !== null) return this.fixed;
    for (const p of this.ends) {
      if (p < history.length && this.prosody.rhymeGroup[history[p]] >= 0) return this.prosody.rhymeGroup[history[p]];
    }
    return -1;
  }

  rule() {
    return (position, history) => {
      if (!this.ends.includes(position)) return null;
      let group, parts;
      if (this.form.kind === '词') {
        const [set, tone] = this.lines.get(position);
        [group, parts] = [this.setPart(history, set), this.parts(tone)];
        if (group < 0) return null;
        return Uint8Array.from(parts, (p) => (p < 0 || p === group ? 1 : 0));
      }
      group = this.group(history);
      if (group < 0) return null;
      const { rhymeChar, rhymeGroup } = this.prosody;
      return rhymeChar.map((r, v) => (!r || rhymeGroup[v] === group ? 1 : 0));
    };
  }
}

// No character twice (punctuation and <eos> excepted). The forced characters ({position: token id})
// are not free before their position either: a free slot that took one would make it a repeat.
export function noRepeatRule(classes, forced = {}) {
  const positions = Object.keys(forced).map(Number);
  const later = (position) => (positions.includes(position) ? []
    : positions.filter((p) => p > position).map((p) => forced[p]));
  return (position, history) => {
    const ahead = later(position);
    if (!history.length && !ahead.length) return null;
    const mask = new Uint8Array(classes.size).fill(1);
    for (const token of [...history, ...ahead]) if (classes.hanzi[token]) mask[token] = 0;
    return mask;
  };
}

export function novelRule(form, classes, lineFilter) {  // at a line's last character, complete no corpus line
  return (position, history) => {
    const [line, col] = form.locate(position);
    if (line === null || col !== form.layout[line][0] - 1) return null;
    const prefix = prefixHashes(history.slice(position - col, position).map((t) => classes.codePoints[t]));
    const mask = new Uint8Array(classes.size);
    for (let v = 0; v < classes.size; v++) {
      mask[v] = !classes.hanzi[v] || !lineFilter.contains(...completedHashes(prefix, classes.codePoints[v])) ? 1 : 0;
    }
    return mask;
  };
}

// Python applies all the rules together first and falls back to this order only when that leaves
// no candidate; both give the same mask, so the twin keeps the plain order.
export function allowedTokens(rules, position, history, size) {  // {allowed, relaxed: names of the soft rules relaxed}
  let allowed = new Uint8Array(size).fill(1);
  for (const rule of rules.hard) {
    const mask = rule(position, history);
    if (mask) allowed = allowed.map((a, v) => a & mask[v]);
  }
  const relaxed = [];
  for (const [name, rule] of [...rules.soft].reverse()) {
    const mask = rule(position, history);
    if (!mask) continue;
    const narrowed = allowed.map((a, v) => a & mask[v]);
    if (narrowed.some((a) => a)) allowed = narrowed;
    else relaxed.unshift(name);
  }
  return { allowed, relaxed };
}

export function maskLogits(logits, allowed) {  // Float32Array with the disallowed tokens at -Infinity
  if (!logits.every(Number.isFinite)) throw new UserError('the model produced non-finite logits: the model file is damaged');
  if (!allowed.some((a) => a)) throw new Error('the decoding rules allow no token at this position: they contradict each other');
  return Float32Array.from(logits, (x, v) => (allowed[v] ? x : -Infinity));
}
