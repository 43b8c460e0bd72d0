"""Figures of a desire-backpropagation run, read from its results folder.

Gerlinghoff, Luo, Goh & Wong (2023), Desire backpropagation, Neurocomputing 560:126773.

    python -m figures desire results/desire/<run-id>     # or results/desire: the newest run

Four figures, each as PNG and PDF (default: ``<run>/figures/``):

Each figure's file is named after the paper figure it redraws (the ``stem`` of
:data:`FIGURES`; ``figures/README.md`` lists them); by short name:

``accuracy``
    Training accuracy (during each epoch, with dropout and learning on) and accuracy on
    the evaluation split (after each epoch, learning off) per epoch.
``output_rasters``
    Output spikes of one evaluation image per class (the first of each class in the
    split) after the last epoch (or ``--epoch``): one raster per image, the label
    neuron marked; a correct image has its label neuron firing most.
``layer_error``
    Per layer, the mean squared distance of spike counts to desires per epoch
    (``layer_error`` in ``metrics.jsonl``: over samples and neurons,
    ``[desire != 0] (target - c/N*)**2``, target 1 for desire +1, 0 for -1), on the
    training samples (as they were trained) and on the evaluation split.
``rate_per_class``
    Firing rate of each hidden layer per class (spikes per neuron and time step on the
    evaluation split) against epochs.

The data come from ``metrics.jsonl`` (one line per epoch) and
``recordings/epoch-NNNN.npz`` written by :class:`experiments.training.Trainer`.
"""

from __future__ import annotations

from pathlib import Path

# No backend is forced here: in Jupyter the figures show inline; the command line
# (figures/__main__.py) selects Agg.
import matplotlib.pyplot as plt
import numpy as np

from runs import NotARunError, RunFolder
from figures.registry import Figure, draw_figures

__all__ = [
    "FIGURES",
    "find_run",
    "load_run",
    "figure_accuracy",
    "figure_output_rasters",
    "figure_layer_error",
    "figure_rate_per_class",
    "load",
    "default_out",
    "make",
]


def find_run(path) -> RunFolder:
    """The run folder at ``path``, or the newest desire run below it (a results root such
    as ``results`` or a protocol folder such as ``results/desire``).

    Raises
    ------
    NotARunError
        Nothing at ``path`` is a desire run; the message says what was expected.
    """
    path = Path(path)
    if (path / "config.json").is_file():
        try:
            protocol = RunFolder(path).read_config().get("protocol", "desire")
        except (OSError, ValueError, AttributeError):
            protocol = "desire"  # RunFolder.open names what is wrong with the file
        if protocol != "desire":
            raise NotARunError(f"'{path}' is a run of protocol {protocol!r}, not 'desire'"
                               + (f" (draw it with `python -m figures {protocol}`)."
                                  if protocol in ("plif", "stl", "balanced_tuning") else "."))
        return RunFolder.open(path, protocol="desire")
    candidates = [p.parent for pattern in ("*/config.json", "desire/*/config.json")
                  for p in path.glob(pattern)]
    runs = []
    for candidate in candidates:
        try:
            runs.append(RunFolder.open(candidate, protocol="desire"))
        except NotARunError:
            continue
    if not runs:
        raise NotARunError(
            f"'{path}' is not a desire run folder and holds none; pass the folder of a run "
            "(results/desire/<run-id>, with config.json and metrics.jsonl), e.g. after "
            "`python -m experiments desire --preset quick`."
        )
    return max(runs, key=lambda run: (run.config_path.stat().st_mtime, run.path.name))


def load_run(path) -> dict:
    """Configuration, metrics and recording names of the run at ``path``.

    Raises
    ------
    NotARunError
        ``path`` holds no desire run.
    ValueError
        The run has not finished an epoch yet (no metrics to plot).
    """
    folder = find_run(path)
    document = folder.read_config()
    metrics = folder.read_metrics()
    if not metrics:
        raise ValueError(
            f"'{folder.path}' has no finished epoch yet (metrics.jsonl is empty); let the "
            "run finish an epoch, or resume it with `python -m experiments desire --resume "
            f"{folder.path}`."
        )
    return {"folder": folder, "config": document["config"], "metrics": metrics,
            "recordings": folder.recording_names(prefix="epoch-")}


def _layer_names(config: dict) -> list[str]:
    hidden = list(config.get("hidden", []))
    names = [f"hidden {k} ({n})" for k, n in enumerate(hidden, start=1)]
    return names + ["output"]


def _epochs(metrics) -> np.ndarray:
    return np.array([m["epoch"] for m in metrics])


