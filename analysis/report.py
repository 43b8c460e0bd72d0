"""The analysis report of a run's spike recordings (``python -m analysis RUN``).

For one recorded epoch of a run (default: the last) and, where recorded, epoch 0
(before training), every population of the recording (:mod:`analysis.recording`) gets:

* firing rate (Hz): mean, median, 5th/95th percentiles, standard deviation and silent
  fraction of the per-cell rates (each cell's mean over the analysis images), and the
  population mean per class of image — :func:`analysis.firing.mean_rates`;
* CV and LV of inter-spike intervals, per cell and image, averaged over the cells and
  images with at least 3 spikes — :func:`analysis.firing.cv_isi`, :func:`~analysis.firing.lv_isi`;
* Fano factor of each cell's spike count across the presentations of the images of one
  class, averaged over cells and classes with 2 or more images —
  :func:`analysis.firing.fano_factor`;
* mean pairwise spike-count correlation (bins of one time step) and mean STTC (window
  one time step), over pairs of a subsample of cells, per image of a subsample of
  images — :func:`analysis.synchrony.correlation_matrix`, :func:`~analysis.synchrony.sttc_matrix`;
* spike-contrast synchrony (smallest bin one time step) per image of the image
  subsample — :func:`analysis.synchrony.spike_contrast`;

and every hidden layer with an E and an I population gets the mean van Rossum distance
within E, within I and between E and I (:func:`analysis.distances.van_rossum_matrix_fast`,
Elephant's normalisation, and :func:`~analysis.distances.population_distances`), ``tau``
one time step unless given. Every metric is an Elephant function or tested against one.

The quadratic metrics use a seeded subsample (:data:`SUBSAMPLE`), written into the
report. Each metric's change from epoch 0 is ``value(epoch) - value(0)``. Means skip
undefined values (NaN: a silent cell has no CV); a metric undefined everywhere is
``null`` in ``report.json`` and ``-`` in ``report.md``.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import quantities as pq

from analysis import distances, firing, synchrony
from analysis.conversion import spike_trains_from_arrays
from analysis.recording import read_spike_recording, recorded_epochs, recording_segments

__all__ = ["SUBSAMPLE", "population_metrics", "van_rossum_metrics", "epoch_metrics",
           "run_report", "changes", "write_report", "comparison_table", "export_run_nix"]

#: Sizes of the seeded subsamples of the metrics that are quadratic in cells or slow
#: per train: ``images`` for correlation, STTC, spike contrast and van Rossum;
#: ``pair_cells`` cells per population for correlation and STTC; ``vr_cells`` cells
#: per E or I population for van Rossum; ``isi_cells`` cells per population in
#: ``isi_images`` images for CV and LV; ``fano_cells`` for the Fano factor (all images).
#: Rates use every cell and image. ``seed`` seeds numpy's default_rng.
SUBSAMPLE = {"seed": 0, "images": 10, "pair_cells": 40, "vr_cells": 200, "isi_cells": 100,
             "isi_images": 20, "fano_cells": 40}

#: Metrics of the summary tables: (key in a population's metrics, column title).
MAIN_METRICS = (("rate_hz.mean", "rate (Hz)"), ("cv_isi", "CV ISI"), ("lv_isi", "LV ISI"),
                ("fano", "Fano"), ("correlation", "count corr."), ("sttc", "STTC"),
                ("spike_contrast", "spike contrast"))


def _mean(values) -> float | None:
    values = np.asarray(values, dtype=float).ravel()
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else None


def _choose(rng, n: int, k: int) -> np.ndarray:
    """``k`` of ``range(n)`` (all where ``n <= k``), sorted."""
    return np.arange(n) if n <= k else np.sort(rng.choice(n, size=k, replace=False))


def _off_diagonal_mean(matrix) -> float | None:
    matrix = np.asarray(matrix, dtype=float)
    return _mean(matrix[~np.eye(len(matrix), dtype=bool)]) if len(matrix) > 1 else None


def population_metrics(recording, name: str, subsample: dict = SUBSAMPLE,
                       images=None) -> dict:
    """The metrics of one population (see the module docstring) as a JSON-ready dict.

    ``images``: the positions of the image subsample of the pairwise metrics (default:
    drawn from ``subsample``)."""
    population = recording.population(name)
    rng = np.random.default_rng([subsample["seed"], population.layer, len(name)])
    if images is None:
        images = _choose(np.random.default_rng(subsample["seed"]), recording.n_samples,
                         subsample["images"])
    dt = recording.dt_ms * pq.ms
    n_images, n_cells = recording.n_samples, population.size
    spikes = recording.spikes[name]
    span = recording.duration_ms
    # each cell's spikes over the whole analysis set, image after image: one train per
    # cell, so that Elephant's rate costs one call per cell, not per cell and image
    times = spikes["sample"].astype(np.int64) * span + spikes["step"] * recording.dt_ms
    whole = spike_trains_from_arrays(times, spikes["neuron"], n_cells,
                                     t_stop=n_images * span)
    per_cell = firing.mean_rates(whole).magnitude
    by_class = {}
    for c in np.unique(recording.labels):
        shown = np.flatnonzero(recording.labels == c)
        during = np.isin(spikes["sample"], shown)
        # all cells' spikes during the class's images, pooled into one train, images
        # one after another: its rate / cells is the population's mean rate there
        pooled = spike_trains_from_arrays(
            np.searchsorted(shown, spikes["sample"][during]) * span
            + spikes["step"][during] * recording.dt_ms,
            np.zeros(int(during.sum()), dtype=int), 1, t_stop=len(shown) * span)
        by_class[str(c)] = float(firing.mean_rates(pooled).magnitude[0]) / n_cells
    rate = {"mean": float(per_cell.mean()), "median": float(np.median(per_cell)),
            "p5": float(np.percentile(per_cell, 5)), "p95": float(np.percentile(per_cell, 95)),
            "std": float(per_cell.std()), "silent_fraction": float(np.mean(per_cell == 0))}

    # trains per image of the cells the other metrics use: [image][cell]
    isi_cells = _choose(rng, n_cells, subsample["isi_cells"])
    fano_cells = _choose(rng, n_cells, subsample["fano_cells"])
    pair_cells = _choose(rng, n_cells, subsample["pair_cells"])
    segments = recording_segments(recording, [name])
    trains = [segment.spiketrains for segment in segments]

    isi_images = _choose(rng, n_images, subsample["isi_images"])
    chosen = [trains[k][j] for k in isi_images for j in isi_cells]
    cv = _mean(firing.cv_isi(chosen))
    lv = _mean(firing.lv_isi(chosen))

    fanos = []
    with np.errstate(invalid="ignore", divide="ignore"):
        for c in np.unique(recording.labels):
            shown = np.flatnonzero(recording.labels == c)
            if shown.size >= 2:
                fanos.append(firing.fano_factor([[trains[k][j] for j in fano_cells]
                                                 for k in shown]))
    fano = _mean(np.concatenate(fanos)) if fanos else None

    correlations, sttcs, contrasts = [], [], []
    for k in images:
        pairs = [trains[k][j] for j in pair_cells]
        if len(pairs) > 1:
            correlations.append(_off_diagonal_mean(synchrony.correlation_matrix(pairs, dt)))
            sttcs.append(_off_diagonal_mean(synchrony.sttc_matrix(pairs, dt)))
        try:
            contrasts.append(synchrony.spike_contrast(trains[k], min_bin=dt))
        except ValueError:  # fewer than 2 cells, or no cell with 2 spikes: undefined
            pass
    return {
        "cells": n_cells, "kind": population.kind, "ei": population.ei,
        "layer": population.layer,
        "rate_hz": rate, "rate_hz_by_class": by_class,
        "cv_isi": cv, "lv_isi": lv, "fano": fano,
        "correlation": _mean([c for c in correlations if c is not None]),
        "sttc": _mean([s for s in sttcs if s is not None]),
        "spike_contrast": _mean(contrasts),
        "subsample": {"isi_cells": len(isi_cells), "isi_images": len(isi_images),
                      "fano_cells": len(fano_cells),
                      "pair_cells": len(pair_cells), "images": len(images),
                      "images_total": n_images},
    }


def van_rossum_metrics(recording, tau_ms: float, subsample: dict = SUBSAMPLE,
                       images=None) -> dict:
    """``{layer: {"E": name, "I": name, "EE", "II", "EI"}}``: mean van Rossum distances
    within and between the E and I populations of each layer that has both, averaged
    over the image subsample (Elephant's normalisation)."""
    if images is None:
        images = _choose(np.random.default_rng(subsample["seed"]), recording.n_samples,
                         subsample["images"])
    out = {}
    for layer in sorted({p.layer for p in recording.populations}):
        pops = {p.ei: p for p in recording.populations if p.layer == layer and p.ei}
        if set(pops) != {"E", "I"}:
            continue
        rng = np.random.default_rng([subsample["seed"], layer])
        cells = {ei: _choose(rng, pops[ei].size, subsample["vr_cells"]) for ei in "EI"}
        segments = recording_segments(recording, [pops["E"].name, pops["I"].name], images)
        values = []
        for segment in segments:
            e_trains = segment.spiketrains[:pops["E"].size]
            i_trains = segment.spiketrains[pops["E"].size:]
            trains = [e_trains[j] for j in cells["E"]] + [i_trains[j] for j in cells["I"]]
            matrix = distances.van_rossum_matrix_fast(trains, tau_ms * pq.ms)
            mask = np.arange(len(trains)) < len(cells["E"])
            values.append(distances.population_distances(matrix, mask))
        out[str(layer)] = {"E": pops["E"].name, "I": pops["I"].name,
                           "E_cells": len(cells["E"]), "I_cells": len(cells["I"]),
                           **{k: _mean([v[k] for v in values]) for k in ("EE", "II", "EI")}}
    return out


def epoch_metrics(recording, tau_ms: float, subsample: dict = SUBSAMPLE,
                  progress=None) -> dict:
    """Every population's metrics and the van Rossum distances of one recording."""
    images = _choose(np.random.default_rng(subsample["seed"]), recording.n_samples,
                     subsample["images"])
    populations = {}
    for population in recording.populations:
        if progress:
            progress(f"epoch {recording.epoch}: {population.name} ({population.size} cells)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            populations[population.name] = population_metrics(
                recording, population.name, subsample, images)
    if progress:
        progress(f"epoch {recording.epoch}: van Rossum distances")
    return {"epoch": recording.epoch, "n_images": recording.n_samples,
            "populations": populations,
            "van_rossum": van_rossum_metrics(recording, tau_ms, subsample, images)}


def _flatten(tree, prefix="") -> dict:
    out = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, path + "."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool) or value is None:
            out[path] = value
    return out


