"""The one protocol path: configuration, command line, a new run, a resume.

Every protocol of ``python -m experiments`` is a configuration class and a protocol
class. The configuration derives from :class:`RunConfig`, which holds the fields every
run has (data split, epochs, seed, device) and the one way to build a configuration:
the class's defaults, then the preset's values for the data set, then the overrides
(:meth:`RunConfig.make`), checked by :meth:`RunConfig.validate` before any data is
loaded or code compiled, stored in ``config.json`` by :meth:`RunConfig.to_dict` and read
back by :meth:`RunConfig.stored`. The command line of every protocol is built from the
class's option table (:meth:`RunConfig.add_arguments`, :meth:`RunConfig.from_args`).
:func:`train` opens the run folder (new, resumed under its lock, or a branch of another
run) and hands the protocol to the :class:`~experiments.training.Trainer`;
:class:`TrainingProtocol` states what the trainer calls on a protocol.

A run's configuration is fixed when it is created. ``--resume RUN`` continues it exactly:
only the options of :data:`RESUME_OPTIONS` may be given (``--epochs`` only to extend the
run; a changed field is recorded as an event in ``config.json`` and ``log.txt``, and its
``config`` stays as created), any other is refused with the ``--branch`` command that
trains it instead. ``--branch RUN`` makes a new run whose configuration is RUN's plus the
options given and whose learned state starts from RUN's checkpoint; it trains its own
epochs from the first.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import shlex
import sys
from dataclasses import dataclass, fields
from operator import attrgetter
from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

from experiments.options import (DATA_FIELDS, DEFAULT_OUT, add_field_options,
                                 add_run_options, field_overrides, given_options,
                                 option_dest, option_tokens)
from runs import RunFolder

__all__ = ["ConfigurationError", "RunConfig", "TrainingProtocol", "ImageProtocol",
           "RESUME_OPTIONS", "is_integer", "is_number", "load_image_splits", "open_run",
           "train", "runner", "run_and_report", "fetch_image_data"]

#: The options that may be given with ``--resume``, each with the configuration field it
#: sets (``None``: none). They do not change what the run computes; a field that changes
#: is recorded as an event. Every other option is refused. A field the configuration
#: class lacks is skipped.
RESUME_OPTIONS = {
    "--epochs": "epochs",        # only to extend the run
    "--data-dir": "data_dir",    # the data files are checksum-verified
    "--threads": "threads",      # deterministic for every count, or refused
    "--download": None,          # fetches missing data files, checksum-verified
    "--no-progress": None,
}
#: The options of every run besides the protocol's tables, in the order the messages
#: list them.
_RUN_OPTIONS = ("--preset", "--dataset", "--data-dir", "--epochs", "--device", "--threads",
                "--out", "--no-progress")


class ConfigurationError(ValueError):
    """A run's configuration or data cannot work; raised before anything is compiled.

    The command line prints the message (which names the field and the fix) and exits
    with status 2."""


def is_integer(x) -> bool:
    """An int (numpy's too), not a bool."""
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def is_number(x) -> bool:
    """A finite real number (numpy's too), not a bool."""
    return isinstance(x, (int, float, np.floating, np.integer)) and not isinstance(x, bool) \
        and math.isfinite(x)


# ======================================================================================
# Configuration
# ======================================================================================


@dataclass(frozen=True)
class RunConfig:
    """The fields every protocol's configuration has, and the one way to make, check,
    store and read a configuration.

    ``preset`` ('paper' or 'quick'), ``dataset`` ('digits', 'mnist', 'fashion-mnist'),
    ``data_dir``, ``epochs``, ``seed``, ``validation`` (images held out of the training
    set), ``test`` (digits only: test images), ``eval_split`` ('validation' or 'test'),
    ``train_samples``/``eval_samples`` (use only the first n; ``None`` for all),
    ``analysis_samples`` (evaluation images whose spikes are kept), ``device`` ('cpp',
    'cuda' or 'runtime'), ``threads`` (OpenMP threads of a cpp build; results equal one
    thread's, or the protocol refuses more than one: :attr:`THREADS_REFUSED`).

    A protocol's configuration subclasses this (frozen dataclass), adds its own fields,
    may change the defaults of these, and sets the class attributes below; it checks its
    own fields in :meth:`check`.
    """

    preset: str = "paper"
    dataset: str = "mnist"
    data_dir: str | None = None
    epochs: int = 1
    seed: int = 0
    validation: int = 10000
    test: int = 0
    eval_split: str = "validation"
    train_samples: int | None = None
    eval_samples: int | None = None
    analysis_samples: int = 20
    device: str = "cpp"
    threads: int = 1

    #: Name of the protocol (its results go to ``<out>/<protocol>/``).
    protocol: ClassVar[str] = ""
    #: ``{preset: {dataset: {field: value}}}``: what a preset changes, per data set.
    PRESETS: ClassVar[dict] = {}
    #: The data set of the 'paper' preset when none is given.
    PAPER_DATASET: ClassVar[str] = "mnist"
    #: Command-line options: ``{option: (field, type, help)}``.
    CLI_FIELDS: ClassVar[dict] = {}
    #: Switches: ``{option: (field, value it sets, help)}``.
    FLAGS: ClassVar[dict] = {}
    #: Allowed values of fields, for the command line's ``choices``.
    CHOICES: ClassVar[dict] = {}
    #: Fields given as several numbers on the command line (``nargs='+'``).
    MULTIPLE: ClassVar[tuple] = ()
    #: Why the protocol refuses ``threads`` > 1 (``None``: its OpenMP builds compute
    #: bit for bit what one thread computes, checked by its tests).
    THREADS_REFUSED: ClassVar[str | None] = None

    # -- making, storing, reading --------------------------------------------------------
    @classmethod
    def protocol_of(cls, values: dict) -> str:
        """The protocol of a configuration with these field ``values`` (a class may
        serve several, e.g. one study each)."""
        return cls.protocol

    @classmethod
    def base_values(cls, overrides: dict) -> dict:
        """Values applied before the preset's (a study's defaults, for example)."""
        return {}

    @classmethod
    def make(cls, preset: str = "paper", dataset: str | None = None, **overrides):
        """A validated configuration: the class's defaults, :meth:`base_values`, the
        preset's values for ``dataset`` ('digits' for 'quick', :attr:`PAPER_DATASET`
        for the others when ``None``), then ``overrides`` (``None`` values are ignored, so
        unset command-line options keep the preset's value)."""
        if preset not in cls.PRESETS:
            raise ConfigurationError(f"preset: unknown preset {preset!r}; choose one of "
                                     f"{', '.join(cls.PRESETS)}.")
        table = cls.PRESETS[preset]
        if dataset is None:
            dataset = "digits" if preset == "quick" else cls.PAPER_DATASET
        dataset = str(dataset).strip().lower().replace("_", "-")
        if dataset not in table:
            raise ConfigurationError(
                f"dataset: preset {preset!r} has no setting for {dataset!r}; it covers "
                f"{', '.join(table)}. Choose one of those or --preset paper.")
        overrides = {k: v for k, v in overrides.items() if v is not None}
        values = dict(cls.base_values(overrides))
        values.update(table[dataset])
        values.update(overrides)
        return cls.from_dict(dict(values, preset=preset, dataset=dataset)).validate()

    def to_dict(self) -> dict:
        """The configuration as stored in ``config.json`` (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict):
        """The configuration of a stored dict (not validated); lists become tuples where
        the field is a tuple."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(d) - set(known))
        if unknown:
            raise ConfigurationError(f"unknown configuration fields: {', '.join(unknown)}")
        d = {k: tuple(v) if isinstance(v, (list, np.ndarray))
             and isinstance(known[k].default, tuple) else v for k, v in d.items()}
        return cls(**d)

    @classmethod
    def stored(cls, folder: RunFolder, option: str = "--resume", **expected):
        """The configuration saved in a run folder's ``config.json``, with the changes
        recorded since (its ``events``: e.g. epochs extended); ``expected`` field values
        (e.g. ``study='plif'``) must match. ``option`` names the command-line option
        that gave the folder, for the messages."""
        known = {f.name for f in fields(cls)}
        try:
            values = dict(folder.read_config()["config"])
            for event in folder.events():
                if isinstance(event, dict) and event.get("field") in known:
                    values[event["field"]] = event["to"]
            cfg = cls.from_dict(values)
        except (TypeError, ValueError, KeyError) as err:
            raise ConfigurationError(f"{option}: '{folder.config_path}' has no valid "
                                     f"{cls.protocol_of(expected)} configuration "
                                     f"({err}).") from None
        for name, value in expected.items():
            if getattr(cfg, name) != value:
                raise ConfigurationError(f"{option}: '{folder.path}' is a "
                                         f"{getattr(cfg, name)} run, not {value}.")
        return cfg

    def parameters(self, base) -> dict:
        """The values of the fields of ``base``, a network's parameters class that this
        configuration derives from, to build its spec; ``float`` and ``bool`` fields as
        such (a stored or given 10 is the network's 10.0)."""
        cast = {"float": float, "bool": bool}
        return {f.name: cast.get(getattr(f.type, "__name__", f.type), lambda v: v)(
            getattr(self, f.name)) for f in fields(base)}

    # -- checking ------------------------------------------------------------------------
    def validate(self):
        """Check every field; raise :class:`ConfigurationError` naming the field and the
        fix. Runs before any data is loaded or code is compiled. Returns ``self``."""
        self._check_run_fields()
        self.check()
        return self

    def check(self) -> None:
        """The protocol's own checks (raise :class:`ConfigurationError`)."""

    def _require(self, names, kind: str, text: str | None = None) -> None:
        """Raise :class:`ConfigurationError` for the first field of ``names`` that is
        not of ``kind`` ('positive_int', 'nonnegative_int', 'positive', 'nonnegative':
        see :data:`_KINDS`): ``"<name>: <text>, got <value>."``, ``text`` defaulting to
        the kind's."""
        test, default = _KINDS[kind]
        for name in (names,) if isinstance(names, str) else names:
            value = getattr(self, name)
            if not test(value):
                _fail(f"{name}: {text or default}, got {value!r}.")

    def _check_run_fields(self) -> None:
        from experiments.datasets import KNOWN_DATASETS
        from models.devices import TARGETS

        fail = _fail
        if not isinstance(self.preset, str) or self.preset not in self.PRESETS:
            fail(f"preset: unknown preset {self.preset!r}; choose one of "
                 f"{', '.join(self.PRESETS)}.")
        if self.data_dir is not None and not isinstance(self.data_dir, str):
            fail(f"data_dir: must be a directory name or None, got {self.data_dir!r}.")
        if self.dataset not in KNOWN_DATASETS:
            fail(f"dataset: unknown dataset {self.dataset!r}; choose one of "
                 f"{', '.join(KNOWN_DATASETS)}.")
        # A run of no epoch would compile, write a folder and train nothing.
        self._require("epochs", "positive_int", "must be an integer >= 1")
        self._require(("seed", "validation", "test", "analysis_samples"), "nonnegative_int")
        for name in ("train_samples", "eval_samples"):
            value = getattr(self, name)
            if value is not None and (not is_integer(value) or value < 1):
                fail(f"{name}: must be a positive number of samples or None, got {value!r}.")
        if self.eval_split not in ("validation", "test"):
            fail(f"eval_split: must be one of validation, test, got {self.eval_split!r}.")
        if self.eval_split == "validation" and self.validation < 1:
            fail("eval_split: 'validation' needs a validation split; set --validation > 0.")
        if self.eval_split == "test" and self.dataset == "digits" and self.test < 1:
            fail("eval_split: 'test' needs a test split; set --test to a number of images.")
        if self.device not in TARGETS:
            fail(f"device: unknown device {self.device!r}; choose one of {', '.join(TARGETS)}.")
        self._require("threads", "positive_int")
        if self.threads > 1 and self.THREADS_REFUSED:
            fail(f"threads: {self.THREADS_REFUSED}")
        if self.threads > 1 and self.device != "cpp":
            fail(f"threads: only the cpp device runs OpenMP threads, not {self.device!r}; "
                 "use --device cpp or --threads 1.")

    @property
    def openmp_threads(self) -> int:
        """``openmp_threads`` of :func:`models.devices.select_device`: 0 (no OpenMP) for
        one thread."""
        return self.threads if self.threads > 1 else 0

    # -- the command line ----------------------------------------------------------------
    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser, defaults: dict | None = None,
                      choices: dict | None = None) -> argparse.ArgumentParser:
        """The protocol's options: those of every run (``--preset``, ``--dataset``,
        ``--data-dir``, ``--epochs``, ``--device``, ``--out``, ``--no-progress``,
        ``--resume``, ``--branch``), its switches (:attr:`FLAGS`) and one option per
        entry of :attr:`CLI_FIELDS` and :data:`~experiments.options.DATA_FIELDS`; every
        default is in the help (``defaults`` replaces the class's where a study has its
        own)."""
        add_run_options(parser, cls, cls.PRESETS, cls.PAPER_DATASET)
        names = {f.name for f in fields(cls)}
        allowed = [option for option, name in RESUME_OPTIONS.items()
                   if name is None or name in names]
        parser.add_argument("--resume", default=None, metavar="RUN",
                            help="continue the run in this results folder from its last "
                                 "checkpoint, exactly as it was configured: only "
                                 f"{', '.join(allowed)} may be given with it (--epochs "
                                 "only to extend the run); default: start a new run")
        parser.add_argument("--branch", default=None, metavar="RUN",
                            help="start a new run (under --out) from the checkpoint of "
                                 "the run in this folder, with its configuration and the "
                                 "options given here; it trains its own epochs from the "
                                 "first; default: start from the initial state")
        for option, (_, _, text) in cls.FLAGS.items():
            parser.add_argument(option, action="store_true", help=text)
        add_field_options(parser, cls.cli_fields(), cls, cls.PRESETS,
                          choices={"eval_split": ("validation", "test"), **cls.CHOICES,
                                   **(choices or {})},
                          multiple=cls.MULTIPLE, defaults=defaults)
        return parser

    @classmethod
    def cli_fields(cls) -> dict:
        return {**cls.CLI_FIELDS, **DATA_FIELDS}

    @classmethod
    def extra_overrides(cls, args) -> dict:
        """``{option: {field: value}}`` of the given options outside the tables (e.g. one
        option that sets two fields)."""
        return {}

    @classmethod
    def from_args(cls, args, **fixed):
        """``(cfg, root, run_id)`` of parsed command-line ``args``: a new configuration
        (``root`` is ``--out``, ``run_id`` None); with ``--branch RUN`` the configuration
        stored in ``RUN`` with the options given; or with ``--resume RUN`` the
        configuration stored in ``RUN`` (``root`` and ``run_id`` locate it) with only the
        options of :data:`RESUME_OPTIONS` changed (any other option given is refused,
        naming the ``--branch`` command to use instead). ``fixed`` holds field values the
        command itself sets (a study, for example)."""
        flags = [option for option in cls.FLAGS if getattr(args, option_dest(option))]
        extra = cls.extra_overrides(args)
        given = [option for option in _RUN_OPTIONS
                 if getattr(args, option_dest(option), None) is not None
                 and getattr(args, option_dest(option)) is not False] \
            + given_options(args, cls.cli_fields()) + flags + list(extra)
        branch = getattr(args, "branch", None)
        if args.resume is not None:
            if branch is not None:
                raise ConfigurationError(
                    "--resume and --branch cannot be given together: --resume RUN "
                    "continues RUN in its own folder, --branch RUN starts a new run from "
                    "its checkpoint. Give one of them.")
            return cls._resumed(args, fixed, given)
        overrides = field_overrides(args, cls.cli_fields())
        overrides.update({cls.FLAGS[option][0]: cls.FLAGS[option][1] for option in flags})
        for values in extra.values():
            overrides.update(values)
        overrides.update({name: getattr(args, option_dest(option), None)
                          for option, name in (("--epochs", "epochs"), ("--data-dir", "data_dir"),
                                               ("--device", "device"), ("--threads", "threads"))},
                         **fixed)
        root = args.out if args.out is not None else DEFAULT_OUT
        if branch is not None:
            return cls._branched(args, fixed, overrides), root, None
        return cls.make(args.preset or "paper", args.dataset, **overrides), root, None

    @classmethod
    def _resumed(cls, args, fixed: dict, given: list):
        """``from_args`` with ``--resume``."""
        names = {f.name for f in fields(cls)}
        if "--preset" in given:  # a branch cannot take it either
            raise ConfigurationError(
                f"--preset cannot be given with --resume: the run in {args.resume} keeps "
                "the configuration it was made with; leave --preset out.")
        refused = [option for option in given if option not in RESUME_OPTIONS
                   or (RESUME_OPTIONS[option] is not None
                       and RESUME_OPTIONS[option] not in names)]
        if refused:
            command = shlex.join(["python", "-m", "experiments", cls.protocol_of(fixed),
                                  "--branch", str(args.resume)]
                                 + [word for option in given
                                    for word in option_tokens(args, option)])
            them = "them" if len(refused) > 1 else "it"
            raise ConfigurationError(
                f"{', '.join(refused)} cannot be given with --resume: a resumed run "
                f"continues exactly as it was configured, in its own folder. Leave {them} "
                f"out to continue {args.resume}, or train with {them} as a new run that "
                f"starts from its checkpoint: {command}")
        folder = RunFolder.open(args.resume, protocol=cls.protocol_of(fixed))
        stored = cls.stored(folder, **fixed)
        changes = {name: getattr(args, option_dest(option), None)
                   for option, name in RESUME_OPTIONS.items() if name in names}
        cfg = dataclasses.replace(stored, **{k: v for k, v in changes.items()
                                             if v is not None}).validate()
        resume_changes(stored, cfg, folder.path)
        path = Path(folder.path).resolve()
        return cfg, path.parent.parent, path.name

    @classmethod
    def _branched(cls, args, fixed: dict, overrides: dict):
        """``from_args`` with ``--branch``: the configuration of the run it names with
        the ``overrides`` of the options given (``None``: not given), validated."""
        if args.preset is not None:
            raise ConfigurationError(
                f"--preset cannot be given with --branch: a branch starts from the "
                f"configuration of {args.branch}; leave --preset out and give the fields "
                "to change as options.")
        source = RunFolder.open(args.branch, protocol=cls.protocol_of(fixed),
                                option="--branch")
        base = cls.stored(source, option="--branch", **fixed)
        names = {f.name for f in fields(cls)}
        overrides = {k: v for k, v in overrides.items() if v is not None and k in names}
        if args.dataset is not None:
            overrides["dataset"] = args.dataset
        return cls.from_dict({**base.to_dict(), **overrides}).validate()


