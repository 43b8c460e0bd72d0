"""The balanced network's learning rules (models.balanced_network).

The equilibrium rule's event-driven integral ``Q(T) B - A`` is checked against the same
integral summed directly from recorded membrane traces and spike times; the sample-end
update against that integral (an exponentiated-gradient step, then the rescaling to the
fixed sum); the consolidation rule against its two limits (no teacher: nothing changes,
the free and tuned potentials are one trajectory; a teacher: the label's weights grow,
the others' shrink) and against the covariance rule summed directly; the running mean
and the balancing current against the hidden spike counts; an all-excitatory network
runs twice in C++ standalone.
"""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import SpikeMonitor, StateMonitor, mV, ms, seed

from models.balanced_network import BalancedSpec, build_balanced_network, connectivity

# A 4x4 image, 8 E and 4 I cells, each E cell inhibited by 3 I cells.
SMALL = dict(n_in=16, image_shape=(4, 4), n_samples=1, n_hidden=12, e_fraction=2 / 3,
             n_per_class=1, n_classes=2, rf_exc=1, rf_inh=2, w_in_exc=6.0, w_in_inh=6.0,
             k_ei=4, w_ei=0.3, k_ie=3, w_ie_total=1.5, t_present_ms=40.0, t_rest_ms=10.0,
             max_rate_hz=400.0, eta_eq=0.04, dt_ms=0.5, seed=3,
             # no feedforward inhibition, the plain consolidation step and bound
             ff_inh_fraction=0.0, w_ff_inh=0.0, eta_out_mV=0.002, w_out_max_mV=2.0,
             p_out=0.5)


def _image(seed=0):
    return np.random.default_rng(seed).uniform(0.3, 1.0, (1, 16))


def _equilibrium_run(duration_steps):
    """Runtime run of one sample of SMALL with equilibrium learning on; returns the
    network and monitors of v, dvdt (after the state update, where the rule reads them)
    and of the I cells' spikes."""
    from models.devices import build, select_device

    select_device("runtime")
    seed(11)  # the Poisson input
    spec = BalancedSpec(**SMALL)
    net = build_balanced_network(spec, name="eq")
    trace = StateMonitor(net.hidden, ["v", "dvdt", "not_refractory"], record=True,
                         when="groups", order=2, name="eq_trace")
    spikes = SpikeMonitor(net.hidden, name="eq_spikes")
    net.network.add(trace, spikes)
    build(net.network, duration_steps * spec.dt_ms * ms,
          run_args=net.run_args(_image(), None, equilibrium=True))
    return spec, net, trace, spikes


def _reference_gradient(spec, net, trace, spikes):
    """``int V' (E_i - V) k dt / dV**2`` of every I->E synapse, summed directly: a spike of
    I cell k at step m adds a conductance kernel exp(-(n - m) dt / tau_i) from step m + 1
    on, every step n contributes ``dt V'_n (E_i - V_n) / dV**2`` where not refractory."""
    p = net.hidden.namespace
    dt = spec.dt_ms * 1e-3
    E_i, tau_i = float(p["E_i"]), float(p["tau_i"])
    dV = float(p["v_th"] - p["v_rest"])
    steps = spec.steps_per_sample
    v = np.asarray(trace.v_)[:, :steps]       # (cells, steps)
    dvdt = np.asarray(trace.dvdt_)[:, :steps]
    free = np.asarray(trace.not_refractory, dtype=float)[:, :steps]
    term = dt * dvdt * (E_i - v) / dV ** 2 * free
    n = np.arange(steps)
    i, j, _ = connectivity(spec)["ie"]
    spike_steps = np.round(np.asarray(spikes.t_) / dt).astype(int)
    spike_cells = np.asarray(spikes.i)
    grad = np.zeros(len(i))
    for s, (k, e) in enumerate(zip(i, j)):
        for m in spike_steps[spike_cells == spec.n_exc + k]:
            later = n > m
            grad[s] += np.sum(term[e, later] * np.exp(-(n[later] - m) * dt / tau_i))
    return grad


