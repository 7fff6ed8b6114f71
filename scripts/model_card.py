"""Write models/MODEL_CARD.md for a release model, and copy the model into the package (poemnet/models/).

    python scripts/model_card.py --run-dir runs/release --model runs/release/poemnet-release-int8.onnx

Runs the evaluation (python -m poemnet.evaluate, with the artifact for the validation perplexity)
and ten sample generations through infer.py, so every number on the card comes from a command.
"""

import argparse
import datetime
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from a clone: the clone's poemnet

from poemnet.common.forms import FORMS  # noqa: E402

MODELS = ROOT / "models"
SAMPLES = [  # 诗 with titles and without, a theme, and 词 (whose only titles in the corpus are 词牌 names)
    ["--form", "五绝", "--title", "春夜"],
    ["--form", "五绝", "--rhyme", "--tones"],
    ["--form", "七绝", "--title", "送友人", "--rhyme", "--tones"],
    ["--form", "七绝", "--acrostic", "春夏秋冬", "--rhyme", "--tones"],
    ["--form", "五律", "--title", "山居秋夜", "--rhyme", "--tones", "--novel"],
    ["--form", "七律", "--title", "登楼", "--rhyme", "--tones", "--no-repeat", "--novel", "--parallel"],
    ["--form", "七律", "--first-line", "风急天高猿啸哀", "--keywords", "江", "--rhyme", "--tones"],
    ["--form", "浣溪沙", "--rhyme", "--tones"],
    ["--form", "菩萨蛮", "--rhyme", "--tones", "--no-repeat"],
    ["--form", "水调歌头", "--rhyme", "--tones"],
]
CIPAI = ["浣溪沙", "水调歌头", "鹧鸪天", "菩萨蛮", "满江红", "西江月", "临江仙", "念奴娇"]  # the most common 词牌


def run(*args):
    result = subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"error: {' '.join(map(str, args))} failed: {result.stderr.strip()[-300:]}")
    return result.stdout


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def training_minutes(run_dir):
    """From the run folder: its config.yaml is written at the start, final/ at the end."""
    start, end = (run_dir / "config.yaml").stat().st_mtime, (run_dir / "final" / "metrics.json").stat().st_mtime
    return (end - start) / 60


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run-dir", type=Path, default=ROOT / "runs" / "release")
    parser.add_argument("--model", type=Path, required=True, help="the int8 ONNX file to ship")
    parser.add_argument("--n", type=int, default=200, help="poems per form and preset for the evaluation")
    parser.add_argument("--hardware", default=f"{os.cpu_count()}-core {platform.machine()} CPU, no GPU")
    parser.add_argument("--presets", nargs="+", default=["plain", "rhyme+tones", "all", "all+parallel"])
    parser.add_argument("--titled", type=int, default=100, help="poems per form and preset for held-out titles")
    parser.add_argument(
        "--remake",
        action="store_true",
        help="the weights are the previous card's (re-quantized): keep its training sections and validation, "
        "evaluate and sample anew",
    )
    args = parser.parse_args()
    MODELS.mkdir(exist_ok=True)
    shipped = ROOT / "poemnet" / "models" / "poemnet-release-int8.onnx"  # package data: the wheel carries it
    if Path(args.model).resolve() != shipped.resolve():
        shutil.copyfile(args.model, shipped)
    eval_json = MODELS / "evaluation.json"
    previous_card = (MODELS / "MODEL_CARD.md").read_text(encoding="utf-8") if args.remake else None
    previous_validation = (
        json.loads(eval_json.read_text(encoding="utf-8")).get("validation") if eval_json.exists() else None
    )
    artifact = [] if args.remake else ["--artifact", args.run_dir / "final"]
    options = evaluation_options(shipped, args)
    table = run("-m", "poemnet.evaluate", "--model", shipped, *artifact, *options, "--out", eval_json)
    evaluation = json.loads(eval_json.read_text(encoding="utf-8"))
    if args.remake:
        evaluation["validation"] = previous_validation
        eval_json.write_text(json.dumps(evaluation, ensure_ascii=False, indent=1), encoding="utf-8")
        return write_remade_card(previous_card, shipped, table, args, options)
    final = json.loads((args.run_dir / "final" / "metrics.json").read_text(encoding="utf-8"))
    config = (args.run_dir / "final" / "config.yaml").read_text(encoding="utf-8")
    corpus_stats = json.loads(Path(str(ROOT / "data" / "poems.jsonl.gz") + ".stats.json").read_text(encoding="utf-8"))
    lines = [
        *header(shipped),
        "## How it was made",
        "",
        "```",
        "make release   # = the commands below",
        "npm pack chinese-poetry@2.0.1",
        "python -m poemnet.builders.corpus build --source chinese-poetry-2.0.1.tgz --out data/poems.jsonl.gz",
        "python train_dist.py --config configs/release.yaml --resume auto",
        "python export.py --artifact runs/release/final --out runs/release/poemnet-release.onnx --quantize int8",
        "python scripts/model_card.py --run-dir runs/release --model runs/release/poemnet-release-int8.onnx",
        "```",
        "",
        f"Corpus: chinese-poetry 2.0.1 (npm), {corpus_stats['poems']:,} regulated poems after the builder: "
        + ", ".join(f"{n:,} {f}" for f, n in corpus_stats["by_form"].items())
        + "; 2% held out for validation."
        + ci_corpus_line(yaml.safe_load(config)["data"].get("ci_corpus")),
        f"Training: {args.hardware}, bf16, {training_minutes(args.run_dir):.0f} minutes, {final['step']:,} optimizer steps, "
        f"vocabulary {final['vocab_size']:,}; the LSTM's compute dtypes: {final.get('precision')}.",
        "",
        "Config (`runs/release/final/config.yaml`):",
        "",
        "```yaml",
        config.strip(),
        "```",
        "",
        *validation_section(evaluation["validation"], previous_validation),
    ]
    lines += ["", *evaluation_section(table, args, options), *samples_section(shipped)]
    lines += [f"Card written {datetime.date.today().isoformat()} by scripts/model_card.py.", ""]
    (MODELS / "MODEL_CARD.md").write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {MODELS / 'MODEL_CARD.md'} and {shipped}")