def resume_changes(stored: RunConfig, cfg: RunConfig, where) -> dict:
    """``{field: (stored value, new value)}`` of the fields of :data:`RESUME_OPTIONS`
    in which ``cfg``, the configuration a run in the folder ``where`` is resumed with,
    differs from ``stored``, its configuration (with the changes recorded so far).

    Raises
    ------
    ConfigurationError
        ``cfg`` has fewer epochs than ``stored`` (a resume may only extend a run), or
        differs in any other field.
    """
    names = [name for name in RESUME_OPTIONS.values() if name is not None
             and name in {f.name for f in fields(stored)}]
    if cfg.epochs < stored.epochs:
        epochs = f"{stored.epochs} epoch{'s' if stored.epochs != 1 else ''}"
        raise ConfigurationError(
            f"--epochs {cfg.epochs}: the run in {where} is configured for {epochs}, and a "
            f"resumed run can only be extended. Leave --epochs out to train it to its "
            f"{epochs}, or give more.")
    other = [f"{f.name} {getattr(stored, f.name)!r} there, {getattr(cfg, f.name)!r} here"
             for f in fields(stored) if f.name not in names
             and getattr(stored, f.name) != getattr(cfg, f.name)]
    if other:
        raise ConfigurationError(f"--resume: the run in {where} has another configuration "
                                 f"({'; '.join(other)}); start a new run instead.")
    return {name: (getattr(stored, name), getattr(cfg, name)) for name in names
            if getattr(stored, name) != getattr(cfg, name)}


