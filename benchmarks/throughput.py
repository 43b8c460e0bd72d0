"""Training and evaluation throughput of every protocol, quick and paper sizes.

    python -m benchmarks throughput --data-root ../shared/datasets
    python -m benchmarks throughput --download --protocols desire ei_ratio --chunks 3

Each protocol is trained exactly as its command line trains it (:class:`experiments.
training.Trainer`: compiled network, chunks of samples through ``run_args``, a checkpoint
after every chunk) for ``--chunks`` chunks of its preset's chunk size, then evaluated on
one chunk, in a temporary results folder. Targets: C++ standalone with one thread at the
quick (digits) and paper (MNIST; Fashion-MNIST for the E:I ratio, the paper's dataset)
sizes, and Brian2's runtime target at the quick size (one chunk each, it is slow).
Balanced tuning is measured on its consolidation step (steps 2-3) only.

Reported per measurement: the compile time (a warm build cache makes it short: the
figure is what a second run of the same architecture costs), training samples/s (the
binary, the run_args, reading the learned state back and the checkpoint) and evaluation
samples/s, with the machine, versions and date. Written to a new folder
``benchmarks/runs/throughput-<UTC time>/`` (``throughput.json`` and its ``RESULTS.md``
section); with ``--publish`` to the tracked ``benchmarks/measurements/throughput.json``
and the section ``throughput`` of ``benchmarks/RESULTS.md``. Paper
sizes need the IDX files under ``--data-root`` (``mnist/``, ``fashion-mnist/``); without
them they are skipped, unless ``--download`` fetches them first (into ``--data-root``,
default the download cache: :func:`experiments.datasets.fetch_dataset`).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import report

__all__ = ["PROTOCOLS", "fetch_data", "measure", "main"]


def _entry(module: str, cls: str, study: str | None = None, paper_dataset: str = "mnist"):
    return {"module": module, "class": cls, "study": study, "paper_dataset": paper_dataset}


#: Protocol -> where its configuration and protocol class live, and its paper dataset.
PROTOCOLS = {
    "desire": _entry("experiments.desire", "DesireProtocol"),
    "ei_ratio": _entry("experiments.ei_ratio", "EIRatioProtocol", paper_dataset="fashion-mnist"),
    "plif": _entry("experiments.neuron_parameters", "NeuronParamProtocol", study="plif"),
    "stl": _entry("experiments.neuron_parameters", "NeuronParamProtocol", study="stl"),
    "balanced_tuning": _entry("experiments.balanced_tuning", "BalancedTuningProtocol"),
}

#: (size, target) pairs measured by default.
CASES = (("quick", "cpp"), ("paper", "cpp"), ("quick", "runtime"))


def make_config(protocol: str, size: str, target: str, data_root=None, chunks: int = 2):
    """The configuration measured for ``protocol`` at ``size`` ('quick' or 'paper') on
    ``target``: the preset, one epoch of ``chunks`` chunks (one on the runtime target),
    one evaluation chunk. Raises FileNotFoundError for a paper size without data."""
    import importlib

    entry = PROTOCOLS[protocol]
    module = importlib.import_module(entry["module"])
    dataset = "digits" if size == "quick" else entry["paper_dataset"]
    overrides = {"device": target, "epochs": 1}
    if dataset != "digits":
        folder = Path(data_root or "") / dataset
        if data_root is None or not folder.is_dir():
            raise FileNotFoundError(f"no {dataset} IDX folder under --data-root ({folder})")
        from experiments.datasets import dataset_files

        missing = [name for name in dataset_files(dataset) if not (folder / name).is_file()]
        if missing:  # said here: the protocol's data error would name --data-dir
            raise FileNotFoundError(f"{folder} (under --data-root) lacks "
                                    f"{', '.join(missing)}; add --download to fetch them")
        overrides["data_dir"] = str(folder)
    args = (entry["study"], size, dataset) if entry["study"] else (size, dataset)
    cfg = module.make_config(*args, **overrides)
    if protocol == "balanced_tuning":
        cfg = dataclasses.replace(cfg, equilibrium_epochs=0)
    n_chunks = 1 if target == "runtime" else chunks
    return dataclasses.replace(cfg, train_samples=n_chunks * cfg.chunk_size,
                               eval_samples=cfg.chunk_size).validate()


def add_data_options(parser, without: str) -> None:
    """``--data-root`` and ``--download``, the data options of every benchmark that
    reads MNIST or Fashion-MNIST; ``without`` says what the benchmark does without
    the files (for the help)."""
    parser.add_argument("--data-root", default=os.environ.get("SNN_DATA_ROOT"),
                        help="folder with mnist/ and fashion-mnist/ IDX folders; default: "
                             f"$SNN_DATA_ROOT ({without} without it)")
    parser.add_argument("--download", action="store_true",
                        help="first download the MNIST / Fashion-MNIST files, checked against "
                             "the published MD5 (into --data-root, default: the download "
                             "cache)")


def data_root(args, datasets, benchmark: str) -> tuple:
    """``(root, ok)``: the data root of parsed ``args`` (see :func:`add_data_options`;
    ``None``: none given) after fetching ``datasets`` with ``--download``, and whether
    it is usable (when not, the message has been printed: exit with status 2)."""
    if args.download and datasets:
        root = fetch_data(datasets, args.data_root, benchmark)
        return root, root is not None
    if args.data_root is not None and not Path(args.data_root).is_dir():
        print(f"python -m benchmarks {benchmark}: --data-root {args.data_root} is not a "
              "folder; give the folder that holds mnist/ and fashion-mnist/, or --download",
              file=sys.stderr)
        return None, False
    return args.data_root, True


def fetch_data(datasets, data_root, benchmark: str):
    """``--download`` of a benchmark: fetch the missing files of ``datasets`` into
    ``data_root/<dataset>/`` (default root: the download cache, which has that layout).
    Returns the root, or None after printing the download's message."""
    from experiments.datasets import DatasetError, default_cache_dir, fetch_dataset

    root = str(data_root or default_cache_dir())
    try:
        for dataset in sorted(datasets):
            fetch_dataset(dataset, root)
    except DatasetError as err:
        print(f"python -m benchmarks {benchmark}: --download: {err}", file=sys.stderr)
        return None
    return root


