"""Simulation targets for Brian2 networks: runtime, C++ standalone, CUDA standalone.

One function, :func:`select_device`, chooses where the next network is simulated;
one function, :func:`build`, turns an explicit :class:`brian2.Network` into a
:class:`CompiledNetwork` handle that the training engine keeps and re-runs with new
``run_args`` (stimuli, labels, learning rates, weights) without recompiling.

Targets
-------
``'runtime'``
    Brian2's runtime mode with the ``numpy`` code generation target (``cython`` on
    request). Nothing is compiled; for tiny tests and debugging.
``'cpp'`` (default)
    Brian2's C++ standalone mode (Stimberg et al. 2019), ``build_on_run=False``,
    single-threaded (``openmp_threads=0``): on the 2-core machines this project runs on,
    OpenMP is slower (0.45x) and the once-per-sample backward sums of the learning rules
    are data races under OpenMP. Parallelise across processes instead.
``'cuda'``
    Brian2CUDA's CUDA standalone mode (Alevi et al. 2022), imported lazily; it needs the
    ``cuda`` extra (``pip install -e '.[cuda]'``). With CUDA 13, nvcc and the host
    compiler both get ``-std=c++17`` (Brian2CUDA's makefile hard-codes ``-std=c++11``;
    nvcc uses the last value given), and the cuRAND headers and library come from the
    ``nvidia-curand`` wheel. Without a GPU (``nvidia-smi`` missing or failing) GPU
    detection is switched off and the code is compiled for a given compute capability
    (9.0, Hopper, unless the argument or ``SNN_CUDA_COMPUTE_CAPABILITY`` says
    otherwise); such a build can be compiled but not run (running it raises
    :class:`NoGPUError`, which names the build folder; the command line reports it with
    exit code 3). Brian2CUDA runs a Synapses ``run_regularly`` in parallel without
    atomics: code that adds into pre- or postsynaptic variables passes
    ``codeobj_class=atomic_codeobj_class()`` (``None``, the default, on other devices).

Build cache and locking
-----------------------
Compiling a network costs seconds to minutes (C++: 7-25 s for the small test networks on
two cores; CUDA: about 7.5 min for a 40-cell E/I network, Thrust-heavy translation units
at ~20 s each); re-running the binary costs about 0.01-0.07 s; a rebuild of unchanged
code in its slot costs only Python code generation plus a ``make`` with nothing to do
(~0.01 s). So every standalone build goes through a cache of build directories under a
cache root (``cache_dir`` argument, else ``$SNN_BUILD_CACHE``, else
``~/.cache/snn-brain-learning/brian-builds``):

1. ``net.run(duration)`` records the run; ``device.build(directory=<fresh staging
   directory>, compile=False, run=False)`` generates the project there.
2. The generated *code* is hashed (SHA-256 over relative paths and contents, plus the
   target, compiler versions and CPU flags), leaving out the data: ``static_arrays/``
   (initial values, connectivity, spike times), ``results/`` and build products. Networks
   that differ only in data share a binary.
3. The build claims the slot ``<root>/<target>-<hash16>-<k>`` for the smallest ``k`` whose
   lock file ``<slot>/.lock`` it can take with a non-blocking ``fcntl.flock``. The lock is
   held by the returned handle until :meth:`CompiledNetwork.close` (or garbage collection,
   or the end of the process), so two processes (or two live handles in one process)
   never build or run in the same directory, and a second user of the same code gets
   its own slot ``k+1``. A slot in which a live process still works (the ``make`` or
   the binary of a process killed with SIGKILL runs on, without the lock) is not free
   either.
4. A slot without a binary is first seeded with a copy (object files and modification
   times included) of an unlocked compiled slot whose code files have the same names
   and toolchain (a "structure" key in ``<slot>/.structure``): a changed constant then
   recompiles only the translation units it appears in. (This also rescues CUDA:
   Brian2CUDA's code generation orders a spike monitor's kernel arguments by Python
   set iteration, which differs between processes, so the same CUDA network gets a
   different hash in each process; the seeded slot recompiles only that file. After a
   header or makefile change a seeded slot is rebuilt fully, for both targets: neither
   makefile tracks header dependencies reliably, and stale objects would be linked.)
5. Only files whose content differs from the slot's are copied (unchanged files keep
   their modification time, so ``make`` recompiles only what changed); files in the
   slot's ``static_arrays/`` that the new build does not have (stale ``init_*`` files
   left by earlier ``run_args``) are deleted; the staging directory is removed.
6. ``device.project_dir`` / ``device.results_dir`` are pointed at the slot and
   ``device.compile_source(slot, compiler, debug, clean=False)`` runs ``make``. From
   the claim until ``make`` has finished, the slot holds a ``.building`` marker: when a
   build is killed (while seeding, copying or compiling), the next build in the slot
   deletes the object files, ``make.deps`` and binary written since the marker, which
   may be cut short and would otherwise count as up to date. Each
   :meth:`CompiledNetwork.run` calls ``device.run(slot, with_output=False,
   run_args=...)`` after deleting the previous run's ``static_arrays/init_*`` files and
   results.

This uses the documented ``device.build(compile=False, run=False)`` plus two methods of
Brian2's ``CPPStandaloneDevice`` that the public ``build`` itself calls
(``compile_source`` and ``run``, checked in Brian2 2.8.0); Brian2CUDA 1.0a7 overrides
``build`` but inherits ``compile_source`` and ``run``, so the same route serves both.

A device holds the state of one built network: call :func:`select_device` before
creating each standalone network. Selecting a device again re-initialises it; earlier
handles keep their slot lock until closed but can no longer run (they raise
``RuntimeError``).

Generated code contains the object names, so name every object *and the Network*
explicitly: Brian2 makes default names unique among live objects (``network_1``), which
changes the code and misses the cache. (Code-object names get the same treatment;
:func:`select_device` drops live objects' references to their code objects, which
runtime objects re-create before each run, so that a rebuild in the same process
generates identical code.) Slots are never deleted automatically; any slot whose
``.lock`` no process holds may be removed. For CUDA, ``<root>/.cuda-link/`` holds a
``libcurand.so`` link to the wheel's versioned library for ``-lcurand``.

Runtime mode offers the same handle: :func:`build` stores the network's initial state
(``net.store``) and every :meth:`CompiledNetwork.run` restores it (random state
included), applies ``run_args`` (state variables are set, TimedArray values overwritten
in place and put back before the next run) and calls ``net.run(duration)``, so runs
start from the same state as a standalone binary's do. The list-of-strings form of
``run_args`` is standalone only (``NotImplementedError``).

References
----------
Stimberg M, Brette R, Goodman DFM (2019). Brian 2, an intuitive and efficient neural
simulator. eLife 8:e47314. https://doi.org/10.7554/eLife.47314

Alevi D, Stimberg M, Sprekeler H, Obermayer K, Augustin M (2022). Brian2CUDA: flexible
and efficient simulation of spiking neural network models on GPUs. Front.
Neuroinform. 16:883700. https://doi.org/10.3389/fninf.2022.883700
"""

