"""Neuron models of the library, as equation strings with parameter sets.

Each model is data: a :class:`NeuronModel` holding Brian2 equations,
threshold and reset code, default parameters with units, and the constraints
they must satisfy.  Groups are built from them by
:func:`models.populations.layer`, the one builder.

Synaptic input arrives in the variable named by ``NeuronModel.targets``:
``I_syn`` (current-based, in volt: the current times the membrane
resistance), ``g_e`` / ``g_i`` (conductance-based, in units of the leak
conductance) or ``v`` itself (clocked and readout neurons).  ``I_ext`` is an
external drive in the same unit as ``v``.

Currents are expressed as voltages (R*I) so that the closed forms read as in
the textbooks, e.g. the interspike interval of a LIF neuron under a constant
drive I from rest: ``T = tau_m * ln(I / (I - (v_th - v_rest)))``.

References
----------
Gerstner, Kistler, Naud & Paninski (2014). Neuronal Dynamics, ch. 1 and 6.
Diehl & Cook (2015). Unsupervised learning of digit recognition using
spike-timing-dependent plasticity. Front. Comput. Neurosci. 9:99.
Gerlinghoff, Luo, Goh & Wong (2023). Desire backpropagation. Neurocomputing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from brian2 import mV, ms

from .parameters import Above, Interval, Positive, resolve

__all__ = ["NeuronModel", "NEURON_MODELS", "get_neuron_model", "neuron_parameters"]


@dataclass(frozen=True)
class NeuronModel:
    """A neuron model: equations, spike condition, reset and parameters.

    Attributes
    ----------
    name : str
        Key in :data:`NEURON_MODELS`.
    equations : str
        Brian2 equations; parameters are namespace constants.
    threshold, reset : str or None
        Brian2 code; ``None`` for non-spiking models.
    refractory : str or None
        Name of the refractory-period parameter, if any.
    method : str
        Integration method for the differential equations.
    parameters : mapping
        Default parameter values (quantities).
    constraints : tuple
        Checks applied by :func:`neuron_parameters`.
    initial : mapping
        Initial values of state variables, as code strings evaluated with the
        parameters in the namespace (e.g. ``{'v': 'v_rest'}``).
    step : str or None
        Clocked models only: the discrete update run once per time step in
        the ``groups`` slot, replacing the differential equations.
    threshold_when : str or None
        Scheduling slot of the spike condition if not the default.
    events : mapping
        Further events ``{name: (condition, reset code)}`` besides ``spike``
        (e.g. the teacher-tuned spikes of ``lif_tutored``).
    targets : tuple of str
        Variables that synapses may add to.
    reference : str
        Where the model comes from.
    """

    name: str
    equations: str
    threshold: str | None
    reset: str | None
    parameters: Mapping
    constraints: tuple = ()
    refractory: str | None = None
    method: str = "exponential_euler"
    initial: Mapping = field(default_factory=dict)
    step: str | None = None
    threshold_when: str | None = None
    targets: tuple = ()
    reference: str = ""
    events: Mapping = field(default_factory=dict)


#: The membrane of the current-based LIF family: leak towards v_rest, an exponentially
#: decaying synaptic current, an external current.
_CURRENT_MEMBRANE = """
    dv/dt = (v_rest - v + I_syn + I_ext) / tau_m : volt (unless refractory)
    dI_syn/dt = -I_syn / tau_syn : volt
    I_ext : volt
    """


def _reset_constraints(v_th: str = "v_th") -> tuple:
    """A threshold above rest and reset, and a refractory period >= 0."""
    return (Above(v_th, "v_rest"), Above(v_th, "v_reset"), Interval("tau_ref", 0, float("inf")))


# Current-based LIF with an exponentially decaying synaptic current.
LIF_CURRENT = NeuronModel(
    name="lif_current",
    equations=_CURRENT_MEMBRANE,
    threshold="v > v_th",
    reset="v = v_reset",
    refractory="tau_ref",
    parameters=dict(
        tau_m=10 * ms, tau_syn=5 * ms, v_rest=-65 * mV, v_reset=-65 * mV,
        v_th=-50 * mV, tau_ref=2 * ms,
    ),
    constraints=(Positive("tau_m"), Positive("tau_syn"), *_reset_constraints()),
    initial={"v": "v_rest"},
    targets=("I_syn", "v"),
    reference="Gerstner et al. (2014), Neuronal Dynamics, eq. 1.5 with exponential synaptic current",
)

# Conductance-based LIF: excitatory and inhibitory conductances in units of
# the leak conductance, each driving v towards its reversal potential.  The
# derivative is a named subexpression so that a learning rule can read it
# (the equilibrium rule of models.balanced_network); it is the subthreshold
# derivative: resets are jumps, not part of it.
LIF_CONDUCTANCE = NeuronModel(
    name="lif_conductance",
    equations="""
    dv/dt = dvdt : volt (unless refractory)
    dvdt = (v_rest - v + g_e * (E_e - v) + g_i * (E_i - v) + I_ext) / tau_m : volt/second
    dg_e/dt = -g_e / tau_e : 1
    dg_i/dt = -g_i / tau_i : 1
    I_ext : volt
    """,
    threshold="v > v_th",
    reset="v = v_reset",
    refractory="tau_ref",
    parameters=dict(
        tau_m=20 * ms, tau_e=5 * ms, tau_i=10 * ms, v_rest=-65 * mV,
        v_reset=-65 * mV, v_th=-52 * mV, E_e=0 * mV, E_i=-80 * mV, tau_ref=2 * ms,
    ),
    constraints=(
        Positive("tau_m"), Positive("tau_e"), Positive("tau_i"),
        Above("v_th", "v_rest"), Above("v_th", "v_reset"), Above("E_e", "v_th"),
        Above("v_rest", "E_i", or_equal=True), Interval("tau_ref", 0, float("inf")),
    ),
    initial={"v": "v_rest"},
    targets=("g_e", "g_i"),
    reference="Diehl & Cook (2015), Front. Comput. Neurosci. 9:99, eq. 1",
)

# LIF whose threshold jumps by theta_plus at each spike and relaxes back with
# tau_theta (homeostasis in Diehl & Cook 2015).
LIF_ADAPTIVE = NeuronModel(
    name="lif_adaptive",
    equations=_CURRENT_MEMBRANE + "dtheta/dt = -theta / tau_theta : volt\n",
    threshold="v > v_th + theta",
    reset="v = v_reset; theta += theta_plus",
    refractory="tau_ref",
    parameters=dict(
        tau_m=10 * ms, tau_syn=5 * ms, tau_theta=100 * ms, theta_plus=2 * mV,
        v_rest=-65 * mV, v_reset=-65 * mV, v_th=-50 * mV, tau_ref=2 * ms,
    ),
    constraints=(Positive("tau_m"), Positive("tau_syn"), Positive("tau_theta"),
                 *_reset_constraints()),
    initial={"v": "v_rest"},
    targets=("I_syn", "v"),
    reference="Diehl & Cook (2015), adaptive threshold theta",
)

# LIF with a membrane time constant and a threshold per neuron, as state
# variables so that a learning rule (PLIF, STL) can change them.
LIF_LEARNABLE = NeuronModel(
    name="lif_learnable",
    equations=_CURRENT_MEMBRANE + "tau_m : second\nv_th : volt\n",
    threshold="v > v_th",
    reset="v = v_reset",
    refractory="tau_ref",
    parameters=dict(
        tau_m_init=10 * ms, v_th_init=-50 * mV, tau_syn=5 * ms,
        v_rest=-65 * mV, v_reset=-65 * mV, tau_ref=0 * ms,
    ),
    constraints=(Positive("tau_m_init"), Positive("tau_syn"), *_reset_constraints("v_th_init")),
    initial={"v": "v_rest", "tau_m": "tau_m_init", "v_th": "v_th_init"},
    targets=("I_syn", "v"),
    reference="Fang et al. (2021) ICCV (learnable tau); Sun et al. (2024) IEEE TCDS (learnable threshold)",
)

# Discrete-time integrate-and-fire: one Brian2 step is one model step.  The
# decay runs in the 'groups' slot, synapses add to v in the 'synapses' slot,
# and the spike condition is moved after them so a step reads
#   v <- decay*v + I_ext;  v += W s_in;  spike if v >= v_th;  v -= v_th.
IF_CLOCKED = NeuronModel(
    name="if_clocked",
    equations="""
    v : 1
    I_ext : 1
    """,
    threshold="v >= v_th",
    reset="v -= v_th",
    parameters=dict(decay=0.75, v_th=1.0),
    constraints=(Interval("decay", 0.0, 1.0), Positive("v_th", "a threshold above the resting value 0")),
    method="euler",
    step="v = decay * v + I_ext",
    threshold_when="after_synapses",
    initial={"v": "0"},
    targets=("v",),
    reference="Gerlinghoff et al. (2023), Neurocomputing, desire backpropagation reference code",
)

# Leaky non-spiking readout integrator.
READOUT = NeuronModel(
    name="readout",
    equations="""
    dv/dt = (v_rest - v + I_ext) / tau_out : volt
    I_ext : volt
    """,
    threshold=None,
    reset=None,
    parameters=dict(tau_out=20 * ms, v_rest=0 * mV),
    constraints=(Positive("tau_out"),),
    initial={"v": "v_rest"},
    targets=("v",),
    reference="Bellec et al. (2020), Nat. Commun. 11:3625 (leaky readout)",
)

# A current-based LIF with a second, teacher-tuned membrane potential.  v
# integrates the synaptic current and fires 'spike' (what the network decodes).
# v_tutor integrates the same current while the teacher is away (teaching = 0)
# and the teacher's current instead while it acts (teaching = 1): then it fires
# at the rate the teacher sets, whatever the weights, and fires 'tutored'
# (what a supervised STDP rule learns from).  With teaching = 0 the two are one
# trajectory, so a rule driven by the difference of their spikes is silent.
# No refractory period, so that this holds exactly.  I_bal, 0 unless the network
# sets it, is a further drive of the free potential (both potentials while the
# teacher is away), e.g. feedforward inhibition balancing the synaptic drive.
LIF_TUTORED = NeuronModel(
    name="lif_tutored",
    equations="""
    dv/dt = (v_rest - v + I_syn + I_bal) / tau_m : volt
    dv_tutor/dt = (v_rest - v_tutor + (1 - teaching) * (I_syn + I_bal) + teaching * I_teach) / tau_m : volt
    dI_syn/dt = -I_syn / tau_syn : volt
    teaching : 1
    I_teach : volt
    I_bal : volt
    """,
    threshold="v > v_th",
    reset="v = v_reset",
    parameters=dict(tau_m=20 * ms, tau_syn=5 * ms, v_rest=-65 * mV, v_reset=-65 * mV,
                    v_th=-50 * mV),
    constraints=(Positive("tau_m"), Positive("tau_syn"), Above("v_th", "v_rest"),
                 Above("v_th", "v_reset")),
    initial={"v": "v_rest", "v_tutor": "v_rest"},
    targets=("I_syn",),
    events={"tutored": ("v_tutor > v_th", "v_tutor = v_reset")},
    reference="Ponulak & Kasinski (2010), Neural Comput. 22:467 (ReSuMe: learning from "
              "the difference of a teacher's and the neuron's own spikes)",
)

NEURON_MODELS = {
    m.name: m
    for m in (LIF_CURRENT, LIF_CONDUCTANCE, LIF_ADAPTIVE, LIF_LEARNABLE, IF_CLOCKED, READOUT,
              LIF_TUTORED)
}


def get_neuron_model(model) -> NeuronModel:
    """Return the :class:`NeuronModel` called ``model`` (or ``model`` itself)."""
    if isinstance(model, NeuronModel):
        return model
    try:
        return NEURON_MODELS[model]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown neuron model {model!r}; known models: {', '.join(NEURON_MODELS)}"
        ) from None


def neuron_parameters(model, params=None) -> dict:
    """Validated parameter set of a neuron model with ``params`` overrides."""
    m = get_neuron_model(model)
    return resolve(m.name, m.parameters, m.constraints, params)
