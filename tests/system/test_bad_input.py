"""Bad input for every entry point: a fault-tolerance matrix.

Every protocol of ``python -m experiments`` (the registry in experiments/__main__.py),
its configuration (``make_config``, and ``from_dict`` + ``validate`` on resume) and
``python -m figures`` get wrong types, out-of-range values, a missing or corrupt data
directory, ``--resume`` of another protocol's run, ``--resume`` of a checkpoint of
another architecture, and a results path that is a file or cannot be written. Each must
end with exit status 2 and exactly one message on stderr that names the problem and the
fix, no traceback, nothing compiled (the ``no_compile`` fixture) and every file of the
pre-existing results folder unchanged (bytes and mtime, and no file or folder added).

The results folder is made once per module: one real tiny run (ei_ratio, runtime
device, a few seconds) and, for every protocol, folders fabricated with the package's
own writers (``RunFolder.create``, ``write_checkpoint`` with the metadata of
``TrainingState.meta``). Most cases call the command lines in-process; a few run them
in subprocesses to check the real exit status and the absence of a traceback.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from experiments import __main__ as experiments_cli
from experiments import balanced_tuning as BT
from experiments import desire
from experiments import ei_ratio as EI
from experiments import neuron_parameters as NP
from experiments.datasets import write_idx
from runs import RunFolder
from experiments.protocol import ConfigurationError
from experiments.training import TrainingState
from figures.__main__ import main as figures_main

REPO = Path(__file__).resolve().parents[2]
PROTOCOLS = ["desire", "ei_ratio", "plif", "stl", "balanced_tuning"]
#: The E:I protocol's sweep, a case of its own in the matrix.
SWEEP = "ei_ratio_sweep"
SWEEP_ARGV = ["ei_ratio", "--sweep", "rate"]

#: Published MD5s of the training images (the data sets' own pages), which a file of
#: our own cannot have.
MD5 = {"mnist": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
       "fashion-mnist": "8d4fb7e6c68d591d4c3dfef9ec88bf0d"}

# -- tiny configurations -----------------------------------------------------------------

_DATA = dict(epochs=1, train_samples=8, eval_samples=4)
_VOTING = dict(batch_size=2, chunk_batches=2, analysis_samples=0, noise_samples=0, **_DATA)


def tiny_config(protocol: str, size: int = 4, **extra):
    """A validated quick-preset configuration of ``protocol`` with ``size`` hidden cells
    (``extra``: further overrides)."""
    if protocol == "desire":
        return desire.make_config("quick", **{**_DATA, "hidden": (size,), "chunk_size": 4,
                                              **extra})
    if protocol == "ei_ratio":
        return EI.make_config("quick", **{**_DATA, "n_hidden": size, "batch_size": 2,
                                          "chunk_batches": 2, "analysis_samples": 0, **extra})
    if protocol in ("plif", "stl"):
        return NP.make_config(protocol, "quick", **{**_VOTING, "n_hidden": size, **extra})
    return BT.make_config("quick", **{**_DATA, "n_hidden": size, "chunk_size": 4,
                                      "equilibrium_samples": 4, "analysis_samples": 0,
                                      **extra})


#: Command-line options of the same tiny networks, for new runs.
_TINY = {
    "desire": ["--hidden", "4", "--chunk-size", "4"],
    "ei_ratio": ["--hidden", "4", "--batch-size", "2", "--chunk-batches", "2",
                 "--analysis-samples", "0"],
    "plif": ["--hidden", "4", "--batch-size", "2", "--chunk-batches", "2",
             "--analysis-samples", "0", "--noise-samples", "0"],
    "stl": ["--hidden", "4", "--batch-size", "2", "--chunk-batches", "2",
            "--analysis-samples", "0", "--noise-samples", "0"],
    "balanced_tuning": ["--hidden", "4", "--chunk-size", "4", "--equilibrium-samples", "4",
                        "--analysis-samples", "0"],
}
_TINY = {p: [*argv, "--epochs", "1", "--train-samples", "8", "--eval-samples", "4"]
         for p, argv in _TINY.items()}
_TINY[SWEEP] = ["--axis", "e_fraction=0.8", "--axis", "input_scale=0.25", "--epochs", "1"]


def make_protocol(cfg):
    """The protocol object of ``cfg`` (loads the digits; compiles nothing)."""
    cls = {desire.DesireConfig: desire.DesireProtocol, EI.EIRatioConfig: EI.EIRatioProtocol,
           NP.NeuronParamConfig: NP.NeuronParamProtocol,
           BT.BalancedTuningConfig: BT.BalancedTuningProtocol}[type(cfg)]
    return cls(cfg)


def fabricate(root, protocol: str, run_id: str, hidden: int = 4, checkpoint_hidden=None,
              **extra) -> RunFolder:
    """A run folder in the format a run writes: config.json, metrics.jsonl, log.txt and,
    with ``checkpoint_hidden``, checkpoint.npz of a network with that many hidden cells
    (written by the package's own writer, with the engine's metadata)."""
    cfg = tiny_config(protocol, hidden, **extra)
    p = make_protocol(cfg)
    folder = RunFolder.create(root, protocol, cfg.to_dict(), run_id=run_id, seeds=p.seeds())
    folder.write_metrics([{"epoch": 1, "split": "test", "accuracy": 0.5, "n_eval": 4,
                           "train_accuracy": 0.5, "learning_rate": 0.001, "samples_seen": 8}])
    folder.log("fabricated by tests/system/test_bad_input.py")
    if checkpoint_hidden is not None:
        if checkpoint_hidden != hidden:
            p = make_protocol(tiny_config(protocol, checkpoint_hidden, **extra))
        state = TrainingState(arrays=p.initial_state(), epoch=0, cursor=4, samples_seen=4)
        folder.write_checkpoint(state.checkpoint_arrays(), state.meta(p, cfg.to_dict()))
    return folder


#: A hand edit of config.json per protocol (a value of the wrong type) and the words of
#: the message that must name it.
BAD_STORED = {
    "desire": ({"decay": "0.75"}, ["decay", "(0, 1)", "'0.75'"]),
    "ei_ratio": ({"latency_threshold": "0.2"}, ["latency_threshold", "(0, 1)", "'0.2'"]),
    "plif": ({"noise_sigmas": 0.1}, ["noise_sigmas", "list of noise levels", "0.1"]),
    "stl": ({"condition": ["stl"]}, ["condition", "unknown condition ['stl']", "stl, sl, tl"]),
    "balanced_tuning": ({"p_out": "half"}, ["p_out", "(0, 1]", "'half'"]),
}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """The pre-existing results root: ``ei_ratio/real`` (a real tiny run), and per
    protocol ``ok`` (config and checkpoint agree), ``h8`` (8 hidden cells),
    ``arch`` (config of 4 hidden cells, the checkpoint of ``h8`` copied in), ``corrupt``
    (a truncated checkpoint, no previous one, metrics written), ``badcfg`` (a
    hand-edited config.json with a value of the wrong type)."""
    root = tmp_path_factory.mktemp("results")
    cfg = EI.make_config("quick", n_hidden=4, batch_size=2, chunk_batches=2,
                         analysis_samples=0, device="runtime", **_DATA)
    EI.run(cfg, root, run_id="real", progress=False)
    for protocol in PROTOCOLS:
        fabricate(root, protocol, "ok", 4, checkpoint_hidden=4)
        h8 = fabricate(root, protocol, "h8", 8, checkpoint_hidden=8)
        arch = fabricate(root, protocol, "arch", 4)
        shutil.copy2(h8.checkpoint_path, arch.checkpoint_path)
        corrupt = fabricate(root, protocol, "corrupt", 4, checkpoint_hidden=4)
        data = corrupt.checkpoint_path.read_bytes()
        corrupt.checkpoint_path.write_bytes(data[:len(data) // 2])
        bad = fabricate(root, protocol, "badcfg", 4)
        document = bad.read_config()
        document["config"].update(BAD_STORED[protocol][0])
        bad.config_path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    return root


def snapshot(root: Path) -> dict:
    """Every file's SHA-256 and mtime, and every folder, under ``root``."""
    out = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_dir():
            out[key] = "folder"
        else:
            out[key] = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
    return out


