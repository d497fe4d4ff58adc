import json

import pytest

from segbench.errors import StoreError
from segbench.model import DeviceInfo, Latency, Measurement, ModelRef, RunInfo
from segbench.store import Store, new_run_id


def _info(run_id: str) -> RunInfo:
    return RunInfo(run_id=run_id, started="2026-11-21T00:00:00+00:00", harness_version="t",
                   device=DeviceInfo(id="host", kind="host", cpu_max_khz={0: 100}), settings={"warmup": 1})


def _m(run_id: str, case: str, samples=(1.0, 2.0)) -> Measurement:
    return Measurement(run_id=run_id, case_id=case, model=ModelRef("m", "/x/m.onnx", "onnx", "ab"),
                       runtime="onnxruntime", status="ok", threads=1, power_mode="high",
                       latency_ms=Latency(median=1.5), samples_ms=tuple(samples))


def test_round_trip_and_torn_line(tmp_path):
    store = Store(tmp_path)
    rid = new_run_id()
    run = store.create_run(_info(rid))
    run.append(_m(rid, "a"))
    run.append(_m(rid, "b", (3.0,)))
    with open(run.results_path, "a") as f:  # a crash mid-write leaves half a line
        f.write('{"schema": "segbench.measurement/1", "run_id": "x", "ca')
    got = run.measurements()
    assert [m.case_id for m in got] == ["a", "b"]
    assert got[0] == _m(rid, "a")
    assert store.run(rid).info().device.cpu_max_khz == {0: 100}
    assert store.latest().run_id == rid


def test_unknown_fields_are_kept_in_extra(tmp_path):
    store = Store(tmp_path)
    run = store.create_run(_info("r1"))
    d = _m("r1", "a").to_dict()
    d["from_the_future"] = 7
    run.results_path.write_text(json.dumps(d) + "\n")
    assert run.measurements()[0].extra == {"from_the_future": 7}


def test_missing_run_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="no run 'nope'"):
        Store(tmp_path).run("nope")
    with pytest.raises(StoreError, match="no runs"):
        Store(tmp_path).latest()


def test_a_record_that_does_not_fit_on_the_disk_is_taken_back_whole(tiny_disk):
    run = Store(tiny_disk).create_run(_info("r"))
    big = tuple(float(i) for i in range(2000))  # ~20 KB a record: a 64 KiB disk fills within a few
    stored = 0
    with pytest.raises(StoreError, match="disk full while writing"):
        for i in range(20):
            run.append(_m("r", f"c{i}", big))
            stored += 1
    lines = run.results_path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) - 1 == stored  # whole records only, no torn tail
    assert [m.case_id for m in run.measurements()] == [f"c{i}" for i in range(stored)]


def test_a_record_of_a_newer_schema_version_is_refused_and_other_kinds_are_skipped(tmp_path):
    run = Store(tmp_path).create_run(_info("r1"))
    run.append(_m("r1", "a"))
    with open(run.results_path, "a") as f:
        f.write(json.dumps({"schema": "segbench.calibration/1", "what": "a kind this segbench does not know"}) + "\n")
    assert [m.case_id for m in run.measurements()] == ["a"]  # another kind of record: skipped, as documented
    with open(run.results_path, "a") as f:
        f.write(json.dumps({**_m("r1", "b").to_dict(), "schema": "segbench.measurement/2"}) + "\n")
    for read in (run.measurements, run.accuracies):
        with pytest.raises(StoreError) as err:
            read()
        assert str(err.value) == (f"{run.results_path} line 3: a segbench.measurement/2 record, newer than this "
                                  "segbench reads (segbench.measurement/1) (upgrade segbench to read this run)")
    run.info_path.write_text(json.dumps({**_info("r1").to_dict(), "schema": "segbench.run/7"}))
    with pytest.raises(StoreError, match=r"run.json: a segbench.run/7 file, newer than this segbench reads \(segbench"
                                         r".run/1\)"):
        run.info()
