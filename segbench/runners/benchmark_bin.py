"""Paddle Lite ``benchmark_bin``: command line and log parser.

Formats read (docs/vendor-tools.md has examples of each):

- the sectioned report of v2.10+ (``======= Runtime Info =======`` ... ``Time(unit: ms):``
  ``init/first/min/max/avg``, optional ``Memory Usage(unit: MB|kB)`` and Android ``Device Info``);
- the v2.9 ``--------Summary information--------`` block (``latency(ms):`` is the average);
- the old result file (v2.3-v2.9: ``<model>  min = ..  max = ..  average = ..`` rows under
  ``Threads=N Warmup=W Repeats=R``), whose min and max labels are swapped before 2.10: the
  smaller number is the minimum whatever its label says; and the oldest one (v2.0-v2.2:
  ``-- <model>  avg = .. ms``, the average only);
- profiler tables of a ``--with_profile=ON`` build (``Concise Dispatch`` preferred, else the last
  ``Detailed Dispatch`` table), summed by operator type into ``ops_by_type``.

``first`` is the first warmup run (the cold run); min/max/avg cover the repeats only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from segbench.errors import UsageError
from segbench.model import PADDLE_POWER_MODE, is_explicit_mode, paddle_power_mode
from segbench.runners.tools import (
    NUM,
    SHELL_ERROR,
    Draft,
    Line,
    NoBackend,
    ParsedRun,
    Reader,
    ToolCase,
    freeze,
    lines_of,
    num,
    power_name,
    taskset_prefix,
    whole,
)

TOOL = "benchmark_bin"
RUNTIME = "paddlelite"
# benchmark_bin pins its worker threads itself (sched_setaffinity from --power_mode).
SELF_BINDING = True
# Per-operator times come only from a --with_profile=ON build (no runtime switch): op_profiling adds no flag.
OP_PROFILING = False
# Why `segbench eval --device` cannot use this tool (docs/eval.md).
NO_OUTPUT_DUMP = ("benchmark_bin writes outputs only when built from Paddle Lite's development head "
                  "(--output_data_path, floats as text), which segbench does not read")

# What v2.12 (the manifest's version) takes. The develop head's opencl_buffer backend and --input_data_type
# came after it: v2.12 aborts on the one ("Wrong target") and stops on the other (unknown flag).
BACKENDS = ("arm", "opencl,arm", "opencl", "x86", "opencl,x86", "x86_opencl", "nnadapter,arm")
OPTION_KEYS = ("cpu_precision", "gpu_precision", "opencl_cache_dir", "opencl_kernel_cache_file",
               "opencl_tuned_file", "opencl_tune_mode", "nnadapter_device_names", "nnadapter_context_properties",
               "run_delay")
# Values the tool acts on; anything else is silently ignored (precisions, tune mode) or aborts (device names).
OPTION_CHOICES = {"cpu_precision": ("fp32", "fp16"), "gpu_precision": ("auto", "fp16", "fp32"),
                  "opencl_tune_mode": ("none", "rapid", "normal", "exhaustive")}
NNADAPTER_DEVICES = ("imagination_nna", "rockchip_npu", "mediatek_apu", "huawei_kirin_npu", "huawei_ascend_npu",
                     "amlogic_npu", "verisilicon_timvx")


# segbench backend (model.BACKENDS) -> (--backend, options) at v2.12: ARM CPU kernels, or OpenCL with the ARM
# kernels for what OpenCL lacks; --gpu_precision picks fp32 or fp16 (its default is fp16, so plain gpu says fp32).
SEGBENCH_BACKENDS = {"cpu": (None, ()), "gpu": ("opencl,arm", (("gpu_precision", "fp32"),)),
                     "gpu-fp16": ("opencl,arm", (("gpu_precision", "fp16"),))}
_NO_BACKEND = {
    "xnnpack": "benchmark_bin has no XNNPACK (Paddle Lite runs its own ARM kernels: use cpu)",
    "nnapi": "benchmark_bin v2.12 has no NNAPI: its NNAdapter devices are " + ", ".join(NNADAPTER_DEVICES),
    "nnapi-fp16": "benchmark_bin v2.12 has no NNAPI: its NNAdapter devices are " + ", ".join(NNADAPTER_DEVICES),
    "npu": "benchmark_bin v2.12 reaches NPUs only through NNAdapter (" + ", ".join(NNADAPTER_DEVICES) + "), none "
           "of them a Qualcomm phone's",
}


def backend_args(backend: str, variant: str | None = None) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    """segbench backend -> (ToolCase.backend, backend_options); NoBackend with the reason."""
    if backend not in SEGBENCH_BACKENDS:
        raise NoBackend(_NO_BACKEND.get(backend, f"benchmark_bin has no {backend} backend"))
    return SEGBENCH_BACKENDS[backend]


def build_command(tc: ToolCase) -> list[str]:
    """argv for one run: model, input, threads, ``--power_mode`` number, warmup, repeats, backend.

    No taskset unless ``tc.cpu_mask`` is set: in its own modes Paddle Lite binds its threads from
    ``--power_mode`` (0 high/big cores, 1 low, 2 full, 3 no_bind, 4 rand_high, 5 rand_low). An explicit CPU set
    (a cluster mode or ``cpus:LIST``) is the taskset mask with ``--power_mode=3`` (NO_BIND), so that the tool's own
    binding does not replace the mask: it needs ``tc.cpu_mask``.
    """
    if tc.output_path:
        raise UsageError(NO_OUTPUT_DUMP)
    case = tc.case
    power_mode = paddle_power_mode(case.power_mode)
    if power_mode is None:
        raise UsageError(f"benchmark_bin has no power mode {case.power_mode!r}",
                         hint=f"use one of {', '.join(PADDLE_POWER_MODE)}, or a CPU set with its cpu_mask")
    if is_explicit_mode(case.power_mode) and not tc.cpu_mask:
        raise UsageError(f"power mode {case.power_mode} is a CPU set: benchmark_bin runs it under taskset "
                         "(cpu_mask) with --power_mode=3, and no cpu_mask was given")
    if not tc.input_shapes:
        raise UsageError("benchmark_bin needs the input shape (--input_shape)",
                         hint="set input_shapes, e.g. ((1, 3, 512, 512),)")
    backend = tc.backend or "arm"
    if backend not in BACKENDS:
        raise UsageError(f"benchmark_bin has no backend {backend!r}", hint=f"use one of {', '.join(BACKENDS)}")
    argv = [*taskset_prefix(tc.cpu_mask), tc.tool_path, *_model_flags(tc)]
    argv.append("--input_shape=" + ":".join(",".join(str(d) for d in shape) for shape in tc.input_shapes))
    if tc.input_path and len(tc.input_shapes) != 1:
        # One path per input (':'-separated); a count that differs stops the tool ("ambiguous").
        raise UsageError(f"benchmark_bin gets one input file per input: input_path feeds 1, the model has "
                         f"{len(tc.input_shapes)} input shapes")
    if tc.input_path and ":" in tc.input_path:
        raise UsageError(f"input path {tc.input_path!r} contains ':', which benchmark_bin splits inputs on")
    if tc.input_path:
        argv.append(f"--input_data_path={tc.input_path}")
    argv += [f"--threads={case.threads}", f"--power_mode={power_mode}",
             f"--warmup={case.warmup}", f"--repeats={case.repeats}", f"--backend={backend}"]
    argv += _options(tc.backend_options)
    if tc.memory_profile:
        argv.append("--enable_memory_profile=true")
    if tc.result_path:
        argv.append(f"--result_path={tc.result_path}")
    return argv


def _model_flags(tc: ToolCase) -> list[str]:
    """A .nb is loaded directly; a .pdmodel is converted by opt first, to ``optimized_model_path``."""
    if tc.model_path.endswith(".nb"):
        return [f"--optimized_model_file={tc.model_path}"]
    if not tc.params_path:
        raise UsageError(f"{tc.model_path}: a Paddle model needs its .pdiparams (params_path)")
    # Without --optimized_model_file opt writes ".nb" into the cwd, which is / (read-only) under adb shell.
    optimized = tc.optimized_model_path or re.sub(r"\.pdmodel$", "", tc.model_path) + ".opt.nb"
    return [f"--model_file={tc.model_path}", f"--param_file={tc.params_path}",
            f"--optimized_model_file={optimized}"]


def _options(pairs: tuple[tuple[str, str], ...]) -> list[str]:
    out = []
    for key, value in pairs:
        if key not in OPTION_KEYS:
            raise UsageError(f"benchmark_bin has no option {key!r}", hint=f"use one of {', '.join(OPTION_KEYS)}")
        if key in OPTION_CHOICES and value not in OPTION_CHOICES[key]:
            raise UsageError(f"benchmark_bin --{key} takes {', '.join(OPTION_CHOICES[key])}, not {value!r}")
        if key == "nnadapter_device_names" and not set(value.split(",")) <= set(NNADAPTER_DEVICES):
            raise UsageError(f"benchmark_bin v2.12 knows no nnadapter device {value!r}",
                             hint=f"use one of {', '.join(NNADAPTER_DEVICES)}")
        if key == "run_delay" and num(value) is None:
            raise UsageError(f"benchmark_bin --run_delay takes a number, not {value!r}")
        out.append(f"--{key}={value}")
    return out


# ---------------------------------------------------------------------------------------------
# Parsing

_SECTION = re.compile(r"^=+\s*(Opt|Device|Model|Runtime|Backend|Accurancy|Accuracy|Perf)\s+Info\s*=+$")
_PHASE = {"helper": 0, "delete": 1, "Opt": 2, "summary": 2, "Device": 3, "Model": 4, "Runtime": 5,
          "Backend": 6, "Accurancy": 7, "Accuracy": 7, "Perf": 8, "time": 9, "memory": 10}
_HELPER = re.compile(r"^-{3,}\s*Model=(\S+)\s+Threads=(\d+)\s*-{3,}$")
_TIME = re.compile(r"^Time\(unit:\s*ms\):$")
_MEMORY = re.compile(r"^Memory Usage\(unit:\s*(MB|kB|KB)\):$")
_VALUE = re.compile(rf"^(init|first|min|max|avg|peak)\s*=\s*({NUM})\s*$")
_NOT_SUPPORTED = re.compile(r"^(init|avg|peak)\s*=\s*Not supported yet")
_KV = re.compile(r"^([A-Za-z][A-Za-z _()]*?):\s*(.*)$")
_LOAD = re.compile(r"^Load (?:paddle )?model from (\S+)(?: and (\S+))?$")
_CPU = re.compile(rf"^cpu usage ratio:\s*({NUM})\s*%$")
_SUMMARY29 = re.compile(r"^-+\s*Summary information\s*-+$")
_CONTEXT = re.compile(r"^Threads=(\d+)\s+Warmup=(\d+)\s+Repeats=(\d+)$")
_ROW = re.compile(rf"^(\S+)\s+min\s*=\s*({NUM})\s+max\s*=\s*({NUM})\s+average\s*=\s*({NUM})$")
# The oldest result file (v2.0-v2.2): only the average, "-- mobilenet_v1          avg = 235.0072 ms".
_ROW_AVG = re.compile(rf"^--\s+(\S+)\s+avg\s*=\s*({NUM})\s*ms$")
_ABI = re.compile(r"^run benchmark (armv8|armv7|\S+)$")
_PROFILER = re.compile(r"^=+\s*(Detailed|Concise) (Create|Dispatch) Profiler Summary")
# The tool's own failure lines: these alone make a (failed) run, since a tool that stops at once prints nothing else.
_OWN_ERRORS = re.compile(
    r"^(No model path is set!|Both --uncombined_model_dir.*|Must set --\w+ option!|Option invalid:.*|"
    r"The num of input tensors is ambiguous\.|Mode file\[.*\] not exist!|Input error, .*|"
    r"Illegal opencl tune mode.*|No avaliable device found for nnadapter|The device list for nnadapter is null!|"
    r"Both --validation_set and --config_path options should be set!|Check failed:.*)$"
)
# Any other error-looking line joins a run already open (it may be the library's own complaint).
_ERRORS = re.compile(r"^(Error: .*|.*(?:error|Error|ERROR|failed|FAILED|Failed).*)$")
# Said while the run goes on: worth a note, not a failure.
_WARNINGS = re.compile(r"^(Open input image .* error\.|Fail to open result file: .*|"
                       r"Request thread num: .*|Some cores are offline.*|(?:HIGH|LOW) POWER MODE is not support.*|"
                       r"Find and ignore unsupport nnadapter.*)$")
# What SetRunMode says of its own binding (lite/core/device_info.cc): the thread count it cut to, a cluster the CPU
# lacks (it takes the other), offline cores (it binds nothing). Read into extra.threads_run / extra.binding_said.
_TRUNCATED = re.compile(r"^Request thread num: (\d+), exceed the (big|little) cores size: (\d+), "
                        r"truncate thread num to (\d+)")
_SWITCHED = re.compile(r"^(HIGH|LOW) POWER MODE is not support, switch to (big|little) cores")
_UNBOUND = re.compile(r"^Some cores are offline, switch to NO BIND MODE")


def _binding_said(s: str, extra: dict) -> None:
    m = _TRUNCATED.match(s)
    if m:
        extra["threads_run"] = int(m.group(4))
    if _TRUNCATED.match(s) or _SWITCHED.match(s) or _UNBOUND.match(s):
        extra.setdefault("binding_said", []).append(s)


# Lines only this tool prints (or its command line): they tell which tool a stretch of a log is from.
MARKERS = re.compile(
    r"^(?:=+\s*(?:Opt|Device|Model|Runtime|Backend|Accurancy|Perf) Info\s*=+|benchmark_bin version:|"
    rf"Time\(unit: ms\):|Memory Usage\(unit: (?:MB|kB)\):|(?:init|first)\s+=\s+{NUM}|PaddleLite Benchmark|"
    r"Threads=\d+\s+Warmup=\d+\s+Repeats=\d+$|run benchmark armv[78]$|"
    rf"\S+\s+min = +{NUM}\s+max = +{NUM}\s+average = |--\s+\S+\s+avg = {NUM} ms$|"
    r"-+\s*Summary information\s*-+|latency\(ms\):|"
    r"-{3,}\s*Model=\S+\s+Threads=\d+|Delete previous optimized model:|Load paddle model from|"
    r"=+ (?:Detailed|Concise) (?:Create|Dispatch|Precision) Profiler Summary|"
    r"=+ Detailed Precision Profiler Summary)|\bbenchmark_bin\b"
)


class _State:
    """Where in the report the reader is: which section, which value block, which profiler table."""

    def __init__(self) -> None:
        self.block: str | None = None  # "time" | "memory"
        self.mem_scale = 1.0
        self.table: str | None = None  # "Detailed Dispatch" | "Concise Dispatch" | other (ignored)
        self.avg_from_right = 0
        self.table_ops: dict[str, float] = {}
        self.context: dict[str, int] = {}
        self.abi: str | None = None


def parse_log(text: str, *, invocation: bool = False) -> list[ParsedRun]:
    """Every benchmark_bin run in the text, in order. ``invocation``: the text is one run of the tool
    (its own log), so every error line in it is the tool's (tools.Reader.error)."""
    return parse_lines(lines_of(text), invocation=invocation)


