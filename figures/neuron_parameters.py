"""What the figure sets of the PLIF and STL studies share (:mod:`figures.plif`,
:mod:`figures.stl`): reading their runs, labelling them, the accuracy figure, and
:class:`Study`, the set itself, whose study-specific parts (name, figure table) are data.

A run is a results folder ``<out>/<study>/<run-id>/`` of :func:`experiments.neuron_parameters.run`
(``config.json``, ``metrics.jsonl``, ``recordings/epoch-NNNN.npz``, ``noise.json``).
:func:`load_runs` takes run folders, folders of runs (``results/plif``: every run of the
study inside) or results roots (``results``: ``results/<study>/*``), and returns one
dict per run (:func:`load_run`), sorted by condition, ``tau0``, seed and run id, each
with the label its lines carry in the figures ("PLIF tau0=2", "LIF tau=16", "STL").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from experiments.neuron_parameters import STUDIES
from figures import loading
from figures.ei_ratio import number
from figures.loading import NotARunError, default_out, disambiguate
from figures.registry import Figure, draw_figures

__all__ = [
    "Study",
    "STUDY_API",
    "CONDITIONS",
    "THRESHOLD_CONDITIONS",
    "TAU_CONDITIONS",
    "NotARunError",
    "disambiguate",
    "find_runs",
    "load_runs",
    "run_label",
    "default_out",
    "number",
    "accuracy_lines",
    "title_data",
    "draw_accuracy",
]

#: What each study's figure module (figures.plif, figures.stl) offers.
STUDY_API = ("STUDY", "NAMES", "FIGURES", "LAYERS", "NotARunError", "load_runs",
             "plotted_values", "skip_reason", "figure_accuracy", "load", "make")

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


def find_runs(path, study: str) -> list[Path]:
    """The run folders of ``study`` at ``path``: ``path`` itself if it is a run folder,
    else the run folders of the study inside it (``path/*``) or inside ``path/<study>``
    (:func:`figures.loading.find_runs`)."""
    return loading.find_runs(path, study, _hint(study))


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


def _read_noise(path: Path):
    try:
        return json.loads((path / "noise.json").read_text())
    except (OSError, ValueError):
        return None


def _labelled(run: dict) -> dict:
    """``run`` with what the figures use: 'condition', 'noise' (noise.json or None) and
    'label'."""
    config = run["config"]
    return dict(run, condition=str(config.get("condition")), noise=_read_noise(run["path"]),
                label=run_label(config))


def _sort_key(run: dict, study: str):
    order = CONDITIONS.get(study, ())
    condition = run["condition"]
    rank = order.index(condition) if condition in order else len(order)
    tau = number(run["config"].get("tau"))
    return (rank, np.inf if tau is None else tau, run["config"].get("seed", 0), run["run_id"])


def load_runs(paths, study: str) -> list[dict]:
    """The runs of ``study`` in ``paths`` (one path or several; see :func:`find_runs`),
    each read once (:func:`figures.loading.load_runs`), sorted by condition (in the order
    of :data:`CONDITIONS`), ``tau0``, seed and run id, with unique labels; each also
    holds 'condition', 'noise' (noise.json or None) and 'label'. Runs that have not
    evaluated yet (empty ``metrics.jsonl``) are left out.

    Raises
    ------
    NotARunError
        No path given, or a path is neither a run of ``study`` nor a folder holding one.
    ValueError
        None of the runs has a metrics record yet.
    """
    runs = [_labelled(r) for r in loading.load_runs(paths, study, _hint(study))]
    runs.sort(key=lambda r: _sort_key(r, study))
    disambiguate(runs)
    return runs


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


# --------------------------------------------------------------------------------------
# The figure set of a study
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Study:
    """The figure set of the study ``name`` ('plif', 'stl'): its runs are read by
    :func:`load_runs`, its ``figures`` (:class:`figures.registry.Figure`) drawn by
    :func:`figures.registry.draw_figures`."""

    name: str
    figures: tuple[Figure, ...]

    def load(self, paths) -> list[dict]:
        """The runs of the study in ``paths``; see :func:`load_runs`."""
        return load_runs(paths, self.name)

    def make(self, runs, out, names=None) -> list[Path]:
        """Write the figures of ``names`` (default: all) that ``runs`` (of :meth:`load`)
        hold data for to ``out``; the written files, PNG then PDF of each."""
        return draw_figures(self.figures, runs, out, names)
