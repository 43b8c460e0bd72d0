"""Spike-train distances: van Rossum and Victor-Purpura matrices.

* :func:`van_rossum_matrix` — Elephant's van Rossum distance, the reference;
* :func:`van_rossum_matrix_fast` — the same matrix from a vectorised closed form, for
  populations where Elephant's pairwise Python loop is too slow; tested against
  Elephant to ``rtol=1e-9`` in both normalisations;
* :func:`victor_purpura_matrix` — Elephant's Victor-Purpura distance;
* :func:`population_distances` — mean E-E, E-I and I-I distances of a matrix.

Normalisation of the van Rossum distance
-----------------------------------------
van Rossum (2001) filters each train with a causal exponential ``exp(-t/tau)`` and
defines ``D**2 = (1/tau) * integral (f - g)**2 dt``. With
``K(a, b) = sum_{i in a, j in b} exp(-|t_i - t_j| / tau)`` this is

    D_2001(a, b)**2 = (K(a, a) + K(b, b) - 2 K(a, b)) / 2,

so one spike against an empty train gives ``D_2001 = 1/sqrt(2)``. Elephant
(:func:`elephant.spike_train_dissimilarity.van_rossum_distance`) leaves out the factor
1/2: its distance is ``sqrt(2) * D_2001`` and one spike against an empty train gives 1.

Timing (measured on this package's 2-core development machine while another job ran,
so only the ratio means much; tau = 10 ms, Poisson trains at 20 Hz over 1 s):
200 trains, Elephant 1.2 s, :func:`van_rossum_matrix_fast` 0.18 s; 1,000 trains,
Elephant 23 s, fast 1.1 s. ``tests/analysis/test_distances.py`` prints the 200-train
case again (run it with ``-s``).
"""

from __future__ import annotations

import numpy as np
import quantities as pq
from elephant import spike_train_dissimilarity
from scipy import sparse

from analysis.conversion import check_spike_trains, magnitude_ms, positive_milliseconds

__all__ = ["van_rossum_matrix", "van_rossum_matrix_fast", "victor_purpura_matrix",
           "population_distances", "NORMALISATIONS"]

#: Accepted ``normalisation`` values of :func:`van_rossum_matrix_fast`, and the factor
#: by which each multiplies ``sqrt(K(a,a) + K(b,b) - 2 K(a,b))``.
NORMALISATIONS = {"elephant": 1.0, "vanrossum2001": 1.0 / np.sqrt(2.0)}


def van_rossum_matrix(trains, tau) -> np.ndarray:
    """Pairwise van Rossum distances, computed by Elephant.

    :func:`elephant.spike_train_dissimilarity.van_rossum_distance`, Elephant's
    normalisation: ``sqrt(2)`` times van Rossum's (2001) ``D`` (see the module
    docstring); one spike against an empty train is 1. Reference: van Rossum (2001),
    "A novel spike distance", Neural Comput. 13:751; algorithm of Houghton & Kreuz
    (2012), Network 23:48. Cost ``O(N**2 n)`` in Python loops: about 8 s for 1,000
    trains; use :func:`van_rossum_matrix_fast` for large populations.

    Parameters
    ----------
    trains : list of neo.SpikeTrain
        With one common ``t_start`` and ``t_stop``.
    tau : time quantity
        Time constant of the exponential filter (> 0).

    Returns
    -------
    np.ndarray ``(n_trains, n_trains)``, dimensionless, symmetric, zero diagonal

    Raises
    ------
    ValueError
        Empty list, different windows, ``tau <= 0``.
    """
    trains = check_spike_trains(trains, same_span=True)
    tau_ms = positive_milliseconds(tau, "tau")
    trains = [t.rescale(pq.ms) for t in trains]
    return np.asarray(spike_train_dissimilarity.van_rossum_distance(
        trains, time_constant=tau_ms * pq.ms))


