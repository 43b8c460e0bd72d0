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

:func:`memory_estimate` counts the bytes of a network's arrays from its sizes, before
anything is allocated, so that a network too big for the machine is refused with its
size instead of ending in a MemoryError (or the kernel's OOM killer) half-way through
a build; each network module has a ``memory_estimate(spec)`` that gives it the sizes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from brian2 import Equations, Network, NeuronGroup, Synapses, TimedArray, defaultclock, ms

__all__ = ["STEP", "BOUNDARY", "ENDED", "BATCH_END", "SAMPLE_START", "ENDED_START",
           "SampledNetwork", "SpecNetwork", "set_clock", "schedule", "zero_at_sample_start",
           "MemoryEstimate", "memory_estimate", "n_variables", "format_bytes"]

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


# ======================================================================================
# Memory
# ======================================================================================

#: Bytes of a state variable (float64) and of an index (int32).
_FLOAT, _INDEX = 8, 4
#: Per neuron beyond its variables: its index and the event spaces of its events.
_NEURON_EXTRA = 4 * _INDEX
#: Per synapse and pathway: its delay (float64) and its entry in the spike queue.
_PATHWAY = _FLOAT + _INDEX
#: Per recorded event: its time and its cell's index.
_EVENT = _FLOAT + _INDEX


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes of a network's arrays, by kind, and its size. ``state``: neuron and
    synapse variables, synapse indices, delays and spike queues; ``inputs``: TimedArray
    values; ``recordings``: what the monitors fill in one run; ``synapses``,
    ``neurons``: counts."""

    state: int
    inputs: int
    recordings: int
    synapses: int
    neurons: int

    @property
    def total(self) -> int:
        return self.state + self.inputs + self.recordings

    def describe(self) -> str:
        """``'about 12.3 GiB (7,840,000,000 synapses, 10,000,794 neurons)'``."""
        return (f"about {format_bytes(self.total)} ({self.synapses:,} synapses, "
                f"{self.neurons:,} neurons)")


def format_bytes(n: float) -> str:
    """``n`` bytes in GiB, MiB or KiB, whichever is the largest below ``n``."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n / 2**10:.1f} KiB"


def n_variables(equations: str) -> int:
    """Per-element variables of Brian2 model ``equations`` (shared ones hold a single
    value and are left out)."""
    return sum("shared" not in eq.flags for eq in Equations(equations).values())


def memory_estimate(*, neurons: Iterable = (), synapses: Iterable = (),
                    inputs: int = 0, events: Iterable = ()) -> MemoryEstimate:
    """The bytes of a network's Brian2 arrays, from its sizes.

    ``neurons``: ``(count, variables)`` per group; ``synapses``: ``(count, variables,
    pathways)`` per Synapses object (each synapse has two int32 indices, and per
    pathway a float64 delay and a spike-queue entry); ``inputs``: TimedArray values
    (float64); ``events``: ``(count, variables)`` per monitor, the events it records
    in one run (each with its time and index). Python's and the compiled program's
    copies of the same values are one array each here: the caller leaves headroom."""
    neurons, synapses, events = list(neurons), list(synapses), list(events)
    state = sum(int(n) * (int(k) * _FLOAT + _NEURON_EXTRA) for n, k in neurons)
    state += sum(int(n) * (int(k) * _FLOAT + 2 * _INDEX + int(p) * _PATHWAY)
                 for n, k, p in synapses)
    return MemoryEstimate(
        state=state, inputs=int(inputs) * _FLOAT,
        recordings=sum(int(n) * (int(k) * _FLOAT + _EVENT) for n, k in events),
        synapses=sum(int(n) for n, _, _ in synapses),
        neurons=sum(int(n) for n, _ in neurons))
