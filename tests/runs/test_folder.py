"""The results folder (runs.folder): checkpoints round-trip without pickle and are
written atomically, RunFolder.open refuses what is not a run of the protocol, and a
folder has one writer at a time (another process's lock refuses a resume before
anything is read or written; SIGKILL frees it).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from experiments import desire
from experiments.__main__ import main as cli_main
from experiments.training import Trainer
from runs import NotARunError, RunFolder, RunInUseError, atomic_write_bytes

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
