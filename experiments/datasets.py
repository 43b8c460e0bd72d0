"""
Image data sets for the experiments: arrays in, checksums checked.

Three data sets are known:

``'digits'``
    scikit-learn's bundled copy of the UCI optical recognition of handwritten
    digits (1,797 images of 8x8 pixels). It ships with scikit-learn, so it is
    the offline default and what the tests use.
``'mnist'``
    MNIST handwritten digits, 28x28 pixels, 60,000 training and 10,000 test
    images, read from the original gzip-compressed IDX files.
``'fashion-mnist'``
    Zalando's Fashion-MNIST, same format and sizes as MNIST.

Every loader returns a `Splits` of `Dataset` objects whose images are floats in
[0, 1] of shape ``(n, height, width)`` and whose labels are ``int64``. For MNIST
and Fashion-MNIST a validation split is held out of the 60,000 training images
with a fixed seed and is the set to evaluate on while developing; the official
test split (t10k) is read only on request (``use_test=True``).

Where the IDX files are looked for, in this order of precedence (the first of
the three that is given is used, the others are not searched):

1. the ``data_dir`` argument (the command line's ``--data-dir``):
   ``<data_dir>/<dataset>/`` and then ``<data_dir>/`` itself;
2. the environment variable ``SNN_DATA_DIR``: ``$SNN_DATA_DIR/<dataset>/`` and
   then ``$SNN_DATA_DIR/``;
3. the download cache ``<cache>/<dataset>/``, where ``<cache>`` is
   ``$SNN_CACHE_DIR`` or, without it, ``~/.cache/snn-brain-learning/datasets``.

Nothing is downloaded unless asked: ``--download`` on the command lines that
read these data sets (``python -m experiments``, ``python -m benchmarks
throughput|scaling``, ``python -m figures library``), which calls
`fetch_dataset`, or ``download=True`` of the loaders. A download goes to the
first directory above (``<data_dir>/<dataset>/``, ``$SNN_DATA_DIR/<dataset>/``
or ``<cache>/<dataset>/``), streams into a temporary file in that directory,
is checked against the length the server announced and the published MD5,
flushed to disk (fsync) and only then renamed into place, so an interrupted,
cut-short or corrupt download never leaves a file that looks complete.

The sources are the data sets' published URLs (the original first, then a
mirror). The environment variable ``SNN_DATA_MIRROR`` replaces them with one
base URL of your own, laid out like the cache: ``$SNN_DATA_MIRROR/<dataset>/<file>``
(an ``http://``, ``https://`` or ``file://`` URL; ``python -m http.server`` run
in a cache directory serves one). The MD5s checked are the published ones
either way.

References
----------
.. [1] Y. LeCun, L. Bottou, Y. Bengio and P. Haffner (1998). Gradient-based
   learning applied to document recognition. Proc. IEEE 86(11), 2278-2324.
   https://yann.lecun.com/exdb/mnist/ (describes the IDX format).
.. [2] H. Xiao, K. Rasul and R. Vollgraf (2017). Fashion-MNIST: a novel image
   dataset for benchmarking machine learning algorithms. arXiv:1708.07747.
.. [3] E. Alpaydin and C. Kaynak (1998). Optical recognition of handwritten
   digits. UCI Machine Learning Repository. doi:10.24432/C50P49.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from experiments.idx import (_FIX_FILE, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, DatasetError,
                             file_md5, read_idx, write_idx)

__all__ = [
    "KNOWN_DATASETS",
    "Dataset",
    "DatasetError",
    "DownloadError",
    "SplitSizeError",
    "Splits",
    "dataset_search_dirs",
    "default_cache_dir",
    "download_file",
    "dataset_files",
    "fetch_dataset",
    "file_md5",
    "find_dataset_file",
    "load_dataset",
    "load_digits_splits",
    "load_idx_pair",
    "load_mnist_splits",
    "read_idx",
    "write_idx",
]

logger = logging.getLogger(__name__)

#: Environment variable with a base URL that replaces the published sources.
MIRROR_ENV = "SNN_DATA_MIRROR"

KNOWN_DATASETS = ("digits", "mnist", "fashion-mnist")
N_CLASSES = 10

_TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
_TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
_TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
_TEST_LABELS = "t10k-labels-idx1-ubyte.gz"


@dataclass(frozen=True)
class _IdxSource:
    """Where an IDX data set is published and the MD5 of each of its files."""

    md5: dict
    urls: tuple


# MD5s as published with the data sets (and checked against the copies in the
# project's shared/datasets for the training files).
_SOURCES = {
    "mnist": _IdxSource(
        md5={
            _TRAIN_IMAGES: "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            _TRAIN_LABELS: "d53e105ee54ea40749a09fcbcd1e9432",
            _TEST_IMAGES: "9fb629c4189551a2d022fa330f9573f3",
            _TEST_LABELS: "ec29112dd5afa0611ce80d1b7f02629c",
        },
        urls=(
            "https://yann.lecun.com/exdb/mnist/",
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
        ),
    ),
    "fashion-mnist": _IdxSource(
        md5={
            _TRAIN_IMAGES: "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            _TRAIN_LABELS: "25c81989df183df01b3e8a0aad5dffbe",
            _TEST_IMAGES: "bef4ecab320f06d8554ea6380940ec79",
            _TEST_LABELS: "bb300cfdad3c16e7a12a480ee83cd310",
        },
        urls=(
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
        ),
    ),
}

class SplitSizeError(DatasetError):
    """The validation and test splits asked for leave no image for training."""


class DownloadError(DatasetError):
    """No URL served a file with the expected checksum."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """
    One split of an image data set.

    Parameters
    ----------
    images : np.ndarray
        Pixel intensities in [0, 1] (dimensionless), shape
        ``(n_samples, height, width)``, floating point.
    labels : np.ndarray
        Class of each image, ``int64``, shape ``(n_samples,)``.
    name : str
        Name of the data set, e.g. ``'mnist'``.
    split : str
        Name of the split: ``'train'``, ``'validation'`` or ``'test'``.
    indices : np.ndarray, optional
        Position of each image in the file or set it was taken from (int64),
        so that a split can be recorded with a result and rebuilt.
    """

    images: np.ndarray
    labels: np.ndarray
    name: str
    split: str
    indices: np.ndarray | None = None

    def __post_init__(self):
        images, labels = self.images, self.labels
        if images.ndim != 3 or not np.issubdtype(images.dtype, np.floating):
            raise ValueError(
                f"Dataset '{self.name}' ({self.split}): images must be a float array "
                f"of shape (n, height, width), got dtype {images.dtype} and shape "
                f"{images.shape}."
            )
        if labels.shape != (images.shape[0],) or labels.dtype != np.int64:
            raise ValueError(
                f"Dataset '{self.name}' ({self.split}): labels must be int64 of shape "
                f"({images.shape[0]},), one per image; got dtype {labels.dtype} and "
                f"shape {labels.shape}."
            )
        if self.indices is not None and self.indices.shape != labels.shape:
            raise ValueError(
                f"Dataset '{self.name}' ({self.split}): indices must have shape "
                f"{labels.shape}, one per image; got {self.indices.shape}."
            )

    def __len__(self):
        return self.images.shape[0]

    @property
    def image_shape(self):
        """``(height, width)`` of one image."""
        return self.images.shape[1:]

    @property
    def n_pixels(self):
        """Number of pixels per image, the size of an input layer."""
        return self.images.shape[1] * self.images.shape[2]

    def flat(self):
        """
        Images as rows of pixels, shape ``(n_samples, n_pixels)``: the layout the
        encoders in `models.encoding` take. A view where possible.
        """
        return self.images.reshape(len(self), self.n_pixels)


@dataclass(frozen=True)
class Splits:
    """
    Training, validation and test splits of one data set.

    ``validation`` is the set to evaluate on during development; ``test`` is
    ``None`` unless it was asked for.
    """

    train: Dataset
    validation: Dataset | None
    test: Dataset | None


# --------------------------------------------------------------------------
# Splitting
# --------------------------------------------------------------------------


def _check_size(value, name, n_available):
    """Resolve a split size given as a count or a fraction of ``n_available``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, np.integer, float, np.floating)
    ):
        raise ValueError(
            f"'{name}' must be a number of samples (int >= 0) or a fraction in "
            f"[0, 1) (float), got {value!r}."
        )
    if isinstance(value, (float, np.floating)):
        if not 0 <= value < 1:
            raise ValueError(
                f"'{name}' as a fraction must lie in [0, 1), got {value}; give a "
                f"number of samples as an int instead."
            )
        return int(round(value * n_available))
    if value < 0:
        raise ValueError(f"'{name}' must be >= 0 samples, got {value}.")
    return int(value)


