// Sampling of poemnet/generation/sampling.py for one row: greedy (the first likeliest token), or temperature
// then top-p (the fewest likeliest tokens, ties to the lower id), picking by inverse CDF over the
// nucleus in token-id order.
// The page draws its uniforms from mulberry32, not numpy's PCG64, so sampled poems differ from
// infer.py's; greedy poems are the same.
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

export function sample(logits, allowed, sampling, uniform) {
  let best = -1;
  for (let v = 0; v < logits.length; v++) if (allowed[v] && (best < 0 || logits[v] > logits[best])) best = v;
  if (sampling.greedy) return best;
  const ids = [], weights = [];
  let total = 0;
  for (let v = 0; v < logits.length; v++) {
    if (!allowed[v]) continue;
    const w = Math.exp((logits[v] - logits[best]) / sampling.temperature);
    ids.push(v); weights.push(w); total += w;
  }
  const order = ids.map((_, i) => i).sort((a, b) => weights[b] - weights[a] || ids[a] - ids[b]);
  let mass = 0, needed = 0;
  for (const i of order) {
    if (mass >= sampling.topP * total) break;
    mass += weights[i]; needed++;
  }
  const nucleus = order.slice(0, needed).sort((a, b) => a - b);  // indices into ids: id order
  let cumulative = 0;
  for (const i of nucleus) {
    cumulative += weights[i];
    if (cumulative > uniform * mass) return ids[i];
  }
  return ids[nucleus[needed - 1]];
}
