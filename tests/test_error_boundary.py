"""The error boundary of a case, and run.json closed however a run ends."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from onnx_build import bad_reshape, string_input

from conftest import FIXTURES, assert_one_line_error, run_cli

TINY = FIXTURES / "models" / "tiny_seg.onnx"


def _run_dir(reports: Path) -> Path:
    (run,) = (reports / "runs").iterdir()
    return run


def test_a_case_that_raises_is_a_failed_record_with_its_traceback_and_the_run_goes_on(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    bad_reshape(models / "a_reshape.onnx")
    string_input(models / "b_strings.onnx")
    shutil.copy(TINY, models / "c_tiny.onnx")
    reports = tmp_path / "reports"
    r = run_cli("run", "--models", str(models), "--warmup", "1", "--repeats", "2", "--reports", str(reports))
    assert r.code == 3, r.err
    assert "Traceback" not in r.err and "Traceback" not in r.out
    run = _run_dir(reports)
    recs = {x["model"]["name"]: x for x in map(json.loads, (run / "results.jsonl").read_text().splitlines())}
    assert recs["c_tiny"]["status"] == "ok"  # after the two that failed
    reshape = recs["a_reshape"]
    assert reshape["status"] == "failed" and reshape["error"].startswith("RuntimeError: ")
    assert "cannot be reshaped to the requested shape" in reshape["error"] and "\n" not in reshape["error"]
    log = (run / reshape["log_path"]).read_text()
    assert "Traceback (most recent call last)" in log and "run_with_iobinding" in log
    strings = recs["b_strings"]
    assert strings["status"] == "failed"
    assert strings["error"] == "input 's' has dtype string, which segbench cannot generate (pass --input)"
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "completed" and info["finished"]


def test_a_run_that_stops_on_an_error_closes_run_json_as_failed(tmp_path):
    """A store that fails mid-run (its logs directory replaced by a file) ends the run with one error line, and
    run.json says failed, with the time it ended, instead of running forever; --resume then finishes it."""
    reports = tmp_path / "reports"
    first = run_cli("run", "--models", str(TINY), "--threads", "1,2", "--warmup", "0", "--repeats", "1",
                    "--reports", str(reports))
    assert first.code == 0, first.err
    run = _run_dir(reports)
    (run / "results.jsonl").write_text("")  # as if it had been stopped before its first case ended
    shutil.rmtree(run / "logs")
    (run / "logs").write_text("not a directory")
    r = run_cli("run", "--resume", run.name, "--reports", str(reports))
    assert_one_line_error(r, 1)
    assert f"cannot write {run / 'logs'}" in r.err
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "failed" and info["finished"]
    (run / "logs").unlink()
    again = run_cli("run", "--resume", run.name, "--reports", str(reports))
    assert again.code == 0, again.err
    assert json.loads((run / "run.json").read_text())["status"] == "completed"
