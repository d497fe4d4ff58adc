"""Honest labels (issue 21): a run on an emulated phone says so in run.json, in every record, in every report
format and plot footer, and baselines never mix emulated and real phones; throttling (also: a phone already hot
when a case starts) and the time a cooldown took are kept in the record and shown in reports and `compare`."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from conftest import (
    FIXTURES,
    assert_one_line_error,
    make_device_assets,
    run_cli,
    start_adb_server,
    stop_adb_server,
)
from segbench.devices import Completed
from segbench.devices.adb import is_emulated
from segbench.model import DeviceInfo
from segbench.ondevice import Cooldown, DeviceBackend, _capped

ADB_PORTS = range(27300, 27340, 2)
PHONE_PORTS = range(28800, 28900, 2)
EMULATED = "Xiaomi MI 9 (emulated)"


def test_only_the_emulators_properties_mark_a_device_emulated():
    assert is_emulated({"ro.kernel.qemu": "1"}) and is_emulated({"ro.boot.qemu": "1"})
    assert not is_emulated({"ro.kernel.qemu": "0", "ro.product.model": "MI 9"}) and not is_emulated({})


def test_capped_cpus_at_the_start_count_as_throttled():
    top = {0: 1785600, 4: 2419200, 7: 2841600}
    assert _capped({"cpu4": 2419200, "cpu7": 1497600}, top, [4, 7]) is True  # prime capped at 85 C
    assert _capped({"cpu4": 2419200, "cpu7": 2841600}, top, [4, 7]) is False
    assert _capped({"cpu0": 300000, "cpu7": 2841600}, top, [7]) is False  # only the bound CPUs count
    assert _capped({}, top, [7]) is None


class _HotPhone:
    serial = "hot:5555"

    def thermal_c(self) -> dict[str, float]:
        return {"cpu-1-3-usr": 80.0, "battery": 30.0}

    def shell(self, command: str, timeout: float = 30.0) -> Completed:
        return Completed(0, b"", b"")


def test_a_cooldown_limit_never_reached_is_reported_as_such():
    backend = DeviceBackend(phone=_HotPhone(), device=DeviceInfo(id="hot:5555", kind="android"), tools={},
                            cooldown=Cooldown("below", 45.0, max_wait_s=0.0))
    seconds, cooled = backend._cool_down()
    assert cooled is False and seconds is not None and seconds >= 0
    backend.cooldown = Cooldown()
    assert backend._cool_down() == (None, True)
    backend.cooldown = Cooldown("below", 90.0, max_wait_s=0.0)
    assert backend._cool_down()[1] is True


@pytest.fixture(scope="module")
def hot_run(tmp_path_factory: pytest.TempPathFactory):
    """A real `segbench run --device` on an emulated MI 9 whose CPU zones sit at 85 C (the throttle fault), with a
    1 s cooldown pause before each case, and a sweep so that every plot has data."""
    from segbench.emulator import EmulatedPhone
    from segbench.emulator.phone import free_port

    tmp = tmp_path_factory.mktemp("hot")
    assets = make_device_assets(tmp / "assets")
    port = start_adb_server(ADB_PORTS)
    reports = tmp / "reports"
    try:
        with EmulatedPhone(port=free_port(PHONE_PORTS), adb_port=port, faults="throttle") as phone:
            res = run_cli("run", "--device", phone.serial, "--assets", str(assets), "--reports", str(reports),
                          "--models", str(FIXTURES / "models" / "tiny_seg.onnx"), "--threads", "1,2",
                          "--warmup", "1", "--repeats", "3", "--cooldown", "1s", "-q",
                          env={"ANDROID_ADB_SERVER_PORT": str(port)}, timeout=600)
    finally:
        stop_adb_server(port)
    assert res.code == 0, res.err
    (run,) = (reports / "runs").iterdir()
    return reports, run


@pytest.mark.slow
def test_run_json_and_every_record_say_emulated_throttled_at_start_and_the_cooldown(hot_run):
    _, run = hot_run
    info = json.loads((run / "run.json").read_text())
    assert info["device"]["emulated"] is True
    records = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    assert len(records) == 2
    for rec in records:
        assert rec["emulated"] is True and rec["status"] == "ok"
        # the zones were at 85 C before the case began: capped from the start, so no drop during the case
        assert rec["throttled"] is True and rec["throttled_at_start"] is True
        assert rec["cooldown_s"] >= 1.0


@pytest.mark.slow
def test_every_report_format_and_plot_footer_says_emulated_and_the_notes_say_throttled(hot_run, tmp_path):
    reports, _ = hot_run
    out = {}
    for fmt in ("markdown", "csv", "json", "html", "latex"):
        res = run_cli("report", "--reports", str(reports), "--view", "all", "--format", fmt,
                      "--plot", str(tmp_path / "plots"))
        assert res.code == 0, (fmt, res.err)
        out[fmt] = res.out
        assert f"measured on {EMULATED}" in res.out, fmt  # the comparison's source of its latency cells
    for fmt in ("markdown", "html", "latex"):  # the footers
        assert re.search(rf"run `?\S+`? \(completed\): {re.escape(EMULATED)}", out[fmt].replace("\\", "")), fmt
        assert "measured on an emulated phone" in out[fmt]
    doc = json.loads(out["json"])
    assert any(EMULATED in line for line in doc["footer"]) and doc["runs"][0]["device"]["emulated"] is True
    assert all(row["emulated"] is True for row in doc["sections"]["cases"]["rows"])
    cases = run_cli("report", "--reports", str(reports))
    assert cases.out.count("throttled (at start); cooldown ") == 2, cases.out
    assert re.search(r"cooldown \d+\.\d s", cases.out) and f"): {EMULATED} (" in cases.out
    for stem in ("thread_scaling", "params_vs_latency"):
        assert f"measured on {EMULATED}" in (tmp_path / "plots" / f"{stem}.svg").read_text(), stem


@pytest.mark.slow
def test_compare_says_which_side_was_throttled(hot_run, tmp_path):
    # The run against a copy of itself under another id (compare refuses a run given twice: a gate that compared
    # nothing).
    reports = tmp_path / "reports"
    shutil.copytree(hot_run[0] / "runs", reports / "runs")
    (run,) = (reports / "runs").iterdir()
    again = reports / "runs" / f"{run.name}-again"
    shutil.copytree(run, again)
    info = json.loads((again / "run.json").read_text())
    info["run_id"] = again.name
    (again / "run.json").write_text(json.dumps(info))
    records = [json.loads(x) for x in (again / "results.jsonl").read_text().splitlines()]
    (again / "results.jsonl").write_text("".join(json.dumps({**r, "run_id": again.name}) + "\n" for r in records))
    res = run_cli("compare", run.name, again.name, "--reports", str(reports))
    assert res.code == 0, res.err
    assert res.out.count("baseline throttled (at start), candidate throttled (at start)") == 2, res.out


@pytest.mark.slow
def test_baselines_never_mix_emulated_and_real_phones(hot_run, tmp_path):
    reports = tmp_path / "reports"
    shutil.copytree(hot_run[0] / "runs", reports / "runs")
    (run,) = (reports / "runs").iterdir()
    saved = run_cli("baseline", "save", run.name, "--reports", str(reports))
    assert saved.code == 0, saved.err
    assert f"{EMULATED} with onnxruntime_perf_test" in saved.out
    (path,) = (reports / "baselines").iterdir()
    assert path.name.startswith("xiaomi_mi_9_emulated_")
    # The same records as if a real MI 9 had measured them: no baseline of their kind.
    real = reports / "runs" / "real-mi9"
    shutil.copytree(run, real)
    info = json.loads((real / "run.json").read_text())
    info["run_id"], info["device"]["emulated"] = "real-mi9", False
    (real / "run.json").write_text(json.dumps(info))
    lines = [json.loads(x) for x in (real / "results.jsonl").read_text().splitlines()]
    (real / "results.jsonl").write_text("".join(json.dumps({**x, "emulated": False}) + "\n" for x in lines))
    res = run_cli("compare", "--baseline", "real-mi9", "--reports", str(reports))
    assert_one_line_error(res, 1)
    assert "no baseline for Xiaomi MI 9 with onnxruntime_perf_test" in res.err and EMULATED in res.err
    # A baseline file of emulated records put where a real MI 9's belongs is refused too.
    data = json.loads(path.read_text())
    data["device_kind"] = "Xiaomi MI 9"
    path.unlink()
    (reports / "baselines" / path.name.replace("_emulated_", "")).write_text(json.dumps(data))
    res = run_cli("compare", "--baseline", "real-mi9", "--reports", str(reports))
    assert_one_line_error(res, 1)
    assert "holds emulated phones' records and the run's are real" in res.err
