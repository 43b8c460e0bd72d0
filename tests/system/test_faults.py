"""Faults of the environment, for ``python -m experiments``: one message, no traceback.

Ctrl-C (during the compilation of a new run or of a resume, during training, during a
sweep), writes that fail (a full disk, a results folder turned read-only; injected at
the I/O layer, and once on a real small tmpfs where this machine lets the tests mount
one), a build cache that cannot be written, a network too big for the memory, a
scheduler that is no address, Brian2 errors while building, ``--epochs 0``. Each ends
with one message that says what happened and how to go on (every command it names
exists), exit status 2 (130 for Ctrl-C), no traceback, no run folder left without a
checkpoint by the command that made it, and a resumed folder kept.

Most cases run the command line in-process with the network's compilation replaced
(a fault raised in its place, or the runtime device for the few that train); one runs
a real C++ compile in a subprocess and interrupts it with SIGINT.
"""

from __future__ import annotations

import errno
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from experiments import __main__ as experiments_cli
from experiments import desire
from experiments import ei_ratio as EI
from experiments import resources
from runs import RunFolder
from tests.system.test_bad_input import _TINY, REPO, fabricate, run_cli

#: A tiny ei_ratio run on the runtime device (a few seconds; nothing compiled).
EI_RUNTIME = ["ei_ratio", "--preset", "quick", "--device", "runtime", "--no-progress",
              *_TINY["ei_ratio"]]
SWEEP = ["ei_ratio", "--sweep", "rate", "--preset", "quick", "--scheduler", "serial",
         "--trials", "1", "--device", "runtime", "--no-progress", *_TINY["ei_ratio_sweep"]]


def one_line(err: str) -> str:
    """The one line of stderr (no traceback, no Brian2 banner)."""
    assert "Traceback" not in err and "report" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def command(*argv) -> str:
    return shlex.join(["python", "-m", "experiments", *map(str, argv)])


def runs_of(root: Path, protocol: str) -> list:
    where = root / protocol
    return sorted(where.iterdir()) if where.is_dir() else []


def interrupt(*args, **kwargs):
    raise KeyboardInterrupt


# ======================================================================================
# 1. Ctrl-C
# ======================================================================================


def test_ctrl_c_while_compiling_a_new_run_removes_its_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(desire.DesireProtocol, "compile", interrupt)
    argv = ["desire", "--preset", "quick", "--device", "runtime", *_TINY["desire"],
            "--out", str(tmp_path)]
    code, err = run_cli(experiments_cli.main, argv, capsys)
    line = one_line(err)
    assert code == 130
    assert line.startswith("interrupted before training started: nothing was trained, and "
                           f"the run folder {tmp_path / 'desire'}/"), line
    assert line.endswith(f"was removed; start again with: {command(*argv)}"), line
    assert runs_of(tmp_path, "desire") == []


def test_ctrl_c_while_compiling_a_resume_keeps_the_run(tmp_path, capsys, monkeypatch):
    folder = fabricate(tmp_path, "desire", "run", 4, checkpoint_hidden=4)
    checkpoint = folder.checkpoint_path.read_bytes()
    config = folder.read_config()["config"]
    monkeypatch.setattr(desire.DesireProtocol, "compile", interrupt)
    code, err = run_cli(experiments_cli.main, ["desire", "--resume", str(folder.path)], capsys)
    line = one_line(err)
    assert code == 130
    assert line == (f"interrupted before training started at epoch 0, sample 4; its last "
                    f"checkpoint is {folder.checkpoint_path.resolve()}; resume with: "
                    f"{command('desire', '--resume', folder.path.resolve())}"), line
    assert folder.checkpoint_path.read_bytes() == checkpoint
    assert folder.read_config()["config"] == config


