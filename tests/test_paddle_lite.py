"""Paddle Lite end to end: `segbench run` on this machine and on the emulated MI 9 (benchmark_bin).

paddlelite has wheels for Python 3.10 only, so these tests run in a Python 3.10 environment with the
paddle extra (README, "Run the tests"; .ci/run runs them when a python3.10 is found) and skip elsewhere.
The model is the real PaddleClas MobileNetV2 program (tests/fixtures/paddle) with seeded weights.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from paddle_build import real_mobilenet_v2

from conftest import ROOT, run_cli
from segbench.emulator import EmulatedPhone
from segbench.emulator.phone import free_port

pytest.importorskip("paddlelite", reason="paddlelite (Python 3.10, the paddle extra) is not installed")

pytestmark = [pytest.mark.slow, pytest.mark.paddle]

ADB_PORTS = range(30037, 30100)
PHONE_PORTS = range(30100, 31000)


def _records(reports: Path) -> list[dict]:
    out = []
    for run in sorted((reports / "runs").iterdir()):
        out += [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    return out


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """mnv2.pdmodel + .pdiparams, and the .nb Paddle Lite's opt makes of it with its input_size in the manifest."""
    root = tmp_path_factory.mktemp("paddle")
    program = real_mobilenet_v2(root, "mnv2", scale=0.1)
    from paddlelite import lite

    opt = lite.Opt()
    opt.set_model_file(str(program))
    opt.set_param_file(str(program.with_suffix(".pdiparams")))
    opt.set_valid_places("x86")
    opt.set_model_type("naive_buffer")
    opt.set_optimize_out(str(root / "mnv2_x86"))
    opt.run()
    assert (root / "mnv2_x86.nb").is_file()
    (root / "manifest.toml").write_text('[[model]]\nfile = "mnv2_x86.nb"\nname = "MobileNetV2 nb"\n'
                                        'input_size = [224, 224]\n')
    return root


