"""onnxruntime_perf_test stand-in: `-m times -r N`, `-x`, `-I`, test_data_set_*/input_N.pb next to
the model, `-p PREFIX` (ORT's own session profiling JSON), `-s`, the result file (positional, after the
model: a row a timed run, appended); prints the ORT 1.2x log format."""

from __future__ import annotations

import argparse
import glob
import os
import resource
import sys
import time
from dataclasses import dataclass

from segbench.emulator.tools.common import Busy, apply_fault, record, reported_s

TOOL = "onnxruntime_perf_test"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # the real tool: message, pointer to --help, rc -1
        print(f"{TOOL}: {message}\nSee '{TOOL} --help'.", file=sys.stderr)
        sys.exit(255)


def _parser() -> _Parser:
    p = _Parser(prog=TOOL, add_help=True)
    p.add_argument("-m", choices=("duration", "times"), default=None)
    p.add_argument("-r", type=int)
    p.add_argument("-t", type=float)
    p.add_argument("-e", default="cpu")
    p.add_argument("-x", type=int, default=0)
    p.add_argument("-y", type=int, default=0)
    p.add_argument("-o", type=int, default=99)
    p.add_argument("-p", default="")
    p.add_argument("-s", action="store_true")
    p.add_argument("-I", action="store_true")
    p.add_argument("-S", type=int, default=-1)
    p.add_argument("-v", action="store_true")
    p.add_argument("-Z", action="store_true")
    p.add_argument("-D", action="store_true")
    p.add_argument("-A", action="store_true")
    p.add_argument("-M", action="store_true")
    p.add_argument("-n", action="store_true")
    for opt in ("-i", "-C", "-T", "-f", "-F"):
        p.add_argument(opt, default="")
    p.add_argument("-c", type=int, default=1)
    p.add_argument("model_path")
    p.add_argument("result_file", nargs="?")
    return p


@dataclass(frozen=True)
class Figures:
    session_s: float
    first_ms: float
    latencies_s: tuple[float, ...]
    wall_s: float
    peak_bytes: int
    cpu_pct: int


def _percentile(sorted_s: list[float], p: float) -> float:
    # The tool indexes sorted[int(total * p)]: with few runs P90..P999 equal Max.
    return sorted_s[min(len(sorted_s) - 1, int(len(sorted_s) * p))]


def format_report(f: Figures, threads: int, stats: bool) -> str:
    n = len(f.latencies_s)
    total = sum(f.latencies_s)
    lines = [f"Setting intra_op_num_threads to {threads}"] if threads > 0 else []
    lines += [
        f"Session creation time cost: {f.session_s:g} s",
        f"First inference time cost: {int(f.first_ms)} ms",
        f"Total inference time cost: {total:g} s",
        f"Total inference requests: {n}",
        f"Average inference time cost total: {total / n * 1000:.6f} ms",
        f"Total inference run time: {f.wall_s:g} s",
        f"Number of inferences per second: {n / f.wall_s:g}",
        f"Avg CPU usage: {f.cpu_pct} %",
        f"Peak working set size: {f.peak_bytes} bytes",
    ]
    if stats:
        s = sorted(f.latencies_s)
        lines += [f"Avg CPU usage:{f.cpu_pct}", f"Peak working set size:{f.peak_bytes}", f"Runs:{n}",
                  f"Min Latency: {s[0]:g} s", f"Max Latency: {s[-1]:g} s"]
        lines += [f"P{name} Latency: {_percentile(s, p):g} s"
                  for name, p in (("50", 0.5), ("90", 0.9), ("95", 0.95), ("99", 0.99), ("999", 0.999))]
    return "\n".join(lines) + "\n"


def result_rows(f: Figures, model_name: str, stats: bool) -> str:
    """What the tool appends to its result file: a row a timed run, then with -s the latency block."""
    lines = [f"{model_name},{t:g},{f.peak_bytes},{f.cpu_pct},{i}" for i, t in enumerate(f.latencies_s)]
    if stats:
        s = sorted(f.latencies_s)
        lines += ["", f"Min Latency is {s[0]:g} sec", f"Max Latency is {s[-1]:g} sec"]
        lines += [f"P{name} Latency is {_percentile(s, p):g} sec"
                  for name, p in (("50", 0.5), ("90", 0.9), ("95", 0.95), ("99", 0.99), ("999", 0.999))]
    return "\n".join(lines) + "\n"


