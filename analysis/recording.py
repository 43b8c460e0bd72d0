"""Spike recordings of a run: one format for every protocol, read into neo.

At its evaluations (before training, and after chosen epochs) a run records the spikes
of every layer for a fixed analysis set of evaluation images: the inputs where they
spike, the hidden cells with their population labels (E and I where the cells are
excitatory or inhibitory), the outputs. Each evaluation gives one file,
``recordings/spikes-epoch-NNNN.npz`` of the run folder (``NNNN``: the epoch, zero-padded
to four digits; 0 is the evaluation before training). The ``spikes-`` prefix keeps these
files apart from the protocol's own ``recordings/epoch-NNNN.npz`` (probe traces, per-cell
parameters, desire's older output rasters), which the protocols go on writing beside
them; the epoch in the name lets :func:`recorded_epochs` list a run without opening its
files, and four digits sort like the names of the other files of a run.

Format 1 (:data:`RECORDING_FORMAT`), one ``numpy.savez`` file read without pickle
(:meth:`runs.RunFolder.write_recording`):

``meta``
    0-d unicode array holding a JSON object:

    ``format`` (int)
        :data:`RECORDING_FORMAT`.
    ``protocol`` (str)
        The protocol that trained the run, e.g. ``"desire"``.
    ``epoch`` (int)
        Epochs trained when the spikes were recorded (0: before training).
    ``dt_ms`` (float)
        Duration of one time step, in ms.
    ``steps_per_sample`` (int)
        Time steps of one image (the sample duration is ``steps_per_sample * dt_ms``).
    ``populations`` (list of objects, in network order)
        ``name`` (str, ``[A-Za-z][A-Za-z0-9_]*``), ``layer`` (int, depth in the network:
        0 for the inputs), ``size`` (int, cells), ``kind`` (``"input"``, ``"hidden"``
        or ``"output"``), ``ei`` (``"E"``, ``"I"`` or ``null`` where the cells are not
        labelled excitatory or inhibitory).
    ``eval_indices`` (list of int)
        For each image of the analysis set, its index in the evaluation split.
    ``labels`` (list of int)
        For each image of the analysis set, its class label.

``<population>.sample``, ``<population>.step``, ``<population>.neuron``
    For every population, one entry per spike (sparse, not rasters): the image's
    position in the analysis set (``0 .. n_samples - 1``), the time step within the
    image (``0 .. steps_per_sample - 1``; the spike is at ``step * dt_ms`` from the
    image's start, the time Brian2 gives a spike emitted in that step) and the cell's
    index in the population. Written in the smallest unsigned integer type that holds
    each range (``uint8``, ``uint16`` or ``uint32``; read in any integer type); sorted
    by sample, then neuron, then step, so that one neuron's spikes during one image
    are contiguous; at most one spike per cell and step.

:func:`spike_recording` builds and checks a recording (:class:`SpikeRecording`,
``to_arrays()`` for :meth:`runs.RunFolder.write_recording`, or
:func:`write_spike_recording`); :func:`read_spike_recording` reads and checks one
epoch's file; :func:`recording_segments` turns it into one :class:`neo.Segment` per
image, holding one :class:`neo.SpikeTrain` per cell (silent cells get empty trains), for
the metrics of :mod:`analysis` and :func:`analysis.conversion.export_nix`.

Errors of a recording a user points to (no recordings, an epoch that was not recorded,
another format, a damaged file) are :class:`RecordingError` (a ``ValueError``) with
one message saying what to do; wrong input to the writer is a plain ``ValueError``.

Reference: Garcia S. et al. (2014), "Neo: an object model for handling
electrophysiology data in multiple formats", Front. Neuroinform. 8:10.
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from runs import RunFolder

__all__ = [
    "RECORDING_FORMAT",
    "RECORDING_PREFIX",
    "RecordingError",
    "NoRecordingsError",
    "EpochNotRecordedError",
    "RecordingFormatError",
    "Population",
    "SpikeRecording",
    "spike_recording",
    "spikes_from_rasters",
    "spikes_from_global_steps",
    "recording_name",
    "write_spike_recording",
    "recorded_epochs",
    "read_spike_recording",
    "recording_segments",
]

#: Version of the spike recording layout described in the module docstring.
RECORDING_FORMAT = 1
#: File names of spike recordings: ``<prefix>NNNN.npz`` in ``recordings/``.
RECORDING_PREFIX = "spikes-epoch-"
KINDS = ("input", "hidden", "output")
EI_LABELS = ("E", "I")
SPIKE_FIELDS = ("sample", "step", "neuron")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_FILE = re.compile(re.escape(RECORDING_PREFIX) + r"(\d{4,})")
#: The protocol-specific recordings of earlier versions, without the spikes of every layer.
_OLDER_FILE = re.compile(r"epoch-\d{4,}")


class RecordingError(ValueError):
    """A spike recording that cannot be read; the message says what to do."""


class NoRecordingsError(RecordingError):
    """The folder holds no spike recordings (or is no folder)."""


class EpochNotRecordedError(RecordingError):
    """The run has spike recordings, but not of the epoch asked for."""


class RecordingFormatError(RecordingError):
    """A recording of another format (older or newer), or a damaged file."""


# --------------------------------------------------------------------------------------
# The format
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Population:
    """One group of cells whose spikes are recorded.

    ``name``: unique in the recording, ``[A-Za-z][A-Za-z0-9_]*`` (it names the arrays);
    ``layer``: depth in the network (0: inputs; the E and I cells of one hidden layer
    share it); ``size``: cells; ``kind``: ``'input'``, ``'hidden'`` or ``'output'``;
    ``ei``: ``'E'``, ``'I'`` or ``None`` (cells not labelled excitatory or inhibitory).
    """

    name: str
    layer: int
    size: int
    kind: str
    ei: str | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name) or self.name == "meta":
            raise ValueError(f"population name must match [A-Za-z][A-Za-z0-9_]* and not be "
                             f"'meta', got {self.name!r}")
        for field in ("layer", "size"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"population {self.name!r}: {field} must be an integer >= 0, "
                                 f"got {value!r}")
            object.__setattr__(self, field, int(value))
        if self.size == 0:
            raise ValueError(f"population {self.name!r} has no cells (size 0)")
        if self.kind not in KINDS:
            raise ValueError(f"population {self.name!r}: kind must be one of {KINDS}, "
                             f"got {self.kind!r}")
        if self.ei is not None and self.ei not in EI_LABELS:
            raise ValueError(f"population {self.name!r}: ei must be 'E', 'I' or None, "
                             f"got {self.ei!r}")

    def to_dict(self) -> dict:
        return {"name": self.name, "layer": self.layer, "size": self.size,
                "kind": self.kind, "ei": self.ei}


@dataclass(frozen=True, eq=False)
class SpikeRecording:
    """The spikes of one evaluation's analysis set (see the module docstring).

    Make it with :func:`spike_recording` (which checks and sorts) or
    :meth:`from_arrays`; ``spikes[name]`` is ``{'sample', 'step', 'neuron'}`` -> array,
    in the file's order and types.
    """

    populations: tuple
    spikes: dict
    dt_ms: float
    steps_per_sample: int
    eval_indices: np.ndarray
    labels: np.ndarray
    epoch: int
    protocol: str

    @property
    def n_samples(self) -> int:
        """Images in the analysis set."""
        return len(self.eval_indices)

    @property
    def duration_ms(self) -> float:
        """Duration of one image, ``steps_per_sample * dt_ms``."""
        return self.steps_per_sample * self.dt_ms

    def population(self, name: str) -> Population:
        for population in self.populations:
            if population.name == name:
                return population
        raise ValueError(f"no population {name!r} in this recording; it has "
                         f"{[p.name for p in self.populations]}")

    def meta(self) -> dict:
        """The ``meta`` entry (format 1), as a dict."""
        return {
            "format": RECORDING_FORMAT,
            "protocol": self.protocol,
            "epoch": self.epoch,
            "dt_ms": self.dt_ms,
            "steps_per_sample": self.steps_per_sample,
            "populations": [p.to_dict() for p in self.populations],
            "eval_indices": [int(i) for i in self.eval_indices],
            "labels": [int(c) for c in self.labels],
        }

    def to_arrays(self) -> dict:
        """``{name: array}`` for :meth:`runs.RunFolder.write_recording` (no objects, so
        no pickle)."""
        arrays = {"meta": np.array(json.dumps(self.meta(), sort_keys=True))}
        for population in self.populations:
            for field in SPIKE_FIELDS:
                arrays[f"{population.name}.{field}"] = self.spikes[population.name][field]
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict, source: str = "the recording") -> "SpikeRecording":
        """Read and check what :meth:`to_arrays` wrote.

        Raises
        ------
        RecordingFormatError
            No or unreadable ``meta``, another format version, a missing or
            inconsistent field or array, spikes out of range or out of order. The
            message names ``source`` (the file).
        """
        def bad(what: str):
            return RecordingFormatError(
                f"'{source}' is not a valid spike recording of format {RECORDING_FORMAT}: "
                f"{what}. The file was changed or damaged after it was written; record "
                "the run again (train it again with this version of the package).")

        # np.load gives a zip member that is no .npy as bytes: arrays from here on
        arrays = {key: np.asarray(value) for key, value in arrays.items()}
        if "meta" not in arrays:
            held = sorted(arrays)
            held = ", ".join(held[:4]) + (", ..." if len(held) > 4 else "")
            raise RecordingFormatError(
                f"'{source}' has no format version (no 'meta' entry; it holds "
                f"{held or 'no arrays'}): it is not a spike recording of format "
                f"{RECORDING_FORMAT}. Older runs kept protocol-specific arrays in "
                "recordings/epoch-NNNN.npz (desire's output rasters are read by "
                "analysis.conversion.spike_trains_from_recording); for the spikes of "
                "every layer, train the run again with this version of the package.")
        try:
            meta = json.loads(str(arrays["meta"][()]))
        except (ValueError, TypeError, IndexError) as err:
            raise bad(f"its 'meta' entry is not JSON ({err})") from None
        if not isinstance(meta, dict):
            raise bad("its 'meta' entry is not a JSON object")
        version = meta.get("format")
        if version != RECORDING_FORMAT:
            raise _format_error(source, version)
        try:
            populations = tuple(Population(**p) for p in meta["populations"])
            recording = cls(
                populations=populations,
                spikes={p.name: {f: arrays[f"{p.name}.{f}"] for f in SPIKE_FIELDS}
                        for p in populations},
                dt_ms=meta["dt_ms"], steps_per_sample=meta["steps_per_sample"],
                eval_indices=np.asarray(meta["eval_indices"], dtype=np.int64),
                labels=np.asarray(meta["labels"], dtype=np.int64),
                epoch=meta["epoch"], protocol=meta["protocol"])
        except KeyError as err:
            raise bad(f"it lacks {err.args[0]!r}") from None
        except (TypeError, ValueError) as err:
            raise bad(str(err)) from None
        try:
            _check_recording(recording, written=True)
        except ValueError as err:
            raise bad(str(err)) from None
        return recording


def _format_error(source: str, version) -> RecordingFormatError:
    if isinstance(version, int) and not isinstance(version, bool) and version > RECORDING_FORMAT:
        what = (f"it was written by a newer version of this package; update the package to "
                "the commit that wrote it (provenance.git_commit in the run's config.json) "
                "to read it")
    else:
        what = ("it was written in an older format; read it with the version of the "
                "package that wrote it (provenance.git_commit in the run's config.json), "
                "or train the run again with this version")
    return RecordingFormatError(
        f"'{source}' is spike recording format {version!r}, but this package reads format "
        f"{RECORDING_FORMAT}: {what}.")


def _unsigned(bound: int):
    """The smallest unsigned integer type holding ``0 .. bound - 1``."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if bound <= np.iinfo(dtype).max + 1:
            return dtype
    return np.uint64


