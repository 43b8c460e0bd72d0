"""The registry of figure sets: what ``python -m figures <set>`` can draw.

A figure set is one module of this package with one interface:

``load(paths) -> runs``
    The command line's paths (run folders, folders of runs, sweep folders) read into
    the runs the figures take (:mod:`figures.loading`; the E:I-ratio set reads the
    summaries of its sweeps). The library set reads images of a data set instead.
``make(runs, out, **options) -> list[Path]``
    Draw every figure the runs hold data for into the folder ``out``, PNG then PDF of
    each; the written files.
``FIGURES``
    Its :class:`Figure` table: short name, file stem (which paper figure it redraws),
    how to draw it and why it would be skipped.

This module is data only (the sets' modules are imported when used), so that
``python -m figures --help`` starts without Brian2.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Figure", "FigureSet", "FIGURE_SETS", "draw_figures", "skip_reasons"]


def _always(runs) -> None:
    return None


@dataclass(frozen=True)
class Figure:
    """One figure of a set, written as ``<stem>.png`` and ``.pdf``.

    ``stem`` says which paper figure it redraws (``fang2021_fig3_tau``) or that it has no
    counterpart (``<paper>_extra_<what>``); ``draw(runs, **options)`` returns the
    matplotlib Figure; ``skip_reason(runs)`` says why the runs cannot give it, or None.
    """

    name: str
    stem: str
    paper: str
    shows: str
    draw: Callable
    skip_reason: Callable = _always

    @classmethod
    def of(cls, name: str, stem: str, paper: str, shows: str, draw: Callable,
           skip_reason: Callable) -> "Figure":
        """The figure ``name`` of a module whose ``draw(runs)`` draws it and whose
        ``skip_reason(name, runs)`` says why it cannot."""
        return cls(name, stem, paper, shows, lambda runs: draw(runs),
                   lambda runs: skip_reason(name, runs))


def _check_names(figures, names) -> list[Figure]:
    by_name = {f.name: f for f in figures}
    names = list(by_name) if names is None else list(names)
    unknown = sorted(set(names) - set(by_name))
    if unknown:
        raise ValueError(f"unknown figure(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(by_name)}")
    return [by_name[n] for n in names]


def skip_reasons(figures, runs, names=None) -> dict[str, str]:
    """``{figure name: reason}`` for the figures of ``names`` (default: all) that
    ``runs`` hold no data for."""
    return {f.name: reason for f in _check_names(figures, names)
            if (reason := f.skip_reason(runs)) is not None}


def draw_figures(figures, runs, out, names=None, dpi: int = 130, **options) -> list[Path]:
    """Draw the figures of ``names`` (default: all, in table order) that ``runs`` hold
    data for into ``out`` (made if missing); the written files, PNG then PDF of each."""
    from figures.saving import save_figure  # matplotlib only when drawing

    chosen = _check_names(figures, names)
    written = []
    for figure in chosen:
        if figure.skip_reason(runs) is not None:
            continue
        Path(out).mkdir(parents=True, exist_ok=True)
        written += save_figure(figure.draw(runs, **options), out, figure.stem, dpi=dpi)
    return written


@dataclass(frozen=True)
class FigureSet:
    """A registered figure set: its subcommand ``name``, the ``module`` that draws it,
    what its positional ``inputs`` are ('runs': run folders or folders of runs, 'run':
    one run, 'sweeps': sweep folders, 'dataset': none, images of a data set), their help,
    and extra command-line ``options`` (``(flags, argparse keywords)`` pairs, passed to
    ``make`` by their ``dest``)."""

    name: str
    module: str
    help: str
    description: str
    inputs: str
    inputs_help: str = ""
    options: tuple = field(default_factory=tuple)

    @property
    def implementation(self):
        """The set's module (imported on first use)."""
        return importlib.import_module(self.module)

    @property
    def figures(self) -> tuple[Figure, ...]:
        return self.implementation.FIGURES

    def load(self, paths):
        return self.implementation.load(paths)

    def make(self, runs, out, **options) -> list[Path]:
        return self.implementation.make(runs, out, **options)

    def skipped(self, runs) -> dict[str, str]:
        return skip_reasons(self.figures, runs)