def _fail(message: str):
    raise ConfigurationError(message)


#: What :meth:`RunConfig._require` checks: ``{kind: (test, message)}``.
_KINDS = {
    "positive_int": (lambda v: is_integer(v) and v >= 1, "must be a positive integer"),
    "nonnegative_int": (lambda v: is_integer(v) and v >= 0, "must be an integer >= 0"),
    "positive": (lambda v: is_number(v) and v > 0, "must be a positive number"),
    "nonnegative": (lambda v: is_number(v) and v >= 0, "must be a number >= 0"),
}


# ======================================================================================
# What the trainer calls on a protocol
# ======================================================================================


@runtime_checkable
class TrainingProtocol(Protocol):
    """What :class:`~experiments.training.Trainer` calls on every protocol.

    The optional hooks (statistics, recordings, phases, probes) are described in
    :mod:`experiments.training`; the trainer looks them up with ``getattr``.
    """

    name: str
    n_epochs: int
    chunk_size: int
    n_train: int
    n_eval: int

    def seeds(self) -> dict:
        """The seeds and random streams of the run (stored in ``config.json``)."""

    def compile(self):
        """Select the device, build the network for ``chunk_size`` samples, compile it;
        returns a :class:`models.devices.CompiledNetwork`."""

    def learned_variables(self) -> dict:
        """``{name: VariableView}`` of everything learning changes."""

    def initial_state(self) -> dict:
        """``{name: array}`` before training, with the names of ``learned_variables``."""

    def train_order(self, epoch: int) -> np.ndarray:
        """A permutation of ``range(n_train)``."""

    def train_run_args(self, epoch: int, chunk: int, samples) -> dict:
        """``run_args`` of one training chunk, without the learned state."""

    def eval_run_args(self, samples) -> dict:
        """``run_args`` of one evaluation chunk, learning off."""

    def correct(self, split: str, samples) -> np.ndarray:
        """One bool per sample of the last run."""

    def learning_rate(self, epoch: int) -> float:
        """The learning rate of ``epoch`` (recorded with the metrics)."""


