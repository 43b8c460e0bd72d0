"""Balanced tuning (experiments.balanced_tuning): bad input stops before compiling; the
quick preset learns the digits through the command line. The network's learning rules:
tests/models/test_balanced_network.py.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from experiments.balanced_tuning import make_config
from experiments.protocol import ConfigurationError


@pytest.mark.parametrize("field, value, words", [
    ("t_present_ms", 0.0, "presentation time"),
    ("t_present_ms", -5.0, "presentation time"),
    ("e_fraction", 1.3, "[0, 1]"),
    ("e_fraction", -0.1, "[0, 1]"),
    ("stp_U", 0.0, "(0, 1]"),
    ("stp_U", 1.5, "(0, 1]"),
    ("stp_tau_d_ms", -1.0, "positive"),
    ("t_rest_ms", -1.0, ">= 0"),
    ("curve_samples", -1, ">= 0"),
])
def test_bad_configuration_names_the_field(field, value, words):
    with pytest.raises(ConfigurationError) as err:
        make_config("quick", **{field: value})
    assert field in str(err.value) and words in str(err.value)


def test_cli_refuses_bad_input_before_compiling(tmp_path, capsys):
    from experiments.__main__ import main

    code = main(["balanced_tuning", "--preset", "quick", "--e-fraction", "1.3",
                 "--out", str(tmp_path)])
    assert code == 2
    assert "e_fraction" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_more_than_one_thread_is_refused_with_the_reason(tmp_path, capsys, no_compile):
    """Its synapses are stored target by target: an OpenMP build's pathways would add
    a step's spikes into a cell in another order than one thread (see
    THREADS_REFUSED)."""
    from experiments.__main__ import main

    assert make_config("quick", threads=1).threads == 1
    code = main(["balanced_tuning", "--preset", "quick", "--threads", "2", "--out",
                 str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    for words in ("threads: balanced tuning's synapses are stored target by target",
                  "would differ from one thread's", "use --threads 1",
                  "--sweep ablation --workers 2"):
        assert words in err, err
    assert not any(tmp_path.iterdir())


def test_quick_preset_learns_digits(tmp_path):
    """The quick preset through the command line: step 1 lowers nothing it should not,
    steps 2-3 learn the digits well above chance, every metric is written."""
    from experiments.__main__ import main

    code = main(["balanced_tuning", "--preset", "quick", "--epochs", "2", "--no-progress",
                 "--out", str(tmp_path)])
    assert code == 0
    (run,) = (tmp_path / "balanced_tuning").iterdir()
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    step1 = [m for m in lines if m.get("train_phase") == "equilibrium"]
    step3 = [m for m in lines if m.get("train_phase") == "consolidation"]
    assert len(step1) == 2 and len(step3) == 2
    assert all(m["accuracy"] is None for m in step1)
    assert step3[-1]["accuracy"] > 0.6
    assert step3[-1]["train_curve_accuracy"] and step3[-1]["rate_e_hz"] > 0
    assert step1[0]["train_dvdt_abs_e_mV_per_ms"] > 0
    rec = np.load(run / "recordings" / "epoch-0004.npz")
    assert rec["probe_r"].shape[0] == 16 and rec["eval_class_counts"].shape[1] == 10
    # The consolidation curve: 250 test digits after chunks 1, 2, 4 and 5 (the last) of
    # the first consolidation epoch, none in the second.
    assert step3[0]["train_probe_samples"] == [250, 500, 1000, 1197]
    assert "train_probe_samples" not in step3[1]
    # Its last point is the end-of-epoch weights on the first 250 test digits: the same
    # run as the first chunk of that epoch's evaluation (same weights, images and seed).
    from experiments.neuron_parameters import predictions

    first = np.load(run / "recordings" / "epoch-0003.npz")
    answers = predictions(first["eval_class_counts"][:250]) == first["eval_labels"][:250]
    assert step3[0]["train_probe_accuracy"][-1] == pytest.approx(answers.mean(), abs=1e-12)
    assert len(set(step3[0]["train_probe_accuracy"])) > 1
    _check_spike_recordings(run)


def _check_spike_recordings(run):
    """The spikes of every layer, after the first and the last consolidation epoch (the
    equilibrium epochs do not evaluate), for the quick preset's 3 analysis digits: the
    populations of the spec, and output spikes that give the class counts the network
    counted itself for those digits (wrong slicing by sample or step would not)."""
    from analysis.recording import read_spike_recording, recorded_epochs

    cfg = make_config("quick")
    spec = cfg.spec(n_in=64, image_shape=(8, 8))
    assert recorded_epochs(run) == [3, 4]
    for epoch in (3, 4):
        rec = read_spike_recording(run, epoch)
        counted = np.load(run / "recordings" / f"epoch-{epoch:04d}.npz")
        assert rec.protocol == "balanced_tuning" and rec.epoch == epoch
        assert [(p.name, p.size, p.kind, p.ei, p.layer) for p in rec.populations] == [
            ("input", 64, "input", None, 0), ("E", spec.n_exc, "hidden", "E", 1),
            ("I", spec.n_inh, "hidden", "I", 1), ("output", spec.n_out, "output", None, 2)]
        assert spec.n_exc == 320 and spec.n_inh == 80
        assert rec.n_samples == cfg.analysis_samples == 3
        assert rec.eval_indices.tolist() == [0, 1, 2]
        assert rec.labels.tolist() == counted["eval_labels"][:3].tolist()
        assert rec.dt_ms == spec.dt_ms and rec.steps_per_sample == spec.steps_per_sample
        out = rec.spikes["output"]
        classes = np.zeros((3, 10))
        np.add.at(classes, (out["sample"].astype(int),
                            out["neuron"].astype(int) // spec.n_per_class), 1)
        np.testing.assert_array_equal(classes, counted["eval_class_counts"][:3])
        for name in ("input", "E", "I"):  # every analysis digit drives every layer
            assert set(rec.spikes[name]["sample"].tolist()) == {0, 1, 2}, name


@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist"])
def test_quick_preset_covers_mnist_and_fashion_mnist(dataset):
    """Minutes on one core: the paper's 28x28 settings with a fifth of the hidden cells,
    short steps 1 and 3 on a subset."""
    cfg = make_config("quick", dataset)
    paper = make_config("paper", dataset)
    assert cfg.dataset == dataset and cfg.eval_split == "validation"
    assert cfg.n_hidden == paper.n_hidden // 5 and cfg.t_present_ms == paper.t_present_ms
    assert cfg.train_samples == 2000 and cfg.validation == 500 and cfg.epochs == 1
    assert cfg.equilibrium_epochs * cfg.equilibrium_samples <= 500
