"""Sweep table (latency per model x threads x power mode, speed-up against one thread, CV) and the
per-operator breakdown of profiled records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from segbench.model import Architecture, Measurement
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
        # A row without a power mode (a parsed log that did not say) is None: pandas gives NaN, which json would
        # write as NaN (not json) and the table as "nan".
        r["power_mode"] = r["power_mode"] if isinstance(r["power_mode"], str) else None
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
                model, str(runtime), r["power_mode"] or "", "" if r["threads"] is None else str(r["threads"]),
                _ms(r["median_ms"]),
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


# The runtime comparison's columns: float first, then the quantised precisions in this order.
QUANT_ORDER = ("none", "int8", "uint8")
QUANT_TITLES = {"none": "float"}


def _quant_key(quant: str) -> tuple[int, str]:
    return (QUANT_ORDER.index(quant) if quant in QUANT_ORDER else len(QUANT_ORDER), quant)


def _runtime_label(fmt: str, runtime: str, backend: str | None) -> str:
    """'tflite', 'onnx (onnxruntime)', 'nb (paddlelite)', + ' gpu' for an accelerator backend."""
    label = fmt if fmt == runtime else f"{fmt} ({runtime})"
    return label if backend in (None, "cpu") else f"{label} {backend}"


def runtimes_section(rows: Sequence[Mapping], architectures: Mapping[str, Architecture], config: Mapping[str, str],
                     ) -> Section | None:
    """One architecture across runtimes (rows) and float vs quantised (columns), per device: each cell the
    latency with its statistic, tool and backend. ``rows`` are the summary rows of one config (ok, with a
    latency); ``architectures`` maps a row's model sha256 (else its name) to its identity. None when no
    architecture has more than one cell (nothing is compared)."""
    cells: dict[tuple, dict[str, dict]] = {}
    notes: list[str] = []
    for r in rows:
        arch = architectures.get(str(r.get("sha256") or "")) or architectures.get(str(r["model"]))
        if arch is None:
            continue
        stat = "median" if number(r.get("median_ms")) is not None else "avg"
        value = number(r.get(f"{stat}_ms"))
        if value is None:
            continue
        key = (r["device"], arch.name, _runtime_label(arch.format, str(r["runtime"]), r.get("backend")))
        row_cells = cells.setdefault(key, {})
        if arch.quant in row_cells:  # two files (or tools) of one architecture, runtime and precision: keep the last
            notes.append(f"{arch.name}, {key[2]}, {QUANT_TITLES.get(arch.quant, arch.quant)}: several measured "
                         f"models ({row_cells[arch.quant]['model']}, {r['model']}); showing {r['model']}")
        row_cells[arch.quant] = {"model": r["model"], "stat": stat, "value": value, "tool": r.get("tool") or "",
                                 "tool_version": r.get("tool_version"), "backend": r.get("backend") or "cpu",
                                 "source": arch.source, "format": arch.format, "runtime": r["runtime"],
                                 "n": r.get("n")}
    per_arch: dict[tuple, int] = {}
    for (device, name, _), row_cells in cells.items():
        per_arch[(device, name)] = per_arch.get((device, name), 0) + len(row_cells)
    if not any(n > 1 for n in per_arch.values()):
        return None
    quants = sorted({q for c in cells.values() for q in c}, key=_quant_key)
    quantised = [q for q in quants if q != "none"]
    with_float = [q for q in quantised if any("none" in c and q in c for c in cells.values())]
    several_devices = len({k[0] for k in cells}) > 1
    headers = (("device",) if several_devices else ()) + ("architecture", "runtime") + tuple(
        f"{QUANT_TITLES.get(q, q)} (ms)" for q in quants) + tuple(f"{q} speed-up" for q in with_float)
    display, records = [], []
    for (device, name, runtime), row_cells in sorted(cells.items(), key=lambda kv: kv[0]):
        shown = []
        for q in quants:
            c = row_cells.get(q)
            shown.append(f"{_ms(c['value'])} ({c['stat']}; {c['tool'] or c['runtime']}; {c['backend']})" if c else "")
            if c:
                records.append({"device": device, "architecture": name, "runtime": c["runtime"],
                                "format": c["format"], "backend": c["backend"], "quant": q, "model": c["model"],
                                "latency_ms": c["value"], "statistic": c["stat"], "tool": c["tool"],
                                "tool_version": c["tool_version"], "n": c["n"], "identity_from": c["source"],
                                **{k: config.get(k) for k in ("threads", "power_mode")}})
        for q in with_float:
            f, c = row_cells.get("none"), row_cells.get(q)
            same = f and c and f["stat"] == c["stat"]
            shown.append(f"{f['value'] / c['value']:.2f}x" if same else "")  # type: ignore[index]
        display.append(((device,) if several_devices else ()) + (name, runtime, *shown))
    notes = [
        "one row per architecture and runtime, one column per precision; architecture, format and precision from "
        "the manifest entry next to each file (a zoo export's model, head and input size), else from the model's "
        "name (a trailing _int8 / _uint8 is the precision; docs/report.md)",
        "each cell: latency (ms) with its statistic (the median of the timed runs; avg where the tool prints no "
        "median, e.g. benchmark_bin), the tool that timed it and the backend",
        *([f"speed-up = float / {' or '.join(with_float)} latency of the same row, when both are the same statistic"]
          if with_float else []),
        *notes,
    ]
    setting = ", ".join(f"{k}={v}" for k, v in config.items())
    title = "Runtimes: one architecture across runtimes and precisions" + (f" ({setting})" if setting else "")
    return Section("runtimes", title, headers, tuple(display), tuple(records), tuple(notes))