class ImageProtocol:
    """What every image-classification protocol does alike: check the configuration and
    load the images when created (so bad data fails before anything is compiled), the
    schedule it derives from its configuration (``cfg.epochs``, ``cfg.chunk_size``,
    ``cfg.eval_split``) and its label arrays (``y_train``, ``y_eval``) -- the engine's
    ``n_epochs``, ``chunk_size``, ``n_train``, ``n_eval`` and ``eval_split`` -- and the
    random streams (:attr:`STREAMS`, stored by :meth:`seeds`) and the training order, a
    permutation drawn from the stream 'training_order'.

    ``data``: ``(x_train, y_train, x_eval, y_eval)`` instead of loading ``cfg.dataset``
    (:func:`load_image_splits`); the images are kept as ``IMAGE_DTYPE`` (``None``: as
    given). ``n_classes``: size of the output layer.
    """

    #: The run's random streams, ``{name: (stream, what else seeds it, ...)}`` (numpy
    #: generators seeded by ``(seed, stream, ...)``), or a text where a stream is not
    #: numpy's; ``'training_order'`` draws :meth:`train_order`.
    STREAMS: ClassVar[dict] = {"training_order": (1, "epoch")}
    #: The type the images are kept in (``None``: as loaded).
    IMAGE_DTYPE: ClassVar[type | None] = None

    def __init__(self, cfg, data=None, n_classes: int = 10):
        self.cfg = cfg.validate()
        if data is None:
            data = load_image_splits(cfg)
        x_train, self.y_train, x_eval, self.y_eval = (np.asarray(a) for a in data)
        if self.IMAGE_DTYPE is not None:
            x_train, x_eval = x_train.astype(self.IMAGE_DTYPE), x_eval.astype(self.IMAGE_DTYPE)
        self.x_train, self.x_eval = x_train, x_eval
        self.n_in = x_train.shape[1]
        self.n_classes = n_classes
        self.net = None
        self.handle = None
        # Only samples of the first evaluation chunk are recorded, and only real ones.
        self.n_analysis = min(cfg.analysis_samples, len(self.y_eval), cfg.chunk_size)

    def seeds(self) -> dict:
        s = self.cfg.seed
        return {"seed": s,
                **{name: [s, *parts] if isinstance(parts, tuple) else parts
                   for name, parts in self.STREAMS.items()},
                "data_split": 0}

    def train_order(self, epoch: int) -> np.ndarray:
        stream = self.STREAMS["training_order"][0]
        return np.random.default_rng((self.cfg.seed, stream, epoch)).permutation(self.n_train)

    # The engine's schedule: the configuration's, and the sizes of the label arrays.
    n_epochs = property(attrgetter("cfg.epochs"))
    chunk_size = property(attrgetter("cfg.chunk_size"))
    eval_split = property(attrgetter("cfg.eval_split"))
    n_train = property(lambda self: len(self.y_train))
    n_eval = property(lambda self: len(self.y_eval))


