"""Figures of a desire run: they plot exactly the numbers of the results folder."""

from __future__ import annotations

import json
import os
import time

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from experiments import desire  # noqa: E402
from runs import NotARunError, RunFolder  # noqa: E402
from experiments.training import Trainer  # noqa: E402
from figures import desire as figs  # noqa: E402
from figures.__main__ import main  # noqa: E402


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A 16-6-3 network trained for 3 epochs on synthetic images in runtime mode."""
    rng = np.random.default_rng(11)
    x = rng.uniform(0, 1, (40, 16))
    x[x < 0.4] = 0
    y = rng.integers(0, 3, 40)
    cfg = desire.make_config("paper", "digits", hidden=(6,), chunk_size=10, epochs=3,
                             learning_rate=5e-3, dropout_hidden=0.25, device="runtime")
    protocol = desire.DesireProtocol(cfg, data=(x[:30], y[:30], x[30:], y[30:]), n_classes=3)
    root = tmp_path_factory.mktemp("runs")
    folder = RunFolder.create(root, "desire", cfg.to_dict())
    Trainer(protocol, folder, progress=False).run()
    return folder.path


def test_cli_writes_every_figure(run_dir, tmp_path, capsys):
    assert main(["desire", str(run_dir), "--out", str(tmp_path)]) == 0
    for name in ("accuracy", "output_rasters", "layer_error", "rate_per_class"):
        for ext in ("png", "pdf"):
            assert (tmp_path / f"gerlinghoff2023_extra_{name}.{ext}").stat().st_size > 5000
    assert "wrote 8 files" in capsys.readouterr().out


def test_accuracy_figure_plots_the_metrics(run_dir):
    run = figs.load_run(run_dir)
    fig = figs.figure_accuracy(run)
    train, evaluation = fig.axes[0].lines
    metrics = RunFolder(run_dir).read_metrics()
    np.testing.assert_array_equal(train.get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(train.get_ydata(), [100 * m["train_accuracy"] for m in metrics])
    np.testing.assert_allclose(evaluation.get_ydata(), [100 * m["accuracy"] for m in metrics])


def test_layer_error_and_rate_figures_plot_the_metrics(run_dir):
    run = figs.load_run(run_dir)
    metrics = run["metrics"]
    fig = figs.figure_layer_error(run)
    for ax, key in zip(fig.axes, ("train_layer_error", "layer_error")):
        for k, line in enumerate(ax.lines):
            np.testing.assert_allclose(line.get_ydata(), [m[key][k] for m in metrics])
    fig = figs.figure_rate_per_class(run)
    (ax,) = fig.axes
    assert len(ax.lines) == 3  # one per class, hidden layer only
    for c, line in enumerate(ax.lines):
        expected = [np.nan if m["rate_per_class"][0][c] is None else m["rate_per_class"][0][c]
                    for m in metrics]
        np.testing.assert_allclose(line.get_ydata(), expected)


def test_output_rasters_show_the_recorded_spikes(run_dir):
    run = figs.load_run(run_dir)
    rec = RunFolder(run_dir).read_recording("epoch-0002")
    fig = figs.figure_output_rasters(run, epoch=2)
    assert "epoch 2" in fig._suptitle.get_text()
    for ax, raster in zip(fig.axes, rec["output_raster"]):
        points = ax.collections[0].get_offsets()
        steps, neurons = np.nonzero(raster)
        np.testing.assert_array_equal(np.asarray(points), np.column_stack([steps, neurons]))


def test_newest_run_of_a_folder_is_used(run_dir, tmp_path):
    root = tmp_path / "results"
    old = RunFolder.create(root, "desire", {"hidden": [6]}, run_id="old")
    old.write_metrics([{"epoch": 1, "accuracy": 0.5, "train_accuracy": 0.4}])
    time.sleep(0.05)
    new = RunFolder.create(root, "desire", {"hidden": [6]}, run_id="new")
    new.write_metrics([{"epoch": 1, "accuracy": 0.7, "train_accuracy": 0.6}])
    os.utime(old.config_path, (1, 1))
    assert figs.find_run(root).path == new.path
    assert figs.find_run(root / "desire").path == new.path


def test_bad_run_folders_give_a_clear_message(tmp_path, capsys):
    assert main(["desire", str(tmp_path)]) == 2
    assert "is not a desire run folder" in capsys.readouterr().err
    empty = RunFolder.create(tmp_path, "desire", {})
    assert main(["desire", str(empty.path)]) == 2
    assert "no finished epoch yet" in capsys.readouterr().err
    other = RunFolder.create(tmp_path, "stl", {})
    with pytest.raises(NotARunError, match="protocol 'stl'"):
        figs.find_run(other.path)
    with pytest.raises(ValueError, match="unknown figure"):
        figs.make({}, tmp_path / "x", names=["nope"])


def test_metrics_lines_are_json(run_dir):
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        assert {"layer_error", "train_layer_error", "rate_per_class"} <= set(record)
