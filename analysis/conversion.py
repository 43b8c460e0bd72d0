"""From Brian2 spikes to ``neo.SpikeTrain`` lists, and from those to NIX files.

Every metric of :mod:`analysis` takes a list of :class:`neo.SpikeTrain`. This module
makes those lists once, with units (milliseconds) and an explicit ``t_start`` and
``t_stop``, from the three places spikes live in this package:

* a Brian2 :class:`~brian2.monitors.spikemonitor.SpikeMonitor` after a run
  (:func:`spike_trains_from_monitor`);
* plain arrays of spike times and neuron indices (:func:`spike_trains_from_arrays`);
* boolean rasters ``(n_steps, n_neurons)`` of clocked networks such as desire
  backpropagation (:func:`spike_trains_from_raster`), and the output rasters desire
  keeps in ``recordings/epoch-NNNN.npz`` of a run folder
  (:func:`spike_trains_from_recording`, for runs recorded before the spike recording
  format).

The spikes of every layer that runs record for their analysis set,
``recordings/spikes-epoch-NNNN.npz``, are read by
:func:`analysis.recording.read_spike_recording` and made into one ``neo.Segment`` per
image by :func:`analysis.recording.recording_segments`: that is the path for new runs.

:func:`export_nix` writes the trains to a NIX file (Stoewer et al., 2014,
Front. Neuroinform., "NIX: a data model and file format"; neo's
:class:`neo.io.NixIO`), readable by neo from Python and MATLAB.

Every train holds one neuron; a neuron that never fired gets an empty train, so that
position ``k`` of a list is always the ``k``-th requested neuron. The neuron's index in
its group is stored in the train's ``neuron`` annotation.

:func:`check_spike_trains` is the input check every metric of the package runs.

Reference: Garcia S. et al. (2014), "Neo: an object model for handling
electrophysiology data in multiple formats", Front. Neuroinform. 8:10.
"""

from __future__ import annotations

from pathlib import Path

import neo
import numpy as np
import quantities as pq

__all__ = [
    "TIME_UNITS",
    "as_milliseconds",
    "magnitude_ms",
    "check_spike_trains",
    "spike_trains_from_monitor",
    "spike_trains_from_arrays",
    "spike_trains_from_raster",
    "spike_trains_from_recording",
    "export_nix",
]

#: Units of every spike train this module makes.
TIME_UNITS = pq.ms


def as_milliseconds(value, name: str) -> float:
    """A time given as a Brian2 quantity or a ``quantities`` quantity, in ms (float).

    Plain numbers are refused: a time without units is ambiguous.

    Raises
    ------
    ValueError
        ``value`` is a plain number, or not a time.
    """
    if isinstance(value, pq.Quantity):
        try:
            return float(value.rescale(pq.ms).magnitude)
        except ValueError as err:
            raise ValueError(f"{name} must be a time, got {value!r}") from err
    dim = getattr(value, "dim", None)
    if dim is not None:  # a Brian2 quantity: its value is in SI units (s)
        from brian2 import second

        if dim != second.dim:
            raise ValueError(f"{name} must be a time, got {value!r}")
        return float(np.asarray(value)) * 1e3
    raise ValueError(f"{name} must be a time with units (e.g. 5*ms), got {value!r}")


def magnitude_ms(quantity: pq.Quantity):
    """The magnitude of a time quantity in ms (array or float).

    Quantities already in ms, as every train this module makes is, skip ``rescale``:
    its dimensionality hashing costs about 0.1 ms a call, which adds seconds to a
    pairwise metric over a few hundred trains called every epoch."""
    units = list(quantity._dimensionality.items())
    if len(units) == 1 and units[0][0] is pq.ms and units[0][1] == 1:
        return quantity.magnitude
    return quantity.rescale(pq.ms).magnitude


def positive_milliseconds(value, name: str) -> float:
    """:func:`as_milliseconds` of a time that must be positive and finite (a time
    constant, a bin size, a window)."""
    ms = as_milliseconds(value, name)
    if not (ms > 0 and np.isfinite(ms)):
        raise ValueError(f"{name} must be positive and finite, got {ms} ms")
    return ms


def bin_size_ms(trains, bin_size) -> float:
    """:func:`positive_milliseconds` of a bin size that fits in the window of ``trains``
    (checked by :func:`check_spike_trains` with ``same_span``): binned metrics need at
    least one whole bin."""
    width = positive_milliseconds(bin_size, "bin_size")
    duration = float((trains[0].t_stop - trains[0].t_start).rescale(pq.ms))
    if width > duration:
        raise ValueError(f"bin_size ({width} ms) is longer than the trains ({duration} ms)")
    return width


