"""analysis.report: the metrics of a run's recordings, on hand-built recordings with known
answers."""

import json

import numpy as np
import pytest

from analysis.recording import Population, spike_recording, write_spike_recording
from analysis.report import (SUBSAMPLE, changes, comparison_table, epoch_metrics, markdown,
                             run_report, write_report)

STEPS, DT = 40, 1.0


def regular(period, n_images, size, offset=0):
    """Every cell spikes every ``period`` steps in every image."""
    steps = np.arange(offset, STEPS, period)
    sample, neuron, step = np.meshgrid(np.arange(n_images), np.arange(size), steps,
                                       indexing="ij")
    return sample.ravel(), step.ravel(), neuron.ravel()


def recording(spikes, sizes, epoch=1, labels=(0, 0, 1, 1), steps=STEPS):
    populations = [Population(name, layer, size, kind, ei)
                   for name, (layer, size, kind, ei) in sizes.items()]
    return spike_recording(populations, spikes, dt_ms=DT, steps_per_sample=steps,
                           eval_indices=np.arange(len(labels)), labels=list(labels),
                           epoch=epoch, protocol="ei_ratio")


EI = {"E": (1, 6, "hidden", "E"), "I": (1, 3, "hidden", "I")}


def test_regular_identical_trains_have_cv_0_distance_0_correlation_1():
    # every cell of E and I spikes at the same steps: regular and identical
    rec = recording({"E": regular(4, 4, 6), "I": regular(4, 4, 3)}, EI)
    metrics = epoch_metrics(rec, tau_ms=DT)
    e = metrics["populations"]["E"]
    assert e["rate_hz"]["mean"] == pytest.approx(10 / 40e-3)  # 10 spikes in 40 ms
    assert e["rate_hz"]["silent_fraction"] == 0.0
    assert e["cv_isi"] == pytest.approx(0.0) and e["lv_isi"] == pytest.approx(0.0)
    assert e["fano"] == pytest.approx(0.0)  # the same count in every presentation
    assert e["sttc"] == pytest.approx(1.0)
    assert e["correlation"] == pytest.approx(1.0)
    vr = metrics["van_rossum"]["1"]
    assert (vr["E"], vr["I"]) == ("E", "I")
    assert vr["EE"] == pytest.approx(0.0, abs=1e-6)
    assert vr["II"] == pytest.approx(0.0, abs=1e-6)
    assert vr["EI"] == pytest.approx(0.0, abs=1e-6)


def test_poisson_like_trains_have_cv_and_fano_near_1_and_distance_above_0():
    rng = np.random.default_rng(3)
    steps, size, n = 2000, 30, 4
    raster = rng.random((n, steps, size)) < 0.02  # Bernoulli: geometric ISIs, CV ~ 0.99
    spikes = tuple(np.nonzero(raster))
    sizes = {"E": (1, size, "hidden", "E"), "I": (1, size, "hidden", "I")}
    rec = recording({"E": spikes, "I": tuple(np.nonzero(rng.random((n, steps, size)) < 0.02))},
                    sizes, steps=steps)
    metrics = epoch_metrics(rec, tau_ms=5.0)
    e = metrics["populations"]["E"]
    assert e["cv_isi"] == pytest.approx(1.0, abs=0.1)
    assert e["lv_isi"] == pytest.approx(1.0, abs=0.15)
    assert e["fano"] == pytest.approx(1.0, abs=0.5)  # 2 presentations per class: wide
    assert abs(e["correlation"]) < 0.05 and abs(e["sttc"]) < 0.1  # independent cells
    assert e["rate_hz"]["mean"] == pytest.approx(20.0, rel=0.1)
    assert metrics["van_rossum"]["1"]["EI"] > 1.0


def test_rates_per_class_and_the_change_from_epoch_0(tmp_path):
    sizes = {"E": (1, 2, "hidden", "E"), "I": (1, 2, "hidden", "I"),
             "out": (2, 1, "output", None)}
    # class 0 (images 0, 1): every 4 steps; class 1 (images 2, 3): every 2 steps
    def spikes():
        slow, fast = regular(4, 2, 2), regular(2, 2, 2)
        return tuple(np.concatenate([a, b + (2 if f == 0 else 0)])
                     for f, (a, b) in enumerate(zip(slow, fast)))
    before = {"E": regular(4, 4, 2), "I": regular(4, 4, 2), "out": ([], [], [])}
    after = {"E": spikes(), "I": regular(4, 4, 2), "out": regular(8, 4, 1)}
    write_spike_recording(tmp_path, recording(before, sizes, epoch=0))
    write_spike_recording(tmp_path, recording(after, sizes, epoch=3))
    report = run_report(tmp_path)
    assert report["epoch"] == 3 and report["recorded_epochs"] == [0, 3]
    assert report["tau_ms"] == DT  # default: one time step
    e = report["metrics"]["populations"]["E"]
    assert e["rate_hz_by_class"] == pytest.approx({"0": 250.0, "1": 500.0})
    change = report["change_from_epoch0"]["populations"]
    assert change["E"]["rate_hz"]["mean"] == pytest.approx(375.0 - 250.0)
    assert change["I"]["rate_hz"]["mean"] == pytest.approx(0.0)
    assert change["out"]["rate_hz"]["mean"] == pytest.approx(5 / 40e-3)
    assert change["out"]["cv_isi"] is None  # silent before: undefined, not 0
    assert "cells" not in change["E"] and "subsample" not in change["E"]
    assert report["metrics"]["van_rossum"].keys() == {"1"}  # only layer 1 has E and I

    out = write_report(report, tmp_path / "out")
    stored = json.loads((out / "report.json").read_text())
    assert stored["change_from_epoch0"]["populations"]["E"]["rate_hz"]["mean"] == 125.0
    text = (out / "report.md").read_text()
    assert "## E (hidden, E, 2 cells)" in text and "| rate (Hz) | 375 | 250 | 125 |" in text
    assert f"tau = {DT} ms" in text and "seed 0" in text
    assert "| E | 375 |" in comparison_table([report, report]).replace(f"| {report['run_id']} | 3 ", "")


def test_changes_skips_sizes_and_keeps_undefined_as_none():
    before = {"populations": {"A": {"cells": 3, "cv_isi": None, "fano": 1.0,
                                    "subsample": {"images": 2}}}, "van_rossum": {}}
    after = {"populations": {"A": {"cells": 3, "cv_isi": 0.5, "fano": 1.5,
                                   "subsample": {"images": 2}}}, "van_rossum": {}}
    assert changes(before, after) == {"populations": {"A": {"cv_isi": None, "fano": 0.5}}}


def test_subsample_is_seeded_and_reported():
    rng = np.random.default_rng(0)
    size = SUBSAMPLE["pair_cells"] + 10
    spikes = tuple(np.nonzero(rng.random((4, STEPS, size)) < 0.1))
    rec = recording({"A": spikes}, {"A": (1, size, "hidden", None)})
    first, second = epoch_metrics(rec, DT), epoch_metrics(rec, DT)
    assert first == second  # the same subsample each time
    assert first["populations"]["A"]["subsample"]["pair_cells"] == SUBSAMPLE["pair_cells"]
    assert first["van_rossum"] == {}  # no E and I populations
    assert "-" in markdown({"run_id": "r", "protocol": "p", "epoch": 1, "recorded_epochs": [1],
                            "dt_ms": DT, "steps_per_sample": STEPS, "tau_ms": DT,
                            "subsample": SUBSAMPLE,
                            "metrics": epoch_metrics(recording({"A": ([], [], [])},
                                                               {"A": (1, 2, "hidden", None)}),
                                                     DT)})
