"""The one protocol path (experiments/protocol.py): how a configuration is made, stored,
read back and refused, on a toy configuration class; what --resume refuses (every class of
option, fewer epochs, --out, a hand-edited config.json) and records (an epochs extension,
config.json's configuration unchanged); --branch's configuration, record and initial
state."""

from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

from experiments.protocol import ConfigurationError, RunConfig, open_run
from experiments.training import Trainer, TrainingState
from runs import NotARunError, RunFolder


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
    (dict(epochs=-2), "epochs: must be an integer >= 1, got -2."),
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


# --------------------------------------------------------------------------------------
# --resume continues exactly; --branch starts a new run from a checkpoint
# --------------------------------------------------------------------------------------


class ToyProtocol:
    """What open_run and a checkpoint need of a protocol: one learned array whose shape
    follows ``n_hidden``."""

    name = "toy"
    chunk_size = 2
    n_train = 4
    n_eval = 2

    def __init__(self, cfg):
        self.cfg = cfg
        self.n_epochs = cfg.epochs

    def seeds(self):
        return {"seed": self.cfg.seed}

    def initial_state(self):
        return {"w": np.zeros((self.cfg.n_hidden, 2), dtype=np.float32)}


def toy_run(root, run_id="r", epoch=1, cursor=2, **overrides) -> RunFolder:
    """A run folder of the quick toy configuration with ``overrides``, its metrics and
    a checkpoint at ``epoch``, ``cursor`` whose weights are 0, 1, 2, ..."""
    cfg = ToyConfig.make("quick", **overrides)
    folder = RunFolder.create(root, "toy", cfg.to_dict(), run_id=run_id)
    folder.write_metrics([{"epoch": 1, "accuracy": 0.5}])
    protocol = ToyProtocol(cfg)
    state = TrainingState(arrays={"w": np.arange(cfg.n_hidden * 2.0).reshape(-1, 2)},
                          epoch=epoch, cursor=cursor, samples_seen=6)
    folder.write_checkpoint(state.checkpoint_arrays(),
                            state.meta(protocol, folder.read_config()["config"]))
    return folder


def _refusal(argv) -> str:
    with pytest.raises(ConfigurationError) as info:
        ToyConfig.from_args(_parse(argv))
    return str(info.value)


def test_command_line_resume_reads_the_stored_configuration(tmp_path):
    folder = toy_run(tmp_path, n_hidden=8)
    for allowed in ([], ["--no-progress"], ["--epochs", "3"], ["--data-dir", "elsewhere"]):
        resumed, root, run_id = ToyConfig.from_args(_parse(["--resume", str(folder.path),
                                                            *allowed]))
        assert (root, run_id) == (folder.path.parent.parent.resolve(), "r")
    assert resumed == ToyConfig.make("quick", n_hidden=8, data_dir="elsewhere")
    resumed, _, _ = ToyConfig.from_args(_parse(["--resume", str(folder.path), "--epochs", "9"]))
    assert resumed == ToyConfig.make("quick", n_hidden=8, epochs=9)


@pytest.mark.parametrize("argv", [
    ["--lr", "0.5"],                           # a field option
    ["--layers", "2", "3"],                    # one of several values
    ["--slow"],                                # a switch
    ["--dataset", "mnist"],
    ["--device", "cuda"],
    ["--out", "elsewhere"],
    ["--lr", "0.5", "--device", "runtime", "--epochs", "4"],
])
def test_resume_refuses_options_that_change_the_run_and_names_the_branch(argv, tmp_path):
    folder = toy_run(tmp_path)
    run = str(folder.path)
    message = _refusal(["--resume", run, *argv])
    refused = [a for a in argv if a.startswith("--") and a != "--epochs"]
    named, rest = message.split(" cannot be given with --resume: ", 1)
    assert sorted(named.split(", ")) == sorted(refused), message
    assert rest.startswith("a resumed run continues exactly as it was configured"), message
    assert f"Leave {'them' if len(refused) > 1 else 'it'} out to continue {run}" in message
    # the exact command that trains the change as a new run, and it parses
    command = message.split("starts from its checkpoint: ")[1]
    words = command.split()
    assert words[:6] == ["python", "-m", "experiments", "toy", "--branch", run]
    assert sorted(words[6:]) == sorted(argv)
    args = _parse(words[4:])
    assert args.branch == run and args.resume is None


