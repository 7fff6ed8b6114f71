// The twin of poemnet/generation/sampling.py for one row of masked logits (-Infinity = disallowed):
// greedy (the first likeliest token), or float64 weights exp((logit - max) / temperature), top-k
// (the k heaviest, ties to the lower id), then top-p (the fewest heaviest whose mass reaches top_p
// of the row mass, ties to the lower id; 1 is off), picked by inverse CDF in token-id order: the
// first kept token whose running weight exceeds uniform x the kept mass. Python sorts nothing
// whole, for speed; the choice is the same.
// The page draws its uniforms from mulberry32, not Python's Mersenne Twister, so sampled poems
// differ from infer.py's; greedy poems are the same.
export class Sampling {  // topK 0 and topP 1: off
  constructor({ temperature = 1, topK = 0, topP = 1, greedy = false } = {}) {
    Object.assign(this, { temperature, topK, topP, greedy });
    Object.freeze(this);
  }
}

export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function weights(logits, temperature) {  // the heaviest token weighs 1, a disallowed one 0
  let max = -Infinity;
  for (const x of logits) if (x > max) max = x;
  return Float64Array.from(logits, (x) => Math.exp((x - max) / temperature));
}

function nucleus(w, sampling) {  // the kept tokens, in id order
  let ids = [];  // heaviest first, ties to the lower id
  for (let v = 0; v < w.length; v++) if (w[v] > 0) ids.push(v);
  if (sampling.topK && sampling.topK < w.length) ids = ids.sort((a, b) => w[b] - w[a] || a - b).slice(0, sampling.topK);
  if (sampling.topP >= 1) return ids.sort((a, b) => a - b);
  ids.sort((a, b) => w[b] - w[a] || a - b);
  const wanted = sampling.topP * ids.reduce((total, v) => total + w[v], 0);
  let mass = 0, needed = 0;
  while (needed < ids.length && (needed === 0 || mass < wanted)) mass += w[ids[needed++]];
  return ids.slice(0, needed).sort((a, b) => a - b);
}

export function sample(logits, sampling, uniform) {
  let best = 0;
  for (let v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
  if (sampling.greedy) return best;
  const w = weights(logits, sampling.temperature), kept = nucleus(w, sampling);
  const running = [];
  for (const v of kept) running.push((running.at(-1) ?? 0) + w[v]);
  const threshold = uniform * running.at(-1);
  const pick = running.findIndex((r) => r > threshold);
  return kept[pick < 0 ? kept.length - 1 : pick];
}
