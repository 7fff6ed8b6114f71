"""Training data with 词: the config options, the vocabulary's 词牌 tokens, the length buckets whose
rows share their number of targets, and a schedule that stays exact for N processes x B = 1 x NB."""

import pytest
import torch
from ci_model import CI_FORMS

from conftest import ROOT
from poemnet.common import corpus, form_data
from poemnet.common.errors import UserError
from poemnet.training.batches import CI_BUCKET, IGNORE, BatchSchedule, inputs_and_targets, load_data, untrained_ci
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
    ci_keys = [k for k in data.train if k.startswith(CI_BUCKET + " ")]
    assert sum(len(data.train[k]) for k in ci_keys) == len(train)
    assert sum(len(data.val[f]) for f in CI_FORMS) == len(val) and "五绝" in data.train
    for key in ci_keys:  # one length per bucket: every row has len + 1 targets (the poem and <eos>)
        _, targets = inputs_and_targets(data.train[key])
        assert ((targets != IGNORE).sum(dim=1) == int(key.split()[1]) + 1).all(), key
        forms = {data.vocab.tokens[t][1:-1] for t in data.train[key][:, 1].tolist()}
        assert forms == data.bucket_forms[key] and forms <= set(CI_FORMS)
    variant = [p for p in train if not form_data.form_named(p.form).matches(p.text)]
    assert variant and all(f"{CI_BUCKET} {len(p.text)}" in data.train for p in variant)  # variant layouts train
    _, targets = inputs_and_targets(data.val["水调歌头"])  # padded validation rows: only their own targets
    lengths = sorted(len(p.text) + 1 for p in val if p.form == "水调歌头")
    assert sorted((targets != IGNORE).sum(dim=1).tolist()) == lengths


def test_the_schedule_is_exact_across_processes_and_accumulation(data):
    nb = 64
    whole = BatchSchedule(data.train, nb, 7, 1, 0, 1)
    split_up = [BatchSchedule(data.train, nb, 7, 2, rank, 4) for rank in range(4)]
    assert whole.steps_per_epoch == split_up[0].steps_per_epoch
    buckets = set()
    for step in range(0, whole.steps_per_epoch, 3):
        rows, seeds = whole.micro_batch(step, 0)
        parts = [s.micro_batch(step, micro) for micro in range(2) for s in split_up]  # micro-major, then rank
        assert torch.equal(torch.cat([p[0] for p in parts]), rows) and [x for p in parts for x in p[1]] == seeds
        buckets.add(whole._epoch[1][step][0])
    assert "五绝" in buckets and any(b.startswith(CI_BUCKET) for b in buckets)
    left, total = untrained_ci(data, whole.trained_forms())
    sizes = {k: len(v) for k, v in data.train.items() if k.startswith(CI_BUCKET)}
    assert left == sum(n for n in sizes.values() if n < nb) and total == sum(sizes.values())
    assert data.forms_in(whole.trained_forms()) == data.forms
