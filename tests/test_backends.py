"""The backend dimension (`run --backend`): case identity, the sweep, each tool's mapping, what the logs say about a
delegate, and the report's flag for a fallback. The phone end to end is in tests/test_run_device.py."""

from __future__ import annotations

import pytest

from conftest import FIXTURES
from segbench.errors import UsageError
from segbench.model import Case, Latency, Measurement, ModelRef
from segbench.report.tables import summary
from segbench.runners import benchmark_bin, benchmark_model, onnxruntime_perf_test, tools
from segbench.sweep import SweepSettings, parse_backends, plan

LOGS = FIXTURES / "logs" / "tflite"
REF = ModelRef("m", "/h/m.tflite", "tflite", sha256="ab" * 32)


def test_a_cpu_case_keeps_its_old_id_and_an_accelerator_case_gets_its_own():
    cpu = Case(REF, "tflite", 4, "high", 1, 2)
    # The id segbench gave this case before backends existed (computed with the code of 302485b).
    assert cpu.case_id == "m__tflite__t4__high__4fd4ebf9658a927f"
    gpu = Case(REF, "tflite", 4, "high", 1, 2, backend="gpu")
    assert gpu.case_id.startswith("m__tflite__t4__high__gpu__") and gpu.case_id != cpu.case_id
    old = Measurement("r", cpu.case_id, REF, "tflite", "ok", threads=4, power_mode="high")  # no backend field
    assert cpu.is_recorded_by(old) and not gpu.is_recorded_by(old)


def test_the_sweep_runs_every_case_once_per_backend_and_names_are_checked():
    settings = SweepSettings(models="x", threads=(1,), power_modes=("high",), backends=("cpu", "gpu", "nnapi"))
    cases = plan([REF], settings)
    assert [c.backend for c in cases] == ["cpu", "gpu", "nnapi"] and len({c.case_id for c in cases}) == 3
    assert SweepSettings.from_dict(settings.to_dict()).backends == ("cpu", "gpu", "nnapi")
    assert SweepSettings.from_dict({"models": "x"}).backends == ("cpu",)  # a run.json from before backends
    assert parse_backends("gpu, cpu,gpu") == ["gpu", "cpu"]
    with pytest.raises(UsageError, match="unknown backend 'opencl'"):
        parse_backends("cpu,opencl")


@pytest.mark.parametrize("module, variant, backend, expected", [
    (benchmark_model, None, "cpu", (None, ())),
    (benchmark_model, None, "gpu", ("gpu", (("gpu_precision_loss_allowed", "false"),))),
    (benchmark_model, None, "gpu-fp16", ("gpu", (("gpu_precision_loss_allowed", "true"),))),
    (benchmark_model, None, "nnapi-fp16", ("nnapi", (("nnapi_allow_fp16", "true"),))),
    (benchmark_model, "litert", "gpu-fp16", ("gpu", (("gpu-precision", "fp16"),))),
    (benchmark_model, "litert", "npu", ("npu", ())),
    (onnxruntime_perf_test, None, "nnapi-fp16", ("nnapi", (("NNAPI_FLAG_USE_FP16", ""),))),
    (onnxruntime_perf_test, None, "xnnpack", ("xnnpack", ())),
    (benchmark_bin, None, "gpu", ("opencl,arm", (("gpu_precision", "fp32"),))),
    (benchmark_bin, None, "cpu", (None, ())),
])
def test_each_tool_maps_a_backend_to_its_own_flags(module, variant, backend, expected):
    assert tools.tool_backend(module, backend, variant) == expected


@pytest.mark.parametrize("module, variant, backend, why", [
    (benchmark_model, None, "npu", "only through NNAPI"),
    (benchmark_model, "litert", "nnapi", "has no NNAPI"),
    (onnxruntime_perf_test, None, "gpu", "no GPU execution provider"),
    (benchmark_bin, None, "nnapi", "v2.12 has no NNAPI"),
    (benchmark_bin, None, "xnnpack", "no XNNPACK"),
])
def test_a_backend_a_tool_lacks_says_why(module, variant, backend, why):
    with pytest.raises(tools.NoBackend, match=why):
        tools.tool_backend(module, backend, variant)


def test_the_tflite_log_tells_an_applied_delegate_from_one_that_ran_nothing():
    run = benchmark_model.parse_log((LOGS / "dhruv_android_adb_gpu_plus_nnapi_2delegates.log").read_text())[-1]
    gpu = benchmark_model.backend_evidence(run, "gpu")
    assert gpu == {"backend_applied": True, "backend_nodes": {"delegated": 49, "total": 49, "partitions": 1}}
    nnapi = benchmark_model.backend_evidence(run, "nnapi")
    assert nnapi["backend_applied"] is False and "ran no node" in nnapi["backend_fallback"]


def test_a_partial_delegation_and_a_silent_log_are_flagged():
    text = ("INFO: STARTING!\nINFO: Use gpu: [1]\n"
            "VERBOSE: Replacing 12 out of 49 node(s) with delegate (TfLiteGpuDelegateV2) node, yielding 3 partitions "
            "for subgraph 0.\nINFO: Explicitly applied GPU delegate, and the model graph will be partially executed "
            "by the delegate w/ 3 delegate kernels.\n"
            "INFO: Inference timings in us: Init: 1, First inference: 2, Warmup (avg): 2, Inference (avg): 2\n")
    run = benchmark_model.parse_log(text)[-1]
    found = benchmark_model.backend_evidence(run, "gpu")
    assert found["backend_applied"] is True and "12 of 49 nodes, 3 partitions" in found["backend_fallback"]
    silent = benchmark_model.parse_log(text.replace("Explicitly applied GPU delegate, and the model graph will be "
                                                    "partially executed by the delegate w/ 3 delegate kernels.", ""))[-1]
    assert benchmark_model.backend_evidence(silent, "gpu")["backend_applied"] is None


