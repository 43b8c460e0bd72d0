"""What a run needs from the machine, checked before its folder is made or anything is
allocated or compiled: a build cache it can write to (standalone devices), and memory
for its network.

:func:`check_resources` is called by :func:`experiments.protocol.train`. The memory a
network needs is its protocol's ``memory_estimate()`` (the network's arrays counted from
its sizes, :func:`models.network.memory_estimate`); a network that needs more than
:data:`MEMORY_FRACTION` of the memory the kernel reports as available
(``MemAvailable`` of ``/proc/meminfo``) is refused with its size, since it would end in
a ``MemoryError`` or the kernel's OOM killer part-way through building it. The rest is
headroom for Python's copies of the learned state and for the compiler.
"""

from __future__ import annotations

from models.network import format_bytes

__all__ = ["TooBigError", "MEMORY_FRACTION", "available_memory", "check_memory",
           "check_resources"]

#: Share of the available memory one run may plan to fill with its network's arrays.
MEMORY_FRACTION = 0.8


class TooBigError(ValueError):
    """The network of a configuration needs more memory than the machine has; the
    command line reports it with exit status 2."""


def available_memory() -> int | None:
    """Bytes of memory available for a new process (``MemAvailable`` of
    ``/proc/meminfo``), or ``None`` where the kernel does not say (not Linux)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_memory(protocol) -> None:
    """Raise :class:`TooBigError` when the network of ``protocol`` (its
    ``memory_estimate()``) needs more than :data:`MEMORY_FRACTION` of the available
    memory. Protocols without an estimate, and machines that do not report their
    memory, pass."""
    estimate = getattr(protocol, "memory_estimate", None)
    available = available_memory()
    if estimate is None or available is None:
        return
    need = estimate()
    if need.total <= MEMORY_FRACTION * available:
        return
    chunk = getattr(protocol, "CHUNK_OPTION", None)
    smaller = ("--hidden" if need.state >= need.inputs + need.recordings or chunk is None
               else f"{chunk} (the inputs of one compiled run are the most of it)")
    raise TooBigError(
        f"the network of this configuration needs {need.describe()} but only "
        f"{format_bytes(available)} of memory are available (a run plans with "
        f"{MEMORY_FRACTION:.0%} of it); choose a smaller {smaller}, or run it on a machine "
        "with more memory.")


def check_resources(protocol) -> None:
    """The build cache (for a standalone device) and the memory of ``protocol``'s
    network, before its run folder is made; raises
    :class:`models.devices.BuildCacheError` or :class:`TooBigError`."""
    if protocol.cfg.device != "runtime":
        from models.devices import check_cache_root

        check_cache_root()
    check_memory(protocol)
