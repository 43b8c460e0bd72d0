"""Figures of STL runs (synapse-threshold synergistic learning), read from their run folders.

Sun, Cai, Yang, Cui, Xia, Yao & Guo (2024), A synapse-threshold synergistic learning
approach for spiking neural networks, IEEE TCDS 16(2).

    python -m figures stl results/stl [RUN ...] [--out DIR]

Each ``RUN`` is the results folder of one run of ``python -m experiments stl``
(``results/stl/<run-id>``) or a folder of runs (``results/stl``: every STL run inside);
the figures combine all runs given (:mod:`figures.neuron_parameters`). Runs are labelled
by condition: "STL" (weights and thresholds learned), "SL" (weights only), "TL"
(thresholds only); one colour per condition. Five figures, each as PNG and PDF
(default: ``RUN/figures/`` for one path, ``<common parent>/figures/`` for several);
each is drawn only when some run holds its data, and the command says why it skipped
the others:

Each figure's file is named after the paper figure it redraws (the ``stem`` of
:data:`FIGURES`; ``figures/README.md`` lists them); by short name:

``accuracy``
    Accuracy on the evaluation split per epoch (epoch 0: before training), one line per
    run.
``thresholds``
    Histograms of every cell's threshold, hidden and output layer (columns), one row per
    run that learns thresholds (STL, TL): before training (the ``epoch-0000``
    recording, or the first one; grey, a dashed line where every cell has the same
    value) and after (the last recording; coloured), on shared bins.
``rates``
    Firing rate of the hidden and the output layer (``hidden_rate``, ``output_rate`` of
    the last metrics record: spikes per cell per step) as grouped bars, one bar per run
    in each layer's group; the black dash on each bar is the rate before training
    (epoch 0).
``noise``
    Accuracy under test-time input noise (``noise.json``) against the Gaussian sigma
    (left) and the salt-and-pepper probability (right), one line per run; both lines
    start at the clean accuracy (level 0).
``synops``
    Synaptic operations per sample of each run after training (``synops_per_sample`` of
    the last metrics record) beside the multiply-accumulates of the same-size ANN
    (``ann_macs``; grey), log axis, with their ratio above the bars.

The plain functions (``figure_*``) take the list of :func:`load_runs` and return a
matplotlib Figure; :func:`plotted_values` returns the numbers each of them plots.
"""

from __future__ import annotations

# No backend is forced here: in Jupyter the figures show inline; the command line
# (figures/__main__.py) selects Agg.
import matplotlib.pyplot as plt
import numpy as np

from figures import neuron_parameters as common
from figures.neuron_parameters import NotARunError, number
from figures.registry import Figure

__all__ = [*common.STUDY_API, "NOISE_KINDS", "CONDITION_COLOURS", "figure_thresholds",
           "figure_rates", "figure_noise", "figure_synops", "STL"]

STUDY = "stl"
NAMES = ("accuracy", "thresholds", "rates", "noise", "synops")
LAYERS = ("hidden", "output")
NOISE_KINDS = ("gaussian", "salt_pepper")
NOISE_TITLES = {"gaussian": "Gaussian noise", "salt_pepper": "salt-and-pepper noise"}
NOISE_AXES = {"gaussian": r"Gaussian $\sigma$ (pixels in [0, 1])",
              "salt_pepper": "salt-and-pepper probability"}
CONDITION_COLOURS = {"stl": "tab:red", "sl": "tab:blue", "tl": "tab:green"}
HIST_BINS = 30


def load_runs(paths) -> list[dict]:
    """The STL runs in ``paths`` (run folders or folders of runs), sorted STL, SL, TL;
    see :func:`figures.neuron_parameters.load_runs`."""
    return common.load_runs(paths, STUDY)


def _colour(run) -> str:
    return CONDITION_COLOURS.get(run["condition"], "tab:gray")


# --------------------------------------------------------------------------------------
# The numbers
# --------------------------------------------------------------------------------------


def _recording_epoch(name: str) -> int:
    return int(name.split("-")[-1])


