"""对仗: how the middle couplets of a 律诗 pair their characters, learned from the human poems.

In the 颔联 (lines 3-4) and 颈联 (lines 5-6) of a 律诗, the characters at matching positions of
the two lines are of matching kinds (明月 / 清泉, 松间 / 石上). We have no word classes, so the
corpus itself says which characters pair: a pair (a, b) at matching positions is *parallel* when
it occurs in human middle couplets at least MIN_COUNT times and more often than the two
characters' frequencies predict (pointwise mutual information > 0). A couplet's 对仗 score is the
share of its positions whose pair is parallel. Human middle couplets score far above human first
and last couplets (which need not be parallel): that gap is what makes the measure meaningful,
and `evaluate` reports both beside the model's.
"""

import math
from collections import Counter

LU_FORMS = ("五律", "七律")
MIDDLE = ((2, 3), (4, 5))  # 颔联 and 颈联, 0-based line indices
OUTER = ((0, 1), (6, 7))  # 首联 and 尾联
MIN_COUNT = 2
MAX_PARTNERS = 40  # per character, in the model file: the strongest partners only


def lines_of(text):
    """The lines of a poem without punctuation."""
    return [line for line in text.replace("。", "，").split("，") if line]


def aligned_pairs(text, couplets):
    """(a, b) at every matching position of the given couplets of a 律诗 (eight lines; none else)."""
    lines = lines_of(text)
    if len(lines) != 8:
        return []
    pairs = []
    for first, second in couplets:
        if second < len(lines) and len(lines[first]) == len(lines[second]):
            pairs += list(zip(lines[first], lines[second]))
    return pairs


class PairTable:
    """Parallel pairs: {a: {b: pmi}} for pairs seen MIN_COUNT times with pmi > 0."""

    def __init__(self, partners):
        self.partners = partners

    @classmethod
    def from_poems(cls, texts):
        pairs = Counter(p for text in texts for p in aligned_pairs(text, MIDDLE))
        firsts, seconds = Counter(), Counter()
        for (a, b), n in pairs.items():
            firsts[a] += n
            seconds[b] += n
        total = sum(pairs.values()) or 1
        partners = {}
        for (a, b), n in pairs.items():
            if n >= MIN_COUNT:
                pmi = math.log(n * total / (firsts[a] * seconds[b]))
                if pmi > 0:
                    partners.setdefault(a, {})[b] = pmi
        return cls(partners)

    def is_parallel(self, a, b):
        return b in self.partners.get(a, ())

    def score(self, text, couplets=MIDDLE):
        """Share of the couplets' matching positions whose pair is parallel (None: no such positions)."""
        pairs = aligned_pairs(text, couplets)
        return sum(self.is_parallel(a, b) for a, b in pairs) / len(pairs) if pairs else None

    def strongest(self, limit=MAX_PARTNERS):
        """{a: [[b, pmi], ...]}: each character's strongest partners, for the model file."""
        return {
            a: [[b, round(pmi, 3)] for b, pmi in sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]
            for a, found in sorted(self.partners.items())
        }


def mean_score(table, texts, couplets=MIDDLE):
    scores = [s for s in (table.score(t, couplets) for t in texts) if s is not None]
    return sum(scores) / len(scores) if scores else None
