"""Parameter sweeps on Dask: one task per grid point and trial, each with its own folder.

A sweep runs a task function once for every point of a parameter grid and every trial,
on a Dask :class:`distributed.Client`: by default a local cluster of single-threaded
worker processes (one per core; DESIGN.md: Brian2 runs single-threaded, parallelism
comes from processes), or an existing scheduler (``scheduler="tcp://host:port"``) for
more machines. ``scheduler="serial"`` runs the tasks one after another in this process,
without Dask, for debugging and tests.

Example
-------
>>> from runs.sweep import grid, run_sweep
>>> def simulate(params, folder):       # module-level, so that Dask can pickle it
...     rate = params["e_fraction"] * 10.0 + params["trial"]
...     return {"rate_hz": rate}
>>> results = run_sweep("ei_ratio", simulate,
...                     grid(e_fraction=[0.5, 0.8], sigma=[1e-5, 1e-4]),
...                     root="results", trials=3)            # doctest: +SKIP
>>> [(r.params, r.metrics) for r in results if r.ok]         # doctest: +SKIP

Layout of ``<root>/<name>/``
----------------------------
``<task-id>/``
    One folder per task, e.g. ``e_fraction=0.8_sigma=1e-05_trial=2``: the parameters in
    axis order, then the trial number (see :func:`task_id`). It is a results folder in
    the format of :class:`runs.RunFolder` (``RunFolder.open`` accepts it):
    ``config.json`` (``config`` holds the parameters and ``trial``; provenance beside
    them), ``log.txt``, whatever the task writes, and at the end either ``done.json``
    (``metrics``: what the task returned) or ``error.txt`` (the traceback).
``summary.jsonl``
    One line per task, in grid order: ``task_id``, ``params``, ``status`` (``'done'``,
    ``'skipped'`` -- finished by an earlier run -- or ``'failed'``), ``metrics``,
    ``error``.

``done.json`` and ``summary.jsonl`` are written atomically. A task whose folder already
holds ``done.json`` is not run again, so a sweep that was interrupted (or had failures)
is completed by running the same call again: only unfinished and failed tasks run. To
redo one task, delete its ``done.json``.

The task function
-----------------
``task(params: dict, folder: pathlib.Path) -> dict``. ``params`` is one grid point plus
``params["trial"]`` (0, 1, ...; use it to derive the task's seeds), ``folder`` the
task's own existing folder, for checkpoints and recordings. It returns a dict of
JSON-serialisable metrics. It runs in a worker process (possibly on another machine):
it must be picklable (a module-level function, or a :func:`functools.partial` of one)
and must not rely on state of the calling process. A task that raises is recorded
(``error.txt``, status ``'failed'``) and the other tasks go on.

With ``own_build_cache=True`` each task runs with ``SNN_BUILD_CACHE`` set to
``<folder>/build``, so its compiled Brian2 projects live in (and are shared along with)
its folder instead of the common cache (:mod:`models.devices`). The variable is
process-wide, so this needs workers with one thread each (the local cluster has them;
start external workers with ``--nthreads 1``). Leave it off to share compiled binaries
between tasks of the same architecture, which saves a compilation per task.

With an external scheduler, ``root`` must be a directory that every worker sees at the
same absolute path (a shared file system): the workers write the task folders, this
process reads them.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import hashlib
import itertools
import json
import os
import re
import shutil
import socket
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from runs.folder import CONFIG_FILE, LOG_FILE, RunFolder, atomic_write_text, provenance

__all__ = [
    "grid",
    "task_id",
    "run_sweep",
    "read_summary",
    "SweepResult",
    "SweepError",
    "DONE_FILE",
    "ERROR_FILE",
    "SUMMARY_FILE",
    "SERIAL",
]

DONE_FILE = "done.json"
ERROR_FILE = "error.txt"
SUMMARY_FILE = "summary.jsonl"
#: Names accepted for ``scheduler`` to run tasks in this process, without Dask.
SERIAL = ("serial", "synchronous")
#: Environment variable set per task by ``own_build_cache=True`` (as in models.devices).
_CACHE_ENV = "SNN_BUILD_CACHE"
#: Longest task id used as is; longer ones are cut and made unique with a hash, because
#: file names are limited to 255 bytes.
_MAX_ID = 200
_UNSAFE = re.compile(r"[^A-Za-z0-9._+=-]")
#: The files of a task folder that only say it exists (see _prepare_folder).
_BOOKKEEPING = ((CONFIG_FILE,), (LOG_FILE,))
#: A Dask scheduler address: ``protocol://host:port`` (``protocol://host`` for inproc
#: and the like) or ``host:port``.
_ADDRESS = re.compile(r"[a-z][a-z0-9+]*://[^\s/]+(/\S*)?|[^\s:/]+:\d+")


class SweepError(ValueError):
    """A sweep cannot start: bad grid, trials, task or scheduler. Raised before any task
    runs or any folder is made; the message names what is wrong and the fix (the command
    line reports it with exit status 2)."""


# --------------------------------------------------------------------------------------
# Grid and task ids
# --------------------------------------------------------------------------------------


def _plain(value):
    """numpy scalars -> Python scalars, so that parameters go into JSON and ids as the
    user wrote them (``np.float64(0.8)`` -> ``0.8``, ``np.int64(3)`` -> ``3``)."""
    return value.item() if isinstance(value, np.generic) else value


def grid(**axes: Sequence) -> list[dict]:
    """Cartesian product of named axes, as a list of parameter dicts.

    The order is deterministic: axes in the order given, the last axis varying fastest
    (like nested ``for`` loops, and :func:`itertools.product`)::

        grid(e_fraction=[0.8, 0.5], sigma=[1e-5, 1e-4])
        # [{'e_fraction': 0.8, 'sigma': 1e-05}, {'e_fraction': 0.8, 'sigma': 0.0001},
        #  {'e_fraction': 0.5, 'sigma': 1e-05}, {'e_fraction': 0.5, 'sigma': 0.0001}]

    Parameters
    ----------
    **axes : sequence
        Axis name -> values (list, tuple, range, 1-d numpy array; numpy scalars become
        Python scalars). Values must be JSON-serialisable. ``trial`` is reserved for the
        trial number that :func:`run_sweep` adds.

    Raises
    ------
    SweepError
        No axes, an empty axis, an axis given as a single value or a string, or an axis
        named ``trial``.
    """
    if not axes:
        raise SweepError("grid has no axes; give at least one, e.g. grid(e_fraction=[0.8, 0.5])")
    values = {}
    for name, axis in axes.items():
        if name == "trial":
            raise SweepError("grid axis 'trial' is reserved for the trial number; "
                             "use run_sweep(..., trials=N) for repetitions")
        # A string is a sequence of characters: grid(mode="fast") is almost surely a
        # forgotten list, not three modes.
        if isinstance(axis, (str, bytes, Mapping)) or not isinstance(axis, Iterable):
            raise SweepError(f"grid axis {name!r} is {axis!r}, not a sequence of values; "
                             f"give a list, e.g. {name}=[{axis!r}]")
        axis = [_plain(v) for v in axis]
        if not axis:
            raise SweepError(f"grid axis {name!r} is empty; give at least one value")
        values[name] = axis
    return [dict(zip(values, combo)) for combo in itertools.product(*values.values())]


def _format_value(value) -> str:
    if isinstance(value, float):
        return repr(value)  # shortest round-trip form: 1e-05, 0.8, inf
    if isinstance(value, (str, int, bool)) or value is None:
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def task_id(params: Mapping, trial: int) -> str:
    """Stable, file-system-safe id of one grid point and trial.

    ``key=value`` pairs in the order of ``params``, then ``trial=<trial>``, joined by
    ``_``: ``task_id({'e_fraction': 0.8, 'sigma': 1e-5}, 2)`` is
    ``'e_fraction=0.8_sigma=1e-05_trial=2'``. Floats are written in Python's shortest
    round-trip form; characters other than letters, digits and ``. _ + = -`` become
    ``-``. Ids longer than 200 characters are cut and end in a hash of the full id.
    """
    text = "_".join(f"{k}={_format_value(_plain(v))}" for k, v in params.items())
    text = _UNSAFE.sub("-", f"{text}_trial={trial}" if text else f"trial={trial}")
    if len(text) > _MAX_ID:
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        text = f"{text[:_MAX_ID - 17]}-{digest}"
    return text


# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepResult:
    """Outcome of one task of a sweep.

    ``params`` includes ``trial``. ``status`` is ``'done'`` (ran now), ``'skipped'``
    (finished by an earlier run; ``metrics`` read from its ``done.json``) or
    ``'failed'`` (``error`` is the one-line reason; the traceback is in
    ``folder/error.txt``).
    """

    task_id: str
    params: dict
    folder: Path
    status: str
    metrics: dict | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def to_record(self) -> dict:
        """The JSON object of this result's line in ``summary.jsonl``."""
        return {"task_id": self.task_id, "params": self.params, "status": self.status,
                "metrics": self.metrics, "error": self.error}