def _thresholds(runs) -> dict:
    out = {}
    for r in runs:
        if r["condition"] not in common.THRESHOLD_CONDITIONS or not r["recordings"]:
            continue
        names = r["recordings"]
        before = "epoch-0000" if "epoch-0000" in names else names[0]
        after = names[-1]
        first, last = (r["folder"].read_recording(n) for n in (before, after))
        if not all(f"theta_{layer}" in rec for rec in (first, last) for layer in LAYERS):
            continue
        entry = {"before_epoch": _recording_epoch(before), "after_epoch": _recording_epoch(after)}
        for layer in LAYERS:
            b = np.asarray(first[f"theta_{layer}"], dtype=float).ravel()
            a = np.asarray(last[f"theta_{layer}"], dtype=float).ravel()
            both = np.concatenate([b, a])
            low, high = float(both.min()), float(both.max())
            if high - low < 1e-9:
                low, high = low - 0.5, high + 0.5
            entry[layer] = {"before": b, "after": a,
                            "bins": np.linspace(low, high, HIST_BINS + 1)}
        out[r["label"]] = entry
    return out


def _rates(runs) -> dict:
    out = {}
    for r in runs:
        first, last = r["metrics"][0], r["metrics"][-1]
        values = {layer: number(last.get(f"{layer}_rate")) for layer in LAYERS}
        if any(v is None for v in values.values()):
            continue
        out[r["label"]] = {"epoch": last["epoch"],
                           **{f"{layer}_rate": values[layer] for layer in LAYERS},
                           **{f"initial_{layer}_rate": number(first.get(f"{layer}_rate"))
                              if first["epoch"] == 0 else None for layer in LAYERS}}
    return out


def _noise(runs) -> dict:
    out = {}
    for r in runs:
        results = (r["noise"] or {}).get("results") or []
        by = {kind: {} for kind in NOISE_KINDS}
        for item in results:
            kind = item.get("kind")
            level, acc = number(item.get("level")), number(item.get("accuracy"))
            if kind in by and level is not None and acc is not None:
                by[kind][level] = acc
        clean = by["gaussian"].get(0.0)
        if clean is not None:
            by["salt_pepper"].setdefault(0.0, clean)
        if not any(len(v) > 0 for v in by.values()):
            continue
        out[r["label"]] = {kind: {"level": sorted(by[kind]),
                                  "accuracy": [by[kind][x] for x in sorted(by[kind])]}
                           for kind in NOISE_KINDS}
        out[r["label"]]["n"] = (r["noise"] or {}).get("n_samples")
    return out


def _synops(runs) -> dict:
    out = {}
    for r in runs:
        last = r["metrics"][-1]
        synops, macs = number(last.get("synops_per_sample")), number(last.get("ann_macs"))
        if synops is None or macs is None:
            continue
        out[r["label"]] = {"epoch": last["epoch"], "synops_per_sample": synops,
                           "ann_macs": macs, "synops_to_macs": synops / macs if macs else None}
    return out


def plotted_values(runs) -> dict:
    """The numbers each figure plots, from the runs of :func:`load_runs` (labels in run
    order; a run without a figure's data is left out of that figure only):

    ``accuracy``: ``{label: {'epoch': [...], 'accuracy': [...]}}``;
    ``thresholds``: ``{label: {'before_epoch', 'after_epoch', 'hidden'|'output':
    {'before': array, 'after': array, 'bins': edges}}}`` (runs that learn thresholds);
    ``rates``: ``{label: {'epoch', 'hidden_rate', 'output_rate', 'initial_hidden_rate',
    'initial_output_rate'}}`` (last and epoch-0 metrics records);
    ``noise``: ``{label: {'gaussian'|'salt_pepper': {'level': [...], 'accuracy': [...]},
    'n'}}`` (levels ascending; the clean accuracy is level 0 of both kinds);
    ``synops``: ``{label: {'epoch', 'synops_per_sample', 'ann_macs', 'synops_to_macs'}}``
    (last metrics record).
    """
    return {"accuracy": common.accuracy_lines(runs), "thresholds": _thresholds(runs),
            "rates": _rates(runs), "noise": _noise(runs), "synops": _synops(runs)}


