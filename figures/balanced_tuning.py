"""Figures of balanced-tuning runs (equilibrium learning, 80:20 E/I, short-term plasticity,
teacher-tuned potentials consolidated by STDP), read from their run folders.

Zhang, Zeng, Zhao & Xu (2018), Brain-inspired balanced tuning for spiking neural
networks, IJCAI. The protocol is an interpretation of the paper's abstract
(:mod:`experiments.balanced_tuning`).

    python -m figures balanced_tuning RUN [RUN ...] [--out DIR]

Each ``RUN`` is the results folder of one run of ``python -m experiments balanced_tuning``
(``results/balanced_tuning/<run-id>``), a folder of runs (``results/balanced_tuning``), or
the sweep folder of ``python -m experiments balanced_tuning --sweep ablation``
(``results/balanced_tuning_ablation_quick``: the run of every finished task, ``<task>/
balanced_tuning/run``; tasks without ``done.json``, unfinished or failed, are left out).
The figures combine all runs given. A run is labelled by its ablation variant
(:func:`experiments.balanced_tuning.variant_of`: 'full', 'no_equilibrium', ...), with the
seed added when several runs share a variant; the colour is the variant. Each figure is
drawn only when the runs hold its data; each as PNG and PDF (default: ``RUN/figures/``
for one path, ``<common parent>/figures/`` for several):

Each figure's file is named after the paper figure it redraws (the ``stem`` of
:data:`FIGURES`; ``figures/README.md`` lists them); by short name:

``equilibrium``
    Step 1: the mean ``|dV/dt|`` over the presentation of the E cells (left) and of the I
    cells (right; none in an all-excitatory run), in mV/ms, per step-1 epoch
    (``train_dvdt_abs_*_mV_per_ms`` of the epochs with ``train_phase == 'equilibrium'``),
    one line per run. Equilibrium learning should lower the E cells' line. Runs without
    step 1 (``no_equilibrium``) have no line.
``stp``
    Short-term plasticity of the input synapses of the central pixels: the mean over the
    probed pixels of the utilisation ``u``, the resources ``x`` and the released fraction
    ``r = u x`` against time, over the first ``analysis_samples`` evaluation samples of a
    run's last recording; the presentation windows are shaded and carry the digit shown.
    ``u`` and ``x`` are event-driven (updated at the pixel's spikes: after facilitation
    and after release), so they are steps that hold their value between spikes and during
    the rest; ``r`` is what the last spike released (``u`` after facilitation times ``x``
    before release), so it is not the product of the plotted means. The synapses depend
    on the input only, so runs with the same STP parameters, timing, input rate and data
    set show the same process: one panel per such group (its first run).
``rates``
    Hidden E (left) and I (right) firing rates (Hz, over presentation and rest) during
    the training of every epoch (``train_rate_e_hz``, ``train_rate_i_hz``), one line per
    run; hollow markers are step-1 (equilibrium) epochs, filled ones consolidation epochs.
``consolidation``
    The consolidation curve: teacher-off accuracy, learning off, on the first
    ``curve_samples`` evaluation images (``train_probe_accuracy``) against the
    consolidation samples trained so far (solid, with dots), one line per run; dashed,
    the free-spike accuracy of each training chunk (``train_curve_accuracy``), an upper
    bound (the weights change during a presentation once the teacher's spikes start).
    Samples are concatenated over the consolidation epochs (the metrics restart at every
    epoch; here they continue). The diamonds are the accuracy on the whole evaluation
    split after each consolidation epoch.
``ablation``
    Final accuracy (last evaluation, :func:`experiments.balanced_tuning.summarise`) per
    variant: a bar of the mean over seeds with the standard deviation (sample sd, 0 for
    one seed) and every seed as a dot; variants in the order full, no_equilibrium,
    static_synapses, e_fraction_0.5, e_fraction_0.95, all_excitatory, then any others.

The plain functions (``figure_*``) take the list of :func:`load_runs` and return a
matplotlib Figure; :func:`plotted_values` returns the numbers each of them plots.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

# No backend is forced here: in Jupyter the figures show inline; the command line
# (figures/__main__.py) selects Agg.
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from experiments.balanced_tuning import (ABLATIONS, BalancedTuningConfig,
                                         summarise, variant_of)
from experiments.protocol import ConfigurationError
from figures import loading
from figures.ei_ratio import number
from figures.loading import NotARunError, disambiguate
from figures.neuron_parameters import title_data
from figures.registry import Figure, draw_figures

__all__ = [
    "STUDY",
    "ABLATION",
    "FIGURES",
    "VARIANTS",
    "NAMES",
    "NotARunError",
    "find_runs",
    "load_runs",
    "plotted_values",
    "skip_reason",
    "figure_equilibrium",
    "figure_stp",
    "figure_rates",
    "figure_consolidation",
    "figure_ablation",
    "load",
    "make",
]

STUDY = "balanced_tuning"
#: Start of the name of the sweep folder of ``python -m experiments balanced_tuning
#: --sweep ablation`` (``balanced_tuning_ablation_<preset>``).
ABLATION = "balanced_tuning_ablation"
NAMES = ("equilibrium", "stp", "rates", "consolidation", "ablation")
#: The ablation variants in the order the figures list them (others follow, sorted).
VARIANTS = tuple(ABLATIONS)
CELLS = ("e", "i")
CELL_TITLES = {"e": "excitatory cells", "i": "inhibitory cells"}
STP_KEYS = ("u", "x", "r")
STP_LABELS = {"u": "u (utilisation)", "x": "x (resources)", "r": "r = u x (released)"}
STP_COLOURS = {"u": "tab:orange", "x": "tab:blue", "r": "black"}
#: What makes two runs' probed synapses the same process (their first run is drawn).
_STP_GROUP = ("dataset", "stp_U", "stp_tau_d_ms", "stp_tau_f_ms", "t_present_ms",
              "t_rest_ms", "max_rate_hz", "dt_ms")
_LINESTYLES = ("-", "--", ":", "-.")

_HINT = ("pass the folder of a balanced_tuning run (results/balanced_tuning/<run-id>, with "
         "config.json and metrics.jsonl), a folder of runs such as results/balanced_tuning, "
         "or an ablation sweep folder such as results/balanced_tuning_ablation_quick, e.g. after "
         "`python -m experiments balanced_tuning --preset quick`")


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------


def find_runs(path) -> list[Path]:
    """The balanced-tuning run folders at ``path``: ``path`` itself if it is a run
    folder; the run of a finished ablation task folder; else the runs inside it
    (``path/*``, ``path/balanced_tuning/*``) and the runs of the finished tasks of the
    ablation sweeps inside it (:func:`figures.loading.find_runs`).

    Raises
    ------
    NotARunError
        ``path`` does not exist, is a run of another protocol or an unfinished task, or
        holds no balanced-tuning run; the message names the folder and what was expected.
    """
    return loading.find_runs(path, STUDY, _HINT, sweep=ABLATION)


def _variant(config: dict) -> str:
    try:
        cfg = BalancedTuningConfig.from_dict(config)
    except (ConfigurationError, TypeError):  # written by another version: use the fields it has
        names = {f.name for f in dataclasses.fields(BalancedTuningConfig)}
        cfg = BalancedTuningConfig(**{k: v for k, v in config.items() if k in names})
    return variant_of(cfg)


def _labelled(run: dict) -> dict:
    """``run`` with 'variant', 'seed' and 'label' (the variant; :func:`load_runs` makes
    it unique)."""
    variant = _variant(run["config"])
    return dict(run, variant=variant, seed=run["config"].get("seed", 0), label=variant)


def _variant_rank(variant: str):
    return (VARIANTS.index(variant), "") if variant in VARIANTS else (len(VARIANTS), variant)


def load_runs(paths) -> list[dict]:
    """The balanced-tuning runs in ``paths`` (one path or several; see :func:`find_runs`),
    each read once (:func:`figures.loading.load_runs`), sorted by variant (in the order
    of :data:`VARIANTS`), seed and run id, with unique labels. Runs without a metrics
    record yet are left out.

    Raises
    ------
    NotARunError
        No path given, or a path is neither a balanced-tuning run nor holds one.
    ValueError
        None of the runs has finished an epoch yet.
    """
    ready = [_labelled(r) for r in loading.load_runs(paths, STUDY, _HINT, sweep=ABLATION,
                                                      record="epoch")]
    ready.sort(key=lambda r: (_variant_rank(r["variant"]), number(r["seed"]) or 0,
                              r["run_id"]))
    disambiguate(ready)  # adds the seed, then the data set, then the run id
    return ready


# --------------------------------------------------------------------------------------
# The numbers
# --------------------------------------------------------------------------------------


def _phase_records(run, phase):
    return [m for m in run["metrics"] if m.get("train_phase") == phase]


def _equilibrium_lines(runs) -> dict:
    lines = {}
    for r in runs:
        records = [m for m in _phase_records(r, "equilibrium")
                   if number(m.get("train_dvdt_abs_e_mV_per_ms")) is not None]
        if records:
            lines[r["label"]] = {
                "epoch": [m["epoch"] for m in records],
                "dvdt_e": [number(m["train_dvdt_abs_e_mV_per_ms"]) for m in records],
                "dvdt_i": [number(m.get("train_dvdt_abs_i_mV_per_ms")) for m in records]}
    return lines


def _stp_group(run) -> tuple:
    return tuple(run["config"].get(k) for k in _STP_GROUP)


def _stp_traces(runs) -> dict:
    traces, groups = {}, set()
    for r in runs:
        if not r["recordings"] or _stp_group(r) in groups:
            continue
        name = r["recordings"][-1]
        rec = r["folder"].read_recording(name)
        if not all(f"probe_{k}" in rec for k in ("t",) + STP_KEYS) or not rec["probe_t"].size:
            continue
        groups.add(_stp_group(r))
        cfg = r["config"]
        t_present = float(cfg.get("t_present_ms", 100.0))
        t_sample = t_present + float(cfg.get("t_rest_ms", 0.0))
        t_ms = np.asarray(rec["probe_t"], dtype=float) * 1e3
        step = float(np.median(np.diff(t_ms))) if t_ms.size > 1 else 0.0
        n_samples = max(1, math.ceil((t_ms[-1] + step) / t_sample - 1e-9))
        labels = np.asarray(rec.get("eval_labels", []))[:n_samples]
        traces[r["label"]] = {
            "recording": name, "t_ms": t_ms.tolist(),
            **{k: np.asarray(rec[f"probe_{k}"], dtype=float).mean(axis=0).tolist()
               for k in STP_KEYS},
            "n_probe": int(rec["probe_u"].shape[0]),
            "pixels": np.asarray(rec.get("probe_pixels", [])).tolist(),
            "t_present_ms": t_present, "t_sample_ms": t_sample, "n_samples": n_samples,
            "labels": [int(x) for x in labels], "stp": bool(cfg.get("stp", True)),
            "stp_U": number(cfg.get("stp_U"))}
    return traces


def _rate_lines(runs) -> dict:
    lines = {}
    for r in runs:
        records = [m for m in r["metrics"] if m.get("epoch", 0) > 0
                   and number(m.get("train_rate_e_hz")) is not None]
        if records:
            lines[r["label"]] = {
                "epoch": [m["epoch"] for m in records],
                "phase": [m.get("train_phase") for m in records],
                "rate_e": [number(m["train_rate_e_hz"]) for m in records],
                "rate_i": [number(m.get("train_rate_i_hz")) for m in records]}
    return lines


def _consolidation_lines(runs) -> dict:
    lines = {}
    for r in runs:
        samples, accuracy, ends, evaluated, epochs = [], [], [], [], []
        probe_samples, probe_accuracy = [], []
        done = 0
        for m in _phase_records(r, "consolidation"):
            xs, ys = _paired(m, "train_curve_samples", "train_curve_accuracy")
            px, py = _paired(m, "train_probe_samples", "train_probe_accuracy")
            samples += [done + x for x in xs]
            accuracy += ys
            probe_samples += [done + x for x in px]
            probe_accuracy += py
            if xs:
                done += xs[-1]
            elif number(m.get("samples_seen")) is not None:
                done = number(m["samples_seen"]) - _equilibrium_samples(r)
            acc = number(m.get("accuracy"))
            if acc is not None:
                ends.append(done)
                evaluated.append(acc)
                epochs.append(m["epoch"])
        if samples or evaluated or probe_samples:
            lines[r["label"]] = {"probe_samples": probe_samples,
                                 "probe_accuracy": probe_accuracy,
                                 "samples": samples, "accuracy": accuracy,
                                 "epoch_samples": ends, "eval_accuracy": evaluated,
                                 "epoch": epochs}
    return lines


def _paired(record, x_key, y_key):
    """Two equally long lists of numbers of a metrics line, or two empty ones."""
    xs = [number(x) for x in record.get(x_key) or []]
    ys = [number(y) for y in record.get(y_key) or []]
    if len(xs) != len(ys) or any(v is None for v in xs + ys):
        return [], []
    return xs, ys


def _equilibrium_samples(run) -> float:
    records = _phase_records(run, "equilibrium")
    seen = [number(m.get("samples_seen")) for m in records]
    return seen[-1] if records and seen[-1] is not None else 0.0


def _ablation_groups(runs) -> dict:
    by: dict = {}
    for r in runs:
        acc = number(summarise(r["metrics"])["final_accuracy"])
        if acc is not None:
            by.setdefault(r["variant"], []).append((r["seed"], acc, r["label"]))
    groups = {}
    for variant in sorted(by, key=_variant_rank):
        values = np.asarray([a for _, a, _ in by[variant]], dtype=float)
        groups[variant] = {"seeds": [s for s, _, _ in by[variant]],
                           "labels": [label for _, _, label in by[variant]],
                           "accuracy": values.tolist(), "mean": float(values.mean()),
                           "sd": float(values.std(ddof=1)) if values.size > 1 else 0.0,
                           "n": int(values.size)}
    return groups


_VALUES = {"equilibrium": _equilibrium_lines, "stp": _stp_traces, "rates": _rate_lines,
           "consolidation": _consolidation_lines, "ablation": _ablation_groups}


def plotted_values(runs) -> dict:
    """The numbers each figure plots, from the runs of :func:`load_runs` (labels in run
    order):

    ``equilibrium``: ``{label: {'epoch', 'dvdt_e', 'dvdt_i'}}`` (step-1 epochs; mV/ms;
    ``dvdt_i`` None without I cells); ``stp``: ``{label: {'recording', 't_ms', 'u', 'x',
    'r' (means over the probed pixels), 'n_probe', 'pixels', 't_present_ms',
    't_sample_ms', 'n_samples', 'labels', 'stp', 'stp_U'}}`` (one run per STP group);
    ``rates``: ``{label: {'epoch', 'phase', 'rate_e', 'rate_i'}}`` (Hz, every epoch);
    ``consolidation``: ``{label: {'samples', 'accuracy', 'epoch_samples',
    'eval_accuracy', 'epoch', 'probe_samples', 'probe_accuracy'}}`` (the curve: teacher-off
    accuracy on the probe images, and the training chunks' accuracy, against the
    consolidation samples trained so far, counted over the consolidation epochs; then the
    evaluation after each consolidation epoch, at the samples trained by its end); ``ablation``: ``{variant: {'seeds',
    'labels', 'accuracy', 'mean', 'sd', 'n'}}`` (final accuracy; sample sd, 0 for one
    seed; variants in figure order).
    """
    return {name: make(runs) for name, make in _VALUES.items()}


def skip_reason(name: str, runs) -> str | None:
    """Why figure ``name`` cannot be drawn from ``runs``, or ``None`` if it can."""
    if name not in NAMES:
        raise ValueError(f"unknown figure {name!r}; choose from {', '.join(NAMES)}")
    if _VALUES[name](runs):
        return None
    return {
        "equilibrium": "no run has a step-1 (equilibrium) epoch with "
                       "train_dvdt_abs_e_mV_per_ms (equilibrium_epochs = 0?)",
        "stp": "no run has a recording with the STP probe (recordings are written after "
               "consolidation epochs, with analysis_samples > 0)",
        "rates": "no run has train_rate_e_hz in metrics.jsonl",
        "consolidation": "no run has finished a consolidation epoch (train_phase "
                         "'consolidation' with train_curve_accuracy or an accuracy)",
        "ablation": "no run has an evaluated accuracy (after a consolidation epoch)",
    }[name]


# --------------------------------------------------------------------------------------
# The figures
# --------------------------------------------------------------------------------------


def _styles(runs) -> dict:
    """Colour by variant (tab10 in the order of :data:`VARIANTS`, others after); the runs
    of one variant differ in line style, in run order."""
    cmap = plt.get_cmap("tab10")
    variants = sorted({r["variant"] for r in runs}, key=_variant_rank)
    extra = [v for v in variants if v not in VARIANTS]
    colours = {v: cmap(VARIANTS.index(v) if v in VARIANTS
                       else (len(VARIANTS) + extra.index(v)) % 10) for v in variants}
    styles, count = {}, {}
    for r in runs:
        k = count.get(r["variant"], 0)
        count[r["variant"]] = k + 1
        styles[r["label"]] = dict(color=colours[r["variant"]],
                                  ls=_LINESTYLES[k % len(_LINESTYLES)])
    return styles


def _legend(axes, n_runs: int, extra=(), loc="best") -> None:
    """One legend on the last of ``axes`` with the entries of all of them (a run without
    E or I cells is in one panel only) and the ``extra`` ``(handle, label)`` pairs;
    beside the axes when there are many runs (an ablation sweep)."""
    entries = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    entries.update({label: handle for handle, label in extra})
    handles, labels = list(entries.values()), list(entries)
    if n_runs > 6:
        axes[-1].legend(handles, labels, fontsize=7, loc="upper left",
                        bbox_to_anchor=(1.02, 1.0))
    else:
        axes[-1].legend(handles, labels, fontsize=8, loc=loc)


def _epoch_axis(ax, epochs) -> None:
    """Integer epoch ticks; every epoch labelled when there are few (one epoch alone
    would otherwise get fractional ticks)."""
    epochs = sorted(set(epochs))
    if epochs and len(epochs) <= 12:
        ax.set_xticks(epochs)
        ax.set_xlim(epochs[0] - 0.5, epochs[-1] + 0.5)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _check(name, values, runs):
    if not values:
        raise ValueError(f"cannot draw {name!r}: {skip_reason(name, runs)}")


def _per_cell_panels(name: str, runs):
    """The lines of figure ``name`` (ValueError when there are none), the runs' styles,
    and a figure with one panel per cell type (E left, I right)."""
    lines = _VALUES[name](runs)
    _check(name, lines, runs)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    return lines, _styles(runs), fig, axes


def figure_equilibrium(runs):
    """Mean |dV/dt| of E and I cells per step-1 epoch, one line per run (two panels)."""
    lines, styles, fig, axes = _per_cell_panels("equilibrium", runs)
    for ax, cell in zip(axes, CELLS):
        drawn = 0
        for label, line in lines.items():
            points = [(e, v) for e, v in zip(line["epoch"], line[f"dvdt_{cell}"])
                      if v is not None]
            if points:
                ax.plot(*zip(*points), marker="o", ms=4, label=label, **styles[label])
                drawn += 1
        if not drawn:
            ax.text(0.5, 0.5, "no I cells", ha="center", va="center", transform=ax.transAxes,
                    color="0.4")
        ax.set_title(CELL_TITLES[cell], fontsize=10)
        ax.set_xlabel("step-1 epoch")
        _epoch_axis(ax, [e for line in lines.values() for e in line["epoch"]])
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("mean |dV/dt| over the presentation (mV/ms)")
    _legend(axes, len(lines))
    fig.suptitle(f"step 1, equilibrium learning: membrane-potential change "
                 f"({title_data(runs)})", fontsize=10)
    fig.tight_layout()
    return fig


def figure_stp(runs):
    """Mean u, x and r = u x of the probed input synapses against time, presentation
    windows shaded; one panel per group of runs with the same STP process."""
    traces = _stp_traces(runs)
    _check("stp", traces, runs)
    n = len(traces)
    fig, axes = plt.subplots(n, 1, figsize=(8, 2.9 * n + 0.4), squeeze=False)
    for ax, (label, tr) in zip(axes[:, 0], traces.items()):
        for k in range(tr["n_samples"]):
            start = k * tr["t_sample_ms"]
            ax.axvspan(start, start + tr["t_present_ms"], color="0.85", lw=0,
                       label="presentation" if k == 0 else None)
            if k < len(tr["labels"]):
                ax.text(start + tr["t_present_ms"] / 2, 1.02, f"digit {tr['labels'][k]}",
                        ha="center", va="bottom", fontsize=7,
                        transform=ax.get_xaxis_transform())
        for key in STP_KEYS:
            ax.plot(tr["t_ms"], tr[key], drawstyle="steps-post", color=STP_COLOURS[key],
                    lw=1.2, label=STP_LABELS[key])
        ax.set_xlim(0, tr["n_samples"] * tr["t_sample_ms"])
        ax.set_ylim(0, 1.05)
        ax.set_ylabel(f"mean of {tr['n_probe']} pixels")
        model = "" if tr["stp"] else " (static synapses in the network; probe has STP)"
        ax.set_title(f"{label}: {tr['recording']}, U = {tr['stp_U']:g}{model}",
                     fontsize=9, pad=14)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("time from the first evaluation sample (ms)")
    axes[0, 0].legend(fontsize=7, loc="upper right", ncol=4)
    fig.suptitle(f"short-term plasticity of the central pixels' input synapses "
                 f"({title_data(runs)})", fontsize=10)
    fig.tight_layout()
    return fig


def figure_rates(runs):
    """Hidden E and I rates per epoch during training, one line per run; hollow markers
    for step-1 epochs, filled for consolidation epochs."""
    lines, styles, fig, axes = _per_cell_panels("rates", runs)
    for ax, cell in zip(axes, CELLS):
        drawn = 0
        for label, line in lines.items():
            points = [(e, v, p) for e, v, p in zip(line["epoch"], line[f"rate_{cell}"],
                                                   line["phase"]) if v is not None]
            if not points:
                continue
            epochs, values, _ = zip(*points)
            ax.plot(epochs, values, label=label, **styles[label])
            for phase, fill in (("equilibrium", "none"), ("consolidation", None)):
                chosen = [(e, v) for e, v, p in points if p == phase]
                if chosen:
                    colour = styles[label]["color"]
                    ax.plot(*zip(*chosen), ls="none", marker="o", ms=5, mew=1.3,
                            color=colour, mfc=fill or colour, label="_nolegend_")
            drawn += 1
        if not drawn:
            ax.text(0.5, 0.5, "no I cells", ha="center", va="center", transform=ax.transAxes,
                    color="0.4")
        ax.set_title(f"hidden {CELL_TITLES[cell]}", fontsize=10)
        ax.set_xlabel("epoch")
        values = [v for line in lines.values() for v in line[f"rate_{cell}"] if v is not None]
        ax.set_ylim(0, 1.15 * max(values) if values and max(values) > 0 else 1.0)
        _epoch_axis(ax, [e for line in lines.values() for e in line["epoch"]])
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("firing rate during training (Hz)")
    _legend(axes, len(lines), extra=[
        (Line2D([], [], ls="none", marker="o", mfc="none", mew=1.3, color="0.3"),
         "step 1 (equilibrium)"),
        (Line2D([], [], ls="none", marker="o", mew=1.3, color="0.3"),
         "steps 2-3 (consolidation)")])
    fig.suptitle(f"hidden firing rates per epoch ({title_data(runs)})", fontsize=10)
    fig.tight_layout()
    return fig


def figure_consolidation(runs):
    """Teacher-off accuracy on the probe images (solid) and the training chunks' accuracy
    (dashed, an upper bound) against the consolidation samples trained, one colour per
    run; diamonds: the evaluated accuracy after each epoch."""
    lines = _consolidation_lines(runs)
    _check("consolidation", lines, runs)
    styles = _styles(runs)
    fig, ax = plt.subplots(figsize=(6.4, 3.9))
    for label, line in lines.items():
        style = styles[label]
        labelled = False
        if line["probe_samples"]:
            ax.plot(line["probe_samples"], line["probe_accuracy"], lw=1.6, marker="o",
                    ms=3.5, label=label, **style)
            labelled = True
        if line["samples"]:
            ax.plot(line["samples"], line["accuracy"], lw=0.8, alpha=0.7,
                    label=None if labelled else label,
                    **dict(style, ls="--" if labelled else style.get("ls", "-")))
            labelled = True
        if line["eval_accuracy"]:
            ax.plot(line["epoch_samples"], line["eval_accuracy"], ls="none", marker="D",
                    ms=6, mec="black", mew=0.6, color=style["color"],
                    label=None if labelled else label)
    ax.axhline(0.1, color="0.5", ls=":", lw=1, label="chance (10 classes)")
    extra = [(Line2D([], [], ls="none", marker="D", mec="black", mew=0.6, color="0.6"),
              "evaluated after each epoch")]
    if any(line["probe_samples"] and line["samples"] for line in lines.values()):
        extra = [(Line2D([], [], color="0.4", lw=1.6, marker="o", ms=3.5),
                  "probe images, learning off"),
                 (Line2D([], [], color="0.4", lw=0.8, ls="--"),
                  "training chunks (upper bound)")] + extra
    _legend([ax], len(lines), loc="lower right", extra=extra)
    ax.set_ylim(0, 1)
    ax.set_xlim(left=0)
    ax.set_xlabel("consolidation training samples (summed over epochs)")
    ax.set_ylabel("accuracy, teacher off")
    ax.set_title(f"steps 2-3: consolidation curve ({title_data(runs)})", fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def figure_ablation(runs):
    """Final accuracy per variant: mean ± sd over seeds as a bar, the seeds as dots."""
    groups = _ablation_groups(runs)
    _check("ablation", groups, runs)
    colours = {label: style["color"] for label, style in _styles(runs).items()}
    fig, ax = plt.subplots(figsize=(max(4.2, 1.05 * len(groups) + 1.8), 3.9))
    rng = np.random.default_rng(0)
    for k, (variant, g) in enumerate(groups.items()):
        colour = colours[g["labels"][0]]
        ax.bar(k, g["mean"], yerr=g["sd"], width=0.6, color=colour, alpha=0.45,
               edgecolor=colour, capsize=4, label=variant)
        jitter = rng.uniform(-0.12, 0.12, g["n"]) if g["n"] > 1 else np.zeros(1)
        ax.scatter(k + jitter, g["accuracy"], s=18, color=colour, edgecolors="black",
                   linewidths=0.5, zorder=3)
        ax.text(k, 0.01, f"n={g['n']}", ha="center", va="bottom", fontsize=7, color="0.25")
    ax.axhline(0.1, color="0.5", ls=":", lw=1)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([v.replace("_", " ") for v in groups], rotation=25, ha="right",
                       fontsize=8)
    ax.set_xlim(-0.6, len(groups) - 0.4)
    ax.set_ylim(0, 1)
    ax.set_ylabel("final accuracy (last evaluation)")
    seeds = sorted({g["n"] for g in groups.values()})
    count = f"{seeds[0]}" if len(seeds) == 1 else f"{seeds[0]}-{seeds[-1]}"
    ax.set_title(f"ablations: mean ± sd over {count} seed{'' if seeds == [1] else 's'} "
                 f"({title_data(runs)})", fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def _entry(name, stem, shows, draw):
    return Figure.of(name, stem, "none: the paper publishes no figures (interpretation)",
                     shows, draw, skip_reason)


FIGURES = (
    _entry("equilibrium", "zhang2018_interp_equilibrium",
           "step 1: mean absolute dV/dt of E and I cells per equilibrium epoch",
           figure_equilibrium),
    _entry("stp", "zhang2018_interp_stp",
           "short-term plasticity (u, x, r) of the central pixels' input synapses",
           figure_stp),
    _entry("rates", "zhang2018_interp_rates",
           "hidden E and I firing rates per training epoch", figure_rates),
    _entry("consolidation", "zhang2018_interp_consolidation",
           "teacher-off accuracy against consolidation samples trained",
           figure_consolidation),
    _entry("ablation", "zhang2018_interp_ablation",
           "final accuracy per ablation variant, mean and sd over seeds", figure_ablation),
)


def load(paths) -> list[dict]:
    """The balanced-tuning runs in ``paths``; see :func:`load_runs`."""
    return load_runs(paths)


def make(runs, out, names=None) -> list[Path]:
    """Write the figures of ``names`` (default: all) that ``runs`` (of :func:`load`) hold
    data for to ``out``; the written files, PNG then PDF of each."""
    return draw_figures(FIGURES, runs, out, names)
