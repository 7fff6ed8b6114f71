"""`poemnet write` (and infer.py, over the same code): write poems with an exported model. No torch.

Plain output is the poems, each followed by one line that writes it again, so a poem worth keeping
can be had once more (`grep -v '^#'` leaves the poems alone):

    月照江南岸，
    ...
    # poemnet write --model shipped --form 五绝 --start 月 --seed 1 --n 3 --poem 2

`--json` prints one object with the same, per poem, as `again`.
"""

import argparse
import json
import os
import re
import shlex
import time

from poemnet.common.errors import ArgumentParser, UserError
from poemnet.common.form_data import form_named
from poemnet.generation.model_choice import SHIPPED, clone_root, default_model, is_shipped, model_file
from poemnet.generation.output import emit, note, utf8_streams
from poemnet.generation.request import CANONICAL_FORM, MAX_POEMS, Request, check_sampling

DEFAULTS = Request()


class StoreOnce(argparse._StoreAction):
    """A value given twice, differently, is an error rather than "the last one wins"."""

    def __call__(self, parser, namespace, values, option_string=None):
        given = namespace.__dict__.setdefault("_given", {})
        if self.dest in given and given[self.dest] != values:
            both = " and ".join(f"{option_string} {v}".strip() for v in (given[self.dest], values))
            raise UserError(f"{option_string} given twice ({both}): pass it once")
        given[self.dest] = values
        super().__call__(parser, namespace, values, option_string)


def parser(prog):
    p = ArgumentParser(prog=prog, description="Write classical Chinese poems with an exported PoemNet model.")
    p.register("action", None, StoreOnce)
    p.register("action", "store", StoreOnce)
    p.add_argument(
        "--model",
        help=f"ONNX file from export.py, or `{SHIPPED}` for the model inside the package "
        "(default: in a clone, your newest runs/*/poemnet*.onnx; else the shipped model)",
    )
    p.add_argument("--start", help="the poem's first character, e.g. 月")
    p.add_argument("--acrostic", help="one character per line, each line starts with it, e.g. 春夏秋冬")
    p.add_argument(
        "--form",
        help="五绝, 七绝, 五律, 七律 (or 五絕, 七言律诗 ...), or a 词牌 such as 水调歌头 the model knows "
        "(poemnet list shows them; default: the model's first form)",
    )
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
    p.add_argument(
        "--parallel",
        action="store_true",
        help="对仗: in a 律诗's middle couplets, prefer characters that pair with the first line's, place by place",
    )
    p.add_argument("--title", help="the poem's title, e.g. 秋夜寄友 (a model trained with titles)")
    p.add_argument(
        "--keywords",
        type=_keywords,
        default=(),
        help="words that must appear, each inside one line, comma-separated, e.g. 江,月,孤舟",
    )
    p.add_argument("--first-line", help="the poem's first line, given, e.g. 床前明月光")
    p.add_argument("--n", type=int, default=1, help=f"poems to write, as one batch (1-{MAX_POEMS})")
    p.add_argument("--poem", type=int, metavar="K", help="print only the K-th poem of the batch (as its # line says)")
    p.add_argument("--temperature", type=float, default=0.8, help="> 0 and finite; lower is more conservative")
    p.add_argument("--top-k", type=int, help="sample among the k likeliest characters (default: all)")
    p.add_argument("--top-p", type=float, default=0.9, help="sample within this probability mass, in (0, 1]")
    p.add_argument("--greedy", action="store_true", help="always take the likeliest character (ignores --temperature)")
    p.add_argument("--seed", type=int, help="same seed, same poems (default: random; each poem's # line shows it)")
    p.add_argument(
        "--script", choices=["simplified", "traditional"], help="print in this script (default: the model's)"
    )
    p.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads (0 = up to 4)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def _keywords(text):
    return tuple(text.replace("，", ",").replace("、", ",").split(","))


def machine_cores():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def check_options(args):
    cores = machine_cores()
    if not 0 <= args.threads <= cores:
        raise UserError(
            f"--threads {args.threads} must be between 0 and {cores}, this machine's CPU cores "
            "(more threads than cores only slow onnxruntime down); 0 = the default, up to 4"
        )
    if args.poem is not None and not 1 <= args.poem <= args.n:
        raise UserError(f"--poem {args.poem} must be between 1 and --n {args.n}: the poem's place in its batch")


