"""TFLite / LiteRT ``benchmark_model``: command line and log parser.

Formats read (docs/vendor-tools.md): old builds print no prefix, TF 2.15+/LiteRT print ``INFO:``,
the Android APK wrapper goes through logcat (``07-08 15:33:55.768 I/tflite  ( 5395): ...``). The
summary line changed from ``Average inference timings in us: Warmup: .., Init: .., Inference: ..``
(TF 1.x: ``no stats: ..``) to ``Inference timings in us: Init: .., First inference: .., Warmup
(avg): .., Inference (avg): ..``; stat lines ``count=.. first=.. curr=.. min=.. max=.. avg=.. std=..``
gained ``p5 median p95``; numbers >= 1e6 us print in scientific notation. Memory: ``Peak memory
footprint (MB): init= overall=`` (TF 2.3/2.4) became ``Memory footprint delta from the start of the
tool (MB): init= overall=``; ``--report_peak_memory_footprint`` adds ``Overall peak memory footprint``.
Op profiling: the ``Summary by node type`` table of the regular runs (not of initialisation) gives
``ops_by_type``; with several subgraphs their tables add up.
"""

from __future__ import annotations

import re
from typing import Any

from segbench.errors import UsageError
from segbench.runners.tools import (
    NUM,
    SHELL_ERROR,
    Draft,
    Line,
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

TOOL = "benchmark_model"
RUNTIME = "tflite"
SELF_BINDING = False
# benchmark_model writes its outputs with --output_filepath (the tool's OutputSaver: after the last run,
# each output tensor's raw bytes in output order, nothing else), so `segbench eval --device` can use it.
NO_OUTPUT_DUMP = None

# backend -> the delegate flags that select it. "cpu" is the plain interpreter without the default
# XNNPACK delegate; None leaves the tool's default (XNNPACK on recent builds).
DELEGATES = {"cpu": ["--use_xnnpack=false"], "xnnpack": ["--use_xnnpack=true"], "gpu": ["--use_gpu=true"],
             "nnapi": ["--use_nnapi=true"], "hexagon": ["--use_hexagon=true"]}
OPTION_KEYS = {
    "xnnpack": ("xnnpack_force_fp16", "xnnpack_weight_cache_file_path"),
    "gpu": ("gpu_precision_loss_allowed", "gpu_experimental_enable_quant", "gpu_backend",
            "gpu_inference_for_sustained_speed", "delegate_serialize_dir", "delegate_serialize_token"),
    "nnapi": ("nnapi_accelerator_name", "nnapi_execution_preference", "nnapi_execution_priority",
              "disable_nnapi_cpu", "nnapi_allow_fp16", "nnapi_allow_dynamic_dimensions", "nnapi_use_burst_mode"),
    "hexagon": ("hexagon_lib_path", "hexagon_profiling"),
    "cpu": (), None: (),
}
# A generous cap on each phase: with the default 150 s, a slow model's 50 repeats stop early.
MAX_SECS = 86400


def build_command(tc: ToolCase) -> list[str]:
    """argv for one run with exact counts: ``--min_secs=0 --warmup_min_secs=0`` so the tool runs
    ``warmup`` and ``repeats`` times, not "at least one second" (which can mean hundreds of runs)."""
    case = tc.case
    if tc.backend not in DELEGATES and tc.backend is not None:
        raise UsageError(f"benchmark_model has no delegate {tc.backend!r}", hint=f"use one of {', '.join(DELEGATES)}")
    argv = [*taskset_prefix(tc.cpu_mask), tc.tool_path, f"--graph={tc.model_path}",
            f"--num_threads={case.threads}", f"--warmup_runs={case.warmup}", "--warmup_min_secs=0",
            f"--num_runs={case.repeats}", "--min_secs=0", f"--max_secs={MAX_SECS}"]
    argv += _inputs(tc)
    argv += DELEGATES.get(tc.backend or "", [])
    allowed = OPTION_KEYS[tc.backend]
    for key, value in tc.backend_options:
        if key not in allowed:
            raise UsageError(f"benchmark_model: option {key!r} does not apply to delegate {tc.backend or 'default'}",
                             hint=f"options for it: {', '.join(allowed) or 'none'}")
        argv.append(f"--{key}={value}")
    if tc.op_profiling:
        argv.append("--enable_op_profiling=true")
    if tc.memory_profile:
        argv.append("--report_peak_memory_footprint=true")
    if tc.output_path:
        argv.append(f"--output_filepath={tc.output_path}")
    return argv


def _inputs(tc: ToolCase) -> list[str]:
    """--input_layer/--input_layer_shape (all inputs, in order) and the raw input file by name."""
    names, shapes = tc.input_names, tc.input_shapes
    for name in names or ():
        if "," in name:  # the tool splits these flags on ','
            raise UsageError(f"input name {name!r} contains ',', which benchmark_model cannot take")
    out = []
    if names and shapes:
        if len(names) != len(shapes):
            raise UsageError(f"{len(names)} input names but {len(shapes)} input shapes")
        out.append("--input_layer=" + ",".join(names))
        out.append("--input_layer_shape=" + ":".join(",".join(str(d) for d in s) for s in shapes))
    if tc.input_path:
        if not names or len(names) != 1:
            raise UsageError("benchmark_model needs the name of the one input that input_path feeds (input_names)")
        if re.search(r"[,:]", tc.input_path):
            raise UsageError(f"input path {tc.input_path!r} contains ',' or ':', which benchmark_model cannot take")
        # A ':' inside a tensor name is escaped as '::' (SplitInputLayerNameAndValueFile).
        out.append(f"--input_layer_value_files={names[0].replace(':', '::')}:{tc.input_path}")
    return out


# ---------------------------------------------------------------------------------------------
# Parsing

_PARAM = re.compile(r"^([A-Za-z#][^\[\]:]*?):\s*\[(.*)\]$")
_PARAMS = {"Num threads": "threads", "#threads used for CPU inference": "cpu_threads", "Graph": "model_path",
           "Min num runs": "repeats", "Num runs": "repeats", "Min warmup runs": "warmup",
           "Num warmup runs": "warmup", "Use gpu": "gpu", "Use NNAPI": "nnapi", "Use xnnpack": "xnnpack",
           "Use Hexagon": "hexagon", "NNAPI accelerator name": "nnapi_accelerator",
           "Enable op profiling": "op_profiling", "Min runs duration (seconds)": "min_secs",
           "Min warmup runs duration (seconds)": "warmup_min_secs"}
_RUNNING = re.compile(rf"^Running benchmark for at least (\d+) iterations and at least ({NUM}) seconds")
_STAT = re.compile(r"^count=(\d+)\b(.*)$")
_PAIR = re.compile(rf"\b(first|curr|min|max|avg|std|p5|median|p95)=({NUM})")
_SUMMARY = re.compile(r"^Inference timings in us:\s*(.*)$")
_SUMMARY_OLD = re.compile(r"^Average inference timings in us:\s*(.*)$")
_TIMING = re.compile(rf"(Init|First inference|Warmup \(avg\)|Inference \(avg\)|Warmup|Inference|no stats):\s*({NUM})")
_MEMORY = re.compile(rf"^(?:Peak memory footprint|Memory footprint delta from the start of the tool) \(MB\):"
                     rf"\s*init=({NUM})\s+overall=({NUM})")
_PEAK = re.compile(rf"^Overall peak memory footprint \(MB\) via periodic monitoring:\s*({NUM})")
_INIT = re.compile(rf"^Initialized session in ({NUM})\s*ms")
_LOADED = re.compile(r"^Loaded model (.+)$")
_SIZE = re.compile(rf"^The input model file size \(MB\):\s*({NUM})")
_APPLIED = re.compile(r"^Explicitly applied (\w+) delegate, and the model graph will be (\w+) executed")
_FAILURE = re.compile(
    r"^(Failed to .*|Benchmarking failed\.?|Please specify the name of your TF Lite input file.*|"
    r"Disallowed CPU fallback detected\.?|Inputs mismatch.*|The size of .* bytes\. It should be .*|"
    r".*dlopen failed.*|Unable to apply .*)$"
)
_GENERIC = "Benchmarking failed."
# Lines only this tool prints (or its command line): they tell which tool a stretch of a log is from.
MARKERS = re.compile(
    r"^(?:STARTING!|Log parameter values verbosely|Num threads: \[|Graph: \[|Running benchmark for at least|"
    r"count=\d+ (?:first|curr)=|Inference timings in us|Average inference timings in us|"
    r"(?:Peak memory footprint|Memory footprint delta from the start of the tool) \(MB\)|"
    r"Initialized session in|The input model file size|Benchmarking failed|"
    r"Operator-wise Profiling Info|Profiling Info for Benchmark Initialization|"
    r"=+ (?:Run Order|Top by Computation Time|Summary by node type) =+|"
    r"Please specify the name of your TF Lite input file)|\bbenchmark_model\b"
)

# Phases of one run, in the order the tool prints them.
P_START, P_PARAMS, P_LOAD, P_INIT, P_WARMUP, P_REGULAR, P_SUMMARY, P_MEMORY, P_PEAK = range(9)


class _State:
    def __init__(self) -> None:
        self.profile = "regular"  # which profile the next tables belong to
        self.table: str | None = None  # "run_order" | "summary" while inside one of those tables


def parse_log(text: str) -> list[ParsedRun]:
    """Every benchmark_model run in the text, in order."""
    reader = Reader(_finish)
    state = _State()
    for line in lines_of(text):
        _read_line(line, reader, state)
    return reader.done()


def _read_line(line: Line, reader: Reader, state: _State) -> None:
    s = line.text
    if not s:
        state.table = None
        return
    if state.table == "summary" and _op_row(line, reader):
        return
    if state.table == "run_order" and _node_row(line, reader):
        return
    if s == "STARTING!":
        reader.at(P_START, line)
        state.profile = "regular"
        return
    if _settings(line, reader) or _timings(line, reader) or _profile(line, reader, state) or _command(line, reader):
        return
    _messages(line, reader)


_CMD_FLAGS = {"--graph": "cmd_model", "--num_threads": "cmd_threads", "--warmup_runs": "cmd_warmup",
              "--num_runs": "cmd_repeats"}


def _command(line: Line, reader: Reader) -> bool:
    """An echoed command line starts a run; its flags fill what the log itself does not say."""
    cmd = echoed_command(line.text, TOOL)
    if cmd is None:
        return False
    d = reader.at(P_START, line)
    for arg in cmd.args:
        key, _, value = arg.partition("=")
        if key in _CMD_FLAGS:
            d.set(_CMD_FLAGS[key], value if key == "--graph" else whole(value))
        elif key in ("--use_gpu", "--use_nnapi", "--use_hexagon") and value == "true":
            d.set(key.removeprefix("--use_"), True)
    if cmd.mask:
        d.extra["cpu_mask"] = cmd.mask
    return True


def _settings(line: Line, reader: Reader) -> bool:
    s = line.text
    m = _PARAM.match(s)
    if m and m.group(1) in _PARAMS:
        key, value = _PARAMS[m.group(1)], m.group(2).strip()
        d = reader.at(P_PARAMS, line)
        if key in ("threads", "cpu_threads", "repeats", "warmup"):
            d.set(key, whole(value))
        elif key in ("gpu", "nnapi", "xnnpack", "hexagon", "op_profiling"):
            d.set(key, value in ("1", "true"))
        else:
            d.set(key, value)
        return True
    m = _LOADED.match(s)
    if m:
        reader.at(P_LOAD, line).set("loaded", m.group(1).strip())
        return True
    m = _SIZE.match(s)
    if m:
        reader.at(P_LOAD, line).extra["model_size_mb"] = num(m.group(1))
        return True
    m = _INIT.match(s)
    if m:
        reader.at(P_INIT, line).set("init_session", num(m.group(1)))
        return True
    m = _APPLIED.match(s)
    if m:
        d = reader.touch(line)
        d.values.setdefault("applied", []).append(m.group(1).lower())
        if m.group(2) != "completely":
            d.note(f"the {m.group(1)} delegate runs the model {m.group(2)}")
        return True
    return False


def _timings(line: Line, reader: Reader) -> bool:
    s = line.text
    m = _RUNNING.match(s)
    if m:
        draft = reader.draft
        phase = P_WARMUP if draft.phase < P_WARMUP else P_REGULAR if draft.phase < P_REGULAR else P_WARMUP
        d = reader.at(phase, line)
        if phase == P_WARMUP:
            d.set("asked_warmup", int(m.group(1)))
            d.set("warmup_min_secs", num(m.group(2)))
        else:
            d.set("asked_repeats", int(m.group(1)))
            d.set("min_secs", num(m.group(2)))
        d.set("stat_phase", phase)
        return True
    m = _STAT.match(s)
    if m:
        draft = reader.draft
        # A stat line after a "Running ..." line belongs to that phase; in a tail with no such
        # line it is the regular runs' (the one that precedes the summary).
        in_phase = draft.phase in (P_WARMUP, P_REGULAR) and draft.get("stat_phase") is not None
        phase = draft.get("stat_phase") if in_phase else P_REGULAR
        d = reader.at(phase, line)
        stat = _stat(int(m.group(1)), m.group(2))
        if not in_phase and d.get("regular_stat") is not None and d.get("warmup_stat") is None:
            d.set("warmup_stat", d.get("regular_stat"))  # two stat lines and no context: warmup came first
        d.set("warmup_stat" if phase == P_WARMUP else "regular_stat", stat)
        return True
    m = _SUMMARY.match(s) or _SUMMARY_OLD.match(s)
    if m:
        d = reader.at(P_SUMMARY, line)
        d.set("summary", {k: num(v) for k, v in _TIMING.findall(m.group(1))})
        d.set("summary_format", "old" if s.startswith("Average") else "new")
        return True
    m = _MEMORY.match(s)
    if m:
        d = reader.at(P_MEMORY, line)
        d.set("mem_init", num(m.group(1)))
        d.set("mem_overall", num(m.group(2)))
        return True
    m = _PEAK.match(s)
    if m:
        reader.at(P_PEAK, line).set("mem_peak", num(m.group(1)))
        return True
    return False


def _stat(count: int, rest: str) -> dict[str, float | None]:
    """One stat line. When every sample was equal the tool prints only ``count=N curr=C [(all same)]``:
    then min, max and median are C and std is 0."""
    stat: dict[str, float | None] = {k: num(v) for k, v in _PAIR.findall(rest)}
    stat["count"] = count
    if "min" not in stat and stat.get("curr") is not None:
        stat.update({"first": stat["curr"], "min": stat["curr"], "max": stat["curr"], "avg": stat["curr"],
                     "std": 0.0})
        stat.setdefault("median", stat["curr"])
    return stat


def _profile(line: Line, reader: Reader, state: _State) -> bool:
    s = line.text
    if s.startswith("Profiling Info for Benchmark Initialization"):
        state.profile = "init"
    elif s.startswith("Operator-wise Profiling Info for Regular Benchmark Runs"):
        state.profile = "regular"
    elif re.match(r"^=+ Summary by node type =+$", s):
        state.table = "summary"
    elif re.match(r"^=+ Run Order =+$", s):
        state.table = "run_order"
    elif re.match(r"^=+ Top by Computation Time =+$", s):
        state.table = None  # the same nodes again, sorted
    else:
        return False
    reader.touch(line).set("profile_section", state.profile)
    return True


def _op_row(line: Line, reader: Reader) -> bool:
    """A 'Summary by node type' row: [node type] [count] [avg ms] ...; header rows are skipped."""
    fields = [f.strip() for f in re.split(r"\t+|\s{2,}", line.text) if f.strip()]
    if fields and fields[0].startswith("["):
        return True
    if len(fields) < 3 or num(fields[2]) is None or whole(fields[1]) is None:
        return False
    d = reader.touch(line)
    if d.get("profile_section", "regular") == "regular":
        d.ops = d.ops or {}
        d.ops[fields[0]] = round(d.ops.get(fields[0], 0.0) + (num(fields[2]) or 0.0), 6)
    return True


def _node_row(line: Line, reader: Reader) -> bool:
    """A 'Run Order' row: [node type] ([start]) [first] [avg ms] [%] [cdf%] [mem KB] [times called] [Name].
    Old builds have the [start] column, newer ones not; [avg ms] is sixth from the end in both."""
    fields = [f.strip() for f in re.split(r"\t+|\s{2,}", line.text) if f.strip()]
    if fields and fields[0].startswith("["):
        return True
    if len(fields) < 8 or num(fields[-6]) is None or whole(fields[-2]) is None:
        return False
    d = reader.touch(line)
    if d.get("profile_section", "regular") == "regular":
        d.extra.setdefault("ops_by_node", []).append(
            {"node": fields[-1], "type": fields[0], "avg_ms": num(fields[-6])})
    return True


def _messages(line: Line, reader: Reader) -> None:
    s = line.text
    if _FAILURE.match(s) or line.level in ("ERROR", "FATAL") or SHELL_ERROR.search(s):
        d = reader.touch(line)
        text = f"{line.level}: {s}" if line.level == "FATAL" else s
        d.errors.append(text[:500])
        if s.startswith(_GENERIC):
            d.set("failed_marker", True)
    elif s.startswith("Unconsumed cmdline flags"):
        reader.touch(line).note(f"tool warned: {s}")


def _error_text(d: Draft) -> list[str]:
    """The tool's own failure line first, then the first ERROR line that says why."""
    specific = [e for e in d.errors if not e.startswith(_GENERIC)]
    fatal = [e for e in specific if e.startswith("FATAL:")]
    failed = [e for e in specific if _FAILURE.match(e)]
    lead = fatal[:1] or failed[-1:] or specific[:1]
    causes = [e for e in specific if e not in lead and not e.startswith("Restored original execution plan")]
    if lead and causes:
        return [f"{lead[0]} ({causes[0]})"]
    return lead or d.errors[:1]


def _finish(d: Draft) -> ParsedRun:
    v = d.values
    summary = v.get("summary") or {}
    regular = v.get("regular_stat") or {}
    warm = v.get("warmup_stat") or {}
    us = 1000.0

    def ms(x: float | None) -> float | None:
        return None if x is None else round(x / us, 6)

    v["avg"] = ms(summary.get("Inference (avg)") or summary.get("Inference") or summary.get("no stats")
                  or (regular.get("avg") if summary else None))
    for key in ("min", "max", "std", "median", "p95"):
        v[key] = ms(regular.get(key))
    v["init"] = ms(summary.get("Init")) if summary.get("Init") is not None else v.get("init_session")
    v["first"] = ms(summary.get("First inference"))
    if not v["first"]:  # no warmup run (--warmup_runs=0 prints 0): the first inference is the first regular run
        source = warm if warm.get("first") is not None else regular
        v["first"] = ms(source.get("first")) if source.get("first") is not None else v["first"]
    v["count"] = regular.get("count")
    v["threads"] = _first(v, "threads", "cpu_threads", "cmd_threads")
    v["warmup"] = _first(v, "warmup", "asked_warmup", "cmd_warmup")
    v["repeats"] = _first(v, "repeats", "asked_repeats", "cmd_repeats")
    v["model_path"] = _first(v, "model_path", "loaded", "cmd_model")
    v["backend"] = _backend(v)
    warm_avg = summary.get("Warmup (avg)") or summary.get("Warmup")
    if warm_avg is not None:
        d.extra["warmup_avg_ms"] = ms(warm_avg)
    if warm.get("count") is not None:
        d.extra["warmup_count"] = warm["count"]
    if v.get("min_secs") or v.get("warmup_min_secs"):
        d.extra["min_secs"] = v.get("min_secs")
    asked = v.get("repeats")
    if asked is not None and v["count"] is not None and v["count"] > asked:
        d.note(f"ran {v['count']} times, not the {asked} asked: --min_secs was not 0")
    if v.get("summary_format") == "old":
        d.note("old summary line (Average inference timings): no first-inference figure")
    ok = bool(summary) and v["avg"] is not None and not v.get("failed_marker")
    d.errors[:] = _error_text(d) if d.errors else []
    missing = ("no result in the log: it ends before benchmark_model's 'Inference timings' line "
               "(the tool crashed, was killed, or the log is cut)")
    if d.ops and not summary and not d.errors:
        missing = "no timing summary in the log, only a per-operator profile"
    return freeze(d, RUNTIME, TOOL, ok=ok, missing=missing)


def _first(v: dict, *keys: str) -> Any:
    """The first of several sources of one setting that the log gives (the tool's own lines first)."""
    return next((v[k] for k in keys if v.get(k) is not None), None)


def _backend(v: dict) -> str | None:
    applied = v.get("applied") or []
    if applied:
        return "+".join(dict.fromkeys(applied))
    for name in ("gpu", "nnapi", "hexagon"):
        if v.get(name):
            return name
    if v.get("xnnpack") is False:
        return "cpu"
    return None
