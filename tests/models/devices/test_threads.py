"""models.devices.threads: OpenMP builds whose order-dependent code runs on one thread."""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import Network, NeuronGroup, ms

from models import devices
from models.devices import build, select_device


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
    from models.devices.threads import needs_one_thread

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
