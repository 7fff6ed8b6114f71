// The twin of poemnet/generation/line_filter.py: two polynomial hashes of a line's code points
// modulo 2^31 - 1 (every product stays below 2^53, so doubles are exact), k Bloom probes.
export const PRIME = 2 ** 31 - 1;
export const BASES = [1000003, 917513];

export function lineHashes(line) {  // [h1, h2] of a string of characters
  return prefixHashes(Array.from(line, (ch) => ch.codePointAt(0)));
}

export function prefixHashes(codePoints) {
  let h1 = 0, h2 = 0;
  for (const cp of codePoints) [h1, h2] = completedHashes([h1, h2], cp);
  return [h1, h2];
}

export function completedHashes([h1, h2], codePoint) {  // the hashes of a prefix completed by one code point
  return [(h1 * BASES[0] + codePoint) % PRIME, (h2 * BASES[1] + codePoint) % PRIME];
}

export class LineFilter {
  constructor(bits, numBits, numHashes, count) { Object.assign(this, { bits, m: numBits, k: numHashes, count }); }

  contains(h1, h2) {  // maybe in the corpus (true) or surely not (false)
    for (let i = 0; i < this.k; i++) {
      const index = (h1 + i * h2) % this.m;
      if (!((this.bits[index >> 3] >> (index & 7)) & 1)) return false;
    }
    return true;
  }
}
