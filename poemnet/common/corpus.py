"""The corpus file: poem records, loading, and the train/validation split (no torch, no OpenCC).

A corpus is JSONL (gzip when the name ends in .gz) of {text, form, dynasty, author, title}, written
by `poemnet.builders.corpus` (诗) or `poemnet.builders.ci` (词); `<corpus>.stats.json` beside it
is the builder's report. A 诗 has its form's exact layout; a 词 (any other form: its 词牌) is lines
closed by ，。、？！；, in its 词牌's dominant layout or another (variant forms are real 词 and train).
"""

import gzip
import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from poemnet.common.errors import UserError
from poemnet.common.forms import FORMS, HANZI, PUNCTUATION

EMBEDDED = "embedded"  # the corpus name that means the 五绝 shipped inside the package
EMBEDDED_CORPUS = Path(__file__).resolve().parent.parent / "data" / "wujue.jsonl.gz"
EMBEDDED_CI_CORPUS = EMBEDDED_CORPUS.with_name("ci.jsonl.gz")  # the 宋词 and 五代 词 (builders/ci.py)
_CI_TEXT = re.compile(f"(?:[{HANZI}]+[{PUNCTUATION}])+")


def resolve(name):
    """The file a corpus name stands for: the embedded one for "embedded" or None, else the path."""
    return EMBEDDED_CORPUS if name in (None, EMBEDDED) else Path(name)


def resolve_ci(name):
    """The file a 词 corpus name stands for: the embedded 词 corpus for "embedded", else the path."""
    return EMBEDDED_CI_CORPUS if name == EMBEDDED else Path(name)


@dataclass
class Poem:
    text: str  # lines joined, punctuation kept: "XXXXX，XXXXX。XXXXX，XXXXX。"
    form: str
    dynasty: str
    author: str
    title: str


def load(path=None):
    """Load a corpus file (a path, or None / "embedded" for the embedded 五绝 corpus)."""
    path = resolve(path)
    if not path.is_file():
        raise UserError(
            f"corpus {path} not found: build one with `python -m poemnet.builders.corpus build` or use the embedded one"
        )
    opener = gzip.open if path.suffix == ".gz" else open
    poems = []
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                poems.append(_poem_from_json(line, path, lineno))
    except (OSError, UnicodeDecodeError, EOFError) as e:
        raise UserError(
            f"corpus {path} cannot be read ({e}): rebuild it with `python -m poemnet.builders.corpus build`"
        )
    return poems


def _poem_from_json(line, path, lineno):
    try:
        poem = Poem(**json.loads(line))
    except (json.JSONDecodeError, TypeError) as e:
        raise UserError(f"corpus {path} line {lineno} is not a poem record ({e}): rebuild it")
    if not isinstance(poem.text, str) or not isinstance(poem.form, str) or not poem.form:
        raise UserError(f"corpus {path} line {lineno} is not a poem record (text and form must be strings): rebuild it")
    fits = FORMS[poem.form].matches(poem.text) if poem.form in FORMS else _CI_TEXT.fullmatch(poem.text) is not None
    if not fits:
        raise UserError(f"corpus {path} line {lineno}: text does not have the form {poem.form!r}: rebuild it")
    return poem


def script_of(path=None):
    """The script the builder wrote the corpus in (its report says); simplified if there is no report."""
    report = stats_path(resolve(path))
    try:
        return json.loads(report.read_text(encoding="utf-8")).get("script", "simplified")
    except (OSError, ValueError):
        return "simplified"


def is_validation(text, val_fraction):
    """Decided by the poem's text alone: stable across runs, machines and corpus edits."""
    bucket = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") % 1_000_000
    return bucket < val_fraction * 1_000_000


def split(poems, val_fraction):
    train = [p for p in poems if not is_validation(p.text, val_fraction)]
    val = [p for p in poems if is_validation(p.text, val_fraction)]
    return train, val


def stats_path(corpus_path):
    return Path(str(corpus_path) + ".stats.json")


def stats(poems):
    """Counts per form and dynasty, and the number of distinct characters."""
    table = Counter((p.form, p.dynasty) for p in poems)
    chars = {ch for p in poems for ch in p.text if ch not in PUNCTUATION}
    return {
        "poems": len(poems),
        "by_form": dict(Counter(p.form for p in poems)),
        "by_form_and_dynasty": {f"{f} {d}": n for (f, d), n in sorted(table.items())},
        "distinct_characters": len(chars),
    }
