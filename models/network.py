"""What every network of the protocols shares: the sample clock and a run of samples.

A protocol's network is compiled once for a chunk of ``n_samples`` samples of
``steps_per_sample`` Brian2 steps of ``dt`` each, and one run (``net.run(duration)``)
presents the whole chunk. The run lasts one step longer than its samples, so that the
work at the end of the last sample (learning, read-outs) runs in the first step after
it, like the work of every other sample. Every object runs on the default clock
(``defaultclock.dt = dt``): one clock keeps the generated code, and with it the key of
the build cache (:mod:`models.devices`), the same in every process.

Per-sample values (images, labels, masks) are TimedArrays with ``dt = T_sample``. The
code strings below define the clock within a sample for the clocked networks, whose
namespace holds ``n_steps`` (steps per sample) and ``T_sample``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from brian2 import Network, NeuronGroup, Synapses, TimedArray, defaultclock, ms

__all__ = ["STEP", "BOUNDARY", "ENDED", "BATCH_END", "SAMPLE_START", "ENDED_START",
           "SampledNetwork", "SpecNetwork", "set_clock", "schedule", "zero_at_sample_start"]

#: Step within the current sample, 0 .. n_steps - 1 (an integer; a scalar in generated
#: code, so Brian2 computes it once per code object and step).
STEP = "(timestep(t, dt) % n_steps)"
#: True at the first step of a sample (at t = 0 too, where no sample has ended).
BOUNDARY = f"{STEP} == 0"
#: 1 at the first step after a sample (not at t = 0, where no sample has ended).
ENDED = f"(int({STEP} == 0) * int(t > 0.5 * dt))"
#: 1 when the sample that just ended closes a mini-batch of ``batch_size`` samples.
BATCH_END = f"({ENDED} * int((timestep(t, dt) // n_steps) % batch_size == 0))"
#: Start time of the current sample: per-sample TimedArrays (dt = T_sample) are read
#: there, never in mid-sample where their lookup would round to the next sample.
SAMPLE_START = f"(t - {STEP} * dt)"
#: Start time of the sample that just ended (at its boundary).
ENDED_START = "(t - T_sample)"


def zero_at_sample_start(*names: str) -> str:
    """Abstract code, one line per variable, that sets the variables ``names`` to 0 at
    the first step of a sample and leaves them unchanged at the others."""
    return "".join(f"{name} *= int({STEP} != 0)\n" for name in names)


def schedule(obj, **slots) -> None:
    """Move pathways or code objects of ``obj`` to other slots: ``path=(when, order)``."""
    for path, (when, order) in slots.items():
        getattr(obj, path).when = when
        getattr(obj, path).order = order


def set_clock(dt_ms: float):
    """Set ``defaultclock.dt`` to ``dt_ms`` milliseconds and return it (a Quantity)."""
    dt = dt_ms * ms
    defaultclock.dt = dt
    return dt


class SampledNetwork:
    """A network compiled for ``n_samples`` samples of ``steps_per_sample`` steps.

    Subclasses provide ``dt`` (a Quantity), ``n_samples`` and ``steps_per_sample``.
    """

    @property
    def T_sample(self):
        """Duration of one sample, ``steps_per_sample * dt``."""
        return self.steps_per_sample * self.dt

    @property
    def duration(self):
        """``n_samples * T_sample + dt``: the extra step runs the last sample's
        end-of-sample work (counted in steps, so exact)."""
        return (self.n_samples * self.steps_per_sample + 1) * self.dt

    def event_steps(self, monitor) -> np.ndarray:
        """Steps (counted from 0) of the events a spike or event monitor recorded."""
        return np.round(np.asarray(monitor.t_[:]) / float(self.dt)).astype(np.int64)

    def padded(self, values, fill: float, width: int | None = None, extra: int = 0,
               n: int | None = None) -> np.ndarray:
        """``values`` (one value, or row of ``width``, for each of the first ``n``
        samples; default: ``len(values)``) padded with ``fill`` to ``n_samples + extra``
        rows, float64."""
        shape = (self.n_samples + extra,) + (() if width is None else (width,))
        out = np.full(shape, float(fill))
        out[:len(values) if n is None else n] = values
        return out

    def per_sample(self, monitor, variable: str, n_cells: int) -> np.ndarray:
        """``(n_samples, n_cells)``: ``variable`` of an event monitor that records every
        cell once at the boundary after each sample."""
        sample = self.event_steps(monitor) // self.steps_per_sample - 1
        out = np.zeros((self.n_samples, n_cells))
        out[sample, np.asarray(monitor.i[:])] = np.asarray(getattr(monitor, variable)[:])
        return out

    def spikes_by_sample(self, monitor) -> tuple:
        """``(sample, step, neuron)`` of a spike monitor's spikes within the samples
        (the run's extra step belongs to none)."""
        steps = self.event_steps(monitor)
        keep = steps < self.n_samples * self.steps_per_sample
        steps = steps[keep]
        return (steps // self.steps_per_sample, steps % self.steps_per_sample,
                np.asarray(monitor.i[:])[keep])


class SpecNetwork(SampledNetwork):
    """A :class:`SampledNetwork` whose clock and sizes are its frozen ``spec``'s
    (``dt_ms``, ``n_samples``, ``n_steps``)."""

    @property
    def dt(self):
        return self.spec.dt_ms * ms

    @property
    def n_samples(self) -> int:
        return self.spec.n_samples

    @property
    def steps_per_sample(self) -> int:
        return self.spec.n_steps


@dataclass
class BatchedNetwork(SpecNetwork):
    """The Brian2 objects every network trained by gradients in mini-batches inside the
    compiled program has (e-prop, voting): the input and hidden layers, the two weight
    pathways, the label of each sample and the batch and Adam step counters."""

    spec: object
    network: Network
    inp: NeuronGroup
    hidden: NeuronGroup
    syn_in: Synapses
    syn_out: Synapses
    label: TimedArray
    batch_count: TimedArray
    adam_step: TimedArray
