"""Figures of the E:I-ratio sweeps, read from their sweep folders.

Kilgore, Kopsick, Ascoli & Adam (2025), Biologically-informed excitatory and inhibitory
ratio for robust spiking neural network training, Sci. Rep.

    python -m figures ei_ratio results/ei_ratio_rate_quick results/ei_ratio_noise_quick [--out DIR]

Each ``SWEEP`` is the folder of a sweep of ``python -m experiments ei_ratio --sweep``
(``<root>/<name>``, holding ``summary.jsonl``; :mod:`runs.sweep`). The figures
combine the finished tasks of all sweeps given (failed tasks are left out). Each figure
is drawn only when the sweeps hold the data it needs; the command says which figures it
wrote and why it skipped the others. Four figures, each as PNG and PDF (default:
``SWEEP/figures/`` for one sweep, ``<common parent>/figures/`` for several):

Each figure's file is named after the paper figure it redraws (the ``stem`` of
:data:`FIGURES`; ``figures/README.md`` lists them); by short name:

``rate``
    Peak validation accuracy against the initial hidden firing rate (Hz), one panel per
    E fraction, one dot per run; the biological range 0-25.6 Hz is shaded and the 0.5
    success line drawn. From the sweeps in which ``input_scale`` takes more than one
    value (the input scale sets the initial rate).
``noise``
    Final accuracy (mean of the last epochs, ``final_accuracy``) against the sigma of
    the weight-update noise (log axis), one line per E fraction: mean and standard
    deviation over the trials (sample sd; 0 for a single trial). From the runs with
    ``weight_noise > 0``.
``van_rossum``
    Violins (and the runs as dots) of the mean van Rossum distance of E-E, E-I and I-I
    pairs of hidden cells: at initialisation (every run), after successful training
    (peak accuracy >= 0.5) and after failed training. Missing values (no I-I pairs
    without inhibitory cells) are left out; an empty group is drawn empty, with a note.
``exc_spikes``
    Percent of hidden spikes fired by excitatory cells against the total hidden spikes
    per sample after training, one colour per E fraction, one dot per run; the dashed
    lines mark the E fraction itself (the share if every cell fired equally often).

The numbers come from the ``metrics`` of ``summary.jsonl``
(:func:`experiments.ei_ratio.summarise`). The plain functions (``figure_*``) take a list
of summary records and return a matplotlib Figure; :func:`plotted_values` returns the
numbers each of them plots.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

# No backend is forced here: in Jupyter the figures show inline; the command line
# (figures/__main__.py) selects Agg.
import matplotlib.pyplot as plt
import numpy as np

from figures.registry import Figure, draw_figures

__all__ = [
    "number",
    "NAMES",
    "FIGURES",
    "BIOLOGICAL_RATE_HZ",
    "SUCCESS_ACCURACY",
    "NotASweepError",
    "load_sweep",
    "load_sweeps",
    "run_folder",
    "rate_records",
    "noise_records",
    "plotted_values",
    "skip_reason",
    "figure_rate",
    "figure_noise",
    "figure_van_rossum",
    "figure_exc_spikes",
    "load",
    "make",
]

NAMES = ("rate", "noise", "van_rossum", "exc_spikes")
#: Shaded range of the rate figure: the biological range of cortical firing rates.
BIOLOGICAL_RATE_HZ = (0.0, 25.6)
#: A run succeeds when its peak accuracy reaches this (as in ``summarise``).
SUCCESS_ACCURACY = 0.5
PAIRS = ("EE", "EI", "II")
PAIR_LABELS = {"EE": "E-E", "EI": "E-I", "II": "I-I"}
PAIR_COLOURS = {"EE": "tab:red", "EI": "tab:purple", "II": "tab:blue"}
GROUPS = ("initial", "success", "failed")
GROUP_TITLES = {"initial": "at initialisation", "success": "after successful training",
                "failed": "after failed training"}
_FINISHED = ("done", "skipped")


class NotASweepError(ValueError):
    """A folder is not a sweep folder, or holds no finished E:I-ratio task; the message
    names the folder and says what was expected."""


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------


def load_sweep(path) -> list[dict]:
    """The finished E:I-ratio tasks of the sweep folder ``path`` (``<root>/<name>``):
    its ``summary.jsonl`` records with status 'done' or 'skipped', each with
    ``record['sweep']`` set to ``path``. Failed tasks are left out.

    Raises
    ------
    NotASweepError
        ``path`` has no ``summary.jsonl``, it is unreadable or empty, no task finished,
        or the tasks are not E:I-ratio tasks (no ``e_fraction``).
    """
    path = Path(path)
    summary = path / "summary.jsonl"
    hint = ("pass the folder of an E:I-ratio sweep (<root>/<name>, with summary.jsonl), "
            "e.g. results/ei_ratio_rate_quick after `python -m experiments ei_ratio --preset "
            "quick --sweep rate`")
    if not path.is_dir():
        raise NotASweepError(f"'{path}' does not exist or is not a folder; {hint}.")
    if not summary.is_file():
        inside = sorted(p.parent.name for p in path.glob("*/summary.jsonl"))
        more = f" It holds the sweeps {', '.join(inside)}: pass those folders." if inside else ""
        raise NotASweepError(f"'{path}' is not a sweep folder (no summary.jsonl); {hint}.{more}")
    try:
        records = [json.loads(line) for line in summary.read_text().splitlines() if line.strip()]
    except (OSError, ValueError) as err:
        raise NotASweepError(f"'{summary}' is unreadable ({err}); run the sweep again to "
                             "rewrite it.") from None
    if not records:
        raise NotASweepError(f"'{path}' is an empty sweep (summary.jsonl has no task); {hint}.")
    if not any(isinstance(r.get("params"), dict) and "e_fraction" in r["params"]
               for r in records):
        raise NotASweepError(f"'{path}' is not an E:I-ratio sweep (its tasks have no "
                             f"'e_fraction' parameter); {hint}.")
    finished = [dict(r, sweep=str(path)) for r in records
                if r.get("status") in _FINISHED and isinstance(r.get("metrics"), dict)
                and "e_fraction" in r.get("params", {})]
    if not finished:
        failed = sum(r.get("status") == "failed" for r in records)
        raise NotASweepError(f"'{path}' has no finished task ({failed} of {len(records)} "
                             f"failed; see <task>/error.txt); run the sweep again to "
                             "complete it.")
    return finished


def load_sweeps(paths) -> list[dict]:
    """The finished tasks of every sweep folder in ``paths`` (each read once), in order;
    see :func:`load_sweep`."""
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not paths:
        raise NotASweepError("no sweep folder given; pass at least one (<root>/<name>).")
    records, seen = [], set()
    for path in paths:
        key = Path(path).resolve()
        if key in seen:
            continue
        seen.add(key)
        records.extend(load_sweep(path))
    return records


def run_folder(record: dict, sweep=None) -> Path:
    """The run folder (``<sweep>/<task_id>/ei_ratio/run``, with ``metrics.jsonl`` and
    ``recordings/``) of a summary record; ``sweep`` defaults to ``record['sweep']``."""
    sweep = record.get("sweep") if sweep is None else sweep
    if sweep is None:
        raise ValueError("the record has no 'sweep' folder; pass sweep=<root>/<name>")
    return Path(sweep) / record["task_id"] / "ei_ratio" / "run"


# --------------------------------------------------------------------------------------
# Selecting and collecting the numbers
# --------------------------------------------------------------------------------------


def number(value):
    """``value`` as a finite float, or ``None`` (missing, None, NaN)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


