"""Tests of the numpy BPTT / e-prop reference (tests/references/eprop.py).

The reference is what the e-prop engine is compared with, so these tests pin it three
ways: BPTT equals central finite differences on a differentiable (soft) model with the
reset frozen; e-prop equals BPTT to rounding on the hard (Heaviside) model; and small
cases are worked out by hand.
"""

from __future__ import annotations


import numpy as np
import pytest

from tests.references import eprop as ref

GROUPS = ("W_in", "W_out", "alpha", "theta", "b_out")


def make_params(rng, n_in=5, n_hid=4, n_out=3, w_scale=1.0, bias=True):
    return {
        "W_in": rng.normal(0.0, w_scale, (n_hid, n_in)),
        "W_out": rng.normal(0.0, 1.0, (n_out, n_hid)),
        "alpha": rng.uniform(0.6, 0.95, n_hid),
        "theta": rng.uniform(0.5, 1.5, n_hid),
        "b_out": rng.normal(0.0, 0.1, n_out) if bias else None,
    }


def make_sample(rng, loss, T=12, n_in=5, n_out=3, rate=0.3):
    x = (rng.random((T, n_in)) < rate).astype(float)
    target = rng.normal(0.0, 1.0, (T, n_out)) if loss == "mse" else int(rng.integers(n_out))
    return x, target


def finite_differences(params, x, target, cfg, reset, h=1e-6):
    """Central differences of the loss for every entry of every parameter group.

    ``reset`` is passed to ``ref.loss``: the reset values of the unperturbed run (frozen
    reset) or None (reset recomputed, i.e. in the gradient)."""
    grads = {}
    for name in GROUPS:
        base = np.asarray(params[name], dtype=float)
        gr = np.zeros_like(base)
        for idx in np.ndindex(base.shape):
            vals = []
            for sign in (1.0, -1.0):
                p = dict(params)
                arr = base.copy()
                arr[idx] += sign * h
                p[name] = arr
                vals.append(ref.loss(p, x, target, cfg, reset=reset))
            gr[idx] = (vals[0] - vals[1]) / (2 * h)
        grads[name] = gr
    return grads


def assert_grads_close(a, b, rtol, atol):
    for name in GROUPS:
        np.testing.assert_allclose(a[name], b[name], rtol=rtol, atol=atol, err_msg=name)


# ------------------------------------------------------- 1. BPTT vs finite differences


@pytest.mark.parametrize("loss", ["mse", "ce", "mse_sum"])
@pytest.mark.parametrize("seed", [0, 1])
def test_bptt_equals_finite_differences_soft_model_frozen_reset(loss, seed):
    rng = np.random.default_rng(seed)
    cfg = ref.EpropConfig(kappa=0.8, surrogate="sigmoid", beta=3.0, soft=True, loss=loss)
    params = make_params(rng)
    x, target = make_sample(rng, loss)
    # Freeze the reset: c[t] = theta * z[t-1] of the unperturbed run, held fixed while a
    # parameter is perturbed (the reset outside the gradient, as a true function).
    frozen = ref.forward(params, x, cfg)["reset"]
    assert np.any(frozen > 0.1)  # the reset is not negligible
    L, grads = ref.bptt_gradients(params, x, target, cfg)
    assert L == pytest.approx(ref.loss(params, x, target, cfg, reset=frozen), rel=1e-14)
    fd = finite_differences(params, x, target, cfg, reset=frozen)
    assert_grads_close(grads, fd, rtol=1e-5, atol=1e-8)
    for name in GROUPS:
        assert np.abs(grads[name]).max() > 1e-3, name
    # The reset matters: differentiating through it gives a different gradient.
    _, g_with = ref.bptt_gradients(params, x, target, cfg, reset_in_gradient=True)
    assert not np.allclose(g_with["alpha"], grads["alpha"], rtol=1e-3)


@pytest.mark.parametrize("loss", ["mse", "ce", "mse_sum"])
def test_bptt_reset_in_gradient_equals_finite_differences(loss):
    rng = np.random.default_rng(7)
    cfg = ref.EpropConfig(kappa=0.8, surrogate="sigmoid", beta=3.0, soft=True, loss=loss)
    params = make_params(rng)
    x, target = make_sample(rng, loss)
    _, grads = ref.bptt_gradients(params, x, target, cfg, reset_in_gradient=True)
    fd = finite_differences(params, x, target, cfg, reset=None)
    assert_grads_close(grads, fd, rtol=1e-5, atol=1e-8)


# ------------------------------------------------------------ 2. e-prop equals BPTT