def ci_corpus_line(ci_corpus):
    """How many 词 of how many 词牌 the run trained beside the 诗 (the supported 词牌 of its 词 corpus)."""
    if not ci_corpus:
        return ""
    from poemnet.common import corpus
    from poemnet.common.form_data import supported_cipai

    wanted = set(supported_cipai())
    poems = [p for p in corpus.load(corpus.resolve_ci(ci_corpus)) if p.form in wanted]
    return (
        f" Beside them {len(poems):,} 词 of {len({p.form for p in poems})} 词牌 ({ci_corpus}: chinese-poetry's 宋词 and "
        "五代词, the 词牌 with at least 10 poems in their most common layout), split the same way."
    )


def evaluation_options(shipped, args):
    """evaluate's options: the 诗 forms and the most common 词牌 the model knows, titled rows for a
    model that knows titles."""
    from poemnet.generation.runtime import PoemModel

    model = PoemModel(shipped)
    forms = [f.name for f in model.forms if f.kind == "诗" or f.name in CIPAI]
    titled = ["--titled", args.titled] if model.vocab.title_end_id is not None else []
    return ["--n", args.n, "--presets", *args.presets, "--forms", *forms, *titled]


def validation_section(validation, previous):
    """The validation table: each 诗 form and the 词 (all and the most common), beside the previous
    release's figures where it had them."""
    lines = [
        "## Validation perplexity",
        "",
        "On the validation split (2% of the poems, by a hash of their text: the previous release's split for the "
        "诗). *Given the title*: the same poems with their titles before them (poems without a title stay untitled).",
        "",
        "| form | targets | loss | perplexity | given the title | previous release | change, untitled / titled |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for form, v in validation.items():
        if not (form in FORMS or form == "词" or form in CIPAI):
            continue
        old = (previous or {}).get(form, {}).get("val_ppl")
        titled = v.get("val_ppl_titled")
        change = (
            "—" if not old else f"{v['val_ppl'] / old - 1:+.1%}" + (f" / {titled / old - 1:+.1%}" if titled else "")
        )
        cells = [form, f"{v.get('targets', 0):,}", f"{v['val_loss']:.3f}", f"{v['val_ppl']:.1f}"]
        cells += [f"{titled:.1f}" if titled else "—", f"{old:.1f}" if old else "—", change]
        lines.append("| " + " | ".join(cells) + " |")
    return [
        *lines,
        "",
        "词: every supported 词牌 together. The corpus titles a 词 with its 词牌 or another name of it (凤栖梧 "
        "for 蝶恋花), so a 词's title says little. "
        "The previous release had a smaller vocabulary (no titles, no 词), so its rarer characters were <unk> "
        "more often: the comparison is close, not exact.",
        "",
    ]


def header(shipped):
    return [
        "# PoemNet release model",
        "",
        f"`poemnet/models/{shipped.name}`: {shipped.stat().st_size / 1e6:.1f} MB, int8 weights (LSTM, output layer "
        "and embedding), activations quantized row by row so that a poem does not depend on its batch.",
        f"sha256: {sha256(shipped)}",
        "",
    ]


def write_remade_card(previous, shipped, table, args, options):
    """The previous card's training sections (same weights), with the new file, evaluation and poems."""
    start, end = previous.index("## How it was made"), previous.index("## Evaluation")
    training = previous[start:end].rstrip()
    training += (
        "\n\nThe file was re-made from these weights' own int8 values with activations quantized per row "
        "(`python scripts/requantize_release.py`, then `python scripts/model_card.py --remake --model "
        f"poemnet/models/{shipped.name}`): the validation figures above are the training run's."
    )
    lines = [
        *header(shipped),
        training,
        "",
        *evaluation_section(table, args, options, artifact=False),
        *samples_section(shipped),
        f"Card written {datetime.date.today().isoformat()} by scripts/model_card.py.",
        "",
    ]
    (MODELS / "MODEL_CARD.md").write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {MODELS / 'MODEL_CARD.md'}")


def evaluation_section(table, args, options, artifact=True):
    command = "python -m poemnet.evaluate --model poemnet/models/poemnet-release-int8.onnx"
    command += " --artifact runs/release/final" if artifact else ""
    kept = [line for line in table.splitlines() if not line.startswith(("validation ", "wrote "))]
    topicality = [f"- {line}" for line in kept if line.startswith("topicality ")]
    tables = [line for line in kept if not line.startswith("topicality ")]
    return [
        f"## Evaluation ({args.n} poems per form and decoding, seed 0, temperature 0.8, top-p 0.9)",
        "",
        f"`{command} {' '.join(map(str, options))}`; `all` = rhyme + tones + no-repeat + novel, `all+parallel` adds 对仗 (律诗 only); "
        "`+ title`: poem i written for the title of held-out poem i, one request each. "
        "The human row measures held-out validation poems (copy rate against the training split). "
        "The second table is the 词, by 词牌.",
        "",
        "\n".join(tables).strip(),
        "",
        *(
            [
                "Topicality (common/topicality.py: how much closer a poem is to its title's human poem than to "
                "others; written for the held-out titles, against untitled poems with the same seeds):",
                "",
                *topicality,
                "",
            ]
            if topicality
            else []
        ),
    ]


def samples_section(shipped):
    lines = ["## Ten poems", ""]
    for seed, options in enumerate(SAMPLES, 1):
        poem = json.loads(run("infer.py", "--model", shipped, "--seed", seed, "--json", *options))["poems"][0]
        extra = [f"template {poem['template']}"] if poem.get("template") else []
        extra += [f"rhyme {poem['rhyme_group']}"] if poem.get("rhyme_group") else []
        lines += [
            f"`python infer.py {' '.join(options)} --seed {seed}`" + (f" ({', '.join(extra)})" if extra else ""),
            "",
            "> " + "<br>".join(poem["lines"]),
            "",
        ]
    return lines


if __name__ == "__main__":
    main()
