"""ONNX Runtime ``onnxruntime_perf_test``: command line and log parser.

Formats read (docs/vendor-tools.md): the current report (``Session creation time cost: 0.17 s``,
``First inference time cost: 109 ms``, ``Average inference time cost total: 7.27 ms`` or, older,
``Average inference time cost: 62.29 ms``, ``Avg CPU usage: 62 %`` or ``Total CPU usage: 382 %``,
``Peak working set size: N bytes``, the compact ``Runs:``/``Min Latency: X s`` ... ``P999`` block)
and the oldest one (``Total time cost:``, ``Total iterations:``, ``Average time cost: X ms``,
``Min Latency is X sec``). Percentiles are in seconds and converted to ms. With ``-v`` every
iteration prints ``iteration:N,time_cost:S`` (seconds), read into ``samples_ms``.

perf_test always does exactly one warm-up run (its "First inference"); ``case.warmup`` cannot change
that, so records say ``warmup: 1``.
"""

from __future__ import annotations

import math
import posixpath
import re
from collections.abc import Iterable

from segbench.errors import UsageError
from segbench.runners.tools import (
    END,
    NUM,
    SHELL_ERROR,
    Draft,
    EchoedCommand,
    Line,
    NoBackend,
    ParsedRun,
    Reader,
    ToolCase,
    echoed_command,
    freeze,
    lines_of,
    num,
    taskset_prefix,
    whole,
)

TOOL = "onnxruntime_perf_test"
RUNTIME = "onnxruntime"
SELF_BINDING = False
# Why `segbench eval --device` cannot use this tool (docs/eval.md).
NO_OUTPUT_DUMP = ("onnxruntime_perf_test only times the model: it has no option to write its outputs "
                  "(output_N.pb files beside the inputs are ignored, not written)")

PROVIDERS = ("cpu", "nnapi", "qnn", "xnnpack", "snpe", "acl", "armnn", "coreml", "webgpu")


# segbench backend (model.BACKENDS) -> (-e provider, -i options). NNAPI takes bare flag words: fp16 is
# NNAPI_FLAG_USE_FP16. A GPU is no execution provider of ORT's Android builds, and the NPU one (QNN's HTP) needs a
# Hexagon v68 or newer and its own libraries, which segbench does not push.
BACKENDS = {"cpu": (None, ()), "xnnpack": ("xnnpack", ()), "nnapi": ("nnapi", ()),
            "nnapi-fp16": ("nnapi", (("NNAPI_FLAG_USE_FP16", ""),))}
_NO_BACKEND = {
    "gpu": "onnxruntime_perf_test has no GPU execution provider on Android (use nnapi, which may reach the GPU)",
    "gpu-fp16": "onnxruntime_perf_test has no GPU execution provider on Android (use nnapi-fp16)",
    "npu": "segbench maps no NPU provider for onnxruntime_perf_test (QNN's HTP needs its own libraries and a "
           "Hexagon v68+; use nnapi)",
}


def backend_args(backend: str, variant: str | None = None) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    """segbench backend -> (ToolCase.backend, backend_options); NoBackend with the reason."""
    if backend not in BACKENDS:
        raise NoBackend(_NO_BACKEND.get(backend, f"onnxruntime_perf_test has no {backend} backend"))
    return BACKENDS[backend]


_PROVIDER_NAMES = {"nnapi": "Nnapi", "xnnpack": "Xnnpack"}


