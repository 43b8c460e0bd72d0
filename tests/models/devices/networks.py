"""The networks that the tests of models.devices build on every target.

Every number is drawn with numpy from a fixed seed, so no Brian2 random number
generator is involved and runtime and standalone see the same data.
"""

from __future__ import annotations

import numpy as np
from brian2 import Network, NeuronGroup, SpikeGeneratorGroup, SpikeMonitor, TimedArray, mV, ms

DT = 0.1 * ms
DURATION = 200 * ms


def ei_network(seed: int = 7, n_cells: int = 40, n_inputs: int = 20, rate=40.0):
    """40 conductance-based LIF cells (80:20 E/I) driven by 20 spike generators.

    Input -> all: ['stp_depressing', 'stdp_additive'] onto g_e; recurrent E -> all on
    g_e and I -> all on g_i, static. Connectivity, weights, drive and input spike times
    are numpy draws.
    """
    from models.populations import ei_population
    from models.synapses import synapses

    rng = np.random.default_rng(seed)
    pop = ei_population("lif_conductance", n_cells, 0.8, name="ei")
    pop.group.I_ext = rng.uniform(9.0, 12.0, n_cells) * mV  # v_inf just below threshold

    # Input spikes: Poisson-like, on the dt grid, at most one per (input, step).
    n_steps = int(round(float(DURATION / DT)))
    per_input = rng.poisson(rate * float(DURATION), n_inputs)
    idx, steps = [], []
    for k, count in enumerate(per_input):
        s = np.sort(rng.choice(np.arange(10, n_steps - 10), size=count, replace=False))
        idx.append(np.full(count, k))
        steps.append(s)
    idx, steps = np.concatenate(idx), np.concatenate(steps)
    source = SpikeGeneratorGroup(n_inputs, idx, steps * DT, name="ei_input")

    def pairs(n_pre, n_post, p, offset_pre=0, no_autapses=False):
        mask = rng.random((n_pre, n_post)) < p
        if no_autapses:
            for k in range(n_pre):
                if offset_pre + k < n_post:
                    mask[k, offset_pre + k] = False
        return np.nonzero(mask)

    s_in = synapses(source, pop.group, ["stp_depressing", "stdp_additive"], "ei_in", "g_e")
    i, j = pairs(n_inputs, n_cells, 0.5)
    s_in.connect(i=i, j=j)
    w_in = rng.uniform(0.2, 0.6, len(i))
    s_in.w = w_in

    s_ee = synapses(pop.exc, pop.group, "static", "ei_rec_e", "g_e")
    i, j = pairs(pop.n_exc, n_cells, 0.2, no_autapses=True)
    s_ee.connect(i=i, j=j)
    s_ee.w = rng.uniform(0.02, 0.08, len(i))

    s_ie = synapses(pop.inh, pop.group, "static", "ei_rec_i", "g_i")
    i, j = pairs(pop.n_inh, n_cells, 0.4, offset_pre=pop.n_exc, no_autapses=True)
    s_ie.connect(i=i, j=j)
    s_ie.w = rng.uniform(0.1, 0.3, len(i))

    spikes = SpikeMonitor(pop.group, name="ei_spikes")
    net = Network(pop.group, source, s_in, s_ee, s_ie, spikes, name="ei_net")
    return {
        "net": net, "pop": pop, "input": source, "s_in": s_in, "spikes": spikes,
        "w0": w_in,
    }


def tiny_network(tau=10 * ms):
    """8 leaky integrators driven by a TimedArray times a per-neuron gain."""
    stim = TimedArray(np.linspace(0.0, 3.0, 20), dt=10 * ms, name="tiny_stim")
    group = NeuronGroup(
        8, "dv/dt = (gain * tiny_stim(t) - v) / tau : 1\ngain : 1",
        threshold="v > 1", reset="v = 0", method="exact",
        namespace={"tau": tau, "tiny_stim": stim}, name="tiny",
    )
    group.gain = np.linspace(0.8, 1.6, 8)
    spikes = SpikeMonitor(group, name="tiny_spikes")
    return Network(group, spikes, name="tiny_net"), group, stim, spikes


def spike_steps(monitor):
    """(neuron indices, time steps of DT) of the spikes a SpikeMonitor recorded."""
    return (np.asarray(monitor.i[:], dtype=np.int64),
            np.round(np.asarray(monitor.t[:] / DT)).astype(np.int64))
