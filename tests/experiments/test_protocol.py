"""The one protocol path (experiments/protocol.py): how a configuration is made, stored,
read back and refused, on a toy configuration class."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import ClassVar

import pytest

from experiments.protocol import ConfigurationError, RunConfig
from runs import RunFolder


@dataclass(frozen=True)
class ToyParameters:
    """A network's parameters, as a model's spec would hold them."""

    n_hidden: int = 10
    tau: float = 2.0


@dataclass(frozen=True)
class ToyConfig(RunConfig, ToyParameters):
    hidden: tuple = (3, 4)
    lr: float = 0.1

    protocol: ClassVar[str] = "toy"
    PRESETS: ClassVar[dict] = {
        "paper": {"mnist": dict(lr=0.2), "digits": dict(validation=300, n_hidden=7)},
        "quick": {"digits": dict(validation=300, epochs=3, tau=3.0)},
    }
    CLI_FIELDS: ClassVar[dict] = {"--hidden-size": ("n_hidden", int, "hidden cells"),
                                  "--lr": ("lr", float, "learning rate"),
                                  "--layers": ("hidden", int, "layer sizes")}
    MULTIPLE: ClassVar[tuple] = ("hidden",)
    FLAGS: ClassVar[dict] = {"--slow": ("tau", 50.0, "a slow membrane")}

    def check(self) -> None:
        self._require(("n_hidden",), "positive_int")
        self._require("tau", "positive")


def _parse(argv):
    parser = argparse.ArgumentParser()
    ToyConfig.add_arguments(parser)
    return parser.parse_args(argv)


def test_make_applies_defaults_then_preset_then_overrides():
    paper = ToyConfig.make()
    assert (paper.dataset, paper.lr, paper.n_hidden, paper.tau) == ("mnist", 0.2, 10, 2.0)
    quick = ToyConfig.make("quick")
    assert (quick.dataset, quick.epochs, quick.tau, quick.validation) == ("digits", 3, 3.0, 300)
    # None means "not given": the preset's value stays
    assert ToyConfig.make("quick", tau=None, n_hidden=5).tau == 3.0
    assert ToyConfig.make("quick", tau=4.0).tau == 4.0
    assert ToyConfig.make("paper", "Digits").n_hidden == 7  # names are normalised


@pytest.mark.parametrize("args, message", [
    (("fast",), "preset: unknown preset 'fast'; choose one of paper, quick."),
    (("quick", "mnist"), "dataset: preset 'quick' has no setting for 'mnist'"),
])
def test_make_refuses_unknown_presets_and_datasets(args, message):
    with pytest.raises(ConfigurationError, match=message):
        ToyConfig.make(*args)


@pytest.mark.parametrize("overrides, message", [
    (dict(n_hidden=0), "n_hidden: must be a positive integer, got 0."),
    (dict(tau=-1.0), "tau: must be a positive number, got -1.0."),
    (dict(epochs=-2), "epochs: must be an integer >= 0, got -2."),
    (dict(device="gpu"), "device: unknown device 'gpu'"),
    (dict(bogus=1), "unknown configuration fields: bogus"),
])
def test_validation_names_the_field(overrides, message):
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(")):
        ToyConfig.make("quick", **overrides)


def test_stored_dict_round_trips_and_tuples_come_back(tmp_path):
    cfg = ToyConfig.make("quick", hidden=(5, 6))
    stored = cfg.to_dict()
    assert stored["hidden"] == [5, 6]  # JSON has no tuples
    assert ToyConfig.from_dict(stored) == cfg
    folder = RunFolder.create(tmp_path, "toy", stored, run_id="r")
    assert ToyConfig.stored(folder) == cfg
    with pytest.raises(ConfigurationError, match="is a 3.0 run, not 6.0"):
        ToyConfig.stored(folder, tau=6.0)


def test_config_fields_come_from_the_parameters_class():
    names = [f for f in ToyConfig.__dataclass_fields__ if f in ("n_hidden", "tau")]
    assert names == ["n_hidden", "tau"]
    cfg = ToyConfig.make("quick", n_hidden=9)
    assert cfg.parameters(ToyParameters) == {"n_hidden": 9, "tau": 3.0}
    assert type(cfg.parameters(ToyParameters)["tau"]) is float


def test_command_line_new_run():
    cfg, root, run_id = ToyConfig.from_args(_parse(
        ["--preset", "quick", "--hidden-size", "8", "--layers", "2", "3", "--slow",
         "--out", "somewhere"]))
    assert (cfg.n_hidden, cfg.hidden, cfg.tau, cfg.epochs) == (8, (2, 3), 50.0, 3)
    assert (root, run_id) == ("somewhere", None)


def test_command_line_resume_reads_the_stored_configuration(tmp_path):
    cfg = ToyConfig.make("quick", n_hidden=8)
    folder = RunFolder.create(tmp_path, "toy", cfg.to_dict(), run_id="r")
    resumed, root, run_id = ToyConfig.from_args(_parse(["--resume", str(folder.path),
                                                        "--epochs", "9"]))
    assert resumed == ToyConfig.make("quick", n_hidden=8, epochs=9)
    assert (root, run_id) == (folder.path.parent.parent.resolve(), "r")
    for argv, named in ((["--lr", "0.5"], "--lr"), (["--slow"], "--slow"),
                        (["--dataset", "digits"], "--dataset")):
        with pytest.raises(ConfigurationError, match=f"{named} cannot change"):
            ToyConfig.from_args(_parse(["--resume", str(folder.path), *argv]))


@pytest.mark.parametrize("overrides, message", [
    (dict(threads=0), "threads: must be a positive integer, got 0."),
    (dict(threads=2, device="runtime"), "threads: only the cpp device runs OpenMP threads"),
])
def test_threads_are_checked(overrides, message):
    with pytest.raises(ConfigurationError, match=message):
        ToyConfig.make("quick", **overrides)


def test_threads_from_the_command_line_and_their_openmp_setting():
    cfg, _, _ = ToyConfig.from_args(_parse(["--preset", "quick", "--threads", "2"]))
    assert (cfg.threads, cfg.openmp_threads) == (2, 2)
    cfg, _, _ = ToyConfig.from_args(_parse(["--preset", "quick"]))
    assert (cfg.threads, cfg.openmp_threads) == (1, 0)  # one thread: no OpenMP at all


def test_a_protocol_that_cannot_thread_refuses_with_its_reason():
    @dataclass(frozen=True)
    class Serial(ToyConfig):
        THREADS_REFUSED: ClassVar[str] = "its sums race; use --threads 1."

    assert Serial.make("quick").threads == 1
    with pytest.raises(ConfigurationError, match="^threads: its sums race; use --threads 1.$"):
        Serial.make("quick", threads=2)
