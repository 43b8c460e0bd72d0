"""The results folder (runs.folder): checkpoints round-trip without pickle and are
written atomically, RunFolder.open refuses what is not a run of the protocol, and a
folder has one writer at a time (another process's lock refuses a resume before
anything is read or written; SIGKILL frees it). Checkpoints rotate (the previous one is
kept until the next is on disk); a latest checkpoint that is missing, cut short, has a
flipped byte or arrays other than its digest's falls back to the previous one, and a
folder that trained but has no usable checkpoint is refused, unchanged. config.json's
configuration stays as created; changes are recorded as events.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from experiments import desire
from experiments.__main__ import main as cli_main
from experiments.training import Trainer
from runs import NotARunError, RunFolder, RunInUseError, atomic_write_bytes, config_digest

REPO = Path(__file__).resolve().parents[2]


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
# Rotation: the previous checkpoint is kept until the next one is on disk
# --------------------------------------------------------------------------------------


def _write(folder, step: int) -> None:
    """Checkpoint number ``step``: its weights are all ``step``, its cursor is ``step``."""
    folder.write_checkpoint({"w": np.full(8, float(step))}, {"epoch": 0, "cursor": step})


def _flip_array_byte(path) -> None:
    """Flip the last byte of the data of the array ``w`` in the checkpoint ``path``,
    found through the zip's own header (not a byte of zip metadata)."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("w.npy")
    data = bytearray(Path(path).read_bytes())
    header = info.header_offset
    name_length = int.from_bytes(data[header + 26:header + 28], "little")
    extra_length = int.from_bytes(data[header + 28:header + 30], "little")
    end = header + 30 + name_length + extra_length + info.compress_size
    data[end - 1] ^= 0xFF
    Path(path).write_bytes(bytes(data))


def test_checkpoints_rotate_and_the_previous_one_is_kept(tmp_path):
    folder = RunFolder.create(tmp_path, "toy", {})
    _write(folder, 1)
    assert not folder.previous_checkpoint_path.exists()
    _write(folder, 2)
    _write(folder, 3)
    assert folder.load_checkpoint().meta["cursor"] == 3
    previous = folder.load_checkpoint(folder.previous_checkpoint_path)
    assert previous.meta["cursor"] == 2 and (previous.arrays["w"] == 2).all()
    # remove_temporaries deletes what a kill leaves, never the previous checkpoint
    (folder.path / ".checkpoint.npz.abc.tmp").write_bytes(b"half")
    assert folder.remove_temporaries() == [".checkpoint.npz.abc.tmp"]
    assert folder.previous_checkpoint_path.is_file()
    assert folder.usable_checkpoint().fallback is None


def test_a_write_killed_between_the_renames_leaves_a_usable_checkpoint(tmp_path, monkeypatch):
    import runs.folder as results

    folder = RunFolder.create(tmp_path, "toy", {})
    _write(folder, 1)
    _write(folder, 2)
    real_replace = os.replace
    calls = []

    def replace_then_die(src, dst):
        calls.append(Path(dst).name)
        if Path(dst).name == "checkpoint.npz":
            raise KeyboardInterrupt("killed between the renames")
        real_replace(src, dst)

    monkeypatch.setattr(results.os, "replace", replace_then_die)
    with pytest.raises(KeyboardInterrupt):
        _write(folder, 3)
    monkeypatch.undo()
    # the rename of the new file, then the one putting the last checkpoint back: both
    # "killed", as a real kill would stop both
    assert calls == ["checkpoint-previous.npz", "checkpoint.npz", "checkpoint.npz"]
    assert not folder.checkpoint_path.exists()
    checkpoint = folder.usable_checkpoint()
    assert checkpoint.path == folder.previous_checkpoint_path
    assert checkpoint.meta["cursor"] == 2 and (checkpoint.arrays["w"] == 2).all()
    assert checkpoint.fallback == "checkpoint.npz is missing"
    # The next write goes on from there and keeps checkpoint 2 as the previous one.
    _write(folder, 3)
    assert folder.load_checkpoint().meta["cursor"] == 3
    assert folder.load_checkpoint(folder.previous_checkpoint_path).meta["cursor"] == 2


