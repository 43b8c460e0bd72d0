"""Desire backpropagation, trained inside a compiled Brian2 network.

Gerlinghoff, Luo, Goh & Wong (2023). Desire backpropagation: a lightweight training
algorithm for multi-layer spiking neural networks based on spike-timing-dependent
plasticity. Neurocomputing 560:126773. https://doi.org/10.1016/j.neucom.2023.126773
Reference code: https://github.com/DanielGerlinghoff/desire-backpropagation
(``desire_pytorch.py``); the protocol below follows it step for step.

The protocol
------------
Every sample is shown for ``T = n_steps = 20`` steps of a clocked network (one Brian2
time step ``dt = 1 ms`` is one model step). Within a step, in this order:

* input layer: ``m += x`` (``x`` the pixel value in [0, 1]); a spike when ``m >= 1``,
  then ``m -= 1`` (the arithmetic of the integrate-and-fire encoder of
  :mod:`models.encoding`, so the same spikes);
* every further layer (the library's ``if_clocked`` neuron): ``m <- decay*m``,
  ``m += W s_in``, a spike when ``m >= v_th`` (1), then ``m -= v_th``; no floor, no
  refractory period. The first hidden layer sees the input spikes of the same step,
  every later layer the spikes its predecessor fired in the previous step (one step of
  delay per layer, from Brian2's scheduling: thresholds of these layers run
  ``after_synapses``). All state is zeroed between samples, and spikes fired in the last
  step of a sample are not delivered into the next one.
* dropout: one mask per neuron and sample (input ``p_in``, hidden ``p_hid``); dropped
  neurons do not spike, kept spikes are transmitted with weight ``1/(1 - p)`` during
  training; no dropout in evaluation.

After the sample, with spike counts ``c`` and ``N* = T - error_margin``:

* output desire: error ``e_i = c_i/N*`` for ``i != label`` and ``1 - c_label/N*`` for
  the label; the desire is active where ``e_i > theta_out`` (0.30), its sign is
  ``+1`` for the label and ``-1`` otherwise. Desires are stored ternary:
  ``desire = (2 sign - 1) * active`` in {-1, 0, +1}.
* hidden desire, from the layer above: ``eps_i = |sign_i - c_i/N*|``,
  ``d_j = sum_i W_ij eps_i desire_i keep_i``; active where ``|d_j| >= theta_hid``
  (0.05), sign ``d_j > 0``. Propagated down to the first hidden layer with the weights
  as they were during the sample.
* weight update of every layer:
  ``dW_ij = lr * desire_i * keep_i * sum_t tr_j[t] [post i spiked at t]`` with the
  presynaptic trace ``tr_j[t] = decay*tr_j[t-1] + min(r_j[t], 1)`` of the spikes
  ``r_j`` the postsynaptic layer *received* (one step late for layers above the first
  hidden one, unscaled by dropout), including the spike received in step ``t`` itself
  (the reference code updates the trace before pairing it with the postsynaptic spike;
  tests/references/desire.py pins this), and ``lr = 1e-5 * exp(-0.04 epoch)``, epochs
  counted from 0; no clipping, no weight decay.

Weights start Kaiming-normal (std ``sqrt(2/fan_in)``), there are no biases. A sample is
classified correctly only when the label neuron has the unique maximum count (ties are
wrong). The training order is reshuffled every epoch.

How it runs inside Brian2
-------------------------
The network, its equations and its builder are :mod:`models.desire` (how the learning
runs inside one compiled network, and what it costs); :mod:`experiments.training` runs
it chunk by chunk and carries the weights between the chunks.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from experiments.protocol import (ConfigurationError, ImageProtocol, RunConfig, is_integer,
                                  is_number, load_image_splits, run_and_report, runner)
from models.desire import (DesireNetwork, DesireSpec, build_network, flat_to_weights,
                           memory_estimate, weights_to_flat)

__all__ = [
    "PROTOCOL",
    "DesireConfig",
    "PRESETS",
    "make_config",
    "init_weights",
    "load_data",
    "dropout_masks",
    "training_order",
    "learning_rate",
    "DesireProtocol",
    "correct_predictions",
    "add_arguments",
    "run",
    "summarise",
    "main",
]

PROTOCOL = "desire"

# Independent numpy random streams, each seeded by (seed, stream, ...), so that weights,
# masks and orders never share draws and any one can be regenerated alone.
_WEIGHT_STREAM, _MASK_STREAM, _ORDER_STREAM = 0, 1, 2

#: Largest decay**-(n_steps - 1) allowed: the factorised learning sum subtracts numbers
#: of this size, so it bounds the loss of relative precision (about 1e-16 times this).
_MAX_DYNAMIC_RANGE = 1e6


# ======================================================================================
# Configuration
# ======================================================================================


@dataclass(frozen=True)
class DesireConfig(RunConfig, DesireSpec):
    """Every parameter of a desire-backpropagation run (defaults: the paper's MNIST run):
    the network's fields and defaults are :class:`models.desire.DesireSpec`'s, the run's
    :class:`~experiments.protocol.RunConfig`'s.

    Network and dynamics
        ``hidden``: sizes of the hidden layers (input and output sizes come from the
        data: 784 or 64 pixels, 10 classes). ``n_steps``: time steps per sample (``T``).
        ``dt_ms``: Brian2 time step in ms (nominal; the model is clocked).
        ``decay``: membrane and trace decay per step (``1 - 2**-2``). ``v_th``: threshold.
    Desire
        ``error_margin``: ``N* = n_steps - error_margin`` is the target count of the label
        neuron. ``theta_hidden``, ``theta_output``: ternarisation thresholds.
    Learning
        ``learning_rate`` at epoch 0, decaying as ``exp(-lr_decay * epoch)``.
        ``dropout_input``, ``dropout_hidden``: dropout probabilities in [0, 1).
    Schedule and data
        ``epochs``, ``chunk_size`` (samples per compiled run), ``shuffle`` (reshuffle the
        training order every epoch), ``seed`` (weights, masks, orders).
        ``dataset`` ('digits', 'mnist', 'fashion-mnist'), ``data_dir``, ``validation``
        (images held out of the training files), ``test`` (digits only: test images),
        ``eval_split`` ('validation' or 'test'), ``train_samples``/``eval_samples``
        (use only the first n; ``None`` for all).
    Simulation
        ``device``: 'cpp' (C++ standalone, default), 'cuda' or 'runtime'.
    """

    epochs: int = 2
    hidden: tuple = (1600, 800)
    learning_rate: float = 1e-5
    lr_decay: float = 0.04
    chunk_size: int = 1000
    shuffle: bool = True

    protocol: ClassVar[str] = "desire"
    FLAGS: ClassVar[dict] = {"--no-shuffle": (
        "shuffle", False, "keep the training order fixed; default: reshuffle every epoch")}
    CHOICES: ClassVar[dict] = {"weight_dtype": ("float64", "float32")}
    MULTIPLE: ClassVar[tuple] = ("hidden",)

    @classmethod
    def extra_overrides(cls, args) -> dict:
        if args.dropout is None:
            return {}
        return {"--dropout": dict(dropout_input=args.dropout[0],
                                  dropout_hidden=args.dropout[1])}

    # -- derived ---------------------------------------------------------------------
    def spec(self) -> DesireSpec:
        """The network's part of the configuration (see :class:`models.desire.DesireSpec`)."""
        return DesireSpec(**self.parameters(DesireSpec))

    def sizes(self, n_inputs: int, n_classes: int = 10) -> tuple:
        return (int(n_inputs), *(int(h) for h in self.hidden), int(n_classes))

    # -- validation ------------------------------------------------------------------
    def check(self) -> None:
        def fail(msg):
            raise ConfigurationError(msg)

        if not isinstance(self.hidden, tuple) or not all(is_integer(h) and h >= 1 for h in self.hidden):
            fail(f"hidden: layer sizes must be positive integers, got {self.hidden!r} "
                 "(e.g. --hidden 1600 800).")
        self._require("n_steps", "positive_int", "must be a positive number of time steps")
        self._require("error_margin", "nonnegative_int")
        if self.n_steps <= self.error_margin:
            fail(f"n_steps (T={self.n_steps}) must be larger than error_margin "
                 f"({self.error_margin}): the label neuron's target count N* = T - "
                 f"error_margin = {self.n_steps - self.error_margin} must be positive. "
                 "Raise --steps or lower --error-margin.")
        if not is_number(self.dt_ms) or self.dt_ms <= 0:
            fail(f"dt_ms: the time step must be > 0 ms, got {self.dt_ms!r}.")
        if not is_number(self.decay) or not 0 < self.decay < 1:
            fail(f"decay: the per-step decay must lie in (0, 1), got {self.decay!r} "
                 "(the paper uses 0.75).")
        if self.decay ** -(self.n_steps - 1) > _MAX_DYNAMIC_RANGE:
            fail(f"decay ({self.decay}) and n_steps ({self.n_steps}): decay**-(n_steps-1) = "
                 f"{self.decay ** -(self.n_steps - 1):.3g} exceeds {_MAX_DYNAMIC_RANGE:g}, "
                 "which would cost the event-driven learning sum its precision; use fewer "
                 "steps or a decay closer to 1.")
        if not is_number(self.v_th) or self.v_th <= 0:
            fail(f"v_th: the threshold must be > 0, got {self.v_th!r}.")
        for name in ("theta_hidden", "theta_output"):
            value = getattr(self, name)
            if not is_number(value) or value < 0:
                fail(f"{name}: the desire threshold must be a finite number >= 0, got {value!r}.")
        for name in ("dropout_input", "dropout_hidden"):
            value = getattr(self, name)
            if not is_number(value) or not 0 <= value < 1:
                fail(f"{name}: a dropout probability must lie in [0, 1), got {value!r} "
                     "(0 switches dropout off).")
        if not is_number(self.learning_rate) or self.learning_rate < 0:
            fail(f"learning_rate: must be a finite number >= 0, got {self.learning_rate!r} "
                 "(the paper uses 1e-5; 0 trains nothing).")
        if not is_number(self.lr_decay) or self.lr_decay < 0:
            fail(f"lr_decay: must be >= 0, got {self.lr_decay!r} (the paper uses 0.04).")
        self._require("chunk_size", "positive_int", "must be a positive number of samples")
        if not isinstance(self.shuffle, bool):
            fail(f"shuffle: must be true or false, got {self.shuffle!r}.")
        if self.weight_dtype not in ("float64", "float32"):
            fail(f"weight_dtype: must be 'float64' or 'float32', got {self.weight_dtype!r}.")


#: Presets: defaults that ``make_config`` starts from before command-line overrides.
#: 'paper' is the reference code's setting for the chosen data set; 'quick' trains the
#: embedded digits set to over 90 % test accuracy in well under two minutes, and MNIST or
#: Fashion-MNIST in a few minutes on one core: a smaller network on the first 10,000
#: training images, evaluated on 1,000 held-out ones.
_QUICK_28 = dict(hidden=(400, 200), validation=1000, train_samples=10000, epochs=2,
                 learning_rate=5e-5, chunk_size=500)
PRESETS = {
    "paper": {
        "mnist": dict(hidden=(1600, 800), dropout_input=0.0, dropout_hidden=0.3,
                      validation=10000, chunk_size=1000),
        "fashion-mnist": dict(hidden=(1000, 100), dropout_input=0.05, dropout_hidden=0.40,
                              validation=10000, chunk_size=1000),
        "digits": dict(hidden=(200, 100), validation=300, test=300, chunk_size=400),
    },
    # Digits are 8x8 with 17 grey levels: far fewer input spikes than MNIST, so a larger
    # learning rate (decaying faster) is needed to learn in a few epochs. Measured test
    # accuracy after 10 epochs, seeds 0-3: 94-96.3 %.
    "quick": {
        "digits": dict(hidden=(200, 100), validation=300, test=300, eval_split="test",
                       learning_rate=3e-4, lr_decay=0.15, epochs=10, chunk_size=400,
                       dropout_input=0.0, dropout_hidden=0.2),
        # A tenth of the paper's samples per epoch: a larger learning rate than the
        # paper's 1e-5 makes up for the fewer updates.
        "mnist": dict(_QUICK_28, dropout_input=0.0, dropout_hidden=0.3),
        "fashion-mnist": dict(_QUICK_28, dropout_input=0.05, dropout_hidden=0.4),
    },
}


DesireConfig.PRESETS = PRESETS
make_config = DesireConfig.make


# ======================================================================================
# Random streams (numpy, reproducible from the seed)
# ======================================================================================


def init_weights(sizes, rng) -> list:
    """Kaiming-normal weights without biases: ``W[l]`` of shape ``(sizes[l+1], sizes[l])``
    (postsynaptic, presynaptic) with std ``sqrt(2 / sizes[l])``, float64."""
    return [rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in)
            for n_in, n_out in zip(sizes[:-1], sizes[1:])]


