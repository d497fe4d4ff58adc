"""onnxruntime_perf_test stand-in (1.23's absl flags: every flag the real tool defines, read as absl does):
`-m times -r N`, `-x`, `-I`, test_data_set_*/input_N.pb next to
the model, `-p PREFIX` (ORT's own session profiling JSON), `-s`, the result file (positional, after the
model: a row a timed run, appended); prints the ORT 1.2x log format."""

from __future__ import annotations

import glob
import os
import re
import resource
import sys
import time
from dataclasses import dataclass

from segbench.emulator.tools.common import (
    Busy,
    accelerators,
    apply_fault,
    cores_for,
    delegate_fault,
    phone_s,
    record,
    reported_s,
)
from segbench.emulator.tools.flags import FlagStop, parse_absl

TOOL = "onnxruntime_perf_test"


# Every ABSL_FLAG of perf_test's command_args_parser.cc on the rel-1.23 line (realflags/onnxruntime_perf_test.json).
FLAGS = {"f": "string", "F": "string", "m": "string", "e": "string", "r": "size_t", "t": "size_t", "p": "string",
         "x": "int", "y": "int", "c": "size_t", "d": "int", "o": "int", "u": "string", "i": "string", "S": "int",
         "T": "string", "C": "string", "R": "string", "A": "bool", "M": "bool", "s": "bool", "v": "bool",
         "I": "bool", "P": "bool", "q": "bool", "z": "bool", "D": "bool", "Z": "bool", "n": "bool", "l": "bool",
         "g": "bool", "X": "bool", "plugin_ep_libs": "string", "plugin_eps": "string",
         "plugin_ep_options": "string", "list_ep_devices": "bool", "select_ep_devices": "string", "h": "bool"}
PROVIDERS = ("cpu", "cuda", "dnnl", "openvino", "tensorrt", "qnn", "snpe", "nnapi", "vsinpu", "coreml", "dml",
             "acl", "armnn", "rocm", "migraphx", "xnnpack", "vitisai", "webgpu", "nvtensorrtrtx")
_DIM = re.compile(r"\S+:[1-9][0-9]*")
_SEE_HELP = f"See '{TOOL} --help'."


@dataclass
class Args:
    m: str | None = None
    r: int | None = None
    t: float | None = None
    e: str = "cpu"
    x: int = 0
    y: int = 0
    o: int = 99
    p: str = ""
    s: bool = False
    I: bool = False  # noqa: E741 (the tool's own flag name)
    S: int = -1
    v: bool = False
    n: bool = False
    c: int = 1
    i: str = ""
    model_path: str = ""
    result_file: str | None = None


def parse_args(argv: list[str]) -> Args:
    """absl::ParseCommandLine (a bad flag or value: exit 1), then ParseArguments' checks (false: the tool
    prints where to look for help and main returns -1, rc 255)."""
    parsed = parse_absl(argv, FLAGS, usage=f"usage: {TOOL} [options...] model_path [result_file]\n",
                        version=f"{TOOL}\n")
    v = parsed.values
    if v.get("h"):
        raise FlagStop(255, stderr=f"usage: {TOOL} [options...] model_path [result_file]\n{_SEE_HELP}")
    bad = FlagStop(255, stderr=_SEE_HELP)
    args = Args()
    if "m" in v:
        if v["m"] not in ("duration", "times"):
            raise bad
        args.m = str(v["m"])
    if "r" in v:  # giving -r means 'times' mode
        if v["r"] == 0:
            raise bad
        args.r, args.m = int(v["r"]), "times"
    if "t" in v:
        if v["t"] == 0:
            raise bad
        args.t, args.m = float(v["t"]), args.m if "r" in v else "duration"
    if "e" in v:
        if v["e"] not in PROVIDERS:
            raise bad
        args.e = str(v["e"])
    for name in ("x", "y"):
        if name in v:
            if int(v[name]) < 0:
                raise bad
            setattr(args, name, int(v[name]))
    if "c" in v:
        if v["c"] == 0:
            raise bad
        args.c = int(v["c"])
    if "o" in v:
        level = min(int(v["o"]), 99)
        if level not in (0, 1, 2, 3, 99):
            raise bad
        args.o = level
    # -f/-F are read again from argv, where only the separate-token forms ('-f NAME:VALUE') count.
    for i, arg in enumerate(argv[:-1]):
        if arg in ("-f", "--f", "-F", "--F") and not _DIM.fullmatch(argv[i + 1]):
            raise bad
    args.p, args.s, args.I, args.v, args.n = str(v.get("p", "")), bool(v.get("s")), bool(v.get("I")), \
        bool(v.get("v")), bool(v.get("n"))
    args.S, args.i = int(v.get("S", -1)), str(v.get("i", ""))
    if not 1 <= len(parsed.positional) <= 2:
        raise bad
    args.model_path = parsed.positional[0]
    args.result_file = parsed.positional[1] if len(parsed.positional) == 2 else None
    return args


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


