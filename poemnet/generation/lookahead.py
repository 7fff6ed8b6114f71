"""Looking ahead to a line's last character, so that a line arrives at its rhyme. numpy only.

With --rhyme or --tones, the rules restrict the last character of every line (a rhyme character,
a 仄-only one, the template's tone). Sampled blind, the line's next-to-last character often leaves
the model no good way to meet that restriction, and the mask then forces a rhyme character the
line was not heading for (有酒蹄, 舞官, 乘蒸). So at each next-to-last character, the loop weighs
each of a row's CANDIDATES likeliest allowed characters x by the model's own probability that the
next character is one the rules allow after it:

    score(x) = logit(x) + log sum_{y allowed after x} p(y | x)

where p is the model's distribution with the 对仗 bias and no temperature, so sampling x at
temperature 1 (top-k and top-p off) from these scores and then y from the masked step is exactly sampling the pair from
the model conditioned on y being allowed (among the candidates); other temperatures, top-k and
top-p then apply to these scores as they would to the logits, and greedy takes the x of the
likeliest allowed completion. One extra step runs on every candidate of every row at once (rows
never mix); the chosen candidate's step is the loop's next step, so nothing runs twice.
"""

from dataclasses import dataclass

import numpy as np

from poemnet.generation.rules import RuleSet, allowed_tokens

CANDIDATES = 4  # per row: chosen by measurement (docs/verse.md)
WEIGHTLESS = 6.9  # logits below the row's best: p(y) under 1e-3 of the likeliest's, checked by no costly rule


def penultimate_positions(form):
    """Each line's next-to-last character: a character followed by one character, then punctuation."""
    slots = [form.slot(p) for p in range(form.length + 2)]
    return frozenset(p for p in range(form.length) if slots[p] == slots[p + 1] == "char" and slots[p + 2] != "char")


def candidates(scores, k):
    """bool [B, V]: each row's k highest finite scores (ties: the lower id), fewer where fewer are finite."""
    if k >= scores.shape[1]:
        return np.isfinite(scores)
    kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1 : k]
    above = scores > kth
    ties = (scores == kth) & (np.cumsum(scores == kth, axis=1) <= k - above.sum(axis=1, keepdims=True))
    return (above | ties) & np.isfinite(scores)


def reach(full, masked):
    """log of the share of each row's probability (softmax of `full` [M, V]) that `masked` keeps
    finite: log P(the next character is allowed). exp in float32, sums in float64."""
    e = np.exp(full - full.max(axis=1, keepdims=True))
    total = e.sum(axis=1, dtype=np.float64)
    e *= np.isfinite(masked)
    with np.errstate(divide="ignore"):  # an allowed mass below float32's range: log 0, -inf
        return np.log(e.sum(axis=1, dtype=np.float64)) - np.log(total)


def checking_only(rules, weighty):
    """The rules, each costly (narrowing) one checking only the `weighty` tokens [M, V] and allowing
    the rest: what it would refuse among them moves log P(allowed) by less than they weigh."""

    def narrowed(rule):
        def check(position, history, within=None):
            return rule(position, history, weighty if within is None else within & weighty)

        check.narrows = True
        return check

    soft = tuple((name, narrowed(rule) if getattr(rule, "narrows", False) else rule) for name, rule in rules.soft)
    return RuleSet(rules.hard, soft)


@dataclass
class Ahead:
    """The extra step: each candidate (rows, ids, row-major) and what the model gave for it."""

    rows: np.ndarray
    ids: np.ndarray
    logits: np.ndarray
    h: np.ndarray
    c: np.ndarray

    def step_for(self, chosen):
        """(logits, h, c) after each row's chosen candidate: the loop's next step, already run."""
        size = self.logits.shape[1]
        at = np.searchsorted(self.rows * size + self.ids, np.arange(len(chosen)) * size + chosen)
        return self.logits[at], self.h[:, at], self.c[:, at]


def look_ahead(step_fn, rules, position, history, scores, state, score_fn, k=None):
    """(the sampler's scores at `position`: score(x) for each row's candidates, -inf elsewhere; Ahead).

    `history` [B, position] the tokens so far, `scores` [B, V] the masked scores at `position`,
    `state` the (h, c) that produced them; score_fn(logits, position, history, allowed) -> (biased
    logits, masked scores) is the loop's own scoring, applied to the next position.
    """
    h, c = state
    k = CANDIDATES if k is None else k
    keep = candidates(scores, k)
    rows, ids = np.nonzero(keep)
    logits, h_next, c_next = step_fn(ids.astype(np.int64), h[:, rows], c[:, rows])
    extended = np.concatenate([history[rows], ids[:, None]], axis=1)
    weighty = logits >= logits.max(axis=1, keepdims=True) - np.float32(WEIGHTLESS)
    allowed, _ = allowed_tokens(checking_only(rules, weighty), position + 1, extended, scores.shape[1])
    full, masked = score_fn(logits, position + 1, extended, allowed)
    out = np.full(scores.shape, -np.inf, np.float32)
    out[rows, ids] = (scores[rows, ids].astype(np.float64) + reach(full, masked)).astype(np.float32)
    stuck = ~np.isfinite(out).any(axis=1)  # every candidate's allowed mass underflowed: as if blind
    out[stuck] = np.where(keep[stuck], scores[stuck], np.float32(-np.inf))
    return out, Ahead(rows, ids, logits, h_next, c_next)