@pytest.fixture
def untouched(results):
    """Asserts after the test that nothing under the results root changed."""
    before = snapshot(results)
    yield results
    assert snapshot(results) == before, "a file of the existing results was changed"


def run_cli(main, argv, capsys):
    """``(exit status, stderr)`` of an in-process command line (argparse's SystemExit
    included)."""
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    return code, capsys.readouterr().err


def assert_one_message(code, err, words, prefix="error: "):
    """Exit 2, no traceback, exactly one line on stderr, starting with ``prefix`` and
    holding every one of ``words``."""
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(prefix), err
    for word in words:
        assert word in lines[0], (word, err)


def assert_usage_error(code, err, command, words):
    """argparse's refusal: exit 2, its usage, then one ``<command>: error: argument``
    line with ``words``."""
    assert code == 2, err
    assert "Traceback" not in err
    assert err.startswith("usage: ") and err.count("error:") == 1, err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"python -m {command}: error: argument "), err
    for word in words:
        assert word in last, (word, err)


def test_every_registered_protocol_is_in_the_matrix():
    assert set(experiments_cli.PROTOCOLS) == set(PROTOCOLS)


# ======================================================================================
# 1. Wrong types (argparse: the usage and one error line, exit 2)
# ======================================================================================

WRONG_TYPES = [
    *[(p, ["--epochs", "abc"], ["--epochs", "invalid int value: 'abc'"])
      for p in PROTOCOLS + [SWEEP]],
    *[(p, ["--seed", "1.5"], ["--seed", "invalid int value: '1.5'"]) for p in PROTOCOLS],
    *[(p, ["--hidden", "4.5"], ["--hidden", "invalid int value: '4.5'"]) for p in PROTOCOLS],
    ("desire", ["--lr", "fast"], ["--lr", "invalid float value: 'fast'"]),
    ("desire", ["--dropout", "0.1"], ["--dropout", "expected 2 arguments"]),
    ("desire", ["--device", "gpu"], ["--device", "invalid choice: 'gpu'"]),
    ("ei_ratio", ["--threads", "two"], ["--threads", "invalid int value: 'two'"]),
    ("ei_ratio", ["--tau-mem", "10ms"], ["--tau-mem", "invalid float value: '10ms'"]),
    ("ei_ratio", ["--optimizer", "rmsprop"], ["--optimizer", "invalid choice: 'rmsprop'"]),
    ("plif", ["--tau", "two"], ["--tau", "invalid float value: 'two'"]),
    ("plif", ["--tau-per", "synapse"], ["--tau-per", "invalid choice: 'synapse'"]),
    ("stl", ["--theta", "high"], ["--theta", "invalid float value: 'high'"]),
    ("stl", ["--batch-size", "1e3"], ["--batch-size", "invalid int value: '1e3'"]),
    ("balanced_tuning", ["--stp-U", "0,2"], ["--stp-U", "invalid float value: '0,2'"]),
    ("balanced_tuning", ["--sweep", "ablation", "--trials", "x"], ["--trials", "invalid int value: 'x'"]),
    (SWEEP, ["--trials", "2.5"], ["--trials", "invalid int value: '2.5'"]),
    (SWEEP, ["--axis", "e_fraction=0.5;0.8"], ["--axis", "not a comma-separated list"]),
    (SWEEP, ["--workers", "many"], ["--workers", "invalid int value: 'many'"]),
]