NNAPI_WORDS = ("NNAPI_FLAG_USE_FP16", "NNAPI_FLAG_USE_NCHW", "NNAPI_FLAG_CPU_DISABLED", "NNAPI_FLAG_CPU_ONLY")


def _nnapi_options(text: str) -> bool | str:
    """-e nnapi: the -i words as ort_test_session.cc reads them (whitespace-separated flag names; anything else
    throws), the phone's NNAPI, and a delegate-fail fault; True when NNAPI_FLAG_USE_FP16 is set, or the error."""
    words = text.split()
    for word in words:
        if word not in NNAPI_WORDS:
            return ("[ERROR] [NNAPI] wrong key type entered. Choose from the following runtime key options that are "
                    "available for NNAPI. ['NNAPI_FLAG_USE_FP16', 'NNAPI_FLAG_USE_NCHW', 'NNAPI_FLAG_CPU_DISABLED', "
                    "'NNAPI_FLAG_CPU_ONLY'] ")
    if "nnapi" not in accelerators():
        return "NNAPI execution provider: NNAPI is not available on this device (API level < 27)"
    if delegate_fault("nnapi") == "fail":
        return ("[ONNXRuntimeError] : 1 : FAIL : model_builder.cc:768 Compile Failed to compile NNAPI model: "
                "ANEURALNETWORKS_OP_FAILED")
    # fallback: NNAPI takes no node and ORT runs them on its CPU provider; on a phone ORT logs that to logcat only.
    return "NNAPI_FLAG_USE_FP16" in words


def run(argv: list[str]) -> int:
    try:
        args = parse_args(argv)
    except FlagStop as stop:
        return stop.emit()
    half = False
    if args.e == "nnapi":
        half = _nnapi_options(args.i)
        if isinstance(half, str):  # the session's ORT_THROW: main prints what() and returns -1
            print(half, file=sys.stderr, flush=True)
            return 255
    elif args.e not in ("cpu", "xnnpack"):  # an Android build has the CPU, NNAPI and XNNPACK providers
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
    if half:  # NNAPI_FLAG_USE_FP16: the emulated NNAPI computes in fp16, acted out by rounding the inputs
        import numpy as np

        sets = [{k: v.astype(np.float16).astype(np.float32) if v.dtype == np.float32 else v for k, v in feeds.items()}
                for feeds in sets]
    apply_fault(TOOL, print)
    times_mode = args.m == "times" or (args.m is None and args.r is not None)
    repeats, duration = (args.r or 1000), (args.t if args.t is not None else 600.0)
    usage0, lat = resource.getrusage(resource.RUSAGE_SELF), []
    cores = cores_for(args.x if args.x > 0 else os.cpu_count())  # -x 0: ORT's pool has a thread per core
    with Busy():
        first_ms = reported_s(phone_s(lambda: sess.run(None, sets[0]), cores)) * 1000  # the warm-up run
        start = time.perf_counter()
        while (len(lat) < repeats) if times_mode else (time.perf_counter() - start < duration or not lat):
            feeds = sets[len(lat) % len(sets)]
            lat.append(reported_s(phone_s(lambda feeds=feeds: sess.run(None, feeds), cores)))
            if args.v:  # the verbose run prints every iteration's time
                print(f"iteration:{len(lat)},time_cost:{lat[-1]:f}", flush=True)
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
