// The corpus line filter of poemnet/generation/line_filter.py: two polynomial hashes of a line's code points
// modulo 2^31 - 1 (every product stays below 2^53, so doubles are exact), k Bloom probes.
export const PRIME = 2 ** 31 - 1;
export const BASES = [1000003, 917513];

export function lineHashes(line) {
  let h1 = 0, h2 = 0;
  for (const ch of line) {
    const cp = ch.codePointAt(0);
    h1 = (h1 * BASES[0] + cp) % PRIME;
    h2 = (h2 * BASES[1] + cp) % PRIME;
  }
  return [h1, h2];
}

export class LineFilter {
  constructor(params, bitsBase64) {
    if (params.prime !== PRIME || params.bases.join() !== BASES.join()) throw new Error('line filter hashed with other constants');
    this.m = params.num_bits;
    this.k = params.num_hashes;
    this.bits = Uint8Array.from(atob(bitsBase64), (c) => c.charCodeAt(0));
  }

  contains(h1, h2) {
    for (let i = 0; i < this.k; i++) {
      const index = (h1 + i * h2) % this.m;
      if (!((this.bits[Math.floor(index / 8)] >> (index % 8)) & 1)) return false;
    }
    return true;
  }
}
