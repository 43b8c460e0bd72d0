"""``--download`` on the command lines that read MNIST and Fashion-MNIST, against an
HTTP server on 127.0.0.1 (the ``file_server`` fixture of tests/conftest.py, pointed at
by ``SNN_DATA_MIRROR``) serving small IDX files the tests write; nothing goes to the
internet.

A good file is downloaded into the data cache, verified and loaded, and the command
goes on (it is stopped where it would compile: the ``no_compile`` fixture). A wrong
checksum, a transfer cut short and a refused connection each end the command with one
message and exit status 2, and leave no file in the cache. ``--download`` is an action:
it is not stored in ``config.json`` and is allowed with ``--resume``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from experiments import __main__ as experiments_cli
from experiments import datasets, desire
from experiments.datasets import write_idx
from figures.__main__ import main as figures_main
from runs import RunFolder

TRAIN_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
#: A run small enough for 40 images: what the command needs to get to the compile.
SMALL = ["--validation", "10", "--train-samples", "8", "--eval-samples", "4",
         "--no-progress"]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """The data cache of the test (``SNN_CACHE_DIR``), no ``SNN_DATA_DIR``."""
    monkeypatch.delenv("SNN_DATA_DIR", raising=False)
    monkeypatch.setenv("SNN_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def served(tmp_path, monkeypatch, file_server, cache):
    """MNIST and Fashion-MNIST training files of 40 images each, served by the local
    server under ``/<dataset>/``; their MD5s replace the published ones."""
    rng = np.random.default_rng(0)
    for name in ("mnist", "fashion-mnist"):
        folder = tmp_path / "origin" / name
        folder.mkdir(parents=True)
        write_idx(folder / TRAIN_FILES[0], rng.integers(0, 256, (40, 28, 28), dtype=np.uint8))
        write_idx(folder / TRAIN_FILES[1], (np.arange(40) % 10).astype(np.uint8))
        md5 = {}
        for filename in TRAIN_FILES:
            content = (folder / filename).read_bytes()
            file_server.routes[f"/{name}/{filename}"] = content
            md5[filename] = hashlib.md5(content).hexdigest()
        monkeypatch.setitem(datasets._SOURCES, name, datasets._IdxSource(
            md5=md5, urls=("https://never.invalid/",)))
    monkeypatch.setenv("SNN_DATA_MIRROR", file_server.url)
    return file_server


def run_cli(main, argv, capsys):
    """``(exit status, stderr)`` of an in-process command line."""
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    return code, capsys.readouterr().err


def files_in(path: Path) -> list:
    return sorted(p.name for p in path.rglob("*") if p.is_file()) if path.exists() else []


def assert_one_message(code, err, words):
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for word in words:
        assert word in lines[0], (word, err)


def test_download_fetches_verifies_and_the_run_goes_on(tmp_path, served, cache, capsys,
                                                       no_compile):
    argv = ["desire", "--preset", "quick", "--dataset", "mnist", "--download",
            "--out", str(tmp_path / "results"), *SMALL]
    with pytest.raises(AssertionError, match="compilation must not start"):
        experiments_cli.main(argv)  # the data was loaded: the run got to its compile
    assert served.requests == [f"/mnist/{f}" for f in TRAIN_FILES]
    assert files_in(cache) == sorted(TRAIN_FILES)
    assert all((cache / "mnist" / f).read_bytes() == served.routes[f"/mnist/{f}"]
               for f in TRAIN_FILES)
    # The compile stopped before a checkpoint, so the new run folder was removed; what
    # a run stores is its configuration's fields, and --download is an action, not one.
    assert list((tmp_path / "results" / "desire").iterdir()) == []
    assert not any("download" in f.name for f in dataclasses.fields(desire.DesireConfig))

    # The next command finds the verified files and downloads nothing.
    with pytest.raises(AssertionError, match="compilation must not start"):
        experiments_cli.main(argv)
    assert len(served.requests) == 2


def test_download_with_resume(tmp_path, served, cache, capsys, no_compile):
    cfg = desire.make_config("quick", "fashion-mnist", validation=10, train_samples=8,
                             eval_samples=4)
    folder = RunFolder.create(tmp_path / "results", "desire", cfg.to_dict(), run_id="r",
                              device={"target": "cpp"}, seeds={"seed": 0})
    stored = json.loads(folder.config_path.read_text())["config"]
    with pytest.raises(AssertionError, match="compilation must not start"):
        experiments_cli.main(["desire", "--resume", str(folder.path), "--download",
                              "--no-progress"])
    assert files_in(cache) == sorted(TRAIN_FILES)
    assert served.requests == [f"/fashion-mnist/{f}" for f in TRAIN_FILES]
    assert json.loads(folder.config_path.read_text())["config"] == stored


def test_download_before_a_sweep(tmp_path, served, cache, capsys, monkeypatch, no_compile):
    import experiments.sweeps as sweeps

    class Started(Exception):
        """The sweep itself is not under test: it stops where it would start."""

    def start(*args, **kwargs):
        raise Started

    monkeypatch.setattr(sweeps, "sweep", start)
    with pytest.raises(Started):
        experiments_cli.main(["ei_ratio", "--preset", "quick", "--dataset", "mnist",
                              "--download", "--sweep", "rate", "--scheduler", "serial",
                              "--out", str(tmp_path / "results"), *SMALL])
    assert files_in(cache) == sorted(TRAIN_FILES)


@pytest.mark.parametrize("fault", ["checksum", "truncated"])
def test_a_bad_transfer_stops_the_command(tmp_path, served, cache, capsys, fault,
                                          no_compile):
    path = f"/mnist/{TRAIN_FILES[0]}"
    expected_md5 = datasets._SOURCES["mnist"].md5[TRAIN_FILES[0]]
    if fault == "checksum":
        served.routes[path] = served.routes[path][:-1] + bytes([served.routes[path][-1] ^ 0xFF])
        words = ["error: --download: Could not download", TRAIN_FILES[0],
                 f"expected {expected_md5}", "No file was written"]
    else:
        served.truncated.add(path)
        n = len(served.routes[path])
        words = ["error: --download:", TRAIN_FILES[0], f"cut short: {n} of {n + 1000} bytes"]
    code, err = run_cli(experiments_cli.main,
                        ["stl", "--preset", "quick", "--dataset", "mnist", "--download",
                         "--out", str(tmp_path / "results"), *SMALL], capsys)
    assert_one_message(code, err, words)
    assert files_in(cache) == []
    assert not (tmp_path / "results").exists()


def test_a_refused_connection_stops_the_command(tmp_path, cache, capsys, monkeypatch,
                                                closed_port_url, no_compile):
    monkeypatch.setenv("SNN_DATA_MIRROR", closed_port_url)
    code, err = run_cli(experiments_cli.main,
                        ["plif", "--dataset", "fashion-mnist", "--download",
                         "--data-dir", str(tmp_path / "data"),
                         "--out", str(tmp_path / "results"), *SMALL], capsys)
    assert_one_message(code, err, ["error: --download:", TRAIN_FILES[0], closed_port_url,
                                   "refused", f"No file was written to "
                                   f"{tmp_path / 'data' / 'fashion-mnist'}."])
    assert files_in(tmp_path / "data") == [] and files_in(cache) == []


def test_without_download_the_message_names_it(tmp_path, cache, capsys, no_compile):
    code, err = run_cli(experiments_cli.main,
                        ["balanced_tuning", "--preset", "quick", "--dataset", "mnist",
                         "--out", str(tmp_path / "results"), *SMALL], capsys)
    assert_one_message(code, err, [TRAIN_FILES[0], "--download"])


def test_figures_library_downloads(tmp_path, served, cache, capsys, monkeypatch):
    from figures import library

    drawn = {}
    monkeypatch.setattr(library, "make", lambda digits, out, **kw: drawn.setdefault(
        "images", digits[0]) is None or [])
    code, err = run_cli(figures_main, ["library", "--dataset", "mnist", "--download",
                                       "--out", str(tmp_path / "figs")], capsys)
    assert code == 0, err
    assert files_in(cache) == sorted(TRAIN_FILES)
    assert drawn["images"].shape == (3, 28, 28)


def test_figures_library_refused_connection(tmp_path, cache, capsys, monkeypatch,
                                            closed_port_url):
    monkeypatch.setenv("SNN_DATA_MIRROR", closed_port_url)
    code, err = run_cli(figures_main, ["library", "--dataset", "fashion-mnist", "--download",
                                       "--out", str(tmp_path / "figs")], capsys)
    assert_one_message(code, err, ["python -m figures library: --download:", "refused"])


@pytest.mark.parametrize("benchmark", ["throughput", "scaling", "threads"])
def test_benchmarks_refused_connection(tmp_path, cache, capsys, monkeypatch, closed_port_url,
                                       benchmark):
    from benchmarks.__main__ import main as benchmarks_main

    monkeypatch.setenv("SNN_DATA_MIRROR", closed_port_url)
    code, err = run_cli(benchmarks_main, [benchmark, "--download", "--no-write",
                                          "--data-root", str(tmp_path / "data")], capsys)
    assert_one_message(code, err, [f"python -m benchmarks {benchmark}: --download:",
                                   "refused"])
    assert files_in(tmp_path / "data") == []
