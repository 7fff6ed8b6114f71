"""Sampling one token per row from masked logits: greedy, temperature, top-k, top-p. numpy only.

The definitions: weights w = exp((logit - max) / temperature); top-k keeps the k heaviest tokens
and top-p the fewest heaviest tokens whose weight reaches top_p of the (top-k) total, ties going
to the lower token id; a row's uniform then picks among the kept tokens by inverse CDF in token-id
order. Every step is exact, but nothing sorts a whole row:

- the nucleus lies among the candidates, the tokens of weight >= CUT (1 being the heaviest),
  whenever their mass reaches top_p; rows where it falls short take every token as a candidate;
- a weighted histogram of the candidates over buckets of log-weight (the top bits of the float32)
  finds the bucket where the running mass crosses top_p: the buckets above it are kept whole, and
  only the few candidates in that bucket are sorted;
- the pick is a cumulative sum over the kept candidates, which are already in token-id order.
"""

from dataclasses import dataclass

import numpy as np

CUT = np.float32(1e-3)  # on this model the candidates hold the nucleus in 99% of rows at top_p 0.9
BUCKET_SHIFT = 20  # float32 bits >> 20: exponent and 3 mantissa bits, 8 buckets per octave of weight
MAX_BUCKET = 255  # lighter weights share the last bucket (2**-32 and below)
ONE_BITS = int(np.float32(1).view(np.int32))


@dataclass(frozen=True)
class Sampling:
    temperature: float = 1.0
    top_k: int = 0  # 0 = off
    top_p: float = 1.0  # 1.0 = off
    greedy: bool = False


def weights(logits, temperature):
    """float32 exp((logits - row max) / temperature): the heaviest token of a row weighs 1."""
    w = np.subtract(logits, logits.max(axis=-1, keepdims=True), dtype=np.float32)
    np.divide(w, np.float32(temperature), out=w)
    return np.exp(w, out=w)


def sample(logits, sampling, uniforms):
    """One token id per row of masked logits [B, V] (-inf = disallowed); `uniforms` [B] in [0, 1)."""
    logits = np.asarray(logits, np.float32)
    if sampling.greedy:
        return logits.argmax(axis=-1)
    w = weights(logits, sampling.temperature)
    if sampling.top_k and sampling.top_k < w.shape[1]:
        w = _top_k(w, sampling.top_k)
    uniforms = np.asarray(uniforms, np.float64)
    wanted = min(sampling.top_p, 1.0) * w.sum(axis=-1).astype(np.float64)  # float32 sums are pairwise: exact enough
    if len(w) == 1:  # one row: fewer, smaller array operations than the batched path
        return np.array([_sample_row(w[0], wanted[0], uniforms[0])])
    ids = np.empty(len(w), np.int64)
    short = _sample_candidates(w, wanted, uniforms, ids, CUT if sampling.top_p < 1 else np.float32(0))
    if short.any():  # the candidates hold too little of these rows' mass: every token is one
        sub = np.empty(int(short.sum()), np.int64)
        _sample_candidates(w[short], wanted[short], uniforms[short], sub, np.float32(0))
        ids[short] = sub
    return ids


def _sample_row(w, wanted, uniform):
    """The same choice as the batched path for one row: sort its candidates' weights (values only),
    read the nucleus edge off their running sum, keep the row's tokens above it in id order."""
    for cut in (CUT, np.float32(0)):  # if the candidates hold too little, every token is one
        ids = np.flatnonzero(_candidates(w, cut))
        cw = w[ids]
        descending = np.sort(cw)[::-1]
        running = np.cumsum(descending, dtype=np.float64)
        if running[-1] >= wanted:
            break
    needed = max(1, int(np.searchsorted(running - descending, wanted)))  # predecessors' mass < wanted
    edge = descending[needed - 1]
    kept = cw > edge
    ties = np.flatnonzero(cw == edge)  # the nucleus takes the lowest ids among equal weights
    kept[ties[: needed - int(kept.sum())]] = True
    ids, running = ids[kept], np.cumsum(cw[kept], dtype=np.float64)
    return ids[min(int(np.searchsorted(running, uniform * running[-1], side="right")), len(ids) - 1)]


def _candidates(w, cut):
    """bool: weight >= cut, or every token with weight (> 0) for cut 0."""
    return w >= cut if cut > 0 else w > 0


def _sample_candidates(w, wanted, uniforms, out, cut):
    """Sample each row among its candidates (weight >= cut; > 0 for cut 0) into `out`; returns the
    rows whose candidates weigh less than `wanted`, left unfilled. Candidates stay flat, in
    row-major (so token-id) order."""
    n, size = w.shape
    flat = np.flatnonzero(_candidates(w, cut))
    ends = np.searchsorted(flat, np.arange(1, n + 1) * size)
    counts = np.diff(ends, prepend=0)
    rows = np.repeat(np.arange(n), counts)
    cw = w.ravel()[flat]
    kept, short = _nucleus(rows, cw, wanted, n, cut > 0)
    kept_w = cw.astype(np.float64)
    kept_w[~kept] = 0.0
    running = np.cumsum(kept_w)
    before = np.concatenate([[0.0], running[ends[:-1] - 1]])
    final = running[ends - 1]
    last = np.searchsorted(running, final)  # each row's last kept token
    picks = np.searchsorted(running, before + uniforms * (final - before), side="right")
    picks = np.clip(picks, ends - counts, last)
    out[~short] = (flat[picks] - rows[picks] * size)[~short]
    return short


def _nucleus(rows, cw, wanted, n, may_fall_short):
    """(bool over the candidates: the fewest heaviest of each row (ties: lower id) whose weight
    reaches `wanted`; bool [n]: rows whose candidates fall short). Rows grouped, ids ascending."""
    bucket = np.minimum((ONE_BITS - cw.view(np.int32)) >> BUCKET_SHIFT, MAX_BUCKET)  # 0 = heaviest
    buckets = int(bucket.max()) + 1
    mass = np.bincount(rows * buckets + bucket, weights=cw, minlength=n * buckets).reshape(n, buckets)
    running = np.cumsum(mass, axis=1)
    short = running[:, -1] < wanted if may_fall_short else np.zeros(n, bool)
    crossing = np.minimum((running < wanted[:, None]).sum(axis=1), buckets - 1)  # the bucket where the nucleus ends
    above = np.take_along_axis(running - mass, crossing[:, None], 1)[:, 0]  # the mass of the buckets before it
    row_crossing = crossing[rows]
    kept = bucket < row_crossing
    edge = np.flatnonzero(bucket == row_crossing)  # only these need an order: weight descending, then id
    edge = edge[np.lexsort((edge, -cw[edge], rows[edge]))]
    edge_rows, ew = rows[edge], cw[edge].astype(np.float64)
    running_edge = np.cumsum(ew)
    starts = np.searchsorted(edge_rows, edge_rows)  # each edge token's row's first edge token
    preceding = above[edge_rows] + running_edge - ew - (running_edge[starts] - ew[starts])
    kept[edge] = preceding < wanted[edge_rows]  # always the heaviest token: wanted > 0
    return kept, short


def _top_k(w, k):
    """The weights with all but the k heaviest of each row (ties: lower id) set to 0."""
    kth = -np.partition(-w, k - 1, axis=-1)[:, k - 1 : k]
    above = w > kth
    ties = (w == kth) & (np.cumsum(w == kth, axis=-1) <= k - above.sum(axis=-1, keepdims=True))
    return np.where(above | ties, w, np.float32(0))
