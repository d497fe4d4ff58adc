"""`segbench run` on this machine, end to end through the real CLI in a subprocess."""

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import FIXTURES, ROOT, assert_one_line_error, case_label, run_cli
from segbench.models import sha256_file
from segbench.store import Store

MODELS = FIXTURES / "models"


def _records(reports: Path) -> list[dict]:
    (run,) = (reports / "runs").iterdir()
    return [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]


def test_done_when_command_writes_one_ok_record_per_model_and_thread(tmp_path):
    r = run_cli("run", "--models", str(MODELS), "--threads", "1,2", "--warmup", "5", "--repeats", "30",
                "--reports", str(tmp_path / "out"))
    assert r.code == 0, r.err
    recs = _records(tmp_path / "out")
    assert sorted((x["model"]["name"], x["threads"]) for x in recs) == [
        ("selfie_segmentation", 1), ("selfie_segmentation", 2), ("tiny_seg", 1), ("tiny_seg", 2)]
    for x in recs:
        assert x["status"] == "ok" and x["count"] == 30 and len(x["samples_ms"]) == 30
        assert x["schema"] == "segbench.measurement/1"
        lat = x["latency_ms"]
        assert set(lat) >= {"median", "p90", "min", "max", "avg", "std"}
        assert lat["min"] <= lat["median"] <= lat["p90"] <= lat["max"]
        assert lat["median"] == pytest.approx(float(np.median(x["samples_ms"])))
        assert x["power_mode"] == "high" and x["warmup"] == 5 and x["repeats"] == 30
        assert x["runtime"] == {"onnx": "onnxruntime", "tflite": "tflite"}[x["model"]["format"]]
        assert x["model"]["sha256"] == sha256_file(Path(x["model"]["path"]))
        assert x["first_ms"] > 0 and x["init_ms"] > 0
        log = tmp_path / "out" / "runs" / x["run_id"] / x["log_path"]
        assert "samples_ms:" in log.read_text()
    # the table printed at the end has a row per case
    assert r.out.count("| selfie_segmentation") == 2 and r.out.count("| tiny_seg") == 2
    run_json = json.loads(next((tmp_path / "out" / "runs").iterdir()).joinpath("run.json").read_text())
    assert run_json["status"] == "completed" and run_json["device"]["kind"] == "host"
    assert run_json["versions"]["onnxruntime"] and run_json["device"]["cpu_model"] is not None
    assert run_json["settings"]["threads"] == [1, 2]


def test_power_modes_record_the_mask_they_bound(tmp_path):
    r = run_cli("run", "--models", str(MODELS / "tiny_seg.onnx"), "--power-mode", "full,no_bind",
                "--warmup", "1", "--repeats", "3", "--reports", str(tmp_path))
    assert r.code == 0, r.err
    recs = {x["power_mode"]: x for x in _records(tmp_path)}
    all_cpus = sorted(os.sched_getaffinity(0))
    assert recs["full"]["cpu_mask"] == f"{sum(1 << c for c in all_cpus):x}"
    assert recs["no_bind"]["cpu_mask"] is None


def test_input_tensor_file_is_used_and_checked(tmp_path):
    good = tmp_path / "x.npy"
    np.save(good, np.zeros((1, 3, 128, 128), np.float32))
    r = run_cli("run", "--models", str(MODELS / "tiny_seg.onnx"), "--input", str(good), "--warmup", "0",
                "--repeats", "2", "--reports", str(tmp_path / "a"))
    assert r.code == 0, r.err
    bad = tmp_path / "y.npy"
    np.save(bad, np.zeros((1, 3, 64, 64), np.float32))
    r = run_cli("run", "--models", str(MODELS / "tiny_seg.onnx"), "--input", str(bad), "--warmup", "0",
                "--repeats", "2", "--reports", str(tmp_path / "b"))
    assert r.code == 3
    (rec,) = _records(tmp_path / "b")
    assert rec["status"] == "failed" and "input 'image' wants float32 [1,3,128,128]" in rec["error"]


def test_paddle_models_are_skipped_with_the_install_hint(tmp_path, without_paddlelite):
    models = tmp_path / "m"
    models.mkdir()
    (models / "pp.pdmodel").write_bytes(b"\x0a\x00")
    (models / "pp.pdiparams").write_bytes(b"\x00" * 8)
    r = run_cli("run", "--models", str(models), "--warmup", "0", "--repeats", "1", "--reports", str(tmp_path / "o"))
    assert r.code == 0, r.err
    (rec,) = _records(tmp_path / "o")
    assert rec["status"] == "skipped" and "pip install 'segbench[paddle]'" in rec["error"]
    assert rec["runtime"] == "paddlelite"


def _snapshot(reports: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in reports.rglob("*") if p.is_file()}


