"""The generation loop over any stepwise model (onnxruntime or torch): numpy in, numpy out."""

import random
from dataclasses import dataclass, field

import numpy as np

from poemnet.common.errors import UserError
from poemnet.generation import topic
from poemnet.generation.lookahead import look_ahead, penultimate_positions
from poemnet.generation.rules import (
    RhymeGroupRule,
    RuleSet,
    TemplateRule,
    TokenClasses,
    allowed_tokens,
    format_rule,
    line_start_rule,
    no_repeat_rule,
    novel_rule,
    rhyme_rule,
)
from poemnet.generation.sampling import Sampling, sample
from poemnet.generation.scoring import ParallelBias, position_scores, word_pairs


def zero_state(num_layers, hidden_dim, batch_size):
    """The LSTM's initial (h, c), each float32 [num_layers, B, hidden_dim]."""
    shape = (num_layers, batch_size, hidden_dim)
    return np.zeros(shape, np.float32), np.zeros(shape, np.float32)


@dataclass(frozen=True)
class Constraints:
    """What the user asked of the poem beyond its layout."""

    first_chars: dict = field(default_factory=dict)  # {line: character}: a start character or an acrostic
    rhyme: bool = False
    rhyme_group: int = None  # a 平 group id; None = set by the first rhyme character drawn
    tones: bool = False
    template: str = None  # a template name of the form; None = any that fits
    no_repeat: bool = False
    novel: bool = False
    parallel: bool = False  # the 对仗 bias in a 律诗's middle couplets
    lookahead: bool = True  # with rhyme or tones: weigh each line's next-to-last character by its reach
    title: str = None  # read before the form token (a model trained with titles)
    keywords: tuple = ()  # words that must appear, each inside one line
    first_line: str = None  # the poem's first line, given

    @property
    def needs_prosody(self):
        return self.rhyme or self.tones

    @property
    def needs_line_filter(self):
        return self.novel


@dataclass
class Decoder:
    """The rules of one request, and what they chose per poem."""

    rules: RuleSet
    templates: TemplateRule = None
    rhyme_groups: RhymeGroupRule = None
    group_names: list = None
    bias: ParallelBias = None  # the 对仗 bias (scoring.py), or None
    ahead: frozenset = frozenset()  # the positions where the loop looks ahead (lookahead.py)
    title: tuple = ()  # token ids of the title prefix, <title> included

    def describe(self, history):
        """Per poem: the template it followed and its rhyme group, where those rules are on."""
        info = [{} for _ in range(len(history))]
        if self.templates is not None:
            for row, name in zip(info, self.templates.chosen(history)):
                row["template"] = name
        if self.rhyme_groups is not None:
            for row, group in zip(info, self.rhyme_groups.group(history)):
                row["rhyme_group"] = self.group_names[group] if group >= 0 else None
        return info


def poem_rules(vocab, form, first_chars=None, constraints=None, prosody=None, line_filter=None, parallel_pairs=None):
    """The Decoder for one request: the form's layout and forced first characters (hard), then the
    soft rules in the order they are relaxed: tones, rhyme group, rhyme, novel lines, no repeats;
    the 对仗 bias, and where rhyme or tones restrict the line ends, the lookahead."""
    c = constraints or Constraints(first_chars=first_chars or {})
    classes = TokenClasses.from_vocab(vocab)
    hard = [format_rule(form, classes)]
    forced = {line: vocab.index[ch] for line, ch in c.first_chars.items()}
    if forced:
        hard.append(line_start_rule(form, forced, len(vocab)))
    positions = {form.line_position(line): token for line, token in forced.items()}  # every forced character
    if c.first_line:
        given = {i: vocab.index[ch] for i, ch in enumerate(c.first_line)}
        hard.append(topic.forced_rule(given, len(vocab)))
        positions.update(given)
    if c.needs_prosody and prosody is None:
        raise UserError(
            "this model file carries no prosody data (tones and rhyme groups): re-export it with this "
            "version's export.py to use --rhyme or --tones"
        )
    if c.needs_line_filter and line_filter is None:
        raise UserError(
            "this model file carries no corpus line filter: re-export it with this version's export.py to use --novel"
        )
    if c.parallel and parallel_pairs is None:
        raise UserError(
            "this model file carries no 对仗 pairs: re-export it with this version's export.py (from a corpus "
            "with 律诗) to use --parallel"
        )
    decoder = Decoder(RuleSet(tuple(hard)), group_names=prosody.group_names if prosody else None)
    decoder.title = tuple(topic.title_prefix_ids(vocab, c.title))
    if c.parallel:
        decoder.bias = ParallelBias(form, parallel_pairs, len(vocab))
    if c.lookahead and c.needs_prosody:
        decoder.ahead = penultimate_positions(form)
    soft = []
    if c.tones:
        decoder.templates = TemplateRule(form, _templates(prosody, form, c.template, positions), prosody, c.rhyme)
        soft.append(("tones", decoder.templates))
    if c.rhyme:
        decoder.rhyme_groups = RhymeGroupRule(form, prosody, c.rhyme_group)
        soft += [("rhyme_group", decoder.rhyme_groups), ("rhyme", rhyme_rule(form, prosody))]
    if c.novel:
        soft.append(("novel", novel_rule(form, classes, line_filter)))
    if c.no_repeat:
        soft.append(("no_repeat", no_repeat_rule(classes, positions)))
    if c.keywords:  # relaxed last: what the poem is about outweighs the other soft rules
        words = [[vocab.index[ch] for ch in word] for word in c.keywords]
        soft.append(("keywords", topic.keyword_rule(form, words, len(vocab))))
    decoder.rules = RuleSet(tuple(hard), tuple(soft))
    return decoder