def dropout_masks(cfg: DesireConfig, sizes, epoch: int, chunk: int, n_samples: int) -> dict:
    """Keep-masks of one training chunk: ``{level: bool array (n_samples, sizes[level])}``
    for the input (level 0) and hidden layers (1 .. L-1) with dropout > 0.

    Drawn from ``numpy.random.default_rng((seed, 1, epoch, chunk))``: the same
    ``(seed, epoch, chunk)`` always gives the same masks, whatever ran before.
    """
    rng = np.random.default_rng((cfg.seed, _MASK_STREAM, int(epoch), int(chunk)))
    masks = {}
    for level in range(len(sizes) - 1):
        p = cfg.dropout_input if level == 0 else cfg.dropout_hidden
        if p > 0:
            masks[level] = rng.random((n_samples, sizes[level])) >= p
    return masks


def training_order(cfg: DesireConfig, n_train: int, epoch: int) -> np.ndarray:
    """Order of the training samples in ``epoch``: a permutation drawn from
    ``default_rng((seed, 2, epoch))`` (or ``arange`` without shuffling)."""
    if not cfg.shuffle:
        return np.arange(n_train)
    return np.random.default_rng((cfg.seed, _ORDER_STREAM, int(epoch))).permutation(n_train)


def learning_rate(cfg: DesireConfig, epoch: int) -> float:
    """``learning_rate * exp(-lr_decay * epoch)``, epochs counted from 0."""
    return float(cfg.learning_rate * np.exp(-cfg.lr_decay * epoch))



