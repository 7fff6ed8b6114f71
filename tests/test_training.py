import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from conftest import ROOT, assert_clean_error, run_script
from poemnet.common.errors import UserError
from poemnet.training import checkpoint
from poemnet.training.config import load_config
from poemnet.training.trainer import Trainer, TrainingDiverged, train

pytestmark = pytest.mark.slow  # training runs, launched processes, a browser: left out of make test-fast

TINY = ROOT / "configs" / "tiny.yaml"


def tiny(run_dir, *overrides):
    return load_config(TINY, [f"output.dir={run_dir}", "train.num_samples=0", *overrides])


def weights(folder):
    return load_file(os.path.join(folder, "model.safetensors"))


def assert_same_weights(a, b, atol):
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=atol, msg=key)


def test_tiny_learns_well_below_the_uniform_baseline(tiny_run):
    import json

    metrics = json.loads((tiny_run[1] / "metrics.json").read_text())
    uniform = math.log(metrics["vocab_size"])
    assert metrics["val_loss"] < 0.8 * uniform, (metrics, uniform)
    assert sorted(p.name for p in tiny_run[1].iterdir()) == [
        "config.yaml",
        "metrics.json",
        "model.safetensors",
        "vocab.json",
    ]


def test_a_damaged_checkpoint_is_skipped_for_the_previous_one(tmp_path, capsys):
    cfg = tiny(tmp_path, "train.max_steps=6", "train.ckpt_every=2", "train.keep_last=3")
    train(cfg, stop_after=4)
    newest = tmp_path / "checkpoints" / "step-0000004"
    model_file = newest / "model.safetensors"
    model_file.write_bytes(model_file.read_bytes()[:1000])  # truncated, as a crash mid-write could leave it
    (tmp_path / "checkpoints" / ".partial-step-0000005").mkdir()  # an unsealed write: never a candidate
    trainer = Trainer(cfg, __import__("poemnet.training.trainer", fromlist=["x"]).make_accelerator(cfg))
    folder = checkpoint.resolve_resume("auto", trainer.ckpt_root)
    assert folder.name == "step-0000002"
    assert "skipping damaged checkpoint" in capsys.readouterr().out


def test_a_killed_run_resumes_from_its_last_complete_checkpoint(tmp_path):
    args = [
        sys.executable,
        "train_dist.py",
        "--config",
        str(TINY),
        "--set",
        "train.max_steps=300",
        "--set",
        "train.ckpt_every=3",
        "--set",
        "train.eval_every=1000",
        "--set",
        "train.num_samples=0",
        "--set",
        f"output.dir={tmp_path}",
    ]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (tmp_path / "checkpoints" / "step-0000009").exists():
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    resumed = run_script("train_dist.py", *args[2:], "--resume", "auto")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    out = resumed.stdout + resumed.stderr
    step = int(out.split("resumed from ")[1].split(" at step ")[1].split()[0])
    assert step >= 9 and (tmp_path / "final" / "model.safetensors").exists()


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    cfg = tiny(tmp_path, "train.max_steps=10", "train.ckpt_every=2")
    real_loss = Trainer.loss_sum

    def poisoned(self, tokens, row_seeds):
        loss = real_loss(self, tokens, row_seeds)
        return loss * float("nan") if self.step == 5 and self.model.training else loss

    monkeypatch.setattr(Trainer, "loss_sum", poisoned)
    with pytest.raises(TrainingDiverged, match="gradient norm became nan at step 5.*step-0000004"):
        train(cfg)
    last = checkpoint.latest_valid(tmp_path / "checkpoints")
    assert last.name == "step-0000004"
    assert all(torch.isfinite(t).all() for t in weights(last).values())


def test_world_size_without_a_process_group_is_refused():
    result = run_script(
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "train_dist.py",
        "--config",
        TINY,
        env={"ACCELERATE_USE_CPU": None},
    )
    assert result.returncode != 0
    # each rank prints our one-line error; the traceback that follows is torchrun's own report
    assert result.stderr.count("error: WORLD_SIZE=2 but accelerate runs 1 process") == 2, result.stderr
    assert "ACCELERATE_USE_CPU=true" in result.stderr and "poemnet/" not in result.stderr


