"""Training data with 词: the config options, the vocabulary's 词牌 tokens, the pool of every 词
cut into batches of similar length, and a schedule whose loss stays exact for N processes x B = 1 x NB."""

import pytest
import torch
from ci_model import CI_FORMS

from conftest import ROOT
from poemnet.common import corpus, form_data
from poemnet.common.errors import UserError
from poemnet.training.batches import (
    CI_BUCKET,
    IGNORE,
    BatchSchedule,
    epoch_batches,
    inputs_and_targets,
    load_data,
    row_lengths,
)
from poemnet.training.config import load_config

CI_SET = ["data.ci_corpus=embedded", f"data.ci_forms=[{','.join(CI_FORMS)}]"]


@pytest.fixture(scope="module")
def data():
    return load_data(load_config(ROOT / "configs" / "tiny.yaml", CI_SET).data)


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        (["data.ci_corpus=embedded", "data.ci_forms=[惜奴娇]"], "惜奴娇 is not a supported 词牌"),
        (["data.ci_forms=[浣溪沙]"], "set data.ci_corpus too"),
        (["data.ci_corpus=embedded", "data.ci_forms=[五绝]"], "五绝 is not a supported 词牌"),
    ],
)
def test_bad_ci_options_are_one_line_errors(overrides, fragment):
    with pytest.raises(UserError, match=fragment):
        load_config(ROOT / "configs" / "tiny.yaml", overrides)


def test_the_ci_train_beside_the_shi_with_a_token_per_cipai(data):
    cipai = [name for name in form_data.supported_cipai() if name in CI_FORMS]
    assert data.forms == ["五绝", *cipai]
    assert data.vocab.form_names == ["五绝", "七绝", "五律", "七律", *cipai]
    poems = [p for p in corpus.load(corpus.resolve_ci("embedded")) if p.form in CI_FORMS]
    train, val = corpus.split(poems, 0.05)
    assert sorted(data.train) == sorted([CI_BUCKET, "五绝"]) and len(data.train[CI_BUCKET]) == len(train)
    assert sum(len(data.val[f]) for f in CI_FORMS) == len(val)
    _, targets = inputs_and_targets(data.train[CI_BUCKET])  # every row: its poem and <eos>, whatever its layout
    assert sorted((targets != IGNORE).sum(dim=1).tolist()) == sorted(len(p.text) + 1 for p in train)
    forms = {data.vocab.tokens[t][1:-1] for t in data.train[CI_BUCKET][:, 1].tolist()}
    assert forms == data.bucket_forms[CI_BUCKET] == set(CI_FORMS)
    variant = [p for p in train if not form_data.form_named(p.form).matches(p.text)]
    assert variant  # variant layouts are in the pool too
    _, targets = inputs_and_targets(data.val["水调歌头"])  # padded validation rows: only their own targets
    lengths = sorted(len(p.text) + 1 for p in val if p.form == "水调歌头")
    assert sorted((targets != IGNORE).sum(dim=1).tolist()) == lengths


def test_the_schedule_is_exact_across_processes_and_accumulation(data):
    nb = 64
    whole = BatchSchedule(data.train, nb, 7, 1, 0, 1)
    split_up = [BatchSchedule(data.train, nb, 7, 2, rank, 4) for rank in range(4)]
    assert whole.steps_per_epoch == split_up[0].steps_per_epoch
    keys, ci_rows, padding, tokens = set(), [], [], 0
    for step in range(whole.steps_per_epoch):
        rows, seeds = whole.micro_batch(step, 0)
        parts = [s.micro_batch(step, micro) for micro in range(2) for s in split_up]  # micro-major, then rank
        assert torch.equal(torch.cat([p[0] for p in parts]), rows) and [x for p in parts for x in p[1]] == seeds
        _, targets = inputs_and_targets(rows)
        assert whole.step_targets(step) == (targets != IGNORE).sum() == split_up[3].step_targets(step)
        key, indices = whole._epoch[1][step]
        keys.add(key)
        if key == CI_BUCKET:
            ci_rows += indices.tolist()
            padding.append(int((rows == data.vocab.pad_id).sum()))
            tokens += rows.numel()
        assert (rows[:, -1] != data.vocab.pad_id).any()  # no column of padding alone
    assert keys == {"五绝", CI_BUCKET} and data.forms_in(whole.trained_forms()) == data.forms
    pool = len(data.train[CI_BUCKET])
    assert len(set(ci_rows)) == len(ci_rows) > pool - nb  # every 词 trains, but for one batch's remainder
    assert sum(padding) < 0.1 * tokens  # batches of similar lengths: little padding overall


def test_the_remainder_of_the_ci_pool_is_drawn_at_random_so_the_longest_ci_train_too(data):
    """Cut after the length sort, the remainder would be the longest 词 in every epoch."""
    lengths = {key: row_lengths(tokens) for key, tokens in data.train.items()}
    pool, nb, seen = len(data.train[CI_BUCKET]), 64, set()
    assert pool % nb  # there is a remainder to drop
    for epoch in range(4):
        rows = [r for key, idx in epoch_batches(data.train, nb, 7, epoch, lengths) if key == CI_BUCKET for r in idx]
        assert len(rows) == pool - pool % nb
        seen.update(rows)
    assert seen == set(range(pool))  # every 词 trained within four epochs, the longest included


def test_the_loss_is_the_global_batch_mean_however_it_is_split(data):
    """The trainer divides each micro-batch's summed loss by the global batch's targets: the parts
    of 4 ranks x 2 micro-batches add up to the mean over the whole batch, rows of unequal length
    included (a 词 batch)."""
    import torch.nn.functional as F

    nb, whole = 64, BatchSchedule(data.train, 64, 7, 1, 0, 1)
    split_up = [BatchSchedule(data.train, nb, 7, 2, rank, 4) for rank in range(4)]
    step = next(s for s in range(whole.steps_per_epoch) if whole._global_rows(s)[0] == CI_BUCKET)
    emb = torch.randn(len(data.vocab), len(data.vocab), generator=torch.Generator().manual_seed(0))

    def summed(tokens):
        inputs, targets = inputs_and_targets(tokens)
        return F.cross_entropy(emb[inputs].reshape(-1, len(data.vocab)), targets.reshape(-1), reduction="sum")

    rows, _ = whole.micro_batch(step, 0)
    inputs, targets = inputs_and_targets(rows)
    mean = F.cross_entropy(emb[inputs].reshape(-1, len(data.vocab)), targets.reshape(-1), ignore_index=IGNORE)
    parts = sum(summed(s.micro_batch(step, m)[0]) / s.step_targets(step) for m in range(2) for s in split_up)
    assert torch.allclose(parts, mean) and (targets != IGNORE).sum(dim=1).unique().numel() > 1
