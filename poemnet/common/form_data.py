"""Forms as data: one structure for the four 诗 forms and the 词牌 (no torch, no OpenCC).

A form is a dict, the shape of each entry of `poemnet/data/cipai.json`:

    name        "浣溪沙" / "五绝"
    kind        "词" or "诗"
    layout      [[line length, punctuation after the line], ...]: "，" "。" "、" "？" "！" "；"
    pian        index of the first line of the 下片, or None (单调, or no split found)
    templates   [{"name", "lines": one 平/仄/中 string per line, "rhymes": [line indices],
                  "rhyme_sets": [rhyme set of each rhyme line: lines of one set share a 部],
                  "rhyme_tones": "平"/"仄" per rhyme line, the tone its rhyme is taken in}]
    rhyme_kind  "平" (平韵), "仄" (仄韵), "换" (换韵: more than one rhyme set) or "通叶" (one set
                whose lines mix 平 and 仄 of one 部, as 西江月's closing lines do)

A 词牌 has one template, derived from the poems by poemnet.builders.ci_patterns; a 诗 form has the
four of 王力《诗词格律》 (prosody.templates), whose rhymes depend on the template (首句入韵 or not).
Rhymes are checked by 部: the 平水韵 group for 诗, the 词林正韵 部 for 词 (`load_cilin`).
"""

import json
import re
from functools import lru_cache
from pathlib import Path

from poemnet.common.forms import FORMS, HANZI
from poemnet.common.prosody import TABLE, templates

CIPAI = Path(__file__).resolve().parent.parent / "data" / "cipai.json"
PUNCT = "，。、？！；"  # every one ends a line
STOPS = "。？！"  # end a sentence: a 片 and the poem end on one
_LINE = re.compile(f"([{HANZI}]+)([{PUNCT}])")


def split_lines(text):
    """[(line, punctuation)] of a normalized text, or None if it is not lines of Chinese characters
    each closed by one of PUNCT."""
    parts = _LINE.findall(text)
    if not parts or sum(len(line) + 1 for line, _ in parts) != len(text):
        return None
    return parts


def layout_of(text):
    """[[line length, punctuation], ...] of a normalized text, or None."""
    parts = split_lines(text)
    return None if parts is None else [[len(line), punct] for line, punct in parts]


def shi_form(name):
    """A 诗 form expressed in the 词牌 structure: the same layout/templates/rhymes fields."""
    form = FORMS[name]
    layout = [[form.line_len, "，" if i % 2 == 0 else "。"] for i in range(form.num_lines)]
    shi_templates = []
    for template in templates(form):
        rhymes = [i for i in range(form.num_lines) if i % 2 == 1 or (i == 0 and template["lines"][0][-1] == "平")]
        extra = {"rhymes": rhymes, "rhyme_sets": [0] * len(rhymes), "rhyme_tones": "平" * len(rhymes)}
        shi_templates.append(template | extra)
    return {"name": name, "kind": "诗", "layout": layout, "pian": None, "templates": shi_templates, "rhyme_kind": "平"}


def rhyme_kind(rhyme_tones, rhyme_sets):
    """平 / 仄 / 换 / 通叶 from the tone ('平' or '仄') of each rhyme line and its rhyme set."""
    if len(set(rhyme_sets)) > 1:
        return "换"
    if set(rhyme_tones) == {"平"}:
        return "平"
    return "仄" if set(rhyme_tones) == {"仄"} else "通叶"


@lru_cache(maxsize=1)
def load_cipai():
    """{name: form} of the 词牌 in poemnet/data/cipai.json, most poems first."""
    data = json.loads(CIPAI.read_text(encoding="utf-8"))
    return {form["name"]: form for form in data["forms"]}


def find_cipai(name):
    """The 词牌 form named `name` in simplified or traditional characters, or None."""
    forms = load_cipai()
    return forms.get(name) or next((f for f in forms.values() if f["traditional"] == name), None)


@lru_cache(maxsize=2)
def load_cilin(script="simplified"):
    """{char: (平 部 ids, 仄 部 ids)} of the 词林正韵 and the 19 部 names, from the 平水韵 table."""
    table = json.loads(TABLE.read_text(encoding="utf-8"))
    parts = {ch: (frozenset(p), frozenset(z)) for ch, (p, z) in table["cilin"][script].items()}
    return parts, table["cilin_parts"]