def fetch_image_data(cfg) -> None:
    """``--download``: fetch the files of ``cfg``'s data set that are missing
    (:func:`experiments.datasets.fetch_dataset`: into ``cfg.data_dir``, else
    ``$SNN_DATA_DIR``, else the download cache; the test split only when it is
    evaluated). Raises :class:`ConfigurationError` with the download's message."""
    from experiments.datasets import DatasetError, fetch_dataset

    try:
        fetch_dataset(cfg.dataset, cfg.data_dir, test=cfg.eval_split == "test")
    except DatasetError as err:
        raise ConfigurationError(f"--download: {err}") from None


def load_image_splits(cfg):
    """Training and evaluation images (float64 rows in [0, 1]) and labels of a
    :class:`RunConfig`.

    Raises :class:`ConfigurationError` when the data cannot be found or read, with the
    message of :mod:`experiments.datasets` (it names the files and the fix).
    """
    from experiments.datasets import DatasetError, SplitSizeError, load_dataset

    kwargs = dict(validation=cfg.validation)
    if cfg.dataset == "digits":
        kwargs["test"] = cfg.test
    else:
        kwargs.update(data_dir=cfg.data_dir, use_test=cfg.eval_split == "test")
    try:
        splits = load_dataset(cfg.dataset, **kwargs)
    except SplitSizeError as err:
        raise ConfigurationError(f"validation: {err}") from None
    except (FileNotFoundError, DatasetError) as err:
        raise ConfigurationError(f"data_dir: {err}") from None
    except OSError as err:  # a data file that cannot be read (permissions, I/O error)
        raise ConfigurationError(
            f"data_dir: cannot read {err.filename or 'the data set'} ({err.strerror or err}); "
            "make it readable, or give --data-dir a folder whose files you can read."
        ) from None
    evaluation = splits.test if cfg.eval_split == "test" else splits.validation
    if evaluation is None:
        raise ConfigurationError(f"eval_split: the {cfg.eval_split} split is empty; give "
                                 "it images.")
    x_train, y_train = splits.train.flat().astype(np.float64), splits.train.labels
    x_eval, y_eval = evaluation.flat().astype(np.float64), evaluation.labels
    if cfg.train_samples is not None:
        x_train, y_train = x_train[:cfg.train_samples], y_train[:cfg.train_samples]
    if cfg.eval_samples is not None:
        x_eval, y_eval = x_eval[:cfg.eval_samples], y_eval[:cfg.eval_samples]
    return x_train, y_train, x_eval, y_eval


