"""The sweeps a protocol offers: ``python -m experiments PROTOCOL --sweep NAME``.

A protocol lists its sweeps as :class:`SweepKind` entries (the grid's axes for a base
configuration, and what one grid point changes); :func:`sweep` runs every point and
trial of one as its own run folder on Dask (:mod:`runs.sweep`), and
:func:`run_sweep_command` is the command line of every protocol that has sweeps.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
from dataclasses import dataclass, fields
from pathlib import Path

from experiments.options import DEFAULT_OUT
from experiments.protocol import (ConfigurationError, RunConfig, fetch_image_data, is_integer,
                                  load_image_splits)
from runs.sweep import SERIAL, SweepError, grid, run_sweep

__all__ = ["SweepKind", "add_sweep_arguments", "sweep_points", "sweep_task", "sweep",
           "run_sweep_command"]


@dataclass(frozen=True)
class SweepKind:
    """A sweep a protocol offers (``python -m experiments PROTOCOL --sweep NAME``).

    ``help``: one line for ``--help``. ``axes(cfg)``: ``{field: values}`` of the grid for
    the base configuration ``cfg`` (e.g. by its preset; ``--axis`` replaces axes).
    ``overrides(point)``: the configuration fields one grid point sets (default: the
    point itself). ``seeds``: each trial is a grid point of its own, ``seed = cfg.seed
    + trial`` (instead of a trial number beside the point).
    """

    help: str
    axes: object
    overrides: object = dict
    seeds: bool = False


def _axis(text: str) -> tuple[str, list]:
    name, sep, values = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not FIELD=V,V,...")
    try:
        parsed = [float(v) if any(c in v for c in ".eE") else int(v)
                  for v in (v.strip() for v in values.split(",")) if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{values!r} is not a comma-separated list of "
                                         "numbers") from None
    return name.strip(), parsed


def add_sweep_arguments(parser: argparse.ArgumentParser, sweeps: dict) -> None:
    """``--sweep NAME`` and its options, for a protocol with sweeps ``{name: SweepKind}``."""
    parser.add_argument("--sweep", choices=sorted(sweeps), default=None,
                        help="instead of one run, run a sweep of this configuration on Dask ("
                             + "; ".join(f"{k}: {v.help}" for k, v in sweeps.items())
                             + "); finished tasks are skipped, interrupted ones resumed when "
                               "the same command runs again")
    parser.add_argument("--trials", type=int, default=3, metavar="N",
                        help="--sweep: runs per grid point, trial k with seed --seed + k; "
                             "default: 3")
    parser.add_argument("--axis", type=_axis, action="append", default=None,
                        metavar="FIELD=V,V,...",
                        help="--sweep: replace (or add) an axis of the grid, e.g. "
                             "e_fraction=0.5,0.8; repeatable")
    parser.add_argument("--name", default=None,
                        help="--sweep: folder under --out; default: <protocol>_<sweep>_<preset>")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="--sweep: Dask scheduler address (tcp://host:port) of an "
                             "existing cluster, or 'serial'; default: a local cluster")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="--sweep: local cluster worker processes; default: one per core")
    parser.add_argument("--own-build-cache", action="store_true",
                        help="--sweep: each task compiles into its own folder (default: the "
                             "shared cache)")


def sweep_points(cfg: RunConfig, kind: SweepKind, axes=(), trials: int = 1) -> list[dict]:
    """The grid points of the sweep ``kind`` of ``cfg``: its axes, with ``axes`` (pairs
    ``(field, values)``) replacing or adding axes. Every point is checked here, so a bad
    value (an E fraction of 1.3, a negative sigma) fails before any task starts."""
    if isinstance(trials, bool) or not is_integer(trials) or trials < 1:
        raise SweepError(f"--trials must be at least 1, got {trials}")
    grid_axes = dict(kind.axes(cfg))
    known = {f.name for f in fields(cfg)}
    for name, values in axes:
        if name not in known and name not in grid_axes:
            raise SweepError(f"unknown sweep axis {name!r}: not a configuration field")
        if not values:
            raise SweepError(f"the axis {name!r} is empty; give it values")
        grid_axes[name] = list(values)
    points = grid(**grid_axes)
    if kind.seeds:
        points = [dict(point, seed=cfg.seed + t) for point in points for t in range(trials)]
    for point in points:
        try:
            dataclasses.replace(cfg, **kind.overrides(point)).validate()
        except (ConfigurationError, TypeError) as err:
            raise SweepError(f"grid point {point}: {err}") from None
    return points


def sweep_task(run, summarise, config_cls, overrides, base: dict, params: dict, folder) -> dict:
    """One task of a protocol's sweep (:func:`runs.sweep.run_sweep`): the base
    configuration ``base`` with the grid point's ``overrides(params)``, trial ``k`` with
    seed + k; trains in ``folder`` (resuming an interrupted run there) and returns
    ``summarise`` of its metrics."""
    params = dict(params)
    trial = int(params.pop("trial", 0))
    cfg = config_cls.from_dict(base)
    changes = dict(overrides(params))
    changes["seed"] = int(changes.get("seed", cfg.seed)) + trial
    cfg = dataclasses.replace(cfg, **changes).validate()
    _, state = run(cfg, folder, run_id="run", resume=True, progress=False)
    return summarise(state.metrics)


def sweep(cfg: RunConfig, kind: SweepKind, run, summarise, name: str, root="results", *,
          axes=(), trials: int = 3, **options):
    """Every grid point and trial of the sweep ``kind`` of ``cfg`` as its own run, on Dask
    (:func:`runs.sweep.run_sweep`, whose ``scheduler``, ``n_workers``,
    ``own_build_cache`` and ``progress`` go in ``options``), in ``root/name/<task>``;
    ``run`` and ``summarise`` are the protocol's. Returns the sweep's results."""
    points = sweep_points(cfg, kind, axes, trials)
    task = functools.partial(sweep_task, run, summarise, type(cfg), kind.overrides,
                             cfg.to_dict())
    return run_sweep(name, task, points, root=root, trials=1 if kind.seeds else trials,
                     **options)


def run_sweep_command(cfg: RunConfig, args, sweeps: dict, run, summarise) -> int:
    """``python -m experiments PROTOCOL --sweep NAME ...``: :func:`sweep` of ``cfg`` with
    the command line's options; prints one line per failed task. Exit status 0 when
    every task finished, 1 otherwise."""
    from models.devices import NoGPUError

    if args.resume is not None:
        raise SweepError("--sweep and --resume: a sweep resumes by running the same "
                         "command again (finished tasks are skipped)")
    if getattr(args, "branch", None) is not None:
        raise SweepError("--sweep and --branch: every task of a sweep starts from the "
                         "initial state; branch one run at a time without --sweep")
    out = args.out if args.out is not None else DEFAULT_OUT
    kind = sweeps[args.sweep]
    sweep_points(cfg, kind, args.axis or (), args.trials)  # bad points fail before the data
    if getattr(args, "download", False):  # once here, before any task reads the files
        fetch_image_data(cfg)
    if args.scheduler is None or args.scheduler.strip().lower() in SERIAL:
        # The tasks run on this machine: read the data once here, so that a missing or
        # corrupt data set stops the sweep with its message (exit 2) before any task
        # folder is made. (Workers of an external cluster may see other files.)
        load_image_splits(cfg)
        if cfg.device != "runtime" and not args.own_build_cache:
            from models.devices import check_cache_root

            check_cache_root()  # a bad SNN_BUILD_CACHE would fail every task alike
    name = args.name or f"{cfg.protocol_of(dataclasses.asdict(cfg))}_{args.sweep}_{cfg.preset}"
    results = sweep(cfg, kind, run, summarise, name, out, axes=args.axis or (),
                    trials=args.trials, scheduler=args.scheduler, n_workers=args.workers,
                    own_build_cache=args.own_build_cache, progress=not args.no_progress)
    no_gpu = NoGPUError.from_task_errors(r.error for r in results)
    if no_gpu is not None:  # --device cuda without a GPU: every task compiled, none ran
        raise no_gpu
    failed = [r for r in results if not r.ok]
    print(f"{len(results) - len(failed)} of {len(results)} tasks done; summary in "
          f"{Path(out) / name / 'summary.jsonl'}", flush=True)
    for r in failed:
        print(f"failed: {r.task_id}: {r.error}", flush=True)
    return 1 if failed else 0