def parse_lines(lines: Iterable[Line], *, invocation: bool = False) -> list[ParsedRun]:
    """parse_log of the text's lines (tools.iter_lines), read one at a time: only the open run is held."""
    reader = Reader(_finish, invocation=invocation)
    state = _State()
    for line in lines:
        reader.saw(line)
        _read_line(line, reader, state)
    _close_table(reader, state)
    return reader.done()


def _read_line(line: Line, reader: Reader, state: _State) -> None:
    s = line.text
    if not s:
        _close_table(reader, state)
        return
    if state.table is not None and _table_row(s, state):
        reader.touch(line)
        return
    for handler in _HANDLERS:
        if handler(line, reader, state):
            return


def _section(line: Line, reader: Reader, state: _State) -> bool:
    m = _SECTION.match(line.text)
    if m:
        name = m.group(1)
        reader.at(_PHASE[name], line)
        state.block = None
        return True
    m = _HELPER.match(line.text)
    if m:  # PaddleSeg's benchmark.sh header: a new run of one model
        d = reader.at(_PHASE["helper"], line)
        d.set("model_name", m.group(1))
        d.set("threads", int(m.group(2)))
        return True
    m = re.match(r"^Delete previous optimized model: (.*)$", line.text)
    if m:
        reader.at(_PHASE["delete"], line)
        return True
    if _SUMMARY29.match(line.text):
        reader.at(_PHASE["summary"], line).set("summary29", True)
        state.block = "summary"
        return True
    return False


