"""Eligibility propagation (e-prop) inside a compiled Brian2 network.

Bellec, Scherr, Subramoney, Hajek, Salaj, Legenstein & Maass (2020). A solution to the
learning dilemma for recurrent networks of spiking neurons. Nat. Commun. 11:3625.
https://doi.org/10.1038/s41467-020-17236-y

The network
-----------
Discrete time, one Brian2 step ``dt`` per model step, ``n_steps`` steps per sample, all
state zero at the start of a sample. Input neurons spike at most once per sample, at a
step given per sample (a latency code). Hidden: current-based LIF neurons, readout:
leaky integrators, in every step ``t``::

    I_j[t] = beta I_j[t-1] + sum_i W_ji s_i[t]          beta  = exp(-dt/tau_syn)
    v_j[t] = alpha_j v_j[t-1] + I_j[t] - c_j[t]          alpha = exp(-dt/tau_mem)
    c_j[t] = theta_j z_j[t-1]                            (reset by subtraction)
    z_j[t] = H(v_j[t] - theta_j)                         (a spike needs v > theta)
    y_k[t] = kappa y_k[t-1] + sum_j W_kj z_j[t]          kappa = exp(-dt/tau_out)

The loss is a function of the logits ``c Y_k``, ``Y_k = sum_t y_k[t]`` the time-summed
readout and ``c`` the ``logit_scale`` (``1/n_steps``: the time average): softmax
cross-entropy (``loss='ce'``) or ``0.5 ||c Y - onehot||^2`` (``loss='mse'``), so
``g_k = dL/dY_k`` is the same in every step and known at the end of the sample. (Losses
on the maximum over time, as in some of the papers, cannot be computed online.)

The neurons are not the library's ``lif_current`` and ``readout``: their eligibility
factors (surrogate, prefix sums, readout filter) are stepped with the membrane itself.

The gradient, exactly
---------------------
With no recurrence and the reset ``c`` kept out of the gradient, e-prop with the readout
filter applied to the eligibility traces is the surrogate-gradient BPTT gradient
(tests/references/eprop.py derives it; tests/models/test_eprop.py checks this network
against an independent numpy BPTT). With the learning signal ``l_j = sum_k B_jk g_k``
(``B = W_out.T`` or fixed random feedback weights), ``G(t) = sum_{t' >= t} kappa**(t'-t)``
and the surrogate ``psi_j[t]``, write ``q_j[t] = G(t) psi_j[t]``; then::

    dL/dtheta_j  = -l_j sum_t q_j[t]
    dL/dalpha_j  =  l_j sum_t q_j[t] e_j[t],     e_j[t] = alpha_j e_j[t-1] + v_j[t-1]
    dL/dW_kj     =  g_k sum_t G(t) z_j[t]
    dL/dW_ji     =  l_j sum_{a: s_i[a]=1} sum_{t >= a} q_j[t] h_j(t - a),
    h_j(n)       =  cA_j alpha_j**n + cB_j beta**n,  cA = alpha/(alpha-beta), cB = -beta/(alpha-beta)
                    ((n + 1) alpha**n when tau_mem = tau_syn)

``h_j`` is the postsynaptic potential of one input spike, so the per-synapse eligibility
needs no per-step work: the suffix sums over ``t >= a`` are a total minus a prefix,
``sum_{t>=a} q[t] alpha**(t-a) = alpha**(-a) (P_tot - P(a))`` with the per-neuron prefix
``P(t) = sum_{t'<t} q[t'] alpha**t'``. A synapse adds ``alpha**(-a)`` (``Da``) and
``alpha**(-a) P(a)`` (``Ca``) when it delivers a spike, in the pass that transmits it, and
the eligibility of the sample is ``cA (P_tot Da - Ca) + cB (...beta...)``, evaluated at
the sample boundary only for inputs that spiked. For equal decays the two sums are
``sum q[t] t alpha**t`` and ``(1 - a) sum q[t] alpha**t``. The subtraction loses about
``1e-16 * beta**(-n_steps)`` of relative precision (5e-8 for 100 steps of 1 ms with
``tau_syn = 5 ms``); :func:`check_dynamic_range` refuses configurations where this
exceeds 1e-6.

Mini-batches
------------
Gradients of ``batch_size`` samples are summed per synapse and neuron, divided by the
number of real samples of the batch (padding samples have label -1 and contribute
nothing) and applied at the batch's last boundary with SGD or Adam. Then, optionally,
Gaussian noise ``sigma * N(0, 1)`` is added to every weight, and the sign constraints
are re-imposed by projection (input weights non-negative, readout weights with the sign
of the presynaptic cell: Dale's law). Chunks hold whole batches, so no gradient state
crosses a chunk; the Adam moments and step count do (``run_args``).

How it runs inside Brian2
-------------------------
One clock. In every step: 'groups' decays ``I`` and ``y``; 'thresholds' fires the input
neurons whose step has come; 'synapses' transmits them (and adds to ``Ca``, ``Da``,
``Cb``, ``Db``); 'after_synapses' updates ``v`` and the per-neuron traces (order 0),
fires hidden neurons (order 1; their reset at 2), transmits hidden spikes to the readout
(order 3) and sums ``Y`` (order 4). At the first step after each sample (``when='start'``): the softmax
normaliser (readout to readout, order 1), the output error (2), the learning signal and
the readout-weight gradient (hidden to readout, 3), the per-neuron gradients (4), the
input-weight gradients of the inputs that spiked (5), at a batch end the updates (6),
then the reset of the per-sample state (1000).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from brian2 import EventMonitor, Network, NeuronGroup, Synapses, TimedArray

from models import network
from models.devices import use_source_queues
from models.network import (BATCH_END, ENDED, ENDED_START, SAMPLE_START, STEP, BatchedNetwork,
                            MemoryEstimate, n_variables, schedule, set_clock,
                            zero_at_sample_start)

__all__ = ["EpropParameters", "EpropSpec", "EpropNetwork", "build_eprop_network", "check_dynamic_range",
           "memory_estimate", "SURROGATES", "LOSSES", "OPTIMIZERS", "FEEDBACK", "batch_schedule"]

SURROGATES = ("pwl", "sigmoid")
LOSSES = ("ce", "mse")
OPTIMIZERS = ("sgd", "adam")
FEEDBACK = ("symmetric", "random")

#: Largest relative rounding error allowed in the factorised eligibility (see above).
_MAX_PRECISION_LOSS = 1e-6


@dataclass(frozen=True, kw_only=True)
class EpropParameters:
    """The parameters of an e-prop network that do not come from the data or from how
    the run is chunked and constrained (defaults: the E:I-ratio protocol's).

    ``n_hidden`` cells; ``batch_size`` samples per update; ``n_steps`` per sample of
    ``dt_ms``. Dynamics (ms): ``tau_mem`` (initial ``alpha``), ``tau_syn``,
    ``tau_out``; ``theta`` (initial threshold, the membrane is dimensionless);
    ``logit_scale`` (logits are ``logit_scale`` times the time-summed readout).
    Rule: ``surrogate`` ('pwl': ``gamma * max(0, 1 - |v - theta|/theta)``, Bellec et al.;
    'sigmoid': see :class:`EpropSpec`), ``feedback`` ('symmetric': ``B = W_out.T``;
    'random': fixed ``B``), ``optimizer`` ('sgd', 'adam'). ``nonnegative_input``: input
    weights kept >= 0.
    """

    n_hidden: int = 100
    batch_size: int = 256
    n_steps: int = 100
    dt_ms: float = 1.0
    tau_mem: float = 10.0
    tau_syn: float = 5.0
    tau_out: float = 10.0
    theta: float = 1.0
    logit_scale: float = 1.0
    surrogate: str = "pwl"
    gamma: float = 0.3
    feedback: str = "symmetric"
    optimizer: str = "sgd"
    nonnegative_input: bool = False


@dataclass(frozen=True, kw_only=True)
class EpropSpec(EpropParameters):
    """Everything compiled into an e-prop network: its :class:`EpropParameters` and the
    sizes that come from the data, ``n_in`` and ``n_out``, and ``n_samples`` per run (the
    chunk, whole batches).

    Rule: ``beta_sg`` (steepness of the 'sigmoid' surrogate, the derivative of
    ``sigmoid(beta_sg (v - theta))``), ``loss`` ('ce', 'mse'), ``learn_alpha``,
    ``learn_theta`` (per-neuron decay and threshold; weights are always learned),
    ``adam_betas``, ``adam_eps``. Constraints: ``n_exc`` (the first ``n_exc`` hidden
    cells are excitatory, the rest inhibitory; ``None``: no sign constraint on readout
    weights), ``weight_noise`` (compile the update noise; its sigma is set per run).
    """

    n_in: int
    n_out: int
    n_samples: int
    beta_sg: float = 5.0
    loss: str = "ce"
    learn_alpha: bool = False
    learn_theta: bool = False
    adam_betas: tuple = (0.9, 0.999)
    adam_eps: float = 1e-8
    n_exc: int | None = None
    weight_noise: bool = False

    @property
    def alpha(self) -> float:
        return math.exp(-self.dt_ms / self.tau_mem)

    @property
    def beta(self) -> float:
        return math.exp(-self.dt_ms / self.tau_syn)

    @property
    def kappa(self) -> float:
        return math.exp(-self.dt_ms / self.tau_out)

    @property
    def equal_decays(self) -> bool:
        """``tau_mem == tau_syn``: the kernel is ``(n + 1) alpha**n`` (an alpha function)."""
        return math.isclose(self.tau_mem, self.tau_syn)

    @property
    def n_batches(self) -> int:
        return self.n_samples // self.batch_size

    def validate(self) -> "EpropSpec":
        for name in ("n_in", "n_hidden", "n_out", "n_samples", "batch_size", "n_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        if self.n_samples % self.batch_size:
            raise ValueError(f"n_samples ({self.n_samples}) must be a multiple of batch_size "
                             f"({self.batch_size}): chunks hold whole batches")
        for name in ("dt_ms", "tau_mem", "tau_syn", "tau_out", "theta", "gamma", "beta_sg",
                     "adam_eps", "logit_scale"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number; got {value!r}")
        if self.equal_decays and self.learn_alpha:
            raise ValueError("learn_alpha needs tau_mem != tau_syn: the eligibility kernel "
                             "for equal decays, (n + 1) alpha**n, holds only while the decays "
                             f"stay equal (both are {self.tau_mem} ms)")
        for name, allowed in (("surrogate", SURROGATES), ("loss", LOSSES),
                              ("optimizer", OPTIMIZERS), ("feedback", FEEDBACK)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}; got {getattr(self, name)!r}")
        if self.n_exc is not None and not 0 <= self.n_exc <= self.n_hidden:
            raise ValueError(f"n_exc must lie in [0, n_hidden={self.n_hidden}]; got {self.n_exc}")
        b1, b2 = self.adam_betas
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"adam_betas must lie in [0, 1); got {self.adam_betas}")
        check_dynamic_range(self)
        return self


def check_dynamic_range(spec: EpropSpec) -> float:
    """Relative precision lost by the factorised eligibility, ``1e-16 * r**(-n_steps)``
    for the faster of the membrane and synaptic decays ``r``; raises ``ValueError`` above
    1e-6 (use fewer steps per sample or longer time constants)."""
    fastest = min(spec.tau_mem, spec.tau_syn)
    exponent = spec.n_steps * spec.dt_ms / fastest
    loss = 1e-16 * math.exp(min(exponent, 700.0))
    if loss > _MAX_PRECISION_LOSS:
        raise ValueError(
            f"n_steps * dt / min(tau_mem, tau_syn) = {exponent:.1f} is too large for the "
            f"factorised eligibility (relative rounding error {loss:.1e} > "
            f"{_MAX_PRECISION_LOSS:.0e}); keep it below {math.log(_MAX_PRECISION_LOSS / 1e-16):.1f}")
    return loss


# ======================================================================================
# Equations
# ======================================================================================

#: G(t) = sum_{t' >= t} kappa**(t' - t) for the current step.
READOUT_FILTER = f"((1 - kappa**(n_steps - {STEP})) / (1 - kappa))"

INPUT_EQS = """
s_in : 1           # step of this input's spike in the current sample (-1: none)
spiked : 1         # 1 once it has spiked in the current sample
learn : 1 (shared) # 1: accumulate gradients and apply them at batch ends
"""
INPUT_THRESHOLD = f"abs({STEP} - s_in) < 0.5"
INPUT_RESET = "spiked = 1"
INPUT_LEARN_EVENT = f"{ENDED} > 0.5 and learn > 0.5 and spiked > 0.5"
INPUT_APPLY_EVENT = f"{BATCH_END} > 0.5 and learn > 0.5"
# The extra row (index n_samples) holds -1: nothing spikes in the run's extra step.
INPUT_LOAD = f"""
s_in = step_in({SAMPLE_START}, i)
spiked = 0
"""

HIDDEN_EQS = """
v : 1              # membrane (threshold theta; rest and reset target 0)
I : 1              # synaptic current
c : 1              # reset to subtract in the next step (theta z[t-1], no gradient)
alpha : 1          # membrane decay per step
theta : 1          # threshold
psi : 1            # surrogate derivative dz/dv of this step
e_alpha : 1        # dv/dalpha with the reset frozen
Q_theta : 1        # sum_t G psi
Q_alpha : 1        # sum_t G psi e_alpha
Ua : 1             # alpha**(-t) * sum_{t'<t} G psi alpha**t'
ra : 1             # alpha**(-t)
Ub : 1             # beta**(-t) * sum_{t'<t} G psi beta**t'
rb : 1             # beta**(-t)
Zs : 1             # sum over own spikes of G(t)
n_spk : 1          # spikes in the current sample
l : 1              # learning signal sum_k B_jk g_k
g_alpha : 1        # gradient sums of the batch
g_theta : 1
m_alpha : 1        # Adam moments
v_alpha : 1
m_theta : 1
v_theta : 1
dale : 1 (constant)  # +1 excitatory, -1 inhibitory
learn : 1 (shared)
rec : 1 (shared)   # 1: emit 'rec' events for a spike monitor (analysis runs)
lr : 1 (shared)
sigma : 1 (shared)
"""
HIDDEN_DECAY = "I = beta * I"
SURROGATE_CODE = {
    "pwl": "psi = gamma * clip(1 - abs(v - theta) / theta, 0, 1)",
    "sigmoid": "psi = beta_sg / (2 + exp(beta_sg * (v - theta)) + exp(-beta_sg * (v - theta)))",
}
HIDDEN_STEP = f"""
e_alpha = alpha * e_alpha + v
v = alpha * v + I - c
c = 0
{{surrogate}}
Q_theta += {READOUT_FILTER} * psi
Q_alpha += {READOUT_FILTER} * psi * e_alpha
Ua = (Ua + {READOUT_FILTER} * psi) / alpha
ra = ra / alpha
Ub = (Ub + {READOUT_FILTER} * psi) / beta
rb = rb / beta
"""
# Equal decays: Ua carries sum_{t'<t} G psi t' alpha**t' and Ub sum_{t'<t} G psi alpha**t'
# (both times alpha**(-t)); rb is unused.
HIDDEN_STEP_EQUAL = HIDDEN_STEP.replace(
    f"Ua = (Ua + {READOUT_FILTER} * psi) / alpha", f"Ua = (Ua + {READOUT_FILTER} * psi * {STEP}) / alpha"
).replace(
    f"Ub = (Ub + {READOUT_FILTER} * psi) / beta\nrb = rb / beta", f"Ub = (Ub + {READOUT_FILTER} * psi) / alpha"
)
HIDDEN_THRESHOLD = "v > theta"
HIDDEN_RESET = f"""
c = theta
n_spk += 1
Zs += {READOUT_FILTER}
"""
HIDDEN_BOUNDARY_EVENT = f"{ENDED} > 0.5"
HIDDEN_REC_EVENT = "v > theta and rec > 0.5"
# Every step; nonzero only at the boundary after a sample and when learning.
HIDDEN_GRADIENTS = {
    "alpha": f"g_alpha += {ENDED} * learn * l * Q_alpha\n",
    "theta": f"g_theta -= {ENDED} * learn * l * Q_theta\n",
}
# ra and rb restart at 1.
HIDDEN_RESET_SAMPLE = ("\n"
                       + zero_at_sample_start("v", "I", "c", "e_alpha", "Q_theta", "Q_alpha",
                                              "Ua", "Ub")
                       + f"ra = ra * int({STEP} != 0) + int({STEP} == 0)\n"
                       + f"rb = rb * int({STEP} != 0) + int({STEP} == 0)\n"
                       + zero_at_sample_start("Zs", "n_spk", "l"))

READOUT_EQS = """
y : 1              # leaky readout
Y : 1              # sum over the sample's steps of y
Zn : 1             # softmax normaliser sum_m exp(c (Y_m - Y_k))
err : 1            # dL/dY of the sample that just ended (0 for padding or no learning)
learn : 1 (shared)
"""
READOUT_DECAY = "y = kappa * y"
# Readout to readout, all pairs: softmax_k = 1 / sum_m exp(c (Y_m - Y_k)) never overflows.
SOFTMAX_NORMALISER = "Zn_post += exp(logit_scale * (Y_pre - Y_post))"
READOUT_SUM = "Y += y"
READOUT_BOUNDARY_EVENT = f"{ENDED} > 0.5"
_ERROR = {
    "ce": "logit_scale * (1 / clip(Zn, 1, 1e300) - is_label)",  # Zn >= 1 (its own term)
    "mse": "logit_scale * (logit_scale * Y - is_label)",
}
READOUT_ERROR = f"""
is_label = int(abs(i - label({ENDED_START})) < 0.5)
err = {ENDED} * learn * int(label({ENDED_START}) > -0.5) * ({{error}})
"""
READOUT_RESET_SAMPLE = "\n" + zero_at_sample_start("y", "Y", "Zn")

SYNAPSE_EQS = """
w : 1              # weight
gw : 1             # gradient sum of the batch
adam_m : 1         # Adam moments
adam_v : 1
"""
INPUT_SYNAPSE_EQS = SYNAPSE_EQS + """
Ca : 1             # sum over deliveries at step a of alpha**(-a) P_alpha(a)
Da : 1             # sum over deliveries of alpha**(-a)
Cb : 1
Db : 1
"""
INPUT_FORWARD = """
I_post += w
Ca += Ua_post
Da += ra_post
Cb += Ub_post
Db += rb_post
"""
INPUT_GRADIENT = """
elig_a = (Ua_post / ra_post) * Da - Ca
elig_b = (Ub_post / rb_post) * Db - Cb
gw += l_post * (alpha_post * elig_a - beta * elig_b) / (alpha_post - beta)
Ca = 0
Da = 0
Cb = 0
Db = 0
"""
INPUT_FORWARD_EQUAL = f"""
I_post += w
Ca += Ua_post
Da += ra_post
Cb += (1 - {STEP}) * Ub_post
Db += (1 - {STEP}) * ra_post
"""
INPUT_GRADIENT_EQUAL = """
gw += l_post * ((Ua_post / ra_post) * Da - Ca + (Ub_post / ra_post) * Db - Cb)
Ca = 0
Da = 0
Cb = 0
Db = 0
"""
READOUT_FORWARD = "y_post += w"
READOUT_BACKWARD = """
l_pre += {feedback} * err_post
gw += err_post * Zs_pre
"""

#: Update of a parameter ``p`` from its gradient sum ``g`` (names substituted), applied
#: at a batch end; ``nb`` is the number of real samples in the batch.
SGD_UPDATE = "{p} = {p} - has_batch * {lr} * {g} / nb_batch\n"
ADAM_UPDATE = """
{m} = {m} + has_batch * (1 - adam_beta1) * ({g} / nb_batch - {m})
{s} = {s} + has_batch * (1 - adam_beta2) * (({g} / nb_batch)**2 - {s})
{p} = {p} - has_batch * {lr} * ({m} / (1 - adam_beta1**k_adam)) / (sqrt({s} / (1 - adam_beta2**k_adam)) + adam_eps)
"""
NOISE = "{p} = {p} + has_batch * {sigma} * {noise}({ENDED_START}, i * {n_post} + j)\n"
# nb_batch: real samples in the batch (at least 1 to divide by); has_batch: 0 for a
# batch of padding only, which must not move the weights or the Adam moments.
BATCH_QUANTITIES = f"""
nb_batch = clip(batch_count({ENDED_START}), 1, 1e12)
has_batch = int(batch_count({ENDED_START}) > 0.5)
k_adam = adam_step({ENDED_START})
"""
PROJECT_INPUT = "w = w * int(w > 0)\n"
PROJECT_DALE = "w = w * int(dale_pre * w > 0)\n"


def batch_schedule(labels, n: int, n_samples: int, batch_size: int, adam_step0: int = 0):
    """The per-run label and batch arrays of a network that learns in mini-batches:
    labels padded with -1 to ``n_samples + 1`` (the run's extra step), the number of real
    samples of each batch, and the Adam step count at the end of each batch (at least 1;
    a batch of padding only does not count)."""
    lab = np.full(n_samples + 1, -1.0)
    if labels is not None:
        lab[:n] = labels
    counts = np.array([(lab[b * batch_size:(b + 1) * batch_size] >= 0).sum()
                       for b in range(n_samples // batch_size)], dtype=np.float64)
    k = adam_step0 + np.cumsum(counts > 0)
    return lab, counts, np.maximum(k, 1).astype(np.float64)


def _update_code(spec: EpropSpec, p: str, g: str, m: str, s: str, lr: str = "lr") -> str:
    template = ADAM_UPDATE if spec.optimizer == "adam" else SGD_UPDATE
    return template.format(p=p, g=g, m=m, s=s, lr=lr) + f"{g} = 0\n"


# ======================================================================================
# The network
# ======================================================================================


@dataclass
class EpropNetwork(BatchedNetwork):
    """Brian2 objects of an e-prop network compiled for ``spec.n_samples`` samples.

    ``w_in`` is ``W_in[j, i]`` stored by presynaptic neuron (synapse ``k`` is
    ``i = k // n_hidden``, ``j = k % n_hidden``), ``w_out`` likewise ``W_out[k, j]``.
    ``counts`` records every hidden neuron's spike count and ``outputs`` every readout's
    ``Y`` at the end of each sample; ``rec_spikes`` the hidden spikes of runs with
    ``rec = 1``.
    """

    spec: EpropSpec
    readout: NeuronGroup
    step_in: TimedArray
    noise: dict = field(default_factory=dict)
    counts: EventMonitor | None = None
    outputs: EventMonitor | None = None
    rec_spikes: EventMonitor | None = None

    # -- state ---------------------------------------------------------------------------
    def learned_variables(self) -> dict:
        """Every variable carried from run to run (weights, decays, thresholds, Adam)."""
        out = {"w_in": self.syn_in.w, "w_out": self.syn_out.w,
               "alpha": self.hidden.alpha, "theta": self.hidden.theta}
        if self.spec.feedback == "random":
            out["B"] = self.syn_out.B
        if self.spec.optimizer == "adam":
            out.update({"adam_m_in": self.syn_in.adam_m, "adam_v_in": self.syn_in.adam_v,
                        "adam_m_out": self.syn_out.adam_m, "adam_v_out": self.syn_out.adam_v})
            for p, flag in (("alpha", self.spec.learn_alpha), ("theta", self.spec.learn_theta)):
                if flag:
                    out[f"adam_m_{p}"] = getattr(self.hidden, f"m_{p}")
                    out[f"adam_v_{p}"] = getattr(self.hidden, f"v_{p}")
        return out

    # -- run_args ------------------------------------------------------------------------
    def run_args(self, spike_steps, labels=None, *, lr=0.0, learn=False, sigma=0.0,
                 adam_step0=0, noise=None, record=False) -> dict:
        """``run_args`` of one run (the learned state is added by the caller).

        Parameters
        ----------
        spike_steps : int array (n <= n_samples, n_in)
            Step of each input's spike per sample, -1 for none (padded with -1).
        labels : int array (n,), optional
            Class per sample (padded with -1: no error, no gradient).
        lr, learn, sigma
            Learning rate; whether to learn; weight-noise standard deviation.
        adam_step0 : int
            Adam updates made before this run (bias correction).
        noise : dict, optional
            ``{'in': (n_batches, n_in*n_hidden), 'out': (n_batches, n_hidden*n_out)}``
            standard normal draws (required when ``sigma > 0``).
        record : bool
            Emit ``rec`` events (hidden spikes) for :attr:`rec_spikes`.
        """
        spec = self.spec
        steps = np.asarray(spike_steps)
        n = len(steps)
        if n > spec.n_samples or steps.ndim != 2 or steps.shape[1] != spec.n_in:
            raise ValueError(f"spike_steps must have shape (<= {spec.n_samples}, {spec.n_in}); "
                             f"got {steps.shape}")
        padded = self.padded(steps, -1.0, spec.n_in, extra=1)
        lab, counts, steps_adam = batch_schedule(labels, n, spec.n_samples, spec.batch_size,
                                                 adam_step0)
        args = {
            self.step_in: padded,
            self.label: lab,
            self.batch_count: counts,
            self.adam_step: steps_adam,
            self.inp.learn: float(bool(learn)),
            self.hidden.learn: float(bool(learn)),
            self.readout.learn: float(bool(learn)),
            self.hidden.lr: float(lr),
            self.hidden.rec: float(bool(record)),
        }
        if spec.weight_noise:
            args[self.hidden.sigma] = float(sigma)
            if noise is None:
                if sigma > 0:
                    raise ValueError("sigma > 0 needs the noise draws")
                noise = {}
            for key, ta in self.noise.items():
                shape = (spec.n_batches, ta.values.shape[1])
                values = noise.get(key, np.zeros(shape))
                if np.shape(values) != shape:
                    raise ValueError(f"noise[{key!r}] must have shape {shape}")
                args[ta] = np.asarray(values, dtype=np.float64)
        elif sigma:
            raise ValueError("this network was built without weight noise (weight_noise=False)")
        return args

    # -- outputs -------------------------------------------------------------------------
    def outputs_per_sample(self) -> np.ndarray:
        """``Y`` of each readout per sample of the last run, ``(n_samples, n_out)``."""
        return self.per_sample(self.outputs, "Y", self.spec.n_out)

    def counts_per_sample(self) -> np.ndarray:
        """Hidden spike counts per sample of the last run, ``(n_samples, n_hidden)``."""
        return self.per_sample(self.counts, "n_spk", self.spec.n_hidden)

    def recorded_spikes(self) -> tuple:
        """``(sample, step, neuron)`` of the hidden spikes of the last run (``rec = 1``)."""
        return self.spikes_by_sample(self.rec_spikes)


def build_eprop_network(spec: EpropSpec, name: str = "eprop") -> EpropNetwork:
    """Build the e-prop network of ``spec`` (call :func:`models.devices.select_device`
    first). Sets ``defaultclock.dt``; every object runs on the default clock so that the
    generated code, and with it the build cache key, is the same in every process."""
    spec.validate()
    dt = set_clock(spec.dt_ms)
    T_sample = spec.n_steps * dt
    b1, b2 = spec.adam_betas
    constants = dict(
        n_steps=spec.n_steps, batch_size=spec.batch_size, T_sample=T_sample,
        logit_scale=spec.logit_scale,
        beta=spec.beta, kappa=spec.kappa, gamma=spec.gamma, beta_sg=spec.beta_sg,
        adam_beta1=b1, adam_beta2=b2, adam_eps=spec.adam_eps,
    )
    step_in = TimedArray(np.full((spec.n_samples + 1, spec.n_in), -1.0), dt=T_sample,
                         name=f"{name}_step_in")
    label = TimedArray(np.full(spec.n_samples + 1, -1.0), dt=T_sample, name=f"{name}_label")
    T_batch = spec.batch_size * T_sample
    batch_count = TimedArray(np.zeros(spec.n_batches), dt=T_batch, name=f"{name}_batch_count")
    adam_step = TimedArray(np.ones(spec.n_batches), dt=T_batch, name=f"{name}_adam_step")
    batch_ns = dict(batch_count=batch_count, adam_step=adam_step)

    # -- input layer -----------------------------------------------------------------------
    inp = NeuronGroup(spec.n_in, INPUT_EQS, threshold=INPUT_THRESHOLD, reset=INPUT_RESET,
                      events={"learn": INPUT_LEARN_EVENT, "apply": INPUT_APPLY_EVENT,
                              "load": f"{STEP} == 0"},
                      namespace=dict(constants, step_in=step_in), name=f"{name}_in")
    inp.s_in = -1
    for event in ("learn", "apply"):
        inp.set_event_schedule(event, when="start", order=0)
    inp.set_event_schedule("load", when="start", order=1000)
    inp.run_on_event("load", INPUT_LOAD, when="start", order=1001)

    # -- hidden layer -------------------------------------------------------------------------
    hidden = NeuronGroup(spec.n_hidden, HIDDEN_EQS, threshold=HIDDEN_THRESHOLD,
                         reset=HIDDEN_RESET,
                         events={"boundary": HIDDEN_BOUNDARY_EVENT, "apply": INPUT_APPLY_EVENT,
                                 "rec": HIDDEN_REC_EVENT},
                         namespace=dict(constants), name=f"{name}_hidden")
    hidden.alpha = spec.alpha
    hidden.theta = spec.theta
    hidden.ra = 1
    hidden.rb = 1
    n_exc = spec.n_hidden if spec.n_exc is None else spec.n_exc
    hidden.dale = np.where(np.arange(spec.n_hidden) < n_exc, 1.0, -1.0)
    hidden.run_regularly(HIDDEN_DECAY, when="groups", name=f"{name}_hidden_decay")
    step_code = HIDDEN_STEP_EQUAL if spec.equal_decays else HIDDEN_STEP
    hidden.run_regularly(step_code.format(surrogate=SURROGATE_CODE[spec.surrogate]),
                         when="after_synapses", order=0, name=f"{name}_hidden_step")
    hidden.thresholder["spike"].when = "after_synapses"
    hidden.thresholder["spike"].order = 1
    hidden.resetter["spike"].when = "after_synapses"
    hidden.resetter["spike"].order = 2
    hidden.set_event_schedule("rec", when="after_synapses", order=1)
    hidden.set_event_schedule("boundary", when="start", order=0)
    hidden.set_event_schedule("apply", when="start", order=0)
    param_code = ""
    for p, flag in (("alpha", spec.learn_alpha), ("theta", spec.learn_theta)):
        if flag:
            param_code += HIDDEN_GRADIENTS[p]
    if param_code:
        hidden.run_regularly(param_code, when="start", order=4, name=f"{name}_hidden_gradients")
        apply_code = BATCH_QUANTITIES
        for p, flag in (("alpha", spec.learn_alpha), ("theta", spec.learn_theta)):
            if flag:
                apply_code += _update_code(spec, p, f"g_{p}", f"m_{p}", f"v_{p}")
        hidden.namespace.update(batch_ns)
        hidden.run_on_event("apply", apply_code, when="start", order=6)
    hidden.run_regularly(HIDDEN_RESET_SAMPLE, when="start", order=1000,
                         name=f"{name}_hidden_reset")

    # -- readout -------------------------------------------------------------------------------
    readout = NeuronGroup(spec.n_out, READOUT_EQS, events={"boundary": READOUT_BOUNDARY_EVENT},
                          namespace=dict(constants, label=label), name=f"{name}_readout")
    readout.run_regularly(READOUT_DECAY, when="groups", name=f"{name}_readout_decay")
    readout.run_regularly(READOUT_SUM, when="after_synapses", order=4, name=f"{name}_readout_sum")
    readout.set_event_schedule("boundary", when="start", order=0)
    readout.run_regularly(READOUT_ERROR.format(error=_ERROR[spec.loss]), when="start", order=2,
                          name=f"{name}_readout_error")
    readout.run_regularly(READOUT_RESET_SAMPLE, when="start", order=1000,
                          name=f"{name}_readout_reset")
    objects = [inp, hidden, readout]
    if spec.loss == "ce":
        norm = Synapses(readout, readout, on_pre={"norm": SOFTMAX_NORMALISER},
                        on_event={"norm": "boundary"}, namespace=dict(constants),
                        name=f"{name}_softmax")
        norm.connect()
        schedule(norm, norm=("start", 1))
        use_source_queues(norm)
        objects.append(norm)

    # -- synapses --------------------------------------------------------------------------------
    noise = {}
    # The learning rate and the noise sigma live in the hidden group: post of the input
    # synapses, pre of the readout synapses.
    update_in = BATCH_QUANTITIES + _update_code(spec, "w", "gw", "adam_m", "adam_v", "lr_post")
    update_out = BATCH_QUANTITIES + _update_code(spec, "w", "gw", "adam_m", "adam_v", "lr_pre")
    if spec.weight_noise:
        T_noise = T_batch
        noise["in"] = TimedArray(np.zeros((spec.n_batches, spec.n_in * spec.n_hidden)),
                                 dt=T_noise, name=f"{name}_noise_in")
        noise["out"] = TimedArray(np.zeros((spec.n_batches, spec.n_hidden * spec.n_out)),
                                  dt=T_noise, name=f"{name}_noise_out")
        update_in += NOISE.format(p="w", noise="noise_in", ENDED_START=ENDED_START,
                                  n_post=spec.n_hidden, sigma="sigma_post")
        update_out += NOISE.format(p="w", noise="noise_out", ENDED_START=ENDED_START,
                                   n_post=spec.n_out, sigma="sigma_pre")
    if spec.nonnegative_input:
        update_in += PROJECT_INPUT
    if spec.n_exc is not None:
        update_out += PROJECT_DALE
    syn_ns = dict(constants, **batch_ns, noise_in=noise.get("in"), noise_out=noise.get("out"))
    syn_ns = {k: v for k, v in syn_ns.items() if v is not None}

    syn_in = Synapses(inp, hidden, INPUT_SYNAPSE_EQS,
                      on_pre={"pre": INPUT_FORWARD_EQUAL if spec.equal_decays else INPUT_FORWARD,
                              "learn": INPUT_GRADIENT_EQUAL if spec.equal_decays else INPUT_GRADIENT,
                              "apply": update_in},
                      on_event={"pre": "spike", "learn": "learn", "apply": "apply"},
                      namespace=dict(syn_ns), name=f"{name}_w_in")
    syn_in.connect()
    schedule(syn_in, learn=("start", 5), apply=("start", 6))

    feedback = "B" if spec.feedback == "random" else "w"
    out_eqs = SYNAPSE_EQS + ("B : 1  # fixed random feedback weight\n"
                             if spec.feedback == "random" else "")
    syn_out = Synapses(hidden, readout, out_eqs,
                       on_pre={"pre": READOUT_FORWARD,
                               "bwd": READOUT_BACKWARD.format(feedback=feedback),
                               "apply": update_out},
                       on_event={"pre": "spike", "bwd": "boundary", "apply": "apply"},
                       namespace=dict(syn_ns), name=f"{name}_w_out")
    syn_out.connect()
    schedule(syn_out, pre=("after_synapses", 3), bwd=("start", 3), apply=("start", 6))
    use_source_queues(syn_in, syn_out)
    objects += [syn_in, syn_out]

    # -- monitors ----------------------------------------------------------------------------------
    # At a boundary after the events (order 0) and before the reset (order 1000).
    counts = EventMonitor(hidden, "boundary", variables=["n_spk"], when="start", order=2,
                          name=f"{name}_counts")
    outputs = EventMonitor(readout, "boundary", variables=["Y"], when="start", order=2,
                           name=f"{name}_outputs")
    rec_spikes = EventMonitor(hidden, "rec", when="after_synapses", order=2,
                              name=f"{name}_rec_spikes")
    objects += [counts, outputs, rec_spikes]
    net = Network(*objects, name=name)
    return EpropNetwork(spec=spec, network=net, inp=inp, hidden=hidden, syn_in=syn_in,
                        syn_out=syn_out, label=label, batch_count=batch_count,
                        adam_step=adam_step, readout=readout, step_in=step_in, noise=noise,
                        counts=counts, outputs=outputs, rec_spikes=rec_spikes)


def memory_estimate(spec: EpropSpec) -> MemoryEstimate:
    """The bytes of the arrays of :func:`build_eprop_network` for ``spec`` (see
    :func:`models.network.memory_estimate`): the all-to-all input and readout synapses
    with their traces and optimiser state, the layers, the input spike steps (and the
    weight-noise draws, one per synapse and batch), and the monitors of the per-sample
    counts and outputs (the hidden spikes of recorded runs depend on the activity and
    are left out)."""
    n_in, n_hidden, n_out = spec.n_in, spec.n_hidden, spec.n_out
    synapses = [(n_in * n_hidden, n_variables(INPUT_SYNAPSE_EQS), 3),
                (n_hidden * n_out, n_variables(SYNAPSE_EQS) + (spec.feedback == "random"), 3)]
    if spec.loss == "ce":
        synapses.append((n_out * n_out, 0, 1))
    inputs = (spec.n_samples + 1) * (n_in + 1) + 2 * spec.n_batches
    if spec.weight_noise:
        inputs += spec.n_batches * (n_in * n_hidden + n_hidden * n_out)
    return network.memory_estimate(
        neurons=[(n_in, n_variables(INPUT_EQS)), (n_hidden, n_variables(HIDDEN_EQS)),
                 (n_out, n_variables(READOUT_EQS))],
        synapses=synapses, inputs=inputs,
        events=[(spec.n_samples * n_hidden, 1), (spec.n_samples * n_out, 1)])
