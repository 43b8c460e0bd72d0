"""Firing rates and spike-train irregularity, computed by Elephant.

One metric per function, each a thin wrapper over :mod:`elephant.statistics` that
checks its input, fixes the units of its output, and states what happens with too few
spikes:

* :func:`mean_rates` — rate of each neuron (Hz);
* :func:`population_mean_rate` — mean over neurons (Hz);
* :func:`population_rate` — population rate over time, in bins (Hz);
* :func:`cv_isi` — coefficient of variation of the inter-spike intervals;
* :func:`lv_isi` — local variation of the inter-spike intervals (Shinomoto 2003);
* :func:`fano_factor` — Fano factor of spike counts across repeated presentations.

Inputs are lists of :class:`neo.SpikeTrain` (see :mod:`analysis.conversion`); times
may be given as ``quantities`` or Brian2 quantities.
"""

from __future__ import annotations

import warnings

import neo
import numpy as np
import quantities as pq
from elephant import statistics

from analysis.conversion import bin_size_ms, check_spike_trains

__all__ = ["mean_rates", "population_mean_rate", "population_rate", "cv_isi", "lv_isi",
           "fano_factor"]


def mean_rates(trains) -> pq.Quantity:
    """Mean firing rate of each neuron over its train's window.

    ``rate_k = n_spikes_k / (t_stop_k - t_start_k)``, computed by
    :func:`elephant.statistics.mean_firing_rate`. Trains may have different windows.

    Parameters
    ----------
    trains : list of neo.SpikeTrain

    Returns
    -------
    pq.Quantity, shape ``(n_trains,)``, Hz

    Raises
    ------
    ValueError
        Empty list, or an element that is not a spike train.
    """
    trains = check_spike_trains(trains, same_span=False)
    rates = [float(statistics.mean_firing_rate(t).rescale(pq.Hz).magnitude) for t in trains]
    return np.array(rates) * pq.Hz


def population_mean_rate(trains) -> pq.Quantity:
    """Mean over neurons of the mean firing rates: total spikes / (n_neurons * duration).

    Silent neurons count (with rate 0): the population rate, not the rate of the
    active neurons. Reference: :func:`elephant.statistics.mean_firing_rate` per neuron.

    Parameters
    ----------
    trains : list of neo.SpikeTrain
        With one common ``t_start`` and ``t_stop``.

    Returns
    -------
    pq.Quantity, scalar, Hz

    Raises
    ------
    ValueError
        Empty list, or trains with different windows.
    """
    trains = check_spike_trains(trains, same_span=True)
    return float(np.mean(mean_rates(trains).magnitude)) * pq.Hz


def population_rate(trains, bin_size) -> neo.AnalogSignal:
    """Population rate in time bins: spikes in the bin / (n_neurons * bin_size).

    Computed by :func:`elephant.statistics.time_histogram` with ``output='rate'``.
    Bins start at the trains' ``t_start``; a last bin that would cross ``t_stop`` is
    dropped (Elephant's :class:`~elephant.conversion.BinnedSpikeTrain` rule).

    Parameters
    ----------
    trains : list of neo.SpikeTrain
        With one common ``t_start`` and ``t_stop``.
    bin_size : time quantity
        Width of one bin (> 0).

    Returns
    -------
    neo.AnalogSignal, shape ``(n_bins, 1)``, in Hz
        ``result[j]`` is the rate between ``t_start + j*bin_size`` and
        ``t_start + (j+1)*bin_size``; ``result.times`` are the bins' left edges.

    Raises
    ------
    ValueError
        Empty list, trains with different windows, ``bin_size <= 0``, or ``bin_size``
        longer than the trains' window (no whole bin).
    """
    trains = check_spike_trains(trains, same_span=True)
    width = bin_size_ms(trains, bin_size)
    hist = statistics.time_histogram(trains, bin_size=width * pq.ms, output="rate")
    return hist.rescale(pq.Hz)


def _isis(train) -> np.ndarray:
    # Elephant's isi on a sorted train; neo does not guarantee sorted times
    return np.asarray(statistics.isi(np.sort(train.times.rescale(pq.ms).magnitude)))


def _per_train(trains, statistic) -> np.ndarray:
    """``statistic`` of each train's ISIs; NaN for trains with fewer than 2 ISIs."""
    trains = check_spike_trains(trains, same_span=False)
    out = np.full(len(trains), np.nan)
    for k, train in enumerate(trains):
        intervals = _isis(train)
        if intervals.size >= 2:
            out[k] = float(statistic(intervals))
    return out


