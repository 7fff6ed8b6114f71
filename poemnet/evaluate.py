"""How regulated the poems are: generate N poems per form and measure them, beside held-out human poems.

    poemnet evaluate --n 20                   # the shipped model (python -m poemnet.evaluate is the same)
    poemnet evaluate --model runs/base/poemnet.onnx [--n 200] [--presets plain all] [--corpus embedded]
    poemnet evaluate --model M.onnx --artifact runs/base/final   # adds validation perplexity (torch)

Metrics, per form and preset: format validity, rhyme rate, template conformance, distinct-1/2,
repeated characters per poem, copy rate (lines found verbatim in the corpus), poems per second,
and the share of poems whose constraints had to be relaxed. The reference row measures the
validation split's human poems (their copy rate counts lines found in the training split).
The corpus is the model's training corpus where that file is, else the embedded 五绝 corpus (a
fresh clone or an installed package has only that one), or the one --corpus names.
Prints a markdown table and writes JSON (default: beside the model, NAME.eval.json; for the
shipped model, in the current folder).
"""

import importlib.util
import json
import time
from pathlib import Path

from poemnet.common import corpus
from poemnet.common.atomic import write_text_atomic
from poemnet.common.errors import UserError, run_cli
from poemnet.common.forms import FORMS
from poemnet.generation.line_filter import corpus_lines
from poemnet.generation.output import emit, note, utf8_streams
from poemnet.generation.sampling import Sampling
from poemnet.generation.verse_check import matching_templates, rhymes

PRESETS = {
    "plain": {},
    "rhyme": {"rhyme": True},
    "tones": {"tones": True},
    "rhyme+tones": {"rhyme": True, "tones": True},
    "all": {"rhyme": True, "tones": True, "no_repeat": True, "novel": True},
}


def metrics(texts, form, corpus_line_set, script="simplified"):
    """The measures of a list of poems of one form (see the module docstring)."""
    valid = [t for t in texts if form.matches(t)]
    lines = [line[:-1] for t in valid for line in form.lines(t)]
    chars = [ch for line in lines for ch in line]
    bigrams = [line[i : i + 2] for line in lines for i in range(len(line) - 1)]
    n = max(1, len(valid))
    return {
        "poems": len(texts),
        "format_valid": len(valid) / max(1, len(texts)),
        "rhyme_rate": sum(rhymes(t, form, script) for t in valid) / n,
        "template_rate": sum(bool(matching_templates(t, form, script)) for t in valid) / n,
        "distinct_1": len(set(chars)) / max(1, len(chars)),
        "distinct_2": len(set(bigrams)) / max(1, len(bigrams)),
        "repeats_per_poem": sum(len(c) - len(set(c)) for c in (_chars(t, form) for t in valid)) / n,
        "copy_rate": sum(line in corpus_line_set for line in lines) / max(1, len(lines)),
    }


def _chars(text, form):
    return "".join(line[:-1] for line in form.lines(text))


def generated_rows(model, forms, presets, n, seed, sampling, corpus_line_set):
    """One row per form and preset: metrics of n poems generated with the preset's constraints."""
    from poemnet.generation.generate import Constraints, generate_detailed, poem_rules

    rows = []
    for form in forms:
        for preset in presets:
            decoder = poem_rules(
                model.vocab,
                form,
                constraints=Constraints(**PRESETS[preset]),
                prosody=model.prosody,
                line_filter=model.line_filter,
            )
            started = time.perf_counter()
            poems = generate_detailed(model.step, model.zero_state, model.vocab, form, n, decoder, sampling, seed)
            seconds = time.perf_counter() - started
            texts = [p["text"] for p in poems]
            rows.append(
                {
                    "form": form.name,
                    "preset": preset,
                    **metrics(texts, form, corpus_line_set, model.script),
                    "relaxed_share": sum(bool(p.get("relaxed")) for p in poems) / n,
                    "poems_per_s": n / seconds,
                }
            )
    return rows


def reference_rows(forms, poems, val_fraction, script, limit):
    """The validation split's human poems, measured the same way (copy rate against the train split)."""
    train, val = corpus.split(poems, val_fraction)
    train_lines = set(corpus_lines(p.text for p in train))
    rows = []
    for form in forms:
        texts = [p.text for p in val if p.form == form.name][:limit]
        if texts:
            rows.append(
                {"form": form.name, "preset": "human (validation)", **metrics(texts, form, train_lines, script)}
            )
    return rows


def validation_perplexity(artifact_dir):
    """Per-form validation loss and perplexity of a training artifact, with torch (imported here only)."""
    import math

    from poemnet.training import artifact
    from poemnet.training.batches import load_data, loss_sums

    trained = artifact.read(artifact_dir)
    sums = loss_sums(trained.model, load_data(trained.cfg.data).val, "cpu")
    return {
        form: {"val_loss": total / count, "val_ppl": math.exp(total / count)}
        for form in FORMS
        if form in sums
        for total, count in [sums[form]]
    }


