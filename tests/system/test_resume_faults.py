"""Runs that never lie: every way a resume can go wrong, through the real command line.

A run's configuration is fixed when it is created; ``--resume`` continues it exactly or
refuses with one message (exit 2) and leaves the folder as it was; a damaged checkpoint
falls back to the previous one and the run still ends bit-identical to an uninterrupted
one. One fault class per test: a hand-edited config.json (learning rate, seed), another
device, fewer epochs, more epochs (an event; config.json's configuration unchanged),
``--out`` with ``--resume``, no checkpoint left although the run trained, and one flipped
byte in the latest checkpoint.

The run is the E:I-ratio protocol's tiny network on the runtime device (8 training and
4 evaluation digits in chunks of 4, a few seconds per run), made once per module and
copied for the tests that change it; the command line runs in-process.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest

from experiments import __main__ as experiments_cli
from experiments.training import Trainer
from runs import RunFolder

TINY = ["ei_ratio", "--preset", "quick", "--device", "runtime", "--hidden", "4",
        "--batch-size", "2", "--chunk-batches", "2", "--analysis-samples", "0",
        "--epochs", "1", "--train-samples", "8", "--eval-samples", "4", "--seed", "5",
        "--no-progress"]
#: Metrics that measure time, not learning.
TIMING = re.compile(r"(seconds|_per_s)$|^time$")


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """An uninterrupted run of TINY (one epoch; checkpoints at samples 0, 4, 8 and after
    the evaluation)."""
    root = tmp_path_factory.mktemp("finished")
    assert experiments_cli.main([*TINY, "--out", str(root)]) == 0
    (run,) = (root / "ei_ratio").iterdir()
    return run


@pytest.fixture
def run(finished, tmp_path) -> Path:
    """A copy of the finished run to change."""
    copy = tmp_path / "ei_ratio" / finished.name
    shutil.copytree(finished, copy)
    return copy


def snapshot(path: Path) -> dict:
    """Every file's SHA-256 and mtime under ``path``."""
    return {str(p.relative_to(path)): (hashlib.sha256(p.read_bytes()).hexdigest(),
                                       p.stat().st_mtime_ns)
            for p in sorted(path.rglob("*")) if p.is_file()}


def refused(argv, capsys, path: Path) -> str:
    """Run ``argv``; assert exit 2, one line on stderr, no traceback and ``path``
    unchanged; return the message."""
    before = snapshot(path)
    code = experiments_cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert snapshot(path) == before, "a refused resume changed the run folder"
    assert err.startswith("error: ")
    return err.strip()[len("error: "):]


@pytest.mark.parametrize("field, value", [("learning_rate", 0.5), ("seed", 3)])
def test_a_hand_edited_config_json_is_refused(field, value, run, capsys, no_compile):
    document = json.loads((run / "config.json").read_text())
    stored = document["config"][field]
    document["config"][field] = value
    (run / "config.json").write_text(json.dumps(document, indent=2))
    message = refused(["ei_ratio", "--resume", str(run)], capsys, run)
    assert message == (
        f"--resume: '{run / 'config.json'}' was edited after the run started: {field} is "
        f"{value} there but {stored} in the checkpoint. A run is resumed only with the "
        "configuration its checkpoint 'checkpoint.npz' was trained with: restore that value "
        "in config.json to continue it, or train the edited configuration as a new run "
        "that starts from this checkpoint: python -m experiments ei_ratio --branch "
        f"{run.resolve()}")


def test_resume_on_another_device_is_refused(run, capsys, no_compile):
    message = refused(["ei_ratio", "--resume", str(run), "--device", "cuda"], capsys, run)
    assert message == (
        "--device cannot be given with --resume: a resumed run continues exactly as it was "
        f"configured, in its own folder. Leave it out to continue {run}, or train with it "
        "as a new run that starts from its checkpoint: python -m experiments ei_ratio "
        f"--branch {run} --device cuda")


def test_resume_with_fewer_epochs_is_refused(run, capsys, no_compile):
    """A run created for 3 epochs (it stopped before its first checkpoint), resumed
    with --epochs 2."""
    from experiments.ei_ratio import EIRatioConfig

    document = json.loads((run / "config.json").read_text())
    cfg = EIRatioConfig.from_dict({**document["config"], "epochs": 3})
    shutil.rmtree(run)
    RunFolder.create(run.parent.parent, "ei_ratio", cfg.to_dict(), run_id=run.name)
    message = refused(["ei_ratio", "--resume", str(run), "--epochs", "2"], capsys, run)
    assert message == (
        f"--epochs 2: the run in {run} is configured for 3 epochs, and a resumed run can "
        "only be extended. Leave --epochs out to train it to its 3 epochs, or give more.")


