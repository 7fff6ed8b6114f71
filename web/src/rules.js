// The twin of poemnet/generation/rules.py, name for name, for one poem at a time: a rule is
// rule(position, history) -> Uint8Array mask over the vocabulary (1 = allowed), or null (allows
// all); `history` is the array of token ids chosen so far. The hard rules always hold; the soft
// ones (tones, rhyme group, rhyme, novel lines, no repeats: relaxed in that order) give way only
// where they would leave no candidate, and each relaxation is reported.
import { UserError } from './errors.js';
import { COMMA, PERIOD } from './forms.js';
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
    return c;
  }
}

function only(size, id) {
  const mask = new Uint8Array(size);
  mask[id] = 1;
  return mask;
}

export function formatRule(form, classes) {  // exactly the layout: characters, ，/。 at line ends, <eos>
  if (classes.comma < 0 || classes.period < 0) throw new UserError('the vocabulary lacks ， or 。: train on a poem corpus');
  const slots = { [COMMA]: only(classes.size, classes.comma), [PERIOD]: only(classes.size, classes.period),
                  end: only(classes.size, classes.eos), char: classes.hanzi };
  return (position) => slots[form.slot(position)];
}

export function lineStartRule(form, firstIds, size) {  // {line: token id}: a start character or an acrostic
  const masks = new Map(Object.entries(firstIds).map(([line, id]) => [Number(line), only(size, id)]));
  return (position) => masks.get(form.lineStart(position)) ?? null;
}

function lineEnd(form, line) { return line * (form.lineLen + 1) + form.lineLen - 1; }

export function rhymesAtLine(templateLines, line) {  // even lines rhyme; line 1 when its template ends in 平
  return line % 2 === 1 || (line === 0 && templateLines[0].at(-1) === '平');
}

export class TemplateRule {  // the 平仄 of the templates the poem's characters so far fit
  constructor(form, templates, prosody, rhyme) {
    this.form = form;
    this.size = prosody.ping.length;
    this.names = templates.map((t) => t.name);
    this.requirements = templates.map((t) => this.#requirements(t.lines, prosody, rhyme));
  }

  #requirements(lines, prosody, rhyme) {  // per position, the mask a template asks for (null: any)
    const form = this.form, req = new Array(form.length).fill(null);
    lines.forEach((line, i) => Array.from(line).forEach((tone, j) => {
      const position = i * (form.lineLen + 1) + j;
      if (rhyme && j === form.lineLen - 1 && rhymesAtLine(lines, i)) req[position] = prosody.rhymeChar;
      else if (rhyme && j === form.lineLen - 1) req[position] = prosody.zeOnly;  // no end that could seem to rhyme
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

// Without a template: even lines rhyme, odd ones end in a 仄-only character (line 1 may rhyme);
// no line ends in a character that ended an earlier line (重韵).
export function rhymeRule(form, prosody) {
  const masks = new Map(), ends = [];
  for (let line = 0; line < form.numLines; line++) {
    const mask = line % 2 === 1 ? prosody.rhymeChar
      : prosody.zeOnly.map((z, v) => (z || (line === 0 && prosody.rhymeChar[v]) ? 1 : 0));
    masks.set(lineEnd(form, line), mask);
    ends.push(lineEnd(form, line));
  }
  return (position, history) => {
    const base = masks.get(position) ?? null;
    const earlier = ends.filter((p) => p < position);
    if (!base || !earlier.length) return base;
    const mask = Uint8Array.from(base);
    for (const p of earlier) mask[history[p]] = 0;
    return mask;
  };
}

export class RhymeGroupRule {  // every rhyme character at a line end in one group: the given one, or the first drawn
  constructor(form, prosody, group = null) {
    this.prosody = prosody;
    this.fixed = group;
    this.ends = Array.from({ length: form.numLines }, (_, line) => lineEnd(form, line));
  }

  group(history) {  // the poem's rhyme group, -1 while none is set
    if (this.fixed !== null) return this.fixed;
    for (const p of this.ends) {
      if (p < history.length && this.prosody.rhymeGroup[history[p]] >= 0) return this.prosody.rhymeGroup[history[p]];
    }
    return -1;
  }

  rule() {
    return (position, history) => {
      if (!this.ends.includes(position)) return null;
      const group = this.group(history);
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
    const line = Math.floor(position / (form.lineLen + 1)), col = position % (form.lineLen + 1);
    if (col !== form.lineLen - 1 || line >= form.numLines) return null;
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
