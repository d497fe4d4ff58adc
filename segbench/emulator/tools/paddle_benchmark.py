"""Paddle Lite benchmark_bin stand-in (v2.12 flags, read as gflags reads them: --name=value or --name value). Runs
.nb models and converts --model_file programs (deleting the previous --optimized_model_file first and saving the
new .nb there) with paddlelite where it is installed (the emulator's Python must then be 3.10). A program whose
ops Paddle Lite's x86 build lacks (the ARM build has them: PP-MobileSeg's linear_interp_v2) runs with Paddle
Inference where paddlepaddle is installed, and no .nb is saved; the version line names the host runtime that
stood in. With neither, or on a model nothing can load, it aborts as the real tool does (glog fatal, SIGABRT,
rc 134). Prints
the sectioned report incl. Device Info."""

from __future__ import annotations

import os
import shutil
import sys
import time

from segbench.emulator.tools.common import (
    Busy,
    apply_fault,
    cores_for,
    cpu_max_khz,
    inherited_cpus,
    record,
    reported_s,
    state_dir,
)

TOOL = "benchmark_bin"
# Every flag v2.12 defines (lite/api/tools/benchmark/utils/flags.cc at tag v2.12), with its gflags type and default.
# --input_data_type and --output_data_path came after v2.12 (develop head): the pinned tool rejects them.
_FLAGS = {"optimized_model_file": "string", "uncombined_model_dir": "string", "model_file": "string",
          "param_file": "string", "input_shape": "string", "input_data_path": "string", "validation_set": "string",
          "config_path": "string", "show_output_elem": "bool", "warmup": "int32", "repeats": "int32",
          "run_delay": "double", "power_mode": "int32", "threads": "int32", "result_path": "string",
          "backend": "string", "cpu_precision": "string", "gpu_precision": "string", "opencl_cache_dir": "string",
          "opencl_kernel_cache_file": "string", "opencl_tuned_file": "string", "opencl_tune_mode": "string",
          "nnadapter_device_names": "string", "nnadapter_context_properties": "string",
          "enable_op_time_profile": "bool", "enable_memory_profile": "bool", "memory_check_interval_ms": "int32",
}
_DEFAULTS = {"optimized_model_file": "", "model_file": "", "param_file": "", "uncombined_model_dir": "",
             "input_shape": "", "input_data_path": "", "validation_set": "", "config_path": "", "warmup": "0",
             "repeats": "1", "run_delay": "-1", "power_mode": "0", "threads": "1", "backend": "", "result_path": "",
             "cpu_precision": "fp32", "gpu_precision": "fp16", "nnadapter_device_names": "",
             "opencl_tune_mode": "normal"}
# What SetValidPlaces (lite/api/tools/opt_base.cc) takes; any other --backend item aborts ("Wrong target").
_TARGETS = ("arm", "opencl", "metal", "arm_metal", "x86_metal", "x86", "x86_opencl", "xpu", "imagination_nna",
            "intel_fpga", "rockchip_npu", "mediatek_apu", "huawei_kirin_npu", "huawei_ascend_npu", "amlogic_npu",
            "verisilicon_timvx", "eeasytech_npu", "android_nnapi", "qualcomm_qnn", "kunlunxin_xtcl", "host")
_POWER_MODES = range(6)  # HIGH LOW FULL NO_BIND RAND_HIGH RAND_LOW (lite/api/paddle_place.h)
# Each flag's help text: gflags ends its message for a flag given without a value with it. The real tool prints
# Paddle Lite's own descriptions there; these are ours (the harness never reads them), in the same place.
_HELP = {
    "optimized_model_file": "path of a model converted by opt (.nb)",
    "uncombined_model_dir": "directory of a model stored as one file per parameter",
    "model_file": "program file of a combined model",
    "param_file": "parameters file of a combined model",
    "input_shape": "shape of each input: comma-separated dims, inputs separated by colons",
    "input_data_path": "text file of each input's values, inputs separated by colons (default: all ones)",
    "validation_set": "name of a validation set to feed instead of input files",
    "show_output_elem": "print every element of each output",
    "warmup": "number of warm-up runs", "repeats": "number of timed runs",
    "run_delay": "seconds to sleep between timed runs (none if not positive)",
    "power_mode": "CPU binding mode, 0 to 5", "threads": "number of CPU threads",
    "result_path": "file to append the results to",
    "backend": "target(s) to run on, separated by commas",
    "cpu_precision": "precision of the ARM CPU kernels",
    "gpu_precision": "precision of GPU computation",
    "opencl_cache_dir": "directory for OpenCL kernel binaries and tuning results",
    "opencl_kernel_cache_file": "file name of the OpenCL kernel binary cache",
    "opencl_tuned_file": "file name of the OpenCL tuning results",
    "opencl_tune_mode": "OpenCL tuning mode",
    "nnadapter_device_names": "NNAdapter device(s) to use",
    "nnadapter_context_properties": "NNAdapter context properties",
    "enable_op_time_profile": "per-operator timing (not available in this build)",
    "enable_memory_profile": "periodic memory footprint checks (not available in this build)",
    "memory_check_interval_ms": "milliseconds between memory footprint checks",
    "config_path": "path of a configuration file"}
