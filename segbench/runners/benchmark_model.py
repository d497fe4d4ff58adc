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
``ops_by_type``. A model with several subgraphs (control flow bodies, signatures) gets one table per subgraph under
``Primary graph (name: ..) profile:`` / ``Subgraph (index: i, name: ..) profile:``: the graph that was run (the
primary one, or the signature's) gives ``ops_by_type`` (its control-flow ops already hold the time of the subgraphs
they call); the others are kept apart in ``extra.subgraph_ops_by_type``. ``--list_signatures`` lists the model's
signatures and stops before any run: a failed record saying so, with ``extra.signatures``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from segbench.errors import UsageError
from segbench.runners.tools import (
    END,
    NUM,
    SHELL_ERROR,
    Draft,
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
# The tool_version of a run printed by LiteRT 2.x's benchmark_model (it prints no version string itself; its
# BENCHMARK RESULTS block is what tells it from the classic TFLite tool of the same name).
LITERT_VERSION = "LiteRT 2.x"
# A generous cap on each phase: with the default 150 s, a slow model's 50 repeats stop early.
MAX_SECS = 86400


# LiteRT 2.x's --result_file_path: a serialized tflite.tools.benchmark.BenchmarkResult (proto2; the message in
# LiteRT's tflite/tools/benchmark/proto/benchmark_result.proto). Field numbers -> our names, per sub-message
# (2 latency, 3 memory, 4 misc); kind f = float, i = int32/int64. Name (1) is not read.
LITERT = "litert"
RESULT_FILE_VARIANTS = (LITERT,)
RESULT_FIELDS = {
    2: {1: ("avg_ms", "f"), 2: ("min_ms", "f"), 3: ("max_ms", "f"), 4: ("std_ms", "f"), 5: ("median_ms", "f"),
        6: ("p5_ms", "f"), 7: ("p95_ms", "f"), 8: ("init_ms", "f"), 9: ("first_ms", "f"), 10: ("warmup_avg_ms", "f")},
    3: {1: ("init_footprint_kb", "i"), 2: ("overall_footprint_kb", "i"), 3: ("peak_mem_mb", "f")},
    4: {1: ("model_size_mb", "f"), 2: ("num_runs", "i"), 3: ("num_warmup_runs", "i"), 4: ("throughput_mb_s", "f")},
}


def read_result_proto(data: bytes) -> dict[str, float | int]:
    """The figures of a BenchmarkResult file, by our names (RESULT_FIELDS); fields it does not set are absent and
    unknown ones are skipped, as protobuf readers do. Raises ParseError for bytes that are no such message."""
    from segbench import protowire
    from segbench.errors import ParseError

    out: dict[str, float | int] = {}
    try:
        top = protowire.fields(data)
        for number, names in RESULT_FIELDS.items():
            for raw_message in top.get(number, []):  # a repeated sub-message merges, the last value winning
                for field, values in protowire.as_message(raw_message).items():
                    if field in names:
                        name, kind = names[field]
                        out[name] = protowire.as_float(values[-1]) if kind == "f" else protowire.as_int64(values[-1])
    except protowire.WireError as exc:
        raise ParseError(f"not a LiteRT benchmark result file: {exc}") from None
    if not out:
        raise ParseError("the LiteRT benchmark result file holds no figures")
    return out


def write_result_proto(values: dict[str, float | int]) -> bytes:
    """A BenchmarkResult message holding ``values`` (RESULT_FIELDS' names; others are ignored)."""
    from segbench import protowire

    out = b""
    for number, names in RESULT_FIELDS.items():
        body = b""
        for field, (name, kind) in names.items():
            if values.get(name) is not None:
                body += (protowire.field_float(field, float(values[name])) if kind == "f"
                         else protowire.field_varint(field, int(values[name])))
        if body:
            out += protowire.field_bytes(number, body)
    return out


# Option values the tool accepts (the rest fail to parse or are refused at start-up).
OPTION_CHOICES = {"gpu_backend": ("cl", "gl"),
                  "nnapi_execution_preference": ("fast_single_answer", "sustained_speed", "low_power", "undefined"),
                  "nnapi_execution_priority": ("default", "low", "medium", "high")}
BOOL_OPTIONS = {"xnnpack_force_fp16", "gpu_precision_loss_allowed", "gpu_experimental_enable_quant",
                "gpu_inference_for_sustained_speed", "disable_nnapi_cpu", "nnapi_allow_fp16",
                "nnapi_allow_dynamic_dimensions", "nnapi_use_burst_mode", "hexagon_profiling", "gpu_low_priority",
                "enable_weight_sharing", "convert_weights_on_gpu", "gpu_serialize_external_tensors",
                "gpu_prefer_texture_weights", "gpu_wait_for_weights_conversion_complete",
                "gpu_cache_compiled_programs_only"}

# LiteRT 2.x's benchmark_model (variant "litert"): hardware accelerators instead of delegate providers. Its CPU
# accelerator is XNNPACK; there is no NNAPI or Hexagon, no input-file flag and no output dump.
LITERT_ACCELERATORS = {"cpu": ["--use_cpu=true"], "xnnpack": ["--use_cpu=true"],
                       "gpu": ["--use_gpu=true"], "npu": ["--use_npu=true"]}
LITERT_OPTION_KEYS = {
    "cpu": ("xnnpack_weight_cache_file_path",), "xnnpack": ("xnnpack_weight_cache_file_path",),
    "gpu": ("gpu_backend", "gpu-precision", "gpu_low_priority", "enable_weight_sharing", "convert_weights_on_gpu",
            "gpu_serialization_dir", "gpu_model_cache_key", "gpu_serialize_external_tensors",
            "gpu_prefer_texture_weights", "gpu_wait_for_weights_conversion_complete",
            "gpu_cache_compiled_programs_only"),
    "npu": ("dispatch_library_path", "compiler_plugin_library_path", "compiler_cache_path"),
    None: (),
}
LITERT_OPTION_CHOICES = {"gpu-precision": ("auto", "fp16", "fp32")}
LITERT_NO_OUTPUT_DUMP = "LiteRT's benchmark_model has no --output_filepath: it cannot write its outputs"


# segbench backend (model.BACKENDS) -> (ToolCase.backend, backend_options). The classic tool: "cpu" is its default
# (no delegate flag: recent builds apply XNNPACK by default); the GPU delegate allows precision loss unless told
# not to (gpu_precision_loss_allowed defaults to true), so plain "gpu" says false; NNAPI computes in fp32 unless
# nnapi_allow_fp16.
CLASSIC_BACKENDS = {"cpu": (None, ()), "xnnpack": ("xnnpack", ()),
                    "gpu": ("gpu", (("gpu_precision_loss_allowed", "false"),)),
                    "gpu-fp16": ("gpu", (("gpu_precision_loss_allowed", "true"),)),
                    "nnapi": ("nnapi", ()), "nnapi-fp16": ("nnapi", (("nnapi_allow_fp16", "true"),))}
# LiteRT 2.x: accelerators; its CPU accelerator is XNNPACK; --gpu-precision picks fp32 or fp16.
LITERT_BACKENDS = {"cpu": (None, ()), "xnnpack": ("xnnpack", ()), "gpu": ("gpu", (("gpu-precision", "fp32"),)),
                   "gpu-fp16": ("gpu", (("gpu-precision", "fp16"),)), "npu": ("npu", ())}
_NO_BACKEND = {
    (None, "npu"): "the classic benchmark_model reaches an NPU only through NNAPI (use nnapi) or LiteRT 2.x's tool "
                   "(--tool litert)",
    (LITERT, "nnapi"): "LiteRT 2.x's benchmark_model has no NNAPI (its accelerators are CPU, GPU and NPU)",
    (LITERT, "nnapi-fp16"): "LiteRT 2.x's benchmark_model has no NNAPI (its accelerators are CPU, GPU and NPU)",
}


def backend_args(backend: str, variant: str | None = None) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    """segbench backend -> (ToolCase.backend, backend_options) for this build; NoBackend with the reason."""
    table = LITERT_BACKENDS if variant == LITERT else CLASSIC_BACKENDS
    if backend not in table:
        raise NoBackend(_NO_BACKEND.get((variant, backend), f"benchmark_model has no {backend} backend"))
    return table[backend]


def build_command(tc: ToolCase) -> list[str]:
    """argv for one run with exact counts: ``--min_secs=0 --warmup_min_secs=0`` so the tool runs
    ``warmup`` and ``repeats`` times, not "at least one second" (which can mean hundreds of runs)."""
    if tc.variant not in (None, LITERT):
        raise UsageError(f"benchmark_model has no variant {tc.variant!r}", hint="use litert or none (the classic tool)")
    case = tc.case
    argv = [*taskset_prefix(tc.cpu_mask), tc.tool_path, f"--graph={tc.model_path}",
            f"--num_threads={case.threads}", f"--warmup_runs={case.warmup}", "--warmup_min_secs=0",
            f"--num_runs={case.repeats}", "--min_secs=0", f"--max_secs={MAX_SECS}"]
    if tc.variant == LITERT:
        return argv + _litert_flags(tc)
    if tc.backend not in DELEGATES and tc.backend is not None:
        raise UsageError(f"benchmark_model has no delegate {tc.backend!r}", hint=f"use one of {', '.join(DELEGATES)}")
    argv += _inputs(tc)
    argv += DELEGATES.get(tc.backend or "", [])
    argv += _options(tc.backend_options, OPTION_KEYS[tc.backend], tc.backend, OPTION_CHOICES)
    if tc.op_profiling:
        argv.append("--enable_op_profiling=true")
    if tc.memory_profile:
        argv.append("--report_peak_memory_footprint=true")
    if tc.output_path:
        argv.append(f"--output_filepath={tc.output_path}")
    return argv


def _options(pairs: tuple[tuple[str, str], ...], allowed: tuple[str, ...], backend: str | None,
             choices: dict[str, tuple[str, ...]]) -> list[str]:
    out = []
    for key, value in pairs:
        if key not in allowed:
            raise UsageError(f"benchmark_model: option {key!r} does not apply to {backend or 'the default backend'}",
                             hint=f"options for it: {', '.join(allowed) or 'none'}")
        if key in BOOL_OPTIONS and value not in ("true", "false", "1", "0"):
            raise UsageError(f"benchmark_model --{key} takes true or false, not {value!r}")
        if key in choices and value not in choices[key]:
            raise UsageError(f"benchmark_model --{key} takes {', '.join(choices[key])}, not {value!r}")
        out.append(f"--{key}={value}")
    return out


def _litert_flags(tc: ToolCase) -> list[str]:
    """LiteRT 2.x: the accelerator (--use_cpu/--use_gpu/--use_npu; None leaves its default, the CPU), its
    options, --use_profiler for op profiling, --result_file_path for its result proto. Inputs are always the
    tool's own random data: it has no flag to read a file (input_path is not passed; the caller says so)."""
    if tc.output_path:
        raise UsageError(LITERT_NO_OUTPUT_DUMP)
    if tc.backend is not None and tc.backend not in LITERT_ACCELERATORS:
        raise UsageError(f"LiteRT's benchmark_model has no accelerator {tc.backend!r}",
                         hint=f"use one of {', '.join(LITERT_ACCELERATORS)}")
    out = list(LITERT_ACCELERATORS.get(tc.backend or "", []))
    if tc.backend in ("gpu", "npu"):
        out.append("--use_cpu=false")  # the accelerator asked for, not a silent CPU fallback
    out += _options(tc.backend_options, LITERT_OPTION_KEYS[tc.backend], tc.backend, LITERT_OPTION_CHOICES)
    if tc.op_profiling:
        out.append("--use_profiler=true")
    if tc.memory_profile:
        out.append("--report_peak_memory_footprint=true")
    if tc.result_path:
        out.append(f"--result_file_path={tc.result_path}")
    return out


def _inputs(tc: ToolCase) -> list[str]:
    """--input_layer/--input_layer_shape (all inputs, in order) and the raw input file by name. The classic tool
    looks every --input_layer_value_files name up in --input_layer and aborts when it is not there, so a file
    always comes with the input names and shapes."""
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
        if not shapes:
            raise UsageError("benchmark_model needs the input's shape with an input file (input_shapes): "
                             "without --input_layer the tool aborts on --input_layer_value_files")
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
           "Min warmup runs duration (seconds)": "warmup_min_secs", "Signature to run": "signature",
           "List signatures from the provided model": "list_signatures"}
