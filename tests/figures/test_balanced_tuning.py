"""Figures of balanced-tuning runs: they plot exactly the numbers of the run folders.

The run folders (and an ablation sweep folder) are written by hand here, as
:func:`experiments.balanced_tuning.run` and ``run_ablation`` write them: config.json,
metrics.jsonl, recordings, done.json, summary.jsonl. Nothing is simulated or compiled.
Every metric of a record gets its own random value, so a figure that plotted the wrong
column would fail.
"""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.container import BarContainer  # noqa: E402

from experiments.balanced_tuning import ABLATIONS, make_config  # noqa: E402
from runs import RunFolder  # noqa: E402
from runs.sweep import DONE_FILE, SUMMARY_FILE, task_id  # noqa: E402
from figures import balanced_tuning as figs  # noqa: E402
from figures.__main__ import main  # noqa: E402

SEEDS = (0, 1, 2)
CHUNKS = [250, 500, 600]  # train_curve_samples of every consolidation epoch
N_PROBE, STEPS = 16, 360  # 3 samples of 120 ms recorded every 1 ms


def _config(variant="full", seed=0, **overrides) -> dict:
    settings = dict(equilibrium_epochs=2, equilibrium_samples=250, epochs=3,
                    train_samples=600, analysis_samples=3)
    settings.update(ABLATIONS[variant])
    settings.update(overrides)
    return make_config("quick", seed=seed, **settings).to_dict()


def _metrics(rng, cfg: dict) -> list[dict]:
    """The metrics.jsonl of ``cfg``: step-1 epochs without accuracy, then consolidation
    epochs with it; I-cell numbers None without I cells."""
    has_i = cfg["e_fraction"] < 1.0
    records, seen = [], 0
    n_step1 = cfg["equilibrium_epochs"]
    for epoch in range(1, n_step1 + cfg["epochs"] + 1):
        phase = "equilibrium" if epoch <= n_step1 else "consolidation"
        n = cfg["equilibrium_samples"] if phase == "equilibrium" else CHUNKS[-1]
        curve = [n] if phase == "equilibrium" else CHUNKS
        seen += n
        m = {"epoch": epoch, "split": "test", "n_eval": 300, "train_phase": phase,
             "accuracy": None if phase == "equilibrium" else float(rng.uniform(0.3, 0.9)),
             "train_accuracy": float(rng.uniform(0, 1)), "samples_seen": seen,
             "learning_rate": float(rng.uniform(0, 0.004)), "train_seconds": 1.5,
             "train_samples_per_s": 400.0, "eval_seconds": 0.5,
             "train_rate_e_hz": float(rng.uniform(20, 60)),
             "train_rate_i_hz": float(rng.uniform(60, 120)) if has_i else None,
             "train_dvdt_abs_e_mV_per_ms": float(rng.uniform(0.5, 1.0)),
             "train_dvdt_abs_i_mV_per_ms": float(rng.uniform(1.0, 1.5)) if has_i else None,
             "train_output_spikes_per_sample": float(rng.uniform(0, 50)),
             "train_curve_samples": curve,
             "train_curve_accuracy": [float(rng.uniform(0, 1)) for _ in curve]}
        if phase == "consolidation":
            m.update(rate_e_hz=float(rng.uniform(20, 60)),
                     rate_i_hz=float(rng.uniform(60, 120)) if has_i else None,
                     dvdt_abs_e_mV_per_ms=float(rng.uniform(0.5, 1.0)),
                     dvdt_abs_i_mV_per_ms=float(rng.uniform(1.0, 1.5)) if has_i else None,
                     output_spikes_per_sample=float(rng.uniform(0, 50)))
        if epoch == n_step1 + 1:  # the probes of the first consolidation epoch
            m.update(train_probe_samples=CHUNKS,
                     train_probe_accuracy=[float(rng.uniform(0, 1)) for _ in CHUNKS])
        records.append(m)
    return records


