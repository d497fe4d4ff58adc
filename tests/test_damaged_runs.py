"""A run of a newer segbench, or a damaged one, is said loudly: fatal where it is asked for by name, left out of
`report --all` with a warning where the other runs are healthy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import FIXTURES, assert_one_line_error, run_cli


def _copy(run: Path, run_id: str) -> Path:
    other = run.parent / run_id
    shutil.copytree(run, other)
    info = json.loads((other / "run.json").read_text())
    (other / "run.json").write_text(json.dumps({**info, "run_id": run_id}))
    return other


def test_report_all_skips_a_damaged_run_and_a_newer_one_says_its_version(tmp_path):
    reports = tmp_path / "reports"
    r = run_cli("run", "--models", str(FIXTURES / "models" / "tiny_seg.onnx"), "--warmup", "0", "--repeats", "2",
                "--reports", str(reports))
    assert r.code == 0, r.err
    (healthy,) = (reports / "runs").iterdir()
    damaged = _copy(healthy, "20000101-000000-000-0001")
    (damaged / "run.json").write_text('{"schema": "segbench.run/1", "run_id": ')  # cut short
    newer = _copy(healthy, "20000101-000000-000-0002")
    record = json.loads((newer / "results.jsonl").read_text())
    with open(newer / "results.jsonl", "a") as f:
        f.write(json.dumps({**record, "schema": "segbench.measurement/2", "latency_ms": {"p50": 1.0}}) + "\n")

    every = run_cli("report", "--all", "--reports", str(reports))
    assert every.code == 0, every.err
    assert "| tiny_seg" in every.out and "Traceback" not in every.err
    assert f"segbench: warning: skipped run {damaged.name}: cannot read {damaged / 'run.json'}" in every.err
    assert (f"segbench: warning: skipped run {newer.name}: {newer / 'results.jsonl'} line 2: a segbench.measurement/2 "
            "record, newer than this segbench reads (segbench.measurement/1) (upgrade segbench to read this run)"
            ) in every.err
    assert len([ln for ln in every.err.splitlines() if ln.startswith("segbench: warning: skipped run")]) == 2
    as_json = [json.loads(run_cli("report", *which, "--reports", str(reports), "--format", "json").out)["rows"]
               for which in (("--all",), ("--run", healthy.name))]
    assert as_json[0] == as_json[1]  # only the healthy run's records: the newer run's are not half-read

    named = run_cli("report", "--run", newer.name, "--reports", str(reports))
    assert_one_line_error(named, 1)
    assert f"{newer / 'results.jsonl'} line 2: a segbench.measurement/2 record" in named.err
    resumed = run_cli("run", "--resume", newer.name, "--reports", str(reports))
    assert_one_line_error(resumed, 1)
    assert "segbench.measurement/2" in resumed.err

    for run in (healthy, newer):
        shutil.rmtree(run)
    nothing = run_cli("report", "--all", "--reports", str(reports))
    assert_one_line_error(nothing, 1)
    assert "no readable runs in" in nothing.err
