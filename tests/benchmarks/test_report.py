"""The benchmark scripts' arithmetic and bookkeeping (not timings: benchmarks report
figures, they are not timed tests): the power-law fit, the RESULTS.md section writer,
the configurations measured, and one real measurement through the training engine."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks import report, scaling, throughput


def test_fit_exponent_recovers_a_power_law():
    x = np.array([100, 200, 400, 800, 1600, 3200, 6400])
    assert scaling.fit_exponent(x, 3e-6 * x ** 1.5) == pytest.approx(1.5, abs=1e-12)
    assert scaling.fit_exponent(x, 0.2 * x ** 0.5) == pytest.approx(0.5, abs=1e-12)
    # A constant overhead flattens the slope below the asymptotic exponent.
    assert scaling.fit_exponent(x, 1e-3 + 1e-6 * x) < 0.9


def test_summarise_fits_each_series_from_the_smallest_size_given():
    points = [{"model": "desire", "series": "hidden", "hidden": h, "n_steps": 20,
               "synapses": 794 * h, "synaptic_events_per_sample": 50.0 * h,
               "seconds_per_sample": 1e-3 + 1e-6 * h} for h in (100, 400, 1600, 6400)]
    points += [{"model": "desire", "series": "steps", "hidden": 400, "n_steps": t,
                "synapses": 794 * 400, "synaptic_events_per_sample": 1.0,
                "seconds_per_sample": 2e-5 * t} for t in (10, 20, 40)]
    fits = scaling.summarise(points, fit_from=400)["desire"]
    expected = scaling.fit_exponent([400, 1600, 6400],
                                    [1e-3 + 1e-6 * h for h in (400, 1600, 6400)])
    assert fits["exponent_hidden"] == pytest.approx(expected)
    assert fits["exponent_synapses"] == pytest.approx(expected)  # synapses proportional to h
    assert fits["exponent_steps"] == pytest.approx(1.0)
    assert "eprop" not in scaling.summarise(points, fit_from=400)


def test_write_section_replaces_only_its_own_block(tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text("# Results\n\nhand-written text\n")
    report.write_section("throughput", "## T\n\nfirst", path)
    report.write_section("sweep", "## S\n\nparallel", path)
    report.write_section("throughput", "## T\n\nsecond", path)
    text = path.read_text()
    assert text.startswith("# Results\n\nhand-written text\n")
    assert "first" not in text and text.count("second") == 1 and text.count("parallel") == 1
    assert text.index("second") < text.index("parallel")  # replaced in place, not appended
    assert text.count("<!-- benchmark:throughput -->") == 1
    assert text.count("<!-- /benchmark:throughput -->") == 1


def test_markdown_table_aligns_numbers_right():
    table = report.markdown_table(["name", "n", "rate"], [["a", 1200, 3.14159], ["b", None, 250.0]])
    lines = table.splitlines()
    assert lines[1] == "|---|---:|---:|"
    assert lines[2] == "| a | 1,200 | 3.14 |"
    assert lines[3] == "| b | - | 250.0 |"


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


def test_no_benchmark_named_runs_nothing_and_leaves_the_tracked_results(capsys):
    # RESULTS.md and measurements/ are tracked: only a named benchmark may rewrite them
    from benchmarks.__main__ import BENCHMARKS, main

    before = report.RESULTS.stat().st_mtime_ns
    assert main([]) == 2
    assert main(["--no-write"]) == 2  # options without a name: still nothing runs
    assert main(["--help"]) == 0
    assert main(["nonsense"]) == 2
    assert report.RESULTS.stat().st_mtime_ns == before
    out = capsys.readouterr().out
    assert out.count("benchmarks: " + ", ".join(BENCHMARKS)) == 3


def test_every_benchmark_command_line_has_no_write():
    parser = report.argument_parser("scaling", "Scaling.\n\nDetails.")
    assert parser.prog == "python -m benchmarks scaling" and parser.description == "Scaling."
    assert parser.parse_args(["--no-write"]).no_write and not parser.parse_args([]).no_write
