"""Hand-written BPTT against torch autograd in float64, and a finite-difference check."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "docs"))  # the teaching code lives beside its notes
from bptt import bptt, bptt_double_sum, deltas, forward, grad_U_forward  # noqa: E402

TORCH_F = {"tanh": torch.tanh, "logistic": torch.sigmoid}


def problem(n, m, T, seed):
    rng = np.random.default_rng(seed)
    U, W = rng.normal(size=(n, n)) * 0.6, rng.normal(size=(n, m)) * 0.6
    b, h0 = rng.normal(size=n) * 0.1, rng.normal(size=n) * 0.5
    xs, ys = rng.normal(size=(T, m)), rng.normal(size=(T, n))
    return U, W, b, list(xs), h0, ys


def squared_error_grads(hs, ys):
    """L_t = 1/2 |h_t - y_t|^2, so dL_t/dh_t = h_t - y_t."""
    return [h - y for h, y in zip(hs[1:], ys)]


def autograd(U, W, b, xs, h0, ys, activation):
    Ut, Wt, bt = (torch.tensor(a, requires_grad=True) for a in (U, W, b))
    h, loss = torch.tensor(h0), 0.0
    for x, y in zip(xs, ys):
        h = TORCH_F[activation](Ut @ h + Wt @ torch.tensor(x) + bt)
        loss = loss + 0.5 * ((h - torch.tensor(y)) ** 2).sum()
    loss.backward()
    return Ut.grad.numpy(), Wt.grad.numpy(), bt.grad.numpy()


def rel_err(a, b):
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-300)


@pytest.mark.parametrize("activation", ["tanh", "logistic"])
@pytest.mark.parametrize("n, m, T", [(1, 1, 1), (3, 2, 5), (6, 4, 12), (10, 7, 30)])
def test_hand_written_gradients_equal_autograd(activation, n, m, T):
    U, W, b, xs, h0, ys = problem(n, m, T, seed=n * 100 + T)
    _, hs = forward(U, W, b, xs, h0, activation)
    grads = squared_error_grads(hs, ys)
    expected = autograd(U, W, b, xs, h0, ys, activation)
    for route in (bptt_double_sum, bptt):
        for got, want in zip(route(U, W, b, xs, h0, grads, activation), expected):
            assert got.shape == want.shape and rel_err(got, want) < 1e-6


@pytest.mark.parametrize("activation", ["tanh", "logistic"])
def test_immediate_derivative_sum_equals_recursion_through_h(activation):
    U, W, b, xs, h0, ys = problem(4, 3, 9, seed=7)
    _, hs = forward(U, W, b, xs, h0, activation)
    grads = squared_error_grads(hs, ys)
    for t in range(1, len(xs) + 1):
        immediate = sum(np.outer(d, hs[k]) for k, d in enumerate(deltas(U, hs, grads, t, activation)))
        assert rel_err(immediate, grad_U_forward(U, W, b, xs, h0, grads, t, activation)) < 1e-10


def test_a_few_entries_match_central_differences():
    U, W, b, xs, h0, ys = problem(5, 3, 8, seed=3)

    def loss(U_, W_, b_):
        _, hs = forward(U_, W_, b_, xs, h0)
        return sum(0.5 * ((h - y) ** 2).sum() for h, y in zip(hs[1:], ys))

    _, hs = forward(U, W, b, xs, h0)
    gU, gW, gb = bptt(U, W, b, xs, h0, squared_error_grads(hs, ys))
    params, analytic, eps = {"U": U, "W": W, "b": b}, {"U": gU, "W": gW, "b": gb}, 1e-6

    def loss_moved(name, index, step):
        moved = {k: v.copy() for k, v in params.items()}
        moved[name][index] += step
        return loss(moved["U"], moved["W"], moved["b"])

    for name, index in (("U", (1, 3)), ("U", (4, 0)), ("W", (2, 1)), ("b", (0,))):
        numeric = (loss_moved(name, index, eps) - loss_moved(name, index, -eps)) / (2 * eps)
        assert abs(numeric - analytic[name][index]) < 1e-6 * max(1.0, abs(numeric)), (name, index)
