"""The corpus's lines as a Bloom filter, so that decoding can refuse to copy a line verbatim.

A line is hashed by its Unicode code points with two polynomial hashes modulo the Mersenne prime
2^31 - 1; bases below 2^21 keep every product under 2^53, so JavaScript's doubles compute the same
values exactly. The filter travels in the model file (see model_file.py). The filter is sized for a
false-positive rate of FPR: a line absent from the corpus is refused with that probability, a
corpus line is always refused.
"""

import math

import numpy as np

PRIME = 2**31 - 1
BASES = (1_000_003, 917_513)
FPR = 0.01


def line_hashes(line):
    """(h1, h2) of a string of characters."""
    h1 = h2 = 0
    for ch in line:
        h1 = (h1 * BASES[0] + ord(ch)) % PRIME
        h2 = (h2 * BASES[1] + ord(ch)) % PRIME
    return h1, h2


def prefix_hashes(prefixes):
    """(h1, h2), [B] each, of each row's prefix (code points [B, L])."""
    h1 = h2 = np.zeros(len(prefixes), np.int64)
    for column in np.asarray(prefixes, np.int64).T:
        h1, h2 = (h1 * BASES[0] + column) % PRIME, (h2 * BASES[1] + column) % PRIME
    return h1, h2


def completed_hashes(prefix, code_points):
    """Hashes of prefixes (h1, h2) each completed by one more code point: broadcasts like its arguments;
    the same values line_hashes gives the completed strings."""
    return (prefix[0] * BASES[0] + code_points) % PRIME, (prefix[1] * BASES[1] + code_points) % PRIME


class LineFilter:
    def __init__(self, bits, num_bits, num_hashes, count):
        self.bits, self.m, self.k, self.count = bits, num_bits, num_hashes, count

    @classmethod
    def build(cls, lines, fpr=FPR):
        lines = sorted(set(lines))
        n = max(1, len(lines))
        m = max(64, math.ceil(-n * math.log(fpr) / math.log(2) ** 2))
        k = max(1, round(m / n * math.log(2)))
        bits = np.zeros((m + 7) // 8, np.uint8)
        hashes = np.array([line_hashes(line) for line in lines], np.int64).reshape(-1, 2)
        for i in range(k):
            index = (hashes[:, 0] + i * hashes[:, 1]) % m
            np.bitwise_or.at(bits, index >> 3, (1 << (index & 7)).astype(np.uint8))
        return cls(bits, m, k, len(lines))

    def contains(self, h1, h2):
        """Bool array of the shape of h1/h2: maybe in the corpus (True) or surely not (False).
        Each probe after the first tests only the hashes every earlier one found (about half)."""
        shape = np.shape(h1)
        h1, h2 = np.ravel(h1), np.ravel(h2)
        alive = np.flatnonzero(self._probe(h1 % self.m))
        for i in range(1, self.k):
            alive = alive[self._probe((h1[alive] + i * h2[alive]) % self.m)]
        found = np.zeros(h1.shape, bool)
        found[alive] = True
        return found.reshape(shape)

    def _probe(self, index):
        return (self.bits[index >> 3] >> (index & 7).astype(np.uint8)) & 1 == 1

    def __contains__(self, line):
        h1, h2 = line_hashes(line)
        return bool(self.contains(np.int64(h1), np.int64(h2)))

    def expected_fpr(self):
        return (1 - math.exp(-self.k * self.count / self.m)) ** self.k


def corpus_lines(texts):
    """Every line of every poem, punctuation removed."""
    lines = []
    for text in texts:
        lines += [line for line in text.replace("。", "，").split("，") if line]
    return lines
