"""The training loop: accelerate for DDP and mixed precision, our own pickle-free checkpoints.

Every rank builds the same global batches (a seeded shuffle per epoch) and takes its own slice,
so N processes with batch B see exactly what one process with batch N*B sees.
"""
import json
import math
import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.utils import set_seed
from tqdm import tqdm

from poemnet import checkpoint, precision, ranks
from poemnet.config import flatten, save_config
from poemnet.data import epoch_batches, inputs_and_targets, load_data, rank_slice, steps_per_epoch
from poemnet.sampling import Sampling
from poemnet.errors import UserError
from poemnet.forms import FORMS
from poemnet.generate import generate, poem_rules
from poemnet.model import PoemLSTM, numpy_step_fn


class TrainingDiverged(UserError):
    pass


def make_accelerator(cfg):
    """Accelerator with the config's precision, refusing the two silent traps in FACTS.md."""
    precision = cfg.train.mixed_precision or os.environ.get("ACCELERATE_MIXED_PRECISION", "no")
    if precision == "fp16" and not torch.cuda.is_available():
        raise UserError("fp16 needs a GPU: on CPU accelerate would silently train in fp32; use mixed_precision bf16 or no")
    try:
        accelerator = Accelerator(mixed_precision=precision, gradient_accumulation_steps=cfg.train.grad_accum_steps,
                                  log_with="tensorboard" if cfg.output.tensorboard else None, project_dir=cfg.output.dir)
    except ValueError as e:
        raise UserError(f"accelerate rejected its settings ({e}): check the ACCELERATE_* environment variables")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and accelerator.num_processes == 1:
        raise UserError(f"WORLD_SIZE={world} but accelerate runs 1 process, so each rank would train alone; "
                        "on a machine without GPUs set ACCELERATE_USE_CPU=true (see configs/accelerate/multi_cpu.yaml)")
    return accelerator


def lr_at(step, total, t):
    """Linear warmup to t.lr, then cosine decay to t.min_lr at `total`."""
    if step < t.warmup_steps:
        return t.lr * (step + 1) / t.warmup_steps
    progress = min(1.0, (step - t.warmup_steps) / max(1, total - t.warmup_steps))
    return t.min_lr + 0.5 * (t.lr - t.min_lr) * (1 + math.cos(math.pi * progress))


