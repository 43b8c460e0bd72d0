"""The voting engine (models/eprop_voting.py) against an independent numpy BPTT.

tests/references/voting.py computes the surrogate-gradient BPTT gradients of the two-layer
voting network by a forward pass that stores every step and a backward pass through time;
its gradients are checked here against finite differences of a smooth version of the
network. The compiled network must reproduce them for weights, decays (per cell and per
layer, through ``alpha = 1 - sigmoid(w)``) and thresholds, for PLIF and LIF cells, with
current and Bernoulli input, to a relative 1e-9. Gradients are read from one SGD step
with ``lr = 1`` over a batch that spans the run: ``g = p_before - p_after``.
"""

from __future__ import annotations

import numpy as np
import pytest

from models.devices import build, select_device
from models.eprop_voting import VotingSpec, bernoulli_bits, build_voting_network, initial_state

from tests.references import voting as ref

N_IN, N_HID, N_CLASSES, N_VOTE, T = 7, 9, 3, 2, 6
RTOL = 1e-9


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def make_problem(seed, n_samples, spec):
    rng = np.random.default_rng(seed)
    n_out = spec.n_out
    params = {
        "W1": rng.normal(0.6, 0.8, (N_HID, N_IN)),
        "W2": rng.normal(0.5, 1.0, (n_out, N_HID)),
        "alpha1": rng.uniform(0.3, 0.8, N_HID), "alpha2": rng.uniform(0.3, 0.8, n_out),
        "theta1": rng.uniform(0.3, 0.9, N_HID), "theta2": rng.uniform(0.2, 0.6, n_out),
    }
    if spec.learn_tau == "layer":
        params["alpha1"][:] = params["alpha1"][0]
        params["alpha2"][:] = params["alpha2"][0]
    images = rng.uniform(0, 1, (n_samples, N_IN)) * (rng.random((n_samples, N_IN)) < 0.8)
    labels = rng.integers(0, N_CLASSES, n_samples)
    if spec.encoding == "bernoulli":
        stim = bernoulli_bits(images, T, rng)
        a = ((stim[:, None, :].astype(np.int64) >> np.arange(T)[None, :, None]) & 1).astype(float)
    else:
        stim = images
        a = np.repeat(images[:, None, :], T, axis=1)
    return stim, a, labels, params


def state(net, params):
    state = initial_state(net.spec, params["W1"], params["W2"])
    for layer, key in (("hidden", "1"), ("output", "2")):
        alpha = params[f"alpha{key}"]
        state[f"alpha_{layer}"] = alpha
        state[f"wtau_{layer}"] = np.log((1 - alpha) / alpha)     # 1 - sigmoid(w) = alpha
        state[f"theta_{layer}"] = params[f"theta{key}"]
        if f"wtau_param_{layer}" in state:
            state[f"wtau_param_{layer}"] = state[f"wtau_{layer}"][:1]
    return state


def read(net):
    return {k: np.array(v[:]) for k, v in net.learned_variables().items()}


def expected_changes(spec, params, a, labels, train=None):
    """``p_before - p_after`` of one SGD step with lr 1, from the reference, for the
    parts that ``train`` switches on (default: all that ``spec`` compiles in)."""
    train = {"weights": True, "tau": True, "theta": True, **(train or {})}
    g = ref.gradients(params, a, labels, spec.n_vote, spec.neuron == "plif")
    wd = spec.weight_decay
    out = {}
    if spec.learn_weights and train["weights"]:
        out["w_in"] = (g["W1"] + wd * params["W1"]).T.ravel()
        out["w_out"] = (g["W2"] + wd * params["W2"]).T.ravel()
    for layer, key in (("hidden", "1"), ("output", "2")):
        alpha = params[f"alpha{key}"]
        w = np.log((1 - alpha) / alpha)
        dw = g[f"alpha{key}"] * -(1 - alpha) * alpha
        if not train["tau"]:
            pass
        elif spec.learn_tau == "neuron":
            out[f"wtau_{layer}"] = dw + wd * w
        elif spec.learn_tau == "layer":
            out[f"wtau_param_{layer}"] = np.array([dw.sum() + wd * w[0]])
            out[f"wtau_{layer}"] = np.full(len(alpha), dw.sum() + wd * w[0])
        if spec.learn_theta and train["theta"]:
            out[f"theta_{layer}"] = g[f"theta{key}"] + wd * params[f"theta{key}"]
    return out


