"""benchmarks.scaling's arithmetic: the power-law fit and the per-series summary."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import scaling


def test_fit_exponent_recovers_a_power_law():
    x = np.array([100, 200, 400, 800, 1600, 3200, 6400])
    assert scaling.fit_exponent(x, 3e-6 * x ** 1.5) == pytest.approx(1.5, abs=1e-12)
    assert scaling.fit_exponent(x, 0.2 * x ** 0.5) == pytest.approx(0.5, abs=1e-12)
    # A constant overhead flattens the slope below the asymptotic exponent.
    assert scaling.fit_exponent(x, 1e-3 + 1e-6 * x) < 0.9


def test_summarise_fits_each_series_from_the_smallest_size_given():
    points = [{"model": "desire", "series": "hidden", "hidden": h, "n_steps": 20,
               "synapses": 794 * h, "synaptic_events_per_sample": 50.0 * h,
               "seconds_per_sample": 1e-3 + 1e-6 * h} for h in (100, 400, 1600, 6400)]
    points += [{"model": "desire", "series": "steps", "hidden": 400, "n_steps": t,
                "synapses": 794 * 400, "synaptic_events_per_sample": 1.0,
                "seconds_per_sample": 2e-5 * t} for t in (10, 20, 40)]
    fits = scaling.summarise(points, fit_from=400)["desire"]
    expected = scaling.fit_exponent([400, 1600, 6400],
                                    [1e-3 + 1e-6 * h for h in (400, 1600, 6400)])
    assert fits["exponent_hidden"] == pytest.approx(expected)
    assert fits["exponent_synapses"] == pytest.approx(expected)  # synapses proportional to h
    assert fits["exponent_steps"] == pytest.approx(1.0)
    assert "eprop" not in scaling.summarise(points, fit_from=400)
