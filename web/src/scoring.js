// The twin of poemnet/generation/scoring.py for one poem: what the sampler sees at one position, the
// model's logits plus the 对仗 bias, masked by the rules, less the third use of a two-character word.
import { UserError } from './errors.js';
import { DamagedModel } from './model_file.js';
import { maskLogits } from './rules.js';

export const STRENGTH = 0.5;  // x pmi, in logits
export const WORD_LIMIT = 2;  // a two-character word may stand twice in a poem, not three times
const MIDDLE = [[2, 3], [4, 5]];  // 颔联 and 颈联, 0-based line indices

// model.json's `parallel` ({character: [[partner, pmi], ...]}) -> Map(token id -> [[partner id, weight], ...]),
// checked as model_file.py's decode_parallel checks it; characters the vocabulary lacks are dropped.
export function decodeParallel(data, vocab) {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new DamagedModel('parallel must map characters to partner lists');
  }
  const partners = new Map();
  for (const [a, found] of Object.entries(data)) {
    const ok = Array.isArray(found) && found.every((p) => Array.isArray(p) && p.length === 2
      && typeof p[0] === 'string' && typeof p[1] === 'number' && Number.isFinite(p[1]));
    if (!ok) throw new DamagedModel(`parallel[${a}] must be a list of [character, weight] pairs`);
    const known = found.filter(([b]) => vocab.has(b)).map(([b, w]) => [vocab.index.get(b), Math.fround(w)]);
    if (vocab.has(a) && known.length) partners.set(vocab.index.get(a), known);
  }
  return partners;
}

export const isLushi = (form) => form.kind === '诗' && form.numLines === 8;

// bias(position, history) -> Float32Array to add to the logits, or null where it adds nothing
export function parallelBias(form, partners, size, strength = STRENGTH) {
  if (!isLushi(form)) throw new UserError(`对仗 shapes the middle couplets of a 律诗: choose 五律 or 七律, not ${form.name}`);
  const starts = [];
  for (let p = 0; p < form.length; p++) if (form.lineStart(p) !== null) starts.push(p);
  const sources = new Map();
  for (const [first, second] of MIDDLE) {
    for (let col = 0; col < form.lineLen; col++) sources.set(starts[second] + col, starts[first] + col);
  }
  return (position, history) => {
    if (!sources.has(position)) return null;
    const bias = new Float32Array(size);
    for (const [b, w] of partners.get(history[sources.get(position)]) ?? []) bias[b] = Math.fround(w * strength);
    return bias;
  };
}

export function wordPairs(form) {  // per position: it and the next are two characters of one line
  return Array.from({ length: form.length }, (_, p) => form.slot(p) === 'char' && form.slot(p + 1) === 'char');
}

// -Infinity for each character that would complete a two-character word the poem holds WORD_LIMIT
// times, where a candidate is left
export function guardWords(scores, position, history, pairs) {
  if (position === 0 || !pairs[position - 1]) return scores;
  const previous = history[position - 1], counts = new Map();
  for (let i = 0; i < position - 1; i++) {
    if (pairs[i] && history[i] === previous) counts.set(history[i + 1], (counts.get(history[i + 1]) ?? 0) + 1);
  }
  const guarded = Float32Array.from(scores);
  for (const [token, count] of counts) if (count >= WORD_LIMIT) guarded[token] = -Infinity;
  return guarded.some((x) => x > -Infinity) ? guarded : scores;
}

// [biased logits, masked and guarded scores] at `position`
export function positionScores(logits, position, history, allowed, bias, pairs) {
  const extra = bias ? bias(position, history) : null;
  const full = extra ? Float32Array.from(logits, (x, v) => x + extra[v]) : Float32Array.from(logits);
  return [full, guardWords(maskLogits(full, allowed), position, history, pairs)];
}
