"""analysis.firing: rates, CV, LV and Fano factors against hand-computed values."""

import neo
import numpy as np
import pytest
import quantities as pq
from brian2 import ms

from analysis.firing import (cv_isi, fano_factor, lv_isi, mean_rates, population_mean_rate,
                             population_rate)


def train(times, t_stop=100.0):
    return neo.SpikeTrain(np.asarray(times, dtype=float) * pq.ms, t_stop=t_stop * pq.ms)


def test_rates_in_hz():
    trains = [train([10, 30, 60]), train([])]
    rates = mean_rates(trains)
    assert rates.units == pq.Hz
    np.testing.assert_allclose(rates.magnitude, [30.0, 0.0])  # 3 spikes / 0.1 s
    # trains in seconds give the same rates
    in_s = neo.SpikeTrain([0.01, 0.03, 0.06] * pq.s, t_stop=0.1 * pq.s)
    assert float(mean_rates([in_s])[0]) == pytest.approx(30.0)
    mean = population_mean_rate(trains)
    assert mean.units == pq.Hz and float(mean) == pytest.approx(15.0)  # the silent one counts


def test_population_rate_per_bin():
    trains = [train([10, 30, 60]), train([5])]
    rate = population_rate(trains, 50 * pq.ms)
    assert isinstance(rate, neo.AnalogSignal) and rate.units == pq.Hz
    # bin 0: 3 spikes / (2 neurons * 0.05 s) = 30 Hz; bin 1: 1 spike -> 10 Hz
    np.testing.assert_allclose(rate.magnitude.ravel(), [30.0, 10.0])
    np.testing.assert_allclose(rate.times.rescale(pq.ms).magnitude, [0.0, 50.0])
    assert population_rate(trains, 50 * ms).magnitude.ravel().tolist() == [30.0, 10.0]


def test_cv_and_lv_by_hand():
    trains = [train([10, 30, 60]), train([0, 10, 20, 40]), train([5, 50]), train([])]
    # ISIs 20, 30: mean 25, population std 5
    cv_first = 5.0 / 25.0
    # ISIs 10, 10, 20
    isis = np.array([10.0, 10.0, 20.0])
    cv_second = np.sqrt(np.mean((isis - isis.mean()) ** 2)) / isis.mean()
    cv = cv_isi(trains)
    np.testing.assert_allclose(cv[:2], [cv_first, cv_second], rtol=1e-12)
    assert np.isnan(cv[2]) and np.isnan(cv[3])  # 1 ISI, no ISI

    lv_first = 3.0 / 1 * ((20 - 30) / (20 + 30)) ** 2  # 0.12
    lv_second = 3.0 / 2 * (((10 - 10) / 20) ** 2 + ((10 - 20) / 30) ** 2)  # 1/6
    lv = lv_isi(trains)
    np.testing.assert_allclose(lv[:2], [0.12, 1 / 6], rtol=1e-12)
    np.testing.assert_allclose(lv[:2], [lv_first, lv_second], rtol=1e-12)
    assert np.isnan(lv[2]) and np.isnan(lv[3])
    # unsorted spike times give the same values
    shuffled = neo.SpikeTrain([60, 10, 30] * pq.ms, t_stop=100 * pq.ms)
    assert lv_isi([shuffled])[0] == pytest.approx(0.12)


def test_fano_factor_of_one_neuron_and_of_a_population():
    counts = [2, 4, 6, 0]
    trials = [train(np.arange(c) * 10.0 + 1) for c in counts]
    # mean 3, population variance (1 + 1 + 9 + 9) / 4 = 5
    assert fano_factor(trials) == pytest.approx(5 / 3)
    population = [[trials[r], train([1.0] if r % 2 else [1.0, 2.0, 3.0])] for r in range(4)]
    # second neuron: counts 3, 1, 3, 1 -> mean 2, variance 1
    np.testing.assert_allclose(fano_factor(population), [5 / 3, 0.5])
    silent = fano_factor([train([]), train([])])
    assert np.isnan(silent)


def test_bad_input_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="at least 1"):
        mean_rates([])
    with pytest.raises(ValueError, match="share t_start and t_stop"):
        population_rate([train([1]), train([1], t_stop=90)], 10 * pq.ms)
    with pytest.raises(ValueError, match="bin_size must be positive"):
        population_rate([train([1])], 0 * pq.ms)
    with pytest.raises(ValueError, match="longer than the trains"):
        population_rate([train([1])], 200 * pq.ms)
    with pytest.raises(ValueError, match="units"):
        population_rate([train([1])], 10)
    with pytest.raises(ValueError, match="at least 2 presentations"):
        fano_factor([train([1])])
    with pytest.raises(ValueError, match="same duration"):
        fano_factor([train([1]), train([1], t_stop=50)])
    with pytest.raises(ValueError, match="same neurons"):
        fano_factor([[train([1])], [train([1]), train([2])]])
