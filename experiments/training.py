"""The training engine: compile once, train in chunks of samples, checkpoint, resume.

A protocol (e.g. :class:`experiments.desire.DesireProtocol`) builds one Brian2 network
for a fixed number of samples (the *chunk*) and compiles it once per architecture. The
engine then trains by re-running that same binary with new ``run_args`` (DESIGN.md, "How
training runs inside Brian2"): the chunk's stimuli, labels, random streams and learning
rate, plus every learned variable (e.g. ``syn.w``), which it reads back after the run
and passes into the next one. There is no Python loop over samples and no ``run()`` per
sample; the last chunk of an epoch is padded by the protocol.

After every chunk the engine writes an atomic checkpoint (``checkpoint.npz`` in the run's
:class:`~runs.RunFolder`, the one before kept as ``checkpoint-previous.npz``): every
learned variable, the epoch, the sample cursor within the epoch, the seeds, the training
statistics, all metrics so far, and the run's configuration (``config.json``'s, with its
digest). Random streams are drawn by the protocol from ``(seed, epoch, chunk)``, never
from a generator that lives across chunks, so a run resumed from a checkpoint repeats
exactly the chunks it lost and ends with bit-identical weights (tests kill the command
line with SIGKILL at random points, and while a checkpoint is written, and check this).
A resume continues from the latest checkpoint, or, where that one is missing or corrupt,
from the previous one with a warning (stderr and ``log.txt``) that the samples trained
after it are trained again; ``metrics.jsonl`` is rewritten from the checkpoint resumed
from. It refuses (:func:`runs.check_resumable`) a folder that trained but has no usable
checkpoint, and a ``config.json`` edited after the checkpoint was written. A run resumed
before its first checkpoint starts from the beginning; the temporary files of writes cut
short are deleted, never read.

At the end of every epoch the engine evaluates on the protocol's evaluation split with
learning off (the same binary; the protocol's ``eval_run_args`` gate learning) and
appends one line to ``metrics.jsonl``.

The protocol interface
----------------------
The engine needs these attributes and methods (stated as
:class:`experiments.protocol.TrainingProtocol`):

``name`` (str), ``n_epochs``, ``chunk_size``, ``n_train``, ``n_eval`` (int),
``seeds()`` -> dict,
``compile()`` -> :class:`models.devices.CompiledNetwork` (selects the device, builds the
network for ``chunk_size`` samples, compiles it),
``learned_variables()`` -> ``{name: VariableView}``,
``initial_state()`` -> ``{name: array}`` (the same names),
``train_order(epoch)`` -> permutation of ``range(n_train)``,
``train_run_args(epoch, chunk, samples)`` -> ``run_args`` without the learned state,
``eval_run_args(samples)`` -> likewise, with learning off,
``correct(split, samples)`` -> boolean array, one per sample of the last run,
``learning_rate(epoch)`` -> float (recorded with the metrics).

Optional, for statistics beyond accuracy:

``chunk_statistics(split, samples)`` -> ``{name: array}`` of the last run, *additive*
over chunks (sums and counts); the engine sums them over an epoch's training chunks
(keeping the running sums in the checkpoint, so a resumed epoch reports the same
numbers) and over an evaluation,
``epoch_metrics(split, sums)`` -> JSON-serialisable dict added to the epoch's metrics
line (training entries get the prefix ``train_``),
``begin_evaluation()`` and ``evaluation_recording()`` -> ``{name: array}`` or ``None``:
arrays collected during an evaluation (e.g. spike rasters of chosen samples), written
to ``recordings/epoch-NNNN.npz`` of the run folder,
``evaluate_initial`` (bool attribute): evaluate the initial state before training, as
epoch 0 (a metrics line with ``epoch: 0`` and ``recordings/epoch-0000.npz``),
``spike_recording(epoch)`` -> :class:`analysis.recording.SpikeRecording` or ``None``:
the spikes of every layer for the protocol's analysis set of evaluation images,
collected during the evaluation that just ran; the engine writes it with
:func:`analysis.recording.write_spike_recording` (``recordings/spikes-epoch-NNNN.npz``)
after the evaluations of the epochs it records (:meth:`Trainer.records`): epoch 0
where the protocol evaluates its initial state, and the first and the last epoch
that evaluate (an epoch whose evaluation is skipped records nothing),
``epoch_length(epoch)`` -> int: training samples of that epoch (default ``n_train``; a
protocol with phases, e.g. a short unsupervised phase first, trains on the first
samples of ``train_order(epoch)``),
``evaluates(epoch)`` -> bool: whether the evaluation split is run after that epoch
(default True; without it the metrics line has ``accuracy: None`` and the training
entries only),
``probe(epoch, chunk)`` -> evaluation sample indices (at most ``chunk_size``) or
``None``, and ``probe_statistics(chunk, correct)`` -> additive ``{name: array}``: a
learning curve measured inside an epoch. After that training chunk the engine runs
those evaluation samples with learning off (``eval_run_args``; the learned state is not
read back, and the run is not counted in the training time), asks ``correct("eval",
samples)`` and adds the protocol's statistics of those answers to the epoch's training sums, so they are checkpointed with
them and a resumed epoch reports the same curve.
"""

