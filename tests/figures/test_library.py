"""The library tour behind `make demo` writes one figure per model."""

import pytest

from experiments.datasets import load_digits_splits
from figures.__main__ import main
from figures.library import PANELS, make_library_figures
from models.neurons import NEURON_MODELS
from models.synapses import SYNAPSE_PARTS


def test_every_library_model_has_a_figure():
    assert set(PANELS) == set(NEURON_MODELS) | set(SYNAPSE_PARTS)


def test_cli_writes_png_and_pdf(tmp_path):
    assert main(["library", "--only", "static", "stp_facilitating", "--samples", "1",
                 "--out", str(tmp_path)]) == 0
    for stem in ("synapse_static", "synapse_stp_facilitating"):
        for ext in ("png", "pdf"):
            path = tmp_path / f"{stem}.{ext}"
            assert path.stat().st_size > 5000, path


def test_unknown_figure_name(tmp_path):
    digits = load_digits_splits().train
    with pytest.raises(ValueError, match="unknown figure"):
        make_library_figures(digits.images[:1], digits.labels[:1], tmp_path, ["nope"])


def test_bad_sample_count(capsys):
    with pytest.raises(SystemExit):
        main(["library", "--samples", "0"])
    assert "--samples must be a positive integer" in capsys.readouterr().err