def main(argv=None, prog="poemnet write", root=None):
    utf8_streams()
    args = parser(prog).parse_args(argv)
    vars(args).pop("_given", None)
    options = {k: v for k, v in vars(args).items() if k not in ("model", "threads", "json", "poem", "script")}
    request = Request(**options)
    check_sampling(request)  # before the model loads: a bad option is reported at once
    check_options(args)
    net, (poems, elapsed_ms), source, fallback = written(args, request, clone_root() if root is None else root)
    model_arg = SHIPPED if is_shipped(net.path) else shown_path(net.path)
    if fallback:
        note(f"note: {fallback}; the shipped model wrote these poems (--model {SHIPPED})")
    elif source == "your newest export":
        note(f"note: written by your newest export {model_arg} (--model {SHIPPED} for the shipped model)")
    if args.poem is not None:
        poems = [poems[args.poem - 1]]
    again = [again_command(poem, prog, model_arg, args.script) for poem in poems]
    if args.json:
        emit(json.dumps(report(net, poems, again, source, fallback, elapsed_ms), ensure_ascii=False))
    else:
        emit("\n\n".join("\n".join([*poem.lines, *gave_way(poem), f"# {line}"]) for poem, line in zip(poems, again)))
    return 0


def gave_way(poem):
    """'#' lines naming each place where a rule had to give way (the rules together left no
    character there, e.g. a first line or an acrostic that fits no template)."""
    form = form_named(poem.form)
    notes = []
    for r in poem.relaxations:
        line, col = form.locate(r["position"])
        notes.append(
            f"# gave way at line {line + 1}, character {col + 1}: {', '.join(r['relaxed'])} "
            "(no character there kept every rule)"
        )
    return notes


def written(args, request, root):
    """(PoemNet, (poems, ms), model source, fallback note): the model named, else the default with
    the shipped model behind it when your newest export cannot do what was asked."""
    from poemnet.api import PoemNet

    threads = args.threads or None
    if args.model is not None:
        net = PoemNet(model_file(args.model), threads)
        lacking(net, request.form)
        return net, timed(net, request, args.script), "--model", None
    path, source = default_model(root)
    try:
        net = PoemNet(path, threads)
        return net, timed(net, request, args.script), source, None
    except UserError as e:
        if is_shipped(path):
            raise
        reason = f"your newest export {shown_path(path)} cannot do this ({e})"
    net = PoemNet(None, threads)
    return net, timed(net, request, args.script), "the shipped release model", reason


def timed(net, request, script):
    """(poems, milliseconds spent writing them, the model already loaded)."""
    started = time.perf_counter()
    poems = net.run(request, script)
    return poems, (time.perf_counter() - started) * 1000


def lacking(net, form):
    """A form the model named by --model lacks is an error that names the file and the fix."""
    canonical = CANONICAL_FORM.get((form or "").strip().lower())
    if canonical is not None and canonical not in net.forms:
        raise UserError(
            f"--form {form} is not one {shown_path(net.path)} was trained on (it knows {', '.join(net.forms)}): "
            f"pass --model {SHIPPED} for the shipped model, which knows all four, or leave --model out"
        )


def report(net, poems, again, source, fallback, elapsed_ms):
    """The --json object."""
    keep = ("text", "lines", "template", "rhyme_group", "seed", "index")
    return {
        "form": poems[0].form,
        "seed": poems[0].seed,
        "script": poems[0].script,
        "model": str(net.path),
        "model_source": source,
        **({"model_note": fallback} if fallback else {}),
        "ms": round(elapsed_ms, 2),
        "poems": [
            {**{k: v for k, v in p.to_dict().items() if k in keep}, "relaxed": list(p.relaxations), "again": line}
            for p, line in zip(poems, again)
        ],
    }


def shown_path(path):
    """A model path as a user would type it: relative to the current folder when it lies below it."""
    try:
        return str(path.resolve().relative_to(os.getcwd()))
    except ValueError:
        return str(path)


def again_command(poem, prog, model_arg, script):
    """The command line that writes `poem` again: every option that shaped it, its seed and place."""
    r = poem.request
    words = [*prog.split(), "--model", model_arg, "--form", poem.form]
    words += ["--start", r.start] if r.start else []
    words += ["--acrostic", r.acrostic] if r.acrostic else []
    words += [] if r.rhyme is None else ["--rhyme", *([r.rhyme] if r.rhyme else [])]
    words += ["--tones"] if r.tones else []
    words += ["--template", r.template] if r.template else []
    words += ["--no-repeat"] if r.no_repeat else []
    words += ["--novel"] if r.novel else []
    words += ["--parallel"] if r.parallel else []
    words += ["--title", r.title] if r.title else []
    words += ["--keywords", ",".join(r.keywords)] if r.keywords else []
    words += ["--first-line", r.first_line] if r.first_line else []
    if r.greedy:
        words += ["--greedy"]
    else:
        words += ["--temperature", str(r.temperature)] if r.temperature != DEFAULTS.temperature else []
        words += ["--top-p", str(r.top_p)] if r.top_p != DEFAULTS.top_p else []
        words += ["--top-k", str(r.top_k)] if r.top_k else []
    words += [] if r.greedy else ["--seed", str(poem.seed)]  # greedy poems need no seed
    words += ["--n", str(poem.batch_size), "--poem", str(poem.index + 1)] if poem.batch_size > 1 else []
    words += ["--script", script] if script else []
    return " ".join(word if re.fullmatch(r"[\w@%+=:,./-]+", word) else shlex.quote(word) for word in words)