from __future__ import annotations

import fcntl
import functools
import gc
import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import tempfile
import time
import weakref
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from brian2 import Network, TimedArray, get_device, prefs, second, set_device
from brian2.codegen.cpp_prefs import get_compiler_and_args
from brian2.core.variables import VariableView
from brian2.devices.device import all_devices
from brian2.units.fundamentalunits import fail_for_dimension_mismatch
from brian2.utils.logger import get_logger

_logger = get_logger(__name__)

__all__ = [
    "TARGETS",
    "CACHE_ENV",
    "COMPUTE_CAPABILITY_ENV",
    "DEFAULT_COMPUTE_CAPABILITY",
    "DeviceSelection",
    "CompiledNetwork",
    "BuildTimings",
    "select_device",
    "current_selection",
    "build",
    "resolve_cache_root",
    "gpu_available",
    "NoGPUError",
    "use_source_queues",
    "atomic_codeobj_class",
    "find_cuda_path",
    "find_curand",
]

#: The simulation targets :func:`select_device` accepts.
TARGETS = ("runtime", "cpp", "cuda")
_BRIAN_DEVICE_NAME = {"runtime": "runtime", "cpp": "cpp_standalone", "cuda": "cuda_standalone"}
_RUNTIME_CODEGEN = ("numpy", "cython")

