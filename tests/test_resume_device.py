"""`run --resume` runs again the cases a phone kept from a result (a device failure, a set-aside "not run"), once the
phone is back, and not the ones the model failed; the new record is the one reports and the verdict count, the old
stays in results.jsonl. The real CLI, the real adb server, an emulated MI 9 with faults (docs/emulator.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import FIXTURES, run_cli
from segbench.emulator import EmulatedPhone
from segbench.emulator.phone import free_port

pytestmark = pytest.mark.slow

MODELS = FIXTURES / "models"  # selfie_segmentation.tflite (benchmark_model), tiny_seg.onnx (onnxruntime_perf_test)
ADB_PORTS = range(33037, 33100)
PHONE_PORTS = range(33100, 33400, 2)


def _lines(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]


def _by_case(records: list[dict]) -> dict[tuple[str, int], list[dict]]:
    out: dict[tuple[str, int], list[dict]] = {}
    for x in records:
        out.setdefault((x["model"]["name"], x["launch"]), []).append(x)
    return out


def test_resume_retries_what_the_phone_failed_and_not_what_the_model_failed(adb_port, assets, tmp_path):
    reports = tmp_path / "reports"
    env = {"ANDROID_ADB_SERVER_PORT": str(adb_port)}
    # benchmark_model crashes (the model's failure); the phone drops off whenever onnxruntime_perf_test runs (its
    # failure), and after one such failure it is set aside: the cases after it are not run.
    faults = "crash=benchmark_model,drop-during=onnxruntime_perf_test"
    with EmulatedPhone(port=free_port(PHONE_PORTS), adb_port=adb_port, faults=faults) as phone:
        args = ("--device", phone.serial, "--assets", str(assets), "--reports", str(reports), "--warmup", "1",
                "--repeats", "3")
        first = run_cli("run", "--models", str(MODELS), "--launches", "2", "--set-aside-after", "1",
                        "--reconnect-wait", "10", *args, env=env, timeout=600)
        assert first.code == 3, first.err
        (run,) = (reports / "runs").iterdir()
        before = _by_case(_lines(run))
        # launch 1: selfie crashed, tiny lost its phone; launch 2: both not run (the phone was set aside)
        [selfie1], [tiny1] = before[("selfie_segmentation", 1)], before[("tiny_seg", 1)]
        assert selfie1["status"] == "failed" and not selfie1["extra"].get("device_failure"), selfie1
        assert tiny1["status"] == "failed" and tiny1["extra"]["device_failure"], tiny1
        assert all(x["status"] == "skipped" and x["extra"]["set_aside"]
                   for key in (("selfie_segmentation", 2), ("tiny_seg", 2)) for x in before[key])

        phone.set_faults("crash=benchmark_model")  # the phone is healthy again; the model still crashes its tool
        phone.wait_state("device")
        resumed = run_cli("run", "--resume", run.name, "--reports", str(reports), "--assets", str(assets), env=env,
                          timeout=600)
        ran = phone.tool_runs()
        # Nothing is left for the phone to retry: a second resume runs nothing.
        again = run_cli("run", "--resume", run.name, "--reports", str(reports), "--assets", str(assets), env=env,
                        timeout=600)

    assert resumed.code == 3, resumed.err  # selfie's own failure stands
    assert "resumed: 1 cases were already done, ran 3" in resumed.err, resumed.err
    lines = _lines(run)
    assert len(lines) == 4 + 3  # the first attempts stay in results.jsonl, for the record
    after = _by_case(lines)
    assert len(after[("selfie_segmentation", 1)]) == 1  # the model's failure was not run again
    assert [x["status"] for x in after[("tiny_seg", 1)]] == ["failed", "ok"]
    assert [x["status"] for x in after[("tiny_seg", 2)]] == ["skipped", "ok"]
    assert [x["status"] for x in after[("selfie_segmentation", 2)]] == ["skipped", "failed"]
    assert not after[("selfie_segmentation", 2)][1]["extra"].get("device_failure")
    assert sum(r["tool"] == "onnxruntime_perf_test" for r in ran) >= 2

    # Reports count the later record of each (case, launch): tiny_seg is ok on both launches, nothing is "not run".
    report = run_cli("report", "--run", run.name, "--reports", str(reports), "--format", "json")
    assert report.code == 0, report.err
    rows = {r["model"]: r for r in json.loads(report.out)["rows"]}
    assert rows["tiny_seg"]["status"] == "ok" and rows["tiny_seg"]["launches"] == 2, rows["tiny_seg"]
    assert rows["selfie_segmentation"]["status"] == "failed"
    assert "not run" not in resumed.err

    assert again.code == 3 and "resumed: 4 cases were already done, ran 0" in again.err, again.err
    assert len(_lines(run)) == 7
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "completed"