def _unflatten(flat: dict) -> dict:
    out = {}
    for path, value in flat.items():
        node = out
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


#: Numbers of a population's metrics that are sizes, not measurements: no change.
_NOT_METRICS = ("cells", "layer", "subsample", "E_cells", "I_cells")


def changes(before: dict, after: dict) -> dict:
    """``after - before`` of every metric both :func:`epoch_metrics` dicts hold
    (``None`` where either is undefined), in the same nesting."""
    a = _flatten({"populations": before["populations"], "van_rossum": before["van_rossum"]})
    b = _flatten({"populations": after["populations"], "van_rossum": after["van_rossum"]})
    diff = {}
    for path, value in b.items():
        if path not in a or any(part in _NOT_METRICS for part in path.split(".")):
            continue
        diff[path] = None if value is None or a[path] is None else value - a[path]
    return _unflatten(diff)


def run_report(run, epoch: int | None = None, tau_ms: float | None = None,
               subsample: dict = SUBSAMPLE, progress=None) -> dict:
    """The report of one run: the metrics of ``epoch`` (default: the last recorded), of
    epoch 0 where recorded, and their changes (see the module docstring).

    Raises
    ------
    analysis.recording.RecordingError
        No recordings, an epoch that was not recorded, a damaged file.
    ValueError
        ``tau_ms <= 0``.
    """
    run = Path(run)
    epochs = recorded_epochs(run)
    recording = read_spike_recording(run, epoch)
    tau = recording.dt_ms if tau_ms is None else float(tau_ms)
    if not (math.isfinite(tau) and tau > 0):
        raise ValueError(f"--tau-ms must be a positive number of ms, got {tau_ms}")
    report = {"run": str(run), "run_id": run.resolve().name, "protocol": recording.protocol,
              "epoch": recording.epoch, "recorded_epochs": epochs, "dt_ms": recording.dt_ms,
              "steps_per_sample": recording.steps_per_sample, "tau_ms": tau,
              "subsample": dict(subsample),
              "metrics": epoch_metrics(recording, tau, subsample, progress)}
    if 0 in epochs and recording.epoch != 0:
        report["epoch0"] = epoch_metrics(read_spike_recording(run, 0), tau, subsample, progress)
        report["change_from_epoch0"] = changes(report["epoch0"], report["metrics"])
    return report


