"""Simulation targets for Brian2 networks: runtime, C++ standalone, CUDA standalone.

One function, :func:`select_device`, chooses where the next network is simulated;
one function, :func:`build`, turns an explicit :class:`brian2.Network` into a
:class:`CompiledNetwork` handle that the training engine keeps and re-runs with new
``run_args`` (stimuli, labels, learning rates, weights) without recompiling.

Targets
-------
``'runtime'``
    Brian2's runtime mode with the ``numpy`` code generation target (``cython`` on
    request). Nothing is compiled; for tiny tests and debugging.
``'cpp'`` (default)
    Brian2's C++ standalone mode (Stimberg et al. 2019), ``build_on_run=False``,
    single-threaded by default (``openmp_threads=0``). With ``openmp_threads=N`` the
    code objects whose results would depend on the threads run on one thread (those
    that write other groups' elements, such as the backward sums ``err_pre += w *
    delta_post``, and those that draw random numbers, which Brian2 draws from one
    generator per thread), the source-neuron event queues are not used (they read one
    thread's queue only), and everything else is shared out as Brian2 does
    (:func:`~models.devices.threads.deterministic_threads`); the protocols' tests
    compare such builds bit for bit with one thread. Processes in parallel (sweeps)
    remain the surer way to use several cores.
``'cuda'``
    Brian2CUDA's CUDA standalone mode (Alevi et al. 2022), imported lazily; it needs the
    ``cuda`` extra (``pip install -e '.[cuda]'``). With CUDA 13, nvcc and the host
    compiler both get ``-std=c++17`` (Brian2CUDA's makefile hard-codes ``-std=c++11``;
    nvcc uses the last value given), and the cuRAND headers and library come from the
    ``nvidia-curand`` wheel. Without a GPU (``nvidia-smi`` missing or failing) GPU
    detection is switched off and the code is compiled for a given compute capability
    (9.0, Hopper, unless the argument or ``SNN_CUDA_COMPUTE_CAPABILITY`` says
    otherwise); such a build can be compiled but not run (running it raises
    :class:`NoGPUError`, which names the build folder; the command line reports it with
    exit code 3). Brian2CUDA runs a Synapses ``run_regularly`` in parallel without
    atomics: code that adds into pre- or postsynaptic variables passes
    ``codeobj_class=atomic_codeobj_class()`` (``None``, the default, on other devices).

Build cache and locking
-----------------------
Compiling a network costs seconds to minutes (C++: 7-25 s for the small test networks on
two cores; CUDA: about 7.5 min for a 40-cell E/I network, Thrust-heavy translation units
at ~20 s each); re-running the binary costs about 0.01-0.07 s; a rebuild of unchanged
code in its slot costs only Python code generation plus a ``make`` with nothing to do
(~0.01 s). So every standalone build goes through a cache of build directories under a
cache root (``cache_dir`` argument, else ``$SNN_BUILD_CACHE``, else
``~/.cache/snn-brain-learning/brian-builds``):

1. ``net.run(duration)`` records the run; ``device.build(directory=<fresh staging
   directory>, compile=False, run=False)`` generates the project there.
2. The generated *code* is hashed (SHA-256 over relative paths and contents, plus the
   target, compiler versions and CPU flags), leaving out the data: ``static_arrays/``
   (initial values, connectivity, spike times), ``results/`` and build products. Networks
   that differ only in data share a binary.
3. The build claims the slot ``<root>/<target>-<hash16>-<k>`` for the smallest ``k`` whose
   lock file ``<slot>/.lock`` it can take with a non-blocking ``fcntl.flock``. The lock is
   held by the returned handle until :meth:`CompiledNetwork.close` (or garbage collection,
   or the end of the process), so two processes (or two live handles in one process)
   never build or run in the same directory, and a second user of the same code gets
   its own slot ``k+1``. A slot in which a live process still works (the ``make`` or
   the binary of a process killed with SIGKILL runs on, without the lock) is not free
   either.
4. A slot without a binary is first seeded with a copy (object files and modification
   times included) of an unlocked compiled slot whose code files have the same names
   and toolchain (a "structure" key in ``<slot>/.structure``): a changed constant then
   recompiles only the translation units it appears in. (This also rescues CUDA:
   Brian2CUDA's code generation orders a spike monitor's kernel arguments by Python
   set iteration, which differs between processes, so the same CUDA network gets a
   different hash in each process; the seeded slot recompiles only that file. After a
   header or makefile change a seeded slot is rebuilt fully, for both targets: neither
   makefile tracks header dependencies reliably, and stale objects would be linked.)
5. Only files whose content differs from the slot's are copied (unchanged files keep
   their modification time, so ``make`` recompiles only what changed); files in the
   slot's ``static_arrays/`` that the new build does not have (stale ``init_*`` files
   left by earlier ``run_args``) are deleted; the staging directory is removed.
6. ``device.project_dir`` / ``device.results_dir`` are pointed at the slot and
   ``device.compile_source(slot, compiler, debug, clean=False)`` runs ``make``. From
   the claim until ``make`` has finished, the slot holds a ``.building`` marker: when a
   build is killed (while seeding, copying or compiling), the next build in the slot
   deletes the object files, ``make.deps`` and binary written since the marker, which
   may be cut short and would otherwise count as up to date. Each
   :meth:`CompiledNetwork.run` calls ``device.run(slot, with_output=False,
   run_args=...)`` after deleting the previous run's ``static_arrays/init_*`` files and
   results. Before ``make``, :func:`build` writes one line to stderr: "compiling
   <network> (first build; about N s)" when the slot holds no binary or code changed
   (``N``: the network's last compile time for the target, kept in
   ``<root>/.compile-seconds/``, else an estimate from the size of the code), or "using
   the compiled <network> from the build cache <slot>" (:func:`show_build_messages`
   turns both off).

This uses the documented ``device.build(compile=False, run=False)`` plus two methods of
Brian2's ``CPPStandaloneDevice`` that the public ``build`` itself calls
(``compile_source`` and ``run``, checked in Brian2 2.8.0); Brian2CUDA 1.0a7 overrides
``build`` but inherits ``compile_source`` and ``run``, so the same route serves both.

A device holds the state of one built network: call :func:`select_device` before
creating each standalone network. Selecting a device again re-initialises it; earlier
handles keep their slot lock until closed but can no longer run (they raise
``RuntimeError``).

Generated code contains the object names, so name every object *and the Network*
explicitly: Brian2 makes default names unique among live objects (``network_1``), which
changes the code and misses the cache. (Code-object names get the same treatment;
:func:`select_device` drops live objects' references to their code objects, which
runtime objects re-create before each run, so that a rebuild in the same process
generates identical code.) Slots are never deleted automatically; any slot whose
``.lock`` no process holds may be removed. For CUDA, ``<root>/.cuda-link/`` holds a
``libcurand.so`` link to the wheel's versioned library for ``-lcurand``.

Runtime mode offers the same handle: :func:`build` stores the network's initial state
(``net.store``) and every :meth:`CompiledNetwork.run` restores it (random state
included), applies ``run_args`` (state variables are set, TimedArray values overwritten
in place and put back before the next run) and calls ``net.run(duration)``, so runs
start from the same state as a standalone binary's do. The list-of-strings form of
``run_args`` is standalone only (``NotImplementedError``).

Modules
-------
:mod:`~models.devices.selection`
    :func:`select_device`, :class:`DeviceSelection`, :func:`current_selection`.
:mod:`~models.devices.preferences`
    The Brian2 preferences a selection changes, put back by the next one.
:mod:`~models.devices.cuda`
    CUDA toolkit, cuRAND and GPU discovery; Brian2CUDA's preferences; :class:`NoGPUError`.
:mod:`~models.devices.cache`
    The locked build cache: cache root, code hash, slots, seeding, staging folders.
:mod:`~models.devices.compiled`
    :func:`build` and :class:`CompiledNetwork`.
:mod:`~models.devices.codeobjects`
    :func:`use_source_queues` (with its templates in ``templates/``),
    :func:`atomic_codeobj_class`.
:mod:`~models.devices.threads`
    :func:`~.threads.deterministic_threads`: OpenMP builds that compute what one thread
    computes.

References
----------
Stimberg M, Brette R, Goodman DFM (2019). Brian 2, an intuitive and efficient neural
simulator. eLife 8:e47314. https://doi.org/10.7554/eLife.47314

Alevi D, Stimberg M, Sprekeler H, Obermayer K, Augustin M (2022). Brian2CUDA: flexible
and efficient simulation of spiking neural network models on GPUs. Front.
Neuroinform. 16:883700. https://doi.org/10.3389/fninf.2022.883700
"""

