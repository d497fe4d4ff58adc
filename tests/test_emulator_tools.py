"""Stand-in output parses, with the project's parsers, into the figures the stand-in measured."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import FIXTURES, ROOT, SELFIE
from segbench.runners import tools


def _run(tmp_path, tool: str, *args: str, faults: str = "") -> tuple[str, dict]:
    import json

    state = tmp_path / "state"
    (state / "busy").mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT), SEGBENCH_EMU_STATE=str(state), SEGBENCH_EMU_FAULT=faults)
    done = subprocess.run([sys.executable, "-m", "segbench.emulator.tools", tool, *args], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    runs = [json.loads(ln) for ln in (state / "tool_runs.jsonl").read_text().splitlines()]
    return done.stdout, runs[-1]


def test_ort_output_parses_into_measured_figures(tmp_path):
    out, measured = _run(tmp_path, "onnxruntime_perf_test", "-I", "-m", "times", "-r", "10", "-x", "1", "-s",
                         str(FIXTURES / "models" / "tiny_seg.onnx"))
    parsed = tools.parse_any(out)[0]
    assert parsed.count == 10
    assert parsed.latency_ms.avg == pytest.approx(sum(measured["latencies_ms"]) / 10, rel=1e-4)


def test_tflite_output_parses_into_measured_figures(tmp_path):
    out, measured = _run(tmp_path, "benchmark_model", f"--graph={SELFIE}", "--num_threads=1", "--num_runs=5",
                         "--min_secs=0", "--warmup_runs=2", "--warmup_min_secs=0")
    parsed = tools.parse_any(out)[0]
    assert parsed.count == 5
    assert parsed.latency_ms.avg == pytest.approx(sum(measured["latencies_ms"]) / 5, rel=1e-3)


@pytest.mark.parametrize("faults,ms", [("latency=2", 2.0), ("latency=2.0,slow=4.0", 8.0)])
def test_timing_faults_make_every_reported_run_the_figure_asked_for(tmp_path, faults, ms):
    """latency=MS / slow=FACTOR: reproducible figures whatever this machine's load (tests/test_nightly.py)."""
    ort, measured = _run(tmp_path, "onnxruntime_perf_test", "-I", "-m", "times", "-r", "7", "-x", "1", "-s",
                         str(FIXTURES / "models" / "tiny_seg.onnx"), faults=faults)
    assert measured["latencies_ms"] == pytest.approx([ms] * 7)
    parsed = tools.parse_any(ort)[0]
    assert parsed.latency_ms.avg == pytest.approx(ms) and parsed.latency_ms.max == pytest.approx(ms)
    tfl, _ = _run(tmp_path, "benchmark_model", f"--graph={SELFIE}", "--num_threads=1", "--num_runs=5",
                  "--min_secs=0", "--warmup_runs=2", "--warmup_min_secs=0", faults=faults)
    parsed = tools.parse_any(tfl)[0]
    assert (parsed.latency_ms.avg, parsed.latency_ms.std) == (pytest.approx(ms), 0)


def test_the_emulated_phones_clock_counts_work_not_waiting():
    """A stand-in's run time is the CPU time its process spent (common.phone_s): time spent waiting (here asleep,
    as a run waits for a CPU that the host's other work holds) is not the phone's. No real timing is asserted
    beyond 'a sleep costs far less CPU than its length'."""
    import time

    from segbench.emulator.tools.common import cores_for, phone_s

    assert phone_s(lambda: time.sleep(0.3), 1) < 0.15
    assert cores_for(-1) == 1 and cores_for(0) == 1 and cores_for(1) == 1
    assert 1 <= cores_for(64) <= 64
