"""A tour of the model library on real digits: one figure per model.

Each panel drives one neuron or synapse model of :mod:`models` with Poisson
spike trains encoding scikit-learn digits (rate proportional to pixel
intensity) and plots what characterises the model: membrane potentials and
spikes for neurons, utilisation ``u`` and resources ``x`` for short-term
plasticity, the measured STDP window (and the weights learned from digits)
for STDP.

Run with ``python -m figures library`` (what ``make demo`` does).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from brian2 import (  # noqa: E402
    EventMonitor, Hz, Network, NeuronGroup, SpikeGeneratorGroup, SpikeMonitor, StateMonitor, mV,
    ms,
    start_scope,
)

from models.encoding import poisson_input  # noqa: E402
from models.populations import connect_dale, ei_population, layer  # noqa: E402
from models.synapses import synapses  # noqa: E402
from figures.registry import Figure  # noqa: E402
from figures.saving import save_figure  # noqa: E402
from models.neurons import NEURON_MODELS  # noqa: E402

__all__ = ["PANELS", "FIGURES", "make_library_figures", "load", "make"]

PANELS = {}

T_SAMPLE = 150 * ms
MAX_RATE = 120 * Hz


def panel(name):
    def register(func):
        PANELS[name] = func
        return func
    return register


def _digit_input(images, name="digits"):
    """Poisson input of the flattened ``images`` shown back to back."""
    enc = poisson_input(images.reshape(len(images), -1), T_sample=T_SAMPLE,
                        max_rate=MAX_RATE, name=name)
    return enc.group, [enc.group], enc.duration


def _sample_marks(ax, n_samples, labels):
    for s in range(n_samples):
        ax.axvline(s * T_SAMPLE / ms, color="0.8", lw=0.6, zorder=0)
        ax.text((s + 0.5) * T_SAMPLE / ms, 1.0, f"digit {labels[s]}", ha="center",
                va="bottom", fontsize=7, transform=ax.get_xaxis_transform())


def _save_trace(fig, ax, labels, ylabel, title, out_dir, stem):
    """Label the traces of ``ax`` (time in ms, the digits shown) and write ``fig``."""
    ax.set_ylabel(ylabel)
    ax.set_xlabel("time (ms)")
    ax.legend(fontsize=7)
    _sample_marks(ax, len(labels), labels)
    ax.set_title(title, fontsize=9)
    return save_figure(fig, out_dir, stem)


def _feedforward_neuron(images, labels, model, target_var, w, params=None, n=5,
                        record=("v",)):
    start_scope()
    inp, objs, duration = _digit_input(images)
    grp = layer(model, n, "cells", params)
    syn = synapses(inp, grp, "static", "inp_cells", target_var)
    syn.connect(p=0.5)
    syn.w = w
    mon = StateMonitor(grp, list(record), record=True, name="cells_state")
    spk = SpikeMonitor(grp, name="cells_spikes")
    Network(*objs, grp, syn, mon, spk).run(duration)
    return mon, spk


@panel("lif_current")
def lif_current(images, labels, out_dir):
    mon, spk = _feedforward_neuron(images, labels, "lif_current", "I_syn", "rand() * 5 * mV",
                                   record=("v", "I_syn"))
    fig, axes = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
    for k in range(3):
        axes[0].plot(mon.t / ms, mon.v[k] / mV, lw=0.8, label=f"neuron {k}")
        axes[1].plot(mon.t / ms, mon.I_syn[k] / mV, lw=0.8)
    axes[0].set_ylabel("v (mV)")
    axes[0].legend(fontsize=7)
    axes[1].set_ylabel("R I_syn (mV)")
    axes[1].set_xlabel("time (ms)")
    _sample_marks(axes[0], len(labels), labels)
    axes[0].set_title(f"current-based LIF on Poisson digits ({spk.num_spikes} spikes)", fontsize=9)
    return save_figure(fig, out_dir, "neuron_lif_current")


@panel("lif_conductance")
def lif_conductance(images, labels, out_dir):
    start_scope()
    inp, objs, duration = _digit_input(images)
    pop = ei_population("lif_conductance", 50, 0.8, "ei")
    ff = synapses(inp, pop.group, "static", "inp_ei", "g_e")
    ff.connect(p=0.3)
    ff.w = "rand() * 0.1"
    rec_e, rec_i = connect_dale(pop, pop.group, "rec", target_var=("g_e", "g_i"),
                                connect={"p": 0.2, "condition": "i != j"}, w_init="rand() * 0.3")
    mon = StateMonitor(pop.group, ["v", "g_e", "g_i"], record=[0, 45], name="ei_state")
    spk = SpikeMonitor(pop.group, name="ei_spikes")
    Network(*objs, pop.group, ff, rec_e, rec_i, mon, spk).run(duration)
    fig, axes = plt.subplots(3, 1, figsize=(8, 7), sharex=True)
    for row, (k, kind) in enumerate([(0, "excitatory"), (1, "inhibitory")]):
        axes[0].plot(mon.t / ms, mon.v[k] / mV, lw=0.8, label=f"{kind} cell")
        axes[1].plot(mon.t / ms, mon.g_e[k], lw=0.8, label=f"g_e, {kind}")
        axes[1].plot(mon.t / ms, mon.g_i[k], lw=0.8, ls="--", label=f"g_i, {kind}")
    axes[0].set_ylabel("v (mV)")
    axes[0].legend(fontsize=7)
    axes[1].set_ylabel("conductance / g_L")
    axes[1].legend(fontsize=7)
    axes[2].plot(spk.t / ms, spk.i, ",k")
    axes[2].axhline(pop.n_exc - 0.5, color="r", lw=0.6)
    axes[2].set_ylabel("cell (E below red line)")
    axes[2].set_xlabel("time (ms)")
    _sample_marks(axes[0], len(labels), labels)
    axes[0].set_title("conductance-based LIF, 80:20 E/I with Dale's law", fontsize=9)
    return save_figure(fig, out_dir, "neuron_lif_conductance")


@panel("lif_adaptive")
def lif_adaptive(images, labels, out_dir):
    mon, spk = _feedforward_neuron(images, labels, "lif_adaptive", "I_syn", "rand() * 5 * mV",
                                   params=dict(theta_plus=3 * mV), record=("v", "theta"))
    fig, ax = plt.subplots(figsize=(8, 3.5))
    for k in range(2):
        line, = ax.plot(mon.t / ms, mon.v[k] / mV, lw=0.8, label=f"v, neuron {k}")
        ax.plot(mon.t / ms, (-50 * mV + mon.theta[k]) / mV, color=line.get_color(), ls="--",
                lw=1, label=f"threshold v_th + theta, neuron {k}")
    return _save_trace(fig, ax, labels, "mV", "adaptive-threshold LIF: threshold jumps at "
                       "spikes, relaxes with tau_theta", out_dir, "neuron_lif_adaptive")


@panel("lif_learnable")
def lif_learnable(images, labels, out_dir):
    start_scope()
    inp, objs, duration = _digit_input(images)
    grp = layer("lif_learnable", 4, "cells")
    grp.tau_m = [5, 10, 20, 40] * ms
    grp.v_th = [-55, -50, -50, -45] * mV
    syn = synapses(inp, grp, "static", "inp_cells", "I_syn")
    syn.connect(p=0.5)
    syn.w = "2.5 * mV"
    mon = StateMonitor(grp, "v", record=True, name="cells_state")
    spk = SpikeMonitor(grp, name="cells_spikes")
    Network(*objs, grp, syn, mon, spk).run(duration)
    fig, ax = plt.subplots(figsize=(8, 3.5))
    counts = spk.count[:]
    for k in range(4):
        ax.plot(mon.t / ms, mon.v[k] / mV, lw=0.8,
                label=f"tau_m={grp.tau_m[k] / ms:.0f} ms, v_th={grp.v_th[k] / mV:.0f} mV, "
                      f"{counts[k]} spikes")
    return _save_trace(fig, ax, labels, "v (mV)", "LIF with per-neuron tau_m and v_th (state "
                       "variables a rule can learn)", out_dir, "neuron_lif_learnable")


@panel("if_clocked")
def if_clocked(images, labels, out_dir):
    start_scope()
    steps = 20
    dt = 1 * ms
    flat = images.reshape(len(images), -1)
    # the desire-backprop input layer: integrate-and-fire on the pixel value
    idx_i, idx_t = [], []
    for s, img in enumerate(flat):
        m = np.zeros_like(img)
        for t in range(steps):
            m += img
            fired = m >= 1
            m[fired] -= 1
            idx_i.extend(np.nonzero(fired)[0])
            idx_t.extend([s * steps + t] * int(fired.sum()))
    inp = SpikeGeneratorGroup(flat.shape[1], idx_i, np.array(idx_t) * dt, dt=dt, name="pixels")
    hid = layer("if_clocked", 10, "hidden", dt=dt)
    rng = np.random.default_rng(0)
    syn = synapses(inp, hid, "static", "pix_hid", "v", dt=dt)
    syn.connect()
    syn.w = rng.normal(0, np.sqrt(2 / flat.shape[1]), size=flat.shape[1] * 10)
    mon = StateMonitor(hid, "v", record=[0, 1, 2], name="hid_state", when="after_resets")
    spk = SpikeMonitor(hid, name="hid_spikes")
    Network(inp, hid, syn, mon, spk).run(len(flat) * steps * dt)
    fig, axes = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
    for k in range(3):
        axes[0].step(mon.t / dt, mon.v[k], where="post", lw=0.8, label=f"neuron {k}")
    axes[0].axhline(1.0, color="k", ls=":", lw=0.8)
    axes[0].set_ylabel("v after reset")
    axes[0].legend(fontsize=7)
    axes[1].plot(spk.t / dt, spk.i, "|k")
    axes[1].set_ylabel("neuron")
    axes[1].set_xlabel("model step")
    for s in range(len(flat)):
        axes[0].axvline(s * steps, color="0.8", lw=0.6, zorder=0)
    axes[0].set_title("clocked IF (v <- 0.75 v + W s; spike at 1, subtract), "
                      f"{steps} steps per digit", fontsize=9)
    return save_figure(fig, out_dir, "neuron_if_clocked")


@panel("readout")
def readout(images, labels, out_dir):
    start_scope()
    inp, objs, duration = _digit_input(images)
    out = layer("readout", 10, "readout")
    syn = synapses(inp, out, "static", "inp_out", "v")
    syn.connect()
    syn.w = "(rand() - 0.3) * 0.4 * mV"
    mon = StateMonitor(out, "v", record=True, name="out_state")
    Network(*objs, out, syn, mon).run(duration)
    fig, ax = plt.subplots(figsize=(8, 3.5))
    for k in range(10):
        ax.plot(mon.t / ms, mon.v[k] / mV, lw=0.8, label=f"class {k}")
    ax.set_ylabel("readout v (mV)")
    ax.set_xlabel("time (ms)")
    ax.legend(fontsize=6, ncol=5)
    _sample_marks(ax, len(labels), labels)
    ax.set_title("leaky non-spiking readout (random weights, untrained)", fontsize=9, pad=14)
    return save_figure(fig, out_dir, "neuron_readout")


def _stp_figure(images, labels, out_dir, part, title):
    start_scope()
    inp, objs, duration = _digit_input(images)
    post = layer("lif_current", 1, "post")
    syn = synapses(inp, post, part, "inp_post", "I_syn")
    # the brightest pixels of the first digit, so the trains are dense
    bright = np.argsort(images[0].ravel())[-3:]
    syn.connect(i=bright, j=0)
    syn.w = 4 * mV
    mon = StateMonitor(syn, ["u_S", "x_S"], record=True, name="stp_state")
    Network(*objs, post, syn, mon).run(duration)
    fig, axes = plt.subplots(3, 1, figsize=(8, 6), sharex=True)
    for k in range(len(bright)):
        axes[0].plot(mon.t / ms, mon.u_S[k], lw=0.8, label=f"pixel {bright[k]}")
        axes[1].plot(mon.t / ms, mon.x_S[k], lw=0.8)
        axes[2].plot(mon.t / ms, mon.u_S[k] * mon.x_S[k], lw=0.8)
    axes[0].set_ylabel("u (utilisation)")
    axes[0].legend(fontsize=7)
    axes[1].set_ylabel("x (resources)")
    axes[2].set_ylabel("u x")
    axes[2].set_xlabel("time (ms)")
    _sample_marks(axes[0], len(labels), labels)
    axes[0].set_title(title, fontsize=9)
    return save_figure(fig, out_dir, f"synapse_{part}")


@panel("stp_depressing")
def stp_depressing(images, labels, out_dir):
    return _stp_figure(images, labels, out_dir, "stp_depressing",
                       "Tsodyks-Markram depressing synapse (U=0.5, tau_d=1.1 s, tau_f=50 ms)")


@panel("stp_facilitating")
def stp_facilitating(images, labels, out_dir):
    return _stp_figure(images, labels, out_dir, "stp_facilitating",
                       "Tsodyks-Markram facilitating synapse (U=0.05, tau_d=125 ms, tau_f=1.2 s)")


def _stdp_window(part, lags_ms):
    start_scope()
    n = len(lags_ms)
    step = 0.1 * ms  # not "dt": a local dt would shadow the groups' own
    pre = SpikeGeneratorGroup(n, np.arange(n), np.full(n, 100.0) * ms, dt=step, name="pre")
    post = NeuronGroup(n, "t_fire : second\nacc : 1", threshold="abs(t - t_fire) < 0.5*dt", reset="",
                       name="post", dt=step)
    post.t_fire = (100.0 + lags_ms) * ms
    syn = synapses(pre, post, part, "pair", "acc", dict(w_max=1.0), dt=step)
    syn.connect(j="i")
    syn.w = 0.5
    Network(pre, post, syn).run(250 * ms)
    return np.asarray(syn.w[:]) - 0.5


def _stdp_figure(images, labels, out_dir, part):
    lags = np.linspace(-80, 80, 161)
    lags = lags[lags != 0]
    dw = _stdp_window(part, lags)
    # the same rule learning from digits: input -> 3 LIF neurons
    start_scope()
    inp, objs, duration = _digit_input(images)
    grp = layer("lif_current", 3, "cells")
    syn = synapses(inp, grp, ["static", part], "inp_cells", "I_syn",
                   dict(w_max=8 * mV, A_plus=0.05, A_minus=0.055))
    syn.connect()
    syn.w = "rand() * 4 * mV"
    spk = SpikeMonitor(grp, name="cells_spikes")
    net = Network(*objs, grp, syn, spk)
    w0 = np.asarray(syn.w[:] / mV).reshape(-1, 3)
    net.run(duration)
    w1 = np.asarray(syn.w[:] / mV).reshape(-1, 3)
    side = int(np.sqrt(w0.shape[0]))
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.2))
    axes[0].plot(lags, dw, ".", ms=3)
    axes[0].axhline(0, color="k", lw=0.5)
    axes[0].axvline(0, color="k", lw=0.5)
    axes[0].set_xlabel("t_post - t_pre (ms)")
    axes[0].set_ylabel("weight change (w_max = 1, w = 0.5)")
    axes[0].set_title(f"measured window: {part}", fontsize=9)
    for ax, w, what in ((axes[1], w0, "before"), (axes[2], w1, "after")):
        im = ax.imshow(w[:, 0].reshape(side, side), cmap="viridis", vmin=0, vmax=8)
        ax.set_title(f"input weights of neuron 0 {what} {len(labels)} digits", fontsize=9, pad=14)
        ax.axis("off")
    fig.colorbar(im, ax=axes[2], label="w (mV)")
    return save_figure(fig, out_dir, f"synapse_{part}")


@panel("stdp_additive")
def stdp_additive(images, labels, out_dir):
    return _stdp_figure(images, labels, out_dir, "stdp_additive")


@panel("stdp_multiplicative")
def stdp_multiplicative(images, labels, out_dir):
    return _stdp_figure(images, labels, out_dir, "stdp_multiplicative")


@panel("static")
def static(images, labels, out_dir):
    start_scope()
    src = SpikeGeneratorGroup(1, [0, 0, 0], [10, 15, 60] * ms, name="src")
    cells = layer("lif_current", 1, "cur")
    cond = layer("lif_conductance", 1, "cond")
    s1 = synapses(src, cells, "static", "src_cur", "I_syn")
    s1.connect()
    s1.w = 3 * mV
    s2 = synapses(src, cond, "static", "src_cond", "g_e")
    s2.connect()
    s2.w = 0.1
    m1 = StateMonitor(cells, "v", record=0, name="m1")
    m2 = StateMonitor(cond, "v", record=0, name="m2")
    Network(src, cells, cond, s1, s2, m1, m2).run(120 * ms)
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot(m1.t / ms, m1.v[0] / mV, label="current-based target (w = 3 mV)")
    ax.plot(m2.t / ms, m2.v[0] / mV, label="conductance target (w = 0.1 g_L)")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("v (mV)")
    ax.legend(fontsize=7)
    ax.set_title("static synapse: postsynaptic potentials of spikes at 10, 15, 60 ms", fontsize=9, pad=14)
    return save_figure(fig, out_dir, "synapse_static")


@panel("lif_tutored")
def lif_tutored(images, labels, out_dir):
    """Free and teacher-tuned potentials of one output cell: the same digits, the teacher
    away, pushing up, then holding down."""
    start_scope()
    inp, objects, duration = _digit_input(images[:3])
    cell = layer("lif_tutored", 1, "tutored")
    syn = synapses(inp, cell, "static", "inp_tutored", "I_syn")
    syn.connect()
    syn.w = 1.2 * mV
    v = StateMonitor(cell, ["v", "v_tutor"], record=0, name="tutored_v")
    free = SpikeMonitor(cell, name="tutored_free")
    tuned = EventMonitor(cell, "tutored", name="tutored_tuned")
    net = Network(*objects, cell, syn, v, free, tuned)
    phases = [(0, 0 * mV, "teacher away"), (1, 40 * mV, "teacher up (+40 mV)"),
              (1, -30 * mV, "teacher down (-30 mV)")]
    for on, drive, _ in phases:  # (a local called `teaching` would shadow the variable)
        cell.teaching, cell.I_teach = on, drive
        net.run(T_SAMPLE)
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot(v.t / ms, v.v_tutor[0] / mV, color="tab:orange", lw=1, label="v_tutor (tuned)")
    ax.plot(v.t / ms, v.v[0] / mV, color="tab:blue", lw=1, label="v (free)")
    ax.plot(free.t / ms, np.full(len(free.t), -45), "|", color="tab:blue", ms=8)
    ax.plot(tuned.t / ms, np.full(len(tuned.t), -42), "|", color="tab:orange", ms=8)
    for k, (_, _, text) in enumerate(phases):
        ax.text((k + 0.5) * T_SAMPLE / ms, 1.0, f"digit {labels[k]}, {text}", ha="center",
                va="bottom", fontsize=7, transform=ax.get_xaxis_transform())
        ax.axvline(k * T_SAMPLE / ms, color="0.8", lw=0.6, zorder=0)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("membrane potential (mV)")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("lif_tutored: free and teacher-tuned potentials (ticks: their spikes)",
                 fontsize=9, pad=14)
    return save_figure(fig, out_dir, "neuron_lif_tutored")


@panel("stdp_tutored")
def stdp_tutored(images, labels, out_dir):
    """Supervised STDP on digit input: with the teacher up, the weights grow until the free
    cell fires as the tuned one; with the teacher holding it down, they shrink until it is
    silent."""
    start_scope()
    reps = np.repeat(images[:1], 12, axis=0)
    inp, objects, duration = _digit_input(reps)
    cells = layer("lif_tutored", 2, "stdp_cells")
    syn = synapses(inp, cells, "stdp_tutored", "inp_stdp", "I_syn",
                   params=dict(eta=0.02 * mV, w_max=3 * mV))
    syn.connect()
    syn.w = "(0.3 + 1.2 * j) * mV"      # cell 0 starts weak, cell 1 strong
    cells.teaching = 1
    cells.I_teach = [40, -30] * mV      # cell 0 is pushed up, cell 1 held down
    w = StateMonitor(syn, "w", record=np.arange(2 * len(inp)), dt=T_SAMPLE, name="stdp_w")
    free = SpikeMonitor(cells, name="stdp_free")
    tuned = EventMonitor(cells, "tutored", name="stdp_tuned")
    Network(*objects, cells, syn, w, free, tuned).run(duration)
    post = np.asarray(syn.j[:])
    fig, (ax_w, ax_r) = plt.subplots(1, 2, figsize=(9, 3))
    for k, name in enumerate(("teacher up", "teacher down")):
        ax_w.plot(w.t / ms, w.w[post == k].mean(axis=0) / mV, label=name)
        for mon, style, what in ((free, "-", "free"), (tuned, "--", "tuned")):
            sample = (np.asarray(mon.t / T_SAMPLE)).astype(int)[np.asarray(mon.i) == k]
            counts = np.bincount(sample, minlength=len(reps))[:len(reps)]
            ax_r.plot(np.arange(len(reps)), counts, style, color=f"C{k}", label=f"{name}, {what}")
    ax_w.set_xlabel("time (ms)")
    ax_w.set_ylabel("mean weight (mV)")
    ax_w.legend(fontsize=7)
    ax_r.set_xlabel(f"presentation of digit {labels[0]}")
    ax_r.set_ylabel("spikes per presentation")
    ax_r.legend(fontsize=6)
    fig.suptitle("stdp_tutored: tuned spikes potentiate, free spikes depress", fontsize=9)
    return save_figure(fig, out_dir, "synapse_stdp_tutored")


@panel("equilibrium")
def equilibrium(images, labels, out_dir):
    """Equilibrium learning in a small balanced network on digits: the inhibitory weights
    onto one E cell after each sample, and the E cells' mean |dV/dt| per sample."""
    from models.balanced_network import BalancedSpec, build_balanced_network

    start_scope()
    n = 12
    spec = BalancedSpec(n_in=64, image_shape=(8, 8), n_samples=n, n_hidden=50, n_per_class=1,
                        rf_exc=1, rf_inh=2, w_in_exc=10.0, w_in_inh=4.0, k_ei=10, k_ie=8,
                        w_ie_total=1.0, eta_eq=100.0, record_dt_ms=T_SAMPLE / ms,
                        ff_inh_fraction=0.0, w_ff_inh=0.0, eta_out_mV=0.002,
                        w_out_max_mV=2.0, p_out=0.5)
    net = build_balanced_network(spec, name="eqtour")
    x = np.repeat(images[:3].reshape(3, -1), n // 3, axis=0)
    for var, value in net.run_args(x, None, equilibrium=True).items():
        if hasattr(var, "values"):
            var.values[:] = value
        else:
            var[:] = value
    T = spec.steps_per_sample * spec.dt_ms * ms
    w = StateMonitor(net.syn_ie, "w", record=np.arange(spec.k_ie), dt=T, when="end",
                     name="eqtour_w")
    dv = StateMonitor(net.hidden, "dv_abs", record=np.arange(spec.n_exc), dt=T, when="end",
                      name="eqtour_dv")
    net.network.add(w, dv)
    net.network.run(net.duration)
    per_sample = np.diff(np.asarray(dv.dv_abs_), axis=1, prepend=0).mean(axis=0)
    per_sample = per_sample[1:n + 1] / (spec.t_present_ms * 1e-3)
    fig, (ax_w, ax_d) = plt.subplots(1, 2, figsize=(9, 3))
    ax_w.plot(np.arange(w.w.shape[1]), np.asarray(w.w).T, marker=".", lw=1)
    ax_w.set_xlabel("sample")
    ax_w.set_ylabel("inhibitory weight onto E cell 0")
    ax_w.set_title("weights: exponentiated gradient, fixed sum", fontsize=8)
    ax_d.plot(np.arange(1, len(per_sample) + 1), per_sample, marker="o")
    ax_d.set_xlabel("sample")
    ax_d.set_ylabel("mean |dV/dt| of E cells (mV/ms)")
    shown = ", ".join(str(labels[k]) for k in range(3))
    ax_d.set_title(f"digits {shown} ({n // 3} samples each)", fontsize=8)
    fig.suptitle("equilibrium learning: inhibition redistributed against dV/dt", fontsize=9)
    return save_figure(fig, out_dir, "synapse_equilibrium")


def make_library_figures(images, labels, out_dir, names=None) -> dict:
    """Run the panels ``names`` (default all) and return ``{name: [paths]}``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = list(PANELS) if names is None else list(names)
    unknown = [n for n in names if n not in PANELS]
    if unknown:
        raise ValueError(f"unknown figure(s) {unknown}; known: {', '.join(PANELS)}")
    from tqdm.auto import tqdm

    written = {}
    for name in tqdm(names, desc="library figures", unit="model"):
        written[name] = PANELS[name](images, labels, out_dir)
    return written


def _stem(name: str) -> str:
    return f"{'neuron' if name in NEURON_MODELS else 'synapse'}_{name}"


#: One figure per model; they redraw no paper figure (the library's own tour).
FIGURES = tuple(Figure(name, _stem(name), "none (tour of the model library)",
                       f"the {name} model driven by Poisson digits", PANELS[name]) for name in PANELS)


def load(dataset: str = "digits", data_dir=None, samples: int = 3, download: bool = False):
    """The first ``samples`` training images of ``dataset`` and their labels
    (:func:`experiments.datasets.load_dataset`; ``data_dir``: the IDX files of MNIST;
    ``download``: first fetch the missing ones, :func:`experiments.datasets.fetch_dataset`)."""
    from experiments.datasets import fetch_dataset, load_dataset

    if download:
        fetch_dataset(dataset, data_dir)
    # No validation split: only the first few training images are shown.
    kwargs = {} if dataset == "digits" else {"data_dir": data_dir, "validation": 0}
    data = load_dataset(dataset, **kwargs).train
    return data.images[:samples], data.labels[:samples]


def make(digits, out, only=None, seed: int = 0) -> list[Path]:
    """Simulate the models ``only`` (default: all) on ``digits`` (images, labels of
    :func:`load`; Poisson inputs of seed ``seed``) and write one figure per model to
    ``out``; the written files, PNG then PDF of each."""
    from brian2 import prefs, set_device
    from brian2 import seed as brian_seed

    # Small networks, many of them: Brian2's runtime mode avoids a C++ build
    # per figure (the compiled targets are exercised by the tests).
    set_device("runtime")
    prefs.codegen.target = "numpy"
    brian_seed(seed)
    images, labels = digits
    written = make_library_figures(images, labels, out, only)
    return [path for paths in written.values() for path in paths]
