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


@pytest.fixture
def array_bytes():
    """``array_bytes(network)``: the bytes of every Brian2 array of a runtime-built
    ``network`` (state variables, indices, delays, event spaces of every object and of
    the objects they contain, and the values of the TimedArrays in their namespaces),
    each array counted once: what a network's ``memory_estimate`` is checked against."""
    from brian2 import TimedArray
    from brian2.core.variables import ArrayVariable

    def walk(obj):
        yield obj
        for child in obj.contained_objects:
            yield from walk(child)

    def count(network) -> int:
        seen, total = set(), 0
        for obj in (o for top in network.objects for o in walk(top)):
            if getattr(obj, "_network", "") is None:
                obj._network = network.id  # built to be counted, not run: no warning
            arrays = [var.get_value() for var in (getattr(obj, "variables", None) or {}).values()
                      if isinstance(var, ArrayVariable)]
            arrays += [value.values for value in (getattr(obj, "namespace", None) or {}).values()
                       if isinstance(value, TimedArray)]
            for array in arrays:
                base = array.base if array.base is not None else array
                if id(base) not in seen:  # a reference (v_post, a subgroup) is one array
                    seen.add(id(base))
                    total += array.nbytes
        return total

    return count
