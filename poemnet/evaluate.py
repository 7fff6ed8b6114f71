"""How regulated the poems are: generate N poems per form and measure them, beside held-out human poems.

    poemnet evaluate --n 20                   # the shipped model (python -m poemnet.evaluate is the same)
    poemnet evaluate --model runs/base/poemnet.onnx [--n 200] [--presets plain all] [--corpus embedded]
    poemnet evaluate --model M.onnx --artifact runs/base/final   # adds validation perplexity (torch)

Metrics, per form and preset: format validity, rhyme rate, template conformance, 重韵 (the share
of rhyming poems that end two rhyming lines in one character), ambiguous ends (the share of poems
where a line that must not rhyme ends in a character with a 平 reading), natural line ends (the
share of lines whose last two characters end at least two lines of the training split: all lines,
and the lines that always rhyme), 对仗 (律诗: the share of matching positions in the middle couplets
whose characters pair as human middle couplets pair them, and the same in the outer couplets,
which need not pair: the baseline), distinct-1/2, repeated characters per poem, copy rate (lines
found verbatim in the corpus), poems per second, and the share of poems whose constraints had to
be relaxed. The reference row measures the validation split's human poems (their copy rate counts
lines found in the training split); the tables of natural ends and 对仗 pairs come from the
training split of the corpus at hand (the embedded one has no 律诗: no 对仗 then).
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
from poemnet.common.couplets import LU_FORMS, MIDDLE, OUTER, PairTable, mean_score
from poemnet.common.errors import UserError, run_cli
from poemnet.common.forms import FORMS
from poemnet.common.naturalness import LineEnds
from poemnet.generation import request
from poemnet.generation.line_filter import corpus_lines
from poemnet.generation.output import emit, note, utf8_streams
from poemnet.generation.sampling import Sampling
from poemnet.generation.topic_check import held_out_titles, topicality_rows
from poemnet.generation.verse_check import ambiguous_end, matching_templates, repeats_rhyme, rhymes

PRESETS = {
    "plain": {},
    "rhyme": {"rhyme": True},
    "tones": {"tones": True},
    "rhyme+tones": {"rhyme": True, "tones": True},
    "all": {"rhyme": True, "tones": True, "no_repeat": True, "novel": True},
    "all+parallel": {"rhyme": True, "tones": True, "no_repeat": True, "novel": True, "parallel": True},
    "all-no-lookahead": {"rhyme": True, "tones": True, "no_repeat": True, "novel": True, "lookahead": False},
}
LU_ONLY = {"all+parallel"}  # presets of the 律诗 alone (a 绝句 has no middle couplets)


class Tables:
    """What the verse measures read from the training split: natural line ends and 对仗 pairs."""

    def __init__(self, train_texts):
        train_texts = list(train_texts)
        self.ends = LineEnds.from_poems(train_texts)
        pairs = PairTable.from_poems(train_texts)
        self.pairs = pairs if pairs.partners else None  # a corpus without 律诗 says nothing of 对仗


def metrics(texts, form, corpus_line_set, script="simplified", tables=None):
    """The measures of a list of poems of one form (see the module docstring); the verse measures
    where `tables` (Tables) is given."""
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
        **(verse_metrics(valid, form, script, tables) if tables is not None else {}),
    }


def verse_metrics(valid, form, script, tables):
    """重韵, ambiguous ends, natural line ends and 对仗 of well-formed poems of a 诗 form (None:
    nothing to measure)."""
    if getattr(form, "kind", "诗") != "诗":
        return {}
    rhymed = [t for t in valid if rhymes(t, form, script)]
    share = lambda hits, of: sum(hits) / len(of) if of else None  # noqa: E731
    result = {
        "repeated_rhyme": share((repeats_rhyme(t, form, script) for t in rhymed), rhymed),
        "ambiguous_ends": share((ambiguous_end(t, form, script) for t in valid), valid),
        "natural_ends": tables.ends.share(valid),
        "natural_rhyme_ends": tables.ends.share(valid, lines=set(range(1, form.num_lines, 2))),
    }
    if form.name in LU_FORMS and tables.pairs is not None:
        result["parallel_middle"] = mean_score(tables.pairs, valid, MIDDLE)
        result["parallel_outer"] = mean_score(tables.pairs, valid, OUTER)
    return result


def _chars(text, form):
    return "".join(line[:-1] for line in form.lines(text))


def generated_rows(model, forms, presets, n, seed, sampling, corpus_line_set, tables=None):
    """One row per form and preset: metrics of n poems generated with the preset's constraints
    (a 律诗 preset only for the 律诗)."""
    from poemnet.generation.generate import Constraints, generate_detailed, model_rules

    rows = []
    for form in forms:
        for preset in presets:
            if preset in LU_ONLY and form.name not in LU_FORMS:
                continue
            decoder = model_rules(model, form, Constraints(**PRESETS[preset]))
            started = time.perf_counter()
            poems = generate_detailed(model.step, model.zero_state, model.vocab, form, n, decoder, sampling, seed)
            rows.append(poems_row(form, preset, poems, time.perf_counter() - started, model, corpus_line_set, tables))
    return rows


def poems_row(form, preset, poems, seconds, model, corpus_line_set, tables):
    """The row of written poems (generate_detailed's dicts) of one form and preset."""
    return {
        "form": form.name,
        "preset": preset,
        **metrics([p["text"] for p in poems], form, corpus_line_set, model.script, tables),
        "relaxed_share": sum(bool(p.get("relaxed")) for p in poems) / len(poems),
        "poems_per_s": len(poems) / seconds,
    }


TITLED = " + title"  # the suffix of a preset's row written for held-out titles


def titled_rows(model, forms, presets, titles, seed, corpus_line_set, tables=None):
    """For a model trained with titles: one row per form and preset, poem i written for held-out
    title i of its form (titles: {form name: [titles]}), one request each, seed + i."""
    rows = []
    for form in forms:
        for preset in presets:
            wanted = titles.get(form.name, [])
            if (preset in LU_ONLY and form.name not in LU_FORMS) or "lookahead" in PRESETS[preset] or not wanted:
                continue
            options = {k: ("" if k == "rhyme" else v) for k, v in PRESETS[preset].items()}  # "": any group
            started, poems = time.perf_counter(), []
            for i, title in enumerate(wanted):
                ask = request.Request(form=form.name, seed=seed + i, title=title, **options)
                poems += request.write(model, request.prepare(model, ask))
            seconds = time.perf_counter() - started
            rows.append(poems_row(form, preset + TITLED, poems, seconds, model, corpus_line_set, tables))
    return rows


def reference_rows(forms, train, val, script, limit, tables=None):
    """The validation split's human poems, measured the same way (copy rate against the train split)."""
    train_lines = set(corpus_lines(p.text for p in train))
    rows = []
    for form in forms:
        texts = [p.text for p in val if p.form == form.name][:limit]
        if texts:
            measured = metrics(texts, form, train_lines, script, tables)
            rows.append({"form": form.name, "preset": "human (validation)", **measured})
    return rows


COLUMNS = [
    ("form", "form", "{}"),
    ("preset", "decoding", "{}"),
    ("format_valid", "format", "{:.1%}"),
    ("rhyme_rate", "rhyme", "{:.1%}"),
    ("template_rate", "tones", "{:.1%}"),
    ("distinct_1", "distinct-1", "{:.3f}"),
    ("distinct_2", "distinct-2", "{:.3f}"),
    ("repeats_per_poem", "repeats/poem", "{:.2f}"),
    ("repeated_rhyme", "重韵", "{:.1%}"),
    ("ambiguous_ends", "ambiguous ends", "{:.1%}"),
    ("natural_ends", "natural ends", "{:.1%}"),
    ("natural_rhyme_ends", "natural rhyme ends", "{:.1%}"),
    ("parallel_middle", "对仗 middle", "{:.3f}"),
    ("parallel_outer", "对仗 outer", "{:.3f}"),
    ("copy_rate", "copied lines", "{:.1%}"),
    ("relaxed_share", "relaxed", "{:.1%}"),
    ("poems_per_s", "poems/s", "{:.0f}"),
]


def table(rows, columns=None):
    columns = columns or COLUMNS
    lines = ["| " + " | ".join(title for _, title, _ in columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append(
            "| "
            + " | ".join(fmt.format(row[key]) if row.get(key) is not None else "—" for key, _, fmt in columns)
            + " |"
        )
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
    parser.add_argument("--presets", nargs="+", default=["plain", "all", "all+parallel"], choices=list(PRESETS))
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
    parser.add_argument(
        "--topicality",
        type=int,
        default=200,
        help="held-out titles per form for the topicality rows (0 = none; only for a model trained with titles)",
    )
    parser.add_argument(
        "--titled",
        type=int,
        default=0,
        help="also write this many poems per form and preset for held-out titles, one request each "
        "(0 = none; only for a model trained with titles)",
    )
    parser.add_argument("--out", help="JSON file (default: NAME.eval.json beside the model; for the shipped one, here)")
    args = parser.parse_args(argv)
    if not 1 <= args.n <= 4096:
        raise UserError(f"--n {args.n} must be between 1 and 4096")
    if args.artifact and importlib.util.find_spec("torch") is None:  # before the poems are written
        raise UserError("--artifact (the validation perplexity) needs PyTorch: pip install 'poemnet[train]'")
    return args


CI_COLUMNS = [
    ("form", "词牌", "{}"),
    ("preset", "decoding", "{}"),
    ("poems", "poems", "{}"),
    ("layout", "layout", "{:.1%}"),
    ("tones", "tones", "{:.1%}"),
    ("tones_exact", "all tones fit", "{:.1%}"),
    ("rhyme_rate", "rhyme", "{:.1%}"),
    ("repeated_end_rate", "重韵", "{:.1%}"),
    ("repeats_per_poem", "repeats/poem", "{:.2f}"),
    ("copy_rate", "copied lines", "{:.1%}"),
    ("relaxed_share", "relaxed", "{:.1%}"),
]


def ci_evaluation(model, ci_forms, args, training, val_fraction):
    """The 词 rows (generation/ci_check.py): the model's 词 per preset and the held-out human 词."""
    from poemnet.generation.ci_check import PRESETS as CI_PRESETS
    from poemnet.generation.ci_check import ci_rows

    ci_poems = corpus.load(corpus.resolve_ci(training.get("ci_corpus") or corpus.EMBEDDED))
    presets = [p for p in args.presets if p in CI_PRESETS] or ["plain", "all"]
    return ci_rows(
        model,
        ci_forms,
        args.n,
        args.seed,
        ci_poems,
        presets=presets,
        sampling=Sampling(temperature=0.8, top_p=0.9),
        val_fraction=val_fraction,
        limit=args.reference,
    )


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
    chosen = [known[f] for f in args.forms] if args.forms else model.forms
    forms, ci_forms = [f for f in chosen if f.kind == "诗"], [f for f in chosen if f.kind == "词"]
    training = json.loads(model.props.get("training", "{}"))
    corpus_name, all_poems = reference_corpus(args.corpus, training)
    val_fraction = training.get("val_fraction", 0.05)
    train, held_out = corpus.split(all_poems, val_fraction)
    tables = Tables(p.text for p in train)
    line_set = set(corpus_lines(p.text for p in all_poems))
    sampling = Sampling(temperature=0.8, top_p=0.9)
    rows = generated_rows(model, forms, args.presets, args.n, args.seed, sampling, line_set, tables)
    if args.titled and model.vocab.title_end_id is not None:
        titles = held_out_titles(model, forms, held_out, args.titled)
        rows += titled_rows(model, forms, args.presets, titles, args.seed, line_set, tables)
    if args.reference:
        rows += reference_rows(forms, train, held_out, model.script, args.reference, tables)
    result = {
        "model": str(path),
        "corpus": str(corpus_name),
        "n": args.n,
        "seed": args.seed,
        "sampling": "temperature 0.8, top-p 0.9",
        "rows": rows,
    }
    if ci_forms:
        result["ci_rows"] = ci_evaluation(model, ci_forms, args, training, val_fraction)
    if args.topicality and model.vocab.title_end_id is not None:
        train_texts = [p.text for p in train]
        result["topicality"] = topicality_rows(model, forms, held_out, args.topicality, train_texts)
    if args.artifact:
        from poemnet.training.validation import validation_perplexity  # torch: only with --artifact

        result["validation"] = validation_perplexity(args.artifact)
    default_out = Path(path.with_suffix(".eval.json").name if is_shipped(path) else path.with_suffix(".eval.json"))
    out = Path(args.out) if args.out else default_out
    write_text_atomic(out, json.dumps(result, ensure_ascii=False, indent=1))
    order = [f.name for f in forms]  # printed: each form's rows together, the human poems first
    lines = [table(sorted(rows, key=lambda row: (order.index(row["form"]), row["preset"] != "human (validation)")))]
    lines += [
        f"validation {form}: loss {v['val_loss']:.3f}, perplexity {v['val_ppl']:.1f}"
        + (f", given the title {v['val_ppl_titled']:.1f}" if "val_ppl_titled" in v else "")
        for form, v in result.get("validation", {}).items()
        # the 诗, the row of all 词 (the one name that is no form of the model) and the 词牌 asked for
        if form in FORMS or form not in known or form in {f.name for f in ci_forms}
    ]
    lines += [
        f"topicality {t['form']} ({t['poems']} held-out titles): titled {t['titled']:.3f} ± {t['titled_se']:.3f}, "
        f"untitled {t['untitled']:.3f} ± {t['untitled_se']:.3f} (± one standard error)"
        for t in result.get("topicality", [])
    ]
    if result.get("ci_rows"):
        lines += ["", table(result["ci_rows"], CI_COLUMNS)]
    emit("\n".join([*lines, f"wrote {out}"]))


if __name__ == "__main__":
    run_cli(main)