def _check_recording(rec: SpikeRecording, written: bool) -> None:
    """Check ``rec``'s fields and spikes (ValueError), and make its numbers plain Python
    ones. ``written``: the spikes must already be in the file's order (a file is read);
    otherwise they may come in any order."""
    if not rec.populations:
        raise ValueError("a recording needs at least one population")
    names = [p.name for p in rec.populations]
    if len(set(names)) != len(names):
        raise ValueError(f"population names must be unique, got {names}")
    if not isinstance(rec.protocol, str) or not rec.protocol:
        raise ValueError(f"protocol must be a non-empty string, got {rec.protocol!r}")
    if isinstance(rec.epoch, bool) or not isinstance(rec.epoch, (int, np.integer)) or rec.epoch < 0:
        raise ValueError(f"epoch must be an integer >= 0, got {rec.epoch!r}")
    if (isinstance(rec.steps_per_sample, bool)
            or not isinstance(rec.steps_per_sample, (int, np.integer)) or rec.steps_per_sample < 1):
        raise ValueError(f"steps_per_sample must be an integer >= 1, got {rec.steps_per_sample!r}")
    if (isinstance(rec.dt_ms, bool) or not isinstance(rec.dt_ms, (int, float, np.floating))
            or not (np.isfinite(rec.dt_ms) and rec.dt_ms > 0)):
        raise ValueError(f"dt_ms must be a positive number (ms), got {rec.dt_ms!r}")
    for field in ("eval_indices", "labels"):
        values = getattr(rec, field)
        if values.ndim != 1 or (values.size and values.min() < 0):
            raise ValueError(f"{field} must be a list of integers >= 0")
    if rec.labels.shape != rec.eval_indices.shape:
        raise ValueError(f"labels ({rec.labels.size}) and eval_indices "
                         f"({rec.eval_indices.size}) must have one entry per image")
    if rec.n_samples == 0:
        raise ValueError("the analysis set has no images")
    bounds = {"sample": rec.n_samples, "step": rec.steps_per_sample}
    for population in rec.populations:
        spikes = rec.spikes.get(population.name)
        if spikes is None:
            raise ValueError(f"no spikes given for population {population.name!r} (give "
                             "empty arrays for a population that did not spike)")
        bounds["neuron"] = population.size
        lengths = set()
        for field in SPIKE_FIELDS:
            values = spikes[field]
            where = f"{population.name}.{field}"
            if values.ndim != 1 or values.dtype.kind not in "iu":
                raise ValueError(f"{where} must be a 1-D integer array, got "
                                 f"{values.dtype} of shape {values.shape}")
            if values.size and (values.min() < 0 or values.max() >= bounds[field]):
                raise ValueError(f"{where} must lie in [0, {bounds[field]}), got "
                                 f"[{values.min()}, {values.max()}]")
            lengths.add(values.size)
        if len(lengths) != 1:
            sizes = [spikes[f].size for f in SPIKE_FIELDS]
            raise ValueError(f"{population.name}: sample, step and neuron must have one "
                             f"entry per spike, got lengths {sizes}")
        key = _order_key(spikes, population.size, rec.steps_per_sample) if written else None
        if written and np.any(np.diff(key) <= 0):
            raise ValueError(f"{population.name}: spikes are not sorted by sample, neuron and "
                             "step, or one cell spikes twice in one step")
    extra = set(rec.spikes) - set(names)
    if extra:
        raise ValueError(f"spikes given for populations that are not listed: {sorted(extra)}")
    # plain Python numbers from here on (JSON gives ints for whole dt_ms, numpy scalars
    # come from configurations)
    object.__setattr__(rec, "dt_ms", float(rec.dt_ms))
    object.__setattr__(rec, "steps_per_sample", int(rec.steps_per_sample))
    object.__setattr__(rec, "epoch", int(rec.epoch))


