"""Independent numpy BPTT of the two-layer voting network of ``models/eprop_voting.py``.

Written from the equations, not from the Brian2 code: a forward pass over a batch that
stores every step, then the backward pass through time by the chain rule. Used by
tests/models/test_eprop_voting.py (the engine must reproduce these gradients) and checked there
against finite differences on a smooth version of the network.

Per layer, step ``t`` (``a[t]`` the layer's input, ``kin`` = ``1 - alpha`` for PLIF
neurons and 1 for LIF neurons)::

    X[t] = W a[t]
    H[t] = alpha V[t-1] + kin X[t]
    z[t] = step(H[t] - theta)          (Heaviside: H >= theta)
    V[t] = H[t] - R[t],   R[t] = H[t] z[t]   (reset to 0; R is a constant for the gradient)

Loss per sample: ``mean_c (r_c - onehot_c)**2`` with ``r_c`` the spike count of class
``c``'s ``n_vote`` output cells divided by ``n_vote * T``; the batch loss is the mean
over samples.
"""

from __future__ import annotations

import numpy as np


def atan_surrogate(x, a=2.0):
    """Derivative of ``arctan(pi/2 a x)/pi + 1/2``."""
    return (a / 2) / (1 + (np.pi / 2 * a * x) ** 2)


def heaviside(x):
    return (x >= 0).astype(np.float64)


def layer_forward(a, W, alpha, theta, plif, step=heaviside, surrogate=atan_surrogate,
                  reset=True):
    """``a`` (B, T, n_in) -> dict of per-step arrays (B, T, n) and the spikes ``z``.
    ``reset=False`` drops the reset (for the finite-difference check of the backward
    pass, which cannot hold a constant ``R``)."""
    B, T, _ = a.shape
    n = W.shape[0]
    kin = (1 - alpha) if plif else np.ones(n)
    V = np.zeros((B, n))
    out = {k: np.zeros((B, T, n)) for k in ("X", "H", "z", "psi", "Vprev")}
    for t in range(T):
        X = a[:, t] @ W.T
        H = alpha * V + kin * X
        z = step(H - theta)
        out["X"][:, t], out["H"][:, t], out["z"][:, t] = X, H, z
        out["psi"][:, t] = surrogate(H - theta)
        out["Vprev"][:, t] = V
        V = H - H * z if reset else H
    out["kin"] = kin
    return out


def forward(params, a, n_vote, plif, **kw):
    h = layer_forward(a, params["W1"], params["alpha1"], params["theta1"], plif, **kw)
    o = layer_forward(h["z"], params["W2"], params["alpha2"], params["theta2"], plif, **kw)
    T = a.shape[1]
    counts = o["z"].sum(axis=1)                                  # (B, n_out)
    rates = counts.reshape(len(a), -1, n_vote).sum(axis=2) / (n_vote * T)
    return h, o, rates


def loss(params, a, labels, n_vote, plif, **kw):
    _, _, r = forward(params, a, n_vote, plif, **kw)
    onehot = np.eye(r.shape[1])[labels]
    return float(((r - onehot) ** 2).mean(axis=1).mean())


def _layer_backward(f, dz, alpha, plif):
    """Gradients of one layer from ``dL/dz[t]`` (B, T, n): delta, dtheta, dalpha."""
    B, T, n = dz.shape
    delta = np.zeros((B, T, n))
    nxt = np.zeros((B, n))
    for t in reversed(range(T)):
        # H[t] reaches the loss through z[t] and through H[t+1] = alpha (H[t] - R[t]) + ...
        nxt = dz[:, t] * f["psi"][:, t] + alpha * nxt
        delta[:, t] = nxt
    dtheta = -(dz * f["psi"]).sum(axis=(0, 1))
    direct = f["Vprev"] - (f["X"] if plif else 0.0)              # dH[t]/dalpha at fixed V[t-1]
    dalpha = (delta * direct).sum(axis=(0, 1))
    return delta, dtheta, dalpha


def gradients(params, a, labels, n_vote, plif, **kw):
    """Gradients of the batch-mean loss for W1, W2, alpha1, alpha2, theta1, theta2."""
    h, o, r = forward(params, a, n_vote, plif, **kw)
    B, T, _ = a.shape
    n_classes = r.shape[1]
    onehot = np.eye(n_classes)[labels]
    g_class = 2 * (r - onehot) / n_classes / (n_vote * T) / B    # dL/dcount per class
    g = np.repeat(g_class, n_vote, axis=1)                       # (B, n_out)
    dz2 = np.repeat(g[:, None, :], T, axis=1)
    d2, dth2, dal2 = _layer_backward(o, dz2, params["alpha2"], plif)
    kd2 = d2 * o["kin"]                                          # dL/dX2
    dW2 = np.einsum("btk,btj->kj", kd2, h["z"])
    dz1 = kd2 @ params["W2"]
    d1, dth1, dal1 = _layer_backward(h, dz1, params["alpha1"], plif)
    kd1 = d1 * h["kin"]
    dW1 = np.einsum("btj,bti->ji", kd1, a)
    return {"W1": dW1, "W2": dW2, "alpha1": dal1, "alpha2": dal2,
            "theta1": dth1, "theta2": dth2}
