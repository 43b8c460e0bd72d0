"""models.devices.selection: select_device() and its preferences, the targets it knows."""

from __future__ import annotations

import pytest
from brian2 import get_device, prefs

from models import devices
from models.devices import build, select_device
from tests.models.devices.networks import DURATION, tiny_network


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
