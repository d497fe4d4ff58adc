"""`segbench baseline save` and `segbench compare --baseline`: a phone is only compared with its own kind."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import assert_one_line_error, run_cli
from segbench.model import DeviceInfo, Latency, Measurement, ModelRef, RunInfo
from segbench.store import Store

MI9_A = DeviceInfo(id="mi9-a", kind="android", brand="Xiaomi", model="MI 9")
MI9_B = DeviceInfo(id="mi9-b", kind="android", brand="Xiaomi", model="MI 9")
PIXEL = DeviceInfo(id="pixel", kind="android", brand="google", model="Pixel 4")
SAME = (10.0, 10.0, 10.0, 10.0, 10.2, 9.8)  # median 10.0
SLOW = (12.0, 12.0, 12.1, 11.9, 12.0, 12.0)  # median 12.0: +20.0%


def _m(run_id: str, device: DeviceInfo, samples: tuple[float, ...], status: str = "ok", model: str = "seg",
       version: str = "1.20.0") -> Measurement:
    return Measurement(run_id=run_id, case_id=f"{model}__onnxruntime__t1__high", runtime="onnxruntime",
                       model=ModelRef(model, f"/m/{model}.onnx", "onnx", "ab"), status=status, threads=1,
                       power_mode="high", tool="onnxruntime_perf_test", tool_version=version,
                       device_id=device.id, latency_ms=Latency(median=sorted(samples)[len(samples) // 2]),
                       samples_ms=samples)


def _run(reports: Path, run_id: str, records: list[Measurement], devices: tuple[DeviceInfo, ...]) -> None:
    info = RunInfo(run_id=run_id, started="2026-12-01T00:00:00+00:00", harness_version="t", device=devices[0],
                   settings={}, devices=devices if len(devices) > 1 else (), status="completed")
    Store(reports).import_run(info, records)


def test_a_farm_run_is_judged_per_phone_against_the_saved_baseline_of_its_kind(tmp_path):
    reports = tmp_path / "reports"
    _run(reports, "base", [_m("base", MI9_A, SAME), _m("base", MI9_B, SAME)], (MI9_A, MI9_B))
    saved = run_cli("baseline", "save", "base", "--reports", str(reports))
    assert saved.code == 0, saved.err
    assert "Xiaomi MI 9 with onnxruntime_perf_test 1.20.0: 2 record(s) of 2 phone(s) from run base" in saved.out
    (path,) = (reports / "baselines").iterdir()
    assert path.name == "xiaomi_mi_9__onnxruntime_perf_test-1.20.0.json"
    assert json.loads(path.read_text())["schema"] == "segbench.baseline/1"

    _run(reports, "cand", [_m("cand", MI9_A, SAME), _m("cand", MI9_B, SLOW)], (MI9_A, MI9_B))
    junit = tmp_path / "junit.xml"
    r = run_cli("compare", "--baseline", "cand", "--reports", str(reports), "--junit", str(junit))
    assert r.code == 4, r.err
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in r.out.splitlines() if line.startswith("| seg")}
    assert rows["seg onnxruntime t1 high @mi9-a"][:4] == ["10.000", "10.000", "1.000", "same"]
    assert rows["seg onnxruntime t1 high @mi9-b"][:4] == ["10.000", "12.000", "1.200", "regression"]
    # every run of the slow phone is slower than every baseline run: no bootstrap could change the verdict
    assert rows["seg onnxruntime t1 high @mi9-b"][4].startswith("+20.0% (every candidate run")
    assert "against baseline run base" in r.err and "1 regression(s) of 2 case(s)" in r.err
    xml = junit.read_text()
    assert 'name="seg onnxruntime t1 high @mi9-b"' in xml and 'failures="1"' in xml


def test_no_baseline_for_a_kind_of_phone_or_a_tool_version_is_one_clear_error(tmp_path):
    reports = tmp_path / "reports"
    _run(reports, "base", [_m("base", MI9_A, SAME)], (MI9_A,))
    assert run_cli("baseline", "save", "base", "--reports", str(reports)).code == 0
    _run(reports, "pixel", [_m("pixel", PIXEL, SAME)], (PIXEL,))
    r = run_cli("compare", "--baseline", "pixel", "--reports", str(reports))
    assert_one_line_error(r, 1)
    assert "no baseline for google Pixel 4 with onnxruntime_perf_test 1.20.0" in r.err
    assert "saved: Xiaomi MI 9 with onnxruntime_perf_test 1.20.0" in r.err
    _run(reports, "newtool", [_m("newtool", MI9_A, SAME, version="1.21.0")], (MI9_A,))
    r = run_cli("compare", "--baseline", "newtool", "--reports", str(reports))
    assert_one_line_error(r, 1)
    assert "no baseline for Xiaomi MI 9 with onnxruntime_perf_test 1.21.0" in r.err


def test_a_new_baseline_replaces_the_old_one_and_failed_cases_are_not_kept(tmp_path):
    reports = tmp_path / "reports"
    _run(reports, "r1", [_m("r1", MI9_A, SAME)], (MI9_A,))
    _run(reports, "r2", [_m("r2", MI9_A, SLOW), _m("r2", MI9_A, SAME, status="failed", model="other")], (MI9_A,))
    assert run_cli("baseline", "save", "r1", "--reports", str(reports)).code == 0
    again = run_cli("baseline", "save", "r2", "--reports", str(reports))
    assert again.code == 0 and "1 record(s) of 1 phone(s) from run r2" in again.out and "(replaces run r1)" in again.out
    (path,) = (reports / "baselines").iterdir()
    data = json.loads(path.read_text())
    assert data["run_id"] == "r2" and [x["model"]["name"] for x in data["records"]] == ["seg"]
    _run(reports, "bad", [_m("bad", MI9_A, SAME, status="failed")], (MI9_A,))
    r = run_cli("baseline", "save", "bad", "--reports", str(reports))
    assert_one_line_error(r, 1)
    assert "no successful measurement" in r.err


def test_compare_wants_two_runs_or_baseline_and_one(tmp_path):
    r = run_cli("compare", "--baseline", "a", "b", "--reports", str(tmp_path))
    assert_one_line_error(r, 2)
    assert "expected BASELINE_RUN CANDIDATE_RUN, or --baseline CANDIDATE_RUN" in r.err
    r = run_cli("baseline", "save", "nope", "--reports", str(tmp_path))
    assert_one_line_error(r, 1)
    assert "no run 'nope'" in r.err


def test_comparing_two_farm_runs_pairs_each_case_on_each_phone(tmp_path):
    reports = tmp_path / "reports"
    _run(reports, "base", [_m("base", MI9_A, SAME), _m("base", MI9_B, SAME)], (MI9_A, MI9_B))
    _run(reports, "cand", [_m("cand", MI9_A, SAME), _m("cand", MI9_B, SLOW)], (MI9_A, MI9_B))
    r = run_cli("compare", "base", "cand", "--reports", str(reports))
    assert r.code == 4, r.err
    verdicts = {line.split("|")[1].strip(): line.split("|")[5].strip() for line in r.out.splitlines()
                if line.startswith("| seg")}
    assert verdicts == {"seg onnxruntime t1 high @mi9-a": "same", "seg onnxruntime t1 high @mi9-b": "regression"}


def test_summary_only_records_of_several_phones_are_pooled_by_their_median_median():
    from dataclasses import replace

    from segbench.report.compare import pooled

    def summary_only(device: DeviceInfo, median: float) -> Measurement:
        return replace(_m("b", device, SAME), samples_ms=None, latency_ms=Latency(median=median))

    # Hand-checked: the medians 10, 11 and 14 of three phones -> 11.
    got = pooled([summary_only(MI9_A, 10.0), summary_only(MI9_B, 14.0), summary_only(PIXEL, 11.0)])
    assert got.latency_ms.median == 11.0 and got.samples_ms is None
    with_samples = pooled([_m("b", MI9_A, SAME), _m("b", MI9_B, SLOW)])
    assert with_samples.samples_ms == SAME + SLOW


def test_a_long_tool_version_still_makes_a_short_unique_file_name():
    from segbench.baselines import Key

    long = Key("Xiaomi MI 9", "benchmark_model", "nightly (TF 2.3 or newer for 'Inference timings in us'; older "
               "builds print the old summary line)")
    other = Key("Xiaomi MI 9", "benchmark_model", "nightly (TF 2.3 or newer for 'Inference timings in us'; older "
                "builds print the new summary line)")
    assert len(long.file_name()) <= 104 and long.file_name() != other.file_name()
    assert long.file_name().startswith("xiaomi_mi_9__benchmark_model-nightly")
