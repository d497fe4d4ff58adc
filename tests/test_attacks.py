"""Hostile input to the documented commands, as a user or a script can give it: file names that are not UTF-8,
a bug that escapes every boundary, a suite that is not text, compare given one run twice or a damaged one, a full
disk under --junit, folders segbench may not read. Each is one `segbench: error:` line and the documented exit
code (README, "Exit codes"), and what was measured stays measured."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import FIXTURES, ROOT, CliResult, assert_one_line_error, run_cli

TINY = FIXTURES / "models" / "tiny_seg.onnx"
NOT_UTF8 = os.fsdecode(b"bad\xff\xfename.onnx")  # bytes that are no UTF-8, as a file name may hold


def run_bytes(*args: str) -> CliResult:
    """run_cli for output that may hold a file name's own bytes (not UTF-8): read back with backslash escapes."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "segbench", *args], env=env, capture_output=True, timeout=300)
    return CliResult(proc.returncode, *(s.decode("utf-8", "backslashreplace") for s in (proc.stdout, proc.stderr)))


def _run(models: Path, reports: Path, *extra: str):
    return run_bytes("run", "--models", str(models), "--warmup", "0", "--repeats", "2", "--reports", str(reports),
                   *extra)


@pytest.fixture
def one_run(tmp_path: Path) -> tuple[Path, str]:
    reports = tmp_path / "reports"
    r = _run(TINY, reports, "-q")
    assert r.code == 0, r.err
    (run_id,) = os.listdir(reports / "runs")
    return reports, run_id