def _new_run(protocol, argv, root):
    if protocol == SWEEP:
        return [*SWEEP_ARGV, "--preset", "quick", "--scheduler", "serial", "--trials", "1",
                *argv, "--out", str(root)]
    return [protocol, "--preset", "quick", "--device", "runtime", *argv, "--out", str(root)]


@pytest.mark.parametrize("protocol, argv, words", WRONG_TYPES,
                         ids=[f"{p}{'_'.join(a)}" for p, a, _ in WRONG_TYPES])
def test_wrong_types_are_usage_errors(protocol, argv, words, untouched, capsys, no_compile):
    code, err = run_cli(experiments_cli.main, _new_run(protocol, argv, untouched), capsys)
    command = SWEEP_ARGV[0] if protocol == SWEEP else protocol
    assert_usage_error(code, err, f"experiments {command}", words)


# ======================================================================================
# 2. Out-of-range values (the configuration's message: the field, the bound, the value)
# ======================================================================================

TOO_BIG_SPLITS = ["validation (2000)", "test (300)", "1797 'digits' images", "--validation"]

OUT_OF_RANGE = [
    ("desire", ["--epochs", "-1"], ["epochs: must be an integer >= 1", "got -1"]),
    ("desire", ["--hidden", "4", "0"], ["hidden: layer sizes must be positive", "(4, 0)"]),
    ("desire", ["--chunk-size", "0"], ["chunk_size: must be a positive number", "got 0"]),
    ("desire", ["--dropout", "-0.1", "0.2"], ["dropout_input", "[0, 1)", "-0.1"]),
    ("desire", ["--steps", "0"], ["n_steps: must be a positive number of time steps"]),
    ("desire", ["--lr", "nan"], ["learning_rate: must be a finite number >= 0", "nan"]),
    ("desire", ["--seed", "-3"], ["seed: must be an integer >= 0, got -3"]),
    ("desire", ["--train-samples", "0"], ["train_samples: must be a positive number"]),
    ("desire", ["--validation", "2000"], TOO_BIG_SPLITS),
    ("desire", ["--threads", "0"], ["threads: must be a positive integer, got 0"]),
    ("plif", ["--threads", "2"], ["threads: only the cpp device runs OpenMP threads",
                                  "--device cpp or --threads 1"]),
    ("balanced_tuning", ["--threads", "2"], ["threads: balanced tuning's synapses",
                                             "use --threads 1", "--workers 2"]),
    ("ei_ratio", ["--e-fraction", "1.5"], ["e_fraction", "[0, 1]", "got 1.5"]),
    ("ei_ratio", ["--tau-syn", "0"], ["tau_syn: must be a positive number, got 0.0"]),
    ("ei_ratio", ["--tau-out", "-10"], ["tau_out: must be a positive number, got -10.0"]),
    ("ei_ratio", ["--hidden", "0"], ["n_hidden: must be a positive integer, got 0"]),
    ("ei_ratio", ["--batch-size", "-2"], ["batch_size: must be a positive integer, got -2"]),
    ("ei_ratio", ["--weight-noise", "-0.1"], ["weight_noise", ">= 0", "-0.1"]),
    ("ei_ratio", ["--validation", "2000"], TOO_BIG_SPLITS),
    ("plif", ["--tau", "0.5"], ["tau: the initial membrane time constant must be a number > 1",
                                "got 0.5"]),
    ("plif", ["--steps", "0"], ["n_steps: must be a positive integer, got 0"]),
    ("plif", ["--init-scale", "0"], ["init_scale: must be a positive number, got 0.0"]),
    ("plif", ["--noise-samples", "-1"], ["noise_samples: must be an integer >= 0", "got -1"]),
    ("plif", ["--weight-decay=-1e-6"], ["weight_decay: must be a number >= 0"]),
    ("plif", ["--validation", "2000"], TOO_BIG_SPLITS),
    ("stl", ["--theta", "inf"], ["theta: the initial threshold must be a positive number",
                                 "got inf"]),
    ("stl", ["--lr", "-1"], ["learning_rate: must be a number >= 0, got -1.0"]),
    ("stl", ["--vote", "0"], ["n_vote: must be a positive integer, got 0"]),
    ("stl", ["--chunk-batches", "0"], ["chunk_batches: must be a positive integer, got 0"]),
    ("stl", ["--validation", "2000"], TOO_BIG_SPLITS),
    ("balanced_tuning", ["--t-present", "-1"], ["t_present_ms", "positive", "-1.0"]),
    ("balanced_tuning", ["--t-rest", "-1"], ["t_rest_ms", ">= 0 ms", "-1.0"]),
    ("balanced_tuning", ["--stp-U", "1.5"], ["stp_U", "(0, 1]", "1.5"]),
    ("balanced_tuning", ["--ff-inh-fraction", "1.2"], ["ff_inh_fraction", "[0, 1)", "1.2"]),
    ("balanced_tuning", ["--stp-tau-f", "0"], ["stp_tau_f_ms: must be a positive number"]),
    ("balanced_tuning", ["--per-class", "0"], ["n_per_class: must be a positive integer"]),
    ("balanced_tuning", ["--equilibrium-samples", "0"], ["equilibrium_samples: step 1 needs",
                                                         "equilibrium_epochs to 0"]),
    ("balanced_tuning", ["--validation", "2000"], TOO_BIG_SPLITS),
    ("balanced_tuning", ["--sweep", "ablation", "--seed", "-1"], ["seed: must be an integer >= 0",
                                                                  "got -1"]),
    ("balanced_tuning", ["--sweep", "ablation", "--workers", "0"], ["n_workers=0",
                                                                    "whole number >= 1"]),
    (SWEEP, ["--trials", "0"], ["--trials must be at least 1, got 0"]),
    (SWEEP, ["--epochs", "-1"], ["epochs: must be an integer >= 1", "got -1"]),
    (SWEEP, ["--axis", "input_scale=0.1,-0.2"], ["input_scale: must be a positive number",
                                                  "-0.2"]),
    (SWEEP, ["--workers", "0"], ["n_workers=0", "whole number >= 1"]),
    (SWEEP, ["--train-samples", "0"], ["train_samples: must be a positive number"]),
    (SWEEP, ["--axis", "bogus=0.1"], ["unknown sweep axis 'bogus'",
                                      "not a configuration field"]),
]