from __future__ import annotations

import datetime as _dt
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from runs import (CHECKPOINT_FORMAT, STATS_PREFIX, NotARunError, RunFolder, check_resumable,
                  config_digest)

__all__ = ["TrainingState", "Trainer"]



@dataclass
class TrainingState:
    """Where a run stands; saved in every checkpoint.

    ``epoch`` counts completed epochs; ``cursor`` is the number of training samples of
    epoch ``epoch`` already trained on (equal to ``n_train`` when the epoch's training is
    done but its evaluation is not).
    """

    arrays: dict
    epoch: int = 0
    cursor: int = 0
    samples_seen: int = 0
    train_correct: int = 0
    train_seconds: float = 0.0
    metrics: list = field(default_factory=list)
    train_stats: dict = field(default_factory=dict)

    def meta(self, protocol, config: dict) -> dict:
        """The checkpoint's metadata; ``config`` is the run's stored configuration
        (``config.json``'s ``config``), kept with its digest so that a resume can tell
        whether ``config.json`` was edited since."""
        return {
            "format": CHECKPOINT_FORMAT,
            "protocol": protocol.name,
            "epoch": self.epoch,
            "cursor": self.cursor,
            "samples_seen": self.samples_seen,
            "train_correct": self.train_correct,
            "train_seconds": self.train_seconds,
            "metrics": self.metrics,
            "seeds": protocol.seeds(),
            "chunk_size": protocol.chunk_size,
            "n_train": protocol.n_train,
            "config": config,
            "config_sha256": config_digest(config),
            "saved": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }

    @classmethod
    def from_checkpoint(cls, arrays: dict, meta: dict, protocol) -> "TrainingState":
        """The state of a checkpoint's ``arrays`` and ``meta``, which
        :func:`runs.check_resumable` has accepted for ``protocol``."""
        learned = {k: v for k, v in arrays.items() if not k.startswith(STATS_PREFIX)}
        stats = {k[len(STATS_PREFIX):]: v for k, v in arrays.items()
                 if k.startswith(STATS_PREFIX)}
        return cls(arrays=learned, epoch=int(meta["epoch"]), cursor=int(meta["cursor"]),
                   samples_seen=int(meta["samples_seen"]),
                   train_correct=int(meta["train_correct"]),
                   train_seconds=float(meta["train_seconds"]), metrics=list(meta["metrics"]),
                   train_stats=stats)

    def checkpoint_arrays(self) -> dict:
        """Learned variables plus the epoch's running training statistics."""
        arrays = dict(self.arrays)
        arrays.update({STATS_PREFIX + k: v for k, v in self.train_stats.items()})
        return arrays


def _accumulate(sums: dict, stats: dict | None) -> None:
    """Add one chunk's additive statistics to the running sums (in place)."""
    for name, value in (stats or {}).items():
        value = np.asarray(value, dtype=np.float64)
        sums[name] = sums[name] + value if name in sums else value.copy()


