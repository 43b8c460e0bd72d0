"""A run that stops before its end: what it leaves behind and the one message it gets.

A run stops early on Ctrl-C, on a write that fails (a full disk, a results folder
turned read-only: :class:`runs.RunWriteError`) or on a Brian2 error while its network
is built or compiled (:class:`BuildError`). :func:`experiments.protocol.train` then
calls :func:`stop`: a run folder that this command created and that holds no checkpoint
yet is removed (nothing in it can be resumed, and a later ``--resume`` of it would
start from the beginning anyway), a resumed folder is left as it is, and the exception
carries a :class:`StoppedRun` saying where the run stood. The command line
(``experiments/__main__.py``) turns the exception into one message with
:func:`describe`: what happened, what was kept or removed, and the command that goes
on (``--resume RUN``; for a sweep, the same command again).
"""

from __future__ import annotations

import errno
import re
import shlex
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

from runs import CorruptCheckpointError, RunFolder, RunWriteError

__all__ = ["BuildError", "StoppedRun", "stop", "build_error", "describe", "removal_note",
           "command_line"]

#: Attribute of an exception that holds its :class:`StoppedRun`.
_ATTRIBUTE = "stopped_run"


class BuildError(RuntimeError):
    """Brian2 could not generate or compile the network's code. The message holds the
    essential cause (the original error, or the compiler's exit status) and where the
    generated code is; Brian2's own advice to report a bug is left out."""

    def __init__(self, cause: str, where: str | None = None):
        self.cause = cause
        self.where = where
        super().__init__(cause)


@dataclass(frozen=True)
class StoppedRun:
    """Where a run stood when it stopped. ``folder``: its run folder; ``created``: made
    by this command (not a ``--resume``); ``removed``: deleted because it held no
    checkpoint (``remove_error``: why that failed); ``compiling``: its network was not
    compiled yet; ``checkpoint``: the last checkpoint, or ``None``; ``epoch`` and
    ``cursor``: where that checkpoint stands (epochs done, samples of the next);
    ``when``: what the run was doing (default: by ``compiling``)."""

    folder: Path
    created: bool
    removed: bool = False
    remove_error: str | None = None
    compiling: bool = False
    checkpoint: Path | None = None
    epoch: int | None = None
    cursor: int | None = None
    when: str | None = None


def _latest_checkpoint(folder: RunFolder) -> Path | None:
    """The newest checkpoint file of the folder: ``checkpoint.npz``, else the previous
    one (a write cut between its two renames leaves only that), else ``None``."""
    for path in (folder.checkpoint_path, folder.previous_checkpoint_path):
        if path.is_file():
            return path
    return None


def _position(folder: RunFolder, checkpoint: Path) -> tuple:
    """``(epoch, cursor)`` of a checkpoint file of ``folder``, read and verified by
    :meth:`RunFolder.load_checkpoint`, or ``(None, None)`` where it is damaged (the
    message then names the file only)."""
    try:
        meta = folder.load_checkpoint(checkpoint).meta
    except CorruptCheckpointError:
        return None, None
    return int(meta["epoch"]), int(meta["cursor"])


def stop(err: BaseException, folder: RunFolder, *, created: bool, compiling: bool,
         when: str | None = None) -> BaseException:
    """The exception to raise for ``err``, which stopped the run in ``folder``: a
    :class:`BuildError` for a Brian2 build error, ``KeyboardInterrupt`` for a compiler
    killed by Ctrl-C, else ``err``; with a :class:`StoppedRun` attached (``when``: what
    the run was doing, if not compiling or training). Removes the folder when this
    command ``created`` it and it holds no checkpoint."""
    err = build_error(err) or err
    checkpoint = _latest_checkpoint(folder)
    if checkpoint is not None:
        epoch, cursor = _position(folder, checkpoint)
        info = StoppedRun(folder.path, created, compiling=compiling, when=when,
                          checkpoint=checkpoint, epoch=epoch, cursor=cursor)
    elif created:
        problem = []
        shutil.rmtree(folder.path, onerror=lambda f, p, e: problem.append(e[1]))
        reason = (getattr(problem[0], "strerror", None) or str(problem[0])) if problem else None
        info = StoppedRun(folder.path, created, removed=not folder.path.exists(),
                          remove_error=reason, compiling=compiling, when=when)
    else:
        info = StoppedRun(folder.path, created, compiling=compiling, when=when)
    setattr(err, _ATTRIBUTE, info)
    return err


