"""Learning neuron parameters with the weights: the shared protocol of PLIF and STL.

Two papers learn parameters of the spiking neuron along with the synaptic weights:

* PLIF (Fang et al. 2021, ICCV): the membrane decay, ``k = sigmoid(w) = 1/tau``, one
  ``w`` per layer (or per cell, an option), initialised at ``w0 = -ln(tau0 - 1)``;
  compared with LIF cells of the same fixed ``tau``. :mod:`experiments.plif`.
* STL (Sun et al. 2024, IEEE TCDS): every cell's threshold (initially 2.0) with the
  weights (STL), against weights only (SL) and thresholds only (TL).
  :mod:`experiments.stl`.

Both train :mod:`models.eprop_voting`: input -> one fully connected hidden layer ->
``10 * n_vote`` voting output cells, the squared error of the class firing rates against
the one-hot label, Adam with L2 weight decay 1e-6, gradients formed inside the compiled
network at every sample boundary. What differs from the papers, and why:

* Fully connected: the papers' convolutional front ends (with batch normalisation,
  pooling and dropout) are out of scope; one hidden layer of ``n_hidden`` cells stands
  in for them, so accuracies are those of a fully connected SNN, not of the papers' CNNs.
* The reset to 0 is kept out of the gradient as a constant subtraction (SpikingJelly's
  ``detach_reset`` keeps a factor ``1 - z`` instead); see :mod:`models.eprop_voting`.
* Initial weights ``U(-s, s) / sqrt(fan_in)`` with ``init_scale`` ``s`` (PyTorch's
  default is ``s = 1``; without batch normalisation a larger ``s`` makes the first
  layers fire).

Measured per epoch (``metrics.jsonl``): accuracy, loss, hidden and output rates (spikes
per cell per step), synaptic operations per sample against the MACs of the same-size
ANN (:mod:`analysis.energy`), mean ``tau`` per layer, threshold mean and spread per
layer; ``recordings/epoch-NNNN.npz`` holds every cell's decay and threshold and the
hidden spikes of the first ``analysis_samples`` images. After training, accuracy under
test-time input noise (Gaussian of each ``noise_sigmas``, salt-and-pepper of each
``salt_pepper``) on ``noise_samples`` images goes to ``noise.json``.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from experiments.protocol import (ConfigurationError, ImageProtocol, RunConfig, is_integer,
                                  is_number, run_and_report, train)
from models.eprop_voting import (VotingParameters, VotingSpec, bernoulli_bits,
                                 build_voting_network, initial_state, memory_estimate,
                                 tau_from_decay)

__all__ = ["STUDIES", "NeuronParamConfig", "make_config", "NeuronParamProtocol",
           "run", "noise_robustness", "add_arguments", "main", "summarise", "predictions",
           "add_input_noise", "study_command"]

_WEIGHT_STREAM, _ORDER_STREAM, _TRAIN_SPIKES, _EVAL_SPIKES, _NOISE_STREAM = range(5)

#: Per study: its neuron, what its network can learn (compiled in once, so that all its
#: conditions share one build) and what each condition learns (switched per run).
STUDIES = {
    "plif": {
        "neuron": "plif",
        "learns": ("weights", "tau"),
        "conditions": {"plif": dict(weights=True, tau=True, theta=False),
                       "lif": dict(weights=True, tau=False, theta=False)},
        "defaults": dict(condition="plif", tau=2.0, theta=1.0, encoding="current",
                         init_scale=3.0, learning_rate=5e-3, batch_size=32),
    },
    "stl": {
        "neuron": "lif",
        "learns": ("weights", "theta"),
        "conditions": {"stl": dict(weights=True, tau=False, theta=True),
                       "sl": dict(weights=True, tau=False, theta=False),
                       "tl": dict(weights=False, tau=False, theta=True)},
        "defaults": dict(condition="stl", tau=2.0, theta=2.0, encoding="bernoulli",
                         init_scale=5.0, learning_rate=2e-3, batch_size=16, chunk_batches=64),
    },
}


@dataclass(frozen=True)
class NeuronParamConfig(RunConfig, VotingParameters):
    """Every parameter of a PLIF or STL run: the network's fields and defaults are
    :class:`models.eprop_voting.VotingParameters`' (but ``weight_decay``), the run's
    :class:`~experiments.protocol.RunConfig`'s.

    Study and condition: ``study`` ('plif', 'stl'), ``condition`` (plif: 'plif', 'lif';
    stl: 'stl', 'sl', 'tl').
    Network: ``n_hidden``, ``n_vote`` output cells per class, ``n_steps`` (T) per sample
    of ``dt_ms``; ``tau`` (initial membrane time constant in steps, > 1: ``alpha = 1 -
    1/tau``), ``tau_per`` ('layer' or 'neuron': how PLIF shares its learned decay),
    ``theta`` (initial threshold, > 0), ``encoding`` ('current' or 'bernoulli'),
    ``init_scale`` (initial weights ``U(-s, s)/sqrt(fan_in)``).
    Learning: ``learning_rate`` (Adam), ``lr_schedule`` ('cosine': times ``(1 +
    cos(pi * progress)) / 2`` over the run, updated every chunk; 'exponential': times
    ``exp(-lr_decay * epoch)``), ``batch_size``, ``weight_decay``. Schedule: ``epochs``, ``chunk_batches``, ``seed``.
    Data: ``dataset``, ``data_dir``, ``validation``, ``test`` (digits), ``eval_split``,
    ``train_samples``, ``eval_samples``; ``analysis_samples`` (images whose hidden
    spikes are kept). Noise test: ``noise_sigmas``, ``salt_pepper``, ``noise_samples``
    (0 skips it). ``device``: 'cpp', 'cuda' or 'runtime'.
    """

    epochs: int = 5
    weight_decay: float = 1e-6
    study: str = "plif"
    condition: str = "plif"
    tau_per: str = "layer"
    init_scale: float = 2.0
    learning_rate: float = 1e-3
    lr_schedule: str = "cosine"
    lr_decay: float = 0.0
    chunk_batches: int = 32
    noise_sigmas: tuple = (0.1, 0.2, 0.3, 0.4, 0.5)
    salt_pepper: tuple = (0.05, 0.1, 0.2, 0.3)
    noise_samples: int = 2000

    CHOICES: ClassVar[dict] = {"tau_per": ("layer", "neuron"),
                               "lr_schedule": ("cosine", "exponential"),
                               "encoding": ("current", "bernoulli")}

    @classmethod
    def protocol_of(cls, values: dict) -> str:
        return values.get("study", cls.study)

    @property
    def chunk_size(self) -> int:
        return self.batch_size * self.chunk_batches

    @property
    def learns(self) -> dict:
        return STUDIES[self.study]["conditions"][self.condition]

    @classmethod
    def base_values(cls, overrides: dict) -> dict:
        study = overrides.get("study", cls.study)
        if study not in STUDIES:
            raise ConfigurationError(f"study: unknown study {study!r}; choose one of "
                                     f"{', '.join(STUDIES)}.")
        return STUDIES[study]["defaults"]

    def check(self) -> None:
        def fail(msg):
            raise ConfigurationError(msg)

        if self.study not in STUDIES:
            fail(f"study: unknown study {self.study!r}; choose one of {', '.join(STUDIES)}.")
        conditions = STUDIES[self.study]["conditions"]
        if not isinstance(self.condition, str) or self.condition not in conditions:
            fail(f"condition: unknown condition {self.condition!r} for {self.study}; choose "
                 f"one of {', '.join(conditions)}.")
        if not is_integer(self.noise_samples) or self.noise_samples < 0:
            fail(f"noise_samples: must be an integer >= 0 (0 skips the noise test), got "
                 f"{self.noise_samples!r}.")
        if not is_number(self.tau) or self.tau <= 1:
            fail(f"tau: the initial membrane time constant must be a number > 1 (in steps): "
                 f"k = sigmoid(w) = 1/tau needs 0 < 1/tau < 1, and w0 = -ln(tau - 1); got "
                 f"{self.tau!r}.")
        if not is_number(self.theta) or self.theta <= 0:
            fail(f"theta: the initial threshold must be a positive number (PLIF uses 1, "
                 f"STL 2), got {self.theta!r}.")
        self._require(("n_hidden", "n_vote", "n_steps", "batch_size", "chunk_batches"),
                      "positive_int")
        self._require(("dt_ms", "init_scale"), "positive")
        self._require(("learning_rate", "lr_decay", "weight_decay"), "nonnegative")
        for name, allowed in (("tau_per", ("layer", "neuron")),
                              ("lr_schedule", ("cosine", "exponential")),
                              ("encoding", ("current", "bernoulli"))):
            if getattr(self, name) not in allowed:
                fail(f"{name}: must be one of {', '.join(allowed)}, got {getattr(self, name)!r}.")
        for name, top in (("noise_sigmas", None), ("salt_pepper", 1.0)):
            if not isinstance(getattr(self, name), tuple):
                fail(f"{name}: must be a list of noise levels (empty: none), got "
                     f"{getattr(self, name)!r}.")
            for value in getattr(self, name):
                if not is_number(value) or value < 0 or (top is not None and value > top):
                    fail(f"{name}: every level must be a number >= 0"
                         + (f" and <= {top}" if top else "") + f", got {value!r}.")
        try:
            self.spec(n_in=1)
        except ValueError as err:
            fail(f"network: {err}")

    def spec(self, n_in: int, n_classes: int = 10) -> VotingSpec:
        """The compiled network's :class:`models.eprop_voting.VotingSpec` (the same for
        every condition of the study: they differ in :attr:`learns`, set per run)."""
        learns = STUDIES[self.study]["learns"]
        return VotingSpec(
            **self.parameters(VotingParameters), n_in=int(n_in), n_classes=int(n_classes),
            n_samples=self.chunk_size, neuron=STUDIES[self.study]["neuron"],
            learn_weights=True, learn_tau=self.tau_per if "tau" in learns else None,
            learn_theta="theta" in learns, optimizer="adam",
        ).validate()


#: 'paper': MNIST / Fashion-MNIST, 5 epochs; 'quick': digits in a minute or two (the
#: 64 pixels of the digits need larger initial weights), or MNIST / Fashion-MNIST in a few
#: minutes: 200 hidden cells, 2 epochs of the first 10,000 training images, evaluated on
#: 1,000 held-out images (the study's own weights and learning rate).
_QUICK_28 = dict(validation=1000, train_samples=10000, epochs=2, n_hidden=200,
                 chunk_batches=16, noise_samples=200, analysis_samples=10)
PRESETS = {
    "paper": {
        "mnist": dict(validation=10000),
        "fashion-mnist": dict(validation=10000),
        "digits": dict(validation=300, test=300, batch_size=16, chunk_batches=16,
                       n_hidden=200, init_scale=4.0, epochs=15, learning_rate=3e-3),
    },
    "quick": {
        "digits": dict(validation=300, test=300, eval_split="test", batch_size=16,
                       chunk_batches=16, n_hidden=200, init_scale=4.0, epochs=10,
                       learning_rate=3e-3, noise_samples=300, analysis_samples=10),
        "mnist": dict(_QUICK_28),
        "fashion-mnist": dict(_QUICK_28),
    },
}


NeuronParamConfig.PRESETS = PRESETS


def make_config(study: str, preset: str = "paper", dataset: str | None = None,
                **overrides) -> NeuronParamConfig:
    """A validated configuration of ``study``: its defaults, the preset's values for
    ``dataset``, then ``overrides`` (``None`` values are ignored)."""
    return NeuronParamConfig.make(preset, dataset, study=study, **overrides)


# ======================================================================================
# Input noise
# ======================================================================================


def add_input_noise(images, kind: str, level: float, rng) -> np.ndarray:
    """Test-time input noise: 'gaussian' adds ``N(0, level**2)`` to every pixel and clips
    to [0, 1]; 'salt_pepper' sets each pixel with probability ``level`` to 0 or 1 (equally
    likely)."""
    x = np.asarray(images, dtype=np.float64)
    if kind == "gaussian":
        return np.clip(x + level * rng.standard_normal(x.shape), 0.0, 1.0)
    if kind == "salt_pepper":
        hit = rng.random(x.shape) < level
        return np.where(hit, (rng.random(x.shape) < 0.5).astype(np.float64), x)
    raise ValueError(f"kind must be 'gaussian' or 'salt_pepper'; got {kind!r}")


# ======================================================================================
# The protocol
# ======================================================================================


def predictions(class_counts) -> np.ndarray:
    """Predicted class per sample from voting spike counts ``(n_samples, n_classes)``:
    the class with most spikes, or -1 where the maximum is shared (a silent output)."""
    counts = np.asarray(class_counts)
    best = np.argmax(counts, axis=1)
    top = counts[np.arange(len(counts)), best]
    unique = (counts == top[:, None]).sum(axis=1) == 1
    return np.where(unique, best, -1)


class NeuronParamProtocol(ImageProtocol):
    """PLIF or STL for :class:`experiments.training.Trainer` (data loaded, and bad data
    refused, when created; :meth:`compile` builds the network once)."""

    evaluate_initial = True
    STREAMS = {"weights": (_WEIGHT_STREAM,), "training_order": (_ORDER_STREAM, "epoch"),
               "bernoulli_train": (_TRAIN_SPIKES, "epoch", "chunk"),
               "bernoulli_eval": (_EVAL_SPIKES, "first sample"),
               "input_noise": (_NOISE_STREAM,)}
    IMAGE_DTYPE = np.float32

    def __init__(self, cfg: NeuronParamConfig, data=None, n_classes: int = 10):
        super().__init__(cfg, data, n_classes)
        self.name = cfg.study
        self.spec = cfg.spec(self.n_in, n_classes)
        self._analysis = None
        self._eval_images = None

    @property
    def batches_per_epoch(self) -> int:
        return -(-self.n_train // self.cfg.batch_size)

    def learning_rate(self, epoch: int, chunk: int = 0) -> float:
        """Learning rate of a chunk (the schedule of ``lr_schedule``)."""
        cfg = self.cfg
        if cfg.lr_schedule == "exponential":
            return cfg.learning_rate * math.exp(-cfg.lr_decay * epoch)
        chunks = -(-self.n_train // cfg.chunk_size)
        progress = (epoch + chunk / chunks) / max(cfg.epochs, 1)
        return cfg.learning_rate * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    # -- the network ------------------------------------------------------------------------
    #: The option that sets the samples of a compiled run (a refusal for memory names it).
    CHUNK_OPTION = "--chunk-batches"

    def memory_estimate(self):
        """Bytes of the network's arrays (:func:`models.eprop_voting.memory_estimate`)."""
        return memory_estimate(self.spec)

    def compile(self):
        from models.devices import build, select_device

        select_device(self.cfg.device, openmp_threads=self.cfg.openmp_threads)
        self.net = build_voting_network(self.spec, name=self.cfg.study)
        self.handle = build(self.net.network, self.net.duration, compile_only=True)
        return self.handle

    def learned_variables(self) -> dict:
        return self.net.learned_variables()

    def initial_state(self) -> dict:
        rng = np.random.default_rng((self.cfg.seed, _WEIGHT_STREAM))
        s = self.cfg.init_scale
        n_in, n_hid, n_out = self.n_in, self.cfg.n_hidden, self.spec.n_out
        W_in = rng.uniform(-s, s, (n_hid, n_in)) / math.sqrt(n_in)
        W_out = rng.uniform(-s, s, (n_out, n_hid)) / math.sqrt(n_hid)
        return initial_state(self.spec, W_in, W_out)

    def _stimulus(self, images, stream) -> np.ndarray:
        if self.cfg.encoding == "current":
            return np.asarray(images, dtype=np.float64)
        rng = np.random.default_rng((self.cfg.seed,) + tuple(stream))
        return bernoulli_bits(images, self.cfg.n_steps, rng)

    def train_run_args(self, epoch: int, chunk: int, samples) -> dict:
        samples = np.asarray(samples)
        k0 = epoch * self.batches_per_epoch + chunk * self.cfg.chunk_batches
        stim = self._stimulus(self.x_train[samples], (_TRAIN_SPIKES, epoch, chunk))
        return self.net.run_args(stim, self.y_train[samples], lr=self.learning_rate(epoch, chunk),
                                 learn=True, adam_step0=k0, train=self.cfg.learns)

    def eval_run_args(self, samples) -> dict:
        samples = np.asarray(samples)
        images = self.x_eval if self._eval_images is None else self._eval_images
        stim = self._stimulus(images[samples], (_EVAL_SPIKES, int(samples[0])))
        record = samples[0] == 0 and self.n_analysis > 0
        return self.net.run_args(stim, self.y_eval[samples], learn=False, record=bool(record))

    def correct(self, split: str, samples) -> np.ndarray:
        """The class with most voting spikes is the label, and no other class has as
        many (a silent output, or a tie, is an error rather than a guess of class 0)."""
        labels = (self.y_train if split == "train" else self.y_eval)[np.asarray(samples)]
        return predictions(self.net.class_counts_per_sample()[:len(labels)]) == labels

    # -- statistics ---------------------------------------------------------------------------
    def chunk_statistics(self, split: str, samples) -> dict:
        samples = np.asarray(samples)
        n = len(samples)
        labels = (self.y_train if split == "train" else self.y_eval)[samples].astype(int)
        rates = self.net.class_counts_per_sample()[:n] / (self.cfg.n_vote * self.cfg.n_steps)
        onehot = np.eye(self.n_classes)[labels]
        images = self.x_train if split == "train" else self.x_eval
        if self.cfg.encoding == "current":
            # A constant current is one input event per active pixel and sample.
            inputs = float(np.count_nonzero(images[samples]))
        else:
            inputs = float(images[samples].astype(np.float64).sum() * self.cfg.n_steps)
        if split == "eval" and samples[0] == 0 and self.n_analysis > 0:
            s, t, i = self.net.recorded_spikes()
            keep = s < self.n_analysis
            self._analysis = {"sample": s[keep].astype(np.int32), "step": t[keep].astype(np.int32),
                              "neuron": i[keep].astype(np.int32)}
        return {"n_samples": np.array(float(n)),
                "input_events": np.array(inputs),
                "hidden_spikes": np.array(self.net.hidden_counts_per_sample()[:n].sum()),
                "output_spikes": np.array(self.net.output_counts_per_sample()[:n].sum()),
                "loss_sum": np.array(((rates - onehot) ** 2).mean(axis=1).sum())}

    def epoch_metrics(self, split: str, sums: dict) -> dict:
        """``loss`` (mean squared rate error), ``hidden_rate`` and ``output_rate``
        (spikes per cell per step), ``synops_per_sample`` (:func:`analysis.energy.synaptic_operations`:
        input events times the hidden fan-out, ``synops_input_per_sample``, plus hidden
        spikes times the output fan-out, ``synops_hidden_per_sample``), ``ann_macs``
        and ``synops_to_macs``; for the evaluation also the decay (``tau_hidden``,
        ``tau_output``: mean over cells, in steps, and ``tau_*_std``) and threshold
        (``theta_*_mean``, ``theta_*_std``) of each layer.

        Input events: Bernoulli input counts its spikes (expected number, ``T`` times the
        pixel sum). A constant current is delivered once per sample and held for the
        ``T`` steps, so each active pixel counts once (a multiply-accumulate per synapse,
        as the first layer of a directly encoded SNN is usually counted); counting it in
        every step would multiply that term by ``T``."""
        from analysis.energy import ann_macs, synaptic_operations

        cfg, n_out = self.cfg, self.spec.n_out
        n = max(float(sums["n_samples"]), 1.0)
        hidden, output = float(sums["hidden_spikes"]), float(sums["output_spikes"])
        per_layer = synaptic_operations(np.array([[float(sums["input_events"]) / n, hidden / n]]),
                                        np.array([cfg.n_hidden, n_out]))[0]
        synops = float(per_layer.sum())
        macs = ann_macs((self.n_in, cfg.n_hidden, n_out))
        out = {"loss": float(sums["loss_sum"]) / n,
               "hidden_rate": hidden / (n * cfg.n_hidden * cfg.n_steps),
               "output_rate": output / (n * n_out * cfg.n_steps),
               "synops_input_per_sample": float(per_layer[0]),
               "synops_hidden_per_sample": float(per_layer[1]),
               "synops_per_sample": synops, "ann_macs": macs, "synops_to_macs": synops / macs}
        if split != "train":
            for layer, values in self.layer_parameters().items():
                out[f"tau_{layer}"] = float(np.mean(values["tau"]))
                out[f"tau_{layer}_std"] = float(np.std(values["tau"]))
                out[f"theta_{layer}_mean"] = float(np.mean(values["theta"]))
                out[f"theta_{layer}_std"] = float(np.std(values["theta"]))
        return out

    def layer_parameters(self) -> dict:
        """``{layer: {'tau': ..., 'theta': ...}}`` per cell, as the network holds them."""
        return {layer: {"tau": tau_from_decay(np.array(group.alpha[:])),
                        "theta": np.array(group.theta[:])}
                for layer, group in (("hidden", self.net.hidden), ("output", self.net.output))}

    def begin_evaluation(self) -> None:
        self._analysis = None

    def evaluation_recording(self) -> dict | None:
        """Every cell's ``tau_*`` and ``theta_*`` per layer, and the hidden spikes of the
        analysis samples (``sample``, ``step``, ``neuron``, ``labels``)."""
        out = {f"{name}_{layer}": values[name]
               for layer, values in self.layer_parameters().items() for name in ("tau", "theta")}
        out.update(n_hidden=np.array(self.cfg.n_hidden), n_steps=np.array(self.cfg.n_steps),
                   dt_ms=np.array(self.cfg.dt_ms))
        if self._analysis is not None:
            out.update(self._analysis)
            out["labels"] = np.asarray(self.y_eval[:self.n_analysis], dtype=np.int64)
        return out


