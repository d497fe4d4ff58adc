"""The emulated phone through the real adb server (bundled with adbutils) on a non-default port."""

from __future__ import annotations

import hashlib
import math
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import FIXTURES, SELFIE
from segbench.emulator import EmulatedPhone, parse_faults
from segbench.emulator.phone import ADB_PORTS, adb, free_port
from segbench.emulator.profile import SD855_MI9, advance, approach, capped_khz
from segbench.errors import UsageError


@pytest.fixture(scope="module")
def adb_port():
    port = free_port(ADB_PORTS)
    subprocess.run([_adb(), "-P", str(port), "start-server"], capture_output=True, timeout=30, check=False)
    yield port
    subprocess.run([_adb(), "-P", str(port), "kill-server"], capture_output=True, timeout=30, check=False)


def _adb() -> str:
    from adbutils import adb_path

    return adb_path()


@pytest.fixture(scope="module")
def phone(adb_port):
    with EmulatedPhone(adb_port=adb_port) as p:
        yield p


def sh(phone, command: str) -> subprocess.CompletedProcess[str]:
    return adb(phone.adb_port, "-s", phone.serial, "shell", command)


def test_getprop_exit_codes_and_mapped_paths(phone):
    assert sh(phone, "getprop ro.product.model").stdout == "MI 9\n"
    assert sh(phone, "exit 3").returncode == 3
    done = sh(phone, 'for f in /sys/devices/system/cpu/cpu[0-9]*/cpufreq/cpuinfo_max_freq; do echo "$f $(cat "$f")"; done')
    assert done.stdout.splitlines()[7] == "/sys/devices/system/cpu/cpu7/cpufreq/cpuinfo_max_freq 2841600"
    assert str(phone.root) not in done.stdout


def test_push_pull_20mb_round_trip_cli_and_adbutils(phone, tmp_path):
    import adbutils

    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(20 * 1024 * 1024))
    assert adb(phone.adb_port, "-s", phone.serial, "push", str(src), "/data/local/tmp/big.bin").returncode == 0
    back = tmp_path / "back.bin"
    assert adb(phone.adb_port, "-s", phone.serial, "pull", "/data/local/tmp/big.bin", str(back)).returncode == 0
    assert back.read_bytes() == src.read_bytes()
    d = adbutils.AdbClient(port=phone.adb_port).device(phone.serial)
    d.sync.push(str(src), "/data/local/tmp/big2.bin")
    d.sync.pull("/data/local/tmp/big2.bin", str(tmp_path / "back2.bin"))
    assert hashlib.sha256((tmp_path / "back2.bin").read_bytes()).hexdigest() == hashlib.sha256(src.read_bytes()).hexdigest()
    assert d.shell("echo hello") == "hello"


def test_adbdevice_info_and_segbench_devices(phone, cli):
    import adbutils

    from segbench.devices.adb import AdbDevice

    info = AdbDevice(adbutils.AdbClient(port=phone.adb_port), phone.serial).info()
    assert (info.brand, info.model, info.device, info.soc, info.api_level) == ("Xiaomi", "MI 9", "cepheus", "msmnile", 28)
    assert info.cpu_max_khz == {0: 1785600, 1: 1785600, 2: 1785600, 3: 1785600, 4: 2419200, 5: 2419200,
                                6: 2419200, 7: 2841600}
    assert info.cpu_model == "Qualcomm Technologies, Inc SM8150"
    assert info.extra["battery"]["level"] == 87
    result = cli("devices", "--adb-server", f"127.0.0.1:{phone.adb_port}")
    assert result.code == 0, result.err
    assert "4x1.79 GHz + 3x2.42 GHz + 1x2.84 GHz" in result.out


def test_adbdevice_push_skips_same_bytes(phone):
    import adbutils

    from segbench.devices.adb import AdbDevice

    dev = AdbDevice(adbutils.AdbClient(port=phone.adb_port), phone.serial)
    assert dev.push(str(SELFIE), "/data/local/tmp/segbench/selfie.tflite") is True
    assert dev.push(str(SELFIE), "/data/local/tmp/segbench/selfie.tflite") is False


def test_two_phones_at_once(adb_port, phone):
    with EmulatedPhone(adb_port=adb_port) as other:
        assert sh(other, "getprop ro.product.device").stdout == "cepheus\n"
        assert sh(phone, "echo first").stdout == "first\n"


