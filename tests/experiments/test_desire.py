"""The desire protocol's configuration and command line (experiments.desire): errors in
the configuration or the options stop with clear messages before anything is compiled;
``--help`` documents every option with its default.
"""

from __future__ import annotations

import pytest

from experiments import desire
from experiments.__main__ import main as cli_main
from experiments.protocol import ConfigurationError
from runs import RunFolder


# --------------------------------------------------------------------------------------
# Configuration errors: clear messages, before anything is compiled
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("overrides, fields", [
    (dict(n_steps=4, error_margin=4), ["n_steps", "error_margin", "--steps"]),
    (dict(n_steps=3), ["n_steps", "error_margin"]),
    (dict(learning_rate=-1e-5), ["learning_rate", ">= 0"]),
    (dict(dropout_hidden=1.0), ["dropout_hidden", "[0, 1)"]),
    (dict(dropout_input=-0.1), ["dropout_input", "[0, 1)"]),
    (dict(decay=1.5), ["decay", "(0, 1)"]),
    (dict(chunk_size=0), ["chunk_size"]),
    (dict(hidden=(100, -3)), ["hidden"]),
])
def test_invalid_config_names_field_and_fix(overrides, fields):
    with pytest.raises(ConfigurationError) as info:
        desire.make_config("paper", "mnist", **overrides)
    for text in fields:
        assert text in str(info.value)


@pytest.mark.parametrize("argv, fields", [
    (["--steps", "4"], ["n_steps (T=4)", "error_margin (4)", "--steps", "--error-margin"]),
    (["--lr", "-0.001"], ["learning_rate", ">= 0"]),
    (["--dropout", "0.0", "1.2"], ["dropout_hidden", "[0, 1)"]),
])
def test_cli_rejects_bad_values_before_compiling(argv, fields, tmp_path, capsys, no_compile):
    code = cli_main(["desire", "--preset", "quick", "--out", str(tmp_path), *argv])
    err = capsys.readouterr().err
    assert code == 2
    for text in fields:
        assert text in err
    assert not (tmp_path / "desire").exists(), "no results folder for a rejected run"


def test_cli_data_dir_without_idx_files(tmp_path, capsys, no_compile):
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    code = cli_main(["desire", "--dataset", "mnist", "--data-dir", str(empty),
                     "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert "data_dir" in err and "train-images-idx3-ubyte.gz" in err
    assert str(empty) in err and "--data-dir" in err
    assert not (tmp_path / "out").exists()


def test_cli_resume_from_a_folder_that_is_not_a_run(tmp_path, capsys, no_compile):
    (tmp_path / "some-folder").mkdir()
    code = cli_main(["desire", "--resume", str(tmp_path / "some-folder")])
    err = capsys.readouterr().err
    assert code == 2
    assert "--resume" in err and "not a run folder" in err and "config.json" in err
    code = cli_main(["desire", "--resume", str(tmp_path / "missing")])
    assert code == 2 and "not a directory" in capsys.readouterr().err


def test_cli_resume_refuses_changed_settings(tmp_path, capsys, no_compile):
    cfg = desire.make_config("quick")
    folder = RunFolder.create(tmp_path, "desire", cfg.to_dict())
    code = cli_main(["desire", "--resume", str(folder.path), "--lr", "0.1"])
    assert code == 2
    assert "--lr cannot be given with --resume" in capsys.readouterr().err
    # desire's own option outside the tables, in the branch command too
    code = cli_main(["desire", "--resume", str(folder.path), "--dropout", "0.1", "0.2"])
    assert code == 2
    assert capsys.readouterr().err.strip().endswith(
        f"python -m experiments desire --branch {folder.path} --dropout 0.1 0.2")


def test_help_documents_every_option_with_its_default(capsys):
    with pytest.raises(SystemExit):
        cli_main(["desire", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option in ["--preset", "--dataset", "--data-dir", "--epochs", "--resume", "--device",
                   "--out", "--dropout", "--hidden", "--steps", "--lr", "--chunk-size",
                   "--seed", "--no-progress"]:
        assert option in text
    assert text.count("default") >= 25
    assert "1600 800" in text and "0.0 0.3" in text


@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist"])
def test_quick_preset_covers_mnist_and_fashion_mnist(dataset):
    """Minutes on one core: a network much smaller than the paper's on a subset, with
    the paper's dropout of that data set."""
    cfg = desire.make_config("quick", dataset)
    paper = desire.make_config("paper", dataset)
    assert cfg.dataset == dataset and cfg.eval_split == "validation"
    assert cfg.train_samples == 10000 and cfg.validation == 1000 and cfg.epochs <= 3
    synapses = lambda c: sum(a * b for a, b in zip(c.sizes(784), c.sizes(784)[1:]))  # noqa: E731
    assert synapses(cfg) < synapses(paper) / 2
    assert (cfg.dropout_input, cfg.dropout_hidden) == (paper.dropout_input,
                                                        paper.dropout_hidden)


@pytest.mark.slow
def test_two_threads_train_what_one_thread_trains(tmp_path):
    """The backward sums (err_pre += w * delta_post) run on one thread in an OpenMP
    build, so the weights come out bit for bit as with one thread."""
    from tests.experiments.threads import assert_two_threads_equal_one

    cfg = desire.make_config("quick", epochs=1, hidden=(30, 20), chunk_size=50,
                             train_samples=100, eval_samples=50)
    assert_two_threads_equal_one(desire.run, cfg, tmp_path)
