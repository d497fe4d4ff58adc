"""Every command segbench's runners build passes the real tools' flag tables (tests/fixtures/realflags).

The checkers here read only the tables (grammar, flag types, choices, cross-flag rules), not the stand-ins, so a
builder that emits what the real tool at the pinned version would refuse, ignore or abort on fails here. The
settings swept are all the runners take (ToolCase: every backend and option, inputs, profiling, memory, result
files, output dumps, free dimensions, variants); a setting a builder refuses is a UsageError, which is fine.
"""

from __future__ import annotations

import itertools
import json
import re
import shlex

import pytest

from conftest import FIXTURES
from segbench.errors import UsageError
from segbench.model import Case, ModelRef
from segbench.runners import benchmark_bin, benchmark_model, onnxruntime_perf_test
from segbench.runners.tools import ToolCase

TABLES = {n: json.loads((FIXTURES / "realflags" / f"{n}.json").read_text())
          for n in ("benchmark_bin", "benchmark_model", "onnxruntime_perf_test", "litert_benchmark_model")}
_INT = re.compile(r"[-+]?\d+")
_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _typed_ok(kind: str, value: str, bools: tuple[str, ...]) -> bool:
    if kind == "bool":
        return value in bools
    if kind in ("int32", "int"):
        return bool(_INT.fullmatch(value))
    if kind == "size_t":
        return value.isdigit()
    if kind in ("float", "double"):
        return bool(_FLOAT.fullmatch(value))
    return True


def _check_choices(table: dict, name: str, value: str) -> None:
    flag = table["flags"][name]
    if flag.get("choices"):
        assert value in [str(c) for c in flag["choices"]], (name, value)
    if flag.get("min") is not None:
        assert int(value) >= flag["min"], (name, value)
    if flag.get("pattern"):
        assert re.fullmatch(flag["pattern"], value), (name, value)


def _after_tool(argv: list[str]) -> list[str]:
    start = 2 if argv[0] == "taskset" else 0
    return argv[start + 1:]


def check_benchmark_bin(argv: list[str]) -> None:
    """gflags at v2.12: known flags only, typed values, CheckFlagsValid, SetValidPlaces targets, power modes."""
    table = TABLES["benchmark_bin"]
    flags: dict[str, str] = {}
    for arg in _after_tool(argv):
        m = re.fullmatch(r"--([A-Za-z0-9_]+)=(.*)", arg, re.S)
        assert m, f"benchmark_bin argument {arg!r} is not --name=value"
        name, value = m.groups()
        assert name in table["flags"], f"benchmark_bin v2.12 has no --{name} (unknown flag: exit 1)"
        assert _typed_ok(table["flags"][name]["type"], value, ("true", "false", "1", "0")), arg
        _check_choices(table, name, value)
        flags[name] = value
    program = bool(flags.get("uncombined_model_dir") or (flags.get("model_file") and flags.get("param_file")))
    nb = bool(flags.get("optimized_model_file")) and not any(
        flags.get(k) for k in ("model_file", "param_file", "uncombined_model_dir"))
    assert program or nb, "no model path: the tool prints usage and exits 0"
    assert flags.get("backend") and flags.get("input_shape"), "--backend and --input_shape are required"
    if flags.get("input_data_path"):
        assert len(flags["input_data_path"].split(":")) == len(flags["input_shape"].split(":")), "ambiguous inputs"
    items = [b for b in flags["backend"].split(",") if b != "nnadapter"]
    if "nnadapter" in flags["backend"].split(","):
        items += [d for d in flags.get("nnadapter_device_names", "").split(",") if d]
    assert set(items) <= set(table["rules"]["opt_targets"]), f"opt aborts on backend {flags['backend']}"
    for shape in flags["input_shape"].split(":"):
        assert all(_INT.fullmatch(d) for d in shape.split(",")), shape


