"""GPU check (not run by CI): per precision, train the base model for a fixed number of steps on
one GPU and print tokens/s, the compute dtypes the start-up probe saw, and the loss reached.

    python scripts/gpu_check.py [--steps 150] [--batch-size 512] [--out runs/gpu_check]

Writes <out>/gpu_check.json. On a machine without a GPU it stops with a one-line error.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(precision, args):
    out = Path(args.out) / precision
    sets = {
        "train.mixed_precision": precision,
        "train.max_steps": args.steps,
        "train.batch_size": args.batch_size,
        "train.log_every": args.steps // 3,
        "train.eval_every": args.steps,
        "train.ckpt_every": args.steps,
        "train.num_samples": 0,
        "output.tensorboard": "false",
        "output.dir": out,
    }
    cmd = [sys.executable, str(ROOT / "train_dist.py"), "--config", args.config]
    for key, value in sets.items():
        cmd += ["--set", f"{key}={value}"]
    started = time.perf_counter()
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        return {"precision": precision, "error": (result.stderr.strip().splitlines() or ["?"])[-1]}
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="configs/base.yaml")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--out", default="runs/gpu_check")
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        sys.exit("error: no CUDA GPU visible: run this on a GPU machine")
    print(f"{torch.cuda.get_device_name()} | torch {torch.__version__} | cuDNN {torch.backends.cudnn.version()}")
    rows = [run(p, args) for p in ("no", "bf16", "fp16")]
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "gpu_check.json").write_text(json.dumps(rows, indent=1))
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


if __name__ == "__main__":
    main()
