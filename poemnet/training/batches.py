"""Poems to token batches: the train/validation split (corpus.split), the vocabulary and padding-free batches per form."""

import contextlib
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from poemnet.common import corpus
from poemnet.common.corpus import split
from poemnet.common.errors import UserError
from poemnet.common.forms import FORMS
from poemnet.common.vocab import Vocab

IGNORE = -100  # target id that the loss skips


@dataclass
class PoemData:
    vocab: Vocab
    train: dict  # form -> LongTensor [N, T] of token ids; all poems of one form have one length
    val: dict
    forms: list  # forms present, in FORMS order
    script: str  # "simplified" or "traditional", from the builder's report beside the corpus


def load_data(data_config):
    """Load the corpus named by the config, split it and build the vocabulary from the train split."""
    poems = corpus.load(data_config.corpus)
    if data_config.forms:
        poems = [p for p in poems if p.form in data_config.forms]
    if not poems:
        raise UserError(f"no poems of forms {data_config.forms} in corpus {data_config.corpus}: change data.forms")
    train_poems, val_poems = split(poems, data_config.val_fraction)
    if not train_poems or not val_poems:
        raise UserError("the train or validation split is empty: use a larger corpus or another data.val_fraction")
    vocab = Vocab.build((p.text for p in train_poems), data_config.min_count)
    forms = [f for f in FORMS if any(p.form == f for p in train_poems)]
    return PoemData(
        vocab, _encode(train_poems, vocab), _encode(val_poems, vocab), forms, corpus.script_of(data_config.corpus)
    )


def _encode(poems, vocab):
    by_form = {}
    for p in poems:
        by_form.setdefault(p.form, []).append(vocab.encode_poem(p.text, p.form))
    return {form: torch.tensor(rows, dtype=torch.long) for form, rows in by_form.items()}


def inputs_and_targets(tokens):
    """Next-token pairs; the form token after <bos> is given at generation, so it is not a target."""
    inputs, targets = tokens[:, :-1], tokens[:, 1:].clone()
    targets[:, 0] = IGNORE
    return inputs, targets


def loss_sums(model, tokens_by_form, device, autocast=contextlib.nullcontext, rank=0, world_size=1, chunk=256):
    """{form: (summed cross-entropy, number of targets)} over this rank's share of each form's rows:
    the one validation loss of the trainer (summed across ranks) and of the evaluation. Sums, not
    means, so that a rank with no rows of a form adds nothing instead of a NaN."""
    sums = {}
    with torch.no_grad():
        for form, tokens in sorted(tokens_by_form.items()):
            total, count = 0.0, 0
            for rows in tokens[rank::world_size].split(chunk):
                inputs, targets = inputs_and_targets(rows.to(device))
                with autocast():
                    logits = model(inputs)
                total += F.cross_entropy(
                    logits.float().reshape(-1, logits.size(-1)),
                    targets.reshape(-1),
                    ignore_index=IGNORE,
                    reduction="sum",
                ).item()
                count += int((targets != IGNORE).sum())
            sums[form] = (total, count)
    return sums


def epoch_batches(data, global_batch, seed, epoch):
    """The epoch's global batches as (form, row indices), the same order on every rank.

    Rows are shuffled within each form and cut into full batches of `global_batch` (the remainder
    is dropped for this epoch); then the batch order is shuffled across forms.
    """
    rng = np.random.default_rng([seed, epoch])
    batches = []
    for form in sorted(data):
        order = rng.permutation(len(data[form]))
        for start in range(0, len(order) - global_batch + 1, global_batch):
            batches.append((form, order[start : start + global_batch]))
    return [batches[i] for i in rng.permutation(len(batches))]


DROPOUT_STREAM = 1  # spawn key that keeps the dropout seeds apart from the epoch shuffle's


def dropout_seeds(seed, step, global_batch):
    """One 64-bit seed per place in step `step`'s global batch: the poem at that place draws all
    its dropout masks from it (model.py), wherever the place falls among ranks and micro-batches."""
    return np.random.SeedSequence(seed, spawn_key=(DROPOUT_STREAM, step)).generate_state(global_batch, np.uint64)


class BatchSchedule:
    """Which rows of the training split each rank sees, per optimizer step and micro-batch: the
    same global batches on every rank (a seeded shuffle per epoch), each rank taking its slice,
    with the dropout seeds of the places it takes."""

    def __init__(self, train, global_batch, seed, grad_accum_steps, rank, world_size):
        self.train, self.global_batch, self.seed = train, global_batch, seed
        self.accum, self.rank, self.world_size = grad_accum_steps, rank, world_size
        self.steps_per_epoch = steps_per_epoch(train, global_batch)
        self._epoch = (None, None)

    def trained_forms(self):
        """The forms with at least one full global batch: the others are never trained."""
        return [form for form, tokens in self.train.items() if len(tokens) >= self.global_batch]

    def micro_batch(self, step, micro):
        """(tokens, dropout seeds of its rows) of this rank's share of micro-batch `micro` of
        optimizer step `step` (counted from the start)."""
        epoch, i = divmod(step, self.steps_per_epoch)
        if self._epoch[0] != epoch:
            self._epoch = (epoch, epoch_batches(self.train, self.global_batch, self.seed, epoch))
        form, rows = self._epoch[1][i]
        places = rank_slice(rank_slice(np.arange(len(rows)), micro, self.accum), self.rank, self.world_size)
        seeds = dropout_seeds(self.seed, step, len(rows))[places]
        return self.train[form][torch.as_tensor(rows[places])], seeds.tolist()


def rank_slice(rows, rank, world_size):
    """Piece `rank` of `world_size` contiguous, equal-sized pieces of a batch (a rank's or a micro-batch's share)."""
    per_rank = len(rows) // world_size
    return rows[rank * per_rank : (rank + 1) * per_rank]


def steps_per_epoch(data, global_batch):
    return sum(len(t) // global_batch for t in data.values())
