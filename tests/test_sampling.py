"""The fast sampler against a plain reference, the exact meaning of top-k and top-p, and batch independence."""

import json

import numpy as np
import pytest

from conftest import run_script
from poemnet.common.forms import FORMS
from poemnet.generation.generate import Constraints, generate_detailed, poem_rules
from poemnet.generation.model_choice import SHIPPED_MODEL
from poemnet.generation.runtime import PoemModel
from poemnet.generation.sampling import Sampling, sample


def reference(logits, sampling, u):
    """One row, the textbook way with float64 sums: sort everything, keep the top k, then the
    nucleus (all of it at top_p 1), and pick by inverse CDF over the kept tokens in token-id order."""
    with np.errstate(over="ignore"):  # quotients beyond float32 become -inf: weight 0
        w = np.exp(((logits.astype(np.float64) - logits.max()) / sampling.temperature).astype(np.float32))
    w = w.astype(np.float64)
    order = np.argsort(-w, kind="stable")
    if sampling.top_k:
        order = order[: sampling.top_k]
    order = order[w[order] > 0]
    kept = w[order]
    cumulative = np.cumsum(kept)
    needed = int((cumulative - kept < sampling.top_p * cumulative[-1]).sum()) if sampling.top_p < 1 else len(order)
    nucleus = np.sort(order[:needed])
    cumulative = np.cumsum(w[nucleus])
    return nucleus[min(int((cumulative <= u * cumulative[-1]).sum()), needed - 1)]


@pytest.mark.parametrize("spread", [2.0, 4.0, 8.0])  # flat rows take the dense sort, peaked ones the candidate list
@pytest.mark.parametrize(
    "sampling",
    [
        Sampling(0.8, 0, 0.9),
        Sampling(1.0, 0, 0.5),
        Sampling(1.5, 0, 0.95),
        Sampling(0.8, 40, 0.9),
        Sampling(1.0, 5, 1.0),
        Sampling(0.8, 0, 1.0),  # top-p off
        Sampling(1e-50, 0, 0.9),  # the limits: the row's maxima, every allowed token
        Sampling(1e39, 0, 0.9),
        Sampling(1e300, 40, 1.0),
    ],
)
def test_the_fast_sampler_picks_what_the_reference_picks(sampling, spread):
    rng = np.random.default_rng(0)
    logits = rng.normal(0, spread, (64, 3000)).astype(np.float32)
    logits[:, rng.random(3000) < 0.3] = -np.inf  # masked tokens
    logits[5] = np.where(np.isfinite(logits[5]), 0.0, -np.inf)  # a flat row: the candidate cut falls short
    uniforms = rng.random(64)
    expected = [reference(row, sampling, u) for row, u in zip(logits, uniforms)]
    assert both_paths(logits, sampling, uniforms) == (expected, expected)


def both_paths(logits, sampling, uniforms):
    """(the picks of one batch, the picks row by row), with any NaN or overflow an error."""
    with np.errstate(all="raise"):
        batch = sample(logits, sampling, uniforms).tolist()
        one_by_one = [int(sample(row[None], sampling, [u])[0]) for row, u in zip(logits, uniforms)]
    return batch, one_by_one


def test_top_p_1_keeps_every_allowed_token():
    """Each allowed token is picked by the uniform that the exact inverse CDF maps to the middle of
    its interval, light ones included (weights down to 1e-11 of the heaviest)."""
    rng = np.random.default_rng(1)
    logits = rng.uniform(-25, 0, 1372 * 2).astype(np.float32)
    logits[rng.permutation(len(logits))[:1372]] = -np.inf
    allowed = np.flatnonzero(np.isfinite(logits))
    w = np.exp(logits[allowed] - logits.max()).astype(np.float64)
    cumulative = np.cumsum(w)
    uniforms = (cumulative - w / 2) / cumulative[-1]
    rows = np.repeat(logits[None], len(allowed), axis=0)
    for sampling in (Sampling(1.0, 0, 1.0), Sampling(1.0, 2000, 1.0)):
        assert [reference(logits, sampling, u) for u in uniforms] == allowed.tolist()  # the test's own premise
        batch, one_by_one = both_paths(rows, sampling, uniforms)
        assert batch == one_by_one == allowed.tolist()


def test_the_inverse_cdf_is_exact_for_a_light_last_token():
    """Weights 1 and 1e-8: u = 0.99999999999 lies past 1 / (1 + 1e-8), so token 1, on both paths."""
    row = np.log(np.array([1.0, 1e-8], np.float32))
    u = 0.99999999999
    other = np.array([0.0, 0.0], np.float32)  # a neighbour in the batch changes nothing
    assert both_paths(np.stack([row, other]), Sampling(1.0, 0, 1.0), [u, 0.3]) == ([1, 0], [1, 0])
    assert both_paths(row[None], Sampling(1.0, 0, 0.9), [u]) == ([0], [0])  # top-p 0.9: the nucleus is {0}


@pytest.mark.parametrize("temperature", [5e-324, 1e-300, 1e-50, 1e-12])
def test_a_tiny_temperature_samples_uniformly_among_the_maxima(temperature):
    logits = np.array([1.0, 3.0, -np.inf, 3.0, 2.0, 3.0 - 1e-6], np.float32)
    uniforms = np.linspace(0, 0.999, 30)
    for sampling in (Sampling(temperature, 0, 0.9), Sampling(temperature, 0, 1.0), Sampling(temperature, 3, 1.0)):
        batch, one_by_one = both_paths(np.repeat(logits[None], 30, axis=0), sampling, uniforms)
        assert batch == one_by_one == [1 if u < 0.5 else 3 for u in uniforms]


