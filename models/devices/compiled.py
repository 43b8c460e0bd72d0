"""Building a network for the selected target, :func:`build`, and the handle that
re-runs it with new ``run_args``, :class:`CompiledNetwork` (see :mod:`models.devices`)."""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
import weakref
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from brian2 import Network, TimedArray, get_device, second
from brian2.codegen.cpp_prefs import get_compiler_and_args
from brian2.core.variables import VariableView
from brian2.devices.device import all_devices
from brian2.units.fundamentalunits import fail_for_dimension_mismatch
from brian2.utils.logger import get_logger

from .cache import (
    _BUILDING_FILE, _STRUCTURE_FILE, _claim_slot, _clear_run_files,
    _discard_interrupted_build, _hash_code, _invalidate_objects, _release_lock,
    _remove_orphaned_staging, _seed_from_donor, _structure_key, _sync_into_slot,
    _toolchain_fingerprint,
)
from .cuda import NoGPUError
from .selection import _BRIAN_DEVICE_NAME, TARGETS, DeviceSelection, _device_target, _state

# The package's name, as before the split: warnings keep the name users filter them by.
_logger = get_logger("models.devices")

#: Cache-root folder of the last compile time of each network, ``<target>-<network>``.
_COMPILE_TIMES = ".compile-seconds"
#: Bytes of generated code compiled per second, for the first estimate of a network
#: that has no compile time recorded yet (g++ -O3 on the test and paper networks, one
#: make job per core of a 2-core machine, gives this order).
_CODE_BYTES_PER_SECOND = 30e3
_messages = {"on": True}


def show_build_messages(on: bool) -> bool:
    """Whether :func:`build` writes a line to stderr before a cold compile
    ("compiling <network> (first build; about N s)") and on a cache hit ("using the
    compiled <network> from the build cache <dir>"); on by default, for the command
    lines. Returns the previous setting (libraries and tests turn it off)."""
    previous, _messages["on"] = _messages["on"], bool(on)
    return previous


def _compile_time_file(root: Path, target: str, network: str) -> Path:
    return root / _COMPILE_TIMES / f"{target}-{re.sub(r'[^A-Za-z0-9_.-]', '_', network)}"


def expected_compile_seconds(root: Path, target: str, network: str, slot: Path) -> float:
    """The last recorded compile time of ``network`` for ``target`` under the cache
    ``root``, else an estimate from the size of the generated code in ``slot``."""
    try:
        return float(_compile_time_file(root, target, network).read_text())
    except (OSError, ValueError):
        pass
    size = sum(path.stat().st_size for path in (slot / "code_objects").glob("*")
               if path.suffix in (".cpp", ".cu"))
    return size / _CODE_BYTES_PER_SECOND