def test_ctrl_c_during_training_names_the_checkpoint_and_the_resume(tmp_path, capsys,
                                                                    monkeypatch):
    """ei_ratio checkpoints its initial evaluation (epoch 0), then trains: Ctrl-C in the
    first training chunk leaves that checkpoint, which --resume continues."""
    monkeypatch.setattr(EI.EIRatioProtocol, "train_run_args", interrupt)
    code, err = run_cli(experiments_cli.main, [*EI_RUNTIME, "--out", str(tmp_path)], capsys)
    (run,) = runs_of(tmp_path, "ei_ratio")
    line = one_line(err)
    assert code == 130
    assert line == (f"interrupted during training at epoch 0, sample 0; its last checkpoint "
                    f"is {run / 'checkpoint.npz'}; resume with: "
                    f"{command('ei_ratio', '--resume', run)}"), line
    assert "<run folder>" not in line
    monkeypatch.undo()
    code, _ = run_cli(experiments_cli.main, ["ei_ratio", "--resume", str(run),
                                             "--no-progress"], capsys)
    assert code == 0
    assert [m["epoch"] for m in RunFolder(run).read_metrics()] == [0, 1]


def test_ctrl_c_during_a_sweep_says_to_run_it_again(tmp_path, capsys, monkeypatch):
    """The hint is the sweep command itself (a sweep has no --resume; finished tasks are
    skipped when it runs again), and a sweep stopped before any task did anything
    leaves no folder."""
    monkeypatch.setattr(EI.EIRatioProtocol, "compile", interrupt)
    argv = [*SWEEP, "--out", str(tmp_path)]
    code, err = run_cli(experiments_cli.main, argv, capsys)
    line = one_line(err)
    assert code == 130
    assert line == ("interrupted. Tasks that finished are kept; run the same command again "
                    f"to finish the sweep (finished tasks are skipped): {command(*argv)}")
    assert "--resume" not in line
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_in_the_noise_test_after_training(tmp_path, capsys, monkeypatch):
    """plif and stl test the trained network under input noise after the last epoch:
    the run is trained and checkpointed, and --resume runs the test again."""
    from experiments import neuron_parameters as NP

    monkeypatch.setattr(NP, "noise_robustness", interrupt)
    argv = ["plif", "--preset", "quick", "--device", "runtime", "--no-progress",
            *_TINY["plif"], "--noise-samples", "4", "--out", str(tmp_path)]
    code, err = run_cli(experiments_cli.main, argv, capsys)
    (run,) = runs_of(tmp_path, "plif")
    assert code == 130
    assert one_line(err) == (f"interrupted in the input-noise test after training at epoch 1, "
                             f"sample 0; its last checkpoint is {run / 'checkpoint.npz'}; "
                             f"resume with: {command('plif', '--resume', run)}")


@pytest.fixture
def cold_cache(tmp_path):
    root = tmp_path / "cache"
    root.mkdir()
    return root


@pytest.mark.slow  # timing-dependent (where the signal lands); the injected
# Ctrl-C tests above cover the same messages in make test
def test_sigint_during_a_real_compile(tmp_path, cold_cache):
    """A real ``python -m experiments`` in its own process group (as a terminal runs it)
    gets SIGINT once the C++ build has claimed its cache slot: exit 130, one line, no
    run folder."""
    out = tmp_path / "results"
    argv = ["desire", "--preset", "quick", *_TINY["desire"], "--no-progress", "--out", str(out)]
    env = dict(os.environ, SNN_BUILD_CACHE=str(cold_cache), PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "experiments", *argv], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    while not any(cold_cache.glob("*/.building")) and proc.poll() is None:
        assert time.monotonic() < deadline, "the build never started"
        time.sleep(0.05)
    # Brian2 runs make through system(), which ignores SIGINT in the calling process
    # from just before make's shell exists: a signal landing in that window is lost for
    # good, so, as a user would, press Ctrl-C again until the command ends.
    while True:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=2)
            break
        except subprocess.TimeoutExpired:
            assert time.monotonic() < deadline + 120, "Ctrl-C never stopped the command"
    # make, interrupted with it, says so itself (as in a terminal), and the build's
    # progress line comes first: the rest is ours.
    ours = "\n".join(text for text in err.splitlines()
                     if not re.match(r"make(\[\d+\])?: \*\*\* .* Interrupt", text)
                     and not text.startswith("compiling desire (first build; about "))
    line = one_line(ours)
    assert proc.returncode == 130, err
    assert line.startswith("interrupted before training started: nothing was trained, "
                           f"and the run folder {out / 'desire'}/"), line
    assert line.endswith(f"was removed; start again with: {command(*argv)}"), line
    assert runs_of(out, "desire") == []