@pytest.mark.parametrize("protocol, argv, words", OUT_OF_RANGE,
                         ids=[f"{p}{'_'.join(a)}" for p, a, _ in OUT_OF_RANGE])
def test_out_of_range_values_name_the_field(protocol, argv, words, untouched, capsys,
                                            no_compile):
    code, err = run_cli(experiments_cli.main, _new_run(protocol, argv, untouched), capsys)
    assert_one_message(code, err, words)


# -- the configuration entry points: make_config and validate ------------------------------

BAD_FIELDS = [
    ("desire", "decay", "0.75", ["(0, 1)", "got '0.75'"]),
    ("desire", "dt_ms", True, ["> 0 ms", "got True"]),
    ("desire", "v_th", [1.0], ["> 0", "got [1.0]"]),
    ("desire", "hidden", 5, ["positive integers", "got 5"]),
    ("desire", "dropout_hidden", "0.3", ["[0, 1)", "got '0.3'"]),
    ("desire", "theta_output", {"x": 1}, ["finite number >= 0", "got {'x': 1}"]),
    ("desire", "shuffle", "yes", ["true or false", "got 'yes'"]),
    ("desire", "weight_dtype", "float16", ["'float64' or 'float32'", "got 'float16'"]),
    ("desire", "data_dir", 7, ["directory name or None", "got 7"]),
    ("ei_ratio", "latency_threshold", "0.2", ["(0, 1)", "got '0.2'"]),
    ("ei_ratio", "nonnegative_input", 1, ["true or false", "got 1"]),
    ("plif", "condition", ["plif"], ["unknown condition ['plif'] for plif"]),
    ("plif", "noise_sigmas", 0.1, ["list of noise levels", "got 0.1"]),
    ("stl", "salt_pepper", (0.1, 1.5), ["<= 1.0", "got 1.5"]),
    ("stl", "salt_pepper", 5, ["list of noise levels", "got 5"]),
    ("balanced_tuning", "p_out", "0.5", ["(0, 1]", "got '0.5'"]),
    ("balanced_tuning", "p_out", True, ["(0, 1]", "got True"]),
    ("balanced_tuning", "static_release", "0.1", ["(0, 1]", "got '0.1'"]),
    ("balanced_tuning", "static_release", 0.0, ["(0, 1]", "got 0.0"]),
    ("balanced_tuning", "ff_inh_fraction", 1.0, ["[0, 1)", "got 1.0"]),
    ("balanced_tuning", "centre_out", "yes", ["true or false", "got 'yes'"]),
    ("balanced_tuning", "mean_samples", 0.5, [">= 1", "got 0.5"]),
]


