"""A newcomer's path (issue 24): the emulated phone with its own stand-in tools, runs that resume from their
run.json alone, and a demo dataset and model for eval. The real CLI, the real adb server, an emulated MI 9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXTURES, ROOT, assert_one_line_error, run_cli, tool_pids
from segbench.emulator.phone import free_port

pytestmark = pytest.mark.slow

MODELS = FIXTURES / "models"  # selfie_segmentation.tflite (benchmark_model), tiny_seg.onnx (onnxruntime_perf_test)
ADB_PORTS = range(35037, 35100)
PHONE_PORTS = range(35100, 35400, 2)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "ANDROID_ADB_SERVER_PORT"}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return {**env, **extra}


def _start_emulator(cwd: Path, adb_port: int, *args: str) -> tuple[subprocess.Popen, str]:
    """`segbench emulator` as a user starts it, in the foreground of another terminal; returns it and its serial."""
    port = free_port(PHONE_PORTS)
    proc = subprocess.Popen([sys.executable, "-m", "segbench", "emulator", "--port", str(port), "--adb-port",
                             str(adb_port), *args], cwd=cwd, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    serial = proc.stdout.readline().strip()
    if serial != f"127.0.0.1:{port}":
        proc.kill()
        pytest.fail(f"emulator did not start: {serial!r} {proc.communicate()[1]}")
    return proc, serial


def _stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.communicate(timeout=60)[1]
    finally:
        if proc.poll() is None:
            proc.kill()


def _records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]


# ------------------------------------------------------------------ 1. the emulator brings its own stand-in tools

def test_emulator_assets_make_the_readme_run_device_example_work_without_vendor_tools(adb_port, tmp_path):
    # A fresh clone's device_assets/: the manifest and its README, no binaries (they are never committed).
    clone = tmp_path / "clone"
    (clone / "device_assets").mkdir(parents=True)
    (clone / "device_assets" / "manifest.toml").write_bytes((ROOT / "device_assets" / "manifest.toml").read_bytes())
    env = {"ANDROID_ADB_SERVER_PORT": str(adb_port)}

    plain, serial = _start_emulator(clone, adb_port)
    try:
        missing = run_cli("run", "--device", serial, "--models", str(MODELS), "--reports", str(tmp_path / "r0"),
                          cwd=clone, env=env)
    finally:
        _stop(plain)
    assert_one_line_error(missing, 1)
    assert "is missing" in missing.err and "segbench emulator --assets device_assets" in missing.err, missing.err

    proc, serial = _start_emulator(clone, adb_port, "--assets", "device_assets")
    try:
        run = run_cli("run", "--device", serial, "--models", str(MODELS), "--threads", "1,2", "--warmup", "1",
                      "--repeats", "3", "--reports", "reports", cwd=clone, env=env, timeout=600)
    finally:
        told = _stop(proc)
    assert "device_assets: wrote 5 stand-in file(s) for the emulated phone" in told, told  # manifest kept
    assert run.code == 0, run.err
    (run_dir,) = (clone / "reports" / "runs").iterdir()
    recs = _records(run_dir)
    assert sorted((x["tool"], x["threads"]) for x in recs) == [
        ("benchmark_model", 1), ("benchmark_model", 2), ("onnxruntime_perf_test", 1), ("onnxruntime_perf_test", 2)]
    assert all(x["status"] == "ok" and x["emulated"] for x in recs), recs


def test_stub_assets_takes_strings_keeps_what_is_there_and_ships_the_manifest(tmp_path):
    from segbench.assets import find_tool
    from segbench.emulator import stub_assets
    from segbench.emulator.assets import SHIPPED_MANIFEST
    from segbench.errors import SegbenchError

    # The package's copy is the repository's manifest, byte for byte (an installed segbench has no clone).
    assert SHIPPED_MANIFEST.read_bytes() == (ROOT / "device_assets" / "manifest.toml").read_bytes()
    root = tmp_path / "assets"
    (root / "arm64-v8a").mkdir(parents=True)
    (root / "arm64-v8a" / "benchmark_model").write_bytes(b"a user's real tool")
    assert stub_assets(str(root)) == root  # a str, no manifest: the shipped one
    assert (root / "manifest.toml").read_bytes() == SHIPPED_MANIFEST.read_bytes()
    assert (root / "arm64-v8a" / "benchmark_model").read_bytes() == b"a user's real tool"
    assert (root / "arm64-v8a" / "onnxruntime_perf_test").is_file()
    assert b"BenchmarkLiteRtModel" in (root / "arm64-v8a" / "litert" / "benchmark_model").read_bytes()
    stub_assets(str(root), str(ROOT / "device_assets" / "manifest.toml"))  # again, over itself: fine
    # A stub is refused for a real phone, with what it is; the emulated phone takes it.
    assert find_tool(root, "arm64-v8a", "onnxruntime", emulated=True).binary.name == "onnxruntime_perf_test"
    with pytest.raises(SegbenchError, match="stand-in for the emulated phone"):
        find_tool(root, "arm64-v8a", "onnxruntime", emulated=False)


def test_emulator_assets_that_is_a_file_is_one_usage_line(tmp_path):
    (tmp_path / "f").write_text("x")
    result = run_cli("emulator", "--port", str(free_port(PHONE_PORTS)), "--assets", str(tmp_path / "f"))
    assert_one_line_error(result, 2)
    assert "--assets" in result.err


# ------------------------------------------------------------------ 2. a run keeps every setting its resume needs

def test_interrupted_device_run_resumes_in_a_new_shell_from_its_run_json(adb_port, tmp_path):
    import time

    from segbench.emulator import EmulatedPhone, stub_assets

    first_shell = tmp_path / "first"
    stub_assets(str(first_shell / "assets"))
    reports = tmp_path / "reports"
    with EmulatedPhone(port=free_port(PHONE_PORTS), adb_port=adb_port, faults="hang=benchmark_model") as phone:
        # The first shell: a relative --assets, LiteRT 2.x's tool (--tool litert), the adb server by environment.
        proc = subprocess.Popen(
            [sys.executable, "-m", "segbench", "run", "--device", phone.serial, "--assets", "assets", "--tool",
             "litert", "--reports", str(reports), "--models", str(MODELS), "--warmup", "1", "--repeats", "3"],
            cwd=first_shell, env=_env(ANDROID_ADB_SERVER_PORT=str(adb_port)), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        try:  # selfie (tflite, first) hangs in its tool: interrupt once the tool really runs
            deadline = time.monotonic() + 300
            while not tool_pids(phone, "benchmark_model") and time.monotonic() < deadline:
                assert proc.poll() is None, proc.communicate()[1]
                time.sleep(0.05)
            assert tool_pids(phone, "benchmark_model"), "the tool never started"
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 130, err
        resume_line = next(ln for ln in err.splitlines() if "finish with: " in ln)
        command = resume_line.split("finish with: ", 1)[1].split()
        assert command[:3] == ["segbench", "run", "--resume"] and "--assets" not in command, command
        phone.set_faults("")
        # A new shell: another directory, no ANDROID_ADB_SERVER_PORT, nothing but the printed command.
        elsewhere = tmp_path / "new_shell"
        elsewhere.mkdir()
        resumed = subprocess.run([sys.executable, "-m", "segbench", *command[1:]], cwd=elsewhere, env=_env(),
                                 capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    (run_dir,) = (reports / "runs").iterdir()
    settings = json.loads((run_dir / "run.json").read_text())["settings"]
    assert settings["assets"] == str((first_shell / "assets").resolve()) and settings["tools"] == ["litert"]
    assert settings["adb_servers"] == [f"127.0.0.1:{adb_port}"]
    recs = {x["runtime"]: x for x in _records(run_dir)}
    assert set(recs) == {"tflite", "onnxruntime"} and all(x["status"] == "ok" for x in recs.values()), recs
    # the resumed tflite case ran LiteRT 2.x's tool, as the run asked, from the first shell's assets
    assert recs["tflite"]["extra"].get("tool_detected") == "LiteRT 2.x", recs["tflite"]["extra"]


# ------------------------------------------------------------------ 3. a demo dataset and model to try eval on

def _readme_eval_session() -> list[str]:
    """The README's `segbench eval` console block, as lines."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### `segbench eval`", 1)[1]
    return section.split("```console\n", 1)[1].split("```", 1)[0].splitlines()