def _stratified_order(labels, rng):
    """
    A random order of all samples in which every prefix holds each class in
    proportion to its frequency, to within one sample.

    Each class is shuffled and its members are spread evenly over [0, 1) with a
    random offset (systematic sampling); sorting on that position interleaves
    the classes.
    """
    position = np.empty(len(labels))
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        members = rng.permutation(members)
        position[members] = (np.arange(len(members)) + rng.random()) / len(members)
    # Shuffle before the stable sort so that ties do not favour low indices.
    shuffled = rng.permutation(len(labels))
    return shuffled[np.argsort(position[shuffled], kind="stable")]


def _split_indices(labels, sizes, seed, stratify):
    """
    Cut a seeded random order of ``labels`` into consecutive parts of the
    given sizes; the rest is returned last.
    """
    rng = np.random.default_rng(seed)
    if stratify:
        order = _stratified_order(labels, rng)
    else:
        order = rng.permutation(len(labels))
    bounds = np.cumsum((0,) + tuple(sizes))
    parts = [order[start:stop] for start, stop in zip(bounds[:-1], bounds[1:])]
    parts.append(order[bounds[-1] :])
    return parts


def _subset(images, labels, indices, name, split):
    return Dataset(images[indices], labels[indices], name, split, indices)


# --------------------------------------------------------------------------
# scikit-learn digits
# --------------------------------------------------------------------------


