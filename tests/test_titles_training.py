"""Training with titles: a title is given, never a target; the draw of which rows get their title
depends on the step and the place in the global batch only."""

import json

import numpy as np
import pytest
import torch

from conftest import ROOT, run_script
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


@pytest.fixture(scope="module")
def titled_model(tmp_path_factory):
    """The tiny config trained with titles, exported: (artifact dir, fp32 model file)."""
    from poemnet.training.config import load_config
    from poemnet.training.trainer import train

    run_dir = tmp_path_factory.mktemp("titled")
    overrides = [f"output.dir={run_dir}", "train.max_steps=40", "train.num_samples=0", "data.title_share=0.5"]
    final = train(load_config(ROOT / "configs" / "tiny.yaml", overrides))
    result = run_script("export.py", "--artifact", final, "--out", run_dir / "titled.onnx")
    assert result.returncode == 0, result.stderr
    return final, run_dir / "titled.onnx"


@pytest.mark.slow
def test_a_model_trained_with_titles_reads_them_in_torch_and_onnxruntime_alike(titled_model):
    from poemnet.generation.generate import generate
    from poemnet.generation.request import Request, prepare, write
    from poemnet.generation.runtime import PoemModel
    from poemnet.generation.sampling import Sampling
    from poemnet.training import artifact
    from poemnet.training.model import numpy_step_fn

    onnx_model, trained = PoemModel(titled_model[1]), artifact.read(titled_model[0])
    assert onnx_model.vocab.title_end_id is not None
    title = next(t for t in ("春夜", "月", "山中", "送人") if all(ch in onnx_model.vocab.index for ch in t))
    prepared = prepare(onnx_model, Request(form="五绝", title=title, greedy=True, n=2))
    assert prepared.decoder.title[-1] == onnx_model.vocab.title_end_id  # the prefix reaches the loop
    titled = write(onnx_model, prepared)
    untitled = write(onnx_model, prepare(onnx_model, Request(form="五绝", greedy=True, n=2)))
    rules = prepared.decoder
    via_torch = generate(*numpy_step_fn(trained.model), trained.vocab, prepared.form, 2, rules, Sampling(greedy=True))
    assert via_torch == [p["text"] for p in titled]  # greedy parity with the title prefix
    logits = {}
    for name, ask in (("titled", prepared), ("untitled", prepare(onnx_model, Request(form="五绝", greedy=True)))):
        h, c = onnx_model.zero_state(1)
        for token in [onnx_model.vocab.bos_id, *ask.decoder.title, onnx_model.vocab.form_id("五绝")]:
            out, h, c = onnx_model.step(np.array([token]), h, c)
        logits[name] = out
    assert not np.allclose(logits["titled"], logits["untitled"])  # the title changes what comes next
    assert titled[0]["text"] and untitled[0]["text"]


@pytest.mark.slow
def test_evaluate_reports_titled_perplexity_topicality_and_titled_rows_for_a_titled_model(titled_model, tmp_path):
    out = tmp_path / "eval.json"
    result = run_script(
        "-m",
        "poemnet.evaluate",
        "--model",
        titled_model[1],
        "--artifact",
        titled_model[0],
        "--n",
        "8",
        "--presets",
        "plain",
        "all",
        "--titled",
        "6",
        "--topicality",
        "20",
        "--reference",
        "20",
        "--out",
        out,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["validation"]["五绝"]["val_ppl_titled"] > 1
    (row,) = report["topicality"]
    assert row["poems"] == 20 and 0 <= row["titled"] <= 1 and row["titled_se"] > 0
    assert "topicality 五绝 (20 held-out titles)" in result.stdout
    titled = {row["preset"]: row for row in report["rows"] if row["preset"].endswith(" + title")}
    assert sorted(titled) == ["all + title", "plain + title"] and titled["plain + title"]["poems"] == 6
    assert titled["all + title"]["format_valid"] == 1.0 and "| all + title |" in result.stdout
