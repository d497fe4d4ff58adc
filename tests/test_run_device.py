"""`segbench run --device` end to end: the real CLI, the real adb server, an emulated MI 9 on loopback.

The emulated phone is a phone to the harness: the same code path as a real one (adbutils, shell v2,
sync pushes, the vendor tools' own command lines and logs). Each test that needs a fault starts its
own phone with it; all share one adb server on a non-default port, killed at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import (
    FIXTURES,
    ROOT,
    assert_one_line_error,
    case_label,
    run_cli,
    tool_pids,
)
from segbench.emulator import EmulatedPhone
from segbench.emulator.phone import adb, free_port

pytestmark = pytest.mark.slow

MODELS = FIXTURES / "models"
ADB_PORTS = range(25037, 25100)
PHONE_PORTS = range(26000, 27000)


@pytest.fixture
def phone(adb_port: int, request: pytest.FixtureRequest) -> Iterator[EmulatedPhone]:
    faults = getattr(request, "param", None)
    with EmulatedPhone(port=free_port(PHONE_PORTS), adb_port=adb_port, faults=faults) as p:
        yield p


def _run(phone: EmulatedPhone, adb_port: int, assets: Path, reports: Path, *args: str, timeout: float = 600):
    return run_cli("run", "--device", phone.serial, "--assets", str(assets), "--reports", str(reports), *args,
                   env={"ANDROID_ADB_SERVER_PORT": str(adb_port)}, timeout=timeout)


def _records(reports: Path) -> list[dict]:
    out = []
    for run in sorted((reports / "runs").iterdir()):
        out += [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    return out


def test_sweep_on_the_emulated_mi9_and_a_second_run_pushes_nothing(phone, adb_port, assets, tmp_path):
    reports = tmp_path / "reports"
    r = _run(phone, adb_port, assets, reports, "--models", str(MODELS), "--threads", "1,2",
             "--power-mode", "high,low", "--warmup", "2", "--repeats", "5")
    assert r.code == 0, r.err
    recs = _records(reports)
    assert len(recs) == 8 and all(x["status"] == "ok" for x in recs), [x["error"] for x in recs]
    for x in recs:
        assert x["device_id"] == phone.serial
        assert x["tool"] == {"onnxruntime": "onnxruntime_perf_test", "tflite": "benchmark_model"}[x["runtime"]]
        # taskset masks from the SD855's clusters: gold+prime for high, silver for low
        assert x["cpu_mask"] == {"high": "f0", "low": "f"}[x["power_mode"]]
        assert x["extra"]["bound_by"] == "taskset" and f"taskset {x['cpu_mask']} " in x["extra"]["command"]
        assert x["count"] == 5 and 0 < x["latency_ms"]["min"] <= x["latency_ms"]["avg"] <= x["latency_ms"]["max"]
        if x["runtime"] == "onnxruntime":  # per-run times from the tool's result file, read back after the run
            samples = x["samples_ms"]
            assert len(samples) == 5 and x["latency_ms"]["std"] is not None, x["extra"]
            assert abs(min(samples) - x["latency_ms"]["min"]) < 1e-3 and abs(max(samples) - x["latency_ms"]["max"]) < 1e-3
            assert " perf_" in x["extra"]["command"] or "/perf_" in x["extra"]["command"]
        else:  # benchmark_model prints a summary only
            assert x["samples_ms"] is None
        assert x["threads"] in (1, 2) and x["temps_before_c"] and x["temps_after_c"]
        assert x["cpu_khz_before"]["cpu7"] > 0
        log = reports / "runs" / x["run_id"] / x["log_path"]
        assert log.stat().st_size > 0
    run_json = json.loads(next((reports / "runs").iterdir()).joinpath("run.json").read_text())
    assert run_json["device"]["model"] == "MI 9" and run_json["device"]["kind"] == "android"
    assert run_json["settings"]["device"] == phone.serial
    assert "pushed " in r.err and "pushed 0 file(s)" not in r.err

    seen = len(phone.shell_commands())
    again = _run(phone, adb_port, assets, reports, "--models", str(MODELS), "--warmup", "1", "--repeats", "3")
    assert again.code == 0, again.err
    assert "pushed 0 file(s), 0.0 MB" in again.err
    # Every file already there was checked by one sha256sum for them all (was one each), and the lock took the
    # phone's serial number from its facts (was a getprop of its own): a tool's command per case, and one more each.
    commands = phone.shell_commands()[seen:]
    hashed = [c for c in commands if c.startswith("sha256sum ")]
    assert len(hashed) == 1 and hashed[0].count("/data/local/tmp/segbench/") >= 5, commands
    assert not [c for c in commands if "ro.serialno" in c]
    assert len(commands) == 2 + len(_records(reports)) - 8, commands

    # A file that changed on the phone (same size, other bytes) and one that vanished are caught and sent again.
    on_phone = phone.root / "data/local/tmp/segbench"
    model = next(on_phone.glob("models/*/tiny_seg.onnx"))
    model.write_bytes(bytes(len(model.read_bytes())))
    next(on_phone.glob("inputs/*")).unlink()
    third = _run(phone, adb_port, assets, reports, "--models", str(MODELS), "--warmup", "1", "--repeats", "3")
    assert third.code == 0, third.err
    assert "pushed 2 file(s)" in third.err, third.err
    assert model.read_bytes() == (MODELS / "tiny_seg.onnx").read_bytes()


def test_litert_benchmark_model_runs_on_the_phone_and_records_its_version(phone, adb_port, assets, tmp_path):
    reports = tmp_path / "reports"
    r = _run(phone, adb_port, assets, reports, "--models", str(MODELS), "--runtime", "tflite", "--tool", "litert",
             "--warmup", "1", "--repeats", "3")
    assert r.code == 0, r.err
    assert "litert/benchmark_model (2.3.0" in r.err  # the tool announced with the manifest's release
    [x] = _records(reports)
    assert x["status"] == "ok" and x["count"] == 3, x["error"]
    # the family from the tool's own output (its BENCHMARK RESULTS block), the release from the manifest
    assert x["tool_version"] == "LiteRT 2.3.0" and x["extra"]["tool_detected"] == "LiteRT 2.x"
    assert "tool_mismatch" not in x["extra"]
    assert "/bin/litert/benchmark_model " in x["extra"]["command"] and "--input_layer" not in x["extra"]["command"]
    assert "own random data" in x["extra"]["input"]
    assert phone.tool_runs()[-1]["litert"] is True and x["cpu_mask"] == "f0"
    # its result message, pulled from the phone: median, p5 and p95 where the log's block has none
    assert "--result_file_path=" in x["extra"]["command"] and x["extra"]["result_file"] == "read: median_ms, p5_ms, p95_ms"
    assert x["latency_ms"]["median"] is not None and x["latency_ms"]["p95"] is not None and x["extra"]["p5_ms"] > 0
    bad = _run(phone, adb_port, assets, reports, "--models", str(MODELS), "--tool", "tensorrt")
    assert_one_line_error(bad, 2)
    assert "names no tool variant 'tensorrt'" in bad.err and "variants: litert" in bad.err
    on_host = run_cli("run", "--models", str(MODELS), "--tool", "litert", "--reports", str(reports))
    assert_one_line_error(on_host, 2)
    assert "needs --device" in on_host.err


@pytest.mark.parametrize("phone", ["crash=benchmark_model"], indirect=True)
def test_a_tool_crash_is_a_failed_record_with_its_log(phone, adb_port, assets, tmp_path):
    reports = tmp_path / "reports"
    r = _run(phone, adb_port, assets, reports, "--models", str(MODELS), "--warmup", "1", "--repeats", "3")
    assert r.code == 3, r.err
    recs = {x["runtime"]: x for x in _records(reports)}
    assert recs["onnxruntime"]["status"] == "ok"
    crashed = recs["tflite"]
    assert crashed["status"] == "failed" and "139" in crashed["error"]
    assert (reports / "runs" / crashed["run_id"] / crashed["log_path"]).read_bytes()


@pytest.mark.parametrize("phone", ["garbage=onnxruntime_perf_test"], indirect=True)
def test_garbage_output_is_a_failed_record(phone, adb_port, assets, tmp_path):
    reports = tmp_path / "reports"
    r = _run(phone, adb_port, assets, reports, "--models", str(MODELS), "--warmup", "1", "--repeats", "3")
    assert r.code == 3, r.err
    recs = {x["runtime"]: x for x in _records(reports)}
    assert recs["tflite"]["status"] == "ok"
    assert recs["onnxruntime"]["status"] == "failed" and "onnxruntime_perf_test" in recs["onnxruntime"]["error"]


@pytest.mark.parametrize("phone", ["hang=benchmark_model"], indirect=True)
def test_a_hung_tool_is_killed_at_the_timeout(phone, adb_port, assets, tmp_path):
    reports = tmp_path / "reports"
    r = _run(phone, adb_port, assets, reports, "--models", str(MODELS), "--warmup", "1", "--repeats", "3",
             "--timeout", "5")
    assert r.code == 3, r.err
    recs = {x["runtime"]: x for x in _records(reports)}
    assert recs["tflite"]["status"] == "timeout" and "killed" in recs["tflite"]["error"]
    assert recs["onnxruntime"]["status"] == "ok"


@pytest.mark.parametrize("phone", ["drop-during=--graph"], indirect=True)
def test_a_phone_dropping_mid_case_is_reconnected_and_nothing_is_lost(phone, adb_port, assets, tmp_path):
    reports = tmp_path / "reports"
    r = _run(phone, adb_port, assets, reports, "--models", str(MODELS), "--threads", "1,2", "--warmup", "1",
             "--repeats", "3")
    recs = _records(reports)
    assert sorted(case_label(x) for x in recs) == sorted(
        {f"{m}__{rt}__t{t}__high" for m, rt in (("selfie_segmentation", "tflite"), ("tiny_seg", "onnxruntime"))
         for t in (1, 2)})
    onnx = [x for x in recs if x["runtime"] == "onnxruntime"]
    assert all(x["status"] == "ok" for x in onnx)
    dropped = [x for x in recs if x["runtime"] == "tflite"]
    assert all(x["status"] == "failed" and "disconnected" in x["error"] for x in dropped)
    assert r.code == 3, r.err


def test_names_with_shell_metacharacters_run_safely(phone, adb_port, assets, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    odd = models / "tiny seg's $(reboot); `x` & y.onnx"
    shutil.copy(MODELS / "tiny_seg.onnx", odd)
    reports = tmp_path / "reports"
    r = _run(phone, adb_port, assets, reports, "--models", str(models), "--warmup", "1", "--repeats", "3")
    assert r.code == 0, r.err
    (rec,) = _records(reports)
    assert rec["status"] == "ok" and rec["model"]["name"] == odd.stem


def test_missing_tool_is_one_clear_error(phone, adb_port, tmp_path):
    empty = tmp_path / "assets"
    empty.mkdir()
    shutil.copy(ROOT / "device_assets" / "manifest.toml", empty / "manifest.toml")
    r = _run(phone, adb_port, empty, tmp_path / "reports", "--models", str(MODELS / "tiny_seg.onnx"))
    assert_one_line_error(r, 1)
    assert "onnxruntime_perf_test for arm64-v8a is missing" in r.err and "build.sh" in r.err


def test_unknown_device_is_one_clear_error(adb_port, assets, tmp_path):
    r = run_cli("run", "--device", "127.0.0.1:1", "--assets", str(assets), "--models", str(MODELS),
                "--reports", str(tmp_path), env={"ANDROID_ADB_SERVER_PORT": str(adb_port)})
    assert_one_line_error(r, 1)
    assert "127.0.0.1:1 is not attached" in r.err


def test_devices_lists_the_phone_with_its_facts(phone, adb_port):
    env = {"ANDROID_ADB_SERVER_PORT": str(adb_port)}
    r = run_cli("devices", env=env)
    assert r.code == 0, r.err
    line = next(ln for ln in r.out.splitlines() if ln.startswith(phone.serial))
    assert "Xiaomi MI 9 (cepheus)" in line and "Android 9 (API 28)" in line and "arm64-v8a" in line
    assert line.endswith("  emulated")  # the phone says so (ro.kernel.qemu); a real one never does
    assert "4x1.79 GHz + 3x2.42 GHz + 1x2.84 GHz" in r.out
    rows = [json.loads(ln) for ln in run_cli("devices", "--json", env=env).out.splitlines()]
    (me,) = [x for x in rows if x["id"] == phone.serial]
    assert me["model"] == "MI 9" and me["api_level"] == 28 and me["abi"] == "arm64-v8a" and me["emulated"] is True
    assert me["cpu_max_khz"]["7"] == 2841600 and me["extra"]["battery"]["level"] is not None
    assert any(name.startswith("cpu") for name in me["extra"]["thermal_c"])


@pytest.mark.parametrize("phone", ["unauthorized"], indirect=True)
def test_an_unauthorized_phone_is_listed_with_what_to_do_and_refused_by_run(phone, adb_port, assets, tmp_path):
    env = {"ANDROID_ADB_SERVER_PORT": str(adb_port)}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        r = run_cli("devices", env=env)
        if f"{phone.serial}  unauthorized" in r.out:
            break
        time.sleep(0.5)
    assert r.code == 0 and "accept the USB debugging prompt" in r.out, r.out
    run = _run(phone, adb_port, assets, tmp_path / "reports", "--models", str(MODELS))
    assert_one_line_error(run, 1)
    assert "unauthorized" in run.err


@pytest.mark.parametrize("phone", ["disk-full=300000"], indirect=True)
def test_a_full_disk_fails_the_cases_that_need_space_with_the_phones_words(phone, adb_port, assets, tmp_path):
    reports = tmp_path / "reports"
    r = _run(phone, adb_port, assets, reports, "--models", str(MODELS), "--warmup", "1", "--repeats", "3")
    assert r.code == 3, r.err
    recs = _records(reports)
    assert len(recs) == 2 and any(x["status"] == "failed" for x in recs)
    for x in recs:
        if x["status"] == "failed":
            assert "No space left on device" in x["error"]


@pytest.mark.parametrize("phone", ["hang=onnxruntime_perf_test"], indirect=True)
def test_ctrl_c_mid_case_kills_the_tool_keeps_results_and_resume_finishes(phone, adb_port, assets, tmp_path):
    reports = tmp_path / "reports"
    proc = subprocess.Popen(
        [sys.executable, "-m", "segbench", "run", "--device", phone.serial, "--assets", str(assets), "--reports",
         str(reports), "--models", str(MODELS), "--warmup", "1", "--repeats", "3"],
        env=dict(os.environ, PYTHONPATH=str(ROOT), ANDROID_ADB_SERVER_PORT=str(adb_port)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # selfie (tflite) finishes first; then the ORT case hangs: interrupt it once its tool really runs, not after
    # a guessed pause (the case first reads the phone's temperatures and frequencies, slower on a loaded host).
    try:
        deadline = time.monotonic() + 120
        while not (hung := tool_pids(phone, "onnxruntime_perf_test")) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[1]
            time.sleep(0.05)
        assert len(hung) == 1
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:  # a failed wait: do not leave a run holding the phone's lock
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "--resume" in err
    (run_dir,) = (reports / "runs").iterdir()
    assert [x["runtime"] for x in _records(reports)] == ["tflite"]
    left = adb(adb_port, "-s", phone.serial, "shell", "ls /data/local/tmp/segbench/run.pid")
    assert left.returncode != 0, "the hung tool's pid file is still there: it was not killed"
    assert not tool_pids(phone, "onnxruntime_perf_test"), "the hung tool still runs"
    phone.set_faults("")
    again = run_cli("run", "--resume", run_dir.name, "--reports", str(reports), "--assets", str(assets),
                    env={"ANDROID_ADB_SERVER_PORT": str(adb_port)})
    assert again.code == 0, again.err
    recs = _records(reports)
    assert sorted(x["runtime"] for x in recs) == ["onnxruntime", "tflite"] and all(x["status"] == "ok" for x in recs)


def test_a_phone_in_use_by_another_run_is_refused(phone, adb_port, assets, tmp_path):
    from segbench.devices.adb import AdbDevice, client, device_lock

    with device_lock(AdbDevice(client(f"127.0.0.1:{adb_port}"), phone.serial)):  # another segbench run holds it
        r = _run(phone, adb_port, assets, tmp_path / "reports", "--models", str(MODELS))
    assert_one_line_error(r, 1)
    assert f"device {phone.serial} is in use by segbench pid {os.getpid()}" in r.err
    assert not (tmp_path / "reports").exists() or not any((tmp_path / "reports" / "runs").glob("*"))


def test_backends_on_the_emulated_mi9_are_recorded_and_reported(phone, adb_port, assets, tmp_path):
    """The MI 9 has a GPU (Adreno 640, OpenCL) and NNAPI (Android 9): TFLite's delegates run and say so; ORT has
    no GPU provider (skipped, with the reason) and runs NNAPI; the report names each row's backend."""
    reports = tmp_path / "reports"
    r = _run(phone, adb_port, assets, reports, "--models", str(MODELS), "--backend", "cpu,gpu,nnapi",
             "--warmup", "1", "--repeats", "3")
    assert r.code == 0, r.err
    recs = {(x["runtime"], x["backend"]): x for x in _records(reports)}
    assert len(recs) == 6
    for runtime in ("tflite", "onnxruntime"):
        assert recs[(runtime, "cpu")]["status"] == "ok" and "backend_applied" not in recs[(runtime, "cpu")]["extra"]
        assert "--use_gpu" not in recs[(runtime, "cpu")]["extra"]["command"]
    gpu, nnapi = recs[("tflite", "gpu")], recs[("tflite", "nnapi")]
    assert gpu["status"] == "ok" and gpu["extra"]["backend_applied"] is True, gpu["error"]
    assert "--use_gpu=true --gpu_precision_loss_allowed=false" in gpu["extra"]["command"]
    assert gpu["extra"]["backend_nodes"]["delegated"] == gpu["extra"]["backend_nodes"]["total"] > 0
    assert nnapi["status"] == "ok" and nnapi["extra"]["backend_applied"] is True and "--use_nnapi=true" in nnapi["extra"]["command"]
    ort_gpu, ort_nnapi = recs[("onnxruntime", "gpu")], recs[("onnxruntime", "nnapi")]
    assert ort_gpu["status"] == "skipped" and "no GPU execution provider" in ort_gpu["error"]
    assert ort_nnapi["status"] == "ok" and " -e nnapi " in ort_nnapi["extra"]["command"]
    # ORT on a phone logs its node placement to logcat, not the tool's output: the record says it does not know
    assert ort_nnapi["extra"]["backend_applied"] is None and "does not say" in ort_nnapi["extra"]["backend_fallback"]
    assert len({x["case_id"] for x in recs.values()}) == 6
    assert "| backend" in r.out and "nnapi (unverified)" in r.out


