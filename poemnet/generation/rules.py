"""Decoding rules as pure logit masks: numpy only, shared by torch and onnxruntime.

A rule is a function `rule(position, history) -> bool mask or None`: `position` counts the
characters and punctuation generated so far, `history` is the int array [B, position] of the
tokens chosen, and the mask ([V] or [B, V]) says which tokens may come next; None allows all.
Rules combine by AND. The hard rules (layout, forced first characters) always hold; the soft ones
(tones, rhyme group, rhyme, novel lines, no repeats: relaxed in that order) give way, per row and
position, only where they would leave no candidate, and each such relaxation is reported.
A rule marked `narrows` (the novel-line check, costly) also takes `within`, the tokens the other
rules allow, and may check only those.

One engine for every form (forms.py): a 诗 form or a 词牌, each a layout of lines and marks with
its templates in the model's prosody data. A 诗 rhymes by 平水韵 平 group; a 词 by 词林正韵 部,
each rhyme line in the tone its template gives it (rhyme_tones) and each rhyme set in one 部.
"""

from dataclasses import dataclass, field

import numpy as np

from poemnet.common.errors import UserError
from poemnet.common.forms import COMMA, HANZI_RANGES, PERIOD, PUNCTUATION
from poemnet.generation.line_filter import completed_hashes, prefix_hashes
from poemnet.generation.rhyme_rules import (  # noqa: F401 (re-exported: generate.py takes the rules from here)
    RhymeGroupRule,
    end_mask,
    form_template,
    rhyme_lines,
    rhyme_rule,
    rhymes_at_line,
)


@dataclass(frozen=True)
class TokenClasses:
    """Which vocabulary ids are characters, and the ids of the punctuation and <eos>."""

    size: int
    hanzi: np.ndarray  # bool [V]
    comma: int
    period: int
    eos: int
    code_points: np.ndarray  # int64 [V]: each character's code point, 0 for other tokens
    marks: dict = field(default_factory=dict)  # the id of each punctuation mark the vocabulary has

    @classmethod
    def from_vocab(cls, vocab):
        code_points = np.array([ord(t) if len(t) == 1 else 0 for t in vocab.tokens], np.int64)
        hanzi = np.zeros(len(code_points), bool)
        for lo, hi in HANZI_RANGES:  # is_hanzi over the whole vocabulary at once
            hanzi |= (code_points >= lo) & (code_points <= hi)
        hanzi[: vocab.num_reserved] = False
        code_points[~hanzi] = 0
        marks = {mark: vocab.index[mark] for mark in PUNCTUATION if mark in vocab.index}
        return cls(
            len(vocab), hanzi, vocab.index.get(COMMA, -1), vocab.index.get(PERIOD, -1), vocab.eos_id, code_points, marks
        )


def _only(size, token_id):
    mask = np.zeros(size, bool)
    mask[token_id] = True
    return mask


def format_rule(form, classes):
    """Exactly the form's layout: characters in lines, each line's mark at its end, then <eos>."""
    if classes.comma < 0 or classes.period < 0:
        raise UserError("the vocabulary lacks ， or 。: it was not built from poems; train on a poem corpus")
    lacking = [mark for _, mark in form.layout if mark not in classes.marks]
    if lacking:
        raise UserError(f"the vocabulary lacks {lacking[0]}, which {form.name} ends a line with: train on its poems")
    slots = {mark: _only(classes.size, classes.marks[mark]) for _, mark in form.layout}
    slots |= {"end": _only(classes.size, classes.eos), "char": classes.hanzi}

    def rule(position, history):
        return slots[form.slot(position)]

    return rule


def line_start_rule(form, first_ids, size):
    """Force the first character of some lines: {line index: token id} (a start character or an acrostic)."""
    masks = {line: _only(size, token_id) for line, token_id in first_ids.items()}

    def rule(position, history):
        return masks.get(form.line_start(position))

    return rule


class TemplateRule:
    """The 平仄 of one of several templates. A row keeps the templates its characters fit (all, at
    first): the poem's own characters choose its template, with no random draw."""

    def __init__(self, form, templates, prosody, rhyme):
        self.form, self.names = form, [t["name"] for t in templates]
        self.requirements = np.stack([self._requirements(t, prosody, rhyme) for t in templates])
        self._memo = None  # (history, live) of the last call: the loop asks position after position

    def _requirements(self, template, prosody, rhyme):
        """bool [positions, V]: what each position allows under one template (all, at punctuation)."""
        req = np.ones((self.form.length, len(prosody.ping)), bool)
        rhymes = rhyme_lines(template)
        for i, line in enumerate(template["lines"]):
            start = self.form.line_position(i)
            for j, tone in enumerate(line):
                end = end_mask(self.form, prosody, rhymes.get(i), tone) if rhyme and j == len(line) - 1 else None
                if end is not None:
                    req[start + j] = end
                elif tone in "平仄":
                    req[start + j] = prosody.ping if tone == "平" else prosody.ze
        return req

    def alive(self, history):
        """bool [B, K]: each row's live templates. Each character keeps the live templates it fits;
        one that fits none (where this rule gave way) keeps them all. So the set only shrinks, and
        the poem departs from a live template exactly where the rule was relaxed."""
        n, length = history.shape
        start, live = 0, np.ones((n, len(self.names)), bool)
        if self._memo is not None:  # a memo of a function of history alone: reuse a matching prefix
            known, known_live = self._memo
            if known.shape[0] == n and known.shape[1] <= length and np.array_equal(known, history[:, : known.shape[1]]):
                start, live = known.shape[1], known_live
        for position in range(start, length):
            narrowed = live & self.requirements[:, position, history[:, position]].T
            live = np.where(narrowed.any(axis=1, keepdims=True), narrowed, live)
        self._memo = (history.copy(), live)
        return live

    def __call__(self, position, history):
        if self.form.slot(position) != "char":
            return None
        # rows share few sets of live templates (at most 2^K): one mask per set, then a gather
        patterns, row_pattern = np.unique(self.alive(history), axis=0, return_inverse=True)
        masks = np.stack([self.requirements[alive, position].any(axis=0) for alive in patterns])
        return masks[0] if len(masks) == 1 else masks[row_pattern.ravel()]

    def chosen(self, history):
        """Each row's template: the first it still keeps at the end."""
        return [self.names[int(np.argmax(row))] for row in self.alive(history)]


