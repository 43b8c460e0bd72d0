"""SIGKILL at any moment, then ``--resume``; and runs started at the same time.

The real command line (``python -m experiments <protocol> ...``) runs in subprocesses,
each in its own session, so that what a SIGKILL of the Python process leaves running (an
orphaned ``make`` or simulation binary, as after ``kill -9 PID``) can be found, waited
for, frozen or killed. Every interrupted run is compared with an uninterrupted run of the
same configuration: the final checkpoint's arrays bit for bit, its metadata, every line of
``metrics.jsonl`` and every recording (timings left out), and no temporary file is left.

- Random kills (seeded delays) in start-up, code generation and compilation, and in
  training (mid-chunk, during an evaluation, while a checkpoint is written), then
  ``--resume`` until the run ends: the E:I-ratio protocol (e-prop); desire
  backpropagation and balanced tuning too, marked slow (``make test`` has no room for
  desire's 1.5 minutes; a cold compile of balanced tuning's network takes minutes).
- Kills placed exactly while a checkpoint is written (a launcher script patches
  ``os.fsync`` / ``os.replace`` in the killed process, not the package): a temporary file
  cut in half, a complete temporary file not yet renamed (the current checkpoint already
  renamed to checkpoint-previous.npz, which the resume falls back to), a renamed
  checkpoint whose metrics were not yet written.
- A kill while ``make`` compiles: the orphaned ``make`` keeps the slot from other builds;
  an object file cut short by the kill is not linked; the resumed run (which had no
  checkpoint yet) starts from the beginning and ends bit-identical.
- Two runs of one configuration started together in one build cache and one results
  root: each gets its own build slot and run folder, both equal a serial run; and run
  folders created at the same instant with the same run id never coincide.
- desire's quick preset killed as soon as its first checkpoint appears (in mid-epoch),
  resumed, and compared with a fresh run; stale ``run_args`` files do not pile up in the
  build slots.

The desire and E:I-ratio networks are the quick presets' (the same binaries as the
desire test at the end of this file and tests/experiments/test_ei_ratio.py use) on fewer
samples; the compile and concurrency tests use a desire network with another chunk size,
whose build slots are seeded from the quick preset's compiled slot (a few translation
units recompile).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from runs import RunFolder
from models import devices

REPO = Path(__file__).resolve().parents[2]

DESIRE = ["desire", "--preset", "quick", "--epochs", "3", "--train-samples", "800",
          "--eval-samples", "100", "--seed", "7"]
# Ten epochs: a chunk takes 0.03 s on an idle machine, and with two epochs the whole run
# ended inside the random kill windows (startup up to 4.5 s), leaving too few kills.
EI_RATIO = ["ei_ratio", "--preset", "quick", "--epochs", "10", "--train-samples", "256",
            "--eval-samples", "64", "--seed", "7"]
BALANCED = ["balanced_tuning", "--preset", "quick", "--epochs", "1", "--equilibrium-epochs",
            "1", "--equilibrium-samples", "100", "--train-samples", "250", "--eval-samples",
            "100", "--seed", "7"]
ARGS = {"desire": DESIRE, "ei_ratio": EI_RATIO, "balanced_tuning": BALANCED}
#: Desire with another chunk size: another binary, seeded from the quick preset's slot.
DESIRE_200 = [*DESIRE, "--chunk-size", "200"]

#: Metrics and metadata that measure time, not learning.
TIMING = re.compile(r"(seconds|_per_s)$|^(time|saved)$")
COMPILED = re.compile(r"compiled in [\d.]+ s \((.+)\)")


# --------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------

#: Run as ``python launcher.py <protocol> ...``: the command line, killing itself with
#: SIGKILL at the point KILL_MODE and KILL_AT name.
LAUNCHER = textwrap.dedent('''
    import json, os, runpy, signal, subprocess, sys, time
    from pathlib import Path

    import numpy as np

    MODE = os.environ["KILL_MODE"]
    AT = tuple(int(x) for x in os.environ.get("KILL_AT", "0:0").split(":"))


    def die():
        os.kill(os.getpid(), signal.SIGKILL)


    def position(path):
        """(epoch, cursor) of the checkpoint in the (complete) file ``path``."""
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["__meta__"]))
        return meta["epoch"], meta["cursor"]


    real_fsync, real_replace, real_system = os.fsync, os.replace, os.system


    def fsync(fd):
        # "torn": the checkpoint's bytes are written but only half reach the disk.
        real_fsync(fd)
        path = os.readlink(f"/proc/self/fd/{fd}")
        if MODE == "torn" and "checkpoint.npz" in os.path.basename(path) \\
                and position(path) == AT:
            os.ftruncate(fd, os.fstat(fd).st_size // 2)
            real_fsync(fd)
            die()


    def replace(src, dst, **kwargs):
        if os.path.basename(dst) == "checkpoint.npz" and position(src) == AT:
            if MODE == "before-rename":
                die()
            real_replace(src, dst, **kwargs)
            if MODE == "after-rename":
                die()
            return
        real_replace(src, dst, **kwargs)


    def system(command):
        # "compile": run make as os.system does; die once it has written an object file.
        if MODE != "compile" or not command.startswith("make") or "clean" in command:
            return real_system(command)
        start = time.time()
        make = subprocess.Popen(command, shell=True, close_fds=False)
        while make.poll() is None:
            if any(p.stat().st_mtime > start for p in Path(".").rglob("*.o")):
                die()
            time.sleep(0.005)
        return make.returncode << 8


    os.fsync, os.replace, os.system = fsync, replace, system
    sys.argv = ["python -m experiments", *sys.argv[1:]]
    runpy.run_module("experiments", run_name="__main__", alter_sys=True)
''')


class Cli:
    """``python -m experiments ARGV`` (or the launcher) in a session of its own, output
    appended to ``log``."""

    def __init__(self, argv, cache, log, launcher=None, **env):
        command = [sys.executable, str(launcher)] if launcher else [sys.executable, "-m",
                                                                     "experiments"]
        self.log = Path(log)
        with open(self.log, "ab") as out:
            out.write(f"$ {' '.join(map(str, argv))}\n".encode())
            self.proc = subprocess.Popen(
                [*command, *map(str, argv)], cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
                env=dict(os.environ, SNN_BUILD_CACHE=str(cache), PYTHONUNBUFFERED="1", **env))

    @property
    def group(self) -> int:
        return self.proc.pid  # the session's (and process group's) id

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def wait(self, timeout=600) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.group, signal.SIGKILL)
            raise

    def kill(self) -> None:
        """SIGKILL to the Python process only, as ``kill -9 PID`` (or the OOM killer)."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(60)

    def orphans_alive(self) -> bool:
        try:
            os.killpg(self.group, 0)
            return True
        except ProcessLookupError:
            return False

    def wait_for_orphans(self, timeout=300) -> None:
        """Until nothing the process started (a make, a simulation binary) runs any more."""
        self.proc.wait(timeout)
        deadline = time.monotonic() + timeout
        while self.orphans_alive():
            assert time.monotonic() < deadline, "orphaned processes do not end"
            time.sleep(0.01)

    def finish(self, timeout=600) -> None:
        code = self.wait(timeout)
        assert code == 0, f"exit code {code}:\n{self.output()}"