from __future__ import annotations

# The slot locking (_claim_slot ...) too: the cache and kill-and-resume tests drive it.
from .cache import (CACHE_ENV, BuildCacheError, _claim_slot, _release_lock, _slot_in_use,
                    check_cache_root, compiler_version, device_description, resolve_cache_root)
from .codeobjects import atomic_codeobj_class, use_source_queues
from .compiled import BuildTimings, CompiledNetwork, build, show_build_messages
from .cuda import (
    COMPUTE_CAPABILITY_ENV, DEFAULT_COMPUTE_CAPABILITY, NoGPUError, find_cuda_path,
    find_curand, gpu_available,
)
from .selection import TARGETS, DeviceSelection, current_selection, select_device

__all__ = [
    "TARGETS",
    "CACHE_ENV",
    "COMPUTE_CAPABILITY_ENV",
    "DEFAULT_COMPUTE_CAPABILITY",
    "DeviceSelection",
    "CompiledNetwork",
    "BuildTimings",
    "select_device",
    "current_selection",
    "build",
    "show_build_messages",
    "resolve_cache_root",
    "check_cache_root",
    "BuildCacheError",
    "compiler_version",
    "device_description",
    "gpu_available",
    "NoGPUError",
    "use_source_queues",
    "atomic_codeobj_class",
    "find_cuda_path",
    "find_curand",
]