@pytest.mark.parametrize("protocol, field, value, words", BAD_FIELDS,
                         ids=[f"{p}-{f}-{v!r}" for p, f, v, _ in BAD_FIELDS])
def test_make_config_and_validate_refuse_wrong_types(protocol, field, value, words):
    for attempt in ("make_config", "validate"):
        with pytest.raises(ConfigurationError) as info:
            if attempt == "make_config":
                tiny_config(protocol, **{field: value})
            else:  # a stored configuration read back on --resume
                cfg = tiny_config(protocol)
                data = cfg.to_dict()
                data[field] = value
                type(cfg).from_dict(data).validate()
        message = str(info.value)
        assert message.startswith(f"{field}: "), (attempt, message)
        for word in words:
            assert word in message, (attempt, word, message)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_resume_of_a_hand_edited_config_names_the_field(protocol, results, untouched,
                                                        capsys, no_compile):
    _, words = BAD_STORED[protocol]
    folder = results / protocol / "badcfg"
    code, err = run_cli(experiments_cli.main, [protocol, "--resume", str(folder)], capsys)
    assert_one_message(code, err, words)


# ======================================================================================
# 3. Data: a missing data directory, corrupt IDX files
# ======================================================================================


def _write_idx_dir(directory: Path, kind: str) -> Path:
    """An IDX training pair in ``directory``, broken as ``kind`` says; returns the
    images file (the first one read). The command lines verify the published MD5 of a
    file before parsing it, so each of these is refused by its checksum, with a message
    naming the file and both checksums (read_idx's own checks of gzip, magic number and
    counts, reached with ``verify=False``, are tested in tests/experiments/test_idx.py and
    test_datasets.py)."""
    directory.mkdir()
    images = directory / "train-images-idx3-ubyte.gz"
    labels = directory / "train-labels-idx1-ubyte.gz"
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)
    digits = rng.integers(0, 10, 6).astype(np.uint8)
    write_idx(labels, digits)
    if kind == "truncated_gzip":
        write_idx(images, pixels)
        images.write_bytes(images.read_bytes()[:200])
        with pytest.raises(EOFError):
            gzip.decompress(images.read_bytes())
    elif kind == "wrong_magic":  # a labels file where the images belong
        write_idx(images, digits)
        assert gzip.decompress(images.read_bytes())[:4] == b"\x00\x00\x08\x01"
    elif kind == "wrong_counts":  # 5 images for 6 labels
        write_idx(images, pixels[:5])
    return images


DATA_CASES = ["missing", "truncated_gzip", "wrong_magic", "wrong_counts"]