_RUNNING = re.compile(rf"^Running benchmark for at least (\d+) iterations and at least ({NUM}) seconds")
_STAT = re.compile(r"^count=(\d+)\b(.*)$")
_PAIR = re.compile(rf"\b(first|curr|min|max|avg|std|p5|median|p95)=({NUM}){END}")
_SUMMARY = re.compile(r"^Inference timings in us:\s*(.*)$")
_SUMMARY_OLD = re.compile(r"^Average inference timings in us:\s*(.*)$")
_TIMING = re.compile(rf"(Init|First inference|Warmup \(avg\)|Inference \(avg\)|Warmup|Inference|no stats):\s*({NUM}){END}")
_MEMORY = re.compile(rf"^(?:Peak memory footprint|Memory footprint delta from the start of the tool) \(MB\):"
                     rf"\s*init=({NUM}){END}(?:\s+overall=({NUM}){END})?")
_PEAK = re.compile(rf"^Overall peak memory footprint \(MB\) via periodic monitoring:\s*({NUM}){END}")
_INIT = re.compile(rf"^Initialized session in ({NUM})\s*ms")
_LOADED = re.compile(r"^(?:Loaded model|Loading model from:)\s*(.+)$")
# LiteRT 2.x (litert/tools:benchmark_model, the CompiledModel API) ends with its own block instead of the
# "Inference timings in us" line: "========== BENCHMARK RESULTS ==========", then one "label: value" line
# each, in ms with 2 decimals, run counts in brackets, a "Memory Usage:" part, and a closing "=====" line.
_RESULTS = re.compile(r"^=*\s*BENCHMARK RESULTS\s*=*$")
_RESULT = re.compile(rf"^(Model initialization|Warmup \(first\)|First inference|Warmup \(avg\)|"
                     rf"Inference \((?:avg|min|max|std|median|p5|p95)\)|Throughput|Init footprint|"
                     rf"Overall footprint|Peak memory):\s*({NUM})(?:\s*(ms|MB/s|MB)\b|{END})(?:\s*\((\d+) runs?\))?")
