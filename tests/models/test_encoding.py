"""Tests of models.encoding on Brian2's runtime device (numpy target).

Statistical tests use a fixed Brian2 seed and bounds of 5 standard
deviations, tight enough that a rate off by 10-20 % fails them.
"""

import math

import brian2
import numpy as np
import pytest
from brian2 import Hz, Network, SpikeMonitor, ms, prefs, second
from brian2.devices.device import reset_device, set_device

from models.encoding import (
    EncodedInput,
    bernoulli_input,
    integrate_and_fire_input,
    latency_input,
    latency_spike_generator,
    latency_spike_steps,
    latency_spike_times,
    poisson_input,
)

DT = 0.1 * ms


@pytest.fixture(autouse=True)
def runtime_device():
    """Runtime device, numpy target, fresh scope; restore what was there."""
    previous_target = prefs.codegen.target
    set_device("runtime")
    prefs.codegen.target = "numpy"
    brian2.start_scope()
    yield
    prefs.codegen.target = previous_target
    reset_device()  # back to the device active before set_device


def _run(group, duration, seed=1234):
    """Run ``group`` for ``duration`` and return (neuron, time step) of its spikes."""
    brian2.seed(seed)
    monitor = SpikeMonitor(group, name=f"{group.name}_spikes")
    net = Network(group, monitor)
    net.run(duration)
    steps = np.round(np.asarray(monitor.t / DT)).astype(np.int64)
    return np.asarray(monitor.i, dtype=np.int64), steps


def _counts(indices, steps, n_neurons, n_steps, n_samples):
    """Spike counts per sample and neuron; spikes after the last sample dropped."""
    sample = steps // n_steps
    keep = sample < n_samples
    counts = np.zeros((n_samples, n_neurons), dtype=np.int64)
    np.add.at(counts, (sample[keep], indices[keep]), 1)
    return counts


def _within(observed, expected, sigma, k=5):
    return abs(observed - expected) <= k * sigma


# --------------------------------------------------------------------------
# Poisson
# --------------------------------------------------------------------------


def test_poisson_counts_match_the_rate():
    rng = np.random.default_rng(0)
    images = rng.random((2, 300))
    images[1] *= 0.5  # a dim image, so that per-sample indexing shows in the counts
    order = [0, 1, 1, 0]
    max_rate, T_sample = 150 * Hz, 100 * ms
    encoded = poisson_input(images, max_rate, T_sample, order=order, dt=DT)
    assert isinstance(encoded, EncodedInput) and encoded.n_steps == 1000
    indices, steps = _run(encoded.group, encoded.duration)
    counts = _counts(indices, steps, 300, 1000, 4)

    for sample, image in enumerate(order):
        expected = float(max_rate * T_sample) * images[image].sum()
        # Poisson variance = mean (the binomial one, n*p*(1-p), is smaller).
        sigma = math.sqrt(expected)
        observed = counts[sample].sum()
        assert _within(observed, expected, sigma), (sample, observed, expected)

    # Over all samples the bound is tight enough to catch a rate 20 % off.
    expected = float(max_rate * T_sample) * images[order].sum()
    observed = counts.sum()
    for wrong in (0.8 * expected, 1.2 * expected):
        assert not _within(observed, wrong, math.sqrt(wrong))


def test_poisson_rate_is_a_shared_variable():
    encoded = poisson_input(np.full((1, 3), 0.5), 40 * Hz, 10 * ms, dt=DT)
    assert encoded.group.max_rate[:] == 40 * Hz
    np.testing.assert_allclose(encoded.group.rate[:] / Hz, 20)


def test_zero_and_full_pixels_with_poisson():
    images = np.array([[0.0, 1.0]])
    encoded = poisson_input(images, 1 / DT, 2 * ms, dt=DT)  # p = 1 per step at x = 1
    indices, steps = _run(encoded.group, encoded.duration)
    assert set(indices) == {1} and len(steps) == 20


