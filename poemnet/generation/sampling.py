"""Sampling one token per row from masked logits: greedy, temperature, top-k, top-p. numpy only.

The definitions: weights w = exp((logit - row max) / temperature), the quotient computed in
float64 and rounded to float32 (-inf beyond its range), the exp in float32. So a row's heaviest
token weighs 1 and a disallowed one (-inf) 0 at every finite temperature > 0, nothing becomes NaN,
and the limits come out exactly: a temperature so small that every lighter weight underflows
samples uniformly among the row's maxima, one so large that every allowed weight rounds to 1
uniformly among the allowed tokens. top-k keeps the k heaviest tokens and top-p the fewest
heaviest whose mass reaches top_p of the (top-k) row mass, ties going to the lower token id;
top_p 1 is off: it keeps every token of nonzero weight. A row's uniform u then picks, in token-id
order, the first kept token whose cumulative weight exceeds u x the kept mass (inverse CDF).

Precision: every sum is float64. Given the kept tokens, the pick is the textbook one to the bit
(the same cumulative sum in the same order). The nucleus edge compares sums taken in another
order than a full sort's (pairwise for the row mass, bucket by bucket below), so it can differ
from a sorting sampler's only where top_p x the row mass lies within a few float64 ulps (~1e-15
relative) of a heaviest-first cumulative mass. Every sum is row-local: a row's choice never
depends on the other rows of the batch, so one path serves every batch size.

Nothing sorts a whole row:
- the nucleus lies among the candidates, the tokens of weight >= CUT, whenever their mass
  reaches the target; rows where it falls short take every token as a candidate;
- a weighted histogram of the candidates over buckets of log-weight (the top bits of the float32)
  finds the bucket where the running mass crosses the target: the buckets above it are kept
  whole, and only the few candidates in that bucket are sorted;
- the pick is a cumulative sum over the kept tokens, which are already in token-id order.
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
    """float32 exp((logits - row max) / temperature), the quotient in float64: a float32 quotient
    is NaN at temperatures float32 rounds to 0 or inf. (float64's own exp is slow on -inf.)"""
    logits = np.asarray(logits, np.float32)
    scaled = logits.astype(np.float64)
    scaled -= logits.max(axis=-1, keepdims=True).astype(np.float64)  # a float32 operand would take a slow loop
    with np.errstate(over="ignore", under="ignore"):  # quotients beyond float32's range: -inf, weight 0
        scaled /= float(temperature)
        w = scaled.astype(np.float32)
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
    if sampling.top_p >= 1:  # off: every token of nonzero weight, no sum needed to find them
        return _pick_dense(w, uniforms)
    wanted = sampling.top_p * w.sum(axis=-1, dtype=np.float64)
    ids = np.empty(len(w), np.int64)
    short = _sample_candidates(w, wanted, uniforms, ids, CUT)
    if short.any():  # the candidates hold too little of these rows' mass: every token is one
        sub = np.empty(int(short.sum()), np.int64)
        _sample_candidates(w[short], wanted[short], uniforms[short], sub, np.float32(0))
        ids[short] = sub
    return ids


def _pick_dense(w, uniforms):
    """Inverse CDF over every token of each row, in id order (tokens of weight 0 are never picked)."""
    running = np.cumsum(w, axis=1, dtype=np.float64)
    picks = (running <= (uniforms * running[:, -1])[:, None]).sum(axis=1)
    for row in np.flatnonzero(picks == w.shape[1]):  # u x mass rounded up to the mass: the last kept token
        picks[row] = np.flatnonzero(w[row])[-1]
    return picks


def _padded(rows, values, n):
    """Row-grouped flat `values` as [n, most per row], zero-padded; and each one's column."""
    counts = np.bincount(rows, minlength=n)
    cols = np.arange(len(rows)) - (np.cumsum(counts) - counts)[rows]
    padded = np.zeros((n, max(1, int(counts.max()))))
    padded.ravel()[rows * padded.shape[1] + cols] = values  # a flat scatter: 4x a 2-D one
    return padded, cols


def _sample_candidates(w, wanted, uniforms, out, cut):
    """Sample each row among its candidates (weight >= cut; > 0 for cut 0) into `out`; returns the
    rows whose candidates weigh less than `wanted`, left unfilled. Candidates stay flat, in
    row-major (so token-id) order."""
    n, size = w.shape
    flat = np.flatnonzero(w >= cut if cut > 0 else w > 0)
    counts = np.diff(np.searchsorted(flat, np.arange(n + 1) * size))
    rows = np.repeat(np.arange(n), counts)
    cw = w.ravel()[flat]
    kept, short = _nucleus(rows, cw, wanted, n, cut > 0)
    kept = np.flatnonzero(kept)
    padded, cols = _padded(rows[kept], cw[kept], n)
    picks = _pick_dense(padded, uniforms)  # row by row: the textbook's sum, whatever the batch
    chosen = kept[np.flatnonzero(cols == picks[rows[kept]])]  # each row's picked token
    out[~short] = (flat[chosen] - rows[chosen] * size)[~short]
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
    above = np.where(crossing > 0, running[np.arange(n), crossing - 1], 0.0)  # the mass of the buckets before it
    row_crossing = crossing[rows]
    kept = bucket < row_crossing
    edge = np.flatnonzero(bucket == row_crossing)  # only these need an order: weight descending, then id
    edge = edge[np.lexsort((edge, -cw[edge], rows[edge]))]
    edge_rows = rows[edge]
    padded, cols = _padded(edge_rows, cw[edge], n)
    before = np.zeros_like(padded)  # the mass of each edge token's predecessors in its bucket
    np.cumsum(padded[:, :-1], axis=1, out=before[:, 1:])
    kept[edge] = above[edge_rows] + before[edge_rows, cols] < wanted[edge_rows]  # the heaviest always: wanted > 0
    return kept, short


def _top_k(w, k):
    """The weights with all but the k heaviest of each row (ties: lower id) set to 0."""
    kth = -np.partition(-w, k - 1, axis=-1)[:, k - 1 : k]
    above = w > kth
    ties = (w == kth) & (np.cumsum(w == kth, axis=-1) <= k - above.sum(axis=-1, keepdims=True))
    return np.where(above | ties, w, np.float32(0))
