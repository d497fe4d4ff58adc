"""`segbench compare` on stored runs with realistic noise: a 20% slowdown regresses, 1% does not."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from conftest import assert_one_line_error, run_cli
from segbench.model import DeviceInfo, Latency, Measurement, ModelRef, RunInfo
from segbench.report.compare import compare, pooled, ratio_ci
from segbench.store import Store

PHONE = DeviceInfo(id="R58M12ABCDE", kind="android", brand="Xiaomi", model="MI 9", soc="SM8150",
                   android_version="11", api_level=30)


def _samples(median: float, seed: int, n: int = 60) -> tuple[float, ...]:
    # Phone-like timings: log-normal spread of ~3% plus a few slow outliers (thermal / scheduler hiccups).
    rng = np.random.default_rng(seed)
    s = median * np.exp(rng.normal(0.0, 0.03, n))
    s[rng.choice(n, 3, replace=False)] *= 1.25
    return tuple(float(x) for x in s)


def _run(store: Store, run_id: str, scale: float, seed: int) -> None:
    info = RunInfo(run_id=run_id, started="2026-11-30T00:00:00+00:00", harness_version="t", device=PHONE,
                   settings={"warmup": 10, "repeats": 60})
    ms = []
    for i, (name, base) in enumerate((("PP-MobileSeg-Tiny", 215.3), ("SeaFormer-Tiny", 459.0))):
        ms.append(Measurement(run_id=run_id, case_id=f"{name}__paddlelite__t1__high",
                              model=ModelRef(name, f"/m/{name}.nb", "paddle-nb", "s" * 64), runtime="paddlelite",
                              status="ok", threads=1, power_mode="high", device_id=PHONE.id, tool="benchmark_bin",
                              samples_ms=_samples(base * (scale if i == 0 else 1.0), seed + i)))
    store.import_run(info, ms)


def test_bootstrap_interval_brackets_the_true_ratio():
    lo, hi = ratio_ci(_samples(100.0, 1), _samples(120.0, 2))
    assert lo < 1.2 < hi and lo > 1.1


def test_cli_flags_20_percent_and_passes_1_percent(tmp_path: Path):
    store = Store(tmp_path)
    _run(store, "base", 1.0, 10)
    _run(store, "slow20", 1.20, 20)
    _run(store, "slow1", 1.01, 30)
    junit = tmp_path / "junit.xml"
    res = run_cli("compare", "base", "slow20", "--reports", str(tmp_path), "--junit", str(junit))
    assert res.code == 4, res.err
    assert "regression" in res.out and "1 regression(s) of 2 case(s)" in res.err
    suite = ET.parse(junit).getroot()
    assert suite.tag == "testsuite" and suite.get("tests") == "2" and suite.get("failures") == "1"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["PP-MobileSeg-Tiny paddlelite t1 high", "SeaFormer-Tiny paddlelite t1 high"]
    assert all(c.get("classname") for c in cases)
    failure = cases[0].find("failure")
    assert failure is not None and failure.get("message", "").startswith("regression: +2")
    assert cases[1].find("failure") is None
    # Only the JUnit schema's elements and attributes are used.
    assert set(suite.attrib) <= {"name", "tests", "failures", "errors", "skipped", "time", "timestamp"}
    assert {el.tag for el in suite.iter()} <= {"testsuite", "testcase", "failure", "skipped"}
    res = run_cli("compare", "base", "slow1", "--reports", str(tmp_path), "--threshold", "5%")
    assert res.code == 0, res.out + res.err
    assert "regression |" not in res.out


def test_a_slowdown_within_noise_is_not_a_regression():
    # 8% slower medians but only 5 very noisy samples: the interval reaches below 1.
    base = Measurement(run_id="a", case_id="c", model=ModelRef("m", "/m", "onnx"), runtime="onnxruntime",
                       status="ok", threads=1, power_mode="high", samples_ms=(100.0, 60.0, 140.0, 90.0, 115.0))
    cand = Measurement(run_id="b", case_id="c", model=ModelRef("m", "/m", "onnx"), runtime="onnxruntime",
                       status="ok", threads=1, power_mode="high", samples_ms=(108.0, 65.0, 150.0, 97.0, 124.0))
    [v] = compare([base], [cand], 0.05)
    assert v.ratio is not None and abs(v.ratio - 1.08) < 1e-9
    assert v.status == "same"
    summary = Measurement(run_id="a", case_id="c", model=ModelRef("m", "/m", "onnx"), runtime="onnxruntime",
                          status="ok", threads=1, power_mode="high", latency_ms=Latency(avg=100.0))
    [v] = compare([summary], [Measurement(**{**summary.__dict__, "latency_ms": Latency(avg=110.0)})], 0.05)
    assert v.status == "regression" and "threshold only" in v.reason


def _summary(run_id: str, avg: float, std: float | None, count: int, device: str = "p") -> Measurement:
    """A record as a summary-only tool gives it (benchmark_model: avg, std and the run count; no samples)."""
    return Measurement(run_id=run_id, case_id="c", model=ModelRef("m", "/m", "tflite"), runtime="tflite",
                       status="ok", threads=1, power_mode="high", device_id=device, count=count,
                       latency_ms=Latency(avg=avg, std=std))


def test_summary_records_with_std_get_an_interval_of_the_mean_ratio():
    # 10% slower with 50 runs at 2% std: far beyond the noise. Interval: exp(log 1.1 +- 1.96 x sqrt(2 x 0.02^2 / 50)).
    [v] = compare([_summary("a", 100.0, 2.0, 50)], [_summary("b", 110.0, 2.2, 50)], 0.05)
    assert v.status == "regression" and "of the mean, from the tools' avg/std" in v.reason
    half = 1.959964 * math.sqrt(2 * 0.02 ** 2 / 50)
    assert abs(v.ci[0] - 1.1 * math.exp(-half)) < 1e-9 and abs(v.ci[1] - 1.1 * math.exp(half)) < 1e-9
    # 8% slower but 40% std over 10 runs: the interval reaches below 1, so not a regression.
    [v] = compare([_summary("a", 100.0, 40.0, 10)], [_summary("b", 108.0, 43.2, 10)], 0.05)
    assert v.status == "same" and v.ci[0] < 1 < v.ci[1]
    # Without a std (benchmark_bin: min/max/avg) the threshold alone decides, as before.
    [v] = compare([_summary("a", 100.0, None, 50)], [_summary("b", 110.0, None, 50)], 0.05)
    assert v.status == "regression" and "threshold only" in v.reason and v.ci is None


def test_pooled_summaries_combine_means_and_spreads():
    # Two phones of one kind, 10 runs each: means 100 and 110, std 5 each -> mean 105 over 20 runs,
    # variance (9 x 25 + 9 x 25 + 10 x 25 + 10 x 25) / 19.
    p = pooled([_summary("a", 100.0, 5.0, 10, "p1"), _summary("a", 110.0, 5.0, 10, "p2")])
    assert p.count == 20 and p.latency_ms.avg == 105.0
    assert abs(p.latency_ms.std - math.sqrt((9 * 25 + 9 * 25 + 10 * 25 + 10 * 25) / 19)) < 1e-12


def test_bad_input(tmp_path: Path):
    store = Store(tmp_path)
    _run(store, "base", 1.0, 10)
    assert_one_line_error(run_cli("compare", "base", "nope", "--reports", str(tmp_path)), 1)
    assert_one_line_error(run_cli("compare", "base", "base", "--reports", str(tmp_path), "--threshold", "x%"), 2)
