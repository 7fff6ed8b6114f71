"""GPU check (not run by CI): what the CPU tests cannot show.

    python scripts/gpu_check.py [--checks speed resume dtypes] [--steps 150] [--batch-size 512] [--out runs/gpu_check]

speed   per precision, train the base model for --steps steps on one GPU: tokens/s, the compute
        dtypes the start-up probe saw, the loss reached.
resume  with dropout, --resume-steps steps in one go, again in one go, and half + --resume auto +
        half: the resumed weights must equal the uninterrupted ones exactly (every dropout mask
        comes from a per-poem seed, none from cuDNN's own dropout state). The two uninterrupted
        runs tell the GPU's own nondeterminism apart from a resume that is not exact.
dtypes  under bf16 and fp16 autocast, every LSTM layer and the output layer produce the dtype
        that poemnet/training/precision.py decided (the LSTM never fp16 when bf16 was asked for).

Writes <out>/gpu_check.json; exits 1 when a check fails, 2 with one `error:` line on bad input.
`--device cpu` runs resume and dtypes on the CPU (a smoke test of this script); speed needs a GPU.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from poemnet.common.errors import ArgumentParser, UserError, run_cli  # noqa: E402


def train_run(args, out, sets, extra=()):
    """train_dist.py with --set overrides; returns the CompletedProcess."""
    cmd = [sys.executable, str(ROOT / "train_dist.py"), "--config", args.config]
    for key, value in {"train.num_samples": 0, "output.tensorboard": "false", "output.dir": out, **sets}.items():
        cmd += ["--set", f"{key}={value}"]
    env = {**os.environ, **({"ACCELERATE_USE_CPU": "true"} if args.device == "cpu" else {})}
    return subprocess.run([*cmd, *extra], cwd=ROOT, capture_output=True, text=True, env=env)


def failure(result):
    return (result.stderr.strip().splitlines() or ["?"])[-1]


def speed(precision, args):
    out = Path(args.out) / "speed" / precision
    steps = args.steps
    sets = {
        "train.mixed_precision": precision,
        "train.max_steps": steps,
        "train.batch_size": args.batch_size,
        "train.log_every": max(1, steps // 3),
        "train.eval_every": steps,
        "train.ckpt_every": steps,
    }
    started = time.perf_counter()
    result = train_run(args, out, sets)
    if result.returncode != 0:
        return {"precision": precision, "error": failure(result)}
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    final = json.loads((out / "final" / "metrics.json").read_text())
    return {
        "precision": precision,
        "tokens_per_s": [r for r in records if "tokens_per_s" in r][-1]["tokens_per_s"],
        "train_loss": [r for r in records if "loss" in r][-1]["loss"],
        "val_loss": final["val_loss"],
        "dtypes": final["precision"],
        "seconds": round(time.perf_counter() - started, 1),
    }


def max_difference(a, b):
    from safetensors.torch import load_file

    a, b = load_file(a / "final" / "model.safetensors"), load_file(b / "final" / "model.safetensors")
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


def resume(args):
    """Straight, straight again, and stopped halfway + resumed: max |weight difference| of each pair."""
    root, steps = Path(args.out) / "resume", args.resume_steps
    sets = {
        "train.mixed_precision": args.resume_precision,
        "train.max_steps": steps,
        "train.batch_size": args.batch_size,
        "train.eval_every": steps,
        "train.ckpt_every": steps,
        "model.dropout": args.dropout,
    }
    runs = {
        "straight": [()],
        "again": [()],
        "resumed": [("--stop-after", str(steps // 2)), ("--resume", "auto")],
    }
    for name, parts in runs.items():
        for extra in parts:
            result = train_run(args, root / name, sets, extra)
            if result.returncode != 0:
                return {"check": "resume", "ok": False, "error": f"{name}: {failure(result)}"}
    deterministic = max_difference(root / "straight", root / "again")
    resumed = max_difference(root / "straight", root / "resumed")
    return {
        "check": "resume",
        "precision": args.resume_precision,
        "dropout": args.dropout,
        "steps": steps,
        "straight_vs_straight": deterministic,
        "straight_vs_resumed": resumed,
        "ok": resumed == 0.0,
    }


def dtypes(args):
    """precision.decide's record against the dtypes a real forward produces, per autocast dtype."""
    import torch

    from poemnet.training import precision
    from poemnet.training.config import load_config
    from poemnet.training.model import PoemLSTM

    m = load_config(args.config).model
    rows = []
    for name, dtype in (("bf16", torch.bfloat16), ("fp16", torch.float16)):
        if args.device == "cpu" and name == "fp16":
            continue  # CPU kernels have no fp16 LSTM
        model = PoemLSTM(2000, m.embedding_dim, m.hidden_dim, m.num_layers, m.dropout).to(args.device)
        tokens = torch.randint(0, 2000, (8, 26), device=args.device)

        def autocast(dtype=dtype):
            return torch.autocast(args.device, dtype=dtype)

        record = precision.decide(model, autocast, tokens, name)
        seen, hooks = [], []
        for module in [*model.lstm, model.head]:
            hooks.append(module.register_forward_hook(lambda _m, _i, out: seen.append(str(_first(out).dtype)[6:])))
        with autocast():
            model(tokens)
        for h in hooks:
            h.remove()
        expected = [record["lstm_dtype"]] * len(model.lstm) + [record["head_dtype"]]
        never_fp16 = name != "bf16" or "float16" not in seen[:-1]
        rows.append(
            {"check": "dtypes", "autocast": name, "record": record, "seen": seen, "ok": seen == expected and never_fp16}
        )
    return rows


