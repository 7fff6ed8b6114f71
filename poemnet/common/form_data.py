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

The registry: `form_named` gives the Form (forms.py) of a 诗 form or a supported 词牌 by its name,
`find_form` the one of a model's forms that a user's name means, `form_templates` its templates.
A 词牌 is supported when at least SUPPORTED_LAYOUT_POEMS poems follow its dominant layout: fewer
leave its tones all 中 (each position needs 10 known classes) and its rhymes resting on a handful
of poems. That is 112 of the 125 词牌 with patterns.
"""

import json
import re
from functools import lru_cache
from pathlib import Path

from poemnet.common.errors import UserError
from poemnet.common.forms import FORMS, HANZI, Form
from poemnet.common.prosody import TABLE, templates

SUPPORTED_LAYOUT_POEMS = 10
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


def shi_rhymes(lines):
    """The rhyme lines of a 诗 template: the even lines, and the first where its template ends it in 平."""
    return [i for i in range(len(lines)) if i % 2 == 1 or (i == 0 and lines[0][-1] == "平")]


def shi_form(name):
    """A 诗 form expressed in the 词牌 structure: the same layout/templates/rhymes fields."""
    form = FORMS[name]
    layout = [[form.line_len, "，" if i % 2 == 0 else "。"] for i in range(form.num_lines)]
    shi_templates = []
    for template in templates(form):
        rhymes = shi_rhymes(template["lines"])
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


def form_of(data):
    """The Form of a form dict (a cipai.json entry, or a model file's form_layouts entry)."""
    traditional = data.get("traditional")
    return Form(
        data["name"],
        tuple((int(n), mark) for n, mark in data["layout"]),
        data.get("kind", "词"),
        data.get("pian"),
        traditional if traditional != data["name"] else None,
    )


def form_dict(form):
    """What a model file records of a form: its layout, kind, 片 and traditional name."""
    return {
        "name": form.name,
        "kind": form.kind,
        "layout": [list(line) for line in form.layout],
        "pian": form.pian,
        "traditional": form.traditional or form.name,
    }


@lru_cache(maxsize=1)
def supported_cipai():
    """{name: Form} of the supported 词牌, most poems first."""
    return {
        name: form_of(data) for name, data in load_cipai().items() if data["layout_poems"] >= SUPPORTED_LAYOUT_POEMS
    }


def form_named(name):
    """The Form of a 诗 form or a supported 词牌 by its name (simplified or traditional), or None."""
    if name in FORMS:
        return FORMS[name]
    data = find_cipai(name)
    return supported_cipai().get(data["name"]) if data else None


def form_templates(form):
    """The form's templates with their rhymes: the four 诗 templates, or the 词牌's derived one."""
    if form.kind == "诗":
        return shi_form(form.name)["templates"]
    keep = ("name", "lines", "rhymes", "rhyme_sets", "rhyme_tones")
    return [{k: t[k] for k in keep} for t in load_cipai()[form.name]["templates"]]


def find_form(name, known, aliases=None):
    """The form among `known` (a model's Forms) that `name` means: its name, a 诗 form's other name
    (`aliases`: {other name, lower case: name}), or a 词牌's traditional name. A UserError says why not."""
    word = name.strip()
    canonical = (aliases or {}).get(word.lower(), word)
    for form in known:
        if canonical in (form.name, form.traditional):
            return form
    data = None if canonical in FORMS else find_cipai(canonical)
    if canonical in FORMS or data is not None and data["layout_poems"] >= SUPPORTED_LAYOUT_POEMS:
        shown = ", ".join(f.name for f in known[:12]) + (f" and {len(known) - 12} more" if len(known) > 12 else "")
        raise UserError(f"--form {name} is not one this model was trained on: choose from {shown}")
    if data is not None:
        raise UserError(
            f"--form {name} is a 词牌 with only {data['layout_poems']} poems in its most common layout: "
            f"PoemNet writes the {len(supported_cipai())} 词牌 with at least {SUPPORTED_LAYOUT_POEMS} "
            "(poemnet list forms shows them)"
        )
    raise UserError(
        f"--form {name} is not a regulated form or a supported 词牌: choose 五绝, 七绝, 五律 or 七律 "
        "(or 五絕, 五言绝句 ...), or a 词牌 such as 浣溪沙 or 水调歌头 (poemnet list forms shows them)"
    )