_RUNS = "; the figures combine them"
_OUT_NOTE = " Each figure only where the runs hold its data."

FIGURE_SETS: dict[str, FigureSet] = {s.name: s for s in (
    FigureSet(
        "library", "figures.library", "one figure per neuron and synapse model",
        "One figure per model of the library, driven by Poisson spike trains of digits.",
        "dataset",
        options=(
            (("--dataset",), dict(default="digits",
                                  choices=["digits", "mnist", "fashion-mnist"],
                                  help="images that drive the models (default: the "
                                       "embedded digits)")),
            (("--data-dir",), dict(default=None, help="directory with the IDX files (MNIST)")),
            (("--download",), dict(action="store_true",
                                   help="first download the --dataset files that are missing "
                                        "(into --data-dir, else $SNN_DATA_DIR, else the "
                                        "download cache; checked against the published MD5)")),
            (("--samples",), dict(type=int, default=3, help="digits shown back to back")),
            (("--only",), dict(nargs="*", default=None, help="subset of model names")),
            (("--seed",), dict(type=int, default=0, help="seed of the Poisson inputs")),
        )),
    FigureSet(
        "desire", "figures.desire", "figures of a desire backpropagation run "
                                    "(Gerlinghoff et al. 2023)",
        "Accuracy, output rasters, layer errors and firing rates per class of a desire "
        "backpropagation run.",
        "run",
        "results folder of the run (results/desire/<run-id>), or a folder of runs such as "
        "results/desire (the newest run is used)",
        options=((("--epoch",), dict(type=int, default=None,
                                     help="epoch of the output rasters; default: the last "
                                          "one")),)),
    FigureSet(
        "ei_ratio", "figures.ei_ratio", "figures of E:I-ratio sweeps (Kilgore et al. 2025)",
        "Peak accuracy vs initial rate, accuracy vs weight noise, van Rossum distances and "
        "the excitatory share of spikes of E:I-ratio sweeps; each figure only where the "
        "sweeps hold its data.",
        "sweeps",
        "folder of a sweep (<root>/<name>, with summary.jsonl), e.g. results/ei_rate "
        "results/ei_noise" + _RUNS),
    FigureSet(
        "plif", "figures.plif", "figures of PLIF runs (Fang et al. 2021)",
        "Accuracy per epoch of PLIF and LIF runs, and the learned membrane time constant "
        "per layer of the PLIF runs." + _OUT_NOTE,
        "runs",
        "results folder of a run (results/plif/<run-id>) or a folder of runs such as "
        "results/plif" + _RUNS),
    FigureSet(
        "stl", "figures.stl", "figures of STL runs (Sun et al. 2024)",
        "Accuracy per epoch of STL, SL and TL runs, threshold histograms before and after "
        "training, firing rates per layer, accuracy under input noise and synaptic "
        "operations against the ANN's MACs." + _OUT_NOTE,
        "runs",
        "results folder of a run (results/stl/<run-id>) or a folder of runs such as "
        "results/stl" + _RUNS),
    FigureSet(
        "balanced_tuning", "figures.balanced_tuning",
        "figures of balanced-tuning runs (Zhang et al. 2018, interpreted)",
        "Membrane-potential change during equilibrium learning, short-term plasticity of "
        "the input, hidden E/I rates per epoch, the consolidation curve and the ablations' "
        "final accuracy." + _OUT_NOTE,
        "runs",
        "results folder of a run (results/balanced_tuning/<run-id>), a folder of runs such "
        "as results/balanced_tuning, or an ablation sweep folder such as "
        "results/balanced_tuning_ablation_quick" + _RUNS),
)}