#: Environment variable naming the build-cache root.
CACHE_ENV = "SNN_BUILD_CACHE"
#: Environment variable giving the compute capability to compile for without a GPU.
COMPUTE_CAPABILITY_ENV = "SNN_CUDA_COMPUTE_CAPABILITY"
#: Compute capability used without a GPU when none is given (Hopper, H100/H200).
DEFAULT_COMPUTE_CAPABILITY = 9.0
_DEFAULT_CACHE = Path("~/.cache/snn-brain-learning/brian-builds")

#: Name under which runtime-mode handles store the initial network state.
_STORE_NAME = "_snn_devices_initial"
#: Upper bound on concurrently held slots for one code hash.
_MAX_SLOTS = 256
#: Top-level entries of a Brian2 project directory that hold data or build products,
#: not code: they are left out of the code hash.
_DATA_DIRS = ("static_arrays", "results")
_STRUCTURE_FILE = ".structure"
#: Marker of a build in progress in a slot (see _discard_interrupted_build).
_BUILDING_FILE = ".building"
_HEADER = re.compile(r"\.(h|hh|hpp|cuh)$")
_BUILD_PRODUCTS = re.compile(
    r"(\.o|\.d|\.obj|\.deps|\.log|\.lock)$|^main(\.exe)?$|^\.lock$|^\.structure$|^\.building$"
)


# --------------------------------------------------------------------------------------
# Device selection
# --------------------------------------------------------------------------------------


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
    "saved_prefs": {},  # pref name -> value before select_device first changed it
}


def current_selection() -> DeviceSelection | None:
    """The :class:`DeviceSelection` of the last :func:`select_device` call, or ``None``."""
    return _state["selection"]


def resolve_cache_root(cache_dir=None) -> Path:
    """Build-cache root: ``cache_dir``, else ``$SNN_BUILD_CACHE``, else
    ``~/.cache/snn-brain-learning/brian-builds`` (absolute, not created)."""
    if cache_dir is None:
        cache_dir = os.environ.get(CACHE_ENV) or _DEFAULT_CACHE
    return Path(cache_dir).expanduser().resolve()


def _set_pref(name: str, value) -> None:
    """Set a Brian2 preference, remembering its previous value so that the next
    :func:`select_device` call can put it back."""
    saved = _state["saved_prefs"]
    if name not in saved:
        old = prefs[name]
        saved[name] = list(old) if isinstance(old, list) else old
    prefs[name] = list(value) if isinstance(value, list) else value


def _restore_prefs() -> None:
    saved = _state["saved_prefs"]
    for name, value in saved.items():
        basename = name.rpartition(".")[0]
        if basename in prefs.pref_register:
            prefs[name] = list(value) if isinstance(value, list) else value
    saved.clear()


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


def _import_brian2cuda():
    try:
        import brian2cuda  # noqa: F401  (registers the 'cuda_standalone' device)
    except ImportError as err:
        raise ImportError(
            "The 'cuda' target needs brian2cuda, which is not importable "
            f"({err}). Install the 'cuda' extra: pip install -e '.[cuda]'"
        ) from err
    return brian2cuda


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
        C++ standalone threads; 0 (default) is single-threaded, which this project
        needs (OpenMP races in the backward sums and is slower on 2 cores).
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


# --------------------------------------------------------------------------------------
# CUDA specifics
# --------------------------------------------------------------------------------------


