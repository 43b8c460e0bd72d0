"""The E:I-ratio sweeps from the command line: ``python -m experiments ei_ratio_sweep``.

Two grids (:data:`experiments.ei_ratio.GRIDS`): ``rate`` (E fraction x initial input
scale, which sets the initial hidden rate) and ``noise`` (weight-update noise sigma x E
fraction), each with a ``quick`` (digits) and a ``paper`` (Fashion-MNIST) preset. Tasks
run on Dask (:mod:`experiments.sweep`): a local cluster of single-threaded workers by
default, ``--scheduler tcp://host:port`` for an existing cluster, ``--scheduler serial``
in this process. Each task trains in its own results folder and, with
``--own-build-cache``, its own build directory; running the same command again skips
finished tasks and resumes interrupted ones from their last checkpoint.

Examples::

    python -m experiments ei_ratio_sweep rate --preset quick --trials 3
    python -m experiments ei_ratio_sweep noise --preset paper --epochs 10 \\
        --scheduler tcp://10.0.0.5:8786 --out /shared/results
"""

from __future__ import annotations

import argparse

from experiments.ei_ratio import GRIDS, load_data, make_config, sweep_points, sweep_task

__all__ = ["add_arguments", "main"]


def _axis(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of numbers") from None


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    from models.devices import TARGETS

    parser.add_argument("kind", choices=sorted(GRIDS),
                        help="rate: E fraction x initial input scale; noise: weight noise x "
                             "E fraction")
    parser.add_argument("--preset", choices=("quick", "paper"), default="quick",
                        help="quick (digits, minutes) or paper (Fashion-MNIST); default: quick")
    parser.add_argument("--trials", type=int, default=3, help="runs per grid point; default: 3")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs per run; default: the preset's (paper: 30, quick: 15)")
    parser.add_argument("--e-fractions", type=_axis, default=None, metavar="F,F,...",
                        help="replace the E-fraction axis")
    parser.add_argument("--input-scales", type=_axis, default=None, metavar="S,S,...",
                        help="rate sweep: replace the input-scale axis")
    parser.add_argument("--noise", type=_axis, default=None, metavar="SIGMA,...",
                        help="noise sweep: replace the sigma axis")
    parser.add_argument("--train-samples", type=int, default=None,
                        help="train on the first N training images only")
    parser.add_argument("--eval-samples", type=int, default=None,
                        help="evaluate on the first N images only")
    parser.add_argument("--data-dir", default=None, metavar="DIR",
                        help="directory with the IDX files; default: $SNN_DATA_DIR, else the "
                             "download cache")
    parser.add_argument("--name", default=None,
                        help="sweep name (folder under --out); default: ei_ratio_<kind>_<preset>")
    parser.add_argument("--out", default="results", metavar="DIR", help="results root")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="Dask scheduler address (tcp://host:port) of an existing "
                             "cluster, or 'serial'; default: a local cluster")
    parser.add_argument("--workers", type=int, default=None,
                        help="local cluster: worker processes; default: one per core")
    parser.add_argument("--device", choices=TARGETS, default=None,
                        help="simulation device of every task; default: cpp")
    parser.add_argument("--own-build-cache", action="store_true",
                        help="each task compiles into its own folder (default: shared cache)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(args) -> int:
    from experiments.sweep import SERIAL, SweepError, run_sweep
    from models.devices import NoGPUError

    axes = {}
    if args.e_fractions is not None:
        axes["e_fraction"] = args.e_fractions
    if args.input_scales is not None:
        if args.kind != "rate":
            raise SweepError("--input-scales is an axis of the rate sweep only")
        axes["input_scale"] = args.input_scales
    if args.noise is not None:
        if args.kind != "noise":
            raise SweepError("--noise is an axis of the noise sweep only")
        axes["weight_noise"] = args.noise
    if isinstance(args.trials, bool) or args.trials < 1:
        raise SweepError(f"--trials must be at least 1, got {args.trials}")
    points = sweep_points(args.kind, args.preset, axes, epochs=args.epochs,
                          train_samples=args.train_samples, eval_samples=args.eval_samples,
                          data_dir=args.data_dir, device=args.device)
    if args.scheduler is None or args.scheduler.strip().lower() in SERIAL:
        # The tasks run on this machine: read the data once here, so that a missing or
        # corrupt data set stops the sweep with its message (exit 2) before any task
        # folder is made. (Workers of an external cluster may see other files.)
        first = dict(points[0])
        load_data(make_config(first.pop("preset"), first.pop("dataset", None), **first))
    name = args.name or f"ei_ratio_{args.kind}_{args.preset}"
    results = run_sweep(name, sweep_task, points, root=args.out, trials=args.trials,
                        scheduler=args.scheduler, n_workers=args.workers,
                        own_build_cache=args.own_build_cache, progress=not args.no_progress)
    failed = [r for r in results if not r.ok]
    no_gpu = NoGPUError.from_task_errors(r.error for r in results)
    if no_gpu is not None:  # --device cuda without a GPU: every task compiled, none ran
        raise no_gpu
    print(f"{len(results) - len(failed)} of {len(results)} tasks done; summary in "
          f"{args.out}/{name}/summary.jsonl; figures: python -m figures ei_ratio "
          f"{args.out}/{name}", flush=True)
    for r in failed:
        print(f"failed: {r.task_id}: {r.error}", flush=True)
    return 1 if failed else 0
