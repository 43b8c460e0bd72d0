"""models.devices: runtime / C++ standalone / CUDA standalone, build cache, run_args.

The C++ tests compile (about 7-25 s per cold build on two cores, well under a second
when the cache is warm); the CUDA test (markers ``cuda_compile`` and ``cuda_compile_all``:
not in ``make test``, like the protocols' full CUDA compiles in
``tests/test_cuda_compile.py``, which check the same no-GPU path) generates Brian2CUDA
code for the E/I network and compiles it with nvcc without a GPU: about 8 minutes on
two cores (34 .cu files at ~20 s each, dominated by parsing the Thrust headers), about
30 s when ``SNN_TEST_BUILD_CACHE`` keeps the cache between sessions (Brian2CUDA's code
differs between processes in one file, which a slot seeded from the earlier build
recompiles alone).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from brian2 import (
    Network, NeuronGroup, SpikeGeneratorGroup, SpikeMonitor, TimedArray, get_device, mV,
    ms, prefs,
)

from models import devices
from models.devices import build, select_device

DT = 0.1 * ms
DURATION = 200 * ms
RTOL = 1e-9


# --------------------------------------------------------------------------------------
# The E/I test network: every number drawn with numpy from a fixed seed, so no Brian2
# random number generator is involved and runtime and standalone see the same data.
# --------------------------------------------------------------------------------------


def ei_network(seed: int = 7, n_cells: int = 40, n_inputs: int = 20, rate=40.0):
    """40 conductance-based LIF cells (80:20 E/I) driven by 20 spike generators.

    Input -> all: ['stp_depressing', 'stdp_additive'] onto g_e; recurrent E -> all on
    g_e and I -> all on g_i, static. Connectivity, weights, drive and input spike times
    are numpy draws.
    """
    from models.populations import ei_population
    from models.synapses import synapses

    rng = np.random.default_rng(seed)
    pop = ei_population("lif_conductance", n_cells, 0.8, name="ei")
    pop.group.I_ext = rng.uniform(9.0, 12.0, n_cells) * mV  # v_inf just below threshold

    # Input spikes: Poisson-like, on the dt grid, at most one per (input, step).
    n_steps = int(round(float(DURATION / DT)))
    per_input = rng.poisson(rate * float(DURATION), n_inputs)
    idx, steps = [], []
    for k, count in enumerate(per_input):
        s = np.sort(rng.choice(np.arange(10, n_steps - 10), size=count, replace=False))
        idx.append(np.full(count, k))
        steps.append(s)
    idx, steps = np.concatenate(idx), np.concatenate(steps)
    source = SpikeGeneratorGroup(n_inputs, idx, steps * DT, name="ei_input")

    def pairs(n_pre, n_post, p, offset_pre=0, no_autapses=False):
        mask = rng.random((n_pre, n_post)) < p
        if no_autapses:
            for k in range(n_pre):
                if offset_pre + k < n_post:
                    mask[k, offset_pre + k] = False
        return np.nonzero(mask)

    s_in = synapses(source, pop.group, ["stp_depressing", "stdp_additive"], "ei_in", "g_e")
    i, j = pairs(n_inputs, n_cells, 0.5)
    s_in.connect(i=i, j=j)
    w_in = rng.uniform(0.2, 0.6, len(i))
    s_in.w = w_in

    s_ee = synapses(pop.exc, pop.group, "static", "ei_rec_e", "g_e")
    i, j = pairs(pop.n_exc, n_cells, 0.2, no_autapses=True)
    s_ee.connect(i=i, j=j)
    s_ee.w = rng.uniform(0.02, 0.08, len(i))

    s_ie = synapses(pop.inh, pop.group, "static", "ei_rec_i", "g_i")
    i, j = pairs(pop.n_inh, n_cells, 0.4, offset_pre=pop.n_exc, no_autapses=True)
    s_ie.connect(i=i, j=j)
    s_ie.w = rng.uniform(0.1, 0.3, len(i))

    spikes = SpikeMonitor(pop.group, name="ei_spikes")
    net = Network(pop.group, source, s_in, s_ee, s_ie, spikes, name="ei_net")
    return {
        "net": net, "pop": pop, "input": source, "s_in": s_in, "spikes": spikes,
        "w0": w_in,
    }


def _observe(parts) -> dict:
    spikes, s_in = parts["spikes"], parts["s_in"]
    return {
        "i": np.asarray(spikes.i[:], dtype=np.int64),
        "step": np.round(np.asarray(spikes.t[:] / DT)).astype(np.int64),
        "w": np.asarray(s_in.w[:], dtype=float),
        "u": np.asarray(s_in.u_S[:], dtype=float),
        "x": np.asarray(s_in.x_S[:], dtype=float),
        "syn_i": np.asarray(s_in.i[:]),
        "syn_j": np.asarray(s_in.j[:]),
    }


def test_runtime_and_cpp_standalone_give_the_same_simulation():
    select_device("runtime")
    rt = ei_network()
    w0 = rt["w0"]
    handle = build(rt["net"], DURATION)
    assert handle.target == "runtime" and handle.directory is None
    ref = _observe(rt)

    # The test can fail: the network spikes, in E and I cells, and STDP moves weights.
    assert len(ref["i"]) > 50, "network too quiet to compare"
    assert (ref["i"] < 32).any() and (ref["i"] >= 32).any()
    assert np.abs(ref["w"] - w0).max() > 1e-3, "STDP did not change the weights"
    assert (ref["x"] < 1).any() and (ref["u"] > 0).any(), "STP state did not move"

    select_device("cpp")
    sa = ei_network()
    handle = build(sa["net"], DURATION, target="cpp")
    assert handle.directory is not None and (handle.directory / "main").exists()
    got = _observe(sa)

    np.testing.assert_array_equal(got["syn_i"], ref["syn_i"])
    np.testing.assert_array_equal(got["syn_j"], ref["syn_j"])
    np.testing.assert_array_equal(got["i"], ref["i"])
    np.testing.assert_array_equal(got["step"], ref["step"])
    for var in ("w", "u", "x"):
        np.testing.assert_allclose(got[var], ref[var], rtol=RTOL, atol=0, err_msg=var)


# --------------------------------------------------------------------------------------
# Build cache, slots, run_args
# --------------------------------------------------------------------------------------


def tiny_network(tau=10 * ms):
    """8 leaky integrators driven by a TimedArray times a per-neuron gain."""
    stim = TimedArray(np.linspace(0.0, 3.0, 20), dt=10 * ms, name="tiny_stim")
    group = NeuronGroup(
        8, "dv/dt = (gain * tiny_stim(t) - v) / tau : 1\ngain : 1",
        threshold="v > 1", reset="v = 0", method="exact",
        namespace={"tau": tau, "tiny_stim": stim}, name="tiny",
    )
    group.gain = np.linspace(0.8, 1.6, 8)
    spikes = SpikeMonitor(group, name="tiny_spikes")
    return Network(group, spikes, name="tiny_net"), group, stim, spikes


def _spikes(monitor):
    return (np.asarray(monitor.i[:], dtype=np.int64),
            np.round(np.asarray(monitor.t[:] / DT)).astype(np.int64))


def test_build_cache_slots_and_run_args(build_cache):
    # Cold build into an empty cache.
    select_device("cpp")
    net, group, stim, spikes = tiny_network()
    first = build(net, DURATION)
    assert first.directory.parent == build_cache
    assert first.directory.name == f"cpp-{first.code_hash[:16]}-0"
    assert "main.cpp" in first.files_copied and first.seeded_from is None
    cold = first.compile_seconds
    baseline = _spikes(spikes)
    assert len(baseline[0]) > 0
    binary = first.directory / "main"
    binary_mtime = binary.stat().st_mtime_ns

    # Re-running with run_args changes the results without recompiling; the run_args
    # arrays land in static_arrays/init_* and are removed by the next run.
    first.run(run_args={group.gain: np.full(8, 2.5), stim: np.linspace(0.0, 1.0, 20)})
    changed = _spikes(spikes)
    assert len(changed[0]) != len(baseline[0]) or not np.array_equal(changed[1], baseline[1])
    assert list((first.directory / "static_arrays").glob("init_*"))
    first.run()
    np.testing.assert_array_equal(_spikes(spikes)[1], baseline[1])
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
    np.testing.assert_array_equal(_spikes(spikes)[1], baseline[1])

    # A second handle held at the same time for the same code gets its own slot.
    select_device("cpp")
    net2, group2, stim2, spikes2 = tiny_network()
    concurrent = build(net2, DURATION)
    assert concurrent.code_hash == again.code_hash
    assert concurrent.directory == build_cache / f"cpp-{again.code_hash[:16]}-1"
    assert concurrent.seeded_from is None  # the only compiled slot is in use
    np.testing.assert_array_equal(_spikes(spikes2)[1], baseline[1])
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
    slower = _spikes(spikes3)  # tau 12 ms: a different simulation from the new binary
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


def test_runtime_run_args_follow_standalone_semantics():
    """Every run starts from the initial state; run_args apply to that run only."""
    args = lambda g, s: {g.gain: np.full(8, 2.5), s: np.linspace(0.0, 1.0, 20)}  # noqa: E731
    results = {}
    for target in ("runtime", "cpp"):
        select_device(target)
        net, group, stim, spikes = tiny_network()
        handle = build(net, DURATION)
        plain = _spikes(spikes)
        handle.run(run_args=args(group, stim))
        with_args = _spikes(spikes)
        handle.run()
        np.testing.assert_array_equal(_spikes(spikes)[0], plain[0])
        np.testing.assert_array_equal(_spikes(spikes)[1], plain[1])
        results[target] = (plain, with_args)
    for k in range(2):
        for m in range(2):
            np.testing.assert_array_equal(results["runtime"][k][m], results["cpp"][k][m])


def test_select_device_sets_prefs_and_can_be_called_repeatedly(tmp_path):
    sel = select_device("runtime", runtime_codegen="numpy")
    assert sel.target == "runtime" and prefs.codegen.target == "numpy"
    assert type(get_device()).__name__ == "RuntimeDevice"
    sel = select_device("cpp", cache_dir=tmp_path)
    assert type(get_device()).__name__ == "CPPStandaloneDevice"
    assert get_device().build_on_run is False
    assert prefs.devices.cpp_standalone.openmp_threads == 0
    assert sel.cache_root == tmp_path.resolve()
    assert devices.current_selection() is sel
    sel2 = select_device("cpp", cache_dir=tmp_path)
    assert sel2.generation > sel.generation
    select_device("runtime")
    assert type(get_device()).__name__ == "RuntimeDevice"


def test_cache_root_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("SNN_BUILD_CACHE", str(tmp_path / "env"))
    assert devices.resolve_cache_root() == (tmp_path / "env").resolve()
    assert devices.resolve_cache_root(tmp_path / "arg") == (tmp_path / "arg").resolve()
    monkeypatch.delenv("SNN_BUILD_CACHE")
    assert devices.resolve_cache_root() == (
        Path("~").expanduser().resolve() / ".cache" / "snn-brain-learning" / "brian-builds"
    )


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
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent,
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


# --------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------


def test_unknown_target_lists_the_allowed_ones():
    with pytest.raises(ValueError, match="runtime, cpp, cuda"):
        select_device("gpu")
    with pytest.raises(ValueError, match="numpy, cython"):
        select_device("runtime", runtime_codegen="fortran")
    select_device("runtime")
    net, *_ = tiny_network()
    with pytest.raises(ValueError, match="Unknown target"):
        build(net, DURATION, target="openmp")
    with pytest.raises(ValueError, match="selected target is 'runtime'"):
        build(net, DURATION, target="cpp")


@pytest.mark.parametrize("target", ["runtime", "cpp"])
def test_non_unique_names_are_refused(target, tmp_path):
    select_device(target, cache_dir=tmp_path)
    a = NeuronGroup(2, "v : 1", name="twin")
    b = NeuronGroup(3, "v : 1", name="twin")
    with pytest.raises(ValueError, match="'twin'"):
        build(Network(a, b, name="twins"), DURATION)
    assert not (tmp_path / ".staging").exists() or not list((tmp_path / ".staging").iterdir())


def test_second_standalone_build_needs_a_new_selection():
    select_device("cpp")
    net, *_ = tiny_network()
    first = build(net, DURATION, compile_only=True)  # warm: compiled by earlier tests
    other = Network(NeuronGroup(1, "v : 1", name="other"), name="other_net")
    with pytest.raises(RuntimeError, match="select_device"):
        build(other, DURATION)
    first.close()


def test_only_explicit_networks():
    select_device("runtime")
    _, group, _, _ = tiny_network()
    with pytest.raises(TypeError, match="explicit brian2.Network"):
        build([group], DURATION)


def test_cuda_without_brian2cuda_names_the_extra(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "brian2cuda" or name.startswith("brian2cuda."):
            raise ImportError("No module named 'brian2cuda'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"pip install -e '\.\[cuda\]'"):
        select_device("cuda")


# --------------------------------------------------------------------------------------
# CUDA: code generation and nvcc compilation without a GPU
# --------------------------------------------------------------------------------------


def _brian2cuda_importable() -> bool:
    try:
        import brian2cuda  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.cuda_compile
@pytest.mark.cuda_compile_all  # 8 min of nvcc: outside make test's budget
def test_cuda_standalone_compiles_without_gpu(tmp_path, monkeypatch):
    if shutil.which("nvcc") is None:
        pytest.skip("nvcc is not on PATH: CUDA compilation cannot be tested here")
    if not _brian2cuda_importable():
        pytest.skip("brian2cuda is not importable: install the 'cuda' extra "
                    "(pip install -e '.[cuda]')")
    if devices.gpu_available():
        # exercise the no-GPU path (patched where select_device looks it up)
        monkeypatch.setattr(devices.cuda, "gpu_available", lambda: False)
    monkeypatch.delenv("SNN_CUDA_COMPUTE_CAPABILITY", raising=False)

    sel = select_device("cuda")  # the session's build cache (see conftest.py)
    assert sel.gpu is False and sel.compute_capability == 9.0
    assert prefs.devices.cuda_standalone.cuda_backend.detect_gpus is False
    assert "-std=c++17" in prefs.devices.cuda_standalone.cuda_backend.extra_compile_args_nvcc
    assert "-std=c++17" in prefs.codegen.cpp.extra_compile_args_gcc
    assert os.path.exists(os.path.join(sel.cuda_path, "bin", "nvcc"))

    parts = ei_network()
    with pytest.raises(RuntimeError, match="compile_only=True"):
        build(parts["net"], DURATION)
    start = time.perf_counter()
    handle = build(parts["net"], DURATION, compile_only=True)
    elapsed = time.perf_counter() - start
    print(f"\nCUDA standalone: generate {handle.timings.codegen:.1f} s, "
          f"nvcc compile {handle.compile_seconds:.1f} s, total {elapsed:.1f} s "
          f"({len(handle.files_copied)} code files new or changed, seeded from "
          f"{handle.seeded_from})")
    assert handle.directory.name.startswith("cuda-")
    assert (handle.directory / "main").exists()
    makefile = (handle.directory / "makefile").read_text()
    assert "-arch=sm_90" in makefile and "-std=c++17" in makefile
    with pytest.raises(RuntimeError, match="No GPU"):
        handle.run()
    handle.close()

    # Selecting the C++ target afterwards gives back the C++ preferences.
    select_device("cpp", cache_dir=tmp_path)
    assert "-std=c++17" not in prefs.codegen.cpp.extra_compile_args_gcc
    assert not any("nvidia" in d for d in prefs.codegen.cpp.include_dirs)


def test_cuda_compute_capability_from_environment(tmp_path, monkeypatch):
    if not _brian2cuda_importable() or devices.find_cuda_path() is None:
        pytest.skip("brian2cuda or a CUDA toolkit is missing")
    monkeypatch.setattr(devices.cuda, "gpu_available", lambda: False)
    monkeypatch.setenv("SNN_CUDA_COMPUTE_CAPABILITY", "8.0")
    assert select_device("cuda", cache_dir=tmp_path).compute_capability == 8.0
    assert prefs.devices.cuda_standalone.cuda_backend.compute_capability == 8.0
    sel = select_device("cuda", cache_dir=tmp_path, compute_capability=7.5)
    assert sel.compute_capability == 7.5


# --------------------------------------------------------------------------------------
# Event queues that hold source neurons (C++ standalone)
# --------------------------------------------------------------------------------------


def queue_network(source_queues: bool, delay=None):
    """Integrate-and-fire sources (a subgroup drives an all-to-all projection, the whole
    group a random sparse one and a custom-event pathway) onto accumulating targets."""
    from brian2 import Subgroup, Synapses

    src = NeuronGroup(20, "dv/dt = (I - v) / (10*ms) : 1\nI : 1", threshold="v > 1",
                      reset="v = 0", events={"half": "v > 0.5 and v < 0.52"},
                      method="exact", name="q_src")
    src.I = np.linspace(1.05, 3.0, 20)
    tgt = NeuronGroup(15, "v : 1\nn_half : 1", name="q_tgt")
    rng = np.random.default_rng(4)
    dense = Synapses(Subgroup(src, 5, 20, name="q_sub"), tgt, "w : 1", on_pre="v_post += w",
                     delay=delay, name="q_dense")
    dense.connect()
    dense.w = rng.normal(size=15 * 15)
    sparse = Synapses(src, tgt, "w : 1", on_pre={"pre": "v_post += 2 * w",
                                                 "half": "n_half_post += w"},
                      on_event={"pre": "spike", "half": "half"}, name="q_sparse")
    sparse.connect(i=rng.integers(0, 20, 60), j=rng.integers(0, 15, 60))  # with repeats
    sparse.w = rng.uniform(0, 1, 60)
    applied = devices.use_source_queues(dense, sparse)
    assert applied == source_queues
    return Network(src, tgt, dense, sparse, name="q_net"), tgt


def test_source_queues_give_identical_results_in_cpp_standalone():
    select_device("runtime")
    net, tgt = queue_network(source_queues=False)
    build(net, 200 * ms)
    ref = np.array(tgt.v[:]), np.array(tgt.n_half[:])
    assert np.abs(ref[0]).max() > 1 and ref[1].max() > 0, "the network must be active"

    select_device("cpp")
    net, tgt = queue_network(source_queues=True)
    handle = build(net, 200 * ms)
    code = (handle.directory / "code_objects" / "q_dense_pre_codeobject.cpp").read_text()
    assert "_event_sources" in code, "the source-queue template was not used"
    np.testing.assert_allclose(tgt.v[:], ref[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tgt.n_half[:], ref[1], rtol=1e-12, atol=1e-12)


def test_source_queues_refuse_delays(capfd):
    select_device("cpp")
    net, _ = queue_network(source_queues=True, delay=2 * ms)
    with pytest.raises(RuntimeError, match="run failed"):
        build(net, 20 * ms)
    assert "q_dense_pre: this pathway's event queue needs zero delays" in capfd.readouterr().err
