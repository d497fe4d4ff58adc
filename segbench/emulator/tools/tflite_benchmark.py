"""TFLite/LiteRT benchmark_model stand-in, in two modes, as the pushed binary is one or the other:

- the classic tool (tflite/tools/benchmark): every flag of LiteRT's tflite/tools at the manifest's
  nightly (realflags/benchmark_model.json), read as its Flags::Parse does; runs with ai-edge-litert and prints
  the 'Inference timings in us' summary;
- LiteRT 2.x's tool (litert/tools:benchmark_model, BenchmarkLiteRtModel): the base benchmark flags plus its own
  (--use_cpu/--use_gpu/--use_npu, --use_profiler, --result_file_path, ...; no --input_layer* files, no
  delegate providers), ending with its BENCHMARK RESULTS block.

The emulated phone tells them apart by the pushed file (SEGBENCH_EMU_BINARY): a LiteRT build carries its
benchmark class's name, BenchmarkLiteRtModel.
"""

from __future__ import annotations

import os
import resource
import sys
import time

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
from segbench.emulator.tools.flags import parse_tflite

TOOL = "benchmark_model"
# BenchmarkModel's own flags (tflite/tools/benchmark/benchmark_model.cc), in both tools.
BASE_FLAGS = {"num_runs": "int32", "min_secs": "float", "max_secs": "float", "run_delay": "float",
              "run_frequency": "float", "num_threads": "int32", "use_caching": "bool", "benchmark_name": "string",
              "output_prefix": "string", "warmup_runs": "int32", "warmup_min_secs": "float", "verbose": "bool",
              "dry_run": "bool", "report_peak_memory_footprint": "bool",
              "memory_footprint_check_interval_ms": "int32", "gpu_invoke_loop_times": "int32"}
# The classic tool: BenchmarkTfLiteModel and every delegate provider an Android arm64 build links.
CLASSIC_FLAGS = {**BASE_FLAGS, **{
    "alloc_type_display_length": "int32", "allow_dynamic_profiling_buffer_increase": "bool", "allow_fp16": "bool",
    "delegate_serialize_dir": "string", "delegate_serialize_token": "string", "disable_delegate_clustering": "bool",
    "disable_nnapi_cpu": "bool", "enable_builtin_cast_constant_cache": "bool", "enable_op_profiling": "bool",
    "export_model_runtime_info": "bool", "external_delegate_options": "string", "external_delegate_path": "string",
    "first_delegate_node_index": "int32", "gpu_backend": "string", "gpu_experimental_enable_quant": "bool",
    "gpu_inference_for_sustained_speed": "bool", "gpu_precision_loss_allowed": "bool", "graph": "string",
    "help": "bool", "hexagon_lib_path": "string", "hexagon_profiling": "bool", "input_layer": "string",
    "input_layer_shape": "string", "input_layer_value_files": "string", "input_layer_value_range": "string",
    "last_delegate_node_index": "int32", "list_signatures": "bool", "max_delegated_partitions": "int32",
    "max_profiling_buffer_entries": "int32", "min_nodes_per_partition": "int32",
    "model_runtime_info_output_file": "string", "nnapi_accelerator_name": "string",
    "nnapi_allow_dynamic_dimensions": "bool", "nnapi_allow_fp16": "bool", "nnapi_execution_preference": "string",
    "nnapi_execution_priority": "string", "nnapi_support_library_path": "string", "nnapi_use_burst_mode": "bool",
    "op_profiling_output_file": "string", "op_profiling_output_mode": "string",
    "optimize_memory_for_large_tensors": "int32", "output_filepath": "string", "output_proto_filepath": "string",
    "print_postinvoke_state": "bool", "print_preinvoke_state": "bool", "profiling_output_csv_file": "string",
    "release_dynamic_tensors": "bool", "require_full_delegation": "bool", "result_file_path": "string",
    "signature_to_run_for": "string", "stable_delegate_settings_file": "string",
    "tensor_name_display_length": "int32", "tensor_type_display_length": "int32", "use_gpu": "bool",
    "use_hexagon": "bool", "use_nnapi": "bool", "use_xnnpack": "bool", "use_ynnpack": "bool",
    "xnnpack_force_fp16": "bool", "xnnpack_runtime_flags": "int32", "xnnpack_weight_cache_file_path": "string",
    "ynnpack_consistent_arithmetic": "bool", "ynnpack_fast_math": "bool", "ynnpack_no_excess_precision": "bool",
    "ynnpack_static_shape": "bool"}}
