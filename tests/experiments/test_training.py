"""The training engine (experiments/training.py, experiments/results.py) and the desire
command line: configuration errors stop before compiling, checkpoints are atomic, a run
killed with SIGKILL in mid-epoch and resumed ends bit-identical to an uninterrupted one.

The SIGKILL test runs the real command line (``python -m experiments desire --preset
quick``) in subprocesses on the digits set; its first process compiles the network
(~40 s on two cores), the others reuse the build from the session's cache.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from experiments import desire
from experiments.__main__ import main as cli_main
from runs import NotARunError, RunFolder, RunInUseError, atomic_write_bytes
from experiments.protocol import ConfigurationError
from experiments.training import Trainer

REPO = Path(__file__).resolve().parent.parent


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
    assert "--lr cannot change" in capsys.readouterr().err


_HOLD_LOCK = """
import sys, time
from runs import RunFolder
RunFolder(sys.argv[1]).lock()
print("held", flush=True)
time.sleep(600)
"""


def test_a_run_folder_has_one_writer_at_a_time(tmp_path, capsys, no_compile):
    """A second process that resumes (or trains into) a folder another process trains
    into is refused before it reads or writes anything; SIGKILL frees the folder."""
    cfg = desire.make_config("quick")
    folder = RunFolder.create(tmp_path, "desire", cfg.to_dict())
    config_before = folder.config_path.read_bytes()
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(folder.path)], cwd=REPO,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        code = cli_main(["desire", "--resume", str(folder.path), "--no-progress"])
        err = capsys.readouterr().err
        assert code == 2
        assert "in use" in err and "another process" in err and str(folder.path) in err
        assert folder.config_path.read_bytes() == config_before
        assert [p.name for p in folder.path.iterdir()] == ["config.json"]

        trainer = Trainer(desire.DesireProtocol(cfg), folder, progress=False)
        with pytest.raises(RunInUseError, match="in use"):
            trainer.run()
    finally:
        holder.kill()
        holder.wait(timeout=30)
    folder.lock()  # SIGKILL released it
    folder.lock()  # this process holds it already: no-op
    folder.unlock()
    folder.unlock()


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


# --------------------------------------------------------------------------------------
# Results folder and atomic checkpoints
# --------------------------------------------------------------------------------------


def test_checkpoint_roundtrip_without_pickle(tmp_path):
    folder = RunFolder.create(tmp_path, "desire", {"a": 1}, seeds={"seed": 3})
    arrays = {"w1": np.arange(6.0), "w2": np.ones((2, 3), dtype=np.float32)}
    folder.write_checkpoint(arrays, {"epoch": 1, "cursor": 400, "metrics": [{"accuracy": 0.5}]})
    with np.load(folder.checkpoint_path, allow_pickle=False) as data:
        assert sorted(data.files) == ["__meta__", "w1", "w2"]
    back, meta = folder.read_checkpoint()
    assert meta == {"epoch": 1, "cursor": 400, "metrics": [{"accuracy": 0.5}]}
    np.testing.assert_array_equal(back["w1"], arrays["w1"])
    assert back["w2"].dtype == np.float32
    document = json.loads(folder.config_path.read_text())
    assert document["seeds"] == {"seed": 3}
    for key in ["python", "brian2", "numpy", "elephant", "git_commit", "device"]:
        assert key in document["provenance"]


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    folder = RunFolder.create(tmp_path, "desire", {})
    folder.write_checkpoint({"w1": np.zeros(4)}, {"cursor": 1})
    before = folder.checkpoint_path.read_bytes()

    # A crash while the new file is being written...
    def broken_savez(file, **arrays):
        file.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError):
        folder.write_checkpoint({"w1": np.ones(4)}, {"cursor": 2})
    monkeypatch.undo()
    # ...and one between writing and renaming.
    import runs.folder as results

    def broken_replace(src, dst):
        raise OSError("killed before the rename")

    monkeypatch.setattr(results.os, "replace", broken_replace)
    with pytest.raises(OSError):
        folder.write_checkpoint({"w1": np.ones(4)}, {"cursor": 2})
    monkeypatch.undo()

    assert folder.checkpoint_path.read_bytes() == before
    arrays, meta = folder.read_checkpoint()
    assert meta == {"cursor": 1} and not arrays["w1"].any()
    leftovers = [p.name for p in folder.path.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_atomic_write_replaces_whole_file(tmp_path):
    path = tmp_path / "x.json"
    atomic_write_bytes(path, b"first version, long")
    atomic_write_bytes(path, b"second")
    assert path.read_bytes() == b"second"


def test_open_rejects_other_protocol_and_missing_checkpoint(tmp_path):
    folder = RunFolder.create(tmp_path, "plif", {"x": 1})
    with pytest.raises(NotARunError, match="protocol 'plif'"):
        RunFolder.open(folder.path, protocol="desire")
    folder = RunFolder.create(tmp_path, "desire", {"x": 1})
    with pytest.raises(NotARunError, match="no checkpoint.npz"):
        RunFolder.open(folder.path, protocol="desire").read_checkpoint()


# --------------------------------------------------------------------------------------
# The engine in runtime mode: chunks, padding, checkpoints, metrics, resume
# --------------------------------------------------------------------------------------


def tiny_protocol(epochs=2, seed=0):
    """A 16-6-3 network on 7 synthetic training images in chunks of 3 (the last chunk of
    every epoch is padded), evaluated on 4 images, in runtime mode."""
    rng = np.random.default_rng(11)
    x = rng.uniform(0, 1, (11, 16))
    x[x < 0.4] = 0
    y = rng.integers(0, 3, 11)
    cfg = desire.make_config("paper", "digits", hidden=(6,), chunk_size=3, epochs=epochs,
                             learning_rate=5e-3, dropout_hidden=0.25, seed=seed,
                             device="runtime")
    return desire.DesireProtocol(cfg, data=(x[:7], y[:7], x[7:], y[7:]), n_classes=3)


def test_engine_runs_chunks_checkpoints_and_metrics(tmp_path):
    protocol = tiny_protocol()
    folder = RunFolder.create(tmp_path, "desire", protocol.cfg.to_dict())
    state = Trainer(protocol, folder, progress=False).run()
    assert state.epoch == 2 and state.cursor == 0 and state.samples_seen == 14
    metrics = folder.read_metrics()
    assert [m["epoch"] for m in metrics] == [1, 2]
    assert all(0 <= m["accuracy"] <= 1 and m["n_eval"] == 4 for m in metrics)
    arrays, meta = folder.read_checkpoint()
    assert meta["epoch"] == 2 and meta["metrics"] == metrics
    assert sorted(arrays) == ["w1", "w2"]
    initial = protocol.initial_state()
    assert not np.array_equal(arrays["w1"], initial["w1"]), "training must change weights"
    log = folder.log_path.read_text()
    assert "chunk 2: 1 samples" in log  # 7 = 3 + 3 + 1 (padded to 3)
    # Per-layer statistics of training and evaluation, and one raster per class seen.
    for m in metrics:
        for key in ("layer_error", "train_layer_error"):
            assert len(m[key]) == 2 and all(e >= 0 for e in m[key])
        assert len(m["rate_per_class"]) == 2 and all(len(r) == 3 for r in m["rate_per_class"])
    assert metrics[0]["train_layer_error"][-1] > 0, "untrained outputs miss their desire"
    assert folder.recording_names() == ["epoch-0001", "epoch-0002"]
    rec = folder.read_recording("epoch-0002")
    eval_labels = protocol.y_eval
    classes = sorted(set(eval_labels.tolist()))
    assert rec["label"].tolist() == classes
    assert rec["sample"].tolist() == [int(np.flatnonzero(eval_labels == c)[0]) for c in classes]
    assert rec["output_raster"].shape == (len(classes), 20, 3)


def test_epoch_metrics_normalise_sums_per_neuron_sample_and_step():
    protocol = tiny_protocol()  # sizes 16-6-3, 20 steps
    sums = {"error_sum": np.array([12.0, 3.0]),
            "spikes_per_class": np.array([[60.0, 0.0, 24.0], [6.0, 0.0, 12.0]]),
            "samples_per_class": np.array([5.0, 0.0, 1.0])}
    m = protocol.epoch_metrics("eval", sums)
    assert m["layer_error"] == pytest.approx([12 / (6 * 6), 3 / (3 * 6)])
    assert m["rate_per_class"][0] == pytest.approx([60 / (6 * 20 * 5), None, 24 / (6 * 20)])
    assert m["rate_per_class"][1][1] is None
    assert m["rate_per_class"][1][2] == pytest.approx(12 / (3 * 20))


def test_engine_resume_mid_epoch_is_bit_identical(tmp_path):
    reference = RunFolder.create(tmp_path, "desire", {})
    Trainer(tiny_protocol(), reference, progress=False).run()

    # Interrupted after the first chunk of the second epoch: keep that checkpoint.
    folder = RunFolder.create(tmp_path, "desire", {})
    trainer = Trainer(tiny_protocol(), folder, progress=False)
    original = trainer.checkpoint
    saved = []

    def checkpoint_and_stop(state):
        original(state)
        saved.append((state.epoch, state.cursor))
        if (state.epoch, state.cursor) == (1, 3):
            raise KeyboardInterrupt

    trainer.checkpoint = checkpoint_and_stop
    with pytest.raises(KeyboardInterrupt):
        trainer.run()
    assert saved[-1] == (1, 3)

    Trainer(tiny_protocol(), folder, progress=False).run(resume=True)
    a, meta_a = reference.read_checkpoint()
    b, meta_b = folder.read_checkpoint()
    for name in a:
        assert a[name].tobytes() == b[name].tobytes()
    keys = ("accuracy", "train_accuracy", "layer_error", "train_layer_error",
            "train_rate_per_class")
    assert [{k: m[k] for k in keys} for m in meta_a["metrics"]] == \
           [{k: m[k] for k in keys} for m in meta_b["metrics"]]


# --------------------------------------------------------------------------------------
# The command line, killed with SIGKILL in mid-epoch and resumed
# --------------------------------------------------------------------------------------


def _cli(args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "experiments", "desire", *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            **kwargs)


def _finish(proc, timeout=600):
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out
    return out


def test_sigkill_in_mid_epoch_then_resume_is_bit_identical(tmp_path):
    args = ["--preset", "quick", "--epochs", "2", "--seed", "5", "--no-progress"]
    killed_out = tmp_path / "killed"
    proc = _cli([*args, "--out", str(killed_out)])
    deadline = time.monotonic() + 600
    checkpoint = None
    while time.monotonic() < deadline and proc.poll() is None:
        found = list(killed_out.glob("desire/*/checkpoint.npz"))
        if found:
            checkpoint = found[0]
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.communicate(timeout=60)
    assert checkpoint is not None, "no checkpoint appeared before the run ended"
    assert proc.returncode == -signal.SIGKILL
    run = checkpoint.parent
    _, meta = RunFolder(run).read_checkpoint()
    assert meta["epoch"] == 0 and 0 < meta["cursor"] < meta["n_train"], meta

    resumed = _finish(_cli(["--resume", str(run), "--no-progress"]))
    assert "accuracy" in resumed
    assert "resumed at epoch 0" in (run / "log.txt").read_text()

    fresh_out = tmp_path / "fresh"
    _finish(_cli([*args, "--out", str(fresh_out)]))
    (fresh,) = list(fresh_out.glob("desire/*"))

    a, meta_a = RunFolder(run).read_checkpoint()
    b, meta_b = RunFolder(fresh).read_checkpoint()
    assert meta_a["epoch"] == meta_b["epoch"] == 2
    assert sorted(a) == sorted(b) == ["w1", "w2", "w3"]
    for name in a:
        assert a[name].tobytes() == b[name].tobytes(), f"{name} differs after resume"
    keys = ("epoch", "accuracy", "train_accuracy", "samples_seen", "train_layer_error",
            "layer_error", "train_rate_per_class")
    assert [{k: m[k] for k in keys} for m in meta_a["metrics"]] == \
           [{k: m[k] for k in keys} for m in meta_b["metrics"]]
    assert len(RunFolder(run).read_metrics()) == 2

    # Stale run_args files do not pile up in the build directories (of every protocol
    # the session built): after many runs each variable has only its last run's file
    # (init_<variable>_<content hash>.dat).
    cache = Path(os.environ["SNN_BUILD_CACHE"])
    for slot in cache.glob("cpp-*"):
        inits = [p.name for p in (slot / "static_arrays").glob("init_*") if not p.name.endswith(".lock")]
        variables = [name.rsplit("_", 1)[0] for name in inits]
        assert len(set(variables)) == len(variables), inits