def _number(value) -> str:
    return "-" if value is None else f"{value:.3g}"


def _get(metrics: dict, key: str):
    for part in key.split("."):
        metrics = metrics.get(part) if isinstance(metrics, dict) else None
    return metrics


def markdown(report: dict) -> str:
    """``report.md``: one table of the main metrics per population, of the epoch, epoch
    0 and their change; the van Rossum distances; the settings."""
    lines = [f"# Analysis of {report['run_id']} ({report['protocol']}), epoch {report['epoch']}",
             "", f"Recorded epochs: {', '.join(map(str, report['recorded_epochs']))}; "
             f"dt {report['dt_ms']} ms, {report['steps_per_sample']} steps per image, "
             f"{report['metrics']['n_images']} images. van Rossum tau = {report['tau_ms']} ms. "
             f"Subsample (seed {report['subsample']['seed']}): {report['subsample']}.", ""]
    columns = [("epoch", report["metrics"])]
    if "epoch0" in report:
        columns += [("epoch 0", report["epoch0"]), ("change", report["change_from_epoch0"])]
    for name in report["metrics"]["populations"]:
        pop = report["metrics"]["populations"][name]
        lines += [f"## {name} ({pop['kind']}{', ' + pop['ei'] if pop['ei'] else ''}, "
                  f"{pop['cells']} cells)", "",
                  "| metric | " + " | ".join(c for c, _ in columns) + " |",
                  "|---" * (len(columns) + 1) + "|"]
        for key, title in MAIN_METRICS:
            values = [_get(m.get("populations", {}).get(name, {}), key) for _, m in columns]
            lines.append(f"| {title} | " + " | ".join(map(_number, values)) + " |")
        lines.append("")
    if report["metrics"]["van_rossum"]:
        lines += ["## van Rossum distances (mean over pairs)", "",
                  "| layer | pair | " + " | ".join(c for c, _ in columns) + " |",
                  "|---" * (len(columns) + 2) + "|"]
        for layer, vr in report["metrics"]["van_rossum"].items():
            for pair in ("EE", "II", "EI"):
                values = [_get(m.get("van_rossum", {}), f"{layer}.{pair}") for _, m in columns]
                lines.append(f"| {layer} | {pair} | " + " | ".join(map(_number, values)) + " |")
        lines.append("")
    return "\n".join(lines)