@pytest.mark.parametrize("kind", DATA_CASES)
@pytest.mark.parametrize("protocol", PROTOCOLS + [SWEEP])
def test_missing_or_corrupt_data_directory(protocol, kind, tmp_path, untouched, capsys,
                                           no_compile):
    data_dir = tmp_path / "idx"
    if protocol == SWEEP:  # the paper grid reads Fashion-MNIST
        dataset = "fashion-mnist"
        argv = [*SWEEP_ARGV, "--preset", "paper", "--scheduler", "serial", "--trials", "1",
                "--axis", "e_fraction=0.8", "--axis", "input_scale=0.1", "--data-dir",
                str(data_dir), "--out", str(untouched)]
    else:
        dataset = "mnist"
        argv = [protocol, "--dataset", "mnist", "--data-dir", str(data_dir),
                "--out", str(untouched)]
    if kind == "missing":
        words = ["data_dir", "'train-images-idx3-ubyte.gz'", f"of data set '{dataset}' was "
                 f"not found", f"searched {data_dir / dataset}, {data_dir}", "--data-dir"]
    else:
        images = _write_idx_dir(data_dir, kind)
        actual = hashlib.md5(images.read_bytes()).hexdigest()
        words = ["data_dir", f"'{images}' has MD5 {actual}, expected {MD5[dataset]}",
                 "Delete the file", "--data-dir"]
    code, err = run_cli(experiments_cli.main, argv, capsys)
    assert_one_message(code, err, words)


# ======================================================================================
# 4. --resume of a run of another protocol (and a sweep into another protocol's folder)
# ======================================================================================

OTHER_RUN = {"desire": "ei_ratio/real", "ei_ratio": "stl/ok", "plif": "stl/ok",
             "stl": "plif/ok", "balanced_tuning": "ei_ratio/real"}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_resume_of_another_protocols_run(protocol, untouched, capsys, no_compile):
    other = untouched / OTHER_RUN[protocol]
    code, err = run_cli(experiments_cli.main, [protocol, "--resume", str(other)], capsys)
    other_name = OTHER_RUN[protocol].split("/")[0]
    assert_one_message(code, err, ["--resume", f"'{other}' is a run of protocol "
                                   f"'{other_name}', not '{protocol}'",
                                   "resume it with its own protocol"])


@pytest.mark.parametrize("where, words", [
    (("", "ei_ratio"), ["holds runs of protocol 'ei_ratio'", "not tasks of the sweep "
                                                             "'ei_ratio'"]),
    (("ei_ratio", "real"), ["is a run folder (it has config.json)"]),
])
def test_sweep_into_a_folder_of_another_protocol(where, words, untouched, capsys, no_compile):
    out, name = where
    argv = [*SWEEP_ARGV, "--preset", "quick", "--scheduler", "serial", "--trials", "1",
            "--axis", "e_fraction=0.8", "--axis", "input_scale=0.25", "--epochs", "1",
            "--out", str(untouched / out), "--name", name]
    code, err = run_cli(experiments_cli.main, argv, capsys)
    assert_one_message(code, err, [str(untouched / out / name), *words,
                                   "another name (--name) or results root (--out)"])


# ======================================================================================
# 5. --resume of a checkpoint of another architecture (or an unreadable one)
# ======================================================================================


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_resume_of_a_checkpoint_of_another_architecture(protocol, untouched, capsys,
                                                        no_compile):
    folder = untouched / protocol / "arch"
    code, err = run_cli(experiments_cli.main, [protocol, "--resume", str(folder)], capsys)
    assert_one_message(code, err, ["--resume", f"'{folder / 'checkpoint.npz'}'",
                                   "another architecture", "start a new run without --resume"])
    name, stored, needed = re.search(r"holds (\w+) of shape (\([\d, ]*\)), but the network "
                                     r"of the run's configuration \(config.json\) needs "
                                     r"(\([\d, ]*\))", err).groups()
    four = make_protocol(tiny_config(protocol, 4)).initial_state()
    eight = make_protocol(tiny_config(protocol, 8)).initial_state()
    assert stored == str(eight[name].shape) and needed == str(four[name].shape)
    assert stored != needed


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_resume_of_a_truncated_checkpoint(protocol, untouched, capsys, no_compile):
    """The only checkpoint cut in half, no previous one, and metrics written: the run
    trained, so it is refused rather than started again in place (tests/runs/test_folder.py
    has the fall back to a previous checkpoint)."""
    folder = untouched / protocol / "corrupt"
    code, err = run_cli(experiments_cli.main, [protocol, "--resume", str(folder)], capsys)
    assert_one_message(code, err, ["--resume", f"the run in '{folder}' has no usable "
                                   "checkpoint: checkpoint.npz is corrupt (",
                                   "and checkpoint-previous.npz is missing",
                                   "it has trained (metrics.jsonl holds 1 evaluation)",
                                   "It is not started again in place",
                                   "restore a checkpoint from a copy",
                                   "start a new run without --resume"])


