"""Desire backpropagation in compiled Brian2 against the independent numpy reference.

A tiny network (12-10-8-4, float64, dropout on the input and hidden layers, a learning
rate large enough that every update changes later spikes) is trained on a handful of
samples in C++ standalone mode, in two chunks of three samples (so both the sample
boundaries inside a compiled run and the weights carried from one run to the next are
covered). The numpy reference (tests/references/desire.py) trains the same samples from
the same weights with the same masks, and the two must agree on every spike, every
desire and every weight after every sample.

Pixels are chosen to exercise the input layer's two transmission modes (dense pixels
at 1.0, 0.97 and 0.999; sparse ones; silent ones). Spikes and desires must be
identical; weights agree to rounding (the Brian2 network sums the learning term in
another order, through an exact factorisation; see experiments/desire.py).

One C++ build (~40 s on two cores, reused from the session cache afterwards); the
sparse-desire variant runs in runtime mode.
"""

from __future__ import annotations

import numpy as np
import pytest

from experiments import desire
from models import desire as desire_net
from models.devices import build, select_device

from tests.references import desire as ref

SIZES = (12, 10, 8, 4)
N_SAMPLES = 6
CHUNK = 3
P_IN, P_HID = 0.2, 0.3
LR = 0.02
WEIGHT_RTOL = 1e-11


def make_data(seed=3):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (N_SAMPLES, SIZES[0]))
    x[x < 0.3] = 0.0
    x[:, 0] = 1.0             # dense from step 0
    x[:, 1] = 0.97            # dense from step 1
    x[:3, 2] = 0.999
    x[3:, 3] = 0.9
    labels = rng.integers(0, SIZES[-1], N_SAMPLES)
    weights = ref.init_weights(SIZES, rng)
    return x, labels, weights


def reference_run(x, labels, weights, masks_per_sample):
    """Train sample by sample in the reference; per sample: spikes, desires, weights."""
    cfg = ref.DesireConfig(lr0=LR, lr_decay=0.0, p_in=P_IN, p_hid=P_HID)
    W = [w.copy() for w in weights]
    spikes, desires, after = [], [], []
    for k in range(len(x)):
        out = ref.train_sample(W, x[k], int(labels[k]), 0, cfg, masks_per_sample[k])
        spikes.append(out["spikes"])
        desires.append([(2 * s.astype(int) - 1) * a for a, s in out["desires"]])
        after.append([w.copy() for w in W])
    return spikes, desires, after


def chunk_masks(cfg, chunk):
    """The engine's masks of one chunk, and the same as per-sample lists for the reference
    (input, hidden..., output all ones)."""
    masks = desire.dropout_masks(cfg, SIZES, epoch=0, chunk=chunk, n_samples=CHUNK)
    per_sample = [[masks[level][k].astype(float) if level in masks else np.ones(n)
                   for level, n in enumerate(SIZES)] for k in range(CHUNK)]
    return masks, per_sample


