"""Figures of the E:I-ratio sweeps: they plot exactly the numbers of the summaries."""

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
from matplotlib.collections import PathCollection  # noqa: E402

from runs import RunFolder  # noqa: E402
from figures import ei_ratio as figs  # noqa: E402
from figures.__main__ import main  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def _metrics(rng, e, rate, peak, final):
    vr = lambda: float(rng.uniform(0.2, 1.8))  # noqa: E731
    return {
        "initial_rate_hz": rate, "initial_accuracy": 0.1,
        "initial_van_rossum_EE": vr(), "initial_van_rossum_EI": None if e == 1.0 else vr(),
        "initial_van_rossum_II": None if e == 1.0 else vr(),
        "peak_accuracy": peak, "peak_epoch": 2, "final_accuracy": final,
        "success": peak >= 0.5, "epochs": 3, "final_rate_hz": rate * 1.1,
        "hidden_spikes_per_sample": float(rng.uniform(20, 500)),
        "exc_spike_percent": float(100 * e + rng.uniform(-5, 5)) if e < 1 else 100.0,
        "final_van_rossum_EE": vr(), "final_van_rossum_EI": None if e == 1.0 else vr(),
        "final_van_rossum_II": None if e == 1.0 else vr(),
        "train_samples_per_s": 900.0,
    }


