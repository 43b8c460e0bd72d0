"""Tests of experiments.datasets: splits, image/label pairs, checksums, downloads
(the IDX format itself: tests/experiments/test_idx.py).

No test touches the internet: downloads are served by a fake ``urlopen``, from
``file://`` URLs, or by the ``file_server`` fixture (an HTTP server on 127.0.0.1,
tests/conftest.py), always of files the tests write themselves.
"""

import hashlib
import io
import os
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from experiments import datasets
from experiments.datasets import (
    Dataset,
    DatasetError,
    DownloadError,
    Splits,
    download_file,
    load_dataset,
    load_digits_splits,
    load_idx_pair,
    load_mnist_splits,
    write_idx,
)

TRAIN_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

# Published MD5s, written out again here so that a typo in the module fails.
PUBLISHED_MD5 = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}


@pytest.fixture(autouse=True)
def no_user_data_dirs(monkeypatch, tmp_path):
    """Keep the user's data and cache directories out of every test."""
    monkeypatch.delenv("SNN_DATA_DIR", raising=False)
    monkeypatch.delenv("SNN_DATA_MIRROR", raising=False)
    monkeypatch.setenv("SNN_CACHE_DIR", str(tmp_path / "cache"))


def _md5(path):
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def _write_mnist_like(directory, n=60, n_test=20, seed=1):
    """Small IDX gz files under the MNIST names; returns their MD5s."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {
        TRAIN_FILES[0]: rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
        TRAIN_FILES[1]: (np.arange(n) % 10).astype(np.uint8),
        TEST_FILES[0]: rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        TEST_FILES[1]: (np.arange(n_test) % 10).astype(np.uint8),
    }
    for filename, array in arrays.items():
        write_idx(directory / filename, array)
    return {filename: _md5(directory / filename) for filename in arrays}, arrays


# --------------------------------------------------------------------------
# digits
# --------------------------------------------------------------------------


def test_digits_splits_partition_the_set():
    splits = load_digits_splits(validation=300, test=200, seed=0)
    parts = (splits.train, splits.validation, splits.test)
    assert [len(p) for p in parts] == [1297, 300, 200]
    assert sum(len(p) for p in parts) == 1797
    all_indices = np.concatenate([p.indices for p in parts])
    assert np.array_equal(np.sort(all_indices), np.arange(1797))  # disjoint, complete
    for part, split in zip(parts, ("train", "validation", "test")):
        assert part.name == "digits" and part.split == split
        assert part.images.shape[1:] == (8, 8)
        assert part.labels.dtype == np.int64
        assert 0 <= part.images.min() and part.images.max() <= 1
    # The largest grey level, 16, maps to exactly 1.
    assert splits.train.images.max() == 1
    assert splits.train.flat().shape == (1297, 64)


def test_digits_splits_are_deterministic_and_seeded():
    a = load_digits_splits(seed=3)
    b = load_digits_splits(seed=3)
    c = load_digits_splits(seed=4)
    assert np.array_equal(a.validation.indices, b.validation.indices)
    assert np.array_equal(a.train.images, b.train.images)
    assert set(a.validation.indices) != set(c.validation.indices)


def test_digits_images_match_scikit_learn():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    splits = load_digits_splits()
    idx = splits.validation.indices
    np.testing.assert_allclose(
        splits.validation.images, bunch.images[idx] / 16, rtol=1e-6
    )
    np.testing.assert_array_equal(splits.validation.labels, bunch.target[idx])


def test_stratified_split_keeps_class_proportions():
    splits = load_digits_splits(validation=300, test=0, seed=0, stratify=True)
    assert splits.test is None
    all_labels = np.concatenate([splits.train.labels, splits.validation.labels])
    expected = np.bincount(all_labels) * 300 / 1797
    counts = np.bincount(splits.validation.labels, minlength=10)
    assert np.all(np.abs(counts - expected) <= 1)
    # Every prefix is balanced too, so a short evaluation is not skewed.
    prefix = np.bincount(splits.validation.labels[:50], minlength=10)
    assert np.all(np.abs(prefix - np.bincount(all_labels) * 50 / 1797) <= 1)


def test_split_fractions_are_accepted():
    splits = load_digits_splits(validation=0.1, test=0.2)
    assert len(splits.validation) == 180 and len(splits.test) == 359


@pytest.mark.parametrize(
    "kwargs, parameter",
    [
        ({"validation": -1}, "validation"),
        ({"test": -5}, "test"),
        ({"validation": 1.5}, "validation"),
        ({"validation": "10"}, "validation"),
        ({"validation": 1000, "test": 797}, "validation"),
    ],
)
def test_bad_digits_split_sizes(kwargs, parameter):
    with pytest.raises(ValueError, match=parameter):
        load_digits_splits(**kwargs)


# --------------------------------------------------------------------------
# Image and label files as a pair
# --------------------------------------------------------------------------


def test_count_mismatch_is_rejected(tmp_path):
    write_idx(tmp_path / "img.gz", np.zeros((5, 2, 2), dtype=np.uint8))
    write_idx(tmp_path / "lab.gz", np.zeros(4, dtype=np.uint8))
    with pytest.raises(DatasetError, match="lab.gz") as info:
        load_idx_pair(tmp_path / "img.gz", tmp_path / "lab.gz")
    assert "5 images" in str(info.value) and "4 labels" in str(info.value)


def test_labels_outside_0_to_9_are_rejected(tmp_path):
    write_idx(tmp_path / "img.gz", np.zeros((3, 2, 2), dtype=np.uint8))
    write_idx(tmp_path / "lab.gz", np.array([1, 12, 3], dtype=np.uint8))
    with pytest.raises(DatasetError, match="lab.gz.*12"):
        load_idx_pair(tmp_path / "img.gz", tmp_path / "lab.gz")


def test_mnist_loader_rejects_digits():
    with pytest.raises(ValueError, match="load_digits_splits"):
        load_mnist_splits("digits")


def test_dataset_error_is_a_value_error():
    assert issubclass(DatasetError, ValueError)
    assert issubclass(DownloadError, DatasetError)


# --------------------------------------------------------------------------
# Loading MNIST-like files from a directory
# --------------------------------------------------------------------------


def test_known_file_names_are_checked_against_the_published_md5(tmp_path):
    _write_mnist_like(tmp_path / "mnist")
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte.gz") as info:
        load_mnist_splits("mnist", data_dir=tmp_path, validation=10)
    assert PUBLISHED_MD5["mnist"][TRAIN_FILES[0]] in str(info.value)


def test_module_md5s_are_the_published_ones():
    for name, md5s in PUBLISHED_MD5.items():
        assert datasets._SOURCES[name].md5 == md5s


def test_own_files_load_without_verification(tmp_path):
    _, arrays = _write_mnist_like(tmp_path / "mnist", n=60, n_test=20)
    splits = load_mnist_splits("mnist", data_dir=tmp_path, validation=10, verify=False)
    assert isinstance(splits, Splits)
    assert len(splits.train) == 50 and len(splits.validation) == 10
    assert splits.test is None  # the official test split is opt-in
    assert splits.train.images.dtype == np.float32
    idx = splits.validation.indices
    np.testing.assert_allclose(
        splits.validation.images, arrays[TRAIN_FILES[0]][idx] / 255, rtol=1e-6
    )
    np.testing.assert_array_equal(splits.validation.labels, arrays[TRAIN_FILES[1]][idx])
    assert np.array_equal(
        np.sort(np.concatenate([splits.train.indices, idx])), np.arange(60)
    )

    with_test = load_mnist_splits(
        "mnist", data_dir=tmp_path, validation=10, verify=False, use_test=True
    )
    assert with_test.test.split == "test" and len(with_test.test) == 20
    np.testing.assert_array_equal(with_test.test.labels, arrays[TEST_FILES[1]])


def test_files_directly_in_data_dir_and_via_environment(tmp_path, monkeypatch):
    _write_mnist_like(tmp_path / "flat")
    splits = load_mnist_splits("mnist", data_dir=tmp_path / "flat", validation=10,
                               verify=False)
    assert len(splits.train) == 50
    monkeypatch.setenv("SNN_DATA_DIR", str(tmp_path))
    _write_mnist_like(tmp_path / "fashion-mnist", n=30)
    splits = load_dataset("fashion-mnist", validation=10, verify=False)
    assert len(splits.train) == 20 and splits.train.name == "fashion-mnist"


def test_validation_split_sizes_and_determinism(tmp_path):
    _write_mnist_like(tmp_path / "mnist", n=100)
    kwargs = dict(data_dir=tmp_path, verify=False)
    a = load_mnist_splits("mnist", validation=25, seed=7, **kwargs)
    b = load_mnist_splits("mnist", validation=25, seed=7, **kwargs)
    c = load_mnist_splits("mnist", validation=25, seed=8, **kwargs)
    assert (len(a.train), len(a.validation)) == (75, 25)
    assert np.array_equal(a.validation.indices, b.validation.indices)
    assert set(a.validation.indices) != set(c.validation.indices)
    # Stratified: 10 images per class, 25 held out -> 2 or 3 of each class.
    assert set(np.bincount(a.validation.labels, minlength=10)) == {2, 3}
    none = load_mnist_splits("mnist", validation=0, **kwargs)
    assert none.validation is None and len(none.train) == 100


@pytest.mark.parametrize("validation", [100, 101, -1, 1.0])
def test_bad_validation_size(tmp_path, validation):
    _write_mnist_like(tmp_path / "mnist", n=100)
    with pytest.raises(ValueError, match="validation"):
        load_mnist_splits(
            "mnist", data_dir=tmp_path, validation=validation, verify=False
        )


def test_missing_directory_says_where_it_looked_and_how_to_fix(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as info:
        load_mnist_splits("mnist", data_dir=missing)
    message = str(info.value)
    assert TRAIN_FILES[0] in message
    assert str(missing / "mnist") in message and str(missing) in message
    for fix in ("--data-dir", "SNN_DATA_DIR", "--download"):
        assert fix in message


def test_cache_is_searched_without_data_dir(tmp_path):
    expected_dir = re.escape(str(tmp_path / "cache" / "fashion-mnist"))
    with pytest.raises(FileNotFoundError, match=expected_dir):
        load_mnist_splits("fashion-mnist")


def test_search_directory_precedence(tmp_path, monkeypatch):
    monkeypatch.delenv("SNN_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    default = tmp_path / "home" / ".cache" / "snn-brain-learning" / "datasets"
    assert datasets.dataset_search_dirs("mnist") == [default / "mnist"]
    monkeypatch.setenv("SNN_DATA_DIR", str(tmp_path / "env"))
    assert datasets.dataset_search_dirs("mnist") == [
        tmp_path / "env" / "mnist", tmp_path / "env"
    ]
    # An explicit directory wins over the environment.
    assert datasets.dataset_search_dirs("fashion-mnist", tmp_path / "arg") == [
        tmp_path / "arg" / "fashion-mnist", tmp_path / "arg"
    ]


def test_unknown_dataset_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="cifar") as info:
        load_dataset("cifar10")
    for name in ("digits", "mnist", "fashion-mnist"):
        assert name in str(info.value)
    assert len(load_dataset("Digits").train) == 1197  # names are case-insensitive


def test_dataset_checks_its_arrays():
    with pytest.raises(ValueError, match="labels"):
        Dataset(np.zeros((3, 2, 2)), np.zeros(2, dtype=np.int64), "x", "train")
    with pytest.raises(ValueError, match="images"):
        Dataset(np.zeros((3, 4)), np.zeros(3, dtype=np.int64), "x", "train")


# --------------------------------------------------------------------------
# Downloads (no network: fake urlopen and file:// URLs)
# --------------------------------------------------------------------------


class FakeServer:
    """Stands in for urllib.request.urlopen, serving fixed bytes per URL."""

    def __init__(self, responses):
        self.responses = responses
        self.requested = []

    def __call__(self, url, timeout=None):
        self.requested.append(url)
        response = self.responses[url]
        if isinstance(response, Exception):
            raise response
        return io.BytesIO(response)


def test_download_falls_back_to_the_mirror_on_corrupt_bytes(tmp_path, monkeypatch):
    good = b"the real file"
    server = FakeServer({"https://a.invalid/f": b"the real fil\x00",
                         "https://b.invalid/f": good})
    monkeypatch.setattr(urllib.request, "urlopen", server)
    dest = tmp_path / "dl" / "f"
    path = download_file(list(server.responses), dest, hashlib.md5(good).hexdigest())
    assert path == dest and dest.read_bytes() == good
    assert server.requested == list(server.responses)
    assert os.listdir(dest.parent) == ["f"]  # no temporary file left


def test_download_failure_leaves_no_file(tmp_path, monkeypatch):
    server = FakeServer({
        "https://a.invalid/f": urllib.error.URLError("no route to host"),
        "https://b.invalid/f": b"wrong bytes",
    })
    monkeypatch.setattr(urllib.request, "urlopen", server)
    dest = tmp_path / "dl" / "f"
    with pytest.raises(DownloadError) as info:
        download_file(list(server.responses), dest, hashlib.md5(b"right").hexdigest())
    message = str(info.value)
    assert "https://a.invalid/f" in message and "no route to host" in message
    assert "https://b.invalid/f" in message and "MD5" in message
    assert os.listdir(dest.parent) == []


def test_download_removes_partial_file_when_the_stream_breaks(tmp_path, monkeypatch):
    class Broken(io.BytesIO):
        def read(self, *args):
            if self.tell() > 0:
                raise ConnectionResetError("connection reset by peer")
            return super().read(*args)

    monkeypatch.setattr(urllib.request, "urlopen",
                        lambda url, timeout=None: Broken(b"x" * 100))
    with pytest.raises(DownloadError, match="connection reset"):
        download_file(["https://a.invalid/f"], tmp_path / "f", None, chunk_size=10)
    assert os.listdir(tmp_path) == []


def test_download_from_file_urls(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    (served / "corrupt").write_bytes(b"garbage")
    (served / "good").write_bytes(b"payload")
    dest = tmp_path / "out" / "file.gz"
    download_file([(served / "corrupt").as_uri(), (served / "good").as_uri()], dest,
                  hashlib.md5(b"payload").hexdigest())
    assert dest.read_bytes() == b"payload"


def test_load_with_download_uses_mirror_and_caches(tmp_path, monkeypatch):
    md5s, arrays = _write_mnist_like(tmp_path / "origin", n=40, n_test=10)
    monkeypatch.setitem(datasets._SOURCES, "mnist", datasets._IdxSource(
        md5=md5s, urls=("https://primary.invalid/", "https://mirror.invalid/")))
    responses = {}
    for filename in md5s:
        content = (tmp_path / "origin" / filename).read_bytes()
        responses["https://primary.invalid/" + filename] = content[:-7]  # cut short
        responses["https://mirror.invalid/" + filename] = content
    server = FakeServer(responses)
    monkeypatch.setattr(urllib.request, "urlopen", server)

    splits = load_mnist_splits("mnist", validation=10, use_test=True, download=True)
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (30, 10, 10)
    cache = tmp_path / "cache" / "mnist"
    assert sorted(os.listdir(cache)) == sorted(md5s)
    assert len(server.requested) == 8

    # A second load reads the verified cache and does not download again.
    load_mnist_splits("mnist", validation=10, download=True)
    assert len(server.requested) == 8


def test_load_with_download_failing_everywhere(tmp_path, monkeypatch):
    server = FakeServer({})

    def unreachable(url, timeout=None):
        server.requested.append(url)
        raise urllib.error.URLError("name resolution failed")

    monkeypatch.setattr(urllib.request, "urlopen", unreachable)
    with pytest.raises(DownloadError, match="train-images-idx3-ubyte.gz"):
        load_mnist_splits("mnist", data_dir=tmp_path / "d", download=True)
    assert server.requested == [
        "https://yann.lecun.com/exdb/mnist/train-images-idx3-ubyte.gz",
        "https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz",
    ]
    assert os.listdir(tmp_path / "d" / "mnist") == []


# --------------------------------------------------------------------------
# fetch_dataset (--download) against an HTTP server on 127.0.0.1
# --------------------------------------------------------------------------


@pytest.fixture
def served_mnist(tmp_path, monkeypatch, file_server):
    """Small MNIST-like IDX files served under ``/mnist/`` by the local server, which
    ``SNN_DATA_MIRROR`` points at, with their MD5s as the published ones. Returns
    ``(server, {file: bytes}, {file: md5})``."""
    md5s, _ = _write_mnist_like(tmp_path / "origin", n=40, n_test=10)
    monkeypatch.setitem(datasets._SOURCES, "mnist", datasets._IdxSource(
        md5=md5s, urls=("https://never.invalid/",)))
    contents = {f: (tmp_path / "origin" / f).read_bytes() for f in md5s}
    for filename, content in contents.items():
        file_server.routes[f"/mnist/{filename}"] = content
    monkeypatch.setenv("SNN_DATA_MIRROR", file_server.url + "/")
    return file_server, contents, md5s


def _files_under(path):
    return sorted(p.name for p in Path(path).rglob("*") if p.is_file())


def test_fetch_downloads_verifies_and_loads_from_the_mirror(tmp_path, served_mnist):
    server, contents, _ = served_mnist
    paths = datasets.fetch_dataset("mnist")
    cache = tmp_path / "cache" / "mnist"
    assert paths == [cache / f for f in TRAIN_FILES]
    assert server.requests == [f"/mnist/{f}" for f in TRAIN_FILES]  # the test split: not asked
    assert all(p.read_bytes() == contents[p.name] for p in paths)
    assert _files_under(tmp_path / "cache") == sorted(TRAIN_FILES)  # no temporary file left
    splits = load_mnist_splits("mnist", validation=10)
    assert (len(splits.train), len(splits.validation)) == (30, 10)

    # Present and verified: nothing is downloaded again; the test split on request.
    datasets.fetch_dataset("mnist", test=True)
    assert server.requests[2:] == [f"/mnist/{f}" for f in TEST_FILES]


def test_fetch_into_data_dir(tmp_path, served_mnist):
    paths = datasets.fetch_dataset("MNIST", data_dir=tmp_path / "mine")
    assert paths[0] == tmp_path / "mine" / "mnist" / TRAIN_FILES[0]
    assert not (tmp_path / "cache").exists()


def test_fetch_digits_needs_nothing(served_mnist):
    assert datasets.fetch_dataset("digits") == []
    assert served_mnist[0].requests == []


def test_fetch_refuses_a_wrong_checksum(tmp_path, served_mnist, monkeypatch):
    server, _, md5s = served_mnist
    server.routes[f"/mnist/{TRAIN_FILES[0]}"] = b"not the published file"
    with pytest.raises(DownloadError) as info:
        datasets.fetch_dataset("mnist")
    message = str(info.value)
    assert TRAIN_FILES[0] in message and md5s[TRAIN_FILES[0]] in message
    assert "\n" not in message  # one message, one line
    assert _files_under(tmp_path / "cache") == []


def test_fetch_refuses_a_transfer_cut_short(tmp_path, served_mnist):
    server, contents, _ = served_mnist
    server.truncated.add(f"/mnist/{TRAIN_FILES[0]}")
    with pytest.raises(DownloadError) as info:
        datasets.fetch_dataset("mnist")
    n = len(contents[TRAIN_FILES[0]])
    assert f"cut short: {n} of {n + 1000} bytes" in str(info.value)
    assert _files_under(tmp_path / "cache") == []


def test_fetch_from_a_closed_port(tmp_path, monkeypatch, closed_port_url):
    monkeypatch.setenv("SNN_DATA_MIRROR", closed_port_url)
    with pytest.raises(DownloadError) as info:
        datasets.fetch_dataset("fashion-mnist")
    message = str(info.value)
    assert f"{closed_port_url}/fashion-mnist/{TRAIN_FILES[0]}" in message
    assert "refused" in message.lower() and "\n" not in message
    assert _files_under(tmp_path / "cache") == []


def test_fetch_into_a_folder_that_cannot_be_made(tmp_path, served_mnist):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(DownloadError, match="cannot make the folder"):
        datasets.fetch_dataset("mnist", data_dir=blocker)


def test_mirror_replaces_the_published_sources(monkeypatch):
    monkeypatch.setenv("SNN_DATA_MIRROR", "file:///srv/data/")
    assert datasets._source_urls("fashion-mnist", "f.gz") == ["file:///srv/data/fashion-mnist/f.gz"]
    monkeypatch.delenv("SNN_DATA_MIRROR")
    assert datasets._source_urls("mnist", "f.gz")[0] == "https://yann.lecun.com/exdb/mnist/f.gz"


# --------------------------------------------------------------------------
# The real training files in shared/datasets, when present
# --------------------------------------------------------------------------


def _shared_datasets():
    candidates = []
    if os.environ.get("SNN_SHARED_DATASETS"):
        candidates.append(Path(os.environ["SNN_SHARED_DATASETS"]))
    candidates.append(Path(__file__).resolve().parents[3] / "shared" / "datasets")
    return next((c for c in candidates if c.is_dir()), None)


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_shared_training_files(name):
    root = _shared_datasets()
    if root is None or not all((root / name / f).is_file() for f in TRAIN_FILES):
        pytest.skip(
            f"no {name} training files in shared/datasets or SNN_SHARED_DATASETS"
        )
    start = time.perf_counter()
    for filename in TRAIN_FILES:
        assert _md5(root / name / filename) == PUBLISHED_MD5[name][filename]

    splits = load_mnist_splits(name, data_dir=root)  # verifies the MD5s again
    assert splits.train.images.shape == (50000, 28, 28)
    assert splits.validation.images.shape == (10000, 28, 28)
    assert splits.test is None
    labels = np.concatenate([splits.train.labels, splits.validation.labels])
    counts = np.bincount(labels, minlength=10)
    assert counts.sum() == 60000 and len(counts) == 10
    assert np.all((5000 < counts) & (counts < 7000))
    assert 0 <= splits.train.images.min() and splits.train.images.max() <= 1
    assert np.array_equal(
        np.sort(np.concatenate([splits.train.indices, splits.validation.indices])),
        np.arange(60000),
    )
    assert time.perf_counter() - start < 20


def test_dataset_files_names_the_idx_files_of_a_split():
    from experiments.datasets import dataset_files

    assert dataset_files("mnist") == ("train-images-idx3-ubyte.gz",
                                      "train-labels-idx1-ubyte.gz")
    assert dataset_files("fashion_mnist", test=True)[2:] == ("t10k-images-idx3-ubyte.gz",
                                                             "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(ValueError, match="not an IDX data set"):
        dataset_files("digits")