# ======================================================================================
# Running
# ======================================================================================


def summarise(metrics: list) -> dict:
    """Peak and final accuracy, accuracy per epoch, and the final rates and parameters."""
    trained = [m for m in metrics if m["epoch"] > 0]
    out = {"accuracy_per_epoch": [m["accuracy"] for m in metrics]}
    if trained:
        out["peak_accuracy"] = max(m["accuracy"] for m in trained)
        out["final_accuracy"] = trained[-1]["accuracy"]
        for key in ("hidden_rate", "output_rate", "tau_hidden", "tau_output",
                    "synops_per_sample", "train_samples_per_s"):
            out[key] = trained[-1].get(key)
    return out


def run(cfg: NeuronParamConfig, root, *, run_id: str | None = None, resume: bool = False,
        progress: bool = True, data=None, branch=None):
    """Train one configuration, then test it under input noise; returns ``(RunFolder,
    final TrainingState)``. ``resume=True`` continues the run in ``root/<study>/run_id``;
    ``branch`` (a run folder) starts from its checkpoint."""
    folder, trainer, state = train(
        NeuronParamProtocol(cfg, data=data), root, run_id=run_id, resume=resume,
        progress=progress, label=f"{cfg.dataset}-{cfg.condition}-tau{cfg.tau:g}-s{cfg.seed}",
        stored=lambda folder: cfg.stored(folder, study=cfg.study), branch=branch)
    if cfg.noise_samples > 0:
        try:
            noise_robustness(trainer, state, folder)
        except BaseException as err:  # trained: --resume runs the noise test again
            from experiments.stopped import stop

            raise stop(err, folder, created=False, compiling=False,
                       when="in the input-noise test after training") from err.__cause__
    return folder, state


