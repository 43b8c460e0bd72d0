"""CUDA standalone specifics: finding the toolkit, cuRAND and a GPU, and setting
Brian2CUDA's preferences (see :mod:`models.devices`)."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

from brian2 import prefs

from .preferences import _set_pref

#: Environment variable giving the compute capability to compile for without a GPU.
COMPUTE_CAPABILITY_ENV = "SNN_CUDA_COMPUTE_CAPABILITY"
#: Compute capability used without a GPU when none is given (Hopper, H100/H200).
DEFAULT_COMPUTE_CAPABILITY = 9.0


def _import_brian2cuda():
    try:
        import brian2cuda  # noqa: F401  (registers the 'cuda_standalone' device)
    except ImportError as err:
        raise ImportError(
            "The 'cuda' target needs brian2cuda, which is not importable "
            f"({err}). Install the 'cuda' extra: pip install -e '.[cuda]'"
        ) from err
    return brian2cuda


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