@pytest.fixture(scope="module")
def reference(session_build_cache, tmp_path_factory):
    """``reference(argv)``: the folder of an uninterrupted run of ``argv`` (run once per
    module, in the session's build cache, which it warms)."""
    root = tmp_path_factory.mktemp("reference")
    runs = {}

    def get(argv):
        key = tuple(argv)
        if key not in runs:
            out = root / str(len(runs))
            Cli([*argv, "--no-progress", "--out", out], session_build_cache,
                root / f"{len(runs)}.log").finish()
            (runs[key],) = (out / argv[0]).iterdir()
        return runs[key]

    return get


@pytest.fixture
def launcher(tmp_path):
    path = tmp_path / "launcher.py"
    path.write_text(LAUNCHER)
    return path


# --------------------------------------------------------------------------------------
# Comparing runs
# --------------------------------------------------------------------------------------


def _learning(record: dict) -> str:
    """A metrics line or checkpoint metadata without timings, as canonical JSON (NaN
    compares equal to NaN)."""
    kept = {k: v for k, v in record.items() if not TIMING.search(k)}
    if "metrics" in kept:
        kept["metrics"] = [json.loads(_learning(m)) for m in kept["metrics"]]
    return json.dumps(kept, sort_keys=True)


def assert_same_run(run, reference) -> None:
    """``run`` (interrupted and resumed) ended exactly as ``reference``."""
    run, reference = RunFolder(run), RunFolder(reference)
    a, meta_a = run.read_checkpoint()
    b, meta_b = reference.read_checkpoint()
    assert sorted(a) == sorted(b)
    for name in a:
        assert a[name].dtype == b[name].dtype and a[name].shape == b[name].shape, name
        assert a[name].tobytes() == b[name].tobytes(), f"{name} differs from the reference"
    assert _learning(meta_a) == _learning(meta_b)
    assert [_learning(m) for m in run.read_metrics()] == \
           [_learning(m) for m in reference.read_metrics()]
    assert len(run.read_metrics()) == len(meta_a["metrics"])
    assert run.recording_names() == reference.recording_names()
    for name in run.recording_names():
        x, y = run.read_recording(name), reference.read_recording(name)
        assert sorted(x) == sorted(y)
        for key in x:
            assert x[key].tobytes() == y[key].tobytes(), f"recording {name}: {key} differs"
    leftovers = [p.name for p in run.path.rglob(".*.tmp")]
    assert leftovers == [], "temporary files of cut-short writes must be removed"


