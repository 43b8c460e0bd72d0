"""Tests of experiments.idx: reading and writing IDX files, plain or gzipped, and the
errors of corrupt, cut, truncated or mislabelled files."""

import gzip
import struct

import numpy as np
import pytest

from experiments.datasets import load_idx_pair
from experiments.idx import DatasetError, read_idx, write_idx


def _idx_bytes(magic, shape, payload):
    """An IDX file written by hand, independently of write_idx."""
    return struct.pack(">I", magic) + struct.pack(f">{len(shape)}I", *shape) + payload


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize(
    "array",
    [
        np.arange(24, dtype=np.uint8).reshape(2, 3, 4),
        np.array([3, 1, 4, 1, 5], dtype=np.uint8),
        np.array([[-1.5, 2.25]], dtype=np.float32),
        np.array([-70000, 3], dtype=np.int32),
    ],
)
def test_idx_round_trip(tmp_path, suffix, array):
    path = tmp_path / f"data{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable
    assert not list(tmp_path.glob("*.part"))


def test_read_idx_parses_hand_written_files(tmp_path):
    images = np.arange(2 * 3 * 2, dtype=np.uint8).reshape(2, 3, 2)
    raw = _idx_bytes(2051, (2, 3, 2), images.tobytes())
    (tmp_path / "images.idx").write_bytes(raw)
    (tmp_path / "images.gz").write_bytes(gzip.compress(raw))
    (tmp_path / "labels").write_bytes(_idx_bytes(2049, (2,), bytes([7, 0])))
    np.testing.assert_array_equal(read_idx(tmp_path / "images.idx"), images)
    np.testing.assert_array_equal(read_idx(tmp_path / "images.gz", 2051), images)
    # Written with write_idx, the header is byte for byte the same.
    write_idx(tmp_path / "again.idx", images)
    assert (tmp_path / "again.idx").read_bytes() == raw
    got_images, got_labels = load_idx_pair(tmp_path / "images.gz", tmp_path / "labels")
    assert got_labels.dtype == np.int64 and got_labels.tolist() == [7, 0]


def test_corrupt_gzip_is_rejected(tmp_path):
    path = tmp_path / "broken-images.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00" + b"not really deflate data" * 4)
    with pytest.raises(DatasetError, match="broken-images.gz") as info:
        read_idx(path)
    assert "gzip" in str(info.value) and "download" in str(info.value)


def test_cut_gzip_stream_is_rejected(tmp_path):
    path = tmp_path / "cut.gz"
    write_idx(path, np.zeros((10, 28, 28), dtype=np.uint8))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match="cut.gz"):
        read_idx(path)


def test_truncated_idx_is_rejected(tmp_path):
    path = tmp_path / "short-images.gz"
    # The header announces 3 images of 28x28 but two are there.
    raw = _idx_bytes(2051, (3, 28, 28), bytes(2 * 28 * 28))
    path.write_bytes(gzip.compress(raw))
    with pytest.raises(DatasetError, match="short-images.gz") as info:
        read_idx(path, 2051)
    message = str(info.value)
    assert "truncated" in message and str(16 + 3 * 28 * 28) in message


def test_wrong_magic_is_rejected(tmp_path):
    path = tmp_path / "labels-not-images"
    path.write_bytes(_idx_bytes(2049, (2,), bytes([1, 2])))
    with pytest.raises(DatasetError, match="labels-not-images") as info:
        read_idx(path, expected_magic=2051)
    assert "2051" in str(info.value) and "2049" in str(info.value)
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"GIF89a" + bytes(20))
    with pytest.raises(DatasetError, match="garbage"):
        read_idx(garbage)