def read_summary(root, name: str) -> list[dict]:
    """The records of ``<root>/<name>/summary.jsonl`` (see :meth:`SweepResult.to_record`)."""
    path = Path(root) / name / SUMMARY_FILE
    if not path.is_file():
        raise FileNotFoundError(f"'{path}' does not exist; run the sweep {name!r} first")
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def _read_done(folder: Path) -> dict | None:
    """Metrics of a finished task, or ``None`` when it has not finished. An unreadable
    ``done.json`` (edited by hand) counts as unfinished, so the task is run again."""
    try:
        document = json.loads((folder / DONE_FILE).read_text())
        return dict(document["metrics"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


# --------------------------------------------------------------------------------------
# Running one task (in a worker)
# --------------------------------------------------------------------------------------


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _execute(task: Callable, params: dict, folder: str, tid: str, own_build_cache: bool) -> dict:
    """Run one task and record its outcome in its folder; returns ``{'metrics': ...}``
    or ``{'error': ..., 'traceback': ...}``. Never raises for a task's own exception,
    so that Dask does not retry it on other workers or stop the sweep."""
    path = Path(folder)
    run = RunFolder(path)
    run.log(f"task {tid} started on {socket.gethostname()} (pid {os.getpid()})")
    saved = os.environ.get(_CACHE_ENV)
    start = time.perf_counter()
    try:
        if own_build_cache:
            os.environ[_CACHE_ENV] = str(path / "build")
        try:
            metrics = task(dict(params), path)
        finally:
            if own_build_cache:
                if saved is None:
                    os.environ.pop(_CACHE_ENV, None)
                else:
                    os.environ[_CACHE_ENV] = saved
        if not isinstance(metrics, Mapping):
            raise TypeError(f"the task returned {type(metrics).__name__}, not a dict of "
                            "metrics; return e.g. {'rate_hz': 4.2}")
        metrics = dict(metrics)
        done = {"task_id": tid, "params": params, "metrics": metrics, "finished": _now(),
                "seconds": round(time.perf_counter() - start, 3)}
        try:
            text = json.dumps(done, indent=2, sort_keys=True) + "\n"
        except (TypeError, ValueError) as err:
            raise TypeError(f"the task's metrics are not JSON-serialisable ({err}); "
                            "return Python numbers, strings, lists and dicts") from None
    except Exception as err:  # noqa: BLE001 - any task failure is recorded, not raised
        trace = traceback.format_exc()
        atomic_write_text(path / ERROR_FILE, trace)
        run.log(f"task {tid} failed: {type(err).__name__}: {err}")
        return {"error": f"{type(err).__name__}: {err}", "traceback": trace}
    atomic_write_text(path / DONE_FILE, text)
    run.log(f"task {tid} finished in {done['seconds']} s")
    return {"metrics": metrics}


# --------------------------------------------------------------------------------------
# The sweep
# --------------------------------------------------------------------------------------


def _validate(name, task, points, trials, scheduler, n_workers) -> list[dict]:
    if not isinstance(name, str) or not name or _UNSAFE.search(name) or name.startswith("."):
        raise SweepError(f"sweep name {name!r} must be a non-empty folder name of letters, "
                         "digits and . _ + = - (e.g. 'ei_ratio')")
    if not callable(task):
        raise SweepError(f"task {task!r} is not callable; pass a module-level function "
                         "task(params: dict, folder: Path) -> dict")
    if isinstance(trials, bool) or not isinstance(trials, (int, np.integer)) or trials < 1:
        raise SweepError(f"trials={trials!r}: give a whole number >= 1 (1 runs each grid "
                         "point once)")
    if isinstance(points, Mapping) or not isinstance(points, Iterable):
        raise SweepError("the grid must be a list of parameter dicts, e.g. "
                         "grid(e_fraction=[0.8, 0.5])")
    points = list(points)
    if not points:
        raise SweepError("the grid is empty; give at least one point, e.g. "
                         "grid(e_fraction=[0.8])")
    for k, point in enumerate(points):
        if not isinstance(point, Mapping):
            raise SweepError(f"grid point {k} is {point!r}, not a dict of parameters; "
                             "build the grid with grid(...)")
        if "trial" in point:
            raise SweepError(f"grid point {k} has a parameter 'trial', which is reserved "
                             "for the trial number; use trials=N instead")
        try:
            json.dumps({str(key): _plain(v) for key, v in point.items()})
        except (TypeError, ValueError) as err:
            raise SweepError(f"grid point {k} ({point!r}) is not JSON-serialisable ({err}); "
                             "use numbers, strings, booleans and lists") from None
    if n_workers is not None and (isinstance(n_workers, bool)
                                  or not isinstance(n_workers, (int, np.integer))
                                  or n_workers < 1):
        raise SweepError(f"n_workers={n_workers!r}: give a whole number >= 1, or leave it "
                         "out for one worker per core")
    if scheduler is not None and not isinstance(scheduler, str) and not _is_client(scheduler):
        raise SweepError(f"scheduler={scheduler!r}: give None (local cluster), 'serial', an "
                         "address such as 'tcp://host:8786', or a distributed.Client")
    if isinstance(scheduler, str) and not scheduler.strip():
        raise SweepError("scheduler='' is empty; give an address such as 'tcp://host:8786', "
                         "'serial', or leave it out for a local cluster")
    if isinstance(scheduler, str) and scheduler.strip().lower() not in SERIAL \
            and not _ADDRESS.fullmatch(scheduler.strip()):
        raise SweepError(f"scheduler={scheduler!r} is not a Dask scheduler address; an "
                         "address looks like 'tcp://host:8786' (protocol://host:port, as "
                         "`dask scheduler` prints it) or 'host:8786'; give 'serial' to run "
                         "the tasks here one by one, or leave it out for a local cluster")
    return [{str(k): _plain(v) for k, v in point.items()} for point in points]


def _is_client(obj) -> bool:
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - distributed is a dependency
        return False
    return isinstance(obj, Client)


def _default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _connect(address: str, timeout):
    """A client of the scheduler at ``address``, or SweepError within ``timeout``."""
    from distributed import Client

    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as err:
        raise SweepError(
            f"cannot reach the Dask scheduler at {address}: {err}; start one with "
            "`dask scheduler` (and workers with `dask worker <address> --nthreads 1`) or "
            "leave --scheduler out for a local cluster"
        ) from None


def run_sweep(name: str, task: Callable, points: Iterable[Mapping], root="results", *,
              trials: int = 1, scheduler=None, n_workers: int | None = None,
              own_build_cache: bool = False, progress: bool = True,
              connect_timeout="5s") -> list[SweepResult]:
    """Run ``task`` for every grid point and trial; skip tasks finished earlier.

    Parameters
    ----------
    name : str
        Sweep name; the tasks' folders go to ``<root>/<name>/``.
    task : callable
        ``task(params, folder) -> dict of metrics`` (see the module docstring). Must be
        picklable unless ``scheduler='serial'``.
    points : list of dict
        The grid points, e.g. from :func:`grid`.
    root : path
        Results root (default ``results``); made absolute here, so workers of an
        external cluster must see it at the same path.
    trials : int
        Repetitions of every point (>= 1); the task sees ``params['trial']`` = 0, 1, ...
    scheduler : None, str or distributed.Client
        ``None``: a local cluster of ``n_workers`` single-threaded worker processes,
        closed at the end. ``'serial'`` (or ``'synchronous'``): in this process, one task
        after another, no Dask. An address (``'tcp://host:8786'``): an existing
        scheduler, which must answer within ``connect_timeout``. A ``Client``: used as
        is and left open.
    n_workers : int, optional
        Local cluster only: worker processes (default: one per core, but never more
        than there are tasks to run).
    own_build_cache : bool
        Set ``SNN_BUILD_CACHE=<folder>/build`` while each task runs (one Brian2 build
        cache per task; needs single-threaded workers). Default: the common cache.
    progress : bool
        Show a progress bar over the tasks (finished tasks of earlier runs count as done).
    connect_timeout : str or float
        How long to try to reach an external scheduler (Dask time string or seconds).

    Returns
    -------
    list of SweepResult
        One per task, in grid order (points, then trials), also written to
        ``<root>/<name>/summary.jsonl``. Failed tasks are in it with ``status='failed'``;
        this function does not raise for them.

    Raises
    ------
    SweepError
        Before any task runs or any folder is made: empty grid, trials < 1, task not
        callable, duplicate grid points, unreachable scheduler, ``own_build_cache`` with
        multi-threaded external workers, a ``<root>/<name>`` that is a file or holds
        results of something else (a run folder, runs of a protocol, another sweep's
        tasks); or when the task folders cannot be made (``root`` not writable).
    """
    points = _validate(name, task, points, trials, scheduler, n_workers)
    sweep_dir = Path(root).expanduser().resolve() / name
    _check_sweep_dir(sweep_dir, name)
    plan = []  # (task id, params, folder)
    seen = {}
    for point in points:
        for trial in range(int(trials)):
            tid = task_id(point, trial)
            if tid in seen:
                raise SweepError(f"grid points {seen[tid]!r} and {point!r} give the same "
                                 f"task id {tid!r}; remove the duplicate point")
            seen[tid] = point
            plan.append((tid, {**point, "trial": trial}, sweep_dir / tid))
    finished = {tid: m for tid, _, folder in plan if (m := _read_done(folder)) is not None}
    pending = [item for item in plan if item[0] not in finished]

    serial = isinstance(scheduler, str) and scheduler.strip().lower() in SERIAL
    outcomes: dict[str, dict] = {}
    made = [folder for _, _, folder in pending if not folder.exists()]
    with _removed_unless_used(made, sweep_dir):
        _dispatch(task, name, scheduler, serial, pending, sweep_dir, own_build_cache,
                  progress, finished, plan, n_workers, connect_timeout, outcomes)

    results = []
    for tid, params, folder in plan:
        if tid in finished:
            results.append(SweepResult(tid, params, folder, "skipped", metrics=finished[tid]))
        elif "metrics" in outcomes[tid]:
            results.append(SweepResult(tid, params, folder, "done", metrics=outcomes[tid]["metrics"]))
        else:
            results.append(SweepResult(tid, params, folder, "failed", error=outcomes[tid]["error"]))
    summary = "".join(json.dumps(r.to_record(), sort_keys=True) + "\n" for r in results)
    atomic_write_text(sweep_dir / SUMMARY_FILE, summary)
    return results


def _dispatch(task, name, scheduler, serial, pending, sweep_dir, own_build_cache, progress,
              finished, plan, n_workers, connect_timeout, outcomes) -> None:
    """Run the pending tasks where ``scheduler`` says (see :func:`run_sweep`)."""
    # Connect before any folder exists, so that a wrong address leaves no trace.
    if serial or (scheduler is None and not pending):
        _run_tasks(None, task, name, pending, sweep_dir, own_build_cache, progress,
                   len(finished), len(plan), outcomes)
    elif scheduler is None:
        from distributed import Client, LocalCluster

        workers = min(int(n_workers or _default_workers()), len(pending))
        # No dashboard: the progress bar reports progress, and a fixed dashboard port
        # would clash between sweeps running side by side.
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, \
                Client(cluster, set_as_default=False) as client:
            _run_tasks(client, task, name, pending, sweep_dir, own_build_cache, progress,
                       len(finished), len(plan), outcomes)
    elif _is_client(scheduler):
        _check_threads(scheduler, own_build_cache)
        _run_tasks(scheduler, task, name, pending, sweep_dir, own_build_cache, progress,
                   len(finished), len(plan), outcomes)
    else:
        with _connect(scheduler.strip(), connect_timeout) as client:
            _check_threads(client, own_build_cache)
            _run_tasks(client, task, name, pending, sweep_dir, own_build_cache, progress,
                       len(finished), len(plan), outcomes)


@contextlib.contextmanager
def _removed_unless_used(made: list, sweep_dir: Path):
    """On an exception (Ctrl-C, a failed write), delete the task folders of ``made``
    (made by this call) that hold only the sweep's bookkeeping (no run, no outcome),
    and the sweep folder if this call made it and it is empty then: a sweep stopped
    before its tasks did anything leaves no trace; one that did leaves what it did."""
    new_root = not sweep_dir.exists()
    try:
        yield
    except BaseException:
        for folder in made:
            kept = [p for p in folder.rglob("*")
                    if p.is_file() and p.relative_to(folder).parts not in _BOOKKEEPING]
            if not kept:
                shutil.rmtree(folder, ignore_errors=True)
        if new_root:
            try:
                sweep_dir.rmdir()
            except OSError:  # not empty, or gone
                pass
        raise


def _check_sweep_dir(sweep_dir: Path, name: str) -> None:
    """SweepError unless ``sweep_dir`` is missing, or a folder of this sweep's tasks
    (reads only): never write task folders and a summary into a file, a run folder or a
    folder of another protocol's runs or another sweep's tasks."""
    fix = "give the sweep another name (--name) or results root (--out)"
    for parent in (sweep_dir, *sweep_dir.parents):
        if parent.exists():
            if not parent.is_dir():
                raise SweepError(f"cannot make the sweep folder {sweep_dir}: '{parent}' is "
                                 f"a file, not a folder; {fix}")
            break
    if not sweep_dir.is_dir():
        return
    if (sweep_dir / CONFIG_FILE).is_file():
        raise SweepError(f"'{sweep_dir}' is a run folder (it has {CONFIG_FILE}), not a "
                         f"folder of sweep tasks; {fix}")
    for config in sorted(sweep_dir.glob(f"*/{CONFIG_FILE}")):
        try:
            document = json.loads(config.read_text())
            owner = document.get("sweep", {}).get("name"), document.get("protocol")
        except (OSError, ValueError, AttributeError):
            continue  # unreadable: the task is run again and rewrites it
        if owner[0] != name:
            what = (f"tasks of the sweep {owner[0]!r}" if owner[0] is not None
                    else f"runs of protocol {owner[1]!r}")
            raise SweepError(f"'{sweep_dir}' holds {what} (e.g. {config.parent.name}), not "
                             f"tasks of the sweep {name!r}; {fix}")


def _check_threads(client, own_build_cache: bool) -> None:
    if not own_build_cache:
        return
    threads = client.nthreads()
    if any(n > 1 for n in threads.values()):
        raise SweepError("own_build_cache=True needs workers with one thread each (the "
                         "build-cache variable is process-wide), but the cluster has "
                         f"{sorted(set(threads.values()))} threads per worker; start the "
                         "workers with `dask worker <address> --nthreads 1`")


def _prepare_folder(name: str, tid: str, params: dict, folder: Path, task, about: dict) -> None:
    """Make the task's folder and (re)write its ``config.json``; drop an ``error.txt``
    of an earlier failed attempt, so that a folder holds the outcome of its last run."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ERROR_FILE).unlink(missing_ok=True)
    document = {
        "protocol": name,
        "run_id": tid,
        "created": _now(),
        "config": params,
        "seeds": {"trial": params["trial"]},
        "sweep": {"name": name, "task": f"{getattr(task, '__module__', '?')}."
                                        f"{getattr(task, '__qualname__', repr(task))}"},
        "provenance": about,
    }
    atomic_write_text(folder / CONFIG_FILE, json.dumps(document, indent=2, sort_keys=True) + "\n")


def _run_tasks(client, task, name, pending, sweep_dir, own_build_cache, progress,
               n_finished, n_total, outcomes) -> None:
    """Run the pending tasks (in this process when ``client`` is None) and put each
    task's outcome into ``outcomes``."""
    from tqdm.auto import tqdm

    if not pending:
        return
    about = provenance()  # once: it calls git, which costs ~10 ms a task
    try:
        for tid, params, folder in pending:
            _prepare_folder(name, tid, params, folder, task, about)
    except OSError as err:
        fix = ("free space on that disk or give a results root (--out) on another one"
               if err.errno in (errno.ENOSPC, errno.EDQUOT)
               else "give a results root (--out) you can write to")
        raise SweepError(f"cannot make the task folder {folder} ({err.strerror or err}); "
                         f"{fix}") from None
    bar = tqdm(total=n_total, initial=n_finished, desc=f"sweep {name}", unit="task",
               disable=not progress)
    failed = 0

    def record(tid, outcome):
        nonlocal failed
        outcomes[tid] = outcome
        failed += "error" in outcome
        bar.set_postfix(failed=failed, refresh=False)
        bar.update(1)

    try:
        if client is None:
            for tid, params, folder in pending:
                record(tid, _execute(task, params, str(folder), tid, own_build_cache))
            return
        from distributed import as_completed

        # A unique token in each key: a long-lived scheduler must not hand back the
        # result of an earlier sweep's task of the same name.
        token = uuid.uuid4().hex[:8]
        futures = {}
        for tid, params, folder in pending:
            future = client.submit(_execute, task, params, str(folder), tid, own_build_cache,
                                   key=f"{name}/{tid}-{token}", pure=False)
            futures[future] = (tid, folder)
        try:
            # The client is not the process's default one (set_as_default=False: a
            # sweep must not change where the caller's other Dask work goes), so the
            # loop is passed explicitly.
            for future in as_completed(futures, loop=client.loop):
                tid, folder = futures[future]
                try:
                    outcome = future.result()
                except Exception as err:  # noqa: BLE001 - worker died, task unpicklable...
                    trace = "".join(traceback.format_exception(err))
                    atomic_write_text(folder / ERROR_FILE, trace)
                    outcome = {"error": f"{type(err).__name__}: {err}", "traceback": trace}
                record(tid, outcome)
        finally:
            # On Ctrl-C, stop the rest of the work on an external scheduler too.
            client.cancel([f for f in futures if not f.done()])
    finally:
        bar.close()
