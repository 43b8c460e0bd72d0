"""The locked cache of standalone build directories (see :mod:`models.devices`).

The cache root, the code hash and the structure key of a generated project, the slots
``<root>/<target>-<hash16>-<k>`` with their ``fcntl`` locks, seeding a new slot from a
compiled one, copying changed files in, the ``.building`` marker of an interrupted
build, and the staging folders that code generation writes to first.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from brian2 import prefs

#: Environment variable naming the build-cache root.
CACHE_ENV = "SNN_BUILD_CACHE"
_DEFAULT_CACHE = Path("~/.cache/snn-brain-learning/brian-builds")
#: Upper bound on concurrently held slots for one code hash.
_MAX_SLOTS = 256
#: Top-level entries of a Brian2 project directory that hold data or build products,
#: not code: they are left out of the code hash.
_DATA_DIRS = ("static_arrays", "results")
_STRUCTURE_FILE = ".structure"
#: Marker of a build in progress in a slot (see _discard_interrupted_build).
_BUILDING_FILE = ".building"
_BUILD_PRODUCTS = re.compile(
    r"(\.o|\.d|\.obj|\.deps|\.log|\.lock)$|^main(\.exe)?$|^\.lock$|^\.structure$|^\.building$"
)


class BuildCacheError(ValueError):
    """The build-cache root is a file or a folder that cannot be written. Raised by
    :func:`check_cache_root` before anything is compiled; the message names the path,
    where it came from (``SNN_BUILD_CACHE`` or the default) and the fix."""


def resolve_cache_root(cache_dir=None) -> Path:
    """Build-cache root: ``cache_dir``, else ``$SNN_BUILD_CACHE``, else
    ``~/.cache/snn-brain-learning/brian-builds`` (absolute, not created)."""
    if cache_dir is None:
        cache_dir = os.environ.get(CACHE_ENV) or _DEFAULT_CACHE
    return Path(cache_dir).expanduser().resolve()


def check_cache_root(cache_dir=None) -> Path:
    """The build-cache root (:func:`resolve_cache_root`), made if missing, after checking
    that a file can be written in it; raises :class:`BuildCacheError` otherwise (say,
    ``SNN_BUILD_CACHE`` names a file or a read-only folder), before anything compiles."""
    root = resolve_cache_root(cache_dir)
    if cache_dir is not None:
        source, fix = "the build cache", "give a folder you can write to"
    elif os.environ.get(CACHE_ENV):
        source = f"{CACHE_ENV}={os.environ[CACHE_ENV]}"
        fix = (f"unset {CACHE_ENV} (the default cache is {_DEFAULT_CACHE}) or point it at "
               "a folder you can write to")
    else:
        source = f"the default build cache {_DEFAULT_CACHE}"
        fix = f"set {CACHE_ENV} to a folder you can write to"
    for parent in (root, *root.parents):
        if parent.exists():
            if not parent.is_dir():
                raise BuildCacheError(f"{source}: '{parent}' is a file, not a folder, so "
                                      f"nothing can be compiled there; {fix}.")
            break
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=root):
            pass
    except OSError as err:
        raise BuildCacheError(f"{source}: cannot write in '{root}' ({err.strerror or err}), "
                              f"so nothing can be compiled there; {fix}.") from None
    return root


@functools.lru_cache(maxsize=None)
def _version_output(exe: str) -> str | None:
    """What ``exe --version`` prints; None where it cannot be run."""
    try:
        return subprocess.run([exe, "--version"], capture_output=True, text=True,
                              timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None


def _tool_version(exe: str) -> str:
    out = _version_output(exe)
    return f"{exe}: unknown" if out is None else out.strip()


def compiler_version(exe: str = "g++") -> str | None:
    """The first line of ``exe --version`` (the C++ compiler of the standalone builds),
    for provenance; None where it cannot be run."""
    out = _version_output(exe)
    return out.splitlines()[0] if out else None


def device_description(target: str, threads: int = 1) -> dict:
    """Simulation device and compiler settings, for the provenance of a run."""
    return {"target": target, "threads": threads,
            "compile_args": list(prefs["codegen.cpp.extra_compile_args_gcc"]),
            "compiler": compiler_version()}


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