def test_fp16_on_cpu_is_refused(tmp_path):
    result = run_script(
        "train_dist.py", "--config", TINY, "--set", "train.mixed_precision=fp16", "--set", f"output.dir={tmp_path}"
    )
    assert_clean_error(result, "fp16 on cpu would silently train in fp32")
    assert not (tmp_path / "checkpoints").exists()


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("train.lrr=1", "unknown config key train.lrr"),
        ("train.batch_size=many", "train.batch_size must be int"),
        ("model.dropout=1.5", "model.dropout must be in [0, 1)"),
        ("data.forms=[宋词]", "data.forms"),
        ("output.dir=yes", "output.dir must be a string; YAML read True"),
        ("train.mixed_precision=fp8", "train.mixed_precision must be no, bf16, fp16 or null"),
    ],
)
def test_config_errors_are_one_line_and_exit_2(override, fragment):
    assert_clean_error(run_script("train_dist.py", "--config", TINY, "--set", override), fragment)


def test_logs_go_to_metrics_jsonl_and_tensorboard(tmp_path):
    import json

    train(tiny(tmp_path, "train.max_steps=4", "train.log_every=2", "train.eval_every=4", "output.tensorboard=true"))
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "loss" in r] == [2, 4]
    assert [r["step"] for r in records if "val_loss" in r] == [4]
    assert list((tmp_path / "tensorboard").rglob("events.out.tfevents.*"))
    assert (tmp_path / "config.yaml").read_text() == (tmp_path / "final" / "config.yaml").read_text()


def test_a_bare_yaml_no_means_no_mixed_precision(tmp_path):
    assert tiny(tmp_path, "train.mixed_precision=no").train.mixed_precision == "no"


def test_floats_written_without_a_dot_are_floats_and_other_strings_are_not(tmp_path):
    config = tiny(tmp_path, "train.lr=3e-4", "train.min_lr=1E-5", "model.dropout=+2.5e-1")
    assert (config.train.lr, config.train.min_lr, config.model.dropout) == (3e-4, 1e-5, 0.25)
    for text in ("3e", "e-4", "three", "1e-4x", "１e-4", "nan"):
        with pytest.raises(UserError, match="train.lr must be float"):
            tiny(tmp_path, f"train.lr={text}")
    for text in ("1e400", ".inf", "-.inf", ".nan", "1" + "0" * 400):
        with pytest.raises(UserError, match="train.weight_decay must be a finite number"):
            tiny(tmp_path, f"train.weight_decay={text}")


def test_a_second_fresh_run_into_the_same_folder_is_refused_and_a_mismatched_resume_too(tmp_path):
    train(tiny(tmp_path, "train.max_steps=2"))
    config_before = (tmp_path / "config.yaml").read_text()
    with pytest.raises(UserError, match="checkpoints of an earlier run: pass --resume auto"):
        train(tiny(tmp_path, "train.max_steps=2", "train.lr=0.5"))
    assert (tmp_path / "config.yaml").read_text() == config_before
    with pytest.raises(UserError, match="does not fit this config's model"):
        train(tiny(tmp_path, "train.max_steps=4", "model.hidden_dim=48"), resume="auto")


def test_a_resume_that_would_train_other_poems_is_refused_and_leaves_the_folder_as_it_was(tmp_path):
    train(tiny(tmp_path, "train.max_steps=2"))
    config_before = (tmp_path / "config.yaml").read_text()
    with pytest.raises(UserError, match="other poems than this run trains at step 2"):
        train(tiny(tmp_path, "train.max_steps=4", "train.seed=2"), resume="auto")
    with pytest.raises(UserError, match="does not fit this config's model"):
        train(tiny(tmp_path, "train.max_steps=4", "model.hidden_dim=48"), resume="auto")
    assert (tmp_path / "config.yaml").read_text() == config_before
    train(tiny(tmp_path, "train.max_steps=4", "train.lr=0.01"), resume="auto")  # the same poems: resumes
    assert "lr: 0.01" in (tmp_path / "config.yaml").read_text()


def test_a_resume_that_would_title_other_rows_is_refused(tmp_path):
    train(tiny(tmp_path, "train.max_steps=2", "data.title_share=0.3"))
    with pytest.raises(UserError, match="other poems than this run trains at step 2"):
        train(tiny(tmp_path, "train.max_steps=4", "data.title_share=0.9"), resume="auto")
    train(tiny(tmp_path, "train.max_steps=4", "data.title_share=0.3"), resume="auto")


