"""Independent numpy reference of surrogate-gradient BPTT and of exact e-prop.

A plain, readable float64 numpy implementation written for one job: to be compared with
the e-prop engine that trains inside the compiled Brian2 network (DESIGN.md, "Gradient-
trained protocols: online learning inside the network"). It is not fast and it is not
used by the package. No autograd: the backward pass is an explicit loop backwards in
time, and e-prop is an explicit loop forwards in time.

Model (discrete time, one step per ``dt``, every state zero before ``t = 0``)
----------------------------------------------------------------------------
Shapes: ``x`` is ``(T, n_in)``; ``W_in`` is ``(n_hid, n_in)``; ``W_out`` is
``(n_out, n_hid)``; ``alpha``, ``theta`` are ``(n_hid,)``; ``b_out`` is ``(n_out,)``.

::

    I[t]  = W_in @ x[t]
    c[t]  = theta * z[t-1]                         # reset by subtraction (z[-1] = 0)
    v[t]  = alpha * v[t-1] + I[t] - c[t]           # v[-1] = 0
    z[t]  = H(v[t] - theta)                        # hard (default): 1 if v > theta else 0
          = sigmoid(beta * (v[t] - theta))         # soft=True (differentiable model)
    y[t]  = kappa * y[t-1] + W_out @ z[t] + b_out  # y[-1] = 0, kappa fixed

``v[t]`` is the membrane of step ``t`` before the spike of step ``t`` is known; the reset
of that spike is subtracted in step ``t + 1`` after the decay (the convention of Bellec
et al. 2020). ``H(0) = 0`` (a spike needs ``v > theta``).

The decay is parametrised by ``alpha`` directly (``alpha = exp(-dt/tau_m)``); gradients
are ``dL/dalpha`` per hidden neuron. For ``tau`` use the chain rule
``dL/dtau = dL/dalpha * alpha / tau**2`` (``dt = 1``); ``grad_tau_from_alpha`` does it.

Surrogate ("pseudo-derivative") ``psi[t] = dz[t]/dv[t]``:

- ``'pwl'``     ``psi = gamma * max(0, 1 - |v - theta| / theta)`` (Bellec et al. 2020)
- ``'sigmoid'`` ``psi = beta * s * (1 - s)``, ``s = sigmoid(beta * (v - theta))``,
  i.e. the derivative of ``sigmoid(beta * (v - theta))``.

Through the threshold of ``H``: ``dz[t]/dtheta = -psi[t]``. With ``soft=True`` and the
sigmoid surrogate both are the true derivatives of the soft model.

The reset is OUT of the gradient (default ``reset_in_gradient=False``): the whole term
``c[t] = theta * z[t-1]`` is a constant (stop-gradient) for the backward pass, both its
``z`` and its ``theta``. ``forward`` accepts ``reset=c`` (shape ``(T, n_hid)``) to use given
reset values instead of computing them; the loss of the frozen-reset model is then an
ordinary differentiable function (in soft mode), and its true gradient is what the BPTT
here computes. That is how the finite-difference tests are run: ``c`` is taken from the
unperturbed run (``forward(...)["reset"]``) and held fixed while a parameter is
perturbed. ``bptt_gradients(..., reset_in_gradient=True)`` also differentiates through
the reset (for comparison only; e-prop does not support it).

Losses (``cfg.loss``)
---------------------
- ``'mse'``: per step, ``L = sum_t 0.5 * ||y[t] - target[t]||^2``; ``target`` is
  ``(T, n_out)``; ``dL/dy[t] = y[t] - target[t]``.
- ``'ce'``: time-summed readout, ``logits = c * sum_t y[t]`` (``c = cfg.logit_scale``),
  ``L = -log softmax(logits)[label]``; ``target`` is the integer label;
  ``dL/dy[t] = c * (softmax(logits) - onehot(label))`` for every ``t``.
- ``'mse_sum'``: squared error of the time-summed readout against the one-hot label,
  ``L = 0.5 * ||c * sum_t y[t] - onehot(label)||^2``;
  ``dL/dy[t] = c * (c * sum_t y - onehot)``.

BPTT (``bptt_gradients``), backward in time with adjoints ``a_y[t] = dL/dy[t]`` (total)
and ``a_v[t] = dL/dv[t]`` (total), ``g[t]`` the direct loss gradient::

    a_y[t] = g[t] + kappa * a_y[t+1]                       (a_y[T] = 0)
    d_z[t] = W_out.T @ a_y[t]                              (dL/dz[t], through the readout)
    a_v[t] = psi[t] * d_z[t] + alpha * a_v[t+1]            (a_v[T] = 0)
    dW_out += outer(a_y[t], z[t]);  db_out += a_y[t]
    dW_in  += outer(a_v[t], x[t])
    dalpha += a_v[t] * v[t-1]                              (v[-1] = 0)
    dtheta += -psi[t] * d_z[t]

(with the reset in the gradient, ``d_z[t]`` gains ``-theta * a_v[t+1]`` and ``dtheta``
gains ``-z[t-1] * a_v[t]``.)

E-prop (``eprop_gradients``): derivation for this architecture
---------------------------------------------------------------
With no recurrence and ``c[t]`` constant, ``v_j[t]`` depends on the parameters only
through the linear recursion ``v_j[t] = alpha_j v_j[t-1] + sum_i W_ji x_i[t] - const``.
Differentiating it:

- ``dv_j[t]/dW_ji = alpha_j dv_j[t-1]/dW_ji + x_i[t]``, so
  ``dv_j[t]/dW_ji = eps_ji[t] = sum_{t'<=t} alpha_j^(t-t') x_i[t']`` (the presynaptic
  trace, filtered with the POSTsynaptic decay; it is per synapse because alpha is per
  hidden neuron).
- ``dv_j[t]/dalpha_j = v_j[t-1] + alpha_j dv_j[t-1]/dalpha_j``, so
  ``eps_alpha_j[t] = alpha_j eps_alpha_j[t-1] + v_j[t-1] = sum_{t'<=t} alpha_j^(t-t')
  v_j[t'-1]``. ``v_j[t-1]`` is exactly the value multiplied by ``alpha_j``: the
  membrane of step ``t-1`` before the decay, which already contains every reset up to
  ``c[t-1]`` but not the reset ``c[t]`` of spike ``z[t-1]`` (that is subtracted after
  the decay). The resets enter the trace only through the VALUES of ``v``, never through
  derivatives: the derivative of ``-c[t]`` is zero.
- ``dv_j[t]/dtheta_j = 0`` (theta appears in ``v`` only through the frozen reset), so
  the threshold enters only through ``H``: ``dz_j[t]/dtheta_j = -psi_j[t]``, an
  eligibility without memory.
- ``z_j[t]`` does not feed any ``v`` (no recurrence; reset frozen), so the only paths
  from ``z_j[t]`` to ``L`` go through the readout:
  ``dL/dz_j[t] = sum_k W_out[k, j] sum_{t'>=t} kappa^(t'-t) g_k[t']``.

Eligibilities ``e_ji[t] = psi_j[t] eps_ji[t]``, ``e_alpha_j[t] = psi_j[t] eps_alpha_j[t]``,
``e_theta_j[t] = -psi_j[t]``. Then ``dL/dp = sum_t dL/dz_j[t] e_p[t]``; exchanging the
sums over ``t <= t'`` moves the readout filter from the (future) learning signal onto
the eligibility trace::

    sum_t e[t] sum_{t'>=t} kappa^(t'-t) g[t'] = sum_t' g[t'] ebar[t'],
    ebar[t] = kappa * ebar[t-1] + e[t]

so with the learning signal ``L_j[t] = sum_k B_jk g_k[t]``, ``B = W_out.T``::

    dL/dW_in[j, i] = sum_t L_j[t] ebar_ji[t]   (and likewise alpha, theta)
    dL/dW_out[k, j] = sum_t g_k[t] zbar_j[t],  zbar[t] = kappa zbar[t-1] + z[t]
    dL/db_out[k]    = sum_t g_k[t] sum_{t'<=t} kappa^(t-t')

This is exactly the BPTT gradient above (a reordering of the same finite sums; they agree
to rounding). For ``'mse'`` ``g[t]`` is known at step ``t`` (fully online); for ``'ce'``
``g[t] = softmax - onehot`` is known only at the end of the sample, so the online
engine accumulates ``sum_t ebar[t]`` and multiplies once at the end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SURROGATES = ("pwl", "sigmoid")
LOSSES = ("mse", "ce", "mse_sum")


@dataclass(frozen=True)
class EpropConfig:
    """Everything that is not a learned parameter.

    ``kappa``: readout decay. ``logit_scale``: ``c`` of the time-summed losses (their
    logits are ``c * sum_t y[t]``). ``surrogate``: ``'pwl'`` or ``'sigmoid'``. ``gamma``:
    height of the piecewise-linear surrogate. ``beta``: steepness of the sigmoid
    (surrogate and soft forward). ``soft``: ``z = sigmoid(beta (v - theta))`` instead
    of ``H`` (requires ``surrogate='sigmoid'``). ``loss``: ``'mse'``, ``'ce'`` or ``'mse_sum'``.
    """

    kappa: float = 0.9
    logit_scale: float = 1.0
    surrogate: str = "pwl"
    gamma: float = 0.3
    beta: float = 5.0
    soft: bool = False
    loss: str = "mse"

    def __post_init__(self):
        if self.surrogate not in SURROGATES:
            raise ValueError(f"surrogate must be one of {SURROGATES}, not {self.surrogate!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, not {self.loss!r}")
        if self.soft and self.surrogate != "sigmoid":
            raise ValueError("soft=True needs surrogate='sigmoid' (the true derivative)")


def _sigmoid(u):
    return 0.5 * (1.0 + np.tanh(0.5 * u))  # stable for large |u|


def _params(params):
    W_in = np.asarray(params["W_in"], dtype=np.float64)
    W_out = np.asarray(params["W_out"], dtype=np.float64)
    alpha = np.asarray(params["alpha"], dtype=np.float64)
    theta = np.asarray(params["theta"], dtype=np.float64)
    n_out, n_hid = W_out.shape
    b = params.get("b_out")
    b_out = np.zeros(n_out) if b is None else np.asarray(b, dtype=np.float64)
    assert W_in.shape[0] == n_hid and alpha.shape == (n_hid,) and theta.shape == (n_hid,)
    assert b_out.shape == (n_out,)
    return W_in, W_out, alpha, theta, b_out


def surrogate(v, theta, cfg):
    """``psi = dz/dv`` at membrane ``v`` (any shape broadcasting with ``theta``)."""
    u = v - theta
    if cfg.surrogate == "pwl":
        return cfg.gamma * np.maximum(0.0, 1.0 - np.abs(u) / theta)
    s = _sigmoid(cfg.beta * u)
    return cfg.beta * s * (1.0 - s)


def forward(params, x, cfg, reset=None):
    """Run one sample. ``x``: ``(T, n_in)``.

    ``reset``: optional ``(T, n_hid)`` array of reset values ``c[t]`` to use instead of
    ``theta * z[t-1]`` (the frozen reset of the finite-difference checks).

    Returns a dict of arrays: ``I``, ``v``, ``z``, ``psi``, ``reset`` (each
    ``(T, n_hid)``; ``reset[t] = c[t]`` as used), ``y`` ``(T, n_out)``.
    """
    W_in, W_out, alpha, theta, b_out = _params(params)
    x = np.asarray(x, dtype=np.float64)
    T = x.shape[0]
    n_hid, n_out = W_in.shape[0], W_out.shape[0]
    I = x @ W_in.T
    v = np.zeros((T, n_hid))
    z = np.zeros((T, n_hid))
    c = np.zeros((T, n_hid))
    y = np.zeros((T, n_out))
    v_prev = np.zeros(n_hid)
    z_prev = np.zeros(n_hid)
    y_prev = np.zeros(n_out)
    for t in range(T):
        c[t] = theta * z_prev if reset is None else reset[t]
        v[t] = alpha * v_prev + I[t] - c[t]
        if cfg.soft:
            z[t] = _sigmoid(cfg.beta * (v[t] - theta))
        else:
            z[t] = (v[t] > theta).astype(np.float64)
        y[t] = cfg.kappa * y_prev + W_out @ z[t] + b_out
        v_prev, z_prev, y_prev = v[t], z[t], y[t]
    psi = surrogate(v, theta, cfg)
    return {"I": I, "v": v, "z": z, "psi": psi, "reset": c, "y": y}


def loss_and_output_grad(y, target, cfg):
    """Loss and its direct gradient ``g[t] = dL/dy[t]`` (shape of ``y``)."""
    y = np.asarray(y, dtype=np.float64)
    if cfg.loss == "mse":
        err = y - np.asarray(target, dtype=np.float64)
        return 0.5 * float(np.sum(err * err)), err
    if cfg.loss == "mse_sum":
        onehot = np.zeros(y.shape[1])
        onehot[int(target)] = 1.0
        err = cfg.logit_scale * y.sum(axis=0) - onehot
        g = cfg.logit_scale * err
        return 0.5 * float(err @ err), np.broadcast_to(g, y.shape).copy()
    logits = cfg.logit_scale * y.sum(axis=0)
    m = logits.max()
    logp = logits - m - np.log(np.sum(np.exp(logits - m)))
    label = int(target)
    p = np.exp(logp)
    onehot = np.zeros_like(p)
    onehot[label] = 1.0
    g = np.broadcast_to(cfg.logit_scale * (p - onehot), y.shape).copy()
    return -float(logp[label]), g


def loss(params, x, target, cfg, reset=None):
    """Loss of one sample (optionally with the frozen reset values ``reset``)."""
    out = forward(params, x, cfg, reset=reset)
    return loss_and_output_grad(out["y"], target, cfg)[0]


def bptt_gradients(params, x, target, cfg, reset_in_gradient=False):
    """Loss and surrogate gradients of one sample by an explicit backward loop.

    Returns ``(loss, grads)``, ``grads`` a dict with ``W_in``, ``W_out``, ``alpha``,
    ``theta``, ``b_out`` (shapes of the parameters).
    """
    W_in, W_out, alpha, theta, b_out = _params(params)
    out = forward(params, x, cfg)
    x = np.asarray(x, dtype=np.float64)
    v, z, psi = out["v"], out["z"], out["psi"]
    L, g = loss_and_output_grad(out["y"], target, cfg)
    T, n_hid = v.shape
    dW_in = np.zeros_like(W_in)
    dW_out = np.zeros_like(W_out)
    dalpha = np.zeros(n_hid)
    dtheta = np.zeros(n_hid)
    db = np.zeros_like(b_out)
    a_y_next = np.zeros(W_out.shape[0])
    a_v_next = np.zeros(n_hid)
    for t in range(T - 1, -1, -1):
        a_y = g[t] + cfg.kappa * a_y_next
        d_z = W_out.T @ a_y
        if reset_in_gradient:
            d_z = d_z - theta * a_v_next  # z[t] enters v[t+1] through -theta * z[t]
        a_v = psi[t] * d_z + alpha * a_v_next
        v_before = v[t - 1] if t > 0 else np.zeros(n_hid)
        dW_out += np.outer(a_y, z[t])
        db += a_y
        dW_in += np.outer(a_v, x[t])
        dalpha += a_v * v_before
        dtheta += -psi[t] * d_z
        if reset_in_gradient and t > 0:
            dtheta += -z[t - 1] * a_v
        a_y_next, a_v_next = a_y, a_v
    return L, {"W_in": dW_in, "W_out": dW_out, "alpha": dalpha, "theta": dtheta, "b_out": db}


def eprop_gradients(params, x, target, cfg, feedback=None, return_traces=False):
    """Loss and gradients of one sample by e-prop, an explicit forward-in-time loop.

    ``feedback``: ``B`` of shape ``(n_hid, n_out)``, default ``W_out.T`` (exact BPTT for
    this architecture). With ``return_traces=True`` a third item is returned: a dict of
    per-step arrays ``eps`` ``(T, n_hid, n_in)``, ``eps_alpha`` ``(T, n_hid)``, ``e_in``,
    ``e_alpha``, ``e_theta`` (eligibilities), ``ebar_in``, ``ebar_alpha``, ``ebar_theta``
    (readout-filtered), ``zbar`` ``(T, n_hid)``, ``bbar`` ``(T,)`` and ``learning_signal``
    ``(T, n_hid)``.
    """
    W_in, W_out, alpha, theta, b_out = _params(params)
    B = W_out.T if feedback is None else np.asarray(feedback, dtype=np.float64)
    out = forward(params, x, cfg)
    x = np.asarray(x, dtype=np.float64)
    v, z, psi = out["v"], out["z"], out["psi"]
    L, g = loss_and_output_grad(out["y"], target, cfg)
    T, n_hid = v.shape
    n_in = x.shape[1]
    kappa = cfg.kappa
    eps = np.zeros((n_hid, n_in))
    eps_a = np.zeros(n_hid)
    ebar_in = np.zeros((n_hid, n_in))
    ebar_a = np.zeros(n_hid)
    ebar_th = np.zeros(n_hid)
    zbar = np.zeros(n_hid)
    bbar = 0.0
    dW_in = np.zeros_like(W_in)
    dW_out = np.zeros_like(W_out)
    dalpha = np.zeros(n_hid)
    dtheta = np.zeros(n_hid)
    db = np.zeros_like(b_out)
    rec = {k: [] for k in ("eps", "eps_alpha", "e_in", "e_alpha", "e_theta", "ebar_in",
                           "ebar_alpha", "ebar_theta", "zbar", "bbar", "learning_signal")}
    v_prev = np.zeros(n_hid)
    for t in range(T):
        # eligibility vectors (dv[t]/dparam, reset held constant)
        eps = alpha[:, None] * eps + x[t][None, :]
        eps_a = alpha * eps_a + v_prev
        # eligibility traces (dz[t]/dparam through the surrogate)
        e_in = psi[t][:, None] * eps
        e_a = psi[t] * eps_a
        e_th = -psi[t]
        # readout filter on the eligibility traces
        ebar_in = kappa * ebar_in + e_in
        ebar_a = kappa * ebar_a + e_a
        ebar_th = kappa * ebar_th + e_th
        zbar = kappa * zbar + z[t]
        bbar = kappa * bbar + 1.0
        # learning signal and accumulation
        Ls = B @ g[t]
        dW_in += Ls[:, None] * ebar_in
        dalpha += Ls * ebar_a
        dtheta += Ls * ebar_th
        dW_out += np.outer(g[t], zbar)
        db += g[t] * bbar
        if return_traces:
            for k, val in (("eps", eps), ("eps_alpha", eps_a), ("e_in", e_in),
                           ("e_alpha", e_a), ("e_theta", e_th), ("ebar_in", ebar_in),
                           ("ebar_alpha", ebar_a), ("ebar_theta", ebar_th),
                           ("zbar", zbar), ("bbar", bbar), ("learning_signal", Ls)):
                rec[k].append(np.array(val, dtype=np.float64, copy=True))
        v_prev = v[t]
    grads = {"W_in": dW_in, "W_out": dW_out, "alpha": dalpha, "theta": dtheta, "b_out": db}
    if return_traces:
        return L, grads, {k: np.stack(val) for k, val in rec.items()}
    return L, grads


def _batch(fn, params, xs, targets, cfg, **kw):
    total = 0.0
    acc = None
    for x, target in zip(xs, targets, strict=True):
        L, gr = fn(params, x, target, cfg, **kw)
        total += L
        acc = {k: val.copy() for k, val in gr.items()} if acc is None else {
            k: acc[k] + gr[k] for k in acc}
    return total, acc


def bptt_gradients_batch(params, xs, targets, cfg, **kw):
    """Summed loss and summed gradients over samples ``xs`` ``(B, T, n_in)`` and
    ``targets`` (``(B, T, n_out)`` for ``'mse'``, ``(B,)`` labels for ``'ce'``)."""
    return _batch(bptt_gradients, params, xs, targets, cfg, **kw)


def eprop_gradients_batch(params, xs, targets, cfg, **kw):
    """Summed loss and summed e-prop gradients over samples (see ``bptt_gradients_batch``)."""
    return _batch(eprop_gradients, params, xs, targets, cfg, **kw)


def grad_tau_from_alpha(grad_alpha, tau, dt=1.0):
    """``dL/dtau`` from ``dL/dalpha`` for ``alpha = exp(-dt/tau)``."""
    tau = np.asarray(tau, dtype=np.float64)
    return np.asarray(grad_alpha) * np.exp(-dt / tau) * dt / tau**2
