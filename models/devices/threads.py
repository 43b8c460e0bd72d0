"""OpenMP builds that compute what a one-thread build computes (see
:func:`deterministic_threads`, called by :func:`~models.devices.select_device`).

Brian2's C++ standalone device shares the loops of most code objects out among OpenMP
threads. Two kinds of code would then compute something else than one thread: a loop
that writes other groups' elements (a synaptic ``run_regularly`` adding into
``err_pre``: threads race on a neuron, and a sum's order depends on them), and a loop
that draws random numbers (one generator per thread). Such code objects are given a
code-object class whose templates render without the pragmas that share a loop out.
"""

from __future__ import annotations

import inspect
import logging
import re


#: OpenMP pragmas that open or share out a parallel region: a serial code object
#: renders them as nothing (the queries -- thread number, thread count, include -- stay).
_PARALLEL_PRAGMAS = frozenset({
    "parallel", "parallel-static", "static", "static-ordered", "ordered", "master",
    "single", "single-nowait", "critical", "atomic", "barrier", "sections", "section",
})
#: Random-number functions: the C++ device draws them from one generator per thread.
_RANDOM_FUNCTIONS = ("rand", "randn", "poisson")
#: Templates whose code needs no threads (the event push fills per-thread queues).
_KEEP_TEMPLATES = frozenset({"synapses_push_spikes"})
#: Indices of a loop's own elements: the loop index, a subgroup's (one element per
#: index too) and '0' for shared variables (Brian2 writes those in the scalar code,
#: before the loop).
_OWN_INDICES = ("_idx", "_sub_idx", "0")
_ASSIGNMENT = re.compile(r"^\s*([A-Za-z_]\w*)\s*(?:[-+*/]|\*\*|//|%)?=(?!=)")
_SERIAL_CLASS = None


def _serial_pragma(kind: str) -> str:
    from brian2.devices.cpp_standalone.codeobject import openmp_pragma

    return "" if kind in _PARALLEL_PRAGMAS else openmp_pragma(kind)


def _serial_codeobj_class():
    """A C++ standalone code object class whose loops run on one thread (thread 0) in
    an OpenMP build: Brian2's own templates, rendered without the pragmas that share a
    loop out."""
    global _SERIAL_CLASS
    if _SERIAL_CLASS is None:
        from brian2.devices.cpp_standalone.codeobject import CPPStandaloneCodeObject

        class SerialCodeObject(CPPStandaloneCodeObject):
            templater = CPPStandaloneCodeObject.templater.derive(
                "brian2.devices.cpp_standalone",
                env_globals={"openmp_pragma": _serial_pragma})

        _SERIAL_CLASS = SerialCodeObject
    return _SERIAL_CLASS


def _written_names(abstract_code) -> set:
    """Names on the left of the assignments of ``abstract_code`` (a string or Brian2's
    ``{block: code}``)."""
    blocks = abstract_code.values() if isinstance(abstract_code, dict) else [abstract_code]
    names = set()
    for code in blocks:
        for line in str(code or "").splitlines():
            match = _ASSIGNMENT.match(line)
            if match:
                names.add(match.group(1))
    return names


def needs_one_thread(abstract_code, variables, template_name, variable_indices) -> str | None:
    """Why a code object would compute something else on several OpenMP threads than on
    one, or ``None`` where it would not.

    * It writes a variable indexed other than by the loop's own index (a synaptic
      ``run_regularly`` adding into ``err_pre``: threads would race on a neuron, and a
      sum's order would depend on them);
    * it draws random numbers: the C++ device keeps one generator per thread, so a
      shared-out loop draws other numbers than one thread does.
    """
    if template_name in _KEEP_TEMPLATES:
        return None
    drawn = [name for name in _RANDOM_FUNCTIONS if name in variables]
    if drawn:
        return f"draws random numbers ({', '.join(drawn)})"
    indices = variable_indices or {}
    shared_out = sorted(name for name in _written_names(abstract_code)
                        if indices.get(name, "_idx") not in _OWN_INDICES)
    if shared_out:
        return f"writes {', '.join(shared_out)} of other groups' elements"
    return None


class _UntestedOpenMPFilter(logging.Filter):
    """Drops Brian2's "OpenMP code is not yet well tested, and may be inaccurate." of
    a build with :func:`deterministic_threads` on: the code objects whose results could
    depend on the threads run on one thread, and every protocol that allows threads is
    compared bit for bit with one thread by its tests (the others refuse them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "OpenMP code is not yet well tested" not in record.getMessage()


def _silence_untested_openmp_warning() -> None:
    logger = logging.getLogger("brian2.devices.cpp_standalone.device.openmp")
    if not any(isinstance(f, _UntestedOpenMPFilter) for f in logger.filters):
        logger.addFilter(_UntestedOpenMPFilter())


def deterministic_threads(device, on: bool) -> None:
    """With ``on`` (C++ standalone with OpenMP threads), make ``device`` give every code
    object that :func:`needs_one_thread` its loop on one thread
    (:func:`_serial_codeobj_class`), from now until the next call; the others are
    shared out as Brian2 does. Called by :func:`~models.devices.select_device`.

    Everything else an OpenMP build of Brian2 2.8 shares out computes the same as one
    thread: per-element loops (state updates, resets, weight updates, monitors), summed
    variables (reset in parallel, summed serially), thresholds and synapse creation
    (serial). Thread 0's generator gets the seed a one-thread build's gets. A pathway
    that writes into pre- or postsynaptic variables runs on one thread over the
    per-thread event queues, each holding its part of the synapses, one after the
    other: the same order as one thread's when the synapses are numbered source by
    source (``connect()`` with a condition or probability, or arrays sorted by source),
    another order (other rounding) when they are numbered target by target. The
    protocols that allow threads are compared bit for bit with one thread by their
    tests; balanced tuning, whose synapses are numbered target by target, refuses them.
    """
    device.__dict__.pop("code_object", None)
    if not on:
        return
    _silence_untested_openmp_warning()
    from brian2.devices.cpp_standalone.codeobject import CPPStandaloneCodeObject

    original = device.code_object
    signature = inspect.signature(original)
    serial = _serial_codeobj_class()

    def code_object(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        a = bound.arguments
        if a.get("codeobj_class") in (None, CPPStandaloneCodeObject) and needs_one_thread(
                a["abstract_code"], a["variables"], a["template_name"],
                a["variable_indices"]):
            a["codeobj_class"] = serial
        return original(*bound.args, **bound.kwargs)

    device.code_object = code_object
