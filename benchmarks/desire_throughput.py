"""Training throughput of desire backpropagation against network size.

    python -m benchmarks.desire_throughput --data-dir /work/shared/datasets/mnist
    python -m benchmarks.desire_throughput --hidden 1600,800 --chunks 5 --profile

For each hidden-layer configuration, the compiled network (C++ standalone, one thread)
trains on consecutive chunks of MNIST training images exactly as the training engine
does (paper settings: T = 20, dropout 0.0/0.3, lr 1e-5), and the wall time of each chunk
(the binary, writing the run_args and reading the weights back) is measured. Reported
per size: compile time, samples/s per chunk, their median and best, and with
``--profile`` Brian2's profile of the last chunk (time per code object). Profiling calls
``std::clock()`` around every code object in every step, which costs about 10 % on this
network: quote samples/s from a run without ``--profile``. Brian2's profile also books
the copying of synapse indices into the spike queues (``std::vector`` resize and copy,
about a fifth of the time) partly to no code object; ``perf record`` on the binary shows
it. Without MNIST files the digits set is used (64 inputs).

The machine is shared in many settings (CI, a laptop): the load average before and after
is recorded with every measurement, and the median over chunks is the number to quote.
Results are printed and written as JSON (default ``benchmarks/measurements/desire_throughput.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

DEFAULT_SIZES = ["200,100", "400,200", "800,400", "1600,800"]


def _fetched(dataset, data_dir) -> bool:
    """``--download``: fetch the missing files; False after printing why it failed."""
    from experiments.datasets import DatasetError, fetch_dataset

    try:
        fetch_dataset(dataset, data_dir)
    except DatasetError as err:
        print(f"--download: {err}", file=sys.stderr)
        return False
    return True


def _load(data_dir, n_needed):
    from experiments.datasets import load_dataset

    try:
        splits = load_dataset("mnist", data_dir=data_dir, validation=0)
        name = "mnist"
    except (FileNotFoundError, ValueError) as err:
        print(f"MNIST not available ({err}); using the digits set", file=sys.stderr)
        splits = load_dataset("digits", validation=0, test=0)
        name = "digits"
    x = splits.train.flat().astype(np.float64)
    y = splits.train.labels
    reps = int(np.ceil(n_needed / len(y)))
    return name, np.tile(x, (reps, 1))[:n_needed], np.tile(y, reps)[:n_needed]


def measure(hidden, x, y, chunk_size, n_chunks, dtype="float64", profile=False, seed=0,
            checkpoint=None):
    """Compile one network and train ``n_chunks`` chunks; returns a result dict.

    ``checkpoint``: a desire run's checkpoint.npz to start from (trained weights change
    the network's activity, and with it the cost), instead of fresh Kaiming weights."""
    from brian2 import profiling_summary

    from experiments import desire
    from models import desire as desire_net
    from models.devices import build, select_device

    cfg = desire.make_config("paper", "mnist", hidden=hidden, chunk_size=chunk_size,
                             weight_dtype=dtype, seed=seed)
    sizes = cfg.sizes(x.shape[1])
    select_device("cpp")
    net = desire_net.build_network(sizes, chunk_size, cfg.spec())
    start = time.perf_counter()
    handle = build(net.network, net.duration, compile_only=True, profile=profile)
    compile_s = time.perf_counter() - start
    flat = desire_net.weights_to_flat(desire.init_weights(sizes, np.random.default_rng(seed)))
    if checkpoint is not None:
        with np.load(checkpoint, allow_pickle=False) as data:
            flat = [data[f"w{level}"] for level in range(1, len(sizes))]
        if [f.size for f in flat] != [a * b for a, b in zip(sizes[:-1], sizes[1:])]:
            raise ValueError(f"{checkpoint} holds weights of another network than {sizes}")
    gains = (1.0, 1.0 / (1.0 - cfg.dropout_hidden))
    rates, accuracy = [], []
    for chunk in range(n_chunks):
        rows = slice(chunk * chunk_size, (chunk + 1) * chunk_size)
        masks = desire.dropout_masks(cfg, sizes, 0, chunk, chunk_size)
        args = net.run_args(x[rows], y[rows], flat, lr=desire.learning_rate(cfg, 0),
                            masks=masks, gains=gains)
        start = time.perf_counter()
        handle.run(args)
        flat = [np.array(syn.w[:]) for syn in net.synapses]
        rates.append(chunk_size / (time.perf_counter() - start))
        accuracy.append(float(desire.correct_predictions(net.output_counts(), y[rows]).mean()))
    result = {
        "sizes": list(sizes),
        "synapses": int(sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))),
        "dtype": dtype,
        "weights": str(checkpoint) if checkpoint else "Kaiming normal (untrained)",
        "chunk_size": chunk_size,
        "compile_s": round(compile_s, 1),
        "samples_per_s": [round(r, 1) for r in rates],
        "median_samples_per_s": round(float(np.median(rates)), 1),
        "best_samples_per_s": round(float(np.max(rates)), 1),
        "training_accuracy_per_chunk": [round(a, 3) for a in accuracy],
    }
    if profile:
        info = sorted(net.network.profiling_info, key=lambda item: -float(item[1]))
        total = sum(float(t) for _, t in info)
        result["profile_last_chunk"] = [
            {"code_object": name, "seconds": round(float(t), 3),
             "percent": round(100 * float(t) / total, 1)} for name, t in info if float(t) > 0
        ]
        print(profiling_summary(net.network, show=15))
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("SNN_DATA_DIR"),
                        help="MNIST IDX directory; default: $SNN_DATA_DIR (digits if missing)")
    parser.add_argument("--download", action="store_true",
                        help="first download the MNIST files that are missing, checked against "
                             "the published MD5 (into --data-dir, default: the download cache)")
    parser.add_argument("--hidden", nargs="+", default=DEFAULT_SIZES, metavar="H1,H2",
                        help=f"hidden sizes to measure; default: {' '.join(DEFAULT_SIZES)}")
    parser.add_argument("--chunk-size", type=int, default=1000, help="samples per run; default: 1000")
    parser.add_argument("--chunks", type=int, default=3, help="chunks per size; default: 3")
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                        help="weight dtype; default: float64")
    parser.add_argument("--checkpoint", default=None,
                        help="start from the weights of a desire checkpoint.npz (one --hidden "
                             "setting); default: untrained weights")
    parser.add_argument("--profile", action="store_true",
                        help="Brian2 profiling (time per code object); default: off")
    parser.add_argument("--out", default=str(Path(__file__).parent / "measurements" / "desire_throughput.json"),
                        help="JSON output; default: benchmarks/measurements/desire_throughput.json")
    args = parser.parse_args(argv)

    hidden_sets = [tuple(int(h) for h in spec.split(",")) for spec in args.hidden]
    if args.download and not _fetched("mnist", args.data_dir):
        return 2
    dataset, x, y = _load(args.data_dir, args.chunk_size * args.chunks)
    results = {
        "benchmark": "desire_throughput",
        "dataset": dataset,
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "cpu_count": os.cpu_count(), "threads": 1},
        "load_average_before": os.getloadavg(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "runs": [],
    }
    print(f"{'sizes':>22} {'synapses':>10} {'compile s':>10} {'median/s':>9} {'best/s':>8}")
    for hidden in hidden_sets:
        r = measure(hidden, x, y, args.chunk_size, args.chunks, args.dtype, args.profile,
                    checkpoint=args.checkpoint)
        results["runs"].append(r)
        print(f"{'-'.join(map(str, r['sizes'])):>22} {r['synapses']:>10} {r['compile_s']:>10} "
              f"{r['median_samples_per_s']:>9} {r['best_samples_per_s']:>8}", flush=True)
    results["load_average_after"] = os.getloadavg()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