def _first(output):
    return output[0] if isinstance(output, tuple) else output


def print_speed(rows, args):
    print(f"base model, batch {args.batch_size}, {args.steps} steps")
    print("| precision | tokens/s | autocast gave the LSTM | LSTM ran in | head ran in | train loss | val loss |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['precision']} | failed: {r['error']} |")
            continue
        d = r["dtypes"]
        print(
            f"| {r['precision']} | {r['tokens_per_s']:,.0f} | {d['autocast_lstm_dtype']} | {d['lstm_dtype']} | "
            f"{d['head_dtype']} | {r['train_loss']:.3f} | {r['val_loss']:.3f} |"
        )


def main(argv=None):
    parser = ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--checks", nargs="+", choices=["speed", "resume", "dtypes"], default=["speed", "resume", "dtypes"]
    )
    parser.add_argument("--config", default="configs/base.yaml")
    parser.add_argument("--steps", type=int, default=150, help="speed: steps per precision")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--resume-steps", type=int, default=40, help="resume: steps of each run (stopped at half)")
    parser.add_argument("--resume-precision", default="bf16", choices=["no", "bf16", "fp16"])
    parser.add_argument("--dropout", type=float, default=0.2, help="resume: model.dropout")
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"], help="cpu: resume and dtypes only")
    parser.add_argument("--out", default="runs/gpu_check")
    args = parser.parse_args(argv)
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        raise UserError("no CUDA GPU visible: run this on a GPU machine (or --device cpu --checks resume dtypes)")
    if args.device == "cpu" and "speed" in args.checks:
        raise UserError("the speed check needs a GPU: pass --checks resume dtypes with --device cpu")
    if args.device == "cuda":
        print(f"{torch.cuda.get_device_name()} | torch {torch.__version__} | cuDNN {torch.backends.cudnn.version()}")
    report = {}
    if "speed" in args.checks:
        report["speed"] = [speed(p, args) for p in ("no", "bf16", "fp16")]
        print_speed(report["speed"], args)
    if "resume" in args.checks:
        report["resume"] = resume(args)
        print(f"resume: {json.dumps(report['resume'])}")
    if "dtypes" in args.checks:
        report["dtypes"] = dtypes(args)
        for row in report["dtypes"]:
            print(f"dtypes: {json.dumps(row)}")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "gpu_check.json").write_text(json.dumps(report, indent=1))
    checks = [report.get("resume", {"ok": True}), *report.get("dtypes", [])]
    return 0 if all(c["ok"] for c in checks) else 1


if __name__ == "__main__":
    run_cli(main)
