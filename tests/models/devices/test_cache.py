"""models.devices.cache: the build cache's slots, seeding, locks and staging folders.

The tests compile C++ standalone code (about 7-25 s per cold build on two cores, well
under a second when the cache is warm).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from brian2 import ms

from models import devices
from models.devices import build, select_device
from tests.models.devices.networks import DURATION, spike_steps, tiny_network


def test_build_cache_slots_and_run_args(build_cache):
    # Cold build into an empty cache.
    select_device("cpp")
    net, group, stim, spikes = tiny_network()
    first = build(net, DURATION)
    assert first.directory.parent == build_cache
    assert first.directory.name == f"cpp-{first.code_hash[:16]}-0"
    assert "main.cpp" in first.files_copied and first.seeded_from is None
    cold = first.compile_seconds
    baseline = spike_steps(spikes)
    assert len(baseline[0]) > 0
    binary = first.directory / "main"
    binary_mtime = binary.stat().st_mtime_ns

    # Re-running with run_args changes the results without recompiling; the run_args
    # arrays land in static_arrays/init_* and are removed by the next run.
    first.run(run_args={group.gain: np.full(8, 2.5), stim: np.linspace(0.0, 1.0, 20)})
    changed = spike_steps(spikes)
    assert len(changed[0]) != len(baseline[0]) or not np.array_equal(changed[1], baseline[1])
    assert list((first.directory / "static_arrays").glob("init_*"))
    first.run()
    np.testing.assert_array_equal(spike_steps(spikes)[1], baseline[1])
    assert not list((first.directory / "static_arrays").glob("init_*"))
    assert binary.stat().st_mtime_ns == binary_mtime
    assert first.timings.runs == 3

    # Plant a stale run_args file, release the slot, build the same code again:
    # same directory, nothing copied, make has nothing to do, stale file gone.
    stale = first.directory / "static_arrays" / "init_tiny_gain_deadbeef.dat"
    stale.write_bytes(b"\0" * 64)
    slot0 = first.directory
    first.close()
    with pytest.raises(RuntimeError):
        first.run()
    del first

    select_device("cpp")
    net, group, stim, spikes = tiny_network()
    again = build(net, DURATION)
    assert again.directory == slot0
    assert again.files_copied == ()
    assert again.compile_seconds < min(1.0, 0.5 * cold), (again.compile_seconds, cold)
    assert binary.stat().st_mtime_ns == binary_mtime
    assert not stale.exists()
    np.testing.assert_array_equal(spike_steps(spikes)[1], baseline[1])

    # A second handle held at the same time for the same code gets its own slot.
    select_device("cpp")
    net2, group2, stim2, spikes2 = tiny_network()
    concurrent = build(net2, DURATION)
    assert concurrent.code_hash == again.code_hash
    assert concurrent.directory == build_cache / f"cpp-{again.code_hash[:16]}-1"
    assert concurrent.seeded_from is None  # the only compiled slot is in use
    np.testing.assert_array_equal(spike_steps(spikes2)[1], baseline[1])
    with pytest.raises(RuntimeError, match="build the network again"):
        again.run()  # its device state went with the new selection
    again.close()
    concurrent.close()

    # Changed code (a different compiled-in constant) -> a different directory, seeded
    # from a compiled slot with the same files, so only the changed units recompile.
    select_device("cpp")
    net3, group3, _, spikes3 = tiny_network(tau=12 * ms)
    other = build(net3, DURATION)
    assert other.code_hash != again.code_hash
    assert other.directory.name == f"cpp-{other.code_hash[:16]}-0"
    assert other.seeded_from in (slot0, concurrent.directory)
    all_code = {str(p.relative_to(slot0)) for p in slot0.rglob("*.cpp")}
    assert 0 < len(other.files_copied) and set(other.files_copied) < all_code | {"makefile"}
    assert not any(f.startswith("brianlib/") for f in other.files_copied)
    slower = spike_steps(spikes3)  # tau 12 ms: a different simulation from the new binary
    assert len(slower[0]) < len(baseline[0])
    other.close()
    assert not list((build_cache / ".staging").iterdir())


def test_a_killed_builds_staging_folder_is_removed_by_the_next_build(build_cache):
    """SIGKILL during code generation leaves ``.staging/<target>-<pid>-*`` behind; the
    next build deletes it, but not the staging folder of a live process."""
    staging = build_cache / ".staging"
    dead = staging / "cpp_standalone-999999999-killed"  # above any pid_max: never alive
    live = staging / f"cpp_standalone-{os.getpid()}-building"
    for path in (dead, live):
        (path / "code_objects").mkdir(parents=True)
        (path / "main.cpp").write_text("// half written")
    select_device("cpp")
    net, *_ = tiny_network()
    build(net, DURATION).close()
    assert sorted(p.name for p in staging.iterdir()) == [live.name]
    shutil.rmtree(live)


def test_cache_root_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("SNN_BUILD_CACHE", str(tmp_path / "env"))
    assert devices.resolve_cache_root() == (tmp_path / "env").resolve()
    assert devices.resolve_cache_root(tmp_path / "arg") == (tmp_path / "arg").resolve()
    monkeypatch.delenv("SNN_BUILD_CACHE")
    assert devices.resolve_cache_root() == (
        Path("~").expanduser().resolve() / ".cache" / "snn-brain-learning" / "brian-builds"
    )


def test_check_cache_root_makes_it_or_names_the_variable_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv(devices.CACHE_ENV, str(tmp_path / "new" / "cache"))
    assert devices.check_cache_root() == tmp_path / "new" / "cache"
    assert (tmp_path / "new" / "cache").is_dir()
    a_file = tmp_path / "file"
    a_file.write_text("not a folder")
    for where in (a_file, a_file / "below"):
        monkeypatch.setenv(devices.CACHE_ENV, str(where))
        with pytest.raises(devices.BuildCacheError) as info:
            devices.check_cache_root()
        assert str(info.value) == (
            f"SNN_BUILD_CACHE={where}: '{a_file}' is a file, not a folder, so nothing can be "
            "compiled there; unset SNN_BUILD_CACHE (the default cache is "
            "~/.cache/snn-brain-learning/brian-builds) or point it at a folder you can "
            "write to.")
    with pytest.raises(devices.BuildCacheError, match="^the build cache: .* give a folder"):
        devices.check_cache_root(a_file)


def test_slot_lock_is_exclusive_across_processes(tmp_path):
    """A slot locked by another process is skipped; it is free again once that ends."""
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from models.devices import _claim_slot\n"
        "slot, k, fd = _claim_slot(Path(sys.argv[1]), 'cpp', 'ab' * 32)\n"
        "print(k, flush=True)\n"
        "sys.stdin.read()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[3],
    )
    try:
        assert proc.stdout.readline().strip() == "0"
        slot, k, fd = devices._claim_slot(tmp_path, "cpp", "ab" * 32)
        assert k == 1
        devices._release_lock(fd)
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
    slot, k, fd = devices._claim_slot(tmp_path, "cpp", "ab" * 32)
    assert k == 0
    devices._release_lock(fd)