def figure_accuracy(run: dict):
    """Training and evaluation accuracy per epoch (percent)."""
    metrics = run["metrics"]
    epochs = _epochs(metrics)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(epochs, [100 * m["train_accuracy"] for m in metrics], "o-", label="training")
    split = metrics[-1].get("split", "evaluation")
    ax.plot(epochs, [100 * m["accuracy"] for m in metrics], "s-", label=split)
    last = metrics[-1]
    ax.set_title(f"{run['config'].get('dataset', '')}: {100 * last['accuracy']:.2f} % "
                 f"{split} after epoch {last['epoch']}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.set_xticks(epochs)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def figure_output_rasters(run: dict, epoch: int | None = None):
    """Output rasters of one evaluation image per class after ``epoch`` (default: the
    last epoch with a recording)."""
    folder = run["folder"]
    names = run["recordings"]
    if not names:
        raise ValueError(f"'{folder.path}' has no recordings (recordings/epoch-NNNN.npz); "
                         "they are written after every epoch's evaluation.")
    name = names[-1] if epoch is None else f"epoch-{int(epoch):04d}"
    rec = folder.read_recording(name)
    rasters, labels, samples = rec["output_raster"], rec["label"], rec["sample"]
    n_star = int(rec["n_star"]) if "n_star" in rec else None
    n = len(labels)
    cols = min(n, 5)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.1 * rows), squeeze=False,
                             sharex=True, sharey=True)
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax, raster, label, sample in zip(axes.flat, rasters, labels, samples):
        steps, neurons = np.nonzero(raster)
        colours = np.where(neurons == label, "tab:red", "black")
        ax.scatter(steps, neurons, s=9, c=colours, marker="|", linewidths=1.5)
        ax.axhspan(label - 0.5, label + 0.5, color="tab:red", alpha=0.12, lw=0)
        counts = raster.sum(axis=0)
        top = counts.max()
        correct = counts[label] == top and (counts == top).sum() == 1
        ax.set_title(f"label {label} (#{sample}) {'✓' if correct else '✗'}", fontsize=9)
        ax.set_ylim(-0.5, raster.shape[1] - 0.5)
        ax.set_xlim(-0.5, raster.shape[0] - 0.5)
    for ax in axes[:, 0]:
        ax.set_ylabel("output neuron")
    for ax in axes[-1, :]:
        ax.set_xlabel("time step")
    target = f", target N* = {n_star} spikes" if n_star is not None else ""
    fig.suptitle(f"output spikes after epoch {int(name.split('-')[-1])}{target}", fontsize=10)
    fig.tight_layout()
    return fig


def figure_layer_error(run: dict):
    """Per-layer mean squared distance of counts to desires, per epoch."""
    metrics = run["metrics"]
    epochs = _epochs(metrics)
    names = _layer_names(run["config"])
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), sharey=True)
    for ax, key, title in ((axes[0], "train_layer_error", "training (during the epoch)"),
                           (axes[1], "layer_error", metrics[-1].get("split", "evaluation"))):
        if not all(key in m for m in metrics):
            ax.text(0.5, 0.5, f"no '{key}' in metrics.jsonl", ha="center", transform=ax.transAxes)
            continue
        values = np.array([m[key] for m in metrics], dtype=float)
        for k, name in enumerate(names[:values.shape[1]]):
            ax.plot(epochs, values[:, k], "o-", label=name)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.set_xticks(epochs)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("mean (target - count/N*)$^2$ per neuron")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def figure_rate_per_class(run: dict):
    """Firing rate of each hidden layer per class on the evaluation split, per epoch."""
    metrics = run["metrics"]
    if not all("rate_per_class" in m for m in metrics):
        raise ValueError("metrics.jsonl has no 'rate_per_class'; the run was made by an "
                         "older version; retrain to get it.")
    epochs = _epochs(metrics)
    names = _layer_names(run["config"])
    rates = np.array([[[np.nan if r is None else r for r in row] for row in m["rate_per_class"]]
                      for m in metrics], dtype=float)       # (epochs, layers, classes)
    n_hidden = max(rates.shape[1] - 1, 1)
    fig, axes = plt.subplots(1, n_hidden, figsize=(4.2 * n_hidden, 3.5), squeeze=False)
    colours = plt.get_cmap("tab10")
    for k, ax in enumerate(axes[0]):
        for c in range(rates.shape[2]):
            ax.plot(epochs, rates[:, k, c], "o-", ms=3, color=colours(c % 10), label=str(c))
        ax.set_title(names[k])
        ax.set_xlabel("epoch")
        ax.set_xticks(epochs)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("spikes per neuron and step")
    axes[0, -1].legend(title="class", fontsize=7, ncol=2, loc="best")
    fig.tight_layout()
    return fig


FIGURES = (
    Figure("accuracy", "gerlinghoff2023_extra_accuracy", "none (the paper tabulates accuracy)",
           "training and evaluation accuracy per epoch",
           lambda run, epoch=None: figure_accuracy(run)),
    Figure("output_rasters", "gerlinghoff2023_extra_output_rasters", "none",
           "output spikes of one evaluation image per class after an epoch",
           lambda run, epoch=None: figure_output_rasters(run, epoch)),
    Figure("layer_error", "gerlinghoff2023_extra_layer_error", "none",
           "per-layer mean squared distance of spike counts to desires per epoch",
           lambda run, epoch=None: figure_layer_error(run)),
    Figure("rate_per_class", "gerlinghoff2023_extra_rate_per_class", "none",
           "firing rate of each hidden layer per class per epoch",
           lambda run, epoch=None: figure_rate_per_class(run)),
)


def load(path) -> dict:
    """The run at ``path`` (a run folder, or the newest desire run below it); see
    :func:`load_run`."""
    return load_run(path)


def default_out(path, run: dict) -> Path:
    """``<run>/figures``: the figures of a run go beside it."""
    return run["folder"].path / "figures"


def make(run: dict, out, epoch: int | None = None, names=None) -> list[Path]:
    """Write the figures of ``names`` (default: all) of the run of :func:`load` to
    ``out`` (the output rasters after ``epoch``, default the last); the written files,
    PNG then PDF of each."""
    return draw_figures(FIGURES, run, out, names, epoch=epoch)
