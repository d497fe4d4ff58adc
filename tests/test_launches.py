"""Launches as the unit of evidence: intervals over launches, a gate that does not cry wolf, never green on nothing.

The numbers are drawn with fixed seeds from the noise model that makes single-launch comparisons fail: each launch
(a fresh process) lands at its own level (here 3% between launches) while the iterations of one launch agree to
1%. Nothing here reads a clock."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from conftest import run_cli
from segbench import stats
from segbench.model import DeviceInfo, Measurement, ModelRef, RunInfo
from segbench.report.compare import compare, gate, junit
from segbench.store import Store

HOST = DeviceInfo(id="host", kind="host", cpu_model="test")
MODELS = ("a", "b", "c")
LAUNCH_SD = 0.03  # the spread between launches (within one: 1%)


def _launches(rng: np.random.Generator, run_id: str, k: int, slow: float = 1.0, n: int = 30,
              sd: float = LAUNCH_SD) -> list[Measurement]:
    out = []
    for launch in range(1, k + 1):
        for name in MODELS:
            level = 10.0 * slow * float(np.exp(rng.normal(0.0, sd)))  # this launch's level
            samples = tuple(float(x) for x in level * np.exp(rng.normal(0.0, 0.01, n)))
            out.append(Measurement(run_id=run_id, case_id=f"{name}__onnxruntime__t1__high", launch=launch,
                                   model=ModelRef(name, f"/m/{name}.onnx", "onnx", name * 64), runtime="onnxruntime",
                                   status="ok", threads=1, power_mode="high", device_id="host", count=n,
                                   samples_ms=samples, latency_ms=stats.summarize(samples)))
    return out


def test_launch_intervals_widen_with_few_launches_and_hold_the_ratio():
    same = stats.launch_ratio_ci([10.0, 10.5, 9.8], [10.2, 9.9, 10.4])
    assert same is not None and same[1] < 1.0 < same[2]
    slower = stats.launch_ratio_ci([10.0, 10.5, 9.8, 10.1], [12.0, 12.6, 11.8, 12.1])
    assert slower[0] == pytest.approx(1.2, rel=0.01) and slower[1] > 1.1
    two = stats.launch_ratio_ci([10.0, 10.5], [10.2, 9.9])
    five = stats.launch_ratio_ci([10.0, 10.5] * 3, [10.2, 9.9] * 3)
    assert (two[2] - two[1]) > 2 * (five[2] - five[1])  # t with 2 df is wide, as it should be
    assert stats.launch_ratio_ci([10.0], [10.0, 11.0]) is None
    g, lo, hi = stats.launch_ci([10.0, 10.5, 9.8])
    assert lo < g < hi and g == pytest.approx((10.0 * 10.5 * 9.8) ** (1 / 3))


def test_identical_runs_never_regress_and_a_20_percent_slowdown_always_does():
    """The issue's experiment in small: 20 repeats of two identical runs (5 launches each, 3 cases) and 20 of a
    run 20% slower, each from its own seed."""
    false_alarms = detected = 0
    single_launch_alarms = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        base, same = _launches(rng, "base", 5), _launches(rng, "same", 5)
        slow = _launches(rng, "slow", 5, slow=1.2)
        false_alarms += sum(v.status == "regression" for v in compare(base, same, 0.05))
        detected += all(v.status == "regression" for v in compare(base, slow, 0.05))
        # the old unit of evidence, one launch a side with its iterations bootstrapped, cries wolf
        one_b = [m for m in base if m.launch == 1]
        one_s = [m for m in same if m.launch == 1]
        single_launch_alarms += sum(v.status in ("regression", "improved") for v in compare(one_b, one_s, 0.05))
    assert false_alarms == 0
    assert detected == 20
    assert single_launch_alarms > 5  # why launches: the within-launch interval is far too narrow


def test_drift_between_two_runs_within_the_threshold_is_not_a_regression():
    """Two runs taken at different times differ by drift no launch of either shows (the machine's state moved): every
    launch of the second 4.5% slower, with launch intervals tight enough to be sure it is slower. The threshold (5%)
    is the slowdown that counts, so the verdict needs its whole interval beyond it: same. 8% is a regression."""
    rng = np.random.default_rng(7)
    base, drifted = _launches(rng, "base", 5, sd=0.005), _launches(rng, "drift", 5, slow=1.045, sd=0.005)
    verdicts = compare(base, drifted, 0.05)
    assert all(v.status == "same" and v.ci[0] > 1.0 for v in verdicts)  # sure it is slower, not by 5%
    slower = _launches(rng, "slower", 5, slow=1.08, sd=0.005)
    assert all(v.status == "regression" for v in compare(base, slower, 0.05))


def test_one_launch_a_side_is_said_to_be_weak():
    rng = np.random.default_rng(0)
    verdicts = compare(_launches(rng, "b", 1), _launches(rng, "c", 1), 0.05)
    assert all(v.evidence.startswith("weak: 1+1 launch(es)") for v in verdicts)
    green, line = gate(verdicts)
    assert "3 verdict(s) weak" in line
    many = compare(_launches(rng, "b", 3), _launches(rng, "c", 3), 0.05)
    assert all(v.evidence == "3+3 launches" and "over launches, Welch t" in v.reason for v in many)


def _levels(run_id: str, levels: list[float]) -> list[Measurement]:
    """One case's launches at these levels (ms), 10 runs each spread 1% around it."""
    out = []
    for launch, level in enumerate(levels, 1):
        samples = tuple(level * (1 + 0.01 * (i - 4.5) / 4.5) for i in range(10))
        out.append(Measurement(run_id=run_id, case_id="a__onnxruntime__t1__high", launch=launch,
                               model=ModelRef("a", "/m/a.onnx", "onnx", "a" * 64), runtime="onnxruntime",
                               status="ok", threads=1, power_mode="high", device_id="host", count=10,
                               samples_ms=samples, latency_ms=stats.summarize(samples)))
    return out


def test_a_change_past_the_threshold_the_launches_cannot_confirm_is_unclear_until_more_launches_decide():
    """Pinpoint's third answer: a ratio past the threshold whose interval is not wholly past it is neither a
    regression nor the same. It keeps the gate green, says so, and more launches of the candidate settle it."""
    base = _levels("base", [10.0, 10.4, 9.7, 10.2, 9.9])
    (v,) = compare(base, _levels("few", [12.1, 11.0]), 0.05)
    assert v.status == "unclear" and v.ratio > 1.05 and v.ci[0] <= 1.05, v
    green, line = gate([v])
    assert green and line == "0 regression(s) of 1 case(s); 1 unclear (past the threshold, not yet sure: more " \
                             "launches decide)", line
    xml = junit([v], "t")
    assert 'failures="0"' in xml and "<system-out>unclear: +" in xml and "more launches decide</system-out>" in xml
    (v,) = compare(base, _levels("more", [12.1, 11.0, 12.0, 11.8, 12.3, 11.9, 12.2, 11.7]), 0.05)
    assert v.status == "regression", v
    (v,) = compare(base, _levels("faster", [8.1, 9.2]), 0.05)  # the mirror image
    assert v.status == "unclear" and v.ratio < 0.95 and v.ci[1] >= 0.95, v
    # a ratio within the threshold is the same, however wide its interval: nothing for more launches to decide
    (v,) = compare(base, _levels("same", [10.9, 9.4]), 0.05)
    assert v.status == "same" and v.ci[0] < 0.95 and v.ci[1] > 1.05, v
    # one launch a side: weak, never unclear (its interval is not over launches)
    (v,) = compare(base[:1], _levels("one", [12.1]), 0.05)
    assert v.status != "unclear" and v.evidence.startswith("weak"), v


def _store(tmp_path, run_id: str, records: list[Measurement]) -> None:
    info = RunInfo(run_id=run_id, started="2026-12-01T00:00:00+00:00", harness_version="t", device=HOST,
                   settings={}, status="completed")
    Store(tmp_path).import_run(info, [Measurement(**{**m.__dict__, "run_id": run_id}) for m in records])


def test_an_all_failed_or_empty_candidate_is_never_a_green_gate(tmp_path):
    rng = np.random.default_rng(1)
    base = _launches(rng, "base", 3)
    failed = [Measurement(**{**m.__dict__, "status": "failed", "samples_ms": None, "error": "crashed"})
              for m in _launches(rng, "x", 3)]
    _store(tmp_path, "base", base)
    _store(tmp_path, "failed", failed)
    _store(tmp_path, "other", [Measurement(**{**m.__dict__, "model": ModelRef("z", "/m/z.onnx", "onnx", "z" * 64)})
                               for m in _launches(rng, "o", 3)])
    r = run_cli("compare", "base", "failed", "--reports", str(tmp_path))
    assert r.code == 4 and "3 failed" in r.err, r.err
    r = run_cli("compare", "base", "other", "--reports", str(tmp_path))  # nothing in common
    assert r.code == 4 and "nothing to compare" in r.err, r.err
    _store(tmp_path, "same", _launches(rng, "s", 3))
    r = run_cli("compare", "base", "same", "--reports", str(tmp_path))
    assert r.code == 0 and "0 regression(s) of 3 case(s)" in r.err, r.err


def test_run_launches_are_interleaved_kept_apart_reported_and_resumed(tmp_path):
    import json

    from conftest import FIXTURES

    models = tmp_path / "m"
    models.mkdir()
    for f in ("tiny_seg.onnx", "selfie_segmentation.tflite"):
        (models / f).write_bytes((FIXTURES / "models" / f).read_bytes())
    reports = tmp_path / "r"
    r = run_cli("run", "--models", str(models), "--launches", "3", "--warmup", "1", "--repeats", "5",
                "--reports", str(reports))
    assert r.code == 0, r.err
    (run_dir,) = (reports / "runs").iterdir()
    lines = (run_dir / "results.jsonl").read_text().splitlines()
    recs = [json.loads(x) for x in lines]
    # A B A B A B: launch k of every case before launch k+1 of any
    assert [(x["model"]["name"], x["launch"]) for x in recs] == [
        ("selfie_segmentation", 1), ("tiny_seg", 1), ("selfie_segmentation", 2), ("tiny_seg", 2),
        ("selfie_segmentation", 3), ("tiny_seg", 3)]
    assert len({x["case_id"] for x in recs}) == 2 and len({x["log_path"] for x in recs}) == 6
    report = run_cli("report", "--reports", str(reports))
    assert report.code == 0, report.err
    assert report.out.count("3 launches: 95% CI") == 2
    # --resume of a run cut short: only the missing launches run, each once
    (run_dir / "results.jsonl").write_text("\n".join(lines[:3]) + "\n")
    info = json.loads((run_dir / "run.json").read_text())
    (run_dir / "run.json").write_text(json.dumps({**info, "status": "interrupted"}))
    r = run_cli("run", "--resume", run_dir.name, "--reports", str(reports))
    assert r.code == 0, r.err
    again = [json.loads(x) for x in (run_dir / "results.jsonl").read_text().splitlines()]
    assert sorted((x["model"]["name"], x["launch"]) for x in again) == sorted(
        (x["model"]["name"], x["launch"]) for x in recs)
    # --resume with more launches adds them to every case, interleaved, and the run keeps the new count
    r = run_cli("run", "--resume", run_dir.name, "--launches", "5", "--reports", str(reports), "-q")
    assert r.code == 0, r.err
    grown = [json.loads(x) for x in (run_dir / "results.jsonl").read_text().splitlines()]
    assert [(x["model"]["name"], x["launch"]) for x in grown[len(again):]] == [
        ("selfie_segmentation", 4), ("tiny_seg", 4), ("selfie_segmentation", 5), ("tiny_seg", 5)]
    assert json.loads((run_dir / "run.json").read_text())["settings"]["launches"] == 5
    fewer = run_cli("run", "--resume", run_dir.name, "--launches", "2", "--reports", str(reports))
    assert fewer.code == 2 and fewer.err.strip().splitlines() == [
        f"segbench: error: --launches 2: run {run_dir.name} already has 5 launches per case (a resume can add "
        "launches, not take them away)"], fewer.err
    # two such runs compare on launch-level evidence
    r = run_cli("run", "--models", str(models), "--launches", "3", "--warmup", "1", "--repeats", "5",
                "--reports", str(reports), "-q")
    ids = sorted(p.name for p in (reports / "runs").iterdir())
    cmp = run_cli("compare", *ids, "--threshold", "90%", "--reports", str(reports))
    assert cmp.code == 0, cmp.err
    assert cmp.out.count("5+3 launches") == 2 and "weak" not in cmp.err


def test_compare_says_what_differs_between_the_two_sides():
    """A new model file or tool version is often the change under test: the verdict names it."""
    from dataclasses import replace

    rng = np.random.default_rng(3)
    base = _launches(rng, "b", 3)
    cand = [replace(m, model=replace(m.model, sha256="f" * 64), tool="benchmark_model", tool_version="v2")
            for m in _launches(rng, "c", 3)]
    for v in compare(base, cand, 0.05):
        assert "; differs: model file" in v.reason and "-> ffffffff" in v.reason
    cand = [replace(m, tool="onnxruntime-python", tool_version="1.20") for m in _launches(rng, "c", 3)]
    base = [replace(m, tool="onnxruntime-python", tool_version="1.19") for m in base]
    for v in compare(base, cand, 0.05):
        assert v.reason.endswith("; differs: tool onnxruntime-python 1.19 -> onnxruntime-python 1.20")
    same = compare(base, _launches(rng, "s", 3), 0.05)
    assert all("differs" not in v.reason for v in same)


def test_the_bootstrap_of_a_long_run_stays_in_bounded_memory():
    """A run of a million repeats a side: the interval comes out, without allocating resamples of every run."""
    import tracemalloc

    from segbench.report.compare import ratio_ci

    rng = np.random.default_rng(0)
    base = 10.0 * np.exp(rng.normal(0, 0.02, 1_000_000))
    tracemalloc.start()
    lo, hi = ratio_ci(base, base * 1.1)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert 1.09 < lo < 1.1 < hi < 1.11
    assert peak < 200 * 2**20  # 2000 resamples of a million would be 16 GB a side


def _contended(run_id: str, k: int, wait: float, slow: float = 1.0) -> list[Measurement]:
    """Launches whose runs each spent the same CPU time (x slow) but waited ``wait`` x as long again for a CPU
    (another process held it): wall = cpu * (1 + wait)."""
    out = []
    for launch in range(1, k + 1):
        cpu = tuple(10.0 * slow * (1 + 0.002 * (i % 5 + launch)) for i in range(20))
        wall = tuple(c * (1 + wait) for c in cpu)
        out.append(Measurement(run_id=run_id, case_id="a__onnxruntime__t1__high", launch=launch,
                               model=ModelRef("a", "/m/a.onnx", "onnx", "a" * 64), runtime="onnxruntime",
                               status="ok", threads=1, power_mode="high", device_id="host", count=20,
                               samples_ms=wall, cpu_samples_ms=cpu, latency_ms=stats.summarize(wall)))
    return out


def test_compare_clock_cpu_judges_the_time_spent_not_the_time_waited():
    """A load on the host makes the candidate wait 60% longer for the CPU: on wall time that is a regression, on
    CPU time the same; a real 20% slowdown is one on either clock. Records without CPU times (a phone's tools) are
    judged on wall time, and the verdict says so."""
    base, loaded = _contended("b", 3, 0.0), _contended("c", 3, 0.6)
    (wall,) = compare(base, loaded, 0.05)
    (cpu,) = compare(base, loaded, 0.05, clock="cpu")
    assert wall.status == "regression" and cpu.status == "same" and "CPU time" in cpu.reason
    (slow,) = compare(base, _contended("s", 3, 0.6, slow=1.2), 0.05, clock="cpu")
    assert slow.status == "regression" and slow.ratio == pytest.approx(1.2, rel=0.01)
    phone = [replace(m, cpu_samples_ms=None) for m in loaded]
    (fallback,) = compare(base, phone, 0.05, clock="cpu")
    assert fallback.status == "regression" and "wall time (no CPU times recorded)" in fallback.reason


def test_host_runs_record_cpu_time_beside_wall_time_and_compare_takes_clock(tmp_path):
    import json

    from conftest import FIXTURES

    models = tmp_path / "m"
    models.mkdir()
    (models / "tiny_seg.onnx").write_bytes((FIXTURES / "models" / "tiny_seg.onnx").read_bytes())
    reports = tmp_path / "r"
    for _ in range(2):
        r = run_cli("run", "--models", str(models), "--launches", "2", "--warmup", "1", "--repeats", "4",
                    "--reports", str(reports), "-q")
        assert r.code == 0, r.err
    ids = sorted(p.name for p in (reports / "runs").iterdir())
    recs = [json.loads(x) for x in (reports / "runs" / ids[0] / "results.jsonl").read_text().splitlines()]
    assert all(len(x["cpu_samples_ms"]) == len(x["samples_ms"]) == 4 for x in recs)
    assert all(c >= 0 for x in recs for c in x["cpu_samples_ms"])
    cmp = run_cli("compare", *ids, "--clock", "cpu", "--threshold", "90%", "--reports", str(reports))
    assert cmp.code == 0, cmp.err
    assert "CPU time" in cmp.out and "2+2 launches" in cmp.out
    bad = run_cli("compare", *ids, "--clock", "gpu", "--reports", str(reports))
    assert bad.code == 2 and len(bad.err.strip().splitlines()) == 1