def test_the_ort_verbose_log_tells_where_the_nodes_ran():
    text = ("2026-01-01 10:00:00.1 [V:onnxruntime:, session_state.cc:1150 VerifyEachNodeIsAssignedToAnEp]  All nodes "
            "placed on [CPUExecutionProvider]. Number of nodes: 7\nSession creation time cost: 0.1 s\n"
            "First inference time cost: 1 ms\nAverage inference time cost total: 0.5 ms\n")
    run = onnxruntime_perf_test.parse_log(text)[-1]
    found = onnxruntime_perf_test.backend_evidence(run, "nnapi")
    assert found["backend_applied"] is False and found["backend_nodes"] == {"delegated": 0, "total": 7}


def _record(backend, applied, fallback=None, nodes=None):
    extra = {k: v for k, v in (("backend_applied", applied), ("backend_fallback", fallback),
                               ("backend_nodes", nodes)) if v is not None or k == "backend_applied"}
    return Measurement("r", f"c{backend}", REF, "tflite", "ok", threads=1, power_mode="high", backend=backend,
                       device_id="p", latency_ms=Latency(avg=2.0, median=2.0), count=5, extra=extra)


def test_the_report_never_shows_a_fallback_as_the_accelerator():
    rows = summary([_record("cpu", None), _record("gpu", True),
                    _record("nnapi", False, "the NNAPI delegate ran no node: CPU figures"),
                    _record("xnnpack", True, "the XNNPACK delegate ran part", {"delegated": 3, "total": 9})])
    cells = dict(zip(rows["backend"].str.split(" ").str[0], zip(rows["backend"], rows["status"], rows["notes"])))
    assert cells["cpu"][:2] == ("cpu", "ok") and cells["gpu"][:2] == ("gpu", "ok")
    assert cells["nnapi"][:2] == ("nnapi (CPU fallback)", "fallback") and "ran no node" in cells["nnapi"][2]
    assert cells["xnnpack"][0] == "xnnpack (partial 3/9)"


def test_bad_backend_is_one_usage_error_and_the_host_skips_accelerators(tmp_path):
    import json

    from conftest import assert_one_line_error, run_cli

    models = FIXTURES / "models" / "tiny_seg.onnx"
    bad = run_cli("run", "--models", str(models), "--backend", "cpu,tpu", "--reports", str(tmp_path))
    assert_one_line_error(bad, 2)
    assert "unknown backend 'tpu'" in bad.err
    suite = tmp_path / "s.toml"
    suite.write_text(f'models = "{models}"\nbackends = 3\nrepeats = 2\nwarmup = 0\n')
    wrong = run_cli("run", "--suite", str(suite), "--reports", str(tmp_path))
    assert_one_line_error(wrong, 2)
    assert "backends must be a list of one of cpu, xnnpack, gpu" in wrong.err
    suite.write_text(f'models = "{models}"\nbackends = ["cpu", "gpu"]\nrepeats = 2\nwarmup = 0\n')
    r = run_cli("run", "--suite", str(suite), "--reports", str(tmp_path / "r"))
    assert r.code == 0, r.err
    [run] = (tmp_path / "r" / "runs").iterdir()
    recs = {x["backend"]: x for x in map(json.loads, (run / "results.jsonl").read_text().splitlines())}
    assert recs["cpu"]["status"] == "ok"
    assert recs["gpu"]["status"] == "skipped" and "accelerators need --device" in recs["gpu"]["error"]


def test_the_emulated_tools_run_delegates_and_act_out_faults(tmp_path):
    import os
    import subprocess
    import sys

    from conftest import ROOT, SELFIE
    from segbench.emulator.faults import parse_faults

    assert parse_faults("fallback=gpu,delegate-fail=any").env_value() == "fallback=gpu,delegate-fail=any"
    with pytest.raises(UsageError, match="unknown delegate"):
        parse_faults("fallback=tpu")
    state = tmp_path / "state"
    (state / "busy").mkdir(parents=True)
    (state / "accelerators").write_text("gpu Adreno (TM) 640\nnnapi\n")

    def run(faults, *args):
        env = dict(os.environ, PYTHONPATH=str(ROOT), SEGBENCH_EMU_STATE=str(state), SEGBENCH_EMU_FAULT=faults)
        done = subprocess.run([sys.executable, "-m", "segbench.emulator.tools", "benchmark_model", f"--graph={SELFIE}",
                               "--num_runs=2", "--min_secs=0", "--warmup_runs=1", "--warmup_min_secs=0", *args],
                              env=env, capture_output=True, text=True, timeout=120)
        return done.returncode, tools.parse_case_log(benchmark_model, done.stdout + done.stderr)

    rc, ok = run("", "--use_gpu=true")
    assert rc == 0 and benchmark_model.backend_evidence(ok, "gpu-fp16")["backend_applied"] is True
    rc, fell = run("fallback=gpu", "--use_gpu=true")
    assert rc == 0 and benchmark_model.backend_evidence(fell, "gpu")["backend_applied"] is False
    rc, failed = run("delegate-fail=nnapi", "--use_nnapi=true")
    assert rc == 1 and failed.status == "failed" and "Failed to apply NNAPI delegate" in failed.error
    (state / "accelerators").write_text("")  # a phone without them: the delegate cannot be applied
    rc, none = run("", "--use_gpu=true")
    assert rc == 1 and "Failed to apply GPU delegate" in none.error
