"""Training promises on the paths the main tests do not take: validation with ranks that hold no
poem of a form, a form too small to train, the largest seed on two ranks, no float64 on the
device, the fp16 refusal, counters that survive a resume, export's mode, a process group that
forms within train.dist_timeout_s or ends the run with one line, and scripts/gpu_check.py's CPU
part. Exactness at every dropout is in test_training_exactness.py."""

import json
import math
import socket
import time
from datetime import timedelta

import pytest
import torch
from test_training import TINY, tiny, two_ranks
from torch.overrides import TorchFunctionMode

from conftest import assert_clean_error, run_script
from poemnet.common import corpus
from poemnet.common.errors import UserError
from poemnet.common.vocab import Vocab
from poemnet.training import artifact, checkpoint, onnx_export, trainer
from poemnet.training.batches import load_data, loss_sums
from poemnet.training.model import PoemLSTM

pytestmark = pytest.mark.slow  # training runs and launched processes


def strict_json(text):
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


# ---- items 3 and 6: a form with one validation poem, a form too small to train, the largest seed --


def mixed_corpus(path, train_poems, val_poems, val_fraction=0.05):
    """The embedded 五绝 plus 七绝 stitched from them: `train_poems` in the training split and
    `val_poems` in validation (the split hashes the text)."""
    wujue = corpus.load()
    qijue = {False: [], True: []}
    for p in wujue:
        a, b, c, d = p.text[0:5], p.text[6:11], p.text[12:17], p.text[18:23]
        text = f"{a}{b[:2]}，{b}{c[:2]}。{c}{d[:2]}，{d}{a[:2]}。"
        qijue[corpus.is_validation(text, val_fraction)].append({**p.__dict__, "text": text, "form": "七绝"})
    rows = [p.__dict__ for p in wujue] + qijue[False][:train_poems] + qijue[True][:val_poems]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_two_ranks_with_one_validation_poem_of_an_untrainable_form_and_the_largest_seed(tmp_path):
    data = mixed_corpus(tmp_path / "mixed.jsonl", train_poems=10, val_poems=1)  # 10 < global batch 16
    run = tmp_path / "run"
    result = two_ranks(
        "train_dist.py",
        *("--config", TINY, "--set", f"data.corpus={data}", "--set", "train.max_steps=2"),
        *("--set", "train.batch_size=8", "--set", "train.eval_every=2", "--set", "train.log_every=1"),
        *("--set", f"train.seed={2**32 - 1}", "--set", "train.num_samples=0", "--set", f"output.dir={run}"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "note: 七绝 not trained: fewer training poems than a global batch of 16" in result.stdout + result.stderr
    final = strict_json((run / "final" / "metrics.json").read_text())
    assert final["forms"] == ["五绝"] and math.isfinite(final["val_loss"])
    for line in (run / "metrics.jsonl").read_text().splitlines():
        assert all(not isinstance(v, float) or math.isfinite(v) for v in strict_json(line).values())
    # rank 1 held no 七绝: the two ranks' sums still make the loss one process computes over the split
    trained = artifact.read(run / "final")
    val = load_data(trained.cfg.data).val
    assert len(val["七绝"]) == 1
    sums = loss_sums(trained.model, val, "cpu")
    expected = sum(s for s, _ in sums.values()) / sum(n for _, n in sums.values())
    assert final["val_loss"] == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("train.seed=-1", "train.seed must be in [0, 2**32)"),
        (f"train.seed={2**32}", "train.seed must be in [0, 2**32)"),
        ("train.dist_timeout_s=0", "train.dist_timeout_s must be >= 1"),
    ],
)
def test_out_of_range_seeds_and_timeouts_are_one_line(override, fragment):
    assert_clean_error(run_script("train_dist.py", "--config", TINY, "--set", override), fragment)


def test_nan_and_infinities_never_reach_json():
    cleaned = artifact.finite_json({"val_loss": float("nan"), "more": [float("inf"), 1.5], "n": 3})
    assert cleaned == {"val_loss": None, "more": [None, 1.5], "n": 3}
    json.dumps(cleaned, allow_nan=False)


# ---- items 4, 5, 7: validation without float64, the fp16 refusal, counters --------------------