def _blocks(line: Line, reader: Reader, state: _State) -> bool:
    s = line.text
    if _TIME.match(s):
        reader.at(_PHASE["time"], line)
        state.block = "time"
        return True
    m = _MEMORY.match(s)
    if m:
        reader.at(_PHASE["memory"], line)
        state.block, state.mem_scale = "memory", (1.0 if m.group(1) == "MB" else 1 / 1024)
        return True
    m = _VALUE.match(s)
    if m and state.block in ("time", "memory"):
        d = reader.at(_PHASE[state.block], line)
        key, value = m.group(1), num(m.group(2))
        if state.block == "time":
            d.set(key, value)
        elif key in ("init", "peak") and value is not None:
            d.set(f"mem_{key}", round(value * state.mem_scale, 6))
        return True
    if _NOT_SUPPORTED.match(s):
        reader.touch(line)
        return True
    return False


def _result_file(line: Line, reader: Reader, state: _State) -> bool:
    """The old result file: context lines and one run per row."""
    s = line.text
    m = _CONTEXT.match(s)
    if m:
        state.context = {"threads": int(m.group(1)), "warmup": int(m.group(2)), "repeats": int(m.group(3))}
        return True
    m = _ABI.match(s)
    if m:
        state.abi = {"armv8": "arm64-v8a", "armv7": "armeabi-v7a"}.get(m.group(1), m.group(1))
        return True
    if s == "PaddleLite Benchmark" or re.fullmatch(r"-{5,}", s):
        return True
    m = _ROW.match(s) or _ROW_AVG.match(s)
    if not m:
        return False
    a, b = (num(m.group(2)), num(m.group(3))) if m.re is _ROW else (None, None)
    avg = num(m.group(m.lastindex or 0))
    reader.flush()
    d = reader.at(0, line)
    d.set("model_name", m.group(1))
    for key, value in state.context.items():
        d.set(key, value)
    d.set("count", state.context.get("repeats"))
    if m.re is _ROW_AVG:
        d.extra["format"] = "result file (v2.0-v2.2, average only)"
    if a is not None and b is not None:
        lo, hi = min(a, b), max(a, b)
        if a > b:
            d.note("min/max labels swapped (benchmark_bin < 2.10 result file): min is the smaller value")
        d.set("min", lo)
        d.set("max", hi)
    d.set("avg", avg)
    d.set("result_file", True)
    if state.abi:
        d.extra["abi"] = state.abi
    reader.flush()
    return True