def _order_key(spikes: dict, size: int, steps: int) -> np.ndarray:
    """``(sample * size + neuron) * steps + step``: increasing in the file's order."""
    # int64 throughout: numpy adds int64 and uint64 arrays in float64
    return ((spikes["sample"].astype(np.int64) * size + spikes["neuron"].astype(np.int64))
            * steps + spikes["step"].astype(np.int64))


def spike_recording(populations, spikes: dict, *, dt_ms: float, steps_per_sample: int,
                    eval_indices, labels, epoch: int, protocol: str) -> SpikeRecording:
    """Build and check the recording of one evaluation's analysis set.

    Parameters
    ----------
    populations : sequence of Population (or of dicts with its fields)
        In network order: inputs, hidden layers (E before I), outputs.
    spikes : dict
        Population name -> ``(sample, step, neuron)``, three integer arrays with one
        entry per spike (or a dict with those keys): the image's position in the
        analysis set, the time step within the image, the cell's index in the
        population. Any order; every population must be given (empty arrays where
        it did not spike).
    dt_ms : float
        Duration of one time step (ms).
    steps_per_sample : int
        Time steps of one image.
    eval_indices, labels : sequences of int
        Per image of the analysis set: its index in the evaluation split, its label.
    epoch : int
        Epochs trained (0: before training).
    protocol : str
        The protocol's name.

    Returns
    -------
    SpikeRecording
        Spikes sorted by sample, neuron and step, in the smallest unsigned types.

    Raises
    ------
    ValueError
        Anything out of range, mismatched lengths, a population without spikes given
        or spikes of an unlisted one, a cell that spikes twice in one step.
    """
    populations = tuple(p if isinstance(p, Population) else Population(**p)
                        for p in populations)
    eval_indices = np.asarray(eval_indices).ravel()
    labels = np.asarray(labels).ravel()
    for field, values in (("eval_indices", eval_indices), ("labels", labels)):
        if values.size and values.dtype.kind not in "iu":
            raise ValueError(f"{field} must be integers, got {values.dtype}")
    given = {}
    for name, value in spikes.items():
        if isinstance(value, dict):
            missing = [f for f in SPIKE_FIELDS if f not in value]
            if missing:
                raise ValueError(f"spikes of {name!r} lack {missing}")
            value = tuple(value[f] for f in SPIKE_FIELDS)
        if len(value) != 3:
            raise ValueError(f"spikes of {name!r} must be (sample, step, neuron) arrays")
        given[name] = {f: np.asarray(v) for f, v in zip(SPIKE_FIELDS, value)}
        for f in SPIKE_FIELDS:  # empty lists come as float arrays
            if given[name][f].size == 0:
                given[name][f] = given[name][f].astype(np.int64)
    rec = SpikeRecording(populations=populations, spikes=given, dt_ms=dt_ms,
                         steps_per_sample=steps_per_sample,
                         eval_indices=eval_indices.astype(np.int64),
                         labels=labels.astype(np.int64), epoch=epoch, protocol=protocol)
    _check_recording(rec, written=False)
    steps = int(rec.steps_per_sample)
    for population in populations:
        raw = given[population.name]
        key = _order_key(raw, population.size, steps)
        order = np.argsort(key, kind="stable")
        if np.any(np.diff(key[order]) == 0):
            k = order[np.flatnonzero(np.diff(key[order]) == 0)[0]]
            raise ValueError(f"{population.name}: neuron {raw['neuron'][k]} spikes twice in "
                             f"step {raw['step'][k]} of sample {raw['sample'][k]}")
        bounds = {"sample": rec.n_samples, "step": steps, "neuron": population.size}
        rec.spikes[population.name] = {f: raw[f][order].astype(_unsigned(bounds[f]))
                                       for f in SPIKE_FIELDS}
    return rec


