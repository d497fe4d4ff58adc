"""`segbench inspect` and the report's params column, through the real CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import FIXTURES, SELFIE, assert_one_line_error
from segbench.model import DeviceInfo, Measurement, ModelInfo, ModelRef, RunInfo
from segbench.modelinfo.cache import InspectCache
from segbench.models import sha256_file
from segbench.store import Store

TINY = FIXTURES / "models" / "tiny_seg.onnx"


def test_inspect_text_and_json(cli) -> None:
    text = cli("inspect", str(TINY), str(SELFIE))
    assert text.code == 0, text.err
    assert "  params    744 (0.001 M); float32 744" in text.out
    assert "  MACs      2,883,584 (0.003 G), FLOPs 5.767 M" in text.out
    assert "  input     input_1 [1, 256, 256, 3] float32 nhwc" in text.out
    assert "Convolution2DTransposeBias 1.049 M (1.8%)" in text.out
    table = [[c.strip() for c in ln.strip("|").split("|")] for ln in text.out.splitlines() if ln.startswith("| ")]
    assert table[0] == ["model", "format", "params (M)", "GMACs", "inputs"]  # several models: a summary table
    assert table[1:] == [["tiny_seg.onnx", "onnx", "0.001", "0.003", "[1, 3, 128, 128]"],
                         ["selfie_segmentation.tflite", "tflite", "0.106", "0.059", "[1, 256, 256, 3]"]]
    doc = json.loads(cli("inspect", "--json", str(FIXTURES / "models")).out)
    assert doc["schema"] == "segbench.inspect/1"
    by_name = {Path(m["path"]).name: m for m in doc["models"]}
    assert sorted(by_name) == ["selfie_segmentation.tflite", "tiny_seg.onnx"]  # a directory: every model in it
    tiny = by_name["tiny_seg.onnx"]
    assert (tiny["params"], tiny["macs"], tiny["flops"]) == (744, 2_883_584, 5_767_168)
    assert tiny["sha256"] == sha256_file(TINY)
    assert ModelInfo.from_dict(tiny).to_dict() == tiny  # the JSON is the ModelInfo, losslessly


def test_each_bad_file_gets_one_error_line_and_the_rest_are_inspected(cli, tmp_path: Path) -> None:
    files = {
        "half.tflite": SELFIE.read_bytes()[:100_000], "words.onnx": b"not a model at all\n",
        "lite.nb": b"\x00" * 64, "empty.tflite": b"",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "orphan.pdmodel").write_bytes(b"\x0a\x00")
    args = [str(tmp_path / n) for n in (*files, "orphan.pdmodel", "missing.onnx")]
    result = cli("inspect", str(TINY), *args)
    assert_one_line_error(result, 1)
    errors = result.err.strip().splitlines()
    assert len(errors) == 6 and all(e.startswith("segbench: error: ") for e in errors)
    joined = "\n".join(errors)
    for expected in ("half.tflite: truncated or corrupt TFLite file", "words.onnx: not a readable ONNX model",
                     "lite.nb: Paddle Lite .nb files cannot be inspected", "empty.tflite: empty file",
                     "orphan.pdmodel: Paddle model without its parameters file orphan.pdiparams",
                     "missing.onnx: no such file"):
        assert expected in joined
    assert "tiny_seg.onnx" in result.out and "params    744" in result.out  # the good one is still inspected


def test_inspect_usage_errors(cli, tmp_path: Path) -> None:
    assert_one_line_error(cli("inspect"), 2)
    assert_one_line_error(cli("inspect", str(tmp_path)), 2)  # a directory without models


def _run_with(store: Store, ref: ModelRef) -> None:
    info = RunInfo(run_id="20261201-000000-000-aaaa", started="2026-12-01T00:00:00+00:00", harness_version="t",
                   device=DeviceInfo(id="host", kind="host", cpu_max_khz={0: 100}), settings={"warmup": 1})
    m = Measurement(run_id=info.run_id, case_id="c", model=ref, runtime="onnxruntime", status="ok", threads=1,
                    power_mode="high", device_id="host", samples_ms=(1.0, 1.2, 1.1))
    store.import_run(info, [m])


def test_report_params_come_from_the_inspected_model_by_sha256(cli, tmp_path: Path) -> None:
    model = tmp_path / "tiny_seg.onnx"
    shutil.copy(TINY, model)
    reports = tmp_path / "reports"
    _run_with(Store(reports), ModelRef("tiny_seg", str(model), "onnx", sha256_file(model)))
    first = cli("report", "--reports", str(reports), "--format", "json")
    assert first.code == 0, first.err
    assert json.loads(first.out)["rows"][0]["params_m"] == 744 / 1e6
    cached = reports / "inspect" / f"{sha256_file(model)}.json"
    assert ModelInfo.from_dict(json.loads(cached.read_text())).params == 744
    model.unlink()  # the cache still ties the measurement to its params
    again = cli("report", "--reports", str(reports))
    assert "| params (M)" in again.out and "| 0.001 " in again.out


def test_report_leaves_params_empty_for_a_changed_model(cli, tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    shutil.copy(TINY, model)
    reports = tmp_path / "reports"
    _run_with(Store(reports), ModelRef("m", str(model), "onnx", "0" * 64))  # measured a different file
    result = cli("report", "--reports", str(reports), "--format", "json")
    assert json.loads(result.out)["rows"][0]["params_m"] is None
    assert not (reports / "inspect").exists()
    assert InspectCache(reports).lookup(ModelRef("m", str(model), "onnx", sha256_file(model))).params == 744


def test_cache_entries_from_other_counting_rules_or_damaged_are_redone(tmp_path: Path) -> None:
    cache, ref = InspectCache(tmp_path), ModelRef("tiny", str(TINY), "onnx", sha256_file(TINY))
    assert cache.lookup(ref).params == 744
    entry = tmp_path / "inspect" / f"{ref.sha256}.json"
    stale = {**json.loads(entry.read_text()), "params": 999, "conventions": 0}
    entry.write_text(json.dumps(stale))
    assert cache.get(ref.sha256) is None and cache.lookup(ref).params == 744
    entry.write_text("{not json")
    assert cache.lookup(ref).params == 744 and json.loads(entry.read_text())["params"] == 744
