// The twin of poemnet/generation/lookahead.py for one poem: at each line's next-to-last character,
// each of the CANDIDATES likeliest allowed characters x scores logit(x) + log P(the next character
// is one the rules allow after x), from one extra step on x. Python steps every candidate of every
// poem at once; here one at a time. The chosen candidate's step is the loop's next one.
import { allowedTokens } from './rules.js';

export const CANDIDATES = 4;
export const WEIGHTLESS = 6.9;  // logits below the best: p under 1e-3 of the likeliest's, checked by no costly rule

export function penultimatePositions(form) {
  const ahead = new Set();
  for (let p = 0; p < form.length; p++) {
    if (form.slot(p) === 'char' && form.slot(p + 1) === 'char' && form.slot(p + 2) !== 'char') ahead.add(p);
  }
  return ahead;
}

export function candidates(scores, k) {  // the k highest finite scores' ids (ties: the lower id), ascending
  const ids = [];
  for (let v = 0; v < scores.length; v++) if (scores[v] > -Infinity) ids.push(v);
  return ids.sort((a, b) => scores[b] - scores[a] || a - b).slice(0, k).sort((a, b) => a - b);
}

// log of the share of softmax(full) that `masked` keeps finite; exp rounded to float32 as numpy's is
export function reach(full, masked) {
  let max = -Infinity, total = 0, kept = 0;
  for (const x of full) if (x > max) max = x;
  full.forEach((x, v) => {
    const e = Math.fround(Math.exp(Math.fround(x - max)));
    total += e;
    if (masked[v] > -Infinity) kept += e;
  });
  return Math.log(kept) - Math.log(total);
}

// The rules with the costly one (the corpus-line check) deciding only for the weighty tokens
function checkingOnly(rules, weighty) {
  const narrowed = (rule) => (position, history) => {
    const mask = rule(position, history);
    return mask && mask.map((a, v) => (weighty[v] ? a : 1));
  };
  return { hard: rules.hard, soft: rules.soft.map(([name, rule]) => [name, name === 'novel' ? narrowed(rule) : rule]) };
}

// -> {scores: the sampler's input at `position`, steps: Map(candidate -> [logits, h, cell])}
export async function lookAhead(step, rules, position, history, scores, [h, cell], score, k = CANDIDATES) {
  const out = new Float32Array(scores.length).fill(-Infinity), steps = new Map(), kept = candidates(scores, k);
  for (const x of kept) {
    const result = await step(x, h, cell), [logits] = result;
    let best = -Infinity;
    for (const l of logits) if (l > best) best = l;
    const weighty = Uint8Array.from(logits, (l) => (l >= Math.fround(best - Math.fround(WEIGHTLESS)) ? 1 : 0));
    const extended = [...history, x];
    const { allowed } = allowedTokens(checkingOnly(rules, weighty), position + 1, extended, scores.length);
    const [full, masked] = score(logits, position + 1, extended, allowed);
    out[x] = scores[x] + reach(full, masked);
    steps.set(x, result);
  }
  if (!out.some((x) => x > -Infinity)) for (const x of kept) out[x] = scores[x];  // all underflowed: as if blind
  return { scores: out, steps };
}
