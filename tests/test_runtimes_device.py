"""The runtime comparison end to end on the emulated MI 9: MLPerf Mobile's real DeepLabv3 int8 and uint8 TFLite
files, MediaPipe's selfie TFLite (standing in for MOSAIC: no MOSAIC .tflite is available offline here) and a
PP-MobileSeg-Tiny PaddleSeg export (`zoo export --format paddle`, PaddleSeg's own classes, Python 3.10) through
`segbench run --device`, then one `segbench report --view runtimes` table.

The Paddle program is converted on the phone by benchmark_bin (its stand-in: Paddle Lite x86, and Paddle Inference
for the ops the x86 build lacks). The zoo's ARM `.nb` is left out: the stand-in's x86 Paddle Lite loads it and
returns labels like -2145656445 (no ARM kernels), so its timing would be of nothing (docs/zoo.md).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import FIXTURES, ROOT, SELFIE, run_cli
from segbench.emulator import EmulatedPhone
from segbench.emulator.phone import free_port

pytest.importorskip("paddlelite", reason="paddlelite (Python 3.10, the paddle extra) is not installed")
pytest.importorskip("paddleseg", reason="paddleseg (Python 3.10, the paddle extra) is not installed")
pytest.importorskip("ai_edge_litert", reason="the emulated phone's benchmark_model stand-in needs ai-edge-litert")
pytestmark = [pytest.mark.slow, pytest.mark.paddle]

ADB_PORTS = range(25700, 25760)
PHONE_PORTS = range(28500, 29000)
MLPERF = FIXTURES / "quantized"


@pytest.fixture
def phone(adb_port: int) -> Iterator[EmulatedPhone]:
    with EmulatedPhone(port=free_port(PHONE_PORTS), adb_port=adb_port) as p:
        yield p


def test_one_runtime_comparison_table_from_the_emulated_mi9(phone: EmulatedPhone, adb_port: int, assets: Path,
                                                            tmp_path: Path) -> None:
    md = tmp_path / "md"
    md.mkdir()
    for name in ("deeplabv3_mnv2_ade20k_int8.tflite", "deeplabv3_mnv2_ade20k_uint8.tflite"):
        shutil.copy(MLPERF / name, md / name)
    shutil.copy(SELFIE, md / SELFIE.name)
    r = run_cli("zoo", "export", "pp_mobileseg_tiny", "--size", "64", "--head", "argmax", "--format", "paddle",
                "-o", str(md), "-q", cwd=ROOT, timeout=900)
    assert r.code == 0, r.err
    reports = tmp_path / "reports"
    env = {"ANDROID_ADB_SERVER_PORT": str(adb_port)}
    r = run_cli("run", "--device", phone.serial, "--assets", str(assets), "--reports", str(reports), "--models",
                str(md), "--threads", "1", "--warmup", "1", "--repeats", "2", "-q", env=env, timeout=1200)
    records = [json.loads(line) for run in (reports / "runs").iterdir()
               for line in (run / "results.jsonl").read_text().splitlines()]
    by_model = {x["model"]["name"]: x for x in records}
    assert r.code == 0, r.err
    assert all(x["status"] == "ok" for x in by_model.values()), [(n, x["error"]) for n, x in by_model.items()]
    assert set(by_model) == {"deeplabv3_mnv2_ade20k_int8", "deeplabv3_mnv2_ade20k_uint8", "selfie_segmentation",
                             "PP-MobileSeg-Tiny [argmax] @64"}

    r = run_cli("report", "--reports", str(reports), "--all", "--view", "runtimes", "--format", "json")
    assert r.code == 0, r.err
    cells = json.loads(r.out)["sections"]["runtimes"]["rows"]
    got = {(c["architecture"], c["format"], c["quant"]): c for c in cells}
    assert set(got) == {("deeplabv3_mnv2_ade20k", "tflite", "int8"), ("deeplabv3_mnv2_ade20k", "tflite", "uint8"),
                        ("selfie_segmentation", "tflite", "none"),
                        ("pp_mobileseg_tiny [argmax] 64x64", "paddle", "none")}
    tools = {"tflite": ("benchmark_model", "median"), "paddle": ("benchmark_bin", "avg")}  # benchmark_bin: no median
    for c in cells:
        record = by_model[c["model"]]
        assert (c["tool"], c["statistic"]) == tools[c["format"]] == (record["tool"], c["statistic"])
        assert c["latency_ms"] == record["latency_ms"][c["statistic"]] and c["backend"] == "cpu"
        assert c["device"] == phone.serial and (c["threads"], c["power_mode"]) == ("1", "high")
    assert got[("pp_mobileseg_tiny [argmax] 64x64", "paddle", "none")]["identity_from"] == "manifest"
    assert got[("deeplabv3_mnv2_ade20k", "tflite", "int8")]["identity_from"] == "name"

    r = run_cli("report", "--reports", str(reports), "--all", "--view", "runtimes")
    assert r.code == 0, r.err
    rows = [ln for ln in r.out.splitlines() if ln.startswith("| ") and "architecture" not in ln]
    assert len(rows) == 3, r.out  # DeepLabv3 (int8 and uint8 side by side), selfie, PP-MobileSeg's program
    deeplab = next(ln for ln in rows if "deeplabv3_mnv2_ade20k" in ln)
    assert deeplab.count("(median; benchmark_model; cpu)") == 2
    assert "(avg; benchmark_bin; cpu)" in next(ln for ln in rows if "pp_mobileseg_tiny" in ln)
    assert "| float (ms)" in r.out and "int8 (ms)" in r.out and "uint8 (ms)" in r.out