class NoGPUError(RuntimeError):
    """A CUDA network was compiled (in :attr:`directory`) on a machine without a GPU and
    was then asked to run. The command line stops with this message (exit status 3).

    ``directory`` may also be a list: the builds of several tasks of a sweep (see
    :meth:`from_task_errors`); :attr:`directories` lists them all."""

    _PREFIX = "NoGPUError: "
    _WHERE = re.compile(r"The compiled code is in (.+?); run the command")

    def __init__(self, directory):
        many = isinstance(directory, (list, tuple))
        self.directories = [Path(d) for d in (directory if many else [directory])]
        self.directory = self.directories[0]
        where = ", ".join(str(d) for d in dict.fromkeys(self.directories))
        super().__init__(
            f"No GPU available (nvidia-smi lists none): the CUDA code was generated and "
            f"compiled, but cannot run here. The compiled code is in {where}; "
            "run the command on a machine where nvidia-smi lists a GPU."
        )

    @classmethod
    def from_task_errors(cls, errors) -> "NoGPUError | None":
        """The error of tasks (e.g. of a Dask sweep, whose one-line errors read
        ``'NoGPUError: ...'``) that all failed for want of a GPU, naming every build
        folder; ``None`` if there are none or any failed for another reason."""
        errors = list(errors)
        found = [cls._WHERE.search(e or "") for e in errors]
        if not errors or not all(m and e.startswith(cls._PREFIX)
                                 for m, e in zip(found, errors)):
            return None
        return cls([d for m in found for d in m.group(1).split(", ")])


class _QuietBrian2CudaInfo:
    """Console filter: Brian2CUDA logs about 30 INFO lines per build (every preference);
    they still go to Brian2's log file, warnings and errors still reach the console."""

    def filter(self, record) -> bool:
        return record.levelno > 20 or "brian2cuda" not in record.name


def _quiet_brian2cuda_info() -> None:
    from brian2.utils.logger import BrianLogger

    handler = BrianLogger.console_handler
    if handler is not None and not any(isinstance(f, _QuietBrian2CudaInfo)
                                       for f in handler.filters):
        handler.addFilter(_QuietBrian2CudaInfo())


