"""The IDX file format of MNIST and Fashion-MNIST: read, write, checksum.

An IDX file is a big-endian header (two zero bytes, a type code, the number of
dimensions, then one 32-bit size per dimension) followed by the array in
row-major order, usually gzip-compressed. :func:`read_idx` checks every part of
it and names what is wrong; :func:`write_idx` is its inverse (the tests write
small IDX files with it).

Reference: Y. LeCun, L. Bottou, Y. Bengio and P. Haffner (1998). Gradient-based
learning applied to document recognition. Proc. IEEE 86(11), 2278-2324;
https://yann.lecun.com/exdb/mnist/ describes the format.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np

__all__ = ["DatasetError", "IDX_IMAGES_MAGIC", "IDX_LABELS_MAGIC", "file_md5", "read_idx",
           "write_idx"]

#: Magic numbers of the two IDX files types used here: unsigned bytes (0x08)
#: with three dimensions (images) or one dimension (labels).
IDX_IMAGES_MAGIC = 2051
IDX_LABELS_MAGIC = 2049

# IDX type codes (third byte of the magic number) and their big-endian dtypes.
_IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES = {dtype.newbyteorder(">"): code for code, dtype in _IDX_DTYPES.items()}

_GZIP_MAGIC = b"\x1f\x8b"

_FIX_FILE = (
    "Delete the file so that it is downloaded again (--download), or point "
    "--data-dir / SNN_DATA_DIR at a directory with intact copies."
)


class DatasetError(ValueError):
    """A data file is corrupt, truncated, of the wrong kind or inconsistent, or the
    data set is too small for the validation and test splits asked for."""


def file_md5(path, chunk_size=1 << 20):
    """Hexadecimal MD5 digest of the file at ``path``."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_maybe_gzip(path):
    """Bytes of ``path``, decompressed if it is gzip (by content, not by name)."""
    path = Path(path)
    with open(path, "rb") as f:
        raw = f.read()
    if not (raw[:2] == _GZIP_MAGIC or path.suffix == ".gz"):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise DatasetError(
            f"'{path}' is not a valid gzip file ({err}); it is corrupt or was cut "
            f"short. {_FIX_FILE}"
        ) from err


def read_idx(path, expected_magic=None):
    """
    Read an IDX file, gzip-compressed or not.

    Parameters
    ----------
    path : str or Path
        The file. Gzip compression is detected from the content.
    expected_magic : int, optional
        Magic number the file must have, e.g. 2051 (`IDX_IMAGES_MAGIC`) for
        images of unsigned bytes or 2049 (`IDX_LABELS_MAGIC`) for labels.

    Returns
    -------
    np.ndarray
        The array, in native byte order, with the shape given in the header.

    Raises
    ------
    DatasetError
        The file is not valid gzip, its header is malformed or has another
        magic number, or its data is shorter or longer than the header says.

    Notes
    -----
    An IDX file is a 4-byte big-endian magic number (two zero bytes, a type
    code, the number of dimensions), one big-endian uint32 size per dimension,
    then the data in row-major order, big-endian [1]_.

    References
    ----------
    .. [1] Y. LeCun, C. Cortes and C. J. C. Burges. The MNIST database of
       handwritten digits. https://yann.lecun.com/exdb/mnist/
    """
    path = Path(path)
    data = _read_maybe_gzip(path)
    if len(data) < 4:
        raise DatasetError(
            f"'{path}' is too short for an IDX header ({len(data)} bytes, at least 4 "
            f"expected). {_FIX_FILE}"
        )
    (magic,) = struct.unpack(">I", data[:4])
    zeros, code, ndim = magic >> 16, (magic >> 8) & 0xFF, magic & 0xFF
    if expected_magic is not None and magic != expected_magic:
        raise DatasetError(
            f"'{path}' has IDX magic number {magic}, expected {expected_magic} "
            f"({_describe_magic(expected_magic)}); it is the wrong file or corrupt. "
            f"{_FIX_FILE}"
        )
    if zeros != 0 or code not in _IDX_DTYPES or ndim == 0:
        raise DatasetError(
            f"'{path}' does not start with an IDX magic number (got {magic:#010x}: "
            f"expected two zero bytes, a type code in "
            f"{sorted(hex(c) for c in _IDX_DTYPES)} and at least one dimension). "
            f"{_FIX_FILE}"
        )
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise DatasetError(
            f"'{path}' is truncated: its header announces {ndim} dimensions "
            f"({header_size} header bytes) but the file has {len(data)} bytes. "
            f"{_FIX_FILE}"
        )
    shape = struct.unpack(f">{ndim}I", data[4:header_size])
    dtype = _IDX_DTYPES[code]
    expected_bytes = header_size + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected_bytes:
        problem = "truncated" if len(data) < expected_bytes else "longer than declared"
        raise DatasetError(
            f"'{path}' is {problem}: header shape {shape} of {dtype.itemsize}-byte "
            f"values needs {expected_bytes} bytes (uncompressed), the file has "
            f"{len(data)}. {_FIX_FILE}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    # Copy: the buffer view is read-only, which would surprise callers.
    return array.astype(dtype.newbyteorder("="))


def _describe_magic(magic):
    return {
        IDX_IMAGES_MAGIC: "images: unsigned bytes, 3 dimensions",
        IDX_LABELS_MAGIC: "labels: unsigned bytes, 1 dimension",
    }.get(magic, "IDX")


def write_idx(path, array):
    """
    Write ``array`` as an IDX file, gzip-compressed if ``path`` ends in ``.gz``.

    The inverse of `read_idx`. The file is written under a temporary name and
    renamed, so it is either complete or absent.

    Parameters
    ----------
    path : str or Path
        Target file.
    array : array_like
        Data of dtype uint8, int8, int16, int32, float32 or float64, with
        1 to 255 dimensions.
    """
    array = np.asarray(array)
    big_endian = array.dtype.newbyteorder(">")
    if big_endian not in _IDX_CODES or array.ndim == 0:
        raise ValueError(
            f"write_idx: IDX stores uint8, int8, int16, int32, float32 or float64 "
            f"arrays with at least one dimension; got dtype {array.dtype} with "
            f"{array.ndim} dimensions. Convert the array with .astype() first."
        )
    header = struct.pack(">I", (_IDX_CODES[big_endian] << 8) | array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + np.ascontiguousarray(array, dtype=big_endian).tobytes()
    path = Path(path)
    if path.suffix == ".gz":
        # mtime=0 makes the bytes, and so the MD5, independent of the clock.
        payload = gzip.compress(payload, mtime=0)
    _atomic_write_bytes(path, payload)


def _atomic_write_bytes(path, payload):
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