@pytest.fixture
def earlier_run(tmp_path):
    reports = tmp_path / "reports"
    r = run_cli("run", "--models", str(MODELS / "tiny_seg.onnx"), "--warmup", "0", "--repeats", "2",
                "--reports", str(reports))
    assert r.code == 0, r.err
    return reports


def test_empty_directory(tmp_path, earlier_run):
    before = _snapshot(earlier_run)
    (tmp_path / "empty").mkdir()
    assert_one_line_error(run_cli("run", "--models", str(tmp_path / "empty"), "--reports", str(earlier_run)), 2)
    assert _snapshot(earlier_run) == before


def test_non_model_file(tmp_path, earlier_run):
    before = _snapshot(earlier_run)
    (tmp_path / "notes.txt").write_text("hello")
    r = run_cli("run", "--models", str(tmp_path / "notes.txt"), "--reports", str(earlier_run))
    assert_one_line_error(r, 1)
    assert "not a model file" in r.err
    assert _snapshot(earlier_run) == before


@pytest.mark.parametrize("args", [["--threads", "0"], ["--power-mode", "turbo"], ["--threads", "1,x"]])
def test_bad_settings_are_usage_errors(args, earlier_run):
    before = _snapshot(earlier_run)
    r = run_cli("run", "--models", str(MODELS), *args, "--reports", str(earlier_run))
    assert_one_line_error(r, 2)
    assert _snapshot(earlier_run) == before


