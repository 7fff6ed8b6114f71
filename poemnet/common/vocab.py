"""Character vocabulary: special tokens, control tokens (one per form, the title separator), then
characters by frequency.

The reserved tokens are the four specials followed by every `<...>` token at the start of the
list: a model's forms (the four 诗 forms, and 词牌 where it knows them) and, for a model that
knows titles, TITLE_END. Nothing else about the layout is fixed, so a vocabulary says by itself
which forms it was trained on.
"""

import json
from collections import Counter

from poemnet.common.forms import FORMS

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)
TITLE_END = "<title>"  # ends a title prefix: <bos> title <title> <form> poem <eos>


def form_token(form_name):
    return f"<{form_name}>"


def _is_control(token):
    return len(token) > 2 and token.startswith("<") and token.endswith(">")


class Vocab:
    """Maps tokens to ids. Ids 0-3 are the specials, then the four form tokens, then characters."""

    def __init__(self, tokens):
        self.tokens = list(tokens)
        self.index = {t: i for i, t in enumerate(self.tokens)}
        if len(self.index) != len(self.tokens):
            raise ValueError("vocabulary has duplicate tokens")
        if self.tokens[: len(SPECIALS)] != list(SPECIALS):
            raise ValueError(f"vocabulary must start with {list(SPECIALS)}")
        self.pad_id, self.bos_id, self.eos_id, self.unk_id = (self.index[t] for t in SPECIALS)
        self.num_reserved = len(SPECIALS)
        while self.num_reserved < len(self.tokens) and _is_control(self.tokens[self.num_reserved]):
            self.num_reserved += 1
        self.title_end_id = self.index.get(TITLE_END)

    @property
    def form_names(self):
        """The forms this vocabulary has a token for, in its order."""
        return [t[1:-1] for t in self.tokens[len(SPECIALS) : self.num_reserved] if t != TITLE_END]

    @classmethod
    def build(cls, texts, min_count=1, forms=tuple(FORMS), titles=False):
        """Characters seen at least `min_count` times, most frequent first, ties by code point; a
        token for each form and, with `titles`, the title separator."""
        counts = Counter(ch for text in texts for ch in text)
        chars = sorted((ch for ch, n in counts.items() if n >= min_count), key=lambda ch: (-counts[ch], ch))
        control = [form_token(f) for f in forms] + ([TITLE_END] if titles else [])
        return cls(list(SPECIALS) + control + chars)

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
