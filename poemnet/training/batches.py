"""Poems to token batches: the train/validation split (corpus.split), the vocabulary and batches per form.

A row is <bos> <form> poem <eos>; for a model that learns titles, a share of the rows (drawn per
step and place, like the dropout seeds) are <bos> title <title> <form> poem <eos>, right-padded
to the batch's longest. Only the poem and <eos> are targets: every row of a form has the same
number of them, so N processes x B still train exactly like 1 x NB.
"""

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
    train_titles: dict = None  # form -> [title token ids per row] (a model that learns titles)
    val_titles: dict = None


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
    titles = data_config.title_share > 0
    texts = [p.text + (p.title if titles else "") for p in train_poems]
    vocab = Vocab.build(texts, data_config.min_count, titles=titles)
    forms = [f for f in FORMS if any(p.form == f for p in train_poems)]
    data = PoemData(
        vocab, _encode(train_poems, vocab), _encode(val_poems, vocab), forms, corpus.script_of(data_config.corpus)
    )
    if titles:
        data.train_titles, data.val_titles = _encode_titles(train_poems, vocab), _encode_titles(val_poems, vocab)
    return data


def _encode(poems, vocab):
    by_form = {}
    for p in poems:
        by_form.setdefault(p.form, []).append(vocab.encode_poem(p.text, p.form))
    return {form: torch.tensor(rows, dtype=torch.long) for form, rows in by_form.items()}


def _encode_titles(poems, vocab):
    by_form = {}
    for p in poems:
        by_form.setdefault(p.form, []).append(vocab.encode(p.title))
    return by_form


def with_titles(plain, titles, titled, pad_id, title_end_id):
    """Rows of `plain` [B, T] (<bos> <form> poem <eos>) with the title put in front of the form
    token where `titled` [B] says so (and the title is not empty), right-padded with pad_id."""
    rows = []
    for row, title, on in zip(plain.tolist(), titles, titled):
        rows.append(row[:1] + title + [title_end_id] + row[1:] if on and title else row)
    width = max(len(r) for r in rows)
    return torch.tensor([r + [pad_id] * (width - len(r)) for r in rows], dtype=torch.long)


def titled_validation(data):
    """{form: the validation rows with their titles} (rows without a title stay untitled), for the
    perplexity of poems given their title; None for a model that learns no titles."""
    if data.val_titles is None:
        return None
    v = data.vocab
    return {
        form: with_titles(tokens, data.val_titles[form], [True] * len(tokens), v.pad_id, v.title_end_id)
        for form, tokens in data.val.items()
    }


def inputs_and_targets(tokens, title_end_id=None, pad_id=0):
    """Next-token pairs whose targets are the poem and <eos>: the form token (and a title before
    it) are given at generation, and padding is nothing, so neither is a target."""
    inputs, targets = tokens[:, :-1], tokens[:, 1:].clone()
    start = torch.ones(len(tokens), dtype=torch.long)  # targets before this index are ignored
    if title_end_id is not None:
        is_end = tokens == title_end_id
        start = torch.where(is_end.any(dim=1), is_end.int().argmax(dim=1) + 1, start)
    before = torch.arange(targets.size(1))[None, :] < start[:, None].to(targets.device)
    targets[before.to(targets.device) | (targets == pad_id)] = IGNORE
    return inputs, targets


def loss_sums(
    model, tokens_by_form, device, autocast=contextlib.nullcontext, rank=0, world_size=1, chunk=256, title_end_id=None
):
    """{form: (summed cross-entropy, number of targets)} over this rank's share of each form's rows:
    the one validation loss of the trainer (summed across ranks) and of the evaluation. Sums, not
    means, so that a rank with no rows of a form adds nothing instead of a NaN."""
    sums = {}
    with torch.no_grad():
        for form, tokens in sorted(tokens_by_form.items()):
            total, count = 0.0, 0
            for rows in tokens[rank::world_size].split(chunk):
                inputs, targets = inputs_and_targets(rows.to(device), title_end_id)
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


DROPOUT_STREAM = 1  # spawn keys that keep the dropout seeds and the title draws apart from the epoch shuffle's
TITLE_STREAM = 2


def dropout_seeds(seed, step, global_batch):
    """One 64-bit seed per place in step `step`'s global batch: the poem at that place draws all
    its dropout masks from it (model.py), wherever the place falls among ranks and micro-batches."""
    return np.random.SeedSequence(seed, spawn_key=(DROPOUT_STREAM, step)).generate_state(global_batch, np.uint64)


class BatchSchedule:
    """Which rows of the training split each rank sees, per optimizer step and micro-batch: the
    same global batches on every rank (a seeded shuffle per epoch), each rank taking its slice,
    with the dropout seeds of the places it takes."""

    def __init__(
        self, train, global_batch, seed, grad_accum_steps, rank, world_size, titles=None, title_share=0.0, vocab=None
    ):
        self.train, self.global_batch, self.seed = train, global_batch, seed
        self.accum, self.rank, self.world_size = grad_accum_steps, rank, world_size
        self.titles, self.title_share, self.vocab = titles, title_share, vocab
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
        tokens = self.train[form][torch.as_tensor(rows[places])]
        if self.titles:  # each place's draw depends on the step and the place only, like its seed
            draws = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(TITLE_STREAM, step)))
            titled = draws.random(len(rows))[places] < self.title_share
            titles = [self.titles[form][r] for r in rows[places]]
            tokens = with_titles(tokens, titles, titled, self.vocab.pad_id, self.vocab.title_end_id)
        return tokens, seeds.tolist()


def rank_slice(rows, rank, world_size):
    """Piece `rank` of `world_size` contiguous, equal-sized pieces of a batch (a rank's or a micro-batch's share)."""
    per_rank = len(rows) // world_size
    return rows[rank * per_rank : (rank + 1) * per_rank]


def steps_per_epoch(data, global_batch):
    return sum(len(t) // global_batch for t in data.values())
