"""Training with titles: a title is given, never a target; the draw of which rows get their title
depends on the step and the place in the global batch only."""

import numpy as np
import torch

from poemnet.common.vocab import Vocab
from poemnet.training.batches import IGNORE, BatchSchedule, inputs_and_targets, with_titles

VOCAB = Vocab.build(["春江花月夜，。"], titles=True)


def test_only_the_poem_and_eos_are_targets_with_a_title_or_without():
    plain = torch.tensor([[1, 4, 10, 11, 2], [1, 4, 12, 13, 2]])
    titled = with_titles(plain, [[20, 21], []], [True, True], VOCAB.pad_id, VOCAB.title_end_id)
    assert titled.tolist() == [[1, 20, 21, VOCAB.title_end_id, 4, 10, 11, 2], [1, 4, 12, 13, 2, 0, 0, 0]]
    _, targets = inputs_and_targets(titled, VOCAB.title_end_id)
    assert targets.tolist() == [[IGNORE] * 4 + [10, 11, 2], [IGNORE, 12, 13, 2, IGNORE, IGNORE, IGNORE]]
    assert (targets != IGNORE).sum(dim=1).tolist() == [3, 3]  # the same count per row: exact data parallelism
    assert inputs_and_targets(plain)[1].tolist() == [[IGNORE, 10, 11, 2], [IGNORE, 12, 13, 2]]


def unpadded(tokens):
    return [[t for t in row if t != VOCAB.pad_id] for row in tokens.tolist()]


def test_which_rows_get_their_title_does_not_depend_on_ranks_or_micro_batches():
    rng = np.random.default_rng(0)
    train = {"五绝": torch.tensor([[1, 4, 30 + i, 2] for i in range(64)])}
    titles = {"五绝": [list(rng.integers(40, 50, rng.integers(1, 5))) for _ in range(64)]}

    def rows(world, accum, step):
        out = []
        for micro in range(accum):
            for rank in range(world):
                schedule = BatchSchedule(train, 16, 7, accum, rank, world, titles, 0.5, VOCAB)
                out += unpadded(schedule.micro_batch(step, micro)[0])
        return out

    for step in range(3):
        one = rows(1, 1, step)
        assert one == rows(2, 1, step) == rows(2, 2, step)
        assert 0 < sum(VOCAB.title_end_id in r for r in one) < 16  # about half titled