# LiteRT 2.x: BenchmarkLiteRtModel::GetFlags = the base flags + its own (litert/tools/benchmark_litert_model.h).
LITERT_FLAGS = {**BASE_FLAGS, **{
    "graph": "string", "signature_to_run_for": "string", "use_cpu": "bool", "use_gpu": "bool", "use_npu": "bool",
    "dispatch_library_path": "string", "compiler_plugin_library_path": "string", "compiler_cache_path": "string",
    "require_full_delegation": "bool", "use_profiler": "bool", "enable_perfetto": "bool", "gpu_backend": "string",
    "gpu-precision": "string", "gpu_low_priority": "bool", "enable_weight_sharing": "bool",
    "convert_weights_on_gpu": "bool", "gpu_serialization_dir": "string", "gpu_model_cache_key": "string",
    "gpu_serialize_external_tensors": "bool", "gpu_prefer_texture_weights": "bool",
    "gpu_wait_for_weights_conversion_complete": "bool", "gpu_cache_compiled_programs_only": "bool",
    "xnnpack_weight_cache_file_path": "string", "result_file_path": "string",
    "model_runtime_info_output_file": "string", "mediatek_nerun_pilot_version": "string",
    "input_layer_value_range": "string"}}
# LiteRT's vendor NPU flags are Abseil flags its main() strips before the benchmark parser sees argv.
_VENDOR_PREFIXES = ("qualcomm_", "mediatek_", "google_tensor_", "intel_openvino_", "samsung_")
_DEFAULTS = {"graph": "", "num_threads": -1, "num_runs": 50, "min_secs": 1.0, "max_secs": 150.0, "warmup_runs": 1,
             "warmup_min_secs": 0.5, "run_delay": -1.0, "input_layer": "", "input_layer_shape": "",
             "input_layer_value_files": "", "output_filepath": "", "enable_op_profiling": False, "use_gpu": False,
             "use_nnapi": False, "use_hexagon": False, "use_cpu": True, "use_npu": False, "help": False,
             "op_profiling_output_mode": "stdout"}
_LABELS = {"num_threads": "Num threads", "graph": "Graph", "num_runs": "Min num runs",
           "min_secs": "Min runs duration (seconds)", "warmup_runs": "Min warmup runs",
           "warmup_min_secs": "Min warmup runs duration (seconds)", "input_layer": "Input layers",
           "input_layer_shape": "Input shapes", "input_layer_value_files": "Input value files",
           "use_cpu": "Use CPU", "use_gpu": "Use GPU", "use_npu": "Use NPU"}
# The classic tool's delegate providers log their own params (LOG_TOOL_PARAM), with these labels.
CLASSIC_LABELS = {**_LABELS, "use_gpu": "Use gpu", "use_nnapi": "Use NNAPI", "use_xnnpack": "Use xnnpack",
                  "gpu_precision_loss_allowed": "Allow lower precision in gpu", "nnapi_allow_fp16": "Allow fp16 in NNAPI",
                  "require_full_delegation": "Require full delegation"}
_DEFAULTS.update({"use_xnnpack": False, "gpu_precision_loss_allowed": True, "nnapi_allow_fp16": False,
                  "require_full_delegation": False})
LITERT_MARK = b"BenchmarkLiteRtModel"


