"""Parameter sweeps (runs.sweep): grid, task folders, restart, failures, Dask.

The task functions are module-level so that Dask's worker processes can unpickle them
(by reference to this module). They record every call in their own folder
(``calls.txt``), which works the same in this process and in a worker.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from runs import RunFolder
from runs.sweep import (
    DONE_FILE,
    ERROR_FILE,
    SUMMARY_FILE,
    SweepError,
    grid,
    read_summary,
    run_sweep,
    task_id,
)


def expected(params: dict) -> dict:
    """The metrics that :func:`cheap_task` computes, written out independently."""
    return {"score": params["a"] * 10 + params["b"] + 0.5 * params["trial"],
            "label": f"{params['a']}-{params['b']}"}


def cheap_task(params: dict, folder: Path) -> dict:
    with open(folder / "calls.txt", "a") as f:
        f.write("call\n")
    return {"score": params["a"] * 10 + params["b"] + 0.5 * params["trial"],
            "label": f"{params['a']}-{params['b']}"}


def flaky_task(params: dict, folder: Path) -> dict:
    if params["a"] == 2 and params["b"] == 4:
        raise RuntimeError("membrane potential diverged")
    return cheap_task(params, folder)


def cache_task(params: dict, folder: Path) -> dict:
    return {"cache": os.environ.get("SNN_BUILD_CACHE")}


def calls(folder: Path) -> int:
    path = folder / "calls.txt"
    return len(path.read_text().splitlines()) if path.exists() else 0


GRID = grid(a=[1, 2], b=[3, 4])


# -- grid and ids -------------------------------------------------------------------------


def test_grid_order_and_size():
    points = grid(e_fraction=[0.8, 0.5], sigma=[1e-5, 1e-4, 1e-3])
    assert len(points) == 6
    assert points[:4] == [
        {"e_fraction": 0.8, "sigma": 1e-5}, {"e_fraction": 0.8, "sigma": 1e-4},
        {"e_fraction": 0.8, "sigma": 1e-3}, {"e_fraction": 0.5, "sigma": 1e-5},
    ]
    assert list(points[0]) == ["e_fraction", "sigma"]
    assert grid(e_fraction=[0.8, 0.5], sigma=[1e-5, 1e-4, 1e-3]) == points


def test_grid_errors():
    with pytest.raises(ValueError, match="no axes"):
        grid()
    with pytest.raises(ValueError, match="grid axis 'e_fraction' is empty; give at least one value"):
        grid(sigma=[1e-5], e_fraction=[])
    with pytest.raises(ValueError, match="'mode'.*not a sequence"):
        grid(mode="fast")
    with pytest.raises(ValueError, match="'trial' is reserved"):
        grid(trial=[0, 1])


def test_task_id_is_stable_and_file_system_safe():
    assert task_id({"e_fraction": 0.8, "sigma": 1e-5}, 2) == "e_fraction=0.8_sigma=1e-05_trial=2"
    assert task_id({"path": "a/b c"}, 0) == "path=a-b-c_trial=0"
    long = task_id({"x": "y" * 500}, 0)
    assert len(long) <= 200 and long != task_id({"x": "y" * 499}, 0)


# -- serial sweeps ------------------------------------------------------------------------


def test_serial_sweep_writes_folders_and_summary(tmp_path):
    results = run_sweep("demo", cheap_task, GRID, tmp_path, trials=2, scheduler="serial",
                        progress=False)
    assert len(results) == 8
    assert [r.task_id for r in results[:3]] == ["a=1_b=3_trial=0", "a=1_b=3_trial=1",
                                                "a=1_b=4_trial=0"]
    folders = sorted(p for p in (tmp_path / "demo").iterdir() if p.is_dir())
    assert len(folders) == 8
    for r in results:
        assert r.status == "done" and r.ok
        assert r.metrics == expected(r.params)
        assert r.folder == tmp_path / "demo" / r.task_id
        config = RunFolder.open(r.folder, protocol="demo").read_config()
        assert config["config"] == r.params
        done = json.loads((r.folder / DONE_FILE).read_text())
        assert done["metrics"] == expected(r.params)
    lines = (tmp_path / "demo" / SUMMARY_FILE).read_text().splitlines()
    assert len(lines) == 8
    assert read_summary(tmp_path, "demo") == [r.to_record() for r in results]


def test_restart_skips_finished_tasks(tmp_path):
    first = run_sweep("demo", cheap_task, GRID, tmp_path, trials=2, scheduler="serial",
                      progress=False)
    again = run_sweep("demo", cheap_task, GRID, tmp_path, trials=2, scheduler="serial",
                      progress=False)
    assert all(calls(r.folder) == 1 for r in again)
    assert [r.status for r in again] == ["skipped"] * 8
    assert [r.metrics for r in again] == [r.metrics for r in first]

    redo = first[5]
    (redo.folder / DONE_FILE).unlink()
    third = run_sweep("demo", cheap_task, GRID, tmp_path, trials=2, scheduler="serial",
                      progress=False)
    assert {r.task_id: calls(r.folder) for r in third} == {
        r.task_id: 2 if r.task_id == redo.task_id else 1 for r in first}
    assert [r.status for r in third].count("done") == 1
    assert third[5].metrics == expected(redo.params)


def test_failing_task_is_recorded_and_others_finish(tmp_path):
    results = run_sweep("demo", flaky_task, GRID, tmp_path, trials=2, scheduler="serial",
                        progress=False)
    failed = [r for r in results if not r.ok]
    assert [r.task_id for r in failed] == ["a=2_b=4_trial=0", "a=2_b=4_trial=1"]
    for r in failed:
        assert r.status == "failed" and r.metrics is None
        assert r.error == "RuntimeError: membrane potential diverged"
        assert "membrane potential diverged" in (r.folder / ERROR_FILE).read_text()
        assert not (r.folder / DONE_FILE).exists()
    assert all(r.metrics == expected(r.params) for r in results if r.ok)
    summary = read_summary(tmp_path, "demo")
    assert [s["status"] for s in summary].count("failed") == 2

    # A second run retries only the failures; with a working task they now finish.
    again = run_sweep("demo", cheap_task, GRID, tmp_path, trials=2, scheduler="serial",
                      progress=False)
    assert [r.status for r in again].count("done") == 2
    assert all(r.ok and not (r.folder / ERROR_FILE).exists() for r in again)


def test_own_build_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SNN_BUILD_CACHE", "/common/cache")
    points = grid(a=[1])
    shared = run_sweep("shared", cache_task, points, tmp_path, scheduler="serial", progress=False)
    own = run_sweep("own", cache_task, points, tmp_path, scheduler="serial", progress=False,
                    own_build_cache=True)
    assert shared[0].metrics == {"cache": "/common/cache"}
    assert own[0].metrics == {"cache": str(own[0].folder / "build")}
    assert os.environ["SNN_BUILD_CACHE"] == "/common/cache"


# -- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, message", [
    (dict(points=[]), "grid is empty"),
    (dict(trials=0), r"trials=0: give a whole number >= 1"),
    (dict(task="cheap_task"), "not callable"),
    (dict(points=[{"a": 1, "b": 3}, {"a": 1, "b": 3}]), "same task id"),
    (dict(points=[{"a": object()}]), "not JSON-serialisable"),
    (dict(n_workers=0), "n_workers=0"),
])
def test_validation_before_any_work(tmp_path, kwargs, message):
    arguments = dict(name="demo", task=cheap_task, points=GRID, root=tmp_path,
                     scheduler="serial", progress=False)
    arguments.update(kwargs)
    with pytest.raises(SweepError, match=message):
        run_sweep(**arguments)
    assert not (tmp_path / "demo").exists()


def test_unreachable_scheduler_fails_fast(tmp_path):
    start = time.perf_counter()
    with pytest.raises(SweepError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9.*"
                                         r"dask scheduler"):
        run_sweep("demo", cheap_task, GRID, tmp_path, scheduler="tcp://127.0.0.1:9",
                  progress=False)
    assert time.perf_counter() - start < 15
    assert not (tmp_path / "demo").exists()


# -- a real local cluster -----------------------------------------------------------------


def test_local_dask_cluster_matches_serial(tmp_path):
    serial = run_sweep("demo", flaky_task, GRID, tmp_path / "serial", scheduler="serial",
                       progress=False)
    dask = run_sweep("demo", flaky_task, GRID, tmp_path / "dask", n_workers=2,
                     progress=False)
    assert [(r.task_id, r.params, r.status, r.metrics, r.error) for r in dask] == \
        [(r.task_id, r.params, r.status, r.metrics, r.error) for r in serial]
    assert len(dask) == 4 and [r.ok for r in dask] == [True, True, True, False]
    assert all(calls(r.folder) == 1 for r in dask if r.ok)
    assert (dask[3].folder / ERROR_FILE).exists()
