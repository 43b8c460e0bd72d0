"""Reading the runs of the PLIF and STL studies for their figures (shared by
:mod:`figures.plif` and :mod:`figures.stl`).

A run is a results folder ``<out>/<study>/<run-id>/`` of :func:`experiments.neuron_parameters.run`
(``config.json``, ``metrics.jsonl``, ``recordings/epoch-NNNN.npz``, ``noise.json``).
:func:`load_runs` takes run folders, folders of runs (``results/plif``: every run of the
study inside) or results roots (``results``: ``results/<study>/*``), and returns one
dict per run (:func:`load_run`), sorted by condition, ``tau0``, seed and run id, each
with the label its lines carry in the figures ("PLIF tau0=2", "LIF tau=16", "STL").
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from experiments.neuron_parameters import STUDIES
from runs import NotARunError, RunFolder
from figures.ei_ratio import number

__all__ = [
    "CONDITIONS",
    "THRESHOLD_CONDITIONS",
    "TAU_CONDITIONS",
    "NotARunError",
    "disambiguate",
    "find_runs",
    "load_run",
    "load_runs",
    "run_label",
    "default_out",
    "number",
    "accuracy_lines",
    "title_data",
    "draw_accuracy",
]

#: Conditions of each study, in the order the figures list them, and those that learn
#: the thresholds or the membrane time constant (from the protocol's own table).
CONDITIONS = {study: tuple(table["conditions"]) for study, table in STUDIES.items()}
THRESHOLD_CONDITIONS = tuple(c for table in STUDIES.values()
                             for c, learns in table["conditions"].items() if learns["theta"])
TAU_CONDITIONS = tuple(c for table in STUDIES.values()
                       for c, learns in table["conditions"].items() if learns["tau"])


def _hint(study: str) -> str:
    return (f"pass the folder of a {study} run (results/{study}/<run-id>, with config.json "
            f"and metrics.jsonl) or a folder of runs such as results/{study}, e.g. after "
            f"`python -m experiments {study} --preset quick`")


def _protocol(path: Path):
    """The ``protocol`` of the run folder ``path``, or ``None`` if its config.json is
    missing or unreadable."""
    try:
        document = json.loads((path / "config.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or not isinstance(document.get("config"), dict):
        return None
    return document.get("protocol")


def find_runs(path, study: str) -> list[Path]:
    """The run folders of ``study`` at ``path``: ``path`` itself if it is a run folder,
    else the run folders of the study inside it (``path/*``) or inside ``path/<study>``.

    Raises
    ------
    NotARunError
        ``path`` does not exist, is a run of another study, or holds no run of ``study``;
        the message names the folder and says what was expected.
    """
    path = Path(path)
    if not path.is_dir():
        raise NotARunError(f"'{path}' does not exist or is not a folder; {_hint(study)}.")
    if (path / "config.json").is_file():
        protocol = _protocol(path)
        if protocol is None:
            raise NotARunError(f"'{path / 'config.json'}' is unreadable or not a run "
                               f"configuration; {_hint(study)}.")
        if protocol != study:
            other = (f" (draw it with `python -m figures {protocol}`)"
                     if protocol in CONDITIONS else "")
            raise NotARunError(f"'{path}' is a {protocol!r} run, not {study!r}{other}.")
        return [path]
    found, others = [], set()
    for pattern in ("*/config.json", f"{study}/*/config.json"):
        for config in sorted(path.glob(pattern)):
            protocol = _protocol(config.parent)
            if protocol == study:
                found.append(config.parent)
            elif protocol is not None:
                others.add(protocol)
    if not found:
        more = f" It holds runs of {', '.join(sorted(others))}." if others else ""
        raise NotARunError(f"'{path}' is not a {study} run folder and holds none; "
                           f"{_hint(study)}.{more}")
    return found


def run_label(config: dict) -> str:
    """The label of a run in the figures: 'PLIF tau0=2', 'LIF tau=16' (plif; '(per
    cell)' added when PLIF learns one decay per cell), 'STL', 'SL', 'TL' (stl)."""
    condition = str(config.get("condition", "?"))
    tau = number(config.get("tau"))
    tau_text = "?" if tau is None else f"{tau:g}"
    if config.get("study") == "plif" or condition in CONDITIONS["plif"]:
        if condition == "plif":
            per = " (per cell)" if config.get("tau_per") == "neuron" else ""
            return f"PLIF tau0={tau_text}{per}"
        return f"{condition.upper()} tau={tau_text}"
    return condition.upper()


def load_run(path, study: str) -> dict:
    """One run of ``study`` at the run folder ``path``: ``{'folder': RunFolder, 'run_id',
    'config': config.json's 'config', 'condition', 'metrics': list of dicts (epoch 0
    first), 'recordings': names, 'noise': noise.json or None, 'label'}``."""
    path = Path(path)
    if not (path / "config.json").is_file():
        raise NotARunError(f"'{path}' is not a run folder (no config.json); {_hint(study)}.")
    (path,) = find_runs(path, study)
    folder = RunFolder(path)
    config = folder.read_config()["config"]
    try:
        metrics = sorted(folder.read_metrics(), key=lambda m: m.get("epoch", 0))
    except ValueError as err:
        raise ValueError(f"'{folder.metrics_path}' is unreadable ({err}).") from None
    noise = None
    noise_path = folder.path / "noise.json"
    if noise_path.is_file():
        try:
            noise = json.loads(noise_path.read_text())
        except (OSError, ValueError):
            noise = None
    return {"folder": folder, "path": folder.path, "run_id": folder.run_id, "config": config,
            "condition": str(config.get("condition")), "metrics": metrics,
            "recordings": folder.recording_names(), "noise": noise,
            "label": run_label(config)}


def _sort_key(run: dict, study: str):
    order = CONDITIONS.get(study, ())
    condition = run["condition"]
    rank = order.index(condition) if condition in order else len(order)
    tau = number(run["config"].get("tau"))
    return (rank, np.inf if tau is None else tau, run["config"].get("seed", 0), run["run_id"])


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


def load_runs(paths, study: str) -> list[dict]:
    """The runs of ``study`` in ``paths`` (one path or several; see :func:`find_runs`),
    each read once, sorted by condition (in the order of :data:`CONDITIONS`), ``tau0``,
    seed and run id, with unique labels. Runs that have not evaluated yet (empty
    ``metrics.jsonl``) are left out.

    Raises
    ------
    NotARunError
        No path given, or a path is neither a run of ``study`` nor a folder holding one.
    ValueError
        None of the runs has a metrics record yet.
    """
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not paths:
        raise NotARunError(f"no run folder given; {_hint(study)}.")
    folders, seen = [], set()
    for path in paths:
        for folder in find_runs(path, study):
            key = folder.resolve()
            if key not in seen:
                seen.add(key)
                folders.append(folder)
    runs = [load_run(folder, study) for folder in folders]
    ready = [r for r in runs if r["metrics"]]
    if not ready:
        names = ", ".join(str(r["path"]) for r in runs)
        raise ValueError(f"no {study} run has evaluated yet (metrics.jsonl is empty in "
                         f"{names}); let a run finish its first evaluation.")
    ready.sort(key=lambda r: _sort_key(r, study))
    disambiguate(ready)
    return ready


def default_out(paths) -> Path:
    """``PATH/figures`` for one path, ``<common parent>/figures`` for several (as
    :func:`figures.ei_ratio.make_ei_ratio_figures`)."""
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    folders = [Path(p).resolve() for p in paths]
    if len({str(f) for f in folders}) == 1:
        return folders[0] / "figures"
    return Path(os.path.commonpath([str(f) for f in folders])) / "figures"


# --------------------------------------------------------------------------------------
# The accuracy figure (the same for both studies)
# --------------------------------------------------------------------------------------


def accuracy_lines(runs) -> dict:
    """``{label: {'epoch': [...], 'accuracy': [...]}}``: the evaluation accuracy of every
    metrics record (epoch 0: before training) of every run, in run order."""
    lines = {}
    for r in runs:
        points = [(m["epoch"], number(m.get("accuracy"))) for m in r["metrics"]]
        points = [(e, a) for e, a in points if a is not None]
        if points:
            lines[r["label"]] = {"epoch": [e for e, _ in points],
                                 "accuracy": [a for _, a in points]}
    return lines


def title_data(runs) -> str:
    """'digits, test split' style description of the runs' data."""
    datasets = sorted({str(r["config"].get("dataset")) for r in runs
                       if r["config"].get("dataset")})
    splits = sorted({str(r["metrics"][-1].get("split") or r["config"].get("eval_split"))
                     for r in runs if r["metrics"]} - {"None"})
    text = ", ".join(datasets)
    if splits:
        text += f", {'/'.join(splits)} split"
    return text


def draw_accuracy(runs, styles: dict, title: str):
    """Accuracy per epoch, one line per run (``styles[label]``: keyword arguments of
    ``ax.plot``), and the chance level of 10 classes."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    lines = accuracy_lines(runs)
    if not lines:
        raise ValueError("cannot draw 'accuracy': no run has an accuracy in metrics.jsonl")
    fig, ax = plt.subplots(figsize=(5.4, 3.8))
    for label, line in lines.items():
        ax.plot(line["epoch"], line["accuracy"], label=label, **styles.get(label, {}))
    ax.axhline(0.1, color="0.5", ls=":", lw=1, label="chance (10 classes)")
    ax.set_ylim(0, 1)
    ax.set_xlabel("epoch (0: before training)")
    ax.set_ylabel("accuracy")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig
