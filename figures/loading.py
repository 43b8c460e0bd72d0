"""The run loader of the figure sets: command-line paths to loaded runs.

A path is a run folder (``config.json`` of the wanted protocol), a folder of runs
(``results/plif``: the runs of the protocol inside; ``results``: ``results/<protocol>/*``),
or the sweep folder of a protocol whose tasks each hold one run
(``results/balanced_tuning_ablation_quick``: ``<task>/<protocol>/run`` of every finished task,
``done.json`` present). Every run is read once through :class:`runs.RunFolder` into a
:data:`LoadedRun`; the figure sets add what their figures need (a label, a condition).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypedDict

from runs import NotARunError, RunFolder
from runs.sweep import DONE_FILE

__all__ = ["LoadedRun", "NotARunError", "find_runs", "load_run", "load_runs",
           "disambiguate", "default_out"]

class LoadedRun(TypedDict, total=False):
    """One run as the figure sets receive it."""

    folder: RunFolder
    path: Path          #: the run folder
    run_id: str
    protocol: str
    config: dict        #: config.json's 'config'
    metrics: list       #: metrics.jsonl, one dict per evaluation, in epoch order
    recordings: list    #: names of recordings/epoch-NNNN.npz, in order
    label: str          #: the run's name in the figures (set by the figure set)


def _protocol(path: Path):
    """The ``protocol`` of the run folder ``path``, or ``None`` if its config.json is
    missing, unreadable or not a run configuration."""
    try:
        document = RunFolder(path).read_config()
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or not isinstance(document.get("config"), dict):
        return None
    return document.get("protocol")


def _of_sweep(found: str | None, sweep: str | None) -> bool:
    """Whether a folder whose config names ``found`` is a task of the sweep ``sweep``,
    or of a sweep named after it (``python -m experiments`` adds the preset:
    ``balanced_tuning_ablation_quick``)."""
    return sweep is not None and found is not None \
        and (found == sweep or found.startswith(sweep + "_"))


def _task_run(task: Path, protocol: str) -> Path | None:
    """The run of a sweep task folder if the task finished (``done.json``)."""
    run = task / protocol / "run"
    if (task / DONE_FILE).is_file() and _protocol(run) == protocol:
        return run
    return None


def _draw_hint(protocol: str) -> str:
    from figures.registry import FIGURE_SETS  # the registry is data: no import cycle

    figure_set = FIGURE_SETS.get(protocol)
    if figure_set is None or figure_set.inputs != "runs":
        return ""
    return f" (draw it with `python -m figures {protocol}`)"


def find_runs(path, protocol: str, hint: str, sweep: str | None = None) -> list[Path]:
    """The run folders of ``protocol`` at ``path``: ``path`` itself if it is a run folder;
    the run of a finished task of the sweep ``sweep`` (a sweep name, or the start of
    one); else the runs inside it (``path/*``, ``path/<protocol>/*``) and those of the
    finished tasks inside it (``path/*``, ``path/<sweep>*/*``).

    Raises
    ------
    NotARunError
        ``path`` does not exist, is a run of another protocol or an unfinished task, or
        holds no run of ``protocol``; the message names the folder, says what was
        expected (``hint``) and what the folder holds instead.
    """
    path = Path(path)
    if not path.is_dir():
        raise NotARunError(f"'{path}' does not exist or is not a folder; {hint}.")
    if (path / "config.json").is_file():
        found = _protocol(path)
        if found == protocol:
            return [path]
        if _of_sweep(found, sweep):
            run = _task_run(path, protocol)
            if run is None:
                raise NotARunError(f"'{path}' is an ablation task that has not finished (no "
                                   f"{DONE_FILE}); run the ablation again to complete it.")
            return [run]
        if found is None:
            raise NotARunError(f"'{path / 'config.json'}' is unreadable or not a run "
                               f"configuration; {hint}.")
        raise NotARunError(f"'{path}' is a {found!r} run, not {protocol!r}{_draw_hint(found)}.")
    patterns = ["*/config.json", f"{protocol}/*/config.json"]
    if sweep is not None:
        patterns.append(f"{sweep}*/*/config.json")
    runs, others, unfinished = [], set(), 0
    for pattern in patterns:
        for config in sorted(path.glob(pattern)):
            folder = config.parent
            found = _protocol(folder)
            if found == protocol:
                runs.append(folder)
            elif _of_sweep(found, sweep):
                run = _task_run(folder, protocol)
                if run is None:
                    unfinished += 1
                else:
                    runs.append(run)
            elif found is not None:
                others.add(found)
    if not runs:
        more = f" It holds runs of {', '.join(sorted(others))}." if others else ""
        if unfinished:
            more += (f" {unfinished} ablation task(s) have not finished (no {DONE_FILE}; "
                     f"failed ones have error.txt).")
        raise NotARunError(f"'{path}' is not a {protocol} run folder and holds none; "
                           f"{hint}.{more}")
    return runs


def load_run(path) -> LoadedRun:
    """The run folder ``path`` read: folder, path, run id, protocol, configuration,
    metrics (sorted by epoch) and recording names."""
    folder = RunFolder(path)
    document = folder.read_config()
    try:
        metrics = sorted(folder.read_metrics(), key=lambda m: m.get("epoch", 0))
    except ValueError as err:
        raise ValueError(f"'{folder.metrics_path}' is unreadable ({err}).") from None
    return LoadedRun(folder=folder, path=folder.path, run_id=folder.run_id,
                     protocol=document.get("protocol"), config=document["config"],
                     metrics=metrics, recordings=folder.recording_names(prefix="epoch-"))


def load_runs(paths, protocol: str, hint: str, sweep: str | None = None,
              record: str = "evaluation") -> list[LoadedRun]:
    """The runs of ``protocol`` in ``paths`` (one path or several; see :func:`find_runs`),
    each read once, in the order found. Runs without a metrics record yet are left out;
    ``record`` names what writes one ('evaluation' or 'epoch', for the message).

    Raises
    ------
    NotARunError
        No path given, or a path is neither a run of ``protocol`` nor holds one.
    ValueError
        None of the runs has a metrics record yet.
    """
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not paths:
        raise NotARunError(f"no run folder given; {hint}.")
    folders, seen = [], set()
    for path in paths:
        for folder in find_runs(path, protocol, hint, sweep):
            key = folder.resolve()
            if key not in seen:
                seen.add(key)
                folders.append(folder)
    runs = [load_run(folder) for folder in folders]
    ready = [r for r in runs if r["metrics"]]
    if not ready:
        names = ", ".join(str(r["path"]) for r in runs)
        done = "evaluated" if record == "evaluation" else f"finished an {record}"
        raise ValueError(f"no {protocol} run has {done} yet (metrics.jsonl is empty in "
                         f"{names}); let a run finish its first {record}.")
    return ready


def disambiguate(runs: list[dict]) -> None:
    """Make the labels unique: add the seed, then the data set, then the run id, to the
    labels that several runs share."""
    extras = (lambda r: f"seed {r['config'].get('seed')}",
              lambda r: str(r["config"].get("dataset")),
              lambda r: r["run_id"])
    for extra in extras:
        counts: dict = {}
        for r in runs:
            counts[r["label"]] = counts.get(r["label"], 0) + 1
        clashing = [r for r in runs if counts[r["label"]] > 1]
        if not clashing:
            return
        for r in clashing:
            r["label"] = f"{r['label']}, {extra(r)}"


def default_out(paths) -> Path:
    """``PATH/figures`` for one path, ``<common parent>/figures`` for several."""
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    folders = [Path(p).resolve() for p in paths]
    if len({str(f) for f in folders}) == 1:
        return folders[0] / "figures"
    return Path(os.path.commonpath([str(f) for f in folders])) / "figures"