def _record_compile_seconds(root: Path, target: str, network: str, seconds: float) -> None:
    path = _compile_time_file(root, target, network)
    try:
        path.parent.mkdir(exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_text(f"{seconds:.1f}\n")
        os.replace(partial, path)  # readers see the old or the new time, never half
    except OSError:
        pass  # only an estimate is lost


def _say(text: str) -> None:
    if _messages["on"]:
        print(text, file=sys.stderr, flush=True)


#: Name under which runtime-mode handles store the initial network state.
_STORE_NAME = "_snn_devices_initial"
_HEADER = re.compile(r"\.(h|hh|hpp|cuh)$")


@dataclass
class BuildTimings:
    """Wall-clock seconds of the phases of a build and of the last run."""

    #: ``net.run`` bookkeeping plus code generation (standalone) / store (runtime).
    codegen: float = 0.0
    #: Hashing, claiming a slot and copying changed files (standalone).
    sync: float = 0.0
    #: ``make`` (standalone; near zero when nothing changed).
    compile: float = 0.0
    #: The last run: the binary through ``device.run`` (standalone) or ``net.run``.
    run: float | None = None
    #: Time the binary itself reported by Brian2 (``device.timers['run_binary']``).
    run_binary: float | None = None
    #: Number of runs so far.
    runs: int = 0
    history: list = field(default_factory=list)


def _all_objects(objects) -> set:
    out = set()
    for obj in objects:
        out.add(obj)
        out |= _all_objects(obj.contained_objects)
    return out


def _check_network(net) -> None:
    if not isinstance(net, Network):
        raise TypeError(
            "build() needs an explicit brian2.Network (the magic run() silently compiles "
            f"an empty network when objects are built in a function); got {type(net).__name__}"
        )
    names = [obj.name for obj in _all_objects(net.objects)]
    duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicates:
        raise ValueError(
            "All objects of the network need unique names; used more than once: "
            + ", ".join(repr(n) for n in duplicates)
        )


class CompiledNetwork:
    """A built network that can be run, and re-run with new ``run_args``.

    Made by :func:`build`. Standalone targets: a compiled binary in a locked cache slot
    (:attr:`directory`); runtime target: the network itself, whose initial state is
    stored and restored before every run, so that every run starts from the same state
    as a standalone binary does.

    Attributes
    ----------
    network, duration, target
        What was built and for which target.
    directory : pathlib.Path or None
        The build directory (slot); ``None`` in runtime mode.
    code_hash : str or None
        SHA-256 of the generated code (standalone).
    slot : int or None
        ``k`` of the slot ``<target>-<hash16>-<k>``.
    files_copied : tuple of str
        Code files that differed from the slot's and were copied in (empty on a warm
        rebuild of unchanged code).
    seeded_from : pathlib.Path or None
        The compiled slot of the same structure that a new slot was seeded from.
    timings : BuildTimings
    """

    def __init__(self, network, duration, selection: DeviceSelection, run_kwargs: dict):
        self.network = network
        self.duration = duration
        self.target = selection.target
        self.selection = selection
        self.directory: Path | None = None
        self.code_hash: str | None = None
        self.slot: int | None = None
        self.files_copied: tuple = ()
        self.seeded_from: Path | None = None
        self.timings = BuildTimings()
        self._run_kwargs = dict(run_kwargs)
        self._device = get_device()
        self._generation = selection.generation
        self._lock_fd: int | None = None
        self._finalizer = None
        self._timed_array_originals: dict = {}

    # -- properties ----------------------------------------------------------------
    @property
    def compile_seconds(self) -> float:
        return self.timings.compile

    @property
    def run_seconds(self) -> float | None:
        return self.timings.run

    @property
    def closed(self) -> bool:
        return self.target != "runtime" and self._lock_fd is None

    def __repr__(self):
        where = f", directory='{self.directory}'" if self.directory else ""
        return f"<CompiledNetwork target={self.target!r}{where} runs={self.timings.runs}>"

    # -- lifecycle -------------------------------------------------------------------
    def _hold_lock(self, fd: int) -> None:
        self._lock_fd = fd
        self._finalizer = weakref.finalize(self, _release_lock, fd)

    def close(self) -> None:
        """Release the slot lock (standalone). The handle cannot run afterwards."""
        if self._finalizer is not None:
            self._finalizer()
            self._finalizer = None
        self._lock_fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- running ---------------------------------------------------------------------
    def _check_usable(self) -> None:
        if self.target == "runtime":
            if self._generation != _state["generation"]:
                raise RuntimeError(
                    "select_device() was called after this network was built; build it again."
                )
            return
        if self.closed:
            raise RuntimeError("This CompiledNetwork was closed; build it again.")
        if (
            self._generation != _state["generation"]
            or get_device() is not self._device
            or self._device.project_dir != str(self.directory)
        ):
            raise RuntimeError(
                "The device was re-selected or used for another build since this network "
                "was built, so its state is gone; build the network again."
            )

    def run(self, run_args=None) -> "CompiledNetwork":
        """Run the simulation (again), from the initial state, with ``run_args``.

        Parameters
        ----------
        run_args : mapping, optional
            ``{group.var: value, timed_array: values}`` as for Brian2's
            ``device.run(run_args=...)`` (standalone also accepts its list of
            ``'name=value'`` strings). Values apply to this run only.

        Returns
        -------
        self, so that ``handle.run(...).timings.run`` reads naturally.
        """
        self._check_usable()
        if self.target == "runtime":
            self._run_runtime(run_args)
        else:
            self._run_standalone(run_args)
        self.timings.runs += 1
        self.timings.history.append(self.timings.run)
        return self

    def _run_standalone(self, run_args) -> None:
        if self.target == "cuda" and not self.selection.gpu:
            raise NoGPUError(self.directory)
        _clear_run_files(self.directory)
        device = self._device
        device.timers["run_binary"] = None
        start = time.perf_counter()
        device.run(str(self.directory), with_output=self.selection.debug, run_args=run_args)
        self.timings.run = time.perf_counter() - start
        self.timings.run_binary = device.timers.get("run_binary")

    def _run_runtime(self, run_args) -> None:
        net = self.network
        net.restore(_STORE_NAME, restore_random_state=True)
        for ta, original in self._timed_array_originals.items():
            np.copyto(ta.values, original)
        if run_args:
            if not isinstance(run_args, Mapping):
                raise NotImplementedError(
                    "In runtime mode run_args must be a mapping {group.var: value, "
                    "timed_array: values}; the list-of-strings form is standalone only."
                )
            for key, value in run_args.items():
                if isinstance(key, VariableView):
                    fail_for_dimension_mismatch(key.dim, value)
                    key[:] = value
                elif isinstance(key, TimedArray):
                    self._set_timed_array(key, value)
                else:
                    raise TypeError(
                        "run_args keys must be VariableViews (e.g. group.v) or TimedArrays; "
                        f"got {type(key).__name__}"
                    )
        start = time.perf_counter()
        net.run(self.duration, **self._run_kwargs)
        self.timings.run = time.perf_counter() - start

    def _set_timed_array(self, ta: TimedArray, value) -> None:
        """Runtime mode: overwrite a TimedArray's values in place (its numpy and Cython
        implementations read ``ta.values``); restored before the next run."""
        fail_for_dimension_mismatch(ta.dim, value)
        arr = np.asarray(value, dtype=np.float64)
        if arr.size != 1 and arr.shape != ta.values.shape:
            raise TypeError(
                f"Incorrect size for '{ta.name}.values': shape {ta.values.shape} != {arr.shape}."
            )
        if not ta.values.flags.writeable:
            raise NotImplementedError(
                f"TimedArray '{ta.name}' has read-only values; run_args for it are not "
                "supported in runtime mode (build a new network instead)."
            )
        if ta not in self._timed_array_originals:
            self._timed_array_originals[ta] = ta.values.copy()
        ta.values[...] = arr


def build(
    net,
    duration,
    *,
    target: str | None = None,
    run_args=None,
    compile_only: bool = False,
    clean: bool = False,
    **run_kwargs,
) -> CompiledNetwork:
    """Build ``net`` for the selected target and (unless ``compile_only``) run it once.

    Parameters
    ----------
    net : brian2.Network
        An explicit network whose objects (and their contained objects) have unique
        names, created after :func:`select_device`.
    duration : Quantity
        Simulated time of every run (compiled in for standalone targets).
    target : str, optional
        Must equal the selected target if given (a guard against building for the wrong
        device); default: the target of the last :func:`select_device` call.
    run_args : mapping or list, optional
        ``run_args`` of the first run (see :meth:`CompiledNetwork.run`).
    compile_only : bool
        Generate and compile (standalone) or store the initial state (runtime), but do
        not run. Required for ``'cuda'`` on a machine without a GPU.
    clean : bool
        Standalone: ``make clean`` before compiling (after a failed or interrupted
        compile; normally never needed).
    **run_kwargs
        Passed to ``net.run`` (e.g. ``report``, ``namespace``, ``profile``).

    Returns
    -------
    CompiledNetwork
    """
    selection = _state["selection"]
    if selection is None:
        raise RuntimeError("Call select_device() before build().")
    if target is not None:
        if target not in TARGETS:
            raise ValueError(f"Unknown target {target!r}; allowed targets: {', '.join(TARGETS)}")
        if target != selection.target:
            raise ValueError(
                f"build(target={target!r}) but the selected target is {selection.target!r}; "
                f"call select_device({target!r}) before creating the network."
            )
    device = get_device()
    if device is not all_devices[_BRIAN_DEVICE_NAME[selection.target]]:
        raise RuntimeError(
            f"The active Brian2 device is {_device_target(device)!r}, not the selected "
            f"{selection.target!r}; call select_device() again."
        )
    _check_network(net)
    if selection.target != "runtime" and _state.get("built_generation") == selection.generation:
        raise RuntimeError(
            "A network was already built on this standalone device; call select_device() "
            "again (and create the next network after it) before building another one."
        )
    if selection.target != "runtime" and re.fullmatch(r"network_\d+", net.name):
        _logger.warn(
            f"The network is called {net.name!r}: Brian2 made its default name unique "
            "because another Network is alive, so the generated code (and the build-cache "
            "slot) differs from a fresh process. Name networks explicitly "
            "(Network(..., name='...')) to reuse cached builds.",
            name_suffix="auto_network_name",
        )
    fail_for_dimension_mismatch(duration, second, "duration must be a time")
    if selection.target == "cuda" and not compile_only and not selection.gpu:
        raise RuntimeError(
            "No GPU found (nvidia-smi missing or failing): a CUDA build can only be "
            "compiled here; pass compile_only=True."
        )

    handle = CompiledNetwork(net, duration, selection, run_kwargs)
    if selection.target == "runtime":
        start = time.perf_counter()
        net.store(_STORE_NAME)
        handle.timings.codegen = time.perf_counter() - start
    else:
        _state["built_generation"] = selection.generation
        _build_standalone(handle, device, selection, clean)
    if not compile_only:
        handle.run(run_args)
    return handle


def _build_standalone(
    handle: CompiledNetwork, device, selection: DeviceSelection, clean: bool
) -> None:
    root = selection.cache_root
    staging_parent = root / ".staging"
    staging_parent.mkdir(parents=True, exist_ok=True)

    _remove_orphaned_staging(staging_parent)

    start = time.perf_counter()
    handle.network.run(handle.duration, **handle._run_kwargs)
    # The process id in the name lets a later build tell an orphan from a live one.
    staging = Path(tempfile.mkdtemp(prefix=f"{selection.target}-{os.getpid()}-",
                                    dir=staging_parent))
    try:
        device.build(
            directory=str(staging),
            compile=False,
            run=False,
            debug=selection.debug,
            with_output=selection.debug,
        )
        handle.timings.codegen = time.perf_counter() - start
        start = time.perf_counter()
        fingerprint = _toolchain_fingerprint(selection.target)
        digest = _hash_code(staging, fingerprint)
        structure = _structure_key(staging, fingerprint)
        slot, k, fd = _claim_slot(root, selection.target, digest)
        handle._hold_lock(fd)
        try:
            # Not a donor while it changes. The marker stays until the compile is done:
            # the next build of a slot whose build was killed discards what it wrote.
            (slot / _STRUCTURE_FILE).unlink(missing_ok=True)
            _discard_interrupted_build(slot)
            (slot / _BUILDING_FILE).write_text(f"pid {os.getpid()}\n")
            donor = _seed_from_donor(root, selection.target, slot, structure)
            copied = _sync_into_slot(staging, slot)
            # Neither makefile tracks headers reliably (Brian2CUDA's has no header
            # dependencies; Brian2's .d files name "x.o" instead of "code_objects/x.o",
            # so objects.h changes, e.g. a dtype, never rebuild code objects): after
            # such a change in a seeded slot, rebuild all rather than link stale objects.
            if donor is not None and any(
                _HEADER.search(rel) or rel == "makefile" for rel in copied
            ):
                _invalidate_objects(slot)
        except BaseException:
            handle.close()
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    handle.directory, handle.code_hash, handle.slot = slot, digest, k
    handle.files_copied = tuple(copied)
    handle.seeded_from = donor
    device.project_dir = str(slot)
    device.results_dir = os.path.join(str(slot), "results", "")
    handle.timings.sync = time.perf_counter() - start

    cold = bool(clean) or bool(copied) or not (slot / "main").exists()
    name = handle.network.name
    if cold:
        expected = expected_compile_seconds(root, selection.target, name, slot)
        _say(f"compiling {name} (first build; about {expected:.0f} s)")
    else:
        _say(f"using the compiled {name} from the build cache {slot}")
    compiler, _ = get_compiler_and_args()
    start = time.perf_counter()
    try:
        device.compile_source(str(slot), compiler, selection.debug, bool(clean))
    except BaseException:
        handle.close()
        raise
    handle.timings.compile = time.perf_counter() - start
    if cold:
        _record_compile_seconds(root, selection.target, name, handle.timings.compile)
    (slot / _BUILDING_FILE).unlink()
    (slot / _STRUCTURE_FILE).write_text(structure)  # a compiled slot: may seed others
