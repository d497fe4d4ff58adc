"""`segbench report --view runtimes`: one architecture across runtimes and float vs int8, from real runs of real
exports; the architecture read from the manifest next to the files, else from the model's name."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import FIXTURES, ROOT, SELFIE, run_cli
from segbench.model import ModelRef
from segbench.models import architecture_of

MLPERF = FIXTURES / "quantized"


def _section(reports: Path, *args: str) -> dict:
    r = run_cli("report", "--reports", str(reports), "--all", "--view", "runtimes", "--format", "json", *args)
    assert r.code == 0, r.err
    return json.loads(r.out)["sections"]["runtimes"]


def _cases(reports: Path) -> dict[tuple[str, str], dict]:
    r = run_cli("report", "--reports", str(reports), "--all", "--format", "json")
    assert r.code == 0, r.err
    return {(row["model"], row["runtime"]): row for row in json.loads(r.out)["rows"]}


def test_the_name_rule_reads_a_trailing_precision() -> None:
    """MLPerf's two quantised DeepLabv3 files are one architecture in two precisions; a name without a token is
    float; a token inside the name is not a precision."""
    for path, quant in ((MLPERF / "deeplabv3_mnv2_ade20k_uint8.tflite", "uint8"),
                        (MLPERF / "deeplabv3_mnv2_ade20k_int8.tflite", "int8")):
        arch = architecture_of(ModelRef(path.stem, str(path), "tflite"))
        assert (arch.name, arch.format, arch.quant, arch.source) == ("deeplabv3_mnv2_ade20k", "tflite", quant, "name")
    assert architecture_of(ModelRef("TopFormer-Tiny @64 int8", "/gone/x.onnx", "onnx")).name == "TopFormer-Tiny @64"
    assert architecture_of(ModelRef("net_fp32", "/gone/net_fp32.nb", "paddle-nb")) == architecture_of(
        ModelRef("net", "/gone/net.nb", "paddle-nb"))
    arch = architecture_of(ModelRef("int8_net", "/gone/int8_net.onnx", "onnx"))
    assert (arch.name, arch.quant, arch.format) == ("int8_net", "none", "onnx")


def test_an_explicit_architecture_in_the_manifest_wins(tmp_path: Path) -> None:
    shutil.copy(SELFIE, tmp_path / "a.tflite")
    (tmp_path / "manifest.toml").write_text('[[model]]\nfile = "a.tflite"\narchitecture = "selfie"\nquant = "int8"\n')
    arch = architecture_of(ModelRef("a", str(tmp_path / "a.tflite"), "tflite"))
    assert (arch.name, arch.quant, arch.format, arch.source) == ("selfie", "int8", "tflite", "manifest")
    (tmp_path / "manifest.toml").write_text('[[model]]\nfile = "a.tflite"\narchitecture = 3\n')
    r = run_cli("run", "--models", str(tmp_path), "--reports", str(tmp_path / "r"))
    assert r.code == 1 and "architecture" in r.err and "Traceback" not in r.err  # a wrong type is one error line


def test_nothing_to_compare_says_why(tmp_path: Path) -> None:
    """Real host runs of two different models: asked for by name, the table is empty and says why; in --view all
    it is left out."""
    r = run_cli("run", "--models", str(FIXTURES / "models"), "--threads", "1", "--warmup", "1", "--repeats", "2",
                "--reports", str(tmp_path), "-q")
    assert r.code == 0, r.err
    section = _section(tmp_path)
    assert section["rows"] == [] and "no architecture was measured ok in more than one" in section["notes"][0]
    r = run_cli("report", "--reports", str(tmp_path), "--view", "all", "--format", "json")
    assert r.code == 0 and "runtimes" not in json.loads(r.out)["sections"]


@pytest.mark.slow
def test_one_zoo_net_across_onnx_and_tflite_float_and_int8(tmp_path: Path) -> None:
    """TopFormer-Tiny at 64x64 exported as ONNX and TFLite, float and int8, timed on the host: one row per runtime,
    float and int8 side by side, each cell the case's own median with its tool and backend."""
    md = tmp_path / "md"
    r = run_cli("zoo", "export", "topformer_tiny", "--size", "64", "--head", "argmax", "--format", "onnx,tflite",
                "--quant", "none,int8", "-o", str(md), "-q", cwd=ROOT, timeout=900)
    assert r.code == 0, r.err
    reports = tmp_path / "reports"
    r = run_cli("run", "--models", str(md), "--threads", "1", "--warmup", "1", "--repeats", "3", "--reports",
                str(reports), "-q", timeout=600)
    assert r.code == 0, r.err
    section = _section(reports)
    cases = _cases(reports)
    got = {(c["format"], c["quant"]): c for c in section["rows"]}
    assert set(got) == {("onnx", "none"), ("onnx", "int8"), ("tflite", "none"), ("tflite", "int8")}
    tools = {"onnx": "onnxruntime-python", "tflite": "ai-edge-litert-python"}
    for (fmt, quant), c in got.items():
        assert c["architecture"] == "topformer_tiny [argmax] 64x64" and c["identity_from"] == "manifest"
        assert c["model"] == "TopFormer-Tiny @64" + (" int8" if quant == "int8" else "")
        case = cases[(c["model"], c["runtime"])]
        assert c["statistic"] == "median" and c["latency_ms"] == case["median_ms"]
        assert c["tool"] == tools[fmt] == case["tool"] and c["backend"] == "cpu"
        assert (c["threads"], c["power_mode"]) == ("1", "high")
    r = run_cli("report", "--reports", str(reports), "--view", "runtimes")
    assert r.code == 0, r.err
    lines = {ln.split("|")[2].strip(): ln for ln in r.out.splitlines() if "topformer_tiny [argmax] 64x64" in ln}
    assert set(lines) == {"onnx (onnxruntime)", "tflite"}
    assert "(median; ai-edge-litert-python; cpu)" in lines["tflite"] and "int8 speed-up" in r.out
    speedup = got[("tflite", "none")]["latency_ms"] / got[("tflite", "int8")]["latency_ms"]
    assert lines["tflite"].rstrip(" |").endswith(f"{speedup:.2f}x")
    # Without the manifest (moved, deleted) the models' names decide: the same two rows, read from the names
    (md / "manifest.toml").unlink()
    rows = _section(reports)["rows"]
    assert {(c["architecture"], c["format"], c["quant"], c["identity_from"]) for c in rows} == {
        ("TopFormer-Tiny @64", f, q, "name") for f in ("onnx", "tflite") for q in ("none", "int8")}