def cv_isi(trains) -> np.ndarray:
    """Coefficient of variation of each neuron's inter-spike intervals (ISIs).

    ``CV = std(I) / mean(I)`` with the population standard deviation (``ddof=0``),
    as :data:`elephant.statistics.cv` (``scipy.stats.variation``) computes it from
    :func:`elephant.statistics.isi`. 1 for a Poisson process, 0 for a regular train.
    Reference: Softky & Koch (1993), J. Neurosci. 13:334.

    Trains with fewer than 2 ISIs (fewer than 3 spikes) get NaN: one interval has no
    spread to measure.

    Parameters
    ----------
    trains : list of neo.SpikeTrain

    Returns
    -------
    np.ndarray, shape ``(n_trains,)``, dimensionless (NaN where undefined)

    Raises
    ------
    ValueError
        Empty list, or an element that is not a spike train.
    """
    return _per_train(trains, statistics.cv)


def lv_isi(trains) -> np.ndarray:
    """Local variation of each neuron's inter-spike intervals.

    ``LV = 3/(n-1) * sum_{i=1}^{n-1} ((I_i - I_{i+1}) / (I_i + I_{i+1}))**2`` for ``n``
    ISIs ``I_i``; 1 for a Poisson process, 0 for a regular train, insensitive to slow
    rate changes. Computed by :func:`elephant.statistics.lv` on
    :func:`elephant.statistics.isi`. Reference: Shinomoto, Shima & Tanji (2003),
    Neural Comput. 15:2823.

    Parameters
    ----------
    trains : list of neo.SpikeTrain

    Returns
    -------
    np.ndarray, shape ``(n_trains,)``, dimensionless, in ``[0, 3)``
        NaN for trains with fewer than 3 spikes (fewer than 2 ISIs).

    Raises
    ------
    ValueError
        Empty list, or an element that is not a spike train.
    """
    return _per_train(trains, statistics.lv)


def fano_factor(trials) -> float | np.ndarray:
    """Fano factor of spike counts across repeated presentations: ``var(N) / mean(N)``.

    Computed by :func:`elephant.statistics.fanofactor` (population variance,
    ``ddof=0``). 1 for a Poisson process. Reference: Fano (1947), Phys. Rev. 72:26;
    for spike counts, Teich (1989), IEEE Trans. Biomed. Eng. 36:150.

    Parameters
    ----------
    trials : list of neo.SpikeTrain, or list of lists of neo.SpikeTrain
        One train per presentation of the same stimulus, for one neuron; or, for a
        population, one list of ``n_neurons`` trains per presentation
        (``trials[r][j]``: neuron ``j`` in presentation ``r``). All presentations must
        have the same duration: counts of windows of different lengths are not
        comparable.

    Returns
    -------
    float, or np.ndarray of shape ``(n_neurons,)`` for a population
        Dimensionless; NaN for a neuron that never fired in any presentation.

    Raises
    ------
    ValueError
        Fewer than 2 presentations, presentations of different durations, or
        populations of different sizes.
    """
    trials = list(trials)
    if len(trials) < 2:
        raise ValueError(f"a Fano factor needs at least 2 presentations, got {len(trials)}")
    if all(isinstance(t, neo.SpikeTrain) for t in trials):
        return _fano_one(trials)
    if not all(isinstance(t, (list, tuple)) for t in trials):
        raise ValueError("trials must be a list of neo.SpikeTrain (one neuron) or a list of "
                         "lists of neo.SpikeTrain (one list per presentation)")
    sizes = {len(t) for t in trials}
    if len(sizes) != 1:
        raise ValueError(f"every presentation must hold the same neurons; got populations "
                         f"of sizes {sorted(sizes)}")
    n_neurons = sizes.pop()
    if n_neurons == 0:
        raise ValueError("presentations hold no spike trains")
    return np.array([_fano_one([trial[j] for trial in trials]) for j in range(n_neurons)])


def _fano_one(trains) -> float:
    trains = check_spike_trains(trains, same_span=False, min_trains=2, name="trials")
    durations = np.array([float(t.duration.rescale(pq.ms)) for t in trains])
    if np.ptp(durations) > 1e-6:
        raise ValueError(f"presentations must have the same duration, got durations from "
                         f"{durations.min()} to {durations.max()} ms")
    with warnings.catch_warnings():
        # equal durations were checked above, with a message that says what to do
        warnings.simplefilter("ignore", UserWarning)
        return float(statistics.fanofactor(trains))