_RESULT_KEYS = {"Model initialization": "init", "Warmup (first)": "first", "First inference": "first",
                "Warmup (avg)": "warmup_avg", "Inference (avg)": "avg", "Inference (min)": "min",
                "Inference (max)": "max", "Inference (std)": "std", "Inference (median)": "median",
                "Inference (p5)": "p5", "Inference (p95)": "p95", "Throughput": "throughput_mb_s",
                "Init footprint": "mem_init", "Overall footprint": "mem_overall", "Peak memory": "mem_peak"}
# The op profiler's own timing of the profiled runs, under its per-node tables; a subgraph other than the primary
# one has its own, prefixed with its header's words.
_PROFILER_TIMINGS = re.compile(r"^(?:Subgraph \(index: (\d+), name: .*\) )?Timings \(microseconds\):\s*count=(\d+)\b(.*)$")
# The header of one subgraph's tables, printed only when a subgraph other than the primary one (index 0) was profiled.
_GRAPH = re.compile(r"^(?:Primary graph \(name: (.*)\)|Subgraph \(index: (\d+), name: (.*)\)) profile:$")
# A model's signatures: listed by --list_signatures (which then stops), or by the error of a run that named none
# (or a wrong one) for a model with several.
_SIGNATURE_KEY = re.compile(r"^\s*(?:-> Signature Key|#> Signature key): (.*)$")
_SIGNATURE_COUNT = re.compile(r"^The Model contains (\d+) signature key\(s\)\.$")
_USING_SIGNATURE = re.compile(r"^Using signature: (.*)$")
_SIZE = re.compile(rf"^The input model file size \(MB\):\s*({NUM}){END}")
_APPLIED = re.compile(r"^Explicitly applied (\w+) delegate, and the model graph will be (\w+) executed"
                      r"(?: by the delegate w/ (\d+) delegate kernels)?")