def backend_evidence(parsed: ParsedRun, backend: str, variant: str | None = None) -> dict:
    """What the log says about the execution provider ``backend`` asked for (see benchmark_model.backend_evidence):
    ORT's verbose node placement (``-v``), else NNAPI's partition summary; a log with neither does not say (on a
    phone ORT may log to logcat instead of the tool's output)."""
    provider, _ = BACKENDS.get(backend, (None, ()))
    if provider not in _PROVIDER_NAMES:
        return {}
    name = _PROVIDER_NAMES[provider]
    placed = parsed.extra.get("nodes_by_provider") or {}
    cap = parsed.extra.get("nnapi_capability") if provider == "nnapi" else None
    if placed:
        ours, total = placed.get(name, 0), sum(placed.values())
        nodes = {"delegated": ours, "total": total}
    elif cap:
        ours, total, nodes = cap["delegated"], cap["total"], cap
    else:
        out: dict = {"backend_applied": None}
        if parsed.status == "ok":
            out["backend_fallback"] = f"the log does not say which nodes the {name} execution provider ran"
        return out
    out = {"backend_applied": ours > 0, "backend_nodes": nodes}
    if ours == 0:
        out["backend_fallback"] = f"the {name} execution provider ran no node: CPU figures"
    elif ours < total:
        out["backend_fallback"] = f"the {name} execution provider ran {ours} of {total} nodes, the CPU the rest"
    return out


def build_command(tc: ToolCase) -> list[str]:
    """argv for one run: ``-m times -r N`` (exact count), ``-x`` threads, ``-e`` provider, ``-s``
    statistics; inputs from a test_data_set directory beside the model, else random (``-I``)."""
    if tc.output_path:
        raise UsageError(NO_OUTPUT_DUMP)
    case = tc.case
    provider = tc.backend or "cpu"
    if provider not in PROVIDERS:
        raise UsageError(f"onnxruntime_perf_test has no execution provider {provider!r}",
                         hint=f"use one of {', '.join(PROVIDERS)}")
    if case.repeats < 1:
        raise UsageError("onnxruntime_perf_test needs at least 1 repeat (-r 0 is rejected)")
    argv = [*taskset_prefix(tc.cpu_mask), tc.tool_path, "-m", "times", "-r", str(case.repeats),
            "-x", str(case.threads), "-e", provider, "-s"]
    if tc.backend_options:
        argv += ["-i", _provider_options(provider, tc.backend_options)]
    argv += _inputs(tc)
    if tc.op_profiling:
        argv += ["-p", tc.profile_prefix or posixpath.splitext(tc.model_path)[0] + "_profile"]
    if tc.per_run_times:
        argv.append("-v")
    argv.append(tc.model_path)
    if tc.result_path:
        argv.append(tc.result_path)
    return argv


# The NNAPI EP takes bare words (anything else throws "[NNAPI] wrong key type entered"); the others 'key|value'.
NNAPI_FLAGS = ("NNAPI_FLAG_USE_FP16", "NNAPI_FLAG_USE_NCHW", "NNAPI_FLAG_CPU_DISABLED", "NNAPI_FLAG_CPU_ONLY")


def _provider_options(provider: str, pairs: tuple[tuple[str, str], ...]) -> str:
    """The -i string: NNAPI flag words, or space-separated key|value pairs (the tool splits on both)."""
    for key, value in pairs:
        if re.search(r"[\s|]", key + value) or not key:
            raise UsageError(f"provider option {key!r}={value!r} cannot contain spaces or '|'")
    if provider != "nnapi":
        return " ".join(f"{k}|{v}" for k, v in pairs)
    for key, value in pairs:
        if key not in NNAPI_FLAGS or value not in ("", "1", "true"):
            raise UsageError(f"the NNAPI execution provider takes flag words, not {key!r}={value!r}",
                             hint=f"use one of {', '.join(NNAPI_FLAGS)} (with an empty value)")
    return " ".join(k for k, _ in pairs)


def _inputs(tc: ToolCase) -> list[str]:
    out = []
    for name, value in tc.free_dims:
        if not name or re.search(r"\s", name) or int(value) < 1:  # the tool wants NAME:VALUE, VALUE > 0
            raise UsageError(f"free dimension {name!r}={value!r}: a name without spaces and a size of at least 1")
        out += ["-f", f"{name}:{value}"]
    if tc.input_path is None:
        return [*out, "-I"]
    model_dir = posixpath.dirname(tc.model_path.rstrip("/"))
    data_dir = posixpath.dirname(tc.input_path.rstrip("/"))
    if model_dir != data_dir:
        raise UsageError(
            f"onnxruntime_perf_test reads test data from directories beside the model; {tc.input_path} is not in "
            f"{model_dir or '.'}", hint=f"put it at {posixpath.join(model_dir, 'test_data_set_0')}")
    return out