# ======================================================================================
# A run: new or resumed
# ======================================================================================


def open_run(protocol, cfg: RunConfig, root, *, run_id=None, resume=False, label="",
             stored=None, branch=None):
    """The results folder of a run of ``protocol`` with the configuration ``cfg``.

    With ``resume`` and a ``root/<name>/run_id`` that holds a ``config.json``: that folder,
    locked, after checking that its stored configuration (``stored(folder)``, default
    ``cfg.stored``) differs from ``cfg`` only where :func:`resume_changes` allows (the
    changes are recorded as events; ``config.json``'s ``config`` is never rewritten) and
    that its checkpoint can be resumed (:func:`runs.check_resumable`). With ``branch``
    (a run folder): a new folder whose learned state starts from that run's checkpoint
    (:func:`open_branch`). Otherwise a new folder ``root/<name>/<run_id or a new id from
    label>``. Returns ``(folder, resumed)``, ``resumed`` telling whether the trainer
    continues the folder from its checkpoint (an existing run, or a branch), or, when a
    resumed run stopped before its first checkpoint, starts it again from the
    beginning and says so in its log."""
    from runs import check_resumable, new_run_id

    if branch is not None:
        return open_branch(protocol, cfg, root, branch, label=label), True
    stored = stored or type(cfg).stored
    existing = None if run_id is None else RunFolder(Path(root) / protocol.name / run_id)
    if resume and existing is not None and existing.config_path.is_file():
        folder = RunFolder.open(existing.path, protocol=protocol.name)
        folder.lock()  # before anything is read: released by Trainer.run
        try:
            changes = resume_changes(stored(folder), cfg, folder.path)
            # Before anything in the folder changes.
            check_resumable(protocol, folder.path, branch_command=shlex.join(
                ["python", "-m", "experiments", protocol.name, "--branch", str(folder.path)]))
            for name, (old, new) in changes.items():
                folder.record_event(name, old, new, f"epochs extended from {old} to {new}"
                                    if name == "epochs" else
                                    f"{name} changed from {old!r} to {new!r} on resume")
        except BaseException:
            folder.unlock()
            raise
        return folder, True
    return _create(protocol, cfg, root, run_id or new_run_id(label)), False