def gpu_available() -> bool:
    """Whether ``nvidia-smi -L`` exists and lists at least one GPU."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return False
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and "GPU " in out.stdout


def _is_cuda_root(path: Path) -> bool:
    return (path / "bin" / "nvcc").exists() and (path / "include" / "cuda_runtime.h").exists()


def find_cuda_path() -> str | None:
    """The CUDA toolkit directory (the one with ``bin/nvcc`` and ``include/``).

    ``$CUDA_PATH``, else ``$CUDA_HOME``, else the toolkit of the ``nvcc`` on ``PATH``
    (following symbolic links, and asking ``nvcc --dryrun`` where it lives when
    ``nvcc`` is a wrapper script), else ``/usr/local/cuda``; ``None`` if none is found.
    """
    for var in ("CUDA_PATH", "CUDA_HOME"):
        value = os.environ.get(var)
        if value and _is_cuda_root(Path(value)):
            return str(Path(value))
    nvcc = shutil.which("nvcc")
    if nvcc is not None:
        root = Path(os.path.realpath(nvcc)).parent.parent
        if _is_cuda_root(root):
            return str(root)
        try:  # e.g. /usr/local/bin/nvcc is a script exec'ing the real one
            out = subprocess.run(
                [nvcc, "--dryrun", "--version"], capture_output=True, text=True, timeout=60
            )
            match = re.search(r"_HERE_=(\S+)", out.stdout + out.stderr)
        except (OSError, subprocess.SubprocessError):
            match = None
        if match:
            root = Path(match.group(1)).resolve().parent
            if _is_cuda_root(root):
                return str(root)
    if _is_cuda_root(Path("/usr/local/cuda")):
        return "/usr/local/cuda"
    return None


def find_curand() -> tuple[str | None, str | None]:
    """Include and library directory of cuRAND from the ``nvidia-curand`` wheel
    (``site-packages/nvidia/cu13/...`` or ``nvidia/curand/...``), found via importlib."""
    try:
        spec = importlib.util.find_spec("nvidia")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return None, None
    for location in spec.submodule_search_locations:
        for sub in ("cu13", "curand", "cu12"):
            inc = Path(location) / sub / "include"
            if (inc / "curand.h").exists():
                lib = Path(location) / sub / "lib"
                return str(inc), (str(lib) if lib.is_dir() else None)
    return None, None


def _curand_link_dir(lib_dir: str, cache_root: Path) -> str:
    """A directory with an unversioned ``libcurand.so`` for ``-lcurand``: the wheel ships
    only ``libcurand.so.<N>``, so a symbolic link is made under the cache root."""
    lib = Path(lib_dir)
    if (lib / "libcurand.so").exists():
        return str(lib)
    versioned = sorted(lib.glob("libcurand.so.*"))
    if not versioned:
        raise RuntimeError(f"No libcurand.so* in {lib}; reinstall the 'cuda' extra.")
    link_dir = cache_root / ".cuda-link"
    link_dir.mkdir(parents=True, exist_ok=True)
    link = link_dir / "libcurand.so"
    if not (link.is_symlink() and os.readlink(link) == str(versioned[0])):
        tmp = link_dir / f".libcurand.so.{os.getpid()}"
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        tmp.symlink_to(versioned[0])
        os.replace(tmp, link)
    return str(link_dir)


def _with_std(args: list, std: str) -> list:
    out = [a for a in args if not str(a).startswith("-std=")]
    return out + [std]


def _configure_cuda(brian2cuda, cache_root: Path, compute_capability, gpu_id) -> dict:
    from brian2cuda.utils import gputools

    cuda_path = find_cuda_path()
    if cuda_path is None:
        raise RuntimeError(
            "No CUDA toolkit found: set CUDA_PATH (or CUDA_HOME) or put nvcc on PATH."
        )
    inc, lib = find_curand()
    toolkit_has_curand = (Path(cuda_path) / "include" / "curand.h").exists()
    if inc is None and not toolkit_has_curand:
        raise RuntimeError(
            f"cuRAND headers not found (neither in {cuda_path}/include nor in the "
            "nvidia-curand wheel); install the 'cuda' extra: pip install -e '.[cuda]'"
        )
    has_gpu = gpu_available()
    if compute_capability is None and not has_gpu:
        compute_capability = float(
            os.environ.get(COMPUTE_CAPABILITY_ENV) or DEFAULT_COMPUTE_CAPABILITY
        )
    if compute_capability is not None:
        compute_capability = float(compute_capability)

    base = "devices.cuda_standalone.cuda_backend"
    gputools.reset_cuda_installation()
    gputools.reset_gpu_selection()
    _set_pref(f"{base}.cuda_path", cuda_path)
    _set_pref(f"{base}.detect_gpus", has_gpu)
    _set_pref(f"{base}.compute_capability", compute_capability)
    _set_pref(f"{base}.gpu_id", gpu_id if (has_gpu or gpu_id is not None) else 0)
    nvcc_args = _with_std(list(prefs[f"{base}.extra_compile_args_nvcc"]), "-std=c++17")
    gcc_args = _with_std(list(prefs["codegen.cpp.extra_compile_args_gcc"]), "-std=c++17")
    if inc is not None:
        nvcc_args.append(f"-I{inc}")
        _set_pref("codegen.cpp.include_dirs", list(prefs["codegen.cpp.include_dirs"]) + [inc])
    if lib is not None and not toolkit_has_curand:
        _set_pref(
            "codegen.cpp.library_dirs",
            list(prefs["codegen.cpp.library_dirs"]) + [_curand_link_dir(lib, cache_root)],
        )
        _set_pref(
            "codegen.cpp.runtime_library_dirs",
            list(prefs["codegen.cpp.runtime_library_dirs"]) + [lib],
        )
    _set_pref(f"{base}.extra_compile_args_nvcc", nvcc_args)
    _quiet_brian2cuda_info()
    _set_pref("codegen.cpp.extra_compile_args_gcc", gcc_args)
    return {
        "gpu": has_gpu,
        "compute_capability": compute_capability,
        "cuda_path": cuda_path,
        "curand_include": inc,
    }


# --------------------------------------------------------------------------------------
# Build cache
# --------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _tool_version(exe: str) -> str:
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"{exe}: unknown"


@functools.lru_cache(maxsize=None)
def _cpu_flags() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return line.strip()
    except OSError:
        pass
    return ""


def _toolchain_fingerprint(target: str) -> str:
    """Compiler versions and CPU flags (the default gcc flags include -march=native), so
    that a cache shared between machines does not hand out a binary built elsewhere."""
    parts = [target, _tool_version(os.environ.get("CXX", "g++")), _cpu_flags()]
    if target == "cuda":
        cuda_path = prefs["devices.cuda_standalone.cuda_backend.cuda_path"] or ""
        parts.append(_tool_version(os.path.join(cuda_path, "bin", "nvcc")))
    return "\n".join(parts)


def _code_files(directory: Path) -> list[str]:
    """Relative paths of the generated code files (no data, no build products)."""
    files = []
    for dirpath, dirnames, filenames in os.walk(directory):
        rel_dir = os.path.relpath(dirpath, directory)
        if rel_dir == ".":
            dirnames[:] = [d for d in dirnames if d not in _DATA_DIRS]
            rel_dir = ""
        for name in filenames:
            if _BUILD_PRODUCTS.search(name):
                continue
            files.append(os.path.join(rel_dir, name))
    return sorted(files)


def _hash_code(directory: Path, fingerprint: str) -> str:
    digest = hashlib.sha256(fingerprint.encode())
    for rel in _code_files(directory):
        digest.update(b"\0" + rel.encode() + b"\0")
        with open(directory / rel, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _structure_key(directory: Path, fingerprint: str) -> str:
    """Hash of the toolchain and the *names* of the code files: slots with the same key
    hold the same translation units, so one can seed another (see _seed_from_donor)."""
    digest = hashlib.sha256(fingerprint.encode())
    for rel in _code_files(directory):
        digest.update(rel.encode() + b"\0")
    return digest.hexdigest()


def _seed_from_donor(root: Path, target: str, slot: Path, key: str) -> Path | None:
    """Fill a slot that holds no binary yet with a copy of a compiled slot of the same
    structure, object files and modification times included, so that ``make`` then
    recompiles only the translation units whose code differs (a changed constant, or
    Brian2CUDA's code generation ordering a monitor's arguments differently in another
    process). Donors in use (locked) are skipped. Returns the donor, or ``None``."""
    if (slot / "main").exists():
        return None
    candidates = []
    for donor in root.glob(f"{target}-*-*"):
        if donor == slot or not donor.is_dir():
            continue
        try:
            if (donor / _STRUCTURE_FILE).read_text() != key:
                continue
            candidates.append(((donor / "main").stat().st_mtime, str(donor)))
        except OSError:
            continue
    for _, name in sorted(candidates, reverse=True):
        donor = Path(name)
        try:
            fd = os.open(donor / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            shutil.copytree(
                donor, slot, dirs_exist_ok=True, copy_function=shutil.copy2,
                ignore=shutil.ignore_patterns(".lock", _STRUCTURE_FILE, _BUILDING_FILE,
                                              "results", "static_arrays"),
            )
            return donor
        except OSError:
            continue
        finally:
            _release_lock(fd)
    return None


def _invalidate_objects(slot: Path) -> None:
    """Delete object files and the binary (full rebuild on the next ``make``)."""
    for path in slot.rglob("*.o"):
        path.unlink(missing_ok=True)
    (slot / "main").unlink(missing_ok=True)


def _discard_interrupted_build(slot: Path) -> bool:
    """If the last build in ``slot`` was interrupted (its ``.building`` marker is still
    there: the process was killed while seeding, copying or compiling), delete the build
    products written since the marker (object files, ``make.deps``, the binary), which
    may be cut short: ``make`` would take a torn object that is newer than its source for
    up to date and link it, in this slot, in every later build. Returns whether it did."""
    try:
        since = (slot / _BUILDING_FILE).stat().st_mtime_ns
    except FileNotFoundError:
        return False
    for path in [*slot.rglob("*.o"), slot / "make.deps", slot / "main"]:
        try:
            if path.stat().st_mtime_ns >= since:
                path.unlink()
        except FileNotFoundError:
            pass
    (slot / _BUILDING_FILE).unlink(missing_ok=True)
    return True


def _slot_in_use(slot: Path) -> bool:
    """Whether another live process works in ``slot`` (its current directory is there).
    Brian2 runs ``make`` and the binary with the slot as their current directory, and a
    process killed with SIGKILL leaves them running without the slot lock; until they end
    the slot is not free. Linux only (``/proc``); elsewhere ``False``."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return False
    me, here = str(os.getpid()), str(slot)
    for pid in entries:
        if not pid.isdigit() or pid == me:
            continue
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:  # gone, a zombie, or another user's
            continue
        if cwd == here or cwd.startswith(here + os.sep):
            return True
    return False


