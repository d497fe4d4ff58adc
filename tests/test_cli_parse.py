"""`segbench parse` as a user runs it: real logs in, records out; bad files give one error line."""

from __future__ import annotations

import json
import os

import pytest

from conftest import LOGS, SELFIE, assert_one_line_error, run_cli

PP = LOGS / "paddle_lite" / "paddleseg_ppmobileseg_mi9_android9_e79b4b6.log"
TFL_FAIL = LOGS / "tflite" / "lp6m_mi11_tf2.4.0_int8_nnapi_qti-dsp_FAIL.log"
ORT = LOGS / "onnxruntime" / "spacemit_k1_newer_avg_cost_total.log"


def test_json_lines_one_object_per_run(tmp_path):
    session = tmp_path / "session.txt"
    session.write_text(PP.read_text() + "\n" + (LOGS / "tflite" / "lp6m_mi11_tf2.4.0_fp32_cpu4t.log").read_text())
    r = run_cli("parse", str(session), str(ORT), "--json")
    assert r.code == 0, r.err
    records = [json.loads(line) for line in r.out.splitlines()]
    assert [(x["file"], x["tool"], x["latency_ms"]["avg"]) for x in records] == [
        (str(session), "benchmark_bin", 267.246), (str(session), "benchmark_model", 249.684),
        (str(ORT), "onnxruntime_perf_test", 7.270205)]
    pp = records[0]
    assert (pp["latency_ms"]["min"], pp["latency_ms"]["max"], pp["first_ms"], pp["init_ms"]) == (
        265.45, 271.217, 314.619, 33.071)
    assert (pp["threads"], pp["power_mode"], pp["device"]["model"], pp["device"]["api_level"]) == (1, "high", "MI 9", 28)


def test_table_and_failed_run(tmp_path):
    r = run_cli("parse", str(PP), str(TFL_FAIL))
    assert r.code == 0, r.err
    header, _, pp, fail = r.out.splitlines()
    assert [c.strip() for c in header.split("|")[1:5]] == ["file", "lines", "tool", "status"]
    assert "| 267.246 " in pp and "| 265.450 " in pp and "Xiaomi MI 9 (API 28)" in pp
    assert "| failed " in fail and "Failed to apply NNAPI delegate. (NN API returned error ANEURALNETWORKS_BAD_DATA" in fail


def test_store_then_report(tmp_path):
    reports = tmp_path / "reports"
    r = run_cli("parse", str(PP), str(ORT), "--store", "--reports", str(reports), cwd=tmp_path)
    assert r.code == 0, r.err
    assert r.err.count("stored 1 record(s) as run") == 2  # the MI 9 log and the unknown device's log
    rep = run_cli("report", "--all", "--format", "json", "--reports", str(reports), cwd=tmp_path)
    assert rep.code == 0, rep.err
    data = json.loads(rep.out)
    rows = {row["model"]: row for row in data["rows"]}
    mobileseg = rows["MV3_4stage_AAMSx8_valid_0321"]
    assert (mobileseg["runtime"], mobileseg["threads"], mobileseg["power_mode"], mobileseg["status"]) == (
        "paddlelite", 1, "high", "ok")
    assert (mobileseg["avg_ms"], mobileseg["min_ms"], mobileseg["n"], mobileseg["device"]) == (
        267.246, 265.45, 50, "Xiaomi MI 9")
    ort = rows["spacemit_k1_newer_avg_cost_total"]  # ORT logs do not name the model: the log file does
    assert (ort["median_ms"], ort["p90_ms"], ort["n"]) == (7.27787, 7.30163, 10)
    runs = {run["device"]["id"]: run for run in data["runs"]}
    assert runs["Xiaomi MI 9"]["device"]["kind"] == "android"
    assert runs["Xiaomi MI 9"]["device"]["api_level"] == 28
    assert runs["Xiaomi MI 9"]["versions"] == {"benchmark_bin": "e79b4b6"}
    # The raw log is kept byte for byte beside the records.
    run_dir = reports / "runs" / runs["Xiaomi MI 9"]["run_id"]
    assert (run_dir / "logs" / (PP.stem + ".log")).read_bytes() == PP.read_bytes()
    md = run_cli("report", "--all", "--reports", str(reports), cwd=tmp_path)
    assert md.code == 0 and "imported from 1 log(s), Xiaomi MI 9" in md.out and "vendor tool's own figures" in md.out


