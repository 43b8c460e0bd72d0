"""The balanced-tuning network: Poisson input, a conductance-based E/I hidden layer with
short-term plasticity on its input, and a teacher-tuned output layer.

Zhang, Zeng, Zhao & Xu (2018). Brain-inspired balanced tuning for spiking neural
networks. IJCAI, 1653-1659.

Only the paper's abstract is public to us, so this is an interpretation of what it
fixes (the protocol, :mod:`experiments.balanced_tuning`, says the same):

1. *Equilibrium*: the network is first trained, without labels, so that the temporal
   change of every neuron's membrane potential goes to zero.
2. *80:20 E/I*: excitatory and inhibitory neurons in that proportion.
3. *Short-term plasticity* balances each synapse's input and output.
4. *Weak supervision* tunes the output layer's membrane potentials; *STDP* consolidates
   what the potentials learned into the weights.

The network
-----------
``n_in`` Poisson inputs (rate ``max_rate * pixel`` during ``t_present``, silent during
``t_rest``) drive ``n_hidden`` conductance-based LIF cells (:data:`models.neurons.
LIF_CONDUCTANCE`), the first ``round(e_fraction * n_hidden)`` excitatory. Each hidden cell
sees a square patch of the image (radius ``rf_exc`` pixels for E cells, ``rf_inh`` for I
cells) through depressing Tsodyks-Markram synapses (``U``, ``tau_d``, ``tau_f``; or static
ones that transmit ``w * static_release``, by default ``w * U``, the first-spike
conductance of the STP synapse); its weights are uniform random and
sum to ``w_in_exc`` or ``w_in_inh`` (a fresh synapse's conductance per spike, in units of
the leak conductance). A random fraction ``ff_inh_fraction`` of an E cell's patch
inhibits it instead (feedforward inhibition through interneurons the model does not
simulate, onto ``g_i``, weights summing to ``w_ff_inh``): its receptive field is signed,
excitation and inhibition from the same patch balance, and the cell answers to the
shape within its patch rather than to the amount of ink. Unsigned fields make the
hidden layer a set of blurred pixel sums, which a linear readout of their spike counts
cannot separate much better than the pixels (about 92 % on MNIST with 16,000 training
images against 95-96 % for signed fields of the same size, numpy rate model and
least-squares readout). Every I cell gets ``k_ei`` random E cells (``w_ei`` each), every E
cell ``k_ie`` random I cells (weights summing to ``w_ie_total``). All hidden cells project
to ``n_classes * n_per_class`` output cells (:data:`models.neurons.LIF_TUTORED`) through
signed weights: the output is current-based, and a negative weight stands for
disynaptic inhibition through interneurons the model does not simulate.

Step 1, equilibrium learning
----------------------------
The squared subthreshold membrane derivative of an E cell, ``L = 1/2 int V'(t)^2 dt``
over a sample, is lowered by gradient descent on the inhibitory weights onto E cells.
An inhibitory synapse ``k -> j`` adds ``w k_kj(t)`` to ``g_i`` (``k_kj`` the sum of its
released fractions, each decaying with ``tau_i``), so ``dV'_j/dw = (E_i - V_j) k_kj /
tau_m`` and::

    dw_kj = -eta_eq int V'_j (E_i - V_j) k_kj dt / dV**2        (dV = v_th - v_rest)

Inhibition grows where it coincides with a rising membrane and shrinks where it
coincides with a falling one: it learns to cancel the excitation each cell receives
(detailed balance, as inhibitory plasticity does in Vogels et al. 2011, Science 334:1569).
The integral is computed exactly and event-driven: with ``K(t) = exp(t_rel/tau_i)`` and
the cell's running integral ``Q(t) = int_0^t V'(E_i - V) exp(-t_rel/tau_i) dt / dV**2``,
each synapse sums ``B = sum_s K(s)`` and ``A = sum_s K(s) Q(s)`` over its presynaptic spikes
``s``, and ``Q(T) B - A`` is the integral (``eq_A``, ``eq_B`` of
:data:`models.synapses.EQUILIBRIUM`). At the sample's end each weight takes an
exponentiated-gradient step, ``w <- w exp(-eta_eq (Q(T) B - A))`` (a relative step, at most a
factor ``e``, so weights stay positive), and each E cell's inhibitory weights are rescaled
to sum to ``w_ie_total``: the rule redistributes inhibition among the I cells, it cannot
silence the layer nor strip a cell of its inhibition (without the normalisation it would
silence it, since a silent cell has ``V' = 0``).

Steps 2 and 3, weak supervision and consolidation
-------------------------------------------------
Every output cell has two membrane potentials (:data:`models.neurons.LIF_TUTORED`):
``v`` integrates the synaptic current and its spikes are decoded; ``v_tutor`` is the
potential as the teacher tunes it. While the teacher acts (training presentations), the
teacher's current replaces the synaptic drive of ``v_tutor``: ``+teacher_up`` pushes the
label's cells up (they fire regularly, about 108 Hz for 40 mV), ``-teacher_down`` holds
the others down (silent). That is step 2: membrane potentials are tuned, no weight
changes. STDP (:data:`models.synapses.STDP_TUTORED`) consolidates it into the weights
(step 3): a tuned spike potentiates ``w_kj`` by ``eta * apre_j``, a free spike depresses it
by the same amount (the rule of ReSuMe, Ponulak & Kasinski 2010). On average this is the
delta rule ``dw_kj ~ (r_tuned,k - r_free,k) r_j``: the label's cells learn until their free
rate reaches the teacher's, the others until they are silent, and learning stops where
the weights alone reproduce the teacher. With the teacher away the two potentials are
one trajectory and nothing changes.

*Balanced output drive* (``centre_out``, on by default). Hidden rates are all positive
and strongly correlated (every cell fires for every digit), so the plain rule above is
ill-conditioned: a step along one sample's rates moves every output's response to
every sample, and online learning stalls far below what the hidden layer can support
(on MNIST the plain rule reached 84.6 % where a least-squares readout of the same spike
counts keeps improving with data). Each synapse therefore keeps ``abar``, the running
mean (over ``mean_samples`` training samples) of its presynaptic trace, and

* the rule follows the covariance of presynaptic activity and the postsynaptic error,
  ``dw = +/- eta (apre - abar)`` (Sejnowski 1977), and
* each output cell receives, during the presentation, a balancing current
  ``I_bal = -sum_j w_kj abar_j tau_syn / tau_pre``, minus the mean of its synaptic drive,
  as feedforward inhibition that tracks the excitation would give it.

Together these are the delta rule on centred rates, ``dw_kj ~ (r_tuned,k - r_free,k) (r_j -
<r_j>)``, whose conditioning no longer carries the common mode of the hidden layer.
``centre_out=False`` is the plain ReSuMe rule, for comparison.

With ``p_out < 1`` each output cell sees its own random fraction ``p_out`` of the
hidden layer, so the ``n_per_class`` cells of a class vote with different evidence; the
default, 1, gives every cell the whole layer (on 5,000 MNIST images, 2,000 validation
images: 90.6 % against 89.9 % with ``p_out`` 0.5). Decoding: the class whose cells fire
most free spikes (a tie or silence is an error).

How it runs inside Brian2
-------------------------
One clock. A chunk of ``n_samples`` samples of ``t_present + t_rest`` each is one run;
images and labels are TimedArrays indexed by sample (``dt = T_sample``). The sample-end
work runs in ``run_regularly(dt=T_sample, when='start')``: the inhibitory weight update
(order 0), their sums (1, 2), the rescaling (3), the integral's reset (4); then the
running means of the output synapses (5) and the balancing currents (6, 7). State is not
reset between samples: the rest period lets it decay, as in Diehl & Cook (2015).
The output spikes are always recorded (the class counts); the input and hidden spikes
only in a run's first ``record_samples`` samples (``run_args``; an evaluation's analysis
images), as the event ``recorded`` that two EventMonitors keep: a cell whose last spike
is this step's, checked after the resets, while ``t`` is in that window. Training runs
set it to 0, so they record nothing and run as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from brian2 import (EventMonitor, Hz, Network, NeuronGroup, SpikeMonitor, StateMonitor,
                    TimedArray, mV, ms, second)

from . import network
from .devices import atomic_codeobj_class
from .network import MemoryEstimate, SpecNetwork, n_variables, set_clock
from .neurons import get_neuron_model
from .populations import ei_population, layer, n_excitatory
from .synapses import combine, synapses

__all__ = ["BalancedSpec", "BalancedNetwork", "build_balanced_network", "connectivity",
           "initial_state", "probe_pixels", "STP_MODELS", "memory_estimate"]

#: Synapse parts of the input pathway with and without short-term plasticity.
STP_MODELS = {True: "stp_depressing", False: "static"}

# 1 during the presentation of a sample, 0 during its rest.
PRESENT = "int(timestep(t, dt) % steps_per_sample < present_steps)"

# Running integrals of every hidden cell, stepped after the state update.  t_rel is the
# time since the sample began.
HIDDEN_EQS = f"""
t_rel = (timestep(t, dt) % steps_per_sample) * dt : second
present = {PRESENT} : 1
eq_K = exp(t_rel / tau_i) : 1
eq_Q : 1
wsum_ie : 1
dv_abs : volt
rec_steps : 1 (shared)
"""
HIDDEN_STEP = """
eq_Q += dt * dvdt * (E_i - v) / dV**2 * exp(-t_rel / tau_i) * int(not_refractory)
dv_abs += dt * abs(dvdt) * int(not_refractory) * present
"""
INPUT_EQS = f"""
rate = max_rate * stim(t, i) * {PRESENT} : Hz
t_spike : second
rec_steps : 1 (shared)
"""
# The spikes of a run's first ``rec_steps`` steps (the analysis samples of an
# evaluation; 0 in training runs), as the event ``recorded``, checked after the resets:
# a cell whose spike was emitted this step (its last spike time is now) and is in the
# window. A copy of the threshold would not do: the inputs' draws random numbers.
RECORDED = ("timestep({last}, dt) == timestep(t, dt) and timestep(t, dt) < rec_steps")
TEACHER = f"""
teaching = teach * int(label(t) > -0.5) * {PRESENT}
I_bal = I_bal_sample * {PRESENT}
I_teach = teacher_up * int(abs(cls - label(t)) < 0.5) - teacher_down * int(abs(cls - label(t)) > 0.5)
"""
# Exponentiated gradient: the step is relative to w, so a weight never reaches 0 and the
# rescaling below can always restore the sum (an additive step clipped at 0 could strip
# a cell of all its inhibition). At most a factor e per sample.
EQ_UPDATE = "w = w * exp(clip(-plastic_eq * eta_eq * (eq_Q_post * eq_B - eq_A), -1, 1))"
EQ_SUM = "wsum_ie_post += w"
EQ_RESCALE = """
w = w * (1 + plastic_eq * (w_ie_total / (wsum_ie_post + 1e-300) - 1))
eq_A = 0
eq_B = 0
"""
# Centring of the output pathway at a sample's end.  abar follows the presynaptic
# trace's mean over presentations, n_spikes_in tau_pre / t_present, as a running mean over
# mean_samples training samples (not after the chunk's padding, label -2, nor at a
# run's first step, where no sample has ended).  Then each output cell's balancing
# current for the next presentation is minus its synaptic drive's expected value:
# a spike adds w to I_syn, which integrates to w tau_syn, so n spikes in t_present
# are a mean current w n tau_syn / t_present = w abar tau_syn / tau_pre.
OUT_MEAN = """
abar += track_post * int(label(t - dt) > -1.5) * int(timestep(t, dt) > 0) * (n_spikes_in * tau_pre / t_present - abar) / mean_samples
n_spikes_in = 0
"""
OUT_BALANCE = "I_bal_sample_post += -w * abar * tau_syn_out / tau_pre"


@dataclass(frozen=True)
class BalancedParameters:
    """The parameters of a balanced-tuning network that do not come from the data (plain
    numbers, units in the names; defaults: the MNIST setting). See the module docstring
    for what each does."""

    n_hidden: int = 2000
    e_fraction: float = 0.8
    n_per_class: int = 4
    dt_ms: float = 0.5
    t_present_ms: float = 100.0
    t_rest_ms: float = 20.0
    max_rate_hz: float = 100.0
    rf_exc: int = 4
    rf_inh: int = 6
    w_in_exc: float = 20.0
    w_in_inh: float = 5.0
    ff_inh_fraction: float = 0.3
    w_ff_inh: float = 30.0
    stp: bool = True
    stp_U: float = 0.2
    stp_tau_d_ms: float = 200.0
    stp_tau_f_ms: float = 50.0
    static_release: float | None = None
    k_ei: int = 40
    w_ei: float = 0.05
    k_ie: int = 20
    w_ie_total: float = 1.0
    eta_eq: float = 50.0
    tau_pre_ms: float = 20.0
    eta_out_mV: float = 0.06
    w_out_max_mV: float = 5.0
    w_out_init_mV: float = 0.01
    teacher_up_mV: float = 40.0
    teacher_down_mV: float = 0.0
    p_out: float = 1.0
    centre_out: bool = True
    mean_samples: float = 100.0


@dataclass(frozen=True, kw_only=True)
class BalancedSpec(BalancedParameters):
    """A balanced-tuning network: its :class:`BalancedParameters` and what comes from
    the data and the run: input size ``n_in`` and ``image_shape``, ``n_samples`` per
    compiled run, ``n_classes``, the connectivity ``seed``, ``n_probe`` input synapses
    whose STP state is recorded every ``record_dt_ms``, and ``neuron_params`` passed to
    the library's neuron model."""

    n_in: int
    image_shape: tuple
    n_samples: int
    n_classes: int = 10
    seed: int = 0
    n_probe: int = 16
    record_dt_ms: float = 1.0
    neuron_params: dict = field(default_factory=dict)

    @property
    def n_out(self) -> int:
        return self.n_classes * self.n_per_class

    @property
    def n_exc(self) -> int:
        return n_excitatory(self.n_hidden, self.e_fraction)

    @property
    def n_inh(self) -> int:
        return self.n_hidden - self.n_exc

    @property
    def steps_per_sample(self) -> int:
        return int(round((self.t_present_ms + self.t_rest_ms) / self.dt_ms))

    @property
    def present_steps(self) -> int:
        return int(round(self.t_present_ms / self.dt_ms))

    def validate(self) -> "BalancedSpec":
        """Raise ValueError naming the parameter and its allowed range."""
        def positive(name):
            value = getattr(self, name)
            if not np.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
        for name in ("dt_ms", "t_present_ms", "max_rate_hz", "stp_tau_d_ms", "stp_tau_f_ms",
                     "tau_pre_ms", "w_out_max_mV", "record_dt_ms"):
            positive(name)
        if not np.isfinite(self.t_rest_ms) or self.t_rest_ms < 0:
            raise ValueError(f"t_rest_ms must be >= 0, got {self.t_rest_ms!r}")
        for name in ("t_present_ms", "t_rest_ms", "record_dt_ms"):
            ratio = getattr(self, name) / self.dt_ms
            if abs(ratio - round(ratio)) > 1e-9:
                raise ValueError(f"{name} ({getattr(self, name)}) must be a whole number of "
                                 f"time steps of dt_ms={self.dt_ms}")
        if self.max_rate_hz * self.dt_ms * 1e-3 > 1:
            raise ValueError(f"max_rate_hz * dt must be <= 1 (a spike probability per step); "
                             f"got {self.max_rate_hz} Hz at dt {self.dt_ms} ms")
        if self.static_release is not None and not 0 < self.static_release <= 1:
            raise ValueError(f"static_release must lie in (0, 1] (the fraction a static input "
                             f"synapse transmits), got {self.static_release!r}")
        if not (0 < self.stp_U <= 1):
            raise ValueError(f"stp_U must lie in (0, 1] (the utilisation of a fresh "
                             f"synapse), got {self.stp_U!r}")
        n_excitatory(self.n_hidden, self.e_fraction)
        if not np.isfinite(self.mean_samples) or self.mean_samples < 1:
            raise ValueError(f"mean_samples must be >= 1 (samples of the running mean of the "
                             f"presynaptic traces), got {self.mean_samples!r}")
        if not 0 <= self.ff_inh_fraction < 1:
            raise ValueError(f"ff_inh_fraction must lie in [0, 1) (the fraction of an E cell's "
                             f"patch that inhibits it), got {self.ff_inh_fraction!r}")
        if not 0 < self.p_out <= 1:
            raise ValueError(f"p_out must lie in (0, 1] (the fraction of hidden cells each "
                             f"output cell sees), got {self.p_out!r}")
        for name in ("w_in_exc", "w_in_inh", "w_ff_inh", "w_ei", "w_ie_total", "eta_eq",
                     "eta_out_mV", "w_out_init_mV", "teacher_up_mV", "teacher_down_mV"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be >= 0, got {value!r}")
        for name in ("rf_exc", "rf_inh", "k_ei", "k_ie", "n_probe"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        h, w = self.image_shape
        if h * w != self.n_in:
            raise ValueError(f"image_shape {self.image_shape} does not hold {self.n_in} inputs")
        return self


def _patch_connections(spec: BalancedSpec, cells: np.ndarray, radius: int, total: float,
                       rng) -> tuple:
    """Input synapses of ``cells``: each sees the pixels within ``radius`` (Chebyshev) of
    a random centre, with uniform random weights summing to ``total``."""
    h, w = spec.image_shape
    margin_y, margin_x = min(radius, (h - 1) // 2), min(radius, (w - 1) // 2)
    cy = rng.integers(margin_y, h - margin_y, len(cells))
    cx = rng.integers(margin_x, w - margin_x, len(cells))
    py, px = np.divmod(np.arange(spec.n_in), w)
    pre, post, weight = [], [], []
    for cell, y0, x0 in zip(cells, cy, cx):
        pixels = np.flatnonzero((np.abs(py - y0) <= radius) & (np.abs(px - x0) <= radius))
        values = rng.random(len(pixels))
        pre.append(pixels)
        post.append(np.full(len(pixels), cell))
        weight.append(total * values / values.sum())
    return np.concatenate(pre), np.concatenate(post), np.concatenate(weight)


def _random_inputs(n_sources: int, targets: np.ndarray, k: int, rng) -> tuple:
    """``k`` distinct random sources (of ``n_sources``) per target."""
    k = min(k, n_sources)
    pre = np.concatenate([rng.choice(n_sources, k, replace=False) for _ in targets]) \
        if k else np.zeros(0, int)
    return pre, np.repeat(targets, k)


def connectivity(spec: BalancedSpec) -> dict:
    """Every fixed connection and initial weight of ``spec``, drawn from ``spec.seed``:
    ``{'in': (i, j, w), 'in_inh': (i, j, w), 'ei': (i, j, w), 'ie': (i, j, w), 'out':
    (i, j, w)}`` (``in_inh``: the pixels that inhibit E cells) with hidden-cell indices
    relative to the E and I parts for ``ei``/``ie``."""
    rng = np.random.default_rng([spec.seed, 7001])
    n_exc, n_inh = spec.n_exc, spec.n_inh
    parts = []
    if n_exc:
        parts.append(_patch_connections(spec, np.arange(n_exc), spec.rf_exc, spec.w_in_exc,
                                        rng))
    if n_inh:
        parts.append(_patch_connections(spec, np.arange(n_exc, spec.n_hidden), spec.rf_inh,
                                        spec.w_in_inh, rng))
    pre, post, w = (np.concatenate(c) for c in zip(*parts))
    # Feedforward inhibition: a random fraction of each E cell's patch inhibits it
    # (through interneurons the model does not simulate), so its receptive field is
    # signed.  Drawn from a stream of its own: the other connections do not depend on it.
    split = np.random.default_rng([spec.seed, 7002]).random(len(pre))
    inh = (post < n_exc) & (split < spec.ff_inh_fraction)

    def normalised(sel, total):
        sums = np.bincount(post[sel], w[sel], minlength=spec.n_hidden)
        return pre[sel], post[sel], w[sel] * total[sel] / np.maximum(sums[post[sel]], 1e-300)

    conn = {"in": normalised(~inh, np.where(post < n_exc, spec.w_in_exc, spec.w_in_inh)),
            "in_inh": normalised(inh, np.full(len(pre), spec.w_ff_inh))}
    if n_exc and n_inh:
        i, j = _random_inputs(n_exc, np.arange(n_inh), spec.k_ei, rng)
        conn["ei"] = (i, j, np.full(len(i), spec.w_ei))
        i, j = _random_inputs(n_inh, np.arange(n_exc), spec.k_ie, rng)
        w = rng.random(len(i))
        sums = np.bincount(j, w, minlength=n_exc)
        conn["ie"] = (i, j, spec.w_ie_total * w / sums[j])
    else:
        conn["ei"] = conn["ie"] = (np.zeros(0, int), np.zeros(0, int), np.zeros(0))
    # Each output cell sees its own random fraction p_out of the hidden layer, so the
    # cells of a class are not copies of one another.
    pre, post = np.meshgrid(np.arange(spec.n_hidden), np.arange(spec.n_out), indexing="ij")
    keep = rng.random(pre.shape) < spec.p_out
    conn["out"] = (pre[keep], post[keep],
                   rng.uniform(-1, 1, int(keep.sum())) * spec.w_out_init_mV * 1e-3)
    return conn


@dataclass
class BalancedNetwork(SpecNetwork):
    """The Brian2 objects of a balanced-tuning network built for ``spec.n_samples``
    samples; ``None`` for a pathway a population fraction of 0 or 1 leaves out."""

    spec: BalancedSpec
    network: Network
    inp: NeuronGroup
    hidden: NeuronGroup
    output: NeuronGroup
    syn_in: object
    syn_ei: object
    syn_ie: object
    syn_out: object
    stim: TimedArray
    label: TimedArray
    out_spikes: SpikeMonitor
    hidden_spikes: SpikeMonitor
    probe: object
    probe_monitor: StateMonitor
    #: The input and hidden spikes of a run's first ``record_samples`` samples.
    input_recorded: object = None
    hidden_recorded: object = None
    #: The pixels' inhibitory synapses onto E cells (``ff_inh_fraction > 0``).
    syn_in_inh: object = None
    # Holds the E and I subgroups: an unused subgroup that is garbage-collected leaves
    # dead entries in the standalone device's array cache, and the next run fails.
    population: object = None

    @property
    def steps_per_sample(self) -> int:
        return self.spec.steps_per_sample

    def learned_variables(self) -> dict:
        """What training changes: the inhibitory weights onto E cells (step 1), the
        hidden->output weights (step 3) and, with ``centre_out``, the running mean of
        their presynaptic traces (steps 1 and 3)."""
        out = {"w_out": self.syn_out.w}
        if self.spec.centre_out:
            out["abar_out"] = self.syn_out.abar
        if self.syn_ie is not None:
            out["w_ie"] = self.syn_ie.w
        return out

    def run_args(self, images, labels=None, *, equilibrium=False, teacher=False,
                 consolidate=0.0, record_samples=0) -> dict:
        """``run_args`` of one chunk (the learned state is added by the caller).

        Parameters
        ----------
        images : array (n <= n_samples, n_in)
            Pixel intensities in [0, 1]; padded with blank samples.
        labels : int array (n,), optional
            Class per sample; ``None`` is -1 (no teacher), padding -2 (no teacher, and
            the running means skip it).
        equilibrium : bool
            Step 1: learn the inhibitory weights onto E cells.
        teacher : bool
            Step 2: the teacher current acts on ``v_tutor``.
        consolidate : float
            Step 3: scale of the STDP learning rate (0 freezes the output weights).
        record_samples : int
            Record the input and hidden spikes of the first ``record_samples`` samples
            (:meth:`recorded_spikes`); 0 records none (the output spikes are always
            recorded, for the class counts).
        """
        spec = self.spec
        x = np.asarray(images, dtype=np.float64)
        n = len(x)
        if x.ndim != 2 or x.shape[1] != spec.n_in or n > spec.n_samples:
            raise ValueError(f"images must have shape (<= {spec.n_samples}, {spec.n_in}); "
                             f"got {x.shape}")
        stim = self.padded(x, 0.0, spec.n_in, extra=1)
        lab = self.padded(-1.0 if labels is None else labels, -2.0, extra=1, n=n)
        args = {self.stim: stim, self.label: lab,
                self.output.teach: float(bool(teacher)),
                # The running means learn the training distribution, not the test's.
                self.output.track: float(bool(equilibrium or teacher)),
                self.syn_out.plastic: float(consolidate)}
        rec_steps = float(min(int(record_samples), n) * spec.steps_per_sample)
        if self.input_recorded is not None:
            args[self.inp.rec_steps] = rec_steps
            args[self.hidden.rec_steps] = rec_steps
        if self.syn_ie is not None:
            args[self.syn_ie.plastic_eq] = float(bool(equilibrium))
        return args

    # -- reading a run back -------------------------------------------------------------
    def output_counts(self) -> np.ndarray:
        """Free spikes per sample and output cell of the last run, ``(n_samples, n_out)``."""
        sample = self.event_steps(self.out_spikes) // self.spec.steps_per_sample
        keep = sample < self.spec.n_samples
        counts = np.zeros((self.spec.n_samples, self.spec.n_out))
        np.add.at(counts, (sample[keep], np.asarray(self.out_spikes.i[:])[keep]), 1)
        return counts

    def recorded_spikes(self, n_samples: int) -> dict:
        """``{'input', 'E', 'I', 'output': (steps, neurons)}``: the spikes of the first
        ``n_samples`` samples of the last run (run with ``record_samples >= n_samples``),
        in time steps from the run's start and cell indices within each population (E
        cells first in the hidden layer, I cells after them)."""
        end = int(n_samples) * self.spec.steps_per_sample
        out = {}

        def window(monitor):
            steps = self.event_steps(monitor)
            keep = steps < end
            return steps[keep], np.asarray(monitor.i[:])[keep]

        out["input"] = window(self.input_recorded)
        steps, cells = window(self.hidden_recorded)
        exc = cells < self.spec.n_exc
        out["E"] = steps[exc], cells[exc]
        out["I"] = steps[~exc], cells[~exc] - self.spec.n_exc
        out["output"] = window(self.out_spikes)
        return out

    def class_counts(self) -> np.ndarray:
        """Free spikes per sample and class, ``(n_samples, n_classes)``."""
        c = self.output_counts()
        return c.reshape(len(c), self.spec.n_classes, self.spec.n_per_class).sum(axis=2)

    def hidden_totals(self) -> dict:
        """Spikes and integrated ``|dV/dt|`` (presentation only) of every hidden cell over
        the last run."""
        return {"n_spikes": np.asarray(self.hidden_spikes.count[:], dtype=np.float64),
                "dv_abs": np.asarray(self.hidden.dv_abs_[:])}

    def probe_trace(self) -> dict:
        """``u_S``, ``x_S`` (event-driven, updated at spikes) and the released fraction
        ``r_S = u x`` of the input synapses of the probed pixels, ``(n_probe, steps)``,
        with the pixel indices and recording times (s)."""
        m = self.probe_monitor
        return {"t": np.asarray(m.t_[:]), "u": np.asarray(m.u_S[:]),
                "x": np.asarray(m.x_S[:]), "r": np.asarray(m.r_S[:]),
                "pixels": np.asarray(self.probe.i[:])}


def initial_state(spec: BalancedSpec) -> dict:
    """The learned variables' initial values (the keys of
    :meth:`BalancedNetwork.learned_variables`), from :func:`connectivity`."""
    conn = connectivity(spec)
    state = {"w_out": conn["out"][2]}
    if spec.centre_out:
        state["abar_out"] = np.zeros(len(conn["out"][2]))
    if spec.n_exc and spec.n_inh and len(conn["ie"][0]):
        state["w_ie"] = conn["ie"][2]
    return state


def probe_pixels(spec: BalancedSpec) -> np.ndarray:
    """The ``n_probe`` pixels nearest the image centre (row-major order)."""
    h, w = spec.image_shape
    py, px = np.divmod(np.arange(spec.n_in), w)
    d = (py - (h - 1) / 2) ** 2 + (px - (w - 1) / 2) ** 2
    return np.sort(np.argsort(d, kind="stable")[:min(spec.n_probe, spec.n_in)])


def build_balanced_network(spec: BalancedSpec, name: str = "balanced") -> BalancedNetwork:
    """Build the network of ``spec`` (call :func:`models.devices.select_device` first).
    Sets ``defaultclock.dt``; every object runs on the default clock."""
    spec.validate()
    dt = set_clock(spec.dt_ms)
    T_sample = spec.steps_per_sample * dt
    timing = dict(steps_per_sample=spec.steps_per_sample, present_steps=spec.present_steps)
    conn = connectivity(spec)
    stim = TimedArray(np.zeros((spec.n_samples + 1, spec.n_in)), dt=T_sample,
                      name=f"{name}_stim")
    label = TimedArray(np.full(spec.n_samples + 1, -1.0), dt=T_sample, name=f"{name}_label")

    inp = NeuronGroup(spec.n_in, INPUT_EQS, threshold="rand() < rate * dt",
                      reset="t_spike = t",
                      events={"recorded": RECORDED.format(last="t_spike")},
                      namespace=dict(timing, stim=stim, max_rate=spec.max_rate_hz * Hz),
                      name=f"{name}_input")
    inp.t_spike = -1e4 * second
    inp.set_event_schedule("recorded", when="after_resets")

    pop = ei_population("lif_conductance", spec.n_hidden, spec.e_fraction, f"{name}_hidden",
                        params=spec.neuron_params or None, extra_equations=HIDDEN_EQS,
                        events={"recorded": RECORDED.format(last="lastspike")})
    hidden = pop.group
    hidden.set_event_schedule("recorded", when="after_resets")
    params = hidden.namespace
    hidden.namespace.update(timing, dV=params["v_th"] - params["v_rest"])
    hidden.run_regularly(HIDDEN_STEP, when="groups", order=1, name=f"{name}_hidden_step")

    output = layer("lif_tutored", spec.n_out, f"{name}_output",
                   extra_equations="cls : 1 (constant)\nteach : 1 (shared)\n"
                                   "track : 1 (shared)\nI_bal_sample : volt")
    output.cls = np.arange(spec.n_out) // spec.n_per_class
    output.namespace.update(timing, label=label, teacher_up=spec.teacher_up_mV * mV,
                            teacher_down=spec.teacher_down_mV * mV)
    output.run_regularly(TEACHER, when="before_groups", name=f"{name}_teacher")
    objects = [inp, hidden, output]

    # Input -> hidden: a fresh synapse transmits w * U with STP, so a static synapse
    # transmits w * static_release, by default U (the same conductance per spike as a
    # fresh STP synapse; STP then depresses it).
    stp_params = dict(U=spec.stp_U, tau_d=spec.stp_tau_d_ms * ms, tau_f=spec.stp_tau_f_ms * ms)
    release = spec.stp_U if spec.static_release is None else spec.static_release

    def input_pathway(key, target):
        i, j, w = conn[key]
        syn = synapses(inp, hidden, STP_MODELS[spec.stp], f"{name}_{key}", target,
                       params=stp_params if spec.stp else None)
        syn.connect(i=i, j=j)
        syn.w = w / spec.stp_U if spec.stp else w * release / spec.stp_U
        objects.append(syn)
        return syn

    syn_in = input_pathway("in", "g_e")
    # The pixels that inhibit E cells: the same synapse model, onto g_i.
    syn_in_inh = input_pathway("in_inh", "g_i") if len(conn["in_inh"][0]) else None

    syn_ei = syn_ie = None
    if pop.exc is not None and pop.inh is not None and len(conn["ei"][0]):
        i, j, w = conn["ei"]
        syn_ei = synapses(pop.exc, pop.inh, "static", f"{name}_ei", "g_e")
        syn_ei.connect(i=i, j=j)
        syn_ei.w = w
        objects.append(syn_ei)
    if pop.exc is not None and pop.inh is not None and len(conn["ie"][0]):
        i, j, w = conn["ie"]
        syn_ie = synapses(pop.inh, pop.exc, ["static", "equilibrium"], f"{name}_ie", "g_i")
        # eq_K_post is substituted into the synapse code, with its constants.
        syn_ie.namespace.update(timing, eta_eq=spec.eta_eq, w_ie_total=spec.w_ie_total,
                                tau_i=params["tau_i"])
        syn_ie.connect(i=i, j=j)
        syn_ie.w = w
        end = dict(dt=T_sample, when="start")
        syn_ie.run_regularly(EQ_UPDATE, order=0, name=f"{name}_ie_update", **end)
        hidden.run_regularly("wsum_ie = 0", order=1, name=f"{name}_ie_clear", **end)
        # Many synapses add into one cell's sum: atomic on CUDA (see atomic_codeobj_class).
        syn_ie.run_regularly(EQ_SUM, order=2, name=f"{name}_ie_sum",
                             codeobj_class=atomic_codeobj_class(), **end)
        syn_ie.run_regularly(EQ_RESCALE, order=3, name=f"{name}_ie_rescale", **end)
        hidden.run_regularly("eq_Q = 0", order=4, name=f"{name}_eq_reset", **end)
        objects.append(syn_ie)

    i, j, w = conn["out"]
    syn_out = synapses(hidden, output, "stdp_tutored", f"{name}_out", "I_syn",
                       params=dict(tau_pre=spec.tau_pre_ms * ms, eta=spec.eta_out_mV * mV,
                                   w_max=spec.w_out_max_mV * mV))
    syn_out.connect(i=i, j=j)
    syn_out.w_ = w  # volt
    if spec.centre_out:
        syn_out.namespace.update(label=label, t_present=spec.t_present_ms * ms,
                                 mean_samples=spec.mean_samples,
                                 tau_syn_out=output.namespace["tau_syn"])
        end = dict(dt=T_sample, when="start")
        syn_out.run_regularly(OUT_MEAN, order=5, name=f"{name}_out_mean", **end)
        output.run_regularly("I_bal_sample = 0 * volt", order=6, name=f"{name}_bal_clear",
                             **end)
        syn_out.run_regularly(OUT_BALANCE, order=7, name=f"{name}_out_balance",
                              codeobj_class=atomic_codeobj_class(), **end)
    objects.append(syn_out)

    # A copy of the input STP on the probed pixels: u and x depend only on the
    # presynaptic train, so these are the state of every synapse of those pixels.
    sink = NeuronGroup(1, "g : 1", name=f"{name}_probe_sink")
    probe = synapses(inp, sink, "stp_depressing", f"{name}_probe", "g", params=stp_params)
    probe.connect(i=probe_pixels(spec), j=0)
    probe_monitor = StateMonitor(probe, ["u_S", "x_S", "r_S"], record=range(len(probe_pixels(spec))),
                                 dt=spec.record_dt_ms * ms, name=f"{name}_probe_monitor")
    out_spikes = SpikeMonitor(output, name=f"{name}_out_spikes")
    # Each standalone run starts from the compiled initial state, so these counts (and
    # dv_abs) are per run without resetting them.
    hidden_spikes = SpikeMonitor(hidden, record=False, name=f"{name}_hidden_spikes")
    # The spikes of the analysis samples only (rec_steps): a SpikeMonitor records every
    # training run too.
    input_recorded = EventMonitor(inp, "recorded", name=f"{name}_input_recorded")
    hidden_recorded = EventMonitor(hidden, "recorded", name=f"{name}_hidden_recorded")
    objects += [sink, probe, probe_monitor, out_spikes, hidden_spikes, input_recorded,
                hidden_recorded]
    return BalancedNetwork(spec, Network(*objects, name=name), inp, hidden, output, syn_in,
                           syn_ei, syn_ie, syn_out, stim, label, out_spikes, hidden_spikes,
                           probe, probe_monitor, input_recorded=input_recorded,
                           hidden_recorded=hidden_recorded, syn_in_inh=syn_in_inh,
                           population=pop)


def memory_estimate(spec: BalancedSpec) -> MemoryEstimate:
    """The bytes of the arrays of :func:`build_balanced_network` for ``spec`` (see
    :func:`models.network.memory_estimate`): the input patches (at most the whole
    image per cell), the E-to-I and I-to-E inputs, the output synapses, the layers, the
    stimulus and the probe's STP recording (the output spikes depend on the activity
    and are left out)."""
    from brian2 import siemens

    def variables(model) -> int:  # the parts' variables and lastupdate
        return n_variables(combine(model, "g", siemens)["model"]) + 1

    def patch(radius: int) -> int:
        return min((2 * radius + 1) ** 2, spec.n_in)

    n_out_synapses = int(np.ceil(spec.n_hidden * spec.n_out * spec.p_out))
    synapses = [
        (spec.n_exc * patch(spec.rf_exc) + spec.n_inh * patch(spec.rf_inh),
         variables(STP_MODELS[spec.stp]), 1),
        (spec.n_inh * spec.k_ei, variables("static"), 1),
        (spec.n_exc * spec.k_ie, variables(["static", "equilibrium"]), 1),
        (n_out_synapses, variables("stdp_tutored"), 3),
        (min(spec.n_probe, spec.n_in), variables("stp_depressing"), 1),
    ]
    neurons = [
        (spec.n_in, n_variables(INPUT_EQS)),
        (spec.n_hidden, n_variables(get_neuron_model("lif_conductance").equations
                                    + HIDDEN_EQS)),
        (spec.n_out, n_variables(get_neuron_model("lif_tutored").equations) + 2),
    ]
    records = int(spec.n_samples * spec.steps_per_sample * spec.dt_ms / spec.record_dt_ms)
    return network.memory_estimate(
        neurons=neurons, synapses=synapses, inputs=(spec.n_samples + 1) * (spec.n_in + 1),
        events=[(min(spec.n_probe, spec.n_in) * records, 3)])
