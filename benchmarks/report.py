"""Where benchmark figures go: a JSON file per benchmark and a section of RESULTS.md.

Every benchmark writes its raw measurements, ``<name>.json``, together with the machine
it ran on (CPU model, cores, load average before and after), the library versions and
the date (:func:`machine_description`), and its section of ``RESULTS.md``, delimited by
HTML comments (``<!-- benchmark:<name> -->`` ... ``<!-- /benchmark:<name> -->``), into a
new folder ``benchmarks/runs/<name>-<UTC stamp>/`` (not tracked by git). Only with
``--publish`` (:func:`publish` with ``tracked=True``) does it write the tracked files
instead: ``benchmarks/measurements/<name>.json`` and its own section of
``benchmarks/RESULTS.md``, leaving the rest of that file, which is written by hand, as
it is. ``--no-write`` prints only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from runs import atomic_write_text, provenance

__all__ = ["BENCHMARKS", "RESULTS", "argument_parser", "machine_description", "cpu_model",
           "write_json", "write_section", "markdown_table", "run_folder", "publish"]

BENCHMARKS = Path(__file__).resolve().parent
RESULTS = BENCHMARKS / "RESULTS.md"
MEASUREMENTS = BENCHMARKS / "measurements"
#: Folders of runs that were not published (gitignored).
RUNS = BENCHMARKS / "runs"


def argument_parser(name: str, doc: str) -> argparse.ArgumentParser:
    """The command line of ``python -m benchmarks <name>``: described by the first
    paragraph of ``doc`` (the benchmark's module docstring), with ``--publish`` and
    ``--no-write``."""
    parser = argparse.ArgumentParser(prog=f"python -m benchmarks {name}",
                                     description=doc.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--publish", action="store_true",
                       help="write the tracked benchmarks/measurements/<name>.json and the "
                            "benchmark's section of benchmarks/RESULTS.md; default: a new "
                            "folder benchmarks/runs/<name>-<UTC time>/")
    where.add_argument("--no-write", action="store_true", help="print only; write nothing")
    return parser


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_description() -> dict:
    """Machine, versions and date of a measurement (:func:`runs.provenance`
    plus the CPU model, compiler, memory and load average)."""
    from models.devices import compiler_version

    info = provenance()
    info.pop("command", None)
    info.pop("device", None)
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        info["memory_gib"] = round(pages / 2 ** 30, 1)
    except (ValueError, OSError):
        pass
    info.update(cpu_model=cpu_model(), compiler=compiler_version(), load_average=os.getloadavg(),
                date=time.strftime("%Y-%m-%d %H:%M %Z"))
    return info


def write_json(name: str, payload: dict, directory: Path = MEASUREMENTS) -> Path:
    """``directory/<name>.json``, written atomically."""
    path = Path(directory) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(path, json.dumps(payload, indent=2, default=float) + "\n")


def write_section(name: str, markdown: str, path: Path = RESULTS) -> Path:
    """Replace the section ``name`` of ``path`` (appended when it is not there yet)."""
    start, end = f"<!-- benchmark:{name} -->", f"<!-- /benchmark:{name} -->"
    block = f"{start}\n{markdown.strip()}\n{end}"
    path = Path(path)
    text = path.read_text() if path.exists() else ""
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + block + "\n"
    return atomic_write_text(path, text)


def machine_line(machine: dict) -> str:
    """One sentence: where and with what a section's numbers were measured."""
    load = ", ".join(f"{x:.2f}" for x in machine.get("load_average", ())[:1])
    return (f"Measured {machine['date']} on {machine['cpu_model']} ({machine['cpu_count']} "
            f"cores, {machine.get('memory_gib', '?')} GiB), {machine['platform']}; Python "
            f"{machine['python']}, Brian2 {machine['brian2']}, numpy {machine['numpy']}, "
            f"{machine.get('compiler') or 'no g++'}; commit {str(machine['git_commit'])[:7]}"
            f"{' (with local changes)' if machine.get('git_dirty') else ''}; load average "
            f"{load} at the start.")


def markdown_table(header: list, rows: list) -> str:
    """A GitHub table; numbers right-aligned."""
    def cell(x):
        if isinstance(x, float):
            return f"{x:,.1f}" if abs(x) >= 10 else f"{x:.3g}"
        return "-" if x is None else f"{x:,}" if isinstance(x, int) else str(x)
    numeric = [all(isinstance(r[k], (int, float)) or r[k] is None for r in rows)
               for k in range(len(header))]
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(cell(x) for x in row) + " |" for row in rows]
    return "\n".join(lines)


def run_folder(name: str, runs: Path = RUNS) -> Path:
    """A new folder ``runs/<name>-<UTC stamp>`` (``-2``, ``-3`` ... when taken)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    runs = Path(runs)
    runs.mkdir(parents=True, exist_ok=True)
    for k in range(1, 1000):
        path = runs / (f"{name}-{stamp}" + (f"-{k}" if k > 1 else ""))
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free folder for {name}-{stamp} under {runs}")


def publish(name: str, payload: dict, markdown: str, *, tracked: bool = False,
            runs: Path = RUNS) -> str:
    """Write ``<name>.json`` and the ``<name>`` section of a RESULTS.md: into a new
    folder under ``runs`` (:func:`run_folder`), or with ``tracked`` into
    ``measurements/`` and ``benchmarks/RESULTS.md``; returns the line that says where
    they went."""
    if tracked:
        return f"written to {write_json(name, payload)} and {write_section(name, markdown)}"
    folder = run_folder(name, runs)
    write_json(name, payload, folder)
    write_section(name, markdown, folder / "RESULTS.md")
    return (f"written to {folder}/ ({name}.json, RESULTS.md); --publish writes "
            "benchmarks/measurements/ and benchmarks/RESULTS.md")
