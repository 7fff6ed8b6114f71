"""The fast sampler against a plain reference, the exact meaning of top-k and top-p, and batch independence."""

import numpy as np
import pytest

from poemnet.common.forms import FORMS
from poemnet.generation.generate import Constraints, generate_detailed, poem_rules
from poemnet.generation.runtime import PoemModel
from poemnet.generation.sampling import Sampling, sample


def reference(logits, sampling, u):
    """One row, the textbook way: sort everything, keep the top k, then the nucleus, and pick by
    inverse CDF over the kept tokens in token-id order."""
    w = np.exp((logits.astype(np.float32) - logits.max()) / np.float32(sampling.temperature))
    order = np.argsort(-w, kind="stable")
    if sampling.top_k:
        order = order[: sampling.top_k]
    kept = w[order].astype(np.float64)
    cumulative = np.cumsum(kept)
    needed = int((cumulative - kept < sampling.top_p * cumulative[-1]).sum())
    nucleus = np.sort(order[:needed])
    cumulative = np.cumsum(w[nucleus].astype(np.float64))
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
    ],
)
def test_the_fast_sampler_picks_what_the_reference_picks(sampling, spread):
    rng = np.random.default_rng(0)
    logits = rng.normal(0, spread, (64, 3000)).astype(np.float32)
    logits[:, rng.random(3000) < 0.3] = -np.inf  # masked tokens
    logits[5] = np.where(np.isfinite(logits[5]), 0.0, -np.inf)  # a flat row: the candidate cut falls short
    uniforms = rng.random(64)
    expected = [reference(row, sampling, u) for row, u in zip(logits, uniforms)]
    assert sample(logits, sampling, uniforms).tolist() == expected
    assert [
        int(sample(row[None], sampling, [u])[0]) for row, u in zip(logits, uniforms)
    ] == expected  # the one-row path


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


@pytest.mark.parametrize(
    "constraints", [Constraints(), Constraints(rhyme=True, tones=True, no_repeat=True, novel=True)]
)
def test_generated_poems_are_the_ones_the_textbook_sampler_gives(all_forms_onnx, monkeypatch, constraints):
    """Whole poems from a trained model's real (broad) distributions: the fast sampler against the
    reference plugged into the same generation loop, seed for seed."""
    import poemnet.generation.generate

    model, form = PoemModel(all_forms_onnx[0]), FORMS["五律"]
    decoder = poem_rules(
        model.vocab, form, constraints=constraints, prosody=model.prosody, line_filter=model.line_filter
    )

    def run(seed):
        return generate_detailed(
            model.step, model.zero_state, model.vocab, form, 6, decoder, Sampling(0.8, 0, 0.9), seed
        )

    fast = [run(seed) for seed in range(3)]
    monkeypatch.setattr(
        poemnet.generation.generate,
        "sample",
        lambda logits, sampling, uniforms: np.array([reference(row, sampling, u) for row, u in zip(logits, uniforms)]),
    )
    assert fast == [run(seed) for seed in range(3)]