# The delegate took no node: the whole model runs on the CPU (TFLite's own kernels or XNNPACK).
_NOT_APPLIED = re.compile(r"^Though (\w+) delegate is explicitly applied, the model graph will not be executed")
# The runtime's count of what a delegate took (VERBOSE), per delegate kernel: the default XNNPACK one too.
_REPLACING = re.compile(r"^Replacing (\d+) out of (\d+) node\(s\) with delegate \((\w+)\) node, yielding (\d+) partitions")
_FAILURE = re.compile(
    r"^(Failed to .*|Benchmarking failed\.?|Please specify the name of your TF Lite input file.*|"
    r"Disallowed CPU fallback detected\.?|Inputs mismatch.*|The size of .* bytes\. It should be .*|"
    r".*dlopen failed.*|Unable to apply .*)$"
)
# The tool's own failure lines (not the shared-library lines such as "dlopen failed"): these may start a run.
_OWN_FAILURE = re.compile(
    r"^(Failed to .*|Benchmarking failed\.?|Please specify the name of your TF Lite input file.*|"
    r"Disallowed CPU fallback detected\.?|Inputs mismatch.*|The size of .* bytes\. It should be .*|"
    r"No inference runs were performed\.?)$"
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
    r"Please specify the name of your TF Lite input file|=+ BENCHMARK RESULTS =+|Model initialization: |"
    r"Warmup \(first\): |Inference \(avg\): +[\d.]+ ms|Timings \(microseconds\): count=|"
    r"The Model contains \d+ signature key)|\bbenchmark_model\b"
)

# Phases of one run, in the order the tool prints them.
P_START, P_PARAMS, P_LOAD, P_INIT, P_WARMUP, P_REGULAR, P_SUMMARY, P_MEMORY, P_PEAK = range(9)


class _State:
    def __init__(self) -> None:
        self.profile = "regular"  # which profile the next tables belong to
        self.table: str | None = None  # "run_order" | "summary" while inside one of those tables
        self.graph = 0  # the subgraph whose tables come next (0, the primary one, until a header names another)
        self.results = False  # inside LiteRT's BENCHMARK RESULTS block


def parse_log(text: str, *, invocation: bool = False) -> list[ParsedRun]:
    """Every benchmark_model run in the text, in order. ``invocation``: the text is one run of the tool
    (its own log), so every error line in it is the tool's (tools.Reader.error)."""
    return parse_lines(lines_of(text), invocation=invocation)


def parse_lines(lines: Iterable[Line], *, invocation: bool = False) -> list[ParsedRun]:
    """parse_log of the text's lines (tools.iter_lines), read one at a time: only the open run is held."""
    reader = Reader(_finish, invocation=invocation)
    state = _State()
    for line in lines:
        reader.saw(line)
        _read_line(line, reader, state)
    return reader.done()


