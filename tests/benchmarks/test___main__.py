"""python -m benchmarks (benchmarks.__main__): nothing runs, and nothing tracked is
rewritten, unless a benchmark is named."""

from __future__ import annotations

from benchmarks import report


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
