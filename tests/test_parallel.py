"""--parallel: the 对仗 bias in a 律诗's middle couplets."""

import json

import numpy as np
import pytest

import poemnet
from conftest import assert_clean_error, run_script
from poemnet.common.couplets import MIDDLE
from poemnet.common.errors import UserError
from poemnet.common.forms import FORMS
from poemnet.common.vocab import Vocab
from poemnet.generation.generate import Constraints, generate_detailed, poem_rules
from poemnet.generation.model_choice import SHIPPED_MODEL
from poemnet.generation.model_file import ParallelPairs
from poemnet.generation.runtime import PoemModel
from poemnet.generation.sampling import Sampling
from poemnet.generation.scoring import STRENGTH, ParallelBias

WULV = FORMS["五律"]
VOCAB = Vocab.build(["感时花溅泪恨别鸟惊心国破山河在城春草木深，。"])
ID = VOCAB.index


def test_the_bias_adds_strength_times_each_partners_weight_where_the_second_line_meets_the_first():
    pairs = ParallelPairs({ID["花"]: (np.array([ID["鸟"], ID["草"]]), np.array([2.0, 0.5], np.float32))})
    bias = ParallelBias(WULV, pairs, len(VOCAB))
    history = np.array([[ID[ch] for ch in "国破山河在，城春草木深。感时花溅泪，恨别"]] * 2)
    history[1, 14] = ID["鸟"]  # the second row's line 3 has 鸟 where the first has 花
    at = 18 + 2  # line 4, column 2: under 花
    added = bias(at, history)
    expected = np.zeros(len(VOCAB), np.float32)
    expected[[ID["鸟"], ID["草"]]] = np.float32(STRENGTH) * np.array([2.0, 0.5], np.float32)
    assert np.array_equal(added[0], expected) and not added[1].any()  # 鸟 has no partners
    assert not bias(18, history).any()  # under 感: no partners
    assert all(bias(p, history) is None for p in range(18))  # lines 1-3: nothing
    assert bias(30 + 2, np.zeros((1, 32), np.int64)) is not None  # line 6 pairs with line 5
    assert all(bias(p, np.zeros((1, p), np.int64)) is None for p in range(36, 48))  # lines 7 and 8 do not


def test_parallel_refuses_a_jueju_and_a_model_without_pairs(all_forms_onnx):
    pairs = ParallelPairs({})
    with pytest.raises(UserError, match="五律 or 七律"):
        ParallelBias(FORMS["七绝"], pairs, 10)
    model = PoemModel(all_forms_onnx[0])
    assert model.parallel_pairs is None  # trained on 绝句 alone: no 律诗, no pairs
    with pytest.raises(UserError, match="no 对仗 pairs"):
        poem_rules(model.vocab, FORMS["七律"], constraints=Constraints(parallel=True))
    result = run_script("infer.py", "--model", all_forms_onnx[0], "--form", "七律", "--parallel")
    assert_clean_error(result, "对仗", "--parallel")
    result = run_script("infer.py", "--model", SHIPPED_MODEL, "--form", "五绝", "--parallel")
    assert_clean_error(result, "--parallel", "五律 or 七律")


def middle_pairing(texts, pairs, vocab, form):
    """The share of middle-couplet positions whose characters the model file's pairs pair."""
    hits = []
    for text in texts:
        lines = [line[:-1] for line in form.lines(text)]
        for first, second in MIDDLE:
            for a, b in zip(lines[first], lines[second]):
                ids, _ = pairs.partners.get(vocab.index[a], ((), ()))
                hits.append(vocab.index[b] in set(np.asarray(ids).tolist()))
    return sum(hits) / len(hits)


@pytest.mark.parametrize("form", ["五律", "七律"])
def test_the_shipped_models_middle_couplets_pair_more_with_parallel_and_nothing_before_them_moves(form):
    model, form = PoemModel(SHIPPED_MODEL), FORMS[form]
    pairs = model.parallel_pairs

    def poems(parallel, n=64, seed=2):
        c = Constraints(parallel=parallel)
        decoder = poem_rules(model.vocab, form, constraints=c, parallel_pairs=pairs if parallel else None)
        return [
            p["text"]
            for p in generate_detailed(
                model.step, model.zero_state, model.vocab, form, n, decoder, Sampling(0.8, 0, 0.9), seed
            )
        ]

    plain, paired = poems(False), poems(True)
    before = middle_pairing(plain, pairs, model.vocab, form)
    assert middle_pairing(paired, pairs, model.vocab, form) > before + 0.08, before
    fourth = 3 * (form.line_len + 1)
    assert [t[:fourth] for t in paired] == [t[:fourth] for t in plain]  # lines 1-3: no bias there
    assert poems(True, n=1, seed=2)[0] == paired[0]  # poem 0 whatever the batch


def test_the_api_and_the_command_carry_parallel(tmp_path):
    net = poemnet.PoemNet()
    poems = net.write(form="七律", rhyme=True, tones=True, parallel=True, seed=4, n=2)
    assert poems[1].request.parallel and net.rewrite(poems[1]) == poems[1]
    result = run_script(
        "infer.py", "--model", "shipped", "--form", "七律", "--parallel", "--greedy", "--json", "--rhyme", "--tones"
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)["poems"][0]
    assert "--parallel" in out["again"]
    again = run_script(*out["again"].split()[1:], "--json")
    assert json.loads(again.stdout)["poems"][0]["text"] == out["text"]