def test_taskset_records_mask_and_ort_stand_in_runs(phone, tmp_path):
    model = FIXTURES / "models" / "tiny_seg.onnx"
    adb(phone.adb_port, "-s", phone.serial, "push", str(model), "/data/local/tmp/ort/tiny_seg.onnx")
    tool = tmp_path / "onnxruntime_perf_test"
    tool.write_bytes(b"\x7fELF" + b"\0" * 60)
    tool.chmod(0o755)
    adb(phone.adb_port, "-s", phone.serial, "push", str(tool), "/data/local/tmp/ort/onnxruntime_perf_test")
    before = phone.state.temperatures()["cpu-1-3-usr"]
    done = sh(phone, "taskset f0 /data/local/tmp/ort/onnxruntime_perf_test -I -m times -r 20 -x 2 -s "
                     "/data/local/tmp/ort/tiny_seg.onnx")
    assert done.returncode == 0, done.stderr
    last = phone.tool_runs()[-1]
    assert last["cpumask"] == "f0" and last["threads"] == 2 and len(last["latencies_ms"]) == 20
    assert "Setting intra_op_num_threads to 2" in done.stdout
    avg = float(re.search(r"Average inference time cost total: ([\d.]+) ms", done.stdout).group(1))
    assert avg == pytest.approx(sum(last["latencies_ms"]) / 20, rel=1e-5)
    assert re.search(r"^Runs:20$", done.stdout, re.M)
    phone.state.refresh()
    assert phone.state.temperatures()["cpu-1-3-usr"] > before  # the benchmark heated the prime core
    assert sh(phone, "taskset 100 true").returncode == 1  # no CPU 8 on this phone


def test_other_binaries_fail_like_a_foreign_elf(phone):
    sh(phone, "printf '\\177ELF\\002\\001\\001' > /data/local/tmp/other && chmod 755 /data/local/tmp/other")
    assert sh(phone, "/data/local/tmp/other").returncode == 126


def test_thermal_model_hand_checked():
    # 30 s busy heading for 88 °C from 36 °C with tau 30 s: 88 - 52/e.
    zones = SD855_MI9.zones
    temps = advance([z.idle_c for z in zones], zones, 0.0, 30.0, [(0.0, 30.0)])
    assert temps[7] == pytest.approx(88 - 52 / math.e)
    assert approach(80.0, 36.0, 60.0, 60.0) == pytest.approx(36 + 44 / math.e)
    prime = SD855_MI9.clusters[2]
    assert capped_khz(prime, 60.0) == 2841600
    assert capped_khz(prime, 85.0) == 1497600  # 2841600 * 0.55 = 1562880 -> next step down


def test_fault_spec_grammar():
    f = parse_faults("drop-after=3,crash=benchmark_bin,disk-full,throttle=90")
    assert (f.drop_after, f.crash, f.disk_full, f.throttle_c) == (3, "benchmark_bin", 0, 90.0)
    assert f.tool_fault("benchmark_bin") == "crash" and f.tool_fault("benchmark_model") is None
    with pytest.raises(UsageError):
        parse_faults("explode")
    timing = parse_faults("latency=2,slow=4,crash=any")
    assert (timing.latency_ms, timing.slow) == (2.0, 4.0) and timing.env_value() == "crash=any,latency=2.0,slow=4.0"
    for bad in ("latency=0", "latency=fast", "slow=-1", "slow=nan", "latency"):
        with pytest.raises(UsageError):
            parse_faults(bad)


def test_disk_full_crash_and_drop(adb_port, tmp_path):
    with EmulatedPhone(adb_port=adb_port, faults="disk-full=1000,crash=any") as p:
        small = tmp_path / "small.bin"
        small.write_bytes(b"x" * 5000)
        done = adb(adb_port, "-s", p.serial, "push", str(small), "/data/local/tmp/small.bin")
        assert "No space left on device" in done.stdout + done.stderr and done.returncode != 0
        tool = tmp_path / "benchmark_model"
        shutil.copy(SELFIE, tmp_path / "m.tflite")
        tool.write_bytes(b"\x7fELF")
        tool.chmod(0o755)
        p.set_faults("crash=any")
        adb(adb_port, "-s", p.serial, "push", str(tool), "/data/local/tmp/benchmark_model")
        adb(adb_port, "-s", p.serial, "push", str(tmp_path / "m.tflite"), "/data/local/tmp/m.tflite")
        crashed = sh(p, "/data/local/tmp/benchmark_model --graph=/data/local/tmp/m.tflite")
        assert crashed.returncode == 139 and "Segmentation fault" in crashed.stderr
        p.set_faults("drop-during=sleep")
        dropped = sh(p, "sleep 5; echo never")
        assert dropped.returncode == 255 and "never" not in dropped.stdout