def _fill(folder: RunFolder, cfg: dict, rng, epochs=None) -> list[dict]:
    """metrics.jsonl (the first ``epochs`` records) and a recording after every
    consolidation epoch."""
    metrics = _metrics(rng, cfg)[:epochs]
    folder.write_metrics(metrics)
    for m in metrics:
        if m["train_phase"] != "consolidation":
            continue
        folder.write_recording(f"epoch-{m['epoch']:04d}", {
            "probe_t": np.arange(STEPS) * 1e-3,
            "probe_u": rng.uniform(0, 0.6, (N_PROBE, STEPS)),
            "probe_x": rng.uniform(0.2, 1, (N_PROBE, STEPS)),
            "probe_r": rng.uniform(0, 0.2, (N_PROBE, STEPS)),
            "probe_pixels": np.arange(18, 18 + N_PROBE),
            "eval_class_counts": rng.integers(0, 20, (300, 10)).astype(float),
            "eval_labels": rng.integers(0, 10, 300)})
    return metrics


def _write_run(root, variant="full", seed=0, rng=None, run_id=None, epochs=None, **overrides):
    rng = np.random.default_rng(seed) if rng is None else rng
    cfg = _config(variant, seed, **overrides)
    folder = RunFolder.create(root, "balanced_tuning", cfg,
                              run_id=run_id or f"digits-{variant}-s{seed}")
    _fill(folder, cfg, rng, epochs)
    return folder


def _write_sweep(root, rng, unfinished=()):
    """The sweep folder of ``--sweep ablation --trials 3`` (every variant); the tasks in
    ``unfinished`` have a run but no done.json."""
    summary = []
    for variant in ABLATIONS:
        for seed in SEEDS:
            params = {"variant": variant, "seed": seed}
            tid = task_id(params, 0)
            task = RunFolder.create(root, figs.ABLATION, {**params, "trial": 0}, run_id=tid)
            run = RunFolder.create(task.path, "balanced_tuning", _config(variant, seed),
                                   run_id="run")
            metrics = _fill(run, _config(variant, seed), rng)
            final = metrics[-1]["accuracy"]
            status = "failed" if (variant, seed) in unfinished else "done"
            if status == "done":
                (task.path / DONE_FILE).write_text(json.dumps(
                    {"task_id": tid, "params": {**params, "trial": 0},
                     "metrics": {"final_accuracy": final}}))
            summary.append({"task_id": tid, "params": {**params, "trial": 0},
                            "status": status, "metrics": {"final_accuracy": final},
                            "error": None})
    (root / figs.ABLATION / SUMMARY_FILE).write_text(
        "".join(json.dumps(r) + "\n" for r in summary))
    return root / figs.ABLATION


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    return _write_sweep(root, np.random.default_rng(3), unfinished={("static_synapses", 2)})


def _final(run_path) -> float:
    return RunFolder(run_path).read_metrics()[-1]["accuracy"]


def _task_run(sweep, variant, seed):
    return sweep / task_id({"variant": variant, "seed": seed}, 0) / "balanced_tuning" / "run"


def _lines(ax):
    """The labelled data lines of ``ax`` (not the chance line), by label."""
    return {line.get_label(): line for line in ax.lines
            if not line.get_label().startswith(("_", "chance"))}


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------


def test_runs_of_a_sweep_are_the_finished_tasks_sorted_by_variant_and_seed(sweep):
    runs = figs.load_runs(sweep)
    expected = [(v, s) for v in ABLATIONS for s in SEEDS if (v, s) != ("static_synapses", 2)]
    assert [(r["variant"], r["seed"]) for r in runs] == expected  # unfinished left out
    assert runs[0]["label"] == "full, seed 0"
    assert runs[0]["path"] == _task_run(sweep, "full", 0)
    # the results root, a task folder, and the same run twice: each run once
    task = sweep / task_id({"variant": "full", "seed": 0}, 0)
    assert len(figs.load_runs([sweep.parent, task, sweep])) == len(expected)
    (one,) = figs.load_runs(task)
    assert one["label"] == "full" and one["run_id"] == "run"


def test_run_folders_folders_of_runs_and_results_roots_are_found(tmp_path):
    rng = np.random.default_rng(0)
    a = _write_run(tmp_path, "full", 0, rng)
    _write_run(tmp_path, "no_equilibrium", 0, rng)
    _write_run(tmp_path, "full", 0, rng, run_id="bigger", n_hidden=300)
    for path in (tmp_path, tmp_path / "balanced_tuning"):
        runs = figs.load_runs(path)
        assert [r["variant"] for r in runs] == ["full", "full", "no_equilibrium"]
        # two runs of the same variant, seed and data: the run id makes the labels unique
        assert [r["label"] for r in runs] == ["full, seed 0, digits, bigger",
                                              "full, seed 0, digits, digits-full-s0",
                                              "no_equilibrium"]
    assert [r["label"] for r in figs.load_runs(a.path)] == ["full"]