def _metric(record, key):
    return number((record.get("metrics") or {}).get(key))


def _param(record, key, default=None):
    return (record.get("params") or {}).get(key, default)


def _finished(records):
    return [r for r in records if r.get("status", "done") in _FINISHED
            and isinstance(r.get("metrics"), dict)]


def rate_records(records) -> list[dict]:
    """The records of the sweeps (``record['sweep']``; all records without it count as
    one sweep) in which ``input_scale`` takes more than one value."""
    groups: dict = {}
    for r in _finished(records):
        groups.setdefault(r.get("sweep"), []).append(r)
    keep = []
    for group in groups.values():
        scales = {_param(r, "input_scale") for r in group}
        if len(scales - {None}) > 1:
            keep.extend(r for r in group if _param(r, "input_scale") is not None)
    return keep


def noise_records(records) -> list[dict]:
    """The records with ``weight_noise > 0``."""
    return [r for r in _finished(records) if (number(_param(r, "weight_noise")) or 0) > 0]


def _e_fraction(record) -> float:
    return float(_param(record, "e_fraction"))


def _points(records, x_key, y_key, x_scale=1.0):
    """``{e_fraction: [(x, y), ...]}`` over records with both numbers, E fractions
    sorted, records in their order."""
    out: dict = {}
    for r in records:
        x, y = _metric(r, x_key), _metric(r, y_key)
        if x is None or y is None:
            continue
        out.setdefault(_e_fraction(r), []).append((x * x_scale, y))
    return {e: out[e] for e in sorted(out)}


