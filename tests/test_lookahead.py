"""The lookahead at each line's next-to-last character, and the guard against loops of one word."""

import collections

import numpy as np
import pytest

import poemnet.generation.lookahead as lookahead
from poemnet.common.forms import FORMS
from poemnet.common.vocab import Vocab
from poemnet.generation.generate import Constraints, Decoder, generate_detailed, poem_rules
from poemnet.generation.lookahead import candidates, look_ahead, penultimate_positions
from poemnet.generation.model_choice import SHIPPED_MODEL
from poemnet.generation.rules import RuleSet, TokenClasses, format_rule
from poemnet.generation.runtime import PoemModel
from poemnet.generation.sampling import Sampling
from poemnet.generation.scoring import guard_words, position_scores, word_pairs

FORM = FORMS["五绝"]
P = 9  # line 2's next-to-last character
VOCAB = Vocab.build(["春风花鸟月山水云天人东西南北江河日夜，。"])
V = len(VOCAB)
RNG = np.random.default_rng(5)
L_P = RNG.normal(0, 1.5, V).astype(np.float32)  # the logits at P, whatever came before
W = RNG.normal(0, 2.0, (V, V)).astype(np.float32)  # the logits at P + 1 after each x
ALLOWED = np.zeros(V, bool)
ALLOWED[[VOCAB.index[ch] for ch in "东江河"]] = True  # what the rules allow at P + 1


def toy_step(tokens, h, c):
    """A model whose logits at P are L_P and at P + 1 are W[x]; flat elsewhere. h counts tokens."""
    h = h + 1
    position = int(h[0, 0, 0]) - 2  # after <bos> and the form token, the next position
    if position == P:
        logits = np.repeat(L_P[None], len(tokens), axis=0)
    elif position == P + 1:
        logits = W[tokens]
    else:
        logits = np.zeros((len(tokens), V), np.float32)
    return logits, h, c


def toy_zero_state(n):
    return np.zeros((1, n, 1), np.float32), np.zeros((1, n, 1), np.float32)


CLASSES = TokenClasses.from_vocab(VOCAB)


def toy_decoder(ahead):
    rule = lambda position, history: ALLOWED if position == P + 1 else None  # noqa: E731
    layout = format_rule(FORM, CLASSES)
    return Decoder(RuleSet((layout, rule)), ahead=frozenset({P}) if ahead else frozenset())


def softmax(x):
    e = np.exp(x.astype(np.float64) - x.max())
    return e / e.sum()


def pair_frequencies(ahead, n=20000):
    poems = generate_detailed(toy_step, toy_zero_state, VOCAB, FORM, n, toy_decoder(ahead), Sampling(1.0, 0, 1.0), 3)
    ids = [(VOCAB.index[p["text"][P]], VOCAB.index[p["text"][P + 1]]) for p in poems]
    return {pair: count / n for pair, count in collections.Counter(ids).items()}


def exact_pairs():
    """The model's pair (x, y) at (P, P + 1) conditioned on y being allowed (x a character)."""
    joint = (softmax(L_P) * CLASSES.hanzi)[:, None] * np.stack([softmax(row) for row in W]) * ALLOWED[None, :]
    joint /= joint.sum()
    return {(x, y): joint[x, y] for x, y in zip(*np.nonzero(joint))}


def total_variation(p, q):
    return sum(abs(p.get(k, 0) - q.get(k, 0)) for k in set(p) | set(q)) / 2


def test_sampling_with_the_lookahead_draws_the_pair_the_model_gives_conditioned_on_an_allowed_end(monkeypatch):
    monkeypatch.setattr(lookahead, "CANDIDATES", V)  # every x a candidate: exact
    exact = exact_pairs()
    assert total_variation(pair_frequencies(ahead=True), exact) < 0.03
    assert total_variation(pair_frequencies(ahead=False), exact) > 0.15  # blind: x as if nothing followed


def test_the_scores_are_the_logit_plus_the_log_probability_of_an_allowed_next_character():
    history = np.zeros((2, P), np.int64)
    scores = np.repeat(L_P[None], 2, axis=0)
    h, c = toy_zero_state(2)
    h += P + 2  # the state that produced the logits at P
    pairs = word_pairs(FORM)

    def score(logits, position, past, allowed):
        return position_scores(logits, position, past, allowed, None, pairs)

    rules = RuleSet((lambda position, history: ALLOWED if position == P + 1 else None,))
    out, ahead = look_ahead(toy_step, rules, P, history, scores, (h, c), score, k=3)
    top = np.argsort(-L_P, kind="stable")[:3]
    for x in range(V):
        expected = L_P[x] + np.log(softmax(W[x])[ALLOWED].sum()) if x in top else -np.inf
        assert out[0, x] == pytest.approx(expected, abs=1e-5) and out[1, x] == out[0, x]
    logits, h_next, _ = ahead.step_for(np.array([top[1], top[0]]))  # the chosen x's step, already run
    assert np.array_equal(logits, W[[top[1], top[0]]]) and (h_next == P + 3).all()


