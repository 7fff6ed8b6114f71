"""Build the 词 corpus and the 词牌 patterns from the chinese-poetry package.

    python -m poemnet.builders.ci build --source chinese-poetry-2.0.1.tgz \\
        [--corpus poemnet/data/ci.jsonl.gz] [--patterns poemnet/data/cipai.json]

The source is the npm package `chinese-poetry` (`npm pack chinese-poetry@2.0.1`), unpacked or as the
.tgz. We read the 宋词 (dist/songci/ci.song.*.json; not 宋词三百首.json, a selection of the same
poems) and the 五代 词 (dist/wudaishici: 花间集 and 南唐二主词), normalize the punctuation to
，。、？！； (each ends a line), keep the 词牌, drop malformed records (counted per reason),
convert to simplified characters with OpenCC (t2s, as the 诗 corpus is) and drop exact duplicates.

The 词牌: the collection writes a tune under another name as "调名・本调" (酹江月・念奴娇); the
part after the dot is the tune (form), the part before is kept as the title. 失调名 and □□□ mean
the tune is lost: such poems are dropped. Patterns: poemnet.builders.ci_patterns.
"""

import argparse
import gzip
import io
import json
import re
import sys
import tarfile
from collections import Counter
from pathlib import Path

from poemnet.builders.ci_patterns import derive
from poemnet.builders.corpus import _parse_file, save
from poemnet.common.atomic import write_text_atomic
from poemnet.common.corpus import Poem, stats_path
from poemnet.common.errors import UserError, run_cli
from poemnet.common.form_data import CIPAI, PUNCT, STOPS, split_lines
from poemnet.common.forms import is_hanzi

SONGCI = re.compile(r"(?:^|/)dist/songci/ci\.song\.(\d+|2019y)\.json$")
WUDAI = re.compile(r"(?:^|/)dist/wudaishici/(?:huajianji/huajianji-(\d+|x)-juan|nantang/poetrys)\.json$")
DEFAULT_CORPUS = CIPAI.parent / "ci.jsonl.gz"

# ASCII, full-width and small-form variants onto the six marks; a colon introduces speech inside
# a line of verse only where the line ends, so it ends one like a comma.
PUNCT_MAP = str.maketrans(
    {",": "，", "﹐": "，", ":": "，", "：": "，", "﹕": "，", ".": "。", "｡": "。", "．": "。", "､": "、", "﹑": "、"}
    | {"?": "？", "﹖": "？", "!": "！", "﹗": "！", ";": "；", "﹔": "；"}
)
NOT_TEXT = "《》〈〉“”‘’「」『』\"' \u3000\t\r\n"  # title marks, quotes and spaces
LOST_NAMES = {"失调名", ""}
REASONS = {
    "lost": "lost characters (□)",
    "note": "editorial note in brackets",
    "elided": "elided text (…)",
    "foreign": "other non-Chinese characters (mojibake)",
    "empty": "empty line (two marks in a row)",
    "open": "unfinished (does not end in 。？！)",
}


def _order(name):
    """Sort key: the 宋词 by file number (2019y last), then 花间集 by juan, then 南唐."""
    if m := SONGCI.search(name):
        return (0, int(m.group(1)) if m.group(1).isdigit() else 10**9, name)
    m = WUDAI.search(name)
    juan = m.group(1)
    return (1, int(juan) if juan and juan.isdigit() else 10**8 if juan else 10**9, name)