def test_resume_refuses_a_preset_fewer_epochs_and_branch(tmp_path):
    folder = toy_run(tmp_path)  # the quick preset: 3 epochs
    run = str(folder.path)
    assert _refusal(["--resume", run, "--preset", "quick"]) == (
        f"--preset cannot be given with --resume: the run in {run} keeps the configuration "
        "it was made with; leave --preset out.")
    assert _refusal(["--resume", run, "--epochs", "2"]) == (
        f"--epochs 2: the run in {folder.path} is configured for 3 epochs, and a resumed "
        "run can only be extended. Leave --epochs out to train it to its 3 epochs, or give "
        "more.")
    assert _refusal(["--resume", run, "--branch", run]).startswith(
        "--resume and --branch cannot be given together")


def test_out_defaults_to_results_for_a_new_run_only():
    _, root, _ = ToyConfig.from_args(_parse(["--preset", "quick"]))
    assert root == "results"
    assert _parse([]).out is None and _parse([]).preset is None


def test_resume_extends_epochs_as_an_event_and_keeps_the_configuration(tmp_path):
    folder = toy_run(tmp_path)
    config_before = json.dumps(folder.read_config()["config"], sort_keys=True)
    cfg, root, run_id = ToyConfig.from_args(_parse(["--resume", str(folder.path),
                                                    "--epochs", "5"]))
    opened, resumed = open_run(ToyProtocol(cfg), cfg, root, run_id=run_id, resume=True)
    opened.unlock()
    assert resumed and opened.path == folder.path.resolve()
    document = folder.read_config()
    assert json.dumps(document["config"], sort_keys=True) == config_before
    assert document["config"]["epochs"] == 3
    (event,) = document["events"]
    assert (event["field"], event["from"], event["to"]) == ("epochs", 3, 5)
    assert "epochs extended from 3 to 5" in folder.log_path.read_text()
    # the effective configuration has the extension; resuming it again records nothing
    assert ToyConfig.stored(folder).epochs == 5
    cfg, root, run_id = ToyConfig.from_args(_parse(["--resume", str(folder.path)]))
    assert cfg.epochs == 5
    opened, _ = open_run(ToyProtocol(cfg), cfg, root, run_id=run_id, resume=True)
    opened.unlock()
    assert len(folder.read_config()["events"]) == 1
    # and fewer than the extended number are refused
    with pytest.raises(ConfigurationError, match="configured for 5 epochs"):
        ToyConfig.from_args(_parse(["--resume", str(folder.path), "--epochs", "4"]))
    # another data directory (the files are checksum-verified) is an event too
    cfg, root, run_id = ToyConfig.from_args(_parse(["--resume", str(folder.path),
                                                    "--data-dir", "elsewhere"]))
    opened, _ = open_run(ToyProtocol(cfg), cfg, root, run_id=run_id, resume=True)
    opened.unlock()
    event = folder.read_config()["events"][-1]
    assert (event["field"], event["from"], event["to"]) == ("data_dir", None, "elsewhere")
    assert "data_dir changed from None to 'elsewhere' on resume" in folder.log_path.read_text()
    assert json.dumps(folder.read_config()["config"], sort_keys=True) == config_before


