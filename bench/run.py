"""`make bench`: generation, cold start and training speed, each beside its floor measured in the same run.

    python bench/run.py [--model-dir runs/release] [--train-steps 40] [--train-pairs 3] [--skip-training]

Generation: onnxruntime fp32 and int8 and the torch reference decoder, one poem (B=1) and a batch
of 64, plain and with every rule on (which looks ahead at each line's next-to-last character), and
what the lookahead and the 对仗 bias cost: every rule without the lookahead, and a 七律 with every
rule, without the lookahead and with --parallel; and a 水调歌头 (词) plain and with every rule,
for a model that knows 词; the floor is the onnxruntime step alone x the
steps the form takes, so overhead = generation time / floor. Cold start: `python infer.py --start 月` as a whole
process against `python -c "import onnxruntime, numpy"`. Training: train_dist.py against a bare
PyTorch loop (bench/bare_loop.py: same model, batch, AdamW and clipping), fp32 and bf16, run
alternately and compared by their medians, and one
against two CPU processes at the same global batch. Prints a markdown table, writes JSON under
bench/results/.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import poemnet.generation.generate  # noqa: E402
import poemnet.generation.lookahead  # noqa: E402
import poemnet.generation.scoring  # noqa: E402
from poemnet.common.form_data import form_named  # noqa: E402
from poemnet.common.forms import FORMS  # noqa: E402
from poemnet.generation.generate import Constraints, generate_detailed, model_rules, poem_rules  # noqa: E402
from poemnet.generation.runtime import PoemModel  # noqa: E402
from poemnet.generation.sampling import Sampling  # noqa: E402

FORM = FORMS["五绝"]
ALL_RULES = Constraints(rhyme=True, tones=True, no_repeat=True, novel=True)
BLIND = Constraints(rhyme=True, tones=True, no_repeat=True, novel=True, lookahead=False)
PARALLEL = Constraints(rhyme=True, tones=True, no_repeat=True, novel=True, parallel=True)
# (form, rules, constraints): the rows of each decoder and batch size
SETTINGS = (
    (FORM, "plain", Constraints()),
    (FORM, "every rule", ALL_RULES),
    (FORM, "every rule, no lookahead", BLIND),
    (FORMS["七律"], "every rule", ALL_RULES),
    (FORMS["七律"], "every rule, no lookahead", BLIND),
    (FORMS["七律"], "every rule + 对仗", PARALLEL),
    (form_named("水调歌头"), "plain", Constraints()),  # a long 词牌 (95 characters), for a model that knows 词
    (form_named("水调歌头"), "every rule", ALL_RULES),
)


def steps(form):
    return form.length + 1  # <bos>, the form token, then every position but the last


def median_ms(fn, repeats):
    fn(10_000)  # warm-up, with a seed the timed runs do not use
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def model_files(model_dir):
    """(fp32 .onnx, int8 .onnx) of an export.py folder."""
    return sorted(model_dir.glob("*.onnx"), key=lambda p: "int8" in p.name)[:2]


def generation_rows(model_dir, repeats):
    rows = []
    fp32, int8 = model_files(model_dir)
    for label, path in (("onnxruntime fp32", fp32), ("onnxruntime int8", int8)):
        model = PoemModel(path)
        for batch in (1, 64):
            h, c = model.zero_state(batch)
            tokens = np.full(batch, model.vocab.form_id(FORM.name), np.int64)
            step = median_ms(lambda i: model.step(tokens, h, c), repeats * 5)
            for form, rules, constraints in SETTINGS:
                if form.name not in {f.name for f in model.forms}:
                    continue
                decoder = model_rules(model, form, constraints)
                ms = median_ms(
                    lambda i: generate_detailed(
                        model.step, model.zero_state, model.vocab, form, batch, decoder, Sampling(0.8, 0, 0.9), i
                    ),
                    repeats if batch == 1 else max(3, repeats // 4),
                )
                rows.append(
                    {
                        "decoder": label,
                        "batch": batch,
                        "form": form.name,
                        "rules": rules,
                        "ms": ms,
                        "step_ms": step,
                        "floor_ms": step * steps(form),
                        "overhead": ms / (step * steps(form)),
                        "poems_per_s": batch * 1000 / ms,
                        "where_ms": where_the_time_goes(model, batch, form, decoder, repeats if batch == 1 else 3),
                    }
                )
    rows += torch_rows(model_dir, repeats)
    return rows


def where_the_time_goes(model, batch, form, decoder, repeats):
    """ms per batch inside the model step (the lookahead's included), the rules (masks, the
    lookahead's included) and the sampler, timed around the functions that generate_detailed and
    the lookahead call; the rest is the loop itself (scoring, the bias, the lookahead's sums)."""
    spent = {"model": 0.0, "rules": 0.0, "sampling": 0.0}

    def timed(fn, part):
        def wrapper(*args):
            started = time.perf_counter()
            result = fn(*args)
            spent[part] += time.perf_counter() - started
            return result

        return wrapper

    modules = {
        ("generate", "allowed_tokens"): "rules",
        ("lookahead", "allowed_tokens"): "rules",
        ("scoring", "mask_logits"): "rules",
        ("generate", "sample"): "sampling",
    }
    originals = {key: getattr(getattr(poemnet.generation, key[0]), key[1]) for key in modules}
    try:
        for (module, name), fn in originals.items():
            setattr(getattr(poemnet.generation, module), name, timed(fn, modules[module, name]))
        started = time.perf_counter()
        for seed in range(repeats):
            generate_detailed(
                timed(model.step, "model"),
                model.zero_state,
                model.vocab,
                form,
                batch,
                decoder,
                Sampling(0.8, 0, 0.9),
                seed,
            )
        total = time.perf_counter() - started
    finally:
        for (module, name), fn in originals.items():
            setattr(getattr(poemnet.generation, module), name, fn)
    result = {part: seconds * 1000 / repeats for part, seconds in spent.items()}
    return {**result, "loop": total * 1000 / repeats - sum(result.values())}


def int8_agreement(model_dir, max_poems=200):
    """Share of validation positions where int8 and fp32 pick the same likeliest token (teacher forcing)."""
    from poemnet.generation.runtime import top1_agreement
    from poemnet.training.batches import load_data
    from poemnet.training.config import load_config

    fp32, int8 = (PoemModel(p) for p in model_files(model_dir))
    val = load_data(load_config(model_dir / "final" / "config.yaml").data).val
    counts = [top1_agreement(fp32, int8, tokens[:max_poems].numpy()) for tokens in val.values()]
    return sum(a for a, _ in counts) / sum(t for _, t in counts)


def torch_rows(model_dir, repeats):
    from poemnet.training import artifact
    from poemnet.training.model import numpy_step_fn

    trained = artifact.read(model_dir / "final")
    model, vocab = trained.model, trained.vocab
    step_fn, zero_state = numpy_step_fn(model)
    rows = []
    for batch in (1, 64):
        decoder = poem_rules(vocab, FORM, constraints=Constraints())
        ms = median_ms(
            lambda i: generate_detailed(step_fn, zero_state, vocab, FORM, batch, decoder, Sampling(0.8, 0, 0.9), i),
            max(3, repeats // 4),
        )
        rows.append(
            {
                "decoder": "torch eager",
                "batch": batch,
                "form": FORM.name,
                "rules": "plain",
                "ms": ms,
                "poems_per_s": batch * 1000 / ms,
            }
        )
    return rows


def cold_start(model, repeats=9):
    """Whole-process wall time of infer.py and of the bare imports, run alternately: medians. Both
    run as Python runs by default, caching bytecode (numpy's and onnxruntime's was compiled when
    they were installed; a PYTHONDONTWRITEBYTECODE environment would recompile ours every run)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    floor_cmd = [sys.executable, "-c", "import onnxruntime, numpy"]
    infer_cmd = [sys.executable, "infer.py", "--model", str(model), "--start", "月", "--seed", "1"]
    times = {"floor": [], "infer": []}
    for _ in range(repeats):
        for name, cmd in (("floor", floor_cmd), ("infer", infer_cmd)):
            started = time.perf_counter()
            subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, env=env)
            times[name].append(time.perf_counter() - started)
    floor, full = statistics.median(times["floor"]), statistics.median(times["infer"])
    return {"infer_s": full, "import_floor_s": floor, "difference_s": full - floor}


def train_rate(cmd, out):
    """Tokens/s after the warm-up steps: the bare loop prints it; for train_dist.py, between its
    first and last log records (log_every = the warm-up)."""
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    if result.returncode != 0:
        raise SystemExit(f"error: {' '.join(cmd)} failed: {result.stderr.strip()[-300:]}")
    if out is None:
        return json.loads(result.stdout.strip().splitlines()[-1])["tokens_per_s"]
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    logged = [r for r in records if "elapsed_s" in r]
    first, last = logged[0], logged[-1]
    return (last["tokens"] - first["tokens"]) / (last["elapsed_s"] - first["elapsed_s"])


def bare_loop_command(config, steps, precision, warmup, *extra):
    return [
        sys.executable,
        "bench/bare_loop.py",
        "--config",
        config,
        "--steps",
        str(steps),
        "--precision",
        precision,
        "--warmup-steps",
        str(warmup),
        *extra,
    ]


def training_rows(steps, config, pairs, warmup=10):
    """train_dist.py against the bare loop after `warmup` steps, run alternately `pairs` times: the
    median of each, since a shared machine moves single runs by several percent."""
    rows = []
    common = [
        "--set",
        f"train.max_steps={steps}",
        "--set",
        f"train.log_every={warmup}",
        "--set",
        "train.eval_every=100000",
        "--set",
        "train.num_samples=0",
        "--set",
        "output.tensorboard=false",
        "--set",
        "data.title_share=0",  # the bare loop reads untitled rows: compare like with like
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for precision in ("no", "bf16"):
            ours, bare = [], []
            for i in range(pairs):
                out = Path(tmp) / f"{precision}-{i}"
                ours.append(
                    train_rate(
                        [
                            sys.executable,
                            "train_dist.py",
                            "--config",
                            config,
                            *common,
                            "--set",
                            f"train.mixed_precision={precision}",
                            "--set",
                            f"output.dir={out}",
                        ],
                        out,
                    )
                )
                bare.append(train_rate(bare_loop_command(config, steps, precision, warmup), None))
            ours, bare = statistics.median(ours), statistics.median(bare)
            rows.append(
                {
                    "what": f"train_dist.py / bare loop, {precision}, separate processes",
                    "ours": ours,
                    "bare": bare,
                    "ratio": ours / bare,
                }
            )
            result = subprocess.run(
                bare_loop_command(config, steps, precision, warmup, "--interleaved"),
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
            step = json.loads(result.stdout.strip().splitlines()[-1])
            rows.append(
                {
                    "what": f"Trainer.train_step / bare step, {precision}, alternating in one process (s per step)",
                    "ours": step["train_step_s"],
                    "bare": step["bare_step_s"],
                    "ratio": step["ratio"],
                }
            )
        two = Path(tmp) / "two"
        os.environ["ACCELERATE_USE_CPU"] = "true"  # two gloo ranks on a machine without GPUs
        two_rate = train_rate(
            [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--standalone",
                "--nproc_per_node",
                "2",
                "train_dist.py",
                "--config",
                config,
                *common,
                "--set",
                "train.mixed_precision=no",
                "--set",
                "train.batch_size=32",
                "--set",
                f"output.dir={two}",
            ],
            two,
        )
        rows.append(
            {
                "what": "2 CPU processes / 1 process, same global batch, fp32",
                "ours": two_rate,
                "bare": rows[0]["ours"],
                "ratio": two_rate / rows[0]["ours"],
            }
        )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=ROOT / "runs" / "release",
        help="an export.py folder: NAME.onnx, NAME-int8.onnx and final/",
    )
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--train-steps", type=int, default=40, help="steps per training run, the first 10 not timed")
    parser.add_argument("--train-pairs", type=int, default=3, help="alternate runs of train_dist.py and the bare loop")
    parser.add_argument("--train-config", default="configs/base.yaml")
    parser.add_argument("--skip-training", action="store_true")
    args = parser.parse_args()
    if len(list(args.model_dir.glob("*.onnx"))) < 2 or not (args.model_dir / "final").is_dir():
        raise SystemExit(
            f"error: {args.model_dir} needs an fp32 and an int8 .onnx and final/: run make release or make demo "
            "(then --model-dir runs/base)"
        )
    import onnxruntime
    import torch

    result = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} CPU cores, {platform.machine()}, {platform.platform()}",
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "onnxruntime": onnxruntime.__version__,
            "torch": torch.__version__,
        },
        "threads": {"onnxruntime intra-op": min(4, os.cpu_count() or 1), "torch": torch.get_num_threads()},
    }
    result["generation"] = generation_rows(args.model_dir, args.repeats)
    result["int8_top1_agreement"] = int8_agreement(args.model_dir)
    result["cold_start"] = cold_start(sorted(args.model_dir.glob("*int8.onnx"))[0])
    if not args.skip_training:
        result["training"] = training_rows(args.train_steps, args.train_config, args.train_pairs)
    out = ROOT / "bench" / "results" / f"{datetime.date.today().isoformat()}-{platform.node() or 'machine'}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False))
    print_tables(result)
    print(f"\nwrote {out}")


def print_tables(result):
    print(
        f"`{result['command']}` on {result['machine']}; " + ", ".join(f"{k} {v}" for k, v in result["versions"].items())
    )
    print("\n| decoder | batch | form | rules | ms per batch | poems/s | step floor ms | overhead (time / floor) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in result["generation"]:
        floor = f"{r['floor_ms']:.1f}" if "floor_ms" in r else "—"
        overhead = f"{r['overhead']:.2f}x" if "overhead" in r else "—"
        print(
            f"| {r['decoder']} | {r['batch']} | {r['form']} | {r['rules']} | {r['ms']:.1f} | {r['poems_per_s']:.0f} "
            f"| {floor} | {overhead} |"
        )
    print(
        "\nWhere a batch's time goes (ms; timed around the calls, so the parts add up to a little more than the batch):"
    )
    print(
        "\n| decoder | batch | form | rules | model steps | rules (masks) | sampler | loop |\n|---|---|---|---|---|---|---|---|"
    )
    for r in result["generation"]:
        if "where_ms" in r:
            w = r["where_ms"]
            print(
                f"| {r['decoder']} | {r['batch']} | {r['form']} | {r['rules']} | {w['model']:.1f} | {w['rules']:.1f} "
                f"| {w['sampling']:.1f} | {w['loop']:.1f} |"
            )
    speed = {(r["decoder"], r["batch"], r["form"], r["rules"]): r["poems_per_s"] for r in result["generation"]}
    for batch in (1, 64):
        ratio = (
            speed[("onnxruntime int8", batch, FORM.name, "plain")]
            / speed[("onnxruntime fp32", batch, FORM.name, "plain")]
        )
        print(f"\nint8 / fp32 poems/s at batch {batch}, plain: {ratio:.2f}")
    print("\nWhat the lookahead and the 对仗 bias cost (time per poem, int8; over every rule without the lookahead):")
    for batch, form in ((1, FORM.name), (64, FORM.name), (1, "七律"), (64, "七律")):
        blind = speed.get(("onnxruntime int8", batch, form, "every rule, no lookahead"))
        for rules in ("every rule", "every rule + 对仗"):
            if blind and (key := ("onnxruntime int8", batch, form, rules)) in speed:
                print(f"- {form}, batch {batch}, {rules}: {blind / speed[key]:.2f}x")
    print(f"\nint8 vs fp32, same likeliest token on validation text: {result['int8_top1_agreement']:.4f}")
    c = result["cold_start"]
    print(
        f"\ncold start: `python infer.py --start 月` {c['infer_s']:.2f} s; `import onnxruntime, numpy` {c['import_floor_s']:.2f} s; "
        f"difference {c['difference_s']:.2f} s"
    )
    if "training" in result:
        print("\n| training | ours | baseline | ratio (speed) |\n|---|---|---|---|")
        for r in result["training"]:
            value = (lambda x: f"{x:.3f}") if "per step" in r["what"] else (lambda x: f"{x:,.0f}")
            print(f"| {r['what']} | {value(r['ours'])} | {value(r['bare'])} | {r['ratio']:.3f} |")


if __name__ == "__main__":
    main()
