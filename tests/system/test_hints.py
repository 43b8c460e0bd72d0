"""Every hint the package prints names something that exists.

Each string literal of the package (docstrings, messages, help texts; the constant parts
of f-strings, a placeholder for each formatted value) is searched for

* commands ``python -m MODULE [SUBCOMMAND] [--option ...]`` of this package: the module
  must have a command line, the subcommand must be one of its subcommands, and every
  option that follows on the same line (up to a closing backquote) must exist on that
  command, checked against the real parsers (``experiments.__main__.build_parser``,
  ``figures.__main__._parser``, each benchmark's own parser);
* bare options ``--name`` elsewhere in the string: they must exist on the command of
  the module the string is in (``experiments/desire.py``: ``python -m experiments
  desire``; ``figures/*``: ``python -m figures``; ``benchmarks/scaling.py``: that
  benchmark), or, in a module shared by several commands, on at least one command;
* ``make TARGET`` in code markup (backquotes): the target must be in the Makefile.

Options are compared exactly (argparse would also accept an abbreviation, a hint should
not rely on that). What is not a hint of ours is listed in :data:`NOT_HINTS`, each with
its reason.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("runs", "models", "experiments", "analysis", "figures", "benchmarks")

#: ``(file, text)`` of strings that look like hints of ours but are not, with why.
NOT_HINTS = {
    ("models/devices/compiled.py", "make clean"):
        "the target of the makefile Brian2 generates for a standalone project, not ours",
    ("runs/sweep.py", "--nthreads"):
        "an option of `dask worker` (external Dask workers), in a sentence about them that "
        "does not name the command",
}

#: Modules run with ``python -m`` that are not ours (their options are not checked).
FOREIGN_MODULES = {"pytest", "pip", "http.server", "venv", "jupyter", "nbconvert",
                   "ipykernel", "cProfile", "brian2", "dask", "distributed", "snakeviz"}

#: The placeholder a formatted value of an f-string becomes.
HOLE = "{}"

_COMMAND = re.compile(r"python3? -m ([A-Za-z_][\w.]*)")
#: Other programs named in strings (their options are theirs): up to the end of the line
#: or a closing backquote. ``exe``: the placeholder of an executable.
_FOREIGN_COMMAND = re.compile(r"(?<![\w-])(dask worker|dask scheduler|nvcc|g\+\+|exe|git)\b"
                              r"[^`\n]*")
_OPTION = re.compile(r"(?<![\w-])--[a-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*")
#: A string that is one option and nothing else: an element of an argument list (ours
#: defined with ``add_argument``, or a program's run with ``subprocess``), not a hint.
_ARGV_ELEMENT = re.compile(r"^--[\w-]+(=\S*)?$")
_MAKE = re.compile(r"`+make ([\w-]+)`+")
#: Words that stand for a subcommand in a hint (``python -m experiments PROTOCOL``).
_PLACEHOLDER = re.compile(r"^(\{\}|<[^>]*>?|[A-Z][A-Z_]*|\.\.\.|\[.*)$")


# ======================================================================================
# The real command lines
# ======================================================================================


class _Captured(Exception):
    def __init__(self, parser):
        self.parser = parser


def _parser_of(main) -> argparse.ArgumentParser:
    """The parser a ``main(argv)`` builds: captured when it parses."""
    original = argparse.ArgumentParser.parse_args

    def capture(self, *args, **kwargs):
        raise _Captured(self)

    argparse.ArgumentParser.parse_args = capture
    try:
        main([])
    except _Captured as captured:
        return captured.parser
    finally:
        argparse.ArgumentParser.parse_args = original
    raise AssertionError(f"{main} parsed no arguments")


def _options(parser: argparse.ArgumentParser) -> set:
    return set(parser._option_string_actions)


def _subparsers(parser: argparse.ArgumentParser) -> dict:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _commands() -> dict:
    """``{module: {subcommand or None: set of options}}`` of every command line of the
    package (``None``: the module's own options)."""
    from analysis.__main__ import build_parser as analysis_parser
    from benchmarks.__main__ import BENCHMARKS
    from experiments.__main__ import build_parser
    from figures.__main__ import _parser

    commands = {}
    for module, parser in (("experiments", build_parser()), ("figures", _parser()),
                           ("analysis", analysis_parser())):
        commands[module] = {None: _options(parser)}
        commands[module].update({name: _options(sub)
                                 for name, sub in _subparsers(parser).items()})
    commands["benchmarks"] = {None: {"-h", "--help"}}
    for name, module_name in BENCHMARKS.items():
        parser = _parser_of(importlib.import_module(module_name).main)
        commands["benchmarks"][name] = _options(parser)
    for script in ("desire_throughput", "ei_ratio_throughput"):
        module_name = f"benchmarks.{script}"
        commands[module_name] = {None: _options(
            _parser_of(importlib.import_module(module_name).main))}
    return commands


COMMANDS = _commands()
MAKE_TARGETS = set(re.findall(r"^([\w-]+):", (REPO / "Makefile").read_text(), re.M))


# ======================================================================================
# The strings of the package
# ======================================================================================


def _text(node) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else HOLE for v in node.values)
    return None