def load_digits_splits(
    validation=300, test=300, seed=0, stratify=True, dtype=np.float32
):
    """
    The 1,797 8x8 handwritten digits bundled with scikit-learn, split into
    training, validation and test sets.

    Parameters
    ----------
    validation, test : int or float, optional
        Size of the validation and test splits: a number of images (int), or a
        fraction of the 1,797 images (float in [0, 1)). Default 300 each,
        leaving 1,197 for training. 0 gives ``None`` for that split.
    seed : int, optional
        Seed of the split; the same seed always gives the same split.
    stratify : bool, optional
        Keep the class proportions of every split (and of every prefix of a
        split) equal to those of the whole set, to within one image per class.
    dtype : numpy dtype, optional
        Floating point type of the images.

    Returns
    -------
    Splits
        Images in [0, 1] (the original 0..16 grey levels divided by 16), each
        split in a seeded random order.

    References
    ----------
    .. [1] E. Alpaydin and C. Kaynak (1998). Optical recognition of handwritten
       digits. UCI Machine Learning Repository. doi:10.24432/C50P49.
    """
    # Imported here: scikit-learn is slow to import and only this loader needs it.
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (bunch.images / 16.0).astype(dtype)
    labels = bunch.target.astype(np.int64)
    return _make_splits(images, labels, "digits", validation, test, seed, stratify)


