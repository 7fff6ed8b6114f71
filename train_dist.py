"""Train PoemLSTM on one CPU, one GPU, several GPUs or several machines with HuggingFace accelerate.

python train_dist.py --config configs/tiny.yaml                      # one process
accelerate launch train_dist.py --config configs/base.yaml           # what `accelerate config` says
accelerate launch --config_file configs/accelerate/multi_gpu.yaml train_dist.py --config configs/base.yaml
torchrun --nproc_per_node 4 train_dist.py --config configs/base.yaml
ACCELERATE_USE_CPU=true torchrun --standalone --nproc_per_node 2 train_dist.py --config configs/tiny.yaml
python train_dist.py --config configs/base.yaml --resume auto         # continue after a stop or crash
"""

import argparse
import os
import sys

from poemnet.common.errors import run_cli
from poemnet.training.config import load_config


def main(argv=None):
    parser = argparse.ArgumentParser(description="Train PoemLSTM with accelerate.")
    parser.add_argument("--config", default="configs/base.yaml", help="YAML config (default: configs/base.yaml)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override, e.g. train.lr=3e-4")
    parser.add_argument("--resume", metavar="auto|PATH", help="auto: newest complete checkpoint in the run directory")
    parser.add_argument(
        "--stop-after", type=int, metavar="STEPS", help="checkpoint and stop after this many more steps"
    )
    args = parser.parse_args(argv)
    cfg = load_config(args.config, args.set)
    from poemnet.training.trainer import train  # after the config is checked: torch and accelerate load slowly

    train(cfg, resume=args.resume, stop_after=args.stop_after)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        # Every file is written and every rank has passed the last barrier. Skip the interpreter's
        # teardown: there gloo's threads now and then abort a rank ("terminate called without an
        # active exception"), which would turn a finished run into a failed one.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


if __name__ == "__main__":
    run_cli(main)