_SUMMARY_KEYS = {"model_path": "model_path", "model_name": "model_name", "threads": "threads",
                 "power_mode": "power_mode", "warmup": "warmup", "repeats": "repeats", "latency(ms)": "avg",
                 "input_data_path": "input_data_path", "input_shape": "input_shape"}
_REPORT_KEYS = {"Brand": "brand", "Device": "device_name", "Model": "device_model", "Android Version": "android_version",
                "Android API Level": "api_level", "optimized_model_file": "model_path", "input_data_path":
                "input_data_path", "input_shape": "input_shape", "benchmark_bin version": "version", "threads": "threads",
                "power_mode": "power_mode", "warmup": "warmup", "repeats": "repeats", "backend": "backend",
                "cpu precision": "cpu_precision", "gpu precision": "gpu_precision"}
_INTS = {"threads", "warmup", "repeats", "api_level"}


def _key_values(line: Line, reader: Reader, state: _State) -> bool:
    s = line.text
    m = _LOAD.match(s)
    if m:
        d = reader.at(_PHASE["Opt"], line)
        d.set("model_path", m.group(1))
        return True
    m = _CPU.match(s)
    if m:
        d = reader.touch(line)
        d.values.setdefault("cpu_samples", []).append(num(m.group(1)))
        return True
    m = re.match(r"^(Top-\d+) Accurancy:\s*(" + NUM + ")$", s)
    if m:
        reader.touch(line).extra[m.group(1).lower().replace("-", "") + "_accuracy"] = num(m.group(2))
        return True
    m = _KV.match(s)
    if not m:
        return False
    key, value = m.group(1).strip(), m.group(2).strip()
    table = _SUMMARY_KEYS if state.block == "summary" else _REPORT_KEYS
    if key not in table:
        return False
    name = table[key]
    d = reader.touch(line)
    if name == "power_mode":
        n = whole(value)
        d.set("power_mode", power_name(n))
        d.set("power_mode_number", n)
    elif name in _INTS:
        d.set(name, whole(value))
    elif name == "avg":
        d.set("avg", num(value))
    elif value and value != "All 1.f":
        d.set(name, value)
    elif name == "input_data_path":
        d.set(name, "all 1.0")
    return True