def _source_files(source):
    """[(name, dynasty, bytes)] of the 词 files, in _order."""
    source = Path(source)
    if not source.exists():
        raise UserError(
            f"source {source} does not exist: pass the chinese-poetry folder or .tgz (npm pack chinese-poetry@2.0.1)"
        )
    found = {}
    if source.is_file():
        try:
            with tarfile.open(source, "r:*") as tar:
                for member in tar:  # one pass: a .tgz cannot seek back cheaply
                    if member.isfile() and (SONGCI.search(member.name) or WUDAI.search(member.name)):
                        found[member.name] = tar.extractfile(member).read()
        except (tarfile.TarError, OSError, EOFError) as e:
            reason = str(e).splitlines()[0].rstrip(":")
            raise UserError(f"{source} is not a readable .tgz ({reason}): pass the file from `npm pack chinese-poetry`")
    else:
        root = next((r / "dist" for r in (source, source / "package") if (r / "dist" / "songci").is_dir()), None)
        for path in root.rglob("*.json") if root else ():
            if SONGCI.search(path.as_posix()) or WUDAI.search(path.as_posix()):
                found[path.as_posix()] = path.read_bytes()
    if not any(SONGCI.search(name) for name in found):
        raise UserError(f"{source} holds no dist/songci/ci.song.*.json: is it the chinese-poetry package?")
    return [(name, "宋" if SONGCI.search(name) else "五代", found[name]) for name in sorted(found, key=_order)]


def tune_name(rhythmic):
    """(form, title) from a `rhythmic` field: "酹江月・念奴娇" -> ("念奴娇", "酹江月"); None if lost."""
    name = re.sub(r"“[^”]*”", "", rhythmic).strip()  # '“僮至”念奴娇': a note before the name
    parts = [p.strip() for p in re.split(r"[・·]", name)]
    form, title = parts[-1], parts[0]
    if form in LOST_NAMES or "□" in form or not all(is_hanzi(ch) for ch in form):
        return None
    return form, title if "□" not in title else form


def normalize(text):
    """(normalized text, None) or (None, reason key): marks mapped, quotes and spaces removed."""
    text = text.translate(PUNCT_MAP)
    text = "".join(ch for ch in text if ch not in NOT_TEXT)
    if "□" in text:
        return None, "lost"
    if any(ch in "（）()〔〕[]【】" for ch in text):
        return None, "note"
    if "…" in text:
        return None, "elided"
    if any(not is_hanzi(ch) and ch not in PUNCT for ch in text):
        return None, "foreign"
    if not text or text[0] in PUNCT or re.search(f"[{PUNCT}]{{2}}", text):
        return None, "empty"
    if text[-1] not in STOPS:
        return None, "open"
    return text, None


def _fields(record):
    """(paragraphs, rhythmic, author) of a well-formed record, else None."""
    if not isinstance(record, dict):
        return None
    paragraphs, rhythmic, author = record.get("paragraphs"), record.get("rhythmic"), record.get("author", "")
    if not isinstance(paragraphs, list) or not all(isinstance(p, str) for p in paragraphs):
        return None
    if not isinstance(rhythmic, str) or not isinstance(author, str):
        return None
    return paragraphs, rhythmic, author


def build(source):
    """Read, normalize, convert and deduplicate: returns (poems, report)."""
    import opencc

    t2s = opencc.OpenCC("t2s").convert
    report, dropped, raw_names = Counter(), Counter(), Counter()
    seen, poems = set(), []
    for name, dynasty, data in _source_files(source):
        report[f"files read ({dynasty})"] += 1
        for record in _parse_file(name, data):
            report[f"records read ({dynasty})"] += 1
            fields = _fields(record)
            if fields is None:
                dropped["malformed record"] += 1
                continue
            paragraphs, rhythmic, author = fields
            raw_names[rhythmic] += 1
            tune = tune_name(t2s(rhythmic))
            if tune is None:
                dropped["no 词牌 name (失调名, □□□)"] += 1
                continue
            text, reason = normalize("".join(paragraphs))
            if text is None:
                dropped[REASONS[reason]] += 1
                continue
            simplified = t2s(text)
            report["records changed by t2s"] += simplified != text
            report["records under an alias (调名・本调)"] += tune[0] != tune[1]
            if simplified in seen:
                dropped["duplicate text"] += 1
                continue
            seen.add(simplified)
            poems.append(Poem(simplified, tune[0], dynasty, t2s(author), tune[1]))
    report = dict(report) | {"dropped": dict(dropped.most_common()), "poems kept": len(poems)}
    report["names as written"] = len(raw_names)
    report["names as written with >= 20 records"] = sum(n >= 20 for n in raw_names.values())
    return poems, report


