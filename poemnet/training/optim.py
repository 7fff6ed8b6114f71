"""AdamW with weight decay on the matrices only, and the learning rate: linear warmup, then cosine."""

import math

import torch


def lr_at(step, total, t):
    """Linear warmup to t.lr, then cosine decay to t.min_lr at `total`."""
    if step < t.warmup_steps:
        return t.lr * (step + 1) / t.warmup_steps
    progress = min(1.0, (step - t.warmup_steps) / max(1, total - t.warmup_steps))
    return t.min_lr + 0.5 * (t.lr - t.min_lr) * (1 + math.cos(math.pi * progress))


def make_optimizer(model, t):
    """AdamW, with weight decay on the matrices only (not on biases)."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": t.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    fused = next(model.parameters()).device.type == "cuda"  # one kernel for all parameters on a GPU
    return torch.optim.AdamW(groups, lr=t.lr, betas=(0.9, 0.99), fused=fused or None)
