"""`segbench report` of the latest run reads that run, and the mIoU of an older `segbench eval` run through the
store's accuracy index: not every run's records (a farm's store holds thousands of runs)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from segbench.cli import cli
from segbench.model import Accuracy, DeviceInfo, Measurement, ModelRef, RunInfo
from segbench.store import RunDir, Store

PHONE = DeviceInfo(id="R58M12ABCDE", kind="android", brand="Xiaomi", model="MI 9", soc="SM8150",
                   android_version="11", api_level=30)
TINY = ModelRef("tiny_seg", "/m/tiny_seg.onnx", "onnx", "a" * 64)


def _bench_run(store: Store, run_id: str, n: int = 3) -> None:
    info = RunInfo(run_id=run_id, started="2026-01-01T00:00:00+00:00", harness_version="t", device=PHONE,
                   settings={"warmup": 1, "repeats": 5}, versions={}, status="completed")
    store.import_run(info, [Measurement(
        run_id=run_id, case_id=f"tiny_seg__onnxruntime__t{t}__high", model=TINY, runtime="onnxruntime", status="ok",
        threads=t, power_mode="high", device_id=PHONE.id, tool="onnxruntime_perf_test", tool_version="1.20",
        warmup=1, repeats=5, count=5, samples_ms=(10.0, 11.0, 10.5, 10.2, 10.8)) for t in range(1, n + 1)])


def _eval_run(store: Store, run_id: str) -> None:
    run = store.create_run(RunInfo(run_id=run_id, started="2026-01-01T00:00:00+00:00", harness_version="t",
                                   device=PHONE, settings={"command": "eval"}, versions={}, status="completed"))
    run.append(Accuracy(run_id=run_id, case_id="eval", model=TINY, runtime="onnxruntime", status="ok", miou=0.4125,
                        images=8, dataset={"name": "ADE20K", "split": "validation"},
                        finished="2026-01-01T00:00:01+00:00"))


def _report(reports: Path) -> str:
    res = CliRunner().invoke(cli, ["report", "--reports", str(reports), "--manifest", str(reports / "no.toml")],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


def test_latest_report_joins_an_older_eval_run_without_parsing_other_runs(tmp_path, monkeypatch):
    store = Store(tmp_path)
    _bench_run(store, "20260101-000000-000-aaaa")
    _eval_run(store, "20260101-000001-000-bbbb")
    _bench_run(store, "20260101-000002-000-cccc", n=5)
    _bench_run(store, "20260101-000003-000-dddd", n=2)  # the latest

    parsed: list[str] = []
    real = Measurement.from_dict.__func__

    def counting(cls, data, where="record"):
        parsed.append(data["run_id"])
        return real(cls, data, where)

    monkeypatch.setattr(Measurement, "from_dict", classmethod(counting))
    out = _report(tmp_path)
    assert "41.250" in out and "measured: ADE20K validation, 8 images" in out
    assert parsed == ["20260101-000003-000-dddd"] * 2  # only the latest run's records became Measurements
    index = json.loads((tmp_path / "index" / "accuracies.json").read_text())
    assert index["runs"]["20260101-000001-000-bbbb"]["records"][0]["miou"] == 0.4125

    # The next report takes the older runs from the index: none of their files is read again.
    def unread(self):
        raise AssertionError(f"{self.run_id} read again")

    monkeypatch.setattr(RunDir, "_accuracy_dicts", unread)
    assert "41.250" in _report(tmp_path)


def test_a_new_eval_record_in_an_indexed_run_is_seen(tmp_path):
    store = Store(tmp_path)
    _bench_run(store, "20260101-000000-000-aaaa")
    _bench_run(store, "20260101-000003-000-dddd")
    assert "41.250" not in _report(tmp_path)  # indexes the older run, without any accuracy record
    _eval_run(store, "20260101-000001-000-bbbb")  # an eval run appears among the indexed ones
    assert "41.250" in _report(tmp_path)
    run = store.run("20260101-000000-000-aaaa")  # and a record appended to an indexed run changes its stamp
    run.append(Accuracy(run_id=run.run_id, case_id="eval2", model=TINY, runtime="onnxruntime", status="ok",
                        miou=0.5, images=8, dataset={"name": "ADE20K", "split": "validation"},
                        finished="2026-01-01T00:00:09+00:00"))
    assert "50.000" in _report(tmp_path)


def test_a_damaged_index_is_rebuilt(tmp_path):
    store = Store(tmp_path)
    _eval_run(store, "20260101-000001-000-bbbb")
    _bench_run(store, "20260101-000003-000-dddd")
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / "accuracies.json").write_text('{"schema": "segbench.accuracy-index/1", "runs": ')
    assert "41.250" in _report(tmp_path)
    assert json.loads((tmp_path / "index" / "accuracies.json").read_text())["runs"]
