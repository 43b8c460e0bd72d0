"""benchmarks.threads: what it reports, the comparison of learned states, refusals."""

from __future__ import annotations

import numpy as np

from benchmarks import report, threads


def _checkpoint(folder, run_name, **arrays):
    folder.mkdir()
    np.savez(folder / "checkpoint.npz", __meta__=np.array(run_name), **arrays)
    return folder


def test_same_learned_state_compares_every_array_bit_for_bit(tmp_path):
    w = np.array([0.1, 0.2, 0.3])
    a = _checkpoint(tmp_path / "a", "one", w=w)
    b = _checkpoint(tmp_path / "b", "two", w=w.copy())  # another run's metadata
    c = _checkpoint(tmp_path / "c", "three", w=w + np.array([0, 0, 1e-15]))
    d = _checkpoint(tmp_path / "d", "four", w=w, v=w)
    assert threads.same_learned_state(a, b)
    assert not threads.same_learned_state(a, c)
    assert not threads.same_learned_state(a, d)


def test_a_refusing_protocol_is_listed_with_its_reason_and_not_run(monkeypatch, capsys):
    def never(*args):
        raise AssertionError("a refused protocol must not be trained")

    monkeypatch.setattr(threads, "measure", never)
    assert threads.main(["--protocols", "balanced_tuning", "--size", "quick",
                         "--no-write"]) == 0
    out = capsys.readouterr().out
    assert "balanced_tuning refuses: threads: balanced tuning's synapses" in out


def test_section_shows_speed_up_sameness_and_refusals():
    machine = report.machine_description()
    run = dict(protocol="desire", dataset="mnist", network="1600-800", compile_s=1.0,
               train_samples_per_s=100.0, eval_samples_per_s=300.0, load=1.0)
    payload = {"machine": machine, "chunks": 2, "size": "paper", "skipped": [],
               "runs": [dict(run, threads=1),
                        dict(run, threads=2, train_samples_per_s=180.0, speedup=1.8,
                             identical=True)],
               "refused": {"balanced_tuning": "threads: stored target by target."}}
    text = threads.section(payload)
    assert "| desire | mnist | 1600-800 | 2 | 1 | 180.0 | 300.0 | 1.8 | yes | 1 |" in text
    assert "| desire | mnist | 1600-800 | 1 | 1 | 100.0 | 300.0 | - | - | 1 |" in text
    assert "- balanced_tuning: threads: stored target by target." in text