def _claim_slot(root: Path, target: str, digest: str) -> tuple[Path, int, int]:
    """Take the lock of the first free slot ``<root>/<target>-<hash16>-<k>`` (one that no
    process holds locked and no orphaned ``make`` or binary still works in)."""
    for k in range(_MAX_SLOTS):
        slot = root / f"{target}-{digest[:16]}-{k}"
        slot.mkdir(parents=True, exist_ok=True)
        fd = os.open(slot / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        if _slot_in_use(slot):
            _release_lock(fd)
            continue
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}\n".encode())
        return slot, k, fd
    raise RuntimeError(f"All {_MAX_SLOTS} build slots for {target}-{digest[:16]} are in use.")


def _release_lock(fd: int) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _same_content(a: Path, b: Path) -> bool:
    try:
        if a.stat().st_size != b.stat().st_size:
            return False
    except FileNotFoundError:
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            ca, cb = fa.read(1 << 20), fb.read(1 << 20)
            if ca != cb:
                return False
            if not ca:
                return True


def _sync_into_slot(staging: Path, slot: Path) -> list[str]:
    """Copy changed files from staging into the slot; prune its static_arrays/.

    Returns the relative paths of the *code* files that were copied (changed)."""
    copied = []
    staged_static = set()
    for dirpath, dirnames, filenames in os.walk(staging):
        rel_dir = os.path.relpath(dirpath, staging)
        if rel_dir == ".":
            dirnames[:] = [d for d in dirnames if d != "results"]
            rel_dir = ""
        (slot / rel_dir).mkdir(parents=True, exist_ok=True)
        for name in filenames:
            rel = os.path.join(rel_dir, name)
            if rel_dir == "static_arrays":
                staged_static.add(name)
            src, dst = staging / rel, slot / rel
            if not _same_content(src, dst):
                shutil.copyfile(src, dst)
                if rel_dir != "static_arrays":
                    copied.append(rel)
    static_dir = slot / "static_arrays"
    static_dir.mkdir(exist_ok=True)
    for path in static_dir.iterdir():
        if path.name not in staged_static and path.is_file():
            path.unlink()
    (slot / "results").mkdir(exist_ok=True)
    return sorted(copied)


