"""TFLite/LiteRT benchmark_model stand-in: --name=value flags (graph, num_threads, warmup_runs,
warmup_min_secs, num_runs, min_secs, max_secs, input_layer, input_layer_shape,
input_layer_value_files, output_filepath), run with ai-edge-litert, printed in the LiteRT 'INFO:' format."""

from __future__ import annotations

import os
import resource
import sys
import time

from segbench.emulator.tools.common import Busy, apply_fault, record, reported_s

TOOL = "benchmark_model"
_DEFAULTS = {"graph": "", "num_threads": "-1", "num_runs": "50", "min_secs": "1.0", "max_secs": "150.0",
             "warmup_runs": "1", "warmup_min_secs": "0.5", "run_delay": "-1.0", "input_layer": "",
             "input_layer_shape": "", "input_layer_value_files": "", "output_filepath": "", "enable_op_profiling": "false",
             "use_gpu": "false", "use_nnapi": "false", "use_hexagon": "false", "use_xnnpack": "true"}
_LABELS = {"num_threads": "Num threads", "graph": "Graph", "num_runs": "Min num runs",
           "min_secs": "Min runs duration (seconds)", "warmup_runs": "Min warmup runs",
           "warmup_min_secs": "Min warmup runs duration (seconds)", "input_layer": "Input layers",
           "input_layer_shape": "Input shapes", "input_layer_value_files": "Input value files"}


def info(text: str) -> None:
    print(f"INFO: {text}", flush=True)


def error(text: str) -> None:
    print(f"ERROR: {text}", file=sys.stderr, flush=True)


