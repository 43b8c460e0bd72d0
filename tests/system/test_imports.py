"""The package's import graph: no circles, and lower layers never import higher ones.

Layers, bottom to top: ``runs`` <- ``models``, ``analysis`` <- ``experiments`` <-
``figures``, ``benchmarks``. The graph is read from the source with :mod:`ast`, not by
importing: relative imports are resolved, and imports inside functions count (a
deferred import is still a dependency, only a later one). ``from pkg import name``
depends on the module ``pkg.name`` when there is one, on ``pkg`` otherwise.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("runs", "models", "experiments", "analysis", "figures", "benchmarks")

#: Package -> the packages it must not import.
FORBIDDEN = {
    "runs": set(PACKAGES) - {"runs"},
    "models": {"experiments", "figures", "benchmarks"},
    "analysis": {"experiments", "figures", "benchmarks"},
    "experiments": {"figures", "benchmarks"},
}


def module_files(root: Path, packages) -> dict:
    """Dotted module name -> source file, for every ``.py`` file of ``packages``."""
    found = {}
    for package in packages:
        for path in sorted((Path(root) / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def import_graph(root: Path, packages) -> dict:
    """Module -> {imported module of ``packages``: line of its first import}."""
    files = module_files(root, packages)

    def owner(dotted):
        # the module that defines ``dotted``: itself, or the nearest enclosing one
        while dotted and dotted not in files:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    graph = {}
    for name, path in files.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = {}
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets = [owner(alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = here.split(".")[:len(here.split(".")) - (node.level - 1)]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                targets = [owner(f"{base}.{alias.name}") if f"{base}.{alias.name}" in files
                           else owner(base) for alias in node.names]
            else:
                continue
            for target in targets:
                if target is not None and target != name:
                    edges.setdefault(target, node.lineno)
        graph[name] = edges
    return graph


def circles(graph: dict) -> list:
    """The import circles: strongly connected components of more than one module
    (Tarjan's algorithm), each sorted, in sorted order."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(module):
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in graph.get(module, ()):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while not component or component[-1] != module:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(found)


def upward_imports(graph: dict, forbidden: dict = FORBIDDEN) -> list:
    """``(module, line, imported module)`` for every import a layer must not make."""
    return sorted((module, line, target) for module, edges in graph.items()
                  for target, line in edges.items()
                  if target.split(".")[0] in forbidden.get(module.split(".")[0], ()))


@pytest.fixture(scope="module")
def graph():
    return import_graph(ROOT, PACKAGES)


def test_no_import_circles(graph):
    assert circles(graph) == []


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_lower_layers_never_import_higher_ones(graph, package):
    assert [v for v in upward_imports(graph) if v[0].split(".")[0] == package] == []


def test_the_graph_sees_the_package(graph):
    # a checker that reads nothing passes everything: the known downward imports exist
    assert "runs" in graph["analysis.conversion"]  # imported inside a function
    assert any(t.startswith("runs") for t in graph["benchmarks.report"])


def test_the_checker_reports_a_planted_circle_and_upward_imports(tmp_path):
    files = {
        "runs/__init__.py": "",
        "runs/folder.py": "def load():\n    from experiments import desire\n",
        "models/__init__.py": "",
        "models/network.py": "import figures.plots\nimport numpy\n",
        "experiments/__init__.py": "",
        "experiments/desire.py": "import numpy as np\n",
        "experiments/training.py": "from . import sweep\n",
        "experiments/sweep.py": "from .training import run  # closes the circle\n",
        "experiments/studies/__init__.py": "",
        "experiments/studies/plif.py": "from ..training import run\nfrom runs.folder import load\n",
        "figures/__init__.py": "",
        "figures/plots.py": "from experiments.sweep import *\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = import_graph(tmp_path, ("runs", "models", "experiments", "figures"))
    # downward imports, one relative from a subpackage, are edges and nothing more
    assert graph["experiments.studies.plif"] == {"experiments.training": 1, "runs.folder": 2}
    assert circles(graph) == [["experiments.sweep", "experiments.training"]]
    assert upward_imports(graph) == [("models.network", 1, "figures.plots"),
                                     ("runs.folder", 2, "experiments.desire")]