# ======================================================================================
# 2. Writes that fail: a full disk, a folder turned read-only
# ======================================================================================


def failing(monkeypatch, name: str, code: int, after: int = 0):
    """Make ``os.replace`` (the last step of every atomic write) raise ``OSError(code)``
    for the file ``name`` from its ``after+1``-th write on."""
    real, calls = os.replace, []

    def replace(src, dst, *args, **kwargs):
        if Path(dst).name == name:
            calls.append(dst)
            if len(calls) > after:
                raise OSError(code, os.strerror(code))
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)


def test_full_disk_at_the_second_checkpoint(tmp_path, capsys, monkeypatch):
    failing(monkeypatch, "checkpoint.npz", errno.ENOSPC, after=1)
    code, err = run_cli(experiments_cli.main, [*EI_RUNTIME, "--out", str(tmp_path)], capsys)
    (run,) = runs_of(tmp_path, "ei_ratio")
    line = one_line(err)
    assert code == 2
    assert line == (f"error: cannot write {run / 'checkpoint.npz'}: No space left on device. "
                    f"The run stopped during training at epoch 0, sample 0; its last "
                    f"checkpoint is {run / 'checkpoint-previous.npz'}. Free space on that "
                    "disk, then "
                    f"resume with: {command('ei_ratio', '--resume', run)}"), line
    # The injected fault fails every rename onto checkpoint.npz, so the last durable
    # checkpoint could not be put back: it is found under its previous name.
    assert not list(run.glob(".*.tmp")), "the cut write left its temporary file"


def test_read_only_results_before_the_first_checkpoint(tmp_path, capsys, monkeypatch):
    failing(monkeypatch, "checkpoint.npz", errno.EACCES)
    argv = [*EI_RUNTIME, "--out", str(tmp_path)]
    code, err = run_cli(experiments_cli.main, argv, capsys)
    line = one_line(err)
    assert code == 2
    assert line.startswith(f"error: cannot write {tmp_path / 'ei_ratio'}/"), line
    assert "/checkpoint.npz: Permission denied. The run stopped during training: nothing " \
           "was checkpointed, and the run folder " in line, line
    assert line.endswith(f"was removed. Make {tmp_path / 'ei_ratio'} writable, then start "
                         f"again with: {command(*argv)}"), line
    assert runs_of(tmp_path, "ei_ratio") == []


def test_full_disk_when_the_run_folder_is_made(tmp_path, capsys, monkeypatch, no_compile):
    failing(monkeypatch, "config.json", errno.ENOSPC)
    code, err = run_cli(experiments_cli.main, [*EI_RUNTIME, "--out", str(tmp_path)], capsys)
    line = one_line(err)
    assert code == 2
    assert line.startswith(f"error: --out: cannot write {tmp_path / 'ei_ratio'}/"), line
    assert line.endswith("/config.json: No space left on device, so the run folder "
                         f"{line.split('so the run folder ')[1].split(' ')[0]} was removed "
                         "again; free space on that disk or give --out a folder on another "
                         "one."), line
    assert runs_of(tmp_path, "ei_ratio") == []


