"""Command line for the figure scripts: ``python -m figures <name> [options]``.

``library``: one figure per model of the library, simulated on digits.
``desire``: the figures of a desire-backpropagation run, from its results folder.
``ei_ratio``: the figures of E:I-ratio sweeps, from their sweep folders.
``plif``: the figures of PLIF runs (learned membrane time constants), from their run
folders or folders of runs (``results/plif``).
``stl``: the figures of STL runs (learned thresholds), from their run folders or
folders of runs (``results/stl``).
``balanced_tuning``: the figures of balanced-tuning runs (equilibrium, STP, rates,
consolidation, ablations), from their run folders, folders of runs
(``results/balanced_tuning``) or ablation sweep folders (``results/balanced_tuning_ablation``).
"""

import argparse
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m figures", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="figure", required=True)
    lib = sub.add_parser("library", help="one figure per neuron and synapse model")
    lib.add_argument("--dataset", default="digits", choices=["digits", "mnist", "fashion-mnist"],
                     help="images that drive the models (default: the embedded digits)")
    lib.add_argument("--data-dir", default=None, help="directory with the IDX files (MNIST)")
    lib.add_argument("--samples", type=int, default=3, help="digits shown back to back")
    lib.add_argument("--only", nargs="*", default=None, help="subset of model names")
    lib.add_argument("--out", default="figures/out", help="output directory")
    lib.add_argument("--seed", type=int, default=0, help="seed of the Poisson inputs")
    des = sub.add_parser("desire", help="figures of a desire backpropagation run",
                         description="Accuracy, output rasters, layer errors and firing "
                                     "rates per class of a desire backpropagation run.")
    des.add_argument("run", metavar="RUN",
                     help="results folder of the run (results/desire/<run-id>), or a folder "
                          "of runs such as results/desire (the newest run is used)")
    des.add_argument("--out", default=None,
                     help="output directory; default: RUN/figures")
    des.add_argument("--epoch", type=int, default=None,
                     help="epoch of the output rasters; default: the last one")
    eir = sub.add_parser("ei_ratio", help="figures of E:I-ratio sweeps (Kilgore et al. 2025)",
                         description="Peak accuracy vs initial rate, accuracy vs weight noise, "
                                     "van Rossum distances and the excitatory share of spikes "
                                     "of E:I-ratio sweeps; each figure only where the sweeps "
                                     "hold its data.")
    eir.add_argument("sweeps", metavar="SWEEP", nargs="+",
                     help="folder of a sweep (<root>/<name>, with summary.jsonl), e.g. "
                          "results/ei_rate results/ei_noise; the figures combine them")
    eir.add_argument("--out", default=None,
                     help="output directory; default: SWEEP/figures for one sweep, "
                          "<common parent>/figures for several")
    for study, title, what in (
            ("plif", "figures of PLIF runs (Fang et al. 2021)",
             "Accuracy per epoch of PLIF and LIF runs, and the learned membrane time "
             "constant per layer of the PLIF runs."),
            ("stl", "figures of STL runs (Sun et al. 2024)",
             "Accuracy per epoch of STL, SL and TL runs, threshold histograms before and "
             "after training, firing rates per layer, accuracy under input noise and "
             "synaptic operations against the ANN's MACs.")):
        p = sub.add_parser(study, help=title,
                           description=what + " Each figure only where the runs hold its "
                                              "data.")
        p.add_argument("runs", metavar="RUN", nargs="+",
                       help=f"results folder of a run (results/{study}/<run-id>) or a folder "
                            f"of runs such as results/{study}; the figures combine them")
        p.add_argument("--out", default=None,
                       help="output directory; default: RUN/figures for one RUN, "
                            "<common parent>/figures for several")
    bal = sub.add_parser("balanced_tuning",
                         help="figures of balanced-tuning runs (Zhang et al. 2018, "
                              "interpreted)",
                         description="Membrane-potential change during equilibrium "
                                     "learning, short-term plasticity of the input, hidden "
                                     "E/I rates per epoch, the consolidation curve and the "
                                     "ablations' final accuracy. Each figure only where the "
                                     "runs hold its data.")
    bal.add_argument("runs", metavar="RUN", nargs="+",
                     help="results folder of a run (results/balanced_tuning/<run-id>), a "
                          "folder of runs such as results/balanced_tuning, or an ablation "
                          "sweep folder such as results/balanced_tuning_ablation; the "
                          "figures combine them")
    bal.add_argument("--out", default=None,
                     help="output directory; default: RUN/figures for one RUN, "
                          "<common parent>/figures for several")
    args = parser.parse_args(argv)
    if args.out is not None:
        problem = _out_problem(Path(args.out))
        if problem:
            print(f"python -m figures {args.figure}: {problem}", file=sys.stderr)
            return 2

    if args.figure == "desire":
        return _desire(args)
    if args.figure == "ei_ratio":
        return _ei_ratio(args)
    if args.figure in ("plif", "stl"):
        return _neuron_parameters(args)
    if args.figure == "balanced_tuning":
        return _balanced_tuning(args)
    if args.samples < 1:
        parser.error(f"--samples must be a positive integer; got {args.samples}")
    from brian2 import prefs, seed, set_device

    from experiments.datasets import DatasetError, load_dataset
    from figures.library import make_library_figures

    # Small networks, many of them: Brian2's runtime mode avoids a C++ build
    # per figure (the compiled targets are exercised by the tests).
    set_device("runtime")
    prefs.codegen.target = "numpy"
    seed(args.seed)
    kwargs = {} if args.dataset == "digits" else {"data_dir": args.data_dir}
    try:
        splits = load_dataset(args.dataset, **kwargs)
    except (FileNotFoundError, DatasetError) as err:
        print(f"python -m figures library: --data-dir: {err}", file=sys.stderr)
        return 2
    data = splits.train
    images, labels = data.images[: args.samples], data.labels[: args.samples]
    t0 = time.time()
    try:
        written = make_library_figures(images, labels, Path(args.out), args.only)
    except PermissionError as err:
        return _unwritable("python -m figures library", err)
    n_files = sum(len(v) for v in written.values())
    print(f"wrote {n_files} files for {len(written)} models to {args.out} "
          f"in {time.time() - t0:.1f} s")
    return 0


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