class Float64Watch(TorchFunctionMode):
    """Records every torch call that returns a float64 tensor (Apple GPUs have no float64)."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for value in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(value, torch.Tensor) and value.dtype == torch.float64:
                self.seen.append(getattr(func, "__name__", str(func)))
        return out


def test_validation_makes_no_float64_tensor(tmp_path):
    cfg = tiny(tmp_path)
    run = trainer.Trainer(cfg, trainer.make_accelerator(cfg))
    with Float64Watch() as watch:
        metrics = run.validate()
    assert watch.seen == [] and math.isfinite(metrics["val_loss"])


def fake_accelerator(made, device, scaler):
    class FakeAccelerator:
        def __init__(self, **kwargs):
            made.append(kwargs)
            self.device, self.scaler, self.num_processes = torch.device(device), scaler, 1

    return FakeAccelerator


def test_fp16_is_refused_exactly_where_the_accelerator_has_no_loss_scaler(tmp_path, monkeypatch):
    cfg = tiny(tmp_path, "train.mixed_precision=fp16")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a GPU machine, with ACCELERATE_USE_CPU=true
    monkeypatch.setattr(trainer, "Accelerator", fake_accelerator([], "cpu", scaler=None))
    with pytest.raises(UserError, match="fp16 on cpu would silently train in fp32"):
        trainer.make_accelerator(cfg)
    monkeypatch.setattr(trainer, "Accelerator", fake_accelerator([], "mps", scaler=object()))  # accelerate scales there
    assert trainer.make_accelerator(cfg).device.type == "mps"


def test_a_short_dist_timeout_reaches_the_process_group_setup(tmp_path, monkeypatch):
    made = []
    monkeypatch.setattr(trainer, "Accelerator", fake_accelerator(made, "cpu", scaler=None))
    trainer.make_accelerator(tiny(tmp_path, "train.dist_timeout_s=5"))
    (handler,) = made[0]["kwargs_handlers"]
    assert isinstance(handler, trainer.InitProcessGroupKwargs) and handler.timeout == timedelta(seconds=5)


def test_a_checkpoint_keeps_the_skipped_steps_and_the_tokens_seen(tmp_path):
    cfg = tiny(tmp_path, "train.max_steps=4")
    first = trainer.Trainer(cfg, trainer.make_accelerator(cfg))
    first.step, first.tokens_seen, first.skipped_steps = 3, 12345, 2
    first.save_checkpoint()
    second = trainer.Trainer(cfg, trainer.make_accelerator(cfg))
    second.resume(checkpoint.latest_valid(first.ckpt_root))
    assert (second.step, second.tokens_seen, second.skipped_steps) == (3, 12345, 2)


# ---- item 8: export leaves the caller's model as it was ---------------------------------------


@pytest.mark.parametrize("training", [True, False])
def test_export_hands_the_model_back_in_the_mode_it_came_in(tmp_path, training):
    vocab = Vocab.build([p.text for p in corpus.load()], min_count=50)
    model = PoemLSTM(len(vocab), 8, 16, dropout=0.3).train(training)
    props = onnx_export.metadata(model, vocab, ["五绝"], "simplified", "0" * 64)
    onnx_export.export(model, props, tmp_path / "m.onnx")
    assert all(m.training == training for m in model.modules())


# ---- item 9: a process group that cannot form; a worker that torchrun restarts ---------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_rank_whose_peer_never_comes_stops_after_dist_timeout_s_with_one_line(tmp_path):
    env = {"ACCELERATE_USE_CPU": "true", "WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0", "LOCAL_WORLD_SIZE": "2"}
    env.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port())})
    started = time.time()
    args = ("--config", TINY, "--set", "train.dist_timeout_s=2", "--set", f"output.dir={tmp_path}")
    result = run_script("train_dist.py", *args, env=env, timeout=120)
    assert time.time() - started < 60
    assert_clean_error(result, "could not form a process group", "train.dist_timeout_s=2", "--resume auto")


def test_gpu_check_runs_its_cpu_part_and_refuses_a_gpu_check_without_a_gpu(tmp_path):
    args = ("scripts/gpu_check.py", "--device", "cpu", "--config", TINY, "--out", tmp_path)
    result = run_script(*args, "--checks", "dtypes")
    assert result.returncode == 0, result.stderr[-2000:]
    (row,) = json.loads((tmp_path / "gpu_check.json").read_text())["dtypes"]
    assert row["ok"] and row["seen"] == ["bfloat16"] * 3 and row["record"]["lstm_dtype"] == "bfloat16"
    assert_clean_error(run_script(*args, "--checks", "speed"), "the speed check needs a GPU")