def _clear_run_files(slot: Path) -> None:
    """Delete the previous run's ``static_arrays/init_*`` files (and their locks) and
    results, so that neither a stale run_args array nor a stale result survives."""
    for path in (slot / "static_arrays").glob("init_*"):
        path.unlink(missing_ok=True)
    results = slot / "results"
    if results.is_dir():
        for path in results.iterdir():
            if path.is_file():
                path.unlink()


# --------------------------------------------------------------------------------------
# Building and running
# --------------------------------------------------------------------------------------


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


_SOURCE_QUEUE_CLASS = None


def _source_queue_codeobj_class():
    """Code object class for zero-delay synaptic pathways in C++ standalone mode, or
    ``None`` on any other device.

    Brian2's ``CSpikeQueue::push`` copies, for every presynaptic event, the indices of
    all the neuron's synapses into the queue (value-initialised first), and the pathway
    then reads them back: on the desire network's all-to-all layers that is a quarter
    of the run time. With this class (``pathway.codeobj_class = ...``, set before the
    network is built) the queue keeps only the indices of the source neurons with an
    event, and the pathway walks each one's synapse list in place (the templates in
    ``models/templates``). The synapses are visited in the same order, so results are
    identical. Needs zero delays (checked when the program starts) and a single thread.
    """
    global _SOURCE_QUEUE_CLASS
    from brian2.devices.cpp_standalone.codeobject import CPPStandaloneCodeObject
    from brian2.devices.cpp_standalone.device import CPPStandaloneDevice

    # brian2cuda's device subclasses the C++ one and has queues of its own.
    if type(get_device()) is not CPPStandaloneDevice:
        return None
    if _SOURCE_QUEUE_CLASS is None:
        class SourceQueueCodeObject(CPPStandaloneCodeObject):
            templater = CPPStandaloneCodeObject.templater.derive(
                "models", templates_dir="templates")

        _SOURCE_QUEUE_CLASS = SourceQueueCodeObject
    return _SOURCE_QUEUE_CLASS


