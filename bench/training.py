"""Training throughput of the base model on this machine: fp32 against bf16 (tokens per second).

    python bench/training.py [--steps 30] [--config configs/base.yaml]

Runs train_dist.py for a few steps per precision in a scratch folder and reads metrics.jsonl.
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def tokens_per_s(config, precision, steps, folder):
    out = Path(folder) / precision
    subprocess.run([sys.executable, str(ROOT / "train_dist.py"), "--config", config, "--set", f"train.mixed_precision={precision}",
                    "--set", f"train.max_steps={steps}", "--set", f"train.log_every={steps}", "--set", "train.eval_every=100000",
                    "--set", "train.num_samples=0", "--set", "output.tensorboard=false", "--set", f"output.dir={out}"],
                   check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return next(r["tokens_per_s"] for r in records if "tokens_per_s" in r)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="configs/base.yaml")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--precisions", nargs="+", default=["no", "bf16"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        rates = {p: tokens_per_s(args.config, p, args.steps, folder) for p in args.precisions}
    for precision, rate in rates.items():
        print(f"{precision:5} {rate:10,.0f} tokens/s   {rate / rates[args.precisions[0]]:.2f}x")


if __name__ == "__main__":
    main()
