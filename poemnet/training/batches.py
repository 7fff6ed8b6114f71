"""Poems to token batches: the train/validation split (corpus.split), the vocabulary and batches per form.

A row is <bos> <form> poem <eos>; for a model that learns titles, a share of the rows (drawn per
step and place, like the dropout seeds) are <bos> title <title> <form> poem <eos>, right-padded
to the batch's longest. Only the poem and <eos> are targets. The training loss of a step is its
summed cross-entropy over the number of targets in the whole global batch (`step_targets`), so N
processes x B train exactly like 1 x NB even when rows have unequal numbers of targets.

词 (data.ci_corpus) train beside the 诗, each row with its 词牌's token. A 词牌's poems come in
several layouts and lengths, so the training rows of all 词 share one pool (CI_BUCKET), right-
padded; each epoch sorts the pool by length, loosely (a random jitter of up to CI_JITTER characters,
so batches change between epochs), and cuts it into global batches of similar lengths, with little
padding. The remainder is drawn at random, so every 词 trains. The validation rows are per 词牌, right-padded: their loss sums are exact.
"""

import contextlib
import hashlib
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from poemnet.common import corpus
from poemnet.common.corpus import split
from poemnet.common.errors import UserError
from poemnet.common.form_data import form_named, supported_cipai
from poemnet.common.forms import FORMS
from poemnet.common.vocab import Vocab

IGNORE = -100  # target id that the loss skips
CI_BUCKET = "词"  # the key of the training rows of every 词
CI_JITTER = 12  # characters of random jitter in the per-epoch length sort of the 词 pool


@dataclass
class PoemData:
    vocab: Vocab
    train: dict  # 诗 form (rows of one length) or CI_BUCKET (right-padded) -> LongTensor [N, T] of token ids
    val: dict  # form -> LongTensor [N, T]; a 词牌's rows right-padded
    forms: list  # forms present: 诗 in FORMS order, then 词牌 in the corpus's order (most poems first)
    script: str  # "simplified" or "traditional", from the builder's report beside the corpus
    train_titles: dict = None  # key of train -> [title token ids per row] (a model that learns titles)
    val_titles: dict = None
    bucket_forms: dict = None  # key of train -> the forms of its rows

    def forms_in(self, keys):
        """The forms with rows in the training buckets `keys`, in self.forms order."""
        found = set().union(*((self.bucket_forms or {}).get(k, {k}) for k in keys))
        return [f for f in self.forms if f in found]


def load_data(data_config):
    """Load the corpus named by the config (and its 词 corpus), split it and build the vocabulary
    from the train split."""
    poems = corpus.load(data_config.corpus)
    if data_config.forms:
        poems = [p for p in poems if p.form in data_config.forms]
    if not poems:
        raise UserError(f"no poems of forms {data_config.forms} in corpus {data_config.corpus}: change data.forms")
    ci_poems, ci_forms = load_ci(data_config)
    train_poems, val_poems = split(poems + ci_poems, data_config.val_fraction)
    if not train_poems or not val_poems:
        raise UserError("the train or validation split is empty: use a larger corpus or another data.val_fraction")
    titles = data_config.title_share > 0
    texts = [p.text + (p.title if titles else "") for p in train_poems]
    vocab = Vocab.build(texts, data_config.min_count, forms=tuple(FORMS) + tuple(ci_forms), titles=titles)
    present = {p.form for p in train_poems}
    forms = [f for f in FORMS if f in present] + [f for f in ci_forms if f in present]
    train, train_titles, buckets = _encode(train_poems, vocab, by_length=True)
    val, val_titles, _ = _encode(val_poems, vocab, by_length=False)
    data = PoemData(vocab, train, val, forms, corpus.script_of(data_config.corpus), bucket_forms=buckets)
    if titles:
        data.train_titles, data.val_titles = train_titles, val_titles
    return data


def load_ci(data_config):
    """(the 词 of data.ci_forms, or of every supported 词牌, in data.ci_corpus; their 词牌 in the
    corpus's order), or ([], []) without a 词 corpus."""
    if not data_config.ci_corpus:
        return [], []
    wanted = {form_named(f).name for f in data_config.ci_forms} or set(supported_cipai())
    poems = [p for p in corpus.load(corpus.resolve_ci(data_config.ci_corpus)) if p.form in wanted]
    if not poems:
        raise UserError(f"no 词 of the 词牌 {sorted(wanted)[:3]} in {data_config.ci_corpus}: change data.ci_forms")
    order = [f for f in supported_cipai() if f in wanted]
    return poems, order + sorted(wanted - set(order))


