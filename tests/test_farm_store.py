"""The store under a farm: many writers append to one results.jsonl; run.json lists every phone."""

from __future__ import annotations

import threading

from segbench.model import DeviceInfo, Latency, Measurement, ModelRef, RunInfo
from segbench.store import Store


def _info(run_id: str, devices: tuple[DeviceInfo, ...] = ()) -> RunInfo:
    return RunInfo(run_id=run_id, started="2026-12-01T00:00:00+00:00", harness_version="t",
                   device=devices[0] if devices else DeviceInfo(id="host", kind="host"), settings={},
                   devices=devices)


def _m(run_id: str, case: str, device: str, n: int) -> Measurement:
    return Measurement(run_id=run_id, case_id=case, model=ModelRef("m", "/x/m.onnx", "onnx", "ab"),
                       runtime="onnxruntime", status="ok", device_id=device, latency_ms=Latency(median=1.0),
                       samples_ms=tuple(float(i) for i in range(n)))


def test_concurrent_appends_of_large_records_stay_whole(tmp_path):
    run = Store(tmp_path).create_run(_info("r"))

    def writer(device: str) -> None:
        for i in range(25):  # ~40 KB lines: far beyond any single-write atomicity a filesystem might give
            run.append(_m("r", f"c{i}", device, 4000))

    threads = [threading.Thread(target=writer, args=(f"phone{k}",)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = run.measurements()
    assert len(got) == 100
    assert sorted({(m.device_id, m.case_id) for m in got}) == sorted(
        (f"phone{k}", f"c{i}") for k in range(4) for i in range(25))
    assert all(len(m.samples_ms) == 4000 for m in got)


def test_an_append_after_a_torn_line_starts_a_line_of_its_own(tmp_path):
    run = Store(tmp_path).create_run(_info("r"))
    run.append(_m("r", "a", "p", 2))
    with open(run.results_path, "a") as f:  # a crash mid-write left half a line, no newline
        f.write('{"schema": "segbench.measurement/1", "ca')
    run.append(_m("r", "b", "p", 2))
    assert [m.case_id for m in run.measurements()] == ["a", "b"]


def test_run_json_keeps_every_phone_of_a_farm(tmp_path):
    a = DeviceInfo(id="127.0.0.1:28000", kind="android", model="MI 9", cpu_max_khz={7: 2841600})
    b = DeviceInfo(id="srv2/emulator-5554", kind="android", model="Pixel 4", cpu_max_khz={0: 1785600})
    store = Store(tmp_path)
    store.create_run(_info("r", (a, b)))
    info = store.run("r").info()
    assert info.devices == (a, b) and info.device == a
    assert info.device_for("srv2/emulator-5554").model == "Pixel 4"
    assert info.device_for("unknown").id == a.id  # records of a one-phone run: the run's device


def test_log_paths_of_a_farm_are_kept_apart_per_phone(tmp_path):
    run = Store(tmp_path).create_run(_info("r"))
    one = run.write_log("m__onnxruntime__t1__high", b"x", "127.0.0.1:28000")
    two = run.write_log("m__onnxruntime__t1__high", b"y", "srv/127.0.0.1:28000")
    assert one.relative_to(run.path).as_posix() == "logs/127.0.0.1_28000/m__onnxruntime__t1__high.log"
    assert one != two and one.read_bytes() == b"x" and two.read_bytes() == b"y"


def test_claims_give_each_case_to_exactly_one_of_many_threads():
    from segbench.farm import Claims
    from segbench.model import Case

    claims = Claims()
    cases = [Case(ModelRef(f"m{i}", f"/m{i}.onnx", "onnx"), "onnxruntime", 1, "high", 0, 1) for i in range(200)]
    won: dict[int, list[str]] = {k: [] for k in range(4)}

    def worker(k: int) -> None:
        won[k] += [c.case_id for c in cases if claims(c)]

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [cid for k in won for cid in won[k]]
    assert sorted(every) == sorted(c.case_id for c in cases)  # each once, none lost


def test_shard_refuses_phones_of_different_kinds():
    import pytest

    from segbench.cli.cmd_run import _check_split
    from segbench.errors import UsageError

    mi9 = DeviceInfo(id="a", kind="android", brand="Xiaomi", model="MI 9")
    pixel = DeviceInfo(id="b", kind="android", brand="google", model="Pixel 4")
    _check_split("shard", [mi9, mi9])
    _check_split("each", [mi9, pixel])
    with pytest.raises(UsageError, match="needs phones of one kind, got Xiaomi MI 9, google Pixel 4"):
        _check_split("shard", [mi9, pixel])