def build_error(err: BaseException) -> BaseException | None:
    """A :class:`BuildError` (or ``KeyboardInterrupt``) for a Brian2 error of building
    or compiling a network, ``None`` for any other error."""
    from brian2 import get_device
    from brian2.core.base import BrianObjectException

    if isinstance(err, BrianObjectException):
        # Code generation failed: its staging folder is gone, the cause is the message.
        cause = err.__cause__ or err.__context__
        text = (f"{type(cause).__name__}: {cause}" if cause is not None
                else err._brian_message)
        return BuildError(f"{text.strip().splitlines()[0]} (in the object "
                          f"{err._brian_objname!r})")
    match = re.search(r"Project compilation failed \(error code: (\d+)\)", str(err))
    if isinstance(err, RuntimeError) and match:
        status = int(match.group(1))  # os.system's wait status of make
        # Ctrl-C reached make: killed by SIGINT, or the shell's 128 + SIGINT.
        if status & 0x7F == signal.SIGINT or status >> 8 == 128 + signal.SIGINT:
            return KeyboardInterrupt()
        # models.devices points the device at the cache slot before it runs make.
        return BuildError(f"the C++ compiler failed (make exited with status {status >> 8}; "
                          "its output is above)", getattr(get_device(), "project_dir", None))
    return None


def command_line(argv) -> str:
    """The command as the user would type it again."""
    return shlex.join(["python", "-m", "experiments", *argv])


def _then(err: BaseException, removed: Path | None = None) -> str:
    """What to do about ``err`` before going on (``removed``: the run folder, which is
    gone, so its parent is the folder to fix)."""
    if not isinstance(err, OSError):
        return "fix the cause"
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return "free space on that disk"
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        where = removed.parent if removed is not None else Path(err.filename or ".").parent
        return f"make {where} writable"
    return "fix the cause"


def _resume(protocol: str, folder) -> str:
    return command_line([protocol, "--resume", str(folder)])


def describe(err: BaseException, protocol: str, argv, *, resume=None,
             sweep: bool = False) -> tuple[str, int]:
    """``(message, exit status)`` of a run (or sweep) that ``err`` stopped: 130 for
    Ctrl-C, 2 for the others. ``argv``: the command's arguments after
    ``python -m experiments``; ``resume``: its ``--resume`` folder."""
    info: StoppedRun | None = getattr(err, _ATTRIBUTE, None)
    again = command_line(argv)
    interrupted = isinstance(err, KeyboardInterrupt)
    if sweep:
        head = "interrupted" if interrupted else f"error: {_cause(err)}"
        fix = "" if interrupted else f"{_then(err)}, then "
        return (f"{head}. Tasks that finished are kept; {fix}run the same command again "
                f"to finish the sweep (finished tasks are skipped): {again}",
                130 if interrupted else 2)
    if info is None:
        if interrupted:
            if resume is not None:
                return (f"interrupted before the run went on; its folder was not changed. "
                        f"Resume with: {_resume(protocol, resume)}", 130)
            return ("interrupted before the run started; nothing was written. Start again "
                    f"with: {again}", 130)
        if not isinstance(err, (OSError, BuildError)):
            return f"error: {_cause(err)}", 2
        go_on = _resume(protocol, resume) if resume is not None else again
        return f"error: {_cause(err)}. {_then(err)[:1].upper()}{_then(err)[1:]}, then run " \
               f"again: {go_on}", 2
    where = _where(info)
    if info.checkpoint is not None or not info.created:
        go_on = f"resume with: {_resume(protocol, info.folder)}"
        if info.checkpoint is None:
            go_on += " (it starts from the beginning)"
    else:
        go_on = f"start again with: {again}"
    if interrupted:
        return f"interrupted {where}; {go_on}", 130
    then = _then(err, info.folder if info.removed else None)
    return f"error: {_cause(err)}. The run stopped {where}. {then[:1].upper()}{then[1:]}, " \
           f"then {go_on}", 2


def removal_note(err: BaseException) -> str:
    """For the message of an error with a message of its own (a configuration refused
    by the trainer, no GPU): ``' The run folder X was removed: nothing was trained.'``
    when :func:`stop` removed the run's folder, else ``''``."""
    info: StoppedRun | None = getattr(err, _ATTRIBUTE, None)
    if info is None or not info.removed:
        return ""
    return f" The run folder {info.folder} was removed: it held no checkpoint."


def _cause(err: BaseException) -> str:
    if isinstance(err, BuildError):
        text = f"Brian2 could not build the network: {err.cause}"
        return text + (f"; its build folder is {err.where}" if err.where else "")
    if isinstance(err, RunWriteError):
        return str(err)
    if isinstance(err, OSError) and err.filename:
        return f"{err.filename}: {err.strerror or err}"
    return str(err)


def _where(info: StoppedRun) -> str:
    """Where the run stood, and what became of its folder."""
    when = info.when or ("before training started" if info.compiling else "during training")
    if info.checkpoint is not None:
        at = (f" at epoch {info.epoch}, sample {info.cursor}" if info.epoch is not None
              else "")
        return f"{when}{at}; its last checkpoint is {info.checkpoint}"
    if info.removed:
        nothing = "nothing was trained" if info.compiling else "nothing was checkpointed"
        return f"{when}: {nothing}, and the run folder {info.folder} was removed"
    if info.created:
        return (f"{when}, before its first checkpoint; its folder {info.folder} could not "
                f"be removed ({info.remove_error}): delete it")
    return f"{when}, before its first checkpoint; its folder {info.folder} was left as it was"