# ---------------------------------------------------------------------------------------------
# Parsing

_SEC = 1000.0
# (regex, phase, key, scale to ms or None for counts)
_FIELDS: tuple[tuple[re.Pattern[str], int, str, float | None], ...] = tuple(
    (re.compile(p), phase, key, scale) for p, phase, key, scale in (
        (rf"^Setting intra_op_num_threads to (\d+){END}", 0, "threads", None),
        (rf"^Setting inter_op_num_threads to (\d+){END}", 0, "inter_threads", None),
        (rf"^Session creation time cost:\s*({NUM}){END}\s*s", 1, "init", _SEC),
        (rf"^First inference time cost:\s*({NUM}){END}\s*ms", 2, "first", 1.0),
        (rf"^Total inference time cost:\s*({NUM}){END}\s*s", 3, "total_s", 1.0),
        (rf"^Total inference requests:\s*(\d+){END}", 3, "count", None),
        (rf"^Average inference time cost(?: total)?:\s*({NUM}){END}\s*ms", 4, "avg", 1.0),
        (rf"^Total inference run time:\s*({NUM}){END}\s*s", 4, "wall_s", 1.0),
        (rf"^Number of inferences per second:\s*({NUM}){END}", 4, "throughput", 1.0),
        (rf"^Avg CPU usage:\s+({NUM}){END}\s*%", 5, "cpu", 1.0),
        (rf"^Total CPU usage:\s*({NUM}){END}\s*%", 5, "cpu_total", 1.0),
        (rf"^Peak working set size:\s+(\d+){END}\s*bytes", 5, "peak_bytes", None),
        (rf"^Avg CPU usage:({NUM}){END}$", 6, "cpu_compact", 1.0),
        (rf"^Peak working set size:(\d+){END}$", 6, "peak_compact", None),
        (rf"^Runs:(\d+){END}$", 6, "runs", None),
        (rf"^Min Latency:\s*({NUM}){END}\s*s", 7, "min", _SEC),
        (rf"^Max Latency:\s*({NUM}){END}\s*s", 7, "max", _SEC),
        (rf"^P50 Latency:\s*({NUM}){END}\s*s", 7, "median", _SEC),
        (rf"^P90 Latency:\s*({NUM}){END}\s*s", 7, "p90", _SEC),
        (rf"^P95 Latency:\s*({NUM}){END}\s*s", 7, "p95", _SEC),
        (rf"^P99 Latency:\s*({NUM}){END}\s*s", 7, "p99", _SEC),
        (rf"^P999 Latency:\s*({NUM}){END}\s*s", 7, "p999", _SEC),
        # The oldest format (2018-2019).
        (rf"^Total time cost:\s*({NUM}){END}", 3, "total_s", 1.0),
        (rf"^Total iterations:\s*(\d+){END}", 3, "count", None),
        (rf"^Average time cost:\s*({NUM}){END}\s*ms", 4, "avg", 1.0),
        (rf"^Total run time:\s*({NUM}){END}\s*s", 4, "wall_s", 1.0),
        (rf"^Min Latency is\s*({NUM})\s*s", 7, "min", _SEC),
        (rf"^Max Latency is\s*({NUM})\s*s", 7, "max", _SEC),
        (rf"^P50 Latency is\s*({NUM})\s*s", 7, "median", _SEC),
        (rf"^P90 Latency is\s*({NUM})\s*s", 7, "p90", _SEC),
        (rf"^P95 Latency is\s*({NUM})\s*s", 7, "p95", _SEC),
        (rf"^P99 Latency is\s*({NUM})\s*s", 7, "p99", _SEC),
        (rf"^P999 Latency is\s*({NUM})\s*s", 7, "p999", _SEC),
    )
)
_PROVIDER = re.compile(r"^using (\w+?)(?:ExecutionProvider)?$")
# ORT's own log (-v, verbose), with or without its "[V:onnxruntime:, session_state.cc:N Fn]" prefix: which execution
# provider each node went to (VerifyEachNodeIsAssignedToAnEp), and NNAPI's partitioning summary.
_PLACED = re.compile(r"(?:All nodes|Node\(s\)) placed on \[(\w+?)(?:ExecutionProvider)?\]\. Number of nodes: (\d+)")
_CAPABILITY = re.compile(r"NnapiExecutionProvider::GetCapability, number of partitions supported by NNAPI: (\d+),? "
                         r"number of nodes in the graph: (\d+),? number of nodes supported by NNAPI: (\d+)")