def brian_run(target, full_desires, record=True):
    cfg = desire.make_config("paper", "mnist", dropout_input=P_IN, dropout_hidden=P_HID,
                             chunk_size=CHUNK)
    x, labels, weights = make_data()
    select_device(target)
    net = desire_net.build_network(SIZES, CHUNK, cfg.spec(), full_desires=full_desires,
                                   record=record, name="parity")
    handle = build(net.network, net.duration, compile_only=True)
    flat = desire_net.weights_to_flat(weights)
    result = {"spikes": [], "desires": [], "weights": [], "masks": [], "final": None,
              "errors": [], "layer_spikes": []}
    gains = (1 / (1 - P_IN), 1 / (1 - P_HID))
    for chunk in range(N_SAMPLES // CHUNK):
        rows = slice(chunk * CHUNK, (chunk + 1) * CHUNK)
        masks, per_sample = chunk_masks(cfg, chunk)
        handle.run(net.run_args(x[rows], labels[rows], flat, lr=LR, masks=masks, gains=gains))
        flat = [np.array(syn.w[:]) for syn in net.synapses]
        result["masks"] += per_sample
        result["errors"].append(net.layer_errors())
        result["layer_spikes"].append(net.layer_spike_counts())
        if record:
            result["spikes"] += [[layer[k] for layer in net.recorded_spikes()] for k in range(CHUNK)]
            result["desires"] += [[layer[k] for layer in net.recorded_desires()] for k in range(CHUNK)]
            result["weights"] += net.recorded_weights()
    result["final"] = desire_net.flat_to_weights(flat, SIZES)
    return x, labels, weights, result


@pytest.fixture(scope="module")
def cpp_result(session_build_cache):
    # Module-scoped, so it runs before the per-test fixture that points the build cache
    # at the session's directory: do that here.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SNN_BUILD_CACHE", str(session_build_cache))
        return brian_run("cpp", full_desires=True)


def test_spikes_desires_and_weights_match_reference_after_every_sample(cpp_result):
    x, labels, weights, got = cpp_result
    spikes, desires_ref, after = reference_run(x, labels, weights, got["masks"])
    n_spikes = sum(int(s.sum()) for sample in spikes for s in sample[1:])
    assert n_spikes > 100, "the test network must be active"
    n_desires = sum(int(np.abs(d).sum()) for sample in desires_ref for d in sample)
    assert n_desires > 10, "the test must exercise desires"
    for k in range(N_SAMPLES):
        for level in range(len(SIZES)):
            np.testing.assert_array_equal(got["spikes"][k][level], spikes[k][level],
                                          err_msg=f"spikes of layer {level}, sample {k}")
        for level in range(1, len(SIZES)):
            np.testing.assert_array_equal(got["desires"][k][level - 1], desires_ref[k][level - 1],
                                          err_msg=f"desires of layer {level}, sample {k}")
        for level, (w_got, w_ref) in enumerate(zip(got["weights"][k], after[k]), start=1):
            np.testing.assert_allclose(w_got, w_ref, rtol=WEIGHT_RTOL, atol=1e-13,
                                       err_msg=f"weights {level} after sample {k}")
    # The weights carried out of the last run are the recorded ones.
    for w_final, w_rec in zip(got["final"], got["weights"][-1]):
        np.testing.assert_array_equal(w_final, w_rec)
    # Learning did change the weights noticeably (so the comparison means something).
    assert max(np.abs(a - b).max() for a, b in zip(after[-1], weights)) > 0.05


def test_layer_errors_and_spike_counts_match_reference(cpp_result):
    """The statistics the engine logs per epoch: per layer, the summed squared distance
    of counts to desires, sum over samples and neurons of |desire| keep (target - c/N*)^2
    with target 1 for desire +1 and 0 for -1, and the spikes per sample, from the
    reference's spikes, desires and masks."""
    x, labels, weights, got = cpp_result
    spikes, desires_ref, _ = reference_run(x, labels, weights, got["masks"])
    n_star = 20 - 4
    for chunk in range(N_SAMPLES // CHUNK):
        expected = np.zeros(len(SIZES) - 1)
        for k in range(chunk * CHUNK, (chunk + 1) * CHUNK):
            for level in range(1, len(SIZES)):
                d = desires_ref[k][level - 1]
                c = spikes[k][level].sum(axis=0)
                keep = got["masks"][k][level]
                expected[level - 1] += np.sum(np.abs(d) * keep * ((d > 0) - c / n_star) ** 2)
        assert expected.min() > 0.1, "every layer must have desires"
        np.testing.assert_allclose(got["errors"][chunk], expected, rtol=1e-12)
        counts = np.array([[spikes[k][level].sum() for level in range(1, len(SIZES))]
                           for k in range(chunk * CHUNK, (chunk + 1) * CHUNK)])
        np.testing.assert_array_equal(got["layer_spikes"][chunk], counts)


def test_dense_and_sparse_input_modes_both_used(cpp_result):
    x, *_ = cpp_result
    modes = desire_net.input_modes(x, 20)
    assert set(np.unique(modes)) == {0.0, 1.0, 2.0}


def test_sparse_first_layer_desires_train_identically():
    """Default mode: the first hidden layer's desire is computed only for neurons that
    spiked (the others cannot change a weight). Same weights as the reference."""
    x, labels, weights, got = brian_run("runtime", full_desires=False, record=False)
    *_, after = reference_run(x, labels, weights, got["masks"])
    for level, (w_got, w_ref) in enumerate(zip(got["final"], after[-1]), start=1):
        np.testing.assert_allclose(w_got, w_ref, rtol=WEIGHT_RTOL, atol=1e-13,
                                   err_msg=f"final weights {level}")


def test_evaluation_mode_learns_nothing_and_matches_reference_counts():
    """lr = 0, no masks, gains 1: the same binary evaluates; counts equal the reference's
    evaluation and the weights do not move (runtime mode)."""
    cfg = desire.make_config("paper", "mnist", dropout_input=P_IN, dropout_hidden=P_HID,
                             chunk_size=CHUNK)
    x, labels, weights = make_data()
    select_device("runtime")
    net = desire_net.build_network(SIZES, CHUNK, cfg.spec(), name="parity_eval")
    handle = build(net.network, net.duration, compile_only=True)
    flat = desire_net.weights_to_flat(weights)
    handle.run(net.run_args(x[:CHUNK], labels[:CHUNK], flat, lr=0.0))
    for w_before, syn in zip(flat, net.synapses):
        np.testing.assert_array_equal(np.asarray(syn.w[:]), w_before)
    _, _, counts = ref.evaluate(weights, x[:CHUNK], labels[:CHUNK], ref.DesireConfig())
    np.testing.assert_array_equal(net.output_counts(), counts)


def test_input_layer_spikes_like_the_integrate_and_fire_encoder():
    """The input layer repeats models.encoding.integrate_and_fire_input's arithmetic:
    the same spikes, sample after sample (runtime mode), including the float64 cases
    where a running sum ends just below 1 (x = 0.1)."""
    from brian2 import Network, SpikeMonitor

    from models.encoding import integrate_and_fire_input

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (4, 12))
    x[:, 0], x[:, 1], x[:, 2], x[:, 3] = 0.1, 1.0, 0.0, 0.95
    cfg = desire.make_config("paper", "mnist", dropout_hidden=0.0, chunk_size=4)
    select_device("runtime")
    net = desire_net.build_network((12, 3), 4, cfg.spec(), record=True, name="enc_net")
    handle = build(net.network, net.duration, compile_only=True)
    handle.run(net.run_args(x, np.zeros(4), desire_net.weights_to_flat([np.zeros((3, 12))])))
    ours = net.recorded_spikes()[0]

    encoded = integrate_and_fire_input(x, 20, name="enc")
    monitor = SpikeMonitor(encoded.group, name="enc_spikes")
    Network(encoded.group, monitor, name="enc_check").run(4 * 20 * net.dt)
    steps = np.round(np.asarray(monitor.t_) / float(net.dt)).astype(int)
    theirs = np.zeros((80, 12), dtype=bool)
    theirs[steps, np.asarray(monitor.i)] = True
    np.testing.assert_array_equal(ours, theirs.reshape(4, 20, 12))
    assert ours[:, :, 0].sum(axis=1).tolist() == [1, 1, 1, 1]  # 0.1: 1 spike, not 2


@pytest.mark.parametrize("sizes", [SIZES, (64, 30, 10)])
def test_memory_estimate_matches_a_tiny_build(sizes, array_bytes):
    """The estimate counted from the sizes against the bytes of the Brian2 arrays of the
    same network built in runtime mode."""
    spec = desire_net.DesireSpec(dropout_input=0.1, dropout_hidden=0.2)
    need = desire_net.memory_estimate(sizes, CHUNK, spec)
    select_device("runtime")
    built = array_bytes(desire_net.build_network(sizes, CHUNK, spec).network)
    assert 0.5 < (need.state + need.inputs) / built < 2, (need, built)
    assert need.synapses == sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
