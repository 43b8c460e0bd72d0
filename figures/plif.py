"""Figures of PLIF runs (learned membrane time constants), read from their run folders.

Fang, Yu, Chen, Masquelier, Huang & Tian (2021), Incorporating learnable membrane time
constant to enhance learning of spiking neural networks, ICCV.

    python -m figures plif results/plif [RUN ...] [--out DIR]

Each ``RUN`` is the results folder of one run of ``python -m experiments plif``
(``results/plif/<run-id>``) or a folder of runs (``results/plif``: every PLIF run
inside); the figures combine all runs given (:mod:`figures.neuron_parameters`). Runs
are labelled by condition and initial time constant: "PLIF tau0=2" (learned decay,
starting at ``tau0``), "LIF tau=16" (the same cell with ``tau`` fixed). Two figures,
each as PNG and PDF (default: ``RUN/figures/`` for one path, ``<common parent>/figures/``
for several):

Each figure's file is named after the paper figure it redraws (the ``stem`` of
:data:`FIGURES`; ``figures/README.md`` lists them); by short name:

``accuracy``
    Accuracy on the evaluation split per epoch (epoch 0: before training), one line per
    run; the colour is ``tau0``, PLIF solid with dots, LIF dashed with squares. The
    paper's claims: PLIF converges in fewer epochs, and ``tau0 = 16`` still trains
    where a fixed ``tau = 16`` fails.
``tau``
    The learned time constant per layer (``tau_hidden``, ``tau_output`` of
    ``metrics.jsonl``: mean over the layer's cells, in steps) against the epoch, one
    line per PLIF run, on a log2 axis: do runs started at ``tau0 = 2`` and ``16``
    converge to similar values? Skipped when no PLIF run is given.

The plain functions (``figure_*``) take the list of :func:`load_runs` and return a
matplotlib Figure; :func:`plotted_values` returns the numbers each of them plots.
"""

from __future__ import annotations

# No backend is forced here: in Jupyter the figures show inline; the command line
# (figures/__main__.py) selects Agg.
import matplotlib.pyplot as plt
from matplotlib.ticker import FormatStrFormatter, LogLocator, MaxNLocator, NullLocator

from figures import neuron_parameters as common
from figures.neuron_parameters import NotARunError, number
from figures.registry import Figure

__all__ = [*common.STUDY_API, "figure_tau", "PLIF"]

STUDY = "plif"
NAMES = ("accuracy", "tau")
LAYERS = ("hidden", "output")


def load_runs(paths) -> list[dict]:
    """The PLIF runs in ``paths`` (run folders or folders of runs), sorted: PLIF before
    LIF, then by ``tau0``; see :func:`figures.neuron_parameters.load_runs`."""
    return common.load_runs(paths, STUDY)


def _tau_lines(runs) -> dict:
    lines = {}
    for r in runs:
        if r["condition"] not in common.TAU_CONDITIONS:
            continue
        points = [(m["epoch"], number(m.get("tau_hidden")), number(m.get("tau_output")))
                  for m in r["metrics"]]
        points = [p for p in points if p[1] is not None and p[2] is not None]
        if points:
            lines[r["label"]] = {"tau0": number(r["config"].get("tau")),
                                 "epoch": [p[0] for p in points],
                                 "tau_hidden": [p[1] for p in points],
                                 "tau_output": [p[2] for p in points]}
    return lines


def plotted_values(runs) -> dict:
    """The numbers each figure plots, from the runs of :func:`load_runs`:

    ``accuracy``: ``{label: {'epoch': [...], 'accuracy': [...]}}`` (every run; epoch 0
    is before training); ``tau``: ``{label: {'tau0', 'epoch': [...], 'tau_hidden':
    [...], 'tau_output': [...]}}`` (PLIF runs only). Labels in run order.
    """
    return {"accuracy": common.accuracy_lines(runs), "tau": _tau_lines(runs)}


def skip_reason(name: str, runs) -> str | None:
    """Why figure ``name`` cannot be drawn from ``runs``, or ``None`` if it can."""
    if name not in NAMES:
        raise ValueError(f"unknown figure {name!r}; choose from {', '.join(NAMES)}")
    values = plotted_values(runs)[name]
    if name == "accuracy" and not values:
        return "no run has an accuracy in metrics.jsonl"
    if name == "tau":
        if not any(r["condition"] in common.TAU_CONDITIONS for r in runs):
            return ("no PLIF run (condition 'plif') among the runs: LIF keeps tau fixed "
                    "(run `python -m experiments plif --condition plif`)")
        if not values:
            return "no PLIF run has tau_hidden and tau_output in metrics.jsonl"
    return None


def _styles(runs) -> dict:
    """Colour by ``tau0`` (tab10, in increasing order), PLIF solid with dots, LIF dashed
    with squares."""
    taus = sorted({number(r["config"].get("tau")) or 0.0 for r in runs})
    cmap = plt.get_cmap("tab10")
    colours = {t: cmap(k % 10) for k, t in enumerate(taus)}
    styles = {}
    for r in runs:
        colour = colours[number(r["config"].get("tau")) or 0.0]
        if r["condition"] in common.TAU_CONDITIONS:
            styles[r["label"]] = dict(color=colour, ls="-", marker="o", ms=4)
        else:
            styles[r["label"]] = dict(color=colour, ls="--", marker="s", ms=4)
    return styles


def figure_accuracy(runs):
    """Accuracy per epoch, one line per run (PLIF solid, LIF dashed, colour = tau0)."""
    return common.draw_accuracy(runs, _styles(runs),
                                f"PLIF vs LIF: accuracy per epoch ({common.title_data(runs)})")


def figure_tau(runs):
    """Mean learned tau of the hidden and the output layer per epoch, one line per PLIF
    run (two panels; log2 axis)."""
    lines = plotted_values(runs)["tau"]
    if not lines:
        raise ValueError(f"cannot draw 'tau': {skip_reason('tau', runs)}")
    styles = _styles(runs)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    values = [v for line in lines.values() for layer in LAYERS for v in line[f"tau_{layer}"]]
    low, high = min(values), max(values)
    for ax, layer in zip(axes, LAYERS):
        for label, line in lines.items():
            ax.plot(line["epoch"], line[f"tau_{layer}"], label=label, **styles[label])
        ax.set_yscale("log", base=2)
        # powers of 2 over a wide range; quarter steps between them over a narrow one
        subs = (1.0,) if high / low > 4 else (1.0, 1.25, 1.5, 1.75)
        ax.yaxis.set_major_locator(LogLocator(base=2, subs=subs))
        ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(f"{layer} layer", fontsize=10)
        ax.set_xlabel("epoch (0: before training)")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylim(low / 1.25, high * 1.25)
    axes[0].set_ylabel("learned tau (steps; mean over cells)")
    axes[-1].legend(fontsize=8)
    fig.suptitle(f"PLIF: learned membrane time constant ({common.title_data(runs)})",
                 fontsize=10)
    fig.tight_layout()
    return fig


FIGURES = (
    Figure.of("accuracy", "fang2021_fig3_accuracy", "Fang et al. 2021, Fig. 3 (unverified)",
              "accuracy per epoch of PLIF and LIF runs, colour = tau0", figure_accuracy,
              skip_reason),
    Figure.of("tau", "fang2021_fig3_tau", "Fang et al. 2021, Fig. 3 (unverified)",
              "learned membrane time constant per layer and epoch, PLIF runs", figure_tau,
              skip_reason),
)
PLIF = common.Study(STUDY, FIGURES)
load = PLIF.load
make = PLIF.make
