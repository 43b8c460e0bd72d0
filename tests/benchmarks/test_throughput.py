"""benchmarks.throughput: the configurations measured and one real measurement through
the training engine (not timings: benchmarks report figures, they are not timed tests)."""

from __future__ import annotations

import json

import pytest

from benchmarks import report, throughput


def test_paper_size_needs_the_data_root(tmp_path):
    with pytest.raises(FileNotFoundError, match="mnist"):
        throughput.make_config("desire", "paper", "cpp", data_root=None)
    with pytest.raises(FileNotFoundError, match="fashion-mnist"):
        throughput.make_config("ei_ratio", "paper", "cpp", data_root=tmp_path)


@pytest.mark.parametrize("protocol", list(throughput.PROTOCOLS))
def test_quick_configuration_is_the_preset_cut_to_whole_chunks(protocol):
    cfg = throughput.make_config(protocol, "quick", "cpp", chunks=3)
    assert cfg.dataset == "digits" and cfg.device == "cpp" and cfg.epochs == 1
    assert cfg.train_samples == 3 * cfg.chunk_size and cfg.eval_samples == cfg.chunk_size
    runtime = throughput.make_config(protocol, "quick", "runtime", chunks=3)
    assert runtime.train_samples == runtime.chunk_size  # one chunk on the slow target
    if protocol == "balanced_tuning":
        assert cfg.equilibrium_epochs == 0


def test_throughput_measures_a_real_training_run(tmp_path):
    # The runtime target: nothing to compile, one chunk of 128 digits.
    cfg = throughput.make_config("ei_ratio", "quick", "runtime", chunks=2)
    result = throughput.measure("ei_ratio", cfg, tmp_path)
    assert result["train_samples"] == cfg.chunk_size
    assert result["eval_samples"] == cfg.chunk_size
    assert result["train_samples_per_s"] > 0 and result["eval_samples_per_s"] > 0
    assert result["network"] == str(cfg.n_hidden)
    payload = {"machine": report.machine_description(), "chunks": 2, "skipped": [],
               "runs": [dict(result, size="quick")]}
    text = throughput.section(payload)
    assert "| ei_ratio | quick | runtime | digits |" in text
    json.dumps(payload)  # what write_json stores
