"""The emulated vendor tools read flags as the real tools do at the pinned versions (tests/fixtures/realflags).

Table-driven: every flag of each table with a good value is taken, bad values and unknown names are refused the
way the real parser refuses them (gflags and absl: an ERROR line and exit 1; TFLite: a parse failure for a bad
value, an unconsumed-flags warning for a name it does not know). The first tests read each stand-in's parser
in-process (hundreds of cases); the last ones run the stand-ins as processes for the exit status and streams.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import FIXTURES, ROOT
from segbench.emulator.tools import ort_perf_test, paddle_benchmark, tflite_benchmark
from segbench.emulator.tools.flags import FlagStop, parse_tflite

TABLES = FIXTURES / "realflags"


def _table(name: str) -> dict:
    return json.loads((TABLES / f"{name}.json").read_text())


BIN, MODEL, ORT, LITERT = (_table(n) for n in ("benchmark_bin", "benchmark_model", "onnxruntime_perf_test",
                                               "litert_benchmark_model"))
_GOOD = {"bool": "true", "int32": "2", "int": "2", "size_t": "3", "float": "0.5", "double": "0.5", "string": "x"}
_BAD = {"bool": "maybe", "int32": "abc", "int": "abc", "size_t": "-1", "float": "abc", "double": "abc"}


def _good(flag: dict) -> str:
    if flag.get("choices"):
        return str(flag["choices"][0])
    return _GOOD[flag["type"]]


# ---------------------------------------------------------------------------------------------
# Every flag the real tool defines, and only those


def test_each_stand_in_defines_exactly_the_real_flags():
    assert set(paddle_benchmark._FLAGS) - {"help", "helpfull", "helpshort", "version"} == set(BIN["flags"])
    android = {n for n, f in MODEL["flags"].items() if f.get("android", True)}
    assert set(tflite_benchmark.CLASSIC_FLAGS) == android
    assert set(tflite_benchmark.LITERT_FLAGS) == set(LITERT["flags"])
    assert set(ort_perf_test.FLAGS) == set(ORT["flags"])
    for table, ours in ((BIN, paddle_benchmark._FLAGS), (MODEL, tflite_benchmark.CLASSIC_FLAGS),
                        (LITERT, tflite_benchmark.LITERT_FLAGS), (ORT, ort_perf_test.FLAGS)):
        assert {n: f["type"] for n, f in table["flags"].items() if n in ours} == {
            n: t for n, t in ours.items() if n in table["flags"]}


# ---------------------------------------------------------------------------------------------
# benchmark_bin v2.12 (gflags)

_NB = ["--optimized_model_file=/d/m.nb", "--input_shape=1,3,8,8", "--backend=arm"]
# Values that keep CheckFlagsValid and the backend check happy when the flag is the one under test.
_BIN_VALUES = {"backend": "opencl,arm", "input_shape": "1,3,8,8", "input_data_path": "/d/in.txt",
               "validation_set": "ILSVRC2012", "model_file": "/d/m.pdmodel", "param_file": "/d/m.pdiparams",
               "uncombined_model_dir": "/d/dir", "optimized_model_file": "/d/m.nb", "nnadapter_device_names":
               "huawei_kirin_npu"}
_BIN_NEEDS = {"validation_set": ["--config_path=/d/c.txt"], "model_file": ["--param_file=/d/m.pdiparams"],
              "param_file": ["--model_file=/d/m.pdmodel"]}


def _bin_base(name: str) -> list[str]:
    base = [a for a in _NB if not a.startswith(f"--{name}=")]
    if name in ("model_file", "param_file", "uncombined_model_dir"):
        base = [a for a in base if not a.startswith("--optimized_model_file=")]
    return base + _BIN_NEEDS.get(name, [])


@pytest.mark.parametrize("name", sorted(BIN["flags"]))
@pytest.mark.parametrize("form", ["--{n}={v}", "-{n}={v}", "--{n} {v}"])
def test_benchmark_bin_takes_every_v2_12_flag(name, form):
    flag = BIN["flags"][name]
    value = _BIN_VALUES.get(name) or _good(flag)
    argv = _bin_base(name) + form.format(n=name, v=value).split(" ", 1)
    if flag["type"] == "bool" and form == "--{n} {v}":
        argv = _bin_base(name) + [f"--{name}"]  # a bare bool is true; gflags never takes the next word for it
    flags = paddle_benchmark._parse(argv)
    given = flags[name]
    assert given == ("true" if flag["type"] == "bool" else str(float(value)) if flag["type"] == "double" else value)


@pytest.mark.parametrize("name", sorted(n for n, f in BIN["flags"].items() if f["type"] in _BAD))
def test_benchmark_bin_refuses_a_bad_value_before_running(name):
    kind = BIN["flags"][name]["type"]
    with pytest.raises(FlagStop) as stop:
        paddle_benchmark._parse([*_NB, f"--{name}={_BAD[kind]}"])
    assert stop.value.code == 1
    assert stop.value.stderr == f"ERROR: illegal value '{_BAD[kind]}' specified for {kind} flag '{name}'\n"


@pytest.mark.parametrize("argv, code, says", [
    (["--input_data_type=float32"], 1, "ERROR: unknown command line flag 'input_data_type'"),  # develop head only
    (["--output_data_path=/d/o.txt"], 1, "ERROR: unknown command line flag 'output_data_path'"),
    (["--use_gpu=true"], 1, "ERROR: unknown command line flag 'use_gpu'"),
    (["--threads"], 1, "ERROR: flag '--threads' is missing its argument"),
    (["--power_mode=9"], 134, "Unsupported power mode: 9"),
    (["--backend=opencl_buffer"], 134, "Wrong target 'opencl_buffer' found"),  # develop head only
    (["--backend=nnadapter,arm", "--nnadapter_device_names=qualcomm_hexagon"], 134, "Wrong target 'qualcomm_hexagon'"),
])
def test_benchmark_bin_refusals(argv, code, says):
    with pytest.raises(FlagStop) as stop:
        paddle_benchmark._parse([*_NB, *argv])
    assert stop.value.code == code and says in stop.value.stderr


@pytest.mark.parametrize("argv, says", [
    (["--model_file=/d/m.pdmodel", "--input_shape=1,3,8,8", "--backend=arm"], "No model path is set!"),
    (["--model_file=/d/m.pdmodel", "--optimized_model_file=/d/m.nb", "--input_shape=1", "--backend=arm"],
     "No model path is set!"),
    (["--optimized_model_file=/d/m.nb", "--input_shape=1,3,8,8"], "Must set --backend option!"),
    (["--optimized_model_file=/d/m.nb", "--backend=arm"], "Must set --input_shape option!"),
    ([*_NB, "--input_data_path=/d/a.txt:/d/b.txt"], "The num of input tensors is ambiguous."),
    ([*_NB, "--validation_set=ILSVRC2012"], "Both --validation_set and --config_path options should be set!"),
])
def test_benchmark_bin_usage_exits_0_as_the_real_tool(argv, says):
    with pytest.raises(FlagStop) as stop:
        paddle_benchmark._parse(argv)
    assert stop.value.code == 0 and says in stop.value.stderr and "--optimized_model_file" in stop.value.stdout


def test_benchmark_bin_bool_forms():
    assert paddle_benchmark._parse([*_NB, "--noenable_memory_profile"])["enable_memory_profile"] == "false"
    assert paddle_benchmark._parse([*_NB, "--enable_memory_profile=yes"])["enable_memory_profile"] == "true"
    assert paddle_benchmark._parse([*_NB, "--threads", "-4"])["threads"] == "-4"  # a value may start with '-'


# ---------------------------------------------------------------------------------------------
# benchmark_model (TFLite grammar): classic and LiteRT 2.x


@pytest.mark.parametrize("table, ours", [(MODEL, tflite_benchmark.CLASSIC_FLAGS),
                                         (LITERT, tflite_benchmark.LITERT_FLAGS)], ids=["classic", "litert"])
def test_benchmark_model_takes_every_flag_in_its_one_form(table, ours):
    for name, flag in table["flags"].items():
        if not flag.get("android", True):
            continue
        value = _good(flag)
        parsed = parse_tflite([f"--{name}={value}"], ours)
        assert not parsed.errors and not parsed.leftover and name in parsed.values, name
        # Any other form is no flag at all: left over, with the default kept.
        for other in ([f"--{name}", value], [f"-{name}={value}"]):
            parsed = parse_tflite(other, ours)
            assert parsed.leftover == other and name not in parsed.values, (name, other)


@pytest.mark.parametrize("name", sorted(n for n, f in MODEL["flags"].items() if f["type"] in _BAD and
                                        f.get("android", True)))
def test_benchmark_model_refuses_a_bad_value(name):
    kind = MODEL["flags"][name]["type"]
    bad = {"bool": "yes", "int32": "abc", "float": "abc"}[kind]
    parsed = parse_tflite([f"--{name}={bad}"], tflite_benchmark.CLASSIC_FLAGS)
    assert parsed.errors == [f"Failed to parse flag '{name}' against argv '--{name}={bad}'"]


def test_benchmark_model_reads_numbers_as_a_stream_does():
    parsed = parse_tflite(["--num_threads=4x", "--min_secs=1e-1", "--num_runs=3", "--num_runs=9"],
                          tflite_benchmark.CLASSIC_FLAGS)
    assert parsed.values["num_threads"] == 4 and parsed.values["min_secs"] == pytest.approx(0.1)
    assert parsed.values["num_runs"] == 3 and parsed.leftover == ["--num_runs=9"]  # the first one counts


@pytest.mark.parametrize("name", ["gpu_wait_type", "use_coreml", "coreml_version", "input_data_type"])
def test_benchmark_model_leaves_flags_it_does_not_define(name):
    assert parse_tflite([f"--{name}=1"], tflite_benchmark.CLASSIC_FLAGS).leftover == [f"--{name}=1"]


def test_litert_has_no_delegate_provider_or_input_file_flags():
    for name in ("use_xnnpack", "use_nnapi", "input_layer_value_files", "enable_op_profiling", "output_filepath"):
        assert parse_tflite([f"--{name}=true"], tflite_benchmark.LITERT_FLAGS).leftover == [f"--{name}=true"]


def test_value_file_names_must_be_input_layers():
    flags = {**tflite_benchmark._DEFAULTS, "graph": "g", "input_layer_value_files": "x:/d/a.raw"}
    with pytest.raises(tflite_benchmark._Abort, match=r"Cannot find the corresponding input_layer name\(x\)"):
        tflite_benchmark._validate(flags, litert=False)
    ok = {**flags, "input_layer": "a::b", "input_layer_shape": "1,3", "input_layer_value_files": "a::b:/d/a.raw"}
    ok["input_layer"] = "a:b"
    assert tflite_benchmark._validate(ok, litert=False) is None
    assert tflite_benchmark._value_files(ok) == {0: "/d/a.raw"}
    shapes = {**flags, "input_layer": "a,b", "input_layer_shape": "1,3", "input_layer_value_files": ""}
    assert "must match the number of items" in tflite_benchmark._validate(shapes, litert=False)


# ---------------------------------------------------------------------------------------------
# onnxruntime_perf_test 1.23 (absl)

_ORT_VALUES = {"f": "batch:1", "F": "DATA_BATCH:1", "o": "1", "e": "cpu", "m": "times"}


@pytest.mark.parametrize("name", sorted(ORT["flags"]))
@pytest.mark.parametrize("form", ["-{n} {v}", "--{n} {v}", "-{n}={v}", "--{n}={v}"])
def test_ort_takes_every_1_23_flag_in_every_absl_form(name, form):
    flag = ORT["flags"][name]
    if name == "h":
        pytest.skip("-h prints the usage and stops")
    if flag["type"] == "bool":
        argv = [form.split(" ")[0].split("=")[0].format(n=name)]
    else:
        value = _ORT_VALUES.get(name) or _good(flag)
        argv = form.format(n=name, v=value).split(" ", 1)
        if name in ("f", "F") and "=" in form:
            argv = [argv[0]]  # perf_test re-reads -f/-F from argv in the separate form only; '=' sets nothing there
    args = ort_perf_test.parse_args([*argv, "m.onnx"])
    assert args.model_path == "m.onnx"


@pytest.mark.parametrize("argv, says", [
    (["-x4", "m.onnx"], "ERROR: Unknown command line flag 'x4'"),
    (["-sI", "m.onnx"], "ERROR: Unknown command line flag 'sI'"),
    (["-x", "abc", "m.onnx"], "ERROR: Illegal value 'abc' specified for flag 'x'"),
    (["-r", "-1", "m.onnx"], "ERROR: Illegal value '-1' specified for flag 'r'"),
    (["-s=maybe", "m.onnx"], "ERROR: Illegal value 'maybe' specified for flag 's'"),
    (["m.onnx", "-x"], "ERROR: Missing the value for the flag 'x'"),
    (["-Q", "m.onnx"], "ERROR: Unknown command line flag 'Q'"),
])
def test_ort_absl_refusals_exit_1(argv, says):
    with pytest.raises(FlagStop) as stop:
        ort_perf_test.parse_args(argv)
    assert stop.value.code == 1 and says in stop.value.stderr


@pytest.mark.parametrize("argv", [["-m", "fast", "m.onnx"], ["-r", "0", "m.onnx"], ["-x", "-1", "m.onnx"],
                                  ["-o", "5", "m.onnx"], ["-e", "gpu", "m.onnx"], ["-f", "batch", "m.onnx"],
                                  ["-f", "batch:0", "m.onnx"], [], ["a.onnx", "b.txt", "c"]])
def test_ort_values_its_own_checks_refuse_exit_255(argv):
    with pytest.raises(FlagStop) as stop:
        ort_perf_test.parse_args(argv)
    assert stop.value.code == 255 and stop.value.stderr == "See 'onnxruntime_perf_test --help'."


def test_ort_positionals_anywhere_and_the_last_repeat_wins():
    args = ort_perf_test.parse_args(["m.onnx", "-x", "1", "r.txt", "-x", "3", "--nos", "-o", "120", "-r", "5"])
    assert (args.model_path, args.result_file, args.x, args.s, args.o, args.m, args.r) == (
        "m.onnx", "r.txt", 3, False, 99, "times", 5)


# ---------------------------------------------------------------------------------------------
# As processes: exit status and streams, no traceback


def _tool(tmp_path, tool: str, *args: str, binary: bytes | None = None) -> subprocess.CompletedProcess:
    state = tmp_path / "state"
    (state / "busy").mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT), SEGBENCH_EMU_STATE=str(state), SEGBENCH_EMU_FAULT="")
    if binary is not None:
        (tmp_path / "bin").write_bytes(binary)
        env["SEGBENCH_EMU_BINARY"] = str(tmp_path / "bin")
    return subprocess.run([sys.executable, "-m", "segbench.emulator.tools", tool, *args], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("tool, argv, rc, stream, says", [
    ("benchmark_bin", ["--threads=abc", *_NB], 1, "err", "ERROR: illegal value 'abc' specified for int32 flag"),
    ("benchmark_bin", ["--x=2", *_NB], 1, "err", "ERROR: unknown command line flag 'x'"),
    ("benchmark_bin", ["--model_file=/d/m.pdmodel", "--input_shape=1", "--backend=arm"], 0, "err",
     "No model path is set!"),
    ("benchmark_bin", [*_NB, "--power_mode=9"], -6, "err", "Unsupported power mode: 9"),
    ("benchmark_model", ["--graph=/nonexistent.tflite", "--use_xnnpack=yes"], 1, "err",
     "Failed to parse flag 'use_xnnpack' against argv '--use_xnnpack=yes'"),
    ("benchmark_model", ["--graph=/d/m.tflite", "--input_layer_value_files=x:/d/a.raw"], -6, "err",
     "FATAL: Cannot find the corresponding input_layer name(x)"),
    ("benchmark_model", ["--num_threads", "4"], 1, "out", "WARN: Unconsumed cmdline flags: --num_threads 4"),
    ("onnxruntime_perf_test", ["-x4", "m.onnx"], 1, "err", "ERROR: Unknown command line flag 'x4'"),
    ("onnxruntime_perf_test", ["-sI", "m.onnx"], 1, "err", "ERROR: Unknown command line flag 'sI'"),
    ("onnxruntime_perf_test", ["-m", "fast", "m.onnx"], 255, "err", "See 'onnxruntime_perf_test --help'."),
])
def test_stand_ins_stop_as_the_real_tools(tmp_path, tool, argv, rc, stream, says):
    done = _tool(tmp_path, tool, *argv)
    assert done.returncode == rc, (done.stdout, done.stderr)
    assert says in (done.stderr if stream == "err" else done.stdout)
    assert "Traceback" not in done.stderr


def test_ort_takes_x_with_equals_q_and_p(tmp_path):
    done = _tool(tmp_path, "onnxruntime_perf_test", "--x=2", "-q", "-P", "-I", "-r", "2",
                 str(FIXTURES / "models" / "tiny_seg.onnx"))
    assert done.returncode == 0, done.stderr
    assert "Setting intra_op_num_threads to 2" in done.stdout


def test_litert_mode_prints_its_results_block_and_refuses_classic_input_files(tmp_path):
    from segbench.runners import benchmark_model, tools

    model = FIXTURES / "models" / "selfie_segmentation.tflite"
    done = _tool(tmp_path, "benchmark_model", f"--graph={model}", "--num_runs=3", "--min_secs=0", "--warmup_runs=1",
                 "--warmup_min_secs=0", "--use_cpu=true", "--input_layer_value_files=x:/d/a.raw",
                 "--qualcomm_htp_performance_mode=burst", binary=b"\x7fELF BenchmarkLiteRtModel")
    assert done.returncode == 0, done.stderr
    assert "BENCHMARK RESULTS" in done.stdout and "Inference timings in us" not in done.stdout
    # the classic flag is nothing to it: unconsumed; the vendor flag is dropped by its main() before that
    assert "WARN: Unconsumed cmdline flags: --input_layer_value_files=x:/d/a.raw\n" in done.stdout
    run = tools.parse_case_log(benchmark_model, done.stdout + done.stderr)
    assert run.status == "ok" and run.count == 3 and run.tool_version == benchmark_model.LITERT_VERSION
    gpu = _tool(tmp_path, "benchmark_model", f"--graph={model}", "--use_gpu=true",
                binary=b"\x7fELF BenchmarkLiteRtModel")
    assert gpu.returncode == 1 and "Benchmarking failed." in gpu.stderr
