"""tests/ mirrors the code: the test of a module is found from its path.

``tests/<package>/.../test_<name>.py`` tests the module ``<package>/.../<name>.py`` (or
the package ``<package>/.../<name>/``). Two folders mirror no package: ``tests/system/``
runs whole command lines, kills and resumes, notebooks and checks of the repository as
a whole; ``tests/references/`` holds the independent numpy references and, as
``test_<name>.py``, the tests of reference ``<name>.py``. Every module of the library
packages with more than :data:`MIN_LINES` lines has its test file at its mirrored path,
or is listed in :data:`TESTED_ELSEWHERE` with the tests that cover it. Every folder of
``tests/`` is a package, so that test files of the same name in different folders
(``tests/models/test_desire.py``, ``tests/experiments/test_desire.py``) do not clash.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The packages tests/ mirrors, and the ones whose every module needs a test file.
PACKAGES = ("runs", "models", "experiments", "analysis", "figures", "benchmarks")
LIBRARY = ("runs", "models", "experiments", "analysis")
#: Folders of tests/ that mirror no package.
SYSTEM, REFERENCES = "system", "references"
#: A module this long or shorter is trivial enough to go without a test file.
MIN_LINES = 40

#: Modules of LIBRARY with more than MIN_LINES lines and no test file of their own ->
#: the tests that cover them.
TESTED_ELSEWHERE = {
    "experiments/__main__.py": "the command line of every protocol: "
                               "tests/system/test_bad_input.py and each protocol's CLI tests",
    "experiments/options.py": "the options every protocol shares: wrong types and "
                              "out-of-range values in tests/system/test_bad_input.py",
}


def collected_test_files(tests: Path) -> list[str]:
    """Every file pytest collects under ``tests`` (its default ``test_*.py`` and
    ``*_test.py``), as a path relative to ``tests``."""
    found = {p for pattern in ("test_*.py", "*_test.py") for p in tests.rglob(pattern)}
    return sorted(str(p.relative_to(tests)) for p in found)


def module_named_by(test_file: str) -> str | None:
    """The module (``pkg/.../name.py``) a mirrored test file names, from its path alone;
    None where the name does not have the form ``test_<name>.py``."""
    path = Path(test_file)
    if not path.name.startswith("test_") or len(path.name) <= len("test_.py"):
        return None
    return str(path.parent / (path.name[len("test_"):]))


def misplaced_tests(root: Path, files: list[str], packages=PACKAGES) -> list[str]:
    """The test files (relative to ``root/tests``) whose path names no module: outside
    the folders of ``packages``, SYSTEM and REFERENCES, or ``test_<name>.py`` with no
    module ``<name>.py`` nor package ``<name>/`` at the mirrored place (for REFERENCES: no
    reference ``<name>.py`` beside it)."""
    bad = []
    for name in files:
        top = Path(name).parts[0]
        module = module_named_by(name)
        if top == SYSTEM and len(Path(name).parts) > 1:
            continue
        if module is None or len(Path(name).parts) == 1:
            bad.append(name)
        elif top == REFERENCES:
            if not (root / "tests" / module).is_file():
                bad.append(name)
        elif top not in packages:
            bad.append(name)
        elif not ((root / module).is_file()
                  or (root / module).with_suffix("").joinpath("__init__.py").is_file()):
            bad.append(name)
    return bad


def modules(root: Path, packages, min_lines: int = MIN_LINES) -> list[str]:
    """The modules of ``packages`` (``__init__.py`` left out: a package's tests are its
    folder) with more than ``min_lines`` lines, relative to ``root``."""
    found = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            if path.name != "__init__.py" and len(path.read_text().splitlines()) > min_lines:
                found.append(str(path.relative_to(root)))
    return found


def mirrored_test(module: str) -> str:
    """``tests/pkg/.../test_<name>.py`` for the module ``pkg/.../<name>.py``."""
    path = Path(module)
    return str(Path("tests") / path.parent / f"test_{path.name}")


def untested_modules(root: Path, packages=LIBRARY, exceptions=TESTED_ELSEWHERE,
                     min_lines: int = MIN_LINES) -> list[str]:
    """The modules of ``packages`` longer than ``min_lines`` lines with no test file at
    their mirrored path and no entry in ``exceptions``."""
    return [m for m in modules(root, packages, min_lines)
            if m not in exceptions and not (root / mirrored_test(m)).is_file()]


def stale_exceptions(root: Path, exceptions=TESTED_ELSEWHERE,
                     min_lines: int = MIN_LINES) -> list[str]:
    """Entries of ``exceptions`` that are not needed: the module is gone, is short, or
    has its mirrored test file now."""
    return [m for m in exceptions
            if not (root / m).is_file()
            or len((root / m).read_text().splitlines()) <= min_lines
            or (root / mirrored_test(m)).is_file()]


def folders_without_init(tests: Path) -> list[str]:
    """Folders of ``tests`` (itself included) holding Python files but no ``__init__.py``."""
    folders = {p.parent for p in tests.rglob("*.py")} | {tests}
    return sorted(str(f.relative_to(tests.parent)) for f in folders
                  if "__pycache__" not in f.parts and not (f / "__init__.py").is_file())


# --------------------------------------------------------------------------------------
# The repository
# --------------------------------------------------------------------------------------


def test_every_test_file_names_the_module_it_tests():
    files = collected_test_files(ROOT / "tests")
    assert len(files) > 30  # a checker that reads nothing passes everything
    assert misplaced_tests(ROOT, files) == []


def test_every_library_module_has_its_test_file():
    assert untested_modules(ROOT) == []


def test_every_listed_exception_is_still_needed():
    assert stale_exceptions(ROOT) == []


def test_every_test_folder_is_a_package():
    assert folders_without_init(ROOT / "tests") == []


# --------------------------------------------------------------------------------------
# The checks on a planted tree
# --------------------------------------------------------------------------------------


def _plant(root: Path, files: dict) -> None:
    for name, lines in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n" * lines)


def test_the_checks_report_planted_misplaced_and_missing_tests(tmp_path):
    _plant(tmp_path, {
        "models/__init__.py": 0, "models/neurons.py": 50, "models/short.py": 40,
        "models/devices/__init__.py": 200, "models/devices/cache.py": 50,
        "experiments/__init__.py": 0, "experiments/__main__.py": 60,
        "experiments/desire.py": 60,
        "tests/__init__.py": 0, "tests/conftest.py": 5,
        "tests/models/__init__.py": 0,
        "tests/models/test_neurons.py": 1,          # mirrors models/neurons.py
        "tests/models/test_devices.py": 1,          # the package models/devices/
        "tests/models/test_neuron.py": 1,           # no module models/neuron.py
        "tests/models/neurons_test.py": 1,          # pytest collects it: wrong name
        "tests/test_neurons.py": 1,                 # not in the package's folder
        "tests/experiments/test_neurons.py": 1,     # in another package's folder
        "tests/experiments/test___main__.py": 1,    # mirrors experiments/__main__.py
        "tests/plots/test_neurons.py": 1,           # no package plots
        "tests/system/test_anything.py": 1,         # system tests mirror nothing
        "tests/references/desire.py": 1,
        "tests/references/test_desire.py": 1,       # tests the reference beside it
        "tests/references/test_eprop.py": 1,        # no reference eprop.py
    })
    files = collected_test_files(tmp_path / "tests")
    assert misplaced_tests(tmp_path, files, packages=("models", "experiments")) == [
        "experiments/test_neurons.py", "models/neurons_test.py", "models/test_neuron.py",
        "plots/test_neurons.py", "references/test_eprop.py", "test_neurons.py"]
    # __init__.py files are the package's folder; short modules need no test file
    assert untested_modules(tmp_path, ("models", "experiments"), exceptions={}) == [
        "models/devices/cache.py", "experiments/desire.py"]
    listed = {"experiments/desire.py": "tested by the CLI tests",
              "experiments/__main__.py": "has its own test file: not needed",
              "models/short.py": "40 lines: not needed",
              "models/gone.py": "no such module"}
    assert untested_modules(tmp_path, ("models", "experiments"), listed) == [
        "models/devices/cache.py"]
    assert stale_exceptions(tmp_path, listed) == [
        "experiments/__main__.py", "models/short.py", "models/gone.py"]
    assert folders_without_init(tmp_path / "tests") == [
        "tests/experiments", "tests/plots", "tests/references", "tests/system"]