def van_rossum_matrix_fast(trains, tau, normalisation: str = "elephant",
                           block: int = 512) -> np.ndarray:
    """Pairwise van Rossum distances from a vectorised closed form.

    ``D(a, b) = c * sqrt(K(a,a) + K(b,b) - 2 K(a,b))`` with
    ``K(a, b) = sum_{i in a, j in b} exp(-|t_i - t_j| / tau)``, ``c = 1`` for
    ``normalisation="elephant"`` (equal to
    :func:`elephant.spike_train_dissimilarity.van_rossum_distance`) and
    ``c = 1/sqrt(2)`` for ``"vanrossum2001"`` (van Rossum 2001, Neural Comput. 13:751:
    one spike against an empty train is ``1/sqrt(2)``).

    All spikes of all trains are sorted once by time. For each spike the filtered
    trace of every train just before it is obtained in blocks of ``block`` spikes: the
    trace carried from the previous block, decayed, plus a matrix product with the
    strictly lower-triangular kernel ``exp(-(t_k - t_j)/tau)`` of the block (the
    recursion of Houghton & Kreuz 2012, Network 23:48, batched). Scattering these
    traces onto the spikes' own trains gives ``C[a, b]``, the sum over pairs with the
    spike of ``b`` first, and ``K = C + C.T + diag(n_spikes)``. Cost
    ``O(S * (block + N))`` for ``S`` spikes in ``N`` trains, memory
    ``O(block * (block + N) + N**2)``; no Python loop over pairs or spikes.

    Parameters
    ----------
    trains : list of neo.SpikeTrain
        With one common ``t_start`` and ``t_stop``.
    tau : time quantity
        Time constant of the exponential filter (> 0, finite).
    normalisation : {"elephant", "vanrossum2001"}
        Scale of the result, see above.
    block : int
        Number of spikes handled per matrix product.

    Returns
    -------
    np.ndarray ``(n_trains, n_trains)``, dimensionless, symmetric, zero diagonal
        With ``normalisation="elephant"``, :func:`van_rossum_matrix` to ``rtol=1e-9``.

    Raises
    ------
    ValueError
        Empty list, different windows, ``tau <= 0``, unknown normalisation.
    """
    if normalisation not in NORMALISATIONS:
        raise ValueError(f"normalisation must be one of {sorted(NORMALISATIONS)}, "
                         f"got {normalisation!r}")
    trains = check_spike_trains(trains, same_span=True)
    tau_ms = positive_milliseconds(tau, "tau")
    if int(block) < 1:
        raise ValueError(f"block must be >= 1, got {block}")
    block = int(block)
    n = len(trains)
    times = [np.asarray(magnitude_ms(t.times), dtype=float) / tau_ms for t in trains]
    owner = np.repeat(np.arange(n), [len(t) for t in times])
    times = np.concatenate(times) if times else np.zeros(0)
    order = np.argsort(times, kind="stable")
    times, owner = times[order], owner[order]
    # C[a, b]: sum over spike pairs (k of a, j of b) with j before k in this order of
    # exp(-(t_k - t_j)); equal times give exp(0) = 1 once per pair, as they should
    C = np.zeros((n, n))
    trace = np.zeros(n)  # per train, sum over spikes so far of exp(-(t_ref - t_j))
    t_ref = times[0] if times.size else 0.0
    for lo in range(0, times.size, block):
        t = times[lo:lo + block]
        # one-hot owner matrix, transposed (n, b), sparse: costs O(b) per product row
        owners_t = sparse.csr_matrix((np.ones(t.size), (owner[lo:lo + block], np.arange(t.size))),
                                     shape=(n, t.size))
        earlier = np.tril(np.exp(-np.maximum(t[:, None] - t[None, :], 0.0)), -1)
        traces = np.exp(-(t - t_ref))[:, None] * trace[None, :] + (owners_t @ earlier.T).T
        C += owners_t @ traces
        trace = np.exp(-(t[-1] - t_ref)) * trace + owners_t @ np.exp(-(t[-1] - t))
        t_ref = t[-1]
    K = C + C.T
    K[np.diag_indices(n)] += np.bincount(owner, minlength=n)  # each spike with itself
    diag = np.diag(K)
    squared = diag[:, None] + diag[None, :] - 2.0 * K
    np.fill_diagonal(squared, 0.0)
    # rounding can leave tiny negatives for nearly identical trains
    return NORMALISATIONS[normalisation] * np.sqrt(np.maximum(squared, 0.0))


