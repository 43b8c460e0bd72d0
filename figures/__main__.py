"""Command line for the figure scripts: ``python -m figures <name> [options]``.

``library``: one figure per model of the library, simulated on digits
(``make demo`` runs it until the protocols have quick presets).
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
    args = parser.parse_args(argv)

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


if __name__ == "__main__":
    sys.exit(main())
