"""Decoding rules as pure logit masks, and sampling: numpy only, shared by torch and onnxruntime.

A rule is a function `rule(position, history) -> bool mask or None`: `position` counts the
characters and punctuation generated so far, `history` is the int array [B, position] of the
tokens chosen, and the mask ([V] or [B, V]) says which tokens may come next; None allows all.
Rules combine by AND, so rhyme, tone and no-copy rules slot in beside the ones here.
"""
from dataclasses import dataclass

import numpy as np

from poemnet.forms import COMMA, PERIOD, is_hanzi


@dataclass(frozen=True)
class TokenClasses:
    """Which vocabulary ids are characters, and the ids of the punctuation and <eos>."""
    size: int
    hanzi: np.ndarray  # bool [V]
    comma: int
    period: int
    eos: int

    @classmethod
    def from_vocab(cls, vocab):
        hanzi = np.array([i >= vocab.num_reserved and is_hanzi(t) for i, t in enumerate(vocab.tokens)])
        return cls(len(vocab), hanzi, vocab.index.get(COMMA, -1), vocab.index.get(PERIOD, -1), vocab.eos_id)


def _only(size, token_id):
    mask = np.zeros(size, bool)
    mask[token_id] = True
    return mask


def format_rule(form, classes):
    """Exactly the form's layout: characters in lines, ，/。 at line ends, then <eos>."""
    if classes.comma < 0 or classes.period < 0:
        raise ValueError("the vocabulary lacks ， or 。: it was not built from poems")
    slots = {COMMA: _only(classes.size, classes.comma), PERIOD: _only(classes.size, classes.period),
             "end": _only(classes.size, classes.eos), "char": classes.hanzi}

    def rule(position, history):
        return slots[form.slot(position)]
    return rule


def line_start_rule(form, first_ids, size):
    """Force the first character of some lines: {line index: token id} (a start character or an acrostic)."""
    masks = {line: _only(size, token_id) for line, token_id in first_ids.items()}

    def rule(position, history):
        return masks.get(form.line_start(position))
    return rule


def allowed_tokens(rules, position, history, size):
    """AND of every rule's mask, as bool [B, V]."""
    allowed = np.ones((len(history), size), bool)
    for rule in rules:
        mask = rule(position, history)
        if mask is not None:
            allowed &= mask
    return allowed


def mask_logits(logits, allowed):
    if not allowed.any(axis=-1).all():
        raise ValueError("the decoding rules allow no token at this position: they contradict each other")
    return np.where(allowed, logits, -np.inf)


@dataclass(frozen=True)
class Sampling:
    temperature: float = 1.0
    top_k: int = 0  # 0 = off
    top_p: float = 1.0  # 1.0 = off
    greedy: bool = False


def sample(logits, sampling, uniforms):
    """One token id per row of masked logits [B, V]; `uniforms` [B] in [0, 1) drive the draw."""
    logits = logits.astype(np.float64)
    if sampling.greedy:
        return logits.argmax(axis=-1)
    logits = logits / sampling.temperature
    if sampling.top_k and sampling.top_k < logits.shape[-1]:
        kth = np.partition(logits, -sampling.top_k, axis=-1)[:, -sampling.top_k, None]
        logits = np.where(logits < kth, -np.inf, logits)
    probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probs /= probs.sum(axis=-1, keepdims=True)
    if sampling.top_p < 1.0:
        # the nucleus is every token at least as likely as the least likely one it needs: find that
        # threshold from the sorted probabilities (a sort of values, cheaper than an argsort)
        sorted_probs = -np.sort(-probs, axis=-1)
        needed = (np.cumsum(sorted_probs, axis=-1) - sorted_probs < sampling.top_p).sum(axis=-1)
        threshold = np.take_along_axis(sorted_probs, needed[:, None] - 1, axis=-1)
        probs = np.where(probs >= threshold, probs, 0.0)
        probs /= probs.sum(axis=-1, keepdims=True)
    cumulative = np.cumsum(probs, axis=-1)
    draws = np.asarray(uniforms, np.float64)[:, None] * cumulative[:, -1:]
    return np.minimum((cumulative <= draws).sum(axis=-1), probs.shape[-1] - 1)