@pytest.mark.parametrize("loss", ["mse", "ce", "mse_sum"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_eprop_equals_bptt_hard_pwl(loss, seed):
    rng = np.random.default_rng(100 + seed)
    cfg = ref.EpropConfig(kappa=0.85, surrogate="pwl", gamma=0.3, loss=loss)
    params = make_params(rng, n_in=6, n_hid=5, n_out=3, w_scale=1.2)
    if loss == "ce":
        # keep the time-summed logits (about T / (1 - kappa) readout steps) out of
        # softmax saturation, where every gradient vanishes
        params["W_out"] *= 0.03
        params["b_out"] *= 0.01
    x, target = make_sample(rng, loss, T=25, n_in=6, rate=0.4)
    out = ref.forward(params, x, cfg)
    assert set(np.unique(out["z"])) <= {0.0, 1.0}
    assert out["z"].sum() >= 3  # spikes occur
    assert 0 < (out["z"].sum(axis=0) > 0).sum()  # some neurons spike
    assert np.count_nonzero(out["psi"]) > 0
    L_b, g_b = ref.bptt_gradients(params, x, target, cfg)
    L_e, g_e = ref.eprop_gradients(params, x, target, cfg)
    assert L_e == L_b
    for name in GROUPS:
        assert np.abs(g_b[name]).max() > 1e-5, name  # non-trivial gradients
        scale = np.abs(g_b[name]).max()
        np.testing.assert_allclose(g_e[name], g_b[name], rtol=1e-10, atol=1e-13 * scale,
                                   err_msg=name)


@pytest.mark.parametrize("loss", ["mse", "ce", "mse_sum"])
def test_eprop_equals_bptt_sigmoid_surrogate(loss):
    rng = np.random.default_rng(42)
    for soft in (False, True):
        cfg = ref.EpropConfig(kappa=0.7, surrogate="sigmoid", beta=4.0, soft=soft, loss=loss)
        params = make_params(rng)
        x, target = make_sample(rng, loss)
        _, g_b = ref.bptt_gradients(params, x, target, cfg)
        _, g_e = ref.eprop_gradients(params, x, target, cfg)
        assert_grads_close(g_e, g_b, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------- 3. hand-worked cases


def one_neuron(alpha, theta, w_in=1.0, w_out=1.0):
    return {"W_in": np.array([[w_in]]), "W_out": np.array([[w_out]]),
            "alpha": np.array([alpha]), "theta": np.array([theta])}


def test_presynaptic_trace_is_alpha_power_after_single_input_spike():
    alpha, T, t0 = 0.7, 8, 2
    x = np.zeros((T, 1))
    x[t0, 0] = 1.0
    cfg = ref.EpropConfig(kappa=0.5, loss="mse")
    params = one_neuron(alpha, theta=10.0)  # never spikes
    _, _, tr = ref.eprop_gradients(params, x, np.zeros((T, 1)), cfg, return_traces=True)
    expected = np.array([alpha ** (t - t0) if t >= t0 else 0.0 for t in range(T)])
    np.testing.assert_allclose(tr["eps"][:, 0, 0], expected, rtol=1e-15)
    # Without spikes and reset, v[t] = alpha^(t-t0) for t >= t0 and the decay
    # eligibility is d v[t] / d alpha = (t - t0) alpha^(t-t0-1).
    v = ref.forward(params, x, cfg)["v"][:, 0]
    np.testing.assert_allclose(v, expected, rtol=1e-15)
    exp_a = np.array([(t - t0) * alpha ** (t - t0 - 1) if t > t0 else 0.0 for t in range(T)])
    np.testing.assert_allclose(tr["eps_alpha"][:, 0], exp_a, rtol=1e-14)


def test_decay_eligibility_uses_pre_decay_membrane_with_reset_as_value():
    # Constant input 0.6, theta 1, alpha 0.5: v = 0.6, 0.9, 1.05 (spike), then the reset
    # is subtracted after the decay: v[3] = 0.5*1.05 + 0.6 - 1 = 0.125, ...
    alpha, theta, T = 0.5, 1.0, 6
    x = np.full((T, 1), 1.0)
    params = one_neuron(alpha, theta, w_in=0.6)
    cfg = ref.EpropConfig(kappa=0.0, loss="mse", surrogate="pwl", gamma=0.3)
    out = ref.forward(params, x, cfg)
    v = out["v"][:, 0]
    np.testing.assert_allclose(v[:4], [0.6, 0.9, 1.05, 0.125], rtol=1e-15)
    assert out["z"][:, 0].tolist()[:4] == [0.0, 0.0, 1.0, 0.0]
    _, _, tr = ref.eprop_gradients(params, x, np.zeros((T, 1)), cfg, return_traces=True)
    ea = np.zeros(T)
    prev, v_prev = 0.0, 0.0
    for t in range(T):
        prev = alpha * prev + v_prev  # eps_alpha[t] = alpha eps_alpha[t-1] + v[t-1]
        ea[t] = prev
        v_prev = v[t]
    np.testing.assert_allclose(tr["eps_alpha"][:, 0], ea, rtol=1e-15)
    # explicit: eps_a[1] = v[0] = 0.6; eps_a[2] = 0.5*0.6 + 0.9 = 1.2;
    # eps_a[3] = 0.5*1.2 + 1.05 = 1.65 (v[2] before the reset of its spike)
    np.testing.assert_allclose(tr["eps_alpha"][:4, 0], [0.0, 0.6, 1.2, 1.65], rtol=1e-15)
    # threshold eligibility: -psi, psi = 0.3 * max(0, 1 - |v - 1|)
    np.testing.assert_allclose(tr["e_theta"][:4, 0], [-0.3 * 0.6, -0.3 * 0.9, -0.3 * 0.95,
                                                       -0.3 * 0.125], rtol=1e-14)


def test_readout_filter():
    # Hidden neuron driven hard at t = 1 and t = 4 only: it spikes exactly then.
    kappa, T = 0.6, 8
    x = np.zeros((T, 1))
    x[[1, 4], 0] = 1.0
    params = one_neuron(alpha=0.1, theta=1.0, w_in=5.0, w_out=2.0)
    params["b_out"] = np.array([0.25])
    cfg = ref.EpropConfig(kappa=kappa, loss="mse")
    out = ref.forward(params, x, cfg)
    assert out["z"][:, 0].tolist() == [0, 1, 0, 0, 1, 0, 0, 0]
    zbar = np.array([sum(kappa ** (t - s) for s in (1, 4) if s <= t) for t in range(T)])
    bbar = np.array([sum(kappa ** k for k in range(t + 1)) for t in range(T)])
    np.testing.assert_allclose(out["y"][:, 0], 2.0 * zbar + 0.25 * bbar, rtol=1e-14)
    target = np.zeros((T, 1))
    _, g, tr = ref.eprop_gradients(params, x, target, cfg, return_traces=True)
    np.testing.assert_allclose(tr["zbar"][:, 0], zbar, rtol=1e-14)
    np.testing.assert_allclose(tr["bbar"], bbar, rtol=1e-14)
    # mse with zero target: dL/dW_out = sum_t y[t] zbar[t], dL/db = sum_t y[t] bbar[t]
    y = out["y"][:, 0]
    assert g["W_out"][0, 0] == pytest.approx(np.sum(y * zbar), rel=1e-13)
    assert g["b_out"][0] == pytest.approx(np.sum(y * bbar), rel=1e-13)


def test_ce_output_gradient_is_softmax_minus_onehot():
    rng = np.random.default_rng(3)
    T, n_out, label = 5, 4, 2
    y = rng.normal(size=(T, n_out))
    cfg = ref.EpropConfig(loss="ce")
    L, g = ref.loss_and_output_grad(y, label, cfg)
    logits = y.sum(axis=0)
    p = np.exp(logits) / np.exp(logits).sum()
    assert L == pytest.approx(-np.log(p[label]), rel=1e-13)
    expected = p - np.eye(n_out)[label]
    for t in range(T):
        np.testing.assert_allclose(g[t], expected, rtol=1e-13, atol=1e-15)
    # stable for large logits
    L_big, g_big = ref.loss_and_output_grad(y + 1000.0, label, cfg)
    assert np.isfinite(L_big) and np.all(np.isfinite(g_big))
    assert L_big == pytest.approx(L, rel=1e-9)


def test_learning_signal_is_feedback_times_output_error():
    rng = np.random.default_rng(5)
    cfg = ref.EpropConfig(kappa=0.9, loss="mse")
    params = make_params(rng)
    x, target = make_sample(rng, "mse")
    out = ref.forward(params, x, cfg)
    _, _, tr = ref.eprop_gradients(params, x, target, cfg, return_traces=True)
    np.testing.assert_allclose(tr["learning_signal"], (out["y"] - target) @ params["W_out"],
                               rtol=1e-13, atol=1e-15)


def test_grad_tau_chain_rule():
    tau = np.array([5.0, 20.0])
    alpha = np.exp(-1.0 / tau)
    h = 1e-6
    dalpha_dtau = (np.exp(-1.0 / (tau + h)) - np.exp(-1.0 / (tau - h))) / (2 * h)
    np.testing.assert_allclose(ref.grad_tau_from_alpha(np.ones(2), tau), dalpha_dtau, rtol=1e-8)
    assert np.all(alpha < 1)


def test_config_validation():
    with pytest.raises(ValueError):
        ref.EpropConfig(soft=True, surrogate="pwl")
    with pytest.raises(ValueError):
        ref.EpropConfig(loss="max")
    with pytest.raises(ValueError):
        ref.EpropConfig(surrogate="gauss")


# ----------------------------------------------------------------------- 4. batches


@pytest.mark.parametrize("loss", ["mse", "ce", "mse_sum"])
def test_batch_equals_sum_over_samples(loss):
    rng = np.random.default_rng(11)
    cfg = ref.EpropConfig(kappa=0.8, loss=loss)
    params = make_params(rng, w_scale=1.2)
    samples = [make_sample(rng, loss, rate=0.4) for _ in range(4)]
    xs = np.stack([s[0] for s in samples])
    targets = np.stack([s[1] for s in samples]) if loss == "mse" else np.array(
        [s[1] for s in samples])
    for single, batch in ((ref.bptt_gradients, ref.bptt_gradients_batch),
                          (ref.eprop_gradients, ref.eprop_gradients_batch)):
        L_b, g_b = batch(params, xs, targets, cfg)
        per = [single(params, x, tg, cfg) for x, tg in zip(xs, targets)]
        assert L_b == pytest.approx(sum(p[0] for p in per), rel=1e-14)
        for name in GROUPS:
            np.testing.assert_allclose(g_b[name], sum(p[1][name] for p in per),
                                       rtol=1e-14, atol=1e-15)
