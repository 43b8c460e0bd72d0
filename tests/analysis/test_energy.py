"""analysis.energy: synaptic operations, dense-ANN MACs and their ratio, by hand."""

import numpy as np
import pytest
import quantities as pq

from analysis.energy import ann_macs, energy_ratio, synaptic_operations


def test_synaptic_operations_from_layer_totals():
    # network 4-3-2: input spikes reach 3 synapses each, hidden spikes 2, output none
    counts = np.array([[10, 4, 1],
                       [0, 2, 5]])
    sops = synaptic_operations(counts, [3, 2, 0])
    np.testing.assert_array_equal(sops, [[30, 8, 0], [0, 4, 0]])
    assert sops.sum(axis=1).tolist() == [38.0, 4.0]


def test_synaptic_operations_from_per_neuron_counts_and_sparse_fan_out():
    input_counts = np.array([[1, 0, 2], [0, 0, 1]])  # (n_samples, 3 neurons)
    hidden_counts = np.array([[3, 1], [1, 1]])  # (n_samples, 2 neurons)
    sops = synaptic_operations([input_counts, hidden_counts], [[2, 5, 1], 4])
    # sample 0: 1*2 + 0*5 + 2*1 = 4 and (3 + 1) * 4 = 16; sample 1: 1 and 8
    np.testing.assert_array_equal(sops, [[4, 16], [1, 8]])


def test_ann_macs_and_ratio():
    assert ann_macs([784, 100, 10]) == 784 * 100 + 100 * 10 == 79_400
    assert ann_macs((4, 3, 2)) == 18
    sops = np.array([[30, 8, 0], [0, 4, 0]], dtype=float)
    np.testing.assert_allclose(energy_ratio(sops, 18), [38 / 18, 4 / 18])
    assert energy_ratio(9.0, 18) == 0.5
    # with energies per operation (e.g. 0.9 pJ per accumulate, 4.6 pJ per MAC)
    assert energy_ratio(9.0, 18, 0.9, 4.6) == pytest.approx(0.5 * 0.9 / 4.6)
    assert energy_ratio(9.0, 18, 0.9e-12 * pq.J, 4.6e-5 * pq.erg) == pytest.approx(0.5 * 0.9 / 4.6)


def test_bad_input_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="one number per layer"):
        synaptic_operations(np.ones((2, 3)), [1, 2])
    with pytest.raises(ValueError, match=">= 0"):
        synaptic_operations(np.array([[-1, 0]]), [1, 1])
    with pytest.raises(ValueError, match="one entry per layer"):
        synaptic_operations([np.ones((2, 3))], [1, 2])
    with pytest.raises(ValueError, match="one per neuron"):
        synaptic_operations([np.ones((2, 3))], [[1, 2]])
    with pytest.raises(ValueError, match="no layers"):
        synaptic_operations([], [])
    with pytest.raises(ValueError, match="at least 2 layers"):
        ann_macs([10])
    with pytest.raises(ValueError, match=">= 1"):
        ann_macs([10, 0])
    with pytest.raises(ValueError, match="macs must be positive"):
        energy_ratio(1.0, 0)
    with pytest.raises(ValueError, match="both"):
        energy_ratio(1.0, 10, energy_per_sop=0.9)
    with pytest.raises(ValueError, match="same dimension"):
        energy_ratio(1.0, 10, 0.9e-12 * pq.J, 4.6 * pq.s)