def skip_reason(name: str, runs) -> str | None:
    """Why figure ``name`` cannot be drawn from ``runs``, or ``None`` if it can."""
    if name not in NAMES:
        raise ValueError(f"unknown figure {name!r}; choose from {', '.join(NAMES)}")
    if name == "accuracy":
        values = common.accuracy_lines(runs)
    else:
        values = {"thresholds": _thresholds, "rates": _rates, "noise": _noise,
                  "synops": _synops}[name](runs)
    if values:
        return None
    if name == "accuracy":
        return "no run has an accuracy in metrics.jsonl"
    if name == "thresholds":
        if not any(r["condition"] in common.THRESHOLD_CONDITIONS for r in runs):
            return ("no run learns thresholds (conditions stl, tl; run `python -m experiments "
                    "stl --condition stl`)")
        return ("no run that learns thresholds has recordings with theta_hidden and "
                "theta_output (recordings/epoch-NNNN.npz)")
    if name == "rates":
        return "no run has hidden_rate and output_rate in metrics.jsonl"
    if name == "noise":
        return ("no run has noise.json (written after training unless noise_samples = 0; "
                "an unfinished run has none)")
    return "no run has synops_per_sample and ann_macs in metrics.jsonl"


# --------------------------------------------------------------------------------------
# The figures
# --------------------------------------------------------------------------------------


def figure_accuracy(runs):
    """Accuracy per epoch, one line per run (colour = condition)."""
    styles = {}
    markers = {"stl": "o", "sl": "s", "tl": "^"}
    for r in runs:
        styles[r["label"]] = dict(color=_colour(r), marker=markers.get(r["condition"], "D"),
                                  ms=4, ls="-")
    return common.draw_accuracy(runs, styles,
                                f"STL, SL, TL: accuracy per epoch ({common.title_data(runs)})")


def figure_thresholds(runs):
    """Threshold histograms per layer (columns) before and after training, one row per
    run that learns thresholds. In each panel the first bar container is 'before' (a
    dashed vertical line instead when every cell has one value), the last 'after'."""
    values = _thresholds(runs)
    if not values:
        raise ValueError(f"cannot draw 'thresholds': {skip_reason('thresholds', runs)}")
    colours = {r["label"]: _colour(r) for r in runs}
    n = len(values)
    fig, axes = plt.subplots(n, 2, figsize=(9, 2.7 * n + 0.4), squeeze=False)
    for row, (label, entry) in zip(axes, values.items()):
        for ax, layer in zip(row, LAYERS):
            data = entry[layer]
            before, after, bins = data["before"], data["after"], data["bins"]
            before_label = f"before (epoch {entry['before_epoch']})"
            if np.ptp(before) < 1e-9:
                ax.axvline(before[0], color="0.35", ls="--", lw=1.5,
                           label=f"{before_label}: all {before[0]:g}")
            else:
                ax.hist(before, bins=bins, color="0.6", alpha=0.6, label=before_label)
            ax.hist(after, bins=bins, color=colours[label], alpha=0.7,
                    label=f"after (epoch {entry['after_epoch']})")
            ax.set_title(f"{label}: {layer} layer ({after.size} cells; mean "
                         f"{after.mean():.3g}, sd {after.std():.2g})", fontsize=9)
            ax.set_ylabel("cells")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("threshold")
    fig.suptitle(f"learned thresholds ({common.title_data(runs)})", fontsize=10)
    fig.tight_layout()
    return fig