def litert_binary() -> bool:
    """Whether the pushed binary that is being run is LiteRT 2.x's tool (its bytes name its benchmark class)."""
    path = os.environ.get("SEGBENCH_EMU_BINARY")
    if not path:
        return False
    try:
        with open(path, "rb") as f:
            return LITERT_MARK in f.read(64 << 20)
    except OSError:
        return False


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


class _Abort(Exception):
    """TFLITE_LOG(FATAL): the line on stderr, then abort()."""


def _value_files(flags: dict) -> dict[int, str]:
    """--input_layer_value_files as PopulateInputValueFiles reads it: NAME:PATH items, '::' an escaped ':',
    each NAME looked up in --input_layer (a name not there is fatal); files go to inputs by that position."""
    names = flags["input_layer"].split(",") if flags["input_layer"] else []
    out = {}
    for item in flags["input_layer_value_files"].split(",") if flags["input_layer_value_files"] else []:
        delims, i = [], 0
        while i < len(item) - 1:
            if item[i] == ":":
                if item[i + 1] == ":":
                    i += 1
                else:
                    delims.append(i)
            i += 1
        if len(delims) != 1:
            error(f"{item} {'contains more than one delimiter' if delims else 'does not contain any delimiter'}.")
            error(f"Wrong input value file item specified: {item}")
            raise ValueError(item)
        name, path = item[:delims[0]].replace("::", ":"), item[delims[0] + 1:].replace("::", ":")
        if name not in names:
            raise _Abort(f"Cannot find the corresponding input_layer name({name}) in --input_layer as "
                         f"{flags['input_layer']}")
        out[names.index(name)] = path
    return out


def _validate(flags: dict, litert: bool) -> str | None:
    """ValidateParams: the error line that stops the tool (rc 1), or None; a bad value file item aborts."""
    if not flags["graph"]:
        return "Please specify the name of your TF Lite input file with --graph"
    if litert:
        return None
    if flags["enable_op_profiling"] and flags["op_profiling_output_mode"] not in ("stdout", "csv", "proto"):
        return (f"Output mode{flags['op_profiling_output_mode']} is not supported. Supported values are: 'stdout', "
                "'csv' and 'proto'.")
    names = flags["input_layer"].split(",") if flags["input_layer"] else []
    shapes = flags["input_layer_shape"].split(":") if flags["input_layer_shape"] else []
    if len(names) != len(shapes):
        return (f"The number of items in --input_layer_shape ({flags['input_layer_shape']}, with {len(shapes)} items) "
                f"must match the number of items in --input_layer ({flags['input_layer']}, with {len(names)} items). "
                "For example --input_layer=input1,input2 --input_layer_shape=1,224,224,4:1,20")
    for shape in shapes:
        try:
            dims = [int(d) for d in shape.split(",")]
        except ValueError:
            raise _Abort(f"Incorrect size string specified: {shape}") from None
        if -1 in dims:
            return "Any unknown sizes in the shapes (-1's) must be replaced with the size you want to benchmark with."
    try:
        _value_files(flags)
    except ValueError:
        return ""
    return None


def _load_inputs(interp, flags: dict, half: bool = False) -> bool:
    """Random or file inputs, as the tool makes them; ``half``: a delegate computing in fp16 sees them rounded to
    float16 (the emulated accelerator's precision loss)."""
    import numpy as np

    details = interp.get_input_details()
    files = _value_files(flags)  # by position in --input_layer, as PrepareInputData matches them
    rng = np.random.default_rng(0)
    for i, d in enumerate(details):
        path = files.get(i)
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
        if half and np.dtype(d["dtype"]) == np.float32:
            data = data.astype(np.float16).astype(np.float32)
        interp.set_tensor(d["index"], data)
    return True


