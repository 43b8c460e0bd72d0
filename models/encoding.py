"""
Encoders that turn images into spiking input for Brian2 networks.

All encoders share one layout. A batch of images is given as pixel rows in
[0, 1], shape ``(n_images, n_pixels)``, and is presented as a sequence of
samples, back to back, each lasting ``T_sample`` (``n_steps`` time steps of
length ``dt``). The images are stored once, in a 2-D `TimedArray` indexed by
image number, and a second, 1-D `TimedArray` gives the image shown in each
sample (``order``). A pixel neuron ``i`` reads its input as::

    pixels(order(sample*dt)*dt, i)      with  sample = timestep(t, dt) // n_steps

Indexing both arrays by integer steps of ``dt`` keeps every lookup exact (a
`TimedArray` with ``dt=T_sample`` is looked up by floating point division, and
warns when ``T_sample/dt`` is not an exact float). Epochs, shuffles and
evaluation passes then only change ``order`` (``n_samples`` numbers), and the
same compiled network is re-run with new stimuli through
``device.run(run_args=encoded.run_args(images=..., order=...))``.

Encoders
--------
`poisson_input`
    Poisson-like rate code: each step a neuron spikes with probability
    ``max_rate * x * dt``.
`bernoulli_input`
    Each step a neuron spikes with probability ``x``.
`integrate_and_fire_input`
    Deterministic rate code: ``m += x`` each step, a spike when ``m >= 1``,
    then ``m -= 1``; ``m`` starts each sample at 0.
`latency_input`, `latency_spike_generator`, `latency_spike_times`
    Time-to-first-spike code: one spike per pixel, ``tau*ln(x/(x - theta))``
    after sample onset, none for ``x <= theta``.

Every Brian2 object gets an explicit name derived from the ``name`` argument,
because standalone devices need unique names; give each encoder in a network
its own ``name``.

References
----------
.. [1] P. U. Diehl and M. Cook (2015). Unsupervised learning of digit
   recognition using spike-timing-dependent plasticity. Front. Comput.
   Neurosci. 9:99. doi:10.3389/fncom.2015.00099 (Poisson rate input).
.. [2] W. Gerstner and W. M. Kistler (2002). Spiking Neuron Models.
   Cambridge University Press. Sec. 4.1 (latency of a leaky integrator driven
   by a constant input, the origin of ``tau*ln(x/(x - theta))``).
.. [3] W. Fang et al. (2021). Incorporating learnable membrane time constant
   to enhance learning of spiking neural networks. ICCV, 2661-2671
   (Bernoulli and integrate-and-fire input encoders).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from brian2 import (
    NeuronGroup,
    Quantity,
    SpikeGeneratorGroup,
    TimedArray,
    defaultclock,
    second,
)
from brian2.units.fundamentalunits import have_same_dimensions

__all__ = [
    "EncodedInput",
    "bernoulli_input",
    "integrate_and_fire_input",
    "latency_input",
    "latency_spike_generator",
    "latency_spike_steps",
    "latency_spike_times",
    "poisson_input",
]

# A latency that lies within this fraction of a step above a grid point is
# taken to be on it, so that floating point error in tau*ln(...)/dt cannot
# push an exact multiple of dt one step late.
_GRID_TOLERANCE = 1e-6


@dataclass(frozen=True, eq=False)
class EncodedInput:
    """
    A Brian2 input group together with the stimulus arrays it reads.

    Attributes
    ----------
    group : NeuronGroup
        One neuron per pixel; add it to the `Network`.
    pixels : TimedArray
        Per-image, per-pixel values the group reads, shape
        ``(n_images, n_pixels)``: the pixel intensities, or for
        `latency_input` the step of each pixel's spike (-1 for none).
    order : TimedArray
        Index of the image shown in each sample, shape ``(n_samples,)``.
    T_sample : Quantity
        Duration of one sample, ``n_steps * dt``.
    n_steps : int
        Time steps per sample.
    dt : Quantity
        Time step of the group.
    """

    group: NeuronGroup
    pixels: TimedArray
    order: TimedArray
    T_sample: Quantity
    n_steps: int
    dt: Quantity
    _pixel_values: Callable = field(repr=False)

    @property
    def n_images(self):
        return self.pixels.values.shape[0]

    @property
    def n_samples(self):
        return self.order.values.shape[0]

    @property
    def duration(self):
        """Time needed to present every sample once, ``n_samples * T_sample``."""
        return self.n_samples * self.T_sample

    def run_args(self, images=None, order=None):
        """
        ``run_args`` entries that present new images or a new order to a
        compiled standalone network without recompiling it.

        Parameters
        ----------
        images : array_like, optional
            New images, shape ``(n_images, n_pixels)`` as at construction
            (the compiled array size cannot change; pad a short batch).
        order : array_like of int, optional
            New image index per sample, shape ``(n_samples,)`` as at
            construction.

        Returns
        -------
        dict
            ``{TimedArray: values}``, to merge into the ``run_args`` of
            ``device.run``.
        """
        args = {}
        if images is not None:
            images = _check_images(images)
            values = self._pixel_values(images)
            if values.shape != self.pixels.values.shape:
                raise ValueError(
                    f"'images' must have the compiled shape "
                    f"{self.pixels.values.shape} (n_images, n_pixels), got "
                    f"{images.shape}; pad the batch to the compiled size."
                )
            args[self.pixels] = values
        if order is not None:
            order = _check_order(order, self.n_images)
            if order.shape != self.order.values.shape:
                raise ValueError(
                    f"'order' must have the compiled length {self.n_samples}, got "
                    f"{order.shape[0]}; pad it to the compiled number of samples."
                )
            args[self.order] = order
        return args


# --------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------


def _check_images(images):
    """Pixel rows in [0, 1] as float64, shape (n_images, n_pixels)."""
    images = np.asarray(images)
    if images.ndim != 2 or 0 in images.shape:
        raise ValueError(
            f"'images' must be a 2-D array (n_images, n_pixels) with at least one "
            f"image and one pixel, got shape {images.shape}; flatten images with "
            f"Dataset.flat() or images.reshape(len(images), -1)."
        )
    if not np.issubdtype(images.dtype, np.number) or np.iscomplexobj(images):
        raise ValueError(f"'images' must hold real numbers, got dtype {images.dtype}.")
    images = images.astype(np.float64)
    if not np.all(np.isfinite(images)):
        raise ValueError(
            f"'images' must be finite, got {np.count_nonzero(~np.isfinite(images))} "
            f"NaN or infinite pixel values."
        )
    if images.min() < 0 or images.max() > 1:
        raise ValueError(
            f"'images' pixel values must lie in [0, 1], got values in "
            f"[{images.min()}, {images.max()}]; scale them, e.g. divide 8-bit grey "
            f"levels by 255."
        )
    return images


def _check_order(order, n_images):
    """Image index per sample, as float64 for a TimedArray."""
    if order is None:
        return np.arange(n_images, dtype=np.float64)
    order = np.asarray(order)
    if order.ndim != 1 or order.size == 0 or not np.issubdtype(order.dtype, np.integer):
        raise ValueError(
            f"'order' must be a non-empty 1-D array of integer image indices, got "
            f"dtype {order.dtype} and shape {order.shape}."
        )
    if order.min() < 0 or order.max() >= n_images:
        raise ValueError(
            f"'order' indices must lie in [0, {n_images - 1}] (there are {n_images} "
            f"images), got values in [{order.min()}, {order.max()}]."
        )
    return order.astype(np.float64)


def _check_time(value, name, allow_zero=False):
    if not isinstance(value, Quantity) or not have_same_dimensions(value, second):
        raise ValueError(
            f"'{name}' must be a Brian2 time quantity (e.g. 5*ms), got {value!r}."
        )
    if value.size != 1 or not np.isfinite(float(value)):
        raise ValueError(f"'{name}' must be a single finite time, got {value!r}.")
    if float(value) < 0 or (float(value) == 0 and not allow_zero):
        bound = ">= 0 s" if allow_zero else "> 0 s"
        raise ValueError(f"'{name}' must be {bound}, got {value!r}.")
    return value


def _resolve_dt(dt):
    return defaultclock.dt if dt is None else _check_time(dt, "dt")


def _sample_steps(T_sample, dt):
    """Number of steps per sample; T_sample is a time or a number of steps."""
    if isinstance(T_sample, (int, np.integer)) and not isinstance(T_sample, bool):
        if T_sample < 1:
            raise ValueError(
                f"'T_sample' as a number of time steps must be >= 1, got {T_sample}."
            )
        return int(T_sample)
    _check_time(T_sample, "T_sample")
    ratio = float(T_sample / dt)
    n_steps = int(round(ratio))
    if n_steps < 1 or abs(ratio - n_steps) > _GRID_TOLERANCE * max(n_steps, 1):
        raise ValueError(
            f"'T_sample' ({T_sample!r}) must be a positive whole number of time steps "
            f"dt={dt!r} (T_sample/dt = {ratio:g}); change T_sample or dt."
        )
    return n_steps


def _check_theta(theta):
    theta = float(theta)
    if not 0 < theta < 1:
        raise ValueError(
            f"'theta' must lie in the open interval (0, 1) (a fraction of the "
            f"largest pixel value), got {theta}."
        )
    return theta


# --------------------------------------------------------------------------
# Shared construction
# --------------------------------------------------------------------------

# Both TimedArrays have dt equal to the group's dt and are called at integer
# multiples of it, so the lookup is exact. `timestep` shifts t by 1e-3*dt
# before the integer division, which keeps t = k*dt out of step k-1.
_SAMPLE_STEP = "timestep(t, dt) % steps_per_sample"
_STIMULUS = (
    "{var} = pixels(order((timestep(t, dt) // steps_per_sample) * dt) * dt, i) "
    ": 1  # {what}"
)


def _stimulus_arrays(values, order, dt, name):
    pixels = TimedArray(values, dt=dt, name=f"{name}_pixels")
    order = TimedArray(order, dt=dt, name=f"{name}_order")
    return pixels, order


def _encoded_group(
    images, order, T_sample, dt, name, model, threshold, reset="",
    pixel_values=None, var="x", what="pixel value of the current sample",
):
    """Build the NeuronGroup of an encoder and wrap it with its arrays."""
    pixel_values = pixel_values or (lambda imgs: imgs)
    images = _check_images(images)
    order = _check_order(order, images.shape[0])
    dt = _resolve_dt(dt)
    n_steps = _sample_steps(T_sample, dt)
    pixels, order_array = _stimulus_arrays(pixel_values(images), order, dt, name)
    equations = _STIMULUS.format(var=var, what=what) + "\n" + model
    group = NeuronGroup(
        images.shape[1],
        equations,
        threshold=threshold,
        reset=reset,
        dt=dt,
        namespace={
            "pixels": pixels,
            "order": order_array,
            "steps_per_sample": n_steps,
        },
        name=name,
    )
    return EncodedInput(
        group=group,
        pixels=pixels,
        order=order_array,
        T_sample=n_steps * dt,
        n_steps=n_steps,
        dt=dt,
        _pixel_values=pixel_values,
    )


# --------------------------------------------------------------------------
# Rate encoders
# --------------------------------------------------------------------------


def poisson_input(
    images, max_rate, T_sample, order=None, dt=None, name="poisson_input"
):
    """
    Poisson rate code: each step, pixel neuron ``i`` spikes with probability
    ``max_rate * x_i * dt``.

    A `NeuronGroup` with ``threshold='rand() < rate*dt'`` instead of a
    `PoissonGroup`, because its rates come from the per-sample stimulus arrays
    and can be changed through ``run_args``.

    Parameters
    ----------
    images : array_like
        Pixel intensities in [0, 1], shape ``(n_images, n_pixels)``.
    max_rate : Quantity
        Rate of a pixel of intensity 1, in Hz, with ``max_rate*dt <= 1``.
        Stored as the shared variable ``group.max_rate``, so it can also be
        changed through ``run_args``.
    T_sample : Quantity or int
        Duration of one sample (a multiple of ``dt``) or its number of steps.
    order : array_like of int, optional
        Image index of each sample; default one sample per image, in order.
    dt : Quantity, optional
        Time step of the group; default ``defaultclock.dt`` at construction.
    name : str, optional
        Name of the group; its arrays are ``<name>_pixels`` and ``<name>_order``.

    Returns
    -------
    EncodedInput

    Notes
    -----
    The count of one neuron in one sample is binomial with ``n_steps`` trials
    and ``p = max_rate*x*dt``; for ``p << 1`` it approaches a Poisson count
    with mean ``max_rate*x*T_sample`` [1]_.

    References
    ----------
    .. [1] P. U. Diehl and M. Cook (2015). Unsupervised learning of digit
       recognition using spike-timing-dependent plasticity. Front. Comput.
       Neurosci. 9:99.
    """
    max_rate = _check_rate(max_rate, _resolve_dt(dt))
    encoded = _encoded_group(
        images, order, T_sample, dt, name,
        model="rate = max_rate * x : Hz\nmax_rate : Hz (shared)",
        threshold="rand() < rate*dt",
    )
    encoded.group.max_rate = max_rate
    return encoded


def _check_rate(max_rate, dt):
    if not isinstance(max_rate, Quantity) or not have_same_dimensions(
        max_rate, 1 / second
    ):
        raise ValueError(
            f"'max_rate' must be a Brian2 rate (e.g. 100*Hz), got {max_rate!r}."
        )
    if not np.isfinite(float(max_rate)) or float(max_rate) < 0:
        raise ValueError(f"'max_rate' must be >= 0 Hz and finite, got {max_rate!r}.")
    if float(max_rate * dt) > 1:
        raise ValueError(
            f"'max_rate*dt' must be <= 1 (a spike probability per step), got "
            f"{float(max_rate * dt):g} for max_rate={max_rate!r}, dt={dt!r}; lower "
            f"max_rate or dt."
        )
    return max_rate


def bernoulli_input(images, T_sample, order=None, dt=None, name="bernoulli_input"):
    """
    Bernoulli code: each step, pixel neuron ``i`` spikes with probability
    ``x_i``, independently of other steps and neurons.

    Parameters
    ----------
    images, T_sample, order, dt, name
        As in `poisson_input`.

    Returns
    -------
    EncodedInput

    Notes
    -----
    The rate is ``x/dt``, so it is tied to the time step; this is the encoder
    of discrete-time networks that read one Bernoulli sample of the image per
    step [1]_.

    References
    ----------
    .. [1] W. Fang et al. (2021). Incorporating learnable membrane time
       constant to enhance learning of spiking neural networks. ICCV.
    """
    return _encoded_group(images, order, T_sample, dt, name, model="",
                          threshold="rand() < x")


def integrate_and_fire_input(images, T_sample, order=None, dt=None, name="if_input"):
    """
    Deterministic integrate-and-fire rate code.

    Each step, ``m += x``; if then ``m >= 1`` the neuron spikes and
    ``m -= 1``. ``m`` is 0 at the start of every sample, so a sample of
    ``n_steps`` steps gives ``floor(n_steps*x)`` spikes (up to floating point
    rounding of the running sum), the first at step ``ceil(1/x) - 1`` counted
    from 0.

    Parameters
    ----------
    images, T_sample, order, dt, name
        As in `poisson_input`. The accumulation runs in the object
        ``<name>_integrate`` (a `run_regularly` of the group).

    Returns
    -------
    EncodedInput

    References
    ----------
    .. [1] W. Fang et al. (2021). Incorporating learnable membrane time
       constant to enhance learning of spiking neural networks. ICCV.
    """
    encoded = _encoded_group(
        images, order, T_sample, dt, name,
        model="m : 1  # accumulated input since sample onset",
        threshold="m >= 1",
        reset="m -= 1",
    )
    # Zero m on the first step of a sample without a second clock: multiplying
    # by 0 or 1 is exact, so m matches a plain running sum bit for bit.
    encoded.group.run_regularly(
        f"m = int({_SAMPLE_STEP} != 0) * m + x",
        when="before_thresholds",
        name=f"{name}_integrate",
    )
    return encoded


# --------------------------------------------------------------------------
# Latency encoders
# --------------------------------------------------------------------------


def latency_spike_steps(images, tau, theta, dt, n_steps):
    """
    Time step of each pixel's latency spike within a sample.

    Parameters
    ----------
    images : array_like
        Pixel intensities in [0, 1], shape ``(n_images, n_pixels)``.
    tau : Quantity
        Time constant of the latency code, > 0.
    theta : float
        Threshold, in (0, 1), as a fraction of the largest intensity.
    dt : Quantity
        Time step.
    n_steps : int
        Steps per sample.

    Returns
    -------
    np.ndarray of int64
        Same shape as ``images``: ``ceil(tau*ln(x/(x - theta))/dt)``, the
        first step at or after the continuous spike time, or -1 where there is
        no spike (``x <= theta``, or a latency of ``n_steps`` steps or more,
        which would fall into the next sample).
    """
    images = _check_images(images)
    latency = _latency_seconds(images, _check_time(tau, "tau"), _check_theta(theta))
    steps = np.full(images.shape, -1, dtype=np.int64)
    fires = np.isfinite(latency)
    steps[fires] = np.ceil(latency[fires] / float(dt) - _GRID_TOLERANCE)
    steps[steps >= n_steps] = -1
    return steps


def _latency_seconds(images, tau, theta):
    """Continuous latency in seconds, inf where x <= theta."""
    latency = np.full(images.shape, np.inf)
    fires = images > theta
    x = images[fires]
    latency[fires] = float(tau) * np.log(x / (x - theta))
    return latency


def latency_spike_times(images, tau, theta, T_sample, order=None, dt=None):
    """
    Spikes of the latency code for a sequence of samples, computed in numpy.

    Pixel ``i`` of a sample with intensity ``x > theta`` spikes once, at

    .. math:: t = \\tau \\ln\\frac{x}{x - \\theta}

    after the sample's onset: the time a leaky integrator
    ``tau dv/dt = -v + x`` starting from 0 takes to reach ``theta`` [1]_.
    Brighter pixels spike earlier; ``x <= theta`` gives no spike, and neither
    does a latency of ``T_sample`` or more.

    Parameters
    ----------
    images : array_like
        Pixel intensities in [0, 1], shape ``(n_images, n_pixels)``.
    tau : Quantity
        Time constant, > 0.
    theta : float
        Threshold in (0, 1).
    T_sample : Quantity or int
        Duration of a sample, or its number of steps of ``dt``.
    order : array_like of int, optional
        Image index of each sample; default each image once, in order.
    dt : Quantity, optional
        Time step. If given (or if ``T_sample`` is a number of steps, then
        ``defaultclock.dt``), times are moved up to the grid as in
        `latency_spike_steps`; if ``None`` with a time ``T_sample``, the exact
        times are returned.

    Returns
    -------
    indices : np.ndarray of int64
        Pixel (neuron) index of each spike.
    times : Quantity
        Spike times from the onset of the first sample, sorted by sample and
        then by pixel.

    References
    ----------
    .. [1] W. Gerstner and W. M. Kistler (2002). Spiking Neuron Models.
       Cambridge University Press. Sec. 4.1.
    """
    images = _check_images(images)
    order = _check_order(order, images.shape[0]).astype(np.int64)
    tau = _check_time(tau, "tau")
    theta = _check_theta(theta)
    if dt is None and not isinstance(T_sample, (int, np.integer)):
        T = float(_check_time(T_sample, "T_sample"))
        latency = _latency_seconds(images, tau, theta)
        offsets = latency[order]
        sample, pixel = np.nonzero(offsets < T)
        return pixel.astype(np.int64), (sample * T + offsets[sample, pixel]) * second
    dt = _resolve_dt(dt)
    n_steps = _sample_steps(T_sample, dt)
    steps = latency_spike_steps(images, tau, theta, dt, n_steps)[order]
    sample, pixel = np.nonzero(steps >= 0)
    global_steps = sample * n_steps + steps[sample, pixel]
    return pixel.astype(np.int64), global_steps * float(dt) * second


def latency_spike_generator(
    images, tau, theta, T_sample, order=None, dt=None, name="latency_input"
):
    """
    The latency code as a `SpikeGeneratorGroup`, one neuron per pixel.

    Spike steps are those of `latency_spike_steps`. Convenient for runtime
    mode and for inspecting the code; to present new samples to a compiled
    standalone network use `latency_input`, whose stimulus can be changed
    through ``run_args``.

    Parameters
    ----------
    images, tau, theta, T_sample, order
        As in `latency_spike_times`.
    dt : Quantity, optional
        Time step of the group; default ``defaultclock.dt``.
    name : str, optional
        Name of the group.

    Returns
    -------
    SpikeGeneratorGroup
    """
    images = _check_images(images)
    dt = _resolve_dt(dt)
    indices, times = latency_spike_times(images, tau, theta, T_sample, order, dt)
    return SpikeGeneratorGroup(images.shape[1], indices, times, dt=dt, name=name)


def latency_input(images, tau, theta, T_sample, order=None, dt=None,
                  name="latency_input"):
    """
    The latency code as a `NeuronGroup` reading per-sample stimulus arrays.

    Spikes are those of `latency_spike_generator`, but the spike step of each
    pixel of each image is stored once in ``pixels`` and looked up per sample,
    so new images and orders can be passed through ``run_args``
    (``encoded.run_args(images=...)`` converts images to spike steps).

    Parameters
    ----------
    images, tau, theta, T_sample, order, dt, name
        As in `latency_spike_times` and `poisson_input`. ``tau`` and ``theta``
        are fixed at construction.

    Returns
    -------
    EncodedInput
        ``pixels`` holds spike steps within the sample (-1 for no spike), not
        intensities.
    """
    tau = _check_time(tau, "tau")
    theta = _check_theta(theta)
    dt_ = _resolve_dt(dt)
    n_steps = _sample_steps(T_sample, dt_)

    def spike_steps(imgs):
        return latency_spike_steps(imgs, tau, theta, dt_, n_steps).astype(np.float64)

    return _encoded_group(
        images, order, n_steps, dt_, name,
        model="",
        threshold=f"{_SAMPLE_STEP} == spike_step",
        pixel_values=spike_steps,
        var="spike_step",
        what="step of this pixel's spike in the sample, -1 for none",
    )
