"""Synapse models (models.synapses) against closed forms.

Each test would fail if the model it covers were wrong: wrong time constant,
wrong update order, wrong fixed point, wrong sign.
"""

import numpy as np
import pytest
from brian2 import Network, NeuronGroup, SpikeGeneratorGroup, StateMonitor, ms, start_scope

from models.synapses import synapse_parameters, synapses, tm_steady_state


pytestmark = pytest.mark.usefixtures("runtime_numpy")


# --- Tsodyks-Markram short-term plasticity ---------------------------------

@pytest.mark.parametrize("part", ["stp_depressing", "stp_facilitating"])
def test_tsodyks_markram_steady_state_matches_fixed_point(part):
    period = 40 * ms
    n_spikes = 250
    src = SpikeGeneratorGroup(1, np.zeros(n_spikes, int), np.arange(n_spikes) * period + 1 * ms,
                              dt=1 * ms, name="src")
    post = NeuronGroup(1, "acc : 1", name="post", dt=1 * ms)
    syn = synapses(src, post, part, "syn", "acc", dt=1 * ms)
    syn.connect()
    syn.w = 1.0
    mon = StateMonitor(post, "acc", record=0, name="acc_mon", dt=1 * ms)
    Network(src, post, syn, mon).run(n_spikes * period + 2 * ms)
    released = np.diff(np.concatenate([[0.0], mon.acc[0]]))
    amplitudes = released[released > 0]
    assert len(amplitudes) == n_spikes
    p = synapse_parameters(part)
    assert amplitudes[0] == pytest.approx(p["U"], rel=1e-12)
    u_plus, x_minus, r = tm_steady_state(p["U"], p["tau_d"], p["tau_f"], period)
    assert amplitudes[-1] == pytest.approx(r, rel=1e-6)
    # depression lowers, facilitation raises the steady amplitude against the first
    assert (amplitudes[-1] < amplitudes[0]) == (part == "stp_depressing")


# --- pair STDP ------------------------------------------------------------

LAGS = np.array([-40.0, -20.0, -10.0, -5.0, -2.0, 2.0, 5.0, 10.0, 20.0, 40.0])


def _stdp_pairs(part, params, w0, plastic=1):
    n = len(LAGS)
    t_pre = 60.0
    step = 0.1 * ms  # a local "dt" would clash with the groups' dt in the namespace
    pre = SpikeGeneratorGroup(n, np.arange(n), np.full(n, t_pre) * ms, dt=step, name="pre")
    post = NeuronGroup(n, "t_fire : second\nacc : 1", threshold="abs(t - t_fire) < 0.5*dt", reset="",
                       name="post", dt=step)
    post.t_fire = (t_pre + LAGS) * ms
    syn = synapses(pre, post, part, "syn", "acc", params, dt=step)
    syn.connect(j="i")
    syn.w = w0
    syn.plastic = plastic
    Network(pre, post, syn).run(150 * ms)
    return np.asarray(syn.w[:])


@pytest.mark.parametrize("part", ["stdp_additive", "stdp_multiplicative"])
def test_stdp_window_follows_exponential_on_both_sides(part):
    params = dict(tau_pre=17 * ms, tau_post=31 * ms, A_plus=0.01, A_minus=0.015,
                  w_min=0.0, w_max=2.0)
    w0 = 0.5
    dw = _stdp_pairs(part, params, w0) - w0
    if part == "stdp_additive":
        scale_plus, scale_minus = 2.0, 2.0
    else:
        scale_plus, scale_minus = 2.0 - w0, w0 - 0.0
    expected = np.where(
        LAGS > 0,
        0.01 * scale_plus * np.exp(-LAGS / 17.0),
        -0.015 * scale_minus * np.exp(-np.abs(LAGS) / 31.0),
    )
    np.testing.assert_allclose(dw, expected, rtol=1e-9)


def test_stdp_frozen_and_bounded():
    params = dict(A_plus=5.0, A_minus=5.0, w_min=0.0, w_max=1.0)
    np.testing.assert_array_equal(_stdp_pairs("stdp_additive", params, 0.5, plastic=0), 0.5)
    start_scope()
    w = _stdp_pairs("stdp_additive", params, 0.5)
    assert set(np.unique(w)) == {0.0, 1.0}
