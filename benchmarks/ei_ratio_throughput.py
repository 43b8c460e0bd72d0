"""Training throughput of the E:I-ratio protocol (e-prop inside Brian2).

    python -m benchmarks.ei_ratio_throughput --data-dir /work/shared/datasets/fashion-mnist
    python -m benchmarks.ei_ratio_throughput --checkpoint results/ei_ratio/<run>/checkpoint.npz

The paper's network (784 latency-coded inputs, 100 hidden LIF cells, 80:20, 10 readouts,
100 steps per sample, batch 256, chunks of 10 batches) is compiled once (C++ standalone,
one thread) and trained on consecutive chunks of Fashion-MNIST training images exactly
as the training engine does; the wall time of each chunk (the binary, writing the
run_args and reading the learned state back) is measured. Trained weights raise the
hidden rate (about 20 Hz at initialisation, 90 Hz after training), so ``--checkpoint``
measures from a trained state. The load average before and after is recorded: quote the
median over chunks. Without Fashion-MNIST files the digits set is used.
Results are printed and written as JSON (default
``benchmarks/measurements/ei_ratio_throughput.json``).
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


def measure(data_dir, n_chunks: int, checkpoint=None, seed: int = 0) -> dict:
    from experiments import ei_ratio as E
    from experiments.protocol import ConfigurationError

    try:
        cfg = E.make_config("paper", "fashion-mnist", data_dir=data_dir, seed=seed,
                            validation=10000)
        protocol = E.EIRatioProtocol(cfg)
    except ConfigurationError as err:
        print(f"Fashion-MNIST not available ({err}); using the digits set", file=sys.stderr)
        cfg = E.make_config("paper", "digits", seed=seed)
        protocol = E.EIRatioProtocol(cfg)
    start = time.perf_counter()
    protocol.compile()
    compile_s = time.perf_counter() - start
    views = protocol.learned_variables()
    state = protocol.initial_state()
    if checkpoint is not None:
        with np.load(checkpoint) as saved:
            state.update({k: saved[k] for k in views if k in saved.files})
    order = protocol.train_order(0)
    load_before = os.getloadavg()
    per_chunk, rates_hz = [], []
    for chunk in range(n_chunks):
        samples = order[chunk * cfg.chunk_size:(chunk + 1) * cfg.chunk_size]
        args = dict(protocol.train_run_args(0, chunk, samples))
        args.update({views[k]: state[k] for k in views})
        start = time.perf_counter()
        protocol.handle.run(args)
        state = {k: np.array(v[:]) for k, v in views.items()}
        per_chunk.append(len(samples) / (time.perf_counter() - start))
        counts = protocol.net.counts_per_sample()[:len(samples)]
        rates_hz.append(float(counts.mean() / (cfg.n_steps * cfg.dt_ms * 1e-3)))
    return {
        "dataset": cfg.dataset, "chunk_size": cfg.chunk_size, "compile_s": compile_s,
        "samples_per_s": per_chunk, "median_samples_per_s": float(np.median(per_chunk)),
        "best_samples_per_s": float(np.max(per_chunk)), "hidden_rate_hz": rates_hz,
        "checkpoint": str(checkpoint) if checkpoint else None,
        "load_before": load_before, "load_after": os.getloadavg(),
        "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("SNN_DATA_DIR"),
                        help="Fashion-MNIST IDX directory; default: $SNN_DATA_DIR")
    parser.add_argument("--download", action="store_true",
                        help="first download the Fashion-MNIST files that are missing, checked "
                             "against the published MD5 (into --data-dir, default: the "
                             "download cache)")
    parser.add_argument("--chunks", type=int, default=5, help="chunks of 2560 samples; default: 5")
    parser.add_argument("--checkpoint", default=None,
                        help="an ei_ratio checkpoint.npz to start from (trained weights)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "measurements"
                                             / "ei_ratio_throughput.json"))
    args = parser.parse_args(argv)
    from benchmarks.desire_throughput import _fetched
    from models.devices import select_device

    if args.download and not _fetched("fashion-mnist", args.data_dir):
        return 2

    select_device("cpp")
    result = measure(args.data_dir, args.chunks, checkpoint=args.checkpoint)
    print(f"{result['dataset']}: compile {result['compile_s']:.1f} s; samples/s per chunk "
          + ", ".join(f"{r:.0f}" for r in result["samples_per_s"])
          + f"; median {result['median_samples_per_s']:.0f}; hidden rate "
          + ", ".join(f"{r:.1f}" for r in result["hidden_rate_hz"]) + " Hz; load "
          + f"{result['load_before'][0]:.2f} -> {result['load_after'][0]:.2f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
