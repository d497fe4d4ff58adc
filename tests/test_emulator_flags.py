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


# gflags' exact lines (gflags.cc at the commit Paddle Lite v2.12 vendors): errors filed by flag name, printed sorted
# by name, one per name; a flag missing its value closes with the flag's help text and ends parsing (the stand-in's
# help texts are its own words: the shape of the line is the real one).
@pytest.mark.parametrize("argv, stderr", [
    (["--threads"], "ERROR: flag '--threads' is missing its argument; flag description: number of CPU "
     "threads\n"),
    (["--x=1", "--power_mode"], "ERROR: flag '--power_mode' is missing its argument; flag description: CPU binding "
     "mode, 0 to 5\nERROR: unknown command line flag 'x'\n"),
    (["--threads", "--y=2"], "ERROR: illegal value '--y=2' specified for int32 flag 'threads'\n"),  # the next word
    (["--repeats", "--z=1", "--a=1"], "ERROR: unknown command line flag 'a'\nERROR: illegal value '--z=1' "
     "specified for int32 flag 'repeats'\n"),
    (["--flagfile"], "ERROR: flag '--flagfile' is missing its argument; flag description: read more flags from this file\n"),
    (["--x=2", "--a=1", "--threads=abc"], "ERROR: unknown command line flag 'a'\nERROR: illegal value 'abc' "
     "specified for int32 flag 'threads'\nERROR: unknown command line flag 'x'\n"),
    (["--threads=a", "--threads=b"], "ERROR: illegal value 'b' specified for int32 flag 'threads'\n"),
    (["--nothreads"], "ERROR: boolean value (nothreads) specified for int32 command line flag\n"),
    (["--threads=-0x10"], "ERROR: illegal value '-0x10' specified for int32 flag 'threads'\n"),  # hex only at 0x
    (["--threads=4 "], "ERROR: illegal value '4 ' specified for int32 flag 'threads'\n"),
    (["--threads=2147483648"], "ERROR: illegal value '2147483648' specified for int32 flag 'threads'\n"),
    (["--run_delay=1e999"], "ERROR: illegal value '1e999' specified for double flag 'run_delay'\n"),
    (["--run_delay=1_0"], "ERROR: illegal value '1_0' specified for double flag 'run_delay'\n"),
    (["--enable_memory_profile="], "ERROR: illegal value '' specified for bool flag 'enable_memory_profile'\n"),
    (["--undefok=y", "--x=1", "--noy"], "ERROR: unknown command line flag 'x'\n"),
])
def test_benchmark_bin_gflags_lines(argv, stderr):
    with pytest.raises(FlagStop) as stop:
        paddle_benchmark._parse([*_NB, *argv])
    assert (stop.value.code, stop.value.stderr, stop.value.stdout) == (1, stderr, "")


@pytest.mark.parametrize("argv, flag, value", [
    (["--threads= 4"], "threads", "4"), (["--threads=+4"], "threads", "4"), (["--threads=0x10"], "threads", "16"),
    (["--run_delay=0x1p3"], "run_delay", "8.0"), (["--run_delay= 2"], "run_delay", "2.0"),
    (["--run_delay=inf"], "run_delay", "inf"), (["--noenable_memory_profile=true"], "enable_memory_profile", "false"),
    (["--undefok=x,y", "--x=1", "--noy"], "threads", "1"), (["--tab_completion_columns=9"], "threads", "1"),
])
def test_benchmark_bin_takes_what_gflags_takes(argv, flag, value):
    assert paddle_benchmark._parse([*_NB, *argv])[flag] == value


@pytest.mark.parametrize("argv, code, stdout", [
    (["--help", "--x=2"], 1, "benchmark_bin: \nNote: \n"),  # help comes before the error report
    (["--helpxml"], 1, "benchmark_bin: "), (["--helpon=benchmark"], 1, "benchmark_bin: "),
    (["--version", "--threads=abc"], 0, "benchmark_bin version "),
])
def test_benchmark_bin_help_flags_act_before_errors(argv, code, stdout):
    with pytest.raises(FlagStop) as stop:
        paddle_benchmark._parse([*_NB, *argv])
    assert stop.value.code == code and stop.value.stdout.startswith(stdout) and stop.value.stderr == ""


