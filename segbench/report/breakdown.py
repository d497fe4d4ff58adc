"""Sweep table (latency per model x threads x power mode, speed-up against one thread, CV) and the
per-operator breakdown of profiled records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from segbench.model import Measurement
from segbench.report.comparison import digits, number
from segbench.report.document import Section

# Operator types beyond this many per case are summed into "other" (the table stays readable).
TOP_OPS = 8
# What the argmax / upsampling of each zoo head puts inside the timed region (segbench/zoo/heads.py).
HEAD_TIMING = {
    "argmax": "upsampling and argmax inside the timed region",
    "vim": "VIM (low-resolution argmax, upsampling of the winning classes, argmax) inside the timed region",
    "logits": "upsampling inside, argmax outside the timed region",
}


def _fmt(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _ms(value: float) -> str:
    """Latency as the comparison prints it: 1 decimal, more for sub-10 ms host models."""
    return f"{value:.{digits('latency_ms', value)}f}"


def sweep_section(df: pd.DataFrame) -> Section | None:
    """One row per model x runtime x power mode x threads, or None when no model was swept."""
    rows = [r for r in df.to_dict("records") if r.get("status") == "ok" and number(r.get("median_ms"))]
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        runtime = r["runtime"] if r.get("backend") in (None, "cpu") else f"{r['runtime']} {r['backend']}"
        groups.setdefault((r["device"], r["model"], runtime), []).append(r)
    if not any(len(g) > 1 for g in groups.values()):
        return None
    several_devices = len({k[0] for k in groups}) > 1
    display, records = [], []
    for (device, model, runtime), group in groups.items():
        one_thread = {r["power_mode"]: r["median_ms"] for r in group if r["threads"] == 1}
        for r in sorted(group, key=lambda r: (str(r["power_mode"]), r["threads"] or 0)):
            base = one_thread.get(r["power_mode"])
            speedup = base / r["median_ms"] if base else None
            cv, lo, hi = number(r.get("cv_pct")), number(r.get("ci_low_ms")), number(r.get("ci_high_ms"))
            records.append({"device": device, "model": model, "runtime": runtime, "power_mode": r["power_mode"],
                            "threads": r["threads"], "median_ms": r["median_ms"], "ci_low_ms": lo, "ci_high_ms": hi,
                            "speedup_vs_1_thread": speedup, "cv_pct": cv, "n": r.get("n")})
            display.append(((device,) if several_devices else ()) + (
                model, str(runtime), str(r["power_mode"]), str(r["threads"]), _ms(r["median_ms"]),
                f"{_ms(lo)}-{_ms(hi)}" if lo is not None and hi is not None else "",
                "" if speedup is None else f"{speedup:.2f}x", _fmt(cv, 1)))
    headers = (("device",) if several_devices else ()) + (
        "Model", "runtime", "power mode", "threads", "median (ms)", "95% CI (ms)", "speed-up vs 1 thread", "CV (%)")
    notes = ("speed-up = median at 1 thread / median at n threads, same model, runtime and power mode",
             "CV = std / mean of the timed repeats; CV and CI are empty where the tool printed only a summary "
             "(benchmark_bin and benchmark_model on a phone, parsed logs)")
    return Section("sweep", "Sweep: threads x power mode", headers, tuple(display), tuple(records), notes)


def _ops_rows(m: Measurement) -> list[tuple[str, float]]:
    ops = sorted((m.ops_by_type or {}).items(), key=lambda kv: -kv[1])
    head, rest = ops[:TOP_OPS], ops[TOP_OPS:]
    return head + ([("other", sum(v for _, v in rest))] if rest else [])


def ops_section(measurements: Sequence[Measurement]) -> Section | None:
    """Per-operator time of every record that carries a profile (latest per case), or None."""
    latest: dict[tuple, Measurement] = {}
    for m in measurements:
        if m.ops_by_type:
            latest[(m.device_id, m.model.name, m.runtime, m.threads, m.power_mode, m.backend or "cpu")] = m
    if not latest:
        return None
    display, records = [], []
    for m in latest.values():
        total = sum(m.ops_by_type.values())  # type: ignore[union-attr]
        config = ", ".join([m.runtime, *([f"{m.threads} thread(s)"] if m.threads else []),
                            *([m.power_mode] if m.power_mode else []),
                            *([m.backend] if m.backend not in (None, "cpu") else [])])  # a parsed log may state neither
        for op, ms in _ops_rows(m):
            share = 100.0 * ms / total if total > 0 else None
            records.append({"model": m.model.name, "runtime": m.runtime, "threads": m.threads,
                            "power_mode": m.power_mode, "backend": m.backend or "cpu", "op_type": op, "avg_ms": ms, "share_pct": share,
                            "run_id": m.run_id, "tool": m.tool})
            display.append((m.model.name, config, op, f"{ms:.3f}", _fmt(share, 1)))
    notes = ("the tool's own per-operator profile (average ms per run, summed by operator type); share of the "
             "profiled total, which excludes framework overhead outside operators",
             f"beyond the top {TOP_OPS} types per case, the rest are summed as 'other'")
    return Section("ops", "Per-operator breakdown (profiled runs)", ("Model", "config", "op type", "avg (ms)",
                                                                     "share (%)"), tuple(display), tuple(records), notes)


def timed_region(models: Sequence[str], heads: Mapping[str, str]) -> str:
    """Whether argmax / upsampling is inside the timed region, by each model's head (manifest ``head``)."""
    by_what: dict[str, list[str]] = {}
    for name in dict.fromkeys(models):
        head = heads.get(name)
        what = HEAD_TIMING.get(head or "", "not known (no head in the model's manifest entry)")
        by_what.setdefault(f"{what}" + (f" (head {head})" if head in HEAD_TIMING else ""), []).append(name)
    return "; ".join(f"{', '.join(names)}: {what}" for what, names in by_what.items())
