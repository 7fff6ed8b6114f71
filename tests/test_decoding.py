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
