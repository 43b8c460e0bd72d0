"""Choosing the simulation target: :func:`select_device` (see :mod:`models.devices`)."""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass
from pathlib import Path

from brian2 import get_device, set_device
from brian2.devices.device import all_devices

from .cache import resolve_cache_root
from .cuda import _configure_cuda, _import_brian2cuda
from .preferences import _restore_prefs, _set_pref
from .threads import deterministic_threads

#: The simulation targets :func:`select_device` accepts.
TARGETS = ("runtime", "cpp", "cuda")
_BRIAN_DEVICE_NAME = {"runtime": "runtime", "cpp": "cpp_standalone", "cuda": "cuda_standalone"}
_RUNTIME_CODEGEN = ("numpy", "cython")


@dataclass(frozen=True)
class DeviceSelection:
    """What :func:`select_device` chose (returned by it and by :func:`current_selection`)."""

    target: str
    cache_root: Path
    debug: bool
    runtime_codegen: str | None = None
    openmp_threads: int = 0
    #: CUDA only: whether a GPU was found (``nvidia-smi -L`` succeeded).
    gpu: bool | None = None
    #: CUDA only: compute capability compiled for (``None``: detected from the GPU).
    compute_capability: float | None = None
    cuda_path: str | None = None
    curand_include: str | None = None
    generation: int = 0


_state: dict = {
    "selection": None,  # DeviceSelection of the last select_device call
    "generation": 0,  # incremented by every select_device call
}


def current_selection() -> DeviceSelection | None:
    """The :class:`DeviceSelection` of the last :func:`select_device` call, or ``None``."""
    return _state["selection"]


def _forget_code_objects() -> None:
    """Drop every live object's reference to its code object, then collect garbage.

    Brian2 makes code-object names (``<object>_codeobject*``) unique among *live*
    objects, so while code objects of an earlier network (runtime or standalone) are
    alive, the same architecture built again in this process would get ``_1`` names:
    different code, a cold compile in another cache slot. Runtime objects create their
    code objects afresh before every run, and standalone ones need them only during
    code generation, so dropping them is safe.
    """
    from brian2.groups.group import CodeRunner

    for ref in list(CodeRunner.__instances__()):
        obj = ref()
        if obj is not None and getattr(obj, "codeobj", None) is not None:
            obj.codeobj = None
    gc.collect()


def select_device(
    target: str = "cpp",
    *,
    cache_dir=None,
    debug: bool = False,
    runtime_codegen: str = "numpy",
    openmp_threads: int = 0,
    compute_capability: float | None = None,
    gpu_id: int | None = None,
) -> DeviceSelection:
    """Select the simulation target for the networks built next.

    Re-initialises the previously active device and the target's device (so it can be
    called repeatedly in one process), restores the Brian2 preferences that an earlier
    call changed, then sets the target's preferences and activates its device.

    Parameters
    ----------
    target : {'runtime', 'cpp', 'cuda'}
        ``'runtime'``: Brian2 runtime mode (no compilation). ``'cpp'``: C++ standalone
        (``build_on_run=False``). ``'cuda'``: Brian2CUDA standalone.
    cache_dir : path, optional
        Build-cache root for standalone targets (see :func:`resolve_cache_root`).
    debug : bool
        Compile with debug flags and show compiler and program output.
    runtime_codegen : {'numpy', 'cython'}
        Code generation target in runtime mode.
    openmp_threads : int
        C++ standalone threads; 0 (default) is single-threaded, without OpenMP. With
        ``'cpp'`` and more, the code objects whose result would depend on the threads
        (sums into other groups' variables, random numbers) run on one thread (see
        :func:`~models.devices.threads.deterministic_threads`).
    compute_capability : float, optional
        CUDA: architecture to compile for. Without a GPU the default is
        ``$SNN_CUDA_COMPUTE_CAPABILITY`` or 9.0; with a GPU, that GPU's.
    gpu_id : int, optional
        CUDA: the GPU to run on (default: detected best GPU; 0 without GPU).

    Returns
    -------
    DeviceSelection

    Raises
    ------
    ValueError
        For an unknown target or runtime code generation target.
    ImportError
        For ``target='cuda'`` when brian2cuda is not installed.
    """
    if target not in TARGETS:
        raise ValueError(f"Unknown target {target!r}; allowed targets: {', '.join(TARGETS)}")
    if target == "runtime" and runtime_codegen not in _RUNTIME_CODEGEN:
        raise ValueError(
            f"Unknown runtime code generation target {runtime_codegen!r}; allowed: "
            f"{', '.join(_RUNTIME_CODEGEN)}"
        )
    if int(openmp_threads) < 0:
        raise ValueError(f"openmp_threads must be >= 0, got {openmp_threads}")
    if target == "cuda":
        brian2cuda = _import_brian2cuda()

    cache_root = resolve_cache_root(cache_dir)

    # Forget the previous device's network state, then reset the new one. Both lose
    # their default clock, so that the next one is created the same way whatever was
    # selected before (Brian2's set_device copies dt over only from a device that still
    # has a clock, which would put a dt assignment into some builds' code and not
    # others', giving the same network different code hashes).
    previous = get_device()
    dt = None
    if previous is not None:
        if previous.defaultclock is not None:
            dt = previous.defaultclock.dt
        previous.reinit()
        previous.defaultclock = None
    device = all_devices[_BRIAN_DEVICE_NAME[target]]
    if device is not previous:
        device.reinit()
        device.defaultclock = None
    _forget_code_objects()
    _restore_prefs()

    extra = {}
    if target == "runtime":
        _set_pref("codegen.target", runtime_codegen)
    else:
        _set_pref("devices.cpp_standalone.openmp_threads", int(openmp_threads))
        _set_pref("devices.cpp_standalone.extra_make_args_unix", ["-j", str(os.cpu_count() or 1)])
    if target == "cuda":
        extra = _configure_cuda(brian2cuda, cache_root, compute_capability, gpu_id)

    if target == "runtime":
        set_device("runtime")
    else:
        set_device(_BRIAN_DEVICE_NAME[target], build_on_run=False)
    deterministic_threads(device, target == "cpp" and int(openmp_threads) > 0)
    if dt is not None and dt != device.defaultclock.dt:
        device.defaultclock.dt = dt  # keep a dt the user set, as set_device does

    _state["generation"] += 1
    selection = DeviceSelection(
        target=target,
        cache_root=cache_root,
        debug=bool(debug),
        runtime_codegen=runtime_codegen if target == "runtime" else None,
        openmp_threads=int(openmp_threads) if target != "runtime" else 0,
        generation=_state["generation"],
        **extra,
    )
    _state["selection"] = selection
    return selection


def _device_target(device) -> str:
    for target, name in _BRIAN_DEVICE_NAME.items():
        if name in all_devices and device is all_devices[name]:
            return target
    return type(device).__name__
