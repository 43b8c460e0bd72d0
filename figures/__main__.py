"""Command line for the figure sets: ``python -m figures <set> [inputs] [options]``.

The subcommands are the sets of :data:`figures.registry.FIGURE_SETS`; ``figures/README.md``
lists every figure, the paper figure it redraws and its command.
"""

import argparse
import sys
import time
from pathlib import Path

from figures.registry import FIGURE_SETS

#: argparse settings of the positional inputs of each kind of set.
_INPUTS = {"run": dict(dest="paths", metavar="RUN"),
           "runs": dict(dest="paths", metavar="RUN", nargs="+"),
           "sweeps": dict(dest="paths", metavar="SWEEP", nargs="+")}
_OUT_HELP = {"run": "output directory; default: RUN/figures",
             "runs": "output directory; default: RUN/figures for one RUN, "
                     "<common parent>/figures for several",
             "sweeps": "output directory; default: SWEEP/figures for one sweep, "
                       "<common parent>/figures for several",
             "dataset": "output directory"}
#: Options of the library set read by its loader (the others go to its make).
_LOAD_OPTIONS = ("dataset", "data_dir", "download", "samples")


def _parser() -> argparse.ArgumentParser:
    lines = "\n".join(f"``{s.name}``: {s.help}." for s in FIGURE_SETS.values())
    parser = argparse.ArgumentParser(prog="python -m figures",
                                     description=f"{__doc__}\n{lines}",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="figure", required=True)
    for figure_set in FIGURE_SETS.values():
        p = sub.add_parser(figure_set.name, help=figure_set.help,
                           description=figure_set.description)
        if figure_set.inputs in _INPUTS:
            p.add_argument(help=figure_set.inputs_help, **_INPUTS[figure_set.inputs])
        p.add_argument("--out", default="figures/out" if figure_set.inputs == "dataset"
                       else None, help=_OUT_HELP[figure_set.inputs])
        for flags, settings in figure_set.options:
            p.add_argument(*flags, **settings)
    return parser


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    figure_set = FIGURE_SETS[args.figure]
    command = f"python -m figures {figure_set.name}"
    options = {_dest(flags, settings): getattr(args, _dest(flags, settings))
               for flags, settings in figure_set.options}
    if "samples" in options and options["samples"] < 1:
        parser.error(f"--samples must be a positive integer; got {options['samples']}")
    if args.out is not None:
        problem = _out_problem(Path(args.out))
        if problem:
            print(f"{command}: {problem}", file=sys.stderr)
            return 2
    import matplotlib

    matplotlib.use("Agg")
    if figure_set.inputs == "dataset":
        return _draw_dataset(figure_set, args, options, command)
    return _draw_runs(figure_set, args, options, command)


def _dest(flags, settings) -> str:
    """The attribute argparse stores an option under (``--data-dir``: ``data_dir``)."""
    return settings.get("dest", flags[0].lstrip("-").replace("-", "_"))


def _out_problem(out: Path) -> str | None:
    """Why ``--out`` cannot be the output folder (it or a parent is a file), or None."""
    for path in (out, *out.parents):
        if path.exists():
            if not path.is_dir():
                return (f"--out: '{path}' is a file, not a folder; give --out a folder "
                        "(it is made if missing)")
            return None
    return None


def _unwritable(command: str, err: OSError) -> int:
    print(f"{command}: cannot write '{err.filename}' ({err.strerror}); give --out a folder "
          "you can write to", file=sys.stderr)
    return 2


def _draw_runs(figure_set, args, options, command) -> int:
    """Load the runs or sweeps of ``args.paths``, say which figures they cannot give,
    draw the others; exit status 2 on bad folders or when nothing could be drawn."""
    from figures.ei_ratio import NotASweepError
    from figures.loading import default_out
    from runs import NotARunError

    module = figure_set.implementation
    try:
        runs = figure_set.load(args.paths)
        if args.out is not None:
            out = Path(args.out)
        elif hasattr(module, "default_out"):
            out = module.default_out(args.paths, runs)
        else:
            out = default_out(args.paths)
        skipped = figure_set.skipped(runs)
        written = figure_set.make(runs, out, **options)
    except (NotARunError, NotASweepError, ValueError, FileNotFoundError) as err:
        print(f"{command}: {err}", file=sys.stderr)
        return 2
    except PermissionError as err:
        return _unwritable(command, err)
    for name, reason in skipped.items():
        print(f"skipped {name}: {reason}")
    if not written:
        paths = [args.paths] if isinstance(args.paths, str) else args.paths
        print(f"{command}: no figure could be drawn from {', '.join(paths)}", file=sys.stderr)
        return 2
    stems = {Path(p).stem for p in written}
    names = [f.name for f in figure_set.figures if f.stem in stems]
    print(f"wrote {len(written)} files ({', '.join(names)}) to {Path(written[0]).parent}")
    return 0


def _draw_dataset(figure_set, args, options, command) -> int:
    """Simulate the models of the library set on images of ``--dataset``."""
    from experiments.datasets import DatasetError, DownloadError

    load = {k: options.pop(k) for k in _LOAD_OPTIONS}
    try:
        digits = figure_set.implementation.load(**load)
    except DownloadError as err:
        print(f"{command}: --download: {err}", file=sys.stderr)
        return 2
    except (FileNotFoundError, DatasetError) as err:
        print(f"{command}: --data-dir: {err}", file=sys.stderr)
        return 2
    t0 = time.time()
    try:
        written = figure_set.make(digits, Path(args.out), **options)
    except PermissionError as err:
        return _unwritable(command, err)
    models = {Path(p).stem for p in written}
    print(f"wrote {len(written)} files for {len(models)} models to {args.out} "
          f"in {time.time() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
