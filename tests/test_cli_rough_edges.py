"""Issue 24's rough edges: click's usage errors as one line, exit codes as the README's table says, and Ctrl-C that
works when the parent started segbench with SIGINT ignored (a shell's background job)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import FIXTURES, ROOT, assert_one_line_error, run_cli

MODELS = FIXTURES / "models"


@pytest.mark.parametrize("args,words", [
    (["run", "--warmup", "-1"], "'--warmup': -1 is not in the range x>=0"),
    (["run", "--nope"], "No such option '--nope'"),
    (["report", "--format", "pdf"], "'--format': 'pdf' is not one of"),
    (["compare", "--threshold"], "Option '--threshold' requires an argument"),
    (["inspect"], "Missing argument"),
    (["explode"], "No such command 'explode'"),
    (["baseline", "save"], "Missing argument 'RUN'"),
])
def test_every_commands_bad_arguments_are_one_error_line(args, words, tmp_path):
    res = run_cli(*args, "--reports", str(tmp_path)) if args[0] in ("run", "report") else run_cli(*args)
    assert_one_line_error(res, 2)
    lines = [ln for ln in res.err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("segbench: error: "), res.err
    assert words in lines[0] and "Usage:" not in res.err and "Try '" not in res.err


def test_a_bare_group_still_shows_its_help():
    res = run_cli("zoo")
    assert res.code == 2 and "Usage: segbench zoo" in res.err + res.out and "segbench: error" not in res.err


def test_a_missing_models_path_is_an_error_not_usage(tmp_path):
    res = run_cli("run", "--models", str(tmp_path / "nowhere"), "--reports", str(tmp_path))
    assert_one_line_error(res, 1)  # README, "Exit codes": 1 for a missing file; 2 is for a bad option
    assert "nowhere: no such file or directory" in res.err


def test_an_emulator_port_in_use_is_an_error_not_usage():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        res = run_cli("emulator", "--port", str(port), "--adb-port", "1")
    assert_one_line_error(res, 1)
    assert f"cannot listen on 127.0.0.1:{port}" in res.err and "pick another --port" in res.err


def test_ctrl_c_stops_a_run_started_with_sigint_ignored(tmp_path):
    """A shell's background job (`cmd &`) inherits SIGINT ignored; segbench must still stop on it, save, exit 130."""
    reports = tmp_path / "reports"
    proc = subprocess.Popen(
        [sys.executable, "-m", "segbench", "run", "--models", str(MODELS / "tiny_seg.onnx"), "--threads", "1,2",
         "--warmup", "0", "--repeats", "200000", "--reports", str(reports)],
        env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        deadline = time.monotonic() + 120
        while not list(reports.glob("runs/*/run.json")) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # into the first case's timed repeats
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "--resume" in err
