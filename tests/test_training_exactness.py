"""Exactness at every dropout: N ranks x B = one process x N*B = gradient accumulation, and a
resumed or restarted run = the uninterrupted one. Every dropout mask of a poem comes from the seed
of its place in the global batch (model.py, batches.py), never from a generator's running state
or cuDNN's."""

import json

import pytest
import torch
import torch.nn as nn
from safetensors.torch import save_file
from test_training import TINY, assert_same_weights, tiny, two_ranks, weights

from conftest import ROOT, run_script
from poemnet.common import corpus
from poemnet.common.vocab import Vocab
from poemnet.training import artifact, checkpoint
from poemnet.training.batches import BatchSchedule
from poemnet.training.model import PoemLSTM, dropout_masks
from poemnet.training.trainer import train

pytestmark = pytest.mark.slow  # training runs and launched processes


def logged(run_dir, key):
    """{step: value} of `key` in a run's metrics.jsonl."""
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r[key] for r in records if key in r}


def test_two_cpu_processes_match_one_process_with_twice_the_batch(tmp_path):
    common = [
        "--config",
        TINY,
        "--set",
        "train.max_steps=4",
        "--set",
        "train.num_samples=0",
        "--set",
        "train.eval_every=4",
        "--set",
        "train.log_every=1",
        "--set",
        "model.dropout=0.3",  # each poem's masks come from its place in the global batch, not from its rank
    ]
    two = two_ranks("train_dist.py", *common, "--set", "train.batch_size=8", "--set", f"output.dir={tmp_path / 'two'}")
    assert two.returncode == 0, two.stderr[-3000:]
    assert "2 process(es), DistributedType.MULTI_CPU" in two.stdout + two.stderr
    assert (tmp_path / "two" / "checkpoints" / "step-0000004" / "rng-rank1.safetensors").exists()
    one = run_script(
        "train_dist.py", *common, "--set", "train.batch_size=16", "--set", f"output.dir={tmp_path / 'one'}"
    )
    assert one.returncode == 0, one.stderr[-3000:]
    # gloo sums in another order than one big batch: float32 rounding, amplified by Adam (2.3e-6 seen after 4 steps)
    assert_same_weights(weights(tmp_path / "two" / "final"), weights(tmp_path / "one" / "final"), atol=2e-5)
    # the logged loss is the mean over both ranks' poems, as one process computes it over all of them
    two_losses, one_losses = logged(tmp_path / "two", "loss"), logged(tmp_path / "one", "loss")
    assert list(two_losses) == [1, 2, 3, 4] and two_losses == pytest.approx(one_losses, rel=0, abs=1e-5)


def test_resume_continues_exactly(tmp_path):
    dropout = "model.dropout=0.3"  # dropout draws random numbers: resume must draw the same ones
    train(tiny(tmp_path / "straight", "train.max_steps=8", "train.log_every=2", dropout))
    cfg = tiny(tmp_path / "halves", "train.max_steps=8", "train.log_every=2", dropout)
    assert train(cfg, stop_after=4) is None
    assert [p.name for p in checkpoint.list_checkpoints(tmp_path / "halves" / "checkpoints")] == ["step-0000004"]
    train(cfg, resume="auto")
    assert_same_weights(weights(tmp_path / "straight" / "final"), weights(tmp_path / "halves" / "final"), atol=0)
    # the counters continue from the checkpoint too
    straight, halves = logged(tmp_path / "straight", "tokens"), logged(tmp_path / "halves", "tokens")
    assert list(halves) == [2, 4, 6, 8] and halves == straight and halves[8] == 2 * halves[4]
    final = [json.loads((tmp_path / run / "final" / "metrics.json").read_text()) for run in ("straight", "halves")]
    assert final[0]["tokens_seen"] == final[1]["tokens_seen"] == halves[8]


def test_gradient_accumulation_matches_one_larger_batch(tmp_path):
    dropout = "model.dropout=0.3"  # each poem's masks come from its place in the global batch, not its micro-batch
    train(tiny(tmp_path / "accum", "train.max_steps=3", "train.batch_size=8", "train.grad_accum_steps=2", dropout))
    train(tiny(tmp_path / "big", "train.max_steps=3", "train.batch_size=16", dropout))
    assert_same_weights(weights(tmp_path / "accum" / "final"), weights(tmp_path / "big" / "final"), atol=2e-5)


# ---- item 1: no dropout inside cuDNN, no generator state behind a mask ---------------------------


