"""The PLIF and STL protocols (experiments/neuron_parameters.py, plif.py, stl.py).

Bad configurations stop before anything is compiled; the learning-rate schedule and the
input noise are what their docstrings say; a quick PLIF run on digits learns, and the
trained network's accuracy is what the numpy reference network predicts from the same
weights and decays; a TL run changes the thresholds and nothing else.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from experiments.__main__ import main as cli
from experiments.protocol import ConfigurationError
from experiments.neuron_parameters import (NeuronParamProtocol, add_input_noise,
                                           make_config, run)
from runs import RunFolder

from tests.references import voting as ref


@pytest.mark.parametrize("argv,field", [
    (["plif", "--preset", "quick", "--tau", "1"], "tau"),
    (["plif", "--preset", "quick", "--tau", "-3"], "tau"),
    (["stl", "--preset", "quick", "--theta", "0"], "theta"),
    (["stl", "--preset", "quick", "--theta", "-2"], "theta"),
    (["stl", "--preset", "quick", "--hidden", "0"], "n_hidden"),
    (["plif", "--dataset", "mnist", "--data-dir", "/nonexistent/mnist"], "data_dir"),
])
def test_bad_configuration_exits_before_compiling(argv, field, tmp_path, capsys):
    assert cli(argv + ["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"error: {field}" in err, err
    assert not any(tmp_path.iterdir()), "a results folder was written"


def test_unknown_condition_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli(["plif", "--condition", "stl", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "invalid choice: 'stl'" in capsys.readouterr().err
    with pytest.raises(ConfigurationError, match="condition: unknown condition 'sl' for plif"):
        make_config("plif", "quick", condition="sl")


def test_cosine_schedule():
    cfg = make_config("plif", "quick", epochs=4, learning_rate=0.01)
    p = NeuronParamProtocol.__new__(NeuronParamProtocol)
    p.cfg, p.y_train = cfg, np.zeros(10 * cfg.chunk_size)    # 10 chunks per epoch
    assert p.learning_rate(0, 0) == pytest.approx(0.01)
    assert p.learning_rate(2, 0) == pytest.approx(0.005)       # half way: cos = 0
    assert p.learning_rate(1, 5) == pytest.approx(0.005 * (1 + math.cos(math.pi * 1.5 / 4)))
    assert p.learning_rate(4, 0) == pytest.approx(0.0, abs=1e-15)


def test_input_noise():
    rng = np.random.default_rng(0)
    x = np.full((200, 100), 0.5)
    np.testing.assert_array_equal(add_input_noise(x, "gaussian", 0.0, rng), x)
    noisy = add_input_noise(x, "gaussian", 0.1, rng)
    assert noisy.std() == pytest.approx(0.1, rel=0.03)       # clipping never reached
    x = rng.random((200, 100))
    sp = add_input_noise(x, "salt_pepper", 0.2, rng)
    changed = sp != x
    assert changed.mean() == pytest.approx(0.2, abs=0.01)
    assert set(np.unique(sp[changed])) == {0.0, 1.0}
    assert (sp[changed] == 1.0).mean() == pytest.approx(0.5, abs=0.03)
    with pytest.raises(ValueError, match="kind"):
        add_input_noise(x, "speckle", 0.1, rng)


def _reference_accuracy(folder: RunFolder, protocol: NeuronParamProtocol) -> float:
    """Accuracy of the numpy reference network with the run's final state."""
    arrays, _ = folder.read_checkpoint()
    spec = protocol.spec
    W1 = arrays["w_in"].reshape(spec.n_in, spec.n_hidden).T
    W2 = arrays["w_out"].reshape(spec.n_hidden, spec.n_out).T
    params = {"W1": W1, "W2": W2, "alpha1": arrays["alpha_hidden"],
              "alpha2": arrays["alpha_output"], "theta1": arrays["theta_hidden"],
              "theta2": arrays["theta_output"]}
    a = np.repeat(protocol.x_eval.astype(np.float64)[:, None, :], spec.n_steps, axis=1)
    _, o, _ = ref.forward(params, a, spec.n_vote, plif=True)
    counts = o["z"].sum(axis=1).reshape(len(a), spec.n_classes, spec.n_vote).sum(axis=2)
    return float(np.mean(np.argmax(counts, axis=1) == protocol.y_eval))


