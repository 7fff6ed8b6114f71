"""Fill web/dist/ with the page, a model and its metadata, and onnxruntime-web: `make web`.

    python web/build.py [--model poemnet/models/poemnet-release-int8.onnx]
    python -m http.server -d web/dist --bind 127.0.0.1 8000

onnxruntime-web cannot read an ONNX file's metadata_props, so they go to dist/model.json, with
what the page needs to take input as infer.py does but has no library for: the forms' other names
(五絕, 五言绝句 ...) and a map into the model's script, made here with OpenCC (script_map).
Needs the inference install (onnxruntime, numpy, OpenCC: `pip install .`) and `npm ci` in web/ (the
Makefile runs it; Node 18 or later): the runtime files come from the pinned package.
"""

import argparse
import json
import shutil
import sys
from pathlib import Path

import onnxruntime as ort
from opencc import OpenCC

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # poemnet from the clone, installed or not
from poemnet.common.errors import UserError  # noqa: E402
from poemnet.common.prosody import TABLE  # noqa: E402
from poemnet.generation import model_file  # noqa: E402
from poemnet.generation.request import FORM_ALIASES  # noqa: E402

WEB = Path(__file__).resolve().parent
ROOT = WEB.parent
PAGE_FILES = ["index.html", "page.css"]
ORT_FILES = ["ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"]


# OpenCC's character conversions between the scripts: a character's forms in the other script.
TO_TRADITIONAL = ("s2t", "s2tw", "s2hk")
TO_SIMPLIFIED = ("t2s", "tw2s", "hk2s")


def metadata(model):
    """model.json: the model file's metadata, read and checked by poemnet's own reader, with the
    forms' other names and the script map."""
    props = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
    model_file.check_format(props, model)
    try:
        web = model_file.web_metadata(props)
    except model_file.DamagedModel as e:
        raise model_file.damaged(model, e)
    return page_metadata(web)


def page_metadata(web):
    """web_metadata's dict plus form_aliases and script_map (tests/golden_cases.py uses it too)."""
    aliases = {name: list(FORM_ALIASES[name]) for name in web["forms"] if name in FORM_ALIASES}
    return {**web, "form_aliases": aliases, "script_map": script_map(web)}


def script_map(web):
    """What OpenCC does for infer.py, as tables: `chars` maps a character the model lacks to the one
    infer.py's to_model_char makes of it (t2s for a simplified model, s2t for a traditional one),
    for the characters that matter: each vocabulary character's forms in the other script, and the
    平水韵 table's traditional characters; `group_names` maps each character of the 平 groups'
    names in traditional to the simplified one group_id compares."""
    vocab = set(web["vocab"][web["num_reserved"] :])
    simplified = web["script"] == "simplified"
    into_model = OpenCC("t2s" if simplified else "s2t")
    others = [OpenCC(config) for config in (TO_TRADITIONAL if simplified else TO_SIMPLIFIED)]
    table = json.loads(TABLE.read_text(encoding="utf-8"))
    candidates = {other.convert(ch) for ch in vocab for other in others} | set(table["traditional"])
    chars = {}
    for ch in sorted(candidates - vocab):
        converted = into_model.convert(ch)
        if len(ch) == 1 and converted != ch and converted in vocab:
            chars[ch] = converted
    names = "".join(web.get("prosody", {}).get("group_names", []))
    to_traditional = OpenCC("s2t")
    group_names = {to_traditional.convert(ch): ch for ch in sorted(set(names))}
    return {"chars": chars, "group_names": {t: s for t, s in group_names.items() if t != s}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "poemnet" / "models" / "poemnet-release-int8.onnx")
    parser.add_argument("--out", type=Path, default=WEB / "dist")
    args = parser.parse_args()
    runtime = WEB / "node_modules" / "onnxruntime-web" / "dist"
    missing = [f for f in ORT_FILES if not (runtime / f).is_file()]
    if missing:
        sys.exit(f"error: {runtime} lacks {', '.join(missing)}: run `npm ci` in web/ (make web does)")
    if not args.model.is_file():
        sys.exit(f"error: model {args.model} not found: pass --model with an exported .onnx")
    partial = args.out.with_name(args.out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    (partial / "ort").mkdir(parents=True)
    for name in PAGE_FILES:
        shutil.copyfile(WEB / name, partial / name)
    shutil.copytree(WEB / "src", partial / "src")
    for name in ORT_FILES:
        shutil.copyfile(runtime / name, partial / "ort" / name)
    shutil.copyfile(args.model, partial / "poemnet.onnx")
    (partial / "model.json").write_text(json.dumps(metadata(args.model), ensure_ascii=False), encoding="utf-8")
    shutil.rmtree(args.out, ignore_errors=True)
    partial.rename(args.out)
    size = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file()) / 1e6
    print(f"wrote {args.out} ({size:.1f} MB); serve it: python -m http.server -d {args.out} --bind 127.0.0.1 8000")


if __name__ == "__main__":
    try:
        main()
    except UserError as e:
        sys.exit(f"error: {e}")