def _create(protocol, cfg: RunConfig, root, run_id: str, **fields) -> RunFolder:
    """A new run folder of ``protocol`` with the configuration ``cfg``, its device's
    description and the protocol's seeds (``fields``: further entries of config.json)."""
    from models.devices import device_description

    return RunFolder.create(root, protocol.name, cfg.to_dict(), run_id=run_id,
                            device=device_description(cfg.device, cfg.threads),
                            seeds=protocol.seeds(),
                            **fields)


def open_branch(protocol, cfg: RunConfig, root, branch, label: str = "") -> RunFolder:
    """A new run folder of ``protocol`` with the configuration ``cfg`` whose first
    checkpoint (epoch 0, sample 0) holds the learned arrays of the checkpoint of the run
    in ``branch`` (:meth:`runs.RunFolder.usable_checkpoint`: the previous checkpoint,
    with a warning, where the latest is corrupt), cast to the new network's types;
    ``config.json`` records it as ``branched_from`` (run, run id, epoch, sample,
    checkpoint file and its SHA-256).

    Raises
    ------
    runs.NotARunError
        ``branch`` is not a run of ``protocol``, has no checkpoint, or its learned arrays
        do not fit the network of ``cfg`` (the message names the array and both shapes).
    """
    from experiments.training import TrainingState
    from runs import NotARunError, check_learned_state, new_run_id

    source = RunFolder.open(branch, protocol=protocol.name, option="--branch")
    checkpoint = source.usable_checkpoint(option="--branch")
    if checkpoint is None:
        raise NotARunError(
            f"--branch: the run in '{source.path}' has no checkpoint to start from (it "
            f"stopped before its first one); continue it with --resume {source.path}, "
            "or start a new run without --branch.")
    learned = check_learned_state(
        protocol, checkpoint.arrays, f"--branch: the checkpoint '{checkpoint.path}'",
        "the network of the branch's configuration",
        "a branch keeps the architecture of the run it starts from; leave out the options "
        "that change it (e.g. --hidden), or start a new run without --branch.")
    initial = protocol.initial_state()
    learned = {name: np.asarray(learned[name], dtype=np.asarray(initial[name]).dtype)
               for name in initial}
    origin = {"run": str(source.path.resolve()), "run_id": source.run_id,
              "epoch": checkpoint.meta.get("epoch"), "cursor": checkpoint.meta.get("cursor"),
              "checkpoint": checkpoint.path.name, "sha256": checkpoint.sha256}
    folder = _create(protocol, cfg, root, new_run_id(label), branched_from=origin)
    if checkpoint.fallback:
        warning = (f"{checkpoint.fallback} in {source.path}; branching from "
                   f"{checkpoint.path.name} at {checkpoint.position()}")
        print(f"warning: {warning}", file=sys.stderr, flush=True)
        folder.log(f"warning: {warning}")
    folder.log(f"branched from {source.path} at {checkpoint.position()} "
               f"({checkpoint.path.name}, sha256 {checkpoint.sha256}); new run: "
               f"{protocol.n_epochs} epochs of {protocol.n_train} samples from there")
    state = TrainingState(arrays=learned)
    folder.write_checkpoint(state.checkpoint_arrays(),
                            state.meta(protocol, folder.read_config()["config"]))
    folder.write_metrics([])
    return folder