def test_a_model_whose_name_is_not_utf8_fails_alone_and_every_report_is_written(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(TINY, models / "tiny_seg.onnx")
    shutil.copy(TINY, models / NOT_UTF8)
    reports = tmp_path / "reports"
    r = _run(models, reports)
    assert r.code == 3 and "Traceback" not in r.err, r.err
    assert "bad\\xff\\xfename.onnx: the file name is not UTF-8, which the runtimes cannot open (rename it)" in r.err
    records = [json.loads(x) for x in next((reports / "runs").iterdir()).joinpath("results.jsonl").read_text()
               .splitlines()]
    assert sorted(x["status"] for x in records) == ["failed", "ok"]  # the other model was measured
    for fmt in ("markdown", "csv", "json", "html", "latex"):
        out = tmp_path / f"report.{fmt}"
        done = run_bytes("report", "--reports", str(reports), "--format", fmt, "-o", str(out))
        assert done.code == 0 and "Traceback" not in done.err, (fmt, done.err)
        assert b"tiny" in out.read_bytes()


def test_an_error_segbench_did_not_foresee_is_one_line_and_the_traceback_on_request(one_run, monkeypatch,
                                                                                     capsys) -> None:
    from segbench import cli
    from segbench.report import tables

    reports, _ = one_run

    def broken(*args, **kwargs):
        raise ValueError("a bug\nover two lines")

    monkeypatch.setattr(tables, "summary_rows", broken)
    monkeypatch.delenv(cli.TRACEBACK_ENV, raising=False)
    with pytest.raises(SystemExit) as exited:
        cli.main(["report", "--reports", str(reports)])
    err = capsys.readouterr().err
    assert exited.value.code == 1 and "Traceback" not in err
    assert err.strip().splitlines() == [
        "segbench: error: unexpected ValueError: a bug over two lines (a bug in segbench: run again with "
        "SEGBENCH_TRACEBACK=1 for the traceback, and report it)"]
    monkeypatch.setenv(cli.TRACEBACK_ENV, "1")
    with pytest.raises(ValueError):
        cli.main(["report", "--reports", str(reports)])


def test_compare_refuses_a_run_with_itself_and_a_run_json_it_cannot_read(one_run, tmp_path: Path) -> None:
    reports, run_id = one_run
    assert_one_line_error(run_cli("compare", run_id, run_id, "--reports", str(reports)), 2)
    r = _run(TINY, reports, "-q")
    assert r.code == 0, r.err
    other = next(n for n in os.listdir(reports / "runs") if n != run_id)
    info = reports / "runs" / other / "run.json"
    info.write_text(info.read_text().replace('"segbench.run/1"', '"segbench.run/9"'))
    for pair in ((run_id, other), (other, run_id)):
        r = run_cli("compare", *pair, "--reports", str(reports))
        assert_one_line_error(r, 1)
        assert "segbench.run/9 file, newer than this segbench reads" in r.err
    info.write_text("{ torn")
    assert_one_line_error(run_cli("compare", run_id, other, "--reports", str(reports)), 1)


def test_a_full_disk_under_junit_leaves_no_empty_file(one_run, tiny_disk: Path) -> None:
    reports, run_id = one_run
    r = _run(TINY, reports, "-q")
    other = next(n for n in os.listdir(reports / "runs") if n != run_id)
    with contextlib.suppress(OSError):  # as much as the 64 KiB disk takes
        (tiny_disk / "filler").write_bytes(b"\0" * 65536)
    junit = tiny_disk / "junit.xml"
    r = run_cli("compare", run_id, other, "--reports", str(reports), "--junit", str(junit))
    assert_one_line_error(r, 1)
    assert f"cannot write {junit}: No space left on device" in r.err
    assert sorted(os.listdir(tiny_disk)) == ["filler"]  # no empty junit.xml, no temp file


def test_a_suite_that_is_not_utf8_text_is_a_usage_error(tmp_path: Path) -> None:
    suite = tmp_path / "suite.toml"
    suite.write_bytes(b"\xff\xfe[suite]\nthreads = [1]\n")  # a UTF-16 editor's BOM
    r = run_cli("run", "--suite", str(suite), "--reports", str(tmp_path / "r"))
    assert_one_line_error(r, 2)
    assert f"{suite} is not valid TOML: not UTF-8 text" in r.err
    assert not (tmp_path / "r").exists()


@pytest.fixture
def unprivileged():
    """(run, folder): the CLI as a user that file permissions hold (root reads anything: as root, it runs as nobody
    through setpriv), and a folder that user may write. Skipped where neither can be had."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: permissions cannot be tested")
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    folder = Path(tempfile.mkdtemp(prefix="segbench-perm-"))
    folder.chmod(0o777)  # pytest's tmp_path is root's own (0700): nobody could not even look in

    def run(*args: str) -> CliResult:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(folder), "MPLCONFIGDIR": str(folder / ".mpl"),
               "PYTHONDONTWRITEBYTECODE": "1"}
        proc = subprocess.run([*prefix, sys.executable, "-m", "segbench", *args], env=env, capture_output=True,
                              text=True, timeout=300, cwd=folder)
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    try:
        yield run, folder
    finally:
        for p in folder.rglob("*"):
            with contextlib.suppress(OSError):
                p.chmod(0o755)
        shutil.rmtree(folder, ignore_errors=True)


def test_files_and_folders_that_may_not_be_read(unprivileged) -> None:
    run, folder = unprivileged
    shutil.copy(TINY, folder / "secret.onnx")
    (folder / "secret.onnx").chmod(0)
    (folder / "closed").mkdir()
    shutil.copy(TINY, folder / "closed" / "m.onnx")
    (folder / "models" / "locked").mkdir(parents=True)
    shutil.copy(TINY, folder / "models" / "tiny_seg.onnx")
    shutil.copy(TINY, folder / "models" / "locked" / "hidden.onnx")
    for p in (folder / "closed", folder / "models" / "locked"):
        p.chmod(0)
    reports = str(folder / "reports")
    # Unreadable is exit 1 (README, Exit codes), for every command that reads a path it is given.
    for args in (["inspect", "secret.onnx"], ["inspect", "closed"], ["gen-input", str(ROOT / "tests/fixtures/images/"
                 "astronaut.png"), "--model", "secret.onnx"], ["eval", "--model", "secret.onnx", "--dataset", "closed",
                 "--format", "voc"]):
        r = run(*args)
        assert_one_line_error(r, 1)
        assert "permission denied" in r.err.lower(), (args, r.err)
    r = run("run", "--models", "closed", "--reports", reports)
    assert_one_line_error(r, 1)
    assert "closed: cannot read the folder: Permission denied" in r.err
    # A folder below --models that cannot be read is said, and the rest is measured.
    r = run("run", "--models", "models", "--warmup", "0", "--repeats", "2", "--reports", reports)
    assert r.code == 0 and "Traceback" not in r.err, r.err
    assert (f"segbench: warning: {folder / 'models' / 'locked'}: cannot read the folder: Permission denied; the models "
            "in it are left out") in r.err
    assert "| tiny_seg" in r.out
