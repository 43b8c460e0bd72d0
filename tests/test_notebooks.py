"""The guided notebooks run from top to bottom and show what they promise.

``notebooks/desire.ipynb`` trains the quick preset (C++ standalone, about a minute on
two cores; the build is shared with the other tests of the session) and draws the four
figures of ``python -m figures desire``.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from experiments.results import RunFolder

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def execute(name: str, results_dir: Path, monkeypatch):
    """Run a notebook in a fresh kernel (cwd: notebooks/), results to ``results_dir``."""
    monkeypatch.setenv("SNN_RESULTS_DIR", str(results_dir))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    return nb


def test_desire_notebook_trains_and_shows_the_figures(tmp_path, monkeypatch):
    nb = execute("desire.ipynb", tmp_path, monkeypatch)
    errors = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs
              if o.output_type == "error"]
    assert not errors, errors
    (run,) = list((tmp_path / "desire").iterdir())
    metrics = RunFolder(run).read_metrics()
    assert len(metrics) == 10
    assert metrics[-1]["accuracy"] >= 0.90, metrics[-1]
    figure_cells = [cell for cell in nb.cells if cell.cell_type == "code"
                    and cell.source.startswith("figs.figure_")]
    assert len(figure_cells) == 4
    for cell in figure_cells:
        images = [o for o in cell.outputs if "image/png" in o.get("data", {})]
        assert len(images) == 1, cell.source  # shown once, inline
    text = "".join(o.get("text", "") for cell in nb.cells if cell.cell_type == "code"
                   for o in cell.outputs)
    assert "test accuracy after 10 epochs" in text