def make_optimizer(model, t):
    """AdamW, with weight decay on the matrices only (not on biases)."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": t.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    fused = next(model.parameters()).device.type == "cuda"  # one kernel for all parameters on a GPU
    return torch.optim.AdamW(groups, lr=t.lr, betas=(0.9, 0.99), fused=fused or None)


class Trainer:
    def __init__(self, cfg, accelerator):
        self.cfg, self.acc, t = cfg, accelerator, cfg.train
        set_seed(t.seed)  # the same initial weights on every rank
        self.data = load_data(cfg.data)
        if accelerator.device.type == "cuda":  # TF32 for fp32 matmuls and cuDNN on GPUs that have it
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = t.tf32
        model = PoemLSTM.from_config(cfg.model, len(self.data.vocab)).to(accelerator.device)
        probe = next(iter(self.data.train.values()))[:4].to(accelerator.device)
        self.precision = precision.decide(model, accelerator.autocast, probe, accelerator.mixed_precision)
        self.model, self.optimizer = accelerator.prepare(model, make_optimizer(model, t))
        set_seed(t.seed + accelerator.process_index)  # different dropout masks per rank
        # one optimizer step consumes batch_size x processes x grad_accum_steps poems
        self.global_batch = t.batch_size * accelerator.num_processes * t.grad_accum_steps
        self.steps_per_epoch = steps_per_epoch(self.data.train, self.global_batch)
        if self.steps_per_epoch < 1:
            raise UserError(f"the training split has fewer poems of one form than a global batch of {self.global_batch}: lower train.batch_size")
        self.total_steps = t.max_steps or t.epochs * self.steps_per_epoch
        self.run_dir = Path(cfg.output.dir)
        self.ckpt_root = self.run_dir / "checkpoints"
        self.step, self.tokens_seen, self.skipped_steps, self._epoch_cache = 0, 0, 0, (None, None)

    def micro_batch(self, step, micro):
        """This rank's tokens for micro-batch `micro` of optimizer step `step` (counted from the start)."""
        epoch, i = divmod(step, self.steps_per_epoch)
        if self._epoch_cache[0] != epoch:
            self._epoch_cache = (epoch, epoch_batches(self.data.train, self.global_batch, self.cfg.train.seed, epoch))
        form, rows = self._epoch_cache[1][i]
        rows = rank_slice(rows, micro, self.cfg.train.grad_accum_steps)
        rows = rank_slice(rows, self.acc.process_index, self.acc.num_processes)
        return self.data.train[form][torch.as_tensor(rows)].to(self.acc.device)

    def loss(self, tokens, model=None):
        inputs, targets = inputs_and_targets(tokens)
        logits = (model or self.model)(inputs)
        return F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-100)

    def train_step(self):
        """One optimizer step over grad_accum_steps micro-batches; returns the mean loss."""
        losses = []
        for m in range(self.cfg.train.grad_accum_steps):
            with self.acc.accumulate(self.model):
                tokens = self.micro_batch(self.step, m)
                self.tokens_seen += tokens.size(0) * (tokens.size(1) - 1) * self.acc.num_processes  # inputs, all ranks
                loss = self.loss(tokens)
                self.acc.backward(loss)
                if self.acc.sync_gradients:
                    self.optimizer_step()
                losses.append(loss.detach())
        self.step += 1
        return torch.stack(losses).mean()

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
                raise TrainingDiverged(f"gradient norm became {norm.item()} at step {self.step}: lower train.lr or use "
                                       f"mixed_precision no; the last good checkpoint is {last or 'none'} (--resume auto)")
            self.skipped_steps += 1  # fp16: the grad scaler skips this step and lowers its scale
        for group in self.optimizer.param_groups:
            group["lr"] = lr_at(self.step, self.total_steps, t)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    @torch.no_grad()
    def evaluate(self):
        """Validation loss and perplexity over the whole split, summed across ranks."""
        model = self.acc.unwrap_model(self.model)
        model.eval()
        loss_sum = count = 0.0  # Python floats: float64 is not available on every device (MPS)
        for form, tokens in sorted(self.data.val.items()):
            mine = tokens[self.acc.process_index::self.acc.num_processes]
            for chunk in mine.split(256):
                with self.acc.autocast():
                    loss = self.loss(chunk.to(self.acc.device), model)
                n = chunk.size(0) * (chunk.size(1) - 2)  # targets minus the ignored form token
                loss_sum, count = loss_sum + loss.item() * n, count + n
        mine = torch.tensor([[loss_sum, count]], device=self.acc.device, dtype=torch.float32)
        totals = self.acc.reduce(mine, reduction="sum").double().sum(0)
        model.train()
        val_loss = (totals[0] / totals[1]).item()
        return {"val_loss": val_loss, "val_ppl": math.exp(min(val_loss, 50))}

    def samples(self, seed):
        """A few poems per trained form from the plain torch decoder (rank 0 only)."""
        model = self.acc.unwrap_model(self.model)
        model.eval()
        step_fn, zero_state = numpy_step_fn(model)
        poems = []
        for name in self.data.forms:
            rules = poem_rules(self.data.vocab, FORMS[name])
            poems += generate(step_fn, zero_state, self.data.vocab, FORMS[name], self.cfg.train.num_samples,
                              rules, Sampling(temperature=0.8, top_k=40), seed)
        model.train()
        return poems

    def save_checkpoint(self):
        acc, rank = self.acc, self.acc.process_index
        # every rank holds the same weights, so every rank takes this decision alike
        if not all(torch.isfinite(p).all() for p in acc.unwrap_model(self.model).parameters()):
            raise TrainingDiverged(f"the weights are not finite at step {self.step}: no checkpoint written; "
                                   "resume from the last one with a lower train.lr")
        folder = ranks.main_only(acc, lambda: checkpoint.fresh_partial_dir(self.ckpt_root, self.step))
        extra = {"step": self.step, "world_size": acc.num_processes, "global_batch": self.global_batch,
                 "scaler": acc.scaler.state_dict() if acc.scaler is not None else None}
        model_state = acc.unwrap_model(self.model).state_dict() if rank == 0 else None
        optimizer_state = self.optimizer.state_dict() if rank == 0 else None
        ranks.same_outcome(acc, lambda: checkpoint.write_rank_files(folder, rank, model_state, optimizer_state, extra))
        ranks.main_only(acc, lambda: checkpoint.seal(self.ckpt_root, self.step, self.cfg.train.keep_last))

    def resume(self, folder):
        model_state, optimizer_state, rng, extra = checkpoint.read(folder, self.acc.process_index)
        if extra["world_size"] != self.acc.num_processes or extra["global_batch"] != self.global_batch:
            raise UserError(f"{folder} was written by {extra['world_size']} processes with global batch "
                            f"{extra['global_batch']}: resume with the same launcher and train.batch_size")
        try:
            self.acc.unwrap_model(self.model).load_state_dict(model_state)
        except RuntimeError as e:
            raise UserError(f"{folder} does not fit this config's model ({str(e).splitlines()[-1].strip()[:100]}): "
                            "resume with the config it was trained with")
        self.optimizer.load_state_dict(optimizer_state)
        if extra["scaler"] is not None and self.acc.scaler is not None:
            self.acc.scaler.load_state_dict(extra["scaler"])
        checkpoint.set_rng_state(rng)
        self.step = extra["step"]

    def log(self, record):
        """Rank 0: one line of metrics.jsonl and the TensorBoard scalars."""
        self.acc.log({k: v for k, v in record.items() if isinstance(v, (int, float))}, step=record["step"])
        if self.acc.is_main_process:
            with open(self.run_dir / "metrics.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")

    def validate_and_sample(self):
        metrics = self.evaluate()
        self.log({"step": self.step, **metrics})
        if self.acc.is_main_process and self.cfg.train.num_samples:
            for poem in self.samples(seed=self.step):
                tqdm.write(f"  {poem}")
        self.acc.print(f"step {self.step}: val_loss {metrics['val_loss']:.4f} val_ppl {metrics['val_ppl']:.2f}")
        return metrics

    def write_final(self, metrics):
        """final/: weights, config, vocabulary and metrics: all that export.py needs, no pickles."""
        final = self.run_dir / "final"
        partial = self.run_dir / ".partial-final"
        partial.mkdir(parents=True, exist_ok=True)
        from safetensors.torch import save_file
        state = {k: v.detach().float().cpu().contiguous() for k, v in self.acc.unwrap_model(self.model).state_dict().items()}
        save_file(state, partial / "model.safetensors")
        save_config(self.cfg, partial / "config.yaml")
        self.data.vocab.save(partial / "vocab.json")
        with open(partial / "metrics.json", "w", encoding="utf-8") as f:
            json.dump({**metrics, "precision": self.precision, "skipped_steps": self.skipped_steps, "forms": self.data.forms,
                       "script": self.data.script, "vocab_size": len(self.data.vocab)}, f, indent=1, ensure_ascii=False)
        if final.exists():
            import shutil
            shutil.rmtree(final)
        os.replace(partial, final)
        return final

    def fit(self, stop_after=None):
        """Train to total_steps (or stop_after more steps, checkpointing there); returns the metrics."""
        t, acc = self.cfg.train, self.acc
        end = self.total_steps if stop_after is None else min(self.total_steps, self.step + stop_after)
        bar = tqdm(total=self.total_steps, initial=self.step, disable=not acc.is_local_main_process,
                   dynamic_ncols=True, mininterval=1.0)
        metrics, started, rate = {}, time.perf_counter(), 0.0
        while self.step < end:
            loss = self.train_step()  # a tensor: reading it waits for the device, so only when logging
            bar.update(1)
            if self.step % t.log_every == 0:
                elapsed = time.perf_counter() - started
                rate, lr = self.tokens_seen / elapsed, lr_at(self.step - 1, self.total_steps, t)
                loss = loss.item()
                self.log({"step": self.step, "loss": loss, "lr": lr, "tokens_per_s": rate, "tokens": self.tokens_seen,
                          "elapsed_s": elapsed})
                bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{rate:,.0f}", lr=f"{lr:.2e}")
            if self.step % t.eval_every == 0 or self.step == self.total_steps:
                rate = self.tokens_seen / (time.perf_counter() - started)
                metrics = {**self.validate_and_sample(), "tokens_per_s": rate, "step": self.step}
            if self.step % t.ckpt_every == 0 or self.step == end:
                self.save_checkpoint()
        bar.close()
        if not metrics and self.step >= self.total_steps:  # resumed at the very end: measure once more
            metrics = {**self.validate_and_sample(), "step": self.step}
        return metrics


