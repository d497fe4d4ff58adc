"""Bounded work: special files named like models are never read, thread counts stay sane, huge inputs are refused
before anything is allocated."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from onnx_build import huge_input

from conftest import ASTRONAUT, FIXTURES, assert_one_line_error, run_cli
from segbench.emulator import EmulatedPhone
from segbench.emulator.phone import free_port

TINY = FIXTURES / "models" / "tiny_seg.onnx"
ADB_PORTS = range(32037, 32100)
PHONE_PORTS = range(32100, 33000, 2)


def _records(reports: Path) -> list[dict]:
    (run,) = (reports / "runs").iterdir()
    return [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]


def test_a_fifo_and_a_link_to_dev_zero_in_the_models_dir_are_skipped_with_a_warning(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(TINY, models / "tiny.onnx")
    os.mkfifo(models / "pipe.onnx")  # no writer: opening it for reading would wait forever
    (models / "zero.tflite").symlink_to("/dev/zero")  # reading it would never end
    reports = tmp_path / "reports"
    r = run_cli("run", "--models", str(models), "--warmup", "0", "--repeats", "2", "--reports", str(reports),
                timeout=300)
    assert r.code == 0, r.err
    assert f"segbench: warning: {models / 'pipe.onnx'}: a FIFO, not a model file; skipped" in r.err
    assert f"segbench: warning: {models / 'zero.tflite'}: a character device, not a model file; skipped" in r.err
    assert [(x["model"]["name"], x["status"]) for x in _records(reports)] == [("tiny", "ok")]
    alone = run_cli("run", "--models", str(models / "pipe.onnx"), "--reports", str(reports), timeout=300)
    assert_one_line_error(alone, 2)
    assert f"{models / 'pipe.onnx'} is a FIFO, not a model file or directory" in alone.err
    inspected = run_cli("inspect", str(models), timeout=300)  # the model is inspected, the others are said
    assert inspected.code == 1 and "tiny.onnx" in inspected.out and "Traceback" not in inspected.err
    assert f"segbench: error: {models / 'pipe.onnx'}: a FIFO, not a model file" in inspected.err


def test_thread_counts_beyond_four_per_cpu_are_a_usage_error(tmp_path):
    cpus = len(os.sched_getaffinity(0))
    reports = tmp_path / "reports"
    r = run_cli("run", "--models", str(TINY), "--threads", f"1,{4 * cpus + 1}", "--reports", str(reports))
    assert_one_line_error(r, 2)
    assert f"--threads {4 * cpus + 1}: more than 4 x the {cpus} CPUs of this machine (at most {4 * cpus} there)" in r.err
    assert not reports.exists()  # refused before a run was made
    huge = run_cli("run", "--models", str(TINY), "--threads", "99999999999999999999", "--reports", str(reports))
    assert_one_line_error(huge, 2)
    assert "--threads: 99999999999999999999 is not a sane thread count (at most 1024)" in huge.err
    ok = run_cli("run", "--models", str(TINY), "--threads", str(4 * cpus), "--warmup", "0", "--repeats", "1",
                 "--reports", str(reports))
    assert ok.code == 0, ok.err


@pytest.mark.slow
def test_thread_counts_are_bounded_by_the_phones_cpus(adb_port, assets, tmp_path):
    with EmulatedPhone(port=free_port(PHONE_PORTS), adb_port=adb_port) as phone:  # a MI 9: 8 CPUs
        r = run_cli("run", "--device", phone.serial, "--models", str(TINY), "--threads", "33", "--assets",
                    str(assets), "--reports", str(tmp_path / "reports"), env={"ANDROID_ADB_SERVER_PORT": str(adb_port)})
        assert phone.tool_runs() == []
    assert_one_line_error(r, 2)
    assert f"--threads 33: more than 4 x the 8 CPUs of {phone.serial} (at most 32 there)" in r.err


@pytest.mark.parametrize("image", [False, True], ids=["random", "image"])
def test_a_model_declaring_a_huge_input_is_refused_before_allocating(tmp_path, image):
    models = tmp_path / "models"
    models.mkdir()
    huge_input(models / "huge.onnx")
    shutil.copy(TINY, models / "tiny.onnx")
    reports = tmp_path / "reports"
    extra = ("--input", str(ASTRONAUT)) if image else ()
    r = run_cli("run", "--models", str(models), "--warmup", "0", "--repeats", "1", "--reports", str(reports), *extra)
    assert r.code == 3, r.err
    recs = {x["model"]["name"]: x for x in _records(reports)}
    assert recs["tiny"]["status"] == "ok"
    assert recs["huge"]["status"] == "failed"
    assert recs["huge"]["error"] == (
        "input 'x' declares [1, 3, 100000, 100000] float32: 120.0 GB, more than segbench allocates for an input "
        "(1 GiB) (export the model with the input size to benchmark)")
