import numpy as np

from poemnet.common.forms import FORMS
from poemnet.common.vocab import Vocab
from poemnet.generation.rules import (
    RuleSet,
    TokenClasses,
    allowed_tokens,
    format_rule,
    line_start_rule,
    mask_logits,
    no_repeat_rule,
)
from poemnet.generation.sampling import Sampling, sample

VOCAB = Vocab.build(["床前明月光，疑是地上霜。举头望明月，低头思故乡。"])


def test_format_rule_allows_exactly_the_layout():
    form, classes = FORMS["五绝"], TokenClasses.from_vocab(VOCAB)
    rule, history = format_rule(form, classes), np.zeros((1, 0), int)
    assert np.flatnonzero(rule(5, history)).tolist() == [VOCAB.index["，"]]
    assert np.flatnonzero(rule(11, history)).tolist() == [VOCAB.index["。"]]
    assert np.flatnonzero(rule(24, history)).tolist() == [VOCAB.eos_id]
    chars = rule(0, history)
    assert not chars[: VOCAB.num_reserved].any() and not chars[VOCAB.index["，"]] and chars[VOCAB.index["月"]]


def test_rules_combine_by_and_and_contradictions_are_reported():
    form, classes = FORMS["五绝"], TokenClasses.from_vocab(VOCAB)
    rules = RuleSet((format_rule(form, classes), line_start_rule(form, {1: VOCAB.index["低"]}, len(VOCAB))))
    history = np.zeros((3, 6), int)
    allowed, relaxed = allowed_tokens(rules, 6, history, len(VOCAB))
    assert relaxed == [[], [], []]
    assert allowed.shape == (len(VOCAB),) and allowed.sum() == 1 and allowed[VOCAB.index["低"]]
    contradiction = RuleSet((format_rule(form, classes), line_start_rule(form, {0: VOCAB.index["，"]}, len(VOCAB))))
    try:
        mask_logits(np.zeros((1, len(VOCAB))), allowed_tokens(contradiction, 0, history[:1], len(VOCAB))[0])
        raise AssertionError("expected a ValueError")
    except ValueError as e:
        assert "allow no token" in str(e)


def test_sampling_respects_greedy_top_k_and_top_p():
    logits = np.log(np.array([[0.5, 0.3, 0.15, 0.05]]))
    assert sample(logits, Sampling(greedy=True), [0.99]).tolist() == [0]
    draws = np.linspace(0, 0.999, 200)
    top2 = {int(sample(logits, Sampling(top_k=2), [u])[0]) for u in draws}
    assert top2 == {0, 1}
    nucleus = {int(sample(logits, Sampling(top_p=0.75), [u])[0]) for u in draws}
    assert nucleus == {0, 1}  # 0.5 < 0.75, so the second token is needed; the third is not
    full = {int(sample(logits, Sampling(), [u])[0]) for u in draws}
    assert full == {0, 1, 2, 3}
    masked = mask_logits(logits, np.array([[False, False, True, True]]))
    assert {int(sample(masked, Sampling(), [u])[0]) for u in draws} == {2, 3}


def test_a_soft_rule_gives_way_only_in_the_rows_it_would_empty():
    form, classes = FORMS["五绝"], TokenClasses.from_vocab(VOCAB)
    moon = VOCAB.index["月"]
    rules = RuleSet(
        (format_rule(form, classes), line_start_rule(form, {1: moon}, len(VOCAB))),
        (("no_repeat", no_repeat_rule(classes)),),
    )
    history = np.array([[moon] + [0] * 5, [VOCAB.index["床"]] + [0] * 5])
    allowed, relaxed = allowed_tokens(rules, 6, history, len(VOCAB))
    assert relaxed == [["no_repeat"], []] and allowed[:, moon].all()
    allowed, relaxed = allowed_tokens(rules, 1, history[:, :1], len(VOCAB))
    assert relaxed == [[], []] and not allowed[0, moon] and allowed[1, moon]


def test_no_repeat_keeps_forced_characters_for_their_positions():
    """A character forced later is not free earlier; at its own forced position it is the hard
    rule's, and only an earlier use (or an earlier forced copy) makes it a repeat there."""
    classes, moon, frost = TokenClasses.from_vocab(VOCAB), VOCAB.index["月"], VOCAB.index["霜"]
    rule = no_repeat_rule(classes, {6: moon, 12: moon, 18: frost})
    empty = np.zeros((2, 0), int)
    assert not rule(0, empty)[..., moon].any() and not rule(0, empty)[..., frost].any()
    assert rule(0, empty)[..., VOCAB.index["床"]].all() and rule(0, empty)[..., VOCAB.index["，"]].all()
    at_six = rule(6, np.full((1, 6), VOCAB.index["床"]))
    assert at_six[0, moon] and at_six[0, frost]  # a forced position: the look-ahead does not apply
    assert not rule(12, np.array([[moon] * 12]))[0, moon]  # 月 written at 6: a repeat at 12
    assert rule(19, np.zeros((1, 19), int))[0, frost] and no_repeat_rule(classes)(0, empty) is None


def test_a_template_dropped_once_never_comes_back():
    """The live templates only shrink: after a character that fits none of them (a relaxation),
    the set stays; a template dropped earlier does not return however the counts of conflicts go."""
    from poemnet.generation.rules import TemplateRule

    form = FORMS["五绝"]
    ping = np.zeros(len(VOCAB), bool)
    ping[[VOCAB.index[c] for c in "床前明光"]] = True
    prosody = type("P", (), {"ping": ping, "ze": ~ping, "rhyme_char": ping})
    templates = [{"name": "A", "lines": ["平平平平平"] * 4}, {"name": "B", "lines": ["仄平仄仄仄"] * 4}]
    rule = TemplateRule(form, templates, prosody, rhyme=False)
    ids = lambda text: np.array([[VOCAB.index[c] for c in text]])  # noqa: E731
    assert rule.alive(ids("床")).tolist() == [[True, False]]  # 床 is 平: B wants 仄 first
    # 疑 (仄) then 地上 (仄 仄): A breaks three times, B once; B had fewer conflicts but stays dropped
    assert rule.alive(ids("床疑地上")).tolist() == [[True, False]] and rule.chosen(ids("床疑地上")) == ["A"]
    assert rule.alive(ids("疑前")).tolist() == [[False, True]]  # the other row's history, from scratch