def test_session_with_ncnn_output_warns(tmp_path):
    session = tmp_path / "session.log"
    session.write_text((LOGS / "ncnn" / "sd888_phone.log").read_text() + ORT.read_text())
    r = run_cli("parse", str(session), "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["latency_ms"]["avg"] == 7.270205
    assert r.err.strip() == (f"segbench: warning: {session} also holds ncnn benchncnn output, "
                             "which segbench does not parse")


def test_truncated_log_is_a_failed_record(tmp_path):
    cut = tmp_path / "cut.log"
    cut.write_bytes(PP.read_bytes()[:900])
    r = run_cli("parse", str(cut), "--json")
    assert r.code == 0, r.err
    (record,) = [json.loads(line) for line in r.out.splitlines()]
    assert record["status"] == "failed" and "ends before benchmark_bin's 'Time(unit: ms)'" in record["error"]
    assert record["device"]["model"] == "MI 9"


def test_utf16_log_from_powershell(tmp_path):
    log = tmp_path / "ps.log"
    log.write_bytes(ORT.read_text().replace("\n", "\r\n").encode("utf-16"))
    r = run_cli("parse", str(log), "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["latency_ms"]["avg"] == 7.270205


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing.log", "missing.log: no such file"),
    (lambda d: d, "is a directory"),
    (lambda d: _write(d / "empty.log", b""), "empty.log is empty"),
    (lambda d: _write(d / "blank.log", b"\n  \n"), "blank.log is empty"),
    (lambda d: _write(d / "model.log", SELFIE.read_bytes()), "model.log is binary data, not a text log"),
    (lambda d: _write(d / "random.bin", bytes(range(256)) * 64), "random.bin is binary data"),
    (lambda d: _sparse(d / "huge.log", 65 * 2**20), "huge.log is 65 MB, too big for a benchmark log"),
    (lambda d: _write(d / "ncnn.log", (LOGS / "ncnn" / "sd888_phone.log").read_bytes()),
     "ncnn.log: not a log of a supported tool (looks like ncnn benchncnn output)"),
    (lambda d: _write(d / "mnn.log", (LOGS / "mnn" / "mate30pro_kirin990_2020.log").read_bytes()),
     "looks like MNN benchmark.out output"),
    (lambda d: _write(d / "notes.txt", b"hello\nworld\n"), "notes.txt: no benchmark run found"),
    (lambda d: _write(d / "prec.log", (LOGS / "paddle_lite" / "docs_precision_profiler.log").read_bytes()),
     "benchmark_bin output, but no benchmark run in it"),
])
def test_bad_files_give_one_error_line(tmp_path, make, message):
    path = make(tmp_path)
    r = run_cli("parse", str(path))
    assert_one_line_error(r, 1)
    assert message in r.err, r.err
    assert len(r.err.strip().splitlines()) == 1


def test_stdin_and_unreadable_file():
    import subprocess
    import sys

    from conftest import ROOT

    proc = subprocess.run([sys.executable, "-m", "segbench", "parse", "-", "--json"], input=ORT.read_bytes(),
                          capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["latency_ms"]["avg"] == 7.270205
    r = run_cli("parse", "/proc/self/mem")  # exists, but reading it fails (EIO)
    assert_one_line_error(r, 1)
    assert "cannot read /proc/self/mem: Input/output error" in r.err


def test_one_bad_file_is_reported_and_the_rest_stored(tmp_path):
    reports = tmp_path / "reports"
    r = run_cli("parse", str(PP), str(tmp_path / "nope.log"), "--store", "--reports", str(reports))
    assert_one_line_error(r, 3)
    assert [ln for ln in r.err.splitlines() if ln.startswith("segbench: error:")] == [
        f"segbench: error: {tmp_path / 'nope.log'}: no such file"]
    assert "stored 1 record(s)" in r.err and "| 267.246 " in r.out


def test_a_directory_of_logs_each_file_on_its_own(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a_mobileseg.log").write_bytes(PP.read_bytes())
    (logs / "b_notes.txt").write_text("hello\nworld\n")
    (logs / "c_model.log").write_bytes(SELFIE.read_bytes())
    (logs / "d_litert.log").write_bytes((LOGS / "tflite" / "litert_build_doc_blazeface_linux_x86.log").read_bytes())
    (logs / "sub").mkdir()  # not descended into
    r = run_cli("parse", str(logs), "--json")
    assert r.code == 3, (r.code, r.err)
    assert "Traceback" not in r.err
    errors = [ln for ln in r.err.splitlines() if ln.strip()]
    assert len(errors) == 2 and all(ln.startswith("segbench: error:") for ln in errors), errors
    assert "b_notes.txt: no benchmark run found" in errors[0] and "c_model.log is binary data" in errors[1]
    records = [json.loads(line) for line in r.out.splitlines()]
    assert [(x["tool"], x["tool_version"], x["latency_ms"]["avg"]) for x in records] == [
        ("benchmark_bin", "e79b4b6", 267.246), ("benchmark_model", "LiteRT 2.x", 0.95)]
    good = run_cli("parse", str(logs / "a_mobileseg.log"), str(logs / "d_litert.log"))
    assert good.code == 0, good.err


def test_only_bad_files_is_an_error(tmp_path):
    (tmp_path / "a.txt").write_text("hello\n")
    (tmp_path / "b.txt").write_text("world\n")
    r = run_cli("parse", str(tmp_path))
    assert_one_line_error(r, 1)
    lines = r.err.strip().splitlines()
    assert len(lines) == 2 and "a.txt: no benchmark run found" in lines[0]
    assert "none of the 2 files holds a benchmark run" in lines[1]


def test_no_files_is_usage():
    r = run_cli("parse")
    assert r.code == 2 and "Missing argument" in r.err


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def _sparse(path, size: int):
    with open(path, "wb") as f:
        f.truncate(size)
    assert os.path.getsize(path) == size
    return path
