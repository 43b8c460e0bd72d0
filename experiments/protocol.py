"""The one protocol path: configuration, command line, a new run, a resume.

Every protocol of ``python -m experiments`` is a configuration class and a protocol
class. The configuration derives from :class:`RunConfig`, which holds the fields every
run has (data split, epochs, seed, device) and the one way to build a configuration:
the class's defaults, then the preset's values for the data set, then the overrides
(:meth:`RunConfig.make`), checked by :meth:`RunConfig.validate` before any data is
loaded or code compiled, stored in ``config.json`` by :meth:`RunConfig.to_dict` and read
back by :meth:`RunConfig.stored`. The command line of every protocol is built from the
class's option table (:meth:`RunConfig.add_arguments`, :meth:`RunConfig.from_args`).
:func:`train` opens the run folder (new, or resumed under its lock) and hands the
protocol to the :class:`~experiments.training.Trainer`; :class:`TrainingProtocol` states
what the trainer calls on a protocol.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from dataclasses import dataclass, fields
from operator import attrgetter
from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

from experiments.options import (DATA_FIELDS, add_field_options, add_run_options,
                                 field_overrides, given_options, option_dest)
from runs import RunFolder

__all__ = ["ConfigurationError", "RunConfig", "TrainingProtocol", "ImageProtocol",
           "is_integer", "is_number", "load_image_splits", "open_run", "train",
           "runner", "run_and_report"]


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
    def stored(cls, folder: RunFolder, **expected):
        """The configuration saved in a run folder's ``config.json``; ``expected`` field
        values (e.g. ``study='plif'``) must match."""
        try:
            cfg = cls.from_dict(folder.read_config()["config"])
        except (TypeError, ValueError, KeyError) as err:
            raise ConfigurationError(f"--resume: '{folder.config_path}' has no valid "
                                     f"{cls.protocol_of(expected)} configuration "
                                     f"({err}).") from None
        for name, value in expected.items():
            if getattr(cfg, name) != value:
                raise ConfigurationError(f"--resume: '{folder.path}' is a "
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
        self._require(("epochs", "seed", "validation", "test", "analysis_samples"),
                      "nonnegative_int")
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
        ``--resume``), its switches (:attr:`FLAGS`) and one option per entry of
        :attr:`CLI_FIELDS` and :data:`~experiments.options.DATA_FIELDS`; every default
        is in the help (``defaults`` replaces the class's where a study has its own)."""
        add_run_options(parser, cls, cls.PRESETS, cls.PAPER_DATASET)
        parser.add_argument("--resume", default=None, metavar="RUN",
                            help="continue the run in this results folder from its last "
                                 "checkpoint; default: start a new run")
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
        (``root`` is ``--out``, ``run_id`` None), or with ``--resume RUN`` the
        configuration stored in ``RUN`` with only ``--epochs`` and ``--device`` changed
        (any other option given is refused). ``fixed`` holds field values the command
        itself sets (a study, for example)."""
        flags = [option for option in cls.FLAGS if getattr(args, option_dest(option))]
        extra = cls.extra_overrides(args)
        if args.resume is not None:
            given = given_options(args, cls.cli_fields()) + flags \
                + [option for option, value in (("--dataset", args.dataset),
                                                ("--data-dir", args.data_dir))
                   if value is not None] + list(extra)
            if given:
                raise ConfigurationError(
                    f"--resume continues a run with its own configuration; "
                    f"{', '.join(given)} cannot change. Leave them out, or start a new run "
                    "without --resume.")
            folder = RunFolder.open(args.resume, protocol=cls.protocol_of(fixed))
            cfg = cls.stored(folder, **fixed)
            changes = {k: v for k, v in (("epochs", args.epochs), ("device", args.device))
                       if v is not None}
            cfg = dataclasses.replace(cfg, **changes).validate()
            path = Path(folder.path).resolve()
            return cfg, path.parent.parent, path.name
        overrides = field_overrides(args, cls.cli_fields())
        overrides.update({cls.FLAGS[option][0]: cls.FLAGS[option][1] for option in flags})
        for values in extra.values():
            overrides.update(values)
        overrides.update(epochs=args.epochs, data_dir=args.data_dir, device=args.device,
                         threads=getattr(args, "threads", None), **fixed)
        return cls.make(args.preset, args.dataset, **overrides), args.out, None


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
             stored=None):
    """The results folder of a run of ``protocol`` with the configuration ``cfg``.

    With ``resume`` and a ``root/<name>/run_id`` that holds a ``config.json``: that folder,
    locked, after checking that its stored configuration (``stored(folder)``, default
    ``cfg.stored``) differs from ``cfg`` in ``epochs`` and ``device`` at most; otherwise
    a new folder ``root/<name>/<run_id or a new id from label>``. Returns ``(folder,
    resumed)``, ``resumed`` telling whether an existing run folder was opened: the
    trainer continues it from its checkpoint, or, when the run stopped before its first
    checkpoint, starts it again from the beginning and says so in its log."""
    from models.devices import device_description
    from runs import check_resumable, new_run_id

    stored = stored or type(cfg).stored
    existing = None if run_id is None else RunFolder(Path(root) / protocol.name / run_id)
    if resume and existing is not None and existing.config_path.is_file():
        folder = RunFolder.open(existing.path, protocol=protocol.name)
        folder.lock()  # before anything is read: released by Trainer.run
        try:
            if dataclasses.replace(stored(folder), epochs=cfg.epochs, device=cfg.device) != cfg:
                raise ConfigurationError(f"--resume: the run in {folder.path} has another "
                                         "configuration; start a new run instead.")
            check_resumable(protocol, folder.path)  # before anything in the folder changes
            folder.update_config(config=cfg.to_dict())
        except BaseException:
            folder.unlock()
            raise
        return folder, True
    folder = RunFolder.create(root, protocol.name, cfg.to_dict(),
                              run_id=run_id or new_run_id(label),
                              device=device_description(cfg.device, cfg.threads), seeds=protocol.seeds())
    return folder, False


def train(protocol, root, *, run_id=None, resume=False, progress=True, label="",
          stored=None):
    """Open the run folder of ``protocol`` (whose ``cfg`` is the configuration; see
    :func:`open_run`) and train it to its last epoch. Returns ``(folder, trainer,
    final TrainingState)``."""
    from experiments.training import Trainer

    folder, resumed = open_run(protocol, protocol.cfg, root, run_id=run_id, resume=resume,
                               label=label, stored=stored)
    trainer = Trainer(protocol, folder, progress=progress)
    return folder, trainer, trainer.run(resume=resumed)


def runner(protocol_class, label):
    """The ``run(cfg, root, *, run_id=None, resume=False, progress=True, data=None)`` of a
    protocol: train one configuration with ``protocol_class(cfg, data=data)`` (``data``:
    ``(x_train, y_train, x_eval, y_eval)`` instead of loading the data set) in a new
    folder named after ``label(cfg)``, or with ``resume=True`` continue the run in
    ``root/<protocol>/run_id`` (from its checkpoint, if it has one); ``run`` returns
    ``(RunFolder, final TrainingState)``."""
    def run(cfg, root, *, run_id: str | None = None, resume: bool = False,
            progress: bool = True, data=None):
        """Train one configuration; returns ``(RunFolder, final TrainingState)``.
        ``resume=True`` continues the run in ``root/<protocol>/run_id``."""
        folder, _, state = train(protocol_class(cfg, data=data), root, run_id=run_id,
                                 resume=resume, progress=progress, label=label(cfg))
        return folder, state

    return run


def run_and_report(run, summarise, cfg: RunConfig, root, run_id, args, keys) -> int:
    """The end of every protocol's command line: ``run`` the configuration (resuming
    with ``--resume``), then print the results folder and the ``keys`` of
    ``summarise(metrics)`` that the run has."""
    folder, state = run(cfg, root, run_id=run_id, resume=args.resume is not None,
                        progress=not args.no_progress)
    summary = summarise(state.metrics)
    print(f"results in {folder.path}", flush=True)
    for key in keys:
        if summary.get(key) is not None:
            print(f"{key}: {summary[key]:.4f}", flush=True)
    return 0