SPECS = {
    "plif_current_neuron_tau": VotingSpec(n_in=N_IN, n_hidden=N_HID, n_classes=N_CLASSES,
                                          n_samples=4, batch_size=4, n_vote=N_VOTE,
                                          n_steps=T, neuron="plif", encoding="current",
                                          learn_tau="neuron", learn_theta=True,
                                          optimizer="sgd"),
    # With L2 weight decay: the step is the gradient plus weight_decay times the value.
    "lif_bernoulli_layer_tau": VotingSpec(n_in=N_IN, n_hidden=N_HID, n_classes=N_CLASSES,
                                          n_samples=4, batch_size=4, n_vote=N_VOTE,
                                          n_steps=T, neuron="lif", encoding="bernoulli",
                                          learn_tau="layer", learn_theta=True,
                                          optimizer="sgd", weight_decay=0.03),
}
#: A run that changes only the thresholds (the STL study's TL condition).
THRESHOLDS_ONLY = {"weights": False, "tau": False, "theta": True}


def one_step(net, handle, stim, labels, params, learn=True, train=None):
    args = net.run_args(stim, labels, lr=1.0, learn=learn, train=train)
    before = state(net, params)
    variables = net.learned_variables()
    args.update({variables[k]: v for k, v in before.items()})
    handle.run(args)
    after = read(net)
    return {k: before[k] - after[k] for k in before}


