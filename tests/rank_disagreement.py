"""Run by test_training under torchrun: rank 1 cannot read the checkpoint (as on a machine without
the shared folder); every rank must stop promptly with the same one-line error."""

import os
import sys

from poemnet.common.errors import UserError, run_cli
from poemnet.training import checkpoint

real_read = checkpoint.read


def read_on_rank0_only(folder, rank):
    if os.environ.get("RANK") == "1":
        raise UserError(f"{folder} is not visible on this machine: put checkpoints in a folder every machine shares")
    return real_read(folder, rank)


checkpoint.read = read_on_rank0_only
sys.path.insert(0, os.getcwd())
from train_dist import main  # noqa: E402

run_cli(main)