def test_a_failed_rename_of_the_new_checkpoint_puts_the_last_one_back(tmp_path, monkeypatch):
    """A rename that fails (a full disk's metadata, a folder turned read-only) rather
    than a kill: the last durable checkpoint is back under its own name, the temporary
    file is gone and the error is a RunWriteError naming the file."""
    import errno

    import runs.folder as results
    from runs import RunWriteError

    folder = RunFolder.create(tmp_path, "toy", {})
    _write(folder, 1)
    _write(folder, 2)
    real_replace = os.replace

    def fail_new_file(src, dst):
        if Path(dst).name == "checkpoint.npz" and Path(src).name.endswith(".tmp"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_replace(src, dst)

    monkeypatch.setattr(results.os, "replace", fail_new_file)
    with pytest.raises(RunWriteError, match="checkpoint.npz: No space left on device"):
        _write(folder, 3)
    monkeypatch.undo()
    assert folder.load_checkpoint().meta["cursor"] == 2
    assert not list(folder.path.glob(".*.tmp"))


@pytest.mark.parametrize("damage", ["flipped_byte", "truncated", "missing", "other_arrays"])
def test_a_damaged_latest_checkpoint_falls_back_to_the_previous_one(damage, tmp_path):
    folder = RunFolder.create(tmp_path, "toy", {})
    _write(folder, 1)
    _write(folder, 2)
    path = folder.checkpoint_path
    if damage == "flipped_byte":
        _flip_array_byte(path)
        reason = "checkpoint.npz is corrupt (Bad CRC-32 for file 'w.npy')"
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2])
        reason = "checkpoint.npz is corrupt ("
    elif damage == "missing":
        path.unlink()
        reason = "checkpoint.npz is missing"
    else:  # a valid zip whose arrays are not the ones its digest was computed from
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        arrays["w"] = arrays["w"] + 1
        np.savez(path, **arrays)
        reason = "checkpoint.npz is corrupt (its arrays or metadata differ from the SHA-256"
    with pytest.raises(NotARunError, match="corrupt|does not exist"):
        folder.load_checkpoint()
    checkpoint = folder.usable_checkpoint()
    assert checkpoint.path == folder.previous_checkpoint_path
    assert checkpoint.meta["cursor"] == 1 and (checkpoint.arrays["w"] == 1).all()
    assert checkpoint.fallback.startswith(reason), checkpoint.fallback


def _snapshot(path: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


@pytest.mark.parametrize("case", ["both_corrupt", "both_missing", "only_one_corrupt"])
def test_a_run_that_trained_without_a_usable_checkpoint_is_refused(case, tmp_path):
    folder = RunFolder.create(tmp_path, "toy", {})
    folder.write_metrics([{"epoch": 1, "accuracy": 0.5}])
    _write(folder, 1)
    if case != "only_one_corrupt":
        _write(folder, 2)
    if case == "both_missing":
        folder.checkpoint_path.unlink()
        folder.previous_checkpoint_path.unlink()
    else:
        for path in (folder.checkpoint_path, folder.previous_checkpoint_path):
            if path.exists():
                _flip_array_byte(path)
    before = _snapshot(folder.path)
    with pytest.raises(NotARunError) as info:
        folder.usable_checkpoint()
    message = str(info.value)
    assert message.startswith(f"--resume: the run in '{folder.path}' has no usable "
                              "checkpoint: checkpoint.npz is ")
    assert {"both_corrupt": "checkpoint-previous.npz is corrupt (Bad CRC-32",
            "both_missing": "checkpoint.npz is missing and checkpoint-previous.npz is "
                            "missing",
            "only_one_corrupt": "checkpoint-previous.npz is missing"}[case] in message
    assert "it has trained (metrics.jsonl holds 1 evaluation)" in message
    assert "start a new run without --resume" in message
    assert _snapshot(folder.path) == before


def test_a_run_stopped_before_its_first_checkpoint_starts_again(tmp_path):
    folder = RunFolder.create(tmp_path, "toy", {})
    folder.metrics_path.write_text("")  # nothing evaluated yet
    assert folder.usable_checkpoint() is None
    # a checkpoint file, even a corrupt one, means the run trained
    folder.previous_checkpoint_path.write_bytes(b"PK garbage")
    with pytest.raises(NotARunError, match="checkpoint-previous.npz is corrupt"):
        folder.usable_checkpoint()


def test_config_json_keeps_its_configuration_and_records_events(tmp_path):
    folder = RunFolder.create(tmp_path, "toy", {"epochs": 3, "lr": 0.1})
    document = folder.read_config()
    assert document["config_sha256"] == config_digest({"lr": 0.1, "epochs": 3})
    with pytest.raises(ValueError, match="fixed at creation"):
        folder.update_config(config={"epochs": 5})
    folder.record_event("epochs", 3, 5, "epochs extended from 3 to 5")
    after = folder.read_config()
    assert after["config"] == document["config"]
    (event,) = after["events"]
    assert (event["field"], event["from"], event["to"]) == ("epochs", 3, 5)
    assert event["command"] == sys.argv and event["time"]
    assert "epochs extended from 3 to 5 (command: " in folder.log_path.read_text()


def test_recording_names_by_prefix(tmp_path):
    """The protocol's own recordings (epoch-NNNN) apart from the spike recordings
    (spikes-epoch-NNNN), which figures must not read as their own."""
    folder = RunFolder.create(tmp_path, "toy", {})
    for name in ("epoch-0001", "spikes-epoch-0001", "epoch-0002"):
        folder.write_recording(name, {"x": np.zeros(1)})
    assert folder.recording_names() == ["epoch-0001", "epoch-0002", "spikes-epoch-0001"]
    assert folder.recording_names(prefix="epoch-") == ["epoch-0001", "epoch-0002"]
    assert folder.recording_names(prefix="spikes-") == ["spikes-epoch-0001"]