def _make_splits(images, labels, name, validation, test, seed, stratify):
    """Hold validation and test splits out of one set of images."""
    n = len(labels)
    n_val = _check_size(validation, "validation", n)
    n_test = _check_size(test, "test", n)
    if n_val + n_test >= n:
        raise SplitSizeError(
            f"validation ({n_val}) + test ({n_test}) must leave at least one of the "
            f"{n} '{name}' images for training; choose smaller splits (--validation, "
            f"--test)."
        )
    val_idx, test_idx, train_idx = _split_indices(
        labels, (n_val, n_test), seed, stratify
    )
    return Splits(
        train=_subset(images, labels, train_idx, name, "train"),
        validation=_subset(images, labels, val_idx, name, "validation")
        if n_val
        else None,
        test=_subset(images, labels, test_idx, name, "test") if n_test else None,
    )


# --------------------------------------------------------------------------
# IDX files
# --------------------------------------------------------------------------


def load_idx_pair(images_path, labels_path):
    """
    Read an image file and its label file and check that they belong together.

    Parameters
    ----------
    images_path, labels_path : str or Path
        IDX files with magic numbers 2051 (uint8 images, ``n x rows x cols``)
        and 2049 (uint8 labels, ``n``).

    Returns
    -------
    images : np.ndarray
        uint8 grey levels 0..255, shape ``(n, rows, cols)``.
    labels : np.ndarray
        int64 labels in 0..9, shape ``(n,)``.

    Raises
    ------
    DatasetError
        Either file is unreadable (see `read_idx`), the counts differ, or a
        label lies outside 0..9.
    """
    images = read_idx(images_path, expected_magic=IDX_IMAGES_MAGIC)
    labels = read_idx(labels_path, expected_magic=IDX_LABELS_MAGIC)
    if len(images) != len(labels):
        raise DatasetError(
            f"'{images_path}' holds {len(images)} images but '{labels_path}' holds "
            f"{len(labels)} labels; the counts must match. The two files come from "
            f"different releases or splits: {_FIX_FILE}"
        )
    if labels.size and labels.max() >= N_CLASSES:
        bad = int(np.flatnonzero(labels >= N_CLASSES)[0])
        raise DatasetError(
            f"'{labels_path}' has label {labels[bad]} at position {bad}; labels must "
            f"lie in 0..{N_CLASSES - 1}. {_FIX_FILE}"
        )
    return images, labels.astype(np.int64)


# --------------------------------------------------------------------------
# Finding and downloading files
# --------------------------------------------------------------------------


