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
