"""Brain-inspired balanced tuning (Zhang, Zeng, Zhao & Xu 2018, IJCAI): equilibrium
learning, an 80:20 E/I hidden layer, short-term plasticity, then weakly supervised
output potentials consolidated into weights by STDP.

**This is an interpretation.** Only the paper's abstract is public to us; it fixes the
three principles (membrane-potential equilibrium, 80:20 E/I proportions, short-term
plasticity balancing each synapse) and the two-stage supervised part (weak supervision
of the final layer's membrane potentials, then STDP consolidation into weights), not
the equations. The rules chosen here, and why, are in :mod:`models.balanced_network`:

1. *Equilibrium* (step 1, no labels, ``equilibrium_epochs`` of ``equilibrium_samples``):
   exponentiated-gradient descent of the squared subthreshold membrane derivative of
   every E cell on its inhibitory weights, ``w <- w exp(-eta_eq int V' (E_i - V) k dt /
   dV**2)``, with each cell's inhibitory weights rescaled to a fixed sum (inhibition is
   redistributed to cancel the excitation it coincides with; it cannot silence the
   layer).
2. *Weak supervision* (step 2): during training presentations the teacher tunes a
   second membrane potential of every output cell, replacing its synaptic drive by
   ``+teacher_up`` (the label's cells: they fire regularly) or ``-teacher_down`` (the
   others: silent); no weight changes.
3. *Consolidation* (step 3, ``epochs``): STDP on hidden -> output synapses while the
   teacher acts: a teacher-tuned spike potentiates, a free spike depresses, by ``eta_out
   * (apre - abar)``, until the free potential's spikes reproduce the tuned ones (on
   average the delta rule on centred rates, which stops where the weights alone
   reproduce the teacher). ``abar`` is the running mean of the presynaptic trace, and
   each output cell receives minus the mean of its synaptic drive as a balancing
   current (``centre_out``; without it the rule is ill-conditioned on the hidden
   layer's all-positive rates).

Hidden E cells have signed receptive fields: ``ff_inh_fraction`` of each patch inhibits
the cell (feedforward inhibition, ``w_ff_inh``), which makes the hidden spike counts far
more separable than blurred pixel sums.

Decoding: the class whose ``n_per_class`` output cells fire most free spikes, teacher
off (a tie or silence is an error). The consolidation curve is measured with the teacher
off and learning off: after training chunks 1, 2, 4, 8, ... and the last one of the first
consolidation epoch, the first ``curve_samples`` evaluation images are classified with
the weights learned so far (``train_probe_samples``, ``train_probe_accuracy``). The free
spikes of the training presentations themselves (``train_accuracy``, ``train_curve_*``)
are only an upper bound on it: the weights change during a presentation once the
teacher's spikes start, and the free potential profits within the same sample.

Ablations (same budget): ``equilibrium_epochs=0`` (no equilibrium step), ``stp=False``
(static synapses with a fresh synapse's conductance, ``w * U``), ``static_matched``
(static synapses transmitting STP's mean release, 0.1), ``e_fraction`` 0.5,
0.8, 0.95, 1.0 (``all_excitatory``: E cells only and unsigned receptive fields, no
inhibition at all); and the two additions of this package, ``ff_inh_fraction=0``
(unsigned receptive fields) and ``centre_out=False`` (the plain ReSuMe rule).
:data:`SWEEPS` runs them on Dask: ``python -m experiments balanced_tuning --sweep
ablation``.

Measured per epoch (``metrics.jsonl``): the phase, accuracy (after consolidation
epochs), hidden E and I rates (Hz over the presentation and rest), mean ``|dV/dt|`` of E
and I cells over the presentation (mV/ms), the consolidation curve, the inhibitory
weights' spread. ``recordings/epoch-NNNN.npz``: the STP state of the input synapses of
the central pixels over the first ``analysis_samples`` evaluation samples, the class
counts of every evaluation sample. ``recordings/spikes-epoch-NNNN.npz``
(:mod:`analysis.recording`, after the first and the last consolidation epoch): the
spikes of the inputs, the hidden E and I cells and the outputs during those
``analysis_samples`` images (populations ``input``, ``E``, ``I``, ``output``); only the
evaluation's first run records them (``record_samples`` of
:meth:`models.balanced_network.BalancedNetwork.run_args`), training runs record none.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from experiments.protocol import (ConfigurationError, ImageProtocol, RunConfig, is_number,
                                  run_and_report, runner)
from experiments.sweeps import SweepKind, add_sweep_arguments, run_sweep_command
from models.balanced_network import BalancedParameters, BalancedSpec

__all__ = ["BalancedTuningConfig", "PRESETS", "ABLATIONS", "make_config",
           "ablation_overrides", "SWEEPS", "BalancedTuningProtocol", "run", "add_arguments", "main",
           "summarise"]

_ORDER_STREAM = 1


@dataclass(frozen=True)
class BalancedTuningConfig(RunConfig, BalancedParameters):
    """Every parameter of a balanced-tuning run (units in the names): the network's
    fields and defaults are :class:`models.balanced_network.BalancedParameters`', the
    run's :class:`~experiments.protocol.RunConfig`'s.

    Network: ``n_hidden`` cells, ``e_fraction`` excitatory, ``n_per_class`` output cells
    per class; ``dt_ms``, ``t_present_ms`` (> 0), ``t_rest_ms`` (>= 0); ``max_rate_hz``
    (Poisson rate of a pixel of intensity 1); receptive-field radii ``rf_exc``,
    ``rf_inh`` (pixels); total input conductance per cell ``w_in_exc``, ``w_in_inh``
    (units of the leak conductance); ``stp`` with ``stp_U`` in (0, 1], ``stp_tau_d_ms``,
    ``stp_tau_f_ms``; ``static_release`` (static synapses: the fraction of ``w/U`` they
    transmit, default ``U``); ``k_ei``/``w_ei`` (E inputs per I cell, each weight) and
    ``k_ie``/``w_ie_total`` (I inputs per E cell, their weights' sum).
    Step 1: ``equilibrium_epochs`` of ``equilibrium_samples``, rate ``eta_eq``.
    Steps 2-3: ``teacher_up_mV``, ``teacher_down_mV``; ``eta_out_mV`` (STDP step per
    spike pair), decaying as ``1 / (1 + lr_decay * epochs done)``; ``w_out_max_mV``,
    ``w_out_init_mV``, ``tau_pre_ms``; ``epochs`` of consolidation; ``curve_samples``
    evaluation images of the consolidation curve (0: none; each point is one compiled
    run, so at most ``chunk_size`` of them are used).
    Schedule and data: ``chunk_size`` samples per compiled run, ``seed`` (connectivity,
    order, Poisson spikes), ``dataset``, ``data_dir``, ``validation``, ``test``,
    ``eval_split``, ``train_samples``, ``eval_samples``, ``analysis_samples``,
    ``device``.
    """

    analysis_samples: int = 5
    equilibrium_epochs: int = 2
    equilibrium_samples: int = 2000
    lr_decay: float = 10.0
    curve_samples: int = 500
    chunk_size: int = 500

    protocol: ClassVar[str] = "balanced_tuning"
    # Its synapses are stored target by target (connect(i=..., j=...)); an OpenMP
    # build's pathways visit them thread part by thread part, so the spikes of a step
    # add into a cell's conductance in another order: rounding differs, and the
    # learned weights with it.
    THREADS_REFUSED: ClassVar[str] = (
        "balanced tuning's synapses are stored target by target, so with several "
        "threads each cell's conductance sums its inputs' spikes in another order and "
        "the results would differ from one thread's; use --threads 1, and run trials "
        "in parallel with --sweep ablation --workers 2.")
    FLAGS: ClassVar[dict] = {"--static-synapses": (
        "stp", False, "static input synapses (w * U) instead of short-term plasticity")}

    @property
    def n_epochs(self) -> int:
        return self.equilibrium_epochs + self.epochs

    def check(self) -> None:
        def fail(msg):
            raise ConfigurationError(msg)

        if not is_number(self.t_present_ms) or self.t_present_ms <= 0:
            fail(f"t_present_ms: the presentation time must be a positive number of ms, got "
                 f"{self.t_present_ms!r}.")
        if not is_number(self.t_rest_ms) or self.t_rest_ms < 0:
            fail(f"t_rest_ms: the rest between presentations must be >= 0 ms, got "
                 f"{self.t_rest_ms!r}.")
        if not is_number(self.e_fraction) or not 0 <= self.e_fraction <= 1:
            fail(f"e_fraction: the excitatory fraction must lie in [0, 1] (0.8 is the 80:20 "
                 f"ratio), got {self.e_fraction!r}.")
        if not is_number(self.stp_U) or not 0 < self.stp_U <= 1:
            fail(f"stp_U: the utilisation of a fresh synapse must lie in (0, 1] (Tsodyks-"
                 f"Markram U), got {self.stp_U!r}.")
        for name in ("stp", "centre_out"):
            if not isinstance(getattr(self, name), bool):
                fail(f"{name}: must be true or false, got {getattr(self, name)!r}.")
        if not is_number(self.mean_samples) or self.mean_samples < 1:
            fail(f"mean_samples: the running mean of the presynaptic traces spans this many "
                 f"samples; give a number >= 1, got {self.mean_samples!r}.")
        self._require(("dt_ms", "max_rate_hz", "stp_tau_d_ms", "stp_tau_f_ms",
                       "tau_pre_ms", "w_out_max_mV"),
                      "positive")
        if not is_number(self.ff_inh_fraction) or not 0 <= self.ff_inh_fraction < 1:
            fail(f"ff_inh_fraction: the fraction of an E cell's patch that inhibits it must "
                 f"lie in [0, 1), got {self.ff_inh_fraction!r}.")
        self._require(("w_in_exc", "w_in_inh", "w_ff_inh", "w_ei", "w_ie_total",
                       "eta_eq", "eta_out_mV", "lr_decay", "w_out_init_mV",
                       "teacher_up_mV", "teacher_down_mV"),
                      "nonnegative")
        self._require(("n_hidden", "n_per_class", "chunk_size"), "positive_int")
        self._require(("rf_exc", "rf_inh", "k_ei", "k_ie", "equilibrium_epochs",
                       "equilibrium_samples", "curve_samples"),
                      "nonnegative_int")
        if not is_number(self.p_out) or not 0 < self.p_out <= 1:
            fail(f"p_out: the fraction of hidden cells each output cell sees must lie in "
                 f"(0, 1], got {self.p_out!r}.")
        if self.static_release is not None and (not is_number(self.static_release)
                                                or not 0 < self.static_release <= 1):
            fail(f"static_release: the fraction of w/U a static synapse transmits must lie in "
                 f"(0, 1], or be None (U), got {self.static_release!r}.")
        if self.equilibrium_epochs and not self.equilibrium_samples:
            fail("equilibrium_samples: step 1 needs samples; give a positive number or set "
                 "equilibrium_epochs to 0.")
        try:
            self.spec(n_in=64, image_shape=(8, 8))
        except ValueError as err:
            fail(f"network: {err}")

    def spec(self, n_in: int, image_shape: tuple, n_classes: int = 10):
        """The compiled network's :class:`models.balanced_network.BalancedSpec`."""
        return BalancedSpec(**self.parameters(BalancedParameters), n_in=int(n_in),
                            image_shape=tuple(image_shape), n_samples=self.chunk_size,
                            n_classes=int(n_classes), seed=self.seed).validate()


#: 'paper': MNIST / Fashion-MNIST; 'quick': digits in about a minute per run (8x8 images
#: need smaller receptive fields and more conductance per pixel). On 28x28 images a
#: presentation of 200 ms instead of 100 ms doubles the hidden spikes each image gives
#: the readout (about 1 per E cell at 100 ms) and cuts ties between classes: 92.4 % against
#: 90.6 % on 2,000 validation images after 5,000 training images (ties 0.65 % against
#: 1.7 %); a higher input rate instead (200 Hz) gave 90.7 %: depressing synapses pass
#: little more. A second consolidation epoch, at the decayed learning rate, took MNIST
#: from 94.81 to 95.29 % (benchmarks/RESULTS.md).
_IMAGES_28 = dict(validation=10000, t_present_ms=200.0, epochs=2)
_DIGITS = dict(validation=300, test=300, n_hidden=400, rf_exc=1, rf_inh=2, w_in_exc=15.0,
               w_in_inh=4.0, w_ff_inh=20.0, chunk_size=250, equilibrium_samples=500,
               epochs=4, eta_out_mV=0.03, lr_decay=2.0, w_out_max_mV=2.0, curve_samples=250)
#: 'quick' on MNIST / Fashion-MNIST: a fifth of the hidden cells, one short equilibrium
#: epoch and one consolidation epoch of the first 2,000 training images, 500 held-out
#: images evaluated (minutes instead of an hour).
_QUICK_28 = dict(_IMAGES_28, validation=500, train_samples=2000, epochs=1, n_hidden=400,
                 equilibrium_epochs=1, equilibrium_samples=500, chunk_size=250,
                 curve_samples=250, analysis_samples=3)
PRESETS = {
    "paper": {
        "mnist": dict(_IMAGES_28),
        "fashion-mnist": dict(_IMAGES_28),
        "digits": dict(_DIGITS),
    },
    "quick": {
        "digits": dict(_DIGITS, eval_split="test", analysis_samples=3),
        "mnist": dict(_QUICK_28),
        "fashion-mnist": dict(_QUICK_28),
    },
}

#: The ablations of the issue: each principle switched off in turn, and the E fraction.
ABLATIONS = {
    "full": {},
    "no_equilibrium": dict(equilibrium_epochs=0),
    "static_synapses": dict(stp=False),
    # Static synapses transmitting what STP releases on average over a digits
    # presentation (about 0.1 of w/U, recordings of the quick preset), so the input drive
    # and the hidden rates match the STP network's: what STP adds beyond lowering the drive.
    "static_matched": dict(stp=False, static_release=0.1),
    "e_fraction_0.5": dict(e_fraction=0.5),
    "e_fraction_0.95": dict(e_fraction=0.95),
    "all_excitatory": dict(e_fraction=1.0, ff_inh_fraction=0.0),
    # What this package adds to the abstract's principles (models.balanced_network):
    # unsigned receptive fields, and the plain ReSuMe rule without the balancing current.
    "no_ff_inhibition": dict(ff_inh_fraction=0.0),
    "uncentred": dict(centre_out=False),
}


BalancedTuningConfig.PRESETS = PRESETS
make_config = BalancedTuningConfig.make


def ablation_overrides(point: dict) -> dict:
    """The configuration fields of one task of the ablation sweep: the variant's
    (:data:`ABLATIONS`) and the seed."""
    return dict(ABLATIONS[point["variant"]], seed=point["seed"])


#: ``python -m experiments balanced_tuning --sweep ablation``: every variant of
#: :data:`ABLATIONS` for each trial's seed, with the same budget.
SWEEPS = {"ablation": SweepKind("every principle switched off in turn (" + ", ".join(ABLATIONS)
                                + ") for each trial's seed",
                                axes=lambda cfg: {"variant": list(ABLATIONS)},
                                overrides=ablation_overrides, seeds=True)}


def variant_of(cfg: BalancedTuningConfig) -> str:
    """Name of the ablation a configuration is (compared with the paper preset's
    principles), e.g. 'full', 'static_synapses'."""
    if cfg.e_fraction == 1.0:
        return "all_excitatory"
    parts = []
    if cfg.equilibrium_epochs == 0:
        parts.append("no_equilibrium")
    if not cfg.stp:
        parts.append("static_synapses" if cfg.static_release is None else "static_matched")
    if cfg.e_fraction != 0.8:
        parts.append(f"e_fraction_{cfg.e_fraction:g}")
    if cfg.ff_inh_fraction == 0:
        parts.append("no_ff_inhibition")
    if not cfg.centre_out:
        parts.append("uncentred")
    return "+".join(parts) or "full"


# ======================================================================================
# The protocol
# ======================================================================================


def _image_shape(n_in: int) -> tuple:
    side = int(round(math.sqrt(n_in)))
    if side * side != n_in:
        raise ConfigurationError(f"dataset: the images must be square to place receptive fields; "
                          f"got {n_in} pixels.")
    return side, side


class BalancedTuningProtocol(ImageProtocol):
    """Balanced tuning for :class:`experiments.training.Trainer`: epochs
    ``0 .. equilibrium_epochs - 1`` are step 1 (the first ``equilibrium_samples`` of a
    shuffled training set, no labels, no evaluation), the rest steps 2-3."""

    name = "balanced_tuning"
    STREAMS = {"connectivity": (7001,), "training_order": (_ORDER_STREAM, "epoch"),
               "poisson": "compiled-in seed(seed) per run; each run starts from it"}
    IMAGE_DTYPE = np.float32

    def __init__(self, cfg: BalancedTuningConfig, data=None, n_classes: int = 10):
        super().__init__(cfg, data, n_classes)
        try:
            self.spec = cfg.spec(self.n_in, _image_shape(self.n_in), n_classes)
        except ValueError as err:
            raise ConfigurationError(f"network: {err}") from None
        self._chunk, self._phase = 0, None
        self._recording = None
        # The evaluation's analysis spikes, and whether an evaluation (not a probe of
        # the consolidation curve) is running.
        self._spikes, self._evaluating = None, False

    @property
    def n_epochs(self) -> int:
        return self.cfg.n_epochs

    @property
    def n_chunks(self) -> int:
        """Chunks of a consolidation epoch."""
        return -(-self.n_train // self.cfg.chunk_size)

    def phase(self, epoch: int) -> str:
        return "equilibrium" if epoch < self.cfg.equilibrium_epochs else "consolidation"

    def epoch_length(self, epoch: int) -> int:
        if self.phase(epoch) == "equilibrium":
            return min(self.cfg.equilibrium_samples, self.n_train)
        return self.n_train

    def evaluates(self, epoch: int) -> bool:
        return self.phase(epoch) == "consolidation"

    def learning_rate(self, epoch: int, chunk: int = 0) -> float:
        """STDP step (mV) of a consolidation chunk: ``eta_out / (1 + lr_decay * p)``, with
        ``p`` the consolidation epochs done (fractional, per chunk); 0 in step 1."""
        if self.phase(epoch) == "equilibrium":
            return 0.0
        progress = epoch - self.cfg.equilibrium_epochs + chunk / self.n_chunks
        return self.cfg.eta_out_mV / (1.0 + self.cfg.lr_decay * progress)

    def probe(self, epoch: int, chunk: int):
        """The consolidation curve's evaluation images after training chunk ``chunk``
        (chunks 0, 1, 3, 7, ... and the last of the first consolidation epoch), or None."""
        if epoch != self.cfg.equilibrium_epochs or self.phase(epoch) != "consolidation":
            return None
        if chunk & (chunk + 1) and chunk != self.n_chunks - 1:
            return None
        n = min(self.cfg.curve_samples, self.n_eval, self.cfg.chunk_size)
        return np.arange(n) if n else None

    def probe_statistics(self, chunk: int, correct) -> dict:
        """The probe after training chunk ``chunk`` (``correct``: one boolean per image)
        as additive sums, indexed by chunk."""
        right, n = np.zeros(self.n_chunks), np.zeros(self.n_chunks)
        right[chunk], n[chunk] = np.sum(correct), len(correct)
        return {"probe_correct": right, "probe_n": n}

    # -- the network ------------------------------------------------------------------------
    #: The option that sets the samples of a compiled run (a refusal for memory names it).
    CHUNK_OPTION = "--chunk-size"

    def memory_estimate(self):
        """Bytes of the network's arrays (:func:`models.balanced_network.memory_estimate`)."""
        from models.balanced_network import memory_estimate

        return memory_estimate(self.spec)

    def compile(self):
        from brian2 import seed as brian_seed

        from models.balanced_network import build_balanced_network
        from models.devices import build, select_device

        select_device(self.cfg.device, openmp_threads=self.cfg.openmp_threads)
        # Poisson spikes come from the compiled-in seed; chunks differ because their
        # images differ. Different seeds give different streams.
        brian_seed(self.cfg.seed)
        self.net = build_balanced_network(self.spec)
        self.handle = build(self.net.network, self.net.duration, compile_only=True)
        return self.handle

    def learned_variables(self) -> dict:
        return self.net.learned_variables()

    def initial_state(self) -> dict:
        from models.balanced_network import initial_state

        return initial_state(self.spec)

    def train_run_args(self, epoch: int, chunk: int, samples) -> dict:
        samples = np.asarray(samples)
        self._chunk, self._phase = chunk, self.phase(epoch)
        self._evaluating = False
        images, labels = self.x_train[samples], self.y_train[samples]
        if self.phase(epoch) == "equilibrium":
            return self.net.run_args(images, None, equilibrium=True)
        scale = self.learning_rate(epoch, chunk) / self.cfg.eta_out_mV \
            if self.cfg.eta_out_mV > 0 else 0.0
        return self.net.run_args(images, labels, teacher=True, consolidate=scale)

    def eval_run_args(self, samples) -> dict:
        samples = np.asarray(samples)
        first = self._evaluating and len(samples) and samples[0] == 0
        return self.net.run_args(self.x_eval[samples], None,
                                 record_samples=self.n_analysis if first else 0)

    def correct(self, split: str, samples) -> np.ndarray:
        """The class with most free spikes is the label, and no other class has as many
        (a silent output, or a tie, is an error)."""
        from experiments.neuron_parameters import predictions

        labels = (self.y_train if split == "train" else self.y_eval)[np.asarray(samples)]
        return predictions(self.net.class_counts()[:len(labels)]) == labels

    # -- statistics ---------------------------------------------------------------------------
    def chunk_statistics(self, split: str, samples) -> dict:
        from experiments.neuron_parameters import predictions

        n = len(samples)
        spec = self.spec
        totals = self.net.hidden_totals()
        e, i = slice(0, spec.n_exc), slice(spec.n_exc, spec.n_hidden)
        stats = {"samples": float(n),
                 "spikes_e": float(totals["n_spikes"][e].sum()),
                 "spikes_i": float(totals["n_spikes"][i].sum()),
                 "dv_abs_e": float(totals["dv_abs"][e].sum()),
                 "dv_abs_i": float(totals["dv_abs"][i].sum())}
        counts = self.net.class_counts()[:n]
        stats["output_spikes"] = float(counts.sum())
        if split == "train":
            labels = self.y_train[np.asarray(samples)]
            curve_correct, curve_n = np.zeros(self.n_chunks), np.zeros(self.n_chunks)
            curve_correct[self._chunk] = np.sum(predictions(counts) == labels)
            curve_n[self._chunk] = n
            # The phase travels with the sums (kept in checkpoints): a run resumed after
            # an epoch's training and before its evaluation ran no chunk to set _phase.
            stats.update(curve_correct=curve_correct, curve_n=curve_n,
                         consolidation_samples=float(n * (self._phase == "consolidation")))
        else:
            if samples[0] == 0:
                self._recording = {"probe_" + k: v for k, v in self.net.probe_trace().items()}
                if self._evaluating:
                    self._spikes = self.net.recorded_spikes(self.n_analysis)
                self._recording["eval_class_counts"] = counts
            elif self._recording is not None:
                self._recording["eval_class_counts"] = np.concatenate(
                    [self._recording["eval_class_counts"], counts])
        return stats

    def epoch_metrics(self, split: str, sums: dict) -> dict:
        spec = self.spec
        n = sums["samples"]
        t_sample = (spec.t_present_ms + spec.t_rest_ms) * 1e-3
        t_present = spec.t_present_ms * 1e-3

        def per_cell(total, cells, seconds):
            return float(total / (cells * n * seconds)) if cells else None

        out = {
            "rate_e_hz": per_cell(sums["spikes_e"], spec.n_exc, t_sample),
            "rate_i_hz": per_cell(sums["spikes_i"], spec.n_inh, t_sample),
            # dv_abs is in volt, integrated over the presentation: volt/second = mV/ms.
            "dvdt_abs_e_mV_per_ms": per_cell(sums["dv_abs_e"], spec.n_exc, t_present),
            "dvdt_abs_i_mV_per_ms": per_cell(sums["dv_abs_i"], spec.n_inh, t_present),
            "output_spikes_per_sample": float(sums["output_spikes"] / n),
        }
        if split == "train":
            out["phase"] = self._phase if "consolidation_samples" not in sums else (
                "consolidation" if sums["consolidation_samples"] > 0 else "equilibrium")
            done = sums["curve_n"] > 0
            out["curve_samples"] = np.cumsum(sums["curve_n"])[done].astype(int).tolist()
            out["curve_accuracy"] = (sums["curve_correct"][done] / sums["curve_n"][done]).tolist()
            if "probe_n" in sums:
                probed = sums["probe_n"] > 0
                out["probe_samples"] = np.cumsum(sums["curve_n"])[probed].astype(int).tolist()
                out["probe_accuracy"] = (sums["probe_correct"][probed]
                                         / sums["probe_n"][probed]).tolist()
        return out

    def begin_evaluation(self) -> None:
        self._recording, self._spikes, self._evaluating = None, None, True

    def spike_recording(self, epoch: int):
        """The spikes of the inputs, the hidden E and I cells and the outputs during the
        first ``n_analysis`` images of the evaluation that just ran
        (:class:`analysis.recording.SpikeRecording`), or None."""
        from analysis.recording import Population, spike_recording, spikes_from_global_steps

        if self._spikes is None or not self.n_analysis:
            return None
        spec = self.spec
        sizes = {"input": (0, spec.n_in, "input", None), "E": (1, spec.n_exc, "hidden", "E"),
                 "I": (1, spec.n_inh, "hidden", "I"), "output": (2, spec.n_out, "output", None)}
        populations = [Population(name, layer, size, kind, ei)
                       for name, (layer, size, kind, ei) in sizes.items() if size]
        spikes = {p.name: spikes_from_global_steps(*self._spikes[p.name], spec.steps_per_sample)
                  for p in populations}
        n = self.n_analysis
        return spike_recording(populations, spikes, dt_ms=spec.dt_ms,
                               steps_per_sample=spec.steps_per_sample,
                               eval_indices=np.arange(n), labels=self.y_eval[:n],
                               epoch=epoch, protocol=self.name)

    def evaluation_recording(self) -> dict | None:
        rec = self._recording
        if rec is None:
            return None
        steps = int(round(self.n_analysis * (self.spec.t_present_ms + self.spec.t_rest_ms)
                          / self.spec.record_dt_ms))
        out = {k: (v[..., :steps] if k in ("probe_u", "probe_x", "probe_r") else v)
               for k, v in rec.items()}
        out["probe_t"] = rec["probe_t"][:steps]
        out["eval_labels"] = self.y_eval[:len(rec["eval_class_counts"])]
        return out


def summarise(metrics: list) -> dict:
    """Final and peak accuracy, and the step-1 |dV/dt| curve, of a run's metrics."""
    evaluated = [m for m in metrics if m.get("accuracy") is not None and m.get("epoch", 0) > 0]
    step1 = [m.get("train_dvdt_abs_e_mV_per_ms") for m in metrics
             if m.get("train_phase") == "equilibrium"]
    return {"final_accuracy": evaluated[-1]["accuracy"] if evaluated else None,
            "peak_accuracy": max((m["accuracy"] for m in evaluated), default=None),
            "equilibrium_dvdt": step1}


run = runner(BalancedTuningProtocol,
             lambda cfg: f"{cfg.dataset}-{variant_of(cfg)}-s{cfg.seed}")


# ======================================================================================
# Command line: python -m experiments balanced_tuning ...
# ======================================================================================

BalancedTuningConfig.CLI_FIELDS = {
    "--hidden": ("n_hidden", int, "hidden cells"),
    "--e-fraction": ("e_fraction", float, "excitatory fraction of the hidden layer, in [0, 1]"),
    "--per-class": ("n_per_class", int, "output cells per class"),
    "--t-present": ("t_present_ms", float, "presentation time per sample (ms, > 0)"),
    "--t-rest": ("t_rest_ms", float, "rest after each presentation (ms, >= 0)"),
    "--max-rate": ("max_rate_hz", float, "Poisson rate of a pixel of intensity 1 (Hz)"),
    "--ff-inh-fraction": ("ff_inh_fraction", float, "fraction of an E cell's patch that "
                                                    "inhibits it, in [0, 1)"),
    "--stp-U": ("stp_U", float, "Tsodyks-Markram utilisation U, in (0, 1]"),
    "--stp-tau-d": ("stp_tau_d_ms", float, "STP recovery time constant (ms)"),
    "--stp-tau-f": ("stp_tau_f_ms", float, "STP facilitation time constant (ms)"),
    "--equilibrium-epochs": ("equilibrium_epochs", int, "epochs of step 1 (0: no equilibrium)"),
    "--equilibrium-samples": ("equilibrium_samples", int, "samples per step-1 epoch"),
    "--eta-eq": ("eta_eq", float, "step-1 learning rate"),
    "--teacher-up": ("teacher_up_mV", float, "teacher drive of the label's cells (mV)"),
    "--teacher-down": ("teacher_down_mV", float, "teacher drive, negative, of the other "
                                                 "cells (mV)"),
    "--eta-out": ("eta_out_mV", float, "STDP step per spike pair (mV)"),
    "--lr-decay": ("lr_decay", float, "STDP step decays as 1/(1 + lr_decay * epochs done)"),
    "--curve-samples": ("curve_samples", int, "evaluation images of each point of the "
                                              "consolidation curve (0: no curve)"),
    "--chunk-size": ("chunk_size", int, "samples per compiled run"),
    "--seed": ("seed", int, "seed of connectivity, order and Poisson spikes"),
    "--analysis-samples": ("analysis_samples", int, "evaluation samples whose spikes and "
                                                    "STP are kept"),
}


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options of ``python -m experiments balanced_tuning``; every default is in the help."""
    BalancedTuningConfig.add_arguments(parser)
    add_sweep_arguments(parser, SWEEPS)
    return parser


def main(args) -> int:
    """``python -m experiments balanced_tuning``: train one configuration (or its
    ablations)."""
    cfg, root, run_id = BalancedTuningConfig.from_args(args)
    if args.sweep is not None:
        return run_sweep_command(cfg, args, SWEEPS, run, summarise)
    print(f"balanced_tuning: {cfg.dataset}, {variant_of(cfg)}, {cfg.n_hidden} hidden cells "
          f"({cfg.e_fraction:g} excitatory), {cfg.equilibrium_epochs} x "
          f"{cfg.equilibrium_samples} equilibrium samples, {cfg.epochs} consolidation epochs",
          flush=True)
    return run_and_report(run, summarise, cfg, root, run_id, args,
                          ("final_accuracy",))
