"""Build the regulated-verse corpus from the chinese-poetry package.

    python -m poemnet.builders.corpus build --source chinese-poetry-2.0.1.tgz --out poems.jsonl.gz
    python -m poemnet.builders.corpus stats [--corpus FILE]

The source is the npm package `chinese-poetry` (`npm pack chinese-poetry`), unpacked or as the
.tgz. We read dist/quantangshi/poet.{tang,song}.N.json, keep poems whose every couplet is
`XXXXX，XXXXX。` (5 or 7 characters, 4 or 8 lines, Chinese characters only), convert them to
simplified characters with OpenCC (t2s) and drop exact duplicates of the converted text.
"""

import gzip
import io
import json
import os
import re
import sys
import tarfile
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from poemnet.common.atomic import write_bytes_atomic, write_text_atomic
from poemnet.common.corpus import Poem, load, stats, stats_path
from poemnet.common.errors import ArgumentParser, UserError, run_cli
from poemnet.common.forms import FORMS, detect_form, is_hanzi

MAX_TITLE = 12  # characters: longer titles (mostly collection names before the poem's own) are cut
_NOTE = re.compile(r"[（(〔【\[][^）)〕】\]]*[）)〕】\]]")  # bracketed notes, e.g. （一作…）
_NUMERAL = "一二三四五六七八九十百○〇零两"
_NUMBERING = re.compile(f"^(?:其[{_NUMERAL}]+|[{_NUMERAL}]+|之[{_NUMERAL}]+)$")  # 其二, 三, 之一
_COUNT = re.compile(f"[{_NUMERAL}]+首(?:之[{_NUMERAL}]+|其[{_NUMERAL}]+)?$")  # 十首, 二首之一 at a part's end
_SOURCE_FILE = re.compile(r"(?:^|/)dist/quantangshi/poet\.(tang|song)\.(\d+)\.json$")
DYNASTIES = {"tang": "唐", "song": "宋"}


def _source_files(source):
    """Yield (name, bytes) of the Tang and Song files, in dynasty then file-number order."""
    source = Path(source)
    if not source.exists():
        raise UserError(
            f"source {source} does not exist: pass the chinese-poetry folder or .tgz (npm pack chinese-poetry)"
        )
    if source.is_file():
        try:
            tar = tarfile.open(source, "r:*")
        except tarfile.TarError as e:
            raise UserError(f"{source} is not a readable .tgz ({e}): pass the file from `npm pack chinese-poetry`")
        with tar:
            members = [(m, _SOURCE_FILE.search(m.name)) for m in tar.getmembers() if m.isfile()]
            found = sorted(((m, k) for m, k in members if k), key=lambda mk: _order(mk[1]))
            if not found:
                raise UserError(f"{source} holds no dist/quantangshi/poet.*.json: is it the chinese-poetry package?")
            for member, _ in found:
                yield member.name, tar.extractfile(member).read()
        return
    roots = [source / "dist" / "quantangshi", source / "package" / "dist" / "quantangshi"]
    root = next((r for r in roots if r.is_dir()), None)
    if root is None:
        raise UserError(f"no dist/quantangshi folder in {source}: pass the unpacked chinese-poetry package folder")
    found = [(p, m) for p in root.glob("poet.*.json") if (m := _SOURCE_FILE.search(p.as_posix()))]
    found.sort(key=lambda pm: _order(pm[1]))
    if not found:
        raise UserError(f"{root} holds no poet.tang.*.json or poet.song.*.json files")
    for path, _ in found:
        yield str(path), path.read_bytes()


def _order(match):
    return (0 if match.group(1) == "tang" else 1, int(match.group(2)))


def _parse_file(name, data):
    try:
        records = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise UserError(f"{name} is not UTF-8 ({e.reason} at byte {e.start}): re-fetch the package")
    except json.JSONDecodeError as e:
        raise UserError(f"{name} is not valid JSON (line {e.lineno}: {e.msg}): re-fetch the package")
    if not isinstance(records, list):
        raise UserError(f"{name} holds a JSON {type(records).__name__}, expected a list of poems")
    return records