def _desire(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from runs import NotARunError
    from figures.desire import make_desire_figures

    try:
        written = make_desire_figures(args.run, args.out, epoch=args.epoch)
    except (NotARunError, ValueError, FileNotFoundError) as err:
        print(f"python -m figures desire: {err}", file=sys.stderr)
        return 2
    except PermissionError as err:
        return _unwritable("python -m figures desire", err)
    folder = Path(written["accuracy"][0]).parent
    print(f"wrote {sum(len(v) for v in written.values())} files "
          f"({', '.join(written)}) to {folder}")
    return 0


def _ei_ratio(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from figures.ei_ratio import NotASweepError, make_ei_ratio_figures

    try:
        written, skipped = make_ei_ratio_figures(args.sweeps, args.out)
    except (NotASweepError, ValueError, FileNotFoundError) as err:
        print(f"python -m figures ei_ratio: {err}", file=sys.stderr)
        return 2
    except PermissionError as err:
        return _unwritable("python -m figures ei_ratio", err)
    for name, reason in skipped.items():
        print(f"skipped {name}: {reason}")
    if not written:
        print("python -m figures ei_ratio: no figure could be drawn from "
              f"{', '.join(args.sweeps)}", file=sys.stderr)
        return 2
    folder = Path(next(iter(written.values()))[0]).parent
    print(f"wrote {sum(len(v) for v in written.values())} files "
          f"({', '.join(written)}) to {folder}")
    return 0


def _neuron_parameters(args) -> int:
    if args.figure == "plif":
        from figures.plif import make_plif_figures as make
    else:
        from figures.stl import make_stl_figures as make
    return _run_figures(args, make)


def _balanced_tuning(args) -> int:
    from figures import balanced_tuning as figs

    def make(paths, out):
        runs = figs.load_runs(paths)
        skipped = {name: reason for name in figs.FIGURES
                   if (reason := figs.skip_reason(name, runs)) is not None}
        files = figs.make_balanced_tuning_figures(paths, out)
        written = {name: [f for f in files if Path(f).stem.endswith(f"_{name}")]
                   for name in figs.FIGURES if name not in skipped}
        return {name: v for name, v in written.items() if v}, skipped

    return _run_figures(args, make)


def _run_figures(args, make) -> int:
    """Draw the figures of ``args.runs`` with ``make(paths, out) -> (written, skipped)``
    (``{figure: [files]}``, ``{figure: reason}``); exit status 2 on bad folders or when
    nothing could be drawn."""
    import matplotlib

    matplotlib.use("Agg")
    from runs import NotARunError

    command = f"python -m figures {args.figure}"
    try:
        written, skipped = make(args.runs, args.out)
    except (NotARunError, ValueError, FileNotFoundError) as err:
        print(f"{command}: {err}", file=sys.stderr)
        return 2
    except PermissionError as err:
        return _unwritable(command, err)
    for name, reason in skipped.items():
        print(f"skipped {name}: {reason}")
    if not written:
        print(f"{command}: no figure could be drawn from {', '.join(args.runs)}",
              file=sys.stderr)
        return 2
    folder = Path(next(iter(written.values()))[0]).parent
    print(f"wrote {sum(len(v) for v in written.values())} files "
          f"({', '.join(written)}) to {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