def _position(path) -> tuple[int, int]:
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["__meta__"]))
    return meta["epoch"], meta["cursor"]


def _slot_of(run) -> Path:
    """The build slot the last process working on ``run`` compiled into."""
    return Path(COMPILED.findall((Path(run) / "log.txt").read_text())[-1])


# --------------------------------------------------------------------------------------
# Random kills, then --resume until the run ends
# --------------------------------------------------------------------------------------

#: Where each kill is aimed: "startup" (a delay from the start of the process: imports,
#: data, code generation, make, the first chunks) or "training" (a delay from the first
#: chunk this process finished: mid-chunk, an evaluation, a checkpoint being written).
PHASES = ("startup", "training", "startup", "training", "training")


def _chunks_done(out: Path) -> int:
    return sum(f.read_text().count(" chunk ") for f in out.glob("*/*/log.txt"))


def _kill_after(cli: Cli, ready, delay: float, timeout=300) -> bool:
    """SIGKILL ``cli`` ``delay`` s after ``ready()`` holds; ``False`` if it ended first."""
    deadline = time.monotonic() + timeout
    while not ready() and cli.proc.poll() is None:
        assert time.monotonic() < deadline, cli.output()
        time.sleep(0.002)
    end = time.monotonic() + delay
    while time.monotonic() < end and cli.proc.poll() is None:
        time.sleep(0.002)
    if cli.proc.poll() is not None:
        return False
    cli.kill()
    return True


@pytest.mark.parametrize("protocol, seed", [
    # desire's random kills take 1.5 minutes and make test has no room for them; its
    # kills in compilation, mid-epoch (the last test of this file) and while
    # checkpointing stay.
    pytest.param("desire", 1, marks=pytest.mark.slow),
    ("ei_ratio", 2),
    pytest.param("balanced_tuning", 3, marks=pytest.mark.slow),
])
def test_random_sigkills_then_resume_end_bit_identical(protocol, seed, tmp_path, reference,
                                                       session_build_cache):
    expected = reference(ARGS[protocol])
    rng = np.random.default_rng(seed)
    out, log = tmp_path / "out", tmp_path / "cli.log"
    kills, run, done = [], None, False
    for phase in (*PHASES, "finish"):
        argv = ([*ARGS[protocol], "--no-progress", "--out", out] if run is None
                else [protocol, "--resume", run, "--no-progress"])
        cli = Cli(argv, session_build_cache, log)
        if phase == "finish":
            cli.finish()
            done = True
            break
        if phase == "startup":
            delay = rng.uniform(0.2, 4.5)
            killed = _kill_after(cli, lambda: True, delay)
        else:
            delay = rng.uniform(0.0, 0.4)
            before = _chunks_done(out)
            killed = _kill_after(cli, lambda: _chunks_done(out) > before, delay)
        if killed:
            kills.append((phase, round(delay, 3)))
            assert cli.proc.returncode == -signal.SIGKILL
        else:
            assert cli.proc.returncode == 0, cli.output()
        cli.wait_for_orphans()  # so that the next process finds the slot free
        runs = list((out / protocol).iterdir()) if (out / protocol).is_dir() else []
        assert len(runs) <= 1, "a resumed run must not start another run folder"
        run = runs[0] if runs else None
        if not killed:
            done = True
            break
    print(f"{protocol}: killed at {kills}")
    assert done and run is not None
    assert len(kills) >= 3, kills
    n_epochs = RunFolder(expected).read_checkpoint()[1]["epoch"]
    resumed = re.findall(r"resumed at epoch (\d+), sample (\d+)", (run / "log.txt").read_text())
    assert any((int(e), int(s)) != (n_epochs, 0) for e, s in resumed), \
        f"no kill came in training, after a checkpoint: {resumed}"
    assert_same_run(run, expected)


