"""Results folders: one directory per training run, shareable and resumable.

Layout of ``results/<protocol>/<run-id>/``:

``config.json``
    Every parameter of the run (``config``, fixed at creation and never rewritten, with
    its digest ``config_sha256``), the seeds, and provenance: versions of Python, Brian2,
    numpy and Elephant, the git commit of this package (and whether the working tree
    had uncommitted changes), the simulation device and compiler, the command line.
    ``events`` lists what changed later (e.g. epochs extended on resume), with time and
    command; ``branched_from`` names the run and checkpoint a branch started from.
``metrics.jsonl``
    One JSON object per line, one line per evaluation.
``checkpoint.npz``, ``checkpoint-previous.npz``
    All learned state and the sample cursor (written by the training engine), and the
    checkpoint before it, kept until the next one is on disk. Plain ``numpy.savez``
    arrays, read with ``allow_pickle=False``: nothing in a results folder needs pickle, so
    a folder received from someone else can be opened safely. The metadata carries a
    SHA-256 of the arrays and metadata (any changed byte is found) and the configuration
    the run was trained with, so a hand-edited ``config.json`` is found on resume.
``log.txt``
    Human-readable log of the run, appended to by every process that works on it.

Every file except ``log.txt`` is replaced atomically (written to a temporary file in the
same directory, flushed to disk, then renamed over the old one with :func:`os.replace`),
so a run killed at any moment leaves either the old or the new version, never a torn one.
A checkpoint is rotated: the current one is renamed to ``checkpoint-previous.npz`` before
the new one takes its name, so a checkpoint that is later found corrupt (or missing, after
a kill between the two renames) leaves the previous one to resume from
(:meth:`RunFolder.usable_checkpoint`).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import hashlib
import io
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

__all__ = [
    "RunFolder",
    "NotARunError",
    "RunInUseError",
    "ResultsPathError",
    "CorruptCheckpointError",
    "Checkpoint",
    "RunWriteError",
    "check_resumable",
    "check_checkpoint",
    "check_learned_state",
    "config_digest",
    "atomic_write_bytes",
    "atomic_write_text",
    "provenance",
    "new_run_id",
    "CONFIG_FILE",
    "METRICS_FILE",
    "CHECKPOINT_FILE",
    "PREVIOUS_CHECKPOINT_FILE",
    "LOG_FILE",
    "RECORDINGS_DIR",
    "CHECKPOINT_FORMAT",
    "STATS_PREFIX",
]

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
CHECKPOINT_FILE = "checkpoint.npz"
#: The checkpoint before ``checkpoint.npz``, kept until the next one is on disk.
PREVIOUS_CHECKPOINT_FILE = "checkpoint-previous.npz"
LOG_FILE = "log.txt"
RECORDINGS_DIR = "recordings"
#: Version of the checkpoint layout (stored in its metadata). 2: the metadata holds the
#: digest of its arrays and metadata and the run's configuration with its digest.
CHECKPOINT_FORMAT = 2
#: Metadata key of the SHA-256 of a checkpoint's arrays and other metadata.
_PAYLOAD_DIGEST = "payload_sha256"
#: Checkpoint arrays with this prefix are running training statistics, not learned state.
STATS_PREFIX = "stats."
#: Locks this process holds: resolved run folder -> its open file descriptor.
_HELD_LOCKS: dict[Path, int] = {}

_REPO_ROOT = Path(__file__).resolve().parent.parent


class NotARunError(ValueError):
    """A path given as a run folder (e.g. to ``--resume``) is not one."""


class RunInUseError(NotARunError):
    """Another process trains into the run folder (it holds the folder's lock)."""


class CorruptCheckpointError(NotARunError):
    """A checkpoint file cannot be read or fails its digest (``reason`` says how)."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


class ResultsPathError(ValueError):
    """The results root (``--out``) cannot hold run folders: it is a file, or a folder
    that cannot be written to. The message names the path and the fix."""


class RunWriteError(OSError):
    """A file of a results folder could not be written: the disk is full, the folder
    became read-only, ... Every writer of this module raises it (never a bare
    ``OSError``), so that the command line reports it in one place. ``path`` is the
    file, ``reason`` the system's words (``strerror``), ``errno`` its code."""

    def __init__(self, path, err: OSError):
        super().__init__(err.errno, err.strerror or str(err), str(path))
        self.path = Path(path)
        self.reason = err.strerror or str(err)

    def __str__(self):
        return f"cannot write {self.path}: {self.reason}"


@contextlib.contextmanager
def _writing(path):
    """Turn an ``OSError`` of writing ``path`` into a :class:`RunWriteError`."""
    try:
        yield
    except RunWriteError:
        raise
    except OSError as err:
        raise RunWriteError(path, err) from err


# --------------------------------------------------------------------------------------
# Atomic writes
# --------------------------------------------------------------------------------------


def _durable_temporary(path: Path, payload: bytes) -> str:
    """Write ``payload`` to a new temporary file beside ``path`` (``.<name>.*.tmp``),
    flushed and ``fsync``-ed; returns its name (deleted again if the write fails)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        _unlink(tmp)
        raise
    return tmp


def _unlink(path) -> None:
    try:
        os.unlink(path)
    except OSError:  # gone, or the folder turned read-only: nothing reads it
        pass


def _fsync_directory(path: Path) -> None:
    """Make the renames in the directory ``path`` durable (POSIX: fsync the directory)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path, payload: bytes) -> Path:
    """Write ``payload`` to ``path`` atomically: temporary file in the same directory,
    ``fsync``, then :func:`os.replace` (atomic on POSIX for paths on one file system).
    Raises :class:`RunWriteError` when it cannot (the temporary file is deleted)."""
    path = Path(path)
    with _writing(path):
        tmp = _durable_temporary(path, payload)
        try:
            os.replace(tmp, path)
        except BaseException:
            _unlink(tmp)
            raise
    return path


