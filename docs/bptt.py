"""Backpropagation through time for the simple RNN of docs/bptt.md, by hand, in numpy.

    z_k = U h_{k-1} + W x_k + b,    h_k = f(z_k),    L = sum_t L_t(h_t)

`loss_grads[t]` is dL_t/dh_t (the loss's direct gradient at step t). Three routes give dL/dU:
the double sum of the notes (`bptt_double_sum`), the same sum accumulated in one backward pass
(`bptt`), and forward-mode recursion through h_{k-1} (`grad_U_forward`, real-time recurrent
learning). The tests check all three against torch autograd.
"""

import numpy as np

ACTIVATIONS = {
    # f and f' written with h = f(z), which the backward pass has at hand
    "tanh": (np.tanh, lambda h: 1.0 - h * h),
    "logistic": (lambda z: 1.0 / (1.0 + np.exp(-z)), lambda h: h * (1.0 - h)),
}


def forward(U, W, b, xs, h0, activation="tanh"):
    """Return (zs, hs) with hs[0] = h0 and hs[k] = h_k for k = 1..T (xs[k-1] is x_k)."""
    f, _ = ACTIVATIONS[activation]
    zs, hs = [], [h0]
    for x in xs:
        zs.append(U @ hs[-1] + W @ x + b)
        hs.append(f(zs[-1]))
    return zs, hs


def deltas(U, hs, loss_grads, t, activation="tanh"):
    """delta_{t,k} = dL_t/dz_k for k = t, t-1, ..., 1, returned as a list indexed by k-1."""
    _, fprime = ACTIVATIONS[activation]
    out = [None] * t
    out[t - 1] = fprime(hs[t]) * loss_grads[t - 1]  # delta_{t,t} = f'(z_t) * dL_t/dh_t
    for k in range(t - 1, 0, -1):
        out[k - 1] = fprime(hs[k]) * (U.T @ out[k])  # delta_{t,k} = diag(f'(z_k)) U^T delta_{t,k+1}
    return out


def bptt_double_sum(U, W, b, xs, h0, loss_grads, activation="tanh"):
    """dL/dU, dL/dW, dL/db as the notes write them: sum over t, then over k <= t."""
    _, hs = forward(U, W, b, xs, h0, activation)
    gU, gW, gb = np.zeros_like(U), np.zeros_like(W), np.zeros_like(b)
    for t in range(1, len(xs) + 1):
        for k, delta in enumerate(deltas(U, hs, loss_grads, t, activation), start=1):
            gU += np.outer(delta, hs[k - 1])  # immediate derivative of z_k: h_{k-1} held fixed
            gW += np.outer(delta, xs[k - 1])
            gb += delta
    return gU, gW, gb


def bptt(U, W, b, xs, h0, loss_grads, activation="tanh"):
    """The same sums in one backward pass: Delta_k = sum_{t>=k} delta_{t,k} obeys
    Delta_k = diag(f'(z_k)) (dL_k/dh_k + U^T Delta_{k+1}), so the cost is O(T), not O(T^2)."""
    _, fprime = ACTIVATIONS[activation]
    _, hs = forward(U, W, b, xs, h0, activation)
    gU, gW, gb = np.zeros_like(U), np.zeros_like(W), np.zeros_like(b)
    carry = np.zeros_like(h0)  # U^T Delta_{k+1}
    for k in range(len(xs), 0, -1):
        delta = fprime(hs[k]) * (loss_grads[k - 1] + carry)
        gU += np.outer(delta, hs[k - 1])
        gW += np.outer(delta, xs[k - 1])
        gb += delta
        carry = U.T @ delta
    return gU, gW, gb


def grad_U_forward(U, W, b, xs, h0, loss_grads, t, activation="tanh"):
    """dL_t/dU by recursing through h_{k-1}: dz_k/du_ij = e_i h_{k-1,j} + U dh_{k-1}/du_ij.

    Carries dh_k/dU as an [n, n, n] array J[:, i, j] = dh_k/du_ij (fine for the small n of a test).
    """
    _, fprime = ACTIVATIONS[activation]
    _, hs = forward(U, W, b, xs, h0, activation)
    n = len(h0)
    J = np.zeros((n, n, n))  # dh_0/dU = 0
    for k in range(1, t + 1):
        immediate = np.einsum("ai,j->aij", np.eye(n), hs[k - 1])
        dz = immediate + np.einsum("ab,bij->aij", U, J)
        J = fprime(hs[k])[:, None, None] * dz
    return np.einsum("a,aij->ij", loss_grads[t - 1], J)