def test_where_every_candidates_allowed_mass_underflows_the_candidates_keep_their_own_scores():
    def hopeless(tokens, h, c):  # the one allowed next character lies 1e4 logits below the rest
        logits = np.zeros((len(tokens), V), np.float32)
        logits[:, ALLOWED] = -1e4
        return logits, h, c

    rules = RuleSet((lambda position, history: ALLOWED if position == P + 1 else None,))
    scores = np.repeat(L_P[None], 1, axis=0)
    pairs = word_pairs(FORM)

    def score(logits, position, past, allowed):
        return position_scores(logits, position, past, allowed, None, pairs)

    out, _ = look_ahead(hopeless, rules, P, np.zeros((1, P), np.int64), scores, toy_zero_state(1), score, k=3)
    top = np.argsort(-L_P, kind="stable")[:3]
    assert np.array_equal(np.flatnonzero(np.isfinite(out[0])), np.sort(top)) and (out[0, top] == L_P[top]).all()


def test_candidates_are_the_k_highest_finite_scores_ties_to_the_lower_id():
    scores = np.array([[1.0, 3.0, 3.0, -np.inf, 3.0, 2.0], [0.0, -np.inf, -np.inf, -np.inf, -np.inf, 5.0]], np.float32)
    assert candidates(scores, 2).tolist() == [[False, True, True, False, False, False], [True] + [False] * 4 + [True]]
    assert candidates(scores, 4)[1].sum() == 2  # fewer finite than k: every finite one


def test_the_lookahead_runs_at_each_lines_next_to_last_character():
    assert penultimate_positions(FORMS["五绝"]) == {3, 9, 15, 21}
    assert penultimate_positions(FORMS["七律"]) == {5 + 8 * line for line in range(8)}
    model = PoemModel(SHIPPED_MODEL)
    on = poem_rules(model.vocab, FORM, constraints=Constraints(rhyme=True), prosody=model.prosody)
    assert on.ahead == {3, 9, 15, 21}
    assert poem_rules(model.vocab, FORM, constraints=Constraints(tones=True), prosody=model.prosody).ahead
    assert not poem_rules(model.vocab, FORM, constraints=Constraints()).ahead  # nothing restricts the ends
    off = Constraints(rhyme=True, lookahead=False)
    assert not poem_rules(model.vocab, FORM, constraints=off, prosody=model.prosody).ahead


def test_the_chosen_candidates_step_is_the_one_the_loop_would_run(all_forms_onnx, monkeypatch):
    """Reusing the lookahead's step for the chosen character writes the poems a fresh step writes."""
    model, form = PoemModel(all_forms_onnx[0]), FORMS["七律"]
    everything = Constraints(rhyme=True, tones=True, no_repeat=True, novel=True)
    decoder = poem_rules(
        model.vocab, form, constraints=everything, prosody=model.prosody, line_filter=model.line_filter
    )

    def run(sampling):
        return generate_detailed(model.step, model.zero_state, model.vocab, form, 6, decoder, sampling, 11)

    reused = [run(Sampling(0.8, 0, 0.9)), run(Sampling(greedy=True))]
    state = {}
    original = lookahead.look_ahead

    def remember(step_fn, rules, position, history, scores, hc, score_fn, k=None):
        state["hc"] = hc
        return original(step_fn, rules, position, history, scores, hc, score_fn, k)

    monkeypatch.setattr("poemnet.generation.generate.look_ahead", remember)
    monkeypatch.setattr(lookahead.Ahead, "step_for", lambda self, chosen: model.step(chosen, *state["hc"]))
    assert [run(Sampling(0.8, 0, 0.9)), run(Sampling(greedy=True))] == reused


def test_the_guard_refuses_a_third_use_of_a_word_unless_nothing_else_is_left():
    pairs = word_pairs(FORM)
    history = np.array([[VOCAB.index[ch] for ch in "春风花春风，月山水春"]])  # 春风 twice; 春 at 9
    scores = np.zeros((1, V), np.float32)
    guarded = guard_words(scores, 10, history, pairs)
    assert guarded[0, VOCAB.index["风"]] == -np.inf and np.isfinite(guarded[0]).sum() == V - 1
    once = np.array([[VOCAB.index[ch] for ch in "春风花山水，月山水春"]])
    assert np.isfinite(guard_words(scores, 10, once, pairs)).all()
    only = np.full((1, V), -np.inf, np.float32)
    only[0, VOCAB.index["风"]] = 0
    assert np.array_equal(guard_words(only, 10, history, pairs), only)  # nothing else: it gives way
    assert np.isfinite(guard_words(scores, 6, history[:, :6], pairs)).all()  # a line's first character


def test_greedy_poems_of_the_shipped_model_never_use_a_word_three_times():
    """Without the guard, 七律 greedy poems looped in 148 of 200 start characters (一年一笑一时休，
    一笑相逢不可寻。一笑不知身世事 ...)."""
    model = PoemModel(SHIPPED_MODEL)
    form = FORMS["七律"]
    for start in "一春月山风花人不":
        decoder = poem_rules(model.vocab, form, first_chars={0: start})
        (poem,) = generate_detailed(model.step, model.zero_state, model.vocab, form, 1, decoder, Sampling(greedy=True))
        lines = [line[:-1] for line in form.lines(poem["text"])]
        words = collections.Counter(line[i : i + 2] for line in lines for i in range(len(line) - 1))
        assert max(words.values()) <= 2, poem["text"]