def test_wrong_folders_name_the_problem(tmp_path, sweep, capsys):
    with pytest.raises(figs.NotARunError, match="does not exist"):
        figs.load_runs(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(figs.NotARunError, match="holds none"):
        figs.load_runs(tmp_path / "empty")
    other = RunFolder.create(tmp_path / "o", "plif", {"condition": "plif"})
    with pytest.raises(figs.NotARunError, match="is a 'plif' run, not 'balanced_tuning'"):
        figs.load_runs(other.path)
    task = sweep / task_id({"variant": "static_synapses", "seed": 2}, 0)
    with pytest.raises(figs.NotARunError, match="has not finished"):
        figs.load_runs(task)
    fresh = RunFolder.create(tmp_path / "fresh", "balanced_tuning", _config())
    with pytest.raises(ValueError, match="no balanced_tuning run has finished an epoch"):
        figs.load_runs(fresh.path)
    assert main(["balanced_tuning", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert "is not a balanced_tuning run folder and holds none" in err
    assert "results/balanced_tuning_ablation_quick" in err and "Traceback" not in err
    with pytest.raises(ValueError, match="unknown figure"):
        figs.make(figs.load(sweep), tmp_path / "x", names=["nope"])


# --------------------------------------------------------------------------------------
# The figures
# --------------------------------------------------------------------------------------


def test_equilibrium_figure_plots_dvdt_of_the_step1_epochs(sweep):
    runs = figs.load_runs(sweep)
    fig = figs.figure_equilibrium(runs)
    exc, inh = fig.axes
    for ax, key in ((exc, "train_dvdt_abs_e_mV_per_ms"), (inh, "train_dvdt_abs_i_mV_per_ms")):
        lines = _lines(ax)
        assert not any(label.startswith("no_equilibrium") for label in lines)  # no step 1
        assert ("all_excitatory, seed 0" in lines) == (ax is exc)  # no I cells
        metrics = RunFolder(_task_run(sweep, "e_fraction_0.5", 1)).read_metrics()
        line = lines["e_fraction_0.5, seed 1"]
        np.testing.assert_array_equal(line.get_xdata(), [1, 2])
        np.testing.assert_allclose(line.get_ydata(), [m[key] for m in metrics[:2]])
    legend = [t.get_text() for t in fig.axes[-1].get_legend().get_texts()]
    assert "all_excitatory, seed 0" in legend and "full, seed 0" in legend
    plt.close(fig)
    values = figs.plotted_values(runs)["equilibrium"]
    assert values["all_excitatory, seed 2"]["dvdt_i"] == [None, None]


def test_stp_figure_plots_the_mean_over_pixels_of_the_last_recording(tmp_path):
    rng = np.random.default_rng(1)
    full = _write_run(tmp_path, "full", 0, rng)
    _write_run(tmp_path, "full", 1, rng)  # the same STP process: not drawn again
    other = _write_run(tmp_path, "static_synapses", 0, rng, stp_U=0.5, t_rest_ms=40.0)
    runs = figs.load_runs(tmp_path)
    traces = figs.plotted_values(runs)["stp"]
    assert list(traces) == ["full, seed 0", "static_synapses"]
    fig = figs.figure_stp(runs)
    assert len(fig.axes) == 2
    for ax, folder, t_sample in ((fig.axes[0], full, 120.0), (fig.axes[1], other, 140.0)):
        rec = folder.read_recording("epoch-0005")  # the last of epochs 3, 4, 5
        lines = {line.get_label(): line for line in ax.lines}
        for key in ("u", "x", "r"):
            line = lines[figs.STP_LABELS[key]]
            np.testing.assert_allclose(line.get_xdata(), rec["probe_t"] * 1e3)
            np.testing.assert_allclose(line.get_ydata(), rec[f"probe_{key}"].mean(axis=0))
            assert line.get_drawstyle() == "steps-post"
        # one shaded window per sample: [k T, k T + t_present]
        n = int(np.ceil(STEPS / t_sample))
        windows = list(ax.patches)
        assert len(windows) == n
        np.testing.assert_allclose([p.get_x() for p in windows], np.arange(n) * t_sample)
        np.testing.assert_allclose([p.get_width() for p in windows], 100.0)
        digits = [t.get_text() for t in ax.texts]
        assert digits == [f"digit {d}" for d in rec["eval_labels"][:n]]
    assert "U = 0.5" in fig.axes[1].get_title()
    plt.close(fig)


def test_rates_figure_plots_every_epoch_and_marks_the_phase(sweep):
    runs = figs.load_runs(sweep)
    fig = figs.figure_rates(runs)
    exc, inh = fig.axes
    metrics = RunFolder(_task_run(sweep, "full", 1)).read_metrics()
    for ax, key in ((exc, "train_rate_e_hz"), (inh, "train_rate_i_hz")):
        line = _lines(ax)["full, seed 1"]
        np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3, 4, 5])
        np.testing.assert_allclose(line.get_ydata(), [m[key] for m in metrics])
        colour = to_rgba(line.get_color())
        markers = [m for m in ax.lines if m.get_marker() == "o" and m.get_linestyle() == "None"
                   and to_rgba(m.get_color()) == colour]
        hollow = [m for m in markers if m.get_markerfacecolor() == "none"]
        filled = [m for m in markers if m.get_markerfacecolor() != "none"]
        # seeds of one variant share the colour: seed 0, 1, 2 -> 3 hollow and 3 filled
        assert len(hollow) == len(filled) == 3
        assert [x for m in hollow for x in m.get_xdata()] == [1, 2] * 3
        assert [x for m in filled for x in m.get_xdata()] == [3, 4, 5] * 3
    assert "all_excitatory, seed 0" in _lines(exc) and "all_excitatory, seed 0" not in _lines(inh)
    no_eq = _lines(exc)["no_equilibrium, seed 0"]
    np.testing.assert_array_equal(no_eq.get_xdata(), [1, 2, 3])
    plt.close(fig)


def test_consolidation_curve_is_cumulative_over_the_consolidation_epochs(sweep):
    runs = figs.load_runs(sweep)
    values = figs.plotted_values(runs)["consolidation"]
    for variant in ("full", "no_equilibrium"):
        metrics = RunFolder(_task_run(sweep, variant, 2)).read_metrics()
        step3 = [m for m in metrics if m["train_phase"] == "consolidation"]
        line = values[f"{variant}, seed 2"]
        # the step-1 samples do not count; each epoch continues where the last stopped
        assert line["samples"] == [250, 500, 600, 850, 1100, 1200, 1450, 1700, 1800]
        assert line["accuracy"] == [a for m in step3 for a in m["train_curve_accuracy"]]
        assert line["epoch_samples"] == [600, 1200, 1800]
        assert line["eval_accuracy"] == [m["accuracy"] for m in step3]
        assert line["epoch"] == [m["epoch"] for m in step3]
        # teacher-off probes in the first consolidation epoch only
        assert line["probe_samples"] == [250, 500, 600]
        assert line["probe_accuracy"] == step3[0]["train_probe_accuracy"]
    fig = figs.figure_consolidation(runs)
    (ax,) = fig.axes
    full = values["full, seed 2"]
    probe = _lines(ax)["full, seed 2"]  # the labelled line of a run is its probe curve
    np.testing.assert_array_equal(probe.get_xdata(), full["probe_samples"])
    np.testing.assert_allclose(probe.get_ydata(), full["probe_accuracy"])
    (chunks,) = [m for m in ax.lines if m.get_linestyle() == "--"
                 and list(m.get_xdata()) == full["samples"]
                 and list(m.get_ydata()) == full["accuracy"]]
    assert chunks.get_color() == probe.get_color()
    diamonds = [m for m in ax.lines if m.get_marker() == "D"
                and list(m.get_ydata()) == values["full, seed 2"]["eval_accuracy"]]
    assert len(diamonds) == 1
    np.testing.assert_array_equal(diamonds[0].get_xdata(), [600, 1200, 1800])
    plt.close(fig)


def test_ablation_figure_plots_mean_and_sd_over_seeds_in_variant_order(sweep, tmp_path):
    runs = figs.load_runs(sweep)
    groups = figs.plotted_values(runs)["ablation"]
    assert list(groups) == list(ABLATIONS)
    for variant, g in groups.items():
        seeds = [s for s in SEEDS if (variant, s) != ("static_synapses", 2)]
        finals = np.array([_final(_task_run(sweep, variant, s)) for s in seeds])
        assert g["seeds"] == seeds and g["n"] == len(seeds)
        np.testing.assert_allclose(g["accuracy"], finals)
        assert g["mean"] == pytest.approx(np.mean(finals))
        assert g["sd"] == pytest.approx(np.std(finals, ddof=1))
    fig = figs.figure_ablation(runs)
    (ax,) = fig.axes
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    np.testing.assert_allclose([c.patches[0].get_height() for c in bars],
                               [g["mean"] for g in groups.values()])
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        v.replace("_", " ") for v in ABLATIONS]
    # the error bars span mean - sd .. mean + sd
    for c, g in zip(bars, groups.values()):
        (low, high), = [seg[:, 1] for seg in c.errorbar.lines[2][0].get_segments()]
        assert (low, high) == pytest.approx((g["mean"] - g["sd"], g["mean"] + g["sd"]))
    # every seed is a dot, at its accuracy
    dots = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert [len(c.get_offsets()) for c in dots] == [g["n"] for g in groups.values()]
    np.testing.assert_allclose(np.concatenate([c.get_offsets()[:, 1] for c in dots]),
                               [a for g in groups.values() for a in g["accuracy"]])
    plt.close(fig)
    # one seed: sd 0; a variant outside the table comes last
    rng = np.random.default_rng(9)
    _write_run(tmp_path, "static_synapses", 0, rng, equilibrium_epochs=0)
    _write_run(tmp_path, "full", 4, rng)
    one = figs.plotted_values(figs.load_runs(tmp_path))["ablation"]
    assert list(one) == ["full", "no_equilibrium+static_synapses"]
    assert one["full"]["sd"] == 0.0 and one["full"]["seeds"] == [4]