# --------------------------------------------------------------------------
# Bernoulli
# --------------------------------------------------------------------------


def test_bernoulli_spike_probability_per_step_is_the_pixel_value():
    levels = np.array([0.05, 0.3, 0.5, 0.9])
    per_level = 100
    images = np.repeat(levels, per_level)[None, :]
    n_steps, n_samples = 200, 2
    encoded = bernoulli_input(images, n_steps, order=[0, 0], dt=DT)
    indices, steps = _run(encoded.group, encoded.duration)
    counts = _counts(indices, steps, images.shape[1], n_steps, n_samples).sum(axis=0)
    trials = n_steps * n_samples * per_level
    for k, p in enumerate(levels):
        observed = counts[k * per_level : (k + 1) * per_level].sum()
        sigma = math.sqrt(trials * p * (1 - p))
        assert _within(observed, trials * p, sigma), (p, observed / trials)
        wrong = p + 0.03  # a probability 0.03 too high would fail
        wrong_sigma = math.sqrt(trials * wrong * (1 - wrong))
        assert not _within(observed, trials * wrong, wrong_sigma)


def test_per_sample_indexing_follows_the_order():
    # With pixel values 0 and 1 the Bernoulli code is deterministic.
    images = np.array([[1, 0, 1, 0, 0], [0, 1, 1, 0, 1], [0, 0, 0, 1, 0]], dtype=float)
    order = [1, 0, 2, 1, 1]
    n_steps = 7
    encoded = bernoulli_input(images, n_steps * DT, order=order, dt=DT)
    assert encoded.n_samples == 5 and encoded.n_images == 3
    indices, steps = _run(encoded.group, encoded.duration)
    counts = _counts(indices, steps, 5, n_steps, 5)
    np.testing.assert_array_equal(counts, n_steps * images[order].astype(int))


# --------------------------------------------------------------------------
# Deterministic integrate-and-fire
# --------------------------------------------------------------------------


def _integrate_and_fire_reference(images, order, n_steps):
    """Independent loop: m += x, spike if m >= 1, m -= 1; m = 0 at each onset."""
    spikes = []
    for sample, image in enumerate(order):
        for neuron, x in enumerate(images[image]):
            m = 0.0
            for step in range(n_steps):
                m += x
                if m >= 1:
                    spikes.append((neuron, sample * n_steps + step))
                    m -= 1
    return sorted(spikes)


def test_integrate_and_fire_spikes_equal_a_numpy_loop():
    rng = np.random.default_rng(3)
    images = np.concatenate(
        [rng.random((3, 12)), [[0.0, 1.0, 0.1, 0.2, 0.3, 1 / 3, 0.7, 0.5, 0.25, 0.9,
                                0.01, 0.99]]]
    )
    order = [3, 0, 2, 3, 1]
    n_steps = 37
    encoded = integrate_and_fire_input(images, n_steps * DT, order=order, dt=DT)
    indices, steps = _run(encoded.group, encoded.duration)
    keep = steps < n_steps * len(order)
    got = sorted(zip(indices[keep].tolist(), steps[keep].tolist()))
    assert got == _integrate_and_fire_reference(images, order, n_steps)
    assert len(got) > 100


def test_integrate_and_fire_state_restarts_each_sample():
    # 0.6 fires at steps 1 and 3 of a 4-step sample if m starts at 0 every
    # sample; carrying m over would shift the second sample's spikes.
    encoded = integrate_and_fire_input(np.array([[0.6]]), 4, order=[0, 0], dt=DT)
    _, steps = _run(encoded.group, encoded.duration)
    assert steps[steps < 8].tolist() == [1, 3, 5, 7]


# --------------------------------------------------------------------------
# Latency
# --------------------------------------------------------------------------

