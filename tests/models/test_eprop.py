"""The e-prop engine (models/eprop.py) against the independent numpy reference.

For one hidden layer of current-based LIF neurons without recurrence, the reset kept out
of the gradient and a leaky readout with a time-summed loss, the gradients that the
compiled network accumulates for input weights, readout weights, membrane decays and
thresholds must equal surrogate-gradient BPTT (tests/references/eprop.py) to a relative
1e-6 (they agree to about 1e-13). The gradients are read from one SGD step with
``lr = 1`` over a batch that spans the whole run: ``g = w_before - w_after``.

The synaptic current is linear, so the reference sees the input spike trains filtered
with ``beta = exp(-dt/tau_syn)`` as its input ``x``. Further tests run several batches and
chunks (weights and Adam moments carried between runs) against a numpy re-implementation
of the update rules, with weight noise and the sign projections.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from models.devices import build, select_device
from models.eprop import EpropSpec, build_eprop_network

from tests.references import eprop as ref

N_IN, N_HID, N_OUT, T = 8, 6, 3, 25
GRAD_RTOL = 1e-6


def make_problem(seed, n_samples, n_in=N_IN, n_hid=N_HID, n_out=N_OUT, n_steps=T):
    rng = np.random.default_rng(seed)
    steps = rng.integers(0, n_steps, (n_samples, n_in))
    steps[rng.random((n_samples, n_in)) < 0.25] = -1
    labels = rng.integers(0, n_out, n_samples)
    params = {
        "W_in": rng.uniform(0.0, 0.8, (n_hid, n_in)),
        "W_out": rng.normal(0.0, 0.3, (n_out, n_hid)),
        "alpha": np.exp(-1 / 10) * rng.uniform(0.95, 1.0, n_hid),
        "theta": rng.uniform(0.8, 1.2, n_hid),
    }
    return steps, labels, params


def filtered_inputs(steps, beta, n_steps):
    """The reference's input: each spike train filtered by the synaptic decay."""
    n_samples, n_in = steps.shape
    x = np.zeros((n_samples, n_steps, n_in))
    for k in range(n_samples):
        for i in range(n_in):
            if steps[k, i] >= 0:
                lag = np.arange(n_steps - steps[k, i])
                x[k, steps[k, i]:, i] = beta ** lag
    return x


def state_args(net, params):
    """Weights by presynaptic neuron (Brian2's synapse order for all-to-all)."""
    return {net.syn_in.w: params["W_in"].T.ravel(), net.syn_out.w: params["W_out"].T.ravel(),
            net.hidden.alpha: params["alpha"], net.hidden.theta: params["theta"]}


def read_params(net, spec):
    return {"W_in": np.array(net.syn_in.w[:]).reshape(spec.n_in, spec.n_hidden).T,
            "W_out": np.array(net.syn_out.w[:]).reshape(spec.n_hidden, spec.n_out).T,
            "alpha": np.array(net.hidden.alpha[:]), "theta": np.array(net.hidden.theta[:])}


def assert_close(actual, expected, what):
    scale = np.max(np.abs(expected))
    assert scale > 0, f"{what}: the reference gradient is zero; the test would be vacuous"
    np.testing.assert_allclose(actual, expected, rtol=GRAD_RTOL, atol=GRAD_RTOL * scale,
                               err_msg=what)


def run_one_batch(spec, net, handle, steps, labels, params, learn=True):
    args = net.run_args(steps, labels, lr=1.0, learn=learn)
    args.update(state_args(net, params))
    handle.run(args)
    after = read_params(net, spec)
    return {k: params[k] - after[k] for k in params}


def reference_gradients(spec, steps, labels, params, loss, feedback=None):
    cfg = ref.EpropConfig(kappa=spec.kappa, logit_scale=spec.logit_scale, surrogate=spec.surrogate,
                          gamma=spec.gamma, beta=spec.beta_sg, loss=loss)
    x = filtered_inputs(steps, spec.beta, spec.n_steps)
    fn = ref.eprop_gradients_batch if feedback is not None else ref.bptt_gradients_batch
    kw = {"feedback": feedback} if feedback is not None else {}
    _, grads = fn(params, x, labels, cfg, **kw)
    return {k: v / len(labels) for k, v in grads.items()}, cfg, x