def test_a_run_still_in_step_1_has_only_the_step_1_figures(tmp_path):
    run = _write_run(tmp_path, "full", 0, epochs=1)
    runs = figs.load_runs(run.path)
    reasons = {name: figs.skip_reason(name, runs) for name in figs.NAMES}
    assert reasons["equilibrium"] is None and reasons["rates"] is None
    assert "no run has a recording" in reasons["stp"]
    assert "consolidation epoch" in reasons["consolidation"]
    assert "evaluated accuracy" in reasons["ablation"]
    with pytest.raises(ValueError, match="cannot draw 'consolidation'"):
        figs.figure_consolidation(runs)
    written = figs.make(figs.load(run.path), tmp_path / "f")
    assert [p.name for p in written] == [
        f"zhang2018_interp_{n}.{x}" for n in ("equilibrium", "rates") for x in ("png", "pdf")]


# --------------------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------------------


def test_cli_writes_every_figure_of_a_sweep(sweep, tmp_path, capsys):
    assert main(["balanced_tuning", str(sweep), "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert (f"wrote 10 files (equilibrium, stp, rates, consolidation, ablation) to "
            f"{tmp_path / 'a'}") in out
    for name in figs.NAMES:
        for ext in ("png", "pdf"):
            assert (tmp_path / "a" / f"zhang2018_interp_{name}.{ext}").stat().st_size > 5000


def test_cli_default_out_and_skipped_figures(tmp_path, capsys):
    run = _write_run(tmp_path, "no_equilibrium", 0)
    assert main(["balanced_tuning", str(run.path)]) == 0  # default: RUN/figures
    out = capsys.readouterr().out
    assert "skipped equilibrium: no run has a step-1 (equilibrium) epoch" in out
    assert (f"wrote 8 files (stp, rates, consolidation, ablation) to "
            f"{run.path.resolve() / 'figures'}") in out
    assert sorted(p.name for p in (run.path / "figures").iterdir()) == sorted(
        f"zhang2018_interp_{n}.{x}" for n in ("stp", "rates", "consolidation", "ablation")
        for x in ("png", "pdf"))
    # a folder of runs: its figures folder (the default out) is not a run
    runs = tmp_path / "balanced_tuning"
    assert main(["balanced_tuning", str(runs)]) == 0
    assert (runs / "figures" / "zhang2018_interp_rates.png").is_file()
    assert len(figs.load_runs(runs)) == 1