class Trainer:
    """Runs a protocol's chunks, carries the learned state, checkpoints, evaluates.

    Parameters
    ----------
    protocol
        See the module docstring for the interface.
    folder : RunFolder
        Where the checkpoint, metrics and log go (``config.json`` must exist already).
    progress : bool
        Show a tqdm progress bar over training samples (with samples/s).
    """

    def __init__(self, protocol, folder: RunFolder, progress: bool = True):
        self.protocol = protocol
        self.folder = folder
        self.progress = progress
        self.handle = None
        self.views = None
        self.compile_seconds = None
        self.eval_stats = {}
        self._config = None

    @property
    def config(self) -> dict:
        """The run's stored configuration (``config.json``'s ``config``), which every
        checkpoint carries."""
        if self._config is None:
            self._config = self.folder.read_config()["config"]
        return self._config

    # -- the learned state ---------------------------------------------------------------
    def _state_args(self, state: TrainingState) -> dict:
        # Checkpoints hold plain SI values; a variable with a unit gets it back.
        from brian2 import Quantity

        return {view: (Quantity(state.arrays[name], dim=view.dim)
                       if getattr(view, "dim", None) is not None else state.arrays[name])
                for name, view in self.views.items()}

    def _read_state(self) -> dict:
        return {name: np.array(view[:]) for name, view in self.views.items()}

    def checkpoint(self, state: TrainingState) -> None:
        """Write checkpoint and metrics atomically (metrics from the checkpoint's list)."""
        self.folder.write_checkpoint(state.checkpoint_arrays(),
                                     state.meta(self.protocol, self.config))
        self.folder.write_metrics(state.metrics)

    # -- running ----------------------------------------------------------------------------
    def compile(self):
        if self.handle is None:
            start = time.perf_counter()
            self.handle = self.protocol.compile()
            self.compile_seconds = time.perf_counter() - start
            self.views = self.protocol.learned_variables()
            self.folder.log(f"compiled in {self.compile_seconds:.1f} s "
                            f"({getattr(self.handle, 'directory', None) or 'runtime'})")
        return self.handle

    def evaluate(self, state: TrainingState) -> float:
        """Accuracy on the protocol's evaluation split with the learned state of ``state``
        (learning off; compiles first if needed)."""
        self.compile()
        p = self.protocol
        n_correct = 0
        self.eval_stats = {}
        if hasattr(p, "begin_evaluation"):
            p.begin_evaluation()
        for start in range(0, p.n_eval, p.chunk_size):
            samples = np.arange(start, min(start + p.chunk_size, p.n_eval))
            args = dict(p.eval_run_args(samples))
            args.update(self._state_args(state))
            self.handle.run(args)
            n_correct += int(np.sum(p.correct("eval", samples)))
            _accumulate(self.eval_stats, self._statistics("eval", samples))
        return n_correct / max(p.n_eval, 1)

    def records(self, epoch: int) -> bool:
        """Whether the spikes of the evaluation after ``epoch`` epochs (0: before
        training) are recorded: epoch 0, and the first and the last epoch whose
        evaluation runs (the protocol's ``evaluates``)."""
        p = self.protocol
        if epoch == 0:
            return True
        evaluates = getattr(p, "evaluates", lambda e: True)
        evaluated = [e + 1 for e in range(p.n_epochs) if evaluates(e)]
        return bool(evaluated) and epoch in (evaluated[0], evaluated[-1])

    def _epoch_length(self, epoch: int) -> int:
        method = getattr(self.protocol, "epoch_length", None)
        return self.protocol.n_train if method is None else int(method(epoch))

    def _statistics(self, split: str, samples) -> dict | None:
        method = getattr(self.protocol, "chunk_statistics", None)
        return method(split, samples) if method is not None else None

    def _epoch_metrics(self, split: str, sums: dict) -> dict:
        method = getattr(self.protocol, "epoch_metrics", None)
        return dict(method(split, sums)) if method is not None and sums else {}

    def run(self, resume: bool = False) -> TrainingState:
        """Train for the protocol's number of epochs (continuing from the folder's
        checkpoint if ``resume``; from the beginning if it has none yet); returns the
        final state. Evaluates after every epoch. Holds the folder's lock
        (:meth:`RunFolder.lock`) while it runs: a second process is refused with
        :class:`~runs.RunInUseError`."""
        self.folder.lock()
        try:
            return self._run(resume)
        finally:
            self.folder.unlock()

    def _run(self, resume: bool) -> TrainingState:
        p = self.protocol
        # Chosen and checked before anything in the folder changes.
        checkpoint = check_resumable(p, self.folder.path) if resume else None
        removed = self.folder.remove_temporaries()
        if removed:
            self.folder.log(f"deleted {', '.join(removed)}: writes cut short by a kill")
        if checkpoint is not None:
            if checkpoint.fallback:
                warning = (f"{checkpoint.fallback}; resuming from {checkpoint.path.name} at "
                           f"{checkpoint.position()}: the samples trained after it are "
                           "trained again")
                print(f"warning: {warning}", file=sys.stderr, flush=True)
                self.folder.log(f"warning: {warning}")
            state = TrainingState.from_checkpoint(checkpoint.arrays, checkpoint.meta, p)
            # A kill between the checkpoint's rename and the metrics' leaves the metrics
            # one evaluation behind (for good, if that was the last checkpoint); after a
            # fall back to the previous checkpoint they are one ahead.
            self.folder.write_metrics(state.metrics)
            self.folder.log(f"resumed at epoch {state.epoch}, sample {state.cursor} "
                            f"({state.samples_seen} samples trained so far)")
        else:
            if resume and "branched_from" in self.folder.read_config():
                # Its first checkpoint holds the learned state it branched from.
                raise NotARunError(
                    f"--resume: the branch '{self.folder.path}' stopped before its first "
                    "checkpoint was written; delete it and start the branch again.")
            if resume:
                self.folder.log("no checkpoint to resume from (the run stopped before its "
                                "first one): starting from the beginning")
            state = TrainingState(arrays=p.initial_state())
            self.folder.log(f"new run: {p.n_epochs} epochs of {p.n_train} samples, "
                            f"chunks of {p.chunk_size}, evaluation on {p.n_eval} samples")
        self.compile()
        missing = set(self.views) ^ set(state.arrays)
        if missing:
            raise ValueError(f"learned variables and state differ: {sorted(missing)}")

        from tqdm.auto import tqdm

        total = sum(self._epoch_length(e) for e in range(p.n_epochs))
        done = min(sum(self._epoch_length(e) for e in range(state.epoch)) + state.cursor, total)
        bar = tqdm(total=total, initial=done, unit="sample", desc=p.name, disable=not self.progress,
                   dynamic_ncols=True, smoothing=0.05)
        try:
            if getattr(p, "evaluate_initial", False) and state.epoch == 0 and state.cursor == 0 \
                    and not any(m.get("epoch") == 0 for m in state.metrics):
                state.metrics.append(self._evaluation_record(state, 0))
                self.checkpoint(state)
            while state.epoch < p.n_epochs:
                if state.cursor < self._epoch_length(state.epoch):
                    self._train_chunk(state, bar)
                else:
                    self._end_epoch(state, bar)
                self.checkpoint(state)
        finally:
            bar.close()
        self.folder.log(f"finished: {state.epoch} epochs, {state.samples_seen} samples")
        return state

    def _train_chunk(self, state: TrainingState, bar) -> None:
        p = self.protocol
        order = p.train_order(state.epoch)[:self._epoch_length(state.epoch)]
        chunk = state.cursor // p.chunk_size
        samples = order[state.cursor:state.cursor + p.chunk_size]
        args = dict(p.train_run_args(state.epoch, chunk, samples))
        args.update(self._state_args(state))
        start = time.perf_counter()
        self.handle.run(args)
        state.arrays = self._read_state()
        elapsed = time.perf_counter() - start
        correct = int(np.sum(p.correct("train", samples)))
        _accumulate(state.train_stats, self._statistics("train", samples))
        state.cursor += len(samples)
        state.samples_seen += len(samples)
        state.train_correct += correct
        state.train_seconds += elapsed
        rate = len(samples) / elapsed if elapsed > 0 else float("nan")
        bar.update(len(samples))
        bar.set_postfix(epoch=state.epoch + 1, train_acc=f"{state.train_correct / state.cursor:.3f}",
                        refresh=False)
        self.folder.log(f"epoch {state.epoch + 1} chunk {chunk}: {len(samples)} samples in "
                        f"{elapsed:.2f} s ({rate:.1f} samples/s), training accuracy "
                        f"{correct / len(samples):.4f}")
        self._probe(state, chunk)

    def _probe(self, state: TrainingState, chunk: int) -> None:
        """Run the protocol's probe of this chunk, if any (see the module docstring)."""
        p = self.protocol
        probe = getattr(p, "probe", None)
        samples = probe(state.epoch, chunk) if probe is not None else None
        if samples is None or len(samples) == 0:
            return
        samples = np.asarray(samples)
        args = dict(p.eval_run_args(samples))
        args.update(self._state_args(state))
        self.handle.run(args)
        correct = np.asarray(p.correct("eval", samples))
        _accumulate(state.train_stats, p.probe_statistics(chunk, correct))
        self.folder.log(f"epoch {state.epoch + 1} chunk {chunk}: probe accuracy "
                        f"{correct.mean():.4f} on {len(samples)} evaluation samples, "
                        f"learning off")

    def _evaluation_record(self, state: TrainingState, epoch: int) -> dict:
        """Evaluate ``state`` and return the metrics line of ``epoch`` (0: before
        training, with no training entries); writes the evaluation's recording."""
        p = self.protocol
        start = time.perf_counter()
        evaluates = getattr(p, "evaluates", lambda e: True)(max(epoch - 1, 0)) or epoch == 0
        self.eval_stats = {}
        accuracy = self.evaluate(state) if evaluates else None
        eval_seconds = time.perf_counter() - start
        record = {
            "epoch": epoch,
            "split": getattr(p, "eval_split", "eval"),
            "accuracy": accuracy,
            "n_eval": p.n_eval,
        }
        if epoch > 0:
            record.update({
                "train_accuracy": state.train_correct / max(state.cursor, 1),
                "learning_rate": p.learning_rate(state.epoch),
                "samples_seen": state.samples_seen,
                "train_seconds": state.train_seconds,
                "train_samples_per_s": (state.cursor / state.train_seconds
                                        if state.train_seconds else None),
            })
        record["eval_seconds"] = eval_seconds
        record["time"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        record.update(self._epoch_metrics(record["split"], self.eval_stats))
        if epoch > 0:
            record.update({f"train_{k}": v
                           for k, v in self._epoch_metrics("train", state.train_stats).items()})
        recording = getattr(p, "evaluation_recording", lambda: None)() if evaluates else None
        if recording:
            self.folder.write_recording(f"epoch-{epoch:04d}", recording)
        spikes = getattr(p, "spike_recording", None)
        if spikes is not None and evaluates and self.records(epoch):
            spikes = spikes(epoch)
            if spikes is not None:
                from analysis.recording import write_spike_recording

                write_spike_recording(self.folder, spikes)
        if evaluates:
            self.folder.log(f"epoch {epoch}: {record['split']} accuracy {accuracy:.4f}"
                            + (" (before training)" if epoch == 0 else ""))
        return record

    def _end_epoch(self, state: TrainingState, bar) -> None:
        record = self._evaluation_record(state, state.epoch + 1)
        accuracy = record["accuracy"]
        state.metrics.append(record)
        state.epoch += 1
        state.cursor = 0
        state.train_stats = {}
        state.train_correct = 0
        state.train_seconds = 0.0
        bar.set_postfix(epoch=state.epoch, acc="-" if accuracy is None else f"{accuracy:.4f}",
                        refresh=True)
        self.folder.log(f"epoch {record['epoch']}: training accuracy "
                        f"{record['train_accuracy']:.4f}, "
                        f"{record['train_samples_per_s'] or 0:.1f} samples/s")
