"""Plots of a published (or measured) comparison: matplotlib on the Agg backend, PNG and SVG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from segbench.report.published import PublishedRow


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of (latency, mIoU) points no other point beats on both (lower latency, higher mIoU), by latency."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], float("-inf")
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def _save(fig: object, out_dir: Path, stem: str, note: str = "") -> list[Path]:
    """PNG and SVG; ``note`` is the plot's footer (where it was measured: "measured on Xiaomi MI 9 (emulated)")."""
    if note:
        fig.text(0.0, -0.02, note, fontsize=7, ha="left", va="top", color="dimgray")  # type: ignore[attr-defined]
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.svg"]
    for p in paths:
        fig.savefig(p, dpi=120, bbox_inches="tight")  # type: ignore[attr-defined]
    return paths


def _pyplot():  # Agg: no display on CI machines and phones' hosts
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


Point = tuple[str, float, float, str]  # label, x, y, "measured" | "published"
STYLE = {"measured": {"color": "tab:blue", "marker": "o"},
         "published": {"facecolors": "none", "edgecolors": "tab:gray", "marker": "s"}}


def _scatter(points: Sequence[Point], xlabel: str, ylabel: str, title: str, out_dir: Path, stem: str,
             pareto: bool, note: str = "") -> list[Path]:
    """Labelled scatter; ``pareto``: x is latency (lower better), y is mIoU (higher better)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for kind, style in STYLE.items():  # measured and published points told apart: they are different phones/runs
        mine = [p for p in points if p[3] == kind]
        if mine:
            ax.scatter([p[1] for p in mine], [p[2] for p in mine], label=kind, **style)  # type: ignore[arg-type]
    if pareto:
        # One front per source: a host's latency does not compete with a phone's published one.
        for kind, color in (("measured", "tab:red"), ("published", "tab:gray")):
            xy = [(p[1], p[2]) for p in points if p[3] == kind]
            front = pareto_front(xy)
            if front:  # ringed points joined by a dashed line (a single point: it dominates the rest)
                ax.plot([xy[i][0] for i in front], [xy[i][1] for i in front], "--", color=color, marker="o",
                        markersize=12, markerfacecolor="none", label=f"Pareto front ({kind})")
    ax.legend(fontsize=8)
    for label, x, y, _ in points:
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    written = _save(fig, out_dir, stem, note)
    plt.close(fig)
    return written


def plot_points(points: Sequence[tuple[str, dict[str, float], str]], title: str, out_dir: Path,
                note: str = "") -> list[Path]:
    """latency_vs_miou (with the Pareto front) and params_vs_latency of (label, {metric: value}, kind) rows.

    kind says where the row's latency comes from (measured or published); the marker shows it.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    lat_miou = [(lbl, v["latency_ms"], v["miou"], k) for lbl, v, k in points if {"latency_ms", "miou"} <= v.keys()]
    if lat_miou:
        written += _scatter(lat_miou, "latency (ms)", "mIoU (%)", f"{title}: latency vs mIoU", out_dir,
                            "latency_vs_miou", pareto=True, note=note)
    par_lat = [(lbl, v["params_m"], v["latency_ms"], k) for lbl, v, k in points
               if {"params_m", "latency_ms"} <= v.keys()]
    if par_lat:
        written += _scatter(par_lat, "params (M)", "latency (ms)", f"{title}: params vs latency", out_dir,
                            "params_vs_latency", pareto=False, note=note)
    return written


def plot_published(rows: Sequence[PublishedRow], table: str, out_dir: Path) -> list[Path]:
    """latency_vs_miou (with the Pareto front) and params_vs_latency of one published table."""
    mine = [(r.label, r.values, "published") for r in rows if r.table == table]
    return plot_points(mine, f"{table} (published)", out_dir)


def plot_sweep(records: Sequence[dict], out_dir: Path, note: str = "") -> list[Path]:
    """thread_scaling (speed-up vs threads, one line per model/runtime/power mode) and power_modes (bars)."""
    plt = _pyplot()
    out_dir.mkdir(parents=True, exist_ok=True)
    lines: dict[str, list[tuple[int, float]]] = {}
    for r in records:
        if r["speedup_vs_1_thread"] is not None:
            lines.setdefault(f"{r['model']} {r['runtime']} {r['power_mode']}", []).append(
                (r["threads"], r["speedup_vs_1_thread"]))
    written: list[Path] = []
    if any(len(v) > 1 for v in lines.values()):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        top = max(t for v in lines.values() for t, _ in v)
        ax.plot([1, top], [1, top], ":", color="grey", label="linear")
        for label, pts in lines.items():
            pts.sort()
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=label)
        ax.set_xticks(sorted({t for v in lines.values() for t, _ in v} | {1}))  # thread counts are whole numbers
        ax.set(xlabel="threads", ylabel="speed-up vs 1 thread", title="Thread scaling (median latency)")
        ax.legend(fontsize=7)
        written += _save(fig, out_dir, "thread_scaling", note)
        plt.close(fig)
    written += _power_bars(records, out_dir, note)
    return written


def _power_bars(records: Sequence[dict], out_dir: Path, note: str = "") -> list[Path]:
    """Median latency per model (fewest threads measured) with one bar per power mode. A model none of whose rows
    knows its thread count (a parsed vendor log that did not say) has its bars from those rows."""
    plt = _pyplot()
    fewest: dict[str, int] = {}
    for r in records:
        key = f"{r['model']} {r['runtime']}"
        if r["threads"] is not None:
            fewest[key] = min(fewest.get(key, r["threads"]), r["threads"])
    bars = {(f"{r['model']} {r['runtime']}", r["power_mode"]): r["median_ms"] for r in records
            if r["threads"] == fewest.get(f"{r['model']} {r['runtime']}") and isinstance(r["power_mode"], str)}
    modes = sorted({m for _, m in bars})
    if len(modes) < 2:
        return []
    models = list(dict.fromkeys(k for k, _ in bars))
    width = 0.8 / len(modes)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for j, mode in enumerate(modes):
        xs = [i + j * width for i, m in enumerate(models) if (m, mode) in bars]
        ax.bar(xs, [bars[(m, mode)] for m in models if (m, mode) in bars], width, label=mode)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(models))], models, fontsize=8)
    ax.set(ylabel="median latency (ms)", title="Power modes (fewest threads measured)")
    ax.legend(title="power mode")
    written = _save(fig, out_dir, "power_modes", note)
    plt.close(fig)
    return written


def plot_ops(records: Sequence[dict], out_dir: Path, note: str = "") -> list[Path]:
    """ops_stacked: one bar per profiled case, stacked by operator type (avg ms)."""
    if not records:
        return []
    plt = _pyplot()
    out_dir.mkdir(parents=True, exist_ok=True)
    cases = list(dict.fromkeys(f"{r['model']} {r['runtime']}" for r in records))
    ops = list(dict.fromkeys(r["op_type"] for r in records))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    bottom = [0.0] * len(cases)
    for op in ops:
        heights = [sum(r["avg_ms"] for r in records if r["op_type"] == op and f"{r['model']} {r['runtime']}" == c)
                   for c in cases]
        ax.bar(cases, heights, bottom=bottom, label=op)
        bottom = [b + h for b, h in zip(bottom, heights)]
    ax.set(ylabel="avg time per run (ms)", title="Per-operator time (profiled runs)")
    ax.tick_params(axis="x", labelsize=8)
    ax.legend(fontsize=7)
    written = _save(fig, out_dir, "ops_stacked", note)
    plt.close(fig)
    return written