def noise_robustness(trainer, state, folder) -> dict:
    """Accuracy of the trained network on the first ``noise_samples`` evaluation images
    under each noise level of the configuration (0 included); writes ``noise.json``."""
    from runs import atomic_write_bytes

    p = trainer.protocol
    cfg = p.cfg
    n = min(cfg.noise_samples, p.n_eval)
    clean, labels = p.x_eval[:n], p.y_eval[:n]
    saved = (p.x_eval, p.y_eval, p.n_analysis)
    levels = [("gaussian", 0.0)] + [("gaussian", float(s)) for s in cfg.noise_sigmas] \
        + [("salt_pepper", float(q)) for q in cfg.salt_pepper]
    results = []
    try:
        p.y_eval, p.n_analysis = labels, 0
        for kind, level in levels:
            rng = np.random.default_rng((cfg.seed, _NOISE_STREAM, int(level * 1e6),
                                         kind == "gaussian"))
            p.x_eval = add_input_noise(clean, kind, level, rng).astype(np.float32)
            accuracy = trainer.evaluate(state)
            results.append({"kind": kind, "level": level, "accuracy": accuracy, "n": n})
            folder.log(f"input noise {kind} {level:g}: accuracy {accuracy:.4f}")
    finally:
        p.x_eval, p.y_eval, p.n_analysis = saved
    out = {"n_samples": n, "results": results}
    atomic_write_bytes(folder.path / "noise.json", json.dumps(out, indent=1).encode())
    return out