def write_report(report: dict, out: Path) -> Path:
    """Write ``report.json`` and ``report.md`` to ``out`` (created); returns ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    (out / "report.md").write_text(markdown(report) + "\n")
    return out


def comparison_table(reports) -> str:
    """Markdown: the main metrics of each run's chosen epoch, one row per run and
    population, side by side."""
    titles = [t for _, t in MAIN_METRICS]
    lines = ["# Runs side by side", "",
             "| run | epoch | population | " + " | ".join(titles) + " |",
             "|---" * (len(titles) + 3) + "|"]
    for report in reports:
        for name, pop in report["metrics"]["populations"].items():
            lines.append(f"| {report['run_id']} | {report['epoch']} | {name} | "
                         + " | ".join(_number(_get(pop, k)) for k, _ in MAIN_METRICS) + " |")
    return "\n".join(lines) + "\n"


def export_run_nix(run, epoch: int, path) -> Path:
    """The spikes of ``epoch`` with their annotations (one Segment per image) to a NIX
    file, through :func:`analysis.conversion.export_nix`."""
    from analysis.conversion import export_nix

    recording = read_spike_recording(run, epoch)
    return export_nix(recording_segments(recording), path,
                      annotations={"run": str(Path(run).resolve().name),
                                   "protocol": recording.protocol, "epoch": recording.epoch,
                                   "dt_ms": recording.dt_ms})
