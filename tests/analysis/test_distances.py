"""analysis.distances: van Rossum (Elephant and the fast kernel), Victor-Purpura."""

import time

import neo
import numpy as np
import pytest
import quantities as pq
from brian2 import Hz, ms

from analysis.conversion import spike_trains_from_arrays
from analysis.distances import (population_distances, van_rossum_matrix,
                                van_rossum_matrix_fast, victor_purpura_matrix)


def train(times, t_stop=100.0):
    return neo.SpikeTrain(np.asarray(times, dtype=float) * pq.ms, t_stop=t_stop * pq.ms)


def poisson_trains(n, rate_hz, t_stop_ms, seed, grid_ms=None):
    rng = np.random.default_rng(seed)
    counts = rng.poisson(rate_hz * t_stop_ms / 1000.0, n)
    times = rng.uniform(0.0, t_stop_ms, counts.sum())
    if grid_ms:  # spikes on a simulation time grid: many exactly coincident times
        times = np.round(times / grid_ms) * grid_ms
    return spike_trains_from_arrays(times, np.repeat(np.arange(n), counts), n, t_stop_ms)


def test_single_spike_against_empty_train_in_both_normalisations():
    trains = [train([20.0]), train([])]
    tau = 10 * pq.ms
    # Elephant: K(a,a) = 1 -> D = 1; van Rossum (2001): D**2 = (1/tau) int exp(-2t/tau) = 1/2
    assert van_rossum_matrix(trains, tau)[0, 1] == pytest.approx(1.0)
    assert van_rossum_matrix_fast(trains, tau)[0, 1] == pytest.approx(1.0)
    assert van_rossum_matrix_fast(trains, tau, "vanrossum2001")[0, 1] == pytest.approx(1 / np.sqrt(2))


def test_two_single_spikes_and_identical_trains():
    delta, tau = 5.0, 10.0
    trains = [train([20.0]), train([20.0 + delta]), train([20.0])]
    expected = np.sqrt(2 - 2 * np.exp(-delta / tau))  # K(a,a) + K(b,b) - 2 K(a,b)
    for matrix in (van_rossum_matrix(trains, tau * pq.ms), van_rossum_matrix_fast(trains, tau * ms)):
        assert matrix[0, 1] == pytest.approx(expected, rel=1e-12)
        assert matrix[0, 2] == 0.0 and matrix[1, 1] == 0.0
        np.testing.assert_allclose(matrix, matrix.T)


@pytest.mark.parametrize("grid_ms", [None, 0.1])
def test_fast_kernel_equals_elephant(grid_ms):
    trains = poisson_trains(25, 30.0, 500.0, seed=3, grid_ms=grid_ms)
    trains.append(spike_trains_from_arrays([], [], 1, 500.0)[0])  # an empty train
    for tau in (2 * pq.ms, 20 * pq.ms):
        reference = van_rossum_matrix(trains, tau)
        # small blocks: the carried trace between blocks is exercised many times
        fast = van_rossum_matrix_fast(trains, tau, block=16)
        np.testing.assert_allclose(fast, reference, rtol=1e-9, atol=0)
        fast_2001 = van_rossum_matrix_fast(trains, tau, normalisation="vanrossum2001")
        np.testing.assert_allclose(fast_2001, reference / np.sqrt(2), rtol=1e-9, atol=0)


def test_timing_elephant_against_fast_kernel():
    trains = poisson_trains(200, 20.0, 1000.0, seed=7)
    start = time.perf_counter()
    reference = van_rossum_matrix(trains, 10 * pq.ms)
    elephant_s = time.perf_counter() - start
    start = time.perf_counter()
    fast = van_rossum_matrix_fast(trains, 10 * pq.ms)
    fast_s = time.perf_counter() - start
    print(f"\nvan Rossum, 200 trains of ~20 spikes: Elephant {elephant_s:.3f} s, "
          f"fast kernel {fast_s:.3f} s")
    np.testing.assert_allclose(fast, reference, rtol=1e-9, atol=0)


def test_victor_purpura_single_spike_shift():
    q = 0.1 / pq.ms
    trains = [train([20.0]), train([25.0]), train([50.0]), train([]), train([1.0, 2.0, 3.0])]
    matrix = victor_purpura_matrix(trains, q)
    assert matrix[0, 1] == pytest.approx(min(2.0, 0.1 * 5.0))  # shift: 0.5
    assert matrix[0, 2] == pytest.approx(min(2.0, 0.1 * 30.0))  # delete + insert: 2
    assert matrix[0, 3] == pytest.approx(1.0)
    assert matrix[3, 4] == pytest.approx(3.0)
    # the same q in Brian2 units
    assert victor_purpura_matrix(trains, 100 * Hz)[0, 1] == pytest.approx(0.5)


def test_population_distances_use_off_diagonal_pairs():
    matrix = np.array([[0.0, 1.0, 2.0, 6.0],
                       [1.0, 0.0, 4.0, 8.0],
                       [2.0, 4.0, 0.0, 3.0],
                       [6.0, 8.0, 3.0, 0.0]])
    result = population_distances(matrix, [True, True, False, False])
    assert result == {"EE": 1.0, "EI": (2 + 6 + 4 + 8) / 4, "II": 3.0}
    lonely = population_distances(matrix[:3, :3], [True, True, False])
    assert np.isnan(lonely["II"]) and lonely["EI"] == 3.0


def test_bad_input_is_refused_with_a_reason():
    trains = [train([1.0]), train([2.0])]
    with pytest.raises(ValueError, match="tau must be positive"):
        van_rossum_matrix_fast(trains, -1 * pq.ms)
    with pytest.raises(ValueError, match="tau must be positive"):
        van_rossum_matrix(trains, 0 * pq.ms)
    with pytest.raises(ValueError, match="normalisation"):
        van_rossum_matrix_fast(trains, 1 * pq.ms, normalisation="paper")
    with pytest.raises(ValueError, match="at least 1"):
        van_rossum_matrix_fast([], 1 * pq.ms)
    with pytest.raises(ValueError, match="share t_start and t_stop"):
        van_rossum_matrix([train([1.0]), train([1.0], t_stop=50)], 1 * pq.ms)
    with pytest.raises(ValueError, match="q must be >= 0"):
        victor_purpura_matrix(trains, -1 * pq.Hz)
    with pytest.raises(ValueError, match="rate"):
        victor_purpura_matrix(trains, 1 * pq.ms)
    with pytest.raises(ValueError, match="square"):
        population_distances(np.zeros((2, 3)), [True, False])
    with pytest.raises(ValueError, match="3 entries"):
        population_distances(np.zeros((2, 2)), [True, False, True])