def _strings():
    """``(file, line, text)`` of every string literal of the package (f-strings whole,
    not their parts again)."""
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            inner = {id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)
                     for v in node.values}
            for node in ast.walk(tree):
                text = _text(node)
                if text is not None and id(node) not in inner:
                    yield str(path.relative_to(REPO)), node.lineno, text


def _owner(file: str) -> tuple:
    """``(module, subcommands)`` whose options a bare option in ``file`` must be among:
    the command the file belongs to, or ``(None, ())`` for a module shared by several."""
    parts = Path(file).with_suffix("").parts
    package, name = parts[0], parts[-1]
    if package == "experiments":
        if name in ("neuron_parameters", "plif", "stl"):
            return "experiments", ("plif", "stl")
        if name in COMMANDS["experiments"]:
            return "experiments", (name,)
    if package == "figures" and len(parts) == 2:
        return "figures", tuple(COMMANDS["figures"])
    if package == "benchmarks":
        if name in COMMANDS["benchmarks"]:
            return "benchmarks", (name,)
        if f"benchmarks.{name}" in COMMANDS:
            return f"benchmarks.{name}", (None,)
        sweep_throughput = {"sweep_throughput": "sweep"}.get(name)
        if sweep_throughput:
            return "benchmarks", (sweep_throughput,)
    return None, ()


def _options_of(module: str, subcommands) -> set:
    found = set()
    for sub in subcommands:
        found |= COMMANDS[module].get(sub, set()) | COMMANDS[module][None]
    return found


def _every_option() -> set:
    return {option for subs in COMMANDS.values() for options in subs.values()
            for option in options}


def _check(file: str, text: str) -> list:
    """The problems of one string: what it names that does not exist."""
    problems = []
    if _ARGV_ELEMENT.match(text):
        return problems
    text = _FOREIGN_COMMAND.sub("", text)
    outside = []  # the parts of the string outside command lines
    position = 0
    for match in _COMMAND.finditer(text):
        outside.append(text[position:match.start()])
        module = match.group(1).rstrip(".")
        rest = text[match.end():]
        segment = re.split(r"`|\n", rest, maxsplit=1)[0]
        position = match.end() + len(segment)
        if module.split(".")[0] in FOREIGN_MODULES or module in FOREIGN_MODULES:
            continue
        if module not in COMMANDS:
            problems.append(f"'python -m {module}': no such command line")
            continue
        words = segment.split()
        subs = COMMANDS[module]
        if len(subs) > 1 and words and not words[0].startswith("-"):
            word = words[0].strip(".,;:)'\"")
            if word in subs:
                scope = (word,)
            elif _PLACEHOLDER.match(word) or HOLE in word:
                scope = tuple(s for s in subs if s is not None)
            else:
                problems.append(f"'python -m {module} {word}': no such subcommand "
                                f"(choose from {', '.join(s for s in subs if s)})")
                continue
        else:
            scope = (None,)
        for option in _OPTION.findall(segment):
            if not any(option in _options_of(module, (s,)) for s in scope):
                where = " ".join(filter(None, (module, *(s for s in scope if len(scope) == 1))))
                problems.append(f"'{option}' is not an option of 'python -m {where}'")
    outside.append(text[position:])
    owner, scope = _owner(file)
    known = _options_of(owner, scope) if owner else _every_option()
    for option in _OPTION.findall("\n".join(outside)):
        if option not in known and (file, option) not in NOT_HINTS:
            where = f"'python -m {owner}'" if owner else "any command of the package"
            problems.append(f"'{option}' is not an option of {where}")
    for target in _MAKE.findall(text):
        if (file, f"make {target}") in NOT_HINTS:
            continue
        if target not in MAKE_TARGETS:
            problems.append(f"'make {target}': no such target in the Makefile")
    return problems


STRINGS = list(_strings())


def test_the_scan_sees_the_hints():
    """The search finds the package's hints (a broken regex would pass everything)."""
    texts = "\n".join(text for _, _, text in STRINGS)
    assert "python -m experiments" in texts and "--download" in texts
    assert _check("experiments/desire.py", "python -m experiments desire --no-such") != []
    assert _check("experiments/desire.py", "python -m experiments nope --preset") != []
    assert _check("experiments/desire.py", "set --no-such") != []
    assert _check("experiments/desire.py", "``make nope``") != []
    assert _check("runs/folder.py", "python -m runs RUN") != []
    assert _check("runs/sweep.py", "workers with `dask worker <a> --nthreads 1` and --nope") \
        == ["'--nope' is not an option of any command of the package"]
    assert _check("experiments/desire.py",
                  f"python -m experiments {HOLE} --resume RUN --download") == []
    assert _check("figures/library.py", "python -m figures library --dataset mnist") == []


def test_every_hint_names_what_exists():
    problems = [f"{file}:{line}: {problem}" for file, line, text in STRINGS
                for problem in _check(file, text)]
    assert not problems, "hints that name what does not exist:\n" + "\n".join(problems)