def _save_outputs(interp, path: str, half: bool = False) -> None:
    """--output_filepath as the tool's OutputSaver writes it when the benchmark ends: the raw bytes of
    every output tensor of the last run, in output order, nothing between them; a path that cannot be
    opened is silently skipped (the real tool checks ofs.good() and says nothing)."""
    if not path:
        return
    try:
        with open(path, "wb") as f:
            for d in interp.get_output_details():
                out = interp.get_tensor(d["index"])
                if half and out.dtype.name == "float32":  # an fp16 delegate's outputs carry its rounding
                    out = out.astype("float16").astype("float32")
                f.write(out.tobytes())
    except OSError:
        pass


# The delegates of the classic tool that the emulated phone has: its name in the tool's lines, its kernel's name in
# the runtime's "Replacing ..." line, and the accelerator it needs (accelerators()).
_DELEGATES = (("gpu", "GPU", "TfLiteGpuDelegateV2", "gpu"), ("nnapi", "NNAPI", "TfLiteNnapiDelegate", "nnapi"),
              ("xnnpack", "XNNPACK", "TfLiteXNNPackDelegate", None))


def _node_count(interp) -> int:
    try:
        return len(interp._get_ops_details())
    except Exception:  # an interpreter without the private helper: one node is still "the graph"
        return 1


def _apply_delegates(interp, flags: dict) -> bool | None:
    """Create and apply the delegates asked for, in the order the tool does (its providers' order), printing the
    lines the real tool and runtime print; a delegate the phone lacks or a ``delegate-fail`` fault fails as the real
    one does (None: the run stops). Returns whether the model then computes in fp16 (GPU with precision loss allowed,
    NNAPI with fp16 allowed), which the emulation acts out by rounding through float16."""
    have = accelerators()
    chosen = [d for d in _DELEGATES if flags.get(f"use_{d[0]}")]
    half = False
    for key, name, _, needs in chosen:
        if needs and needs not in have:
            error(f"Failed to create the {name} delegate: no {name} on this device" if key == "gpu" else
                  "NNAPI delegate: NNAPI is not available on this device")
            error(f"Failed to apply {name} delegate.")
            return None
        info(f"Created TensorFlow Lite {'XNNPACK ' if key == 'xnnpack' else ''}delegate for "
             f"{'CPU' if key == 'xnnpack' else name}.")
        if key in ("gpu", "nnapi"):
            info(f"{name} delegate created.")
    if len(chosen) > 1:
        info(f"Going to apply {len(chosen)} delegates one after another.")
    total = _node_count(interp)
    taken = False
    for key, name, kernel, _ in chosen:
        fault = delegate_fault(key)
        if key == "gpu":
            info("Loaded OpenCL library with dlopen.")
        if fault == "fail":
            if key == "nnapi":
                error("NN API returned error ANEURALNETWORKS_OP_FAILED at line 3779 while completing NNAPI compilation.")
                error(f"Node number {total} (TfLiteNnapiDelegate) failed to prepare.")
            else:
                error(f"TfLite{name.title()}Delegate Prepare: delegate failed to prepare the graph")
                error(f"Node number {total} ({kernel}) failed to prepare.")
            error("Restored original execution plan after delegate application failure.")
            error(f"Failed to apply {name} delegate.")
            return None
        if fault == "fallback" or taken:  # a later delegate finds no node left
            info(f"Though {name} delegate is explicitly applied, the model graph will not be executed by the delegate.")
            continue
        print(f"VERBOSE: Replacing {total} out of {total} node(s) with delegate ({kernel}) node, yielding 1 partitions "
              "for subgraph 0.", flush=True)
        if key == "gpu":
            info("Initialized OpenCL-based API.")
            info("Created 1 GPU delegate kernels.")
        info(f"Explicitly applied {name} delegate, and the model graph will be completely executed by the delegate.")
        taken = True
        half = (key == "gpu" and bool(flags["gpu_precision_loss_allowed"])) or (
            key == "nnapi" and bool(flags["nnapi_allow_fp16"]))
    if chosen and not taken and flags.get("require_full_delegation"):
        error("Disallowed CPU fallback detected.")
        return None
    return half