def check_spike_trains(trains, *, same_span: bool = True, min_trains: int = 1,
                       name: str = "trains") -> list:
    """Check a list of spike trains before a metric uses it.

    Parameters
    ----------
    trains : sequence of neo.SpikeTrain
    same_span : bool
        Require one common ``t_start`` and ``t_stop`` (population metrics compare
        or pool trains, which is meaningful only over one window).
    min_trains : int
        The fewest trains the metric accepts.

    Returns
    -------
    list of neo.SpikeTrain
        The trains, as a list.

    Raises
    ------
    ValueError
        Fewer than ``min_trains`` trains, an element that is not a
        :class:`neo.SpikeTrain`, or (``same_span``) differing ``t_start``/``t_stop``.
    """
    if isinstance(trains, neo.SpikeTrain):
        raise ValueError(f"{name} must be a list of neo.SpikeTrain, got a single SpikeTrain; "
                         "wrap it in a list")
    trains = list(trains)
    if len(trains) < min_trains:
        raise ValueError(f"{name} must hold at least {min_trains} spike train(s), "
                         f"got {len(trains)}")
    for k, train in enumerate(trains):
        if not isinstance(train, neo.SpikeTrain):
            raise ValueError(f"{name}[{k}] is a {type(train).__name__}, not a neo.SpikeTrain; "
                             "convert with analysis.conversion first")
    if same_span and trains:
        # 1 ns tolerance: trains made with different units round differently
        starts = np.array([float(magnitude_ms(t.t_start)) for t in trains])
        stops = np.array([float(magnitude_ms(t.t_stop)) for t in trains])
        if np.ptp(starts) > 1e-6 or np.ptp(stops) > 1e-6:
            bad = int(np.argmax((np.abs(starts - starts[0]) > 1e-6)
                                | (np.abs(stops - stops[0]) > 1e-6)))
            raise ValueError(
                f"{name} must share t_start and t_stop: {name}[0] spans "
                f"[{starts[0]}, {stops[0]}] ms but {name}[{bad}] spans "
                f"[{starts[bad]}, {stops[bad]}] ms")
    return trains


def spike_trains_from_arrays(times, indices, n_neurons: int, t_stop, t_start=0.0,
                             units: str = "ms", neurons=None) -> list:
    """One :class:`neo.SpikeTrain` per neuron from flat arrays of spikes.

    Parameters
    ----------
    times : array of float
        Spike times, in ``units``.
    indices : array of int
        Neuron index of each spike, in ``[0, n_neurons)``.
    n_neurons : int
        Number of neurons; neurons without spikes get empty trains.
    t_stop, t_start : float
        Window of the trains, in ``units``. Spikes outside ``[t_start, t_stop]`` are
        dropped (e.g. a warm-up period before ``t_start``).
    units : str
        Time units of ``times``, ``t_start`` and ``t_stop`` ("ms", "s", ...).
    neurons : array of int, optional
        Only these neurons, in this order (default: all ``n_neurons``).

    Returns
    -------
    list of neo.SpikeTrain
        Trains in ms, sorted spike times, annotated with ``neuron``.

    Raises
    ------
    ValueError
        Mismatched lengths, indices out of range, ``t_stop <= t_start``, unknown units.
    """
    times = np.asarray(times, dtype=float).ravel()
    indices = np.asarray(indices).ravel()
    if times.shape != indices.shape:
        raise ValueError(f"times and indices must have the same length, got "
                         f"{times.size} and {indices.size}")
    n_neurons = int(n_neurons)
    if n_neurons < 0:
        raise ValueError(f"n_neurons must be >= 0, got {n_neurons}")
    if indices.size and (indices.min() < 0 or indices.max() >= n_neurons):
        raise ValueError(f"neuron indices must lie in [0, {n_neurons}), got "
                         f"[{indices.min()}, {indices.max()}]")
    try:
        scale = float(pq.Quantity(1.0, units).rescale(pq.ms).magnitude)
    except (LookupError, ValueError) as err:
        raise ValueError(f"units must be a time unit such as 'ms' or 's', got {units!r}") from err
    start, stop = float(t_start) * scale, float(t_stop) * scale
    if not stop > start:
        raise ValueError(f"t_stop ({t_stop} {units}) must be after t_start ({t_start} {units})")
    neurons = np.arange(n_neurons) if neurons is None else np.asarray(neurons, dtype=int).ravel()
    if neurons.size and (neurons.min() < 0 or neurons.max() >= n_neurons):
        raise ValueError(f"neurons must lie in [0, {n_neurons}), got "
                         f"[{neurons.min()}, {neurons.max()}]")
    times_ms = times * scale
    inside = (times_ms >= start) & (times_ms <= stop)
    times_ms, indices = times_ms[inside], indices[inside]
    # one stable sort by neuron then time, then slice: O(n log n) for any number of neurons
    order = np.lexsort((times_ms, indices))
    times_ms, indices = times_ms[order], indices[order]
    bounds = np.searchsorted(indices, np.arange(n_neurons + 1))
    return [neo.SpikeTrain(times_ms[bounds[k]:bounds[k + 1]], units=TIME_UNITS,
                           t_start=start * TIME_UNITS, t_stop=stop * TIME_UNITS,
                           neuron=int(k))
            for k in neurons]


