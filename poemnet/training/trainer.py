"""The training loop: set up, then step, log, validate and checkpoint until the last step.

accelerate handles DDP and mixed precision; checkpoints are our own, pickle-free (checkpoint.py).
Every rank builds the same global batches and takes its slice (batches.BatchSchedule), and each
poem's dropout masks come from a seed of (train.seed, step, its place in the global batch), so N
processes with batch B see exactly what one process with batch N*B, or with grad_accum_steps N,
sees. Every decision that could differ between ranks is taken on rank 0 or agreed by all (ranks.py).
"""

import json
import math
import os
import time
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.utils import InitProcessGroupKwargs, parse_flag_from_env, set_seed
from tqdm import tqdm

from poemnet.common.errors import UserError
from poemnet.common.form_data import form_named
from poemnet.generation.generate import generate, poem_rules
from poemnet.generation.sampling import Sampling
from poemnet.training import artifact, checkpoint, precision, ranks
from poemnet.training.batches import BatchSchedule, inputs_and_targets, load_data, loss_sums
from poemnet.training.checkpoint import NonFiniteWeights
from poemnet.training.config import flatten, save_config
from poemnet.training.model import PoemLSTM, numpy_step_fn
from poemnet.training.optim import lr_at, make_optimizer


class TrainingDiverged(UserError):
    pass


def join_gloo_group_per_attempt(timeout):
    """torchrun's store outlives a worker restart, with the killed attempt's gloo addresses in it: a
    restarted rank that reads one connects to a dead process ("Connection refused"). For CPU ranks
    we form the group in a namespace per attempt; accelerate then uses it (NCCL is left to it)."""
    attempt, world = os.environ.get("TORCHELASTIC_RESTART_COUNT"), int(os.environ.get("WORLD_SIZE", "1"))
    agent_store = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"
    if attempt is None or not agent_store or world < 2 or not parse_flag_from_env("ACCELERATE_USE_CPU"):
        return
    if dist.is_initialized() or dist.is_mpi_available():  # with MPI built in, accelerate would pick mpi
        return
    host, port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
    store = dist.PrefixStore(f"poemnet/attempt-{attempt}", dist.TCPStore(host, port, world, False, timeout=timeout))
    dist.init_process_group("gloo", store=store, rank=int(os.environ["RANK"]), world_size=world, timeout=timeout)


def make_accelerator(cfg):
    """Accelerator with the config's precision, refusing the silent traps: fp16 without a loss
    scaler (accelerate runs fp32 then, e.g. on a CPU) and ranks that would each train alone; a
    process group that does not form within train.dist_timeout_s ends the run with one line."""
    requested = cfg.train.mixed_precision or os.environ.get("ACCELERATE_MIXED_PRECISION", "no")
    timeout = timedelta(seconds=cfg.train.dist_timeout_s)
    try:
        join_gloo_group_per_attempt(timeout)
        accelerator = Accelerator(
            mixed_precision=requested,
            gradient_accumulation_steps=cfg.train.grad_accum_steps,
            log_with="tensorboard" if cfg.output.tensorboard else None,
            project_dir=cfg.output.dir,
            kwargs_handlers=[InitProcessGroupKwargs(timeout=timeout)],
        )
    except ValueError as e:
        raise UserError(f"accelerate rejected its settings ({e}): check the ACCELERATE_* environment variables")
    except RuntimeError as e:  # torch.distributed.DistError and gloo's connect errors are RuntimeErrors
        if not isinstance(e, dist.DistError) and "gloo" not in str(e).lower():
            raise
        raise UserError(
            f"the ranks could not form a process group (waiting at most train.dist_timeout_s="
            f"{cfg.train.dist_timeout_s} s): {str(e).splitlines()[0][:160]}; relaunch every rank with --resume auto"
        )
    if requested == "fp16" and accelerator.scaler is None:
        raise UserError(
            f"fp16 on {accelerator.device.type} would silently train in fp32 (accelerate gives it no "
            "loss scaler there): use mixed_precision bf16 or no"
        )
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and accelerator.num_processes == 1:
        raise UserError(
            f"WORLD_SIZE={world} but accelerate runs 1 process, so each rank would train alone; "
            "on a machine without GPUs set ACCELERATE_USE_CPU=true (see configs/accelerate/multi_cpu.yaml)"
        )
    return accelerator