def start_folder(cfg, root, resume, warn):
    """Rank 0: the checkpoint to resume from (or None), refusing to overwrite an earlier run; then
    the run folder and its config.yaml. An explicit older checkpoint abandons the newer ones."""
    folder = checkpoint.resolve_resume(resume, root, warn=warn)
    if folder is None and not resume and checkpoint.list_checkpoints(root):
        raise UserError(f"{root} holds checkpoints of an earlier run: pass --resume auto to continue it, "
                        "or set output.dir to a new folder")
    if folder is not None and resume != "auto":
        for moved in checkpoint.abandon_later(root, checkpoint.step_of(folder)):
            warn(f"note: {moved.name} is newer than {folder.name}: moved to {moved.parent} so the new run replaces it")
    Path(cfg.output.dir).mkdir(parents=True, exist_ok=True)  # only now: a refused run must not overwrite files
    save_config(cfg, Path(cfg.output.dir) / "config.yaml")
    return folder


def train(cfg, resume=None, stop_after=None):
    """Train from a validated config; returns the final artifact folder (None if stopped early).

    Every decision that could differ between ranks is taken on rank 0 or agreed by all (ranks.py),
    so every rank stops with the same one-line error rather than waiting in the next collective.
    """
    accelerator = make_accelerator(cfg)
    trainer = Trainer(cfg, accelerator)
    folder = ranks.main_only(accelerator, lambda: start_folder(cfg, trainer.ckpt_root, resume, accelerator.print))
    if cfg.output.tensorboard:
        accelerator.init_trackers("tensorboard", config=flatten(cfg))
    if folder is not None:
        ranks.same_outcome(accelerator, lambda: trainer.resume(folder))
        accelerator.print(f"resumed from {folder} at step {trainer.step}")
    elif resume:
        accelerator.print(f"no complete checkpoint in {trainer.ckpt_root}: starting from step 0")
    accelerator.print(f"{accelerator.num_processes} process(es), {accelerator.distributed_type}, precision "
                      f"{accelerator.mixed_precision}, vocab {len(trainer.data.vocab)}, {trainer.total_steps} steps")
    accelerator.print(f"compute dtypes: {trainer.precision}")
    if accelerator.device.type == "cpu" and accelerator.num_processes == 1 and torch.get_num_threads() == 1 and (os.cpu_count() or 1) > 1:
        accelerator.print(f"note: training on 1 of {os.cpu_count()} CPU threads (accelerate launch sets OMP_NUM_THREADS=1): "
                          "`python train_dist.py` or OMP_NUM_THREADS=N uses more")
    metrics = trainer.fit(stop_after)
    final = None
    if trainer.step >= trainer.total_steps:
        final = ranks.main_only(accelerator, lambda: trainer.write_final(metrics))
        accelerator.print(f"wrote {final}")
    accelerator.end_training()
    if torch.distributed.is_initialized():  # all ranks leave together: a rank tearing down gloo
        accelerator.wait_for_everyone()     # while its peer still talks to it can abort the peer
        torch.distributed.destroy_process_group()
    return final
