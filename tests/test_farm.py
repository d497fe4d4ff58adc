"""`segbench run --device S1,S2,S3`: a farm of emulated MI 9s on loopback, through the real CLI and adb server.

Every phone runs every case in parallel; a phone that is unplugged for good mid-run (drop-after) is set aside
and its remaining cases are recorded as not run, while the healthy phones' results are complete.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from conftest import (
    FIXTURES,
    ROOT,
    assert_one_line_error,
    case_label,
    run_cli,
    start_adb_server,
    stop_adb_server,
)
from segbench.emulator import EmulatedPhone
from segbench.emulator.phone import free_port

pytestmark = pytest.mark.slow

MODELS = FIXTURES / "models"
ADB_PORTS = range(27038, 27100, 2)
PHONE_PORTS = range(28000, 29000, 2)
CASES = {f"{m}__{rt}__t{t}__high" for m, rt in (("selfie_segmentation", "tflite"), ("tiny_seg", "onnxruntime"))
         for t in (1, 2, 4)}


def _phone(adb_port: int, faults: str | None = None) -> EmulatedPhone:
    return EmulatedPhone(port=free_port(PHONE_PORTS), adb_port=adb_port, faults=faults)


def _records(reports: Path) -> tuple[dict, list[dict]]:
    (run,) = (reports / "runs").iterdir()
    lines = (run / "results.jsonl").read_text().splitlines()
    return json.loads((run / "run.json").read_text()), [json.loads(line) for line in lines]


def test_a_phone_unplugged_for_good_is_set_aside_and_the_healthy_ones_finish(adb_port, assets, tmp_path):
    reports = tmp_path / "reports"
    # A new phone opens 2 services before its first tool runs (its facts, which also name it for the lock; the sync
    # connection, which finds none of the files there: nothing to hash), then 1 a case (the tool's command, which
    # carries the readings around it): dropping at the 5th leaves two cases done.
    with _phone(adb_port) as a, _phone(adb_port) as b, _phone(adb_port, "drop-after=4") as bad:
        r = run_cli("run", "--device", "all", "--models", str(MODELS), "--threads", "1,2,4", "--warmup", "1",
                    "--repeats", "3", "--assets", str(assets), "--reports", str(reports), "--reconnect-wait", "2",
                    "--set-aside-after", "2", env={"ANDROID_ADB_SERVER_PORT": str(adb_port)}, timeout=300)
        healthy_runs = {p.serial: len(p.tool_runs()) for p in (a, b)}
    assert r.code == 3, r.err
    info, recs = _records(reports)
    # Every phone has exactly one record of every case: nothing lost, nothing twice.
    assert Counter((x["device_id"], case_label(x)) for x in recs) == Counter(
        {(p, c): 1 for p in (a.serial, b.serial, bad.serial) for c in CASES})
    for serial in (a.serial, b.serial):
        mine = [x for x in recs if x["device_id"] == serial]
        assert all(x["status"] == "ok" and x["count"] == 3 for x in mine), [x["error"] for x in mine]
        assert healthy_runs[serial] == len(CASES)  # each case ran on each healthy phone, once
        assert {Path(x["log_path"]).parent.name for x in mine} == {serial.replace(":", "_")}
    dropped = [x for x in recs if x["device_id"] == bad.serial]
    statuses = Counter(x["status"] for x in dropped)
    assert statuses["ok"] >= 1 and statuses["failed"] == 2 and statuses["skipped"] >= 1, statuses
    failed = [x for x in dropped if x["status"] == "failed"]
    assert all(x["extra"].get("device_failure") for x in failed), failed
    skipped = [x for x in dropped if x["status"] == "skipped"]
    assert all(x["error"].startswith("not run: the phone was set aside after 2 device failures") and x["extra"]["set_aside"] for x in skipped)
    assert [d["id"] for d in info["devices"]] == sorted([a.serial, b.serial, bad.serial], key=[
        d["id"] for d in info["devices"]].index)
    assert {d["model"] for d in info["devices"]} == {"MI 9"} and info["cases_total"] == 3 * len(CASES)
    # The per-phone summary names the set-aside phone and why; the exit line says cases were not run.
    summary = [ln for ln in r.err.splitlines() if ln.startswith(f"| {bad.serial}")]
    assert summary and "set aside" in summary[0], r.err
    assert f"{len(skipped)} case(s) not run: {bad.serial} set aside" in r.err


def _adb(adb_server_port: int, *args: str) -> None:
    from adbutils import adb_path

    subprocess.run([adb_path(), "-P", str(adb_server_port), *args], capture_output=True, timeout=30, check=True)


def test_phones_of_two_adb_servers_join_and_a_shared_serial_is_qualified(adb_port, assets, tmp_path):
    """A phone seen by both servers has the same serial twice: it is named HOST:PORT/SERIAL, and is run once."""
    other = start_adb_server(ADB_PORTS)
    reports = tmp_path / "reports"
    try:
        with _phone(adb_port) as a, _phone(other) as b:
            _adb(adb_port, "connect", b.serial)  # b is now on both servers
            servers = ("--adb-server", f"127.0.0.1:{adb_port}", "--adb-server", f"127.0.0.1:{other}")
            ambiguous = run_cli("run", "--device", b.serial, "--models", str(MODELS / "tiny_seg.onnx"),
                                "--assets", str(assets), "--reports", str(reports), *servers)
            r = run_cli("run", "--device", "all", "--models", str(MODELS / "tiny_seg.onnx"), "--warmup", "1",
                        "--repeats", "3", "--assets", str(assets), "--reports", str(reports), *servers)
            one = run_cli("run", "--device", f"127.0.0.1:{other}/{b.serial}", "--models", str(MODELS / "tiny_seg.onnx"),
                          "--warmup", "1", "--repeats", "3", "--assets", str(assets), "--reports",
                          str(tmp_path / "one"), *servers)
            _adb(adb_port, "disconnect", b.serial)  # a later phone on b's port must not meet a stale transport
    finally:
        stop_adb_server(other)
    assert_one_line_error(ambiguous, 1)
    assert f"device {b.serial} is attached to several adb servers" in ambiguous.err
    assert f"127.0.0.1:{other}/{b.serial}" in ambiguous.err  # the hint says how to name it
    assert r.code == 0, r.err
    _, recs = _records(reports)
    # b is one phone (one ro.serialno) on two servers: locked once, measured once, under its first server's name.
    assert sorted(x["device_id"] for x in recs) == sorted([a.serial, f"127.0.0.1:{adb_port}/{b.serial}"])
    assert (f"segbench: warning: left out 127.0.0.1:{other}/{b.serial}: device 127.0.0.1:{other}/{b.serial} is "
            f"127.0.0.1:{adb_port}/{b.serial} again (serial number {b.profile.prop('ro.serialno')}), which this run "
            "already has") in r.err
    assert all(x["status"] == "ok" for x in recs)
    assert one.code == 0, one.err
    _, (rec,) = _records(tmp_path / "one")
    assert rec["device_id"] == f"127.0.0.1:{other}/{b.serial}" and rec["status"] == "ok"


def test_naming_phones_wrongly_is_one_clear_error(adb_port, assets, tmp_path):
    with _phone(adb_port) as a:
        common = ("--models", str(MODELS), "--assets", str(assets), "--reports", str(tmp_path))
        env = {"ANDROID_ADB_SERVER_PORT": str(adb_port)}
        missing = run_cli("run", "--device", f"{a.serial},127.0.0.1:1", *common, env=env)
        twice = run_cli("run", "--device", f"{a.serial},{a.serial}", *common, env=env)
    assert_one_line_error(missing, 1)
    assert "device 127.0.0.1:1 is not attached" in missing.err and a.serial in missing.err
    assert_one_line_error(twice, 2)
    assert "named twice" in twice.err
    assert not (tmp_path / "runs").exists()  # nothing ran, no run was started


def test_ctrl_c_keeps_what_the_phones_finished_and_resume_completes_the_rest(adb_port, assets, tmp_path):
    """SIGTERM mid-run (CI cancelling the job): exit 130, finished records kept; --resume runs only the rest."""
    import os
    import signal
    import sys
    import time

    reports = tmp_path / "reports"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ANDROID_ADB_SERVER_PORT": str(adb_port)}
    with _phone(adb_port, "hang=onnxruntime_perf_test") as a, _phone(adb_port, "hang=onnxruntime_perf_test") as b:
        # selfie_segmentation (TFLite, first by name) runs; tiny_seg (ONNX) then hangs on both phones.
        proc = subprocess.Popen(
            [sys.executable, "-m", "segbench", "run", "--device", f"{a.serial},{b.serial}", "--models", str(MODELS),
             "--warmup", "1", "--repeats", "3", "--timeout", "120", "--assets", str(assets), "--reports",
             str(reports)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        results = lambda: list((reports / "runs").glob("*/results.jsonl"))  # noqa: E731
        while time.monotonic() < deadline and not (results() and len(results()[0].read_text().splitlines()) == 2):
            time.sleep(0.2)
        time.sleep(1.5)  # both phones are now inside the hanging case
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        stopped_in = time.monotonic() - t0
        assert proc.returncode == 130, err
        assert stopped_in < 15, stopped_in  # did not wait for the 120 s tool timeout
        info, recs = _records(reports)
        assert info["status"] == "interrupted" and "--resume" in err and "Traceback" not in err
        assert all(x["status"] == "ok" for x in recs)
        before = {(x["device_id"], case_label(x)) for x in recs}
        for p in (a, b):
            p.set_faults(None)
        resumed = run_cli("run", "--resume", info["run_id"], "--reports", str(reports), "--assets", str(assets),
                          env={"ANDROID_ADB_SERVER_PORT": str(adb_port)})
    assert resumed.code == 0, resumed.err
    _, recs = _records(reports)
    want = {(p, f"{m}__{rt}__t1__high") for p in (a.serial, b.serial)
            for m, rt in (("selfie_segmentation", "tflite"), ("tiny_seg", "onnxruntime"))}
    assert Counter((x["device_id"], case_label(x)) for x in recs) == Counter(dict.fromkeys(want, 1))
    assert before < want and all(x["status"] == "ok" for x in recs)


def test_split_shard_runs_each_case_once_and_a_dropped_phone_leaves_its_cases_to_the_others(adb_port, assets,
                                                                                            tmp_path):
    """The phone that drops fails the case in flight for its own sake: that case is handed back and run on a
    healthy phone (its record names the failed attempt), so every case ends ok, once."""
    reports = tmp_path / "reports"
    # 2 services before a phone's first tool (see above): the bad phone drops at its first case's command.
    with _phone(adb_port) as a, _phone(adb_port) as b, _phone(adb_port, "drop-after=2") as bad:
        r = run_cli("run", "--device", f"{a.serial},{b.serial},{bad.serial}", "--split", "shard", "--models",
                    str(MODELS), "--threads", "1,2,3,4", "--warmup", "1", "--repeats", "3", "--assets", str(assets),
                    "--reports", str(reports), "--reconnect-wait", "2", "--set-aside-after", "2",
                    env={"ANDROID_ADB_SERVER_PORT": str(adb_port)}, timeout=300)
    info, recs = _records(reports)
    cases = {f"{m}__{rt}__t{t}__high" for m, rt in (("selfie_segmentation", "tflite"), ("tiny_seg", "onnxruntime"))
             for t in (1, 2, 3, 4)}
    assert Counter(case_label(x) for x in recs) == Counter(dict.fromkeys(cases, 1)), r.err  # once each, none lost
    assert all(x["status"] == "ok" for x in recs) and {x["device_id"] for x in recs} <= {a.serial, b.serial}
    retried = [x for x in recs if x["extra"].get("retried_after")]
    assert 1 <= len(retried) <= 2, r.err
    for x in retried:
        assert [t["device_id"] for t in x["extra"]["retried_after"]] == [bad.serial]
        assert "did not come back" in x["extra"]["retried_after"][0]["error"]  # the phone's failure, kept
        assert (reports / "runs" / x["run_id"] / x["extra"]["retried_after"][0]["log_path"]).is_file()
    assert "handed to another phone" in r.err
    assert info["cases_total"] == len(cases) and info["settings"]["split"] == "shard"
    assert "each case once, on a free phone" in r.err and r.code == 0, r.err


def test_split_shard_with_every_phone_set_aside_records_the_rest_as_not_run(adb_port, assets, tmp_path):
    reports = tmp_path / "reports"
    with _phone(adb_port, "drop-after=2") as a, _phone(adb_port, "drop-after=2") as b:  # at the first tool
        r = run_cli("run", "--device", f"{a.serial},{b.serial}", "--split", "shard", "--models", str(MODELS),
                    "--threads", "1,2,3,4", "--warmup", "1", "--repeats", "3", "--assets", str(assets), "--reports",
                    str(reports), "--reconnect-wait", "1", "--set-aside-after", "1",
                    env={"ANDROID_ADB_SERVER_PORT": str(adb_port)}, timeout=300)
    assert r.code == 3, r.err
    _, recs = _records(reports)
    assert sorted(case_label(x) for x in recs) == sorted(
        f"{m}__{rt}__t{t}__high" for m, rt in (("selfie_segmentation", "tflite"), ("tiny_seg", "onnxruntime"))
        for t in (1, 2, 3, 4))
    failed = [x for x in recs if x["status"] == "failed"]
    left = [x for x in recs if x["status"] == "skipped"]
    assert len(failed) == 2 and all(x["extra"]["device_failure"] for x in failed)  # one each, then set aside
    assert len(left) == 6 and all(x["error"] == "not run: every phone of the farm was set aside" for x in left)
    assert "6 case(s) not run:" in r.err


def test_device_all_leaves_out_a_busy_phone_with_a_warning_but_a_named_one_must_run(adb_port, assets, tmp_path):
    from segbench.devices.adb import AdbDevice, client, device_lock

    env = {"ANDROID_ADB_SERVER_PORT": str(adb_port)}
    with (_phone(adb_port) as a, _phone(adb_port) as busy,
          device_lock(AdbDevice(client(f"127.0.0.1:{adb_port}"), busy.serial))):
        r = run_cli("run", "--device", "all", "--models", str(MODELS / "tiny_seg.onnx"), "--warmup", "1",
                    "--repeats", "3", "--assets", str(assets), "--reports", str(tmp_path / "all"), env=env)
        named = run_cli("run", "--device", f"{a.serial},{busy.serial}", "--models", str(MODELS / "tiny_seg.onnx"),
                        "--assets", str(assets), "--reports", str(tmp_path / "named"), env=env)
    assert r.code == 0, r.err
    assert f"segbench: warning: left out {busy.serial}: device {busy.serial} is in use by segbench pid" in r.err
    _, recs = _records(tmp_path / "all")
    assert [(x["device_id"], x["status"]) for x in recs] == [(a.serial, "ok")]
    assert_one_line_error(named, 1)
    assert f"device {busy.serial} is in use" in named.err
