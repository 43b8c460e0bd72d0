"""``python -m analysis RUN [RUN ...]``: the analysis report of runs' spike recordings.

Writes ``<out>/<run-id>/report.json`` and ``report.md`` per run (default ``out``:
``RUN/analysis``), with ``--nix`` the recorded spikes to ``<run-id>-epoch-NNNN.nix``
beside them, and, for several runs, a side-by-side ``report.md`` in ``--out``. The
metrics are those of :mod:`analysis.report`. Errors a user can cause print one line
``error: ...`` and exit 2; Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analysis",
        description="Firing, variability, synchrony and distance metrics of the spike "
                    "recordings of one or more runs (recordings/spikes-epoch-NNNN.npz).")
    parser.add_argument("runs", nargs="+", metavar="RUN", help="run folder(s)")
    parser.add_argument("--epoch", type=int, default=None,
                        help="recorded epoch to analyse (default: the last recorded; 0 is "
                             "before training, compared with where recorded)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder: reports go to OUT/<run-id>/ (default: "
                             "RUN/analysis/<run-id>/); with several runs, OUT/report.md "
                             "compares them (default: the current folder)")
    parser.add_argument("--nix", action="store_true",
                        help="also write the recorded spikes of the epoch to a NIX file")
    parser.add_argument("--tau-ms", type=float, default=None,
                        help="van Rossum time constant in ms (default: one time step)")
    parser.add_argument("--no-progress", action="store_true", help="no progress lines")
    return parser


def _check_nix(path: Path, segments_expected: int) -> None:
    """Read the NIX file back with neo: it must hold every image."""
    from neo.io import NixIO

    with NixIO(str(path), mode="ro") as io:
        block = io.read_block()
    if len(block.segments) != segments_expected:
        raise OSError(f"the NIX file '{path}' read back holds {len(block.segments)} images, "
                      f"not {segments_expected}")


def run(args) -> int:
    from analysis import report as rep
    from analysis.recording import RecordingError

    def progress(line):
        if not args.no_progress:
            print(f"[analysis] {line}", file=sys.stderr, flush=True)

    reports = []
    try:
        for path in args.runs:
            path = Path(path)
            started = time.perf_counter()
            progress(f"{path}: reading recordings")
            result = rep.run_report(path, args.epoch, args.tau_ms, progress=progress)
            base = args.out if args.out is not None else path / "analysis"
            out = rep.write_report(result, base / result["run_id"])
            if args.nix:
                cells = sum(p["cells"] for p in result["metrics"]["populations"].values())
                # NixIO writes every train as its own object: minutes for large recordings
                progress(f"{path}: writing NIX file ({cells * result['metrics']['n_images']} "
                         "spike trains; NixIO takes minutes for large recordings)")
                nix = rep.export_run_nix(path, result["epoch"],
                                         out / f"{result['run_id']}-epoch-{result['epoch']:04d}.nix")
                _check_nix(nix, result["metrics"]["n_images"])
            progress(f"{path}: report in {out} ({time.perf_counter() - started:.0f} s)")
            print(out / "report.md")
            reports.append(result)
        if len(reports) > 1:
            out = args.out if args.out is not None else Path(".")
            out.mkdir(parents=True, exist_ok=True)
            (out / "report.md").write_text(rep.comparison_table(reports))
            print(out / "report.md")
    except RecordingError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"error: cannot write the report: {err}. Choose a writable folder with --out.",
              file=sys.stderr)
        return 2
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except KeyboardInterrupt:
        print("error: interrupted; nothing of the report being written is complete, run "
              "the command again", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
