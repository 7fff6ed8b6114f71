"""Write classical Chinese poems with an exported PoemNet model: onnxruntime and numpy only.

    python infer.py --start 月
    python infer.py --acrostic 春夏秋冬 --n 3 --seed 7
    python infer.py --model runs/base/poemnet-int8.onnx --form 五绝 --json
    python infer.py --form 七律 --rhyme --tones --no-repeat --novel   # regulated verse for real
    python infer.py --rhyme 东 --tones --template 平起首句入韵
"""
import json
import math
import os
import time
from pathlib import Path

from poemnet.sampling import Sampling
from poemnet.errors import ArgumentParser, UserError, run_cli
from poemnet.generate import Constraints, generate_detailed, poem_rules
from poemnet.runtime import PoemModel
from poemnet.script import to_model_char

ROOT = Path(__file__).resolve().parent
RELEASE_MODEL = "models/poemnet-release-int8.onnx"  # beside infer.py
MAX_POEMS = 1024
MAX_THREADS = 256  # far more than a step can use; more makes onnxruntime spin up threads for minutes


def parse_args(argv):
    p = ArgumentParser(description="Generate poems with an exported PoemNet ONNX model.")
    p.add_argument("--model", help="ONNX file from export.py (default: your newest runs/*/poemnet*.onnx, "
                                   "else the shipped release model)")
    p.add_argument("--start", help="the poem's first character, e.g. 月")
    p.add_argument("--acrostic", help="one character per line, each line starts with it, e.g. 春夏秋冬")
    p.add_argument("--form", help="五绝, 七绝, 五律 or 七律 (default: the model's first form)")
    p.add_argument("--rhyme", nargs="?", const="", metavar="GROUP",
                   help="rhyming lines end in one 平水韵 平 group: the one given (东, 一东 or 上平声一东) or the first drawn")
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


def check_sampling(args):
    if args.seed is not None and not 0 <= args.seed < 2**63:
        raise UserError(f"--seed {args.seed} must be between 0 and 2**63 - 1")
    if not 1 <= args.n <= MAX_POEMS:
        raise UserError(f"--n {args.n} must be between 1 and {MAX_POEMS}")
    if not (args.temperature > 0 and math.isfinite(args.temperature)):
        raise UserError(f"--temperature {args.temperature} must be > 0 and finite (use --greedy for the likeliest poem)")
    if not 0 < args.top_p <= 1:
        raise UserError(f"--top-p {args.top_p} must be in (0, 1]")
    if args.top_k is not None and args.top_k < 1:
        raise UserError(f"--top-k {args.top_k} must be >= 1 (leave it out to sample among all characters)")
    if not 0 <= args.threads <= MAX_THREADS:
        raise UserError(f"--threads {args.threads} must be between 0 and {MAX_THREADS} (0 = up to 4)")
    return Sampling(args.temperature, args.top_k or 0, args.top_p, args.greedy)


def choose_form(model, name):
    known = {f.name: f for f in model.forms}
    if name is None:
        return model.forms[0]
    if name not in known:
        raise UserError(f"--form {name} is not one this model was trained on: choose from {', '.join(known)}")
    return known[name]


def first_chars(model, form, start, acrostic):
    """{line: character} forced by --start or --acrostic, converted to the model's script."""
    if start and acrostic:
        raise UserError("--start and --acrostic both choose the first character: pass one of them")
    if start is not None:
        if len(start) != 1:
            raise UserError(f"--start takes one character, got {len(start)}: use --acrostic for one per line")
        return {0: to_model_char(start, model.vocab, model.script, "--start character")}
    if acrostic is not None:
        if len(acrostic) != form.num_lines:
            raise UserError(f"--acrostic needs {form.num_lines} characters for a {form.name} "
                            f"({form.num_lines} lines), got {len(acrostic)}")
        return {i: to_model_char(ch, model.vocab, model.script, "--acrostic character") for i, ch in enumerate(acrostic)}
    return {}


def default_model(root=ROOT):
    """(path, source): the newest model you exported under runs/, else the shipped release model."""
    exported = sorted((root / "runs").glob("*/poemnet*.onnx"), key=lambda p: p.stat().st_mtime)
    if exported:
        return exported[-1], "your newest export"
    return root / RELEASE_MODEL, "the shipped release model"


def constraints(args, model, form, forced):
    """The user's decoding options as Constraints, checked against what the model file carries."""
    if args.template is not None and not args.tones:
        raise UserError("--template chooses a 平仄 template: pass --tones with it")
    group = None
    if args.rhyme and model.prosody is not None:  # without prosody data poem_rules refuses --rhyme
        from poemnet.prosody import group_id  # only for a named group: plain runs start faster
        group = group_id(args.rhyme, model.prosody.group_names)
        if group is None:
            raise UserError(f"--rhyme {args.rhyme} is not a 平水韵 平 group: use one such as 东, 一东 or 下平声七阳")
    return Constraints(first_chars=forced, rhyme=args.rhyme is not None, rhyme_group=group, tones=args.tones,
                       template=args.template, no_repeat=args.no_repeat, novel=args.novel)


def main(argv=None):
    args = parse_args(argv)
    sampling = check_sampling(args)
    path, source = (args.model, "--model") if args.model else default_model()
    model = PoemModel(path, args.threads or None)
    form = choose_form(model, args.form)
    forced = first_chars(model, form, args.start, args.acrostic)
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big") >> 1  # secrets costs its import at start-up
    started = time.perf_counter()
    wanted = constraints(args, model, form, forced)
    decoder = poem_rules(model.vocab, form, constraints=wanted,  # prosody and the filter are read on first use
                         prosody=model.prosody if wanted.needs_prosody else None,
                         line_filter=model.line_filter if wanted.needs_line_filter else None)
    poems = generate_detailed(model.step, model.zero_state, model.vocab, form, args.n, decoder, sampling, seed)
    elapsed_ms = (time.perf_counter() - started) * 1000
    bad = [p["text"] for p in poems if not form.matches(p["text"])]
    if bad:  # the layout rule makes this impossible; never print a malformed poem with exit 0
        raise UserError(f"generation produced a malformed poem ({bad[0]!r}): the model file may be damaged; re-export it")
    if args.json:
        print(json.dumps({"form": form.name, "seed": seed, "model": str(path), "model_source": source, "ms": round(elapsed_ms, 2),
                          "poems": [{**p, "lines": form.lines(p["text"])} for p in poems]}, ensure_ascii=False))
    else:
        print("\n\n".join("\n".join(form.lines(p["text"])) for p in poems))
    return 0


if __name__ == "__main__":
    run_cli(main, fast_exit=True)
