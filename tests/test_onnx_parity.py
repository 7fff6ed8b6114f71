"""onnxruntime vs the torch reference, minGPT style: outputs close, then greedy poems equal."""

import numpy as np
import onnx
import pytest
import torch

from poemnet.common.forms import FORMS
from poemnet.generation.generate import generate, poem_rules
from poemnet.generation.runtime import PoemModel, top1_agreement
from poemnet.generation.sampling import Sampling
from poemnet.training import artifact, onnx_export
from poemnet.training.batches import load_data
from poemnet.training.config import load_config
from poemnet.training.model import PoemLSTM, numpy_step_fn


def models(kind, tiny_onnx, tmp_path):
    """(torch model, onnx PoemModel) for the trained tiny model or fresh random weights."""
    if kind == "trained":
        return artifact.read(tiny_onnx[2]).model, PoemModel(tiny_onnx[0])
    torch.manual_seed(11)
    trained = artifact.read(tiny_onnx[2])
    model, vocab = trained.model, trained.vocab
    random = PoemLSTM(len(vocab), model.embed.embedding_dim, model.hidden_dim).eval()
    path = tmp_path / "random.onnx"
    onnx_export.export(random, onnx_export.metadata(random, vocab, ["五绝"], "simplified", "0" * 64), path)
    return random, PoemModel(path)


@pytest.mark.parametrize("kind", ["trained", "random"])
@pytest.mark.parametrize("batch", [1, 7])
def test_one_step_matches_torch(kind, batch, tiny_onnx, tmp_path):
    model, onnx_model = models(kind, tiny_onnx, tmp_path)
    rng = np.random.default_rng(batch)
    tokens = rng.integers(0, len(onnx_model.vocab), batch)
    h = rng.normal(size=(model.num_layers, batch, model.hidden_dim)).astype(np.float32) * 0.5
    c = rng.normal(size=h.shape).astype(np.float32) * 0.5
    expected = numpy_step_fn(model)[0](tokens, h, c)
    got = onnx_model.step(tokens, h, c)
    for name, e, g in zip(("logits", "h", "c"), expected, got):
        np.testing.assert_allclose(g, e, rtol=1e-3, atol=1e-5, err_msg=name)


def test_a_50_step_rollout_feeding_the_state_back_stays_close(tiny_onnx, tmp_path):
    model, onnx_model = models("trained", tiny_onnx, tmp_path)
    torch_step, zero_state = numpy_step_fn(model)
    tokens = np.random.default_rng(0).integers(0, len(onnx_model.vocab), (50, 3))
    th, tc = zero_state(3)
    oh, oc = onnx_model.zero_state(3)
    for t in range(50):
        tl, th, tc = torch_step(tokens[t], th, tc)
        ol, oh, oc = onnx_model.step(tokens[t], oh, oc)
        for e, g in ((tl, ol), (th, oh), (tc, oc)):
            np.testing.assert_allclose(g, e, rtol=0, atol=1e-4, err_msg=f"step {t}")


def test_greedy_poems_are_identical_through_torch_and_onnxruntime(tiny_onnx, tmp_path):
    model, onnx_model = models("trained", tiny_onnx, tmp_path)
    form, vocab = FORMS["五绝"], onnx_model.vocab
    for first in ({}, {0: "月"}, {0: "春", 1: "夏", 2: "秋", 3: "冬"}):
        rules = poem_rules(vocab, form, first)
        via_torch = generate(*numpy_step_fn(model), vocab, form, 2, rules, Sampling(greedy=True))
        via_onnx = generate(onnx_model.step, onnx_model.zero_state, vocab, form, 2, rules, Sampling(greedy=True))
        assert via_torch == via_onnx and form.matches(via_onnx[0])


def test_int8_stores_every_matrix_in_8_bits_and_agrees_with_fp32(tiny_onnx):
    ops = onnx_export.count_ops(tiny_onnx[1])
    # two products per LSTM layer (input and state) and the output layer, all integer
    assert ops.get("MatMulInteger") == 2 * 2 + 1 and "LSTM" not in ops and "MatMul" not in ops and "Gemm" not in ops
    graph = onnx.load(str(tiny_onnx[1])).graph
    stored = {i.name: i for i in graph.initializer}
    big = [i for i in stored.values() if len(i.dims) == 2]  # the matrices (scales and biases are vectors)
    assert big and all(i.data_type in (onnx.TensorProto.INT8, onnx.TensorProto.UINT8) for i in big)
    fp32, int8 = PoemModel(tiny_onnx[0]), PoemModel(tiny_onnx[1])
    assert list(stored["head.w_scale"].dims) == [len(fp32.vocab)]  # one scale per character
    cfg = load_config(tiny_onnx[2] / "config.yaml")
    val = load_data(cfg.data).val["五绝"][:300].numpy()  # teacher forcing over validation poems
    agree, total = top1_agreement(fp32, int8, val)
    assert total == 300 * (val.shape[1] - 1) and agree / total >= 0.95, agree / total
    form = FORMS["五绝"]
    poems = generate(int8.step, int8.zero_state, int8.vocab, form, 64, poem_rules(int8.vocab, form), Sampling(), seed=5)
    assert all(form.matches(p) for p in poems)


@pytest.mark.parametrize("batch", [2, 7, 64])
def test_an_int8_row_does_not_depend_on_the_other_rows_of_its_batch(tiny_onnx, batch):
    int8 = PoemModel(tiny_onnx[1])
    rng = np.random.default_rng(batch)
    tokens = rng.integers(int8.vocab.num_reserved, len(int8.vocab), batch)
    h, c = (rng.standard_normal((2, int8.num_layers, batch, int8.hidden_dim)) * 0.5).astype(np.float32)
    together = int8.step(tokens, h, c)
    for row in (0, batch - 1):
        alone = int8.step(tokens[row : row + 1], h[:, row : row + 1], c[:, row : row + 1])
        for a, b in zip(alone, together):
            assert np.array_equal(a[..., 0, :] if a.ndim == 3 else a[0], b[..., row, :] if b.ndim == 3 else b[row])


def test_top1_agreement_tells_a_different_model_apart(tiny_onnx, tmp_path):
    trained, random = PoemModel(tiny_onnx[0]), models("random", tiny_onnx, tmp_path)[1]
    val = load_data(load_config(tiny_onnx[2] / "config.yaml").data).val["五绝"][:100].numpy()
    agree, total = top1_agreement(trained, trained, val)
    assert agree == total
    agree, total = top1_agreement(trained, random, val)
    assert agree / total < 0.5
