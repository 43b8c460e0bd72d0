"""models.devices.compiled: build() on the runtime and C++ standalone targets, run_args,
the networks a build refuses.

The C++ tests compile (about 7-25 s per cold build on two cores, well under a second
when the cache is warm).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from brian2 import Network, NeuronGroup

from models.devices import build, select_device
from tests.models.devices.networks import DURATION, DT, ei_network, spike_steps, tiny_network

RTOL = 1e-9


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


def test_runtime_run_args_follow_standalone_semantics():
    """Every run starts from the initial state; run_args apply to that run only."""
    args = lambda g, s: {g.gain: np.full(8, 2.5), s: np.linspace(0.0, 1.0, 20)}  # noqa: E731
    results = {}
    for target in ("runtime", "cpp"):
        select_device(target)
        net, group, stim, spikes = tiny_network()
        handle = build(net, DURATION)
        plain = spike_steps(spikes)
        handle.run(run_args=args(group, stim))
        with_args = spike_steps(spikes)
        handle.run()
        np.testing.assert_array_equal(spike_steps(spikes)[0], plain[0])
        np.testing.assert_array_equal(spike_steps(spikes)[1], plain[1])
        results[target] = (plain, with_args)
    for k in range(2):
        for m in range(2):
            np.testing.assert_array_equal(results["runtime"][k][m], results["cpp"][k][m])


# --------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------


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


def test_build_says_whether_it_compiles_or_uses_the_cache(build_cache, monkeypatch, capsys):
    """One line on stderr before a cold compile (with the expected time: estimated from
    the code, later the network's last compile time) and one on a cache hit; off on
    request. ``make`` is replaced by writing the binary: the lines are what is tested."""
    from brian2.devices.cpp_standalone.device import CPPStandaloneDevice

    from models.devices import compiled, show_build_messages

    def fake_make(self, directory, *args):
        (Path(directory) / "main").write_text("")

    monkeypatch.setattr(CPPStandaloneDevice, "compile_source", fake_make)

    def build_tiny():
        select_device("cpp")
        net, *_ = tiny_network()
        return build(net, DURATION, compile_only=True)

    handle = build_tiny()
    handle.close()
    err = capsys.readouterr().err
    assert re.fullmatch(r"compiling tiny_net \(first build; about \d+ s\)\n", err), err
    record = build_cache / ".compile-seconds" / "cpp-tiny_net"
    assert float(record.read_text()) >= 0
    handle = build_tiny()
    handle.close()
    assert capsys.readouterr().err == (f"using the compiled tiny_net from the build cache "
                                       f"{handle.directory}\n")
    # A cold compile of the same network expects its last compile time.
    record.write_text("42.0\n")
    assert compiled.expected_compile_seconds(build_cache, "cpp", "tiny_net",
                                             handle.directory) == 42.0
    (handle.directory / "main").unlink()
    build_tiny().close()
    assert capsys.readouterr().err == "compiling tiny_net (first build; about 42 s)\n"
    previous = show_build_messages(False)
    try:
        build_tiny().close()
        assert capsys.readouterr().err == ""
    finally:
        show_build_messages(previous)