def test_readme_eval_example_runs_as_written_on_the_demo(tmp_path):
    import shlex

    session = _readme_eval_session()
    commands = [ln[2:].split("  #")[0] for ln in session if ln.startswith("$ segbench eval")]
    assert len(commands) == 2 and "--demo" in commands[0], commands
    made = run_cli(*shlex.split(commands[0])[1:], cwd=tmp_path)
    assert made.code == 0, made.err
    # it prints the command that evaluates what it wrote: the README's next one
    assert made.out.strip() == commands[1] and made.out.strip() in session
    assert (tmp_path / "demo" / "onehot_voc.onnx").is_file()
    evaluated = run_cli(*shlex.split(commands[1])[1:], cwd=tmp_path)
    assert evaluated.code == 0, evaluated.err
    shown = [ln for ln in session if ln.startswith(("mIoU ", "| 0 ", "| 1 ", "| 2 "))]
    assert len(shown) == 4 and all(ln in evaluated.out.splitlines() for ln in shown), evaluated.out
    # the demo model has a fixed input, so `segbench run` times it as it is
    timed = run_cli("run", "--models", "demo/onehot_voc.onnx", "--warmup", "1", "--repeats", "3", "-q", cwd=tmp_path)
    assert timed.code == 0, timed.err


def test_demo_is_what_the_tests_build_on():
    import seg_synth
    from segbench.accuracy import demo

    assert seg_synth.build_model is demo.build_model and seg_synth.write_dataset is demo.write_dataset
    assert seg_synth.MIOU == demo.MIOU


@pytest.mark.parametrize("args, code, words", [
    (["eval", "--demo", "d", "--model", "m.onnx"], 2, "it takes no --model"),
    (["eval", "--dataset", "d", "--format", "voc"], 2, "missing --model FILE"),
    (["eval", "--model", "m.onnx", "--dataset", "d"], 2, "missing --format"),
    (["eval", "--demo", "afile"], 2, "--demo"),
])
def test_eval_demo_bad_input_is_one_usage_line(tmp_path, args, code, words):
    (tmp_path / "afile").write_text("x")
    result = run_cli(*args, cwd=tmp_path)
    assert_one_line_error(result, code)
    assert words in result.err, result.err