def test_tflite_stand_in_prints_litert_format(tmp_path):
    import json
    import sys

    from conftest import ROOT

    state = tmp_path / "state"
    (state / "busy").mkdir(parents=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT), SEGBENCH_EMU_STATE=str(state))
    done = subprocess.run([sys.executable, "-m", "segbench.emulator.tools", "benchmark_model", f"--graph={SELFIE}",
                           "--num_threads=2", "--num_runs=5", "--min_secs=0", "--warmup_runs=1",
                           "--warmup_min_secs=0"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    run = json.loads((state / "tool_runs.jsonl").read_text().splitlines()[-1])
    m = re.search(r"^INFO: count=5 first=(\d+) curr=\d+ min=(\d+) max=(\d+) avg=([\d.e+]+)", done.stdout, re.M)
    assert m, done.stdout
    us = [round(x * 1000) for x in run["latencies_ms"]]
    assert (int(m.group(1)), int(m.group(2)), int(m.group(3))) == (us[0], min(us), max(us))
    assert float(m.group(4)) == pytest.approx(sum(us) / 5, rel=1e-5)
    assert "INFO: Num threads: [2]" in done.stdout


def test_cli_bad_fault_is_one_usage_line(cli):
    from conftest import assert_one_line_error

    result = cli("emulator", "--port", str(free_port(range(16500, 16600))), "--fault", "explode")
    assert_one_line_error(result, 2)
    assert "explode" in result.err


def test_cli_runs_until_sigterm(tmp_path):
    import signal
    import sys
    import time

    from conftest import ROOT

    port, adb_port = free_port(range(16600, 16700)), free_port(range(15080, 15100))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "segbench", "emulator", "--port", str(port), "--adb-port",
                             str(adb_port), "--root", str(tmp_path / "root")], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == f"127.0.0.1:{port}"
        assert adb(adb_port, "-s", f"127.0.0.1:{port}", "shell", "getprop ro.product.model").stdout == "MI 9\n"
        assert (tmp_path / "root" / "proc" / "cpuinfo").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        subprocess.run([_adb(), "-P", str(adb_port), "kill-server"], capture_output=True, check=False)
    assert code == 0
    time.sleep(0.2)


def test_throttle_caps_cpufreq_seen_by_adbdevice(adb_port):
    import adbutils

    from segbench.devices.adb import AdbDevice

    with EmulatedPhone(adb_port=adb_port, faults="throttle=85") as p:
        khz = AdbDevice(adbutils.AdbClient(port=adb_port), p.serial).cur_khz()
        # 85 °C: 55 % of max, rounded down to an available step (profile tables).
        assert (khz["cpu0"], khz["cpu4"], khz["cpu7"]) == (940800, 1286400, 1497600)


def test_unauthorized_and_offline_states(adb_port, cli):
    with EmulatedPhone(adb_port=adb_port, faults="unauthorized") as p:
        p.wait_state("unauthorized", 10)
        result = cli("devices", "--adb-server", f"127.0.0.1:{adb_port}")
        assert f"{p.serial}  unauthorized: unlock the phone" in result.out
    with EmulatedPhone(adb_port=adb_port, faults="offline") as p:
        p.wait_state("offline", 10)
        assert sh(p, "true").returncode != 0


def test_ort_reads_test_data_set_and_writes_profile(phone, tmp_path):
    import numpy as np
    from onnx import numpy_helper

    base = "/data/local/tmp/ortset"
    d = tmp_path / "test_data_set_0"
    d.mkdir()
    x = np.full((1, 3, 128, 128), 0.5, np.float32)
    (d / "input_0.pb").write_bytes(numpy_helper.from_array(x, "input").SerializeToString())
    tool = tmp_path / "onnxruntime_perf_test"
    tool.write_bytes(b"\x7fELF")
    tool.chmod(0o755)
    sh(phone, f"mkdir -p {base}/test_data_set_0")
    for local, remote in ((FIXTURES / "models" / "tiny_seg.onnx", "tiny_seg.onnx"), (tool, tool.name),
                          (d / "input_0.pb", "test_data_set_0/input_0.pb")):
        assert adb(phone.adb_port, "-s", phone.serial, "push", str(local), f"{base}/{remote}").returncode == 0
    done = sh(phone, f"cd {base} && ./onnxruntime_perf_test -m times -r 3 -p {base}/prof tiny_seg.onnx")
    assert done.returncode == 0, done.stderr
    assert "Total inference requests: 3" in done.stdout
    assert sh(phone, f"ls {base}").stdout.count("prof_") == 1  # ORT's own profiling JSON
    missing = sh(phone, f"cd {base} && rm -r test_data_set_0 && ./onnxruntime_perf_test -r 3 tiny_seg.onnx")
    assert missing.returncode == 255 and "there is no test data for model tiny_seg" in missing.stderr


def _stand_in(tmp_path, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    import sys

    from conftest import ROOT

    state = tmp_path / "state"
    (state / "busy").mkdir(parents=True, exist_ok=True)
    (state / "props").write_text("[ro.product.vendor.model]: [MI 9]\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT), SEGBENCH_EMU_STATE=str(state))
    return subprocess.run([sys.executable, "-m", "segbench.emulator.tools", tool, *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_paddle_stand_in_fails_like_the_real_tool(tmp_path):
    usage = _stand_in(tmp_path, "benchmark_bin", "--input_shape=1,3,8,8")
    assert usage.returncode == 0 and "No model path is set!" in usage.stderr  # the real tool exits 0 here
    gone = _stand_in(tmp_path, "benchmark_bin", "--optimized_model_file=/nope.nb", "--input_shape=1,3,8,8",
                     "--backend=arm")
    assert gone.returncode == -6 and "Mode file[/nope.nb] not exist!" in gone.stderr  # SIGABRT -> 134 via adb
    try:
        import paddlelite  # noqa: F401
    except ImportError:
        nb = tmp_path / "m.nb"
        nb.write_bytes(b"\0" * 16)
        cannot = _stand_in(tmp_path, "benchmark_bin", f"--optimized_model_file={nb}", "--input_shape=1,3,8,8",
                           "--backend=arm")
        assert cannot.returncode == -6 and "Check failed" in cannot.stderr


def test_tflite_input_file_of_wrong_size_aborts(tmp_path):
    bad = tmp_path / "in.raw"
    bad.write_bytes(b"\0" * 10)
    # --input_layer needs its --input_layer_shape (one per name), or the tool stops before reading files
    done = _stand_in(tmp_path, "benchmark_model", f"--graph={SELFIE}", "--input_layer=input_1",
                     "--input_layer_shape=1,256,256,3", f"--input_layer_value_files=input_1:{bad}")
    assert done.returncode == -6
    assert re.search(r"FATAL: The size of .*in.raw is 10 bytes. It should be \d+ bytes.", done.stderr)


def test_hanging_tool_times_out_and_is_killed(adb_port, tmp_path):
    import adbutils

    from segbench.devices.adb import AdbDevice

    with EmulatedPhone(adb_port=adb_port, faults="hang=benchmark_model") as p:
        tool = tmp_path / "benchmark_model"
        tool.write_bytes(b"\x7fELF")
        tool.chmod(0o755)
        dev = AdbDevice(adbutils.AdbClient(port=adb_port), p.serial)
        dev.push(str(tool), "/data/local/tmp/benchmark_model")
        dev.push(str(SELFIE), "/data/local/tmp/m.tflite")
        done = dev.shell("/data/local/tmp/benchmark_model --graph=/data/local/tmp/m.tflite", timeout=3)
        assert done.timed_out and b"INFO: Initialized session" in done.stdout
        # Killed with its stream: the phone does that once it sees the stream close, so the test waits for it (a
        # bounded wait; on a loaded machine the kill can land a moment after the client gave up). Only this phone's
        # stand-ins count: other tests' phones may be busy.
        deadline = time.monotonic() + 30
        while True:
            mine = subprocess.run(["pgrep", "-f", f"segbench.emulator.tools benchmark_model --graph={p.root}/"],
                                  capture_output=True, timeout=10)
            if mine.returncode == 1 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert mine.returncode == 1, mine.stdout


def test_tools_are_routed_only_in_command_position():
    from segbench.emulator.shell import _TOOL_WORD

    def route(c: str) -> str:
        return _TOOL_WORD.sub(lambda m: f"{m.group(1)}TOOL[{m.group(3)}] {m.group(2)}", c)

    assert route("sha256sum /data/local/tmp/benchmark_model") == "sha256sum /data/local/tmp/benchmark_model"
    assert route("taskset f0 /d/benchmark_model --graph=a") == "taskset f0 TOOL[benchmark_model] /d/benchmark_model --graph=a"
    assert route("cd /d && ./onnxruntime_perf_test -r 3") == "cd /d && TOOL[onnxruntime_perf_test] ./onnxruntime_perf_test -r 3"
    assert route("LD_LIBRARY_PATH=/x /d/benchmark_bin") == "LD_LIBRARY_PATH=/x TOOL[benchmark_bin] /d/benchmark_bin"


def test_drop_after_n_commands_looks_unplugged(adb_port):
    with EmulatedPhone(adb_port=adb_port, faults="drop-after=2") as p:
        assert sh(p, "echo 1").stdout == "1\n"
        assert sh(p, "echo 2").stdout == "2\n"
        assert sh(p, "echo 3").returncode != 0
        p.wait_state("offline", 10)
        p.set_faults(None)
        p.replug()
        p.wait_state("device", 10)  # the adb server retries every 3 s, as with a re-plugged cable
        assert sh(p, "echo back").stdout == "back\n"