def spikes_from_rasters(rasters) -> tuple:
    """``(sample, step, neuron)`` of boolean rasters ``(n_samples, n_steps, n_neurons)``
    (e.g. desire's per-layer rasters), for :func:`spike_recording`."""
    rasters = np.asarray(rasters)
    if rasters.ndim != 3:
        raise ValueError(f"rasters must be 3-D (n_samples, n_steps, n_neurons), got shape "
                         f"{rasters.shape}")
    return np.nonzero(rasters)


def spikes_from_global_steps(steps, neurons, steps_per_sample: int, first_sample: int = 0) -> tuple:
    """``(sample, step, neuron)`` of spikes counted in time steps from the start of a
    run that presents the images one after another, each ``steps_per_sample`` steps
    long (e.g. ``round(monitor.t_ / dt)`` of a Brian2 ``SpikeMonitor``).
    ``first_sample``: the analysis-set position of the run's first image."""
    steps = np.asarray(steps, dtype=np.int64)
    sample, step = np.divmod(steps, int(steps_per_sample))
    return sample + int(first_sample), step, np.asarray(neurons)


# --------------------------------------------------------------------------------------
# Run folders
# --------------------------------------------------------------------------------------


def recording_name(epoch: int) -> str:
    """Name of the spike recording of ``epoch`` (for :meth:`runs.RunFolder.write_recording`)."""
    return f"{RECORDING_PREFIX}{int(epoch):04d}"