def _read_line(line: Line, reader: Reader, state: _State) -> None:
    s = line.text
    if not s:
        state.table = None
        return
    if state.table == "summary" and _op_row(line, reader, state):
        return
    if state.table == "run_order" and _node_row(line, reader, state):
        return
    if s == "STARTING!":
        reader.at(P_START, line)
        state.profile, state.results, state.graph = "regular", False, 0
        return
    if _results(line, reader, state):
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
    d = reader.command(line)
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
        elif key in ("gpu", "nnapi", "xnnpack", "hexagon", "op_profiling", "list_signatures"):
            d.set(key, value in ("1", "true"))
        else:
            d.set(key, value or None)  # "Signature to run: []": none named
        return True
    m = _LOADED.match(s) or _USING_SIGNATURE.match(s) or _SIGNATURE_COUNT.match(s) or _SIGNATURE_KEY.match(s)
    if m and m.re is not _LOADED:
        return _signatures(m, reader.touch(line))
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
        d.extra.setdefault("delegates", {})[m.group(1).lower()] = m.group(2)
        if m.group(2) != "completely":
            d.note(f"the {m.group(1)} delegate runs the model {m.group(2)}")
        return True
    m = _NOT_APPLIED.match(s)
    if m:
        d = reader.touch(line)
        d.extra.setdefault("delegates", {})[m.group(1).lower()] = "not"
        d.note(f"the {m.group(1)} delegate was applied but runs no part of the model: it ran on the CPU")
        return True
    m = _REPLACING.match(s)
    if m:
        d = reader.touch(line)
        d.extra.setdefault("delegate_nodes", {})[m.group(3)] = {
            "delegated": int(m.group(1)), "total": int(m.group(2)), "partitions": int(m.group(4))}
        return True
    return False


def _signatures(m: re.Match, d: Draft) -> bool:
    """The signature a run used, or the model's signatures as the tool lists them."""
    if m.re is _USING_SIGNATURE:
        d.set("signature", m.group(1).strip())
    elif m.re is _SIGNATURE_COUNT:
        d.set("signature_count", int(m.group(1)))
        d.values.setdefault("signatures", [])
    else:
        d.values.setdefault("signatures", []).append(m.group(1).strip())
    return True


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
        d.set("summary_line", line.no)
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


def _results(line: Line, reader: Reader, state: _State) -> bool:
    """LiteRT's BENCHMARK RESULTS block: its figures as printed (ms), kept apart from the classic summary."""
    s = line.text
    if _RESULTS.match(s):
        d = reader.at(P_SUMMARY, line)
        d.set("results", {})
        state.results = True
        return True
    if not state.results:
        return False
    d = reader.touch(line)
    m = _RESULT.match(s)
    if m:
        key = _RESULT_KEYS[m.group(1)]
        d.values["results"][key] = num(m.group(2))
        if m.group(4) is not None:
            d.values["results"][key + "_runs"] = int(m.group(4))
    elif s.startswith("Signature name:"):
        d.extra["signature"] = s.partition(":")[2].strip()
    elif s.startswith("No inference runs were performed"):
        d.errors.append(s)
    elif re.fullmatch(r"=+", s):
        state.results = False
    elif not (s == "Memory Usage:" or s.startswith(("No throughput data", "Peak memory usage not available",
                                                    "Fully accelerated"))):
        state.results = False  # something else: the block is over
        return False
    return True


def _stat(count: int, rest: str) -> dict[str, float | None]:
    """One stat line. When every sample was equal the tool prints only ``count=N curr=C [(all same)]``:
    then min, max and median are C and std is 0."""
    stat: dict[str, float | None] = {k: num(v) for k, v in _PAIR.findall(rest)}
    stat["count"] = count
    # (A line with first= but no min= is not that form but a line cut short: its figures are what it shows.)
    if "min" not in stat and "first" not in stat and stat.get("curr") is not None:
        stat.update({"first": stat["curr"], "min": stat["curr"], "max": stat["curr"], "avg": stat["curr"],
                     "std": 0.0})
        stat.setdefault("median", stat["curr"])
    return stat