def check_benchmark_model(argv: list[str], table_name: str = "benchmark_model") -> None:
    """TFLite's parser: --name=value of a flag the build defines (else it is ignored with a warning), values that
    parse, choices, and PopulateInputLayerInfo's rules (names vs shapes, value-file names among the layers)."""
    table = TABLES[table_name]
    flags: dict[str, str] = {}
    for arg in _after_tool(argv):
        m = re.fullmatch(r"--([A-Za-z0-9_-]+)=(.*)", arg, re.S)
        assert m, f"benchmark_model argument {arg!r} is not --name=value: it would be ignored (unconsumed)"
        name, value = m.groups()
        flag = table["flags"].get(name)
        assert flag is not None and flag.get("android", True), f"{table_name} has no --{name} on Android"
        assert name not in flags, f"--{name} twice: only the first is read"
        assert _typed_ok(flag["type"], value, tuple(table["grammar_rules"]["bool_values"])), arg
        _check_choices(table, name, value)
        flags[name] = value
    assert flags.get("graph"), "--graph is required"
    names = flags["input_layer"].split(",") if flags.get("input_layer") else []
    shapes = flags["input_layer_shape"].split(":") if flags.get("input_layer_shape") else []
    assert len(names) == len(shapes), "--input_layer and --input_layer_shape must have as many items"
    assert all("-1" not in s.split(",") for s in shapes)
    for item in flags.get("input_layer_value_files", "").split(",") if flags.get("input_layer_value_files") else []:
        parts = re.split(r"(?<!:):(?!:)", item.replace("::", "\0"))
        assert len(parts) == 2, f"{item}: exactly one unescaped ':'"
        assert parts[0].replace("\0", ":") in names, f"{item}: not in --input_layer (the tool aborts)"


def check_onnxruntime_perf_test(argv: list[str]) -> None:
    """absl at 1.23: -NAME VALUE / bare bools of defined flags, 1-2 positionals, ParseArguments' value checks."""
    table = TABLES["onnxruntime_perf_test"]
    args = _after_tool(argv)
    positional, values, i = [], {}, 0
    while i < len(args):
        arg = args[i]
        i += 1
        if not arg.startswith("-"):
            positional.append(arg)
            continue
        name = arg.lstrip("-")
        assert name in table["flags"], f"onnxruntime_perf_test has no flag {arg!r} (exit 1)"
        flag = table["flags"][name]
        if flag["type"] == "bool":
            continue
        assert i < len(args), f"{arg} has no value"
        value, i = args[i], i + 1
        assert _typed_ok(flag["type"], value, ()), (arg, value)
        _check_choices(table, name, value)
        values[name] = value
    assert 1 <= len(positional) <= 2, positional
    if values.get("e") == "nnapi" and "i" in values:
        assert set(values["i"].split()) <= set(table["flags"]["i"]["nnapi_words"]), values["i"]
    elif "i" in values:
        assert all(re.fullmatch(r"[^|\s]+\|[^|\s]*", kv) for kv in values["i"].split()), values["i"]


CHECKS = {"benchmark_bin": check_benchmark_bin, "benchmark_model": check_benchmark_model,
          "onnxruntime_perf_test": check_onnxruntime_perf_test}

# ---------------------------------------------------------------------------------------------
# The settings the runners take

D = "/data/local/tmp/segbench"
_POWER = ("high", "low", "full", "no_bind", "rand_high", "rand_low")


def _case(runtime: str, fmt: str, power: str = "high", threads: int = 2) -> Case:
    return Case(model=ModelRef("m", f"/h/m.{fmt}", fmt), runtime=runtime, threads=threads, power_mode=power,
                warmup=3, repeats=7)


def _paddle_cases():
    options = [(), (("gpu_precision", "fp32"),), (("gpu_precision", "fp64"),), (("opencl_tune_mode", "rapid"),),
               (("cpu_precision", "fp16"),), (("nnadapter_device_names", "huawei_kirin_npu"),),
               (("nnadapter_device_names", "qualcomm_qnn"),), (("input_data_type", "float32"),), (("run_delay", "1"),),
               (("opencl_cache_dir", f"{D}/cl"),), (("nnadapter_context_properties", "K=V"),)]
    backends = [None, *benchmark_bin.BACKENDS, "opencl_buffer", "cuda"]
    models = [("m.nb", None), ("m.pdmodel", "m.pdiparams")]
    for (model, params), backend, opts, power, inp, shapes, mem, result in itertools.product(
            models, backends, options, _POWER, (None, f"{D}/in.txt"), (((1, 3, 64, 64),), ((1, 3, 8, 8), (1, 5))),
            (False, True), (None, f"{D}/r.txt")):
        yield benchmark_bin, ToolCase(case=_case("paddlelite", "nb", power), tool_path=f"{D}/bin/benchmark_bin",
                                      model_path=f"{D}/{model}", params_path=params and f"{D}/{params}",
                                      input_path=inp, input_shapes=shapes, backend=backend, backend_options=opts,
                                      memory_profile=mem, result_path=result)


