"""Operation counts of a spiking network against the same-size dense ANN.

The usual proxy for the energy of a spiking network on event-driven hardware counts
synaptic operations (SOPs): every spike triggers one accumulate per outgoing synapse.
The same-size ANN does one multiply-accumulate (MAC) per weight per sample. The ratio
SOPs / MACs is the hardware-independent comparison; energy figures per operation are
an assumption about the hardware and enter only as optional parameters.

* :func:`synaptic_operations` — SOPs per sample and layer;
* :func:`ann_macs` — MACs per sample of the dense ANN with the same layer sizes;
* :func:`energy_ratio` — SOPs / MACs, optionally weighted by energies per operation.

References: Merolla et al. (2014), Science 345:668 (SOPs as a measure); Rueckauer et
al. (2017), Front. Neurosci. 11:682 (operation counts of converted SNNs vs ANNs);
Horowitz (2014), ISSCC, for the energies per operation often quoted (45 nm CMOS,
32-bit float: about 0.9 pJ per add, 4.6 pJ per multiply-accumulate).
"""

from __future__ import annotations

import numpy as np
import quantities as pq

__all__ = ["synaptic_operations", "ann_macs", "energy_ratio"]


def synaptic_operations(spike_counts, fan_out) -> np.ndarray:
    """Synaptic operations per sample and layer: spikes times outgoing synapses.

    ``SOP[s, l] = sum_j counts_l[s, j] * fan_out_l[j]``: a spike of neuron ``j`` of
    layer ``l`` reaches ``fan_out_l[j]`` synapses, each one accumulate. Layers whose
    spikes drive no synapse (the output layer) have fan-out 0, or are left out.
    Reference: Merolla et al. (2014), Science 345:668.

    Parameters
    ----------
    spike_counts : array ``(n_samples, n_layers)``, or list of arrays ``(n_samples, n_l)``
        Either the total spike count of each layer in each sample, or per layer the
        count of each of its ``n_l`` neurons in each sample.
    fan_out : array ``(n_layers,)``, or list of scalars / arrays ``(n_l,)``
        Outgoing synapses per neuron of each layer: a number per layer (e.g. the next
        layer's size for dense connections), or, with per-neuron counts, an array per
        layer for sparse connectivity.

    Returns
    -------
    np.ndarray ``(n_samples, n_layers)``, float, operations (dimensionless)
        Sum over axis 1 for the SOPs of one sample.

    Raises
    ------
    ValueError
        Shapes that do not match, negative counts or fan-outs, no layers.
    """
    if isinstance(spike_counts, (list, tuple)):
        layers = [np.asarray(c, dtype=float) for c in spike_counts]
        fans = list(fan_out) if isinstance(fan_out, (list, tuple, np.ndarray)) else None
        if not layers:
            raise ValueError("spike_counts holds no layers")
        if fans is None or len(fans) != len(layers):
            raise ValueError(f"fan_out must give one entry per layer ({len(layers)} layers), "
                             f"got {fan_out!r}")
        n_samples = {c.shape[0] if c.ndim == 2 else None for c in layers}
        if None in n_samples or len(n_samples) != 1:
            raise ValueError("each layer's counts must be 2-D (n_samples, n_neurons) with the "
                             f"same n_samples, got shapes {[c.shape for c in layers]}")
        out = np.empty((n_samples.pop(), len(layers)))
        for l, (counts, fan) in enumerate(zip(layers, fans)):
            fan = np.asarray(fan, dtype=float)
            if fan.ndim not in (0, 1) or (fan.ndim == 1 and fan.size != counts.shape[1]):
                raise ValueError(f"fan_out[{l}] must be a number or hold {counts.shape[1]} "
                                 f"values (one per neuron), got shape {fan.shape}")
            _non_negative(counts, f"spike_counts[{l}]")
            _non_negative(fan, f"fan_out[{l}]")
            out[:, l] = counts @ np.broadcast_to(fan, (counts.shape[1],))
        return out
    counts = np.asarray(spike_counts, dtype=float)
    fan = np.asarray(fan_out, dtype=float)
    if counts.ndim != 2:
        raise ValueError(f"spike_counts must be (n_samples, n_layers) or a list of per-layer "
                         f"arrays, got shape {counts.shape}")
    if fan.shape != (counts.shape[1],):
        raise ValueError(f"fan_out must hold one number per layer ({counts.shape[1]}), "
                         f"got shape {fan.shape}")
    _non_negative(counts, "spike_counts")
    _non_negative(fan, "fan_out")
    return counts * fan[None, :]