class Trainer:
    """One run's model, optimizer, batches and counters, and the steps that change them."""

    def __init__(self, cfg, accelerator):
        self.cfg, self.acc, t = cfg, accelerator, cfg.train
        set_seed(t.seed)  # the same initial weights on every rank (dropout draws from per-poem seeds)
        self.data = load_data(cfg.data)
        if accelerator.device.type == "cuda":  # TF32 for fp32 matmuls and cuDNN on GPUs that have it
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = t.tf32
        model = PoemLSTM.from_config(cfg.model, len(self.data.vocab)).to(accelerator.device)
        probe = next(iter(self.data.train.values()))[:4].to(accelerator.device)
        self.precision = precision.decide(model, accelerator.autocast, probe, accelerator.mixed_precision)
        self.model, self.optimizer = accelerator.prepare(model, make_optimizer(model, t))
        # one optimizer step consumes batch_size x processes x grad_accum_steps poems
        self.global_batch = t.batch_size * accelerator.num_processes * t.grad_accum_steps
        self.batches = BatchSchedule(
            self.data.train,
            self.global_batch,
            t.seed,
            t.grad_accum_steps,
            accelerator.process_index,
            accelerator.num_processes,
            titles=self.data.train_titles,
            title_share=cfg.data.title_share,
            vocab=self.data.vocab,
        )
        self.forms = self.data.forms_in(self.batches.trained_forms())
        if not self.forms:
            raise UserError(
                f"the training split has fewer poems of one form than a global batch of {self.global_batch}: "
                "lower train.batch_size"
            )
        self.total_steps = t.max_steps or t.epochs * self.batches.steps_per_epoch
        self.run_dir = Path(cfg.output.dir)
        self.ckpt_root = self.run_dir / "checkpoints"
        self.step, self.tokens_seen, self.skipped_steps = 0, 0, 0

    def loss_sum(self, tokens, row_seeds):
        """The summed cross-entropy of this micro-batch's targets."""
        inputs, targets = inputs_and_targets(tokens, self.data.vocab.title_end_id)
        logits = self.model(inputs, row_seeds)
        flat = logits.float().reshape(-1, logits.size(-1))
        return F.cross_entropy(flat, targets.reshape(-1), ignore_index=-100, reduction="sum")

    def train_step(self):
        """One optimizer step over grad_accum_steps micro-batches. Each micro-batch's summed loss is
        divided by the targets of the whole global batch and scaled back up by what accelerate divides
        by (the ranks' gradient mean, the accumulation steps), so the gradient is the global batch's
        mean over its targets however its rows fall. Returns this rank's share of that mean, scaled
        by the ranks (their mean is the step's loss)."""
        t, n_ranks = self.cfg.train, self.acc.num_processes
        scale = n_ranks * t.grad_accum_steps / self.batches.step_targets(self.step)
        total = 0.0
        for m in range(t.grad_accum_steps):
            with self.acc.accumulate(self.model):
                tokens, row_seeds = self.batches.micro_batch(self.step, m)
                tokens = tokens.to(self.acc.device)
                self.tokens_seen += tokens.size(0) * (tokens.size(1) - 1) * n_ranks  # inputs, all ranks
                loss = self.loss_sum(tokens, row_seeds) * scale
                self.acc.backward(loss)
                if self.acc.sync_gradients:
                    self.optimizer_step()
                total = total + loss.detach() / t.grad_accum_steps
        self.step += 1
        return total

    def optimizer_step(self):
        """Clip and step, unless the gradients are not finite: a bad step never reaches the weights.

        The norm that clipping computes covers the loss too (a non-finite loss gives non-finite
        gradients) and is taken over the all-reduced gradients, so every rank decides alike.
        """
        t = self.cfg.train
        norm = self.acc.clip_grad_norm_(self.model.parameters(), t.grad_clip or math.inf)
        if not torch.isfinite(norm):
            if self.acc.scaler is None:
                last = checkpoint.latest_valid(self.ckpt_root, warn=lambda _: None)
                raise TrainingDiverged(
                    f"gradient norm became {norm.item()} at step {self.step}: lower train.lr or use "
                    f"mixed_precision no; the last good checkpoint is {last or 'none'} (--resume auto)"
                )
            self.skipped_steps += 1  # fp16: the grad scaler skips this step and lowers its scale
        for group in self.optimizer.param_groups:
            group["lr"] = lr_at(self.step, self.total_steps, t)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def validate(self):
        """Validation loss and perplexity over the whole split: each rank sums its share, then
        the sums are added across ranks (float32 on the device: MPS has no float64)."""
        model = self.acc.unwrap_model(self.model)
        model.eval()
        sums = loss_sums(
            model, self.data.val, self.acc.device, self.acc.autocast, self.acc.process_index, self.acc.num_processes
        )
        model.train()
        mine = torch.tensor(
            [[sum(s for s, _ in sums.values()), sum(n for _, n in sums.values())]],
            device=self.acc.device,
            dtype=torch.float32,
        )
        loss_sum, count = self.acc.reduce(mine, reduction="sum").sum(0).cpu().tolist()
        val_loss = loss_sum / count
        return {"val_loss": val_loss, "val_ppl": math.exp(min(val_loss, 50))}

    def samples(self, seed):
        """A few poems per trained form from the plain torch decoder (rank 0 only)."""
        model = self.acc.unwrap_model(self.model)
        model.eval()
        step_fn, zero_state = numpy_step_fn(model)
        poems = []
        for form in map(form_named, self.forms):
            rules = poem_rules(self.data.vocab, form)
            poems += generate(
                step_fn,
                zero_state,
                self.data.vocab,
                form,
                self.cfg.train.num_samples,
                rules,
                Sampling(temperature=0.8, top_k=40),
                seed,
            )
        model.train()
        return poems

    def counters(self):
        """What a checkpoint keeps of the trainer besides weights, optimizer and random state."""
        return {
            "step": self.step,
            "tokens_seen": self.tokens_seen,
            "skipped_steps": self.skipped_steps,
            "global_batch": self.global_batch,
            "next_batch": self.batches.fingerprint(self.step),
        }

    def save_checkpoint(self):
        try:
            checkpoint.save(
                self.acc, self.model, self.optimizer, self.ckpt_root, self.counters(), self.cfg.train.keep_last
            )
        except NonFiniteWeights as e:
            raise TrainingDiverged(str(e))

    def resume(self, folder):
        extra = checkpoint.restore(
            self.acc, self.model, self.optimizer, folder, self.global_batch, self.batches.fingerprint
        )
        self.step = extra["step"]
        self.tokens_seen, self.skipped_steps = extra.get("tokens_seen", 0), extra.get("skipped_steps", 0)

    def log(self, record):
        """Rank 0: one line of metrics.jsonl and the TensorBoard scalars."""
        self.acc.log({k: v for k, v in record.items() if isinstance(v, (int, float))}, step=record["step"])
        if self.acc.is_main_process:
            with open(self.run_dir / "metrics.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(artifact.finite_json(record), ensure_ascii=False) + "\n")

    def validate_and_sample(self):
        metrics = self.validate()
        self.log({"step": self.step, **metrics})
        if self.acc.is_main_process and self.cfg.train.num_samples:
            for poem in self.samples(seed=self.step):
                tqdm.write(f"  {poem}")
        self.acc.print(f"step {self.step}: val_loss {metrics['val_loss']:.4f} val_ppl {metrics['val_ppl']:.2f}")
        return metrics

    def log_progress(self, loss, started, bar):
        """Every log_every steps: the loss averaged over all ranks (a collective, so every rank
        calls it), the learning rate and the throughput."""
        loss = self.acc.reduce(loss.float().reshape(1), reduction="mean").item()
        elapsed = time.perf_counter() - started
        rate, lr = self.tokens_seen / elapsed, lr_at(self.step - 1, self.total_steps, self.cfg.train)
        self.log(
            {
                "step": self.step,
                "loss": loss,
                "lr": lr,
                "tokens_per_s": rate,
                "tokens": self.tokens_seen,
                "elapsed_s": elapsed,
            }
        )
        bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{rate:,.0f}", lr=f"{lr:.2e}")

    def fit(self, stop_after=None):
        """Train to total_steps (or stop_after more steps, checkpointing there); returns the metrics."""
        t = self.cfg.train
        end = self.total_steps if stop_after is None else min(self.total_steps, self.step + stop_after)
        bar = tqdm(
            total=self.total_steps,
            initial=self.step,
            disable=not self.acc.is_local_main_process,
            dynamic_ncols=True,
            mininterval=1.0,
        )
        metrics, started, tokens_at_start = {}, time.perf_counter(), self.tokens_seen
        while self.step < end:
            loss = self.train_step()  # a tensor: reading it waits for the device, so only when logging
            bar.update(1)
            if self.step % t.log_every == 0:
                self.log_progress(loss, started, bar)
            if self.step % t.eval_every == 0 or self.step == self.total_steps:
                rate = (self.tokens_seen - tokens_at_start) / (time.perf_counter() - started)
                metrics = {**self.validate_and_sample(), "tokens_per_s": rate, "step": self.step}
            if self.step % t.ckpt_every == 0 or self.step == end:
                self.save_checkpoint()
        bar.close()
        if not metrics and self.step >= self.total_steps:  # resumed at the very end: measure once more
            metrics = {**self.validate_and_sample(), "step": self.step}
        return metrics

    def write_final(self, metrics):
        record = {
            **metrics,
            "precision": self.precision,
            "skipped_steps": self.skipped_steps,
            "tokens_seen": self.tokens_seen,
            "forms": self.forms,
            "script": self.data.script,
            "vocab_size": len(self.data.vocab),
        }
        return artifact.write(self.run_dir, self.acc.unwrap_model(self.model), self.cfg, self.data.vocab, record)


def train(cfg, resume=None, stop_after=None):
    """Train from a validated config; returns the final artifact folder (None if stopped early)."""
    acc = make_accelerator(cfg)
    trainer = Trainer(cfg, acc)
    folder = ranks.main_only(acc, lambda: checkpoint.start_folder(cfg.output.dir, resume, acc.print))
    if folder is not None:
        ranks.same_outcome(acc, lambda: trainer.resume(folder))
        if resume != "auto":
            ranks.main_only(acc, lambda: checkpoint.abandon_later(trainer.ckpt_root, folder, acc.print))
        acc.print(f"resumed from {folder} at step {trainer.step}")
    elif resume:
        acc.print(f"no complete checkpoint in {trainer.ckpt_root}: starting from step 0")
    ranks.main_only(acc, lambda: save_config(cfg, Path(cfg.output.dir) / "config.yaml"))
    if cfg.output.tensorboard:  # only now: a refused resume leaves no new event file either
        acc.init_trackers("tensorboard", config=flatten(cfg))
    report_setup(trainer)
    metrics = trainer.fit(stop_after)
    final = None
    if trainer.step >= trainer.total_steps:
        final = ranks.main_only(acc, lambda: trainer.write_final(metrics))
        acc.print(f"wrote {final}")
    acc.end_training()
    if torch.distributed.is_initialized():  # all ranks leave together: a rank tearing down gloo
        acc.wait_for_everyone()  # while its peer still talks to it can abort the peer
        torch.distributed.destroy_process_group()
    return final


def report_setup(trainer):
    acc = trainer.acc
    acc.print(
        f"{acc.num_processes} process(es), {acc.distributed_type}, precision {acc.mixed_precision}, "
        f"vocab {len(trainer.data.vocab)}, {trainer.total_steps} steps"
    )
    acc.print(f"compute dtypes: {trainer.precision}")
    untrained = [f for f in trainer.data.forms if f not in trainer.forms]
    if untrained:
        acc.print(
            f"note: {', '.join(untrained)} not trained: fewer training poems than a global batch of "
            f"{trainer.global_batch}; lower train.batch_size to train them"
        )
    if (
        acc.device.type == "cpu"
        and acc.num_processes == 1
        and torch.get_num_threads() == 1
        and (os.cpu_count() or 1) > 1
    ):
        acc.print(
            f"note: training on 1 of {os.cpu_count()} CPU threads (accelerate launch sets OMP_NUM_THREADS=1): "
            "`python train_dist.py` or OMP_NUM_THREADS=N uses more"
        )
