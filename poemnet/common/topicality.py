"""Does a poem keep to its title? A measure a reader would accept, from the corpus itself.

For each held-out human poem with a title, a poem is written for that title. Each poem becomes a
TF-IDF vector of its characters (IDF from the training split: common characters such as 不, 人 and
无 weigh little, 梅, 雁, 渡 much). The written poem *keeps to its title* when it is closer (cosine)
to the human poem of that title than to most human poems of other titles: its score is the share
of REFERENCES other poems it beats. Untitled poems written with the same seeds are the baseline
(they beat about half, by chance); its spread over the pairs says how far apart two measurements
must be to mean anything.
"""

import math
import random
from collections import Counter

REFERENCES = 20  # other human poems each written poem is compared with


def _chars(text):
    return [ch for ch in text if ch not in "，。、？！；"]


class CharTfIdf:
    def __init__(self, texts):
        df = Counter(ch for text in texts for ch in set(_chars(text)))
        n = max(1, len(texts))
        self.idf = {ch: math.log((1 + n) / (1 + d)) + 1 for ch, d in df.items()}
        self.default = math.log(1 + n) + 1  # a character the training split never has

    def vector(self, text):
        counts = Counter(_chars(text))
        vec = {ch: c * self.idf.get(ch, self.default) for ch, c in counts.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {ch: v / norm for ch, v in vec.items()}


def cosine(a, b):
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(ch, 0.0) for ch, v in a.items())


def topicality(tfidf, written, human, seed=0):
    """Mean over pairs of the share of other human poems the written poem is farther from than
    from its own title's human poem. `written[i]` was written for the title of `human[i]`."""
    rng = random.Random(seed)
    vectors = [tfidf.vector(t) for t in human]
    scores = []
    for i, text in enumerate(written):
        mine = tfidf.vector(text)
        own = cosine(mine, vectors[i])
        others = rng.sample([j for j in range(len(human)) if j != i], min(REFERENCES, len(human) - 1))
        scores.append(sum(own > cosine(mine, vectors[j]) for j in others) / max(1, len(others)))
    return sum(scores) / max(1, len(scores)), scores


def spread(scores):
    """The standard error of a mean of these scores: two measures closer than ~2 of these are noise."""
    n = len(scores)
    if n < 2:
        return None
    mean = sum(scores) / n
    return math.sqrt(sum((s - mean) ** 2 for s in scores) / (n - 1) / n)
