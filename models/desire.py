"""The network of desire backpropagation, compiled into Brian2.

Gerlinghoff, Luo, Goh & Wong (2023). Desire backpropagation: a lightweight training
algorithm for multi-layer spiking neural networks based on spike-timing-dependent
plasticity. Neurocomputing 560:126773. https://doi.org/10.1016/j.neucom.2023.126773
The algorithm, step by step, is described by the protocol,
:mod:`experiments.desire`, which trains this network.

The hidden and output neurons are the library's ``if_clocked`` neuron; the input layer
and all synapses have their own form, since the ternary desires, the dense/sparse input
modes and the factorised learning sum live in their state.

How it runs inside Brian2
-------------------------
One network is compiled per architecture and handles a chunk of ``n_samples`` samples
(:mod:`experiments.training` runs the chunks and carries the weights between them). All
learning happens in the network, at the start of the first step after each sample
(``when='start'``), in this order: output desire; then, from the top layer down, the
backward sum and the weight update of each weight layer followed by the desire of the
layer below it; then the reset of all state. Labels are read as ``label(t - T_sample)``
(the sample that just ended).

The learning sum ``sum_t tr_j[t] s_i[t]`` is not accumulated on postsynaptic spikes
(that walks the synapses of a postsynaptic neuron, scattered through memory because
Brian2 stores them by presynaptic neuron) but on *presynaptic* deliveries, in the same
pass over the synapses that transmits the spike. With deliveries at steps ``a`` and
postsynaptic spikes at steps ``b`` of the sample::

    sum_{b} sum_{a <= b} decay**(b - a)
        = R_i * A_j - C_ij,
    A_j  = sum_a decay**(-a)                         (presynaptic neuron)
    R_i  = sum_b decay**b                            (postsynaptic neuron)
    C_ij = sum_a decay**(-a) * R_i(before step a)    (synapse, added on delivery)

which is exact (up to rounding; ``decay**-(T-1)`` is bounded by validation so that the
difference stays accurate to about 1e-13). The update of a synapse then only has to run
when its presynaptic neuron delivered a spike (otherwise ``A_j = C_ij = 0``): a custom
``learn`` event of the presynaptic neuron at the sample boundary triggers a synaptic
pathway over that neuron's synapses, which are contiguous in memory. MNIST input is
sparse (most pixels never spike), so most of the first, largest weight layer is never
visited. For the same reason the backward sum into the first hidden layer runs only for
neurons that spiked (the desire of a silent neuron cannot change any weight, since its
``R = 0``); pass ``full_desires=True`` to compute it everywhere.

The input layer sends each pixel in one of two modes chosen per sample (see
``INPUT_EQS``): nearly saturated pixels, which give most of MNIST's input spikes, as a
constant input injected once per sample plus an event for each step in which they do
*not* spike, the others as one event per spike. Transmission stays exact either way; it
takes about a quarter of the events.

Everything that changes between chunks is passed through ``run_args``: images (the
``pixels`` TimedArray), the pixels' transmission modes, labels (a TimedArray, one value
per sample), dropout masks (one TimedArray for the input layer, one for the hidden and
output neurons, drawn in numpy from ``(seed, epoch, chunk)`` so runs are reproducible and
resumable bit for bit), the learning rate (a ``(shared)`` variable ``lr``; 0 turns
learning off, which is how the same binary evaluates), the dropout gains and the weights
(``syn.w``). Padding samples at the end of a chunk are blank images with label -1: with no input there
are no spikes, and without spikes the update is exactly zero.

Cost
----
On the paper's 784-1600-800-10 network, one core of a shared 2-core AMD EPYC trains
about 110-130 samples per second on untrained weights (more hidden spikes) and more
once trained (``benchmarks/desire_throughput.py``, ``benchmarks/RESULTS.md``). The
synaptic pathways use the event queues of :func:`models.devices.use_source_queues`:
Brian2's own queues copy every spiking neuron's synapse indices twice, which cost a
quarter of the run time. ``perf`` on the binary then shows forward transmission with
the learning sum about half of the time, the boundary updates of the synapses of
neurons that spiked about a third, and per-neuron code in every step under 10 %.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from brian2 import (
    EventMonitor,
    Network,
    NeuronGroup,
    PopulationRateMonitor,
    SpikeMonitor,
    StateMonitor,
    Subgroup,
    Synapses,
    TimedArray,
)

from models.devices import use_source_queues
from models import network
from models.network import (BOUNDARY, SAMPLE_START, STEP, MemoryEstimate, SampledNetwork,
                            n_variables, schedule, set_clock, zero_at_sample_start)
from models.neurons import get_neuron_model
from models.populations import layer

__all__ = ["DesireSpec", "DesireNetwork", "build_network", "input_modes",
           "weights_to_flat", "flat_to_weights", "memory_estimate"]


@dataclass(frozen=True)
class DesireSpec:
    """Everything compiled into a desire network besides its sizes (defaults: the
    paper's MNIST run).

    ``n_steps``: time steps per sample (``T``); ``dt_ms``: Brian2 time step in ms
    (nominal: the model is clocked); ``decay``: membrane and trace decay per step;
    ``v_th``: threshold; ``error_margin``: the label neuron's target count is
    ``N* = n_steps - error_margin``; ``theta_hidden``, ``theta_output``: ternarisation
    thresholds of the desires; ``dropout_input``, ``dropout_hidden``: dropout
    probabilities (which layers get keep-masks); ``weight_dtype``: 'float64' or
    'float32' for the synaptic state.
    """

    n_steps: int = 20
    dt_ms: float = 1.0
    decay: float = 0.75
    v_th: float = 1.0
    error_margin: int = 4
    theta_hidden: float = 0.05
    theta_output: float = 0.30
    dropout_input: float = 0.0
    dropout_hidden: float = 0.3
    weight_dtype: str = "float64"

    @property
    def n_star(self) -> int:
        """Target spike count of the label neuron, ``n_steps - error_margin``."""
        return self.n_steps - self.error_margin


def input_modes(images, n_steps: int) -> np.ndarray:
    """Transmission mode of every pixel of every image (see ``INPUT_EQS``): 0 sparse,
    1 dense from step 1, 2 dense from step 0, whichever takes the fewest events.

    Replays the integrate-and-fire encoder in float64 (``m += x``, a spike when
    ``m >= 1``, then ``m -= 1``). Only the cost depends on it: the network transmits
    the encoder's actual spikes in either mode.
    """
    x = np.asarray(images, dtype=np.float64)
    m = np.zeros_like(x)
    n_spikes = np.zeros(x.shape, dtype=np.int64)
    spiked_first = np.zeros(x.shape, dtype=bool)
    for step in range(n_steps):
        m = m + x
        spike = m >= 1
        m[spike] -= 1
        n_spikes += spike
        if step == 0:
            spiked_first = spike
    silent = n_steps - n_spikes
    cost_base0 = 1 + silent                                 # one injection + misses
    cost_base1 = 1 + (silent - ~spiked_first) + spiked_first  # step 0 is not expected
    modes = np.zeros(x.shape)
    dense = np.minimum(cost_base0, cost_base1) < n_spikes
    modes[dense & (cost_base1 <= cost_base0)] = 1
    modes[dense & (cost_base0 < cost_base1)] = 2
    return modes


def weights_to_flat(W: list) -> list:
    """Weight matrices ``W[l]`` (n_post, n_pre) in Brian2's synapse order: all-to-all
    synapses are stored by presynaptic neuron, then postsynaptic neuron."""
    return [np.ascontiguousarray(np.asarray(w, dtype=np.float64).T).ravel() for w in W]


def flat_to_weights(flat: list, sizes) -> list:
    """Inverse of :func:`weights_to_flat` for layer ``sizes`` (input first)."""
    return [np.asarray(f, dtype=np.float64).reshape(n_pre, n_post).T.copy()
            for f, n_pre, n_post in zip(flat, sizes[:-1], sizes[1:])]



# ======================================================================================
# Equations
# ======================================================================================

# Input layer: one neuron per pixel, integrate-and-fire on the pixel value exactly as
# `models.encoding.integrate_and_fire_input` does it (`m = int(step != 0)*m + x`,
# a spike when `m >= 1`, then `m -= 1`: the same arithmetic, so the same spikes; a test
# checks this). It is written into this group rather than driven by the encoder's own
# group through a one-to-one relay: that would add two objects and eight code objects
# (seconds of compilation) to every build.
#
# Most input spikes of MNIST come from nearly saturated pixels (x >= 0.95 spikes in
# every step from step 1 on: 60 % of all input spikes). A pixel is therefore sent in
# one of two modes, chosen per sample from its (deterministic) spike train:
# * sparse: an event with sign +1 for every spike;
# * dense: a constant input from step `base` (0 or 1) on, injected once at the start of
#   the sample, and an event with sign -1 in every step where the pixel does not spike
#   although it would in that constant run (and +1 where it spikes unexpectedly).
# Events carry sgn = (spiked) - (expected), so both modes transmit exactly the spike
# train, whatever mode was chosen; the mode only decides how many events it takes
# (about a quarter of the spikes on MNIST).
INPUT_EQS = """
m : 1              # integrate-and-fire membrane of the pixel
spiked : 1         # 1 when the pixel spikes in this step (before dropout)
sgn : 1            # this step's event: spiked (if kept) minus expected
keep : 1           # dropout mask of the current sample (1 kept, 0 dropped)
dense : 1          # 1: dense mode in the current sample (0 when dropped)
base : 1           # dense mode: first step of the constant run (0 or 1)
prev0 : 1          # previous sample (at a boundary: the one that just ended, whose
prev1 : 1          # update runs now) was dense from step 0 / from step 1
inject0 : 1        # gain if the current sample is dense from step 0, else 0
inject1 : 1        # gain if the current sample is dense from step 1, else 0
n_events : 1       # events in the current sample
A : 1              # sum over this sample's events of sgn * decay**(-step)
gain : 1 (shared)  # weight of a transmitted spike: 1/(1 - p) in training, 1 in evaluation
"""
INPUT_THRESHOLD = "abs(sgn) > 0.5"
INPUT_RESET = f"""
n_events += 1
A += sgn * decay**(-{STEP})
"""
# Every step, first thing (at a boundary: before the learning of the sample that just
# ended, which still reads its mode as prev0 and prev1): the mode and mask of the
# current sample.
INPUT_MODE = f"""
prev0 = dense * (1 - base)
prev1 = dense * base
{{keep}}
dense = int(input_mode({SAMPLE_START}, i) > 0.5) * keep
base = int(input_mode({SAMPLE_START}, i) < 1.5)
inject0 = gain * dense * (1 - base)
inject1 = gain * dense * base
"""
# Every step, after the learning at a boundary: the pixel's spike and the event.
INPUT_STEP = f"""
n_events *= int({STEP} != 0)
A *= int({STEP} != 0)
m = int({STEP} != 0) * m + pixels({SAMPLE_START}, i)
spiked = int(m >= 1)
m -= spiked
sgn = spiked * keep - dense * int({STEP} >= base)
"""

# Hidden and output layers: one NeuronGroup of the library's clocked IF neuron
# (`if_clocked`: `v = decay*v + I_ext` in 'groups', synaptic input in 'synapses',
# threshold 'after_synapses', reset `v -= v_th`), one subgroup per layer, plus the
# bookkeeping of desire backpropagation.
LAYER_EQS = """
n_spikes : 1       # spikes in the current sample (without the dropout gain)
R : 1              # sum over this sample's own spikes at steps b of decay**b
A : 1              # sum over this sample's delivered spikes of decay**(-step)
F0 : 1             # sum over own spikes of the trace of a spike in every step from 0
F1 : 1             # ... and of a spike in every step from 1 (dense input pixels)
I1 : 1             # constant input of dense pixels from step 1 on (added to I_ext at step 1)
d : 1              # desire sum from the layer above
desire : 1         # ternary desire: +1 spike more, -1 spike less, 0 leave alone
g : 1              # signed learning rate of the incoming weights: lr * desire * keep
bsig : 1           # sent down the backward pass: eps * desire * keep
err_acc : 1        # sum over this run's samples of bsig**2 (the layer error, see below)
keep : 1           # dropout mask of the current sample (1 kept, 0 dropped)
learn_all : 1 (constant)  # 1: learn event for every neuron; 0: only for those that spiked
has_out : 1 (constant)    # 1 for layers with outgoing weights (hidden layers)
gain : 1 (shared)  # weight of a transmitted spike: 1/(1 - p) in training, 1 in evaluation
lr : 1 (shared)    # learning rate of all weights (0: learning off)
"""
# Extra reset after a spike (added to the library's `v -= v_th`). A spike in step b is
# delivered in step b + 1, unless b is the last step of the sample. F0 and F1 add the
# trace (1 - decay**k) / (1 - decay) of a presynaptic spike in each of the last k steps.
LAYER_RESET = f"""
n_spikes += 1
R += decay**{STEP}
A += decay**(-({STEP} + 1)) * int({STEP} + 1 < n_steps)
F0 += (1 - decay**({STEP} + 1)) / (1 - decay)
F1 += (1 - decay**{STEP}) / (1 - decay)
"""
# Every step, after the learning at a boundary: reset for a new sample; the constant
# input of dense pixels (injected into I_ext and I1 at step 0, see INPUT_UPDATE) is
# complete from step 1.
LAYER_STEP = ("\n" + zero_at_sample_start("v", "n_spikes", "R", "A", "F0", "F1", "d")
              + f"I_ext += I1 * int({STEP} == 1)\n")
# Cleared at a boundary before the injection (in the desire code of the first layer
# above the input, which runs just before the input layer's update pathway).
CLEAR_CONSTANT_INPUT = "\n" + zero_at_sample_start("I_ext", "I1")

# Desires. They are computed every step but consumed only at the sample boundary, where
# they are final (d is summed only there): cheaper than an event (three code objects).
OUTPUT_DESIRE = """
is_label = int(abs(i - label(t - T_sample)) < 0.5)
err = is_label * (1 - n_spikes / N_star) + (1 - is_label) * n_spikes / N_star
desire = (2 * is_label - 1) * int(err > theta_out)
g = lr * desire * keep
bsig = abs(is_label - n_spikes / N_star) * desire * keep
"""
HIDDEN_DESIRE = """
desire = (2 * int(d > 0) - 1) * int(abs(d) >= theta_hid)
g = lr * desire * keep
bsig = abs(int(d > 0) - n_spikes / N_star) * desire * keep
"""
# The layer error of a sample: the squared distance of a neuron's count (as a fraction
# of N*) to what its desire asks for (N* spikes for +1, none for -1), zero without a
# desire or when dropped; summed at every boundary but the first (no sample ended there).
ERROR_SUM = f"err_acc += bsig**2 * int({BOUNDARY}) * int(t > 0.5 * dt)\n"

LEARN_EVENT = f"{BOUNDARY} and has_out > 0.5 and (learn_all > 0.5 or n_spikes > 0)"
INPUT_LEARN_EVENT = f"{BOUNDARY} and (n_events > 0 or prev0 + prev1 + dense > 0.5)"

SYNAPSE_EQS = """
w : 1   # weight
C : 1   # sum over this sample's deliveries at step a of decay**(-a) * R_post (before a)
"""
# Transmission, and the synaptic part of the learning sum, for input-layer events
# (signed) and for hidden spikes. A hidden layer's spikes of the last step of a sample
# would arrive in the first step of the next one: `int(STEP != 0)` blocks them.
INPUT_FORWARD = f"""
v_post += w * gain_pre * sgn_pre
C += decay**(-{STEP}) * R_post * sgn_pre
"""
HIDDEN_FORWARD = f"""
v_post += w * gain_pre * int({STEP} != 0)
C += decay**(-{STEP}) * R_post * int({STEP} != 0)
"""
# At the sample boundary, for each presynaptic neuron with a 'learn' event: the backward
# sum (old weights) and the update, then the synaptic sum is cleared. Dense pixels add
# their trace sums, which depend only on the postsynaptic spikes.
BACKWARD = "d_pre += w * bsig_post\n"
HIDDEN_UPDATE = """
w += g_post * (R_post * A_pre - C)
C = 0
"""
# For the input layer, the same pass then injects the constant input of the new
# sample's dense pixels (with the updated weight).
INPUT_UPDATE = """
w += g_post * (R_post * A_pre - C + F0_post * prev0_pre + F1_post * prev1_pre)
C = 0
I_ext_post += w * inject0_pre
I1_post += w * inject1_pre
"""


# ======================================================================================
# The network
# ======================================================================================


@dataclass
class DesireNetwork(SampledNetwork):
    """The Brian2 objects of a desire-backpropagation network for one chunk size.

    Attributes
    ----------
    network : brian2.Network
    sizes : tuple of int
    pixels : TimedArray
        Pixel values of the chunk's images, one row per sample.
    inp : NeuronGroup
        Input layer.
    group : NeuronGroup
        All hidden and output neurons; ``layers`` holds one subgroup per layer.
    layers : list of Subgroup
        ``layers[l - 1]`` is layer ``l`` (1 .. L); ``layers[-1]`` is the output.
    synapses : list of Synapses
        ``synapses[l - 1]`` connects layer ``l - 1`` to ``l``; ``w`` of synapse ``k`` is
        ``W[k % n_post, k // n_post]`` (ordered by presynaptic neuron).
    label : TimedArray
        Label of each sample of the chunk.
    input_mask, layers_mask : TimedArray or None
        Keep-masks of the input layer and of all hidden and output neurons (one row
        per sample), present when the input or the hidden layers have dropout.
    output_spikes : SpikeMonitor
    layer_rates : list of PopulationRateMonitor
        Fraction of each non-input layer's neurons spiking in every step.
    spikes, desires, weights : lists of monitors (only with ``record=True``)
        Spikes of every layer (the input layer's as the pixels fire them, dropout
        applied), desires of all hidden and output neurons and all weights, the last two
        every step at the end of the 'start' slot: at a step ``k * n_steps`` they hold
        the desires of sample ``k - 1`` and the weights after its update.
    n_samples, n_steps, dt, T_sample, duration
    """

    network: Network
    sizes: tuple
    pixels: TimedArray
    inp: NeuronGroup
    group: NeuronGroup
    layers: list
    synapses: list
    label: TimedArray
    input_mode: TimedArray
    input_mask: TimedArray | None
    layers_mask: TimedArray | None
    output_spikes: SpikeMonitor
    layer_rates: list = field(default_factory=list)
    spikes: list = field(default_factory=list)
    desires: list = field(default_factory=list)
    weights: list = field(default_factory=list)
    n_samples: int = 0
    n_steps: int = 0
    dt: object = None

    @property
    def steps_per_sample(self) -> int:
        return self.n_steps

    @property
    def duration(self):
        """``n_samples * T_sample + dt``: the extra step runs the learning of the last
        sample. The run's duration is a literal of the generated ``main.cpp``: summed in
        this order, it keeps the build-cache key of every desire build made so far."""
        return self.n_samples * self.T_sample + self.dt

    # -- run_args -----------------------------------------------------------------------
    def run_args(self, images, labels=None, weights_flat=None, lr=0.0, masks=None,
                 gains=(1.0, 1.0)) -> dict:
        """``run_args`` for one chunk.

        Parameters
        ----------
        images : array (n <= n_samples, n_pixels)
            Pixel rows in [0, 1]; padded with blank images to the compiled chunk size.
        labels : array of int, optional
            One per image (padded with -1).
        weights_flat : list of arrays, optional
            Weights in synapse order (see :meth:`weights_to_flat`).
        lr : float
            Learning rate of this chunk; 0 evaluates.
        masks : dict, optional
            ``{level: bool array (n, sizes[level])}`` keep-masks (padded with 1).
        gains : (float, float)
            Transmission gains ``1/(1 - p)`` of the input and the hidden layers.
        """
        n = len(images)
        if n > self.n_samples:
            raise ValueError(f"{n} images for a network compiled for {self.n_samples} samples")
        padded = self.padded(images, 0.0, self.sizes[0])
        if not (np.all(np.isfinite(padded)) and padded.min() >= 0 and padded.max() <= 1):
            raise ValueError("images must hold pixel values in [0, 1]")
        args = {self.pixels: padded}
        args[self.input_mode] = input_modes(padded, self.n_steps)
        if labels is not None:
            # Padding samples get label -1: no output neuron is theirs, so with no spikes
            # (blank images) they have no error and no desire.
            args[self.label] = self.padded(labels, -1.0, n=n)
        if weights_flat is not None:
            for syn, w in zip(self.synapses, weights_flat):
                args[syn.w] = np.asarray(w, dtype=np.float64)
        args[self.group.lr] = float(lr)
        gain_in, gain_hid = (float(g) for g in gains)
        if gain_in != 1.0:
            args[self.inp.gain] = gain_in
        if gain_hid != 1.0:
            args[self.group.gain] = gain_hid
        masks = masks or {}
        if self.input_mask is not None:
            values = np.ones((self.n_samples, self.sizes[0]))
            if 0 in masks:
                values[:n] = masks[0]
            args[self.input_mask] = values
        if self.layers_mask is not None:
            values = np.ones((self.n_samples, self.group.N))
            start = 0
            for level, size in enumerate(self.sizes[1:], start=1):
                if level in masks:
                    values[:n, start:start + size] = masks[level]
                start += size
            args[self.layers_mask] = values
        return args

    # -- outputs ---------------------------------------------------------------------------
    def spike_steps(self, monitor):
        """``(step, index)`` arrays of a spike monitor's spikes (step counted from 0)."""
        return self.event_steps(monitor), np.asarray(monitor.i[:], dtype=np.int64)

    def output_counts(self) -> np.ndarray:
        """Output spike counts per sample of the last run, ``(n_samples, n_classes)``."""
        steps, idx = self.spike_steps(self.output_spikes)
        sample = steps // self.n_steps
        keep = sample < self.n_samples  # the extra step belongs to no sample
        counts = np.zeros((self.n_samples, self.sizes[-1]), dtype=np.int64)
        np.add.at(counts, (sample[keep], idx[keep]), 1)
        return counts

    def layer_spike_counts(self) -> np.ndarray:
        """Spikes of every non-input layer per sample of the last run, ``(n_samples,
        n_layers)`` (summed over the layer's neurons, from ``layer_rates``)."""
        steps = self.n_samples * self.n_steps
        out = np.zeros((self.n_samples, len(self.layers)))
        for k, (monitor, lay) in enumerate(zip(self.layer_rates, self.layers)):
            per_step = np.asarray(monitor.rate_[:steps]) * len(lay) * float(self.dt)
            out[:, k] = np.rint(per_step).reshape(self.n_samples, self.n_steps).sum(axis=1)
        return out

    def layer_errors(self) -> np.ndarray:
        """Sum over the last run's samples and each layer's neurons of ``bsig**2``: per
        non-input layer, the summed squared distance of counts to desires."""
        acc = np.asarray(self.group.err_acc[:])
        bounds = np.cumsum((0,) + self.sizes[1:])
        return np.array([acc[a:b].sum() for a, b in zip(bounds[:-1], bounds[1:])])

    def output_raster(self, sample: int) -> np.ndarray:
        """Output spikes of one sample of the last run, bool ``(n_steps, n_classes)``."""
        steps, idx = self.spike_steps(self.output_spikes)
        first = sample * self.n_steps
        mine = (steps >= first) & (steps < first + self.n_steps)
        raster = np.zeros((self.n_steps, self.sizes[-1]), dtype=bool)
        raster[steps[mine] - first, idx[mine]] = True
        return raster

    # -- recordings (record=True) ----------------------------------------------------------
    def recorded_spikes(self) -> list:
        """Per layer, bool array ``(n_samples, n_steps, n_l)`` of the last run's spikes."""
        if not self.spikes:
            raise RuntimeError("build the network with record=True to record spikes")
        out = []
        for monitor, n in zip(self.spikes, self.sizes):
            steps, idx = self.spike_steps(monitor)
            keep = steps < self.n_samples * self.n_steps
            raster = np.zeros((self.n_samples * self.n_steps, n), dtype=bool)
            raster[steps[keep], idx[keep]] = True
            out.append(raster.reshape(self.n_samples, self.n_steps, n))
        return out

    def recorded_desires(self) -> list:
        """Per non-input layer, the ternary desires ``(n_samples, n_l)`` of the last run."""
        if not self.desires:
            raise RuntimeError("build the network with record=True to record desires")
        at = (np.arange(1, self.n_samples + 1) * self.n_steps)
        values = np.asarray(self.desires[0].desire)[:, at].T  # (n_samples, all neurons)
        bounds = np.cumsum((0,) + self.sizes[1:])
        return [values[:, a:b] for a, b in zip(bounds[:-1], bounds[1:])]

    def recorded_weights(self) -> list:
        """Per sample of the last run, the weight matrices after its update."""
        if not self.weights:
            raise RuntimeError("build the network with record=True to record weights")
        at = (np.arange(1, self.n_samples + 1) * self.n_steps)
        per_layer = [np.asarray(m.w)[:, at] for m in self.weights]  # (n_syn, n_samples)
        return [flat_to_weights([w[:, k] for w in per_layer], self.sizes)
                for k in range(self.n_samples)]


def build_network(sizes, n_samples: int, spec: DesireSpec | None = None, *,
                  full_desires: bool = False, record: bool = False,
                  name: str = "desire") -> DesireNetwork:
    """Build the Brian2 network of desire backpropagation for chunks of ``n_samples``.

    Call :func:`models.devices.select_device` first. Sets ``defaultclock.dt`` (every
    object runs on the default clock: one clock keeps the generated code, and with it the
    build cache key, the same in every process).

    Parameters
    ----------
    sizes : sequence of int
        Layer sizes, input first, output last (e.g. ``(784, 1600, 800, 10)``).
    n_samples : int
        Samples per run (the chunk size; compiled in).
    spec : DesireSpec, optional
        Dynamics and desire parameters (``n_steps``, ``dt_ms``, ``decay``, ``v_th``,
        ``error_margin``, thresholds; which layers have dropout). Default: the paper's.
    full_desires : bool
        Compute the desire of every neuron of the first hidden layer, not only of those
        that spiked (identical training; for comparisons and analysis).
    record : bool
        Add spike monitors on every layer and a monitor of the desires at each sample
        boundary (for tests and analysis; costs time).
    name : str
        Prefix of every object name.
    """
    spec = spec or DesireSpec()
    sizes = tuple(int(s) for s in sizes)
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least an input and an output layer, got {sizes}")
    n_samples = int(n_samples)
    n_layers = len(sizes) - 1
    dt = set_clock(spec.dt_ms)
    T_sample = spec.n_steps * dt
    synapse_dtype = {"w": np.dtype(spec.weight_dtype), "C": np.dtype(spec.weight_dtype)}
    constants = dict(
        decay=spec.decay, v_th=spec.v_th, n_steps=spec.n_steps, N_star=float(spec.n_star),
        theta_hid=spec.theta_hidden, theta_out=spec.theta_output, T_sample=T_sample,
    )

    # -- stimulus, labels, masks --------------------------------------------------------
    pixels = TimedArray(np.zeros((n_samples, sizes[0])), dt=T_sample, name=f"{name}_pixels")
    label = TimedArray(np.zeros(n_samples), dt=T_sample, name=f"{name}_label")
    # Keep-masks, one row per sample: the input layer's, and one for all neurons of the
    # hidden and output layers together (1 where a layer has no dropout).
    input_mask = layers_mask = None
    if spec.dropout_input > 0:
        input_mask = TimedArray(np.ones((n_samples, sizes[0])), dt=T_sample,
                                name=f"{name}_keep_in")
    if spec.dropout_hidden > 0 and n_layers >= 2:
        layers_mask = TimedArray(np.ones((n_samples, sum(sizes[1:]))), dt=T_sample,
                                 name=f"{name}_keep_layers")

    input_mode = TimedArray(np.zeros((n_samples, sizes[0])), dt=T_sample,
                            name=f"{name}_input_mode")

    # -- input layer ---------------------------------------------------------------------
    input_events = {"learn": INPUT_LEARN_EVENT}
    if record:  # the pixels' spikes themselves (the 'spike' event is a transmission event)
        input_events["input_spike"] = "spiked * keep > 0.5"
    inp = NeuronGroup(sizes[0], INPUT_EQS, threshold=INPUT_THRESHOLD, reset=INPUT_RESET,
                      events=input_events,
                      namespace=dict(constants, input_mode=input_mode, pixels=pixels),
                      name=f"{name}_in")
    inp.keep = 1
    inp.gain = 1
    keep_code = ""
    if input_mask is not None:
        inp.namespace["keep_in"] = input_mask
        keep_code = f"keep = keep_in({SAMPLE_START}, i)"
    inp.run_regularly(INPUT_MODE.format(keep=keep_code), when="start", order=-1,
                      name=f"{name}_in_mode")
    inp.run_regularly(INPUT_STEP, when="start", order=1000, name=f"{name}_in_bookkeeping")
    inp.set_event_schedule("learn", when="start", order=0)

    # -- hidden and output layers: one group, one subgroup per layer ----------------------
    model = get_neuron_model("if_clocked")
    n_total = sum(sizes[1:])
    group = layer("if_clocked", n_total, f"{name}_layers", dict(decay=spec.decay, v_th=spec.v_th),
                  extra_equations=LAYER_EQS,
                  threshold=f"({model.threshold}) and keep > 0.5",
                  reset=model.reset + "\n" + LAYER_RESET,
                  events={"learn": LEARN_EVENT})
    group.namespace.update(constants)
    group.keep = 1
    group.gain = 1
    group.lr = 0
    bounds = np.cumsum((0,) + sizes[1:])
    layers = []
    for level in range(1, n_layers + 1):
        lname = f"{name}_out" if level == n_layers else f"{name}_h{level}"
        layers.append(Subgroup(group, int(bounds[level - 1]), int(bounds[level]), name=lname))
    hidden_flags = np.zeros(n_total)
    hidden_flags[: bounds[-2]] = 1
    group.has_out = hidden_flags
    learn_all = hidden_flags.copy()
    if not full_desires and n_layers >= 2:
        learn_all[: bounds[1]] = 0  # first hidden layer: only neurons that spiked
    group.learn_all = learn_all
    # The learn condition depends only on this sample's spikes: check it once, first.
    group.set_event_schedule("learn", when="start", order=0)

    step_code = LAYER_STEP
    if layers_mask is not None:
        group.namespace["keep_layers"] = layers_mask
        step_code += f"keep = keep_layers({SAMPLE_START}, i)\n"
    group.run_regularly(step_code, when="start", order=1000, name=f"{name}_layers_bookkeeping")

    out = layers[-1]
    out.namespace["label"] = label
    out.run_regularly(OUTPUT_DESIRE + ERROR_SUM + (CLEAR_CONSTANT_INPUT if n_layers == 1 else ""),
                      when="start", order=1, name=f"{name}_out_desire")

    # -- weight layers ---------------------------------------------------------------------
    pres = [inp] + layers[:-1]
    syns = []
    for level in range(1, n_layers + 1):
        pre, post = pres[level - 1], layers[level - 1]
        if level == 1:
            pathways = {"pre": INPUT_FORWARD, "learn": INPUT_UPDATE}
        else:
            pathways = {"pre": HIDDEN_FORWARD, "learn": BACKWARD + HIDDEN_UPDATE}
        syn = Synapses(pre, post, SYNAPSE_EQS, on_pre=pathways,
                       on_event={name_: ("spike" if name_ == "pre" else name_)
                                 for name_ in pathways},
                       namespace=dict(constants), dtype=synapse_dtype,
                       name=f"{name}_w{level}")
        syn.connect()
        # C++ standalone: event queues that hold the spiking neurons, not copies of all
        # their synapse indices (a quarter of the run time otherwise; same results).
        use_source_queues(syn)
        # Top layer first: its update pathway computes the desire sum of the layer below,
        # whose desire is then computed before the next pathway down.
        order = 10 * (n_layers - level + 1)
        schedule(syn, learn=("start", order))
        if level >= 2:
            code = HIDDEN_DESIRE + ERROR_SUM + (CLEAR_CONSTANT_INPUT if level == 2 else "")
            pre.run_regularly(code, when="start", order=order + 1, name=f"{pre.name}_desire")
        syns.append(syn)

    # -- monitors ---------------------------------------------------------------------------
    # Spike monitors run right after their group's threshold (by default they would run
    # in 'thresholds' and see the previous step's spikes of these groups).
    output_spikes = SpikeMonitor(out, when="after_synapses", order=1, name=f"{name}_out_spikes")
    # Spikes per step of every layer (a few numbers per step): firing rates per class.
    # They run in 'end', where the spikes of this step's threshold are still in place.
    layer_rates = [PopulationRateMonitor(lay, name=f"{lay.name}_rate") for lay in layers]
    objects = [inp, group, *syns, output_spikes, *layer_rates]
    spikes, desires, weights = [], [], []
    if record:
        spikes = [EventMonitor(inp, "input_spike", name=f"{name}_in_spikes")]
        spikes += [SpikeMonitor(lay, when="after_synapses", order=1, name=f"{lay.name}_spikes")
                   for lay in layers[:-1]]
        spikes.append(output_spikes)
        # At the boundary, after all desires and before the reset; every step (tests only).
        desires = [StateMonitor(group, "desire", record=True, when="start", order=999,
                                name=f"{name}_desires")]
        # Weights after every boundary's update (all-to-all: the synapse count is known).
        weights = [StateMonitor(syn, "w", record=np.arange(n_pre * n_post), when="start",
                                order=999, name=f"{syn.name}_weights")
                   for syn, n_pre, n_post in zip(syns, sizes[:-1], sizes[1:])]
        objects += spikes[:-1] + desires + weights
    net = Network(*objects, name=name)
    return DesireNetwork(net, sizes, pixels, inp, group, layers, syns, label, input_mode,
                         input_mask, layers_mask, output_spikes, layer_rates=layer_rates,
                         spikes=spikes, desires=desires, weights=weights,
                         n_samples=n_samples, n_steps=spec.n_steps, dt=dt)


def memory_estimate(sizes, n_samples: int, spec: DesireSpec | None = None) -> MemoryEstimate:
    """The bytes of the arrays of :func:`build_network` for layer ``sizes`` and chunks
    of ``n_samples`` (without ``record``; see :func:`models.network.memory_estimate`):
    the all-to-all weight layers, the layers, the stimulus, label and dropout masks,
    and the per-step rate monitors of every layer (the output spikes depend on the
    activity and are left out)."""
    spec = spec or DesireSpec()
    sizes = tuple(int(s) for s in sizes)
    n_total = sum(sizes[1:])
    layer_vars = n_variables(get_neuron_model("if_clocked").equations + LAYER_EQS)
    weights = n_variables(SYNAPSE_EQS)
    inputs = n_samples * (3 * sizes[0] + 1 + n_total)
    steps = n_samples * spec.n_steps
    return network.memory_estimate(
        neurons=[(sizes[0], n_variables(INPUT_EQS)), (n_total, layer_vars)],
        synapses=[(a * b, weights, 2) for a, b in zip(sizes[:-1], sizes[1:])],
        inputs=inputs, events=[(steps, 1)] * (len(sizes) - 1))