@pytest.mark.parametrize("phone", ["fallback=gpu"], indirect=True)
def test_a_gpu_delegate_that_falls_back_is_flagged_in_the_record_and_the_report(phone, adb_port, assets, tmp_path):
    reports = tmp_path / "reports"
    r = _run(phone, adb_port, assets, reports, "--models", str(MODELS), "--runtime", "tflite",
             "--backend", "gpu-fp16", "--warmup", "1", "--repeats", "3")
    assert r.code == 0, r.err
    [x] = _records(reports)
    assert x["status"] == "ok" and x["backend"] == "gpu-fp16"
    assert "--gpu_precision_loss_allowed=true" in x["extra"]["command"]
    assert x["extra"]["backend_applied"] is False and "ran no node" in x["extra"]["backend_fallback"]
    report = run_cli("report", "--reports", str(reports))
    assert report.code == 0, report.err
    assert "gpu-fp16 (CPU fallback)" in report.out and "fallback" in report.out and "ran no node" in report.out


def test_profile_and_memory_on_the_phone(phone, adb_port, assets, tmp_path):
    """--profile: ORT's -p trace is read back into ops_by_type (report --view ops shows it); the benchmark_model
    stand-in prints no op table (it cannot time operators), which its record says. --memory: peak figures."""
    reports = tmp_path / "reports"
    r = _run(phone, adb_port, assets, reports, "--models", str(MODELS), "--profile", "--memory",
             "--warmup", "1", "--repeats", "3")
    assert r.code == 0, r.err
    recs = {x["runtime"]: x for x in _records(reports)}
    ort, tfl = recs["onnxruntime"], recs["tflite"]
    assert ort["status"] == "ok" and ort["ops_by_type"] and all(v >= 0 for v in ort["ops_by_type"].values())
    assert " -p " in ort["extra"]["command"] and ort["extra"]["profiled"] is True
    assert ort["memory_mb"]["peak"] > 0
    assert "--enable_op_profiling=true" in tfl["extra"]["command"] and tfl["extra"]["profiled"] is True
    assert tfl["ops_by_type"] is None and "no per-operator table" in tfl["extra"]["profile"]
    assert "--report_peak_memory_footprint=true" in tfl["extra"]["command"] and tfl["memory_mb"]["peak"] > 0
    ops = run_cli("report", "--reports", str(reports), "--view", "ops")
    assert ops.code == 0, ops.err
    assert "Per-operator breakdown" in ops.out and next(iter(ort["ops_by_type"])) in ops.out


