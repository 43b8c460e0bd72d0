"""Figures of PLIF and STL runs: they plot exactly the numbers of the run folders.

The run folders are written by hand here (config.json, metrics.jsonl, recordings, noise.json
as :func:`experiments.neuron_parameters.run` writes them): nothing is simulated or compiled.
Every metric of a record gets its own value, so a figure that plotted the wrong column
would fail.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from runs import RunFolder  # noqa: E402
from figures import neuron_parameters as common  # noqa: E402
from figures import plif as plif_figs  # noqa: E402
from figures import stl as stl_figs  # noqa: E402
from figures.__main__ import main  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
EPOCHS = 3
N_HIDDEN, N_OUT = 20, 30


def _config(study, condition, tau, seed=0):
    return {"study": study, "condition": condition, "preset": "quick", "dataset": "digits",
            "tau": float(tau), "tau_per": "layer", "theta": 1.0 if study == "plif" else 2.0,
            "n_hidden": N_HIDDEN, "n_vote": 3, "n_steps": 8, "dt_ms": 1.0, "epochs": EPOCHS,
            "seed": seed, "eval_split": "test", "noise_samples": 50}


def _metrics(rng, study, condition, tau):
    """One record per evaluation, epoch 0 first; every number distinct."""
    learns_tau = condition == "plif"
    learns_theta = condition in ("stl", "tl")
    records = []
    tau_h, tau_o = float(tau), float(tau)
    for epoch in range(EPOCHS + 1):
        if epoch and learns_tau:
            tau_h, tau_o = tau_h * rng.uniform(0.6, 0.9), tau_o * rng.uniform(0.5, 0.8)
        synops = float(rng.uniform(2e3, 5e4))
        m = {"epoch": epoch, "split": "test", "accuracy": float(rng.uniform(0.05, 0.95)),
             "loss": float(rng.uniform(0.01, 0.1)), "hidden_rate": float(rng.uniform(0.01, 0.4)),
             "output_rate": float(rng.uniform(0.01, 0.4)), "synops_per_sample": synops,
             "ann_macs": 32800, "synops_to_macs": synops / 32800, "tau_hidden": tau_h,
             "tau_output": tau_o,
             "theta_hidden_mean": 2.0 + (0.1 * epoch if learns_theta else 0.0),
             "theta_hidden_std": 0.05 * epoch if learns_theta else 0.0,
             "theta_output_mean": 2.0 - (0.1 * epoch if learns_theta else 0.0),
             "theta_output_std": 0.03 * epoch if learns_theta else 0.0}
        if epoch:
            m.update(train_accuracy=float(rng.uniform(0.05, 0.95)),
                     train_hidden_rate=float(rng.uniform(0.01, 0.4)),
                     train_output_rate=float(rng.uniform(0.01, 0.4)),
                     train_synops_per_sample=float(rng.uniform(2e3, 5e4)),
                     train_samples_per_s=900.0, train_seconds=1.3)
        records.append(m)
    return records


def _write_run(root, study, condition, tau, rng, noise=True, seed=0, spread_before=False):
    folder = RunFolder.create(root, study, _config(study, condition, tau, seed),
                              run_id=f"digits-{condition}-tau{tau:g}-s{seed}")
    metrics = _metrics(rng, study, condition, tau)
    folder.write_metrics(metrics)
    theta0 = 1.0 if study == "plif" else 2.0
    for m in metrics:
        learned = condition in ("stl", "tl") and (m["epoch"] > 0 or spread_before)
        spread = 0.1 * (m["epoch"] + 1) if learned else 0.0
        spikes = rng.integers(0, [2, 8, N_HIDDEN], size=(40, 3))
        folder.write_recording(f"epoch-{m['epoch']:04d}", {
            "tau_hidden": np.full(N_HIDDEN, m["tau_hidden"]),
            "tau_output": np.full(N_OUT, m["tau_output"]),
            "theta_hidden": theta0 + spread * rng.standard_normal(N_HIDDEN),
            "theta_output": theta0 + spread * rng.standard_normal(N_OUT),
            "n_hidden": np.array(N_HIDDEN), "n_steps": np.array(8), "dt_ms": np.array(1.0),
            "sample": spikes[:, 0].astype(np.int32), "step": spikes[:, 1].astype(np.int32),
            "neuron": spikes[:, 2].astype(np.int32), "labels": np.array([3, 7])})
    if noise:
        results = [{"kind": "gaussian", "level": 0.0}] + [
            {"kind": "gaussian", "level": s} for s in (0.1, 0.3)] + [
            {"kind": "salt_pepper", "level": q} for q in (0.05, 0.2)]
        for r in results:
            r.update(accuracy=float(rng.uniform(0.1, 0.9)), n=50)
        (folder.path / "noise.json").write_text(json.dumps({"n_samples": 50, "results": results}))
    return folder.path


@pytest.fixture
def plif_root(tmp_path):
    rng = np.random.default_rng(5)
    root = tmp_path / "results"
    for condition, tau in (("lif", 16), ("plif", 16), ("plif", 2), ("lif", 2)):
        _write_run(root, "plif", condition, tau, rng)
    return root


@pytest.fixture
def stl_root(tmp_path):
    rng = np.random.default_rng(7)
    root = tmp_path / "results"
    _write_run(root, "stl", "tl", 2, rng, spread_before=True)
    _write_run(root, "stl", "sl", 2, rng, noise=False)
    _write_run(root, "stl", "stl", 2, rng)
    return root


def _metrics_of(root, study, condition, tau=2):
    (run,) = [p for p in (root / study).iterdir()
              if p.name.startswith(f"digits-{condition}-tau{tau:g}-")]
    return RunFolder(run), RunFolder(run).read_metrics()


def _lines(ax):
    """The labelled data lines of ``ax`` (not the chance line), by label."""
    return {line.get_label(): line for line in ax.lines
            if not line.get_label().startswith(("_", "chance"))}


# --------------------------------------------------------------------------------------
# PLIF
# --------------------------------------------------------------------------------------


def test_plif_runs_are_found_sorted_and_labelled(plif_root):
    runs = plif_figs.load_runs(plif_root / "plif")
    assert [r["label"] for r in runs] == ["PLIF tau0=2", "PLIF tau0=16", "LIF tau=2",
                                          "LIF tau=16"]
    # a results root, a run folder, and the same run twice: each run once
    one = plif_root / "plif" / "digits-plif-tau2-s0"
    assert [r["label"] for r in plif_figs.load_runs([plif_root, one])] == [
        r["label"] for r in runs]
    assert [r["label"] for r in plif_figs.load_runs(one)] == ["PLIF tau0=2"]


def test_plif_accuracy_figure_plots_the_accuracy_of_every_epoch(plif_root):
    runs = plif_figs.load_runs(plif_root / "plif")
    fig = plif_figs.figure_accuracy(runs)
    (ax,) = fig.axes
    lines = _lines(ax)
    assert list(lines) == ["PLIF tau0=2", "PLIF tau0=16", "LIF tau=2", "LIF tau=16"]
    for label, (condition, tau) in {"PLIF tau0=2": ("plif", 2), "PLIF tau0=16": ("plif", 16),
                                    "LIF tau=2": ("lif", 2), "LIF tau=16": ("lif", 16)}.items():
        _, metrics = _metrics_of(plif_root, "plif", condition, tau)
        np.testing.assert_array_equal(lines[label].get_xdata(), range(EPOCHS + 1))
        np.testing.assert_allclose(lines[label].get_ydata(), [m["accuracy"] for m in metrics])
    assert lines["LIF tau=16"].get_linestyle() == "--"
    assert lines["PLIF tau0=16"].get_color() == lines["LIF tau=16"].get_color()
    plt.close(fig)
    values = plif_figs.plotted_values(runs)["accuracy"]
    assert values["LIF tau=2"]["accuracy"] == [
        m["accuracy"] for m in _metrics_of(plif_root, "plif", "lif", 2)[1]]


def test_plif_tau_figure_plots_the_learned_tau_per_layer_of_plif_runs_only(plif_root):
    runs = plif_figs.load_runs(plif_root / "plif")
    fig = plif_figs.figure_tau(runs)
    hidden, output = fig.axes
    assert hidden.get_yscale() == "log"
    for ax, key in ((hidden, "tau_hidden"), (output, "tau_output")):
        lines = _lines(ax)
        assert list(lines) == ["PLIF tau0=2", "PLIF tau0=16"]  # no LIF: its tau is fixed
        for tau in (2, 16):
            _, metrics = _metrics_of(plif_root, "plif", "plif", tau)
            line = lines[f"PLIF tau0={tau}"]
            np.testing.assert_array_equal(line.get_xdata(), range(EPOCHS + 1))
            np.testing.assert_allclose(line.get_ydata(), [m[key] for m in metrics])
    plt.close(fig)
    values = plif_figs.plotted_values(runs)["tau"]
    assert set(values) == {"PLIF tau0=2", "PLIF tau0=16"} and values["PLIF tau0=16"]["tau0"] == 16


def test_plif_tau_figure_is_skipped_without_plif_runs(tmp_path, capsys):
    rng = np.random.default_rng(1)
    run = _write_run(tmp_path, "plif", "lif", 4, rng)
    runs = plif_figs.load_runs(run)
    assert "no PLIF run" in plif_figs.skip_reason("tau", runs)
    with pytest.raises(ValueError, match="cannot draw 'tau'"):
        plif_figs.figure_tau(runs)
    assert main(["plif", str(run)]) == 0  # default: RUN/figures
    out = capsys.readouterr().out
    assert "skipped tau: no PLIF run" in out
    assert f"wrote 2 files (accuracy) to {run.resolve() / 'figures'}" in out


# --------------------------------------------------------------------------------------
# STL
# --------------------------------------------------------------------------------------


def test_stl_accuracy_figure_plots_every_condition(stl_root):
    runs = stl_figs.load_runs(stl_root)  # the results root: results/stl/* inside
    assert [r["label"] for r in runs] == ["STL", "SL", "TL"]
    fig = stl_figs.figure_accuracy(runs)
    lines = _lines(fig.axes[0])
    for condition in ("stl", "sl", "tl"):
        _, metrics = _metrics_of(stl_root, "stl", condition)
        line = lines[condition.upper()]
        np.testing.assert_array_equal(line.get_xdata(), [m["epoch"] for m in metrics])
        np.testing.assert_allclose(line.get_ydata(), [m["accuracy"] for m in metrics])
        assert line.get_color() == stl_figs.CONDITION_COLOURS[condition]
    plt.close(fig)


def test_stl_threshold_histograms_show_the_first_and_last_recordings(stl_root):
    runs = stl_figs.load_runs(stl_root / "stl")
    values = stl_figs.plotted_values(runs)["thresholds"]
    assert list(values) == ["STL", "TL"]  # SL keeps its thresholds
    fig = stl_figs.figure_thresholds(runs)
    axes = np.array(fig.axes).reshape(2, 2)
    for row, condition in zip(axes, ("stl", "tl")):
        folder, _ = _metrics_of(stl_root, "stl", condition)
        before = folder.read_recording("epoch-0000")
        after = folder.read_recording(f"epoch-{EPOCHS:04d}")
        entry = values[condition.upper()]
        assert (entry["before_epoch"], entry["after_epoch"]) == (0, EPOCHS)
        for ax, layer in zip(row, stl_figs.LAYERS):
            data = entry[layer]
            np.testing.assert_array_equal(data["before"], before[f"theta_{layer}"])
            np.testing.assert_array_equal(data["after"], after[f"theta_{layer}"])
            heights = [p.get_height() for p in ax.containers[-1].patches]
            np.testing.assert_array_equal(heights, np.histogram(after[f"theta_{layer}"],
                                                                bins=data["bins"])[0])
            if condition == "stl":  # every cell starts at 2: a line, not a histogram
                assert len(ax.containers) == 1
                (line,) = ax.lines
                np.testing.assert_array_equal(line.get_xdata(), [2.0, 2.0])
            else:
                first = [p.get_height() for p in ax.containers[0].patches]
                np.testing.assert_array_equal(first, np.histogram(before[f"theta_{layer}"],
                                                                  bins=data["bins"])[0])
            assert ax.get_title().startswith(f"{condition.upper()}: {layer} layer")
    plt.close(fig)


def test_stl_rate_bars_are_the_last_epochs_rates_per_layer(stl_root):
    runs = stl_figs.load_runs(stl_root / "stl")
    fig = stl_figs.figure_rates(runs)
    (ax,) = fig.axes
    assert len(ax.containers) == 3
    for container, condition in zip(ax.containers, ("stl", "sl", "tl")):
        _, metrics = _metrics_of(stl_root, "stl", condition)
        heights = [p.get_height() for p in container.patches]
        np.testing.assert_allclose(heights, [metrics[-1]["hidden_rate"],
                                             metrics[-1]["output_rate"]])
        assert container.get_label().startswith(f"{condition.upper()} (epoch {EPOCHS})")
    dashes = [line for line in ax.lines if line.get_marker() == "_"]
    for dash, condition in zip(dashes, ("stl", "sl", "tl")):
        _, metrics = _metrics_of(stl_root, "stl", condition)
        np.testing.assert_allclose(dash.get_ydata(), [metrics[0]["hidden_rate"],
                                                      metrics[0]["output_rate"]])
    plt.close(fig)


def test_stl_noise_figure_plots_noise_json_per_kind(stl_root):
    runs = stl_figs.load_runs(stl_root / "stl")
    fig = stl_figs.figure_noise(runs)
    gaussian, salt = fig.axes
    for condition in ("stl", "tl"):
        folder, _ = _metrics_of(stl_root, "stl", condition)
        results = json.loads((folder.path / "noise.json").read_text())["results"]
        clean = results[0]["accuracy"]
        g = _lines(gaussian)[condition.upper()]
        np.testing.assert_allclose(g.get_xdata(), [0.0, 0.1, 0.3])
        np.testing.assert_allclose(g.get_ydata(), [r["accuracy"] for r in results[:3]])
        s = _lines(salt)[condition.upper()]
        np.testing.assert_allclose(s.get_xdata(), [0.0, 0.05, 0.2])
        np.testing.assert_allclose(s.get_ydata(), [clean] + [r["accuracy"] for r in results[3:]])
    assert "SL" not in _lines(gaussian)  # no noise.json
    plt.close(fig)


def test_stl_synops_figure_compares_synops_with_ann_macs(stl_root):
    runs = stl_figs.load_runs(stl_root / "stl")
    fig = stl_figs.figure_synops(runs)
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    snn, ann = ax.containers
    expected = [_metrics_of(stl_root, "stl", c)[1][-1] for c in ("stl", "sl", "tl")]
    np.testing.assert_allclose([p.get_height() for p in snn.patches],
                               [m["synops_per_sample"] for m in expected])
    np.testing.assert_allclose([p.get_height() for p in ann.patches],
                               [m["ann_macs"] for m in expected])
    values = stl_figs.plotted_values(runs)["synops"]
    assert values["SL"]["synops_to_macs"] == pytest.approx(expected[1]["synops_to_macs"])
    plt.close(fig)


def test_stl_cli_writes_every_figure_and_says_what_it_skipped(stl_root, tmp_path, capsys):
    assert main(["stl", str(stl_root / "stl"), "--out", str(tmp_path / "a")]) == 0
    for stem in ("sun2024_extra_accuracy", "sun2024_fig4_thresholds", "sun2024_extra_rates",
                 "sun2024_fig6_noise", "sun2024_extra_synops"):
        for ext in ("png", "pdf"):
            assert (tmp_path / "a" / f"{stem}.{ext}").stat().st_size > 5000
    assert ("wrote 10 files (accuracy, thresholds, rates, noise, synops)"
            in capsys.readouterr().out)
    sl = stl_root / "stl" / "digits-sl-tau2-s0"
    assert main(["stl", str(sl)]) == 0
    out = capsys.readouterr().out
    assert "skipped thresholds: no run learns thresholds" in out
    assert "skipped noise: no run has noise.json" in out
    assert sorted(p.name for p in (sl / "figures").iterdir()) == [
        f"sun2024_extra_{n}.{x}" for n in ("accuracy", "rates", "synops") for x in ("pdf", "png")]
    # several paths: <common parent>/figures; the figures folder inside is not a run
    tl = stl_root / "stl" / "digits-tl-tau2-s0"
    assert common.default_out([sl, tl]) == (stl_root / "stl").resolve() / "figures"
    assert len(stl_figs.load_runs(stl_root / "stl")) == 3


def test_plif_cli_writes_both_figures(plif_root, tmp_path, capsys):
    assert main(["plif", str(plif_root / "plif"), "--out", str(tmp_path / "p")]) == 0
    for stem in ("fang2021_fig3_accuracy", "fang2021_fig3_tau"):
        for ext in ("png", "pdf"):
            assert (tmp_path / "p" / f"{stem}.{ext}").stat().st_size > 5000
    assert "wrote 4 files (accuracy, tau)" in capsys.readouterr().out


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


def test_a_folder_without_runs_exits_2_with_a_clear_message(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = subprocess.run([sys.executable, "-m", "figures", "stl", str(empty)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert f"'{empty}' is not a stl run folder and holds none" in proc.stderr
    assert "results/stl/<run-id>" in proc.stderr and "Traceback" not in proc.stderr


def test_wrong_study_missing_folder_and_unfinished_runs_exit_2(plif_root, stl_root, tmp_path,
                                                               capsys):
    run = plif_root / "plif" / "digits-plif-tau2-s0"
    assert main(["stl", str(run)]) == 2
    err = capsys.readouterr().err
    assert "is a 'plif' run, not 'stl'" in err and "python -m figures plif" in err
    assert main(["plif", str(stl_root / "stl")]) == 2
    assert "holds none" in (err := capsys.readouterr().err) and "It holds runs of stl" in err
    missing = tmp_path / "nowhere"
    assert main(["plif", str(missing)]) == 2
    assert f"'{missing}' does not exist" in capsys.readouterr().err
    fresh = RunFolder.create(tmp_path / "fresh", "plif", _config("plif", "plif", 2))
    assert main(["plif", str(fresh.path)]) == 2  # created, never evaluated
    assert "no plif run has evaluated yet" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown figure"):
        plif_figs.make(plif_figs.load(run), tmp_path / "x", names=["nope"])