# The usage note the real tool prints on stdout (then exits 0) when no model, backend or input shape is given: a
# note on the three ways to name a model and example command lines. Ours says the same in our own words; the
# harness reads only the exit status and that stdout holds the note.
_USAGE = (
    "\nNote: \n"
    "  Name the model one way: --optimized_model_file (a .nb from opt), --uncombined_model_dir, or --model_file with "
    "--param_file. Give --input_shape and --backend too.\n"
    "  Example: ./benchmark_bin --optimized_model_file=/data/local/tmp/model.nb --input_shape=1,3,224,224 "
    "--backend=arm\n"
    "  All flags: ./benchmark_bin --help\n\n")


def _fatal_line(where: str, why: str, level: str = "F") -> str:
    stamp = time.strftime("%m/%d %H:%M:%S")
    return f"[{level} {stamp}. 0 ...lite/{where}] {why}\n"


def _run_mode(mode: int, threads: int) -> tuple[list[int], int]:
    """What DeviceInfo::SetRunMode does (lite/core/device_info.cc): the CPUs the worker threads end up allowed on and
    how many threads run. Big cores are every cluster but the slowest (the SM8150 table: 4-7), little the slowest
    (0-3). HIGH binds the last big cores (1 thread: CPU 7), LOW the first little ones, FULL big then little; more
    threads than the cluster has are cut to its size, said on stderr as LOG(ERROR). NO_BIND binds nothing, so the
    threads keep the mask the process was started with (taskset). The RAND modes start at a shifted core."""
    khz = cpu_max_khz()
    cores = sorted(khz) or inherited_cpus()
    threads = min(threads, len(cores)) if cores else threads
    slowest = min(khz.values()) if khz else 0
    little = [c for c in cores if len(set(khz.values())) > 1 and khz[c] == slowest]
    big = [c for c in cores if c not in little]
    if mode == 3:
        return inherited_cpus(), threads
    if mode == 2:
        return sorted((big + little)[:threads]), threads
    high = mode in (0, 4)
    pool, name = (big, "big") if high or not little else (little, "little")
    if threads > len(pool):
        func = "RequestPowerHighMode" if high else "RequestPowerLowMode"
        print(_fatal_line(f"core/device_info.cc:{1080 if high else 1122} {func}",
                          f"Request thread num: {threads}, exceed the {name} cores size: {len(pool)}, "
                          f"truncate thread num to {len(pool)}", "E"), end="", file=sys.stderr, flush=True)
        return list(pool), len(pool)
    shift = 1 if mode in (4, 5) else 0  # the RAND modes rotate their start by a count the tool keeps
    order = list(reversed(pool)) if name == "big" else list(pool)
    order = order[shift:] + order[:shift]
    return sorted(order[:threads]), threads