@pytest.mark.parametrize("protocol", ["desire", "plif"])
def test_resume_of_a_checkpoint_of_another_training_set(protocol, tmp_path, capsys,
                                                        no_compile):
    """Same architecture, but the checkpoint was written with 12 training samples."""
    folder = fabricate(tmp_path, protocol, "run", 4)
    other = fabricate(tmp_path, protocol, "other", 4, checkpoint_hidden=4, train_samples=12)
    shutil.copy2(other.checkpoint_path, folder.checkpoint_path)
    before = snapshot(folder.path)
    code, err = run_cli(experiments_cli.main, [protocol, "--resume", str(folder.path)], capsys)
    assert_one_message(code, err, ["was written with n_train 12", "configuration "
                                   "(config.json) gives 8", "start a new run"])
    assert snapshot(folder.path) == before


@pytest.mark.parametrize("run", [*[f"{p}/ok" for p in PROTOCOLS], "ei_ratio/real"])
def test_resume_of_a_matching_checkpoint_gets_to_compiling(run, results, tmp_path, capsys,
                                                           no_compile):
    """The control: checkpoints of the run's own architecture (fabricated, and one of
    a real run) pass every check and reach the compiler (which no_compile stops)."""
    protocol = run.split("/")[0]
    copy = tmp_path / protocol / "copy"
    shutil.copytree(results / run, copy)
    with pytest.raises(AssertionError, match="compilation must not start"):
        experiments_cli.main([protocol, "--resume", str(copy), "--no-progress"])
    assert capsys.readouterr().err == ""


# ======================================================================================
# 6. A results path that is a file, or that cannot be written
# ======================================================================================


@pytest.fixture
def unwritable(tmp_path):
    """A folder path whose creation fails: a read-only folder, or, for root (whom
    permissions do not stop), a path under /sys."""
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        yield locked / "results"
        locked.chmod(0o700)
        return
    if not Path("/sys/kernel").is_dir():
        pytest.skip("running as root without sysfs: no folder that root cannot write")
    yield Path("/sys/snn-test-bad-input")


@pytest.mark.parametrize("protocol", PROTOCOLS + [SWEEP])
def test_results_path_that_is_a_file(protocol, untouched, capsys, no_compile):
    a_file = untouched / "ei_ratio" / "real" / "config.json"
    code, err = run_cli(experiments_cli.main, _new_run(protocol, _TINY[protocol], a_file),
                        capsys)
    if protocol == SWEEP:
        words = [f"'{a_file}' is a file, not a folder", "results root (--out)"]
    else:
        words = ["--out: cannot make the run folder", f"{a_file}/{protocol}/",
                 "(Not a directory)", "give --out a folder you can write to", "not a file"]
    assert_one_message(code, err, words)


@pytest.mark.parametrize("protocol", PROTOCOLS + [SWEEP])
def test_results_path_that_cannot_be_written(protocol, unwritable, untouched, capsys,
                                             no_compile):
    code, err = run_cli(experiments_cli.main, _new_run(protocol, _TINY[protocol], unwritable),
                        capsys)
    if protocol == SWEEP:
        words = ["cannot make the task folder", str(unwritable / "ei_ratio_rate_quick"),
                 "give a results root (--out) you can write to"]
    else:
        words = ["--out: cannot make the run folder", f"{unwritable}/{protocol}/",
                 "give --out a folder you can write to"]
    assert_one_message(code, err, words)
    assert not unwritable.exists()


# ======================================================================================
# Figures: python -m figures <set> RUNS
# ======================================================================================

FIGURE_SETS = ["desire", "ei_ratio", "plif", "stl", "balanced_tuning"]
_NOT_THERE = {"desire": "is not a desire run folder and holds none",
              "ei_ratio": "does not exist or is not a folder",
              "plif": "does not exist or is not a folder",
              "stl": "does not exist or is not a folder",
              "balanced_tuning": "does not exist or is not a folder"}
_NOT_A_RUN = {"desire": "is not a desire run folder and holds none",
              "ei_ratio": "is not a sweep folder (no summary.jsonl)",
              "plif": "is not a plif run folder and holds none",
              "stl": "is not a stl run folder and holds none",
              "balanced_tuning": "is not a balanced_tuning run folder and holds none"}


