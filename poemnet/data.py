"""Poems to token batches: the train/validation split (corpus.split), the vocabulary and padding-free batches per form."""
from dataclasses import dataclass

import numpy as np
import torch

from poemnet import corpus
from poemnet.corpus import split
from poemnet.errors import UserError
from poemnet.forms import FORMS
from poemnet.vocab import Vocab

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
    path = None if data_config.corpus == "embedded" else data_config.corpus
    poems = corpus.load(path)
    if data_config.forms:
        poems = [p for p in poems if p.form in data_config.forms]
    if not poems:
        raise UserError(f"no poems of forms {data_config.forms} in corpus {data_config.corpus}: change data.forms")
    train_poems, val_poems = split(poems, data_config.val_fraction)
    if not train_poems or not val_poems:
        raise UserError("the train or validation split is empty: use a larger corpus or another data.val_fraction")
    vocab = Vocab.build((p.text for p in train_poems), data_config.min_count)
    forms = [f for f in FORMS if any(p.form == f for p in train_poems)]
    return PoemData(vocab, _encode(train_poems, vocab), _encode(val_poems, vocab), forms, corpus.script_of(path))


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
            batches.append((form, order[start:start + global_batch]))
    return [batches[i] for i in rng.permutation(len(batches))]


def rank_slice(rows, rank, world_size):
    """Piece `rank` of `world_size` contiguous, equal-sized pieces of a batch (a rank's or a micro-batch's share)."""
    per_rank = len(rows) // world_size
    return rows[rank * per_rank:(rank + 1) * per_rank]


def steps_per_epoch(data, global_batch):
    return sum(len(t) // global_batch for t in data.values())