_THROWN_AT = re.compile(r"^\S+\.(?:cc|cpp|h):\d+\s+\S.*\)\s+(?=[A-Z\[])")
_ITERATION = re.compile(rf"^iteration:(\d+),time_cost:({NUM})$")
# The tool's own failure lines: what perf_test prints when it stops before measuring (a bad flag, a model
# that does not load, missing test data, an execution provider that cannot be created). These alone make a run.
_OWN = (r"Run failed:.*|See 'onnxruntime_perf_test --help'\.?|.*\[ONNXRuntimeError\].*|there is no test .*|"
        r"illegal input file name:.*|.*Load model from .* failed.*|Error creating environment:.*|"
        r"Failed to compile model:.*|.*\[[EF]:onnxruntime:.*|.*\bis not supported in this build\.?")
_OWN_FAILURE = re.compile(rf"^(?:{_OWN})$")
_FAILURE = re.compile(rf"^(?:{_OWN}|.*failed to initialize.*|Failed to .*|Error: .*|.*ORT_\w+ .*)$")
# Lines only this tool prints (or its command line): they tell which tool a stretch of a log is from.
MARKERS = re.compile(
    r"^(?:Session creation time cost|First inference time cost|Total inference (?:time cost|requests|run time)|"
    r"Average inference time cost|Number of inferences per second|Peak working set size|Avg CPU usage|"
    r"Total CPU usage|Setting intra_op_num_threads|Runs:\d|P(?:50|90|95|99|999) Latency|Min Latency|Max Latency|"
    r"Total time cost:|Total iterations:|Average time cost:|Run failed:|iteration:\d+,time_cost:|"
    r"using \w+ExecutionProvider$|\[ONNXRuntimeError\] : \d+ : \w+ :|Load model from .* failed:|"
    r"there is no test (?:input )?data|Error creating environment:|.*\[[EWF]:onnxruntime:)|"
    r"\bonnxruntime_perf_test\b"
)


_RESULT_ROW = re.compile(rf"^.*,({NUM}),\d+,{NUM},(\d+)$")


def read_result_file(text: str) -> tuple[float, ...]:
    """Per-run times (ms, in run order) from the result file (the positional argument after the model):
    one ``model,time_cost_s,peak_workingset_bytes,avg_cpu,run_index`` row per timed run, then, with ``-s``,
    a blank line and the ``... Latency is X sec`` block, which is not read. Rows run_index 0..N-1; any
    other text is ignored. The model name is the test case's, which may hold commas: rows are matched
    from their end."""
    rows = {}
    for line in text.splitlines():
        m = _RESULT_ROW.match(line.strip())
        if m:
            rows[int(m.group(2))] = float(m.group(1)) * 1000
    return tuple(rows[i] for i in range(len(rows))) if set(rows) == set(range(len(rows))) else ()


def parse_log(text: str, *, invocation: bool = False) -> list[ParsedRun]:
    """Every onnxruntime_perf_test run in the text, in order. ``invocation``: the text is one run of the tool
    (its own log), so every error line in it is the tool's (tools.Reader.error)."""
    return parse_lines(lines_of(text), invocation=invocation)