def _tflite_cases():
    options = [(), (("gpu_backend", "cl"),), (("gpu_backend", "vulkan"),), (("nnapi_accelerator_name", "qti-dsp"),),
               (("nnapi_execution_preference", "sustained_speed"),), (("nnapi_allow_fp16", "true"),),
               (("nnapi_allow_fp16", "yes"),), (("xnnpack_force_fp16", "true"),), (("hexagon_lib_path", D),),
               (("gpu-precision", "fp16"),), (("dispatch_library_path", D),), (("gpu_low_priority", "true"),)]
    backends = [None, "cpu", "xnnpack", "gpu", "nnapi", "hexagon", "npu", "coreml"]
    inputs = [(None, None, None), (f"{D}/in.raw", ("input_1",), ((1, 256, 256, 3),)),
              (f"{D}/in.raw", ("input_1",), None), (f"{D}/in.raw", ("serving:0",), ((1, 8),)),
              (None, ("a", "b"), ((1, 2), (1, 3)))]
    for variant, backend, opts, (inp, names, shapes), prof, mem, out, result in itertools.product(
            (None, "litert"), backends, options, inputs, (False, True), (False, True), (None, f"{D}/out.bin"),
            (None, f"{D}/result.pb")):
        yield benchmark_model, ToolCase(case=_case("tflite", "tflite"), tool_path=f"{D}/bin/benchmark_model",
                                        model_path=f"{D}/m.tflite", input_path=inp, input_names=names,
                                        input_shapes=shapes, cpu_mask="f0", backend=backend, backend_options=opts,
                                        op_profiling=prof, memory_profile=mem, output_path=out, result_path=result,
                                        variant=variant)


def _ort_cases():
    options = [(), (("NNAPI_FLAG_USE_FP16", ""),), (("NNAPI_FLAG_USE_FP16", ""), ("NNAPI_FLAG_CPU_DISABLED", "")),
               (("backend_type", "htp"),), (("backend_type", "htp"), ("htp_performance_mode", "burst")),
               (("use_fp16", "1"),)]
    for backend, opts, inp, dims, prof, per_run, result in itertools.product(
            [None, *onnxruntime_perf_test.PROVIDERS, "cuda"], options, (None, f"{D}/m/test_data_set_0"),
            ((), (("batch", 1),), (("batch", 0),)), (False, True), (False, True), (None, f"{D}/m/perf.txt")):
        yield onnxruntime_perf_test, ToolCase(case=_case("onnxruntime", "onnx"), tool_path=f"{D}/bin/ort",
                                              model_path=f"{D}/m/m.onnx", input_path=inp, backend=backend,
                                              backend_options=opts, free_dims=dims, op_profiling=prof,
                                              per_run_times=per_run, result_path=result, cpu_mask="f0")


@pytest.mark.parametrize("cases", [_paddle_cases, _tflite_cases, _ort_cases],
                         ids=["benchmark_bin", "benchmark_model", "onnxruntime_perf_test"])
def test_every_command_the_runners_build_passes_the_real_flag_tables(cases):
    built = refused = 0
    for module, tc in cases():
        try:
            argv = module.build_command(tc)
        except UsageError:
            refused += 1
            continue
        built += 1
        if module is benchmark_model and tc.variant == "litert":
            check_benchmark_model(argv, "litert_benchmark_model")
        else:
            CHECKS[module.TOOL](argv)
    assert built > 50 and refused > 0, (built, refused)


# ---------------------------------------------------------------------------------------------
# The checkers catch what the real tools refuse (so the sweep above can fail)


@pytest.mark.parametrize("check, argv", [
    (check_benchmark_bin, ["bb", "--optimized_model_file=m.nb", "--input_shape=1,3", "--backend=arm",
                           "--input_data_type=float32"]),
    (check_benchmark_bin, ["bb", "--optimized_model_file=m.nb", "--input_shape=1,3", "--backend=opencl_buffer"]),
    (check_benchmark_bin, ["bb", "--model_file=m.pdmodel", "--input_shape=1,3", "--backend=arm"]),
    (check_benchmark_bin, ["bb", "--optimized_model_file=m.nb", "--input_shape=1,3", "--backend=arm",
                           "--power_mode=9"]),
    (check_benchmark_model, ["bm", "--graph=m", "--input_layer_value_files=x:/d/a.raw"]),
    (check_benchmark_model, ["bm", "--graph=m", "--use_xnnpack=yes"]),
    (check_benchmark_model, ["bm", "--graph=m", "--num_threads", "4"]),
    (check_onnxruntime_perf_test, ["ort", "-e", "nnapi", "-i", "NNAPI_FLAG_USE_FP16|", "m.onnx"]),
    (check_onnxruntime_perf_test, ["ort", "-x4", "m.onnx"]),
    (check_onnxruntime_perf_test, ["ort", "-r", "0", "m.onnx"]),
])
def test_the_checkers_refuse_what_the_real_tools_refuse(check, argv):
    with pytest.raises(AssertionError):
        check(argv)


