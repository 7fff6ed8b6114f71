"""The prosody data of a model file (its `prosody` field): checked strictly, then decoded into arrays
over the vocabulary (VocabProsody) for the rules. Split from model_file.py, which re-exports it.

Every field a rule reads is checked: the tone class of every entry, its 平水韵 平 groups, each
form's templates (their lines, rhyme lines, rhyme sets and rhyme tones) and, for a model that knows
a 词牌, each entry's 词林正韵 部. No torch.
"""

from dataclasses import dataclass

import numpy as np

from poemnet.common.form_data import shi_rhymes

TONE_CLASSES = "PZEU-"  # 平 only, 仄 only, either, unknown to the rhyme book, not a character
TEMPLATE_TONES = "平仄中"


class DamagedModel(ValueError):
    """A metadata field that does not hold what the format says."""


@dataclass(frozen=True)
class VocabProsody:
    """The model file's prosody data as arrays over the vocabulary."""

    ping: np.ndarray  # bool [V]: may stand where 平 is required (平 or either)
    ze: np.ndarray  # bool [V]: may stand where 仄 is required (仄 or either)
    ze_only: np.ndarray  # bool [V]: 仄 only: may end a line that must not rhyme
    rhyme_char: np.ndarray  # bool [V]: 平 only, in exactly one 平 group: may end a rhyming line of a 诗
    rhyme_group: np.ndarray  # int [V]: that group, -1 for every other token
    group_names: list  # the 平水韵 平 groups, then (in a model that knows a 词牌) the 词林正韵 部
    templates: dict  # form name -> [{'name', 'lines', and where given 'rhymes', 'rhyme_sets', 'rhyme_tones'}]
    num_groups: int = None  # how many of group_names are 平 groups (the rest are 部)
    part_ping: np.ndarray = None  # int [V]: the 部 of a 平-only character in one 平 部 (a 词's 平 rhyme), else -1
    part_ze: np.ndarray = None  # int [V]: the 部 of a 仄-only character in one 仄 部 (a 词's 仄 rhyme), else -1
    group_part: np.ndarray = None  # int [平 groups]: each group's 部, for a 平 group named with --rhyme

    @classmethod
    def from_data(cls, data):
        tones = np.array(list(data["tones"]))
        groups = data["ping_groups"]
        single = np.array([len(g) == 1 for g in groups])
        rhyme_char = (tones == "P") & single
        rhyme_group = np.array([g[0] if ok else -1 for g, ok in zip(groups, rhyme_char)], np.int64)
        names = list(data["group_names"])
        ci = {}
        if "cilin" in data:
            ci["part_ping"] = _single_part(data["cilin"], 0, tones == "P")
            ci["part_ze"] = _single_part(data["cilin"], 1, tones == "Z")
            ci["group_part"] = np.array(data["group_cilin"], np.int64)
        return cls(
            (tones == "P") | (tones == "E"),
            (tones == "Z") | (tones == "E"),
            tones == "Z",
            rhyme_char,
            rhyme_group,
            names + list(data.get("cilin_names", [])),
            data["templates"],
            len(names),
            **ci,
        )


def _single_part(cilin, tone, only):
    """int [V]: the one 部 (of tone 0 平 or 1 仄) of the entries `only` allows, -1 for the others."""
    return np.array([p[tone][0] if ok and len(p[tone]) == 1 else -1 for p, ok in zip(cilin, only)], np.int64)


def check_prosody(data, vocab_size, forms):
    """The prosody data, every field checked against the vocabulary, the groups and the forms."""
    if not isinstance(data, dict):
        raise DamagedModel("prosody is not an object")
    tones, groups, names = data.get("tones"), data.get("ping_groups"), data.get("group_names")
    if not isinstance(tones, str) or len(tones) != vocab_size or set(tones) - set(TONE_CLASSES):
        raise DamagedModel(f"prosody.tones must be {vocab_size} classes from {TONE_CLASSES}")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise DamagedModel("prosody.group_names must be a list of names")
    if not isinstance(groups, list) or len(groups) != vocab_size:
        raise DamagedModel(f"prosody.ping_groups must list the groups of all {vocab_size} entries")
    for g in groups:
        if not _ids(g, len(names)):
            raise DamagedModel(f"prosody.ping_groups holds {g!r}, not a list of group ids below {len(names)}")
    if any(form.kind == "词" for form in forms) or "cilin" in data:
        _check_cilin(data, vocab_size, len(names))
    templates = data.get("templates")
    if not isinstance(templates, dict):
        raise DamagedModel("prosody.templates must map forms to templates")
    for form in forms:
        _check_templates(templates.get(form.name), form)
    return data


def _ids(value, below):
    return isinstance(value, list) and all(type(i) is int and 0 <= i < below for i in value)


def _check_cilin(data, vocab_size, num_groups):
    """The 词林正韵 fields a 词's rhymes read: each entry's [平 部, 仄 部], the 部 names, each 平 group's 部."""
    parts, names, group_parts = data.get("cilin"), data.get("cilin_names"), data.get("group_cilin")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise DamagedModel("prosody.cilin_names must be a list of the 词林正韵 部 names")
    if not isinstance(parts, list) or len(parts) != vocab_size:
        raise DamagedModel(f"prosody.cilin must list the 部 of all {vocab_size} entries")
    for p in parts:
        if not (isinstance(p, list) and len(p) == 2 and all(_ids(ids, len(names)) for ids in p)):
            raise DamagedModel(f"prosody.cilin holds {p!r}, not [平 部 ids, 仄 部 ids] below {len(names)}")
    if not _ids(group_parts, len(names)) or len(group_parts) != num_groups:
        raise DamagedModel(f"prosody.group_cilin must give the 部 of each of the {num_groups} 平 groups")


def _check_templates(templates, form):
    if not isinstance(templates, list) or not templates:
        raise DamagedModel(f"prosody.templates has no templates for {form.name}")
    for t in templates:
        lines = t.get("lines") if isinstance(t, dict) else None
        if (
            not isinstance(t.get("name") if isinstance(t, dict) else None, str)
            or not isinstance(lines, list)
            or len(lines) != form.num_lines
        ):
            raise DamagedModel(f"a {form.name} template must have a name and {form.num_lines} lines")
        for line, (n, _) in zip(lines, form.layout):
            if not isinstance(line, str) or len(line) != n or set(line) - set(TEMPLATE_TONES):
                raise DamagedModel(f"a {form.name} template line must be {n} of {TEMPLATE_TONES}: {line!r}")
        if "rhymes" in t or form.kind == "词":
            _check_rhymes(t, form)


def _check_rhymes(template, form):
    """A template's rhyme lines (ascending, inside the poem), the rhyme set and tone of each; a 诗
    template rhymes where the 诗 rule says, all in 平, in one set."""
    rhymes, sets, tones = (template.get(k) for k in ("rhymes", "rhyme_sets", "rhyme_tones"))
    if (
        not _ids(rhymes, form.num_lines)
        or rhymes != sorted(set(rhymes))
        or not _ids(sets, len(rhymes) or 1)
        or len(sets) != len(rhymes)
        or not isinstance(tones, str)
        or len(tones) != len(rhymes)
        or set(tones) - set("平仄")
    ):
        raise DamagedModel(f"a {form.name} template must give its rhyme lines, their rhyme sets and tones (平 or 仄)")
    if form.kind == "诗" and (rhymes != shi_rhymes(template["lines"]) or set(tones) - {"平"} or set(sets) - {0}):
        raise DamagedModel(
            f"a {form.name} template must rhyme in 平 on its even lines (and line 1 where it ends in 平)"
        )