def test_quick_plif_run_learns_and_matches_the_reference(tmp_path):
    cfg = make_config("plif", "quick", epochs=4, noise_samples=60)
    folder, state = run(cfg, tmp_path, progress=False)
    metrics = folder.read_metrics()
    assert [m["epoch"] for m in metrics] == [0, 1, 2, 3, 4]
    assert metrics[0]["accuracy"] < 0.3 and metrics[-1]["accuracy"] >= 0.9, metrics
    # The decay was learned: one value per layer, moved away from tau0 = 2.
    last = folder.read_recording("epoch-0004")
    assert np.ptp(last["tau_hidden"]) == 0 and abs(last["tau_hidden"][0] - 2.0) > 0.05
    assert metrics[-1]["tau_hidden"] == pytest.approx(last["tau_hidden"][0])
    # Constant-current input is deterministic: the reference gives the same accuracy.
    protocol = NeuronParamProtocol(cfg)
    # Synaptic operations: each active pixel once to every hidden cell; each hidden spike
    # to every output cell.
    last_m = metrics[-1]
    active = np.count_nonzero(protocol.x_eval) / len(protocol.x_eval)
    assert last_m["synops_input_per_sample"] == pytest.approx(active * cfg.n_hidden)
    hidden_spikes = last_m["hidden_rate"] * cfg.n_hidden * cfg.n_steps
    assert last_m["synops_hidden_per_sample"] == pytest.approx(hidden_spikes * 10 * cfg.n_vote)
    assert last_m["ann_macs"] == 64 * cfg.n_hidden + cfg.n_hidden * 10 * cfg.n_vote
    assert metrics[-1]["accuracy"] == pytest.approx(_reference_accuracy(folder, protocol),
                                                    abs=1e-12)
    noise = json.loads((folder.path / "noise.json").read_text())
    levels = [(r["kind"], r["level"]) for r in noise["results"]]
    assert levels[0] == ("gaussian", 0.0) and ("salt_pepper", 0.3) in levels
    clean = noise["results"][0]["accuracy"]
    assert noise["results"][-1]["accuracy"] < clean      # 30 % salt and pepper hurts


def test_tl_run_learns_thresholds_only(tmp_path):
    cfg = make_config("stl", "quick", condition="tl", epochs=2, noise_samples=0)
    folder, _ = run(cfg, tmp_path, progress=False)
    start = NeuronParamProtocol(cfg).initial_state()
    arrays, _ = folder.read_checkpoint()
    for key in ("w_in", "w_out", "alpha_hidden", "alpha_output"):
        np.testing.assert_array_equal(arrays[key], start[key], err_msg=key)
    for key in ("theta_hidden", "theta_output"):
        assert np.abs(arrays[key] - start[key]).max() > 1e-3, key
    metrics = folder.read_metrics()
    assert metrics[-1]["theta_hidden_std"] > 0


def test_predictions_count_silence_and_ties_as_errors():
    from experiments.neuron_parameters import predictions

    counts = np.array([[0, 3, 1], [0, 0, 0], [2, 2, 1], [1, 0, 0]])
    np.testing.assert_array_equal(predictions(counts), [1, -1, -1, 0])


@pytest.mark.parametrize("study, condition, theta, encoding",
                         [("plif", "plif", "1.0", "current"), ("stl", "stl", "2.0", "bernoulli")])
def test_help_shows_each_studys_own_defaults(study, condition, theta, encoding, capsys):
    with pytest.raises(SystemExit):
        cli([study, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"what is learned (see the module help); default: {condition} " in text
    assert f"initial threshold (> 0); default: {theta} " in text
    assert f"default: {encoding} " in text


@pytest.mark.parametrize("study", ["plif", "stl"])
@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist"])
def test_quick_preset_covers_mnist_and_fashion_mnist(study, dataset):
    """Minutes on one core: a quarter of the paper's hidden cells on a subset, the
    study's own weights, learning rate and batch size."""
    from experiments.neuron_parameters import STUDIES, make_config

    cfg = make_config(study, "quick", dataset)
    paper = make_config(study, "paper", dataset)
    assert (cfg.study, cfg.dataset, cfg.eval_split) == (study, dataset, "validation")
    assert cfg.train_samples == 10000 and cfg.validation == 1000 and cfg.epochs <= 3
    assert cfg.n_hidden == paper.n_hidden // 4 and cfg.noise_samples <= cfg.validation
    for name in ("init_scale", "learning_rate", "batch_size", "encoding"):
        assert getattr(cfg, name) == STUDIES[study]["defaults"][name]


@pytest.mark.slow
@pytest.mark.parametrize("study", ["plif", "stl"])
def test_two_threads_train_what_one_thread_trains(study, tmp_path):
    from tests.experiments.threads import assert_two_threads_equal_one

    cfg = make_config(study, "quick", epochs=1, n_hidden=20, train_samples=48,
                      eval_samples=32, noise_samples=0)
    assert_two_threads_equal_one(run, cfg, tmp_path)