def test_equilibrium_integral_matches_direct_sum():
    """A run of exactly one sample (the sample-end update has not run yet): each
    synapse's ``Q_post(T) B - A`` is the integral the rule descends."""
    spec = BalancedSpec(**SMALL)
    _, net, trace, spikes = _equilibrium_run(spec.steps_per_sample)
    syn = net.syn_ie
    Q = np.asarray(net.hidden.eq_Q[:])
    grad = Q[np.asarray(syn.j[:])] * np.asarray(syn.eq_B[:]) - np.asarray(syn.eq_A[:])
    reference = _reference_gradient(spec, net, trace, spikes)
    # The I cells fired and the E cells moved, so the comparison is not 0 == 0.
    assert np.count_nonzero(np.asarray(spikes.i) >= spec.n_exc) > 10
    assert np.max(np.abs(reference)) > 1e-3
    np.testing.assert_allclose(grad, reference, rtol=1e-9, atol=1e-12)


def test_equilibrium_update_is_an_exponentiated_gradient_step_then_rescaled():
    spec = BalancedSpec(**SMALL)
    _, net, trace, spikes = _equilibrium_run(spec.steps_per_sample + 1)
    reference = _reference_gradient(spec, net, trace, spikes)
    i, j, w0 = connectivity(spec)["ie"]
    w = w0 * np.exp(np.clip(-spec.eta_eq * reference, -1, 1))
    w *= spec.w_ie_total / np.bincount(j, w, minlength=spec.n_exc)[j]
    np.testing.assert_allclose(np.asarray(net.syn_ie.w[:]), w, rtol=1e-9)
    assert not np.allclose(w, w0) and np.all(w > 0)
    # Some steps were cut at a factor e, others not: both branches are checked.
    step = np.abs(spec.eta_eq * reference)
    assert np.any(step > 1) and np.any((step > 1e-3) & (step < 1))
    np.testing.assert_allclose(np.bincount(j, np.asarray(net.syn_ie.w[:])), spec.w_ie_total)


def _consolidation_run(teacher):
    from models.devices import build, select_device

    select_device("runtime")
    seed(12)
    spec = BalancedSpec(**dict(SMALL, w_out_init_mV=0.5, eta_out_mV=0.05))
    net = build_balanced_network(spec, name="cons")
    net.syn_out.w = 1.5 * mV  # strong enough for the free cells to fire
    tutor = StateMonitor(net.output, ["v", "v_tutor"], record=True, name="cons_trace")
    net.network.add(tutor)
    w0 = np.asarray(net.syn_out.w_[:]).copy()
    build(net.network, spec.steps_per_sample * spec.dt_ms * ms,
          run_args=net.run_args(_image(1), [1], teacher=teacher, consolidate=1.0))
    return spec, net, w0, tutor


def test_without_teacher_tuned_and_free_potentials_agree_and_nothing_is_learned():
    _, net, w0, tutor = _consolidation_run(teacher=False)
    np.testing.assert_array_equal(tutor.v_, tutor.v_tutor_)
    np.testing.assert_array_equal(np.asarray(net.syn_out.w_[:]), w0)
    assert len(net.out_spikes.t) > 0  # the free cells did fire: the rule saw spikes


def test_teacher_potentiates_the_label_and_depresses_the_others():
    spec, net, w0, _ = _consolidation_run(teacher=True)
    dw = np.asarray(net.syn_out.w_[:]) - w0
    post = np.asarray(net.syn_out.j[:])
    assert dw[post == 1].sum() > 0          # label 1: tuned spikes potentiate
    assert dw[post == 0].sum() < 0          # class 0: only free spikes, depression
    assert np.all(np.abs(np.asarray(net.syn_out.w_[:])) <= spec.w_out_max_mV * 1e-3 + 1e-15)


def _post_events(spec, net, tuned):
    """Steps of the free ('spike') and teacher-tuned ('tutored') events per output cell."""
    dt = spec.dt_ms * 1e-3
    out = {}
    for kind, mon in (("free", net.out_spikes), ("tuned", tuned)):
        steps = np.round(np.asarray(mon.t_) / dt).astype(int)
        out[kind] = [steps[np.asarray(mon.i) == k] for k in range(spec.n_out)]
    return out