def _profile(line: Line, reader: Reader, state: _State) -> bool:
    s = line.text
    if s.startswith("Profiling Info for Benchmark Initialization"):
        state.profile, state.graph = "init", 0
    elif s.startswith("Operator-wise Profiling Info for Regular Benchmark Runs"):
        state.profile, state.graph = "regular", 0
    elif _GRAPH.match(s):
        m = _GRAPH.match(s)
        state.graph = int(m.group(2)) if m.group(2) is not None else 0
        if state.profile == "regular":
            _graph(reader.touch(line), state.graph)["name"] = m.group(1) if m.group(2) is None else m.group(3)
    elif s.startswith("Delegate internal:"):
        # The profiler's last part: the ops inside a delegate's kernels (XNNPACK's "Convolution (NHWC, F32) IGEMM"),
        # whose time the graph's tables already hold as the delegate's node (TfLiteXNNPackDelegate): kept apart.
        state.profile = "delegate" if state.profile == "regular" else state.profile
    elif re.match(r"^=+ Summary by node type =+$", s):
        state.table = "summary"
    elif re.match(r"^=+ Run Order =+$", s):
        state.table = "run_order"
    elif re.match(r"^=+ Top by Computation Time =+$", s):
        state.table = None  # the same nodes again, sorted
    elif _PROFILER_TIMINGS.match(s):
        m = _PROFILER_TIMINGS.match(s)
        d = reader.touch(line)
        # The regular runs' figure of each graph (the delegate's and the initialisation profile's are no run's).
        if state.profile == "regular":
            graph = _graph(d, int(m.group(1)) if m.group(1) is not None else state.graph)
            if graph["stat"] is None:
                graph["stat"] = _stat(int(m.group(2)), m.group(3))
        return True
    else:
        return False
    reader.touch(line).set("profile_section", state.profile)
    return True


def _graph(d: Draft, index: int) -> dict[str, Any]:
    """The regular runs' profile of subgraph ``index`` (its name, ops by type, nodes, Timings line), made on first use."""
    return d.values.setdefault("graphs", {}).setdefault(index, {"name": None, "ops": {}, "nodes": [], "stat": None})


def _op_row(line: Line, reader: Reader, state: _State) -> bool:
    """A 'Summary by node type' row: [node type] [count] [avg ms] ...; header rows are skipped."""
    fields = [f.strip() for f in re.split(r"\t+|\s{2,}", line.text) if f.strip()]
    if fields and fields[0].startswith("["):
        return True
    if len(fields) < 3 or num(fields[2]) is None or whole(fields[1]) is None:
        return False
    d = reader.touch(line)
    section = d.get("profile_section", "regular")
    if section == "regular":
        ops = _graph(d, state.graph)["ops"]
        ops[fields[0]] = round(ops.get(fields[0], 0.0) + (num(fields[2]) or 0.0), 6)
    elif section == "delegate":
        inside = d.extra.setdefault("delegate_ops_by_type", {})
        inside[fields[0]] = round(inside.get(fields[0], 0.0) + (num(fields[2]) or 0.0), 6)
    return True


def _node_row(line: Line, reader: Reader, state: _State) -> bool:
    """A 'Run Order' row: [node type] ([start]) [first] [avg ms] [%] [cdf%] [mem KB] [times called] [Name].
    Old builds have the [start] column, newer ones not; [avg ms] is sixth from the end in both."""
    fields = [f.strip() for f in re.split(r"\t+|\s{2,}", line.text) if f.strip()]
    if fields and fields[0].startswith("["):
        return True
    if len(fields) < 8 or num(fields[-6]) is None or whole(fields[-2]) is None:
        return False
    d = reader.touch(line)
    if d.get("profile_section", "regular") == "regular":
        _graph(d, state.graph)["nodes"].append({"node": fields[-1], "type": fields[0], "avg_ms": num(fields[-6])})
    return True


def _messages(line: Line, reader: Reader) -> None:
    s = line.text
    if _FAILURE.match(s) or line.level in ("ERROR", "FATAL") or SHELL_ERROR.search(s):
        reader.error(line, f"{line.level}: {s}" if line.level == "FATAL" else s, own=bool(_OWN_FAILURE.match(s)))
        if s.startswith(_GENERIC):
            reader.draft.set("failed_marker", True)
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


def _profiled_graphs(d: Draft) -> None:
    """ops_by_type, ops_by_node and the profiler's Timings line from the graph that was run; the other subgraphs'
    tables in extra.subgraph_ops_by_type (by index), every profiled subgraph's name in extra.subgraph_names.

    The graph that was run: the primary one (index 0) when profiled; else the only one profiled; else the one named
    as the run's signature; else the one whose Timings average is the largest (a caller's WHILE, IF or CALL_ONCE
    node holds the time of the subgraphs it calls, so adding their tables to it would count them twice)."""
    graphs: dict[int, dict[str, Any]] = d.values.get("graphs") or {}
    if not graphs:
        return
    signature = d.get("signature")
    named = [i for i, g in graphs.items() if signature and g["name"] == signature]
    if 0 in graphs or len(graphs) == 1 or named:
        entry = 0 if 0 in graphs else named[0] if named else next(iter(graphs))
    else:
        entry = max(graphs, key=lambda i: (graphs[i]["stat"] or {}).get("avg") or 0.0)
        d.note(f"op profile: the primary graph was not profiled; subgraph {entry}'s tables are the run's "
               "(the largest Timings average of the subgraphs profiled)")
    main = graphs[entry]
    d.ops = dict(main["ops"]) or None
    if main["nodes"]:
        d.extra["ops_by_node"] = main["nodes"]
    if main["stat"] is not None:
        d.values["profiler_stat"] = main["stat"]
    if len(graphs) > 1 or entry != 0:
        d.extra["profiled_subgraph"] = entry
        d.extra["subgraph_names"] = {str(i): graphs[i]["name"] for i in sorted(graphs)}
        others = {str(i): graphs[i]["ops"] for i in sorted(graphs) if i != entry and graphs[i]["ops"]}
        if others:
            d.extra["subgraph_ops_by_type"] = others


