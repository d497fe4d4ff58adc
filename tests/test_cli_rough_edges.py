"""Issue 24's rough edges: click's usage errors as one line, exit codes as the README's table says, LiteRT's INFO
line kept out of `-q`, markdown backticks and text alignment in html/latex, whole thread ticks, and Ctrl-C that
works when the parent started segbench with SIGINT ignored (a shell's background job)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from report_runs import phone_run

from conftest import FIXTURES, ROOT, SELFIE, assert_one_line_error, published_manifest, run_cli

MODELS = FIXTURES / "models"


@pytest.mark.parametrize("args,words", [
    (["run", "--warmup", "-1"], "'--warmup': -1 is not in the range 0<=x<=1000000"),
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


def test_quiet_run_prints_no_runtime_info_line(tmp_path):
    res = run_cli("run", "--models", str(SELFIE), "--warmup", "0", "--repeats", "2", "--reports", str(tmp_path), "-q")
    assert res.code == 0, res.err
    assert "INFO:" not in res.err and "XNNPACK" not in res.err, res.err
    # -q keeps the table and nothing else here (no warnings or errors in this run): not even the run line
    assert res.err == "", res.err
    assert "| selfie_segmentation" in res.out


@pytest.fixture(scope="module")
def phone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reports = tmp_path_factory.mktemp("phone")
    phone_run(reports)
    return reports


def _report(reports: Path, fmt: str, *args: str) -> str:
    res = run_cli("report", "--reports", str(reports), "--manifest", str(published_manifest(reports / "tables")),
                  "--format", fmt, *args)
    assert res.code == 0, res.err
    return res.out


def test_html_shows_code_as_code_and_aligns_text_left_numbers_right(phone):
    html = _report(phone, "html")
    assert "`" not in html and "<code>phone-sweep</code>" in html  # the footer's "run `phone-sweep`"
    sweep = html.split('id="sweep"', 1)[1].split("</table>", 1)[0]
    assert "<th>Model</th><th>runtime</th><th>power mode</th><th class=\"num\">threads</th>" in sweep
    assert "<td>PP-MobileSeg-Tiny</td><td>paddlelite</td><td>high</td><td class=\"num\">1</td>" in sweep
    assert "text-align:left" in html and "td:first-child" not in html


def test_latex_shows_code_as_texttt_and_aligns_text_left(phone):
    latex = _report(phone, "latex")
    assert "`" not in latex and r"\texttt{phone-sweep}" in latex
    # sweep: Model, runtime, power mode | threads, median, CI, speed-up | CV (empty here: still numbers)
    assert r"\begin{tabular}{lllrrrrr}" in latex.split("% sweep", 1)[1]


def test_thread_scaling_ticks_are_whole_thread_counts(phone, tmp_path):
    _report(phone, "markdown", "--view", "sweep", "--plot", str(tmp_path))
    svg = (tmp_path / "thread_scaling.svg").read_text()
    ticks = re.findall(r'<g id="xtick_\d+">.*?<!-- (.*?) -->', svg, re.S)
    assert ticks == ["1", "2", "4"], ticks  # the phone run's 1, 2 and 4 threads; no 1.5 or 2.5


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


# The Ctrl-C tests themselves, started the way a background job or nohup starts them: with SIGINT ignored by
# inheritance. They must pass whatever the parent shell did (issue 24).
CTRL_C_TESTS = ["tests/test_run_host.py::test_sigint_keeps_finished_cases_and_resume_completes",
                "tests/test_cli_rough_edges.py::test_ctrl_c_stops_a_run_started_with_sigint_ignored"]


@pytest.mark.slow
def test_ctrl_c_tests_pass_when_the_suite_starts_with_sigint_ignored(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp", str(tmp_path / "t"),
         *CTRL_C_TESTS], cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True, text=True, timeout=600,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))  # as `cmd &` and nohup leave it
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert f"{len(CTRL_C_TESTS)} passed" in proc.stdout, proc.stdout[-2000:]
