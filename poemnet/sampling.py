"""Sampling one token per row from masked logits: greedy, temperature, top-k, top-p. numpy only.

Top-p rarely sorts a whole row: the nucleus lies among the tokens within a factor (CUTS) of the
likeliest one whenever their mass reaches top_p (every token left out is less likely than every
token kept), so only that short candidate list is sorted; rows where it falls short, and batches
of flat rows, are sorted whole. Within the nucleus (or the top k) a row's uniform picks by inverse CDF over
the tokens in descending order of probability.
"""
from dataclasses import dataclass

import numpy as np

CUTS = (np.float32(1e-2), np.float32(1e-4))  # candidates: weight >= cut x the row's largest weight


@dataclass(frozen=True)
class Sampling:
    temperature: float = 1.0
    top_k: int = 0  # 0 = off
    top_p: float = 1.0  # 1.0 = off
    greedy: bool = False


def sample(logits, sampling, uniforms):
    """One token id per row of masked logits [B, V] (-inf = disallowed); `uniforms` [B] in [0, 1)."""
    logits = np.asarray(logits, np.float32)
    if sampling.greedy:
        return logits.argmax(axis=-1)
    scaled = logits / np.float32(sampling.temperature)
    weights = np.exp(scaled - scaled.max(axis=-1, keepdims=True))  # the likeliest token weighs 1
    uniforms = np.asarray(uniforms, np.float64)
    if sampling.top_k and sampling.top_k < logits.shape[-1]:
        return _sample_top_k(weights, sampling.top_k, sampling.top_p, uniforms)
    if sampling.top_p >= 1.0:  # the whole distribution: inverse CDF in token order
        cumulative = np.cumsum(weights, axis=-1, dtype=np.float64)
        return np.minimum((cumulative <= uniforms[:, None] * cumulative[:, -1:]).sum(-1), logits.shape[-1] - 1)
    ids = np.empty(len(weights), np.int64)
    rows = np.arange(len(weights))
    for cut in CUTS:  # a tight candidate list first; rows whose nucleus reaches past it try the next
        candidates = weights[rows] >= cut
        if candidates.sum() > candidates.size // 4:  # flat rows: a dense sort is cheaper
            break
        sub = np.empty(len(rows), np.int64)
        short = _sample_sorted(weights[rows], candidates, sampling.top_p, uniforms[rows], sub)
        ids[rows[~short]] = sub[~short]
        rows = rows[short]
        if not len(rows):
            return ids
    sub = np.empty(len(rows), np.int64)
    _sample_dense(weights[rows], sampling.top_p, uniforms[rows], sub)
    ids[rows] = sub
    return ids


def _sample_dense(weights, top_p, uniforms, out):
    """The same choice as _sample_sorted, from a full stable sort of each row."""
    order = np.argsort(-weights, axis=-1, kind="stable")
    w = np.take_along_axis(weights, order, -1).astype(np.float64)
    cumulative = np.cumsum(w, axis=-1)
    needed = (cumulative - w < top_p * weights.sum(axis=-1, dtype=np.float64)[:, None]).sum(-1)
    needed = np.maximum(needed, 1)
    mass = np.take_along_axis(cumulative, needed[:, None] - 1, -1)
    picks = np.minimum((cumulative <= uniforms[:, None] * mass).sum(-1), needed - 1)
    out[:] = np.take_along_axis(order, picks[:, None], -1)[:, 0]


def _sample_sorted(weights, candidates, top_p, uniforms, out, limit=None):
    """Sort each row's candidates by descending weight (ties: lower id first), keep at most `limit`,
    then the nucleus of top_p, and pick by inverse CDF into `out`. Returns the rows whose candidates
    hold less than top_p of the row's mass (left unfilled). Candidate lists are ragged, kept flat."""
    n = len(weights)
    rows, cols = np.nonzero(candidates)
    w = weights[rows, cols]
    order = np.lexsort((-w, rows))  # stable: nonzero gave ids in ascending order
    rows, cols, w = rows[order], cols[order], w[order].astype(np.float64)
    starts = np.searchsorted(rows, np.arange(n))
    if limit is not None:
        keep = np.arange(len(rows)) - starts[rows] < limit
        rows, cols, w = rows[keep], cols[keep], w[keep]
        starts = np.searchsorted(rows, np.arange(n))
    ends = np.searchsorted(rows, np.arange(n), side="right")
    cumulative = np.cumsum(w)
    before = np.where(starts > 0, cumulative[np.maximum(starts - 1, 0)], 0.0)
    in_row = cumulative - before[rows]  # each row's own running mass
    total = in_row[ends - 1] if limit is not None else weights.sum(axis=-1, dtype=np.float64)
    wanted = top_p * total
    short = in_row[ends - 1] < wanted
    # the nucleus: the tokens whose predecessors hold less than top_p of the mass
    needed = np.bincount(rows, weights=in_row - w < wanted[rows], minlength=n).astype(np.int64)
    last = starts + np.maximum(needed, 1) - 1
    picks = np.clip(np.searchsorted(cumulative, before + uniforms * in_row[last], side="right"), starts, last)
    out[~short] = cols[picks[~short]]
    return short


def _sample_top_k(weights, k, top_p, uniforms):
    """Among the k likeliest tokens (ties: lower id first), then the top_p of their mass."""
    kth = -np.partition(-weights, k - 1, axis=-1)[:, k - 1:k]
    ids = np.empty(len(weights), np.int64)
    _sample_sorted(weights, weights >= kth, top_p, uniforms, ids, limit=k)
    return ids