def victor_purpura_matrix(trains, q) -> np.ndarray:
    """Pairwise Victor-Purpura distances, computed by Elephant.

    The least cost of turning one train into the other by inserting or deleting spikes
    (cost 1 each) and shifting spikes (cost ``q * |dt|``); a single spike shifted by
    ``dt`` is at ``min(2, q * |dt|)``. Reference: Victor & Purpura (1996),
    J. Neurophysiol. 76:1310; :func:`elephant.spike_train_dissimilarity.victor_purpura_distance`.

    Parameters
    ----------
    trains : list of neo.SpikeTrain
        With one common ``t_start`` and ``t_stop``.
    q : rate quantity (``quantities``, e.g. ``0.1 / pq.ms``; or Brian2, e.g. ``100*Hz``)
        Cost per unit of time shift (>= 0); ``2/q`` is the time scale of the metric.

    Returns
    -------
    np.ndarray ``(n_trains, n_trains)``, dimensionless (number of operations' cost)

    Raises
    ------
    ValueError
        Empty list, different windows, ``q`` negative or not a rate.
    """
    trains = check_spike_trains(trains, same_span=True)
    q_per_ms = _rate_per_ms(q)
    if not q_per_ms >= 0:
        raise ValueError(f"q must be >= 0, got {q_per_ms} 1/ms")
    trains = [t.rescale(pq.ms) for t in trains]
    return np.asarray(spike_train_dissimilarity.victor_purpura_distance(
        trains, cost_factor=(q_per_ms * 1e3) * pq.Hz), dtype=float)


def _rate_per_ms(q) -> float:
    if isinstance(q, pq.Quantity):
        try:
            return float(q.rescale(1 / pq.ms).magnitude)
        except ValueError as err:
            raise ValueError(f"q must be a rate (1/time), got {q!r}") from err
    dim = getattr(q, "dim", None)
    if dim is not None:
        from brian2 import Hz

        if dim != Hz.dim:
            raise ValueError(f"q must be a rate (1/time), got {q!r}")
        return float(np.asarray(q)) * 1e-3
    raise ValueError(f"q must be a rate with units (e.g. 0.1/pq.ms), got {q!r}")


def population_distances(matrix, is_excitatory) -> dict:
    """Mean distance within and between the excitatory and inhibitory populations.

    Averages over off-diagonal pairs only: the diagonal is each train's distance to
    itself (always 0) and would pull the within-population means towards 0 by a
    factor ``(n-1)/n`` that depends on the population size. E-I pairs have no diagonal.

    Parameters
    ----------
    matrix : array ``(n, n)``
        A symmetric distance matrix (any of this module's).
    is_excitatory : bool array ``(n,)``
        True for excitatory neurons.

    Returns
    -------
    dict
        ``{"EE": float, "EI": float, "II": float}``, in the matrix's units; NaN where a
        population has fewer than 2 neurons (EE, II) or is empty (EI).

    Raises
    ------
    ValueError
        A non-square matrix, or a mask of another length.

    Reference: a plain average of the matrix's entries; the E/I split is the one of
    :func:`models.populations.ei_population` (excitatory neurons first).
    """
    matrix = np.asarray(matrix, dtype=float)
    mask = np.asarray(is_excitatory, dtype=bool).ravel()
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"matrix must be square, got shape {matrix.shape}")
    if mask.size != matrix.shape[0]:
        raise ValueError(f"is_excitatory has {mask.size} entries for a "
                         f"{matrix.shape[0]}x{matrix.shape[0]} matrix")
    off = ~np.eye(mask.size, dtype=bool)

    def mean(rows, cols):
        pairs = rows[:, None] & cols[None, :] & off
        return float(matrix[pairs].mean()) if pairs.any() else float("nan")

    return {"EE": mean(mask, mask), "EI": mean(mask, ~mask), "II": mean(~mask, ~mask)}
