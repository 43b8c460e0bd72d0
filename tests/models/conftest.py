"""Fixtures of the model-library tests."""

import pytest
from brian2 import prefs, set_device, start_scope


@pytest.fixture
def runtime_numpy():
    """Brian2's runtime device with the numpy target and a fresh scope: the library's
    models are checked against closed forms without compiling anything."""
    set_device("runtime")
    prefs.codegen.target = "numpy"
    start_scope()
    yield
