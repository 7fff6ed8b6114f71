// The decoding rules of poemnet/generation/rules.py, name for name, for one poem at a time.
// A rule is rule(position, history) -> Uint8Array mask over the vocabulary, or null (allows all).
// The hard rules always hold; the soft ones give way, last-to-relax applied first, only where
// they would leave no candidate, and each relaxation is reported.
import { lineHashes, BASES, PRIME } from './line_filter.js';

export const COMMA = '，', PERIOD = '。';

export function isHanzi(token) {
  return /^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u{20000}-\u{3134f}]$/u.test(token);
}

export class Form {
  constructor(name, lineLen, numLines) { Object.assign(this, { name, lineLen, numLines }); }
  get length() { return this.numLines * (this.lineLen + 1); }
  slot(position) {
    if (position >= this.length) return 'end';
    const line = Math.floor(position / (this.lineLen + 1)), col = position % (this.lineLen + 1);
    if (col < this.lineLen) return 'char';
    return line % 2 === 0 ? COMMA : PERIOD;
  }
  lineStart(position) {
    const line = Math.floor(position / (this.lineLen + 1)), col = position % (this.lineLen + 1);
    return col === 0 && line < this.numLines ? line : null;
  }
  lines(text) {
    const chars = Array.from(text), step = this.lineLen + 1, out = [];
    for (let i = 0; i < chars.length; i += step) out.push(chars.slice(i, i + step).join(''));
    return out;
  }
}

export const FORMS = Object.fromEntries(
  [['五绝', 5, 4], ['七绝', 7, 4], ['五律', 5, 8], ['七律', 7, 8]].map(([n, l, k]) => [n, new Form(n, l, k)]));

export class TokenClasses {
  static fromVocab(tokens, numReserved) {
    const c = new TokenClasses();
    c.size = tokens.length;
    c.hanzi = Uint8Array.from(tokens, (t, i) => (i >= numReserved && isHanzi(t) ? 1 : 0));
    c.codePoints = Float64Array.from(tokens, (t, i) => (c.hanzi[i] ? t.codePointAt(0) : 0));
    c.comma = tokens.indexOf(COMMA);
    c.period = tokens.indexOf(PERIOD);
    c.eos = tokens.indexOf('<eos>');
    return c;
  }
}

function only(size, id) { const m = new Uint8Array(size); m[id] = 1; return m; }

export class Prosody {
  static fromData(data) {
    const p = new Prosody(), n = data.tones.length;
    p.ping = new Uint8Array(n); p.ze = new Uint8Array(n); p.rhymeChar = new Uint8Array(n);
    p.rhymeGroup = new Int32Array(n).fill(-1);
    for (let i = 0; i < n; i++) {
      const t = data.tones[i], groups = data.ping_groups[i];
      p.ping[i] = t === 'P' || t === 'E' ? 1 : 0;
      p.ze[i] = t === 'Z' || t === 'E' ? 1 : 0;
      if (t === 'P' && groups.length === 1) { p.rhymeChar[i] = 1; p.rhymeGroup[i] = groups[0]; }
    }
    p.groupNames = data.group_names;
    p.templates = data.templates;
    return p;
  }
}

export function formatRule(form, classes) {
  if (classes.comma < 0 || classes.period < 0) throw new Error('the vocabulary lacks ， or 。');
  const slots = { [COMMA]: only(classes.size, classes.comma), [PERIOD]: only(classes.size, classes.period),
                  end: only(classes.size, classes.eos), char: classes.hanzi };
  return (position) => slots[form.slot(position)];
}

export function lineStartRule(form, firstIds, size) {
  const masks = new Map(Object.entries(firstIds).map(([line, id]) => [Number(line), only(size, id)]));
  return (position) => masks.get(form.lineStart(position)) ?? null;
}

function lineEnd(form, line) { return line * (form.lineLen + 1) + form.lineLen - 1; }

export function rhymesAtLine(templateLines, line) {
  return line % 2 === 1 || (line === 0 && templateLines[0].at(-1) === '平');
}

export class TemplateRule {
  constructor(form, templates, prosody, rhyme) {
    this.form = form;
    this.names = templates.map((t) => t.name);
    this.requirements = templates.map((t) => this.#requirements(t.lines, prosody, rhyme));
  }

  #requirements(lines, prosody, rhyme) {
    const size = prosody.ping.length, form = this.form;
    const req = Array.from({ length: form.length }, () => null);  // null: all allowed
    lines.forEach((line, i) => Array.from(line).forEach((tone, j) => {
      const position = i * (form.lineLen + 1) + j;
      if (rhyme && j === form.lineLen - 1 && rhymesAtLine(lines, i)) req[position] = prosody.rhymeChar;
      else if (tone === '平') req[position] = prosody.ping;
      else if (tone === '仄') req[position] = prosody.ze;
    }));
    req.size = size;
    return req;
  }

  alive(history) {  // the templates with the fewest conflicts with the history
    const conflicts = this.requirements.map((req) =>
      history.reduce((n, token, p) => n + (req[p] && !req[p][token] ? 1 : 0), 0));
    const best = Math.min(...conflicts);
    return conflicts.map((c) => c === best);
  }

  rule() {
    return (position, history) => {
      if (this.form.slot(position) !== 'char') return null;
      const alive = this.alive(history), size = this.requirements[0].size;
      const mask = new Uint8Array(size);
      this.requirements.forEach((req, k) => {
        if (!alive[k]) return;
        const allowed = req[position];
        for (let v = 0; v < size; v++) mask[v] |= allowed ? allowed[v] : 1;
      });
      return mask;
    };
  }

  chosen(history) { return this.names[this.alive(history).indexOf(true)]; }
}

export function rhymeRule(form, prosody) {
  const masks = new Map();
  for (let line = 0; line < form.numLines; line++) {
    const mask = line % 2 === 1 ? prosody.rhymeChar
      : prosody.ze.map((z, v) => (z || (line === 0 && prosody.rhymeChar[v]) ? 1 : 0));
    masks.set(lineEnd(form, line), mask);
  }
  return (position) => masks.get(position) ?? null;
}

export class RhymeGroupRule {
  constructor(form, prosody, group = null) {
    this.prosody = prosody;
    this.fixed = group;
    this.ends = Array.from({ length: form.numLines }, (_, line) => lineEnd(form, line));
  }

  group(history) {
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

export function noRepeatRule(classes) {
  return (position, history) => {
    if (!history.length) return null;
    const mask = new Uint8Array(classes.size).fill(1);
    for (const token of history) if (classes.hanzi[token]) mask[token] = 0;
    return mask;
  };
}

export function novelRule(form, classes, lineFilter) {
  return (position, history) => {
    const line = Math.floor(position / (form.lineLen + 1)), col = position % (form.lineLen + 1);
    if (col !== form.lineLen - 1 || line >= form.numLines) return null;
    const prefix = history.slice(position - col, position).map((t) => String.fromCodePoint(classes.codePoints[t]));
    let [h1, h2] = lineHashes(prefix.join(''));
    const mask = new Uint8Array(classes.size);
    for (let v = 0; v < classes.size; v++) {
      if (!classes.hanzi[v]) { mask[v] = 1; continue; }
      const cp = classes.codePoints[v];
      mask[v] = lineFilter.contains((h1 * BASES[0] + cp) % PRIME, (h2 * BASES[1] + cp) % PRIME) ? 0 : 1;
    }
    return mask;
  };
}

export function allowedTokens(rules, position, history, size) {
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