def test_truncated_and_unreadable_models_fail_alone(tmp_path, earlier_run):
    before = _snapshot(earlier_run)
    models = tmp_path / "m"
    models.mkdir()
    data = (MODELS / "tiny_seg.onnx").read_bytes()
    (models / "cut.onnx").write_bytes(data[: len(data) // 2])
    os.mkfifo(models / "fifo.tflite")  # named like a model, but reading it would never end
    shutil.copy(MODELS / "tiny_seg.onnx", models / "good.onnx")
    r = run_cli("run", "--models", str(models), "--warmup", "0", "--repeats", "2", "--reports", str(earlier_run))
    assert r.code == 3, r.err
    assert "Traceback" not in r.err
    latest = Store(earlier_run).latest()
    by_name = {m.model.name: m for m in latest.measurements()}
    assert by_name["good"].status == "ok"
    assert by_name["cut"].status == "failed" and "onnxruntime cannot load it" in by_name["cut"].error
    assert "fifo" not in by_name and "fifo.tflite: a FIFO, not a model file; skipped" in r.err  # never read
    assert all(_snapshot(earlier_run)[k] == v for k, v in before.items())


def test_sigint_keeps_finished_cases_and_resume_completes(tmp_path):
    reports = tmp_path / "r"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(  # a relative --reports: the printed resume command must work from anywhere
        [sys.executable, "-m", "segbench", "run", "--models", str(MODELS / "tiny_seg.onnx"), "--threads", "1,2",
         "--power-mode", "high,full,no_bind", "--warmup", "0", "--repeats", "1500", "--reports", "r"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    results = None
    while time.monotonic() < deadline:
        found = list((reports / "runs").glob("*/results.jsonl")) if (reports / "runs").exists() else []
        if found and found[0].read_text().count("\n") >= 1:
            results = found[0]
            break
        time.sleep(0.05)
    assert results is not None, "no case finished in time"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "--resume" in err
    run_id = results.parent.name
    saved = Store(reports).run(run_id).measurements()
    assert 1 <= len(saved) < 6 and all(m.status == "ok" for m in saved)
    assert Store(reports).run(run_id).info().status == "interrupted"
    printed = err.split("finish with: ", 1)[1].splitlines()[0]
    assert printed == f"segbench run --resume {run_id} --reports {reports.resolve()}", printed
    elsewhere = tmp_path / "another_shell"
    elsewhere.mkdir()
    r = run_cli(*shlex.split(printed)[1:], cwd=elsewhere)
    assert r.code == 0, r.err
    assert not (elsewhere / "r").exists()
    ids = [m.case_id for m in Store(reports).run(run_id).measurements()]
    assert len(ids) == 6 and len(set(ids)) == 6
    assert ids[: len(saved)] == [m.case_id for m in saved]


def test_report_formats(tmp_path, earlier_run):
    md = run_cli("report", "--reports", str(earlier_run), "--format", "markdown")
    assert md.code == 0 and "| tiny_seg" in md.out and "median (ms)" in md.out
    csv = run_cli("report", "--reports", str(earlier_run), "--format", "csv")
    assert csv.out.splitlines()[0].startswith("model,runtime,threads,power_mode")
    js = json.loads(run_cli("report", "--all", "--reports", str(earlier_run), "--format", "json").out)
    assert js["schema"] == "segbench.report/1" and js["rows"][0]["n"] == 2
    out = tmp_path / "r.md"
    assert run_cli("report", "--reports", str(earlier_run), "-o", str(out)).code == 0
    assert "| tiny_seg" in out.read_text()
    assert_one_line_error(run_cli("report", "--reports", str(tmp_path / "none")), 1)
    assert_one_line_error(run_cli("report", "--run", "nope", "--reports", str(earlier_run)), 1)


def test_manifest_names_models(tmp_path):
    models = tmp_path / "m"
    models.mkdir()
    shutil.copy(MODELS / "tiny_seg.onnx", models / "tiny.onnx")
    (models / "manifest.toml").write_text('[[model]]\nname = "Tiny Seg"\nfile = "tiny.onnx"\nbackbone = "conv"\n')
    r = run_cli("run", "--models", str(models), "--warmup", "0", "--repeats", "1", "--reports", str(tmp_path / "o"))
    assert r.code == 0, r.err
    (rec,) = _records(tmp_path / "o")
    assert rec["model"]["name"] == "Tiny Seg" and case_label(rec) == "Tiny_Seg__onnxruntime__t1__high"
    (models / "manifest.toml").write_text("[[model]\n")
    assert_one_line_error(run_cli("run", "--models", str(models), "--reports", str(tmp_path / "o")), 1)


def test_suite_file_with_command_line_override(tmp_path):
    models = tmp_path / "m"
    models.mkdir()
    shutil.copy(MODELS / "tiny_seg.onnx", models / "a.onnx")
    shutil.copy(MODELS / "tiny_seg.onnx", models / "b.onnx")
    suite = tmp_path / "s.toml"
    suite.write_text('[suite]\nmodels = "m"\nthreads = [1, 2]\nwarmup = 0\nrepeats = 7\nexclude = ["b"]\n')
    r = run_cli("run", "--suite", str(suite), "--repeats", "3", "--reports", str(tmp_path / "o"))
    assert r.code == 0, r.err
    recs = _records(tmp_path / "o")
    assert sorted((x["model"]["name"], x["threads"], x["count"]) for x in recs) == [("a", 1, 3), ("a", 2, 3)]
    suite.write_text('[suite]\nmodels = "m"\nthreds = [1]\n')
    r = run_cli("run", "--suite", str(suite), "--reports", str(tmp_path / "o"))
    assert_one_line_error(r, 2)
    assert "thred" in r.err


def test_image_input_goes_through_gen_input(tmp_path):
    from conftest import ASTRONAUT, SELFIE

    r = run_cli("run", "--models", str(SELFIE), "--input", str(ASTRONAUT), "--preset", "unit", "--warmup", "0",
                "--repeats", "2", "--reports", str(tmp_path))
    assert r.code == 0, r.err
    (rec,) = _records(tmp_path)
    log = (tmp_path / "runs" / rec["run_id"] / rec["log_path"]).read_text()
    assert "input_1 float32 [1, 256, 256, 3] from" in log and "astronaut.png" in log
    assert_one_line_error(run_cli("run", "--models", str(SELFIE), "--input", str(ASTRONAUT), "--preset", "nope",
                                  "--reports", str(tmp_path)), 2)


def test_a_full_disk_is_one_error_line_and_keeps_what_was_written(tiny_disk: Path) -> None:
    reports = tiny_disk / "reports"
    r = run_cli("run", "--models", str(MODELS), "--threads", "1,2", "--warmup", "1", "--repeats", "600",
                "--reports", str(reports))
    assert_one_line_error(r, 1)
    assert "disk full while writing" in r.err and "results written before this point are kept" in r.err
    (run,) = (reports / "runs").iterdir()
    kept = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines() if line.strip()]
    assert kept and all(x["status"] == "ok" for x in kept)  # what was written is whole, not a torn line
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]  # no temp file left behind


def test_a_view_asked_for_without_data_says_why(earlier_run):
    # One thread count and no per-operator profile: --view all leaves both tables out, asked for by name they say why.
    ops = run_cli("report", "--reports", str(earlier_run), "--view", "ops")
    assert ops.code == 0 and "no record carries a per-operator profile (ops_by_type)" in ops.out, ops.err
    sweep = run_cli("report", "--reports", str(earlier_run), "--view", "sweep")
    assert sweep.code == 0 and "no model was measured at more than one thread count or power mode" in sweep.out
    every = run_cli("report", "--reports", str(earlier_run), "--view", "all")
    assert every.code == 0 and "Per-operator" not in every.out and "Sweep:" not in every.out


def test_report_plots_to_a_directory_that_cannot_be_made_is_one_error(tmp_path, earlier_run):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    for fmt in ("markdown", "html"):  # the per-case table's plots, and the full document's
        res = run_cli("report", "--reports", str(earlier_run), "--format", fmt, "--plot", str(blocker / "plots"))
        assert_one_line_error(res, 1)
        assert f"cannot write plots to {blocker / 'plots'}" in res.err