def default_cache_dir():
    """
    Root of the download cache: ``$SNN_CACHE_DIR``, else
    ``~/.cache/snn-brain-learning/datasets``. Each data set goes to its own
    ``<name>/`` subdirectory, because MNIST and Fashion-MNIST use the same
    file names.
    """
    env = os.environ.get("SNN_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "snn-brain-learning" / "datasets"


def dataset_search_dirs(name, data_dir=None):
    """
    Directories searched for the files of data set ``name``, in order.

    The first directory is also where a download goes. See the module
    docstring for the precedence of ``data_dir``, ``SNN_DATA_DIR`` and the
    cache.
    """
    root = data_dir if data_dir is not None else os.environ.get("SNN_DATA_DIR")
    if root:
        root = Path(root).expanduser()
        return [root / name, root]
    return [default_cache_dir() / name]


def _check_known_idx(name):
    if name not in _SOURCES:
        raise ValueError(
            f"'{name}' is not an IDX data set; the IDX loaders read "
            f"{' or '.join(repr(n) for n in _SOURCES)}. Load 'digits' with "
            f"load_digits_splits() or load_dataset('digits')."
        )
    return _SOURCES[name]


def find_dataset_file(name, filename, data_dir=None, download=False, verify=True):
    """
    Path of one file of an IDX data set, downloading it if asked to.

    Parameters
    ----------
    name : {'mnist', 'fashion-mnist'}
        The data set.
    filename : str
        One of its files, e.g. ``'train-images-idx3-ubyte.gz'``.
    data_dir : str or Path, optional
        Directory given by the user; see the module docstring.
    download : bool, optional
        Download the file into the first search directory if it is not found.
    verify : bool, optional
        Check the MD5 of a file found locally against the published one.

    Returns
    -------
    Path

    Raises
    ------
    FileNotFoundError
        The file is in none of the search directories and ``download`` is off.
    DatasetError
        The file found has the wrong MD5.
    DownloadError
        No URL served the file with the right MD5.
    """
    source = _check_known_idx(name)
    expected_md5 = source.md5.get(filename)
    dirs = dataset_search_dirs(name, data_dir)
    for directory in dirs:
        path = directory / filename
        if path.is_file():
            if verify and expected_md5 is not None:
                _verify_md5(path, expected_md5)
            return path
    if not download:
        raise FileNotFoundError(
            f"'{filename}' of data set '{name}' was not found; searched "
            f"{', '.join(str(d) for d in dirs)}. Pass the directory that holds it "
            f"with --data-dir (data_dir=...) or the SNN_DATA_DIR environment "
            f"variable, or fetch it with --download (download=True)."
        )
    return download_file(_source_urls(name, filename), dirs[0] / filename, expected_md5)


def _source_urls(name, filename):
    """URLs of one file: ``$SNN_DATA_MIRROR/<name>/<filename>`` if that is set, else
    the published sources."""
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    if mirror:
        return [f"{mirror.rstrip('/')}/{name}/{filename}"]
    return [base + filename for base in _SOURCES[name].urls]


def fetch_dataset(name, data_dir=None, test=False):
    """
    Download the files of data set ``name`` that are missing (what ``--download``
    does), verify them, and return their paths.

    Files already present in one of the search directories (`dataset_search_dirs`)
    are only checked against their MD5; missing ones are downloaded into the first
    search directory (see the module docstring for where that is, the sources and
    ``SNN_DATA_MIRROR``).

    Parameters
    ----------
    name : {'digits', 'mnist', 'fashion-mnist'}
        The data set; 'digits' ships with scikit-learn, so nothing is fetched.
    data_dir : str or Path, optional
        Directory given by the user (``--data-dir``).
    test : bool, optional
        Also fetch the official test split (t10k), which only runs that evaluate on
        it read.

    Returns
    -------
    list of Path
        The training files (and test files), verified.

    Raises
    ------
    DownloadError
        A file could not be downloaded with the right MD5 and length, or not
        written; nothing that looks complete is left behind.
    DatasetError
        A file found locally has the wrong MD5 (delete it to download it again).
    """
    name = _canonical_name(name)
    if name == "digits":
        return []
    return [find_dataset_file(name, filename, data_dir, download=True)
            for filename in dataset_files(name, test)]


def dataset_files(name, test=False) -> tuple:
    """The IDX file names of data set ``name`` ('mnist' or 'fashion-mnist': the same
    names): the training images and labels, and with ``test`` the official test split's
    (t10k)."""
    _check_known_idx(_canonical_name(name))
    return (_TRAIN_IMAGES, _TRAIN_LABELS) + ((_TEST_IMAGES, _TEST_LABELS) if test else ())


def _verify_md5(path, expected_md5):
    actual = file_md5(path)
    if actual != expected_md5:
        raise DatasetError(
            f"'{path}' has MD5 {actual}, expected {expected_md5}: it is corrupt, "
            f"truncated or a different file. {_FIX_FILE} (verify=False skips this "
            f"check for files of your own.)"
        )


def download_file(urls, destination, md5=None, timeout=60.0, chunk_size=1 << 16):
    """
    Download a file, trying each URL in turn until one serves the right bytes.

    Each attempt streams into a temporary file next to ``destination``; only a
    file whose MD5 matches is renamed to ``destination`` (atomically, with
    `os.replace`). A failed attempt deletes its temporary file, so no partial
    file is ever left behind.

    Parameters
    ----------
    urls : sequence of str
        Candidate URLs, the original first and mirrors after it.
    destination : str or Path
        Final path; its directory is created if needed.
    md5 : str, optional
        Expected hexadecimal MD5; ``None`` accepts any content.
    timeout : float, optional
        Socket timeout per attempt, in seconds.
    chunk_size : int, optional
        Bytes read at a time.

    Returns
    -------
    Path
        ``destination``.

    Raises
    ------
    DownloadError
        Every URL failed; the message lists why each one did.
    """
    destination = Path(destination)
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DownloadError(
            f"Could not download '{destination.name}': cannot make the folder "
            f"'{destination.parent}' ({err.strerror or err}). Make it writable, or choose "
            f"a data folder you can write to."
        ) from None
    failures = []
    for url in urls:
        logger.info("Downloading %s to %s", url, destination)
        try:
            _download_one(url, destination, md5, timeout, chunk_size)
        except (OSError, urllib.error.URLError, http.client.HTTPException,
                DatasetError, ValueError) as err:
            # ValueError covers malformed URLs; OSError covers timeouts, refused
            # connections, HTTP errors and a full or read-only disk.
            # The caller reports the failure; a warning here would be a second message.
            logger.info("Download from %s failed: %s", url, err)
            failures.append(f"{url}: {_reason(err)}")
            continue
        return destination
    sources = failures[0] if len(failures) == 1 else "every source failed: " + "; ".join(failures)
    raise DownloadError(
        f"Could not download '{destination.name}' ({sources}). No file was written to "
        f"{destination.parent}. Check the network connection (or SNN_DATA_MIRROR) and "
        f"retry, or put the file there by hand."
    )


def _reason(err):
    """Why one download attempt failed, in a few words."""
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        reason = err.reason
        return getattr(reason, "strerror", None) or str(reason)
    return str(err) or type(err).__name__


def _download_one(url, destination, md5, timeout, chunk_size):
    """Stream ``url`` into a temporary file next to ``destination``; rename it into
    place only when its length and MD5 are right and it is on disk."""
    fd, tmp = tempfile.mkstemp(
        dir=destination.parent, prefix=f".{destination.name}.", suffix=".part"
    )
    try:
        digest = hashlib.md5(usedforsecurity=False)
        received = 0
        with os.fdopen(fd, "wb") as out:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                announced = _content_length(response)
                for chunk in iter(lambda: response.read(chunk_size), b""):
                    digest.update(chunk)
                    out.write(chunk)
                    received += len(chunk)
            # http.client ends a body that stops short of its Content-Length without
            # an error: the length is checked here.
            if announced is not None and received != announced:
                raise DatasetError(
                    f"the transfer was cut short: {received} of {announced} bytes "
                    f"received"
                )
            if md5 is not None and digest.hexdigest() != md5:
                raise DatasetError(
                    f"served bytes with MD5 {digest.hexdigest()}, expected {md5}"
                )
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, destination)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_directory(destination.parent)


