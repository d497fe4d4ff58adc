"""`segbench eval --device`: accuracy measured on the emulated MI 9 with benchmark_model's output dump.

The emulated phone's benchmark_model really runs the pushed model (ai-edge-litert) on the pushed raw
input and writes ``--output_filepath`` as the real tool does, so a mIoU that matches the hand-checked one
(and host eval's confusion matrix) can only come from the whole path: gen-input's tensor, the push, the
tool's command line, the dump, the pull and the split by output shape.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from conftest import (
    ROOT,
    assert_one_line_error,
    run_cli,
)
from seg_synth import LABEL, MIOU, PER_CLASS_IOU, PRED, build_tflite, upscale, write_dataset
from segbench.emulator import EmulatedPhone
from segbench.emulator.phone import free_port
from segbench.errors import UsageError
from segbench.model import Case, ModelRef
from segbench.runners import benchmark_bin, benchmark_model, onnxruntime_perf_test
from segbench.runners.tools import ToolCase

ADB_PORTS = range(29037, 29100)
PHONE_PORTS = range(29100, 30000)
# Two 8x8 images (the hand-checked 4x4 patterns upscaled): ADE20K-32 classes 1..3, one-hot TFLite model.
PAIRS = [(upscale(a, 2), upscale(b, 2)) for a, b in ((LABEL, PRED), (LABEL.T, PRED.T))]


# ----------------------------------------------------------------------------- no phone needed


def _tool_case(runtime: str, fmt: str) -> ToolCase:
    case = Case(ModelRef("m", f"/h/m.{fmt}", fmt), runtime, 2, "no_bind", 1, 1)
    return ToolCase(case=case, tool_path="/d/bin/tool", model_path=f"/d/m.{fmt}", input_path="/d/eval/input.raw",
                    input_names=("image",), input_shapes=((1, 8, 8, 3),), output_path="/d/eval/output.raw")


def test_benchmark_model_dumps_outputs_and_the_other_tools_say_why_they_cannot():
    argv = benchmark_model.build_command(_tool_case("tflite", "tflite"))
    assert argv[-1] == "--output_filepath=/d/eval/output.raw"
    assert "--input_layer_value_files=image:/d/eval/input.raw" in argv and "--num_runs=1" in argv
    with pytest.raises(UsageError, match="no option to write its outputs"):
        onnxruntime_perf_test.build_command(_tool_case("onnxruntime", "onnx"))
    with pytest.raises(UsageError, match="--output_data_path"):
        benchmark_bin.build_command(_tool_case("paddlelite", "paddle-nb"))


def test_an_output_dump_splits_back_into_each_output_by_declared_shape_and_dtype():
    from segbench.errors import DeviceError
    from segbench.model import TensorInfo
    from segbench.ondevice import split_outputs

    scores = np.arange(12, dtype="<f4").reshape(1, 2, 2, 3) / 4
    labels = np.array([[[[0, 7], [300, -1]]]], dtype="<i8")
    specs = [TensorInfo("scores", (1, 2, 2, 3), "float32"), TensorInfo("labels", (1, 1, 2, 2), "int64")]
    data = scores.tobytes() + labels.tobytes()
    assert len(data) == 48 + 32
    a, b = split_outputs(data, specs)
    assert a.shape == (1, 2, 2, 3) and a[0, 1, 1, 2] == 2.75 and b.tolist() == [[[[0, 7], [300, -1]]]]
    with pytest.raises(DeviceError, match="79 bytes, but the outputs take 80"):
        split_outputs(data[:-1], specs)


def test_emulated_benchmark_model_writes_the_raw_outputs_of_its_last_run(tmp_path):
    # score_c = c * R - c^2 / 2 (seg_synth.build_tflite): for R = 5, class 5 scores 12.5, class 4 and 6 score 12.
    model = build_tflite(tmp_path / "m.tflite", 8, size=(2, 2))
    image = np.zeros((1, 2, 2, 3), dtype="<f4")
    image[0, :, :, 0] = [[0, 5], [7, 2]]
    (tmp_path / "in.raw").write_bytes(image.tobytes())
    env = dict(os.environ, PYTHONPATH=str(ROOT), SEGBENCH_EMU_STATE="", SEGBENCH_EMU_FAULT="")
    done = subprocess.run([sys.executable, "-m", "segbench.emulator.tools", "benchmark_model", f"--graph={model}",
                           "--num_runs=1", "--min_secs=0", "--warmup_runs=1", "--warmup_min_secs=0",
                           "--input_layer=image", "--input_layer_shape=1,2,2,3",  # the real tool needs both
                           f"--input_layer_value_files=image:{tmp_path / 'in.raw'}",
                           f"--output_filepath={tmp_path / 'out.raw'}"], env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = np.frombuffer((tmp_path / "out.raw").read_bytes(), dtype="<f4")
    assert out.size == 2 * 2 * 8  # one [1,2,2,8] float32 output, nothing else in the file
    scores = out.reshape(2, 2, 8)
    assert scores[0, 1, 5] == 12.5 and scores[0, 1, 4] == scores[0, 1, 6] == 12.0
    assert scores.argmax(axis=-1).tolist() == [[0, 5], [7, 2]]


def test_an_onnx_model_cannot_be_evaluated_on_a_device(tmp_path):
    data = write_dataset(tmp_path / "data", "ade20k32", PAIRS)
    r = run_cli("eval", "--model", str(ROOT / "tests/fixtures/models/tiny_seg.onnx"), "--dataset", str(data),
                "--format", "ade20k32", "--device", "127.0.0.1:1", "--reports", str(tmp_path / "reports"))
    assert_one_line_error(r, 2)
    assert "tiny_seg (onnxruntime) cannot be evaluated on a device: onnxruntime_perf_test only times" in r.err
    assert "127.0.0.1:1" not in r.err  # refused before any phone is looked for
    assert not (tmp_path / "reports").exists()


# ----------------------------------------------------------------------------- on the emulated phone


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("eval")
    return write_dataset(root / "data", "ade20k32", PAIRS), build_tflite(root / "onehot32.tflite", 32)


@pytest.fixture
def phone(adb_port: int, request: pytest.FixtureRequest) -> Iterator[EmulatedPhone]:
    with EmulatedPhone(port=free_port(PHONE_PORTS), adb_port=adb_port, faults=getattr(request, "param", None)) as p:
        yield p


def _eval(adb_port: int, reports: Path, inputs: tuple[Path, Path], *args: str):
    data, model = inputs
    return run_cli("eval", "--model", str(model), "--dataset", str(data), "--format", "ade20k32", "--preset", "raw",
                   "--reports", str(reports), *args, env={"ANDROID_ADB_SERVER_PORT": str(adb_port)}, timeout=300)


def _on(phone: EmulatedPhone, assets: Path) -> tuple[str, ...]:
    return ("--device", phone.serial, "--assets", str(assets))


def _records(reports: Path) -> list[dict]:
    return [json.loads(ln) for run in sorted((reports / "runs").iterdir())
            for ln in (run / "results.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_device_eval_gives_the_host_result_through_the_tool_dump(phone, adb_port, assets, inputs, tmp_path):
    from segbench.inputs import make_normalization, prepare, tensor_bytes
    from segbench.modelinfo.io import read_io

    host = _eval(adb_port, tmp_path / "host", inputs, "--json", "-q")
    dev = _eval(adb_port, tmp_path / "dev", inputs, *_on(phone, assets), "--json", "-q")
    assert host.code == 0 and dev.code == 0, (host.err, dev.err)
    h, d = json.loads(host.out), json.loads(dev.out)
    assert d["miou"] == pytest.approx(MIOU, abs=1e-12) and d["miou"] == h["miou"]
    assert [v for v in d["per_class_iou"] if v is not None] == pytest.approx(PER_CLASS_IOU, abs=1e-12)
    assert d["tool"] == "benchmark_model" and d["device"] == phone.serial and d["runtime"] == "tflite"
    (hrec,), (drec,) = _records(tmp_path / "host"), _records(tmp_path / "dev")
    assert drec["confusion"] == hrec["confusion"] and drec["images"] == 2
    assert drec["device_id"] == phone.serial and drec["settings"]["device"] == phone.serial
    assert drec["settings"]["threads"] == 4  # the SD855's gold + prime cores
    run = json.loads(next((tmp_path / "dev" / "runs").iterdir()).joinpath("run.json").read_text())
    assert run["device"]["model"] == "MI 9" and run["settings"]["command"] == "eval"
    # the phone ran the tool once per image, one timed run, with the pushed input and the output dump
    runs = [json.loads(ln) for ln in (phone.state.state_dir / "tool_runs.jsonl").read_text().splitlines()]
    assert len(runs) == 2 and all(r["repeats"] == 1 and r["warmup"] == 1 for r in runs)
    assert all(any(a.startswith("--output_filepath=") for a in r["argv"]) for r in runs)
    assert all(any(a.startswith("--input_layer_value_files=image:") for a in r["argv"]) for r in runs)
    # what the phone was fed last is gen-input's raw tensor of the last image, byte for byte
    spec = read_io(inputs[1])[0][0]
    last = sorted((inputs[0] / "ADEChallengeData2016" / "images" / "validation").iterdir())[-1]
    fed = (phone.root / "data/local/tmp/segbench/eval/input.raw").read_bytes()
    assert fed == tensor_bytes(prepare(last, spec, make_normalization("raw", dtype=spec.dtype)).tensor)

    again = _eval(adb_port, tmp_path / "dev", inputs, *_on(phone, assets), "--backend", "xnnpack", "-q")
    assert again.code == 0, again.err
    assert "mIoU 85.00%" in again.out and f"benchmark_model (xnnpack) on {phone.serial}" in again.out
    # model and tool are on the phone already; only the two images' inputs travel again
    assert "pushed 2 file(s)" in again.err and "2 file(s), 0.0 MB already on the device" in again.err
    runs = [json.loads(ln) for ln in (phone.state.state_dir / "tool_runs.jsonl").read_text().splitlines()]
    assert len(runs) == 4 and all("--use_xnnpack=true" in r["argv"] for r in runs[2:])
    assert _records(tmp_path / "dev")[-1]["case_id"] == "onehot32__tflite__eval_ade20k32__xnnpack"


@pytest.mark.slow
@pytest.mark.parametrize("backend,code,message", [
    # the emulated MI 9 has a GPU: its driver is made to fail, as a real one can
    ("gpu", 1, "benchmark_model failed on {serial}: Failed to apply GPU delegate."),
    ("bogus", 2, "benchmark_model has no delegate 'bogus'"),
])
def test_a_delegate_that_fails_or_does_not_exist_is_one_clear_error(phone, adb_port, assets, inputs, tmp_path,
                                                                   backend, code, message):
    phone.set_faults("delegate-fail=gpu")
    r = _eval(adb_port, tmp_path / "reports", inputs, *_on(phone, assets), "--backend", backend, "-q")
    assert_one_line_error(r, code)
    assert message.format(serial=phone.serial) in r.err
    assert not (tmp_path / "reports").exists()


def test_backend_without_device_is_a_usage_error(tmp_path, inputs):
    r = run_cli("eval", "--model", str(inputs[1]), "--dataset", str(inputs[0]), "--format", "ade20k32",
                "--backend", "gpu", "--reports", str(tmp_path / "reports"))
    assert_one_line_error(r, 2)
    assert "--backend is for --device" in r.err


@pytest.mark.slow
def test_missing_tool_is_one_clear_error(phone, adb_port, inputs, tmp_path):
    empty = tmp_path / "assets"
    empty.mkdir()
    shutil.copy(ROOT / "device_assets" / "manifest.toml", empty / "manifest.toml")
    r = _eval(adb_port, tmp_path / "reports", inputs, *_on(phone, empty))
    assert_one_line_error(r, 1)
    assert "benchmark_model for arm64-v8a is missing" in r.err
    assert not (tmp_path / "reports").exists()


@pytest.mark.slow
@pytest.mark.parametrize("phone, said", [
    ("crash=benchmark_model", ["benchmark_model failed on {serial}", "exit status 139"]),  # the tool crashes
    ("drop-during=--output_filepath", ["device {serial} disconnected while benchmark_model ran (3 attempts)"]),
], indirect=["phone"])
def test_a_crashing_tool_or_a_phone_that_keeps_dropping_is_one_clear_error(phone, said, adb_port, assets, inputs,
                                                                          tmp_path):
    r = _eval(adb_port, tmp_path / "reports", inputs, *_on(phone, assets), "-q")
    assert_one_line_error(r, 1)
    for text in said:
        assert text.format(serial=phone.serial) in r.err
    assert not (tmp_path / "reports").exists()  # nothing is stored


@pytest.mark.slow
def test_unknown_device_is_one_clear_error(adb_port, assets, inputs, tmp_path):
    r = _eval(adb_port, tmp_path / "reports", inputs, "--device", "127.0.0.1:1", "--assets", str(assets))
    assert_one_line_error(r, 1)
    assert "127.0.0.1:1 is not attached" in r.err