def _timed(interp, min_runs: int, min_secs: float, max_secs: float, threads: int) -> list[float]:
    """Run times in us on the phone's clock (common.phone_s); the loop's bounds are the tool's, in wall time."""
    out: list[float] = []
    cores = cores_for(threads)
    start = time.perf_counter()
    while len(out) < min_runs or time.perf_counter() - start < min_secs:
        if time.perf_counter() - start > max_secs:
            break
        out.append(reported_s(phone_s(interp.invoke, cores)) * 1e6)
    return out


def _fatal(text: str) -> int:
    print(f"FATAL: {text}", file=sys.stderr, flush=True)
    os.abort()
    return 134


def run(argv: list[str]) -> int:
    litert = litert_binary()
    if litert:  # main() drops the vendor NPU flags (Abseil flags) before the benchmark parses argv
        argv = [a for a in argv if not a.lstrip("-").startswith(_VENDOR_PREFIXES)]
    parsed = parse_tflite(argv, LITERT_FLAGS if litert else CLASSIC_FLAGS)
    flags = {**_DEFAULTS, **parsed.values}
    info("STARTING!")
    asked_help = bool(argv) and argv[0] == "--help"
    if parsed.errors or flags["help"] or asked_help:
        for e in parsed.errors:
            error(e)
        error(f"usage: {TOOL}\nFlags:\n" + "\n".join(f"\t--{n}={t}" for n, t in
                                                       (LITERT_FLAGS if litert else CLASSIC_FLAGS).items()))
        if litert and asked_help:
            return 0  # LiteRT's main() treats a --help failure as success
        error("Benchmarking failed.")
        return 1
    if parsed.leftover:
        print(f"WARN: Unconsumed cmdline flags: {' '.join(parsed.leftover)}", flush=True)
    try:
        problem = _validate(flags, litert)
    except _Abort as exc:
        return _fatal(str(exc))
    if problem is not None:
        if problem:
            error(problem)
        error("Benchmarking failed.")
        return 1
    info("Log parameter values verbosely: [0]")
    labels = _LABELS if litert else CLASSIC_LABELS
    for name in parsed.order:
        if name in labels:
            value = flags[name]
            info(f"{labels[name]}: [{int(value) if isinstance(value, bool) else value}]")
    threads = int(flags["num_threads"])
    info(f"#threads used for CPU inference: [{threads}]")
    if litert:
        return _run_litert(argv, flags, threads)
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
    if flags["use_hexagon"]:  # no libhexagon_interface.so is pushed with the tool
        error('dlopen failed: library "libhexagon_interface.so" not found')
        error("Failed to apply Hexagon delegate.")
        error("Benchmarking failed.")
        return 1
    half = _apply_delegates(interp, flags)
    if half is None:
        error("Benchmarking failed.")
        return 1
    interp.allocate_tensors()
    init_us = (time.perf_counter() - t0) * 1e6
    mem_init = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - mem0) / 1024
    info(f"The input model file size (MB): {os.path.getsize(flags['graph']) / 1e6:g}")
    info(f"Initialized session in {init_us / 1000:g}ms.")
    _load_inputs(interp, flags, half)
    apply_fault(TOOL, info)
    with Busy():
        info(f"Running benchmark for at least {flags['warmup_runs']} iterations and at least "
             f"{float(flags['warmup_min_secs']):g} seconds but terminate if exceeding {float(flags['max_secs']):g} seconds.")
        warm = _timed(interp, int(flags["warmup_runs"]), float(flags["warmup_min_secs"]), float(flags["max_secs"]),
                      threads)
        info(stat_line(warm) + "\n")
        info(f"Running benchmark for at least {flags['num_runs']} iterations and at least "
             f"{float(flags['min_secs']):g} seconds but terminate if exceeding {float(flags['max_secs']):g} seconds.")
        runs = _timed(interp, int(flags["num_runs"]), float(flags["min_secs"]), float(flags["max_secs"]),
                      threads)
        info(stat_line(runs) + "\n")
    _save_outputs(interp, flags["output_filepath"], half)
    avg = sum(int(round(x)) for x in runs) / len(runs)
    warm_avg = sum(int(round(x)) for x in warm) / len(warm)
    info(f"Inference timings in us: Init: {int(init_us)}, First inference: {int(round(warm[0]))}, "
         f"Warmup (avg): {warm_avg:g}, Inference (avg): {avg:g}")
    info("Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to "
         "the actual memory footprint of the model at runtime. Take the information at your discretion.")
    overall = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - mem0) / 1024
    info(f"Memory footprint delta from the start of the tool (MB): init={mem_init:g} overall={overall:g}")
    if flags.get("report_peak_memory_footprint"):  # the tool's periodic monitor; here the process's peak RSS
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        info(f"Overall peak memory footprint (MB) via periodic monitoring: {peak:g}")
    record(TOOL, argv, threads=threads, warmup=len(warm), repeats=len(runs), init_ms=init_us / 1000,
           first_ms=warm[0] / 1000, latencies_ms=[int(round(x)) / 1000 for x in runs])
    return 0


