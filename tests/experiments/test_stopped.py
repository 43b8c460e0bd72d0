"""experiments.stopped: what a run that stops early leaves behind, and its one message
(the command lines' faults themselves are in tests/system/test_faults.py)."""

from __future__ import annotations

import errno

import numpy as np
import pytest

from experiments.stopped import (BuildError, build_error, command_line, describe,
                                removal_note, stop)
from runs import RunFolder, RunWriteError


@pytest.fixture
def folder(tmp_path):
    return RunFolder.create(tmp_path, "desire", {"epochs": 1}, run_id="run")


def checkpointed(folder, epoch=2, cursor=16):
    folder.write_checkpoint({"w": np.zeros(3)}, {"epoch": epoch, "cursor": cursor})
    return folder


def test_a_new_folder_without_checkpoint_is_removed(folder):
    err = stop(KeyboardInterrupt(), folder, created=True, compiling=True)
    assert not folder.path.exists()
    assert folder.path.parent.is_dir()  # the results root stays
    message, status = describe(err, "desire", ["desire", "--out", "x y"])
    assert status == 130
    assert message == (f"interrupted before training started: nothing was trained, and the "
                       f"run folder {folder.path} was removed; start again with: python -m "
                       "experiments desire --out 'x y'")


def test_a_resumed_folder_is_kept_even_without_checkpoint(folder):
    before = sorted(p.name for p in folder.path.iterdir())
    err = stop(KeyboardInterrupt(), folder, created=False, compiling=False)
    assert sorted(p.name for p in folder.path.iterdir()) == before
    message, _ = describe(err, "desire", ["desire", "--resume", str(folder.path)])
    assert message.endswith(f"resume with: {command_line(['desire', '--resume', str(folder.path)])}"
                            " (it starts from the beginning)")


def test_a_folder_with_a_checkpoint_is_kept_and_its_position_named(folder):
    err = stop(KeyboardInterrupt(), checkpointed(folder), created=True, compiling=False)
    assert folder.checkpoint_path.is_file()
    message, status = describe(err, "desire", ["desire"])
    assert status == 130
    assert message == (f"interrupted during training at epoch 2, sample 16; its last "
                       f"checkpoint is {folder.checkpoint_path}; resume with: python -m "
                       f"experiments desire --resume {folder.path}")


@pytest.mark.parametrize("code, fix", [(errno.ENOSPC, "Free space on that disk"),
                                       (errno.EROFS, "Make {folder} writable")])
def test_a_failed_write_says_what_to_free_or_fix(code, fix, folder):
    failure = RunWriteError(folder.checkpoint_path, OSError(code, "the reason"))
    err = stop(failure, checkpointed(folder), created=True, compiling=False)
    message, status = describe(err, "desire", ["desire"])
    assert status == 2
    assert message.startswith(f"error: cannot write {folder.checkpoint_path}: the reason. The "
                              "run stopped during training at epoch 2, sample 16; ")
    assert f"{fix.format(folder=folder.path)}, then resume with: " in message


def test_a_sweep_is_continued_by_its_own_command():
    message, status = describe(KeyboardInterrupt(), "ei_ratio", ["ei_ratio", "--sweep", "rate"],
                               sweep=True)
    assert status == 130
    assert "--resume" not in message
    assert message.endswith("run the same command again to finish the sweep (finished tasks "
                            "are skipped): python -m experiments ei_ratio --sweep rate")


@pytest.mark.parametrize("resume, start", [(None, "interrupted before the run started; "
                                                  "nothing was written. Start again with: "),
                                           ("results/desire/r", "interrupted before the run "
                                            "went on; its folder was not changed. Resume with: ")])
def test_an_interrupt_before_the_folder_is_opened(resume, start):
    message, status = describe(KeyboardInterrupt(), "desire", ["desire"], resume=resume)
    assert status == 130 and message.startswith(start)


@pytest.mark.parametrize("status, kind", [(2, KeyboardInterrupt),
                                          ((128 + 2) << 8, KeyboardInterrupt),
                                          (2 << 8, BuildError)])
def test_a_failed_make_is_an_interrupt_only_when_sigint_killed_it(status, kind):
    err = build_error(RuntimeError(f"Project compilation failed (error code: {status})."))
    assert isinstance(err, kind)


def test_other_errors_are_no_build_errors():
    assert build_error(RuntimeError("something else")) is None
    assert build_error(ValueError("Project compilation failed (error code: 512)")) is None


def test_errors_with_their_own_message_say_the_folder_was_removed(folder):
    err = stop(ValueError("no GPU"), folder, created=True, compiling=False)
    assert removal_note(err) == (f" The run folder {folder.path} was removed: it held no "
                                 "checkpoint.")
    kept = stop(ValueError("no GPU"), checkpointed(RunFolder.create(
        folder.path.parent.parent, "desire", {}, run_id="other")), created=True, compiling=False)
    assert removal_note(kept) == ""