def _noise_lines(records) -> dict:
    by: dict = {}
    for r in noise_records(records):
        acc = _metric(r, "final_accuracy")
        if acc is None:
            continue
        sigma = float(_param(r, "weight_noise"))
        by.setdefault(_e_fraction(r), {}).setdefault(sigma, []).append(acc)
    lines = {}
    for e in sorted(by):
        sigmas = sorted(by[e])
        values = [np.asarray(by[e][s], dtype=float) for s in sigmas]
        lines[e] = {
            "sigma": sigmas,
            "mean": [float(v.mean()) for v in values],
            "sd": [float(v.std(ddof=1)) if v.size > 1 else 0.0 for v in values],
            "n": [int(v.size) for v in values],
        }
    return lines


def _van_rossum_groups(records) -> dict:
    groups = {g: {p: [] for p in PAIRS} for g in GROUPS}
    for r in _finished(records):
        for p in PAIRS:
            value = _metric(r, f"initial_van_rossum_{p}")
            if value is not None:
                groups["initial"][p].append(value)
        success = (r.get("metrics") or {}).get("success")
        if success is None:
            continue
        group = "success" if success else "failed"
        for p in PAIRS:
            value = _metric(r, f"final_van_rossum_{p}")
            if value is not None:
                groups[group][p].append(value)
    return groups


def plotted_values(records) -> dict:
    """The numbers each figure plots, from summary records:

    ``rate``: ``{e_fraction: [(initial_rate_hz, peak_accuracy), ...]}`` (records of
    :func:`rate_records`); ``noise``: ``{e_fraction: {'sigma', 'mean', 'sd', 'n'}}``
    (of ``final_accuracy`` over trials, sigmas ascending; :func:`noise_records`);
    ``van_rossum``: ``{'initial'|'success'|'failed': {'EE'|'EI'|'II': [values]}}``;
    ``exc_spikes``: ``{e_fraction: [(hidden_spikes_per_sample, exc_spike_percent), ...]}``.
    Records with a missing number are left out of that figure only.
    """
    records = _finished(records)
    return {
        "rate": _points(rate_records(records), "initial_rate_hz", "peak_accuracy"),
        "noise": _noise_lines(records),
        "van_rossum": _van_rossum_groups(records),
        "exc_spikes": _points(records, "hidden_spikes_per_sample", "exc_spike_percent"),
    }


def skip_reason(name: str, records) -> str | None:
    """Why figure ``name`` cannot be drawn from ``records``, or ``None`` if it can."""
    if name not in NAMES:
        raise ValueError(f"unknown figure {name!r}; choose from {', '.join(NAMES)}")
    values = plotted_values(records)[name]
    if name == "rate":
        if not rate_records(records):
            return "no sweep varies input_scale (run the 'rate' sweep of experiments.ei_ratio)"
        if not values:
            return "no run has both initial_rate_hz and peak_accuracy (epochs >= 1)"
    elif name == "noise":
        if not noise_records(records):
            return "no run has weight_noise > 0 (run the 'noise' sweep of experiments.ei_ratio)"
        if not values:
            return "no run with weight_noise > 0 has a final_accuracy (epochs >= 1)"
    elif name == "van_rossum":
        if not any(values[g][p] for g in GROUPS for p in PAIRS):
            return "no run has van Rossum distances (analysis_samples = 0?)"
    elif name == "exc_spikes":
        if not values:
            return "no run has exc_spike_percent and hidden_spikes_per_sample (epochs >= 1)"
    return None


def _title_data(records) -> str:
    datasets = sorted({str(_param(r, "dataset")) for r in records if _param(r, "dataset")})
    return ", ".join(datasets)


