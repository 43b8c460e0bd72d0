"""The guided notebooks run from top to bottom and show what they promise.

``notebooks/desire.ipynb`` trains the quick preset (C++ standalone, about a minute on
two cores; the build is shared with the other tests of the session) and draws the four
figures of ``python -m figures desire``. ``notebooks/ei_ratio.ipynb`` runs two tiny E:I-ratio
sweeps of the quick preset (8 tasks of 2 epochs, two C++ builds; 2-3 minutes) and draws
the four figures of ``python -m figures ei_ratio``.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from experiments.results import RunFolder
from experiments.sweep import read_summary

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


def test_ei_ratio_notebook_sweeps_and_shows_the_figures(tmp_path, monkeypatch):
    nb = execute("ei_ratio.ipynb", tmp_path, monkeypatch)
    errors = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs
              if o.output_type == "error"]
    assert not errors, errors
    rate = read_summary(tmp_path, "ei_rate_tour")
    noise = read_summary(tmp_path, "ei_noise_tour")
    assert [r["status"] for r in rate + noise] == ["done"] * 8, rate + noise
    # training did something: some run ends well above chance and above its epoch 0
    assert any(r["metrics"]["peak_accuracy"] > max(0.3, r["metrics"]["initial_accuracy"] + 0.2)
               for r in rate), rate
    figure_cells = [cell for cell in nb.cells if cell.cell_type == "code"
                    and "figs.figure_" in cell.source]
    assert len(figure_cells) == 4
    for cell in figure_cells:
        images = [o for o in cell.outputs if "image/png" in o.get("data", {})]
        assert len(images) == 1, cell.source  # shown once, inline
    text = "".join(o.get("text", "") for cell in nb.cells if cell.cell_type == "code"
                   for o in cell.outputs)
    assert "hidden spikes in 100 trains" in text
    assert "run mean (metrics)" in text
