"""Case ids that cannot collide, records of older runs still recognised by --resume, logs never overwritten."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import FIXTURES, case_label, run_cli
from segbench.model import Case, ModelRef
from segbench.store import Store

TINY = FIXTURES / "models" / "tiny_seg.onnx"


def _case(name: str, sha: str = "ab" * 32, companions: tuple[str, ...] = (), threads: int = 1) -> Case:
    return Case(ModelRef(name, f"/m/{name}.onnx", "onnx", sha, (), companions), "onnxruntime", threads, "high", 0, 1)


def test_ids_differ_where_the_sanitised_names_agree_and_stay_stable():
    assert _case("a b").legacy_case_id == _case("a_b").legacy_case_id  # the old ids collided
    assert _case("a b").case_id != _case("a_b").case_id
    assert _case("a b").case_id == _case("a b").case_id  # stable: --resume pairs on it
    assert _case("a b").case_id.startswith("a_b__onnxruntime__t1__high__")
    # Another file under the same name, or the same program with other weights (Paddle), is another case.
    assert _case("m").case_id != _case("m", sha="cd" * 32).case_id
    assert _case("m", companions=("11" * 32,)).case_id != _case("m", companions=("22" * 32,)).case_id
    assert len(_case("x" * 400).case_id + ".log") < 200  # a long name still makes a valid file name


def _models(tmp_path: Path, *names: str) -> Path:
    models = tmp_path / "models"
    models.mkdir()
    for name in names:
        shutil.copy(TINY, models / f"{name}.onnx")
    return models


def _run_dir(reports: Path) -> Path:
    (run,) = (reports / "runs").iterdir()
    return run


def _lines(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]


def test_models_whose_names_sanitise_alike_are_both_measured_with_logs_of_their_own(tmp_path):
    reports = tmp_path / "reports"
    r = run_cli("run", "--models", str(_models(tmp_path, "a b", "a_b")), "--warmup", "0", "--repeats", "2",
                "--reports", str(reports))
    assert r.code == 0, r.err
    run = _run_dir(reports)
    recs = _lines(run)
    assert sorted(x["model"]["name"] for x in recs) == ["a b", "a_b"] and all(x["status"] == "ok" for x in recs)
    assert len({x["case_id"] for x in recs}) == 2 and {case_label(x) for x in recs} == {"a_b__onnxruntime__t1__high"}
    logs = {x["model"]["name"]: (run / x["log_path"]).read_text() for x in recs}
    assert len({x["log_path"] for x in recs}) == 2
    assert "a b.onnx" in logs["a b"] and "a_b.onnx" in logs["a_b"]  # each log is its own case's


def test_resume_recognises_the_records_of_a_run_written_with_the_old_ids(tmp_path):
    """An older segbench wrote ids without the hash (``a_b__onnxruntime__t1__high`` for both ``a b`` and ``a_b``).
    Resuming such a run runs only the cases it has no record of, told apart by the exact model name."""
    reports = tmp_path / "reports"
    models = _models(tmp_path, "a b", "a_b")
    first = run_cli("run", "--models", str(models), "--threads", "1,2", "--warmup", "0", "--repeats", "2",
                    "--reports", str(reports))
    assert first.code == 0, first.err
    run = _run_dir(reports)
    recs = _lines(run)
    old = []
    for x in recs:
        if x["model"]["name"] == "a_b" and x["threads"] == 2:
            continue  # the case the old run did not get to
        x["case_id"] = case_label(x)
        del x["model"]["companions_sha256"]  # not written by older versions
        old.append(x)
    (run / "results.jsonl").write_text("".join(json.dumps(x) + "\n" for x in old))
    info = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**info, "status": "interrupted"}))

    again = run_cli("run", "--resume", run.name, "--reports", str(reports))
    assert again.code == 0, again.err
    assert "resumed: 3 cases were already done, ran 1" in again.err
    after = _lines(run)
    assert after[:3] == old  # the old records stay as they were
    (new,) = after[3:]
    assert (new["model"]["name"], new["threads"]) == ("a_b", 2) and new["case_id"].startswith("a_b__onnxruntime__t2__")
    assert json.loads((run / "run.json").read_text())["status"] == "completed"


def test_a_log_is_never_overwritten(tmp_path):
    run = Store(tmp_path / "reports").create_run(_info())
    first = run.write_log("c", b"first attempt, cut off before its record")
    second = run.write_log("c", b"second")
    assert first.name == "c.log" and second.name == "c.2.log"
    assert first.read_bytes() == b"first attempt, cut off before its record" and second.read_bytes() == b"second"
    # A symlink planted where the next log would go is not written through.
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    (run.path / "logs" / "c.3.log").symlink_to(victim)
    third = run.write_log("c", b"third")
    assert third.name == "c.4.log" and third.read_bytes() == b"third" and victim.read_bytes() == b"precious"


def _info():
    from segbench.model import DeviceInfo, RunInfo

    return RunInfo(run_id="20260101-000000-000-abcd", started="2026-01-01T00:00:00+00:00", harness_version="0",
                   device=DeviceInfo(id="host", kind="host"), settings={})
