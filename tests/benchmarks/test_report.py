"""benchmarks.report's bookkeeping: the RESULTS.md section writer, the Markdown tables,
the command line every benchmark shares."""

from __future__ import annotations

from benchmarks import report


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


def test_every_benchmark_command_line_has_no_write():
    parser = report.argument_parser("scaling", "Scaling.\n\nDetails.")
    assert parser.prog == "python -m benchmarks scaling" and parser.description == "Scaling."
    assert parser.parse_args(["--no-write"]).no_write and not parser.parse_args([]).no_write