def _e_label(e: float) -> str:
    return f"E {100 * e:g} %"


def _e_colours(fractions):
    cmap = plt.get_cmap("viridis")
    fractions = list(fractions)
    if len(fractions) == 1:
        return {fractions[0]: cmap(0.35)}
    return {e: cmap(0.9 * k / (len(fractions) - 1)) for k, e in enumerate(fractions)}


# --------------------------------------------------------------------------------------
# The figures
# --------------------------------------------------------------------------------------


def _drawable(name: str, records):
    """The values figure ``name`` plots; ValueError (with the reason) when there are none."""
    values = plotted_values(records)[name]
    if not values:
        raise ValueError(f"cannot draw {name!r}: {skip_reason(name, records)}")
    return values


def figure_rate(records):
    """Peak accuracy against the initial hidden rate, one panel per E fraction."""
    chosen = rate_records(records)
    points = _drawable("rate", records)
    n = len(points)
    fig, axes = plt.subplots(1, n, figsize=(3.0 * n + 0.6, 3.3), squeeze=False, sharey=True)
    x_max = max(max(x for x, _ in pts) for pts in points.values())
    x_max = max(1.08 * x_max, 1.2 * BIOLOGICAL_RATE_HZ[1])
    for ax, (e, pts) in zip(axes[0], points.items()):
        xs, ys = np.array(pts, dtype=float).T
        ax.axvspan(*BIOLOGICAL_RATE_HZ, color="tab:green", alpha=0.15, lw=0,
                   label=f"biological {BIOLOGICAL_RATE_HZ[0]:g}-{BIOLOGICAL_RATE_HZ[1]:g} Hz")
        ax.axhline(SUCCESS_ACCURACY, color="0.3", ls="--", lw=1, label="success (0.5)")
        ax.scatter(xs, ys, s=22, color="black", zorder=3, label="run")
        wins = int(np.sum(ys >= SUCCESS_ACCURACY))
        ax.set_title(f"{_e_label(e)}: {wins}/{len(ys)} succeed", fontsize=10)
        ax.set_xlim(0, x_max)
        ax.set_ylim(0, 1)
        ax.set_xlabel("initial hidden rate (Hz)")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("peak accuracy (evaluation split)")
    axes[0, -1].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"peak accuracy vs initial firing rate ({_title_data(chosen)}, "
                 f"{len(chosen)} runs)", fontsize=10)
    fig.tight_layout()
    return fig


def _one_panel(name: str, records):
    """What the one-panel figure ``name`` draws (per E fraction), a colour per E
    fraction, and its figure and axes."""
    data = _drawable(name, records)
    fig, ax = plt.subplots(figsize=(5, 3.6))
    return data, _e_colours(data), fig, ax