TAU, THETA, N_STEPS = 5 * ms, 0.25, 200
# x such that tau*ln(x/(x - theta)) is exactly 10 ms = 100 steps.
ON_GRID = THETA * math.exp(2) / (math.exp(2) - 1)
LATENCY_VALUES = np.array([1.0, 0.5, 0.3, 0.26, 0.255, 0.252, THETA, 0.2, 0.0, ON_GRID])


def _expected_latency_steps(values):
    """ceil(latency/dt) by hand; None for no spike in the 200-step sample."""
    steps = []
    for x in values:
        if x <= THETA:
            steps.append(None)
            continue
        latency_steps = float(TAU / DT) * math.log(x / (x - THETA))
        step = 100 if x == ON_GRID else math.ceil(latency_steps)
        steps.append(step if step < N_STEPS else None)
    return steps


def test_latency_expected_values():
    # Spot-check the hand computation itself.
    assert _expected_latency_steps(LATENCY_VALUES) == [
        15, 35, 90, 163, 197, None, None, None, None, 100
    ]


def test_latency_spike_steps_numpy():
    steps = latency_spike_steps(LATENCY_VALUES[None, :], TAU, THETA, DT, N_STEPS)[0]
    expected = [-1 if s is None else s for s in _expected_latency_steps(LATENCY_VALUES)]
    assert steps.tolist() == expected


def test_latency_exact_times_without_dt():
    images = np.stack([LATENCY_VALUES, LATENCY_VALUES[::-1]])
    indices, times = latency_spike_times(images, TAU, THETA, N_STEPS * DT, order=[1, 0])
    T = float(N_STEPS * DT)
    expected = []
    for sample, image in enumerate([1, 0]):
        for pixel, x in enumerate(images[image]):
            if x <= THETA:
                continue
            latency = float(TAU) * math.log(x / (x - THETA))
            if latency < T:
                expected.append((pixel, sample * T + latency))
    assert indices.tolist() == [p for p, _ in expected]
    np.testing.assert_allclose(times / second, [t for _, t in expected], rtol=1e-12)


@pytest.mark.parametrize("builder", ["neuron_group", "spike_generator"])
def test_latency_brian2_groups_spike_at_the_expected_steps(builder):
    images = np.stack([LATENCY_VALUES, LATENCY_VALUES[::-1]])
    order = [0, 1, 0]
    if builder == "neuron_group":
        encoded = latency_input(images, TAU, THETA, N_STEPS * DT, order=order, dt=DT)
        group = encoded.group
    else:
        group = latency_spike_generator(images, TAU, THETA, N_STEPS, order=order, dt=DT)
    indices, steps = _run(group, len(order) * N_STEPS * DT)
    expected = []
    for sample, image in enumerate(order):
        for pixel, step in enumerate(_expected_latency_steps(images[image])):
            if step is not None:
                expected.append((pixel, sample * N_STEPS + step))
    assert sorted(zip(indices.tolist(), steps.tolist())) == sorted(expected)


def test_latency_input_run_args_convert_images_to_steps():
    images = LATENCY_VALUES[None, :]
    encoded = latency_input(images, TAU, THETA, N_STEPS, dt=DT)
    args = encoded.run_args(images=images[:, ::-1], order=[0])
    steps = args[encoded.pixels]
    expected = _expected_latency_steps(LATENCY_VALUES[::-1])
    expected = [-1 if s is None else s for s in expected]
    assert steps[0].tolist() == expected
    np.testing.assert_array_equal(args[encoded.order], [0.0])


# --------------------------------------------------------------------------
# Stimulus arrays, run_args and names
# --------------------------------------------------------------------------