def _signature_listing(d: Draft) -> None:
    """--list_signatures: the tool prints the model's signatures and stops before its first run ("Benchmarking
    failed."); a run that named none for a model with several is refused with the same list."""
    v = d.values
    if v.get("signatures") is None:
        return
    d.extra["signatures"] = v["signatures"]
    if v.get("list_signatures") or v.get("signature_count") is not None:
        listed = ", ".join(v["signatures"]) or "none"
        d.errors[:] = [f"no benchmark in the log: benchmark_model only listed the model's signatures "
                       f"(--list_signatures): {listed}"]
    elif d.errors:
        d.errors[:] = [f"{d.errors[0]} (the model's signatures: {', '.join(v['signatures'])})"]


def _finish(d: Draft) -> ParsedRun:
    v = d.values
    _profiled_graphs(d)
    if v.get("signature"):
        d.extra["signature"] = v["signature"]
    if v.get("results") is not None:
        return _finish_litert(d)
    summary = v.get("summary") or {}
    # The summary line was printed even when none of its figures could be read (cut or glued to stderr's text): the
    # run finished, and its regular runs' stat line gives the same average in full precision.
    summarised = v.get("summary") is not None
    regular = v.get("regular_stat") or {}
    warm = v.get("warmup_stat") or {}
    profiled = v.get("profiler_stat") or {}
    us = 1000.0

    def ms(x: float | None) -> float | None:
        return None if x is None else round(x / us, 6)

    if profiled:
        d.extra["profiler_timings_ms"] = {k: ms(profiled.get(k)) for k in ("avg", "min", "max", "std")} | {
            "count": profiled.get("count")}
    if not summarised and not regular and profiled.get("avg") is not None:
        # Only the op profiler's output was kept: its "Timings (microseconds)" line is the profiled regular
        # runs' own timing (profiling overhead included), a real figure, so it is the record's latency.
        regular = profiled
        summary, summarised = {"Inference (avg)": profiled["avg"]}, True
        d.note("latency from the op profiler's 'Timings (microseconds)' line (the log holds no timing summary): "
               "the profiled runs, profiling overhead included")
        d.extra["latency_source"] = "op profiler"

    v["avg"] = ms(summary.get("Inference (avg)") or summary.get("Inference") or summary.get("no stats")
                  or (regular.get("avg") if summarised else None))
    for key in ("min", "max", "std", "median", "p95"):
        v[key] = ms(regular.get(key))
    v["init"] = ms(summary.get("Init")) if summary.get("Init") is not None else v.get("init_session")
    v["first"] = ms(summary.get("First inference"))
    summary_cut = d.cut is not None and d.cut[0] == v.get("summary_line")
    if summary_cut and "First inference" not in summary:
        # Its number cut off: the first warmup run is the same run (the regular runs' first is not).
        v["first"] = ms(warm.get("first"))
    elif not v["first"] and not d.extra.get("latency_source"):
        # no warmup run (--warmup_runs=0 prints 0): the first inference is the first regular run. (The first
        # profiled run is not: warmup runs are not profiled, and a profile-only log does not say if any ran.)
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
    if summarised and summary.get("Inference (avg)") is None and v["avg"] is not None and summary.get("Inference") is None \
            and summary.get("no stats") is None:
        d.note("average from the regular runs' stat line (the summary line shows none)")
    ok = summarised and v["avg"] is not None and not v.get("failed_marker")
    d.errors[:] = _error_text(d) if d.errors else []
    _signature_listing(d)
    missing = ("no result in the log: it ends before benchmark_model's 'Inference timings' line "
               "(the tool crashed, was killed, or the log is cut)")
    if d.ops and not summarised and not d.errors:
        missing = "no timing summary in the log, only a per-operator profile"
    return freeze(d, RUNTIME, TOOL, ok=ok, missing=missing)