def write_spike_recording(run_folder, recording: SpikeRecording) -> Path:
    """Write ``recording`` to ``recordings/spikes-epoch-NNNN.npz`` of the run folder
    (atomically; replaces an earlier recording of that epoch)."""
    folder = run_folder if isinstance(run_folder, RunFolder) else RunFolder(run_folder)
    return folder.write_recording(recording_name(recording.epoch), recording.to_arrays())


def _folder(run_folder) -> RunFolder:
    folder = run_folder if isinstance(run_folder, RunFolder) else RunFolder(run_folder)
    if not folder.path.is_dir():
        raise NoRecordingsError(
            f"'{folder.path}' is not a directory; pass the folder of a run, e.g. "
            "results/desire/<run-id>.")
    return folder


def recorded_epochs(run_folder) -> list:
    """The epochs whose spikes the run recorded, ascending (0: before training).

    Raises
    ------
    NoRecordingsError
        ``run_folder`` is no directory, or holds no spike recordings.
    RecordingFormatError
        It holds only the recordings of earlier versions of this package.
    """
    folder = _folder(run_folder)
    names = folder.recording_names()
    epochs = sorted(int(m.group(1)) for m in map(_FILE.fullmatch, names) if m)
    if epochs:
        return epochs
    older = [n for n in names if _OLDER_FILE.fullmatch(n)]
    if older:
        shown = ", ".join(f"{n}.npz" for n in older[:3]) + (", ..." if len(older) > 3 else "")
        raise RecordingFormatError(
            f"'{folder.recordings_path}' holds only recordings of an older format "
            f"({shown}: protocol-specific arrays, from before spike recording format "
            f"{RECORDING_FORMAT}) and no {RECORDING_PREFIX}NNNN.npz. Desire's output "
            "rasters in them are read by analysis.conversion.spike_trains_from_recording; "
            "for the spikes of every layer, train the run again with this version of the "
            "package.")
    if not folder.config_path.is_file():
        raise NoRecordingsError(
            f"'{folder.path}' is not a run folder (no config.json) and holds no spike "
            "recordings; pass the folder of a run, e.g. results/desire/<run-id>.")
    try:
        protocol = folder.read_config().get("protocol") or "<protocol>"
    except (OSError, ValueError, AttributeError):
        protocol = "<protocol>"
    raise NoRecordingsError(
        f"the run '{folder.path}' has no spike recordings yet (no "
        f"recordings/{RECORDING_PREFIX}NNNN.npz). A run records them at its evaluations, "
        "the first one before training: if it is still starting, wait for that "
        "evaluation; if it stopped before it, resume it with python -m experiments "
        f"{protocol} --resume {folder.path}")


