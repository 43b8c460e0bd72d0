"""Model library against closed forms and independent reference loops.

Each test would fail if the model it covers were wrong: wrong time constant,
wrong update order, wrong fixed point, wrong sign.
"""

import numpy as np
import pytest
from brian2 import (
    Network, NeuronGroup, SpikeGeneratorGroup, SpikeMonitor, StateMonitor,
    TimedArray, mV, ms, prefs, second, set_device, start_scope,
)

from models.neurons import NEURON_MODELS, neuron_parameters
from models.populations import (
    connect_dale, ei_population, install_dale_projection, layer, n_excitatory,
)
from models.synapses import SYNAPSE_PARTS, synapse_parameters, synapses, tm_steady_state


@pytest.fixture(autouse=True)
def runtime_numpy():
    set_device("runtime")
    prefs.codegen.target = "numpy"
    start_scope()
    yield


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


# --- populations and Dale's law --------------------------------------------

@pytest.mark.parametrize("N,frac,n_exc", [(100, 0.8, 80), (7, 0.8, 6), (10, 0.0, 0),
                                          (10, 1.0, 10), (250, 0.8, 200)])
def test_excitatory_count(N, frac, n_exc):
    assert n_excitatory(N, frac) == n_exc


def test_dale_law_after_initialisation_and_projection():
    pop = ei_population("lif_current", 50, 0.8, "ei")
    assert (pop.n_exc, pop.n_inh) == (40, 10)
    syn = connect_dale(pop, pop.group, "rec", w_init="(rand() - 0.5) * mV")
    w = np.asarray(syn.w[:] / mV)
    pre = np.asarray(syn.i[:])
    assert np.all(w[pre < 40] >= 0) and np.all(w[pre >= 40] <= 0)
    assert np.any(w[pre < 40] > 0) and np.any(w[pre >= 40] < 0)
    assert len(w) == 50 * 49
    # projection: wrong signs become zero, right signs are untouched
    syn.w = "(rand() - 0.5) * mV"
    before = np.asarray(syn.w[:] / mV)
    install_dale_projection(syn, dt=1 * ms)
    Network(pop.group, syn).run(1 * ms)
    after = np.asarray(syn.w[:] / mV)
    sign = np.where(pre < 40, 1.0, -1.0)
    np.testing.assert_array_equal(after, np.where(sign * before >= 0, before, 0.0))


def test_dale_law_conductance_pair():
    pop = ei_population("lif_conductance", 20, 0.8, "ei")
    out = layer("lif_conductance", 5, "out")
    syn_e, syn_i = connect_dale(pop, out, "ff", target_var=("g_e", "g_i"), w_init="rand() - 0.5")
    assert np.all(np.asarray(syn_e.w[:]) >= 0) and np.all(np.asarray(syn_i.w[:]) >= 0)
    assert set(np.unique(syn_e.i[:])) == set(range(16))
    assert set(np.unique(syn_i.i[:])) == set(range(4))


# --- bad input --------------------------------------------------------------

@pytest.mark.parametrize("call,match", [
    (lambda: ei_population("lif_current", 10, 1.3, "x"), r"e_fraction must lie in \[0, 1\]"),
    (lambda: ei_population("lif_current", 10, -0.1, "x"), "e_fraction"),
    (lambda: layer("lif_current", 3, "x", dict(tau_m=-5 * ms)), "tau_m must be > 0"),
    (lambda: layer("lif_current", 3, "x", dict(tau_syn=0 * ms)), "tau_syn must be > 0"),
    (lambda: layer("lif_current", 3, "x", dict(v_th=-70 * mV)), "v_th must be above v_rest"),
    (lambda: layer("lif_learnable", 3, "x", dict(v_th_init=-80 * mV)), "v_th_init"),
    (lambda: layer("lif_conductance", 3, "x", dict(tau_e=-1 * ms)), "tau_e"),
    (lambda: layer("if_clocked", 3, "x", dict(decay=1.5)), r"decay must lie in \[0.0, 1.0\]"),
    (lambda: layer("if_clocked", 3, "x", dict(v_th=-1.0)), "v_th must be > 0"),
    (lambda: layer("lif_current", 3, "x", dict(tau_m=5 * mV)), "unit"),
    (lambda: layer("lif_current", 3, "x", dict(tau=5 * ms)), "unknown parameter 'tau'"),
    (lambda: layer("lif_curent", 3, "x"), "unknown neuron model 'lif_curent'"),
    (lambda: layer("lif_current", 0, "x"), "N must be a positive integer"),
    (lambda: synapse_parameters("stp_depressing", dict(U=0.0)), r"U must lie in \(0.0, 1.0\]"),
    (lambda: synapse_parameters("stp_facilitating", dict(U=1.5)), "U must lie"),
    (lambda: synapse_parameters("stp_depressing", dict(tau_d=-1 * ms)), "tau_d must be > 0"),
    (lambda: synapse_parameters("stdp_additive", dict(w_min=1.0, w_max=0.5)), "w_max must be above w_min"),
    (lambda: synapse_parameters("stdp", {}), "unknown synapse model 'stdp'"),
    (lambda: synapse_parameters(["stp_depressing", "stp_facilitating"], {}), None),
])
def test_invalid_parameters_raise_value_error(call, match):
    if match is None:  # two STP parts are refused when code is combined
        from models.synapses import combine
        with pytest.raises(ValueError, match="at most one short-term plasticity part"):
            combine(["stp_depressing", "stp_facilitating"], "v", None)
        return
    with pytest.raises(ValueError, match=match):
        call()


def test_every_model_builds_and_defaults_validate():
    for name in NEURON_MODELS:
        start_scope()
        g = layer(name, 2, f"g_{name}")
        Network(g).run(1 * ms)
    for name in SYNAPSE_PARTS:
        synapse_parameters(name)