def _content_length(response):
    """The body length a response announced, or None."""
    headers = getattr(response, "headers", None)
    value = headers.get("Content-Length") if headers is not None else None
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _fsync_directory(directory):
    """Make a rename in ``directory`` durable (where the platform allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --------------------------------------------------------------------------
# MNIST and Fashion-MNIST
# --------------------------------------------------------------------------


def _load_idx_split(name, images_file, labels_file, data_dir, download, verify):
    images_path = find_dataset_file(name, images_file, data_dir, download, verify)
    labels_path = find_dataset_file(name, labels_file, data_dir, download, verify)
    return load_idx_pair(images_path, labels_path)


def load_mnist_splits(
    name="mnist",
    data_dir=None,
    validation=10000,
    seed=0,
    use_test=False,
    download=False,
    verify=True,
    stratify=True,
    dtype=np.float32,
):
    """
    MNIST or Fashion-MNIST, with a validation split held out of the training set.

    Parameters
    ----------
    name : {'mnist', 'fashion-mnist'}, optional
        The data set.
    data_dir : str or Path, optional
        Directory holding the IDX files (directly or in a ``<name>/``
        subdirectory). Default: ``SNN_DATA_DIR``, else the download cache.
    validation : int or float, optional
        Images held out of the 60,000 training images for validation (a count,
        or a fraction in [0, 1)). Default 10,000, leaving 50,000 for training.
        0 gives ``validation=None``.
    seed : int, optional
        Seed of the validation split.
    use_test : bool, optional
        Also read the official 10,000-image test split (t10k). Off by default so
        that development runs cannot peek at it.
    download : bool, optional
        Download missing files, verified against their published MD5.
    verify : bool, optional
        Check the MD5 of local files. Turn off only for files of your own.
    stratify : bool, optional
        Keep class proportions equal in the training and validation splits.
    dtype : numpy dtype, optional
        Floating point type of the images (float32 halves the memory of the
        60,000 x 784 training images to 188 MB).

    Returns
    -------
    Splits
        Images in [0, 1] (grey levels divided by 255). Training and validation
        splits are in a seeded random order; the test split, if read, keeps the
        file's order.

    Raises
    ------
    FileNotFoundError
        A file is missing and ``download`` is off.
    DatasetError
        A file is corrupt, truncated, of the wrong kind or has the wrong MD5.

    References
    ----------
    .. [1] Y. LeCun, L. Bottou, Y. Bengio and P. Haffner (1998). Gradient-based
       learning applied to document recognition. Proc. IEEE 86(11), 2278-2324.
    .. [2] H. Xiao, K. Rasul and R. Vollgraf (2017). Fashion-MNIST: a novel image
       dataset for benchmarking machine learning algorithms. arXiv:1708.07747.
    """
    name = _canonical_name(name)
    _check_known_idx(name)
    images, labels = _load_idx_split(
        name, _TRAIN_IMAGES, _TRAIN_LABELS, data_dir, download, verify
    )
    n_val = _check_size(validation, "validation", len(labels))
    if n_val >= len(labels):
        raise SplitSizeError(
            f"validation ({n_val}) must be smaller than the {len(labels)} training "
            f"images of '{name}'; choose a smaller validation split (--validation)."
        )
    val_idx, train_idx = _split_indices(labels, (n_val,), seed, stratify)
    train = _scaled_subset(images, labels, train_idx, name, "train", dtype)
    val = (
        _scaled_subset(images, labels, val_idx, name, "validation", dtype)
        if n_val
        else None
    )
    test = None
    if use_test:
        test_images, test_labels = _load_idx_split(
            name, _TEST_IMAGES, _TEST_LABELS, data_dir, download, verify
        )
        test = _scaled_subset(
            test_images, test_labels, np.arange(len(test_labels)), name, "test", dtype
        )
    return Splits(train=train, validation=val, test=test)


def _scaled_subset(images, labels, indices, name, split, dtype):
    # Index the uint8 array before converting, to convert each pixel once.
    scaled = images[indices].astype(dtype)
    scaled /= 255
    return Dataset(scaled, labels[indices], name, split, np.asarray(indices))


# --------------------------------------------------------------------------
# Single entry point
# --------------------------------------------------------------------------


def _canonical_name(name):
    canonical = str(name).strip().lower().replace("_", "-")
    if canonical not in KNOWN_DATASETS:
        raise ValueError(
            f"Unknown dataset '{name}'; known datasets: {', '.join(KNOWN_DATASETS)}."
        )
    return canonical


def load_dataset(name, **kwargs):
    """
    Load a data set by name.

    Parameters
    ----------
    name : {'digits', 'mnist', 'fashion-mnist'}
        Case-insensitive; ``_`` is read as ``-``.
    **kwargs
        Passed on to `load_digits_splits` (digits) or `load_mnist_splits`
        (MNIST and Fashion-MNIST).

    Returns
    -------
    Splits
    """
    name = _canonical_name(name)
    if name == "digits":
        return load_digits_splits(**kwargs)
    return load_mnist_splits(name, **kwargs)