CE_SPEC = EpropSpec(n_in=N_IN, n_hidden=N_HID, n_out=N_OUT, n_samples=4, batch_size=4,
                    n_steps=T, tau_mem=10.0, tau_syn=5.0,
                    tau_out=8.0, logit_scale=0.3, loss="ce", learn_alpha=True,
                    learn_theta=True)


@pytest.fixture(scope="module")
def cpp_runs(session_build_cache):
    """Cross-entropy with learned decays and thresholds in C++ standalone: one build,
    three runs (a full batch, a batch with padding, learning off). Module-scoped, so it
    sets the session's build cache itself (see tests/models/test_desire.py)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SNN_BUILD_CACHE", str(session_build_cache))
        select_device("cpp")
        spec = CE_SPEC
        net = build_eprop_network(spec)
        handle = build(net.network, net.duration, compile_only=True)
        out = {}
        steps, labels, params = make_problem(1, spec.n_samples)
        out["full"] = (steps, labels, params,
                       run_one_batch(spec, net, handle, steps, labels, params),
                       net.counts_per_sample(), net.outputs_per_sample())
        steps, labels, params = make_problem(2, spec.n_samples)
        out["padded"] = (steps[:3], labels[:3], params,
                         run_one_batch(spec, net, handle, steps[:3], labels[:3], params))
        steps, labels, params = make_problem(3, spec.n_samples)
        out["off"] = run_one_batch(spec, net, handle, steps, labels, params, learn=False)
        handle.close()
        return out


def test_cross_entropy_gradients_equal_bptt(cpp_runs):
    steps, labels, params, mine, counts, outputs = cpp_runs["full"]
    expected, cfg, x = reference_gradients(CE_SPEC, steps, labels, params, "ce")
    for name in ("W_in", "W_out", "alpha", "theta"):
        assert_close(mine[name], expected[name], name)
    # the forward pass itself: spike counts and time-summed outputs of every sample
    outs = [ref.forward(params, x[k], cfg) for k in range(len(labels))]
    np.testing.assert_array_equal(counts, [o["z"].sum(axis=0) for o in outs])
    np.testing.assert_allclose(outputs, [o["y"].sum(axis=0) for o in outs],
                               rtol=1e-12, atol=1e-12)


def test_padding_samples_add_nothing(cpp_runs):
    """Label -1 marks padding: the mean is over real samples only."""
    steps, labels, params, mine = cpp_runs["padded"]
    expected, _, _ = reference_gradients(CE_SPEC, steps, labels, params, "ce")
    for name in ("W_in", "alpha"):
        assert_close(mine[name], expected[name], name)


def test_learning_off_changes_nothing(cpp_runs):
    for name, change in cpp_runs["off"].items():
        assert np.all(change == 0), name


@pytest.mark.parametrize("surrogate", ["pwl", "sigmoid"])
def test_mse_and_random_feedback_runtime(surrogate):
    """Runtime mode (numpy): squared-error loss, random feedback weights B (e-prop with
    B differs from BPTT and equals the reference's e-prop with the same B)."""
    n = 3
    spec = EpropSpec(n_in=N_IN, n_hidden=N_HID, n_out=N_OUT, n_samples=n, batch_size=n,
                     n_steps=20, tau_mem=12.0, tau_syn=4.0,
                     tau_out=6.0, logit_scale=0.2, loss="mse", feedback="random",
                     surrogate=surrogate, learn_alpha=True, learn_theta=True)
    select_device("runtime")
    net = build_eprop_network(spec, name="eprop_rt")
    handle = build(net.network, net.duration, compile_only=True)
    steps, labels, params = make_problem(4, n, n_steps=20)
    B = np.random.default_rng(5).normal(0.0, 0.5, (N_HID, N_OUT))
    args = net.run_args(steps, labels, lr=1.0, learn=True)
    args.update(state_args(net, params))
    args[net.syn_out.B] = B.ravel()
    handle.run(args)
    after = read_params(net, spec)
    mine = {k: params[k] - after[k] for k in params}
    expected, _, _ = reference_gradients(spec, steps, labels, params, "mse_sum", feedback=B)
    for name in ("W_in", "W_out", "alpha", "theta"):
        assert_close(mine[name], expected[name], name)
    exact, _, _ = reference_gradients(spec, steps, labels, params, "mse_sum")
    assert not np.allclose(mine["W_in"], exact["W_in"], rtol=1e-3), \
        "random feedback should not give the BPTT gradient"


def test_equal_time_constants_runtime():
    """tau_mem = tau_syn (the paper's released script): the kernel is (n + 1) alpha**n."""
    n = 3
    spec = EpropSpec(n_in=N_IN, n_hidden=N_HID, n_out=N_OUT, n_samples=n, batch_size=n,
                     n_steps=30, tau_mem=5.0, tau_syn=5.0,
                     tau_out=10.0, logit_scale=0.5, loss="ce", learn_theta=True)
    assert spec.equal_decays
    select_device("runtime")
    net = build_eprop_network(spec, name="eprop_equal")
    handle = build(net.network, net.duration, compile_only=True)
    steps, labels, params = make_problem(8, n, n_steps=30)
    params["alpha"] = np.full(N_HID, spec.alpha)
    params["W_in"] *= 2.5  # enough drive for spikes with the faster membrane
    mine = run_one_batch(spec, net, handle, steps, labels, params)
    expected, _, _ = reference_gradients(spec, steps, labels, params, "ce")
    for name in ("W_in", "W_out", "theta"):
        assert_close(mine[name], expected[name], name)


def numpy_training(spec, steps, labels, params, lr, sigma, noises, adam=False):
    """Mini-batch updates in numpy: the batch-mean BPTT gradient, SGD or Adam, then
    noise, then the projections (input >= 0, readout signs by cell type)."""
    cfg = ref.EpropConfig(kappa=spec.kappa, logit_scale=spec.logit_scale, surrogate=spec.surrogate,
                          gamma=spec.gamma, loss="ce")
    x = filtered_inputs(steps, spec.beta, spec.n_steps)
    sign = np.where(np.arange(spec.n_hidden) < spec.n_exc, 1.0, -1.0)
    p = {k: v.copy() for k, v in params.items()}
    moments = {k: (np.zeros_like(p[k]), np.zeros_like(p[k])) for k in ("W_in", "W_out")}
    b1, b2 = spec.adam_betas
    for k, start in enumerate(range(0, len(labels), spec.batch_size)):
        batch = slice(start, start + spec.batch_size)
        _, g = ref.bptt_gradients_batch(p, x[batch], labels[batch], cfg)
        nb = len(labels[batch])
        for name in ("W_in", "W_out"):
            grad = g[name] / nb
            if adam:
                m, v = moments[name]
                m += (1 - b1) * (grad - m)
                v += (1 - b2) * (grad ** 2 - v)
                step = (m / (1 - b1 ** (k + 1))) / (np.sqrt(v / (1 - b2 ** (k + 1))) + spec.adam_eps)
                p[name] = p[name] - lr * step
            else:
                p[name] = p[name] - lr * grad
            p[name] = p[name] + sigma * noises[k][name]
        p["W_in"] = np.where(p["W_in"] > 0, p["W_in"], 0.0)
        p["W_out"] = np.where(sign[None, :] * p["W_out"] > 0, p["W_out"], 0.0)
    return p


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_batches_and_chunks_match_numpy_training(optimizer):
    """Two runs of two batches of 3 samples, state carried between runs: weights after
    every run equal numpy training with the same gradients, noise and projections."""
    n_run, batch = 6, 3
    spec = EpropSpec(n_in=N_IN, n_hidden=N_HID, n_out=N_OUT, n_samples=n_run, batch_size=batch,
                     n_steps=20, tau_mem=10.0, tau_syn=5.0,
                     tau_out=8.0, logit_scale=0.3, loss="ce", optimizer=optimizer, n_exc=4,
                     nonnegative_input=True, weight_noise=True)
    select_device("runtime")
    net = build_eprop_network(spec, name=f"eprop_{optimizer}")
    handle = build(net.network, net.duration, compile_only=True)
    steps, labels, params = make_problem(6, 2 * n_run, n_steps=20)
    sign = np.where(np.arange(N_HID) < 4, 1.0, -1.0)
    params["W_out"] = np.abs(params["W_out"]) * sign[None, :]
    lr, sigma = (0.5 if optimizer == "sgd" else 0.05), 0.01
    rng = np.random.default_rng(7)
    noises = [{"W_in": rng.standard_normal((N_HID, N_IN)),
               "W_out": rng.standard_normal((N_OUT, N_HID))} for _ in range(4)]
    state = {net.syn_in.w: params["W_in"].T.ravel(), net.syn_out.w: params["W_out"].T.ravel()}
    views = net.learned_variables()
    for run in range(2):
        batches = noises[2 * run:2 * run + 2]
        noise = {"in": np.stack([nz["W_in"].T.ravel() for nz in batches]),
                 "out": np.stack([nz["W_out"].T.ravel() for nz in batches])}
        samples = slice(run * n_run, (run + 1) * n_run)
        args = net.run_args(steps[samples], labels[samples], lr=lr, learn=True, sigma=sigma,
                            adam_step0=2 * run, noise=noise)
        args.update(state)
        args[net.hidden.alpha] = params["alpha"]
        args[net.hidden.theta] = params["theta"]
        handle.run(args)
        state = {views[k]: np.array(views[k][:]) for k in views if k not in ("alpha", "theta")}
    expected = numpy_training(spec, steps, labels, params, lr, sigma, noises,
                              adam=optimizer == "adam")
    got = read_params(net, spec)
    # Adam divides by sqrt of the second moment, which amplifies the ~1e-13 rounding
    # differences of tiny gradients (measured: 3e-9 relative)
    rtol = 1e-9 if optimizer == "sgd" else 1e-7
    for name in ("W_in", "W_out"):
        np.testing.assert_allclose(got[name], expected[name], rtol=rtol, atol=1e-12,
                                   err_msg=name)
    assert np.all(got["W_in"] >= 0) and np.any(got["W_in"] == 0), "projection never acted"
    assert np.all(sign[None, :] * got["W_out"] >= 0)


@pytest.mark.parametrize("change, message", [
    (dict(tau_syn=10.0, learn_alpha=True), "learn_alpha needs tau_mem != tau_syn"),
    (dict(n_samples=5), "multiple of batch_size"),
    (dict(tau_mem=0.5, tau_syn=0.4), "too large"),
    (dict(loss="hinge"), "loss must be one of"),
    (dict(tau_out=-1.0), "tau_out must be a positive number"),
    (dict(n_exc=9), "n_exc must lie in"),
])
def test_bad_specs_are_refused_before_building(change, message):
    values = dict(n_in=4, n_hidden=5, n_out=2, n_samples=4, batch_size=2)
    values.update(change)
    with pytest.raises(ValueError, match=message):
        EpropSpec(**values).validate()


@pytest.mark.parametrize("changes", [{}, dict(n_hidden=30, optimizer="adam",
                                              feedback="random", weight_noise=True)])
def test_memory_estimate_matches_a_tiny_build(changes, array_bytes):
    """The estimate counted from the sizes against the bytes of the Brian2 arrays of the
    same network built in runtime mode (its monitors are empty before a run)."""
    from models.eprop import memory_estimate

    spec = dataclasses.replace(CE_SPEC, **changes)
    need = memory_estimate(spec)
    select_device("runtime")
    built = array_bytes(build_eprop_network(spec).network)
    assert 0.5 < (need.state + need.inputs) / built < 2, (need, built)
    n_hidden = spec.n_hidden
    assert need.synapses == N_IN * n_hidden + n_hidden * N_OUT + N_OUT * N_OUT
    assert need.neurons == N_IN + n_hidden + N_OUT