def read_spike_recording(run_folder, epoch: int | None = None) -> SpikeRecording:
    """Read and check the spike recording of ``epoch`` (default: the last recorded).

    Parameters
    ----------
    run_folder : path or runs.RunFolder
    epoch : int, optional
        Epochs trained when the spikes were recorded (0: before training).

    Raises
    ------
    NoRecordingsError, RecordingFormatError
        See :func:`recorded_epochs`; also a file of another format version, or
        damaged.
    EpochNotRecordedError
        ``epoch`` was not recorded; the message lists the recorded epochs.
    """
    folder = _folder(run_folder)
    epochs = recorded_epochs(folder)
    if epoch is None:
        epoch = epochs[-1]
    if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch not in epochs:
        listed = ", ".join(str(e) for e in epochs)
        raise EpochNotRecordedError(
            f"the run '{folder.path}' has no spike recording of epoch {epoch!r}; it "
            f"recorded epoch{'s' if len(epochs) > 1 else ''} {listed} (0: before "
            "training). Choose one of those; if the run is still training, the epochs it "
            "records are written after their evaluation.")
    name = recording_name(epoch)
    path = folder.recordings_path / f"{name}.npz"
    def unreadable(why):
        return RecordingFormatError(
            f"'{path}' cannot be read ({why}): it is damaged or not a numpy .npz file; "
            "record the run again (train it again with this version of the package).")

    # np.load takes any other file for a pickle and says so: not the news here
    if not zipfile.is_zipfile(path):
        raise unreadable("it is not a zip archive")
    try:
        arrays = folder.read_recording(name)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise unreadable(err) from None
    recording = SpikeRecording.from_arrays(arrays, source=str(path))
    if recording.epoch != epoch:
        raise RecordingFormatError(
            f"'{path}' holds the spikes of epoch {recording.epoch}, not of epoch {epoch} "
            "as its name says: it was renamed or copied over; record the run again (train "
            "it again with this version of the package).")
    return recording