# ======================================================================================
# Command line: python -m experiments plif|stl ...
# ======================================================================================

NeuronParamConfig.CLI_FIELDS = {
    "--condition": ("condition", str, "what is learned (see the module help)"),
    "--hidden": ("n_hidden", int, "hidden cells"),
    "--vote": ("n_vote", int, "output cells per class"),
    "--steps": ("n_steps", int, "time steps per sample (T)"),
    "--tau": ("tau", float, "initial membrane time constant in steps (> 1)"),
    "--tau-per": ("tau_per", str, "PLIF: one learned decay per 'layer' or per 'neuron'"),
    "--theta": ("theta", float, "initial threshold (> 0)"),
    "--encoding": ("encoding", str, "input: constant 'current' or 'bernoulli' spikes"),
    "--init-scale": ("init_scale", float, "initial weights U(-s, s)/sqrt(fan_in)"),
    "--lr": ("learning_rate", float, "Adam learning rate"),
    "--lr-schedule": ("lr_schedule", str, "'cosine' (to 0 over the run) or 'exponential'"),
    "--lr-decay": ("lr_decay", float, "exponential: lr decays as exp(-lr_decay * epoch)"),
    "--batch-size": ("batch_size", int, "samples per mini-batch"),
    "--weight-decay": ("weight_decay", float, "L2 weight decay of every learned parameter"),
    "--chunk-batches": ("chunk_batches", int, "mini-batches per compiled run"),
    "--seed": ("seed", int, "seed of weights, order and input spikes"),
    "--analysis-samples": ("analysis_samples", int, "evaluation images whose spikes are kept"),
    "--noise-samples": ("noise_samples", int, "images of the input-noise test (0: skip it)"),
}


def add_arguments(parser, study: str):
    """Options of ``python -m experiments <study>``; every default is in the help."""
    return NeuronParamConfig.add_arguments(
        parser, defaults=STUDIES[study]["defaults"],
        choices={"condition": tuple(STUDIES[study]["conditions"])})


def study_command(study: str) -> tuple:
    """``(add_arguments, main)`` of ``python -m experiments <study>``."""
    return functools.partial(add_arguments, study=study), functools.partial(main, study=study)


def main(args, study: str) -> int:
    """``python -m experiments <study>``: train one configuration."""
    cfg, root, run_id = NeuronParamConfig.from_args(args, study=study)
    print(f"{study}: {cfg.dataset}, condition {cfg.condition}, {cfg.n_hidden} hidden cells, "
          f"tau0 {cfg.tau:g}, theta0 {cfg.theta:g}, {cfg.epochs} epochs", flush=True)
    return run_and_report(run, summarise, cfg, root, run_id, args,
                          ("peak_accuracy", "final_accuracy", "tau_hidden", "hidden_rate"))
