"""Online gradient learning of weights, membrane decays and thresholds in a two-layer
spiking network with a voting output (the PLIF and STL protocols).

Fang, Yu, Chen, Masquelier, Huang & Tian (2021). Incorporating learnable membrane time
constant to enhance learning of spiking neural networks. ICCV, 2661-2671.
Sun, Cai, Yang, Cui, Xia, Yao & Guo (2024). A synapse-threshold synergistic learning
approach for spiking neural networks. IEEE TCDS 16(2), 544-558.
Bellec et al. (2020), Nat. Commun. 11:3625 (e-prop; see :mod:`models.eprop`).

The network
-----------
Discrete time, ``n_steps`` (T) steps per sample, all state zero at a sample's start.
Input ``a_i[t]``: the pixel ``x_i`` in every step ('current' encoding, a constant
current) or a Bernoulli spike of probability ``x_i`` ('bernoulli'). A hidden layer and
an output layer of ``n_classes * n_vote`` cells of the same neuron, in every step::

    X_j[t] = sum_i W_ji a_i[t]                     (no synaptic filter)
    H_j[t] = alpha_j V_j[t-1] + kin_j X_j[t]       kin = 1 - alpha (PLIF) or 1 (LIF)
    z_j[t] = H(H_j[t] - theta_j)                   (a spike needs H >= theta)
    V_j[t] = H_j[t] - R_j[t],  R_j[t] = H_j[t] z_j[t]     (hard reset to 0)

PLIF (Fang et al.) writes the decay as ``k = sigmoid(w) = 1/tau``, ``alpha = 1 - k``,
and learns ``w``, one per layer or one per cell; the LIF of STL (Sun et al.) has
``alpha = 0.5`` and no input factor, and learns every cell's threshold. The voting
output (Fang et al., Sun et al.): class ``c`` fires at rate ``r_c``, the spike count of
its ``n_vote`` cells over ``n_vote * T``; the loss of a sample is
``mean_c (r_c - onehot_c)**2``, a mini-batch's is the mean over its samples.

The cells are not the library's ``lif_learnable``: every cell keeps the per-step
eligibility factors of its learning rule, written in its state and its reset.

The gradient
------------
The reset ``R`` is kept out of the gradient (a constant, as e-prop does with the reset
of its LIF neurons), so ``dH[t+1]/dH[t] = alpha``. The output cells spike, so the
learning signal of a hidden cell, ``L_j[t] = sum_k W_kj kin_k delta_k[t]``, varies over
the sample (``delta_k[t] = dL/dH_k[t] = g_k psi_k[t] + alpha_k delta_k[t+1]``, with
``g_k`` the loss gradient of cell ``k``'s count and ``psi`` the surrogate derivative).
It is therefore not a single number per cell as in :mod:`models.eprop`: with a short
sample (T of 4-8 steps) every cell keeps its per-step eligibility factors (surrogate
``psi[t]``, ``dH[t]/dalpha`` and, for hidden cells, its spikes ``z[t]``) in T
variables, and at the sample boundary the network forms the exact learning signals and
gradients, from the output backwards, in one pass over each synapse::

    dL/dW_kj    = sum_t kin_k delta_k[t] z_j[t]
    dL/dW_ji    = sum_t kin_j delta_j[t] a_i[t]     (= x_i sum_t kin_j delta_j[t] for a current)
    dL/dtheta_j = -sum_t L_j[t] psi_j[t]             (g_k for an output cell)
    dL/dalpha_j = sum_t delta_j[t] (V_j[t-1] - X_j[t])     (PLIF; V_j[t-1] for LIF)
    dL/dw       = -k (1 - k) dL/dalpha                 (summed over the layer when shared)

These are the surrogate-gradient BPTT gradients of the network (tests/references/voting.py
derives them independently; tests/models/test_eprop_voting.py checks the engine against it).
Per synapse the work is one pass per sample over the synapses of inputs that were
active, not one per step. The papers' convolutional front ends, batch normalisation and
dropout are not part of this fully connected network.

How it runs inside Brian2
-------------------------
One clock, as in :mod:`models.eprop`. Every step: 'thresholds' fires Bernoulli inputs
and 'synapses' delivers them; 'after_synapses' steps the hidden cells (order 0), fires
and resets them (1, 2), delivers their spikes (3), steps, fires and resets the output
cells (4, 5, 6). At the first step after a sample (``when='start'``), only while
learning: class counts (order 1), output error and backward recursion (2), the
hidden-to-output pass that forms the learning signals and readout-weight gradients (3),
the hidden backward recursion (4), the input-weight gradients of active inputs (5); at a
batch end the Adam or SGD updates (6) and, for a decay shared by a layer, its reduction,
update and broadcast (6, 7, 8); then the per-sample reset (1000), the next sample's input
(1001) and, for the current encoding, its delivery (1003).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
from brian2 import EventMonitor, Network, NeuronGroup, Synapses, TimedArray

from models.devices import use_source_queues
from models.eprop import ADAM_UPDATE, BATCH_QUANTITIES, OPTIMIZERS, SGD_UPDATE, batch_schedule
from models import network
from models.network import (BATCH_END, ENDED, ENDED_START, SAMPLE_START, STEP, BatchedNetwork,
                            MemoryEstimate, n_variables, schedule, set_clock)

__all__ = ["VotingParameters", "VotingSpec", "VotingNetwork", "build_voting_network", "NEURONS", "ENCODINGS",
           "TAU_LEARNING", "MAX_STEPS", "decay_from_tau", "tau_from_decay", "learned_layout",
           "initial_state", "bernoulli_bits", "memory_estimate"]

NEURONS = ("plif", "lif")
ENCODINGS = ("current", "bernoulli")
#: How the membrane decay is learned: not at all, one per layer, one per cell.
TAU_LEARNING = (None, "layer", "neuron")
#: Per-step eligibility factors are T variables per cell; Bernoulli spikes of a sample
#: are one float's bits. Both are meant for short samples.
MAX_STEPS = 32


def decay_from_tau(tau: float) -> float:
    """``alpha = 1 - 1/tau`` (Fang et al.: ``k = 1/tau`` is the input factor)."""
    return 1.0 - 1.0 / tau


def tau_from_decay(alpha):
    """``tau = 1 / (1 - alpha)`` in steps."""
    return 1.0 / (1.0 - np.asarray(alpha, dtype=np.float64))


@dataclass(frozen=True, kw_only=True)
class VotingParameters:
    """The parameters of a voting network that do not come from the data or the study
    (defaults: the PLIF study's).

    ``n_hidden`` cells, ``n_vote`` output cells per class; ``batch_size`` samples per
    update; ``n_steps`` per sample of ``dt_ms`` (time only labels the steps: the dynamics
    are in steps). ``tau`` (initial ``alpha = 1 - 1/tau``, in steps, > 1), ``theta``
    (initial threshold). Input: ``encoding`` ('current' or 'bernoulli').
    ``weight_decay``: L2 added to every learned parameter's gradient, as
    ``torch.optim.Adam(weight_decay=...)`` does.
    """

    n_hidden: int = 800
    n_vote: int = 10
    batch_size: int = 32
    n_steps: int = 8
    dt_ms: float = 1.0
    tau: float = 2.0
    theta: float = 1.0
    encoding: str = "current"
    weight_decay: float = 0.0


@dataclass(frozen=True, kw_only=True)
class VotingSpec(VotingParameters):
    """Everything compiled into a voting network: its :class:`VotingParameters` and
    what comes from the data and the study.

    Sizes: ``n_in``, ``n_classes`` (each with ``n_vote`` output cells); ``n_samples`` per
    run in whole batches. Neuron: ``neuron`` ('plif': input times ``1 - alpha``; 'lif':
    input unscaled). Learning (what is compiled in; :meth:`VotingNetwork.run_args`
    switches each part on or off per run): ``learn_weights``, ``learn_tau`` (None,
    'layer', 'neuron'), ``learn_theta`` (per cell); ``surrogate_alpha`` (the arctan
    surrogate ``(a/2) / (1 + (pi a x/2)**2)`` of both papers, ``a = 2``); ``optimizer``
    ('adam', 'sgd'), ``adam_betas``, ``adam_eps``.
    """

    n_in: int
    n_classes: int
    n_samples: int
    neuron: str = "plif"
    learn_weights: bool = True
    learn_tau: str | None = None
    learn_theta: bool = False
    surrogate_alpha: float = 2.0
    optimizer: str = "adam"
    adam_betas: tuple = (0.9, 0.999)
    adam_eps: float = 1e-8

    @property
    def alpha(self) -> float:
        return decay_from_tau(self.tau)

    @property
    def n_out(self) -> int:
        return self.n_classes * self.n_vote

    @property
    def n_batches(self) -> int:
        return self.n_samples // self.batch_size

    def validate(self) -> "VotingSpec":
        for name in ("n_in", "n_hidden", "n_classes", "n_vote", "n_samples", "batch_size",
                     "n_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        if self.n_steps > MAX_STEPS:
            raise ValueError(f"n_steps must be at most {MAX_STEPS} (every cell keeps one "
                             f"variable per step); got {self.n_steps}")
        if self.n_samples % self.batch_size:
            raise ValueError(f"n_samples ({self.n_samples}) must be a multiple of batch_size "
                             f"({self.batch_size}): chunks hold whole batches")
        if not (isinstance(self.tau, (int, float)) and math.isfinite(self.tau) and self.tau > 1):
            raise ValueError(f"tau must be a number > 1 (steps): alpha = 1 - 1/tau and "
                             f"k = sigmoid(w) = 1/tau need it; got {self.tau!r}")
        for name in ("dt_ms", "theta", "surrogate_alpha", "adam_eps"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number; got {value!r}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be >= 0; got {self.weight_decay!r}")
        for name, allowed in (("neuron", NEURONS), ("encoding", ENCODINGS),
                              ("learn_tau", TAU_LEARNING), ("optimizer", OPTIMIZERS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}; got {getattr(self, name)!r}")
        b1, b2 = self.adam_betas
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"adam_betas must lie in [0, 1); got {self.adam_betas}")
        return self


# ======================================================================================
# Equations (``{T}``-indexed lines are generated: one variable per step)
# ======================================================================================

#: Input factor of the membrane equation.
KIN = {"plif": "(1 - alpha)", "lif": "1"}
#: dH[t]/dalpha at fixed V[t-1], read before the step.
DH_DALPHA = {"plif": "V - X", "lif": "V"}
SURROGATE = "(a_sg / 2) / (1 + (pi / 2 * a_sg * (V - theta))**2)"

LAYER_EQS = """
V : 1              # membrane (after the reset)
X : 1              # input of this step (weighted input spikes or current)
alpha : 1          # membrane decay per step, 1 - sigmoid(wtau)
wtau : 1           # k = sigmoid(wtau) = 1/tau (Fang et al.)
theta : 1          # threshold
n_spk : 1          # spikes in the current sample
sig : 1            # output cells: dL/dcount of the sample; hidden: unused
g_tau : 1          # gradient sums of the batch
g_theta : 1
m_tau : 1          # Adam moments
v_tau : 1
m_theta : 1
v_theta : 1
learn : 1 (shared)
lr : 1 (shared)
train_w : 1 (shared)      # 1: apply the weight updates (hidden: of both synapse groups)
train_tau : 1 (shared)    # 1: apply the decay updates
train_theta : 1 (shared)  # 1: apply the threshold updates
rec : 1 (shared)   # 1: emit 'rec' events (spikes of analysis runs)
"""
PER_STEP_EQS = """
psi_{k} : 1        # surrogate derivative at step {k}
u_{k} : 1          # dH/dalpha at step {k}
kd_{k} : 1         # kin * dL/dH at step {k} (formed at the boundary)
"""
HIDDEN_PER_STEP_EQS = """
z_{k} : 1          # spike at step {k}
L_{k} : 1          # learning signal dL/dz at step {k}
"""
LAYER_STEP = """
u_now = {dh_dalpha}
V = alpha * V + {kin} * X
psi_now = {surrogate}
"""
RECORD_STEP = "psi_{k} += int({STEP} == {k}) * psi_now\nu_{k} += int({STEP} == {k}) * u_now\n"
LAYER_THRESHOLD = "V >= theta"
LAYER_RESET = "V = 0\nn_spk += 1\n"
HIDDEN_RESET_STEP = "z_{k} += int({STEP} == {k})\n"
#: dL/dcount of output cell k: 2 (r_c - onehot_c) / n_classes / (n_vote T). The
#: factors are float constants: Brian2 computes a quotient of integers in single precision.
OUTPUT_ERROR = f"""
is_label = int(abs(cls - label({ENDED_START})) < 0.5)
has_label = int(label({ENDED_START}) > -0.5)
sig = has_label * err_scale * (rate_scale * Nv - is_label)
"""
VOTE = "Nv_post += n_spk_pre"

INPUT_EQS = """
x : 1              # this sample: pixel (current) or Bernoulli spikes as bits (bernoulli)
learn : 1 (shared)
"""
INPUT_LOAD = f"x = stim({SAMPLE_START}, i)\n"
INPUT_BIT = "a_{k} = int(x / {p}) % 2\n"
INPUT_BERNOULLI_SPIKE = f"(int(x / 2.0**{STEP}) % 2) == 1"
INPUT_LEARN_EVENT = f"{ENDED} > 0.5 and learn > 0.5 and x > 0"
INPUT_DRIVE_EVENT = f"{STEP} == 0 and x > 0"

SYNAPSE_EQS = """
w : 1
gw : 1
adam_m : 1
adam_v : 1
"""
NOISELESS_FORWARD = "X_post += w"
CURRENT_FORWARD = "X_post += w * x_pre"
CURRENT_GRADIENT = "gw += x_pre * kdsum_post\n"
BERNOULLI_GRADIENT_TERM = "a_{k}_pre * kd_{k}_post"
READOUT_GRADIENT_TERM = "z_{k}_pre * kd_{k}_post"
LEARNING_SIGNAL = "L_{k}_pre += w * kd_{k}_post\n"

#: Shared decay of a layer: reduction into one cell, update there, broadcast back.
TAU_PARAM_EQS = """
wtau : 1
gsum : 1
m_tau : 1
v_tau : 1
learn : 1 (shared)
lr : 1 (shared)
train_tau : 1 (shared)
"""
TAU_REDUCE = "gsum_post += g_tau_pre\ng_tau_pre = 0\n"
TAU_BROADCAST = "wtau_pre = wtau_post\nalpha_pre = 1 - 1 / (1 + exp(-wtau_post))\n"
#: Decay gradient with respect to w: dalpha/dw = -k (1 - k), k = 1 - alpha.
ALPHA_TO_W = "-(1 - alpha) * alpha"


class _BroadcastOrderFilter(logging.Filter):
    """Drops Brian2's order-dependence warning for :data:`TAU_BROADCAST` (whose first
    line no other code of the package has), and nothing else.

    Brian2 warns because the broadcast pathway's synapses all share one postsynaptic
    index (the layer's one parameter cell) and write presynaptic variables. The link
    connects every cell of the layer to that one cell, so each cell has exactly one
    synapse: every written element is written once, with a value read from the one
    cell, and the order of the synapses cannot matter (the tests check the one synapse
    per cell and that the warning is gone while others still pass)."""

    _TEXT = "may depend on the order of execution"
    _CODE = f"first line is: '{TAU_BROADCAST.splitlines()[0]}'"

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (self._TEXT in message and self._CODE in message)


def _silence_broadcast_order_warning() -> None:
    # The logger of Brian2's code generators (brian2.codegen.generators.base), which
    # emits the warning: a filter there sees no other package's records.
    logger = logging.getLogger("brian2.codegen.generators.base")
    if not any(isinstance(f, _BroadcastOrderFilter) for f in logger.filters):
        logger.addFilter(_BroadcastOrderFilter())


def _per_step(template: str, n_steps: int, **kw) -> str:
    return "".join(template.format(k=k, **kw) for k in range(n_steps))


def backward_code(spec: VotingSpec, output: bool) -> str:
    """The backward recursion of one layer at the boundary: ``kd_t = kin dL/dH[t]`` from
    the last step down, and the decay and threshold gradient sums."""
    signal = "sig" if output else "L_{k}"
    lines = []
    last = spec.n_steps - 1
    for k in reversed(range(spec.n_steps)):
        s = signal.format(k=k)
        # The first assignments make the temporaries per cell (vector) variables.
        lines += [f"d = {s} * psi_{k}" + ("" if k == last else " + alpha * d"),
                  f"kd_{k} = {KIN[spec.neuron]} * d",
                  f"acc_u {'=' if k == last else '+='} d * u_{k}",
                  f"acc_psi {'=' if k == last else '+='} {s} * psi_{k}"]
    if not output and spec.encoding == "current":
        lines.append("kdsum = " + " + ".join(f"kd_{k}" for k in range(spec.n_steps)))
    if spec.learn_tau:
        lines.append(f"g_tau += ({ALPHA_TO_W}) * acc_u")
    if spec.learn_theta:
        lines.append("g_theta -= acc_psi")
    return "\n".join(lines) + "\n"


def sample_reset_code(spec: VotingSpec, output: bool) -> str:
    names = ["V", "X", "n_spk"] + (["Nv", "sig"] if output else [])
    per_step = ["psi_{k}", "u_{k}", "kd_{k}"] + ([] if output else ["z_{k}", "L_{k}"])
    names += [p.format(k=k) for p in per_step for k in range(spec.n_steps)]
    return "".join(f"{n} = 0\n" for n in names)


def update_code(spec: VotingSpec, p: str, g: str, m: str, s: str, lr: str,
                after: str = "") -> str:
    """Batch-end update of ``p`` from the gradient sum ``g``, with L2 weight decay; the
    sum is cleared afterwards."""
    template = ADAM_UPDATE if spec.optimizer == "adam" else SGD_UPDATE
    grad = f"({g} + nb_batch * weight_decay * {p})" if spec.weight_decay else g
    return template.format(p=p, g=grad, m=m, s=s, lr=lr) + after + f"{g} = 0\n"


# ======================================================================================
# The network
# ======================================================================================


@dataclass
class VotingNetwork(BatchedNetwork):
    """Brian2 objects of a voting network compiled for ``spec.n_samples`` samples.

    ``w_in`` holds ``W_in[j, i]`` at synapse ``i * n_hidden + j``; ``w_out`` holds
    ``W_out[k, j]`` at ``j * n_out + k``. ``hidden_counts`` and ``output_counts`` record
    every cell's spike count at the end of each sample; ``rec_spikes`` the hidden spikes
    of runs with ``record=True``.
    """

    spec: VotingSpec
    output: NeuronGroup
    stim: TimedArray
    tau_params: dict = field(default_factory=dict)
    hidden_counts: EventMonitor | None = None
    output_counts: EventMonitor | None = None
    rec_spikes: EventMonitor | None = None

    def _layers(self):
        return (("hidden", self.hidden), ("output", self.output))

    def learned_variables(self) -> dict:
        """Every variable carried from run to run (see :func:`learned_layout`)."""
        owners = {"syn_in": self.syn_in, "syn_out": self.syn_out, "hidden": self.hidden,
                  "output": self.output}
        owners.update({f"tau_{k}": v for k, v in self.tau_params.items()})
        return {key: getattr(owners[owner], var)
                for key, (owner, var, _) in learned_layout(self.spec).items()}

    def run_args(self, stimulus, labels=None, *, lr=0.0, learn=False, adam_step0=0,
                 record=False, train=None) -> dict:
        """``run_args`` of one run (the learned state is added by the caller).

        Parameters
        ----------
        stimulus : array (n <= n_samples, n_in)
            Per sample and input: the pixel in [0, 1] ('current') or the Bernoulli spikes
            of the T steps as the bits of an integer ('bernoulli', see
            :func:`bernoulli_bits`). Padded with zeros.
        labels : int array (n,), optional
            Class per sample (padded with -1: no error, no gradient).
        lr, learn : learning rate, whether to learn.
        train : dict, optional
            Which of the compiled-in learnable parts change: ``{'weights': bool, 'tau':
            bool, 'theta': bool}`` (missing keys: True). Gradients and optimiser moments
            are kept for all, so the conditions of a study share one build.
        adam_step0 : int
            Adam updates made before this run (bias correction).
        record : bool
            Emit ``rec`` events (hidden spikes) for :attr:`rec_spikes`.
        """
        spec = self.spec
        stim = np.asarray(stimulus, dtype=np.float64)
        n = len(stim)
        if n > spec.n_samples or stim.ndim != 2 or stim.shape[1] != spec.n_in:
            raise ValueError(f"stimulus must have shape (<= {spec.n_samples}, {spec.n_in}); "
                             f"got {stim.shape}")
        padded = self.padded(stim, 0.0, spec.n_in, extra=1)
        lab, counts, steps_adam = batch_schedule(labels, n, spec.n_samples, spec.batch_size,
                                                 adam_step0)
        flag = float(bool(learn))
        args = {self.stim: padded, self.label: lab, self.batch_count: counts,
                self.adam_step: steps_adam,
                self.inp.learn: flag, self.hidden.rec: float(bool(record))}
        train = {"weights": True, "tau": True, "theta": True, **(train or {})}
        unknown = sorted(set(train) - {"weights", "tau", "theta"})
        if unknown:
            raise ValueError(f"train: unknown parts {unknown}; use weights, tau, theta")
        for _, group in self._layers():
            args[group.learn] = flag
            args[group.lr] = float(lr)
            args[group.train_w] = float(bool(train["weights"]))
            args[group.train_tau] = float(bool(train["tau"]))
            args[group.train_theta] = float(bool(train["theta"]))
        for param in self.tau_params.values():
            args[param.learn] = flag
            args[param.lr] = float(lr)
            args[param.train_tau] = float(bool(train["tau"]))
        return args

    def hidden_counts_per_sample(self) -> np.ndarray:
        """Hidden spike counts per sample of the last run, ``(n_samples, n_hidden)``."""
        return self.per_sample(self.hidden_counts, "n_spk", self.spec.n_hidden)

    def output_counts_per_sample(self) -> np.ndarray:
        """Output spike counts per sample of the last run, ``(n_samples, n_out)``."""
        return self.per_sample(self.output_counts, "n_spk", self.spec.n_out)

    def class_counts_per_sample(self) -> np.ndarray:
        """Spikes of each class's voting cells per sample, ``(n_samples, n_classes)``;
        the prediction is the class with most (the first of a tie)."""
        c = self.output_counts_per_sample()
        return c.reshape(len(c), self.spec.n_classes, self.spec.n_vote).sum(axis=2)

    def recorded_spikes(self) -> tuple:
        """``(sample, step, neuron)`` of the hidden spikes of the last run (``record``)."""
        return self.spikes_by_sample(self.rec_spikes)


def learned_layout(spec: VotingSpec) -> dict:
    """``{key: (owner, variable, size)}`` of the state carried from run to run: weights,
    decays (``alpha_*`` and their parameters ``wtau_*``, ``wtau_param_*`` for a decay
    shared by a layer), thresholds and the optimiser moments of what is learned.
    Owners: 'syn_in', 'syn_out', 'hidden', 'output', 'tau_hidden', 'tau_output'."""
    sizes = {"hidden": spec.n_hidden, "output": spec.n_out}
    out = {"w_in": ("syn_in", "w", spec.n_in * spec.n_hidden),
           "w_out": ("syn_out", "w", spec.n_hidden * spec.n_out)}
    for layer, n in sizes.items():
        for var in ("alpha", "wtau", "theta"):
            out[f"{var}_{layer}"] = (layer, var, n)
        if spec.learn_tau == "layer":
            out[f"wtau_param_{layer}"] = (f"tau_{layer}", "wtau", 1)
    if spec.optimizer != "adam":
        return out
    if spec.learn_weights:
        for side in ("in", "out"):
            owner, _, n = out[f"w_{side}"]
            out[f"adam_m_{side}"] = (owner, "adam_m", n)
            out[f"adam_v_{side}"] = (owner, "adam_v", n)
    for layer, n in sizes.items():
        if spec.learn_theta:
            out[f"adam_m_theta_{layer}"] = (layer, "m_theta", n)
            out[f"adam_v_theta_{layer}"] = (layer, "v_theta", n)
        if spec.learn_tau == "neuron":
            out[f"adam_m_tau_{layer}"] = (layer, "m_tau", n)
            out[f"adam_v_tau_{layer}"] = (layer, "v_tau", n)
        elif spec.learn_tau == "layer":
            out[f"adam_m_tau_{layer}"] = (f"tau_{layer}", "m_tau", 1)
            out[f"adam_v_tau_{layer}"] = (f"tau_{layer}", "v_tau", 1)
    return out


def initial_state(spec: VotingSpec, W_in, W_out) -> dict:
    """The learned state of an untrained network with ``W_in`` ``(n_hidden, n_in)`` and
    ``W_out`` ``(n_out, n_hidden)``: decays from ``tau`` (``w0 = -ln(tau - 1)``, Fang et
    al.), thresholds ``theta``, optimiser moments zero."""
    W_in = np.asarray(W_in, dtype=np.float64)
    W_out = np.asarray(W_out, dtype=np.float64)
    if W_in.shape != (spec.n_hidden, spec.n_in) or W_out.shape != (spec.n_out, spec.n_hidden):
        raise ValueError(f"W_in must be {(spec.n_hidden, spec.n_in)} and W_out "
                         f"{(spec.n_out, spec.n_hidden)}; got {W_in.shape}, {W_out.shape}")
    first = {"w_in": W_in.T.ravel(), "w_out": W_out.T.ravel(), "alpha": spec.alpha,
             "wtau": -math.log(spec.tau - 1.0), "theta": float(spec.theta)}
    state = {}
    for key, (_, var, n) in learned_layout(spec).items():
        value = first.get(key, first.get(var, 0.0))
        state[key] = np.asarray(value, dtype=np.float64) if np.ndim(value) \
            else np.full(n, value, dtype=np.float64)
    return state


def bernoulli_bits(images, n_steps: int, rng) -> np.ndarray:
    """Bernoulli spikes (``P(spike) = pixel`` in each of ``n_steps`` steps) of every
    pixel, as the bits of one float per pixel (bit ``t``: a spike at step ``t``)."""
    x = np.asarray(images, dtype=np.float64)
    spikes = rng.random((n_steps,) + x.shape) < x
    weights = (2.0 ** np.arange(n_steps)).reshape((n_steps,) + (1,) * x.ndim)
    return (spikes * weights).sum(axis=0)


def _layer_equations(spec: VotingSpec, output: bool) -> str:
    eqs = LAYER_EQS + _per_step(PER_STEP_EQS, spec.n_steps)
    if output:
        return eqs + "Nv : 1  # spikes of this cell's class\ncls : 1 (constant)\n"
    return eqs + _per_step(HIDDEN_PER_STEP_EQS, spec.n_steps) + "kdsum : 1\n"


def _input_equations(spec: VotingSpec) -> str:
    return INPUT_EQS + (_per_step("a_{k} : 1\n", spec.n_steps)
                        if spec.encoding == "bernoulli" else "")


def _layer_group(spec: VotingSpec, n: int, output: bool, constants: dict, name: str):
    T = spec.n_steps
    eqs = _layer_equations(spec, output)
    reset = LAYER_RESET + ("" if output else _per_step(HIDDEN_RESET_STEP, T, STEP=STEP))
    group = NeuronGroup(
        n, eqs, threshold=LAYER_THRESHOLD, reset=reset,
        events={"boundary": f"{ENDED} > 0.5",
                "backward": f"{ENDED} > 0.5 and learn > 0.5",
                "apply": f"{BATCH_END} > 0.5 and learn > 0.5",
                "newsample": f"{STEP} == 0",
                "rec": "V >= theta and rec > 0.5"},
        namespace=dict(constants), name=name)
    base = 4 if output else 0
    step = (LAYER_STEP.format(dh_dalpha=DH_DALPHA[spec.neuron], kin=KIN[spec.neuron],
                              surrogate=SURROGATE)
            + _per_step(RECORD_STEP, T, STEP=STEP))
    if output or spec.encoding == "bernoulli":
        # Spike input is new every step; a constant current stays for the sample.
        group.run_regularly("X = 0", when="groups", name=f"{name}_clear")
    group.run_regularly(step, when="after_synapses", order=base, name=f"{name}_step")
    group.thresholder["spike"].when = "after_synapses"
    group.thresholder["spike"].order = base + 1
    group.resetter["spike"].when = "after_synapses"
    group.resetter["spike"].order = base + 2
    group.set_event_schedule("rec", when="after_synapses", order=base + 1)
    for event in ("boundary", "backward", "apply", "newsample"):
        group.set_event_schedule(event, when="start", order=0)
    if output:
        group.run_on_event("backward", OUTPUT_ERROR + backward_code(spec, True),
                           when="start", order=2)
    else:
        group.run_on_event("backward", backward_code(spec, False), when="start", order=4)
    apply = ""
    if spec.learn_theta:
        apply += update_code(spec, "theta", "g_theta", "m_theta", "v_theta", "lr * train_theta")
    if spec.learn_tau == "neuron":
        apply += update_code(spec, "wtau", "g_tau", "m_tau", "v_tau", "lr * train_tau",
                             after="alpha = 1 - 1 / (1 + exp(-wtau))\n")
    if apply:
        group.run_on_event("apply", BATCH_QUANTITIES + apply, when="start", order=6)
    group.run_on_event("newsample", sample_reset_code(spec, output), when="start", order=1000)
    return group


def build_voting_network(spec: VotingSpec, name: str = "voting") -> VotingNetwork:
    """Build the voting network of ``spec`` (call :func:`models.devices.select_device`
    first). Sets ``defaultclock.dt``; every object runs on the default clock."""
    spec.validate()
    T = spec.n_steps
    dt = set_clock(spec.dt_ms)
    T_sample = T * dt
    b1, b2 = spec.adam_betas
    stim = TimedArray(np.zeros((spec.n_samples + 1, spec.n_in)), dt=T_sample,
                      name=f"{name}_stim")
    label = TimedArray(np.full(spec.n_samples + 1, -1.0), dt=T_sample, name=f"{name}_label")
    T_batch = spec.batch_size * T_sample
    batch_count = TimedArray(np.zeros(spec.n_batches), dt=T_batch, name=f"{name}_batch_count")
    adam_step = TimedArray(np.ones(spec.n_batches), dt=T_batch, name=f"{name}_adam_step")
    constants = dict(n_steps=T, batch_size=spec.batch_size, T_sample=T_sample,
                     rate_scale=1.0 / (spec.n_vote * T),
                     err_scale=2.0 / (spec.n_classes * spec.n_vote * T),
                     a_sg=spec.surrogate_alpha,
                     adam_beta1=b1, adam_beta2=b2, adam_eps=spec.adam_eps,
                     weight_decay=spec.weight_decay, batch_count=batch_count,
                     adam_step=adam_step)

    # -- input ----------------------------------------------------------------------------
    bernoulli = spec.encoding == "bernoulli"
    input_eqs = _input_equations(spec)
    events = {"learn": INPUT_LEARN_EVENT, "load": f"{STEP} == 0",
              "drive": INPUT_DRIVE_EVENT, "apply": f"{BATCH_END} > 0.5 and learn > 0.5"}
    inp = NeuronGroup(spec.n_in, input_eqs,
                      threshold=INPUT_BERNOULLI_SPIKE if bernoulli else None,
                      reset="" if bernoulli else None,
                      events=events, namespace=dict(constants, stim=stim), name=f"{name}_in")
    inp.set_event_schedule("learn", when="start", order=0)
    inp.set_event_schedule("apply", when="start", order=0)
    inp.set_event_schedule("load", when="start", order=1000)
    load = INPUT_LOAD + ("".join(INPUT_BIT.format(k=k, p=float(2 ** k)) for k in range(T))
                         if bernoulli else "")
    inp.run_on_event("load", load, when="start", order=1001)
    inp.set_event_schedule("drive", when="start", order=1002)

    # -- layers ---------------------------------------------------------------------------
    hidden = _layer_group(spec, spec.n_hidden, False, constants, f"{name}_hidden")
    output = _layer_group(spec, spec.n_out, True, constants, f"{name}_output")
    output.cls = np.arange(spec.n_out) // spec.n_vote
    output.namespace["label"] = label
    objects = [inp, hidden, output]

    vote = Synapses(output, output, on_pre={"vote": VOTE}, on_event={"vote": "backward"},
                    namespace=dict(constants), name=f"{name}_vote")
    cells = np.arange(spec.n_out)
    pre, post = np.meshgrid(cells, cells, indexing="ij")
    same = (pre // spec.n_vote) == (post // spec.n_vote)
    vote.connect(i=pre[same], j=post[same])
    schedule(vote, vote=("start", 1))
    objects.append(vote)

    # -- synapses -------------------------------------------------------------------------
    def weight_update(lr):
        if not spec.learn_weights:
            return None
        return BATCH_QUANTITIES + update_code(spec, "w", "gw", "adam_m", "adam_v", lr)

    in_paths = {"pre": NOISELESS_FORWARD} if bernoulli else {"drive": CURRENT_FORWARD}
    in_events = {"pre": "spike"} if bernoulli else {"drive": "drive"}
    if spec.learn_weights:
        in_paths["learn"] = (
            "gw += " + " + ".join(BERNOULLI_GRADIENT_TERM.format(k=k) for k in range(T)) + "\n"
            if bernoulli else CURRENT_GRADIENT)
        in_events["learn"] = "learn"
        in_paths["apply"] = weight_update("lr_post * train_w_post")
        in_events["apply"] = "apply"
    syn_in = Synapses(inp, hidden, SYNAPSE_EQS, on_pre=in_paths, on_event=in_events,
                      namespace=dict(constants), name=f"{name}_w_in")
    syn_in.connect()
    slots = {"drive": ("start", 1003), "learn": ("start", 5), "apply": ("start", 6)}
    schedule(syn_in, **{path: slot for path, slot in slots.items() if path in in_paths})

    out_paths = {"pre": NOISELESS_FORWARD,
                 "bwd": _per_step(LEARNING_SIGNAL, T)}
    if spec.learn_weights:
        out_paths["bwd"] += ("gw += " + " + ".join(READOUT_GRADIENT_TERM.format(k=k)
                                                   for k in range(T)) + "\n")
        out_paths["apply"] = weight_update("lr_pre * train_w_pre")
    out_events = {"pre": "spike", "bwd": "backward", "apply": "apply"}
    syn_out = Synapses(hidden, output, SYNAPSE_EQS, on_pre=out_paths,
                       on_event={p: out_events[p] for p in out_paths},
                       namespace=dict(constants), name=f"{name}_w_out")
    syn_out.connect()
    schedule(syn_out, pre=("after_synapses", 3), bwd=("start", 3))
    if spec.learn_weights:
        schedule(syn_out, apply=("start", 6))
    use_source_queues(syn_in, syn_out, vote)
    objects += [syn_in, syn_out]

    # -- a decay shared by a layer ----------------------------------------------------------
    tau_params = {}
    if spec.learn_tau == "layer":
        _silence_broadcast_order_warning()
        for layer_name, group in (("hidden", hidden), ("output", output)):
            param = NeuronGroup(1, TAU_PARAM_EQS,
                                events={"apply": f"{BATCH_END} > 0.5 and learn > 0.5"},
                                namespace=dict(constants), name=f"{group.name}_tau")
            param.set_event_schedule("apply", when="start", order=0)
            param.run_on_event("apply", BATCH_QUANTITIES + update_code(
                spec, "wtau", "gsum", "m_tau", "v_tau", "lr * train_tau"), when="start", order=7)
            link = Synapses(group, param, on_pre={"reduce": TAU_REDUCE},
                            on_post={"broadcast": TAU_BROADCAST},
                            on_event={"reduce": "apply", "broadcast": "apply"},
                            namespace=dict(constants), name=f"{group.name}_tau_link")
            link.connect()
            schedule(link, reduce=("start", 6), broadcast=("start", 8))
            tau_params[layer_name] = param
            objects += [param, link]

    # -- monitors ---------------------------------------------------------------------------
    hidden_counts = EventMonitor(hidden, "boundary", variables=["n_spk"], when="start",
                                 order=2, name=f"{name}_hidden_counts")
    output_counts = EventMonitor(output, "boundary", variables=["n_spk"], when="start",
                                 order=2, name=f"{name}_output_counts")
    rec_spikes = EventMonitor(hidden, "rec", when="after_synapses", order=2,
                              name=f"{name}_rec_spikes")
    objects += [hidden_counts, output_counts, rec_spikes]
    net = Network(*objects, name=name)
    return VotingNetwork(spec=spec, network=net, inp=inp, hidden=hidden, syn_in=syn_in,
                         syn_out=syn_out, label=label, batch_count=batch_count,
                         adam_step=adam_step, output=output, stim=stim, tau_params=tau_params,
                         hidden_counts=hidden_counts, output_counts=output_counts,
                         rec_spikes=rec_spikes)


def memory_estimate(spec: VotingSpec) -> MemoryEstimate:
    """The bytes of the arrays of :func:`build_voting_network` for ``spec`` (see
    :func:`models.network.memory_estimate`): the all-to-all input and readout synapses
    with their optimiser state, the layers with their per-step traces, the vote
    synapses within each class, the stimulus, and the monitors of the per-sample
    counts (the hidden spikes of recorded runs depend on the activity and are left
    out)."""
    n_in, n_hidden, n_out = spec.n_in, spec.n_hidden, spec.n_out
    weights = n_variables(SYNAPSE_EQS)
    synapses = [(n_in * n_hidden, weights, 3), (n_hidden * n_out, weights, 3),
                (n_out * spec.n_vote, 0, 1)]
    neurons = [(n_in, n_variables(_input_equations(spec))),
               (n_hidden, n_variables(_layer_equations(spec, False))),
               (n_out, n_variables(_layer_equations(spec, True)))]
    if spec.learn_tau == "layer":
        synapses += [(n_hidden, 0, 2), (n_out, 0, 2)]
    return network.memory_estimate(
        neurons=neurons, synapses=synapses,
        inputs=(spec.n_samples + 1) * (n_in + 1) + 2 * spec.n_batches,
        events=[(spec.n_samples * n_hidden, 1), (spec.n_samples * n_out, 1)])