def test_out_with_resume_is_refused(run, tmp_path, capsys, no_compile):
    other = tmp_path / "other"
    message = refused(["ei_ratio", "--resume", str(run), "--out", str(other)], capsys, run)
    assert message.startswith("--out cannot be given with --resume: a resumed run "
                              "continues exactly as it was configured, in its own folder.")
    assert message.endswith(f"python -m experiments ei_ratio --branch {run} --out {other}")
    assert not other.exists()


def test_no_checkpoint_left_after_training_is_refused(run, capsys, no_compile):
    """checkpoint.npz and checkpoint-previous.npz deleted, metrics.jsonl kept: the run
    trained, so it is not started again in place (which would overwrite its results)."""
    (run / "checkpoint.npz").unlink()
    (run / "checkpoint-previous.npz").unlink()
    message = refused(["ei_ratio", "--resume", str(run)], capsys, run)
    assert message == (
        f"--resume: the run in '{run}' has no usable checkpoint: checkpoint.npz is missing "
        "and checkpoint-previous.npz is missing, but it has trained (metrics.jsonl holds 2 "
        "evaluations). It is not started again in place, which would overwrite its "
        "results; restore a checkpoint from a copy, or start a new run without --resume.")


def test_more_epochs_are_an_event_and_config_stays(run, capsys):
    document = json.loads((run / "config.json").read_text())
    assert experiments_cli.main(["ei_ratio", "--resume", str(run), "--epochs", "2",
                                 "--no-progress"]) == 0
    after = json.loads((run / "config.json").read_text())
    assert json.dumps(after["config"], sort_keys=True).encode() == \
        json.dumps(document["config"], sort_keys=True).encode()
    assert after["config_sha256"] == document["config_sha256"]
    (event,) = after["events"]
    assert (event["field"], event["from"], event["to"]) == ("epochs", 1, 2)
    assert event["command"] and event["time"]
    assert "epochs extended from 1 to 2" in (run / "log.txt").read_text()
    folder = RunFolder(run)
    assert [m["epoch"] for m in folder.read_metrics()] == [0, 1, 2]
    assert folder.read_checkpoint()[1]["epoch"] == 2


def _flip_last_byte_of(path: Path, member: str) -> None:
    """Flip the last data byte of the zip member ``member`` of ``path``."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    data = bytearray(path.read_bytes())
    header = info.header_offset
    start = header + 30 + int.from_bytes(data[header + 26:header + 28], "little") \
        + int.from_bytes(data[header + 28:header + 30], "little")
    data[start + info.compress_size - 1] ^= 0xFF
    path.write_bytes(bytes(data))


def _learning(record: dict) -> dict:
    return {k: v for k, v in record.items() if not TIMING.search(k)}


def test_a_flipped_byte_falls_back_and_ends_bit_identical(finished, tmp_path, capsys,
                                                          monkeypatch):
    """Stopped (Ctrl-C) right after the checkpoint at sample 8, one byte of w_in flipped
    in it: the resume warns, continues from the previous checkpoint (sample 4), trains
    the second chunk again and ends with the learned arrays of the uninterrupted run."""
    original = Trainer.checkpoint

    def checkpoint_then_stop(self, state):
        original(self, state)
        if (state.epoch, state.cursor) == (0, 8):
            raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "checkpoint", checkpoint_then_stop)
    out = tmp_path / "out"
    assert experiments_cli.main([*TINY, "--out", str(out)]) == 130
    monkeypatch.undo()
    (run,) = (out / "ei_ratio").iterdir()
    folder = RunFolder(run)
    assert folder.read_checkpoint()[1]["cursor"] == 8
    _flip_last_byte_of(folder.checkpoint_path, "w_in.npy")
    capsys.readouterr()

    assert experiments_cli.main(["ei_ratio", "--resume", str(run), "--no-progress"]) == 0
    warning = ("warning: checkpoint.npz is corrupt (Bad CRC-32 for file 'w_in.npy'); "
               "resuming from checkpoint-previous.npz at epoch 0, sample 4: the samples "
               "trained after it are trained again")
    assert capsys.readouterr().err.strip() == warning
    log = (run / "log.txt").read_text()
    assert warning in log and "resumed at epoch 0, sample 4" in log

    reference = RunFolder(finished)
    a, meta_a = folder.read_checkpoint()
    b, meta_b = reference.read_checkpoint()
    assert sorted(a) == sorted(b)
    for name in a:
        assert a[name].dtype == b[name].dtype and a[name].tobytes() == b[name].tobytes(), name
    assert [_learning(m) for m in folder.read_metrics()] == \
           [_learning(m) for m in reference.read_metrics()]
    assert (meta_a["epoch"], meta_a["samples_seen"]) == (meta_b["epoch"], meta_b["samples_seen"])