@pytest.mark.parametrize("temperature", [1e39, 1e300, np.finfo(np.float64).max])
def test_a_huge_temperature_samples_uniformly_among_the_allowed(temperature):
    logits = np.array([-30.0, 40.0, -np.inf, 0.0, -np.inf, 7.0, 100.0], np.float32)
    allowed = [0, 1, 3, 5, 6]
    uniforms = np.linspace(0, 0.999, 50)
    batch, one_by_one = both_paths(np.repeat(logits[None], 50, axis=0), Sampling(temperature, 0, 1.0), uniforms)
    assert batch == one_by_one == [allowed[int(u * 5)] for u in uniforms]
    batch, _ = both_paths(np.repeat(logits[None], 50, axis=0), Sampling(temperature, 0, 0.5), uniforms)
    assert batch == [allowed[int(u * 3)] for u in uniforms]  # equal weights: the nucleus takes the lower ids


def test_top_k_and_top_p_on_hand_made_logits():
    logits = np.log(np.array([[0.05, 0.5, 0.15, 0.3]], np.float32))
    pick = lambda sampling, u: int(sample(logits, sampling, [u])[0])  # noqa: E731
    assert pick(Sampling(greedy=True), 0.99) == 1
    # top-p 0.75: 0.5 < 0.75, so the nucleus needs the 0.3 too: {1, 3} with mass 0.8
    assert pick(Sampling(top_p=0.75), 0.6) == 1 and pick(Sampling(top_p=0.75), 0.65) == 3  # 0.5 / 0.8 = 0.625
    assert {pick(Sampling(top_p=0.75), u) for u in np.linspace(0, 0.999, 100)} == {1, 3}
    assert {pick(Sampling(top_k=2), u) for u in np.linspace(0, 0.999, 100)} == {1, 3}
    assert {pick(Sampling(), u) for u in np.linspace(0, 0.999, 100)} == {0, 1, 2, 3}
    masked = np.array([[-np.inf, -np.inf, 0.0, 0.0]], np.float32)
    assert {int(sample(masked, Sampling(top_p=0.9), [u])[0]) for u in np.linspace(0, 0.999, 50)} == {2, 3}


def test_poem_i_does_not_depend_on_the_batch_size(all_forms_onnx):
    model, form = PoemModel(all_forms_onnx[0]), FORMS["七绝"]
    decoder = poem_rules(
        model.vocab,
        form,
        constraints=Constraints(rhyme=True, tones=True, no_repeat=True, novel=True),
        prosody=model.prosody,
        line_filter=model.line_filter,
    )

    def run(n):
        return generate_detailed(model.step, model.zero_state, model.vocab, form, n, decoder, Sampling(0.8, 0, 0.9), 7)

    one, five, eight = run(1), run(5), run(8)
    assert one[0] == five[0] == eight[0] and five == eight[:5]


@pytest.mark.parametrize("sampling", [Sampling(0.8, 0, 0.9), Sampling(1.0, 0, 1.0), Sampling(1e39, 0, 0.9)])
@pytest.mark.parametrize(
    "constraints", [Constraints(), Constraints(rhyme=True, tones=True, no_repeat=True, novel=True)]
)
def test_generated_poems_are_the_ones_the_textbook_sampler_gives(all_forms_onnx, monkeypatch, constraints, sampling):
    """Whole poems from a trained model's real (broad) distributions: the fast sampler against the
    reference plugged into the same generation loop, seed for seed (with the rules on, both sample
    the lookahead's scores at each line's next-to-last character)."""
    import poemnet.generation.generate

    model, form = PoemModel(all_forms_onnx[0]), FORMS["五律"]
    decoder = poem_rules(
        model.vocab, form, constraints=constraints, prosody=model.prosody, line_filter=model.line_filter
    )

    def run(seed):
        return generate_detailed(model.step, model.zero_state, model.vocab, form, 6, decoder, sampling, seed)

    fast = [run(seed) for seed in range(3)]
    monkeypatch.setattr(
        poemnet.generation.generate,
        "sample",
        lambda logits, sampling, uniforms: np.array([reference(row, sampling, u) for row, u in zip(logits, uniforms)]),
    )
    assert fast == [run(seed) for seed in range(3)]


def test_a_tiny_temperature_writes_the_greedy_poems_and_a_huge_one_any_allowed_ones(all_forms_onnx):
    model, form = PoemModel(all_forms_onnx[0]), FORMS["五绝"]
    decoder = poem_rules(model.vocab, form, constraints=Constraints(rhyme=True, tones=True), prosody=model.prosody)

    def run(n, sampling, seed=5):
        return generate_detailed(model.step, model.zero_state, model.vocab, form, n, decoder, sampling, seed)

    greedy = run(3, Sampling(greedy=True))
    for temperature in (1e-50, 5e-324):
        assert run(3, Sampling(temperature, 0, 0.9)) == run(1, Sampling(temperature, 0, 1.0)) * 3 == greedy
    huge = run(4, Sampling(1e39, 0, 1.0))
    assert run(1, Sampling(1e39, 0, 1.0))[0] == huge[0] and len({p["text"] for p in huge}) == 4


def test_infer_at_extreme_temperatures():
    """--temperature 1e-50 prints the greedy poems; 1e39 samples, poem 1 the same whatever --n."""

    def poems(*options):
        result = run_script("infer.py", "--model", SHIPPED_MODEL, "--seed", "3", "--json", *options)
        assert result.returncode == 0 and not result.stderr, result.stderr
        return [p["text"] for p in json.loads(result.stdout)["poems"]]

    assert poems("--temperature", "1e-50", "--n", "2") == poems("--greedy", "--n", "2")
    two = poems("--temperature", "1e39", "--n", "2")
    assert two[0] != two[1] and poems("--temperature", "1e39") == two[:1]
    assert len(set(two[0].replace("，", "").replace("。", ""))) > 10  # not one character over and over