def test_run_args_keep_the_compiled_shapes():
    images = np.full((3, 4), 0.5)
    encoded = bernoulli_input(images, 10, order=[0, 1, 2, 0], dt=DT, name="stim")
    assert encoded.pixels.name == "stim_pixels" and encoded.order.name == "stim_order"
    assert encoded.group.name == "stim"
    args = encoded.run_args(images=np.zeros((3, 4)), order=[2, 2, 1, 0])
    assert set(args) == {encoded.pixels, encoded.order}
    np.testing.assert_array_equal(args[encoded.order], [2, 2, 1, 0])
    with pytest.raises(ValueError, match="images"):
        encoded.run_args(images=np.zeros((2, 4)))
    with pytest.raises(ValueError, match="order"):
        encoded.run_args(order=[0, 1])
    with pytest.raises(ValueError, match="order"):
        encoded.run_args(order=[0, 1, 2, 3])  # image 3 does not exist


def test_two_encoders_in_one_network_need_their_own_names():
    images = np.full((1, 2), 1.0)
    a = bernoulli_input(images, 5, dt=DT, name="input_a")
    b = integrate_and_fire_input(images, 5, dt=DT, name="input_b")
    monitors = [
        SpikeMonitor(a.group, name="mon_a"),
        SpikeMonitor(b.group, name="mon_b"),
    ]
    Network(a.group, b.group, *monitors).run(a.duration)
    assert [m.num_spikes for m in monitors] == [10, 10]
    assert "input_b_integrate" in [obj.name for obj in b.group.contained_objects]


# --------------------------------------------------------------------------
# Argument validation
# --------------------------------------------------------------------------

GOOD = np.full((2, 3), 0.5)


@pytest.mark.parametrize(
    "call, parameter",
    [
        (lambda: poisson_input(GOOD, -1 * Hz, 10 * ms, dt=DT), "max_rate"),
        (lambda: poisson_input(GOOD, 100, 10 * ms, dt=DT), "max_rate"),
        (lambda: poisson_input(GOOD, 20000 * Hz, 10 * ms, dt=DT), "max_rate\\*dt"),
        (lambda: poisson_input(GOOD, 10 * Hz, 0 * ms, dt=DT), "T_sample"),
        (lambda: poisson_input(GOOD, 10 * Hz, -5 * ms, dt=DT), "T_sample"),
        (lambda: poisson_input(GOOD, 10 * Hz, 0.25 * ms, dt=DT), "T_sample"),
        (lambda: poisson_input(GOOD, 10 * Hz, 10 * Hz, dt=DT), "T_sample"),
        (lambda: bernoulli_input(GOOD, 0, dt=DT), "T_sample"),
        (lambda: bernoulli_input(GOOD + 0.6, 10, dt=DT), "images"),
        (lambda: bernoulli_input(-GOOD, 10, dt=DT), "images"),
        (lambda: bernoulli_input(GOOD * np.nan, 10, dt=DT), "images"),
        (lambda: bernoulli_input(GOOD[0], 10, dt=DT), "images"),
        (lambda: bernoulli_input(GOOD, 10, order=[0, 2], dt=DT), "order"),
        (lambda: bernoulli_input(GOOD, 10, order=[0.0, 1.0], dt=DT), "order"),
        (lambda: bernoulli_input(GOOD, 10, order=[], dt=DT), "order"),
        (lambda: bernoulli_input(GOOD, 10, dt=-DT), "dt"),
        (lambda: integrate_and_fire_input(GOOD * 3, 10, dt=DT), "images"),
        (lambda: latency_input(GOOD, TAU, 0.0, 10, dt=DT), "theta"),
        (lambda: latency_input(GOOD, TAU, 1.0, 10, dt=DT), "theta"),
        (lambda: latency_input(GOOD, -TAU, 0.5, 10, dt=DT), "tau"),
        (lambda: latency_spike_times(GOOD, 5, 0.5, 10), "tau"),
        (lambda: latency_spike_generator(GOOD, TAU, 1.5, 10, dt=DT), "theta"),
        (lambda: latency_spike_steps(GOOD * 3, TAU, 0.5, DT, 10), "images"),
    ],
)
def test_bad_arguments_name_the_parameter(call, parameter):
    with pytest.raises(ValueError, match=f"'{parameter}'"):
        call()