def test_dropout_never_runs_inside_cudnn_and_depends_on_the_row_seeds_alone():
    model = PoemLSTM(60, 12, 20, num_layers=3, dropout=0.3).train()
    lstms = [m for m in model.modules() if isinstance(m, nn.LSTM)]
    assert len(lstms) == 3 and all(m.num_layers == 1 and m.dropout == 0 for m in lstms)
    tokens, seeds = torch.randint(0, 60, (4, 9)), [11, 12, 13, 14]
    torch.manual_seed(1)
    first = model(tokens, seeds)
    torch.manual_seed(2)
    before = torch.get_rng_state()
    second = model(tokens, seeds)
    assert torch.equal(first, second) and torch.equal(torch.get_rng_state(), before)
    assert not torch.allclose(first, model.eval()(tokens))  # and dropout did act


def test_every_dropout_site_keeps_its_mask_and_scales_by_one_over_the_keep_probability():
    torch.manual_seed(0)
    model = PoemLSTM(60, 12, 20, num_layers=2, dropout=0.3).train()
    tokens, seeds, seen = torch.randint(0, 60, (3, 7)), [5, 6, 7], {}
    for i, lstm in enumerate(model.lstm):
        lstm.register_forward_pre_hook(lambda _m, args, i=i: seen.__setitem__(f"in{i}", args[0]))
        lstm.register_forward_hook(lambda _m, _args, out, i=i: seen.__setitem__(f"out{i}", out[0]))
    model.head.register_forward_pre_hook(lambda _m, args: seen.__setitem__("in2", args[0]))
    model(tokens, seeds)
    masks = dropout_masks(seeds, 7, [12, 20, 20], 0.3, "cpu")
    for site, before in enumerate([model.embed(tokens), seen["out0"], seen["out1"]]):
        torch.testing.assert_close(seen[f"in{site}"], before * masks[site] / 0.7, rtol=0, atol=0)
    keep = torch.cat([m.flatten() for m in dropout_masks(range(64), 26, [32, 64, 64], 0.3, "cpu")])
    assert abs(keep.float().mean().item() - 0.7) < 0.005  # 266k draws: 5 standard deviations


def test_a_poems_masks_do_not_depend_on_the_batch_it_is_in():
    torch.manual_seed(0)
    model = PoemLSTM(60, 12, 20, dropout=0.3).train()
    tokens, seeds = torch.randint(0, 60, (6, 9)), [101, 102, 103, 104, 105, 106]
    together = model(tokens, seeds)
    for i in range(6):
        torch.testing.assert_close(model(tokens[i : i + 1], seeds[i : i + 1])[0], together[i], rtol=0, atol=1e-6)
    order = [5, 3, 1, 0, 2, 4]
    torch.testing.assert_close(model(tokens[order], [seeds[i] for i in order]), together[order], rtol=0, atol=1e-6)
    assert not torch.allclose(model(tokens[:1], [999])[0], together[0])


def test_step_and_eval_use_no_dropout():
    torch.manual_seed(0)
    model = PoemLSTM(60, 12, 20, dropout=0.5)
    tokens, h, c = torch.randint(0, 60, (3,)), torch.randn(2, 3, 20), torch.randn(2, 3, 20)
    for a, b in zip(model.train().step(tokens, h, c), model.eval().step(tokens, h, c)):
        assert torch.equal(a, b)
    batch = torch.randint(0, 60, (3, 5))
    assert torch.equal(model.eval()(batch, [1, 2, 3]), model(batch))


def stacked(vocab_size, embedding_dim, hidden_dim):
    """The model as it was before the layers were split: one 2-layer nn.LSTM, whose state-dict keys
    (lstm.weight_ih_l1, ...) the shipped model's artifact has. Returns (state dict, forward)."""
    torch.manual_seed(4)
    embed, head = nn.Embedding(vocab_size, embedding_dim), nn.Linear(hidden_dim, vocab_size)
    lstm = nn.LSTM(embedding_dim, hidden_dim, num_layers=2, batch_first=True)
    state = {"embed.weight": embed.weight, **{f"lstm.{k}": v for k, v in lstm.state_dict().items()}}
    state.update({"head.weight": head.weight, "head.bias": head.bias})
    return {k: v.detach().clone() for k, v in state.items()}, lambda tokens: head(lstm(embed(tokens))[0])