def model_rules(model, form, constraints):
    """poem_rules for a model file (PoemModel): its prosody, line filter and 对仗 pairs are read
    only where the constraints need them."""
    c = constraints
    return poem_rules(
        model.vocab,
        form,
        constraints=c,
        prosody=model.prosody if c.needs_prosody else None,
        line_filter=model.line_filter if c.needs_line_filter else None,
        parallel_pairs=model.parallel_pairs if c.parallel else None,
    )


def _templates(prosody, form, name, forced):
    """The form's templates (or the named one) that fit the forced characters ({position: token})
    best: a start character, an acrostic or a given first line chooses among them."""
    known = prosody.templates.get(form.name, [])
    if name is not None:
        chosen = [t for t in known if t["name"] == name]
        if not chosen:
            raise UserError(
                f"--template {name} is not a template of {form.name}: choose from {', '.join(t['name'] for t in known)}"
            )
        return chosen
    if not forced:
        return known
    rule = TemplateRule(form, known, prosody, rhyme=False)
    conflicts = [sum(not rule.requirements[k, p, token] for p, token in forced.items()) for k in range(len(known))]
    return [t for t, n in zip(known, conflicts) if n == min(conflicts)]


def generate(step_fn, zero_state, vocab, form, n, rules, sampling=Sampling(), seed=0):
    """`n` poems of `form` as strings, one batch (see generate_detailed)."""
    return [p["text"] for p in generate_detailed(step_fn, zero_state, vocab, form, n, rules, sampling, seed)]


def prefix_tokens(vocab, form, title=()):
    """The tokens the model reads before the poem's first character: <bos> [title <title>] <form>."""
    return [vocab.bos_id, *title, vocab.form_id(form.name)]


def _uniforms(n, length, seed):
    """float [n, length]: one generator per poem, drawn once per position, so poem i is the same
    whatever the batch size. The standard library's Mersenne Twister: importing numpy.random would
    add 10 ms to infer.py."""
    streams = (random.Random(f"{seed}/{i}") for i in range(n))
    return np.array([[stream.random() for _ in range(length)] for stream in streams]).reshape(n, length)


def generate_detailed(step_fn, zero_state, vocab, form, n, decoder, sampling=Sampling(), seed=0, observe=None):
    """`n` poems as dicts: text, and where the rules are on, template, rhyme group, relaxations.

    step_fn(tokens int64 [B], h, c) -> (logits [B, V], h, c); zero_state(B) -> (h, c).
    `decoder` is a Decoder from poem_rules (or a bare RuleSet). observe(position, scores), where
    given, sees the sampler's input [B, V] at each position that had a choice.
    """
    if isinstance(decoder, RuleSet):
        decoder = Decoder(decoder)
    uniforms = _uniforms(n, form.length, seed)
    h, c = zero_state(n)
    for token in prefix_tokens(vocab, form, decoder.title):
        logits, h, c = step_fn(np.full(n, token, np.int64), h, c)
    history = np.zeros((n, form.length), np.int64)
    relaxed = [[] for _ in range(n)]
    pairs = word_pairs(form)

    def score(logits, position, history, allowed):
        return position_scores(logits, position, history, allowed, decoder.bias, pairs)

    for position in range(form.length):
        allowed, dropped = allowed_tokens(decoder.rules, position, history[:, :position], len(vocab))
        for row, names in enumerate(dropped):
            if names:
                relaxed[row].append({"position": position, "relaxed": names})
        only = np.flatnonzero(allowed) if allowed.ndim == 1 else ()
        ahead = None
        if len(only) == 1:  # punctuation, a forced character: nothing to sample
            history[:, position] = only[0]
        else:
            _, scores = score(logits, position, history[:, :position], allowed)
            if position in decoder.ahead:
                scores, ahead = look_ahead(
                    step_fn, decoder.rules, position, history[:, :position], scores, (h, c), score
                )
            if observe is not None:
                observe(position, scores)
            history[:, position] = sample(scores, sampling, uniforms[:, position])
        if position + 1 < form.length:  # the rules force <eos> after the last line: no need to run it
            chosen = history[:, position]
            logits, h, c = ahead.step_for(chosen) if ahead is not None else step_fn(chosen, h, c)
    info = decoder.describe(history)
    return [
        {"text": vocab.decode(row), **extra, **({"relaxed": r} if decoder.rules.soft else {})}
        for row, extra, r in zip(history, info, relaxed)
    ]