def test_accelerate_launch_with_the_multi_cpu_config_runs_two_ranks(tmp_path):
    result = run_script(
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        ROOT / "configs" / "accelerate" / "multi_cpu.yaml",
        "train_dist.py",
        "--config",
        TINY,
        "--set",
        "train.max_steps=2",
        "--set",
        "train.num_samples=0",
        "--set",
        f"output.dir={tmp_path}",
        env={"ACCELERATE_USE_CPU": "true"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 process(es), DistributedType.MULTI_CPU" in result.stdout + result.stderr
    assert (tmp_path / "final" / "model.safetensors").exists()


def two_ranks(*args, timeout=300):
    return run_script(
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        *args,
        env={"ACCELERATE_USE_CPU": "true"},
        timeout=timeout,
    )


def test_a_checkpoint_one_rank_cannot_read_stops_both_ranks_with_one_message(tmp_path):
    common = [
        "--config",
        TINY,
        "--set",
        "train.max_steps=4",
        "--set",
        "train.num_samples=0",
        "--set",
        f"output.dir={tmp_path}",
    ]
    assert two_ranks("train_dist.py", *common, "--stop-after", "2").returncode == 0
    started = time.time()
    result = two_ranks("tests/rank_disagreement.py", *common, "--resume", "auto", timeout=120)
    assert result.returncode != 0 and time.time() - started < 60
    assert result.stderr.count("error: ") >= 2 and result.stderr.count("is not visible on this machine") == 2, (
        result.stderr
    )


def test_a_kill_inside_a_checkpoint_write_leaves_the_previous_one_and_no_leftovers(tmp_path):
    script = (
        "import os, signal, sys; sys.path.insert(0, '.'); from poemnet.training import checkpoint\n"
        "real = checkpoint.save_file\n"
        "def dying(tensors, path):\n"
        "    if 'step-0000006' in str(path) and str(path).endswith('model.safetensors'):\n"
        "        open(path, 'wb').write(b'half a file'); os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return real(tensors, path)\n"
        "checkpoint.save_file = dying\n"
        "from train_dist import main; main(sys.argv[1:])\n"
    )
    args = [
        "--config",
        TINY,
        "--set",
        "train.max_steps=8",
        "--set",
        "train.ckpt_every=3",
        "--set",
        "train.num_samples=0",
        "--set",
        "train.eval_every=8",
        "--set",
        f"output.dir={tmp_path}",
    ]
    killed = run_script("-c", script, *args)
    assert killed.returncode == -signal.SIGKILL
    assert (tmp_path / "checkpoints" / ".partial-step-0000006" / "model.safetensors").exists()
    assert checkpoint.latest_valid(tmp_path / "checkpoints").name == "step-0000003"
    resumed = run_script("train_dist.py", *args, "--resume", "auto")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed from" in resumed.stdout + resumed.stderr and (tmp_path / "final" / "model.safetensors").exists()
    assert not list((tmp_path / "checkpoints").glob(".partial-*"))


def test_a_reused_partial_folder_is_emptied_before_writing(tmp_path):
    stale = checkpoint.partial_dir(tmp_path / "checkpoints", 2)
    stale.mkdir(parents=True)
    (stale / "leftover.bin").write_bytes(b"from a killed run")
    train(tiny(tmp_path, "train.max_steps=2", "train.ckpt_every=2"))
    manifest = json.loads((tmp_path / "checkpoints" / "step-0000002" / "checkpoint.json").read_text())
    assert "leftover.bin" not in manifest["files"]


def test_resuming_an_older_checkpoint_abandons_the_newer_branch(tmp_path, capsys):
    cfg = tiny(tmp_path, "train.max_steps=8", "train.ckpt_every=2", "train.keep_last=3")
    train(cfg, stop_after=6)
    root = tmp_path / "checkpoints"
    assert [p.name for p in checkpoint.list_checkpoints(root)] == ["step-0000002", "step-0000004", "step-0000006"]
    with pytest.raises(UserError, match="other poems"):  # refused: the newer branch stays where it was
        train(tiny(tmp_path, "train.max_steps=8", "train.seed=2"), resume=str(root / "step-0000002"))
    assert [p.name for p in checkpoint.list_checkpoints(root)] == ["step-0000002", "step-0000004", "step-0000006"]
    train(cfg, resume=str(root / "step-0000002"), stop_after=2)
    assert [p.name for p in checkpoint.list_checkpoints(root)] == ["step-0000002", "step-0000004"]
    assert (root / "abandoned" / "step-0000006").is_dir() and "moved to" in capsys.readouterr().out
    assert checkpoint.latest_valid(root).name == "step-0000004"


def test_nan_gradients_with_a_finite_loss_never_reach_the_weights(tmp_path, monkeypatch):
    cfg = tiny(tmp_path, "train.max_steps=10", "train.ckpt_every=2")
    real_backward = Trainer.optimizer_step

    def poisoned(self):
        if self.step == 5:
            next(self.model.parameters()).grad[0, 0] = float("nan")
        return real_backward(self)

    monkeypatch.setattr(Trainer, "optimizer_step", poisoned)
    with pytest.raises(TrainingDiverged, match="gradient norm became nan at step 5"):
        train(cfg)
    assert all(torch.isfinite(t).all() for t in weights(checkpoint.latest_valid(tmp_path / "checkpoints")).values())


def test_the_learning_rate_schedule_warms_up_then_follows_the_cosine():
    from poemnet.training.trainer import lr_at

    t = load_config(TINY, ["train.lr=1.0", "train.min_lr=0.1", "train.warmup_steps=4"]).train
    assert [lr_at(s, 104, t) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert (
        lr_at(4, 104, t) == 1.0
        and lr_at(54, 104, t) == pytest.approx(0.55)
        and lr_at(104, 104, t) == pytest.approx(0.1)
    )


def test_a_short_bf16_run_on_cpu_trains_with_bf16_compute(tmp_path):
    result = run_script(
        "train_dist.py",
        "--config",
        TINY,
        "--set",
        "train.max_steps=4",
        "--set",
        "train.mixed_precision=bf16",
        "--set",
        "train.num_samples=0",
        "--set",
        f"output.dir={tmp_path}",
    )  # its own process: accelerate's state is global
    assert result.returncode == 0, result.stderr[-2000:]
    final = tmp_path / "final"
    metrics = json.loads((final / "metrics.json").read_text())
    assert metrics["precision"]["lstm_dtype"] == "bfloat16" and metrics["precision"]["head_dtype"] == "bfloat16"
    assert math.isfinite(metrics["val_loss"]) and all(torch.isfinite(t).all() for t in weights(final).values())


def test_the_lstm_runs_in_fp32_when_autocast_would_give_it_another_dtype(monkeypatch):
    from poemnet.training import precision
    from poemnet.training.model import PoemLSTM

    assert not precision.lstm_needs_fp32("bf16", "bfloat16") and precision.lstm_needs_fp32("bf16", "float16")
    assert not precision.lstm_needs_fp32("no", "float32") and not precision.lstm_needs_fp32("fp16", "float16")
    model, tokens = PoemLSTM(50, 8, 16), torch.randint(0, 50, (2, 7))
    bf16 = lambda: torch.autocast("cpu", dtype=torch.bfloat16)  # noqa: E731
    honest = precision.decide(model, bf16, tokens, "bf16")
    assert not honest["lstm_outside_autocast"] and honest["lstm_dtype"] == "bfloat16"
    # what cuDNN's autocast wrapper does on a GPU: the LSTM comes out fp16 although bf16 was asked for
    # (CPU kernels have no fp16 LSTM, so the first probe's reading is staged; the second probe is real)
    real, probes = precision.dtypes_seen, []

    def first_probe_sees_fp16(*args):
        probes.append(1)
        return {"lstm": "float16", "head": "bfloat16"} if len(probes) == 1 else real(*args)

    monkeypatch.setattr(precision, "dtypes_seen", first_probe_sees_fp16)
    record = precision.decide(model, bf16, tokens, "bf16")
    assert record["autocast_lstm_dtype"] == "float16" and record["lstm_outside_autocast"] and model.lstm_fp32
    assert record["lstm_dtype"] == "float32" and record["head_dtype"] == "bfloat16"


def test_the_tiny_model_beats_a_unigram_model_clearly(tiny_run):
    from collections import Counter

    from poemnet.training.batches import IGNORE, inputs_and_targets, load_data

    metrics = json.loads((tiny_run[1] / "metrics.json").read_text())
    data = load_data(load_config(tiny_run[1] / "config.yaml").data)
    counts = Counter()
    for tokens in data.train.values():
        counts.update(inputs_and_targets(tokens)[1][:, 1:].flatten().tolist())
    total = sum(counts.values())
    val_targets = torch.cat([inputs_and_targets(t)[1].flatten() for t in data.val.values()])
    val_targets = val_targets[val_targets != IGNORE].tolist()
    unigram = -sum(math.log(max(counts[t], 1) / total) for t in val_targets) / len(val_targets)
    assert metrics["val_loss"] < unigram - 0.25, (metrics["val_loss"], unigram)