def test_benchmark_bin_checks_power_mode_only_when_the_model_runs():
    # The real tool passes --power_mode to the predictor, whose first Run() aborts on a mode it does not know:
    # flag checks, the target check and the model file check all come first.
    flags = paddle_benchmark._parse([*_NB, "--power_mode=9"])
    assert "Unsupported power mode: 9" in paddle_benchmark.run_mode_problem(flags)
    assert paddle_benchmark.run_mode_problem(paddle_benchmark._parse([*_NB, "--power_mode=5"])) is None
    with pytest.raises(FlagStop) as stop:
        paddle_benchmark._parse(["--optimized_model_file=/d/m.nb", "--backend=arm", "--power_mode=9"])
    assert stop.value.code == 0 and stop.value.stderr == "Must set --input_shape option!\n"
    with pytest.raises(FlagStop) as stop:
        paddle_benchmark._parse([*_NB[:2], "--backend=cpu", "--power_mode=9"])
    assert stop.value.code == 134 and "Wrong target 'cpu'" in stop.value.stderr


def test_benchmark_bin_usage_note_where_the_tool_prints_it():
    with pytest.raises(FlagStop) as stop:
        paddle_benchmark._parse(["--backend=arm"])
    assert stop.value.stderr == "\nNo model path is set!\nMust set --input_shape option!\n"
    assert stop.value.stdout.startswith("\nNote: \n  Name the model one way: --optimized_model_file")
    assert stop.value.stdout.endswith("All flags: ./benchmark_bin --help\n\n") and stop.value.code == 0


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


_SINGLE = "A, C, D, F, I, M, P, R, S, T, X, Z, c, d, e, f, g, h, i, l, m, n, o, p, q, r, s, t, u, v, x, y, z"


# absl's exact lines (absl/flags/parse.cc, 20240722 and 20250512 alike): bad values as they are met (the value
# absl falls back to is parsed too, hence a second line), then unknown names with the registered flags nearest
# to them (sorted by name, bools also as noNAME), unless --undefok names them.
@pytest.mark.parametrize("argv, stderr", [
    (["-x4", "m.onnx"], "ERROR: Unknown command line flag 'x4'. Did you mean: x ?\n"),
    (["-sI", "m.onnx"], "ERROR: Unknown command line flag 'sI'. Did you mean: I, s ?\n"),
    (["-Q", "m.onnx"], f"ERROR: Unknown command line flag 'Q'. Did you mean: {_SINGLE} ?\n"),
    (["--thread", "2", "m.onnx"], "ERROR: Unknown command line flag 'thread'\n"),
    (["--plugin_ep", "a", "m.onnx"], "ERROR: Unknown command line flag 'plugin_ep'. Did you mean: plugin_eps ?\n"),
    (["--nolist_ep_device", "m.onnx"],
     "ERROR: Unknown command line flag 'nolist_ep_device'. Did you mean: nolist_ep_devices ?\n"),
    (["--undefok=Qz", "--Qzz", "m.onnx"], "ERROR: Unknown command line flag 'Qzz'. Did you mean: Qz (undefok) ?\n"),
    (["m.onnx", "-x"], "ERROR: Missing the value for the flag 'x'\nERROR: Illegal value '' specified for flag 'x'\n"),
    (["-s=", "m.onnx"], "ERROR: Missing the value after assignment for the boolean flag 's'\n"
     "ERROR: Illegal value '' specified for flag 's'\n"),
    (["--nos=1", "m.onnx"], "ERROR: Negative form with assignment is not valid for the boolean flag 's'\n"
     "ERROR: Illegal value '' specified for flag 's'\n"),
    (["--nox", "m.onnx"], "ERROR: Negative form is not valid for the flag 'x'\n"
     "ERROR: Illegal value '' specified for flag 'x'\n"),
    (["-x4", "-x", "abc", "m.onnx"], "ERROR: Illegal value 'abc' specified for flag 'x'\n"
     "ERROR: Unknown command line flag 'x4'. Did you mean: x ?\n"),  # bad values first, whatever the order
    (["-r", "-0", "m.onnx"], "ERROR: Illegal value '-0' specified for flag 'r'\n"),
    (["-x", "0x", "m.onnx"], "ERROR: Illegal value '0x' specified for flag 'x'\n"),
])
def test_ort_absl_lines(argv, stderr):
    with pytest.raises(FlagStop) as stop:
        ort_perf_test.parse_args(argv)
    assert (stop.value.code, stop.value.stderr, stop.value.stdout) == (1, stderr, "")