# --------------------------------------------------------------------------------------
# Kills while a checkpoint is written
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol, kills", [
    # A temporary file cut in half at the end of the first epoch; then, resumed, killed
    # between the last checkpoint's rename and the metrics' write.
    ("desire", [("torn", (1, 0)), ("after-rename", (3, 0))]),
    # The first checkpoint (after the evaluation before training) cut in half: no
    # checkpoint, the run starts again; then a complete temporary file in mid-epoch that
    # was not yet renamed.
    ("ei_ratio", [("torn", (0, 0)), ("before-rename", (1, 128))]),
])
def test_sigkill_while_writing_a_checkpoint(protocol, kills, tmp_path, reference, launcher,
                                            session_build_cache):
    expected = reference(ARGS[protocol])
    out, log = tmp_path / "out", tmp_path / "cli.log"
    run = None
    for mode, at in kills:
        argv = ([*ARGS[protocol], "--no-progress", "--out", out] if run is None
                else [protocol, "--resume", run, "--no-progress"])
        cli = Cli(argv, session_build_cache, log, launcher=launcher, KILL_MODE=mode,
                  KILL_AT=f"{at[0]}:{at[1]}")
        code = cli.wait()
        assert code == -signal.SIGKILL, f"not killed at {at} ({mode}):\n{cli.output()}"
        cli.wait_for_orphans()
        (run,) = (out / protocol).iterdir()
        folder = RunFolder(run)
        temporaries = list(run.glob(".checkpoint.npz.*.tmp"))
        if mode == "after-rename":
            assert temporaries == [] and _position(folder.checkpoint_path) == at
            assert len(folder.read_metrics()) < len(folder.read_checkpoint()[1]["metrics"]), \
                "the kill came before the metrics were written"
            continue
        (temporary,) = temporaries
        if mode == "torn":
            with pytest.raises(Exception):
                _position(temporary)  # cut in half: unreadable
        else:
            assert _position(temporary) == at
        if at == (0, 0):
            assert not folder.checkpoint_path.exists()
        elif mode == "before-rename":  # between the two renames: only the previous one
            assert not folder.checkpoint_path.exists()
            assert _position(folder.previous_checkpoint_path) < at
        else:  # the checkpoint before, intact
            assert _position(folder.checkpoint_path) < at

    Cli([protocol, "--resume", run, "--no-progress"], session_build_cache, log).finish()
    assert_same_run(run, expected)
    if any(mode == "before-rename" for mode, _ in kills):
        assert "warning: checkpoint.npz is missing; resuming from checkpoint-previous.npz" \
            in (run / "log.txt").read_text()


# --------------------------------------------------------------------------------------
# A kill while make compiles
# --------------------------------------------------------------------------------------