def _messages(line: Line, reader: Reader, state: _State) -> bool:
    s = line.text
    if _WARNINGS.match(s):
        draft = reader.touch(line)
        draft.note(f"tool warned: {s}")
        _binding_said(s, draft.extra)
        return True
    m = _PROFILER.match(s)
    if m:
        _close_table(reader, state)
        state.table = f"{m.group(1)} {m.group(2)}"
        state.avg_from_right = 0
        reader.touch(line)
        return True
    own = bool(_OWN_ERRORS.match(s))
    if own or line.level in ("ERROR", "FATAL") or _ERRORS.match(s) or SHELL_ERROR.search(s):
        reader.error(line, s, own=own)
        return True
    return False


_HANDLERS: tuple[Callable[[Line, Reader, _State], bool], ...] = (
    _section, _blocks, _result_file, _key_values, _messages)


def _table_row(s: str, state: _State) -> bool:
    """A profiler table's header or row; rows are summed per operator type."""
    tokens = s.split()
    if tokens and tokens[0] == "OperatorType" and "Avg(ms)" in tokens:
        state.avg_from_right = len(tokens) - tokens.index("Avg(ms)")
        return True
    if not state.avg_from_right or len(tokens) < state.avg_from_right + 1:
        return False
    value = num(tokens[-state.avg_from_right])
    if value is None or not re.fullmatch(r"[A-Za-z_][\w.]*", tokens[0]):
        return False
    state.table_ops[tokens[0]] = state.table_ops.get(tokens[0], 0.0) + value
    return True


