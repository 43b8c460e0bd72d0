"""How training time per sample grows with the hidden layer and with T.

    python -m benchmarks scaling --data-root ../shared/datasets
    python -m benchmarks scaling --models desire --hidden 100 400 1600

For desire backpropagation (one hidden layer, ``784-h-10``, MNIST) and e-prop (the E:I
ratio network, ``784-h-10`` at 80:20, Fashion-MNIST) the compiled network (C++
standalone, one thread) trains on consecutive chunks as the training engine does, for
hidden sizes ``h`` from 100 to 6400 at the paper's ``T`` and for several ``T`` at a
fixed size. Per point: seconds per training sample (the median over chunks after the
first), synapses, spikes per sample, and *synaptic events* per sample (presynaptic
spikes times fan-out, summed over layers: the work of spike delivery).

Reported: the exponent ``a`` of ``time ~ h**a`` (least squares in log-log over the sizes
>= ``--fit-from``), the exponent against synapses x activity (synaptic events), the
exponent against ``T``, and with ``--profile`` Brian2's time per code object at one size
(``profile=True``; it costs about 10 %, so the timings above come from runs without it).
Written to a new folder ``benchmarks/runs/scaling-<UTC time>/``; with ``--publish`` to
``benchmarks/measurements/scaling.json`` and the ``scaling`` section of
``benchmarks/RESULTS.md``. Without the IDX files under ``--data-root`` the digits set
(64 inputs) is used; ``--download`` fetches them first (into ``--data-root``, default
the download cache).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import report
from benchmarks.throughput import add_data_options, data_root

__all__ = ["MODELS", "measure_point", "fit_exponent", "main"]

#: Model -> (protocol module, class, paper dataset, paper T, T grid, chunk size).
MODELS = {
    "desire": dict(module="experiments.desire", cls="DesireProtocol", dataset="mnist",
                   steps=(5, 10, 20, 40), chunk=200),
    "eprop": dict(module="experiments.ei_ratio", cls="EIRatioProtocol",
                  dataset="fashion-mnist", steps=(25, 50, 100), chunk=512),
}
DEFAULT_HIDDEN = (100, 200, 400, 800, 1600, 3200, 6400)


def _config(model: str, hidden: int, n_steps: int | None, data_root, chunks: int):
    import importlib

    spec = MODELS[model]
    module = importlib.import_module(spec["module"])
    folder = Path(data_root or "") / spec["dataset"]
    if data_root is not None and folder.is_dir():
        cfg = module.make_config("paper", spec["dataset"], data_dir=str(folder))
    else:
        cfg = module.make_config("quick", "digits")
    size = {"hidden": (hidden,)} if model == "desire" else {"n_hidden": hidden}
    steps = {} if n_steps is None else {"n_steps": n_steps}
    if model == "eprop":  # chunks are whole batches
        schedule = {"chunk_batches": max(spec["chunk"] // cfg.batch_size, 1)}
        chunk = schedule["chunk_batches"] * cfg.batch_size
    else:
        schedule = {"chunk_size": spec["chunk"]}
        chunk = spec["chunk"]
    return dataclasses.replace(cfg, **size, **steps, **schedule, epochs=1,
                               train_samples=chunks * chunk, eval_samples=chunk,
                               device="cpp").validate()


def _events(model: str, proto, samples) -> tuple[float, float]:
    """(spikes, synaptic events) per sample of the last chunk."""
    if model == "desire":
        x = proto.x_train[samples].astype(np.float64)
        inputs = np.floor(x * proto.cfg.n_steps + 1e-9).sum(axis=1)  # integrate-and-fire encoder
        layers = proto.net.layer_spike_counts()[:len(samples)]       # hidden, output
        spikes = inputs + layers.sum(axis=1)
        events = inputs * proto.sizes[1] + layers[:, :-1] @ np.array(proto.sizes[2:], float)
    else:
        inputs = (proto.steps_train[samples] >= 0).sum(axis=1)      # one latency spike each
        hidden = proto.net.counts_per_sample()[:len(samples)].sum(axis=1)
        spikes = inputs + hidden
        events = inputs * proto.cfg.n_hidden + hidden * proto.n_classes
    return float(spikes.mean()), float(events.mean())


def measure_point(model: str, cfg, profile: bool = False) -> dict:
    """Compile ``cfg`` and train its chunks; seconds per sample and activity."""
    import importlib

    import models.devices as devices

    spec = MODELS[model]
    proto = getattr(importlib.import_module(spec["module"]), spec["cls"])(cfg)
    plain_build = devices.build
    if profile:  # the protocols import build at call time
        devices.build = lambda *a, **k: plain_build(*a, profile=True, **k)
    try:
        start = time.perf_counter()
        handle = proto.compile()
        compile_s = time.perf_counter() - start
    finally:
        devices.build = plain_build
    views = proto.learned_variables()
    state = proto.initial_state()
    order = proto.train_order(0)
    seconds = []
    for chunk in range(proto.n_train // cfg.chunk_size):
        samples = order[chunk * cfg.chunk_size:(chunk + 1) * cfg.chunk_size]
        args = dict(proto.train_run_args(0, chunk, samples))
        args.update({views[k]: state[k] for k in views})
        start = time.perf_counter()
        handle.run(args)
        state = {k: np.array(v[:]) for k, v in views.items()}
        seconds.append((time.perf_counter() - start) / len(samples))
    spikes, events = _events(model, proto, samples)
    n_in = proto.n_in if model == "eprop" else proto.sizes[0]
    hidden = cfg.hidden[0] if model == "desire" else cfg.n_hidden
    result = {
        "model": model, "dataset": cfg.dataset, "hidden": hidden, "n_steps": cfg.n_steps,
        "synapses": n_in * hidden + hidden * proto.n_classes if model == "eprop"
        else int(sum(a * b for a, b in zip(proto.sizes[:-1], proto.sizes[1:]))),
        "chunk_size": cfg.chunk_size, "compile_s": round(compile_s, 1),
        "seconds_per_sample_per_chunk": seconds,
        "seconds_per_sample": float(np.median(seconds[1:] if len(seconds) > 1 else seconds)),
        "spikes_per_sample": spikes, "synaptic_events_per_sample": events,
        "load": os.getloadavg()[0],
    }
    if profile:
        info = sorted(proto.net.network.profiling_info, key=lambda item: -float(item[1]))
        total = sum(float(t) for _, t in info)
        result["profile"] = [{"code_object": name, "seconds": float(t),
                              "percent": 100 * float(t) / total}
                             for name, t in info if float(t) > 0.005 * total]
    return result


def fit_exponent(x, y) -> float:
    """Slope of ``log y`` against ``log x`` (least squares): ``y ~ x**slope``."""
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)[0])


def summarise(points: list, fit_from: int) -> dict:
    """Exponents per model: against hidden size, synaptic events and T."""
    out = {}
    for model in MODELS:
        size = [p for p in points if p["model"] == model and p["series"] == "hidden"
                and p["hidden"] >= fit_from]
        steps = [p for p in points if p["model"] == model and p["series"] == "steps"]
        entry = {}
        if len(size) >= 2:
            t = [p["seconds_per_sample"] for p in size]
            entry["exponent_hidden"] = fit_exponent([p["hidden"] for p in size], t)
            entry["exponent_synaptic_events"] = fit_exponent(
                [p["synaptic_events_per_sample"] for p in size], t)
            entry["exponent_synapses"] = fit_exponent([p["synapses"] for p in size], t)
        if len(steps) >= 2:
            entry["exponent_steps"] = fit_exponent([p["n_steps"] for p in steps],
                                                   [p["seconds_per_sample"] for p in steps])
        if entry:
            out[model] = entry
    return out


def section(payload: dict) -> str:
    rows = [[p["model"], p["series"], p["hidden"], p["n_steps"], p["synapses"],
             round(p["spikes_per_sample"]), round(p["synaptic_events_per_sample"]),
             round(1e3 * p["seconds_per_sample"], 3), p["compile_s"], round(p["load"], 1)]
            for p in payload["points"]]
    lines = [
        "## Scaling of desire backpropagation and e-prop (`python -m benchmarks scaling`)",
        "",
        report.machine_line(payload["machine"]),
        "",
        "One hidden layer (`n_in-h-10`), C++ standalone, one thread, training chunks as "
        "the engine runs them; ms per sample is the median over the chunks after the "
        "first. Synaptic events: presynaptic spikes times fan-out, per sample. Load: the "
        "1-minute load average after the point (above 1 on 2 cores: shared CPU).",
        "",
        report.markdown_table(["model", "series", "hidden", "T", "synapses",
                               "spikes/sample", "syn. events/sample", "ms/sample",
                               "compile s", "load"], rows),
        "",
        f"Exponents (least squares in log-log, hidden sizes >= {payload['fit_from']}):",
    ]
    for model, fit in payload["fits"].items():
        parts = [f"{k.replace('exponent_', 'time ~ ').replace('_', ' ')}^{v:.2f}"
                 for k, v in fit.items()]
        lines.append(f"- {model}: " + "; ".join(parts))
    lines += [f"- not measured: {text}" for text in payload.get("skipped", [])]
    for prof in payload.get("profiles", []):
        lines += ["", f"Where the time goes: {prof['model']}, h = {prof['hidden']}, "
                      f"T = {prof['n_steps']} (Brian2 `profile=True`, one chunk):", ""]
        lines.append(report.markdown_table(
            ["code object", "s", "%"],
            [[p["code_object"], round(p["seconds"], 3), round(p["percent"], 1)]
             for p in prof["profile"][:10]]))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = report.argument_parser("scaling", __doc__)
    add_data_options(parser, "digits")
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--hidden", nargs="+", type=int, default=list(DEFAULT_HIDDEN),
                        help=f"hidden sizes; default: {' '.join(map(str, DEFAULT_HIDDEN))}")
    parser.add_argument("--steps-at", type=int, default=400,
                        help="hidden size of the T series; default: 400")
    parser.add_argument("--no-steps", action="store_true", help="skip the T series")
    parser.add_argument("--chunks", type=int, default=3, help="chunks per point; default: 3")
    parser.add_argument("--fit-from", type=int, default=400,
                        help="smallest hidden size in the fits; default: 400")
    parser.add_argument("--profile", type=int, default=1600, metavar="H",
                        help="profile one chunk at this hidden size (0: none); default: 1600")
    args = parser.parse_args(argv)
    args.data_root, ok = data_root(args, {MODELS[m]["dataset"] for m in args.models},
                                   "scaling")
    if not ok:
        return 2
    if args.chunks < 2:
        parser.error("--chunks must be >= 2 (the first chunk is not timed)")
    if any(h < 1 for h in args.hidden):
        parser.error("--hidden sizes must be >= 1")

    payload = {"benchmark": "scaling", "machine": report.machine_description(),
               "fit_from": args.fit_from, "points": [], "profiles": []}
    print(f"{'model':>7} {'series':>7} {'hidden':>7} {'T':>4} {'synapses':>10} "
          f"{'events':>10} {'ms/sample':>10}", flush=True)
    for model in args.models:
        series = [("hidden", h, None) for h in args.hidden]
        if not args.no_steps:
            series += [("steps", args.steps_at, t) for t in MODELS[model]["steps"]]
        for name, hidden, steps in series:
            try:
                cfg = _config(model, hidden, steps, args.data_root, args.chunks)
            except ValueError as err:  # e.g. a T the model's numerics refuse
                payload.setdefault("skipped", []).append(f"{model} h={hidden} T={steps}: {err}")
                print(f"{model} h={hidden} T={steps} skipped: {err}", flush=True)
                continue
            point = dict(measure_point(model, cfg), series=name)
            payload["points"].append(point)
            print(f"{model:>7} {name:>7} {hidden:>7} {point['n_steps']:>4} "
                  f"{point['synapses']:>10} {point['synaptic_events_per_sample']:>10.0f} "
                  f"{1e3 * point['seconds_per_sample']:>10.3f}", flush=True)
        if args.profile:
            cfg = _config(model, args.profile, None, args.data_root, 2)
            prof = measure_point(model, cfg, profile=True)
            payload["profiles"].append(prof)
            top = ", ".join(f"{p['code_object']} {p['percent']:.0f}%" for p in prof["profile"][:4])
            print(f"{model} profile at h={args.profile}: {top}", flush=True)
    payload["fits"] = summarise(payload["points"], args.fit_from)
    payload["machine"]["load_average_after"] = os.getloadavg()
    for model, fit in payload["fits"].items():
        print(model, {k: round(v, 2) for k, v in fit.items()})
    if not args.no_write:
        print(report.publish("scaling", payload, section(payload), tracked=args.publish))
    return 0


if __name__ == "__main__":
    sys.exit(main())