def load_corpus(path=DEFAULT_CORPUS):
    """The 词 corpus as Poems. common.corpus.load checks a text against the four 诗 forms; a 词 is
    checked here only for being lines closed by ，。、？！； (its layout need not be its 词牌's)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    poems = []
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                poem = Poem(**json.loads(line))
                if split_lines(poem.text) is None:
                    raise UserError(f"{path} line {lineno} is not lines closed by {PUNCT}: rebuild it")
                poems.append(poem)
    except (OSError, UnicodeDecodeError, EOFError, ValueError, TypeError) as e:
        raise UserError(f"{path} is not a 词 corpus ({e}): rebuild it with `python -m poemnet.builders.ci build`")
    return poems


def corpus_stats(poems):
    """Counts of a 词 corpus (the 诗 corpus's stats() counts only ，。 as marks)."""
    forms = Counter(p.form for p in poems)
    return {
        "poems": len(poems),
        "by_dynasty": dict(Counter(p.dynasty for p in poems)),
        "forms": len(forms),
        "forms_with_20_or_more": sum(n >= 20 for n in forms.values()),
        "poems_in_forms_with_20_or_more": sum(n for n in forms.values() if n >= 20),
        "top_forms": dict(forms.most_common(20)),
        "lines": sum(len(split_lines(p.text)) for p in poems),
        "distinct_characters": len({ch for p in poems for ch in p.text if ch not in PUNCT}),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m poemnet.builders.ci", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the 词 corpus and the 词牌 patterns from the chinese-poetry package")
    b.add_argument("--source", required=True, help="unpacked chinese-poetry folder or its .tgz")
    b.add_argument("--corpus", default=str(DEFAULT_CORPUS), help=f"output .jsonl(.gz) (default: {DEFAULT_CORPUS})")
    b.add_argument("--patterns", default=str(CIPAI), help=f"output patterns JSON (default: {CIPAI})")
    b.add_argument("--min-poems", type=int, default=20, help="derive a pattern for 词牌 with this many poems")
    args = parser.parse_args(argv)
    poems, report = build(args.source)
    if not poems:
        raise UserError(f"no 词 found in {args.source}: check that it is the chinese-poetry package")
    save(poems, args.corpus)
    summary = {"source": Path(args.source).name, "script": "simplified", "report": report, **corpus_stats(poems)}
    write_text_atomic(stats_path(args.corpus), json.dumps(summary, ensure_ascii=False, indent=1) + "\n")
    forms, pattern_report = derive(poems, args.min_poems)
    write_patterns(args.patterns, forms, pattern_report | {"corpus": summary})
    overview = {k: v for k, v in pattern_report.items() if k != "per_form"}
    print(json.dumps(summary | {"patterns": overview}, ensure_ascii=False, indent=1))
    print(f"wrote {len(poems)} 词 to {args.corpus}, {len(forms)} patterns to {args.patterns}", file=sys.stderr)
    return 0


def write_patterns(path, forms, report):
    """The patterns file (one form per line, so diffs stay readable) and its report beside it."""
    buffer = io.StringIO()
    buffer.write('{"version": 1, "source": "derived from chinese-poetry 2.0.1 by poemnet.builders.ci", "forms": [\n')
    buffer.write(",\n".join(json.dumps(form, ensure_ascii=False) for form in forms))
    buffer.write("\n]}\n")
    write_text_atomic(path, buffer.getvalue())
    head = json.dumps({k: v for k, v in report.items() if k != "per_form"}, ensure_ascii=False, indent=1)
    rows = ",\n".join(f"  {json.dumps(k, ensure_ascii=False)}: {json.dumps(v)}" for k, v in report["per_form"].items())
    write_text_atomic(stats_path(path), head[:-2] + ',\n "per_form": {\n' + rows + "\n }\n}\n")


if __name__ == "__main__":
    run_cli(main)