def figure_noise(records):
    """Final accuracy against the weight-noise sigma, one line per E fraction."""
    lines, colours, fig, ax = _one_panel("noise", records)
    for e, line in lines.items():
        ax.errorbar(line["sigma"], line["mean"], yerr=line["sd"], fmt="o-", ms=4, capsize=3,
                    color=colours[e], label=_e_label(e))
    ax.axhline(0.1, color="0.5", ls=":", lw=1, label="chance (10 classes)")
    ax.set_xscale("log")
    ax.set_ylim(0, 1)
    ax.set_xlabel(r"weight-update noise $\sigma$")
    ax.set_ylabel("final accuracy (mean of last epochs)")
    counts = sorted({n for line in lines.values() for n in line["n"]})
    trials = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    ax.set_title(f"robustness to weight noise ({_title_data(noise_records(records))}; "
                 f"mean ± sd of {trials} trial{'' if counts == [1] else 's'})", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _violin(ax, position, values, colour):
    values = np.asarray(values, dtype=float)
    if values.size > 1 and np.ptp(values) > 0:
        parts = ax.violinplot([values], positions=[position], widths=0.8,
                              showextrema=False, showmedians=True)
        for body in parts["bodies"]:
            body.set_facecolor(colour)
            body.set_edgecolor(colour)
            body.set_alpha(0.35)
        parts["cmedians"].set_color(colour)
    else:  # one value (or identical ones): no density, a bar at the value
        ax.hlines(values[:1], position - 0.3, position + 0.3, colors=colour, lw=2)


def figure_van_rossum(records):
    """Violins of the mean E-E, E-I and I-I van Rossum distances: at initialisation,
    after successful and after failed training. The runs are the dots (one scatter
    collection per violin, in the order E-E, E-I, I-I of each panel)."""
    groups = plotted_values(records)["van_rossum"]
    counts = {"initial": len(_finished(records))}
    for r in _finished(records):
        success = (r.get("metrics") or {}).get("success")
        if success is not None:
            key = "success" if success else "failed"
            counts[key] = counts.get(key, 0) + 1
    rng = np.random.default_rng(0)
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.6), sharey=True)
    for ax, group in zip(axes, GROUPS):
        data = groups[group]
        ax.set_title(f"{GROUP_TITLES[group]} ({counts.get(group, 0)} runs)", fontsize=10)
        ax.set_xticks(range(len(PAIRS)))
        ax.set_xticklabels([PAIR_LABELS[p] for p in PAIRS])
        ax.set_xlim(-0.6, len(PAIRS) - 0.4)
        ax.grid(alpha=0.3, axis="y")
        if not any(data[p] for p in PAIRS):
            ax.text(0.5, 0.5, "no runs", ha="center", va="center", transform=ax.transAxes,
                    color="0.4")
            continue
        for k, pair in enumerate(PAIRS):
            values = data[pair]
            if not values:
                ax.text(k, 0.02, "none", ha="center", va="bottom", fontsize=8, color="0.4",
                        transform=ax.get_xaxis_transform())
                continue
            _violin(ax, k, values, PAIR_COLOURS[pair])
            jitter = rng.uniform(-0.12, 0.12, len(values))
            ax.scatter(k + jitter, values, s=10, color=PAIR_COLOURS[pair], edgecolors="none",
                       zorder=3, label=PAIR_LABELS[pair])
    axes[0].set_ylabel("mean van Rossum distance (τ = 10 ms)")
    fig.suptitle(f"spike-train distances of hidden-cell pairs ({_title_data(records)})",
                 fontsize=10)
    fig.tight_layout()
    return fig


def figure_exc_spikes(records):
    """Percent of hidden spikes from E cells against hidden spikes per sample."""
    points, colours, fig, ax = _one_panel("exc_spikes", records)
    for e, pts in points.items():
        xs, ys = np.array(pts, dtype=float).T
        ax.scatter(xs, ys, s=24, color=colours[e], zorder=3, label=_e_label(e))
        ax.axhline(100 * e, color=colours[e], ls="--", lw=0.8, alpha=0.7)
    ax.set_ylim(-2, 102)
    ax.set_xlim(left=0)
    ax.set_xlabel("hidden spikes per sample (after training)")
    ax.set_ylabel("excitatory share of hidden spikes (%)")
    ax.set_title(f"who fires: E share of hidden spikes ({_title_data(records)})", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, title="dashed: E fraction", title_fontsize=7)
    fig.tight_layout()
    return fig


FIGURES = (
    Figure.of("rate", "kilgore2025_fig1c_rate", "Kilgore et al. 2025, Fig. 1c",
           "peak accuracy against the initial hidden rate, one panel per E fraction",
           figure_rate, skip_reason),
    Figure.of("noise", "kilgore2025_fig3_noise", "Kilgore et al. 2025, Fig. 3 (unverified)",
           "final accuracy against the weight-update noise, one line per E fraction",
           figure_noise, skip_reason),
    Figure.of("van_rossum", "kilgore2025_fig5_van_rossum", "Kilgore et al. 2025, Fig. 5",
           "van Rossum distances of E-E, E-I, I-I pairs: initial, success, failure",
           figure_van_rossum, skip_reason),
    Figure.of("exc_spikes", "kilgore2025_extra_exc_spikes", "none",
           "excitatory share of hidden spikes against spikes per sample", figure_exc_spikes,
              skip_reason),
)


def load(sweeps) -> list[dict]:
    """The finished tasks of the sweep folders ``sweeps``; see :func:`load_sweeps`."""
    return load_sweeps(sweeps)


def make(records, out, names=None) -> list[Path]:
    """Write the figures of ``names`` (default: all) that the summary ``records`` (of
    :func:`load`) hold data for to ``out``; the written files, PNG then PDF of each."""
    return draw_figures(FIGURES, records, out, names)