def _network(cfg) -> str:
    hidden = getattr(cfg, "hidden", None) or (getattr(cfg, "n_hidden", None),)
    return "-".join(str(h) for h in hidden)


def measure(protocol: str, cfg, root) -> dict:
    """Train and evaluate ``cfg`` with the training engine in ``root``; the figures."""
    import importlib

    from experiments.protocol import open_run
    from experiments.training import Trainer

    entry = PROTOCOLS[protocol]
    cls = getattr(importlib.import_module(entry["module"]), entry["class"])
    proto = cls(cfg)
    folder, _ = open_run(proto, cfg, root, label=f"bench-{protocol}")
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    trainer = Trainer(proto, folder, progress=False)
    state = trainer.run()
    wall = time.perf_counter() - start
    last = state.metrics[-1]
    return {
        "protocol": protocol, "dataset": cfg.dataset, "target": cfg.device,
        "network": _network(cfg), "chunk_size": cfg.chunk_size,
        "train_samples": proto.n_train, "eval_samples": proto.n_eval,
        "compile_s": round(trainer.compile_seconds, 1),
        "train_samples_per_s": round(last["train_samples_per_s"], 1),
        "eval_samples_per_s": round(proto.n_eval / last["eval_seconds"], 1),
        "wall_s": round(wall, 1),
        "load_before": load_before, "load_after": os.getloadavg()[0],
    }


def section(payload: dict) -> str:
    rows = [[r["protocol"], r["size"], r["target"], r["dataset"], r["network"],
             r["chunk_size"], r["compile_s"], r["train_samples_per_s"],
             r["eval_samples_per_s"], round(max(r["load_before"], r["load_after"]), 1)]
            for r in payload["runs"]]
    skipped = "".join(f"\n- {s}" for s in payload["skipped"])
    return "\n".join([
        "## Throughput of every protocol (`python -m benchmarks throughput`)",
        "",
        report.machine_line(payload["machine"]),
        "",
        "Training as the command line trains (chunks through `run_args`, a checkpoint per "
        f"chunk), {payload['chunks']} chunks per C++ measurement and one on the runtime "
        "target, then one evaluation chunk. One thread. Compile times are with the build "
        "cache as it was (warm after the first run of an architecture). Balanced tuning: "
        "steps 2-3. Samples/s include writing the run_args and reading the learned state "
        "back. Load: the larger 1-minute load average before and after (above 1 on these "
        "2 cores, other processes took CPU time from the measurement).",
        "",
        report.markdown_table(
            ["protocol", "size", "target", "dataset", "hidden", "chunk", "compile s",
             "train samples/s", "eval samples/s", "load"], rows),
    ] + ([f"\nNot measured:{skipped}"] if payload["skipped"] else []))


def main(argv=None) -> int:
    parser = report.argument_parser("throughput", __doc__)
    add_data_options(parser, "paper sizes are skipped")
    parser.add_argument("--protocols", nargs="+", choices=list(PROTOCOLS),
                        default=list(PROTOCOLS), help="default: all")
    parser.add_argument("--sizes", nargs="+", choices=("quick", "paper"),
                        default=["quick", "paper"], help="default: quick paper")
    parser.add_argument("--no-runtime", action="store_true",
                        help="skip the runtime target (quick size)")
    parser.add_argument("--chunks", type=int, default=2,
                        help="training chunks per C++ measurement; default: 2")
    args = parser.parse_args(argv)
    if args.chunks < 1:
        parser.error("--chunks must be >= 1")
    datasets = {PROTOCOLS[p]["paper_dataset"] for p in args.protocols} \
        if "paper" in args.sizes else set()
    args.data_root, ok = data_root(args, datasets, "throughput")
    if not ok:
        return 2

    payload = {"benchmark": "throughput", "machine": report.machine_description(),
               "chunks": args.chunks, "runs": [], "skipped": []}
    cases = [(s, t) for s, t in CASES
             if s in args.sizes and not (t == "runtime" and args.no_runtime)]
    print(f"{'protocol':>16} {'size':>6} {'target':>8} {'compile s':>9} {'train/s':>9} "
          f"{'eval/s':>9}", flush=True)
    with tempfile.TemporaryDirectory(prefix="snn-bench-") as root:
        for protocol in args.protocols:
            for size, target in cases:
                try:
                    cfg = make_config(protocol, size, target, args.data_root, args.chunks)
                except FileNotFoundError as err:
                    payload["skipped"].append(f"{protocol} {size} {target}: {err}")
                    print(f"{protocol:>16} {size:>6} {target:>8}  skipped: {err}", flush=True)
                    continue
                result = dict(measure(protocol, cfg, root), size=size)
                payload["runs"].append(result)
                print(f"{protocol:>16} {size:>6} {target:>8} {result['compile_s']:>9} "
                      f"{result['train_samples_per_s']:>9} {result['eval_samples_per_s']:>9}",
                      flush=True)
    payload["machine"]["load_average_after"] = os.getloadavg()
    if not args.no_write:
        print(report.publish("throughput", payload, section(payload), tracked=args.publish))
    return 0


if __name__ == "__main__":
    sys.exit(main())