def _record_text(record):
    """The poem's lines joined, or None when the record is malformed."""
    if not isinstance(record, dict):
        return None
    paragraphs = record.get("paragraphs")
    if not isinstance(paragraphs, list) or not all(isinstance(p, str) for p in paragraphs):
        return None
    if not isinstance(record.get("author", ""), str) or not isinstance(record.get("title", ""), str):
        return None
    return "".join(p.strip() for p in paragraphs)


def clean_title(title):
    """(a title the model can learn, [what was changed]): bracketed notes and the numbering of a
    series (其二, 二首 一, 十首之三) removed, only Chinese characters kept, cut to MAX_TITLE."""
    changes = []
    text = _NOTE.sub(" ", title)
    if text != title:
        changes.append("bracketed note removed")
    parts = [p for p in text.split() if p]
    kept = [p for p in parts if not _NUMBERING.match(p)]
    kept = [_COUNT.sub("", p) for p in kept]
    if kept != parts:
        changes.append("numbering removed")
    joined = "".join(kept)
    hanzi = "".join(ch for ch in joined if is_hanzi(ch))
    if hanzi != joined:
        changes.append("other characters removed")
    if len(hanzi) > MAX_TITLE:
        hanzi = hanzi[:MAX_TITLE]
        changes.append(f"cut to {MAX_TITLE} characters")
    if not hanzi:
        changes.append("empty")
    return hanzi, changes


def build(source, script="simplified", forms=None):
    """Read the source, filter and convert: returns (poems, report)."""
    converter = None
    if script == "simplified":
        import opencc

        converter = opencc.OpenCC("t2s")
    convert = converter.convert if converter else (lambda s: s)
    report = Counter()
    seen, poems = set(), []
    for name, data in _source_files(source):
        dynasty = DYNASTIES[_SOURCE_FILE.search(name).group(1)]
        for record in _parse_file(name, data):
            text = _record_text(record)
            if text is None:
                report["malformed records"] += 1
                continue
            report["records read"] += 1
            text = convert(text)
            form = detect_form(text)
            if form is None:
                report["not regulated verse"] += 1
            elif forms and form.name not in forms:
                report["other forms"] += 1
            elif text in seen:
                report["duplicates"] += 1
            else:
                seen.add(text)
                title, changes = clean_title(convert(record.get("title", "")))
                for change in changes:
                    report[f"titles: {change}"] += 1
                poems.append(Poem(text, form.name, dynasty, convert(record.get("author", "")), title))
        report["files read"] += 1
    return poems, report


def save(poems, path):
    """Write JSONL (gzip if the name ends in .gz, with a fixed mtime so rebuilds are byte-identical)."""
    lines = "".join(json.dumps(asdict(p), ensure_ascii=False) + "\n" for p in poems).encode("utf-8")
    if str(path).endswith(".gz"):
        buffer = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as gz:
            gz.write(lines)
        lines = buffer.getvalue()
    write_bytes_atomic(path, lines)


def main(argv=None, prog="python -m poemnet.builders.corpus"):
    parser = ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build a corpus file from the chinese-poetry package")
    b.add_argument("--source", required=True, help="unpacked chinese-poetry folder or its .tgz")
    b.add_argument("--out", required=True, help="output .jsonl or .jsonl.gz")
    b.add_argument("--script", choices=["simplified", "traditional"], default="simplified")
    b.add_argument("--forms", nargs="+", choices=list(FORMS), help="keep only these forms (default: all four)")
    s = sub.add_parser("stats", help="print the counts of a corpus file")
    s.add_argument("--corpus", help="corpus file (default: the embedded 五绝 corpus)")
    args = parser.parse_args(argv)
    if args.command == "stats":
        print(json.dumps(stats(load(args.corpus)), ensure_ascii=False, indent=1))
        return 0
    poems, report = build(args.source, args.script, args.forms)
    if not poems:
        raise UserError(f"no regulated poems found in {args.source}: check that it is the chinese-poetry package")
    save(poems, args.out)
    summary = json.dumps(
        {"source": Path(args.source).name, "script": args.script, "report": dict(report), **stats(poems)},
        ensure_ascii=False,
        indent=1,
    )
    write_text_atomic(stats_path(args.out), summary + "\n")  # kept beside the corpus: the tests check it
    print(summary)
    print(f"wrote {len(poems)} poems to {args.out} ({os.path.getsize(args.out)} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    run_cli(main)