def test_resume_refuses_a_hand_edited_configuration(tmp_path):
    folder = toy_run(tmp_path)
    document = folder.read_config()
    document["config"].update(lr=0.5, seed=3)
    folder.config_path.write_text(json.dumps(document))
    before = folder.config_path.read_bytes()
    cfg, root, run_id = ToyConfig.from_args(_parse(["--resume", str(folder.path)]))
    with pytest.raises(NotARunError) as info:
        open_run(ToyProtocol(cfg), cfg, root, run_id=run_id, resume=True)
    message = str(info.value)
    assert "was edited after the run started: lr is 0.5 there but 0.1 in the checkpoint; " \
           "seed is 3 there but 0 in the checkpoint." in message
    assert "restore those values in config.json to continue it" in message
    assert message.endswith(f"python -m experiments toy --branch {folder.path.resolve()}")
    assert folder.config_path.read_bytes() == before
    folder.lock()  # open_run released it
    folder.unlock()


def test_branch_takes_the_configuration_options_and_learned_state(tmp_path):
    source = toy_run(tmp_path, run_id="source", epoch=2, cursor=2, n_hidden=3)
    out = tmp_path / "branches"
    cfg, root, run_id = ToyConfig.from_args(_parse(
        ["--branch", str(source.path), "--lr", "0.7", "--epochs", "2", "--out", str(out)]))
    assert cfg == ToyConfig.make("quick", n_hidden=3, lr=0.7, epochs=2)
    assert (root, run_id) == (str(out), None)
    protocol = ToyProtocol(cfg)
    folder, resumed = open_run(protocol, cfg, root, branch=str(source.path), label="b")
    assert resumed and folder.path.parent == out / "toy"
    document = folder.read_config()
    assert document["config"] == cfg.to_dict()
    origin = document["branched_from"]
    assert origin == {"run": str(source.path.resolve()), "run_id": "source", "epoch": 2,
                      "cursor": 2, "checkpoint": "checkpoint.npz",
                      "sha256": hashlib.sha256(source.checkpoint_path.read_bytes()).hexdigest()}
    assert f"branched from {source.path} at epoch 2, sample 2" in folder.log_path.read_text()
    # its first checkpoint: the source's learned state in the new network's type, at the
    # start of its own schedule
    checkpoint = folder.usable_checkpoint()
    assert (checkpoint.meta["epoch"], checkpoint.meta["cursor"]) == (0, 0)
    assert checkpoint.meta["metrics"] == [] and folder.read_metrics() == []
    assert checkpoint.arrays["w"].dtype == np.float32
    np.testing.assert_array_equal(checkpoint.arrays["w"], np.arange(6.0).reshape(3, 2))
    # Without that checkpoint (a kill right after the folder was made) a resume would
    # start from the initial state, which is not the branch's: refused.
    folder.checkpoint_path.unlink()
    with pytest.raises(NotARunError, match="stopped before its first checkpoint was "
                                           "written; delete it and start the branch again"):
        Trainer(protocol, folder, progress=False).run(resume=True)


def test_branch_refuses_another_shape_a_preset_and_a_run_without_checkpoint(tmp_path):
    source = toy_run(tmp_path, run_id="source", n_hidden=3)
    cfg, root, _ = ToyConfig.from_args(_parse(["--branch", str(source.path),
                                               "--hidden-size", "5", "--out", str(tmp_path)]))
    with pytest.raises(NotARunError) as info:
        open_run(ToyProtocol(cfg), cfg, root, branch=str(source.path))
    assert str(info.value).startswith(
        f"--branch: the checkpoint '{source.checkpoint_path}' holds w of shape (3, 2), but "
        "the network of the branch's configuration needs (5, 2): a branch keeps the "
        "architecture of the run it starts from")
    assert sorted(p.name for p in (tmp_path / "toy").iterdir()) == ["source"]
    assert _refusal(["--branch", str(source.path), "--preset", "quick"]).startswith(
        "--preset cannot be given with --branch")
    empty = RunFolder.create(tmp_path, "toy", ToyConfig.make("quick").to_dict(), run_id="e")
    with pytest.raises(NotARunError, match="has no checkpoint to start from"):
        open_run(ToyProtocol(cfg), cfg, root, branch=str(empty.path))


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