@pytest.fixture(scope="module", params=sorted(SPECS))
def runs(request, session_build_cache):
    """One C++ standalone build per spec and three runs: a full batch, a batch with two
    padding samples, learning off. Module-scoped, so it sets the session's build cache
    itself and does all its runs before another test re-selects the device."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SNN_BUILD_CACHE", str(session_build_cache))
        select_device("cpp")
        spec = SPECS[request.param]
        net = build_voting_network(spec)
        handle = build(net.network, net.duration, compile_only=True)
        out = {"spec": spec}
        stim, a, labels, params = make_problem(1, spec.n_samples, spec)
        out["full"] = (a, labels, params, one_step(net, handle, stim, labels, params),
                       net.hidden_counts_per_sample(), net.output_counts_per_sample())
        stim, a, labels, params = make_problem(2, spec.n_samples, spec)
        out["padded"] = (a[:2], labels[:2], params,
                         one_step(net, handle, stim[:2], labels[:2], params))
        out["frozen"] = one_step(net, handle, stim, labels, params, learn=False)
        out["thresholds_only"] = (a, labels, params, one_step(net, handle, stim, labels, params,
                                                              train=THRESHOLDS_ONLY))
        return out


def test_reference_matches_finite_differences():
    """The reference's backward pass on a smooth network without reset (where finite
    differences are defined) for PLIF and LIF cells."""
    rng = np.random.default_rng(3)
    smooth = dict(step=lambda x: sigmoid(4 * x),
                  surrogate=lambda x: 4 * sigmoid(4 * x) * (1 - sigmoid(4 * x)), reset=False)
    for plif in (True, False):
        params = {"W1": rng.normal(0, 1, (5, 4)), "W2": rng.normal(0, 1, (6, 5)),
                  "alpha1": rng.uniform(.3, .8, 5), "alpha2": rng.uniform(.3, .8, 6),
                  "theta1": rng.uniform(.5, 1, 5), "theta2": rng.uniform(.5, 1, 6)}
        a = rng.uniform(0, 1, (3, 4, 4))
        labels = rng.integers(0, 3, 3)
        g = ref.gradients(params, a, labels, 2, plif, **smooth)
        for key, value in params.items():
            fd = np.zeros_like(value)
            for idx in np.ndindex(value.shape):
                for sign in (1, -1):
                    q = {k: v.copy() for k, v in params.items()}
                    q[key][idx] += sign * 1e-6
                    fd[idx] += sign * ref.loss(q, a, labels, 2, plif, **smooth) / 2e-6
            np.testing.assert_allclose(g[key], fd, rtol=1e-5, atol=1e-6 * np.abs(fd).max(),
                                       err_msg=f"{key}, plif={plif}")


def test_gradients_equal_bptt(runs):
    spec = runs["spec"]
    a, labels, params, changes, hidden_counts, counts = runs["full"]
    expected = expected_changes(spec, params, a, labels)
    assert counts.sum() > 0 and hidden_counts.sum() > 0, "silent network"
    for key, value in expected.items():
        scale = np.abs(value).max()
        assert scale > 0, f"{key}: zero reference gradient; the test would be vacuous"
        np.testing.assert_allclose(changes[key], value, rtol=RTOL, atol=RTOL * scale,
                                   err_msg=key)
    # Everything not learned stays put.
    for key, value in changes.items():
        if key not in expected and not key.startswith(("alpha_", "adam")):
            assert np.all(value == 0), key
    # The spike counts are those of the reference's forward pass.
    _, o, _ = ref.forward(params, a, spec.n_vote, spec.neuron == "plif")
    np.testing.assert_array_equal(counts, o["z"].sum(axis=1))


def test_switched_off_parts_stay_put(runs):
    """The same build learns only the thresholds when weights and decays are switched
    off for the run; the thresholds change exactly as when everything learns."""
    spec = runs["spec"]
    a, labels, params, changes = runs["thresholds_only"]
    expected = expected_changes(spec, params, a, labels, THRESHOLDS_ONLY)
    assert set(expected) == {"theta_hidden", "theta_output"}
    for key, value in changes.items():
        if key in expected:
            np.testing.assert_allclose(value, expected[key], rtol=RTOL,
                                       atol=RTOL * np.abs(expected[key]).max(), err_msg=key)
        elif key.startswith("alpha_"):
            # A shared decay is broadcast again as 1 - sigmoid(w): rounding only.
            np.testing.assert_allclose(value, 0, atol=1e-15, err_msg=key)
        elif not key.startswith("adam"):
            assert np.all(value == 0), key


def test_padding_and_evaluation_change_nothing(runs):
    spec = runs["spec"]
    # Two real samples, two of padding: the mean over the real ones only.
    a, labels, params, changes = runs["padded"]
    expected = expected_changes(spec, params, a, labels)
    for key, value in expected.items():
        np.testing.assert_allclose(changes[key], value, rtol=RTOL,
                                   atol=RTOL * np.abs(value).max(), err_msg=key)
    assert all(np.all(v == 0) for v in runs["frozen"].values())


@pytest.mark.parametrize("field,value,match", [
    ("tau", 1.0, "tau must be a number > 1"),
    ("tau", -3.0, "tau must be a number > 1"),
    ("theta", 0.0, "theta must be a positive number"),
    ("learn_tau", "layers", "learn_tau must be one of"),
    ("n_steps", 40, "n_steps must be at most"),
    ("encoding", "poisson", "encoding must be one of"),
])
def test_bad_specs_are_refused(field, value, match):
    kw = dict(n_in=3, n_hidden=4, n_classes=2, n_samples=4, batch_size=2)
    kw[field] = value
    with pytest.raises(ValueError, match=match):
        VotingSpec(**kw).validate()


@pytest.mark.parametrize("name", list(SPECS))
def test_memory_estimate_matches_a_tiny_build(name, array_bytes):
    """The estimate counted from the sizes (the per-step traces included) against the
    bytes of the Brian2 arrays of the same network built in runtime mode."""
    from models.eprop_voting import memory_estimate

    spec = SPECS[name]
    need = memory_estimate(spec)
    select_device("runtime")
    built = array_bytes(build_voting_network(spec).network)
    assert 0.5 < (need.state + need.inputs) / built < 2, (need, built)
    assert need.neurons == N_IN + N_HID + spec.n_out


def test_layer_decay_broadcast_builds_without_the_order_warning_and_others_still_pass():
    """Brian2 warns that the broadcast of a layer's shared decay may depend on the order
    of its synapses; each cell has exactly one such synapse, so it cannot, and the
    warning is dropped. The same warning for other code still reaches the log."""
    from brian2 import Network, NeuronGroup, Synapses, ms
    from brian2.utils.logger import catch_logs

    select_device("runtime")
    spec = SPECS["lif_bernoulli_layer_tau"]
    with catch_logs() as logs:
        net = build_voting_network(spec, name="warn")
        net.network.run(0 * ms)
    assert not [entry for entry in logs if "order of execution" in entry[2]], logs
    for group in (net.hidden, net.output):
        link = next(obj for obj in net.network.objects if obj.name == f"{group.name}_tau_link")
        assert sorted(link.i[:]) == list(range(len(group)))  # one synapse per cell
        assert set(link.j[:]) == {0}

    a = NeuronGroup(3, "x : 1", name="warn_a")
    b = NeuronGroup(1, "y : 1", threshold="True", name="warn_b")
    other = Synapses(a, b, on_post="x_pre = y_post + x_pre * 2", name="warn_other")
    other.connect()
    with catch_logs() as logs:
        Network(a, b, other, name="warn_other_net").run(0.2 * ms)
    assert [entry for entry in logs if "order of execution" in entry[2]], \
        "the filter must leave other code's warning alone"