def correct_predictions(counts: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Boolean per sample: the label neuron has the unique maximum spike count.

    ``counts`` has shape ``(n_samples, n_classes)``; ties count as wrong.
    """
    counts = np.asarray(counts)
    labels = np.asarray(labels, dtype=int)
    top = counts.max(axis=1)
    unique = (counts == top[:, None]).sum(axis=1) == 1
    return unique & (counts[np.arange(len(labels)), labels] == top)




# ======================================================================================
# The protocol: data, chunks and run_args for the training engine
# ======================================================================================


def load_data(cfg: DesireConfig):
    """``(x_train, y_train, x_eval, y_eval)``: pixel rows in [0, 1] and labels; a missing
    or unreadable data set raises :class:`~experiments.protocol.ConfigurationError` before anything is compiled."""
    return load_image_splits(cfg)


class DesireProtocol(ImageProtocol):
    """Desire backpropagation as a chunked protocol for :class:`experiments.training.Trainer`.

    Loads the data when created (so a missing data directory fails before anything is
    compiled); :meth:`compile` selects the device and builds the network once.

    Parameters
    ----------
    cfg : DesireConfig
    data : tuple, optional
        ``(x_train, y_train, x_eval, y_eval)`` instead of loading ``cfg.dataset``.
    n_classes : int
        Size of the output layer.
    full_desires, record : bool
        Passed to :func:`build_network`.
    """

    name = PROTOCOL
    STREAMS = {"weights": (_WEIGHT_STREAM,), "dropout_masks": (_MASK_STREAM, "epoch", "chunk"),
               "training_order": (_ORDER_STREAM, "epoch")}

    def __init__(self, cfg: DesireConfig, data=None, *, n_classes=10, full_desires=False,
                 record=False):
        super().__init__(cfg, data, n_classes)
        self.sizes = cfg.sizes(self.n_in, n_classes)
        self.full_desires = full_desires
        self.record = record
        self.net: DesireNetwork | None = None
        self._rasters = {}

    # -- sizes and schedule -------------------------------------------------------------
    def learning_rate(self, epoch: int) -> float:
        return learning_rate(self.cfg, epoch)

    def train_order(self, epoch: int) -> np.ndarray:
        return training_order(self.cfg, self.n_train, epoch)

    # -- the network --------------------------------------------------------------------
    #: The option that sets the samples of a compiled run (a refusal for memory names it).
    CHUNK_OPTION = "--chunk-size"

    def memory_estimate(self):
        """Bytes of the network's arrays (:func:`models.desire.memory_estimate`)."""
        return memory_estimate(self.sizes, self.chunk_size, self.cfg.spec())

    def compile(self):
        """Select the device, build the network for one chunk and compile it."""
        from models.devices import build, select_device

        select_device(self.cfg.device, openmp_threads=self.cfg.openmp_threads)
        self.net = build_network(self.sizes, self.chunk_size, self.cfg.spec(),
                                 full_desires=self.full_desires, record=self.record)
        self.handle = build(self.net.network, self.net.duration, compile_only=True)
        return self.handle

    def learned_variables(self) -> dict:
        return {f"w{level}": syn.w for level, syn in enumerate(self.net.synapses, start=1)}

    def initial_state(self) -> dict:
        W = init_weights(self.sizes, np.random.default_rng((self.cfg.seed, _WEIGHT_STREAM)))
        return {f"w{level}": flat for level, flat in enumerate(weights_to_flat(W), start=1)}

    def weights(self, state_arrays: dict) -> list:
        """Weight matrices ``W[l]`` (n_post, n_pre) from a state (e.g. a checkpoint)."""
        flat = [state_arrays[f"w{level}"] for level in range(1, len(self.sizes))]
        return flat_to_weights(flat, self.sizes)

    # -- chunks -------------------------------------------------------------------------
    def masks(self, epoch: int, chunk: int, n_samples: int) -> dict:
        return dropout_masks(self.cfg, self.sizes, epoch, chunk, n_samples)

    def train_run_args(self, epoch: int, chunk: int, samples) -> dict:
        samples = np.asarray(samples)
        gains = (1.0 / (1.0 - self.cfg.dropout_input), 1.0 / (1.0 - self.cfg.dropout_hidden))
        return self.net.run_args(self.x_train[samples], self.y_train[samples],
                                 lr=self.learning_rate(epoch),
                                 masks=self.masks(epoch, chunk, len(samples)), gains=gains)

    def eval_run_args(self, samples) -> dict:
        samples = np.asarray(samples)
        return self.net.run_args(self.x_eval[samples], self.y_eval[samples], lr=0.0)

    def correct(self, split: str, samples) -> np.ndarray:
        labels = (self.y_train if split == "train" else self.y_eval)[np.asarray(samples)]
        counts = self.net.output_counts()[:len(labels)]
        return correct_predictions(counts, labels)

    # -- statistics and recordings (see experiments.training) ----------------------------
    def chunk_statistics(self, split: str, samples) -> dict:
        """Additive statistics of the last run: summed layer errors, spikes per layer
        and class, samples per class. Padding samples add nothing (no spikes, no error)."""
        samples = np.asarray(samples)
        labels = (self.y_train if split == "train" else self.y_eval)[samples].astype(int)
        n_classes = self.sizes[-1]
        spikes = self.net.layer_spike_counts()[:len(samples)]        # (n, n_layers)
        per_class = np.zeros((len(self.net.layers), n_classes))
        np.add.at(per_class.T, labels, spikes)
        if split == "eval":
            self._record_rasters(samples, labels)
        return {
            "error_sum": self.net.layer_errors(),
            "spikes_per_class": per_class,
            "samples_per_class": np.bincount(labels, minlength=n_classes).astype(float),
        }

    def epoch_metrics(self, split: str, sums: dict) -> dict:
        """Per non-input layer (hidden layers first, output last):

        ``layer_error``: mean over samples and the layer's neurons of
        ``[desire != 0] * keep * (target - c/N*)**2``, target 1 for desire +1 and 0 for
        -1 (eps squared, in the paper's terms). With ``full_desires=False`` the silent
        neurons of the first hidden layer have no desire computed and add 0.
        ``rate_per_class``: spikes per neuron and time step, averaged over the samples
        of each class (dimensionless, in [0, 1]; one step is ``dt_ms`` of model time).
        """
        n_samples = sums["samples_per_class"].sum()
        layer_sizes = np.array(self.sizes[1:], dtype=float)
        per_class = sums["samples_per_class"]
        with np.errstate(invalid="ignore", divide="ignore"):
            rates = sums["spikes_per_class"] / (layer_sizes[:, None] * self.cfg.n_steps
                                                * per_class[None, :])
        rates = np.where(per_class[None, :] > 0, rates, np.nan)
        error = sums["error_sum"] / (layer_sizes * max(n_samples, 1))
        return {
            "layer_error": [float(e) for e in error],
            "rate_per_class": [[None if np.isnan(r) else float(r) for r in row] for row in rates],
        }

    def begin_evaluation(self) -> None:
        self._rasters = {}

    def _record_rasters(self, samples, labels) -> None:
        """Keep the output raster of the first evaluation image of every class."""
        for k, (index, label) in enumerate(zip(samples, labels)):
            if label not in self._rasters:
                self._rasters[int(label)] = (int(index), self.net.output_raster(k))

    def evaluation_recording(self) -> dict | None:
        """Output spike rasters of one evaluation image per class (the first of each):
        ``output_raster`` bool ``(n_classes_seen, n_steps, n_outputs)``, ``label`` and
        ``sample`` (index in the evaluation split) per raster, ``n_star``."""
        rasters = self._rasters
        if not rasters:
            return None
        labels = sorted(rasters)
        return {
            "output_raster": np.stack([rasters[c][1] for c in labels]),
            "label": np.array(labels, dtype=np.int64),
            "sample": np.array([rasters[c][0] for c in labels], dtype=np.int64),
            "n_star": np.array(self.cfg.n_star),
        }


# ======================================================================================
# Command line: python -m experiments desire ...
# ======================================================================================

DesireConfig.CLI_FIELDS = {
    # option: (config field, type, help)
    "--hidden": ("hidden", int, "hidden layer sizes"),
    "--steps": ("n_steps", int, "time steps per sample (T)"),
    "--dt": ("dt_ms", float, "Brian2 time step in ms (nominal: the model is clocked)"),
    "--decay": ("decay", float, "membrane and trace decay per step"),
    "--threshold": ("v_th", float, "spike threshold"),
    "--error-margin": ("error_margin", int, "N* = T - error margin is the label's target count"),
    "--theta-hidden": ("theta_hidden", float, "hidden desire threshold on |d|"),
    "--theta-output": ("theta_output", float, "output desire threshold on the error"),
    "--lr": ("learning_rate", float, "learning rate at epoch 0"),
    "--lr-decay": ("lr_decay", float, "learning rate decays as exp(-lr_decay * epoch)"),
    "--chunk-size": ("chunk_size", int, "samples per compiled run (the last one is padded)"),
    "--seed": ("seed", int, "seed of weights, dropout masks and training order"),
    "--weight-dtype": ("weight_dtype", str, "floating point type of weights"),
}


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options of ``python -m experiments desire``; every default is in the help."""
    DesireConfig.add_arguments(parser)
    parser.add_argument("--dropout", type=float, nargs=2, default=None, metavar=("P_IN", "P_HID"),
                        help="dropout probabilities of the input and hidden layers; default: "
                             "0.0 0.3 (fashion-mnist: 0.05 0.40; quick: 0.0 0.2)")
    return parser


run = runner(DesireProtocol, lambda cfg: f"{cfg.dataset}-s{cfg.seed}")


def summarise(metrics: list) -> dict:
    """Final and peak accuracy on the evaluation split of a run's metrics."""
    accuracies = [m["accuracy"] for m in metrics if m.get("accuracy") is not None]
    return {"final_accuracy": accuracies[-1] if accuracies else None,
            "peak_accuracy": max(accuracies, default=None)}


def main(args) -> int:
    """Run ``python -m experiments desire`` with parsed ``args``; returns the exit code."""
    cfg, root, run_id = DesireConfig.from_args(args)
    print(f"desire backpropagation: {cfg.dataset}, hidden layers "
          f"{'-'.join(map(str, cfg.hidden))}, {cfg.epochs} epochs", flush=True)
    return run_and_report(run, summarise, cfg, root, run_id, args,
                          ("final_accuracy", "peak_accuracy"))