def _encode(poems, vocab, by_length):
    """({key: LongTensor of the rows}, {key: [title ids per row]}, {key: forms of its rows}); the key
    is the form, or CI_BUCKET for every 词 with `by_length` (training). Rows of unequal length (the
    词) are right-padded."""
    groups = {}
    for p in poems:
        key = CI_BUCKET if by_length and p.form not in FORMS else p.form
        groups.setdefault(key, []).append(p)
    tokens, titles = {}, {}
    for key, group in groups.items():
        rows = [vocab.encode_poem(p.text, p.form) for p in group]
        width = max(len(r) for r in rows)
        tokens[key] = torch.tensor([r + [vocab.pad_id] * (width - len(r)) for r in rows], dtype=torch.long)
        titles[key] = [vocab.encode(p.title) for p in group]
    return tokens, titles, {key: {p.form for p in group} for key, group in groups.items()}


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


def row_lengths(tokens, pad_id=0):
    """The number of tokens before the padding in each row of `tokens` [N, T]."""
    return (tokens != pad_id).sum(dim=1).numpy()


def epoch_batches(data, global_batch, seed, epoch, lengths=None):
    """The epoch's global batches as (form, row indices), the same order on every rank.

    Rows are shuffled within each form and cut into full batches of `global_batch` (the remainder
    is dropped for this epoch); then the batch order is shuffled across forms. The 词 pool drops its
    remainder at random first, then is sorted by its rows' `lengths` plus a jitter, so that a batch
    holds 词 of similar length (cut after the sort, the remainder would be the longest 词, every epoch).
    """
    rng = np.random.default_rng([seed, epoch])
    batches = []
    for form in sorted(data):
        order = rng.permutation(len(data[form]))
        if form == CI_BUCKET and lengths is not None:
            order = order[: len(order) - len(order) % global_batch]
            jitter = rng.uniform(0, CI_JITTER, len(order))
            order = order[np.argsort(lengths[form][order] + jitter, kind="stable")]
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
        pad_id = vocab.pad_id if vocab is not None else 0
        self.lengths = {key: row_lengths(tokens, pad_id) for key, tokens in train.items()}
        self._epoch = (None, None)

    def _global_rows(self, step):
        """(key, row indices) of step `step`'s global batch."""
        epoch, i = divmod(step, self.steps_per_epoch)
        if self._epoch[0] != epoch:
            self._epoch = (epoch, epoch_batches(self.train, self.global_batch, self.seed, epoch, self.lengths))
        return self._epoch[1][i]

    def fingerprint(self, step):
        """A digest of step `step`'s global batch (its form and its rows' tokens, in order): a
        resumed run checks that it goes on with the batch the interrupted run would have trained."""
        form, rows = self._global_rows(step)
        digest = hashlib.sha256(form.encode())
        digest.update(self.train[form][torch.as_tensor(rows)].numpy().tobytes())  # tobytes is C order always
        if self.titles:  # the titles each row is given, too: title_share or the titles may change alone
            titled = self._titled(step, len(rows))
            digest.update(repr([self.titles[form][r] if on else [] for r, on in zip(rows, titled)]).encode())
        return digest.hexdigest()[:16]

    def _titled(self, step, n):
        """Which places of step `step`'s global batch of `n` rows get their title: a draw that
        depends on the step and the place only, like the dropout seeds."""
        draws = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(TITLE_STREAM, step)))
        return draws.random(n) < self.title_share

    def step_targets(self, step):
        """The number of targets (poem and <eos>, never <bos>, the form or a title) in step
        `step`'s whole global batch: the denominator of its loss on every rank and micro-batch."""
        form, rows = self._global_rows(step)
        return int(self.lengths[form][rows].sum()) - 2 * len(rows)

    def trained_forms(self):
        """The forms with at least one full global batch: the others are never trained."""
        return [form for form, tokens in self.train.items() if len(tokens) >= self.global_batch]

    def micro_batch(self, step, micro):
        """(tokens, dropout seeds of its rows) of this rank's share of micro-batch `micro` of
        optimizer step `step` (counted from the start)."""
        form, rows = self._global_rows(step)
        places = rank_slice(rank_slice(np.arange(len(rows)), micro, self.accum), self.rank, self.world_size)
        seeds = dropout_seeds(self.seed, step, len(rows))[places]
        width = int(self.lengths[form][rows].max())  # the global batch's longest row: no all-padding columns
        tokens = self.train[form][torch.as_tensor(rows[places]), :width]
        if self.titles:
            titled = self._titled(step, len(rows))[places]
            titles = [self.titles[form][r] for r in rows[places]]
            tokens = with_titles(tokens, titles, titled, self.vocab.pad_id, self.vocab.title_end_id)
        return tokens, seeds.tolist()


def rank_slice(rows, rank, world_size):
    """Piece `rank` of `world_size` contiguous, equal-sized pieces of a batch (a rank's or a micro-batch's share)."""
    per_rank = len(rows) // world_size
    return rows[rank * per_rank : (rank + 1) * per_rank]


def steps_per_epoch(data, global_batch):
    return sum(len(t) // global_batch for t in data.values())
