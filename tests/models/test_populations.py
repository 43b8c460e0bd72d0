"""Populations (models.populations): excitatory counts and Dale's law.

Each test would fail if the model it covers were wrong: wrong count, wrong sign.
"""

import numpy as np
import pytest
from brian2 import Network, mV, ms

from models.populations import (
    connect_dale, ei_population, install_dale_projection, layer, n_excitatory,
)


pytestmark = pytest.mark.usefixtures("runtime_numpy")


# --- populations and Dale's law --------------------------------------------

@pytest.mark.parametrize("N,frac,n_exc", [(100, 0.8, 80), (7, 0.8, 6), (10, 0.0, 0),
                                          (10, 1.0, 10), (250, 0.8, 200)])
def test_excitatory_count(N, frac, n_exc):
    assert n_excitatory(N, frac) == n_exc


def test_dale_law_after_initialisation_and_projection():
    pop = ei_population("lif_current", 50, 0.8, "ei")
    assert (pop.n_exc, pop.n_inh) == (40, 10)
    syn = connect_dale(pop, pop.group, "rec", w_init="(rand() - 0.5) * mV")
    w = np.asarray(syn.w[:] / mV)
    pre = np.asarray(syn.i[:])
    assert np.all(w[pre < 40] >= 0) and np.all(w[pre >= 40] <= 0)
    assert np.any(w[pre < 40] > 0) and np.any(w[pre >= 40] < 0)
    assert len(w) == 50 * 49
    # projection: wrong signs become zero, right signs are untouched
    syn.w = "(rand() - 0.5) * mV"
    before = np.asarray(syn.w[:] / mV)
    install_dale_projection(syn, dt=1 * ms)
    Network(pop.group, syn).run(1 * ms)
    after = np.asarray(syn.w[:] / mV)
    sign = np.where(pre < 40, 1.0, -1.0)
    np.testing.assert_array_equal(after, np.where(sign * before >= 0, before, 0.0))


def test_dale_law_conductance_pair():
    pop = ei_population("lif_conductance", 20, 0.8, "ei")
    out = layer("lif_conductance", 5, "out")
    syn_e, syn_i = connect_dale(pop, out, "ff", target_var=("g_e", "g_i"), w_init="rand() - 0.5")
    assert np.all(np.asarray(syn_e.w[:]) >= 0) and np.all(np.asarray(syn_i.w[:]) >= 0)
    assert set(np.unique(syn_e.i[:])) == set(range(16))
    assert set(np.unique(syn_i.i[:])) == set(range(4))
