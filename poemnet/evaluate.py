"""How regulated the poems are: generate N poems per form and measure them, beside held-out human poems.

    python -m poemnet.evaluate --model runs/base/poemnet.onnx [--n 200] [--presets plain all]
    python -m poemnet.evaluate --model M.onnx --artifact runs/base/final   # adds validation perplexity (torch)

Metrics, per form and preset: format validity, rhyme rate, template conformance, distinct-1/2,
repeated characters per poem, copy rate (lines found verbatim in the corpus), poems per second,
and the share of poems whose constraints had to be relaxed. The reference row measures the
validation split's human poems (their copy rate counts lines found in the training split).
Prints a markdown table and writes JSON (default: beside the model, NAME.eval.json).
"""

import json
import time
from pathlib import Path

from poemnet.common import corpus, prosody
from poemnet.common.atomic import write_text_atomic
from poemnet.common.errors import UserError, run_cli
from poemnet.common.forms import FORMS
from poemnet.generation.line_filter import corpus_lines
from poemnet.generation.sampling import Sampling

PRESETS = {
    "plain": {},
    "rhyme": {"rhyme": True},
    "tones": {"tones": True},
    "rhyme+tones": {"rhyme": True, "tones": True},
    "all": {"rhyme": True, "tones": True, "no_repeat": True, "novel": True},
}


def rhymes(text, form, script="simplified"):
    """Even lines (and line 1 when it ends in a 平-only character) end in characters that share
    a 平 group of the 平水韵."""
    ends = [line[-2] for line in form.lines(text)]
    positions = [i for i in range(form.num_lines) if i % 2 == 1]
    if prosody.char_info(ends[0], script)[0] == prosody.PING:
        positions.insert(0, 0)
    shared = None
    for i in positions:
        tone, groups = prosody.char_info(ends[i], script)
        if tone not in (prosody.PING, prosody.EITHER) or not groups:
            return False
        shared = set(groups) if shared is None else shared & set(groups)
    return bool(shared)


def matching_templates(text, form, script="simplified"):
    """Names of the form's templates that the poem's 平仄 follows (unknown characters fit only 中)."""
    chars = _chars(text, form)
    tones = [prosody.char_info(ch, script)[0] for ch in chars]
    names = []
    for template in prosody.templates(form):
        pattern = "".join(template["lines"])
        if all(
            p == "中" or t == prosody.EITHER or (p == "平") == (t == prosody.PING) and t != prosody.UNKNOWN
            for p, t in zip(pattern, tones)
        ):
            names.append(template["name"])
    return names


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


def main(argv=None):
    from poemnet.common.errors import ArgumentParser

    parser = ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="ONNX file from export.py")
    parser.add_argument(
        "--artifact", help="its training artifact (final/), for the validation perplexity (needs torch)"
    )
    parser.add_argument("--n", type=int, default=200, help="poems per form and preset (one batch)")
    parser.add_argument("--presets", nargs="+", default=["plain", "all"], choices=list(PRESETS))
    parser.add_argument("--forms", nargs="+", help="forms to evaluate (default: every form of the model)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--reference", type=int, default=1000, help="human poems per form in the reference row (0 = none)"
    )
    parser.add_argument("--out", help="JSON file (default: beside the model, NAME.eval.json)")
    args = parser.parse_args(argv)
    if not 1 <= args.n <= 4096:
        raise UserError(f"--n {args.n} must be between 1 and 4096")
    from poemnet.generation.runtime import PoemModel

    model = PoemModel(args.model)
    known = {f.name: f for f in model.forms}
    unknown = [f for f in args.forms or [] if f not in known]
    if unknown:
        raise UserError(f"--forms {unknown[0]} is not a form of this model: choose from {', '.join(known)}")
    forms = [known[f] for f in args.forms] if args.forms else model.forms
    training = json.loads(model.props.get("training", "{}"))
    all_poems = corpus.load(training.get("corpus"))
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
        "model": str(args.model),
        "n": args.n,
        "seed": args.seed,
        "sampling": "temperature 0.8, top-p 0.9",
        "rows": rows,
    }
    if args.artifact:
        result["validation"] = validation_perplexity(args.artifact)
    out = Path(args.out) if args.out else Path(args.model).with_suffix(".eval.json")
    write_text_atomic(out, json.dumps(result, ensure_ascii=False, indent=1))
    print(table(rows))
    for form, v in result.get("validation", {}).items():
        print(f"validation {form}: loss {v['val_loss']:.3f}, perplexity {v['val_ppl']:.1f}")
    print(f"wrote {out}")


if __name__ == "__main__":
    run_cli(main)
