"""Fill web/dist/ with the page, a model and its metadata, and onnxruntime-web: `make web`.

    python web/build.py [--model models/poemnet-release-int8.onnx]
    python -m http.server -d web/dist --bind 127.0.0.1 8000

onnxruntime-web cannot read an ONNX file's metadata_props, so they go to dist/model.json.
Needs `npm ci` in web/ first (the Makefile does it): the runtime files come from the pinned package.
"""

import argparse
import json
import shutil
import sys
from pathlib import Path

import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # poemnet from the clone, installed or not
from poemnet.common.errors import UserError  # noqa: E402
from poemnet.generation import model_file  # noqa: E402

WEB = Path(__file__).resolve().parent
ROOT = WEB.parent
ORT_FILES = ["ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"]


def metadata(model):
    """model.json: the model file's metadata, read and checked by poemnet's own reader."""
    props = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
    model_file.check_format(props, model)
    try:
        return model_file.web_metadata(props)
    except model_file.DamagedModel as e:
        raise model_file.damaged(model, e)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "poemnet-release-int8.onnx")
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
    shutil.copyfile(WEB / "index.html", partial / "index.html")
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
