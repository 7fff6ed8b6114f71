"""What the sampler sees at one position: the model's logits, plus the 对仗 bias, masked by the
rules, less the third use of a two-character word. numpy only; each row is its own.

- The 对仗 bias (--parallel): while the second line of a 律诗 middle couplet (lines 4 and 6) is
  written, each character that pairs with the first line's character at the same position (the
  model file's `parallel` pairs, learned from human middle couplets) gains STRENGTH x its weight
  (pmi) on its logit. A soft, deterministic preference: nothing is forbidden.
- The loop guard: no character completes a two-character word (two adjacent characters of one
  line) that the poem already holds twice. Greedy decoding otherwise falls into loops of one word
  (一年一笑一时休，一笑相逢不可寻。一笑不知身世事). It holds in every decoding, so a tiny
  temperature still writes the greedy poem; it gives way in a row where it would leave no candidate.
"""

import numpy as np

from poemnet.common.couplets import LU_FORMS, MIDDLE
from poemnet.common.errors import UserError
from poemnet.generation.rules import mask_logits

STRENGTH = 0.5  # x pmi, in logits: brings the middle couplets to the human score (docs/verse.md)
WORD_LIMIT = 2  # a two-character word may stand twice in a poem, not three times


class ParallelBias:
    """bias(position, history) -> float32 [B, V] to add to the logits, or None where it adds nothing."""

    def __init__(self, form, pairs, size, strength=STRENGTH):
        if form.name not in LU_FORMS:
            raise UserError(
                f"--parallel shapes the middle couplets of a 律诗: choose --form 五律 or 七律, not {form.name}"
            )
        starts = [p for p in range(form.length) if form.line_start(p) is not None]
        # a position of a couplet's second line -> the first line's position at the same column
        self.sources = {
            starts[second] + col: starts[first] + col for first, second in MIDDLE for col in range(form.line_len)
        }
        self.size, self.strength = size, strength
        # the pairs as CSR: token a's partners are ids[starts[a]:starts[a + 1]]
        counts = np.zeros(size, np.int64)
        for a, (ids, _) in pairs.partners.items():
            counts[a] = len(ids)
        self.starts = np.concatenate([[0], np.cumsum(counts)])
        order = sorted(pairs.partners)
        self.ids = np.concatenate([pairs.partners[a][0] for a in order] or [np.zeros(0, np.int64)])
        self.weights = np.concatenate([pairs.partners[a][1] for a in order] or [np.zeros(0, np.float32)])
        self.weights = (self.weights * np.float32(strength)).astype(np.float32)

    def __call__(self, position, history):
        source = self.sources.get(position)
        if source is None:
            return None
        firsts = history[:, source]
        counts = self.starts[firsts + 1] - self.starts[firsts]
        rows = np.repeat(np.arange(len(history)), counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        flat = np.repeat(self.starts[firsts], counts) + offsets
        bias = np.zeros((len(history), self.size), np.float32)
        bias[rows, self.ids[flat]] = self.weights[flat]  # a character's partners are distinct
        return bias


def biased(logits, position, history, bias=None):
    """float32 logits plus the bias where it applies at `position`."""
    logits = np.asarray(logits, np.float32)
    extra = bias(position, history) if bias is not None else None
    return logits if extra is None else logits + extra


def word_pairs(form):
    """bool [length]: position i and i + 1 are two characters of one line."""
    chars = np.array([form.slot(p) == "char" for p in range(form.length + 1)])
    return chars[:-1] & chars[1:]


def guard_words(scores, position, history, pairs):
    """Masked scores [B, V] with -inf for each character that would complete a two-character word
    the row already holds WORD_LIMIT times (only in rows where a candidate is left)."""
    if position == 0 or not pairs[position - 1]:
        return scores
    previous = history[:, position - 1]
    starts = (history[:, : position - 1] == previous[:, None]) & pairs[: position - 1]
    rows, cols = np.nonzero(starts)
    if len(rows) < WORD_LIMIT:
        return scores
    followers = history[rows, cols + 1]
    keys, counts = np.unique(rows * scores.shape[1] + followers, return_counts=True)
    blocked_rows, blocked_ids = np.divmod(keys[counts >= WORD_LIMIT], scores.shape[1])
    if len(blocked_rows) == 0:
        return scores
    guarded = scores.copy()
    guarded[blocked_rows, blocked_ids] = -np.inf
    left = np.isfinite(guarded).any(axis=1)
    return np.where(left[:, None], guarded, scores)


def position_scores(logits, position, history, allowed, bias, pairs):
    """The sampler's input at `position`: (biased logits [B, V] float32, masked and guarded scores)."""
    full = biased(logits, position, history, bias)
    return full, guard_words(mask_logits(full, allowed), position, history, pairs)
