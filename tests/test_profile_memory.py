"""`run --profile` and `--memory` on this machine (the phone's are in tests/test_run_device.py)."""

from __future__ import annotations

import json

from conftest import FIXTURES, assert_one_line_error, run_cli


def test_profile_and_memory_on_the_host(tmp_path):
    reports = tmp_path / "reports"
    r = run_cli("run", "--models", str(FIXTURES / "models"), "--profile", "--memory", "--warmup", "1", "--repeats", "3",
                "--reports", str(reports))
    assert r.code == 0, r.err
    [run] = (reports / "runs").iterdir()
    recs = {x["runtime"]: x for x in map(json.loads, (run / "results.jsonl").read_text().splitlines())}
    ort, tfl = recs["onnxruntime"], recs["tflite"]
    assert ort["status"] == "ok" and ort["ops_by_type"] and ort["extra"]["profiled"] is True
    assert tfl["ops_by_type"] is None and "no per-operator profiler" in tfl["extra"]["profile"]
    for x in (ort, tfl):
        assert set(x["memory_mb"]) == {"init", "overall", "peak"} and x["memory_mb"]["overall"] >= 0
    assert json.loads((run / "run.json").read_text())["settings"]["profile"] is True
    ops = run_cli("report", "--reports", str(reports), "--view", "ops")
    assert ops.code == 0 and "Per-operator breakdown" in ops.out, ops.err
    assert next(iter(ort["ops_by_type"])) in ops.out


def test_profile_in_a_suite_must_be_a_boolean(tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text(f'models = "{FIXTURES / "models"}"\nprofile = "yes"\n')
    bad = run_cli("run", "--suite", str(suite), "--reports", str(tmp_path))
    assert_one_line_error(bad, 2)
    assert "profile must be true or false" in bad.err
