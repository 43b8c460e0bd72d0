"""Synapse models of the library: static transmission, short-term and
spike-timing-dependent plasticity, as composable equation strings.

A synapse is built from *parts* (:class:`SynapsePart`).  Every synapse has a
weight ``w`` with the unit of the postsynaptic variable it adds to
(``target_var``); each presynaptic spike adds ``w * efficacy`` to it.  A part
may add state variables, change the efficacy (short-term plasticity sets it
to the released fraction ``r``) and add code to the pre- and postsynaptic
events (STDP).  :func:`synapses` is the one builder.

The plasticity hook
-------------------
Weight updates of the STDP parts are multiplied by ``plastic * {gate}``:
``plastic`` is a shared flag (1 learns, 0 freezes, settable between runs via
``run_args``) and ``gate`` is an expression, ``1`` by default, that a
protocol replaces, e.g. by a desire signal of the postsynaptic neuron
(``gate='desire_sign_post'``).  Protocols with rules of their own add a part
with :func:`register_part`, so that every synapse still comes from
:func:`synapses`.

References
----------
Tsodyks, Pawelzik & Markram (1998). Neural networks with dynamic synapses.
Neural Comput. 10:821-835 (the u, x model used here: u decays to 0 between
spikes and jumps by U(1 - u) at each one).  The variables are called
``u_S``, ``x_S`` and ``r_S`` (as in Brian2's own STP example) so that they
never clash with a neuron's ``u`` or ``x`` seen through ``_pre``/``_post``.
Maass, Natschlaeger & Markram (2002). Neural Comput. 14:2531 (parameter sets).
Song, Miller & Abbott (2000). Nat. Neurosci. 3:919 (pair STDP with traces).
van Rossum, Bi & Turrigiano (2000). J. Neurosci. 20:8812 (multiplicative STDP).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from brian2 import Quantity, Synapses, get_dimensions, get_unit, ms
from brian2.units.fundamentalunits import DIMENSIONLESS

from .parameters import Above, Interval, Positive, resolve

__all__ = [
    "SynapsePart",
    "SYNAPSE_PARTS",
    "register_part",
    "get_part",
    "combine",
    "synapse_parameters",
    "synapses",
    "LibrarySynapses",
    "tm_steady_state",
]


@dataclass(frozen=True)
class SynapsePart:
    """One ingredient of a synapse model.

    Attributes
    ----------
    name : str
        Key in :data:`SYNAPSE_PARTS`.
    model : str
        Extra synaptic equations.
    on_pre_before : str
        Code run at a presynaptic spike before transmission.
    efficacy : str or None
        Factor on ``w`` at transmission (at most one part may set it).
    on_pre_after, on_post : str
        Code run after transmission and at a postsynaptic spike.
        ``{gate}`` is replaced by the builder's ``gate`` argument.
    parameters : mapping
        Defaults.  Names listed in ``weight_parameters`` take the unit of the
        weight: plain numbers are multiplied by it.
    constraints : tuple
    initial : mapping
        Initial values of synaptic variables (code strings).
    on_post_events : mapping
        ``{event: code}`` run at further postsynaptic events (e.g. the
        ``tutored`` event of ``lif_tutored``), each in a pathway
        ``post_<event>``.

    ``{efficacy}`` in any code is replaced by the transmission factor on
    ``w`` (``r_S`` with short-term plasticity, ``1`` without), so that a rule
    can follow the synapse's actual conductance.
    """

    name: str
    model: str = ""
    on_pre_before: str = ""
    efficacy: str | None = None
    on_pre_after: str = ""
    on_post: str = ""
    parameters: Mapping = field(default_factory=dict)
    constraints: tuple = ()
    initial: Mapping = field(default_factory=dict)
    weight_parameters: tuple = ()
    reference: str = ""
    on_post_events: Mapping = field(default_factory=dict)


STATIC = SynapsePart(name="static", reference="fixed weight, instantaneous jump of the target")


def _stp(name: str, U: float, tau_d, tau_f, reference: str) -> SynapsePart:
    return SynapsePart(
        name=name,
        model="""
        du_S/dt = -u_S / tau_f : 1 (event-driven)
        dx_S/dt = (1 - x_S) / tau_d : 1 (event-driven)
        r_S : 1
        """,
        on_pre_before="""
        u_S += U * (1 - u_S)
        r_S = u_S * x_S
        x_S -= r_S
        """,
        efficacy="r_S",
        parameters=dict(U=U, tau_d=tau_d, tau_f=tau_f),
        constraints=(
            Interval("U", 0.0, 1.0, low_open=True),
            Positive("tau_d", "the recovery time constant"),
            Positive("tau_f", "the facilitation time constant"),
        ),
        initial={"u_S": 0.0, "x_S": 1.0, "r_S": 0.0},
        reference=reference,
    )


# Depressing (E->E) and facilitating (E->I) sets of Maass et al. (2002),
# after Markram et al. (1998).
STP_DEPRESSING = _stp(
    "stp_depressing", 0.5, 1100 * ms, 50 * ms,
    "Tsodyks et al. (1998); Maass et al. (2002) E->E parameters",
)
STP_FACILITATING = _stp(
    "stp_facilitating", 0.05, 125 * ms, 1200 * ms,
    "Tsodyks et al. (1998); Maass et al. (2002) E->I parameters",
)

_STDP_TRACES = """
dapre/dt = -apre / tau_pre : 1 (event-driven)
dapost/dt = -apost / tau_post : 1 (event-driven)
plastic : 1 (shared)
"""

_STDP_PARAMETERS = dict(tau_pre=20 * ms, tau_post=20 * ms, A_plus=0.01, A_minus=0.0105,
                        w_min=0.0, w_max=1.0)
_STDP_CONSTRAINTS = (
    Positive("tau_pre"), Positive("tau_post"),
    Interval("A_plus", 0.0, float("inf")), Interval("A_minus", 0.0, float("inf")),
    Above("w_max", "w_min"),
)

def _pair_stdp(name: str, depression: str, potentiation: str, reference: str) -> SynapsePart:
    """Pair STDP on all-to-all traces: a presynaptic spike changes w by
    ``-A_minus * depression * apost``, a postsynaptic one by
    ``A_plus * potentiation * apre``, w kept in [w_min, w_max]."""
    return SynapsePart(
        name=name,
        model=_STDP_TRACES,
        on_pre_after=f"""
    apre += 1
    w = clip(w - plastic * ({{gate}}) * A_minus * {depression} * apost, w_min, w_max)
    """,
        on_post=f"""
    apost += 1
    w = clip(w + plastic * ({{gate}}) * A_plus * {potentiation} * apre, w_min, w_max)
    """,
        parameters=_STDP_PARAMETERS,
        constraints=_STDP_CONSTRAINTS,
        initial={"apre": 0.0, "apost": 0.0, "plastic": 1.0},
        weight_parameters=("w_min", "w_max"),
        reference=reference,
    )


# Additive pair STDP: a pre->post pair at lag s > 0 changes w by
# A_plus*w_max*exp(-s/tau_pre), a post->pre pair by -A_minus*w_max*exp(-s/tau_post).
STDP_ADDITIVE = _pair_stdp("stdp_additive", "w_max", "w_max", "Song, Miller & Abbott (2000)")

# Multiplicative (soft-bound) pair STDP: potentiation scales with w_max - w,
# depression with w - w_min.
STDP_MULTIPLICATIVE = _pair_stdp("stdp_multiplicative", "(w - w_min)", "(w_max - w)",
                                 "van Rossum, Bi & Turrigiano (2000)")

# Equilibrium learning (models.balanced_network): per synapse, two sums over
# the presynaptic spikes s of a sample, B = sum_s e(s) K(s) and
# A = sum_s e(s) K(s) Q(s), with e the efficacy, K = exp(t_rel/tau) and Q the
# postsynaptic running integral of the membrane derivative (eq_K and eq_Q of
# the target group, which must define them).  At the sample's end
# Q(T) B - A = int V' (E - V) k(t) dt (in the target's units), the gradient of
# the squared membrane derivative with respect to w; the builder applies it.
EQUILIBRIUM = SynapsePart(
    name="equilibrium",
    model="""
    eq_A : 1
    eq_B : 1
    plastic_eq : 1 (shared)
    """,
    on_pre_after="""
    eq_B += {efficacy} * eq_K_post
    eq_A += {efficacy} * eq_K_post * eq_Q_post
    """,
    initial={"eq_A": 0.0, "eq_B": 0.0, "plastic_eq": 0.0},
    reference="the equilibrium step of Zhang et al. (2018), IJCAI, as interpreted in "
              "models.balanced_network",
)

# Supervised pair STDP on a lif_tutored target: a teacher-tuned ('tutored')
# postsynaptic spike potentiates by eta*(apre - abar), a free spike depresses by
# the same amount, so the weights move until free spiking reproduces the tuned
# spiking (ReSuMe's rule with exponential pre traces).  Weights are signed.
# abar, 0 unless the network sets it, is the mean of apre: subtracted, the rule
# follows the covariance of pre activity and post error (Sejnowski 1977) instead
# of their product, which conditions the rule when presynaptic rates are all
# positive and correlated.  n_spikes_in counts presynaptic spikes for whoever keeps
# abar (models.balanced_network resets it every sample).
STDP_TUTORED = SynapsePart(
    name="stdp_tutored",
    model="""
    dapre/dt = -apre / tau_pre : 1 (event-driven)
    abar : 1
    n_spikes_in : 1
    plastic : 1 (shared)
    """,
    on_pre_after="""
    apre += 1
    n_spikes_in += 1
    """,
    on_post="""
    w = clip(w - plastic * ({gate}) * eta * (apre - abar), -w_max, w_max)
    """,
    on_post_events={"tutored": """
    w = clip(w + plastic * ({gate}) * eta * (apre - abar), -w_max, w_max)
    """},
    parameters=dict(tau_pre=20 * ms, eta=0.001, w_max=1.0),
    constraints=(Positive("tau_pre"), Interval("eta", 0.0, float("inf")),
                 Positive("w_max")),
    initial={"apre": 0.0, "abar": 0.0, "n_spikes_in": 0.0, "plastic": 1.0},
    weight_parameters=("eta", "w_max"),
    reference="Ponulak & Kasinski (2010), Neural Comput. 22:467 (ReSuMe); Sejnowski "
              "(1977), J. Math. Biol. 4:303 (covariance rule)",
)

SYNAPSE_PARTS: dict[str, SynapsePart] = {}


def register_part(part: SynapsePart, replace: bool = False) -> SynapsePart:
    """Add a part to :data:`SYNAPSE_PARTS` so :func:`synapses` can use it by name."""
    if part.name in SYNAPSE_PARTS and not replace:
        raise ValueError(f"a synapse part called {part.name!r} is already registered")
    SYNAPSE_PARTS[part.name] = part
    return part


for _part in (STATIC, STP_DEPRESSING, STP_FACILITATING, STDP_ADDITIVE, STDP_MULTIPLICATIVE,
              EQUILIBRIUM, STDP_TUTORED):
    register_part(_part)


def get_part(part) -> SynapsePart:
    """Return the registered part called ``part`` (or ``part`` itself)."""
    if isinstance(part, SynapsePart):
        return part
    try:
        return SYNAPSE_PARTS[part]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown synapse model {part!r}; known models: {', '.join(SYNAPSE_PARTS)}"
        ) from None


def _as_parts(model) -> list[SynapsePart]:
    names = [model] if isinstance(model, (str, SynapsePart)) else list(model)
    if not names:
        raise ValueError("a synapse model needs at least one part, e.g. 'static'")
    parts = [get_part(p) for p in names]
    seen = [p.name for p in parts]
    if len(set(seen)) != len(seen):
        raise ValueError(f"synapse parts repeated: {seen}")
    return parts


def _lines(code: str) -> list[str]:
    return [line.strip() for line in code.strip().splitlines() if line.strip()]


def combine(model, target_var: str, weight_unit, gate: str = "1") -> dict:
    """Merge parts into Brian2 ``model``, ``on_pre`` and ``on_post`` strings.

    Parameters
    ----------
    model : str, SynapsePart or sequence of them
    target_var : str
        Postsynaptic variable that transmission adds to.
    weight_unit : Unit
        Unit of ``w`` (that of the target variable).
    gate : str
        Expression multiplying every weight update (the plasticity hook).

    Returns
    -------
    dict with keys ``model``, ``on_pre``, ``on_post`` and ``on_post_events``
    (``{event: code}``).
    """
    parts = _as_parts(model)
    efficacies = [p.efficacy for p in parts if p.efficacy is not None]
    if len(efficacies) > 1:
        raise ValueError(
            "at most one short-term plasticity part per synapse; got "
            + ", ".join(p.name for p in parts if p.efficacy)
        )
    unit = "1" if weight_unit is None or get_dimensions(weight_unit) is DIMENSIONLESS else repr(weight_unit)
    model_lines = [f"w : {unit}"]
    for p in parts:
        for line in _lines(p.model):
            if line not in model_lines:  # traces shared by two STDP parts appear once
                model_lines.append(line)
    transmit = f"{target_var}_post += w" + (f" * {efficacies[0]}" if efficacies else "")
    on_pre = [line for p in parts for line in _lines(p.on_pre_before)]
    on_pre.append(transmit)
    on_pre += [line for p in parts for line in _lines(p.on_pre_after)]
    on_post = [line for p in parts for line in _lines(p.on_post)]
    events = {}
    for p in parts:
        for event, code in p.on_post_events.items():
            events.setdefault(event, []).extend(_lines(code))
    efficacy = efficacies[0] if efficacies else "1"
    fill = lambda lines: "\n".join(lines).replace("{gate}", gate).replace(  # noqa: E731
        "{efficacy}", efficacy)
    return {"model": "\n".join(model_lines), "on_pre": fill(on_pre), "on_post": fill(on_post),
            "on_post_events": {event: fill(lines) for event, lines in events.items()}}


def synapse_parameters(model, params=None, weight_unit=None) -> dict:
    """Validated parameters of the combined parts, weight bounds in ``weight_unit``."""
    parts = _as_parts(model)
    defaults, constraints, weight_params = {}, [], set()
    for p in parts:
        defaults.update(p.parameters)
        constraints.extend(p.constraints)
        weight_params.update(p.weight_parameters)
    if weight_unit is not None and get_dimensions(weight_unit) is not DIMENSIONLESS:
        defaults = {k: (v * weight_unit if k in weight_params else v) for k, v in defaults.items()}
        params = {
            k: (v * weight_unit if k in weight_params and not isinstance(v, Quantity) else v)
            for k, v in dict(params or {}).items()
        }
    name = "+".join(p.name for p in parts)
    return resolve(name, defaults, tuple(dict.fromkeys(constraints)), params)


def synapses(source, target, model, name: str, target_var: str, params=None,
             gate: str = "1", **synapses_kwargs) -> Synapses:
    """Build an (unconnected) ``Synapses`` object from library parts.

    Parameters
    ----------
    source, target : Group
    model : str or sequence
        Part names, e.g. ``'static'`` or ``['stp_depressing', 'stdp_additive']``.
    name : str
        Unique Brian2 name (standalone mode requires unique names).
    target_var : str
        Postsynaptic variable to add to, e.g. ``'I_syn'``, ``'g_e'``, ``'v'``.
        ``w`` takes its unit.
    params : mapping, optional
        Overrides of the parts' defaults; ``w_min``/``w_max`` as plain numbers
        are taken in the unit of ``w``.
    gate : str
        Plasticity hook: expression multiplying every weight update.
    **synapses_kwargs
        Passed to :class:`brian2.Synapses` (``delay``, ``method``, ``dt`` ...).

    Returns
    -------
    brian2.Synapses
        Call ``.connect(...)`` on it; initial values of STP and STDP variables
        are set on connection (``u_S = 0``, ``x_S = 1``, traces 0, ``plastic = 1``).
    """
    if target_var not in target.variables:
        raise ValueError(
            f"target_var {target_var!r} is not a variable of {target.name!r}; "
            f"choose one of: {', '.join(k for k in target.variables if not k.startswith('_'))}"
        )
    weight_unit = get_unit(target.variables[target_var].dim)
    code = combine(model, target_var, weight_unit, gate=gate)
    namespace = synapse_parameters(model, params, weight_unit)
    initial = {}
    for p in _as_parts(model):
        initial.update(p.initial)
    on_post = code["on_post"] or None
    if code["on_post_events"]:
        missing = sorted(set(code["on_post_events"]) - set(getattr(target, "events", {})))
        if missing:
            raise ValueError(f"synapse model {model!r} needs the postsynaptic events "
                             f"{missing}, which {target.name!r} does not have")
        on_post = {"post": on_post or ""}
        on_post.update({f"post_{event}": c for event, c in code["on_post_events"].items()})
        synapses_kwargs["on_event"] = dict(
            {"pre": "spike", "post": "spike"},
            **{f"post_{event}": event for event in code["on_post_events"]})
    return LibrarySynapses(source, target, model=code["model"], on_pre=code["on_pre"],
                           on_post=on_post, namespace=namespace, name=name,
                           initial=initial, **synapses_kwargs)


class LibrarySynapses(Synapses):
    """``Synapses`` that set the library's initial values on every ``connect``.

    STP resources must start at ``x_S = 1`` and traces at 0 for every synapse
    created, which Brian2 cannot express in the model itself.
    """

    def __init__(self, *args, initial=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._initial_values = dict(initial or {})

    def connect(self, *args, **kwargs):
        # Scalars rather than arrays so this also works in standalone mode,
        # where the number of synapses is unknown before the run (and a code
        # string may not be written to a shared variable there).  A second
        # connect() resets the plasticity state of all synapses.
        super().connect(*args, **kwargs)
        for var, value in self._initial_values.items():
            setattr(self, var, value)


def tm_steady_state(U: float, tau_d, tau_f, interval) -> tuple[float, float, float]:
    """Analytic fixed point of the Tsodyks-Markram synapse under a regular train.

    For spikes every ``interval``, with ``E_f = exp(-interval/tau_f)`` and
    ``E_d = exp(-interval/tau_d)``, the utilisation just after a spike, the
    resources just before it and the released fraction converge to

    ``u+ = U / (1 - (1 - U) E_f)``,
    ``x- = (1 - E_d) / (1 - (1 - u+) E_d)``,
    ``r = u+ x-``.

    Returns
    -------
    (u_plus, x_minus, r) : floats
    """
    import numpy as np

    E_f = float(np.exp(-float(interval / tau_f)))
    E_d = float(np.exp(-float(interval / tau_d)))
    u_plus = U / (1 - (1 - U) * E_f)
    x_minus = (1 - E_d) / (1 - (1 - u_plus) * E_d)
    return u_plus, x_minus, u_plus * x_minus