def no_repeat_rule(classes, forced=None):
    """No character twice in a poem (punctuation and <eos> excepted). The characters `forced`
    ({position: token id}, the hard rule's) are not free before their position either: a free
    slot that took one would make the forced one a repeat."""
    forced = forced or {}
    ahead = {  # at a forced position the character is the hard rule's, not a free use
        position: [token for later, token in forced.items() if later > position]
        for position in range(max(forced, default=-1))
        if position not in forced
    }

    def rule(position, history):
        later = ahead.get(position, [])
        if history.shape[1] == 0 and not later:
            return None
        mask = np.ones((len(history), classes.size), bool)
        mask[np.repeat(np.arange(len(history)), history.shape[1]), history.ravel()] = False
        mask[:, later] = False
        mask[:, ~classes.hanzi] = True
        return mask

    return rule


def novel_rule(form, classes, line_filter):
    """At each line's last character, no candidate that would complete a line of the corpus.
    Given `within` (what the other rules allow), it checks only those candidates: the mask is
    exact inside `within` and True outside it."""

    def rule(position, history, within=None):
        line, col = form.locate(position)
        if line is None or col != form.layout[line][0] - 1:
            return None
        n, size = len(history), classes.size
        checked = classes.hanzi if within is None else within & classes.hanzi
        flat = np.flatnonzero(np.broadcast_to(checked, (n, size)))
        rows, cols = np.divmod(flat, size)
        p1, p2 = prefix_hashes(classes.code_points[history[:, position - col : position]])
        mask = np.ones(n * size, bool)
        mask[flat] = ~line_filter.contains(*completed_hashes((p1[rows], p2[rows]), classes.code_points[cols]))
        return mask.reshape(n, size)

    rule.narrows = True  # allowed_tokens may pass `within`
    return rule


@dataclass(frozen=True)
class RuleSet:
    hard: tuple  # rules that always hold
    soft: tuple = ()  # (name, rule) pairs, the first relaxed first


def allowed_tokens(rules, position, history, size):
    """(bool [V] or [B, V] of allowed tokens, [B] lists of the soft rules relaxed for each row).

    The soft rules are applied from the last to be relaxed to the first; one that would leave a
    row no candidate is skipped for that row (and reported), so a row keeps every rule it can.
    A mask shared by all rows stays [V]: most positions need no per-row work.
    """
    allowed = np.ones(size, bool)
    for rule in rules.hard:
        mask = rule(position, history)
        if mask is not None:
            allowed = allowed & mask
    narrows = {name for name, rule in rules.soft if getattr(rule, "narrows", False)}
    masks = {name: None if name in narrows else rule(position, history) for name, rule in rules.soft}
    # Where every rule together leaves each row a candidate, nothing is relaxed and the order does
    # not matter: the costly rules then check only what the others allow.
    together = allowed
    for mask in masks.values():  # the narrowing rules' entries are None here
        if mask is not None:
            together = together & mask
    for name, rule in rules.soft:
        if name in narrows:  # after the others, so that they check the fewest candidates
            mask = rule(position, history, together)
            if mask is not None:
                together = together & mask
    if together.any(axis=-1).all():
        return together, [[] for _ in range(len(history))]
    relaxed = [[] for _ in range(len(history))]
    for name, rule in reversed(rules.soft):
        mask = rule(position, history) if name in narrows else masks[name]
        if mask is None:
            continue
        narrowed = allowed & mask
        keeps = np.broadcast_to(narrowed.any(axis=-1), (len(history),))
        if keeps.all():  # no row relaxes, and a shared mask stays [V]
            allowed = narrowed
            continue
        allowed = np.where(keeps[:, None], narrowed, allowed)
        for row in np.flatnonzero(~keeps):
            relaxed[row].insert(0, name)
    return allowed, relaxed


def mask_logits(logits, allowed):
    """float32 logits with the disallowed tokens at -inf; `allowed` is [V] or [B, V]."""
    logits = np.asarray(logits, np.float32)
    if not np.isfinite(logits.sum()):  # a NaN or an infinity anywhere makes the sum non-finite
        raise UserError("the model produced non-finite logits: the model file is damaged; re-export it")
    if not allowed.any(axis=-1).all():
        raise ValueError("the decoding rules allow no token at this position: they contradict each other")
    if allowed.ndim == 1:  # one mask for every row: adding 0 or -inf is cheaper than a select
        return logits + np.where(allowed, np.float32(0), np.float32(-np.inf))
    return np.where(allowed, logits, np.float32(-np.inf))
