"""Write classical Chinese poems with an exported PoemNet model: onnxruntime and numpy only.

python infer.py --start 月
python infer.py --acrostic 春夏秋冬 --n 3 --seed 7
python infer.py --model runs/base/poemnet-int8.onnx --form 五绝 --json
python infer.py --form 七律 --rhyme --tones --no-repeat --novel   # regulated verse for real
python infer.py --rhyme 东 --tones --template 平起首句入韵
"""

import json
import time
from pathlib import Path

from poemnet.common.errors import ArgumentParser, UserError, run_cli
from poemnet.generation.request import MAX_POEMS, Request, check_sampling, prepare, write
from poemnet.generation.runtime import PoemModel

ROOT = Path(__file__).resolve().parent
RELEASE_MODEL = "models/poemnet-release-int8.onnx"  # beside infer.py
MAX_THREADS = 256  # far more than a step can use; more makes onnxruntime spin up threads for minutes


def parse_args(argv):
    p = ArgumentParser(description="Generate poems with an exported PoemNet ONNX model.")
    p.add_argument(
        "--model",
        help="ONNX file from export.py (default: your newest runs/*/poemnet*.onnx, else the shipped release model)",
    )
    p.add_argument("--start", help="the poem's first character, e.g. 月")
    p.add_argument("--acrostic", help="one character per line, each line starts with it, e.g. 春夏秋冬")
    p.add_argument("--form", help="五绝, 七绝, 五律 or 七律 (default: the model's first form)")
    p.add_argument(
        "--rhyme",
        nargs="?",
        const="",
        metavar="GROUP",
        help="rhyming lines end in one 平水韵 平 group: the one given (东, 一东 or 上平声一东) or the first drawn",
    )
    p.add_argument("--tones", action="store_true", help="follow one of the form's standard 平仄 templates")
    p.add_argument("--template", help="with --tones: the template, e.g. 平起首句入韵 (default: whichever fits)")
    p.add_argument("--no-repeat", action="store_true", help="no character twice in a poem")
    p.add_argument("--novel", action="store_true", help="no line copied from the training corpus")
    p.add_argument("--n", type=int, default=1, help=f"poems to write, as one batch (1-{MAX_POEMS})")
    p.add_argument("--temperature", type=float, default=0.8, help="> 0 and finite; lower is more conservative")
    p.add_argument("--top-k", type=int, help="sample among the k likeliest characters (default: all)")
    p.add_argument("--top-p", type=float, default=0.9, help="sample within this probability mass, in (0, 1]")
    p.add_argument("--greedy", action="store_true", help="always take the likeliest character")
    p.add_argument("--seed", type=int, help="same seed, same poems (default: random, shown with --json)")
    p.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads (0 = up to 4)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p.parse_args(argv)


def default_model(root=ROOT):
    """(path, source): the newest model you exported under runs/, else the shipped release model."""
    exported = sorted((root / "runs").glob("*/poemnet*.onnx"), key=lambda p: p.stat().st_mtime)
    if exported:
        return exported[-1], "your newest export"
    return root / RELEASE_MODEL, "the shipped release model"


def main(argv=None):
    args = parse_args(argv)
    if not 0 <= args.threads <= MAX_THREADS:
        raise UserError(f"--threads {args.threads} must be between 0 and {MAX_THREADS} (0 = up to 4)")
    options = {k: v for k, v in vars(args).items() if k not in ("model", "threads", "json")}
    wanted = Request(**options)
    check_sampling(wanted)  # before the model loads: a bad option is reported at once
    path, source = (args.model, "--model") if args.model else default_model()
    model = PoemModel(path, args.threads or None)
    started = time.perf_counter()
    prepared = prepare(model, wanted)
    poems = write(model, prepared)
    elapsed_ms = (time.perf_counter() - started) * 1000
    form = prepared.form
    if args.json:
        print(
            json.dumps(
                {
                    "form": form.name,
                    "seed": prepared.seed,
                    "model": str(path),
                    "model_source": source,
                    "ms": round(elapsed_ms, 2),
                    "poems": [{**p, "lines": form.lines(p["text"])} for p in poems],
                },
                ensure_ascii=False,
            )
        )
    else:
        print("\n\n".join("\n".join(form.lines(p["text"])) for p in poems))
    return 0


if __name__ == "__main__":
    run_cli(main, fast_exit=True)
