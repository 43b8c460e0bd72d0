"""analysis.synchrony: STTC, count correlations and spike contrast."""

import neo
import numpy as np
import pytest
import quantities as pq
from brian2 import ms

from analysis.conversion import spike_trains_from_arrays
from analysis.synchrony import correlation_matrix, spike_contrast, sttc_matrix


def train(times, t_stop=100.0):
    return neo.SpikeTrain(np.asarray(times, dtype=float) * pq.ms, t_stop=t_stop * pq.ms)


def test_sttc_by_hand():
    trains = [train([50.0, 80.0]), train([52.0]), train([50.0, 80.0]), train([20.0]), train([])]
    matrix = sttc_matrix(trains, 5 * pq.ms)
    # A = [50, 80], B = [52], dt = 5 ms, 100 ms: P_A = 1/2, P_B = 1, T_A = 0.2, T_B = 0.1
    expected_ab = 0.5 * ((0.5 - 0.1) / (1 - 0.5 * 0.1) + (1 - 0.2) / (1 - 1 * 0.2))
    assert matrix[0, 1] == pytest.approx(expected_ab, rel=1e-12)
    assert matrix[0, 2] == pytest.approx(1.0)  # identical trains
    # B = [52], D = [20]: no spike near the other; T_B = T_D = 0.1
    assert matrix[1, 3] == pytest.approx(0.5 * (-0.1 - 0.1))
    np.testing.assert_allclose(np.diag(matrix)[:4], 1.0)
    assert np.isnan(matrix[4]).all() and np.isnan(matrix[:, 4]).all()  # empty train
    np.testing.assert_array_equal(matrix, matrix.T)
    assert sttc_matrix(trains[:2], 5 * ms)[0, 1] == pytest.approx(expected_ab)


def test_correlation_of_binned_counts():
    # 40 ms in 10 ms bins: A = B = [1, 1, 0, 0], C = [0, 0, 1, 1], D = [1, 0, 1, 0]
    trains = [train([1, 12], 40), train([5, 15], 40), train([25, 35], 40), train([2, 22], 40)]
    matrix = correlation_matrix(trains, 10 * pq.ms)
    assert matrix[0, 1] == pytest.approx(1.0)
    assert matrix[0, 2] == pytest.approx(-1.0)
    assert matrix[0, 3] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(np.diag(matrix), 1.0)
    with_silent = correlation_matrix(trains + [train([], 40)], 10 * pq.ms)
    assert np.isnan(with_silent[4]).all()


def test_spike_contrast_orders_synchronous_above_independent():
    rng = np.random.default_rng(0)
    base = np.sort(rng.uniform(0, 1000, 20))
    synchronous = spike_trains_from_arrays(np.tile(base, 10), np.repeat(np.arange(10), 20),
                                           10, 1000.0)
    times = rng.uniform(0, 1000, 200)
    independent = spike_trains_from_arrays(times, np.repeat(np.arange(10), 20), 10, 1000.0)
    sync = spike_contrast(synchronous)
    indep = spike_contrast(independent)
    assert 0.0 <= indep < sync <= 1.0
    assert sync > 0.9  # identical trains: every spike coincides with 9 others
    value, trace = spike_contrast(synchronous, return_trace=True)
    assert value == sync and len(trace.bin_size) == len(trace.synchrony)


TWO = [train([1.0, 5.0]), train([2.0])]


@pytest.mark.parametrize("call, reason", [
    (lambda: sttc_matrix(TWO, 0 * pq.ms), "dt must be positive"),
    (lambda: sttc_matrix([train([1.0]), train([1.0], t_stop=50)], 1 * pq.ms),
     "share t_start and t_stop"),
    (lambda: correlation_matrix(TWO, -1 * pq.ms), "bin_size must be positive"),
    (lambda: correlation_matrix(TWO, 1 * pq.s), "longer than the trains"),
    (lambda: spike_contrast(TWO[:1]), "at least 2"),
    (lambda: spike_contrast(TWO, bin_shrink_factor=1.0), r"\(0, 1\)"),
    (lambda: spike_contrast([train([1.0]), train([])]), "2 or more spikes"),
])
def test_bad_input_is_refused_with_a_reason(call, reason):
    with pytest.raises(ValueError, match=reason):
        call()