def _finish_litert(d: Draft) -> ParsedRun:
    """A LiteRT 2.x run: the BENCHMARK RESULTS block is the summary (avg, init, first, warmup avg, memory, in
    ms as printed, 2 decimals); min/max/std/median/p95 come from the regular runs' stat line (us, full
    precision) when the log has it, else from the block."""
    v = d.values
    res = v["results"]
    regular = v.get("regular_stat") or {}
    warm = v.get("warmup_stat") or {}
    v["avg"] = res.get("avg") if res.get("avg_runs") != 0 else None  # "0.00 ms (0 runs)" is no figure
    if "avg" not in res and regular.get("avg") is not None:  # its line unread (cut): the stat line's is the same run's
        v["avg"] = round(regular["avg"] / 1000.0, 6)
        d.note("average from the regular runs' stat line (the BENCHMARK RESULTS block shows none)")
    for key in ("min", "max", "std", "median", "p95"):
        v[key] = round(regular[key] / 1000.0, 6) if regular.get(key) is not None else res.get(key)
    v["init"] = res.get("init") if res.get("init") is not None else v.get("init_session")
    v["first"] = res.get("first") if res.get("first") is not None else (
        round(warm["first"] / 1000.0, 6) if warm.get("first") is not None else None)
    v["count"] = res.get("avg_runs") if res.get("avg_runs") is not None else regular.get("count")
    v["threads"] = _first(v, "threads", "cpu_threads", "cmd_threads")
    v["warmup"] = _first(v, "warmup", "asked_warmup", "cmd_warmup")
    v["repeats"] = _first(v, "repeats", "asked_repeats", "cmd_repeats")
    v["model_path"] = _first(v, "model_path", "loaded", "cmd_model")
    v["backend"] = _backend(v)
    v["version"] = LITERT_VERSION
    v.update({k: res[k] for k in ("mem_init", "mem_overall", "mem_peak") if res.get(k) is not None})
    if res.get("warmup_avg") is not None:
        d.extra["warmup_avg_ms"] = res["warmup_avg"]
    warm_count = res.get("warmup_avg_runs") if res.get("warmup_avg_runs") is not None else warm.get("count")
    if warm_count is not None:
        d.extra["warmup_count"] = warm_count
    if res.get("throughput_mb_s") is not None:
        d.extra["throughput_mb_s"] = res["throughput_mb_s"]
    if res.get("p5") is not None or regular.get("p5") is not None:
        d.extra["p5_ms"] = round(regular["p5"] / 1000.0, 6) if regular.get("p5") is not None else res.get("p5")
    asked = v.get("repeats")
    if asked is not None and v["count"] is not None and v["count"] > asked:
        d.note(f"ran {v['count']} times, not the {asked} asked: --min_secs was not 0")
    d.note("LiteRT's BENCHMARK RESULTS block (ms rounded to 2 decimals; min/max/std from the stat line when present)")
    ok = v["avg"] is not None and bool(v["count"]) and not v.get("failed_marker")
    d.errors[:] = _error_text(d) if d.errors else []
    return freeze(d, RUNTIME, TOOL, ok=ok, missing="LiteRT's BENCHMARK RESULTS block has no inference figure")


# The delegate's name as the tool prints it ("Explicitly applied GPU delegate") and its kernel's ("Replacing N out
# of M node(s) with delegate (TfLiteGpuDelegateV2) node"), per ToolCase.backend.
_DELEGATE_NAMES = {"gpu": ("gpu", "TfLiteGpuDelegateV2"), "nnapi": ("nnapi", "TfLiteNnapiDelegate"),
                   "xnnpack": ("xnnpack", "TfLiteXNNPackDelegate")}


def backend_evidence(parsed: ParsedRun, backend: str, variant: str | None = None) -> dict[str, Any]:
    """What the log says about the accelerator ``backend`` (model.BACKENDS) a run asked for: ``backend_applied``
    (True: it ran the model, wholly or in part; False: the tool says it ran none of it, so the figures are the CPU's;
    None: the log does not say), ``backend_nodes`` (what the runtime counted) and ``backend_fallback`` (one line for
    the report, when it did not run the whole model)."""
    if variant == LITERT:
        # segbench runs a LiteRT accelerator with --use_cpu=false: a run that finished ran on it.
        return {"backend_applied": True} if parsed.status == "ok" else {}
    tool_backend, _ = CLASSIC_BACKENDS.get(backend, (None, ()))
    if tool_backend not in _DELEGATE_NAMES:
        return {}
    name, kernel = _DELEGATE_NAMES[tool_backend]
    said = (parsed.extra.get("delegates") or {}).get(name)
    nodes = (parsed.extra.get("delegate_nodes") or {}).get(kernel)
    out: dict[str, Any] = {"backend_applied": None if said is None else said != "not"}
    if nodes:
        out["backend_nodes"] = nodes
    label = name.upper() if name != "xnnpack" else "XNNPACK"
    if said == "not":
        out["backend_fallback"] = f"the {label} delegate ran no node: CPU figures"
    elif said == "partially":
        where = f" ({nodes['delegated']} of {nodes['total']} nodes, {nodes['partitions']} partitions)" if nodes else ""
        out["backend_fallback"] = f"the {label} delegate ran part of the model{where}, the CPU the rest"
    elif said is None and parsed.status == "ok":
        out["backend_fallback"] = f"the log does not say whether the {label} delegate ran the model"
    return out


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
