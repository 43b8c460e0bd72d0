"""Parameter validation (models.parameters) of the neuron and synapse models:
a wrong value stops with a ValueError that names it; every default validates.
"""

import pytest
from brian2 import Network, mV, ms, start_scope

from models.neurons import NEURON_MODELS
from models.populations import ei_population, layer
from models.synapses import SYNAPSE_PARTS, synapse_parameters


pytestmark = pytest.mark.usefixtures("runtime_numpy")


# --- bad input --------------------------------------------------------------

@pytest.mark.parametrize("call,match", [
    (lambda: ei_population("lif_current", 10, 1.3, "x"), r"e_fraction must lie in \[0, 1\]"),
    (lambda: ei_population("lif_current", 10, -0.1, "x"), "e_fraction"),
    (lambda: layer("lif_current", 3, "x", dict(tau_m=-5 * ms)), "tau_m must be > 0"),
    (lambda: layer("lif_current", 3, "x", dict(tau_syn=0 * ms)), "tau_syn must be > 0"),
    (lambda: layer("lif_current", 3, "x", dict(v_th=-70 * mV)), "v_th must be above v_rest"),
    (lambda: layer("lif_learnable", 3, "x", dict(v_th_init=-80 * mV)), "v_th_init"),
    (lambda: layer("lif_conductance", 3, "x", dict(tau_e=-1 * ms)), "tau_e"),
    (lambda: layer("if_clocked", 3, "x", dict(decay=1.5)), r"decay must lie in \[0.0, 1.0\]"),
    (lambda: layer("if_clocked", 3, "x", dict(v_th=-1.0)), "v_th must be > 0"),
    (lambda: layer("lif_current", 3, "x", dict(tau_m=5 * mV)), "unit"),
    (lambda: layer("lif_current", 3, "x", dict(tau=5 * ms)), "unknown parameter 'tau'"),
    (lambda: layer("lif_curent", 3, "x"), "unknown neuron model 'lif_curent'"),
    (lambda: layer("lif_current", 0, "x"), "N must be a positive integer"),
    (lambda: synapse_parameters("stp_depressing", dict(U=0.0)), r"U must lie in \(0.0, 1.0\]"),
    (lambda: synapse_parameters("stp_facilitating", dict(U=1.5)), "U must lie"),
    (lambda: synapse_parameters("stp_depressing", dict(tau_d=-1 * ms)), "tau_d must be > 0"),
    (lambda: synapse_parameters("stdp_additive", dict(w_min=1.0, w_max=0.5)), "w_max must be above w_min"),
    (lambda: synapse_parameters("stdp", {}), "unknown synapse model 'stdp'"),
    (lambda: synapse_parameters(["stp_depressing", "stp_facilitating"], {}), None),
])
def test_invalid_parameters_raise_value_error(call, match):
    if match is None:  # two STP parts are refused when code is combined
        from models.synapses import combine
        with pytest.raises(ValueError, match="at most one short-term plasticity part"):
            combine(["stp_depressing", "stp_facilitating"], "v", None)
        return
    with pytest.raises(ValueError, match=match):
        call()


def test_every_model_builds_and_defaults_validate():
    for name in NEURON_MODELS:
        start_scope()
        g = layer(name, 2, f"g_{name}")
        Network(g).run(1 * ms)
    for name in SYNAPSE_PARTS:
        synapse_parameters(name)
