"""The floor for train_dist.py: the same model, batches, AdamW, clipping and autocast, no accelerate.

    python bench/bare_loop.py --config configs/base.yaml --steps 40 --precision bf16

Prints one JSON line with tokens_per_s, counted as train_dist.py counts them (inputs), over the
steps after the first --warmup-steps (first-step allocations are not the loop's speed).
`interleaved` times train_dist.py's Trainer.train_step and this loop's step alternately in one
process, which takes the machine's drift between processes out of the comparison.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from poemnet.training.batches import epoch_batches, inputs_and_targets, load_data, steps_per_epoch  # noqa: E402
from poemnet.training.config import load_config  # noqa: E402
from poemnet.training.model import PoemLSTM  # noqa: E402
from poemnet.training.trainer import lr_at, make_optimizer  # noqa: E402


class BareLoop:
    def __init__(self, cfg, precision, data=None):
        self.t, self.precision = cfg.train, precision
        torch.manual_seed(self.t.seed)
        self.data = data or load_data(cfg.data)
        self.model = PoemLSTM.from_config(cfg.model, len(self.data.vocab))
        self.optimizer = make_optimizer(self.model, self.t)
        self.batches = epoch_batches(self.data.train, self.t.batch_size, self.t.seed, 0)
        self.total = self.t.max_steps or self.t.epochs * steps_per_epoch(self.data.train, self.t.batch_size)

    def step(self, step):
        """One optimizer step; returns (tokens, loss tensor)."""
        form, rows = self.batches[step % len(self.batches)]
        inputs, targets = inputs_and_targets(self.data.train[form][torch.as_tensor(rows)])
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            logits = self.model(inputs)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-100)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.t.grad_clip)
        for group in self.optimizer.param_groups:
            group["lr"] = lr_at(step, self.total, self.t)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return inputs.numel(), loss


def interleaved(config, precision, steps, warmup):
    """Median step time of Trainer.train_step and of BareLoop.step, alternating in this process."""
    from poemnet.training.trainer import Trainer, make_accelerator

    overrides = [
        f"train.mixed_precision={precision}",
        "output.tensorboard=false",
        "data.title_share=0",
    ]  # like the bare loop
    cfg = load_config(config, overrides)
    trainer = Trainer(cfg, make_accelerator(cfg))
    bare = BareLoop(cfg, precision, trainer.data)
    ours, theirs = [], []
    for step in range(steps):
        started = time.perf_counter()
        trainer.train_step()
        ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        bare.step(step)
        theirs.append(time.perf_counter() - started)
    return statistics.median(ours[warmup:]), statistics.median(theirs[warmup:])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="configs/base.yaml")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--precision", choices=["no", "bf16"], default="no")
    parser.add_argument("--warmup-steps", type=int, default=10, help="steps run before the clock starts")
    parser.add_argument(
        "--interleaved", action="store_true", help="also train_dist.py's step, alternately, in this process"
    )
    args = parser.parse_args()
    if args.steps <= args.warmup_steps:
        raise SystemExit(f"error: --steps {args.steps} must exceed --warmup-steps {args.warmup_steps}")
    if args.interleaved:
        ours, bare = interleaved(args.config, args.precision, args.steps, args.warmup_steps)
        print(json.dumps({"train_step_s": ours, "bare_step_s": bare, "ratio": bare / ours}))
        return
    loop = BareLoop(load_config(args.config), args.precision)
    for step in range(args.steps):
        if step == args.warmup_steps:
            tokens_seen, started = 0, time.perf_counter()
        tokens, loss = loop.step(step)
        if step >= args.warmup_steps:
            tokens_seen += tokens
    print(json.dumps({"tokens_per_s": tokens_seen / (time.perf_counter() - started), "loss": loss.item()}))


if __name__ == "__main__":
    main()