def test_builders_that_were_wrong_for_the_real_tools():
    tf = ToolCase(case=_case("tflite", "tflite"), tool_path="bm", model_path="m.tflite", input_path=f"{D}/in.raw",
                  input_names=("x",))
    with pytest.raises(UsageError, match="needs the input's shape"):  # else --input_layer is missing: abort
        benchmark_model.build_command(tf)
    ort = ToolCase(case=_case("onnxruntime", "onnx"), tool_path="ort", model_path="m.onnx", backend="nnapi",
                   backend_options=(("NNAPI_FLAG_USE_FP16", ""), ("NNAPI_FLAG_USE_NCHW", "")))
    argv = onnxruntime_perf_test.build_command(ort)
    assert argv[argv.index("-i") + 1] == "NNAPI_FLAG_USE_FP16 NNAPI_FLAG_USE_NCHW"  # words, not key|value
    bb = ToolCase(case=_case("paddlelite", "nb"), tool_path="bb", model_path="m.nb", input_shapes=((1, 3),),
                  backend_options=(("input_data_type", "float32"),))
    with pytest.raises(UsageError, match="no option 'input_data_type'"):
        benchmark_bin.build_command(bb)
    lite = ToolCase(case=_case("tflite", "tflite"), tool_path="bm", model_path="m.tflite", backend="gpu",
                    op_profiling=True, result_path="r.pb", input_path="in.raw", input_names=("x",),
                    input_shapes=((1, 3),), variant="litert")
    assert benchmark_model.build_command(lite)[-4:] == ["--use_gpu=true", "--use_cpu=false", "--use_profiler=true",
                                                        "--result_file_path=r.pb"]


# ---------------------------------------------------------------------------------------------
# Every segbench backend (run --backend), as each tool maps it, in the commands `run --device` builds


def _backend_cases():
    """What DeviceBackend.measure builds for each backend: the tool's mapping (tools.tool_backend) on the case's
    ToolCase, with ORT's -v for a non-CPU provider; with and without profiling, memory and inputs."""
    from segbench.model import BACKENDS
    from segbench.runners import tools

    builds = [(benchmark_model, None, "tflite", "tflite"), (benchmark_model, "litert", "tflite", "tflite"),
              (onnxruntime_perf_test, None, "onnxruntime", "onnx"), (benchmark_bin, None, "paddlelite", "nb")]
    # Paddle Lite's own modes and explicit CPU sets (every tool under the mask, benchmark_bin told NO_BIND)
    for (module, variant, runtime, fmt), backend, power, prof, mem in itertools.product(
            builds, BACKENDS, (*_POWER, "prime", "cpus:0,7"), (False, True), (False, True)):
        try:
            tool_backend, options = tools.tool_backend(module, backend, variant)
        except tools.NoBackend:
            continue
        model = {"tflite": f"{D}/m.tflite", "onnx": f"{D}/m/m.onnx", "nb": f"{D}/m.nb"}[fmt]
        inp = {"tflite": f"{D}/in.raw", "onnx": f"{D}/m/test_data_set_0", "nb": f"{D}/in.txt"}[fmt]
        yield module, variant, ToolCase(
            case=_case(runtime, fmt, power), tool_path=f"{D}/bin/tool", model_path=model,
            input_path=None if variant == "litert" else inp, input_names=("x",), input_shapes=((1, 3, 8, 8),),
            cpu_mask=tools.taskset_mask(module, "f0", power), backend=tool_backend, backend_options=options,
            op_profiling=prof and module is not benchmark_bin, memory_profile=mem,
            per_run_times=module is onnxruntime_perf_test and backend != "cpu",
            result_path=f"{D}/m/perf.txt" if module is onnxruntime_perf_test else None, variant=variant)


