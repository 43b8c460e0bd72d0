"""Command line of the experiments: ``python -m experiments <protocol> [options]``.

Each protocol module provides ``add_arguments(parser)`` and ``main(args) -> int``; this
file only dispatches. ``python -m experiments <protocol> --help`` lists every option of a
protocol with its default. A protocol with sweeps (ei_ratio: ``rate``, ``noise``;
balanced_tuning: ``ablation``) runs one with ``--sweep NAME``.

Every error ends in one message on stderr (what happened and what to do; no
traceback) and an exit code:

2
    Errors in the configuration or the data (a field out of range, ``--epochs 0``, a
    data directory without the IDX files, ``--resume`` of a folder that is not a run or
    of a checkpoint of another architecture, an ``--out`` that is a file or cannot be
    made, a ``--scheduler`` that is no Dask address) and what the machine cannot give
    (``SNN_BUILD_CACHE`` naming a file or a folder that cannot be written; a network
    whose arrays need more memory than is available, with its size and the option to
    make smaller) stop the command before any run folder is made, anything compiled or
    any existing file changed. Faults during a run: a write that fails (a full disk, a
    results folder turned read-only: the file, the reason, the epoch and sample of the
    last checkpoint, and ``--resume RUN`` to go on once fixed), a Brian2 error while
    the network is built or compiled (its cause, and the build folder; Brian2's request
    to report a bug is left out).
3
    ``--device cuda`` on a machine without a GPU generates and compiles the protocol's
    CUDA code, then stops with one message that names the folder holding the compiled
    code.
130
    Ctrl-C. The message names the command that goes on: ``--resume RUN`` with the run's
    folder, the same command again for a sweep (its finished tasks are skipped), or the
    same command when nothing was trained yet.

A run folder that this command made and that holds no checkpoint yet is removed when
the command stops early, and the message says so; a folder given to ``--resume`` is
never removed (:mod:`experiments.stopped`).
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: Protocol name -> module (imported only when that protocol runs).
PROTOCOLS = {
    "balanced_tuning": ("experiments.balanced_tuning",
                        "balanced tuning (Zhang et al. 2018, interpreted): equilibrium, 80:20 "
                        "E/I, STP, teacher-tuned potentials and STDP"),
    "desire": ("experiments.desire",
               "desire backpropagation (Gerlinghoff et al. 2023): MNIST, Fashion-MNIST, digits"),
    "ei_ratio": ("experiments.ei_ratio",
                 "E:I ratio and robust training with e-prop (Kilgore et al. 2025)"),
    "plif": ("experiments.plif",
             "learnable membrane time constants, PLIF (Fang et al. 2021)"),
    "stl": ("experiments.stl",
            "learnable thresholds with the weights, STL (Sun et al. 2024)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m experiments",
        description="Train the protocols of this package inside compiled Brian2 networks.",
    )
    sub = parser.add_subparsers(dest="protocol", metavar="PROTOCOL", required=True)
    for name, (module_name, text) in PROTOCOLS.items():
        module = importlib.import_module(module_name)
        # Every option's help states its default itself (they depend on the preset).
        p = sub.add_parser(name, help=text, description=(module.__doc__ or "").split("\n")[0])
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv=None) -> int:
    from runs import NotARunError, ResultsPathError
    from experiments.protocol import ConfigurationError
    from experiments.resources import TooBigError
    from experiments.stopped import BuildError, describe, removal_note
    from runs.sweep import SweepError
    from models.devices import BuildCacheError, NoGPUError

    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    module = args._module
    try:
        return int(module.main(args) or 0)
    except (ConfigurationError, SweepError, NotARunError, ResultsPathError,
            BuildCacheError, TooBigError) as err:
        print(f"error: {err}{removal_note(err)}", file=sys.stderr)
        return 2
    except NoGPUError as err:
        print(f"error: {err}{removal_note(err)}", file=sys.stderr)
        return 3
    except (KeyboardInterrupt, OSError, BuildError) as err:
        # Ctrl-C, a write that failed (runs.RunWriteError), a Brian2 build error: one
        # message that says what was kept and how to go on (experiments/stopped.py).
        message, status = describe(err, args.protocol, argv, resume=args.resume,
                                   sweep=getattr(args, "sweep", None) is not None)
        print(message, file=sys.stderr)
        return status


if __name__ == "__main__":
    sys.exit(main())
