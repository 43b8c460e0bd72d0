"""Layers and excitatory/inhibitory populations built from the model library.

:func:`layer` is the one builder of neuron groups: it takes a model name from
:data:`models.neurons.NEURON_MODELS`, validates the parameters, puts them in
the group's namespace (so they are compiled in as constants) and sets the
initial state.  :func:`ei_population` splits a layer into an excitatory and
an inhibitory part with a given excitatory fraction, and
:func:`connect_dale` connects it so that every cell's outgoing weights have
the sign of its type (Dale's law).

References
----------
Dale's principle: Eccles (1976); Strata & Harvey (1999) Brain Res. Bull. 50:349.
80:20 excitatory:inhibitory ratio: Kilgore et al. (2025) Sci. Rep.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np
from brian2 import NeuronGroup, Subgroup, Synapses

from .neurons import get_neuron_model, neuron_parameters
from .synapses import synapses

__all__ = ["layer", "EIPopulation", "ei_population", "connect_dale", "DALE_PROJECTION",
           "install_dale_projection", "n_excitatory"]

# Projection onto the sign allowed by Dale's law: a weight of the wrong sign
# becomes 0, a weight of the right sign is left alone.  Unit-safe for any w.
DALE_PROJECTION = "w = dale_sign_pre * clip(dale_sign_pre * w, 0 * w, abs(w))"


def _check_size(N, what="N"):
    if isinstance(N, bool) or not isinstance(N, Integral) or N < 1:
        raise ValueError(f"{what} must be a positive integer (number of neurons); got {N!r}")
    return int(N)


def layer(model, N: int, name: str, params=None, extra_equations: str = "",
          **neurongroup_kwargs) -> NeuronGroup:
    """Build a ``NeuronGroup`` of ``N`` neurons of a library model.

    Parameters
    ----------
    model : str or NeuronModel
        E.g. ``'lif_current'``, ``'lif_conductance'``, ``'lif_adaptive'``,
        ``'lif_learnable'``, ``'if_clocked'``, ``'readout'``.
    N : int
        Number of neurons.
    name : str
        Unique Brian2 name.
    params : mapping, optional
        Parameter overrides (quantities), validated against the model's ranges.
    extra_equations : str
        Further equations appended to the model's (e.g. per-neuron labels).
    **neurongroup_kwargs
        Passed to :class:`brian2.NeuronGroup` (``dt``, ``method``, ...).
    """
    m = get_neuron_model(model)
    N = _check_size(N)
    namespace = neuron_parameters(m, params)
    kwargs = dict(method=m.method, namespace=namespace, name=name)
    if m.threshold is not None:
        kwargs.update(threshold=m.threshold, reset=m.reset)
        if m.refractory is not None:
            kwargs["refractory"] = m.refractory
    if m.events:
        kwargs["events"] = {event: condition for event, (condition, _) in m.events.items()}
    kwargs.update(neurongroup_kwargs)
    group = NeuronGroup(N, m.equations + "\n" + extra_equations, **kwargs)
    for event, (_, reset) in m.events.items():
        group.run_on_event(event, reset, when="resets")
    if m.step is not None:
        # Discrete update in the 'groups' slot, before synapses add their input.
        group.run_regularly(m.step, when="groups", name=f"{name}_step")
    if m.threshold_when is not None:
        group.thresholder["spike"].when = m.threshold_when
    for var, value in m.initial.items():
        setattr(group, var, value)
    return group


def n_excitatory(N: int, e_fraction: float) -> int:
    """Number of excitatory cells: ``round(e_fraction * N)`` (0.8 of 100 gives 80)."""
    if isinstance(e_fraction, bool) or not np.isscalar(e_fraction) or not np.isfinite(e_fraction) \
            or not 0.0 <= float(e_fraction) <= 1.0:
        raise ValueError(
            f"e_fraction must lie in [0, 1] (fraction of excitatory cells); got {e_fraction!r}"
        )
    return int(round(float(e_fraction) * _check_size(N)))


@dataclass
class EIPopulation:
    """A layer split into excitatory cells ``[0, n_exc)`` and inhibitory cells after.

    ``group.dale_sign`` is +1 for excitatory and -1 for inhibitory cells.
    ``exc`` or ``inh`` is ``None`` when that part is empty (fraction 0 or 1).
    """

    group: NeuronGroup
    exc: Subgroup | None
    inh: Subgroup | None
    n_exc: int
    n_inh: int
    e_fraction: float


def ei_population(model, N: int, e_fraction: float, name: str, params=None,
                  extra_equations: str = "", **layer_kwargs) -> EIPopulation:
    """A layer of ``N`` cells of which ``round(e_fraction*N)`` are excitatory.

    Parameters
    ----------
    model, N, name, params
        As for :func:`layer`.
    e_fraction : float
        Excitatory fraction in [0, 1]; 0.8 is the cortical 80:20 ratio.
    extra_equations : str
        Further equations of every cell (see :func:`layer`).
    """
    n_exc = n_excitatory(N, e_fraction)
    group = layer(model, N, name, params,
                  extra_equations="dale_sign : 1 (constant)\n" + extra_equations, **layer_kwargs)
    group.dale_sign = f"2 * int(i < {n_exc}) - 1"
    exc = group[:n_exc] if n_exc > 0 else None
    inh = group[n_exc:] if n_exc < N else None
    return EIPopulation(group, exc, inh, n_exc, N - n_exc, float(e_fraction))


def connect_dale(pop: EIPopulation, target, name: str, model="static", target_var="I_syn",
                 params=None, connect=None, w_init=None, **synapse_kwargs):
    """Connect an E/I population onwards with Dale's law on every outgoing weight.

    Parameters
    ----------
    pop : EIPopulation
    target : Group
    name : str
        Base name of the synapses.
    model : str or sequence
        Synapse parts (see :func:`models.synapses.synapses`).
    target_var : str or (str, str)
        One variable (current-based targets such as ``'I_syn'``): a single
        ``Synapses`` whose weights carry the sign of the presynaptic cell.
        A pair such as ``('g_e', 'g_i')`` (conductance targets): two
        ``Synapses``, ``<name>_e`` from E cells and ``<name>_i`` from I cells,
        with non-negative weights.
    connect : dict
        Arguments of ``Synapses.connect`` (default all-to-all without autapses
        when the target is the population itself).
    w_init : str or quantity
        Magnitude of the initial weights (code string or value); the sign is
        set from ``dale_sign_pre``.

    Returns
    -------
    Synapses or (Synapses, Synapses)
    """
    connect = dict(connect or {})
    if not connect and target is pop.group:
        connect = {"condition": "i != j"}
    elif not connect:
        connect = {"p": 1.0}

    def build(source, var, syn_name):
        syn = synapses(source, target, model, syn_name, var, params, **synapse_kwargs)
        syn.connect(**connect)
        if w_init is not None:
            syn.w = w_init
        return syn

    if isinstance(target_var, str):
        syn = build(pop.group, target_var, name)
        syn.w = "dale_sign_pre * abs(w)"
        return syn
    exc_var, inh_var = target_var
    syn_e = build(pop.exc, exc_var, f"{name}_e") if pop.exc is not None else None
    syn_i = build(pop.inh, inh_var, f"{name}_i") if pop.inh is not None else None
    for syn in (syn_e, syn_i):
        if syn is not None:
            syn.w = "abs(w)"
    return syn_e, syn_i


def install_dale_projection(syn: Synapses, dt, name=None):
    """Re-impose Dale's law on ``syn.w`` every ``dt`` (after plastic updates)."""
    return syn.run_regularly(DALE_PROJECTION, dt=dt, when="end",
                             name=name or f"{syn.name}_dale")