def ann_macs(sizes) -> int:
    """Multiply-accumulates of one forward pass of the dense ANN with these layer sizes.

    ``MACs = sum_l n_l * n_{l+1}`` (one per weight; biases and activation functions
    not counted). For ``(784, 100, 10)``: ``784*100 + 100*10 = 79,400``.
    Reference: the convention of Rueckauer et al. (2017), Front. Neurosci. 11:682.

    Parameters
    ----------
    sizes : sequence of int
        Layer sizes, input first (at least 2).

    Returns
    -------
    int, operations per sample

    Raises
    ------
    ValueError
        Fewer than 2 layers, or a size below 1.
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2:
        raise ValueError(f"sizes must list at least 2 layers (input and output), got {sizes}")
    if min(sizes) < 1:
        raise ValueError(f"layer sizes must be >= 1, got {sizes}")
    return int(sum(a * b for a, b in zip(sizes[:-1], sizes[1:])))


def energy_ratio(sops, macs, energy_per_sop=None, energy_per_mac=None):
    """SNN / ANN cost: ``SOPs / MACs``, or ``(E_sop * SOPs) / (E_mac * MACs)``.

    Without energies the result is the operation ratio, free of hardware assumptions.
    With both energies given (any one unit for both, e.g. pJ, or ``quantities``
    energies) each count is weighted by its cost per operation; a common choice is
    Horowitz's (2014, ISSCC) 45 nm figures, 0.9 pJ per accumulate and 4.6 pJ per
    32-bit float multiply-accumulate, which are the caller's to choose.

    Parameters
    ----------
    sops : float or array
        SOPs per sample: a number, ``(n_samples,)``, or ``(n_samples, n_layers)`` from
        :func:`synaptic_operations` (summed over layers).
    macs : int
        MACs per sample, from :func:`ann_macs`.
    energy_per_sop, energy_per_mac : float or quantity, optional
        Energy per operation; both or neither.

    Returns
    -------
    float or np.ndarray ``(n_samples,)``, dimensionless

    Raises
    ------
    ValueError
        ``macs <= 0``, negative SOPs, only one energy given, non-positive energies.
    """
    sops = np.asarray(sops, dtype=float)
    if sops.ndim == 2:
        sops = sops.sum(axis=1)
    if sops.ndim > 2:
        raise ValueError(f"sops must be a number, (n_samples,) or (n_samples, n_layers), "
                         f"got shape {sops.shape}")
    _non_negative(sops, "sops")
    if not float(macs) > 0:
        raise ValueError(f"macs must be positive, got {macs}")
    ratio = sops / float(macs)
    if (energy_per_sop is None) != (energy_per_mac is None):
        raise ValueError("give both energy_per_sop and energy_per_mac, or neither")
    if energy_per_sop is not None:
        if not (np.all(np.asarray(energy_per_sop) > 0) and np.all(np.asarray(energy_per_mac) > 0)):
            raise ValueError(f"energies per operation must be positive, got "
                             f"{energy_per_sop} and {energy_per_mac}")
        weight = energy_per_sop / energy_per_mac
        if hasattr(weight, "simplified"):  # quantities: the units must cancel
            weight = weight.simplified
            if weight.dimensionality != pq.dimensionless.dimensionality:
                raise ValueError(f"energy_per_sop and energy_per_mac must have the same "
                                 f"dimension, got {energy_per_sop} and {energy_per_mac}")
        ratio = ratio * float(weight)
    return float(ratio) if ratio.ndim == 0 else ratio


def _non_negative(values, name):
    if np.any(np.asarray(values) < 0):
        raise ValueError(f"{name} must be >= 0, got a minimum of {np.min(values)}")
