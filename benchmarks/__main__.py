"""Benchmarks of the package: ``python -m benchmarks [throughput|scaling|threads|sweep] [options]``.

Each benchmark writes ``<name>.json`` and its section of a ``RESULTS.md``, with the
machine, library versions and date, into a new folder
``benchmarks/runs/<name>-<UTC time>/`` (not tracked by git). ``--publish`` writes the
tracked ``benchmarks/measurements/<name>.json`` and the benchmark's section of
``benchmarks/RESULTS.md`` instead; ``--no-write`` prints only; ``--help`` after a name
lists its options. Nothing runs unless a benchmark is named: without a name this text
and the list of benchmarks are printed. The older single-protocol scripts
(``python -m benchmarks.desire_throughput``, ``.ei_ratio_throughput``) remain.
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings

#: Benchmark name -> module with ``main(argv) -> int``.
BENCHMARKS = {
    "throughput": "benchmarks.throughput",
    "scaling": "benchmarks.scaling",
    "threads": "benchmarks.threads",
    "sweep": "benchmarks.sweep_throughput",
}


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-"):
        print(__doc__.strip())
        print("\nbenchmarks: " + ", ".join(BENCHMARKS))
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    name = argv.pop(0)
    if name not in BENCHMARKS:
        print(f"error: unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}",
              file=sys.stderr)
        return 2
    # Brian2 2.8 uses pyparsing's deprecated names; the warning is noise here and in the
    # Dask workers, which inherit the environment. After importing Brian2, whose logger
    # installs its own warning filters.
    import brian2  # noqa: F401

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    os.environ.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning")
    return int(importlib.import_module(BENCHMARKS[name]).main(argv) or 0)


if __name__ == "__main__":
    sys.exit(main())