def test_host_thread_sweep_on_a_program_and_a_nb(models: Path, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    r = run_cli("run", "--models", str(models), "--threads", "1,2", "--warmup", "1", "--repeats", "3",
                "--reports", str(reports))
    assert r.code == 0, r.err
    recs = _records(reports)
    assert sorted((x["model"]["name"], x["threads"]) for x in recs) == [
        ("MobileNetV2 nb", 1), ("MobileNetV2 nb", 2), ("mnv2", 1), ("mnv2", 2)]
    for x in recs:
        assert x["status"] == "ok", x["error"]
        # a program runs with Paddle Inference where paddlepaddle is installed (Paddle Lite's x86 build lacks
        # ops mobile models use), a .nb with Paddle Lite
        program = x["model"]["format"] == "paddle" and importlib.util.find_spec("paddle") is not None
        assert x["runtime"] == "paddlelite" and x["tool_version"]
        assert x["tool"] == ("paddle-inference-python" if program else "paddlelite-python")
        assert x["count"] == 3 and len(x["samples_ms"]) == 3 and x["latency_ms"]["min"] > 0 and x["init_ms"] > 0
        log = (reports / "runs" / x["run_id"] / x["log_path"]).read_text()
        assert "inputs: x float32 [1, 3, 224, 224]" in log or "inputs: inputs float32 [1, 3, 224, 224]" in log


def test_new_weights_beside_an_unchanged_program_are_converted_again(tmp_path: Path) -> None:
    import numpy as np

    from segbench.runners.host_paddlelite import PaddleLiteSession

    def outputs() -> np.ndarray:
        session = PaddleLiteSession(str(program), 1)
        try:
            session.set_inputs([np.ones((1, 3, 224, 224), np.float32)])
            session.run_once()
            return session.outputs()[0]
        finally:
            session.close()

    program = real_mobilenet_v2(tmp_path, "mnv2", scale=0.1)
    stamp = program.stat()
    before = outputs()
    real_mobilenet_v2(tmp_path, "mnv2", scale=0.2)  # other weights ...
    os.utime(program, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # ... beside a program that looks untouched
    assert not np.allclose(before, outputs())


def test_eval_of_a_paddle_program_gives_the_hand_checked_miou(tmp_path: Path) -> None:
    # The eval tests' one-hot prediction written as a Paddle program: the same mIoU as the ONNX model's.
    from seg_synth import LABEL, MIOU, NUM_CLASSES, PRED, build_paddle, write_dataset

    data = write_dataset(tmp_path / "data", "voc", [(LABEL, PRED), (LABEL.T, PRED.T)])
    model = build_paddle(tmp_path / "onehot.pdmodel", NUM_CLASSES["voc"])
    r = run_cli("eval", "--model", str(model), "--dataset", str(data), "--format", "voc", "--preset", "raw",
                "--reports", str(tmp_path / "reports"), "--json", "-q")
    assert r.code == 0, r.err
    d = json.loads(r.out)
    assert d["miou"] == pytest.approx(MIOU, abs=1e-12) and d["images"] == 2
    assert d["runtime"] == "paddlelite"


def test_host_corrupt_models_fail_their_case_and_the_run_goes_on(models: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    shutil.copy(models / "mnv2_x86.nb", bad / "good.nb")
    (bad / "garbage.nb").write_bytes(b"not a model" * 100)
    (bad / "truncated.nb").write_bytes((models / "mnv2_x86.nb").read_bytes()[:100_000])
    shutil.copy(models / "mnv2_x86.nb", bad / "unsized.nb")
    (bad / "manifest.toml").write_text("".join(f'[[model]]\nfile = "{n}.nb"\ninput_size = [224, 224]\n\n'
                                               for n in ("good", "garbage", "truncated")))
    reports = tmp_path / "reports"
    r = run_cli("run", "--models", str(bad), "--warmup", "0", "--repeats", "2", "--reports", str(reports))
    assert "Traceback" not in r.err
    recs = {x["model"]["name"]: x for x in _records(reports)}
    assert recs["good"]["status"] == "ok" and recs["good"]["count"] == 2
    # Paddle Lite aborts on these (glog CHECK); the worker dies, not the run, and its fatal line is the error.
    assert recs["garbage"]["status"] == "failed" and "Paddle Lite stopped (signal 6)" in recs["garbage"]["error"]
    assert "cannot be recognized" in recs["garbage"]["error"]
    assert "Failed to read" in recs["truncated"]["error"]
    assert "does not record its input shape" in recs["unsized"]["error"]
    assert "input_size" in recs["unsized"]["error"]


def test_ctrl_c_interrupts_the_case_and_leaves_no_worker(models: Path, tmp_path: Path) -> None:
    """Ctrl-C reaches the terminal's whole process group, the worker included: the case in flight is
    interrupted (not recorded as failed), finished cases stay, and no worker is left behind."""
    reports = tmp_path / "reports"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "segbench", "run", "--models", str(models / "mnv2.pdmodel"), "--threads", "1,2",
         "--warmup", "0", "--repeats", "1000", "--reports", str(reports)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while not (workers := _workers(proc.pid)) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert workers, "no Paddle Lite worker found"
    time.sleep(1)  # into the timed runs
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err and "--resume" in err, err
    saved = [json.loads(line) for f in reports.glob("runs/*/results.jsonl") for line in f.read_text().splitlines()]
    assert all(x["status"] == "ok" for x in saved)  # the case in flight is not stored as failed
    time.sleep(0.5)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)


def _workers(parent: int) -> list[int]:
    """Child processes of ``parent`` that run the Paddle Lite worker module."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            cmd = stat.read_bytes().split(b"\0")
            ppid = int((stat.parent / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and b"segbench.runners.host_paddlelite" in cmd:
            found.append(int(stat.parent.name))
    return found


def _benchmark_bin(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The emulated benchmark_bin run directly, as the emulated phone's shell runs it."""
    state = tmp_path / "state"
    (state / "busy").mkdir(parents=True, exist_ok=True)
    (state / "props").write_text("[ro.product.vendor.brand]: [Xiaomi]\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT), SEGBENCH_EMU_STATE=str(state))
    return subprocess.run([sys.executable, "-m", "segbench.emulator.tools", "benchmark_bin", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_emulated_benchmark_bin_reads_its_input_file_as_the_real_one(models: Path, tmp_path: Path) -> None:
    nb = f"--optimized_model_file={models / 'mnv2_x86.nb'}"
    flags = ("--input_shape=1,3,224,224", "--backend=arm", "--warmup=0", "--repeats=1")
    short = tmp_path / "short.txt"
    short.write_text("0.5 0.25 x 7\n")  # few numbers, then one that is not: no error
    ran = _benchmark_bin(tmp_path, nb, *flags, f"--input_data_path={short}")
    assert ran.returncode == 0 and "======= Perf Info =======" in ran.stdout, ran.stderr
    gone = _benchmark_bin(tmp_path, nb, *flags, f"--input_data_path={tmp_path / 'nope.txt'}")
    assert gone.returncode == 0 and f"Open input image {tmp_path / 'nope.txt'} error." in gone.stderr


@pytest.fixture
def phone(adb_port: int) -> Iterator[EmulatedPhone]:
    with EmulatedPhone(port=free_port(PHONE_PORTS), adb_port=adb_port) as p:
        yield p


def test_benchmark_bin_on_the_emulated_mi9(phone: EmulatedPhone, adb_port: int, assets: Path, models: Path,
                                           tmp_path: Path) -> None:
    """PP-MobileSeg's protocol on a phone: benchmark_bin, threads 1 and 4, power mode high (--power_mode 0)."""
    reports = tmp_path / "reports"
    r = run_cli("run", "--device", phone.serial, "--assets", str(assets), "--reports", str(reports),
                "--models", str(models), "--threads", "1,4", "--warmup", "2", "--repeats", "4",
                env={"ANDROID_ADB_SERVER_PORT": str(adb_port)}, timeout=600)
    assert r.code == 0, r.err
    recs = _records(reports)
    assert len(recs) == 4
    for x in recs:
        assert x["status"] == "ok", x["error"]
        assert x["tool"] == "benchmark_bin" and x["runtime"] == "paddlelite"
        assert x["extra"]["bound_by"] == "benchmark_bin --power_mode" and "--power_mode=0" in x["extra"]["command"]
        assert "--input_shape=1,3,224,224" in x["extra"]["command"]
        assert x["extra"]["input"] == {"kind": "random", "seed": 0, "shapes": ["[1,3,224,224]"]}
        assert x["count"] == 4 and 0 < x["latency_ms"]["min"] <= x["latency_ms"]["avg"] <= x["latency_ms"]["max"]
        log = (reports / "runs" / x["run_id"] / x["log_path"]).read_text()
        assert "======= Perf Info =======" in log and "Brand: Xiaomi" in log
    program = next(x for x in recs if x["model"]["name"] == "mnv2")["extra"]["command"]
    assert "--model_file=" in program and "--param_file=" in program and "--optimized_model_file=" in program
    # The converted program is saved where --optimized_model_file says, on the phone, as the real tool does.
    optimized = next(a for a in program.split() if a.startswith("--optimized_model_file=")).split("=", 1)[1]
    assert phone.state.host(optimized).stat().st_size > 0


def test_pp_mobileseg_protocol_suite_on_a_nb(phone: EmulatedPhone, adb_port: int, assets: Path, models: Path,
                                             tmp_path: Path) -> None:
    """bench/pp_mobileseg_sd855.toml as PaddleSeg ran its speed test: a .nb, benchmark_bin, 1 thread on the big
    cores, 20 warmup runs and 50 timed ones."""
    nb_only = tmp_path / "models"
    nb_only.mkdir()
    shutil.copy(models / "mnv2_x86.nb", nb_only)
    shutil.copy(models / "manifest.toml", nb_only)
    reports = tmp_path / "reports"
    r = run_cli("run", "--suite", str(ROOT / "bench" / "pp_mobileseg_sd855.toml"), "--models", str(nb_only),
                "--device", phone.serial, "--assets", str(assets), "--reports", str(reports),
                env={"ANDROID_ADB_SERVER_PORT": str(adb_port)}, timeout=600)
    assert r.code == 0, r.err
    (x,) = _records(reports)
    assert (x["status"], x["tool"], x["threads"], x["power_mode"]) == ("ok", "benchmark_bin", 1, "high")
    assert (x["warmup"], x["repeats"], x["count"]) == (20, 50, 50)
    assert "--warmup=20" in x["extra"]["command"] and "--repeats=50" in x["extra"]["command"]
    assert x["latency_ms"]["avg"] > 0 and x["latency_ms"]["median"] is None  # benchmark_bin: min/max/avg
    assert "    avg " in r.err  # the progress line shows the avg it has


def test_benchmark_bin_abort_on_a_corrupt_nb_fails_that_case(phone: EmulatedPhone, adb_port: int, assets: Path,
                                                             models: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    shutil.copy(models / "mnv2_x86.nb", bad / "good.nb")
    (bad / "garbage.nb").write_bytes(b"not a model" * 100)
    (bad / "manifest.toml").write_text('[[model]]\nfile = "good.nb"\ninput_size = [224, 224]\n\n'
                                       '[[model]]\nfile = "garbage.nb"\ninput_size = [224, 224]\n')
    reports = tmp_path / "reports"
    r = run_cli("run", "--device", phone.serial, "--assets", str(assets), "--reports", str(reports),
                "--models", str(bad), "--warmup", "0", "--repeats", "2",
                env={"ANDROID_ADB_SERVER_PORT": str(adb_port)}, timeout=600)
    assert "Traceback" not in r.err
    recs = {x["model"]["name"]: x for x in _records(reports)}
    assert recs["good"]["status"] == "ok"
    assert recs["garbage"]["status"] == "failed" and "exit status 134" in recs["garbage"]["error"], recs["garbage"]