def _parse(argv: list[str]) -> dict[str, str]:
    """The flags as v2.12's gflags reads them, then CheckFlagsValid (benchmark.h) and OutputOptModel's target check,
    in the tool's order: a FlagStop says how the tool stops (unknown flag or bad value: exit 1; missing model,
    backend or shape: usage and exit 0; an unknown --backend target: abort). --power_mode is checked later, when
    the predictor first runs (run_mode_problem)."""
    from segbench.emulator.tools.flags import FlagStop, parse_gflags

    parsed = parse_gflags(argv, _FLAGS, _HELP, usage=f"benchmark_bin: {_USAGE}",
                          version="benchmark_bin version segbench-emulator\n")
    flags = dict(_DEFAULTS)
    for name in parsed.order:
        value = parsed.values[name]
        flags[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    flags["_given"] = ",".join(parsed.order)
    problems = []
    opt_model = not (flags["uncombined_model_dir"] or flags["model_file"] or flags["param_file"]) and bool(
        flags["optimized_model_file"])
    program = bool(flags["uncombined_model_dir"] or (flags["model_file"] and flags["param_file"]))
    if not program and not opt_model:
        problems.append("\nNo model path is set!")
    if flags["uncombined_model_dir"] and flags["model_file"] and flags["param_file"]:
        problems.append("Both --uncombined_model_dir and --model_file --param_file are set. "
                        "Only need to set one model format!")
    if not flags["backend"]:
        problems.append("Must set --backend option!")
    if not flags["input_shape"]:
        problems.append("Must set --input_shape option!")
    if flags["input_data_path"] and len(flags["input_data_path"].split(":")) != len(flags["input_shape"].split(":")):
        problems.append(f"Option invalid: --input_data_path={flags['input_data_path']}  "
                        f"--input_shape={flags['input_shape']} \nThe num of input tensors is ambiguous.")
    if flags["validation_set"] and not flags["config_path"]:
        problems.append("Both --validation_set and --config_path options should be set!")
    if problems:
        raise FlagStop(0, stderr="".join(p + "\n" for p in problems), stdout=_USAGE)  # the real tool exits 0
    # OutputOptModel hands every --backend item (nnadapter's device names instead of 'nnadapter') to opt's
    # SetValidPlaces, for a .nb too, which aborts on a target it does not know.
    items = [b for b in flags["backend"].split(",") if b != "nnadapter"]
    if "nnadapter" in flags["backend"].split(",") and flags["nnadapter_device_names"]:
        items += flags["nnadapter_device_names"].split(",")
    for item in items:
        if item not in _TARGETS:
            raise FlagStop(134, stderr=_fatal_line("api/tools/opt_base.cc:236 SetValidPlaces",
                                                   f"Wrong target '{item}' found, please check the command flag "
                                                   "'valid_targets'"))
    return flags


def run_mode_problem(flags: dict[str, str]) -> str | None:
    """DeviceInfo::SetRunMode's fatal line for a --power_mode it does not know. The real tool gets there only at the
    predictor's first Run(): after the model file check, the conversion and the model's loading."""
    if int(flags["power_mode"]) in _POWER_MODES:
        return None
    return _fatal_line("core/device_info.cc:1339 SetRunMode", f"Unsupported power mode: {flags['power_mode']}")


def _props() -> dict[str, str]:
    d = state_dir()
    text = (d / "props").read_text() if d else ""
    return {k: v for k, _, v in (ln[1:-1].partition("]: [") for ln in text.splitlines() if ln.startswith("["))}


def perf_lines(init: float, first: float, lat: list[float]) -> list[str]:
    # ss.precision(3) fixed, left-justified in setw(12): values carry trailing spaces.
    vals = (("init  = ", init), ("first = ", first), ("min   = ", min(lat)), ("max   = ", max(lat)),
            ("avg   = ", sum(lat) / len(lat)))
    return ["Time(unit: ms):"] + [f"{k}{v:<12.3f}" for k, v in vals]


def run(argv: list[str]) -> int:
    from segbench.emulator.tools.flags import FlagStop

    try:
        f = _parse(argv)
    except FlagStop as stop:  # a bad flag (exit 1), usage (exit 0) or an abort (134), before anything runs
        return stop.emit()
    model = f["optimized_model_file"]
    # A program (--model_file) is converted first and the .nb saved to --optimized_model_file, as the real tool does.
    source = f["model_file"] or model
    if source and not os.path.exists(source):
        print(f"Mode file[{source}] not exist!", file=sys.stderr, flush=True)
        os.abort()
    from segbench.errors import SegbenchError
    from segbench.runners.host_paddlelite import INFERENCE, LITE, PaddleLiteSession

    def fatal(where: str, why: str) -> None:
        stamp = time.strftime("%m/%d %H:%M:%S")
        print(f"[F {stamp}. 0 ...lite/{where}] Check failed: {why}", file=sys.stderr, flush=True)
        os.abort()

    import numpy as np

    if f["model_file"] and model and os.path.exists(model):
        # The real tool removes the previous conversion first, so a stale .nb is never run.
        print(f"Delete previous optimized model: {model}", flush=True)
        os.remove(model)
    cpus, threads = _run_mode(int(f["power_mode"]), int(f["threads"]))
    t0 = time.perf_counter()
    try:
        # Paddle Lite (x86) first, as the real tool converts with it; Paddle Inference stands in for the ops the
        # ARM build has and the x86 one lacks.
        sess = PaddleLiteSession(source, threads, engines=(LITE, INFERENCE))
    except SegbenchError as exc:  # no Paddle runtime on the emulator's host, or none can load the model
        fatal("api/paddle_api.cc:375 CreatePaddlePredictor", f"cannot load {source}: {exc.message}")
    if f["model_file"]:
        print("\n======= Opt Info =======", f"Load paddle model from {f['model_file']} and {f['param_file']}",
              sep="\n", flush=True)
        if sess.nb_path and model:
            shutil.copyfile(sess.nb_path, model)
            print(f"Save optimized model to {model}", flush=True)
    stand_in = f"{sess.tool} {sess.tool_version}"
    for note in sess.notes:  # why Paddle Lite's x86 build could not run it
        print(f"segbench-emulator: {note}", file=sys.stderr, flush=True)
    init = (time.perf_counter() - t0) * 1000
    shape = [int(x) for x in f["input_shape"].split(":")[0].split(",")]
    data = np.ones(shape, np.float32)
    if f["input_data_path"]:
        # As the real tool reads it (`ifstream >> value` per element): extra numbers are ignored, missing ones
        # are not an error (here zeros), and a file it cannot open is said and the run goes on with 1.0.
        try:
            with open(f["input_data_path"]) as fh:
                tokens = fh.read().split()[:data.size]
        except OSError:
            print(f"Open input image {f['input_data_path']} error.", file=sys.stderr, flush=True)
        else:
            values = []
            for token in tokens:  # the stream stops at the first token that is not a number
                try:
                    values.append(float(token))
                except ValueError:
                    break
            data = np.zeros(data.size, np.float32)
            data[:len(values)] = values
            data = data.reshape(shape)
    try:
        sess.set_inputs([data])
        problem = run_mode_problem(f)
        if problem:
            print(problem, end="", file=sys.stderr, flush=True)
            os.abort()
        apply_fault(TOOL, print)
        with Busy():
            # The phone's clock (common.phone_s): the worker's CPU time per run over the cores its threads use.
            cores = cores_for(threads)
            times = [reported_s(sess.run_once().cpu_ms / 1000 / cores) * 1000
                     for _ in range(int(f["warmup"]) + int(f["repeats"]))]
        out = sess.outputs()[0].astype(np.float32)
    except SegbenchError as exc:  # e.g. an --input_shape the model does not take
        fatal("core/program.cc:798 Run", exc.message)
    finally:
        sess.close()
    lat = times[int(f["warmup"]):]
    p = _props()
    lines = ["", "======= Device Info =======", f"Brand: {p.get('ro.product.vendor.brand', '')}",
             f"Device: {p.get('ro.product.vendor.device', '')}", f"Model: {p.get('ro.product.vendor.model', '')}",
             f"Android Version: {p.get('ro.build.version.release', '')}",
             f"Android API Level: {p.get('ro.build.version.sdk', '')}", "", "======= Model Info =======",
             f"optimized_model_file: {model}", f"input_data_path: {f['input_data_path'] or 'All 1.f'}",
             f"input_shape: {f['input_shape']}", "output tensor num: 1", "--- output tensor 0 ---",
             "output shape(NCHW): " + " ".join(map(str, out.shape)), f"output tensor 0 elem num: {out.size}",
             f"output tensor 0 mean value: {out.mean():g}", f"output tensor 0 standard deviation: {out.std():g}",
             "", "======= Runtime Info =======", f"benchmark_bin version: segbench-emulator (host runtime: {stand_in})",
             f"threads: {f['threads']}", f"power_mode: {f['power_mode']}", f"warmup: {f['warmup']}",
             f"repeats: {f['repeats']}", f"result_path: {f['result_path']}", "", "======= Backend Info =======",
             f"backend: {f['backend']}", f"cpu precision: {f['cpu_precision']}", "", "======= Perf Info =======",
             *perf_lines(init, times[0], lat)]
    print("\n".join(lines), flush=True)
    record(TOOL, argv, threads=threads, cpus=cpus, warmup=int(f["warmup"]), repeats=len(lat), init_ms=init,
           first_ms=times[0], latencies_ms=lat)
    return 0
