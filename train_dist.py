"""Train PoemLSTM on one CPU, one GPU, several GPUs or several machines with HuggingFace accelerate.

python train_dist.py --config configs/tiny.yaml                      # one process
accelerate launch train_dist.py --config configs/base.yaml           # what `accelerate config` says
accelerate launch --config_file configs/accelerate/multi_gpu.yaml train_dist.py --config configs/base.yaml
torchrun --nproc_per_node 4 train_dist.py --config configs/base.yaml
ACCELERATE_USE_CPU=true torchrun --standalone --nproc_per_node 2 train_dist.py --config configs/tiny.yaml
python train_dist.py --config configs/base.yaml --resume auto         # continue after a stop or crash

The same as `poemnet train` (poemnet/training/cli.py).
"""

from poemnet.common.errors import run_cli
from poemnet.training.cli import train as main

if __name__ == "__main__":
    run_cli(main)