def parse_lines(lines: Iterable[Line], *, invocation: bool = False) -> list[ParsedRun]:
    """parse_log of the text's lines (tools.iter_lines), read one at a time: only the open run is held."""
    reader = Reader(_finish, invocation=invocation)
    for line in lines:
        reader.saw(line)
        if line.text:
            _read_line(line, reader)
    return reader.done()


def _read_line(line: Line, reader: Reader) -> None:
    s = line.text
    for pattern, phase, key, scale in _FIELDS:
        m = pattern.match(s)
        if m:
            d = reader.at(phase, line)
            value = whole(m.group(1)) if scale is None else num(m.group(1))
            d.set(key, value if scale in (None, 1.0) or value is None else round(value * scale, 6))
            return
    m = _PROVIDER.match(s)
    if m:
        reader.at(0, line).set("backend", m.group(1).lower())
        return
    m = _PLACED.search(s)
    if m:
        nodes = reader.touch(line).extra.setdefault("nodes_by_provider", {})
        nodes[m.group(1)] = nodes.get(m.group(1), 0) + int(m.group(2))
        return
    m = _CAPABILITY.search(s)
    if m:
        reader.touch(line).extra["nnapi_capability"] = {"partitions": int(m.group(1)), "total": int(m.group(2)),
                                                        "delegated": int(m.group(3))}
        return
    m = _ITERATION.match(s)
    if m:
        d = reader.at(2, line)
        value = num(m.group(2))
        if value is not None:
            d.values.setdefault("samples", []).append(round(value * _SEC, 6))
        return
    cmd = echoed_command(s, TOOL)
    if cmd is not None:
        _command(cmd, reader.command(line))
        return
    if _FAILURE.match(s) or line.level in ("ERROR", "FATAL") or SHELL_ERROR.search(s):
        # An ORT exception's text starts with where it was thrown ("/src/.../ort_test_session.cc:387 onnxruntime::
        # perftest::OnnxRuntimeTestSession::OnnxRuntimeTestSession(...) NNAPI is not supported in this build"): the
        # message is what says why.
        reader.error(line, _THROWN_AT.sub("", s, count=1), own=bool(_OWN_FAILURE.match(s)))


def _command(cmd: EchoedCommand, d: Draft) -> None:
    """An echoed command line names what the report does not: the model, -x, -r, -e, the taskset mask."""
    args = list(cmd.args)
    for i, arg in enumerate(args):
        value = args[i + 1] if i + 1 < len(args) else None
        if arg == "-x":
            d.set("cmd_threads", whole(value))
        elif arg == "-r":
            d.set("cmd_repeats", whole(value))
        elif arg == "-t":  # duration mode: it runs for this many seconds, however many runs that is
            d.set("cmd_duration_s", num(value))
        elif arg == "-m" and value in ("duration", "times"):
            d.set("cmd_mode", value)
        elif arg == "-y":
            d.set("cmd_inter_threads", whole(value))
        elif arg == "-I":
            d.extra["generated_inputs"] = True
        elif arg == "-e" and value:
            d.set("cmd_backend", value.lower())
        elif re.search(r"\.(onnx|ort)$", arg) and (i == 0 or args[i - 1] not in ("-u", "-R", "-X")):
            d.set("model_path", arg)
    if cmd.mask:
        d.extra["cpu_mask"] = cmd.mask


