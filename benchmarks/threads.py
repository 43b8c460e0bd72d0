"""Speed-up of OpenMP threads: every protocol trained at one thread and at ``--threads``.

    python -m benchmarks threads --data-root ../shared/datasets
    python -m benchmarks threads --protocols desire ei_ratio --threads 2 --chunks 2

Each protocol is trained as its command line trains it (:func:`benchmarks.throughput.
make_config`: the preset at the paper size, or the quick size with ``--size quick``;
``--chunks`` chunks of its chunk size, one evaluation chunk; C++ standalone), once with
one thread and once per thread count of ``--threads``, each in a fresh results folder.
A protocol that refuses more than one thread (``--threads N`` is a configuration error
for it, because its results would differ from one thread's) is listed with the reason.
For the others the learned state of the last checkpoint is compared with one thread's,
bit for bit.

Reported per protocol and thread count: training and evaluation samples/s, the speed-up
over one thread, whether the learned state equals one thread's, and the load average
(the speed-up needs the cores to be free: on a shared machine OpenMP threads wait for
each other). Written to a new folder ``benchmarks/runs/threads-<UTC time>/``; with
``--publish`` to ``benchmarks/measurements/threads.json`` and the ``threads`` section of
``benchmarks/RESULTS.md``. Paper sizes need the IDX files under ``--data-root``
(``--download`` fetches them).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import report
from benchmarks.throughput import (PROTOCOLS, _network, add_data_options, data_root,
                                   make_config)

__all__ = ["measure", "same_learned_state", "main"]


def measure(protocol: str, cfg, root) -> dict:
    """Train and evaluate ``cfg`` in ``root`` with the training engine; the figures and
    the run folder."""
    import importlib

    from experiments.protocol import open_run
    from experiments.training import Trainer

    entry = PROTOCOLS[protocol]
    proto = getattr(importlib.import_module(entry["module"]), entry["class"])(cfg)
    folder, _ = open_run(proto, cfg, root, label=f"threads{cfg.threads}-{protocol}")
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    trainer = Trainer(proto, folder, progress=False)
    state = trainer.run()
    last = state.metrics[-1]
    return {
        "protocol": protocol, "dataset": cfg.dataset, "network": _network(cfg),
        "threads": cfg.threads, "chunk_size": cfg.chunk_size,
        "train_samples": proto.n_train, "eval_samples": proto.n_eval,
        "compile_s": round(trainer.compile_seconds, 1),
        "train_samples_per_s": round(last["train_samples_per_s"], 1),
        "eval_samples_per_s": round(proto.n_eval / last["eval_seconds"], 1),
        "wall_s": round(time.perf_counter() - start, 1),
        "load": round(max(load_before, os.getloadavg()[0]), 2),
        "folder": str(folder.path),
    }


def same_learned_state(folder_a, folder_b) -> bool:
    """Whether two run folders' checkpoints hold the same learned arrays, bit for bit
    (the metadata, which names the run, left out)."""
    with np.load(Path(folder_a) / "checkpoint.npz") as a, \
            np.load(Path(folder_b) / "checkpoint.npz") as b:
        names = [n for n in a.files if n != "__meta__"]
        return sorted(names) == sorted(n for n in b.files if n != "__meta__") and all(
            np.array_equal(a[n], b[n]) for n in names)


def _fewer_samples(cfg, n: int):
    """``cfg`` training on its first ``n`` images in one chunk of about ``n`` (whole
    batches where chunks are), evaluating one such chunk."""
    fields = {f.name for f in dataclasses.fields(cfg)}
    if "chunk_batches" in fields:
        size = {"chunk_batches": max(1, n // cfg.batch_size)}
    else:
        size = {"chunk_size": min(cfg.chunk_size, n)}
    cfg = dataclasses.replace(cfg, **size)
    return dataclasses.replace(cfg, train_samples=n, eval_samples=cfg.chunk_size).validate()


def section(payload: dict) -> str:
    rows = [[r["protocol"], r["dataset"], r["network"], r["threads"], r["compile_s"],
             r["train_samples_per_s"], r["eval_samples_per_s"], r.get("speedup"),
             {True: "yes", False: "NO", None: "-"}[r.get("identical")], r["load"]]
            for r in payload["runs"]]
    n = payload.get("train_samples")
    training = f"{n} training images in one chunk" if n else f"{payload['chunks']} chunks"
    lines = [
        "## OpenMP threads (`python -m benchmarks threads`)",
        "",
        report.machine_line(payload["machine"]),
        "",
        f"Training as the command line trains ({training}, then one evaluation chunk; "
        f"{payload['size']} size), C++ standalone with `--threads N`. "
        "Speed-up: training samples/s over one thread's. Same state: the learned arrays "
        "of the last checkpoint equal one thread's bit for bit. Load: the larger 1-minute "
        "load average before and after (above the core count, other processes took "
        "CPU time and OpenMP threads waited for each other).",
        "",
        report.markdown_table(["protocol", "dataset", "hidden", "threads", "compile s",
                               "train samples/s", "eval samples/s", "speed-up",
                               "same state", "load"], rows),
    ]
    if payload["refused"]:
        lines += ["", "Protocols that refuse more than one thread:", ""]
        lines += [f"- {protocol}: {reason}" for protocol, reason in payload["refused"].items()]
    if payload["skipped"]:
        lines += ["", "Not measured:", ""] + [f"- {s}" for s in payload["skipped"]]
    return "\n".join(lines)


def main(argv=None) -> int:
    from experiments.protocol import ConfigurationError

    parser = report.argument_parser("threads", __doc__)
    add_data_options(parser, "paper sizes are skipped")
    parser.add_argument("--protocols", nargs="+", choices=list(PROTOCOLS),
                        default=list(PROTOCOLS), help="default: all")
    parser.add_argument("--threads", nargs="+", type=int, default=[2], metavar="N",
                        help="thread counts besides one; default: 2")
    parser.add_argument("--size", choices=("quick", "paper"), default="paper",
                        help="preset size; default: paper")
    parser.add_argument("--chunks", type=int, default=2,
                        help="training chunks per measurement; default: 2")
    parser.add_argument("--train-samples", type=int, default=None, metavar="N",
                        help="train on N images in one chunk of about N instead of "
                             "--chunks chunks of the preset's size")
    args = parser.parse_args(argv)
    if args.chunks < 1 or any(n < 2 for n in args.threads):
        parser.error("--chunks must be >= 1 and every --threads N >= 2")
    if args.train_samples is not None and args.train_samples < 1:
        parser.error("--train-samples must be >= 1")
    datasets = {PROTOCOLS[p]["paper_dataset"] for p in args.protocols} \
        if args.size == "paper" else set()
    args.data_root, ok = data_root(args, datasets, "threads")
    if not ok:
        return 2

    payload = {"benchmark": "threads", "machine": report.machine_description(),
               "chunks": args.chunks, "train_samples": args.train_samples,
               "size": args.size, "runs": [], "refused": {},
               "skipped": []}
    print(f"{'protocol':>16} {'threads':>7} {'train/s':>9} {'eval/s':>9} {'speed-up':>8} "
          f"{'same':>5}", flush=True)
    with tempfile.TemporaryDirectory(prefix="snn-bench-threads-") as root:
        for protocol in args.protocols:
            try:
                cfg = make_config(protocol, args.size, "cpp", args.data_root, args.chunks)
            except FileNotFoundError as err:
                payload["skipped"].append(f"{protocol}: {err}")
                print(f"{protocol:>16} skipped: {err}", flush=True)
                continue
            if args.train_samples is not None:
                cfg = _fewer_samples(cfg, args.train_samples)
            try:
                for n in args.threads:
                    dataclasses.replace(cfg, threads=n).validate()
            except ConfigurationError as err:
                payload["refused"][protocol] = str(err)
                print(f"{protocol:>16} refuses: {err}", flush=True)
                continue
            one = measure(protocol, cfg.validate(), root)
            payload["runs"].append(one)
            print(f"{protocol:>16} {1:>7} {one['train_samples_per_s']:>9} "
                  f"{one['eval_samples_per_s']:>9}", flush=True)
            for n in args.threads:
                result = measure(protocol, dataclasses.replace(cfg, threads=n).validate(), root)
                result["speedup"] = round(result["train_samples_per_s"]
                                          / one["train_samples_per_s"], 2)
                result["identical"] = same_learned_state(one["folder"], result["folder"])
                payload["runs"].append(result)
                print(f"{protocol:>16} {n:>7} {result['train_samples_per_s']:>9} "
                      f"{result['eval_samples_per_s']:>9} {result['speedup']:>8} "
                      f"{str(result['identical']):>5}", flush=True)
    for result in payload["runs"]:
        result.pop("folder")
    payload["machine"]["load_average_after"] = os.getloadavg()
    if not args.no_write:
        print(report.publish("threads", payload, section(payload), tracked=args.publish))
    return 0


if __name__ == "__main__":
    sys.exit(main())