def _inputs(sess, model_path: str, random_inputs: bool, seed: int) -> list[dict] | str:
    """Feeds from test_data_set_* next to the model, or random ones with -I; an error text otherwise."""
    import numpy as np

    if random_inputs:
        rng = np.random.default_rng(None if seed < 0 else seed)
        feeds = {}
        for i in sess.get_inputs():
            shape = [d if isinstance(d, int) and d > 0 else 1 for d in i.shape]
            dtype = np.float32 if "float" in i.type else np.int64 if "int64" in i.type else np.int32
            feeds[i.name] = rng.random(shape).astype(dtype)
        return [feeds]
    from onnx import TensorProto, numpy_helper

    sets = []
    for d in sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(model_path)), "*"))):
        if not os.path.isdir(d):
            continue
        files = sorted(glob.glob(os.path.join(d, "input_*.pb")), key=lambda p: int(p.rsplit("_", 1)[1][:-3]))
        if not files:
            continue
        feeds = {}
        for info, path in zip(sess.get_inputs(), files):
            t = TensorProto()
            with open(path, "rb") as fh:
                t.ParseFromString(fh.read())
            feeds[info.name] = numpy_helper.to_array(t)
        sets.append(feeds)
    name = os.path.splitext(os.path.basename(model_path))[0]
    return sets or f"there is no test data for model {name}"


def run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.r is not None and args.r <= 0:
        _parser().error("requests should be a positive integer")
    if args.e != "cpu":
        print(f"Run failed:{args.e} execution provider is not available on this phone's build", flush=True)
        return 255
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(args.x, 0)
    opts.inter_op_num_threads = max(args.y, 0)
    opts.graph_optimization_level = {0: ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
                                     1: ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
                                     2: ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED}.get(
        args.o, ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
    if args.p:
        opts.enable_profiling = True
        opts.profile_file_prefix = args.p
    t0 = time.perf_counter()
    try:
        sess = ort.InferenceSession(args.model_path, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT's own exception types; the real tool prints what() and returns -1
        print(str(exc).strip(), file=sys.stderr)
        return 255
    session_s = time.perf_counter() - t0
    if args.n:
        return 0
    sets = _inputs(sess, args.model_path, args.I, args.S)
    if isinstance(sets, str):
        print(sets, file=sys.stderr)
        print("Run failed:failed to initialize.", flush=True)
        return 255
    apply_fault(TOOL, print)
    times_mode = args.m == "times" or (args.m is None and args.r is not None)
    repeats, duration = (args.r or 1000), (args.t if args.t is not None else 600.0)
    usage0, lat = resource.getrusage(resource.RUSAGE_SELF), []
    with Busy():
        t = time.perf_counter()
        sess.run(None, sets[0])  # the warm-up run
        first_ms = reported_s(time.perf_counter() - t) * 1000
        start = time.perf_counter()
        while (len(lat) < repeats) if times_mode else (time.perf_counter() - start < duration or not lat):
            t = time.perf_counter()
            sess.run(None, sets[len(lat) % len(sets)])
            lat.append(reported_s(time.perf_counter() - t))
        wall = time.perf_counter() - start
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (usage1.ru_utime + usage1.ru_stime - usage0.ru_utime - usage0.ru_stime) / wall * 100
    if args.p:
        sess.end_profiling()
    f = Figures(session_s, first_ms, tuple(lat), wall, usage1.ru_maxrss * 1024, int(cpu))
    print(format_report(f, args.x, args.s or not args.result_file), end="", flush=True)
    if args.result_file:
        name = os.path.splitext(os.path.basename(args.model_path))[0]
        try:
            with open(args.result_file, "a") as fh:  # appended to, as the real tool does
                fh.write(result_rows(f, name, args.s))
        except OSError as exc:
            print(f"failed to open result file {args.result_file}: {exc.strerror}", file=sys.stderr)
    record(TOOL, argv, threads=args.x, warmup=1, repeats=len(lat), first_ms=first_ms, init_ms=session_s * 1000,
           latencies_ms=[x * 1000 for x in lat])
    return 0