def train(protocol, root, *, run_id=None, resume=False, progress=True, label="",
          stored=None, branch=None):
    """Open the run folder of ``protocol`` (whose ``cfg`` is the configuration; see
    :func:`open_run`) and train it to its last epoch. Returns ``(folder, trainer,
    final TrainingState)``. The machine's resources are checked before the folder
    exists (:func:`experiments.resources.check_resources`); a run that stops early
    (Ctrl-C, a failed write, a Brian2 build error) goes through
    :func:`experiments.stopped.stop`, which removes a new folder without a checkpoint."""
    from experiments.resources import check_resources
    from experiments.stopped import stop
    from experiments.training import Trainer

    check_resources(protocol)
    folder, resumed = open_run(protocol, protocol.cfg, root, run_id=run_id, resume=resume,
                               label=label, stored=stored, branch=branch)
    trainer = Trainer(protocol, folder, progress=progress)
    try:
        return folder, trainer, trainer.run(resume=resumed)
    except BaseException as err:
        raise stop(err, folder, created=not resumed, compiling=trainer.handle is None) \
            from err.__cause__


def runner(protocol_class, label):
    """The ``run(cfg, root, *, run_id=None, resume=False, progress=True, data=None,
    branch=None)`` of a protocol: train one configuration with ``protocol_class(cfg,
    data=data)`` (``data``: ``(x_train, y_train, x_eval, y_eval)`` instead of loading the
    data set) in a new folder named after ``label(cfg)``, or with ``resume=True``
    continue the run in ``root/<protocol>/run_id`` (from its checkpoint, if it has one),
    or with ``branch`` (a run folder) start from that run's checkpoint; ``run`` returns
    ``(RunFolder, final TrainingState)``."""
    def run(cfg, root, *, run_id: str | None = None, resume: bool = False,
            progress: bool = True, data=None, branch=None):
        """Train one configuration; returns ``(RunFolder, final TrainingState)``.
        ``resume=True`` continues the run in ``root/<protocol>/run_id``; ``branch`` (a
        run folder) starts from its checkpoint."""
        folder, _, state = train(protocol_class(cfg, data=data), root, run_id=run_id,
                                 resume=resume, progress=progress, label=label(cfg),
                                 branch=branch)
        return folder, state

    return run


def run_and_report(run, summarise, cfg: RunConfig, root, run_id, args, keys) -> int:
    """The end of every protocol's command line: ``run`` the configuration (resuming
    with ``--resume``, branching with ``--branch``), then print the results folder and
    the ``keys`` of ``summarise(metrics)`` that the run has. ``--download`` first fetches
    the data set's missing files (:func:`fetch_image_data`)."""
    if getattr(args, "download", False):
        fetch_image_data(cfg)
    folder, state = run(cfg, root, run_id=run_id, resume=args.resume is not None,
                        progress=not args.no_progress, branch=getattr(args, "branch", None))
    summary = summarise(state.metrics)
    print(f"results in {folder.path}", flush=True)
    for key in keys:
        if summary.get(key) is not None:
            print(f"{key}: {summary[key]:.4f}", flush=True)
    return 0
