"""Stored runs for report tests: a phone-style sweep (RunInfo of kind android, as `segbench run --device` writes)
with realistic per-iteration noise, written through the real Store."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from segbench.model import DeviceInfo, Measurement, ModelRef, RunInfo
from segbench.store import Store

PHONE = DeviceInfo(id="R58M12ABCDE", kind="android", brand="Xiaomi", model="MI 9", soc="SM8150",
                   android_version="11", api_level=30)
# Median latency (ms) at 1 thread on the big cores, the seed's figures.
# Median latency (ms) at 1 thread on the big cores (round numbers, unlike the published 215.3 / 459.0).
BASE = {"PP-MobileSeg-Tiny": 200.0, "SeaFormer-Tiny": 400.0}
# Speed-up at 2 and 4 threads per model, and the little cores' slowdown.
SCALE = {"PP-MobileSeg-Tiny": {1: 1.0, 2: 1.6, 4: 2.5}, "SeaFormer-Tiny": {1: 1.0, 2: 1.25, 4: 2.0}}
LOW = 3.0


def samples(median: float, seed: int, n: int = 41) -> tuple[float, ...]:
    """Log-normal spread of ~2% around ``median`` whose sample median is exactly ``median`` (odd n)."""
    rng = np.random.default_rng(seed)
    s = np.exp(rng.normal(0.0, 0.02, n))
    s = median * s / np.median(s)
    return tuple(float(x) for x in s)


def phone_run(reports: Path, run_id: str = "phone-sweep") -> None:
    info = RunInfo(run_id=run_id, started="2026-11-30T00:00:00+00:00", harness_version="t", device=PHONE,
                   settings={"warmup": 10, "repeats": 41}, versions={"segbench": "0.1"}, status="completed")
    ms, seed = [], 0
    for name, base in BASE.items():
        for mode in ("high", "low"):
            for threads, speed in SCALE[name].items():
                seed += 1
                median = base / speed * (LOW if mode == "low" else 1.0)
                ms.append(Measurement(
                    run_id=run_id, case_id=f"{name}__paddlelite__t{threads}__{mode}",
                    model=ModelRef(name, f"/m/{name}.nb", "paddle-nb", f"{seed:064x}"), runtime="paddlelite",
                    status="ok", threads=threads, power_mode=mode, device_id=PHONE.id, tool="benchmark_bin",
                    tool_version="v2.14", cpu_mask="f0" if mode == "high" else "f", warmup=10, repeats=41,
                    count=41, samples_ms=samples(median, seed),
                    ops_by_type={"conv2d": 0.6 * median, "depthwise_conv2d": 0.3 * median, "argmax": 0.1 * median}
                    if threads == 1 and mode == "high" else None))
    Store(reports).import_run(info, ms)
