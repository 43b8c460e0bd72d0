"""benchmarks.report's bookkeeping: the RESULTS.md section writer, the Markdown tables,
the command line every benchmark shares."""

from __future__ import annotations

import pytest

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


def test_publish_writes_a_new_folder_and_the_tracked_files_only_when_asked(tmp_path,
                                                                          monkeypatch):
    tracked = []  # what went to measurements/ and RESULTS.md (their defaults)
    write_json, write_section = report.write_json, report.write_section

    def json_writer(name, payload, directory=None):
        if directory is None:
            tracked.append(("json", name))
            return tmp_path / "tracked.json"
        return write_json(name, payload, directory)

    def section_writer(name, markdown, path=None):
        if path is None:
            tracked.append(("md", name))
            return tmp_path / "TRACKED.md"
        return write_section(name, markdown, path)

    monkeypatch.setattr(report, "write_json", json_writer)
    monkeypatch.setattr(report, "write_section", section_writer)
    runs = tmp_path / "runs"
    lines = [report.publish("scaling", {"a": k}, "## S", runs=runs) for k in (1, 2)]
    folders = sorted(runs.iterdir())
    assert len(folders) == 2  # a new folder per run, never reused
    for folder, line in zip(folders, lines):
        assert folder.name.startswith("scaling-20") and str(folder) in line
        assert sorted(p.name for p in folder.iterdir()) == ["RESULTS.md", "scaling.json"]
        assert "<!-- benchmark:scaling -->" in (folder / "RESULTS.md").read_text()
    assert tracked == []
    report.publish("scaling", {"a": 1}, "## S", tracked=True, runs=runs)
    assert tracked == [("json", "scaling"), ("md", "scaling")]
    assert len(list(runs.iterdir())) == 2


def test_publish_and_no_write_exclude_each_other():
    parser = report.argument_parser("threads", "Threads.")
    assert parser.parse_args(["--publish"]).publish and not parser.parse_args([]).publish
    with pytest.raises(SystemExit):
        parser.parse_args(["--publish", "--no-write"])