def _finish(d: Draft) -> ParsedRun:
    v = d.values
    if v.get("peak_bytes") is None:
        v["peak_bytes"] = v.get("peak_compact")
    if v.get("peak_bytes") is not None:
        v["mem_peak"] = round(v["peak_bytes"] / 2**20, 3)
        d.extra["peak_working_set_bytes"] = v["peak_bytes"]
    if v.get("cpu") is None and v.get("cpu_compact") is not None:
        v["cpu"] = v["cpu_compact"]
    if v.get("cpu_total") is not None:
        d.extra["total_cpu_usage_pct"] = v["cpu_total"]
    if v.get("count") is None:
        v["count"] = v.get("runs")
    v["threads"] = v.get("threads") if v.get("threads") is not None else v.get("cmd_threads")
    v["backend"] = v.get("backend") or v.get("cmd_backend")
    if v.get("first") is not None:
        v["warmup"] = 1  # perf_test's single warm-up run
    # -t (and -m duration) run for a time, not a count: -r, if given too, is not what ran (current builds let the last
    # of -r/-t decide; the count run is what the log says either way).
    duration = v.get("cmd_mode") == "duration" or (v.get("cmd_duration_s") is not None and v.get("cmd_mode") != "times")
    if duration:
        d.extra["test_mode"] = "duration"
        if v.get("cmd_duration_s") is not None:
            d.extra["duration_s"] = v["cmd_duration_s"]
    v["repeats"] = v.get("cmd_repeats") if v.get("cmd_repeats") is not None and not duration else v.get("count")
    inter = v.get("inter_threads") if v.get("inter_threads") is not None else v.get("cmd_inter_threads")
    if inter is not None:
        d.extra["inter_op_threads"] = inter
    for key in ("p99", "p999", "throughput"):
        if v.get(key) is not None:
            d.extra[key + ("_ms" if key != "throughput" else "_per_s")] = v[key]
    if v.get("total_s") is not None:
        d.extra["total_inference_s"] = v["total_s"]
    if v.get("avg") is None and v.get("total_s") is not None and v.get("count"):
        # The tool prints its average as the sum of the runs' times over their number (its "Total inference time cost"
        # and "Total inference requests", both printed above it): the same figure when its own line is unread (cut).
        v["avg"] = round(v["total_s"] / v["count"] * _SEC, 6)
        d.note("average from 'Total inference time cost' / 'Total inference requests' (no average line read)")
    ok = v.get("avg") is not None and not any(e.startswith("Run failed") for e in d.errors)
    missing = ("no result in the log: it ends before onnxruntime_perf_test's 'Average inference time cost' line "
               "(the tool crashed, was killed, or the log is cut)")
    return freeze(d, RUNTIME, TOOL, ok=ok, missing=missing)


# ---------------------------------------------------------------------------------------------
# The -p profile (Chrome trace JSON written on the device)


def parse_profile(text: str, skip_runs: int = 1) -> dict[str, float]:
    """Per-operator-type time (avg ms per run) from an ORT profile (``-p``; the same JSON the Python
    API writes with ``enable_profiling``). Kernel events (cat "Node", ``args.op_name``, ``dur`` in us)
    are assigned to the ``model_run`` that contains them; the first ``skip_runs`` runs are left out
    (perf_test's one warm-up run is profiled too). Raises ParseError for text that is not a profile."""
    import json

    from segbench.errors import ParseError

    try:
        events = json.loads(text)
    except (ValueError, RecursionError):
        raise ParseError("not an onnxruntime profile (not JSON)") from None
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise ParseError("not an onnxruntime profile (not a list of trace events)")
    runs = sorted((e["ts"], e["ts"] + e["dur"]) for e in events if _is_event(e, "Session") and e.get("name") == "model_run")
    if not runs:
        raise ParseError("onnxruntime profile without a model_run event")
    kept = runs[skip_runs:] if len(runs) > skip_runs else runs[-1:]
    totals: dict[str, float] = {}
    for e in events:
        op = (e.get("args") or {}).get("op_name") if isinstance(e.get("args"), dict) else None
        if _is_event(e, "Node") and isinstance(op, str) and any(a <= e["ts"] <= b for a, b in kept):
            totals[op] = totals.get(op, 0.0) + e["dur"]
    return {op: round(us / len(kept) / 1000.0, 6) for op, us in totals.items() if math.isfinite(us)}


def _is_event(e: dict, cat: str) -> bool:
    """A complete trace event of this category with finite numeric ts and dur."""
    values = (e.get("ts"), e.get("dur"))
    return e.get("cat") == cat and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)