def stat_line(us: list[float], first: bool = True) -> str:
    """tsl Stat: count first curr min max avg std, then p5 median p95 (microseconds)."""
    v = [int(round(x)) for x in us]
    s = sorted(v)

    def pct(p: int) -> int:
        return s[min(len(s) - 1, len(s) * p // 100)]

    tail = f" p5={pct(5)} median={pct(50)} p95={pct(95)}"
    if len(set(v)) == 1:
        return f"count={len(v)} curr={v[-1]}" + (" (all same)" if len(v) > 1 else "") + tail
    avg = sum(v) / len(v)
    std = (sum((x - avg) ** 2 for x in v) / len(v)) ** 0.5
    return (f"count={len(v)} first={v[0]} curr={v[-1]} min={s[0]} max={s[-1]} avg={avg:g} std={int(round(std))}"
            + tail)


def _parse(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    flags, unknown = dict(_DEFAULTS), []
    given = []
    for a in argv:
        name, eq, value = a.lstrip("-").partition("=")
        if a.startswith("--") and eq and name in flags:
            flags[name] = value
            given.append(name)
        else:
            unknown.append(a)
    flags["_given"] = ",".join(given)
    return flags, unknown


def _load_inputs(interp, flags: dict[str, str]) -> bool:
    import numpy as np

    details = interp.get_input_details()
    files = dict(item.split(":", 1) for item in flags["input_layer_value_files"].split(",") if ":" in item)
    rng = np.random.default_rng(0)
    for d in details:
        path = files.get(d["name"])
        if path is None:
            if np.dtype(d["dtype"]).kind == "f":
                data = rng.uniform(-0.5, 0.5, d["shape"]).astype(d["dtype"])
            else:
                data = rng.integers(0, 100, d["shape"]).astype(d["dtype"])
        else:
            want = int(np.prod(d["shape"])) * np.dtype(d["dtype"]).itemsize
            try:
                raw = open(path, "rb").read()
            except OSError:
                print(f"FATAL: Failed to read the input_layer_value_file:{path}", file=sys.stderr, flush=True)
                os.abort()
            if len(raw) != want:
                print(f"FATAL: The size of {path} is {len(raw)} bytes. It should be {want} bytes.",
                      file=sys.stderr, flush=True)
                os.abort()
            data = np.frombuffer(raw, dtype=d["dtype"]).reshape(d["shape"])
        interp.set_tensor(d["index"], data)
    return True


def _save_outputs(interp, path: str) -> None:
    """--output_filepath as the tool's OutputSaver writes it when the benchmark ends: the raw bytes of
    every output tensor of the last run, in output order, nothing between them; a path that cannot be
    opened is silently skipped (the real tool checks ofs.good() and says nothing)."""
    if not path:
        return
    try:
        with open(path, "wb") as f:
            for d in interp.get_output_details():
                f.write(interp.get_tensor(d["index"]).tobytes())
    except OSError:
        pass


def _timed(interp, min_runs: int, min_secs: float, max_secs: float) -> list[float]:
    out: list[float] = []
    start = time.perf_counter()
    while len(out) < min_runs or time.perf_counter() - start < min_secs:
        if time.perf_counter() - start > max_secs:
            break
        t = time.perf_counter()
        interp.invoke()
        out.append(reported_s(time.perf_counter() - t) * 1e6)
    return out


def run(argv: list[str]) -> int:
    flags, unknown = _parse(argv)
    info("STARTING!")
    if unknown:
        print(f"WARN: Unconsumed cmdline flags: {' '.join(unknown)}", flush=True)
    info("Log parameter values verbosely: [0]")
    for name in flags["_given"].split(","):
        if name in _LABELS:
            info(f"{_LABELS[name]}: [{flags[name]}]")
    if not flags["graph"]:
        error("Please specify the name of your TF Lite input file with --graph")
        error("Benchmarking failed.")
        return 1
    threads = int(flags["num_threads"])
    info(f"#threads used for CPU inference: [{threads}]")
    from ai_edge_litert.interpreter import Interpreter

    mem0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    try:
        interp = Interpreter(model_path=flags["graph"], num_threads=threads if threads > 0 else None)
    except (ValueError, RuntimeError):
        error(f"Failed to load model {flags['graph']}")
        error("Benchmarking failed.")
        return 1
    info(f"Loaded model {flags['graph']}")
    info("Initialized TensorFlow Lite runtime.")
    for delegate in ("gpu", "nnapi", "hexagon"):
        if flags[f"use_{delegate}"] == "true":
            error(f"Failed to apply {delegate.upper() if delegate != 'hexagon' else 'Hexagon'} delegate.")
            error("Benchmarking failed.")
            return 1
    interp.allocate_tensors()
    init_us = (time.perf_counter() - t0) * 1e6
    mem_init = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - mem0) / 1024
    info(f"The input model file size (MB): {os.path.getsize(flags['graph']) / 1e6:g}")
    info(f"Initialized session in {init_us / 1000:g}ms.")
    _load_inputs(interp, flags)
    apply_fault(TOOL, info)
    with Busy():
        info(f"Running benchmark for at least {flags['warmup_runs']} iterations and at least "
             f"{float(flags['warmup_min_secs']):g} seconds but terminate if exceeding {float(flags['max_secs']):g} seconds.")
        warm = _timed(interp, int(flags["warmup_runs"]), float(flags["warmup_min_secs"]), float(flags["max_secs"]))
        info(stat_line(warm) + "\n")
        info(f"Running benchmark for at least {flags['num_runs']} iterations and at least "
             f"{float(flags['min_secs']):g} seconds but terminate if exceeding {float(flags['max_secs']):g} seconds.")
        runs = _timed(interp, int(flags["num_runs"]), float(flags["min_secs"]), float(flags["max_secs"]))
        info(stat_line(runs) + "\n")
    _save_outputs(interp, flags["output_filepath"])
    avg = sum(int(round(x)) for x in runs) / len(runs)
    warm_avg = sum(int(round(x)) for x in warm) / len(warm)
    info(f"Inference timings in us: Init: {int(init_us)}, First inference: {int(round(warm[0]))}, "
         f"Warmup (avg): {warm_avg:g}, Inference (avg): {avg:g}")
    info("Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to "
         "the actual memory footprint of the model at runtime. Take the information at your discretion.")
    overall = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - mem0) / 1024
    info(f"Memory footprint delta from the start of the tool (MB): init={mem_init:g} overall={overall:g}")
    record(TOOL, argv, threads=threads, warmup=len(warm), repeats=len(runs), init_ms=init_us / 1000,
           first_ms=warm[0] / 1000, latencies_ms=[int(round(x)) / 1000 for x in runs])
    return 0