def test_full_disk_of_a_resumed_run_keeps_it(tmp_path, capsys, monkeypatch):
    """A resumed folder is never removed, even when the run stops before it wrote a
    checkpoint of its own."""
    folder = fabricate(tmp_path, "ei_ratio", "run", 4, device="runtime")
    folder.metrics_path.unlink()  # it stopped before its first checkpoint and evaluation
    failing(monkeypatch, "checkpoint.npz", errno.ENOSPC)
    code, err = run_cli(experiments_cli.main, ["ei_ratio", "--resume", str(folder.path),
                                               "--no-progress"], capsys)
    line = one_line(err)
    path = folder.path.resolve()
    assert code == 2
    assert line == (f"error: cannot write {path / 'checkpoint.npz'}: No space left on device. "
                    f"The run stopped during training, before its first checkpoint; its "
                    f"folder {path} was left as it was. Free space on that disk, then resume "
                    f"with: {command('ei_ratio', '--resume', path)} (it starts from the "
                    "beginning)"), line
    assert folder.config_path.is_file()


@pytest.fixture
def small_tmpfs(tmp_path):
    """A full tmpfs of 64 KiB, where this machine lets the tests mount one; its file
    ``filler`` holds all of it."""
    where = tmp_path / "tmpfs"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(where)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        reason = (mounted.stderr or "").strip() or "mount failed"
        pytest.skip(f"cannot mount a tmpfs here ({reason}): the full disk is injected "
                    "by the other tests")
    try:
        with open(where / "filler", "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError:  # full
                pass
        yield where
    finally:
        subprocess.run(["umount", str(where)], capture_output=True)


def test_a_real_disk_that_fills_during_the_run(small_tmpfs, capsys):
    """Three free pages: config.json and log.txt fit (a page or two), the first
    checkpoint (three pages) does not."""
    filler = small_tmpfs / "filler"
    os.truncate(filler, filler.stat().st_size - 3 * 4096)
    out = small_tmpfs / "results"
    argv = [*EI_RUNTIME, "--out", str(out)]
    code, err = run_cli(experiments_cli.main, argv, capsys)
    line = one_line(err)
    assert code == 2
    assert line.startswith(f"error: cannot write {out / 'ei_ratio'}/"), line
    assert ": No space left on device. The run stopped during training: nothing was " \
           "checkpointed, and the run folder " in line, line
    assert line.endswith(f"was removed. Free space on that disk, then start again with: "
                         f"{command(*argv)}"), line
    assert runs_of(out, "ei_ratio") == []


def test_a_real_full_disk(small_tmpfs, capsys, no_compile):
    out = small_tmpfs / "results"
    code, err = run_cli(experiments_cli.main, [*EI_RUNTIME, "--out", str(out)], capsys)
    line = one_line(err)
    assert code == 2
    assert line.startswith("error: --out: cannot "), line
    assert "No space left on device" in line and "free space on that disk" in line, line
    assert runs_of(out, "ei_ratio") == []


def test_a_data_file_that_cannot_be_read(tmp_path, capsys, monkeypatch, no_compile):
    from experiments import datasets

    data_dir = tmp_path / "idx"
    data_dir.mkdir()
    images = data_dir / "train-images-idx3-ubyte.gz"
    images.write_bytes(b"unreadable")

    def denied(path, *args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    monkeypatch.setattr(datasets, "file_md5", denied)
    argv = ["desire", "--dataset", "mnist", "--data-dir", str(data_dir),
            "--out", str(tmp_path / "out")]
    code, err = run_cli(experiments_cli.main, argv, capsys)
    assert code == 2
    assert one_line(err) == (f"error: data_dir: cannot read {images} (Permission denied); "
                             "make it readable, or give --data-dir a folder whose files you "
                             "can read.")
    assert not (tmp_path / "out").exists()


# ======================================================================================
# 3. A build cache that cannot be written
# ======================================================================================


@pytest.mark.parametrize("kind", ["file", "read_only"])
def test_build_cache_that_cannot_be_written(kind, tmp_path, capsys, monkeypatch, no_compile):
    if kind == "file":
        cache = tmp_path / "cache"
        cache.write_text("not a folder")
        words = [f"'{cache}' is a file, not a folder"]
    elif os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        cache = locked / "cache"
        words = [f"cannot write in '{cache}' (Permission denied)"]
    else:  # root writes anywhere but in /proc
        cache = Path("/proc/snn-test-cache")
        words = [f"cannot write in '{cache}'"]
    monkeypatch.setenv("SNN_BUILD_CACHE", str(cache))
    argv = ["desire", "--preset", "quick", *_TINY["desire"], "--out", str(tmp_path / "out")]
    code, err = run_cli(experiments_cli.main, argv, capsys)
    line = one_line(err)
    assert code == 2
    assert line.startswith(f"error: SNN_BUILD_CACHE={cache}: "), line
    for word in [*words, "unset SNN_BUILD_CACHE", "point it at a folder you can write to"]:
        assert word in line, (word, line)
    assert not (tmp_path / "out").exists()
    if kind == "read_only" and os.geteuid() != 0:
        locked.chmod(0o700)


# ======================================================================================
# 4. A network too big for the memory
# ======================================================================================


@pytest.mark.parametrize("protocol", ["desire", "ei_ratio", "plif", "stl", "balanced_tuning"])
def test_network_too_big_for_the_memory(protocol, tmp_path, capsys, monkeypatch, no_compile):
    monkeypatch.setattr(resources, "available_memory", lambda: 2**30)
    argv = [protocol, "--preset", "quick", "--hidden", "10000000", "--out", str(tmp_path)]
    code, err = run_cli(experiments_cli.main, argv, capsys)
    line = one_line(err)
    assert code == 2
    assert line.startswith("error: the network of this configuration needs about "), line
    assert "synapses" in line and "but only 1.0 GiB of memory are available" in line, line
    assert "choose a smaller --hidden" in line, line
    assert list(tmp_path.iterdir()) == []


def test_the_refusal_states_the_estimate(tmp_path, capsys, monkeypatch, no_compile):
    """A network that fits is not refused; one 10 bytes too big is, with its size."""
    cfg = EI.make_config("quick", n_hidden=50, epochs=1, train_samples=8, eval_samples=4)
    need = EI.EIRatioProtocol(cfg).memory_estimate()
    argv = ["ei_ratio", "--preset", "quick", "--hidden", "50", "--epochs", "1",
            "--train-samples", "8", "--eval-samples", "4", "--out", str(tmp_path)]
    monkeypatch.setattr(resources, "available_memory",
                        lambda: int(need.total / resources.MEMORY_FRACTION) - 10)
    code, err = run_cli(experiments_cli.main, argv, capsys)
    assert code == 2
    assert one_line(err).startswith(f"error: the network of this configuration needs "
                                    f"{need.describe()} but only ")
    assert f"{need.synapses:,} synapses" in need.describe()
    monkeypatch.setattr(resources, "available_memory",
                        lambda: int(need.total / resources.MEMORY_FRACTION) + 10)
    with pytest.raises(AssertionError, match="compilation must not start"):
        experiments_cli.main(argv)


# ======================================================================================
# 5. A scheduler that is no address
# ======================================================================================


@pytest.mark.parametrize("scheduler", ["nonsense", "tcp//host:8786", "host:port"])
def test_scheduler_that_is_no_address(scheduler, tmp_path, capsys, no_compile):
    argv = [*SWEEP, "--out", str(tmp_path)]
    argv[argv.index("serial")] = scheduler
    code, err = run_cli(experiments_cli.main, argv, capsys)
    line = one_line(err)
    assert code == 2
    assert line == (f"error: scheduler={scheduler!r} is not a Dask scheduler address; an "
                    "address looks like 'tcp://host:8786' (protocol://host:port, as `dask "
                    "scheduler` prints it) or 'host:8786'; give 'serial' to run the tasks "
                    "here one by one, or leave it out for a local cluster"), line
    assert list(tmp_path.iterdir()) == []


# ======================================================================================
# 6. Brian2 errors while building
# ======================================================================================


def brian_object_error(*args, **kwargs):
    """What Brian2 raises for an object whose code cannot be generated."""
    from brian2 import NeuronGroup
    from brian2.core.base import BrianObjectException

    group = NeuronGroup(1, "v : 1", name="faulty_group")
    try:
        raise KeyError("The identifier 'tau_x' could not be resolved.")
    except KeyError as cause:
        raise BrianObjectException("An error occurred when preparing an object.",
                                   group) from cause


def compiler_error(*args, **kwargs):
    raise RuntimeError('Project compilation failed (error code: 512). Consider running '
                       'with "clean=True" to force a complete rebuild.')


SLOT = "/cache/cpp-0123456789abcdef-0"


@pytest.mark.parametrize("fault, words", [
    (brian_object_error, ["Brian2 could not build the network: KeyError: \"The identifier "
                          "'tau_x' could not be resolved.\" (in the object 'faulty_group')."]),
    (compiler_error, ["Brian2 could not build the network: the C++ compiler failed (make "
                      f"exited with status 2; its output is above); its build folder is {SLOT}."]),
])
def test_brian2_error_while_building(fault, words, tmp_path, capsys, monkeypatch):
    from brian2 import get_device

    monkeypatch.setattr(desire.DesireProtocol, "compile", fault)
    # Where models.devices points the device before it runs make.
    monkeypatch.setattr(get_device(), "project_dir", SLOT, raising=False)
    argv = ["desire", "--preset", "quick", "--device", "runtime", *_TINY["desire"],
            "--out", str(tmp_path)]
    code, err = run_cli(experiments_cli.main, argv, capsys)
    line = one_line(err)
    assert code == 2
    for word in words:
        assert word in line, (word, line)
    assert "Object was created here" not in line and "please" not in line.lower()
    assert "The run stopped before training started: nothing was trained, and the run " \
           "folder" in line, line
    assert line.endswith(f"Fix the cause, then start again with: {command(*argv)}"), line
    assert runs_of(tmp_path, "desire") == []


def test_no_brian2_banner_in_a_real_process(tmp_path):
    """Brian2 prints its request to report a bug (and the paths of its debug files) for
    an exception that reaches the interpreter: the command line ends before that."""
    argv = ["desire", "--preset", "quick", "--device", "runtime", *_TINY["desire"],
            "--out", str(tmp_path)]
    script = ("import sys\n"
              "from experiments import __main__ as cli, desire\n"
              "from tests.system.test_faults import brian_object_error\n"
              "desire.DesireProtocol.compile = brian_object_error\n"
              f"sys.exit(cli.main({argv!r}))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert done.returncode == 2, done.stderr
    line = one_line(done.stderr)
    assert line.startswith("error: Brian2 could not build the network: KeyError"), line
    assert "unexpected error" not in done.stderr and "brian_debug" not in done.stderr
    assert runs_of(tmp_path, "desire") == []


def test_interrupted_compiler_is_an_interrupt(tmp_path, capsys, monkeypatch):
    """make killed by the terminal's SIGINT makes Brian2 report a failed compilation
    (wait status 2): that is Ctrl-C, not a compiler fault."""
    def killed(*args, **kwargs):
        raise RuntimeError("Project compilation failed (error code: 2).")

    monkeypatch.setattr(desire.DesireProtocol, "compile", killed)
    code, err = run_cli(experiments_cli.main, ["desire", "--preset", "quick", *_TINY["desire"],
                                               "--out", str(tmp_path)], capsys)
    assert code == 130
    assert one_line(err).startswith("interrupted before training started")


# ======================================================================================
# 7. --epochs 0
# ======================================================================================


@pytest.mark.parametrize("argv", [["desire", "--preset", "quick"], SWEEP])
def test_zero_epochs_are_refused(argv, tmp_path, capsys, no_compile):
    argv = [*argv, "--epochs", "0", "--out", str(tmp_path)]
    code, err = run_cli(experiments_cli.main, argv, capsys)
    assert code == 2
    assert one_line(err) == "error: epochs: must be an integer >= 1, got 0."
    assert list(tmp_path.iterdir()) == []