def use_source_queues(*synapses) -> bool:
    """Give every pathway of ``synapses`` the event queues of
    :func:`_source_queue_codeobj_class` when the current device is C++ standalone (call
    before building); returns whether it did. Results are unchanged, only faster."""
    codeobj_class = _source_queue_codeobj_class()
    if codeobj_class is None:
        return False
    for syn in synapses:
        for pathway in syn._pathways:
            pathway.codeobj_class = codeobj_class
    return True


def atomic_codeobj_class():
    """Code object class for a Synapses ``run_regularly`` that accumulates into pre- or
    postsynaptic variables (``x_post += w``): Brian2CUDA's atomics code object when the
    current device is CUDA standalone, else ``None`` (the device's default).

    Brian2CUDA runs a synaptic ``run_regularly`` with one GPU thread per synapse and,
    unlike synaptic pathways, without atomic operations, so synapses onto the same
    neuron would overwrite each other's contributions (a data race that compiles
    silently). The atomics class turns ``x_post += expr`` into ``atomicAdd``. C++
    standalone and runtime mode run such code serially and are left unchanged.
    """
    if _device_target(get_device()) != "cuda":
        return None
    from brian2cuda.codeobject import CUDAStandaloneAtomicsCodeObject

    return CUDAStandaloneAtomicsCodeObject


def _device_target(device) -> str:
    for target, name in _BRIAN_DEVICE_NAME.items():
        if name in all_devices and device is all_devices[name]:
            return target
    return type(device).__name__


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


def _remove_orphaned_staging(staging_parent: Path) -> None:
    """Delete staging folders whose process has died (a SIGKILL during code
    generation leaves its folder behind); those of live processes stay."""
    for path in staging_parent.iterdir():
        parts = path.name.split("-")
        if len(parts) < 3 or not parts[1].isdigit():
            continue
        try:
            os.kill(int(parts[1]), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:  # alive, another user's
            pass


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

    compiler, _ = get_compiler_and_args()
    start = time.perf_counter()
    try:
        device.compile_source(str(slot), compiler, selection.debug, bool(clean))
    except BaseException:
        handle.close()
        raise
    handle.timings.compile = time.perf_counter() - start
    (slot / _BUILDING_FILE).unlink()
    (slot / _STRUCTURE_FILE).write_text(structure)  # a compiled slot: may seed others