def test_weights_saved_with_the_stacked_lstm_load_into_the_split_layers(tmp_path):
    state, reference = stacked(60, 12, 20)
    model = PoemLSTM(60, 12, 20)
    model.load_state_dict(state)  # strict: every old key is renamed, none is missing
    # the same tensors in the same order: optimizer states of old checkpoints match by position
    assert all(torch.equal(a, b) for a, b in zip(state.values(), model.parameters()))
    tokens = torch.randint(0, 60, (3, 11))
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(tokens), reference(tokens), rtol=0, atol=1e-6)
    # an old final/ folder, read as export.py reads it
    cfg = tiny(tmp_path)
    vocab = Vocab.build([p.text for p in corpus.load()], min_count=50)
    folder = artifact.write(tmp_path, PoemLSTM.from_config(cfg.model, len(vocab)), cfg, vocab, {"forms": ["五绝"]})
    state, reference = stacked(len(vocab), cfg.model.embedding_dim, cfg.model.hidden_dim)
    save_file(state, folder / "model.safetensors")
    with torch.no_grad():
        torch.testing.assert_close(artifact.read(folder).model(tokens), reference(tokens), rtol=0, atol=1e-6)


# ---- item 2: one seed per place of the global batch, whatever the layout -----------------------


def test_each_place_of_a_global_batch_gets_the_same_poem_and_seed_in_every_layout():
    data = {"五绝": torch.arange(200 * 5).reshape(200, 5)}

    def global_batch(world, accum, step, seed=7):
        rows, seeds = [], []
        for micro in range(accum):
            for rank in range(world):
                tokens, row_seeds = BatchSchedule(data, 16, seed, accum, rank, world).micro_batch(step, micro)
                rows += tokens[:, 0].tolist()
                seeds += row_seeds
        return rows, seeds

    one = global_batch(1, 1, step=3)
    assert global_batch(2, 1, 3) == one == global_batch(1, 2, 3) == global_batch(2, 2, 3) == global_batch(4, 4, 3)
    assert len(set(one[1])) == 16 and set(one[1]).isdisjoint(global_batch(1, 1, step=4)[1])
    assert set(one[1]).isdisjoint(global_batch(1, 1, step=3, seed=8)[1])


# ---- a worker that torchrun restarts --------------------------------------------------------


KILLED_ONCE = """
import os, signal, sys
sys.path.insert(0, os.getcwd())
from poemnet.common.errors import run_cli
from poemnet.training.trainer import Trainer
real_save = Trainer.save_checkpoint
def save_then_die(self):  # rank 1 of the first attempt dies right after the step-4 checkpoint
    real_save(self)
    if self.step == 4 and os.environ["RANK"] == "1" and os.environ["TORCHELASTIC_RESTART_COUNT"] == "0":
        os.kill(os.getpid(), signal.SIGKILL)
Trainer.save_checkpoint = save_then_die
from train_dist import main
run_cli(main)
"""


def test_two_rank_resume_and_a_restarted_worker_continue_exactly_with_dropout(tmp_path):
    common = ["--config", TINY, "--set", "train.max_steps=6", "--set", "train.num_samples=0"]
    common += ["--set", "model.dropout=0.3", "--set", "train.batch_size=8", "--set", "train.eval_every=6"]
    straight = two_ranks("train_dist.py", *common, "--set", f"output.dir={tmp_path / 'straight'}")
    assert straight.returncode == 0, straight.stderr[-3000:]
    halves = [*common, "--set", f"output.dir={tmp_path / 'halves'}"]
    assert two_ranks("train_dist.py", *halves, "--stop-after", "3").returncode == 0
    resumed = two_ranks("train_dist.py", *halves, "--resume", "auto")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert_same_weights(weights(tmp_path / "straight" / "final"), weights(tmp_path / "halves" / "final"), atol=0)
    # torchrun restarts both workers after rank 1 is killed; launched with --resume auto, they continue
    script = tmp_path / "killed_once.py"
    script.write_text(KILLED_ONCE)
    restarted = run_script(
        *("-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "--max-restarts", "1"),
        *("--monitor-interval", "0.5", script, *common, "--set", "train.ckpt_every=2"),
        *("--set", "train.dist_timeout_s=60", "--set", f"output.dir={tmp_path / 'restarted'}", "--resume", "auto"),
        env={"ACCELERATE_USE_CPU": "true"},
        cwd=ROOT,
    )
    out = restarted.stdout + restarted.stderr
    assert restarted.returncode == 0, out[-3000:]
    assert "exitcode: -9" in out and "checkpoints/step-0000004 at step 4" in out
    assert_same_weights(weights(tmp_path / "straight" / "final"), weights(tmp_path / "restarted" / "final"), atol=0)
