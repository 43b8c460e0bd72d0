"""models.devices.codeobjects: event queues that hold source neurons (C++ standalone)."""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import Network, NeuronGroup, ms

from models import devices
from models.devices import build, select_device


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


# -- OpenMP builds that compute what one thread computes ------------------------------------


def reduction_network():
    """A backward sum into presynaptic cells (err_pre += w * d_post) and a weight update
    on the same synapses, a noisy neuron update, and a pathway into postsynaptic cells."""
    from brian2 import Synapses

    pre = NeuronGroup(30, "err : 1\nv : 1", threshold="v > 0.9", reset="v = 0",
                      name="r_pre")
    post = NeuronGroup(20, "d : 1\nu : 1", name="r_post")
    pre.run_regularly("v = rand()", dt=1 * ms, name="r_noise")
    post.run_regularly("d = 0.5 - 0.05 * i", dt=1 * ms, name="r_delta")
    syn = Synapses(pre, post, "w : 1", on_pre="u_post += w", name="r_syn")
    syn.connect()
    syn.w = np.random.default_rng(2).normal(size=30 * 20)
    syn.run_regularly("err_pre += w * d_post", dt=1 * ms, name="r_backward")
    syn.run_regularly("w += 0.001 * d_post", dt=1 * ms, name="r_update")
    return Network(pre, post, syn, name="r_net"), pre, post, syn


def test_needs_one_thread_names_races_and_random_numbers():
    from models.devices.codeobjects import needs_one_thread

    synaptic = {"err": "_presynaptic_idx", "w": "_idx", "d": "_postsynaptic_idx"}
    assert "err" in needs_one_thread({"run": "err_pre += w * d_post"}, {}, "stateupdate",
                                     {**synaptic, "err_pre": "_presynaptic_idx"})
    assert needs_one_thread({"run": "w += 0.1 * d_post\nx = w"}, {}, "stateupdate",
                            {**synaptic, "x": "_idx"}) is None
    assert "random" in needs_one_thread("v = rand()", {"rand": object()}, "stateupdate",
                                        {"v": "_idx"})
    assert needs_one_thread("x == 1", {}, "stateupdate", {"x": "_postsynaptic_idx"}) is None
    assert needs_one_thread("v += 1", {}, "stateupdate", {"v": "_sub_idx"}) is None
    # The event push fills one queue per thread; it has no arithmetic to race.
    assert needs_one_thread("", {"rand": object()}, "synapses_push_spikes", {}) is None


def test_openmp_build_keeps_order_dependent_code_on_one_thread(tmp_path):
    """Code generation only: the backward sum and the random draws lose their pragmas,
    the per-synapse update keeps its own, and source queues are not used."""
    from brian2 import get_device

    select_device("cpp", openmp_threads=2)
    net, pre, post, syn = reduction_network()
    assert devices.use_source_queues(syn) is False  # one queue per thread with OpenMP
    from brian2.utils.logger import catch_logs

    net.run(5 * ms)
    with catch_logs() as logs:
        get_device().build(directory=str(tmp_path / "omp"), compile=False, run=False)
    assert not [entry for entry in logs if "OpenMP" in entry[2]], logs
    code = {path.stem.replace("_codeobject", ""): path.read_text()
            for path in (tmp_path / "omp" / "code_objects").glob("*.cpp")}
    assert "#pragma omp" not in code["r_backward"]
    assert "#pragma omp" not in code["r_noise"]
    assert "#pragma omp parallel for" in code["r_update"]
    assert "#pragma omp parallel for" in code["r_delta"]
    # The next selection without threads leaves Brian2's code objects alone.
    select_device("cpp")
    assert "code_object" not in vars(get_device())


@pytest.mark.slow
def test_openmp_build_equals_one_thread_bit_for_bit():
    results = {}
    for threads in (0, 2):
        select_device("cpp", openmp_threads=threads)
        net, pre, post, syn = reduction_network()
        from brian2 import seed
        seed(3)
        build(net, 50 * ms)
        results[threads] = [np.array(a[:]) for a in (pre.err, post.u, syn.w)]
    assert np.abs(results[0][0]).max() > 0
    for one, two in zip(results[0], results[2]):
        assert np.array_equal(one, two)