def figure_rates(runs):
    """Firing rate of the hidden and output layers after training, grouped bars (one
    bar per run in each layer's group; bar container k is run k); black dashes: the
    rate before training."""
    values = _rates(runs)
    if not values:
        raise ValueError(f"cannot draw 'rates': {skip_reason('rates', runs)}")
    colours = {r["label"]: _colour(r) for r in runs}
    n = len(values)
    width = 0.8 / n
    x = np.arange(len(LAYERS))
    fig, ax = plt.subplots(figsize=(max(4.5, 1.2 + 1.1 * n), 3.8))
    before_drawn = False
    for k, (label, entry) in enumerate(values.items()):
        pos = x - 0.4 + width * (k + 0.5)
        heights = [entry[f"{layer}_rate"] for layer in LAYERS]
        bars = ax.bar(pos, heights, width * 0.92, color=colours[label],
                      label=f"{label} (epoch {entry['epoch']})")
        ax.bar_label(bars, fmt="%.3f", fontsize=7, padding=2)
        initial = [entry[f"initial_{layer}_rate"] for layer in LAYERS]
        if all(v is not None for v in initial):
            ax.plot(pos, initial, ls="none", marker="_", ms=14, mew=2, color="black",
                    label=None if before_drawn else "before training (epoch 0)")
            before_drawn = True
    ax.set_xticks(x)
    ax.set_xticklabels([f"{layer} layer" for layer in LAYERS])
    ax.set_ylabel("spikes per cell per step")
    ax.set_ylim(0, max(1e-3, 1.2 * max(max(e[f"{layer}_rate"] for layer in LAYERS)
                                        for e in values.values())))
    ax.set_title(f"firing rates after training ({common.title_data(runs)})", fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def figure_noise(runs):
    """Accuracy against the input-noise level, Gaussian (left) and salt-and-pepper
    (right), one line per run with noise.json."""
    values = _noise(runs)
    if not values:
        raise ValueError(f"cannot draw 'noise': {skip_reason('noise', runs)}")
    colours = {r["label"]: _colour(r) for r in runs}
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    for ax, kind in zip(axes, NOISE_KINDS):
        for label, entry in values.items():
            line = entry[kind]
            if line["level"]:
                ax.plot(line["level"], line["accuracy"], "o-", ms=4, color=colours[label],
                        label=label)
        ax.axhline(0.1, color="0.5", ls=":", lw=1, label="chance (10 classes)")
        ax.set_xlabel(NOISE_AXES[kind])
        ax.set_title(NOISE_TITLES[kind], fontsize=10)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy")
    axes[-1].legend(fontsize=8)
    counts = sorted({e["n"] for e in values.values() if e.get("n")})
    images = f"; {'/'.join(str(c) for c in counts)} images" if counts else ""
    fig.suptitle(f"robustness to input noise at test time ({common.title_data(runs)}{images})",
                 fontsize=10)
    fig.tight_layout()
    return fig


def figure_synops(runs):
    """Synaptic operations per sample of each run (coloured; first bar container)
    beside the same-size ANN's MACs (grey; second container), log axis."""
    values = _synops(runs)
    if not values:
        raise ValueError(f"cannot draw 'synops': {skip_reason('synops', runs)}")
    colours = {r["label"]: _colour(r) for r in runs}
    labels = list(values)
    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(max(4.5, 1.5 + 1.3 * len(labels)), 3.8))
    snn = ax.bar(x - 0.2, [values[k]["synops_per_sample"] for k in labels], 0.38,
                 color=[colours[k] for k in labels], label="SNN: synaptic operations / sample")
    ax.bar(x + 0.2, [values[k]["ann_macs"] for k in labels], 0.38, color="0.65",
                 label="same-size ANN: MACs / sample")
    ax.bar_label(snn, labels=[f"{values[k]['synops_to_macs']:.2f}x" for k in labels],
                 fontsize=8, padding=2)
    ax.set_yscale("log")
    ax.set_xticks(x)
    ax.set_xticklabels([f"{k}\n(epoch {values[k]['epoch']})" for k in labels], fontsize=8)
    top = max(max(v["synops_per_sample"], v["ann_macs"]) for v in values.values())
    low = min(min(v["synops_per_sample"], v["ann_macs"]) for v in values.values())
    # bars on a log axis: start them a decade below the smallest, so both are visible
    ax.set_ylim(10 ** (np.floor(np.log10(max(low, 1e-9))) - 1), top * 4)
    ax.set_ylabel("operations per sample")
    ax.set_title(f"energy proxy: SynOps vs MACs (ratio above the bars; "
                 f"{common.title_data(runs)})", fontsize=9)
    ax.grid(alpha=0.3, axis="y", which="both")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


FIGURES = (
    Figure.of("accuracy", "sun2024_extra_accuracy", "none (the paper tabulates accuracy)",
           "accuracy per epoch of STL, SL and TL runs", figure_accuracy, skip_reason),
    Figure.of("thresholds", "sun2024_fig4_thresholds", "Sun et al. 2024, Fig. 4 (unverified)",
           "threshold histograms per layer before and after training",
              figure_thresholds, skip_reason),
    Figure.of("rates", "sun2024_extra_rates", "none",
           "hidden and output firing rates after (and before) training", figure_rates, skip_reason),
    Figure.of("noise", "sun2024_fig6_noise", "Sun et al. 2024, Fig. 6 (unverified)",
           "accuracy under Gaussian and salt-and-pepper input noise", figure_noise, skip_reason),
    Figure.of("synops", "sun2024_extra_synops", "none (the paper's energy estimate is a table)",
           "synaptic operations per sample against the same-size ANN's MACs",
              figure_synops, skip_reason),
)
STL = common.Study(STUDY, FIGURES)
load = STL.load
make = STL.make