@pytest.mark.parametrize("case", ["missing", "not_a_run", "other_protocol", "out_is_a_file"])
@pytest.mark.parametrize("figure_set", FIGURE_SETS)
def test_figures_of_bad_folders(figure_set, case, tmp_path, untouched, capsys):
    other = untouched / ("ei_ratio/real" if figure_set != "ei_ratio" else "plif/ok")
    argv, words = [figure_set], []
    if case == "missing":
        argv.append(str(tmp_path / "nowhere"))
        words = [f"'{tmp_path / 'nowhere'}' {_NOT_THERE[figure_set]}"]
    elif case == "not_a_run":
        (tmp_path / "plain").mkdir()
        (tmp_path / "plain" / "notes.txt").write_text("not a run")
        argv.append(str(tmp_path / "plain"))
        words = [f"'{tmp_path / 'plain'}' {_NOT_A_RUN[figure_set]}"]
    elif case == "other_protocol":
        argv.append(str(other))
        words = {"desire": [f"'{other}' is a run of protocol 'ei_ratio', not 'desire'"],
                 "ei_ratio": [f"'{other}' is not a sweep folder"]}.get(
            figure_set, [f"'{other}' is a 'ei_ratio' run, not '{figure_set}'"])
    else:
        a_file = untouched / "desire" / "ok" / "log.txt"
        argv += [str(untouched / f"{figure_set}/ok" if figure_set != "ei_ratio" else other),
                 "--out", str(a_file)]
        words = [f"--out: '{a_file}' is a file, not a folder", "give --out a folder"]
    code, err = run_cli(figures_main, argv, capsys)
    assert_one_message(code, err, words, prefix=f"python -m figures {figure_set}: ")
    assert "--resume" not in err


def test_figures_out_that_cannot_be_written(unwritable, untouched, capsys):
    code, err = run_cli(figures_main, ["desire", str(untouched / "desire" / "ok"),
                                       "--out", str(unwritable)], capsys)
    assert_one_message(code, err, [f"cannot write '{unwritable}'",
                                   "give --out a folder you can write to"],
                       prefix="python -m figures desire: ")
    assert not unwritable.exists()


@pytest.mark.parametrize("kind", ["missing", "truncated_gzip"])
def test_figures_library_with_bad_data_directory(kind, tmp_path, capsys):
    data_dir = tmp_path / "idx"
    if kind == "missing":
        words = ["--data-dir", f"searched {data_dir / 'mnist'}, {data_dir}"]
    else:
        images = _write_idx_dir(data_dir, kind)
        words = ["--data-dir", f"'{images}' has MD5", f"expected {MD5['mnist']}"]
    code, err = run_cli(figures_main, ["library", "--dataset", "mnist", "--data-dir",
                                       str(data_dir), "--out", str(tmp_path / "out")], capsys)
    assert_one_message(code, err, words, prefix="python -m figures library: ")
    assert not (tmp_path / "out").exists()


# ======================================================================================
# The real exit status and stderr, in subprocesses
# ======================================================================================

SUBPROCESS_CASES = {
    "usage": (["experiments", "ei_ratio", "--preset", "quick", "--epochs", "abc",
               "--out", "{results}"], "argument --epochs: invalid int value: 'abc'"),
    "split": (["experiments", "stl", "--preset", "quick", "--validation", "2000",
               "--out", "{results}"], "validation (2000) + test (300)"),
    "architecture": (["experiments", "balanced_tuning", "--resume",
                      "{results}/balanced_tuning/arch"], "another architecture"),
    "library": (["figures", "library", "--dataset", "mnist", "--data-dir", "{results}/none",
                 "--out", "{results}/figures"], "was not found"),
}


@pytest.fixture(scope="module")
def subprocess_outcomes(results):
    """``{case: (exit status, stderr)}``, the cases run side by side (each spends
    seconds importing Brian2), and whether the results root was left as it was."""
    before = snapshot(results)
    procs = {name: subprocess.Popen(
                 [sys.executable, "-m", *(a.replace("{results}", str(results)) for a in argv)],
                 cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name, (argv, _) in SUBPROCESS_CASES.items()}
    outcomes = {}
    for name, proc in procs.items():
        _, err = proc.communicate(timeout=300)
        outcomes[name] = (proc.returncode, err)
    return outcomes, snapshot(results) == before


@pytest.mark.parametrize("name", list(SUBPROCESS_CASES))
def test_real_exit_status_and_no_traceback(name, subprocess_outcomes):
    outcomes, unchanged = subprocess_outcomes
    code, err = outcomes[name]
    words = SUBPROCESS_CASES[name][1]
    assert code == 2, err
    assert "Traceback" not in err
    if name == "usage":
        assert err.startswith("usage: ") and err.count("error:") == 1, err
        assert words in err.strip().splitlines()[-1]
    else:
        assert len(err.strip().splitlines()) == 1 and words in err, err
    assert unchanged, "a subprocess changed the existing results"