def test_sigkill_while_compiling_leaves_a_usable_build_slot(tmp_path, reference, launcher):
    """Killed after make wrote its first object file. The orphaned make works on in the
    slot: no other build may take the slot until it ends. Then the orphans are killed
    too, and one object file is cut in half (what a compiler killed while writing it
    leaves, newer than its source); the resumed run must recompile it, not link it, and
    start from the beginning (the run had no checkpoint)."""
    donor = _slot_of(reference(DESIRE))
    cache = tmp_path / "cache"
    cache.mkdir()
    shutil.copytree(donor, cache / donor.name, symlinks=True,
                    ignore=shutil.ignore_patterns(".lock", "results", "static_arrays"))
    out, log = tmp_path / "out", tmp_path / "cli.log"
    cli = Cli([*DESIRE_200, "--no-progress", "--out", out], cache, log, launcher=launcher,
              KILL_MODE="compile")
    code = cli.wait()
    assert code == -signal.SIGKILL, f"not killed while compiling:\n{cli.output()}"
    try:
        os.killpg(cli.group, signal.SIGSTOP)  # freeze the orphaned make and compilers
    except ProcessLookupError:
        pytest.fail("make ended with the process; nothing was left compiling")
    try:
        (slot,) = [p for p in cache.iterdir()
                   if p.name.startswith("cpp-") and p.name != donor.name]
        assert (slot / ".building").exists() and not (slot / ".structure").exists()
        assert devices._slot_in_use(slot), "the orphaned make works in the slot"
        claimed, k, fd = devices._claim_slot(cache, "cpp", slot.name.split("-")[1])
        devices._release_lock(fd)
        assert claimed != slot and k == 1, "a build took the slot an orphaned make works in"
    finally:
        os.killpg(cli.group, signal.SIGKILL)
    cli.wait_for_orphans()
    assert not devices._slot_in_use(slot)
    built = [p for p in slot.rglob("*.o") if p.stat().st_mtime_ns
             >= (slot / ".building").stat().st_mtime_ns]
    assert built, "make had written an object file"
    torn = max(built, key=lambda p: p.stat().st_mtime_ns)
    torn.write_bytes(torn.read_bytes()[: torn.stat().st_size // 2])

    (run,) = (out / "desire").iterdir()
    assert not (run / "checkpoint.npz").exists()
    Cli(["desire", "--resume", run, "--no-progress"], cache, log).finish()
    assert _slot_of(run) == slot
    assert (slot / ".structure").exists() and not (slot / ".building").exists()
    assert "starting from the beginning" in (run / "log.txt").read_text()

    serial = tmp_path / "serial"
    Cli([*DESIRE_200, "--no-progress", "--out", serial], cache, log).finish()
    (expected,) = (serial / "desire").iterdir()
    assert_same_run(run, expected)


# --------------------------------------------------------------------------------------
# Runs started at the same time
# --------------------------------------------------------------------------------------


def test_two_runs_started_together_keep_to_their_own_slot_and_folder(
        tmp_path, reference, session_build_cache):
    """Same configuration, same build cache, same results root, started together: both
    finish, in two build slots and two run folders, each equal to a serial run."""
    reference(DESIRE)  # a compiled slot of the same structure to seed from
    out, log = tmp_path / "out", tmp_path / "cli"
    clis = [Cli([*DESIRE_200, "--no-progress", "--out", out], session_build_cache,
                f"{log}-{i}.log") for i in range(2)]
    for cli in clis:
        cli.finish()
    runs = sorted((out / "desire").iterdir())
    assert len(runs) == 2, runs
    if _slot_of(runs[0]) == _slot_of(runs[1]):  # only if one ended before the other began
        first, second = sorted(runs, key=lambda r: (r / "log.txt").read_text())
        assert (first / "log.txt").read_text().splitlines()[-1][:19] \
            < (second / "log.txt").read_text()[:19], "two runs shared a build slot"
    serial = reference(DESIRE_200)
    for run in runs:
        assert_same_run(run, serial)


def test_run_folders_created_at_the_same_instant_never_coincide(tmp_path):
    code = textwrap.dedent("""
        import sys, time
        from runs import RunFolder
        time.sleep(max(0.0, float(sys.argv[1]) - time.time()))
        folder = RunFolder.create(sys.argv[2], "desire", {"who": sys.argv[3]}, run_id="same")
        print(folder.path, flush=True)
    """)
    start = time.time() + 3.0
    procs = [subprocess.Popen([sys.executable, "-c", code, str(start), str(tmp_path), str(i)],
                              cwd=REPO, stdout=subprocess.PIPE, text=True) for i in range(6)]
    paths = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert len(set(paths)) == 6, paths
    for i, path in enumerate(paths):
        assert RunFolder.open(path).read_config()["config"] == {"who": str(i)}


def test_balanced_tuning_phase_comes_back_with_the_training_sums():
    """Resumed after an epoch's training and before its evaluation, a balanced-tuning run
    ran no chunk in this process; the metrics line still names the epoch's phase (from
    the sums kept in the checkpoint), as in an uninterrupted run."""
    from experiments import balanced_tuning as B

    protocol = B.BalancedTuningProtocol(B.make_config("quick"))  # no chunk has run
    sums = {"samples": 10.0, "spikes_e": 5.0, "spikes_i": 5.0, "dv_abs_e": 1.0,
            "dv_abs_i": 1.0, "output_spikes": 3.0, "curve_n": np.array([10.0]),
            "curve_correct": np.array([4.0])}
    for samples, phase in ((10.0, "consolidation"), (0.0, "equilibrium")):
        metrics = protocol.epoch_metrics("train", dict(sums, consolidation_samples=samples))
        assert metrics["phase"] == phase


# --------------------------------------------------------------------------------------
# desire's command line killed at its first checkpoint, in mid-epoch, and resumed
# --------------------------------------------------------------------------------------


def _desire_cli(args, **kwargs):
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
    proc = _desire_cli([*args, "--out", str(killed_out)])
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

    resumed = _finish(_desire_cli(["--resume", str(run), "--no-progress"]))
    assert "accuracy" in resumed
    assert "resumed at epoch 0" in (run / "log.txt").read_text()

    fresh_out = tmp_path / "fresh"
    _finish(_desire_cli([*args, "--out", str(fresh_out)]))
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