def spike_trains_from_monitor(monitor, t_start=0 * pq.ms, t_stop=None, indices=None) -> list:
    """One :class:`neo.SpikeTrain` per neuron of a Brian2 ``SpikeMonitor``'s source.

    Reads ``monitor.t_`` (s) and ``monitor.i`` after the run, on any device whose
    monitor values are readable (runtime; standalone after ``device.build``).

    Parameters
    ----------
    monitor : brian2.SpikeMonitor
    t_start : time quantity (Brian2 or ``quantities``), optional
        Start of the window. Earlier spikes are dropped.
    t_stop : time quantity, optional
        End of the window; default the network's final time, ``monitor.clock.t``
        (the time the last ``run`` stopped at), so that silence at the end of the run
        counts in rates.
    indices : array of int, optional
        Only these neurons of the source group, in this order (e.g. the excitatory
        ones); default all ``len(monitor.source)`` neurons, silent ones included.

    Returns
    -------
    list of neo.SpikeTrain
        Trains in ms, annotated with ``neuron`` (index in the source group) and
        ``source`` (the group's name).

    Raises
    ------
    ValueError
        Times without units, ``t_stop <= t_start`` (e.g. a monitor that never ran and
        no ``t_stop``), indices outside the group.
    """
    start = as_milliseconds(t_start, "t_start")
    stop = as_milliseconds(monitor.clock.t if t_stop is None else t_stop, "t_stop")
    if not stop > start:
        raise ValueError(f"t_stop ({stop} ms) must be after t_start ({start} ms); "
                         "has the network run? pass t_stop explicitly otherwise")
    trains = spike_trains_from_arrays(np.asarray(monitor.t_[:]) * 1e3, np.asarray(monitor.i[:]),
                                      len(monitor.source), t_stop=stop, t_start=start,
                                      units="ms", neurons=indices)
    for train in trains:
        train.annotate(source=str(monitor.source.name))
    return trains


def spike_trains_from_raster(raster, dt, t_start=None) -> list:
    """One :class:`neo.SpikeTrain` per column of a boolean spike raster.

    A spike in step ``k`` is placed at ``t_start + k * dt``, the time Brian2 gives a
    spike emitted in that step; the trains end at ``t_start + n_steps * dt``.

    Parameters
    ----------
    raster : bool array ``(n_steps, n_neurons)``
        ``raster[k, j]``: neuron ``j`` spiked in step ``k`` (at most one spike per step).
    dt : time quantity (Brian2 or ``quantities``)
        Duration of one step.
    t_start : time quantity, optional
        Time of step 0; default 0 ms.

    Returns
    -------
    list of neo.SpikeTrain
        ``n_neurons`` trains in ms, annotated with ``neuron``.

    Raises
    ------
    ValueError
        ``raster`` not 2-D, non-positive ``dt``.
    """
    raster = np.asarray(raster)
    if raster.ndim != 2:
        raise ValueError(f"raster must be 2-D (n_steps, n_neurons), got shape {raster.shape}")
    step = as_milliseconds(dt, "dt")
    if not step > 0:
        raise ValueError(f"dt must be positive, got {step} ms")
    start = 0.0 if t_start is None else as_milliseconds(t_start, "t_start")
    steps, neurons = np.nonzero(raster)
    return spike_trains_from_arrays(start + steps * step, neurons, raster.shape[1],
                                    t_stop=start + raster.shape[0] * step, t_start=start,
                                    units="ms")


