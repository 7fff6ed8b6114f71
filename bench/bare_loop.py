"""The floor for train_dist.py: the same model, batches, AdamW, clipping and autocast, no accelerate.

    python bench/bare_loop.py --config configs/base.yaml --steps 40 --precision bf16

Prints one JSON line with tokens_per_s, counted as train_dist.py counts them (inputs, from the first step).
"""
import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from poemnet.config import load_config  # noqa: E402
from poemnet.data import epoch_batches, inputs_and_targets, load_data, steps_per_epoch  # noqa: E402
from poemnet.model import PoemLSTM  # noqa: E402
from poemnet.trainer import lr_at, make_optimizer  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="configs/base.yaml")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--precision", choices=["no", "bf16"], default="no")
    args = parser.parse_args()
    cfg = load_config(args.config)
    t = cfg.train
    torch.manual_seed(t.seed)
    data = load_data(cfg.data)
    model = PoemLSTM.from_config(cfg.model, len(data.vocab))
    optimizer = make_optimizer(model, t)
    batches = epoch_batches(data.train, t.batch_size, t.seed, 0)
    total = t.max_steps or t.epochs * steps_per_epoch(data.train, t.batch_size)
    tokens_seen, started = 0, time.perf_counter()
    for step in range(args.steps):
        form, rows = batches[step % len(batches)]
        tokens = data.train[form][torch.as_tensor(rows)]
        inputs, targets = inputs_and_targets(tokens)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16"):
            logits = model(inputs)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-100)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, total, t)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        tokens_seen += inputs.numel()
    print(json.dumps({"tokens_per_s": tokens_seen / (time.perf_counter() - started), "loss": loss.item()}))


if __name__ == "__main__":
    main()
