"""Command line for the figure scripts: ``python -m figures <name> [options]``.

``library``: one figure per model of the library, simulated on digits.
``desire``: the figures of a desire-backpropagation run, from its results folder.
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
    args = parser.parse_args(argv)

    if args.figure == "desire":
        return _desire(args)
    if args.samples < 1:
        parser.error(f"--samples must be a positive integer; got {args.samples}")
    from brian2 import prefs, seed, set_device

    from experiments.datasets import load_dataset
    from figures.library import make_library_figures

    # Small networks, many of them: Brian2's runtime mode avoids a C++ build
    # per figure (the compiled targets are exercised by the tests).
    set_device("runtime")
    prefs.codegen.target = "numpy"
    seed(args.seed)
    kwargs = {} if args.dataset == "digits" else {"data_dir": args.data_dir}
    splits = load_dataset(args.dataset, **kwargs)
    data = splits.train
    images, labels = data.images[: args.samples], data.labels[: args.samples]
    t0 = time.time()
    written = make_library_figures(images, labels, Path(args.out), args.only)
    n_files = sum(len(v) for v in written.values())
    print(f"wrote {n_files} files for {len(written)} models to {args.out} "
          f"in {time.time() - t0:.1f} s")
    return 0


def _desire(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from experiments.results import NotARunError
    from figures.desire import make_desire_figures

    try:
        written = make_desire_figures(args.run, args.out, epoch=args.epoch)
    except (NotARunError, ValueError, FileNotFoundError) as err:
        print(f"python -m figures desire: {err}", file=sys.stderr)
        return 2
    folder = Path(written["accuracy"][0]).parent
    print(f"wrote {sum(len(v) for v in written.values())} files "
          f"({', '.join(written)}) to {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
