"""A line of results.jsonl that is no record, before its last line, may be a lost result: every reader says so once
per run (file and line numbers) and still uses the good records; the half line a crash leaves at the end stays
silent. The columnar cache remembers the damage, so a second report says it again."""

from __future__ import annotations

import shutil
from pathlib import Path

from report_runs import phone_run

from conftest import run_cli
from segbench.store import Store

TORN = b'{"schema": "segbench.measurement/1", "ca'


def _damage(reports: Path, run_id: str = "phone-sweep", tail: bytes = TORN) -> Path:
    """Cut line 3 short and put a line of garbage after line 5; end the file with a crash's half line."""
    path = reports / "runs" / run_id / "results.jsonl"
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 13  # 12 whole records
    lines[2] = lines[2][:100]
    lines.insert(5, b"\x00\x00 not json")
    path.write_bytes(b"\n".join(lines) + tail)
    return path


def _warnings(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.startswith("segbench: warning:")]


def test_a_damaged_middle_line_is_said_once_and_the_good_records_are_kept(tmp_path):
    phone_run(tmp_path)
    path = _damage(tmp_path)
    said: list[str] = []
    run = Store(tmp_path).run("phone-sweep")
    got = run.measurements(warn=said.append)
    assert len(got) == 11  # 12 records, one of them cut short
    assert said == [f"{path} lines 3, 6: not a whole record (the file is damaged, or a write was cut off), skipped: "
                    "a result may be missing; the other records are used"]
    said.clear()
    assert len(run.columns(warn=said.append)) == 11 and len(said) == 1 and "lines 3, 6" in said[0]
    said.clear()
    assert len(run.columns(warn=said.append)) == 11 and len(said) == 1 and "lines 3, 6" in said[0]  # from the cache


def test_a_torn_last_line_alone_is_silent(tmp_path):
    phone_run(tmp_path)
    path = tmp_path / "runs" / "phone-sweep" / "results.jsonl"
    with open(path, "ab") as f:
        f.write(TORN)
    said: list[str] = []
    run = Store(tmp_path).run("phone-sweep")
    assert len(run.measurements(warn=said.append)) == 12 and len(run.columns(warn=said.append)) == 12
    assert said == []


def test_a_finished_line_of_garbage_at_the_end_is_damage(tmp_path):
    phone_run(tmp_path)
    path = tmp_path / "runs" / "phone-sweep" / "results.jsonl"
    with open(path, "ab") as f:
        f.write(b"garbage\n")  # a whole line (its newline written): no crash's half line
    said: list[str] = []
    assert len(Store(tmp_path).run("phone-sweep").measurements(warn=said.append)) == 12
    assert len(said) == 1 and "line 13:" in said[0]


def test_report_compare_and_baseline_say_it_once_per_run_every_time(tmp_path):
    reports = tmp_path / "reports"
    phone_run(reports)
    path = _damage(reports)
    shutil.copytree(reports / "runs" / "phone-sweep", reports / "runs" / "phone-sweep-2")
    line = f"segbench: warning: {path} lines 3, 6: not a whole record"
    for args in (["report", "--run", "phone-sweep"],  # the small markdown path (no cache)
                 ["report", "--run", "phone-sweep", "--format", "csv"],  # builds the cache
                 ["report", "--run", "phone-sweep", "--format", "csv"],  # reads the cache: said again
                 ["baseline", "save", "phone-sweep"],
                 ["compare", "--baseline", "phone-sweep"]):
        r = run_cli(*args, "--reports", str(reports))
        assert r.code == 0, (args, r.err)
        assert [w for w in _warnings(r.err) if w.startswith(line)] == _warnings(r.err) and len(_warnings(r.err)) == 1, (
            args, r.err)
        assert "Traceback" not in r.err
    r = run_cli("report", "--run", "phone-sweep", "--format", "csv", "--reports", str(reports))
    assert len(r.out.strip().splitlines()) == 12  # a header and the 11 good records' rows
    r = run_cli("compare", "phone-sweep", "phone-sweep-2", "--reports", str(reports))
    assert r.code == 0, r.err
    other = str(path).replace("phone-sweep/", "phone-sweep-2/")
    assert [w.split(" lines ")[0] for w in _warnings(r.err)] == [f"segbench: warning: {path}",
                                                                 f"segbench: warning: {other}"]


def test_run_resume_says_it_once(tmp_path):
    # `run --resume` read the damaged file without a word (its table silently lacked the lost record).
    reports = tmp_path / "reports"
    tiny = Path(__file__).parent / "fixtures" / "models" / "tiny_seg.onnx"
    r = run_cli("run", "--models", str(tiny), "--threads", "1,2", "--warmup", "0", "--repeats", "2",
                "--reports", str(reports))
    assert r.code == 0, r.err
    (run,) = (reports / "runs").iterdir()
    path = run / "results.jsonl"
    lines = path.read_bytes().split(b"\n")
    assert len(lines) == 3 and lines[-1] == b""  # two whole records
    path.write_bytes(b"\n".join([lines[0][:100], *lines[1:]]))
    r = run_cli("run", "--resume", run.name, "--reports", str(reports))
    assert r.code == 0, r.err
    assert _warnings(r.err) == [f"segbench: warning: {path} line 1: not a whole record (the file is damaged, or a "
                                "write was cut off), skipped: a result may be missing; the other records are used"]
    assert "Traceback" not in r.err
    assert len(path.read_bytes().split(b"\n")) == 4  # the lost case ran again
