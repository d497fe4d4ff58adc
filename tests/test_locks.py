"""Run and phone locks: two `segbench run --resume` of one run never both measure; lock files are never followed
through a planted link and live in a private directory; a phone is locked by what it is, not by its address."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import FIXTURES, ROOT, assert_one_line_error, case_label, run_cli
from segbench.emulator import EmulatedPhone
from segbench.emulator.phone import adb, free_port

MODELS = FIXTURES / "models"
ADB_PORTS = range(31337, 31400)
PHONE_PORTS = range(31400, 32000, 2)


def _interrupted_run(tmp_path: Path, repeats: int) -> tuple[Path, Path, set[str]]:
    """A real run of tiny_seg over 6 cases, cut back to its first record as if Ctrl-C had stopped it there; its
    settings ask for ``repeats`` timed runs per case, so that its resumption takes a while."""
    reports = tmp_path / "reports"
    r = run_cli("run", "--models", str(MODELS / "tiny_seg.onnx"), "--threads", "1,2", "--power-mode",
                "high,full,no_bind", "--warmup", "0", "--repeats", "1", "--reports", str(reports))
    assert r.code == 0, r.err
    (run,) = (reports / "runs").iterdir()
    lines = (run / "results.jsonl").read_text().splitlines()
    labels = {case_label(json.loads(line)) for line in lines}
    (run / "results.jsonl").write_text(lines[0] + "\n")
    info = json.loads((run / "run.json").read_text())
    info.update(status="interrupted", settings={**info["settings"], "repeats": repeats})
    (run / "run.json").write_text(json.dumps(info))
    return reports, run, labels


def _resume(reports: Path, run: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "segbench", "run", "--resume", run.name, "--reports", str(reports)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _labels(run: Path) -> Counter:
    return Counter(case_label(json.loads(line)) for line in (run / "results.jsonl").read_text().splitlines())


def test_a_second_resume_while_the_first_runs_is_refused(tmp_path):
    reports, run, labels = _interrupted_run(tmp_path, repeats=3000)
    first = _resume(reports, run)
    try:
        assert first.stderr is not None
        for line in first.stderr:  # the first resume holds the run and is measuring its first missing case
            if line.startswith("[1/5]"):
                break
        else:
            pytest.fail(f"the first resume ended early: {first.wait()}")
        first.send_signal(signal.SIGSTOP)  # frozen while it holds the run: the second one must not get in
        before = (run / "results.jsonl").read_bytes()
        second = run_cli("run", "--resume", run.name, "--reports", str(reports))
        assert_one_line_error(second, 1)
        assert f"segbench: error: run {run.name} is locked: segbench pid {first.pid} is running it" in second.err
        assert (run / "results.jsonl").read_bytes() == before
    finally:
        first.send_signal(signal.SIGCONT)
    _, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    assert _labels(run) == Counter(dict.fromkeys(labels, 1))  # every case once: none twice, none lost
    assert json.loads((run / "run.json").read_text())["status"] == "completed"


def test_two_resumes_started_at_once_measure_each_missing_case_once(tmp_path):
    reports, run, labels = _interrupted_run(tmp_path, repeats=200)
    procs = [_resume(reports, run), _resume(reports, run)]
    results = [(p, *p.communicate(timeout=600)) for p in procs]
    codes = sorted(p.returncode for p, _, _ in results)
    # Either one was refused while the other ran, or the second came after the first had finished everything.
    assert codes in ([0, 0], [0, 1]), [err for _, _, err in results]
    for p, _, err in results:
        if p.returncode == 1:
            # the holder's pid, or "another process" when it is read in the instant between the holder's flock and
            # its writing its pid into the file
            assert re.search(r"is locked: (segbench pid \d+|another process) is running it", err), err
            assert "Traceback" not in err, err
    assert _labels(run) == Counter(dict.fromkeys(labels, 1))


def test_a_symlink_planted_as_the_run_lock_is_not_followed(tmp_path):
    reports, run, _ = _interrupted_run(tmp_path, repeats=1)
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (run / "run.lock").unlink()  # left by the run that made it (lock files stay; the lock is the flock on them)
    (run / "run.lock").symlink_to(victim)
    before = (run / "results.jsonl").read_bytes()
    r = run_cli("run", "--resume", run.name, "--reports", str(reports))
    assert_one_line_error(r, 1)
    assert f"the lock file {run / 'run.lock'} is a symbolic link" in r.err
    assert victim.read_text() == "precious" and (run / "results.jsonl").read_bytes() == before
    (run / "run.lock").unlink()  # without the planted link the run resumes
    assert run_cli("run", "--resume", run.name, "--reports", str(reports)).code == 0


def test_the_lock_directory_must_be_private(tmp_path, monkeypatch):
    from segbench.locks import LockError, lock_dir

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "rt"))
    made = lock_dir()
    assert made == tmp_path / "rt" / "segbench" / "locks" and (made.stat().st_mode & 0o777) == 0o700
    made.chmod(0o777)
    with pytest.raises(LockError, match="has mode 0777; it must be a private directory"):
        lock_dir()
    made.rmdir()
    made.symlink_to(tmp_path)
    with pytest.raises(LockError, match="is a symbolic link"):
        lock_dir()


# --------------------------------------------------------------- the phone lock, on the emulated phone


@pytest.fixture
def phone(adb_port: int) -> Iterator[EmulatedPhone]:
    with EmulatedPhone(port=free_port(PHONE_PORTS), adb_port=adb_port) as p:
        yield p


def _run_on(serial: str, adb_port: int, assets: Path, reports: Path, **env: str):
    return run_cli("run", "--device", serial, "--models", str(MODELS / "tiny_seg.onnx"), "--warmup", "0",
                   "--repeats", "2", "--assets", str(assets), "--reports", str(reports),
                   env={"ANDROID_ADB_SERVER_PORT": str(adb_port), **env})


@pytest.mark.slow
def test_one_phone_reached_at_two_addresses_is_one_phone_to_lock(phone, adb_port, assets, tmp_path):
    from segbench.devices.adb import AdbDevice, client, device_lock

    other = f"localhost:{phone.port}"
    assert "connected to" in adb(adb_port, "connect", other).stdout
    adb_client = client(f"127.0.0.1:{adb_port}")
    with device_lock(AdbDevice(adb_client, phone.serial)):  # another run holds it as 127.0.0.1:P
        r = _run_on(other, adb_port, assets, tmp_path / "reports")
    assert_one_line_error(r, 1)
    assert f"device {other} is in use by segbench pid {os.getpid()} ({phone.serial})" in r.err
    assert phone.tool_runs() == []
    with EmulatedPhone(port=free_port(PHONE_PORTS), adb_port=adb_port) as second:  # another phone is not locked
        with device_lock(AdbDevice(adb_client, phone.serial)):
            assert _run_on(second.serial, adb_port, assets, tmp_path / "second").code == 0


@pytest.mark.slow
def test_a_symlink_planted_as_a_phones_lock_file_is_not_followed(phone, adb_port, assets, tmp_path, monkeypatch):
    from segbench.devices.adb import lock_path

    env = {"XDG_RUNTIME_DIR": str(tmp_path / "rt")}
    monkeypatch.setenv("XDG_RUNTIME_DIR", env["XDG_RUNTIME_DIR"])
    planted = lock_path(phone.profile.prop("ro.serialno"))  # where segbench locks this phone
    victim = tmp_path / "victim"
    victim.write_text("precious")
    planted.symlink_to(victim)
    r = _run_on(phone.serial, adb_port, assets, tmp_path / "reports", **env)
    assert_one_line_error(r, 1)
    assert f"the lock file {planted} is a symbolic link" in r.err
    assert victim.read_text() == "precious" and phone.tool_runs() == []
    planted.unlink()
    assert _run_on(phone.serial, adb_port, assets, tmp_path / "reports", **env).code == 0
