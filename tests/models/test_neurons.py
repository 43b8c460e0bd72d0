"""Neuron models (models.neurons) against closed forms and independent reference loops.

Each test would fail if the model it covers were wrong: wrong time constant,
wrong update order, wrong fixed point, wrong sign.
"""

import numpy as np
import pytest
from brian2 import (
    Network, SpikeGeneratorGroup, SpikeMonitor, StateMonitor, TimedArray, mV, ms, second,
    start_scope,
)

from models.neurons import neuron_parameters
from models.populations import layer
from models.synapses import synapses


pytestmark = pytest.mark.usefixtures("runtime_numpy")


def isi_closed_form(tau, drive, v_rest, v_reset, v_th):
    """Time from reset to threshold of dv/dt = (v_rest - v + drive)/tau."""
    v_inf = v_rest + drive
    return tau * np.log((v_inf - v_reset) / (v_inf - v_th))


# --- LIF interspike intervals ---------------------------------------------

@pytest.mark.parametrize("model", ["lif_current", "lif_adaptive", "lif_learnable"])
def test_lif_isi_matches_closed_form(model):
    dt = 0.1 * ms
    theta = 10 * mV
    drives = np.array([10.5, 12.0, 15.0, 20.0, 40.0]) * mV
    params = dict(v_rest=0 * mV, v_reset=0 * mV)
    if model == "lif_learnable":
        params.update(v_th_init=theta, tau_ref=0 * ms)
    else:
        params.update(v_th=theta, tau_ref=0 * ms)
    if model == "lif_adaptive":
        params.update(theta_plus=0 * mV)
    g = layer(model, len(drives), "lif", params, dt=dt)
    g.I_ext = drives
    taus = np.full(len(drives), 10.0) * ms
    if model == "lif_learnable":
        taus = np.array([5.0, 8.0, 10.0, 15.0, 20.0]) * ms
        g.tau_m = taus
    mon = SpikeMonitor(g, name="spk")
    Network(g, mon).run(300 * ms)
    expected = isi_closed_form(taus, drives, 0 * mV, 0 * mV, theta)
    trains = mon.spike_trains()
    for k in range(len(drives)):
        isi = np.diff(trains[k] / ms)
        assert len(isi) >= 3, "the neuron must fire repeatedly"
        assert np.all(np.abs(isi - expected[k] / ms) <= dt / ms + 1e-9), (k, isi[:3], expected[k])


def test_conductance_lif_isi_with_constant_conductance():
    dt = 0.05 * ms
    g_e = np.array([0.3, 0.5, 1.0])
    p = neuron_parameters("lif_conductance")
    grp = layer("lif_conductance", 3, "cond", dict(tau_e=1e9 * second, tau_ref=0 * ms), dt=dt)
    grp.g_e = g_e
    mon = SpikeMonitor(grp, name="spk")
    Network(grp, mon).run(200 * ms)
    v_inf = (p["v_rest"] + g_e * p["E_e"]) / (1 + g_e)
    tau_eff = p["tau_m"] / (1 + g_e)
    expected = tau_eff * np.log((v_inf - p["v_reset"]) / (v_inf - p["v_th"]))
    for k, train in mon.spike_trains().items():
        isi = np.diff(train / ms)
        assert len(isi) >= 3
        assert np.all(np.abs(isi - expected[k] / ms) <= dt / ms + 1e-9), (k, isi[:3], expected[k])


def test_adaptive_threshold_jumps_and_relaxes_with_tau_theta():
    dt = 0.1 * ms
    p = dict(tau_theta=50 * ms, theta_plus=3 * mV)
    g = layer("lif_adaptive", 1, "adapt", p, dt=dt)
    g.v = -40 * mV  # above v_th: exactly one spike in the first step
    mon = StateMonitor(g, "theta", record=0, name="theta_mon")
    spk = SpikeMonitor(g, name="spk")
    Network(g, mon, spk).run(200 * ms)
    assert spk.num_spikes == 1
    # the reset acts after the state update of the spike's step, so the
    # monitor first sees the jump one step after the spike
    t_jump = spk.t[0] + dt
    after = mon.t >= t_jump - dt / 2
    expected = 3 * mV * np.exp(-(mon.t[after] - t_jump) / (50 * ms))
    np.testing.assert_allclose(mon.theta[0][after] / mV, expected / mV, rtol=1e-9, atol=1e-12)
    assert np.all(mon.theta[0][~after] == 0)
    # a wrong time constant would be visible: 50 ms after the jump theta is 3 mV / e
    i50 = np.argmin(np.abs(mon.t - t_jump - 50 * ms))
    assert mon.theta[0][i50] / mV == pytest.approx(3 / np.e, rel=1e-6)


def test_adaptive_threshold_slows_firing():
    counts = []
    for k, theta_plus in enumerate([0 * mV, 2 * mV]):
        start_scope()
        g = layer("lif_adaptive", 1, f"a{k}", dict(theta_plus=theta_plus), dt=0.1 * ms)
        g.I_ext = 25 * mV
        mon = SpikeMonitor(g, name=f"s{k}")
        Network(g, mon).run(300 * ms)
        counts.append(mon.num_spikes)
    assert counts[1] < 0.8 * counts[0]


def test_readout_decays_with_tau_out():
    src = SpikeGeneratorGroup(1, [0], [1] * ms, name="src")
    out = layer("readout", 1, "out", dict(tau_out=15 * ms), dt=0.1 * ms)
    syn = synapses(src, out, "static", "syn", "v")
    syn.connect()
    syn.w = 2 * mV
    mon = StateMonitor(out, "v", record=0, name="vmon")
    Network(src, out, syn, mon).run(40 * ms)
    # the jump is seen by the monitor one step after the spike (update order)
    after = mon.t >= 1.1 * ms - 0.05 * ms
    expected = 2 * np.exp(-(mon.t[after] - 1.1 * ms) / (15 * ms))
    np.testing.assert_allclose(mon.v[0][after] / mV, expected, rtol=1e-9)


# --- clocked integrate-and-fire -------------------------------------------

def test_clocked_neuron_matches_numpy_loop_spike_for_spike():
    rng = np.random.default_rng(3)
    n_in, n, steps = 12, 15, 150
    dt = 1 * ms
    drive = rng.uniform(0, 0.45, size=(steps, n))
    in_spikes = rng.random((steps, n_in)) < 0.2
    W = rng.normal(0, 0.4, size=(n_in, n))

    stim = TimedArray(drive, dt=dt, name="stim")
    idx_t, idx_i = np.nonzero(in_spikes)
    src = SpikeGeneratorGroup(n_in, idx_i, idx_t * dt, dt=dt, name="src")
    g = layer("if_clocked", n, "clk", dict(decay=0.75, v_th=1.0), dt=dt)
    g.run_regularly("I_ext = stim(t, i)", when="start", name="clk_drive")
    syn = synapses(src, g, "static", "syn", "v", dt=dt)
    syn.connect()
    syn.w = W.ravel()  # Brian2 orders all-to-all synapses by source, then target
    mon = SpikeMonitor(g, name="spk")
    Network(src, g, syn, mon).run(steps * dt)

    v = np.zeros(n)
    expected = np.zeros((steps, n), dtype=bool)
    for t in range(steps):
        v = 0.75 * v + drive[t]
        v = v + in_spikes[t].astype(float) @ W
        expected[t] = v >= 1.0
        v[expected[t]] -= 1.0
    got = np.zeros((steps, n), dtype=bool)
    got[np.round(mon.t / dt).astype(int), mon.i[:]] = True
    assert expected.sum() > 50, "reference must spike"
    np.testing.assert_array_equal(got, expected)
