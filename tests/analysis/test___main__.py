"""python -m analysis: reports written, the NIX round trip, one-line errors with exit 2."""

import json

import numpy as np
import pytest
from neo.io import NixIO

from analysis.__main__ import main
from analysis.recording import (Population, read_spike_recording, recording_segments,
                                spike_recording, write_spike_recording)

POPULATIONS = [Population("inputs", 0, 4, "input"), Population("E", 1, 5, "hidden", "E"),
               Population("I", 1, 3, "hidden", "I"), Population("out", 2, 2, "output")]


def make_run(path, epochs=(0, 2), seed=0):
    rng = np.random.default_rng(seed)
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"protocol": "ei_ratio"}))
    for epoch in epochs:
        spikes = {p.name: tuple(np.nonzero(rng.random((4, 30, p.size)) < 0.2))
                  for p in POPULATIONS}
        write_spike_recording(path, spike_recording(
            POPULATIONS, spikes, dt_ms=0.5, steps_per_sample=30, eval_indices=[3, 1, 4, 1],
            labels=[0, 1, 0, 1], epoch=epoch, protocol="ei_ratio"))
    return path


def test_a_report_per_run_and_a_table_of_the_runs(tmp_path, capsys):
    first, second = make_run(tmp_path / "a"), make_run(tmp_path / "b", epochs=(0, 1), seed=1)
    assert main([str(first), "--no-progress"]) == 0
    report = json.loads((first / "analysis" / "a" / "report.json").read_text())
    assert report["epoch"] == 2 and "change_from_epoch0" in report
    assert report["tau_ms"] == 0.5

    out = tmp_path / "out"
    assert main([str(first), str(second), "--out", str(out), "--epoch", "0",
                 "--tau-ms", "2"]) == 0
    assert json.loads((out / "a" / "report.json").read_text())["tau_ms"] == 2.0
    assert (out / "b" / "report.md").is_file()
    table = (out / "report.md").read_text()
    assert "| a | 0 | E |" in table and "| b | 0 | E |" in table
    assert "[analysis]" in capsys.readouterr().err  # progress lines


def test_nix_round_trip_gives_the_same_spike_times(tmp_path):
    run = make_run(tmp_path / "r")
    assert main([str(run), "--nix", "--no-progress"]) == 0
    with NixIO(str(run / "analysis" / "r" / "r-epoch-0002.nix"), mode="ro") as io:
        block = io.read_block()
    expected = recording_segments(read_spike_recording(run, 2))
    assert block.annotations["epoch"] == 2
    assert len(block.segments) == len(expected)
    for got, want in zip(block.segments, expected):
        assert got.annotations["label"] == want.annotations["label"]
        assert len(got.spiketrains) == len(want.spiketrains)
        for a, b in zip(got.spiketrains, want.spiketrains):
            np.testing.assert_array_equal(a.rescale("ms").magnitude, b.magnitude)
            assert a.annotations["population"] == b.annotations["population"]
            assert a.annotations["neuron"] == b.annotations["neuron"]
            assert a.annotations.get("ei") == b.annotations.get("ei")


def _damage(tmp_path):
    run = make_run(tmp_path / "d")
    (run / "recordings" / "spikes-epoch-0002.npz").write_bytes(b"not a zip")
    return [str(run)]


@pytest.mark.parametrize("args, says", [
    (lambda tmp: [str(tmp / "missing")], "is not a directory"),
    (lambda tmp: [str(tmp)], "is not a run folder"),
    (lambda tmp: [str(make_run(tmp / "e")), "--epoch", "7"], "no spike recording of epoch 7"),
    (lambda tmp: [str(make_run(tmp / "t")), "--tau-ms", "-1"], "--tau-ms must be a positive"),
    (_damage, "cannot be read"),
])
def test_each_error_is_one_line_and_exit_2(tmp_path, capsys, args, says):
    assert main(args(tmp_path) + ["--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and says in err
    assert err.count("\n") == 1 and "Traceback" not in err
