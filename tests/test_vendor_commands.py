"""Command lines of the vendor tools: every flag the harness needs, set so the tool does what was asked."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ROOT
from segbench.compat import tomllib
from segbench.errors import UsageError
from segbench.model import Case, ModelRef
from segbench.runners import benchmark_bin, benchmark_model, onnxruntime_perf_test, tools
from segbench.runners.tools import ToolCase

D = "/data/local/tmp/segbench"


def _case(fmt: str = "onnx", threads: int = 1, power: str = "high", warmup: int = 20, repeats: int = 50) -> Case:
    runtime = {"onnx": "onnxruntime", "tflite": "tflite", "paddle": "paddlelite", "paddle-nb": "paddlelite"}[fmt]
    return Case(model=ModelRef("seg", f"/host/seg.{fmt}", fmt), runtime=runtime, threads=threads, power_mode=power,
                warmup=warmup, repeats=repeats)


# ---------------------------------------------------------------------------------------------
# benchmark_bin


def test_paddle_nb_with_input_file_and_power_mode():
    tc = ToolCase(case=_case("paddle-nb", threads=4, power="high"), tool_path=f"{D}/bin/benchmark_bin",
                  model_path=f"{D}/models/seg.nb", input_path=f"{D}/inputs/seg.txt", input_shapes=((1, 3, 512, 512),))
    assert benchmark_bin.build_command(tc) == [
        f"{D}/bin/benchmark_bin", f"--optimized_model_file={D}/models/seg.nb", "--input_shape=1,3,512,512",
        f"--input_data_path={D}/inputs/seg.txt", "--threads=4", "--power_mode=0", "--warmup=20", "--repeats=50",
        "--backend=arm"]


@pytest.mark.parametrize("power, number", [("high", 0), ("low", 1), ("full", 2), ("no_bind", 3), ("rand_high", 4),
                                           ("rand_low", 5)])
def test_paddle_power_modes_are_its_own_numbers(power, number):
    tc = ToolCase(case=_case("paddle-nb", power=power), tool_path="bb", model_path="m.nb", input_shapes=((1, 3),))
    argv = benchmark_bin.build_command(tc)
    assert f"--power_mode={number}" in argv and argv[0] == "bb"  # no taskset: the tool binds its own threads


def test_paddle_pdmodel_is_converted_beside_the_model_and_taskset_only_when_asked():
    tc = ToolCase(case=_case("paddle", threads=2, warmup=0, repeats=1), tool_path="bb", model_path=f"{D}/m/x.pdmodel",
                  params_path=f"{D}/m/x.pdiparams", input_shapes=((1, 3, 64, 64), (1, 5)), cpu_mask="80",
                  backend="opencl,arm", backend_options=(("gpu_precision", "fp32"),), memory_profile=True,
                  result_path=f"{D}/r.txt")
    assert benchmark_bin.build_command(tc) == [
        "taskset", "80", "bb", f"--model_file={D}/m/x.pdmodel", f"--param_file={D}/m/x.pdiparams",
        f"--optimized_model_file={D}/m/x.opt.nb", "--input_shape=1,3,64,64:1,5", "--threads=2", "--power_mode=0",
        "--warmup=0", "--repeats=1", "--backend=opencl,arm", "--gpu_precision=fp32", "--enable_memory_profile=true",
        f"--result_path={D}/r.txt"]
    assert tools.taskset_mask(benchmark_bin, "f0") is None
    assert tools.taskset_mask(benchmark_model, "f0") == "f0"


@pytest.mark.parametrize("change, message", [
    ({"input_shapes": None}, "needs the input shape"),
    ({"model_path": "x.pdmodel"}, "needs its .pdiparams"),
    ({"backend": "cuda"}, "has no backend 'cuda'"),
    ({"backend_options": (("use_gpu", "1"),)}, "has no option 'use_gpu'"),
    ({"cpu_mask": "zz"}, "not a non-zero hex mask"),
    ({"cpu_mask": "0"}, "not a non-zero hex mask"),
])
def test_paddle_bad_settings(change, message):
    tc = ToolCase(case=_case("paddle-nb"), tool_path="bb", model_path="m.nb", input_shapes=((1, 3),))
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(".", r"\.")):
        benchmark_bin.build_command(ToolCase(**{**tc.__dict__, **change}))


# ---------------------------------------------------------------------------------------------
# benchmark_model


def test_tflite_exact_counts_threads_and_taskset():
    tc = ToolCase(case=_case("tflite", threads=4, warmup=20, repeats=50), tool_path=f"{D}/bin/benchmark_model",
                  model_path=f"{D}/models/seg.tflite", cpu_mask="f0")
    assert benchmark_model.build_command(tc) == [
        "taskset", "f0", f"{D}/bin/benchmark_model", f"--graph={D}/models/seg.tflite", "--num_threads=4",
        "--warmup_runs=20", "--warmup_min_secs=0", "--num_runs=50", "--min_secs=0", "--max_secs=86400"]


def test_tflite_inputs_delegate_and_profiling():
    tc = ToolCase(case=_case("tflite", threads=1, warmup=5, repeats=10), tool_path="bm", model_path="m.tflite",
                  input_path=f"{D}/inputs/a.raw", input_names=("serving_default_input:0",),
                  input_shapes=((1, 256, 256, 3),), backend="nnapi",
                  backend_options=(("nnapi_accelerator_name", "qti-dsp"), ("nnapi_allow_fp16", "true")),
                  op_profiling=True, memory_profile=True)
    argv = benchmark_model.build_command(tc)
    assert argv[argv.index("--max_secs=86400") + 1:] == [
        "--input_layer=serving_default_input:0", "--input_layer_shape=1,256,256,3",
        # the ':' in the tensor name is escaped as '::', as the tool's flag parser wants
        f"--input_layer_value_files=serving_default_input::0:{D}/inputs/a.raw",
        "--use_nnapi=true", "--nnapi_accelerator_name=qti-dsp", "--nnapi_allow_fp16=true",
        "--enable_op_profiling=true", "--report_peak_memory_footprint=true"]
    cpu = benchmark_model.build_command(ToolCase(case=_case("tflite"), tool_path="bm", model_path="m", backend="cpu"))
    assert cpu[-1] == "--use_xnnpack=false"  # plain interpreter: the default XNNPACK delegate off


@pytest.mark.parametrize("change, message", [
    ({"input_path": "a.raw"}, "needs the name of the one input"),
    ({"input_path": "a:b.raw", "input_names": ("x",), "input_shapes": ((1,),)}, "contains ',' or ':'"),
    ({"input_path": "a.raw", "input_names": ("x",)}, "needs the input's shape"),
    ({"input_names": ("a", "b"), "input_shapes": ((1,),)}, "2 input names but 1 input shapes"),
    ({"backend": "coreml"}, "no delegate 'coreml'"),
    ({"backend": "gpu", "backend_options": (("nnapi_accelerator_name", "x"),)}, "does not apply to gpu"),
])
def test_tflite_bad_settings(change, message):
    tc = ToolCase(case=_case("tflite"), tool_path="bm", model_path="m.tflite")
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        benchmark_model.build_command(ToolCase(**{**tc.__dict__, **change}))


# ---------------------------------------------------------------------------------------------
# onnxruntime_perf_test


def test_ort_random_input_times_mode():
    tc = ToolCase(case=_case("onnx", threads=2, repeats=50), tool_path=f"{D}/bin/onnxruntime_perf_test",
                  model_path=f"{D}/models/seg/seg.onnx", cpu_mask="70")
    assert onnxruntime_perf_test.build_command(tc) == [
        "taskset", "70", f"{D}/bin/onnxruntime_perf_test", "-m", "times", "-r", "50", "-x", "2", "-e", "cpu", "-s",
        "-I", f"{D}/models/seg/seg.onnx"]


def test_ort_test_data_beside_the_model_provider_options_profile():
    tc = ToolCase(case=_case("onnx", threads=1, repeats=10), tool_path="ort", model_path=f"{D}/models/seg/seg.onnx",
                  input_path=f"{D}/models/seg/test_data_set_0", backend="nnapi",
                  backend_options=(("NNAPI_FLAG_USE_FP16", ""),), free_dims=(("batch", 1),), op_profiling=True,
                  per_run_times=True, result_path=f"{D}/r.csv")
    assert onnxruntime_perf_test.build_command(tc) == [
        "ort", "-m", "times", "-r", "10", "-x", "1", "-e", "nnapi", "-s", "-i", "NNAPI_FLAG_USE_FP16",
        "-f", "batch:1", "-p", f"{D}/models/seg/seg_profile", "-v", f"{D}/models/seg/seg.onnx", f"{D}/r.csv"]


@pytest.mark.parametrize("change, message", [
    ({"input_path": f"{D}/inputs/test_data_set_0"}, "put it at /data/local/tmp/segbench/models/seg/test_data_set_0"),
    ({"backend": "cuda"}, "no execution provider 'cuda'"),
    ({"backend": "qnn", "backend_options": (("backend_path", "lib Qnn.so"),)}, "cannot contain spaces or '|'"),
    ({"case": _case("onnx", repeats=0)}, "at least 1 repeat"),
])
def test_ort_bad_settings(change, message):
    tc = ToolCase(case=_case("onnx"), tool_path="ort", model_path=f"{D}/models/seg/seg.onnx")
    with pytest.raises(UsageError) as err:
        onnxruntime_perf_test.build_command(ToolCase(**{**tc.__dict__, **change}))
    assert message in str(err.value)


# ---------------------------------------------------------------------------------------------
# Registry and device_assets manifest


def test_registry():
    assert [t.RUNTIME for t in tools.TOOLS] == ["paddlelite", "tflite", "onnxruntime"]
    assert [t.TOOL for t in tools.TOOLS] == ["benchmark_bin", "benchmark_model", "onnxruntime_perf_test"]
    with pytest.raises(UsageError):
        tools.tool_for_runtime("ncnn")


def test_device_assets_manifest_lists_every_tool():
    manifest = tomllib.loads((ROOT / "device_assets" / "manifest.toml").read_text())
    entries = manifest["tool"]
    classic = [e for e in entries if e["abi"] == "arm64-v8a" and not e.get("variant")]
    assert sorted(e["binary"] for e in classic) == sorted(t.TOOL for t in tools.TOOLS)
    litert = [e for e in entries if e.get("variant") == "litert"]
    assert [(e["binary"], e["runtime"]) for e in litert] == [("benchmark_model", "tflite")]
    assert litert[0]["url"].startswith("https://storage.googleapis.com/litert/binaries/{version}/android_arm64/")
    for e in entries:
        assert e["runtime"] in {t.RUNTIME for t in tools.TOOLS}
        assert e["sha256"] == "" or len(e["sha256"]) == 64
        assert e["source"].startswith("https://") and e["version"] and e["get"]


# ---------------------------------------------------------------------------------------------
# Any settings: a clear UsageError or an argv that says exactly what was asked

_NAMES = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(tools.TOOLS), st.integers(1, 16), st.sampled_from(["high", "low", "full", "no_bind", "x"]),
       st.integers(0, 100), st.integers(0, 1000), st.none() | st.sampled_from(["f0", "0F", "0x80", "0", "g1"]),
       st.none() | _NAMES, st.none() | st.lists(_NAMES, min_size=1, max_size=3),
       st.none() | st.lists(st.lists(st.integers(1, 512), min_size=1, max_size=4), min_size=1, max_size=3),
       st.none() | st.sampled_from(["cpu", "gpu", "nnapi", "arm", "opencl,arm", "qnn", "bogus"]))
def test_any_settings_give_usage_error_or_exact_argv(tool, threads, power, warmup, repeats, mask, input_path, names,
                                                     shapes, backend):
    fmt = {"paddlelite": "paddle-nb", "tflite": "tflite", "onnxruntime": "onnx"}[tool.RUNTIME]
    tc = ToolCase(case=Case(model=ModelRef("m", "m", fmt), runtime=tool.RUNTIME, threads=threads, power_mode=power,
                            warmup=warmup, repeats=repeats),
                  tool_path="/d/bin/tool", model_path=f"/d/m/model.{'nb' if fmt == 'paddle-nb' else fmt}",
                  input_path=input_path, input_names=tuple(names) if names else None,
                  input_shapes=tuple(tuple(s) for s in shapes) if shapes else None, cpu_mask=mask, backend=backend)
    try:
        argv = tool.build_command(tc)
    except UsageError as exc:
        assert str(exc)
        return
    assert all(isinstance(a, str) and a for a in argv)
    start = 2 if argv[0] == "taskset" else 0
    assert argv[start] == "/d/bin/tool" and (start == 2) == (mask is not None)
    expected = {"benchmark_bin": [f"--threads={threads}", f"--warmup={warmup}", f"--repeats={repeats}"],
                "benchmark_model": [f"--num_threads={threads}", f"--warmup_runs={warmup}", f"--num_runs={repeats}"],
                "onnxruntime_perf_test": ["-x", str(threads), "-r", str(repeats)]}[tool.TOOL]
    assert all(e in argv for e in expected)