def atomic_write_text(path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


# --------------------------------------------------------------------------------------
# Provenance
# --------------------------------------------------------------------------------------


def _version(dist: str) -> str | None:
    """Installed version of a distribution, without importing it (Elephant takes
    seconds to import)."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _git(*args) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=_REPO_ROOT, capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def provenance(device: dict | None = None) -> dict:
    """What produced a result: interpreter, library versions, code version, machine.

    Parameters
    ----------
    device : dict, optional
        Description of the simulation device (target, compiler flags, ...), stored as is.
    """
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "python": platform.python_version(),
        "brian2": _version("brian2"),
        "numpy": np.__version__,
        "elephant": _version("elephant"),
        "tqdm": _version("tqdm"),
        "git_commit": commit,
        "git_dirty": None if status is None else bool(status),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "hostname": socket.gethostname(),
        "cpu_count": os.cpu_count(),
        "command": sys.argv,
        "device": device or {},
    }


def new_run_id(label: str = "") -> str:
    """``<label>-YYYYmmdd-HHMMSS`` (UTC); :meth:`RunFolder.create` adds ``-<k>`` when a
    folder of that name already exists."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{label}-{stamp}" if label else stamp


def config_digest(config: dict) -> str:
    """SHA-256 (hex) of a stored configuration dict: of its canonical JSON (sorted keys,
    no spaces), so that equal dicts have equal digests whatever their key order."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _payload_digest(arrays: dict, meta: dict) -> str:
    """SHA-256 of a checkpoint's arrays (name, dtype, shape, bytes, in name order) and of
    its metadata (canonical JSON, without this digest)."""
    digest = hashlib.sha256()
    kept = {k: v for k, v in meta.items() if k != _PAYLOAD_DIGEST}
    digest.update(json.dumps(kept, sort_keys=True, separators=(",", ":")).encode("utf-8"))
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"\0{name}\0{array.dtype.str}\0{array.shape}\0".encode("utf-8"))
        digest.update(array.tobytes())
    return digest.hexdigest()


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


@dataclass
class Checkpoint:
    """One checkpoint file read and verified: its learned ``arrays`` and ``meta`` (the
    digest removed), the ``path`` it was read from, the SHA-256 of that file, and
    ``fallback``: why the latest checkpoint was not used (``None`` when it was)."""

    arrays: dict
    meta: dict
    path: Path
    sha256: str
    fallback: str | None = None

    def position(self) -> str:
        return f"epoch {self.meta.get('epoch')}, sample {self.meta.get('cursor')}"


# --------------------------------------------------------------------------------------
# The folder
# --------------------------------------------------------------------------------------


def _member(name: str) -> property:
    """The path of the file or folder ``name`` inside the run folder."""
    return property(lambda folder: folder.path / name,
                    doc=f"``<run folder>/{name}`` (a :class:`~pathlib.Path`).")


class RunFolder:
    """One run's results directory.

    Create a new one with :meth:`create`, open an existing one with :meth:`open` (which
    checks that it is a run folder: ``config.json`` must be present and valid).
    """

    def __init__(self, path):
        self.path = Path(path)

    def __repr__(self):
        return f"RunFolder('{self.path}')"

    # -- paths ---------------------------------------------------------------------
    config_path = _member(CONFIG_FILE)
    metrics_path = _member(METRICS_FILE)
    checkpoint_path = _member(CHECKPOINT_FILE)
    previous_checkpoint_path = _member(PREVIOUS_CHECKPOINT_FILE)
    log_path = _member(LOG_FILE)
    recordings_path = _member(RECORDINGS_DIR)

    @property
    def run_id(self) -> str:
        return self.path.name

    # -- creation / opening ----------------------------------------------------------
    @classmethod
    def create(cls, root, protocol: str, config: dict, run_id: str | None = None,
               device: dict | None = None, seeds: dict | None = None,
               **fields) -> "RunFolder":
        """Make ``<root>/<protocol>/<run_id>/`` and write its ``config.json``.

        Parameters
        ----------
        root : path
            The results root (``--out``, default ``results``).
        protocol : str
            Protocol name, e.g. ``'desire'``.
        config : dict
            Every parameter of the run (JSON-serialisable).
        run_id : str, optional
            Default: :func:`new_run_id` with the protocol name.
        device, seeds : dict, optional
            Stored in ``config.json`` beside the parameters.
        **fields
            Further top-level entries of ``config.json`` (e.g. ``branched_from``).
        """
        base = Path(root) / protocol
        run_id = run_id or new_run_id(protocol)
        path, k = base / run_id, 1
        # Provenance (git runs) first: the folder then lacks its config.json only for
        # the moment of one atomic write.
        info = provenance(device)
        try:
            base.mkdir(parents=True, exist_ok=True)
            while True:
                try:
                    path.mkdir()
                    break
                except FileExistsError:
                    k += 1
                    path = base / f"{run_id}-{k}"
        except OSError as err:
            fix = ("free space on that disk or give --out a folder on another one"
                   if err.errno in (errno.ENOSPC, errno.EDQUOT) else "give --out a folder "
                   "you can write to (it is made if missing), not a file")
            raise ResultsPathError(
                f"--out: cannot make the run folder {path} ({err.strerror or err}); {fix}."
            ) from None
        folder = cls(path)
        document = {
            "protocol": protocol,
            "run_id": folder.run_id,
            "created": _now(),
            "config": config,
            "config_sha256": config_digest(config),
            "seeds": seeds or {},
            "provenance": info,
            **fields,
        }
        try:
            atomic_write_text(folder.config_path,
                              json.dumps(document, indent=2, sort_keys=True) + "\n")
        except BaseException as err:  # a full disk, Ctrl-C: no folder without config.json
            shutil.rmtree(path, ignore_errors=True)
            if not isinstance(err, RunWriteError):
                raise
            raise ResultsPathError(
                f"--out: {err}, so the run folder {path} was removed again; free space "
                "on that disk or give --out a folder on another one."
            ) from None
        return folder

    @classmethod
    def open(cls, path, protocol: str | None = None, option: str = "--resume") -> "RunFolder":
        """Open an existing run folder, checking that it is one (``option``: the
        command-line option that named it, for the messages).

        Raises
        ------
        NotARunError
            ``path`` is not a directory, has no readable ``config.json``, or belongs to
            another protocol. The message says what was expected.
        """
        path = Path(path)
        hint = ("pass the folder of an earlier run, e.g. results/desire/<run-id>, which "
                f"holds {CONFIG_FILE} and {CHECKPOINT_FILE}")
        if not path.is_dir():
            raise NotARunError(f"{option}: '{path}' is not a directory; {hint}.")
        folder = cls(path)
        if not folder.config_path.is_file():
            raise NotARunError(f"{option}: '{path}' is not a run folder (no {CONFIG_FILE}); {hint}.")
        try:
            document = folder.read_config()
        except (OSError, ValueError) as err:
            raise NotARunError(f"{option}: '{folder.config_path}' is unreadable ({err}); {hint}.") from None
        if not isinstance(document, dict) or "config" not in document:
            raise NotARunError(f"{option}: '{folder.config_path}' is not a run configuration; {hint}.")
        if protocol is not None and document.get("protocol") != protocol:
            raise NotARunError(
                f"{option}: '{path}' is a run of protocol {document.get('protocol')!r}, "
                f"not {protocol!r}; {option.lstrip('-')} it with its own protocol."
            )
        return folder

    # -- one writer at a time -----------------------------------------------------------
    def lock(self) -> None:
        """Take this folder's lock for this process (a no-op if it holds it already).

        Two processes training into one folder (say, the same ``--resume`` typed in two
        terminals) would overwrite each other's checkpoints. The lock is ``flock`` on
        the folder itself, so it writes nothing into the folder and the kernel drops it
        when its process dies, however it dies: a SIGKILLed run never leaves a stale
        lock behind.

        Raises
        ------
        RunInUseError
            Another process holds the lock.
        """
        import fcntl

        key = self.path.resolve()
        if key in _HELD_LOCKS:
            return
        fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunInUseError(
                f"the run folder {self.path} is in use: another process trains into it. "
                "Two processes must not write one run; wait for that one to end (or stop "
                "it), then resume with --resume."
            ) from None
        _HELD_LOCKS[key] = fd

    def unlock(self) -> None:
        """Release the lock taken by :meth:`lock` (a no-op if this process lacks it)."""
        fd = _HELD_LOCKS.pop(self.path.resolve(), None)
        if fd is not None:
            os.close(fd)  # closing the only descriptor releases the flock

    # -- contents --------------------------------------------------------------------
    def read_config(self) -> dict:
        return json.loads(self.config_path.read_text())

    def update_config(self, **fields) -> None:
        """Replace top-level fields of ``config.json`` (atomically). The run's
        ``config`` is fixed at creation: it cannot be replaced here."""
        if "config" in fields or "config_sha256" in fields:
            raise ValueError("a run's configuration is fixed at creation; record a change "
                             "with record_event")
        document = self.read_config()
        document.update(fields)
        atomic_write_text(self.config_path, json.dumps(document, indent=2, sort_keys=True) + "\n")

    def events(self) -> list[dict]:
        """The changes recorded after creation (``config.json``'s ``events``), oldest
        first."""
        events = self.read_config().get("events", [])
        return events if isinstance(events, list) else []

    def record_event(self, field: str, old, new, text: str) -> dict:
        """Record that ``field`` changed from ``old`` to ``new`` (e.g. epochs extended on
        resume): appended to ``config.json``'s ``events`` (its ``config`` stays as
        created) with the time and the command line, and logged as ``text``."""
        event = {"field": field, "from": old, "to": new, "time": _now(),
                 "command": list(sys.argv)}
        self.update_config(events=[*self.events(), event])
        self.log(f"{text} (command: {' '.join(map(str, sys.argv))})")
        return event

    def write_metrics(self, records: list[dict]) -> None:
        """Rewrite ``metrics.jsonl`` from the full list of evaluations (atomically), so
        that after a resume it holds exactly the evaluations the checkpoint knows."""
        text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
        atomic_write_text(self.metrics_path, text)

    def read_metrics(self) -> list[dict]:
        if not self.metrics_path.is_file():
            return []
        return [json.loads(line) for line in self.metrics_path.read_text().splitlines() if line]

    def has_metrics(self) -> bool:
        """Whether ``metrics.jsonl`` holds anything (the run has evaluated)."""
        try:
            return bool(self.metrics_path.read_bytes().strip())
        except FileNotFoundError:
            return False

    def remove_temporaries(self) -> list[str]:
        """Delete the temporary files (``.<name>.*.tmp``) that an atomic write leaves
        when its process is killed before the rename; nothing reads them (the previous
        checkpoint is no temporary: it stays). Call only while no other process writes
        in the folder (e.g. when a run resumes). Returns the names deleted."""
        removed = []
        for directory in (self.path, self.recordings_path):
            for path in directory.glob(".*.tmp") if directory.is_dir() else ():
                path.unlink(missing_ok=True)
                removed.append(path.name)
        return removed

    def log(self, message: str) -> None:
        """Append a time-stamped line to ``log.txt``."""
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        with _writing(self.log_path), open(self.log_path, "a") as f:
            f.write(f"{stamp} {message}\n")

    # -- checkpoints --------------------------------------------------------------------
    def write_checkpoint(self, arrays: dict, meta: dict) -> Path:
        """Write ``checkpoint.npz``: ``arrays`` (name -> numeric array) plus ``meta``
        (JSON-serialisable, stored as a JSON string under ``__meta__`` with the SHA-256
        of both added).

        The new file is written and ``fsync``-ed under a temporary name; then the current
        checkpoint is renamed to ``checkpoint-previous.npz``, the new one to
        ``checkpoint.npz``, and the directory is ``fsync``-ed. Killed at any point, the
        folder keeps a complete checkpoint: the current one, or after a kill between the
        two renames the previous one (:meth:`usable_checkpoint` falls back to it)."""
        buffer = io.BytesIO()
        payload = {name: np.ascontiguousarray(value) for name, value in arrays.items()}
        if "__meta__" in payload:
            raise ValueError("'__meta__' is reserved for the checkpoint's metadata")
        meta = {**meta, _PAYLOAD_DIGEST: _payload_digest(payload, meta)}
        payload["__meta__"] = np.array(json.dumps(meta, sort_keys=True))
        np.savez(buffer, **payload)
        with _writing(self.checkpoint_path):
            tmp = _durable_temporary(self.checkpoint_path, buffer.getvalue())
            moved = False
            try:
                if self.checkpoint_path.is_file():
                    os.replace(self.checkpoint_path, self.previous_checkpoint_path)
                    moved = True
                os.replace(tmp, self.checkpoint_path)
            except BaseException:
                _unlink(tmp)
                if moved:  # put the last durable checkpoint back where it was
                    with contextlib.suppress(OSError):
                        os.replace(self.previous_checkpoint_path, self.checkpoint_path)
                raise
            _fsync_directory(self.path)
        return self.checkpoint_path

    def load_checkpoint(self, path=None) -> Checkpoint:
        """The checkpoint in ``path`` (default ``checkpoint.npz``), read without pickle
        and verified against its digest.

        Raises
        ------
        CorruptCheckpointError
            The file is missing, unreadable (not a zip, a CRC error, cut short), its
            metadata is not a JSON object, or its arrays or metadata differ from the
            digest they were written with.
        """
        path = Path(self.checkpoint_path if path is None else path)

        def corrupt(reason: str):
            return CorruptCheckpointError(
                f"--resume: '{path}' is unreadable ({reason}); it is corrupt or was cut "
                "short. Start a new run instead (or restore the file from a copy).", reason)

        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise CorruptCheckpointError(f"--resume: '{path}' does not exist.",
                                         "missing") from None
        except OSError as err:
            raise corrupt(str(err)) from None
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files if name != "__meta__"}
                meta = json.loads(str(npz["__meta__"]))
            if not isinstance(meta, dict):
                raise ValueError("its metadata is not a JSON object")
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
            raise corrupt(str(err) or type(err).__name__) from None
        digest = meta.pop(_PAYLOAD_DIGEST, None)
        if digest is not None and digest != _payload_digest(arrays, meta):
            raise corrupt("its arrays or metadata differ from the SHA-256 they were "
                          "written with")
        return Checkpoint(arrays, meta, path, hashlib.sha256(data).hexdigest())

    def read_checkpoint(self) -> tuple[dict, dict]:
        """``(arrays, meta)`` of ``checkpoint.npz`` (read without pickle, verified)."""
        if not self.checkpoint_path.is_file():
            raise NotARunError(
                f"--resume: '{self.path}' has no {CHECKPOINT_FILE} (the run stopped before "
                "its first checkpoint); start a new run instead."
            )
        checkpoint = self.load_checkpoint()
        return checkpoint.arrays, checkpoint.meta

    def usable_checkpoint(self, option: str = "--resume") -> Checkpoint | None:
        """The checkpoint to continue from: ``checkpoint.npz``, or where that one is
        missing or corrupt, ``checkpoint-previous.npz`` (its ``fallback`` then says what
        happened to the latest); ``None`` for a run that stopped before its first
        checkpoint (no checkpoint file and nothing in ``metrics.jsonl``). Reads only.

        Raises
        ------
        NotARunError
            The folder has a checkpoint file or metrics but no usable checkpoint: it
            trained, and starting it again in place would overwrite what it did.
        """
        problems = []
        for path in (self.checkpoint_path, self.previous_checkpoint_path):
            try:
                checkpoint = self.load_checkpoint(path)
            except CorruptCheckpointError as err:
                problems.append(f"{path.name} is " + ("missing" if err.reason == "missing"
                                                      else f"corrupt ({err.reason})"))
                continue
            checkpoint.fallback = problems[0] if problems else None
            return checkpoint
        has_files = self.checkpoint_path.exists() or self.previous_checkpoint_path.exists()
        if not has_files and not self.has_metrics():
            return None
        if self.has_metrics():
            n = len([line for line in self.metrics_path.read_text().splitlines() if line])
            trained = f"{METRICS_FILE} holds {n} evaluation{'s' if n != 1 else ''}"
        else:
            trained = "it wrote checkpoints"
        raise NotARunError(
            f"{option}: the run in '{self.path}' has no usable checkpoint: "
            f"{' and '.join(problems)}, but it has trained ({trained}). It is not started "
            "again in place, which would overwrite its results; restore a checkpoint from "
            "a copy, or start a new run without " + option + ".")

    # -- recordings -------------------------------------------------------------------
    def write_recording(self, name: str, arrays: dict) -> Path:
        """Write ``recordings/<name>.npz`` atomically (numeric arrays, no pickle)."""
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"invalid recording name {name!r}")
        buffer = io.BytesIO()
        # np.require keeps 0-d scalars 0-d (np.ascontiguousarray makes them 1-d).
        np.savez(buffer, **{k: np.require(v, requirements="C") for k, v in arrays.items()})
        with _writing(self.recordings_path):
            self.recordings_path.mkdir(exist_ok=True)
        return atomic_write_bytes(self.recordings_path / f"{name}.npz", buffer.getvalue())

    def read_recording(self, name: str) -> dict:
        """Arrays of ``recordings/<name>.npz`` (read without pickle)."""
        path = self.recordings_path / f"{name}.npz"
        if not path.is_file():
            available = ", ".join(self.recording_names()) or "none"
            raise FileNotFoundError(f"'{path}' does not exist; recordings of this run: {available}")
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}

    def recording_names(self, prefix: str = "") -> list[str]:
        """Names of the run's recordings that start with ``prefix``, sorted (e.g.
        ``'epoch-'``: the protocol's own recordings, without the spike recordings
        ``spikes-epoch-NNNN`` of :mod:`analysis.recording`)."""
        if not self.recordings_path.is_dir():
            return []
        return sorted(p.stem for p in self.recordings_path.glob(f"{prefix}*.npz"))


# --------------------------------------------------------------------------------------
# Resuming
# --------------------------------------------------------------------------------------


def _show(value) -> str:
    return json.dumps(value)


def check_resumable(protocol, path, branch_command: str | None = None) -> Checkpoint | None:
    """The checkpoint a resumed run of ``protocol`` in the run folder ``path`` continues
    from (:meth:`RunFolder.usable_checkpoint`; ``None``: the run stopped before its
    first checkpoint and starts again), checked, reading only: by
    :func:`check_checkpoint`, and against ``config.json``, whose configuration must be
    the one the checkpoint was trained with. Called before a resumed run changes
    anything in its folder; ``branch_command`` is the command the messages suggest for
    training an edited configuration from the checkpoint (default: ``--branch PATH``).

    Raises
    ------
    NotARunError
        No usable checkpoint although the run trained, a checkpoint of another
        version or architecture, or a ``config.json`` edited after the run started (the
        message names each changed field with both values).
    """
    folder = RunFolder(path)
    checkpoint = folder.usable_checkpoint()
    document = folder.read_config()
    config = document.get("config")
    branch = branch_command or f"--branch {folder.path}"
    if checkpoint is not None:
        check_checkpoint(protocol, checkpoint.arrays, checkpoint.meta, checkpoint.path)
        trained = checkpoint.meta["config"]
        if config_digest(config) != checkpoint.meta["config_sha256"] \
                or config_digest(trained) != checkpoint.meta["config_sha256"]:
            changed = [f"{name} is {_show(config.get(name, '<absent>'))} there but "
                       f"{_show(trained.get(name, '<absent>'))} in the checkpoint"
                       for name in sorted(set(config) | set(trained))
                       if config.get(name, "<absent>") != trained.get(name, "<absent>")]
            raise NotARunError(
                f"--resume: '{folder.config_path}' was edited after the run started: "
                f"{'; '.join(changed) or 'its configuration differs from the checkpoint'}"
                f". A run is resumed only with the configuration its checkpoint "
                f"'{checkpoint.path.name}' was trained with: restore "
                f"{'those values' if len(changed) > 1 else 'that value'} in {CONFIG_FILE} "
                f"to continue it, or train the edited configuration as a new run that "
                f"starts from this checkpoint: {branch}")
    elif "config_sha256" in document and config_digest(config) != document["config_sha256"]:
        raise NotARunError(
            f"--resume: '{folder.config_path}' was edited after the run was created (its "
            f"configuration no longer has the digest config_sha256 it was created with); "
            "restore it, or start a new run without --resume.")
    return checkpoint


def check_checkpoint(protocol, arrays: dict, meta: dict, where) -> None:
    """Check that a checkpoint's ``arrays`` and ``meta`` (from
    :meth:`RunFolder.load_checkpoint`, read from ``where``) can be resumed by
    ``protocol``: its metadata has this version's format, the protocol's name, chunk
    size and number of training samples and the configuration it was trained with, and
    it holds exactly the learned arrays of ``protocol.initial_state()`` with their
    shapes (:func:`check_learned_state`).

    Raises
    ------
    NotARunError
        The checkpoint was written by another version, configuration or architecture
        (e.g. another hidden size); the message names the array or field, both values
        and the fix.
    """
    fix = ("resume it with the configuration it was written with, or start a new run "
           "without --resume.")
    run = Path(where).parent
    where = f"--resume: the checkpoint '{where}'"
    if meta.get("format") != CHECKPOINT_FORMAT or not isinstance(meta.get("config"), dict) \
            or "config_sha256" not in meta:
        raise NotARunError(f"{where} has format {meta.get('format')!r}, not "
                           f"{CHECKPOINT_FORMAT}: it was written by another version of this "
                           "package; train its learned state on as a new run with --branch "
                           f"{run}, or start a new run without --resume.")
    for key, value in (("protocol", protocol.name), ("chunk_size", protocol.chunk_size),
                       ("n_train", protocol.n_train)):
        if meta.get(key) != value:
            raise NotARunError(f"{where} was written with {key} {meta.get(key)!r}, but the "
                               f"run's configuration ({CONFIG_FILE}) gives {value!r}; {fix}")
    check_learned_state(protocol, arrays, where,
                        f"the network of the run's configuration ({CONFIG_FILE})",
                        "it was written by another architecture (e.g. another hidden "
                        f"size); {fix}")


def check_learned_state(protocol, arrays: dict, where: str, network: str, fix: str) -> dict:
    """Check that ``arrays`` (of a checkpoint, described by ``where``) hold exactly the
    learned arrays of ``protocol.initial_state()`` with their shapes (arrays named
    ``stats.*`` are left out); ``network`` names the network in the message, ``fix``
    ends it. Returns the learned arrays.

    Raises
    ------
    NotARunError
        An array is missing, extra, or of another shape (the message names it and both
        shapes).
    """
    learned = {k: v for k, v in arrays.items() if not k.startswith(STATS_PREFIX)}
    expected = {k: np.shape(v) for k, v in protocol.initial_state().items()}
    if set(learned) != set(expected):
        extra, missing = sorted(set(learned) - set(expected)), sorted(set(expected) - set(learned))
        raise NotARunError(
            f"{where} does not hold the learned state of {network}"
            + (f"; it lacks {', '.join(missing)}" if missing else "")
            + (f"; it has {', '.join(extra)}, which this network does not learn" if extra else "")
            + f". {fix[0].upper()}{fix[1:]}")
    for name in expected:  # in the protocol's order: weights first
        if learned[name].shape != expected[name]:
            raise NotARunError(
                f"{where} holds {name} of shape {learned[name].shape}, but {network} "
                f"needs {expected[name]}: {fix}")
    return learned
