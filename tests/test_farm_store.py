"""The store under a farm: many writers append to one results.jsonl; run.json lists every phone."""

from __future__ import annotations

import threading
import time

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


def _cases(n: int):
    from segbench.model import Case

    return [Case(ModelRef(f"m{i}", f"/m{i}.onnx", "onnx"), "onnxruntime", 1, "high", 0, 1) for i in range(n)]


def _failed(case, device_id: str):
    from segbench.model import DEVICE_FAILURE, Measurement

    return Measurement(run_id="r", case_id=case.case_id, model=case.model, runtime=case.runtime, status="failed",
                       device_id=device_id, error=f"device {device_id} disconnected", extra={DEVICE_FAILURE: True})


def test_shard_gives_each_case_to_exactly_one_of_many_threads():
    from segbench.farm import Shard

    shard = Shard(["a", "b", "c", "d"])
    cases = _cases(200)
    won: dict[str, list[str]] = {k: [] for k in "abcd"}

    def worker(k: str) -> None:
        for c in cases:
            if shard.claim(c, k):
                won[k].append(c.case_id)
                shard.settle(k)

    threads = [threading.Thread(target=worker, args=(k,)) for k in "abcd"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [cid for k in won for cid in won[k]]
    assert sorted(every) == sorted(c.case_id for c in cases)  # each once, none lost


def test_a_case_its_phone_failed_goes_to_a_phone_that_has_not_failed_it():
    from segbench.farm import Shard

    shard = Shard(["a", "b", "c"])
    (case,) = _cases(1)
    assert shard.claim(case, "a")
    assert shard.hand_back(case, "a", _failed(case, "a"))  # b and c could take it
    assert shard.next_returned("a", False, None) is None  # not back to the phone that failed it; a leaves
    assert shard.next_returned("b", False, None) == case
    assert shard.attempts(case.run_key) == [{"device_id": "a", "error": "device a disconnected", "log_path": ""}]
    # b fails it too: c is left to try; c leaves without taking it (set aside): an orphan with b's attempt.
    assert shard.hand_back(case, "b", _failed(case, "b"))
    assert shard.next_returned("c", True, None) is None
    assert [m.device_id for m in shard.orphans()] == ["b"]


def test_a_phone_through_its_share_waits_for_cases_in_flight_elsewhere():
    from segbench.farm import Shard

    shard = Shard(["a", "b"])
    (case,) = _cases(1)
    assert shard.claim(case, "a")
    got: list = []
    waiter = threading.Thread(target=lambda: got.append(shard.next_returned("b", False, None)))
    waiter.start()
    time.sleep(0.3)
    assert waiter.is_alive()  # a's case is in flight: it may come back
    shard.hand_back(case, "a", _failed(case, "a"))
    waiter.join(5)
    assert got == [case]
    # b fails it as well: nobody is left who has not, so the hand-back says so (b stores its failure),
    # and a, through its share with nothing in flight elsewhere, leaves.
    assert not shard.hand_back(case, "b", _failed(case, "b"))
    assert shard.next_returned("a", False, None) is None
    assert shard.orphans() == []


def test_a_waiting_phone_leaves_on_stop():
    from segbench.farm import Shard

    shard = Shard(["a", "b"])
    (case,) = _cases(1)
    shard.claim(case, "a")
    stop = threading.Event()
    stop.set()
    assert shard.next_returned("b", False, stop) is None


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