def _close_table(reader: Reader, state: _State) -> None:
    """A dispatch table ends: its sums become the run's ops (Concise beats Detailed, later beats earlier)."""
    if state.table in ("Concise Dispatch", "Detailed Dispatch") and state.table_ops:
        d = reader.draft
        rank = 2 if state.table == "Concise Dispatch" else 1
        if rank >= d.values.get("ops_rank", 0):
            d.ops = {k: round(v, 6) for k, v in state.table_ops.items()}
            d.values["ops_rank"] = rank
            d.extra["ops_source"] = state.table + " Profiler Summary"
    state.table, state.table_ops, state.avg_from_right = None, {}, 0


def _finish(d: Draft) -> ParsedRun:
    v = d.values
    cpu = [c for c in v.pop("cpu_samples", []) if c is not None]
    if cpu:
        v["cpu"] = round(sum(cpu) / len(cpu), 3)
    if v.get("summary29") or v.get("result_file"):
        d.extra.setdefault("format", "v2.9 summary" if v.get("summary29") else "result file (v2.3-v2.9)")
    if v.get("count") is None and v.get("avg") is not None and not v.get("summary29"):
        v["count"] = v.get("repeats")
    for key in ("input_shape", "input_data_path", "cpu_precision", "gpu_precision", "power_mode_number"):
        if v.get(key) is not None:
            d.extra[key] = v[key]
    ok = v.get("avg") is not None
    missing = ("no result in the log: it ends before benchmark_bin's 'Time(unit: ms)' figures "
               "(the tool crashed, was killed, or the log is cut)")
    if d.ops and not ok and not d.errors:
        missing = "no timing summary in the log, only a per-operator profile"
    return freeze(d, RUNTIME, TOOL, ok=ok, missing=missing)
