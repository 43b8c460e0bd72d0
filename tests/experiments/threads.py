"""The check that a protocol's OpenMP build computes what one thread computes: a tiny
configuration trained with one and with two threads (C++ standalone), learned arrays
of the last checkpoint and metrics compared bit for bit."""

from __future__ import annotations

import dataclasses
import json

import numpy as np

#: Metrics that measure time, not results.
_TIMINGS = ("seconds", "_per_s", "time")


def _results(folder):
    with np.load(folder.path / "checkpoint.npz") as ck:
        arrays = {name: ck[name] for name in ck.files if name != "__meta__"}
    metrics = [{k: v for k, v in json.loads(line).items()
                if not any(t in k for t in _TIMINGS)}
               for line in (folder.path / "metrics.jsonl").read_text().splitlines()]
    return arrays, metrics


def assert_two_threads_equal_one(run, cfg, tmp_path):
    """Train ``cfg`` with ``run`` (a protocol's ``run``) at one and at two threads."""
    results = {}
    for threads in (1, 2):
        folder, _ = run(dataclasses.replace(cfg, threads=threads, device="cpp").validate(),
                        tmp_path / f"threads{threads}", progress=False)
        results[threads] = _results(folder)
    (one, one_metrics), (two, two_metrics) = results[1], results[2]
    assert one and sorted(one) == sorted(two)
    for name in one:
        assert np.array_equal(one[name], two[name]), f"{name} differs at two threads"
    assert one_metrics == two_metrics