COLUMNS = [
    ("form", "form", "{}"),
    ("preset", "decoding", "{}"),
    ("format_valid", "format", "{:.1%}"),
    ("rhyme_rate", "rhyme", "{:.1%}"),
    ("template_rate", "tones", "{:.1%}"),
    ("distinct_1", "distinct-1", "{:.3f}"),
    ("distinct_2", "distinct-2", "{:.3f}"),
    ("repeats_per_poem", "repeats/poem", "{:.2f}"),
    ("copy_rate", "copied lines", "{:.1%}"),
    ("relaxed_share", "relaxed", "{:.1%}"),
    ("poems_per_s", "poems/s", "{:.0f}"),
]


def table(rows):
    lines = ["| " + " | ".join(title for _, title, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        lines.append("| " + " | ".join(fmt.format(row[key]) if key in row else "—" for key, _, fmt in COLUMNS) + " |")
    return "\n".join(lines)


def parse_args(argv, prog):
    from poemnet.common.errors import ArgumentParser
    from poemnet.generation.model_choice import SHIPPED

    parser = ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model", default=SHIPPED, help=f"ONNX file from export.py (default: {SHIPPED}, the shipped model)"
    )
    parser.add_argument(
        "--artifact", help="its training artifact (final/), for the validation perplexity (needs torch)"
    )
    parser.add_argument("--n", type=int, default=200, help="poems per form and preset (one batch)")
    parser.add_argument("--presets", nargs="+", default=["plain", "all"], choices=list(PRESETS))
    parser.add_argument("--forms", nargs="+", help="forms to evaluate (default: every form of the model)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--corpus",
        metavar="embedded|PATH",
        help="the corpus for copied lines and the human row (default: the model's training corpus if that "
        "file is here, else the embedded 五绝 corpus)",
    )
    parser.add_argument(
        "--reference", type=int, default=1000, help="human poems per form in the reference row (0 = none)"
    )
    parser.add_argument("--out", help="JSON file (default: NAME.eval.json beside the model; for the shipped one, here)")
    args = parser.parse_args(argv)
    if not 1 <= args.n <= 4096:
        raise UserError(f"--n {args.n} must be between 1 and 4096")
    if args.artifact and importlib.util.find_spec("torch") is None:  # before the poems are written
        raise UserError("--artifact (the validation perplexity) needs PyTorch: pip install 'poemnet[train]'")
    return args


def reference_corpus(name, training):
    """(corpus name, poems): --corpus, else the model's training corpus where that file is, else the
    embedded one (said on stderr). The held-out share is the model's: the split is by each text's
    hash, so the human row of any corpus holds only poems the model did not train on."""
    trained_on = training.get("corpus")
    if name is None and trained_on not in (None, corpus.EMBEDDED) and not corpus.resolve(trained_on).is_file():
        note(f"note: {trained_on}, the model's training corpus, is not here: measuring against the embedded corpus")
        name = corpus.EMBEDDED
    name = name or trained_on or corpus.EMBEDDED
    return name, corpus.load(name)


def main(argv=None, prog="python -m poemnet.evaluate"):
    utf8_streams()
    args = parse_args(argv, prog)
    from poemnet.generation.model_choice import is_shipped, model_file
    from poemnet.generation.runtime import PoemModel

    path = model_file(args.model)
    model = PoemModel(path)
    known = {f.name: f for f in model.forms}
    unknown = [f for f in args.forms or [] if f not in known]
    if unknown:
        raise UserError(f"--forms {unknown[0]} is not a form of this model: choose from {', '.join(known)}")
    forms = [known[f] for f in args.forms] if args.forms else model.forms
    training = json.loads(model.props.get("training", "{}"))
    corpus_name, all_poems = reference_corpus(args.corpus, training)
    rows = generated_rows(
        model,
        forms,
        args.presets,
        args.n,
        args.seed,
        Sampling(temperature=0.8, top_p=0.9),
        set(corpus_lines(p.text for p in all_poems)),
    )
    if args.reference:
        rows += reference_rows(forms, all_poems, training.get("val_fraction", 0.05), model.script, args.reference)
    result = {
        "model": str(path),
        "corpus": str(corpus_name),
        "n": args.n,
        "seed": args.seed,
        "sampling": "temperature 0.8, top-p 0.9",
        "rows": rows,
    }
    if args.artifact:
        result["validation"] = validation_perplexity(args.artifact)
    default_out = Path(path.with_suffix(".eval.json").name if is_shipped(path) else path.with_suffix(".eval.json"))
    out = Path(args.out) if args.out else default_out
    write_text_atomic(out, json.dumps(result, ensure_ascii=False, indent=1))
    lines = [table(rows)]
    lines += [
        f"validation {form}: loss {v['val_loss']:.3f}, perplexity {v['val_ppl']:.1f}"
        for form, v in result.get("validation", {}).items()
    ]
    emit("\n".join([*lines, f"wrote {out}"]))


if __name__ == "__main__":
    run_cli(main)