_LITERT_SRC = "./litert/tools/benchmark_litert_model"


def _litert(text: str, line: int, level: str = "INFO", kind: str = "h") -> None:
    """One LITERT_LOG line: level, then the source location."""
    stream = sys.stderr if level == "ERROR" else sys.stdout
    print(f"{level}: [{_LITERT_SRC}.{kind}:{line}] {text}", file=stream, flush=True)


def _write_result(path: str, init_us: float, warm: list[float], runs: list[float], mem_init_mb: float,
                  overall_mb: float, size_mb: float, avg_ms: float) -> None:
    """--result_file_path: the BenchmarkResult message the real tool serializes after its block (percentiles over
    the runs' microseconds as its Stat gives them), logged as it does; a file it cannot open is said, not fatal."""
    from segbench.runners.benchmark_model import write_result_proto

    s = sorted(runs)
    mean = sum(runs) / len(runs)
    values = {"init_ms": init_us / 1000, "first_ms": warm[0] / 1000, "warmup_avg_ms": sum(warm) / len(warm) / 1000,
              "min_ms": s[0] / 1000, "max_ms": s[-1] / 1000, "avg_ms": mean / 1000,
              "std_ms": (sum((x - mean) ** 2 for x in runs) / len(runs)) ** 0.5 / 1000,
              "median_ms": s[min(len(s) - 1, len(s) * 50 // 100)] / 1000,
              "p5_ms": s[min(len(s) - 1, len(s) * 5 // 100)] / 1000,
              "p95_ms": s[min(len(s) - 1, len(s) * 95 // 100)] / 1000,
              "init_footprint_kb": int(mem_init_mb * 1024), "overall_footprint_kb": int(overall_mb * 1024),
              "model_size_mb": size_mb, "num_runs": len(runs), "num_warmup_runs": len(warm),
              "throughput_mb_s": size_mb / (avg_ms / 1000)}
    try:
        with open(path, "wb") as fh:
            _litert(f"Saving benchmark result to: {path}", 175)
            fh.write(write_result_proto(values))
    except OSError:
        _litert(f"Failed to save benchmark result to: {path}", 181, "ERROR")
        return
    _litert(f"Saved benchmark result to: {path}", 178)


def _run_litert(argv: list[str], flags: dict, threads: int) -> int:
    """LiteRT 2.x's run: the CompiledModel on the CPU accelerator (XNNPACK); the emulated phone has no GPU or
    NPU accelerator, so asking for one fails as a build without it does."""
    from ai_edge_litert.interpreter import Interpreter

    _litert(f"Loading model from: {flags['graph']}", 305, kind="cc")
    mem0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    try:
        interp = Interpreter(model_path=flags["graph"], num_threads=threads if threads > 0 else None)
    except (ValueError, RuntimeError, OSError):
        _litert("Failed to load model.", 309, "ERROR", "cc")
        error("Benchmarking failed.")
        return 1
    # The emulated phone has the GPU it emulates (its OpenCL driver), no NPU dispatch library.
    wanted = [name for name in ("gpu", "npu") if flags[f"use_{name}"]]
    missing = [w for w in wanted if w not in accelerators()]
    if missing or not (flags["use_cpu"] or wanted):
        why = (f"no {'/'.join(w.upper() for w in missing)} accelerator is registered on this phone" if missing
               else "no accelerator selected (--use_cpu=false)")
        _litert(f"Failed to compile model.: {why}", 362, "ERROR", "cc")
        error("Benchmarking failed.")
        return 1
    interp.allocate_tensors()
    init_us = (time.perf_counter() - t0) * 1e6
    mem_init = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - mem0) / 1024
    info(f"The input model file size (MB): {os.path.getsize(flags['graph']) / 1e6:g}")
    info(f"Initialized session in {init_us / 1000:g}ms.")
    half = "gpu" in wanted and flags.get("gpu-precision", "auto") in ("auto", "fp16")  # GPU in fp16 unless fp32
    _load_inputs(interp, {**flags, "input_layer_value_files": "", "input_layer": ""}, half)  # random data
    apply_fault(TOOL, info)
    with Busy():
        info(f"Running benchmark for at least {flags['warmup_runs']} iterations and at least "
             f"{float(flags['warmup_min_secs']):g} seconds but terminate if exceeding {float(flags['max_secs']):g} seconds.")
        warm = _timed(interp, int(flags["warmup_runs"]), float(flags["warmup_min_secs"]), float(flags["max_secs"]),
                      threads)
        info(stat_line(warm) + "\n")
        info(f"Running benchmark for at least {flags['num_runs']} iterations and at least "
             f"{float(flags['min_secs']):g} seconds but terminate if exceeding {float(flags['max_secs']):g} seconds.")
        runs = _timed(interp, int(flags["num_runs"]), float(flags["min_secs"]), float(flags["max_secs"]),
                      threads)
        info(stat_line(runs) + "\n")
    overall = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - mem0) / 1024
    ms = [x / 1000 for x in runs]
    avg = sum(ms) / len(ms)
    std = (sum((x - avg) ** 2 for x in ms) / len(ms)) ** 0.5
    _litert("", 89)
    _litert("========== BENCHMARK RESULTS ==========", 89)
    _litert(f"Model initialization: {init_us / 1000:.2f} ms", 94)
    _litert(f"Warmup (first):       {warm[0] / 1000:.2f} ms", 95)
    _litert(f"Warmup (avg):         {sum(warm) / len(warm) / 1000:.2f} ms ({len(warm)} runs)", 97)
    _litert(f"Inference (avg):      {avg:.2f} ms ({len(ms)} runs)", 99)
    _litert(f"Inference (min):      {min(ms):.2f} ms", 103)
    _litert(f"Inference (max):      {max(ms):.2f} ms", 105)
    _litert(f"Inference (std):      {std:.2f}", 107)
    size_mb = os.path.getsize(flags["graph"]) / 1e6
    _litert(f"Throughput:           {size_mb / (avg / 1000):.2f} MB/s", 115)
    _litert("", 124)
    _litert("Memory Usage:", 124)
    _litert(f"Init footprint:       {mem_init:.2f} MB", 125)
    _litert(f"Overall footprint:    {overall:.2f} MB", 127)
    _litert("Peak memory usage not available. (peak_mem_mb <= 0)", 134)
    _litert("======================================", 138)
    if flags.get("result_file_path"):
        _write_result(flags["result_file_path"], init_us, warm, runs, mem_init, overall, size_mb, avg)
    record(TOOL, argv, threads=threads, warmup=len(warm), repeats=len(runs), init_ms=init_us / 1000,
           first_ms=warm[0] / 1000, latencies_ms=ms, litert=True)
    return 0