def test_covariance_rule_subtracts_the_mean_trace_at_every_event():
    """``dw_kj = eta sum_tuned (apre_j - abar) - eta sum_free (apre_j - abar)``, with
    ``apre_j`` the presynaptic trace summed directly from the hidden spike times (a
    spike in the same step counts: the pre pathway runs first)."""
    from brian2 import EventMonitor

    from models.devices import build, select_device

    select_device("runtime")
    seed(12)
    spec = BalancedSpec(**dict(SMALL, w_out_init_mV=0.5, eta_out_mV=0.02))
    net = build_balanced_network(spec, name="cov")
    net.syn_out.w = 1.5 * mV
    abar = np.random.default_rng(5).uniform(0.1, 0.8, len(net.syn_out))
    net.syn_out.abar = abar
    hidden = SpikeMonitor(net.hidden, name="cov_hidden_mon")
    tuned = EventMonitor(net.output, "tutored", name="cov_tuned")
    net.network.add(hidden, tuned)
    w0 = np.asarray(net.syn_out.w_[:]).copy()
    build(net.network, spec.steps_per_sample * spec.dt_ms * ms,
          run_args=net.run_args(_image(1), [1], teacher=True, consolidate=1.0))
    dt, tau = spec.dt_ms * 1e-3, spec.tau_pre_ms * 1e-3
    pre_steps = np.round(np.asarray(hidden.t_) / dt).astype(int)
    pre_cells = np.asarray(hidden.i)
    events = _post_events(spec, net, tuned)

    def trace(j, n):
        m = pre_steps[(pre_cells == j) & (pre_steps <= n)]
        return np.exp(-(n - m) * dt / tau).sum()

    i, k = np.asarray(net.syn_out.i[:]), np.asarray(net.syn_out.j[:])
    eta = spec.eta_out_mV * 1e-3
    expected = w0 + eta * np.array([
        sum(trace(j, n) - a for n in events["tuned"][post])
        - sum(trace(j, n) - a for n in events["free"][post])
        for j, post, a in zip(i, k, abar)])
    assert np.max(np.abs(expected)) < spec.w_out_max_mV * 1e-3  # no clipping to model
    np.testing.assert_allclose(np.asarray(net.syn_out.w_[:]), expected, rtol=1e-9, atol=1e-15)
    # abar mattered: the free and tuned counts differ, so sum (.. - abar) is not the
    # plain rule's.
    n_tuned = np.array([len(e) for e in events["tuned"]])
    n_free = np.array([len(e) for e in events["free"]])
    assert np.any(n_tuned != n_free) and n_tuned.sum() >= 4 and n_free.sum() >= 1


def test_running_mean_and_balancing_current_follow_the_hidden_counts():
    """Two training samples and a padding sample: after each sample ``abar`` takes a
    step ``(n tau_pre / t_present - abar) / mean_samples`` towards the presynaptic
    cell's count (padding skipped), and during the next presentation (only) each
    output cell receives ``-sum_j w_kj abar_kj tau_syn / tau_pre``."""
    from models.devices import build, select_device

    select_device("runtime")
    seed(13)
    spec = BalancedSpec(**dict(SMALL, n_samples=3, mean_samples=4.0))
    net = build_balanced_network(spec, name="ctr")
    hidden = SpikeMonitor(net.hidden, name="ctr_hidden_mon")
    bal = StateMonitor(net.output, "I_bal", record=True, when="groups", name="ctr_bal")
    net.network.add(hidden, bal)
    w = np.asarray(net.syn_out.w_[:]).copy()
    images = np.vstack([_image(1), _image(2)])  # the third sample is padding
    build(net.network, net.duration,
          run_args=net.run_args(images, [1, 0], teacher=True, consolidate=0.0))
    steps = spec.steps_per_sample
    sample = np.round(np.asarray(hidden.t_) / (spec.dt_ms * 1e-3)).astype(int) // steps
    counts = np.zeros((3, spec.n_hidden))
    np.add.at(counts, (sample, np.asarray(hidden.i)), 1)
    assert counts[2].sum() == 0 and counts[:2].min() < counts[:2].max()
    i, k = np.asarray(net.syn_out.i[:]), np.asarray(net.syn_out.j[:])
    ratio = spec.tau_pre_ms / spec.t_present_ms
    a1 = counts[0, i] * ratio / spec.mean_samples
    a2 = a1 + (counts[1, i] * ratio - a1) / spec.mean_samples
    np.testing.assert_allclose(np.asarray(net.syn_out.abar[:]), a2, rtol=1e-12)
    tau_syn = float(net.output.namespace["tau_syn"]) * 1e3

    def balance(a):
        return -np.bincount(k, w * a, minlength=spec.n_out) * tau_syn / spec.tau_pre_ms

    I = np.asarray(bal.I_bal_)  # (n_out, steps)
    present = spec.present_steps
    np.testing.assert_array_equal(I[:, :steps], 0)  # abar starts at 0
    np.testing.assert_allclose(I[:, steps:steps + present],
                               np.repeat(balance(a1)[:, None], present, 1), rtol=1e-12)
    np.testing.assert_array_equal(I[:, steps + present:2 * steps], 0)  # the rest
    np.testing.assert_allclose(I[:, 2 * steps], balance(a2), rtol=1e-12)
    assert np.min(balance(a2)) < 0


