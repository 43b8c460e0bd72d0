"""models.devices.cuda: CUDA standalone code generation and nvcc compilation without a GPU.

The compile test (markers ``cuda_compile`` and ``cuda_compile_all``: not in ``make test``,
like the protocols' full CUDA compiles in ``tests/system/test_cuda_compile.py``, which
check the same no-GPU path) generates Brian2CUDA code for the E/I network and compiles it
with nvcc without a GPU: about 8 minutes on two cores (34 .cu files at ~20 s each,
dominated by parsing the Thrust headers), about 30 s when ``SNN_TEST_BUILD_CACHE`` keeps
the cache between sessions (Brian2CUDA's code differs between processes in one file,
which a slot seeded from the earlier build recompiles alone).
"""

from __future__ import annotations

import os
import shutil
import time

import pytest
from brian2 import prefs

from models import devices
from models.devices import build, select_device
from tests.models.devices.networks import DURATION, ei_network


def test_cuda_without_brian2cuda_names_the_extra(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "brian2cuda" or name.startswith("brian2cuda."):
            raise ImportError("No module named 'brian2cuda'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"pip install -e '\.\[cuda\]'"):
        select_device("cuda")


def _brian2cuda_importable() -> bool:
    try:
        import brian2cuda  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.cuda_compile
@pytest.mark.cuda_compile_all  # 8 min of nvcc: outside make test's budget
def test_cuda_standalone_compiles_without_gpu(tmp_path, monkeypatch):
    if shutil.which("nvcc") is None:
        pytest.skip("nvcc is not on PATH: CUDA compilation cannot be tested here")
    if not _brian2cuda_importable():
        pytest.skip("brian2cuda is not importable: install the 'cuda' extra "
                    "(pip install -e '.[cuda]')")
    if devices.gpu_available():
        # exercise the no-GPU path (patched where select_device looks it up)
        monkeypatch.setattr(devices.cuda, "gpu_available", lambda: False)
    monkeypatch.delenv("SNN_CUDA_COMPUTE_CAPABILITY", raising=False)

    sel = select_device("cuda")  # the session's build cache (see conftest.py)
    assert sel.gpu is False and sel.compute_capability == 9.0
    assert prefs.devices.cuda_standalone.cuda_backend.detect_gpus is False
    assert "-std=c++17" in prefs.devices.cuda_standalone.cuda_backend.extra_compile_args_nvcc
    assert "-std=c++17" in prefs.codegen.cpp.extra_compile_args_gcc
    assert os.path.exists(os.path.join(sel.cuda_path, "bin", "nvcc"))

    parts = ei_network()
    with pytest.raises(RuntimeError, match="compile_only=True"):
        build(parts["net"], DURATION)
    start = time.perf_counter()
    handle = build(parts["net"], DURATION, compile_only=True)
    elapsed = time.perf_counter() - start
    print(f"\nCUDA standalone: generate {handle.timings.codegen:.1f} s, "
          f"nvcc compile {handle.compile_seconds:.1f} s, total {elapsed:.1f} s "
          f"({len(handle.files_copied)} code files new or changed, seeded from "
          f"{handle.seeded_from})")
    assert handle.directory.name.startswith("cuda-")
    assert (handle.directory / "main").exists()
    makefile = (handle.directory / "makefile").read_text()
    assert "-arch=sm_90" in makefile and "-std=c++17" in makefile
    with pytest.raises(RuntimeError, match="No GPU"):
        handle.run()
    handle.close()

    # Selecting the C++ target afterwards gives back the C++ preferences.
    select_device("cpp", cache_dir=tmp_path)
    assert "-std=c++17" not in prefs.codegen.cpp.extra_compile_args_gcc
    assert not any("nvidia" in d for d in prefs.codegen.cpp.include_dirs)


def test_cuda_compute_capability_from_environment(tmp_path, monkeypatch):
    if not _brian2cuda_importable() or devices.find_cuda_path() is None:
        pytest.skip("brian2cuda or a CUDA toolkit is missing")
    monkeypatch.setattr(devices.cuda, "gpu_available", lambda: False)
    monkeypatch.setenv("SNN_CUDA_COMPUTE_CAPABILITY", "8.0")
    assert select_device("cuda", cache_dir=tmp_path).compute_capability == 8.0
    assert prefs.devices.cuda_standalone.cuda_backend.compute_capability == 8.0
    sel = select_device("cuda", cache_dir=tmp_path, compute_capability=7.5)
    assert sel.compute_capability == 7.5
