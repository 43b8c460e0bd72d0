"""Pairwise correlation and population synchrony, computed by Elephant.

* :func:`sttc_matrix` — spike time tiling coefficient of every pair (Cutts & Eglen 2014);
* :func:`correlation_matrix` — Pearson correlation of binned spike counts;
* :func:`spike_contrast` — population synchrony (Ciba et al. 2018).

All take lists of :class:`neo.SpikeTrain` sharing one ``t_start`` and ``t_stop``.
"""

from __future__ import annotations

import warnings

import numpy as np
import quantities as pq
from elephant import spike_train_correlation, spike_train_synchrony
from elephant.conversion import BinnedSpikeTrain

from analysis.conversion import bin_size_ms, check_spike_trains, positive_milliseconds

__all__ = ["sttc_matrix", "correlation_matrix", "spike_contrast"]


def sttc_matrix(trains, dt) -> np.ndarray:
    """Spike time tiling coefficient (STTC) of every pair of trains.

    ``STTC = 1/2 ((P_A - T_B)/(1 - P_A T_B) + (P_B - T_A)/(1 - P_B T_A))``: ``P_A`` the
    fraction of A's spikes within ``±dt`` of a spike of B, ``T_A`` the fraction of the
    recording within ``±dt`` of a spike of A. 1 for identical trains, about 0 for
    independent ones, insensitive to firing rate. Reference: Cutts & Eglen (2014),
    J. Neurosci. 34:14288; :func:`elephant.spike_train_correlation.spike_time_tiling_coefficient`.

    Parameters
    ----------
    trains : list of neo.SpikeTrain
        With one common ``t_start`` and ``t_stop``.
    dt : time quantity
        Half-width of the synchrony window (> 0).

    Returns
    -------
    np.ndarray ``(n_trains, n_trains)``, dimensionless, symmetric
        Diagonal 1 for trains with spikes; NaN in the rows and columns of empty trains
        (Elephant's convention: the coefficient is undefined without spikes).

    Raises
    ------
    ValueError
        Empty list, different windows, ``dt <= 0``.
    """
    trains = check_spike_trains(trains, same_span=True)
    window = positive_milliseconds(dt, "dt") * pq.ms
    trains = [t.rescale(pq.ms) for t in trains]
    n = len(trains)
    out = np.full((n, n), np.nan)
    for i in range(n):
        if len(trains[i]) == 0:
            continue
        out[i, i] = 1.0
        for j in range(i + 1, n):
            if len(trains[j]) == 0:
                continue
            out[i, j] = out[j, i] = spike_train_correlation.spike_time_tiling_coefficient(
                trains[i], trains[j], dt=window)
    return out


def correlation_matrix(trains, bin_size, binary: bool = False) -> np.ndarray:
    """Pearson correlation coefficients of binned spike counts, every pair.

    The trains are binned by :class:`elephant.conversion.BinnedSpikeTrain` (bins from
    ``t_start``; a last bin crossing ``t_stop`` is dropped) and correlated by
    :func:`elephant.spike_train_correlation.correlation_coefficient`. The value depends
    strongly on ``bin_size`` (Cohen & Kohn 2011, Nat. Neurosci. 14:811).

    Parameters
    ----------
    trains : list of neo.SpikeTrain
        With one common ``t_start`` and ``t_stop``.
    bin_size : time quantity
        Bin width (> 0, at most the trains' duration).
    binary : bool
        Clip counts to 0/1 before correlating.

    Returns
    -------
    np.ndarray ``(n_trains, n_trains)``, dimensionless in [-1, 1]
        NaN in the rows and columns of trains with no spike (zero variance).

    Raises
    ------
    ValueError
        Empty list, different windows, ``bin_size <= 0`` or longer than the trains.
    """
    trains = check_spike_trains(trains, same_span=True)
    width = bin_size_ms(trains, bin_size)
    binned = BinnedSpikeTrain([t.rescale(pq.ms) for t in trains], bin_size=width * pq.ms)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        # silent trains have zero variance: Elephant and numpy warn; the NaNs are documented
        warnings.simplefilter("ignore", UserWarning)
        return np.atleast_2d(spike_train_correlation.correlation_coefficient(binned, binary=binary))


def spike_contrast(trains, min_bin=10 * pq.ms, bin_shrink_factor: float = 0.9,
                   return_trace: bool = False):
    """Spike-contrast synchrony of a population, in [0, 1].

    Histograms of the pooled spikes at shrinking bin sizes, from half the duration
    down to ``max(min_bin, min ISI / 2)``; the synchrony is the maximum over bin sizes
    of contrast times active-train fraction. Reference: Ciba et al. (2018),
    J. Neurosci. Methods 308:136; :func:`elephant.spike_train_synchrony.spike_contrast`,
    over the trains' common window.

    Parameters
    ----------
    trains : list of neo.SpikeTrain
        At least 2, with one common ``t_start`` and ``t_stop``, and at least one with 2
        or more spikes.
    min_bin : time quantity
        Smallest bin size considered (> 0).
    bin_shrink_factor : float
        Ratio of successive bin sizes, in (0, 1).
    return_trace : bool
        Also return Elephant's ``SpikeContrastTrace`` (contrast, active trains,
        synchrony and bin size at each step).

    Returns
    -------
    float, dimensionless; or ``(float, SpikeContrastTrace)`` with ``return_trace``

    Raises
    ------
    ValueError
        Fewer than 2 trains, different windows, ``min_bin <= 0``,
        ``bin_shrink_factor`` outside (0, 1), no train with 2 spikes.
    """
    trains = check_spike_trains(trains, same_span=True, min_trains=2)
    smallest = positive_milliseconds(min_bin, "min_bin")
    if not 0.0 < bin_shrink_factor < 1.0:
        raise ValueError(f"bin_shrink_factor must be in (0, 1), got {bin_shrink_factor}")
    if not any(len(t) >= 2 for t in trains):
        raise ValueError("spike contrast needs at least one train with 2 or more spikes")
    trains = [t.rescale(pq.ms) for t in trains]
    result = spike_train_synchrony.spike_contrast(
        trains, t_start=trains[0].t_start, t_stop=trains[0].t_stop,
        min_bin=smallest * pq.ms, bin_shrink_factor=bin_shrink_factor,
        return_trace=return_trace)
    if return_trace:
        return float(result[0]), result[1]
    return float(result)
