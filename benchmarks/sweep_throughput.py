"""Aggregate throughput of a Dask sweep with 1 and 2 workers.

    python -m benchmarks sweep
    python -m benchmarks sweep --workers 1 2 --epochs 10 --trials 2

The E:I-ratio rate sweep on digits (:func:`experiments.ei_ratio.sweep`, E fractions
0.5 and 0.8 x input scales 0.15 and 0.25 x ``--trials``; every task a full training run
in its own results folder) runs on a local Dask cluster of single-threaded workers, once
per worker count, each time in a fresh results root. A serial task first warms the
build cache, so every measured task reuses the compiled binary (as tasks of a sweep do
after the first). Reported per worker count: wall time, tasks per minute, training
samples per second summed over tasks (all epochs' training samples / wall time) and the
speed-up over one worker. Written to a new folder ``benchmarks/runs/sweep-<UTC time>/``;
with ``--publish`` to ``benchmarks/measurements/sweep.json`` and the ``sweep`` section of
``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

from benchmarks import report

__all__ = ["measure", "main"]

AXES = {"e_fraction": [0.5, 0.8], "input_scale": [0.15, 0.25]}


def measure(n_workers, cfg, axes: dict, trials: int, root) -> dict:
    """One rate sweep of ``cfg`` over ``axes`` x ``trials`` on ``n_workers`` local
    workers (``'serial'``: in this process) under ``root``."""
    from experiments.ei_ratio import sweep
    from runs import RunFolder

    scheduler = "serial" if n_workers == "serial" else None
    start = time.perf_counter()
    results = sweep(cfg, "rate", "bench", root, axes=axes, trials=trials,
                    scheduler=scheduler, n_workers=None if n_workers == "serial" else n_workers,
                    progress=False)
    wall = time.perf_counter() - start
    failed = [r for r in results if not r.ok]
    if failed:
        raise RuntimeError(f"{len(failed)} sweep tasks failed, e.g. {failed[0].error}")
    # Every epoch's training samples: the last metrics line of each task's run folder.
    samples = sum(RunFolder(r.folder / "ei_ratio" / "run").read_metrics()[-1]["samples_seen"]
                  for r in results)
    return {"workers": n_workers, "tasks": len(results), "wall_s": round(wall, 1),
            "tasks_per_min": round(60 * len(results) / wall, 2),
            "training_samples": int(samples),
            "aggregate_samples_per_s": round(samples / wall, 1),
            "load_after": os.getloadavg()[0]}


def section(payload: dict) -> str:
    base = payload["runs"][0]["aggregate_samples_per_s"]
    rows = [[r["workers"], r["tasks"], r["wall_s"], r["tasks_per_min"],
             r["aggregate_samples_per_s"], round(r["aggregate_samples_per_s"] / base, 2)]
            for r in payload["runs"]]
    return "\n".join([
        "## Parallel sweeps on Dask (`python -m benchmarks sweep`)",
        "",
        report.machine_line(payload["machine"]),
        "",
        f"E:I-ratio rate sweep on digits, {payload['tasks']} tasks (E fraction 0.5, 0.8 x "
        f"input scale 0.15, 0.25 x {payload['trials']} trials), {payload['epochs']} epochs "
        "each, local cluster of single-threaded workers, build cache warm. Samples/s: "
        "training samples of all tasks over the sweep's wall time.",
        "",
        report.markdown_table(["workers", "tasks", "wall s", "tasks/min",
                               "aggregate samples/s", "speed-up"], rows),
    ])


def main(argv=None) -> int:
    parser = report.argument_parser("sweep", __doc__)
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2],
                        help="worker counts to measure; default: 1 2")
    parser.add_argument("--epochs", type=int, default=10, help="epochs per task; default: 10")
    parser.add_argument("--trials", type=int, default=2, help="trials per point; default: 2")
    args = parser.parse_args(argv)
    if min(args.workers) < 1 or args.epochs < 1 or args.trials < 1:
        parser.error("--workers, --epochs and --trials must be >= 1")
    from experiments.ei_ratio import make_config

    cfg = make_config("quick", epochs=args.epochs)
    n_points = len(AXES["e_fraction"]) * len(AXES["input_scale"])
    payload = {"benchmark": "sweep", "machine": report.machine_description(),
               "epochs": args.epochs, "trials": args.trials,
               "tasks": n_points * args.trials, "runs": []}
    with tempfile.TemporaryDirectory(prefix="snn-sweep-") as root:
        first = {name: values[:1] for name, values in AXES.items()}
        measure("serial", cfg, first, 1, os.path.join(root, "warm"))  # compiles once
        for n in args.workers:
            run = measure(n, cfg, AXES, args.trials, os.path.join(root, f"w{n}"))
            payload["runs"].append(run)
            print(f"{n} workers: {run['tasks']} tasks in {run['wall_s']} s, "
                  f"{run['aggregate_samples_per_s']} samples/s", flush=True)
    if not args.no_write:
        print(report.publish("sweep", payload, section(payload), tracked=args.publish))
    return 0


if __name__ == "__main__":
    sys.exit(main())