def _write_sweep(folder: Path, records) -> Path:
    folder.mkdir(parents=True)
    (folder / "summary.jsonl").write_text(
        "".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
    return folder


@pytest.fixture
def sweeps(tmp_path):
    """Hand-written summaries of a rate sweep (3 E fractions x 2 input scales x 2
    trials, one failed task) and a noise sweep (2 x 2 x 2 trials)."""
    rng = np.random.default_rng(3)
    rate = []
    for e in (0.8, 0.5, 1.0):
        for scale in (0.1, 0.3):
            for trial in (0, 1):
                params = dict(dataset="digits", preset="quick", epochs=3, e_fraction=e,
                              input_scale=scale, trial=trial)
                r_hz = float(100 * scale + rng.uniform(0, 5))
                peak = float(rng.uniform(0.55, 0.9) if scale < 0.2 else rng.uniform(0.1, 0.45))
                rate.append(dict(task_id=f"e={e}_s={scale}_trial={trial}", params=params,
                                 status="done" if trial == 0 else "skipped", error=None,
                                 metrics=_metrics(rng, e, r_hz, peak, peak - 0.02)))
    rate.append(dict(task_id="e=0.95_s=0.1_trial=0", status="failed", metrics=None,
                     error="RuntimeError: boom",
                     params=dict(dataset="digits", preset="quick", e_fraction=0.95,
                                 input_scale=0.1, trial=0)))
    noise = []
    for sigma in (1e-4, 1e-2):
        for e in (0.5, 1.0):
            for trial in (0, 1):
                params = dict(dataset="digits", preset="quick", epochs=3, weight_noise=sigma,
                              e_fraction=e, trial=trial)
                final = float(rng.uniform(0.6, 0.8) if sigma < 1e-3 else rng.uniform(0.1, 0.3))
                noise.append(dict(task_id=f"w={sigma}_e={e}_trial={trial}", params=params,
                                  status="done", error=None,
                                  metrics=_metrics(rng, e, 8.0, final + 0.05, final)))
    return _write_sweep(tmp_path / "ei_rate", rate), _write_sweep(tmp_path / "ei_noise", noise)


def _ok(path):
    return [r for r in (json.loads(line) for line in (path / "summary.jsonl").read_text()
                        .splitlines()) if r["status"] != "failed"]


def test_rate_figure_plots_the_summary_numbers(sweeps):
    rate_dir, noise_dir = sweeps
    records = figs.load_sweeps([rate_dir, noise_dir])
    assert len(records) == 12 + 8  # the failed task is left out
    fig = figs.figure_rate(records)
    assert len(fig.axes) == 3  # E fractions 0.5, 0.8, 1.0 (sorted); no noise run
    for ax, e in zip(fig.axes, (0.5, 0.8, 1.0)):
        assert ax.get_title().startswith(f"E {100 * e:g} %")
        (dots,) = ax.collections
        expected = [(r["metrics"]["initial_rate_hz"], r["metrics"]["peak_accuracy"])
                    for r in _ok(rate_dir) if r["params"]["e_fraction"] == e]
        np.testing.assert_allclose(np.asarray(dots.get_offsets()), expected)
        (band,) = ax.patches
        assert (band.get_x(), band.get_x() + band.get_width()) == pytest.approx((0.0, 25.6))
        (line,) = ax.lines
        np.testing.assert_array_equal(line.get_ydata(), [0.5, 0.5])
    plt.close(fig)
    values = figs.plotted_values(records)["rate"]
    assert sorted(values) == [0.5, 0.8, 1.0] and len(values[0.5]) == 4


def test_noise_figure_plots_mean_and_sd_over_trials(sweeps):
    rate_dir, noise_dir = sweeps
    records = figs.load_sweeps([rate_dir, noise_dir])
    fig = figs.figure_noise(records)
    (ax,) = fig.axes
    assert ax.get_xscale() == "log"
    containers = ax.containers
    assert len(containers) == 2  # E 50 %, E 100 %
    for container, e in zip(containers, (0.5, 1.0)):
        finals = {s: [r["metrics"]["final_accuracy"] for r in _ok(noise_dir)
                      if r["params"]["e_fraction"] == e and r["params"]["weight_noise"] == s]
                  for s in (1e-4, 1e-2)}
        line = container.lines[0]
        np.testing.assert_allclose(np.asarray(line.get_xdata(), float), [1e-4, 1e-2])
        np.testing.assert_allclose(np.asarray(line.get_ydata(), float),
                                   [np.mean(finals[s]) for s in (1e-4, 1e-2)])
        (bars,) = container.lines[2]
        half = [np.ptp(seg[:, 1]) / 2 for seg in bars.get_segments()]
        np.testing.assert_allclose(half, [np.std(finals[s], ddof=1) for s in (1e-4, 1e-2)])
    plt.close(fig)
    # the rate sweep alone has no noise: the figure is skipped, with the reason
    assert "weight_noise > 0" in figs.skip_reason("noise", figs.load_sweep(rate_dir))


def test_van_rossum_and_exc_spike_figures_plot_the_summary_numbers(sweeps):
    rate_dir, noise_dir = sweeps
    records = figs.load_sweeps([rate_dir, noise_dir])
    ok = _ok(rate_dir) + _ok(noise_dir)
    fig = figs.figure_van_rossum(records)
    for ax, group in zip(fig.axes, figs.GROUPS):
        chosen = [r for r in ok
                  if group == "initial" or r["metrics"]["success"] == (group == "success")]
        prefix = "initial" if group == "initial" else "final"
        dots_per_pair = [c for c in ax.collections if isinstance(c, PathCollection)]
        assert len(dots_per_pair) == 3
        for dots, pair in zip(dots_per_pair, figs.PAIRS):
            assert dots.get_label() == figs.PAIR_LABELS[pair]
            expected = [r["metrics"][f"{prefix}_van_rossum_{pair}"] for r in chosen
                        if r["metrics"][f"{prefix}_van_rossum_{pair}"] is not None]
            np.testing.assert_allclose(np.asarray(dots.get_offsets())[:, 1], expected)
    plt.close(fig)
    fig = figs.figure_exc_spikes(records)
    (ax,) = fig.axes
    for dots, e in zip(ax.collections, (0.5, 0.8, 1.0)):
        expected = [(r["metrics"]["hidden_spikes_per_sample"], r["metrics"]["exc_spike_percent"])
                    for r in ok if r["params"]["e_fraction"] == e]
        np.testing.assert_allclose(np.asarray(dots.get_offsets()), expected)
    plt.close(fig)


def test_an_empty_group_is_drawn_empty_not_an_error(sweeps):
    rate_dir, _ = sweeps
    records = [r for r in figs.load_sweep(rate_dir) if r["metrics"]["success"]]
    groups = figs.plotted_values(records)["van_rossum"]
    assert groups["failed"] == {"EE": [], "EI": [], "II": []}
    fig = figs.figure_van_rossum(records)
    failed = fig.axes[2]
    assert not failed.collections
    assert [t.get_text() for t in failed.texts] == ["no runs"]
    plt.close(fig)


def test_cli_writes_what_the_sweeps_hold_and_says_what_it_skipped(sweeps, tmp_path, capsys):
    rate_dir, noise_dir = sweeps
    assert main(["ei_ratio", str(rate_dir), str(noise_dir), "--out", str(tmp_path / "a")]) == 0
    for stem in ("kilgore2025_fig1c_rate", "kilgore2025_fig3_noise",
                 "kilgore2025_fig5_van_rossum", "kilgore2025_extra_exc_spikes"):
        for ext in ("png", "pdf"):
            assert (tmp_path / "a" / f"{stem}.{ext}").stat().st_size > 5000
    assert "wrote 8 files (rate, noise, van_rossum, exc_spikes)" in capsys.readouterr().out
    assert main(["ei_ratio", str(noise_dir)]) == 0  # default: SWEEP/figures
    out = capsys.readouterr().out
    assert "skipped rate: no sweep varies input_scale" in out
    assert f"to {noise_dir.resolve() / 'figures'}" in out
    assert sorted(p.name for p in (noise_dir / "figures").iterdir()) == sorted(
        f"kilgore2025_{n}.{x}" for n in ("extra_exc_spikes", "fig3_noise", "fig5_van_rossum")
        for x in ("pdf", "png"))


def test_bad_sweep_folders_exit_2_naming_the_folder(sweeps, tmp_path, capsys):
    rate_dir, _ = sweeps
    missing = tmp_path / "nowhere"
    assert main(["ei_ratio", str(missing)]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "does not exist" in err
    assert main(["ei_ratio", str(tmp_path)]) == 2  # the root above the sweeps
    err = capsys.readouterr().err
    assert f"'{tmp_path}' is not a sweep folder" in err and "ei_noise, ei_rate" in err
    empty = _write_sweep(tmp_path / "empty", [])
    assert main(["ei_ratio", str(rate_dir), str(empty)]) == 2
    assert f"'{empty}' is an empty sweep" in capsys.readouterr().err
    failed = _write_sweep(tmp_path / "failed", [
        dict(task_id="x", params=dict(e_fraction=0.5, trial=0), status="failed", metrics=None,
             error="boom")])
    assert main(["ei_ratio", str(failed)]) == 2
    assert "has no finished task (1 of 1 failed" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown figure"):
        figs.make(figs.load(rate_dir), tmp_path / "x", names=["nope"])


def test_a_real_tiny_sweep_end_to_end(tmp_path):
    """Two quick tasks, one epoch on a few digits, then the command on their sweep.
    Brian2's runtime device and small chunks: no C++ compile (about a minute on two busy
    cores); the compiled path runs in the ei_ratio notebook test."""
    from experiments.ei_ratio import make_config, sweep

    cfg = make_config("quick", epochs=1, train_samples=64, eval_samples=32, analysis_samples=4,
                      batch_size=16, chunk_batches=2, device="runtime")
    results = sweep(cfg, "rate", "ei_rate", tmp_path,
                    axes=dict(e_fraction=[0.8], input_scale=[0.15, 0.4]), trials=1,
                    scheduler="serial", progress=False)
    assert [r.status for r in results] == ["done", "done"], [r.error for r in results]
    sweep = tmp_path / "ei_rate"
    proc = subprocess.run([sys.executable, "-m", "figures", "ei_ratio", str(sweep)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "skipped noise: no run has weight_noise > 0" in proc.stdout
    assert "(rate, van_rossum, exc_spikes)" in proc.stdout
    for stem in ("kilgore2025_fig1c_rate", "kilgore2025_fig5_van_rossum",
                 "kilgore2025_extra_exc_spikes"):
        assert (sweep / "figures" / f"{stem}.png").stat().st_size > 5000
    records = figs.load_sweep(sweep)
    (dots,) = figs.figure_rate(records).axes[0].collections
    np.testing.assert_allclose(np.asarray(dots.get_offsets()),
                               [(r.metrics["initial_rate_hz"], r.metrics["peak_accuracy"])
                                for r in results])
    plt.close("all")
    run = RunFolder(figs.run_folder(records[0]))
    assert run.recording_names() == ["epoch-0000", "epoch-0001"]
    rec = run.read_recording("epoch-0001")
    assert rec["n_exc"].item() == 80 and set(np.unique(rec["sample"])) <= set(range(4))
