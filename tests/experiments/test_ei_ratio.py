"""The E:I-ratio protocol (experiments/ei_ratio.py) and its sweeps.

Training on the embedded digits set (quick preset, a few epochs, C++ standalone): an
accuracy floor, Dale's law and non-negative input weights after training, the epoch-0
measurements, metrics computed from the recorded spikes, and resume ending with
bit-identical weights. Bad input stops the command line before any work with exit 2.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from experiments import __main__ as cli
from experiments import ei_ratio as E
from runs import RunFolder
from experiments.sweeps import sweep_points
from runs.sweep import SweepError, read_summary

QUICK = dict(epochs=6)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory, session_build_cache):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SNN_BUILD_CACHE", str(session_build_cache))
        root = tmp_path_factory.mktemp("ei_ratio")
        cfg = E.make_config("quick", **QUICK)
        folder, state = E.run(cfg, root, run_id="quick", progress=False)
        return cfg, folder, state


def test_quick_preset_learns_digits(quick_run):
    """Measured: 0.70-0.77 test accuracy after 6 epochs (0.85-0.88 after the preset's 15);
    chance is 0.1."""
    cfg, folder, state = quick_run
    metrics = folder.read_metrics()
    assert [m["epoch"] for m in metrics] == list(range(cfg.epochs + 1))
    assert metrics[0]["accuracy"] < 0.25
    assert max(m["accuracy"] for m in metrics[1:]) >= 0.65
    assert metrics[-1]["train_loss"] < metrics[1]["train_loss"]


def test_signs_are_kept_by_projection(quick_run):
    cfg, folder, state = quick_run
    W_in = np.asarray(state.arrays["w_in"])
    W_out = np.asarray(state.arrays["w_out"]).reshape(cfg.n_hidden, 10)   # (hidden, out)
    assert np.all(W_in >= 0) and np.any(W_in > 0)
    sign = np.where(np.arange(cfg.n_hidden) < cfg.n_exc, 1.0, -1.0)
    assert np.all(sign[:, None] * W_out >= 0)
    # learning moved the readout weights of both cell types
    assert np.any(W_out[:cfg.n_exc] > 0) and np.any(W_out[cfg.n_exc:] < 0)


def test_metrics_agree_with_recorded_spikes(quick_run):
    """The epoch-0 rate and the E share of spikes, recomputed from the recording of the
    analysis samples, are consistent with the logged numbers; the van Rossum means equal
    a direct computation from the recorded trains."""
    from analysis.conversion import spike_trains_from_arrays
    from analysis.distances import population_distances, van_rossum_matrix_fast
    from brian2 import ms

    cfg, folder, state = quick_run
    first = folder.read_metrics()[0]
    assert first["epoch"] == 0
    assert first["hidden_rate_hz"] < 25.6, "the quick preset starts in the biological band"
    rec = folder.read_recording("epoch-0000")
    assert rec["n_exc"].item() == cfg.n_exc == 80
    per_sample = []
    for k in range(cfg.analysis_samples):
        mine = rec["sample"] == k
        trains = spike_trains_from_arrays(rec["step"][mine] * cfg.dt_ms, rec["neuron"][mine],
                                          cfg.n_hidden, t_stop=cfg.n_steps * cfg.dt_ms)
        matrix = van_rossum_matrix_fast(trains, 10 * ms, normalisation="vanrossum2001")
        per_sample.append(population_distances(matrix, np.arange(cfg.n_hidden) < cfg.n_exc))
    for key in ("EE", "EI", "II"):
        assert first[f"van_rossum_{key}"] == pytest.approx(np.mean([d[key] for d in per_sample]),
                                                           rel=1e-12)
    exc = np.sum(rec["neuron"] < cfg.n_exc)
    share = 100.0 * exc / len(rec["neuron"])
    assert abs(share - first["exc_spike_percent"]) < 10  # 20 samples against all 300
    summary = E.summarise(folder.read_metrics())
    assert summary["initial_rate_hz"] == first["hidden_rate_hz"]
    assert summary["success"] == (summary["peak_accuracy"] >= 0.5)


def test_resume_gives_identical_weights(tmp_path, quick_run):
    """Two epochs in one go against one epoch, then a resumed second one (with weight
    noise, so the noise draws must also come back the same)."""
    cfg = E.make_config("quick", epochs=2, weight_noise=1e-3, train_samples=256, test=300)
    _, whole = E.run(cfg, tmp_path, run_id="whole", progress=False)
    first = E.make_config("quick", epochs=1, weight_noise=1e-3, train_samples=256, test=300)
    E.run(first, tmp_path, run_id="split", progress=False)
    _, resumed = E.run(cfg, tmp_path, run_id="split", resume=True, progress=False)
    for name in ("w_in", "w_out"):
        np.testing.assert_array_equal(resumed.arrays[name], whole.arrays[name])
    assert [m["accuracy"] for m in resumed.metrics] == [m["accuracy"] for m in whole.metrics]


def test_sweep_task_and_restart(tmp_path):
    cfg = E.make_config("quick", epochs=1, train_samples=128)
    axes = dict(e_fraction=[0.8], input_scale=[0.25])
    results = E.sweep(cfg, "rate", "rate", tmp_path, axes=axes, trials=1, scheduler="serial",
                      progress=False)
    assert [r.status for r in results] == ["done"]
    metrics = results[0].metrics
    assert set(metrics) >= {"initial_rate_hz", "peak_accuracy", "success", "exc_spike_percent",
                            "initial_van_rossum_EE", "final_van_rossum_II"}
    again = E.sweep(cfg, "rate", "rate", tmp_path, axes=axes, trials=1, scheduler="serial",
                    progress=False)
    assert [r.status for r in again] == ["skipped"]
    assert read_summary(tmp_path, "rate")[0]["metrics"] == json.loads(json.dumps(metrics))


@pytest.mark.parametrize("argv, message", [
    (["ei_ratio", "--preset", "quick", "--e-fraction", "1.3"], "e_fraction: the excitatory fraction must lie in [0, 1]"),
    (["ei_ratio", "--preset", "quick", "--weight-noise", "-0.1"], "weight_noise: the noise sigma must be"),
    (["ei_ratio", "--preset", "quick", "--tau-mem", "-5"], "tau_mem: must be a positive number"),
    (["ei_ratio", "--preset", "quick", "--lr-decay=-1"], "lr_decay: must be a number >= 0"),
    (["ei_ratio", "--dataset", "mnist", "--data-dir", "/nonexistent/mnist"], "data_dir"),
    (["ei_ratio", "--sweep", "rate", "--axis", "e_fraction=0.5,1.3"], "e_fraction: the excitatory fraction"),
    (["ei_ratio", "--sweep", "noise", "--axis=weight_noise=-1e-4"], "weight_noise"),
    (["ei_ratio", "--sweep", "rate", "--axis", "e_fraction=,"], "empty"),
    (["ei_ratio", "--sweep", "rate", "--scheduler", "tcp://127.0.0.1:9"], "scheduler"),
])
def test_bad_input_stops_before_any_work(argv, message, tmp_path, capsys):
    code = cli.main(argv + ["--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert not any(tmp_path.iterdir()), "nothing may be written before the input is checked"


def test_spec_matches_the_paper_network():
    cfg = E.make_config("paper")
    spec = cfg.spec(n_in=784)
    assert (spec.n_in, spec.n_hidden, spec.n_out, spec.n_steps) == (784, 100, 10, 100)
    assert spec.alpha == pytest.approx(math.exp(-1 / 10)) and spec.beta == pytest.approx(math.exp(-1 / 5))
    assert spec.batch_size == 256 and spec.optimizer == "sgd"
    assert spec.n_exc == 80 and spec.nonnegative_input
    released = E.make_config("paper", tau_mem=5.0).spec(784)   # the released script's
    assert released.alpha == pytest.approx(math.exp(-1 / 5)) and released.equal_decays


def test_latency_code_matches_the_formula():
    """One spike per pixel above 0.2, at ceil(20 ln(x/(x - 0.2))) steps."""
    cfg = E.make_config("paper")
    x = np.array([[1.0, 0.5, 0.21, 0.2, 0.0]])
    steps = E.spike_steps(cfg, x)
    expected = [math.ceil(20 * math.log(v / (v - 0.2))) for v in (1.0, 0.5, 0.21)]
    expected = [s if s < 100 else -1 for s in expected]
    assert steps.tolist() == [expected + [-1, -1]]


def test_resume_of_a_run_of_another_protocol_is_refused(tmp_path, capsys):
    other = RunFolder.create(tmp_path, "desire", {"hidden": [1]})
    code = cli.main(["ei_ratio", "--resume", str(other.path)])
    assert code == 2
    assert "protocol 'desire'" in capsys.readouterr().err


def test_empty_grid_is_refused():
    with pytest.raises(SweepError, match="empty"):
        sweep_points(E.make_config("quick"), E.SWEEPS["rate"], [("e_fraction", [])])


@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist"])
def test_quick_preset_covers_mnist_and_fashion_mnist(dataset):
    """Minutes on one core: the paper's network on a subset, MNIST's Adam setting."""
    cfg = E.make_config("quick", dataset)
    assert cfg.dataset == dataset and cfg.eval_split == "validation"
    assert cfg.train_samples == 10000 and cfg.validation == 1000 and cfg.epochs <= 3
    assert cfg.optimizer == "adam" and cfg.n_hidden == E.make_config("paper", dataset).n_hidden


@pytest.mark.slow
def test_two_threads_train_what_one_thread_trains(tmp_path):
    from tests.experiments.threads import assert_two_threads_equal_one

    cfg = E.make_config("quick", epochs=1, n_hidden=20, train_samples=64, eval_samples=32)
    assert_two_threads_equal_one(E.run, cfg, tmp_path)