# --------------------------------------------------------------------------------------
# neo
# --------------------------------------------------------------------------------------


def recording_segments(recording: SpikeRecording, populations=None, samples=None) -> list:
    """One :class:`neo.Segment` per image of ``recording``, one train per cell.

    Parameters
    ----------
    recording : SpikeRecording
    populations : sequence of str, optional
        Names of the populations whose trains to make, in this order (default: all,
        in the recording's order).
    samples : sequence of int, optional
        Positions in the analysis set (default: all ``recording.n_samples``).

    Returns
    -------
    list of neo.Segment
        Segment ``k`` (name ``sample-NNNN``) is image ``samples[k]``, annotated with
        ``sample`` (position in the analysis set), ``eval_index``, ``label``,
        ``epoch`` and ``protocol``. Its ``spiketrains`` hold, population after
        population, one :class:`neo.SpikeTrain` per cell in index order (empty for a
        silent cell): times in ms (``step * dt_ms``), ``t_start`` 0, ``t_stop``
        ``steps_per_sample * dt_ms``, annotated with ``population``, ``layer``,
        ``kind``, ``neuron`` (index in the population) and, for the cells of an E or
        I population, ``ei`` (``'E'`` or ``'I'``; ``train.annotations.get('ei')`` is
        ``None`` for the others).

    Raises
    ------
    ValueError
        An unknown population name, a sample outside the analysis set.
    """
    import neo
    import quantities as pq

    chosen = (list(recording.populations) if populations is None
              else [recording.population(name) for name in _names(populations)])
    if samples is None:
        samples = np.arange(recording.n_samples)
    else:
        samples = np.asarray(samples).ravel()
        if samples.size and (samples.dtype.kind not in "iu" or samples.min() < 0
                             or samples.max() >= recording.n_samples):
            raise ValueError(f"samples must be positions in the analysis set, integers in "
                             f"[0, {recording.n_samples}), got {samples.tolist()}")
    # One train per population holding all its spikes (sorted by sample, neuron, step),
    # sliced per cell: a slice of a SpikeTrain is a SpikeTrain with the same t_start and
    # t_stop (neo's documented slicing), made without the unit checks of the
    # constructor, which cost several times more than the slice. step * dt_ms is
    # computed once, and exactly (what the reader promises, not a cumulative sum).
    t_stop = pq.Quantity(float(recording.duration_ms), pq.ms)
    prepared = []
    for population in chosen:
        spikes = recording.spikes[population.name]
        whole = neo.SpikeTrain(spikes["step"].astype(np.float64) * recording.dt_ms,
                               t_stop=t_stop, units=pq.ms, t_start=pq.Quantity(0.0, pq.ms))
        cells = (spikes["sample"].astype(np.int64) * population.size
                 + spikes["neuron"].astype(np.int64))
        bounds = np.searchsorted(cells, np.arange(recording.n_samples * population.size + 1))
        labels = {"population": population.name, "layer": population.layer,
                  "kind": population.kind}
        if population.ei is not None:  # NIX files cannot hold None
            labels["ei"] = population.ei
        prepared.append((population, whole, bounds.tolist(), labels))
    segments = []
    for sample in samples:
        sample = int(sample)
        segment = neo.Segment(name=f"sample-{sample:04d}", sample=sample,
                              eval_index=int(recording.eval_indices[sample]),
                              label=int(recording.labels[sample]), epoch=int(recording.epoch),
                              protocol=recording.protocol)
        trains = []
        for population, whole, bounds, labels in prepared:
            base = sample * population.size
            for neuron in range(population.size):
                train = whole[bounds[base + neuron]:bounds[base + neuron + 1]]
                # a slice shares its source's annotations dict: each train gets its own
                train.annotations = dict(labels, neuron=neuron)
                train.segment = segment
                trains.append(train)
        # extend, not append per train: neo's append checks the list, quadratic in cells
        segment.spiketrains.extend(trains)
        segments.append(segment)
    return segments


def _names(populations) -> list:
    if isinstance(populations, str):
        return [populations]
    return list(populations)