def test_every_backend_segbench_maps_builds_a_command_the_real_tool_takes():
    from segbench.model import BACKENDS

    seen: dict[tuple, set[str]] = {}
    for module, variant, tc in _backend_cases():
        argv = module.build_command(tc)  # never a UsageError: a mapping the tool refuses would be a bug
        if module is benchmark_model and variant == "litert":
            check_benchmark_model(argv, "litert_benchmark_model")
        else:
            CHECKS[module.TOOL](argv)
        seen.setdefault((module.TOOL, variant), set()).add((tc.backend, tc.backend_options))
    assert len(seen[("benchmark_model", None)]) == 6  # cpu, xnnpack, gpu, gpu-fp16, nnapi, nnapi-fp16: all distinct
    assert len(seen[("benchmark_model", "litert")]) == 5 and len(seen[("benchmark_bin", None)]) == 3
    assert len(seen[("onnxruntime_perf_test", None)]) == 4
    assert len(BACKENDS) == 7


def test_the_commands_run_device_builds_for_every_backend_pass_the_real_flag_tables(tmp_path):
    """The commands of `run --device` for every backend are the ones the DeviceBackend builds: drive its measure() with
    a phone double that records argv instead of running it, so the path from Case.backend to argv is the real one."""
    from pathlib import Path

    from segbench.assets import Tool
    from segbench.devices import Completed
    from segbench.model import BACKENDS, DeviceInfo
    from segbench.ondevice import DeviceBackend

    class Phone:
        serial = "p"

        def __init__(self):
            self.commands = []

        def shell(self, command, timeout=30.0):
            self.commands.append(command)
            if command.startswith("ls "):
                return Completed(0, b"/vendor/lib64/libOpenCL.so /system/lib64/libneuralnetworks.so\n", b"")
            return Completed(0, b"", b"")

        def push(self, local, remote, digest=None, mode=None):
            return False

        def pull(self, remote, local):
            raise AssertionError("nothing to pull")

        def thermal_c(self):
            return {}

        def cur_khz(self):
            return {}

        def cap_khz(self):
            return {}

    models = Path(FIXTURES / "models")
    phone = Phone()
    info = DeviceInfo(id="p", kind="android", abi="arm64-v8a", api_level=28, cores=8,
                      cpu_max_khz={i: 1785600 if i < 4 else 2419200 for i in range(8)})
    tool_file = models / "tiny_seg.onnx"  # any file: nothing runs
    built = skipped = 0
    for rt, model, variant in (("tflite", "selfie_segmentation.tflite", None), ("tflite", "selfie_segmentation.tflite",
                                                                              "litert"),
                               ("onnxruntime", "tiny_seg.onnx", None)):
        ref = ModelRef(model.split(".")[0], str(models / model), "tflite" if rt == "tflite" else "onnx", "ab" * 32)
        tools_ = {rt: Tool(rt, tool_file, (tool_file,), "1", "x" * 64, variant)}
        for backend, asked in itertools.product(BACKENDS, (False, True)):  # asked: run --profile --memory
            device = DeviceBackend(phone, info, tools_, workdir=tmp_path, op_profiling=asked, memory_profile=asked)
            m, _ = device.measure(Case(ref, rt, 2, "high", 1, 2, backend=backend), "r")
            assert m.backend == backend
            if m.status == "skipped":
                assert m.error.startswith(f"no {backend} backend:"), m.error
                skipped += 1
                continue
            built += 1
            argv = shlex.split(m.extra["command"])
            if variant == "litert":
                check_benchmark_model(argv, "litert_benchmark_model")
            else:
                CHECKS[{"tflite": "benchmark_model", "onnxruntime": "onnxruntime_perf_test"}[rt]](argv)
    assert built == 2 * (6 + 5 + 4) and skipped == 2 * (1 + 2 + 3)
    # Explicit CPU sets: the same taskset mask for every tool; a cluster this two-cluster phone lacks is skipped.
    for mode, mask in (("gold", "f0"), ("cpus:0,7", "81"), ("prime", None)):
        m, _ = DeviceBackend(phone, info, tools_, workdir=tmp_path).measure(Case(ref, rt, 2, mode, 1, 2), "r")
        if mask is None:
            assert m.status == "skipped" and m.error.startswith("power mode prime: no prime cluster: two clusters")
            continue
        argv = shlex.split(m.extra["command"])
        assert argv[:2] == ["taskset", mask] and m.cpu_mask == mask
        CHECKS["onnxruntime_perf_test"](argv)
