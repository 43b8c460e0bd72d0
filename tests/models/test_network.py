"""models.network: the memory a network's arrays need, counted from its sizes (each
network's ``memory_estimate`` is checked against a real build in its own test file)."""

from __future__ import annotations

import pytest

from models.network import format_bytes, memory_estimate, n_variables


def test_memory_estimate_counts_every_kind_of_array():
    need = memory_estimate(neurons=[(10, 2)], synapses=[(100, 3, 2)], inputs=5,
                           events=[(7, 1)])
    # neurons: 2 float64 variables, an int32 index and three event spaces each;
    # synapses: 3 float64 variables, 2 int32 indices, per pathway a delay and a queue slot
    assert need.state == 10 * (2 * 8 + 4 * 4) + 100 * (3 * 8 + 2 * 4 + 2 * (8 + 4))
    assert need.inputs == 5 * 8
    assert need.recordings == 7 * (8 + 8 + 4)
    assert need.total == need.state + need.inputs + need.recordings
    assert (need.synapses, need.neurons) == (100, 10)


def test_memory_estimate_scales_with_the_synapses():
    small, big = (memory_estimate(synapses=[(n, 4, 3)]) for n in (10**3, 10**9))
    assert big.total == 10**6 * small.total
    # 4 variables, 2 indices, 3 pathways: 76 bytes a synapse
    assert big.describe() == "about 70.8 GiB (1,000,000,000 synapses, 0 neurons)"


def test_n_variables_leaves_out_shared_ones():
    assert n_variables("v : 1\nw : volt\nlr : 1 (shared)\ndx/dt = -x / (10*ms) : 1") == 3


@pytest.mark.parametrize("n, text", [(512, "0.5 KiB"), (3 * 2**20, "3.0 MiB"),
                                     (2.5 * 2**30, "2.5 GiB")])
def test_format_bytes(n, text):
    assert format_bytes(n) == text