def test_temperatures_and_frequencies_are_one_command_per_case_boundary(phone, adb_port, assets, tmp_path):
    """Before: 5 shell commands a case (thermal, cur and cap before; thermal and cur after). Now one reading per
    boundary, shared by a case's end and the next case's start (n + 1 for n cases), each in a tool's command."""
    reports = tmp_path / "reports"
    r = _run(phone, adb_port, assets, reports, "--models", str(MODELS / "tiny_seg.onnx"), "--threads", "1,2,4",
             "--warmup", "1", "--repeats", "2")
    assert r.code == 0, r.err
    recs = _records(reports)
    assert len(recs) == 3 and all(x["status"] == "ok" for x in recs)
    readings = [c for c in phone.shell_commands() if "scaling_cur_freq" in c]
    # was 5 per case (15 here), 2 of them reading scaling_cur_freq; then n + 1 commands of their own; now each rides
    # in a tool's own command (the first tool's command carries the reading before it too): no round trip of its own
    assert sum(c.count("/scaling_cur_freq") for c in readings) == len(recs) + 1, readings
    assert len(readings) == len(recs) and all("run.pid" in c for c in readings)
    assert all(c.count("thermal_zone*/temp") == c.count("scaling_max_freq") for c in readings)  # each one batched
    for x in recs:
        assert x["temps_before_c"] and x["temps_after_c"] and x["cpu_khz_before"]["cpu7"] > 0
        assert x["cpu_khz_after"]["cpu7"] > 0
    for earlier, later in zip(recs, recs[1:]):  # the reading between two cases is both's
        assert later["temps_before_c"] == earlier["temps_after_c"]
        assert later["cpu_khz_before"] == earlier["cpu_khz_after"]