def spike_trains_from_recording(run_folder_path, name: str, key: str = "output_raster",
                                dt=1 * pq.ms) -> list:
    """Spike trains of the rasters a run folder recorded, one list per image.

    Kept for desire runs recorded before the spike recording format; the spikes of
    every layer, in every protocol, are read by
    :func:`analysis.recording.read_spike_recording` and
    :func:`analysis.recording.recording_segments`.

    Desire backpropagation (:mod:`experiments.desire`) records, after each epoch,
    ``recordings/epoch-NNNN.npz`` whose ``output_raster`` is a bool array
    ``(n_images, n_steps, n_outputs)``: the output spikes for one evaluation image per
    class. The images' ``label`` and ``sample`` arrays, when present, are copied into
    each train's annotations.

    Parameters
    ----------
    run_folder_path : path
        The run folder, e.g. ``results/desire/<run-id>``.
    name : str
        Recording name without ``.npz``, e.g. ``"epoch-0003"``.
    key : str
        Array of the recording holding the rasters.
    dt : time quantity (Brian2 or ``quantities``)
        Duration of one step; the default 1 ms is desire's nominal step (its
        ``dt_ms``; the model is clocked, one step per ``dt``).

    Returns
    -------
    list of list of neo.SpikeTrain
        ``result[i][j]``: neuron ``j`` during image ``i``, each train in ms from 0 to
        ``n_steps * dt``.

    Raises
    ------
    FileNotFoundError
        No such recording (the message lists the run's recordings).
    ValueError
        ``key`` missing, or the array not 3-D.
    """
    from runs import RunFolder

    arrays = RunFolder(run_folder_path).read_recording(name)
    if key not in arrays:
        raise ValueError(f"recording {name!r} has no array {key!r}; it holds {sorted(arrays)}")
    rasters = arrays[key]
    if rasters.ndim != 3:
        raise ValueError(f"{key!r} must be 3-D (n_images, n_steps, n_neurons), "
                         f"got shape {rasters.shape}")
    out = []
    for i, raster in enumerate(rasters):
        trains = spike_trains_from_raster(raster, dt)
        for field in ("label", "sample"):
            if field in arrays and np.ndim(arrays[field]) == 1 and len(arrays[field]) == len(rasters):
                for train in trains:
                    train.annotate(**{field: int(arrays[field][i])})
        out.append(trains)
    return out


def export_nix(trains_or_segments, path, annotations: dict | None = None) -> Path:
    """Write spike trains to a NIX file as one :class:`neo.Block`.

    Parameters
    ----------
    trains_or_segments : list of neo.SpikeTrain, or list of lists, or list of neo.Segment
        A flat list of trains makes one Segment; a list of lists (e.g. one list per
        image from :func:`spike_trains_from_recording`) makes one Segment per list,
        named ``segment-NNNN``; Segments are written as given.
    path : path
        The ``.nix`` file; overwritten if it exists (NixIO mode ``'ow'``).
    annotations : dict, optional
        Annotations of the Block (str, numbers, or lists of them), e.g. the run id.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        Empty input, or a mix of the accepted forms.

    Reference: neo's :class:`neo.io.NixIO` (neo 0.14); the NIX format, Stoewer et al.
    (2014), Front. Neuroinform. 8:Conference Abstract.
    """
    from neo.io import NixIO

    items = list(trains_or_segments)
    if not items:
        raise ValueError("nothing to export: trains_or_segments is empty")
    if all(isinstance(x, neo.Segment) for x in items):
        segments = items
    elif all(isinstance(x, neo.SpikeTrain) for x in items):
        segments = [_segment(items, "segment-0000")]
    elif all(isinstance(x, (list, tuple)) for x in items):
        segments = [_segment(check_spike_trains(x, same_span=False, min_trains=0,
                                                name=f"trains_or_segments[{k}]"),
                             f"segment-{k:04d}")
                    for k, x in enumerate(items)]
    else:
        raise ValueError("trains_or_segments must be a list of neo.SpikeTrain, a list of "
                         "such lists, or a list of neo.Segment")
    block = neo.Block(name=Path(path).stem, **(annotations or {}))
    for segment in segments:
        block.segments.append(segment)
        segment.block = block
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with NixIO(str(path), mode="ow") as io:
        io.write_block(block)
    return path


def _segment(trains, name):
    segment = neo.Segment(name=name)
    for train in trains:
        # a train belongs to one segment in neo; copy so the caller's list is untouched
        train = train.copy()
        train.segment = segment
        segment.spiketrains.append(train)
    return segment
