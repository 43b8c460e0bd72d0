"""Code-object classes that the model library picks per device: event queues of
source neurons for zero-delay pathways (C++ standalone, templates in ``templates/``)
and atomic accumulation for a synaptic ``run_regularly`` (CUDA standalone)."""

from __future__ import annotations

from brian2 import get_device, prefs

from .selection import _device_target

_SOURCE_QUEUE_CLASS = None


def _source_queue_codeobj_class():
    """Code object class for zero-delay synaptic pathways in C++ standalone mode, or
    ``None`` on any other device.

    Brian2's ``CSpikeQueue::push`` copies, for every presynaptic event, the indices of
    all the neuron's synapses into the queue (value-initialised first), and the pathway
    then reads them back: on the desire network's all-to-all layers that is a quarter
    of the run time. With this class (``pathway.codeobj_class = ...``, set before the
    network is built) the queue keeps only the indices of the source neurons with an
    event, and the pathway walks each one's synapse list in place (the templates in
    ``models/devices/templates``). The synapses are visited in the same order, so results are
    identical. Needs zero delays (checked when the program starts) and a single thread.
    """
    global _SOURCE_QUEUE_CLASS
    from brian2.devices.cpp_standalone.codeobject import CPPStandaloneCodeObject
    from brian2.devices.cpp_standalone.device import CPPStandaloneDevice

    # brian2cuda's device subclasses the C++ one and has queues of its own. The queue
    # keeps one CSpikeQueue per OpenMP thread, each with a part of the synapses; these
    # templates read only the first, so OpenMP builds keep Brian2's own queues.
    if type(get_device()) is not CPPStandaloneDevice \
            or prefs["devices.cpp_standalone.openmp_threads"] > 0:
        return None
    if _SOURCE_QUEUE_CLASS is None:
        class SourceQueueCodeObject(CPPStandaloneCodeObject):
            templater = CPPStandaloneCodeObject.templater.derive(
                "models.devices", templates_dir="templates")

        _SOURCE_QUEUE_CLASS = SourceQueueCodeObject
    return _SOURCE_QUEUE_CLASS


def use_source_queues(*synapses) -> bool:
    """Give every pathway of ``synapses`` the event queues of
    :func:`_source_queue_codeobj_class` when the current device is C++ standalone (call
    before building); returns whether it did. Results are unchanged, only faster."""
    codeobj_class = _source_queue_codeobj_class()
    if codeobj_class is None:
        return False
    for syn in synapses:
        for pathway in syn._pathways:
            pathway.codeobj_class = codeobj_class
    return True


def atomic_codeobj_class():
    """Code object class for a Synapses ``run_regularly`` that accumulates into pre- or
    postsynaptic variables (``x_post += w``): Brian2CUDA's atomics code object when the
    current device is CUDA standalone, else ``None`` (the device's default).

    Brian2CUDA runs a synaptic ``run_regularly`` with one GPU thread per synapse and,
    unlike synaptic pathways, without atomic operations, so synapses onto the same
    neuron would overwrite each other's contributions (a data race that compiles
    silently). The atomics class turns ``x_post += expr`` into ``atomicAdd``. C++
    standalone and runtime mode run such code serially and are left unchanged.
    """
    if _device_target(get_device()) != "cuda":
        return None
    from brian2cuda.codeobject import CUDAStandaloneAtomicsCodeObject

    return CUDAStandaloneAtomicsCodeObject