def test_all_excitatory_network_runs_twice_in_standalone(tmp_path):
    """With no I cells the E subgroup is used by nothing; the network must keep it, or
    Brian2's standalone array cache holds a dead reference and the next run fails."""
    from models.devices import build, select_device

    select_device("cpp", cache_dir=tmp_path)
    spec = BalancedSpec(**dict(SMALL, e_fraction=1.0))
    net = build_balanced_network(spec, name="allexc")
    assert net.syn_ie is None and net.syn_ei is None
    handle = build(net.network, net.duration, compile_only=True)
    for teacher in (False, True):
        handle.run(net.run_args(_image(), [1], teacher=teacher, consolidate=1.0))
    assert net.hidden_totals()["n_spikes"].sum() > 0


@pytest.mark.parametrize("changes", [{}, dict(n_hidden=40, p_out=1.0, stp=False)])
def test_memory_estimate_matches_a_tiny_build(changes, array_bytes):
    """The estimate counted from the sizes (patches at their largest) against the bytes
    of the Brian2 arrays of the same network built in runtime mode."""
    from models.balanced_network import memory_estimate
    from models.devices import select_device

    spec = BalancedSpec(**{**SMALL, **changes})
    need = memory_estimate(spec)
    select_device("runtime")
    built = array_bytes(build_balanced_network(spec).network)
    assert 0.5 < (need.state + need.inputs) / built < 2, (need, built)
    conn = connectivity(spec)
    assert need.synapses >= sum(len(i) for i, _, _ in conn.values())


@pytest.mark.parametrize("record_samples", [0, 1])
def test_recorded_spikes_are_the_spikes_of_the_first_samples(record_samples):
    """The events ``recorded`` of the inputs and hidden cells are exactly their spikes
    (monitored independently) in the first ``record_samples`` samples of a run, E and I
    cells split at ``n_exc``; none with ``record_samples=0`` (training runs)."""
    from models.devices import build, select_device

    select_device("runtime")
    seed(5)
    spec = BalancedSpec(**{**SMALL, "n_samples": 2})
    net = build_balanced_network(spec, name="rec")
    every = {"input": SpikeMonitor(net.inp, name="rec_all_in"),
             "hidden": SpikeMonitor(net.hidden, name="rec_all_hidden")}
    net.network.add(*every.values())
    images = np.concatenate([_image(0), _image(1)])
    build(net.network, 2 * spec.steps_per_sample * spec.dt_ms * ms,
          run_args=net.run_args(images, None, record_samples=record_samples))
    got = net.recorded_spikes(2)
    end = record_samples * spec.steps_per_sample

    def window(monitor):
        steps = net.event_steps(monitor)
        order = np.lexsort((np.asarray(monitor.i), steps))
        steps, cells = steps[order], np.asarray(monitor.i)[order]
        return steps[steps < end], cells[steps < end]

    def same(a, b):
        order = np.lexsort((a[1], a[0]))
        np.testing.assert_array_equal(a[0][order], b[0])
        np.testing.assert_array_equal(a[1][order], b[1])

    same(got["input"], window(every["input"]))
    steps, cells = window(every["hidden"])
    exc = cells < spec.n_exc
    same(got["E"], (steps[exc], cells[exc]))
    same(got["I"], (steps[~exc], cells[~exc] - spec.n_exc))
    if record_samples:
        assert len(got["input"][0]) > 0 and len(got["E"][0]) > 0
        assert len(steps) < len(every["hidden"].i), "the second sample spikes too"
    else:
        assert all(len(got[k][0]) == 0 for k in ("input", "E", "I"))
