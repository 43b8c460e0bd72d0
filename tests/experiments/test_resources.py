"""experiments.resources: a network too big for the memory and a build cache that
cannot be written are refused before a run folder exists."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest

from experiments import resources
from models.devices import BuildCacheError
from models.network import memory_estimate


def protocol(state=0, inputs=0, device="runtime", chunk="--chunk-size"):
    need = memory_estimate(synapses=[(state // 20, 0, 1)] if state else (), inputs=inputs // 8)
    return SimpleNamespace(cfg=SimpleNamespace(device=device), CHUNK_OPTION=chunk,
                           memory_estimate=lambda: need)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/meminfo is Linux's")
def test_available_memory_is_read_from_the_kernel():
    assert resources.available_memory() > 2**20


@pytest.mark.parametrize("available", [None, 10**12])
def test_a_network_that_fits_passes(available, monkeypatch):
    monkeypatch.setattr(resources, "available_memory", lambda: available)
    resources.check_memory(protocol(state=10**9))
    resources.check_memory(SimpleNamespace())  # no estimate: nothing to check


@pytest.mark.parametrize("state, inputs, option", [(4 * 10**9, 0, "--hidden"),
                                                   (20, 4 * 10**9, "--chunk-size")])
def test_a_network_too_big_names_what_to_make_smaller(state, inputs, option, monkeypatch):
    monkeypatch.setattr(resources, "available_memory", lambda: 2**30)
    with pytest.raises(resources.TooBigError) as info:
        resources.check_memory(protocol(state, inputs))
    message = str(info.value)
    assert message.startswith("the network of this configuration needs about 3.7 GiB")
    assert "but only 1.0 GiB of memory are available" in message
    assert f"choose a smaller {option}" in message


def test_the_build_cache_is_checked_for_standalone_devices_only(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cache.write_text("a file")
    monkeypatch.setenv("SNN_BUILD_CACHE", str(cache))
    resources.check_resources(protocol(device="runtime"))
    with pytest.raises(BuildCacheError, match="SNN_BUILD_CACHE"):
        resources.check_resources(protocol(device="cpp"))