@pytest.mark.parametrize("argv, field, value", [
    (["-x", " 0x1f ", "m.onnx"], "x", 31), (["-x", "-0x2", "m.onnx"], "x", None), (["-s= TRUE ", "m.onnx"], "s", True),
    (["--undefok=Q,z2", "-Q", "--noz2", "m.onnx"], "model_path", "m.onnx"), (["--nos", "m.onnx"], "s", False),
])
def test_ort_takes_what_absl_takes(argv, field, value):
    if value is None:  # parsed, then refused by perf_test's own check (a negative thread count)
        with pytest.raises(FlagStop) as stop:
            ort_perf_test.parse_args(argv)
        assert stop.value.code == 255
        return
    assert getattr(ort_perf_test.parse_args(argv), field) == value


@pytest.mark.parametrize("argv, code, stdout, stderr", [
    (["--help", "m.onnx"], 1, "usage: onnxruntime_perf_test", ""),
    (["--helpmatch=x", "m.onnx"], 1, "usage: onnxruntime_perf_test", ""),
    (["--help", "-Q", "m.onnx"], 1, "usage: onnxruntime_perf_test", "ERROR: Unknown command line flag 'Q'."),
    (["--help", "-x", "abc", "m.onnx"], 1, "", "ERROR: Illegal value 'abc' specified for flag 'x'\nusage: "),
    (["--version", "m.onnx"], 0, "onnxruntime_perf_test\n", ""),
    (["--only_check_args", "m.onnx"], 0, "", ""),
])
def test_ort_absl_usage_flags(argv, code, stdout, stderr):
    with pytest.raises(FlagStop) as stop:
        ort_perf_test.parse_args(argv)
    assert stop.value.code == code
    assert stop.value.stdout.startswith(stdout) and (stop.value.stdout == "") == (stdout == "")
    assert stop.value.stderr.startswith(stderr) and (stop.value.stderr == "") == (stderr == "")


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
    # the missing .nb is found before the power mode, which only the predictor's first run checks
    ("benchmark_bin", [*_NB, "--power_mode=9"], -6, "err", "Mode file[/d/m.nb] not exist!"),
    ("benchmark_bin", [*_NB, "--threads"], 1, "err", "ERROR: flag '--threads' is missing its argument; flag "
     "description: number of CPU threads\n"),
    ("benchmark_model", ["--graph=/nonexistent.tflite", "--use_xnnpack=yes"], 1, "err",
     "Failed to parse flag 'use_xnnpack' against argv '--use_xnnpack=yes'"),
    ("benchmark_model", ["--graph=/d/m.tflite", "--input_layer_value_files=x:/d/a.raw"], -6, "err",
     "FATAL: Cannot find the corresponding input_layer name(x)"),
    ("benchmark_model", ["--num_threads", "4"], 1, "out", "WARN: Unconsumed cmdline flags: --num_threads 4"),
    ("onnxruntime_perf_test", ["-x4", "m.onnx"], 1, "err", "ERROR: Unknown command line flag 'x4'. Did you mean: x ?"),
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
    # --result_file_path: the BenchmarkResult message, its percentiles those of the log's stat line (us)
    result = tmp_path / "result.pb"
    done = _tool(tmp_path, "benchmark_model", f"--graph={model}", "--num_runs=4", "--min_secs=0", "--warmup_runs=1",
                 "--warmup_min_secs=0", f"--result_file_path={result}", binary=b"\x7fELF BenchmarkLiteRtModel")
    assert done.returncode == 0, done.stderr
    assert f"Saved benchmark result to: {result}" in done.stdout
    figures = benchmark_model.read_result_proto(result.read_bytes())
    stat = [ln for ln in done.stdout.splitlines() if "count=4 " in ln][-1]
    us = {k: int(v) for k, v in (kv.split("=") for kv in stat.split() if kv.split("=")[0] in ("p5", "median", "p95"))}
    for key in ("p5", "median", "p95"):
        assert figures[f"{key}_ms"] == pytest.approx(us[key] / 1000, abs=0.002)
    assert figures["num_runs"] == 4 and figures["num_warmup_runs"] == 1
    unwritable = _tool(tmp_path, "benchmark_model", f"--graph={model}", "--num_runs=1", "--min_secs=0",
                       "--result_file_path=/nonexistent/dir/r.pb", binary=b"\x7fELF BenchmarkLiteRtModel")
    assert unwritable.returncode == 0 and "Failed to save benchmark result to: /nonexistent/dir/r.pb" in \
        unwritable.stderr
    gpu = _tool(tmp_path, "benchmark_model", f"--graph={model}", "--use_gpu=true",
                binary=b"\x7fELF BenchmarkLiteRtModel")
    assert gpu.returncode == 1 and "Benchmarking failed." in gpu.stderr
