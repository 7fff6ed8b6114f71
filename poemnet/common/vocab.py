"""Character vocabulary: special tokens, one token per form, then characters by frequency."""

import json
from collections import Counter

from poemnet.common.forms import FORMS

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)


def form_token(form_name):
    return f"<{form_name}>"


class Vocab:
    """Maps tokens to ids. Ids 0-3 are the specials, then the four form tokens, then characters."""

    def __init__(self, tokens):
        self.tokens = list(tokens)
        self.index = {t: i for i, t in enumerate(self.tokens)}
        if len(self.index) != len(self.tokens):
            raise ValueError("vocabulary has duplicate tokens")
        expected = list(SPECIALS) + [form_token(f) for f in FORMS]
        if self.tokens[: len(expected)] != expected:
            raise ValueError(f"vocabulary must start with {expected}")
        self.pad_id, self.bos_id, self.eos_id, self.unk_id = (self.index[t] for t in SPECIALS)
        self.num_reserved = len(expected)

    @classmethod
    def build(cls, texts, min_count=1):
        """Characters seen at least `min_count` times, most frequent first, ties by code point."""
        counts = Counter(ch for text in texts for ch in text)
        chars = sorted((ch for ch, n in counts.items() if n >= min_count), key=lambda ch: (-counts[ch], ch))
        return cls(list(SPECIALS) + [form_token(f) for f in FORMS] + chars)

    def __len__(self):
        return len(self.tokens)

    def __contains__(self, ch):
        return ch in self.index

    def form_id(self, form_name):
        return self.index[form_token(form_name)]

    def encode(self, text):
        return [self.index.get(ch, self.unk_id) for ch in text]

    def encode_poem(self, text, form_name):
        return [self.bos_id, self.form_id(form_name)] + self.encode(text) + [self.eos_id]

    def decode(self, ids):
        return "".join(self.tokens[i] for i in ids if i >= self.num_reserved)

    def to_json(self):
        return json.dumps({"tokens": self.tokens}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text):
        return cls(json.loads(text)["tokens"])

    def save(self, path):
        from poemnet.common.atomic import write_text_atomic

        write_text_atomic(path, self.to_json())

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as f:
            return cls.from_json(f.read())
