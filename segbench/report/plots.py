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


def _save(fig: object, out_dir: Path, stem: str) -> list[Path]:
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.svg"]
    for p in paths:
        fig.savefig(p, dpi=120, bbox_inches="tight")  # type: ignore[attr-defined]
    return paths


def plot_published(rows: Sequence[PublishedRow], table: str, out_dir: Path) -> list[Path]:
    """latency_vs_miou (with the Pareto front) and params_vs_latency of one published table."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    mine = [r for r in rows if r.table == table and {"miou", "latency_ms"} <= r.values.keys()]
    pts = [(r.values["latency_ms"], r.values["miou"]) for r in mine]
    written: list[Path] = []
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter([p[0] for p in pts], [p[1] for p in pts], color="tab:blue")
    front = pareto_front(pts)
    ax.plot([pts[i][0] for i in front], [pts[i][1] for i in front], "--", color="tab:red", label="Pareto front")
    for r, (x, y) in zip(mine, pts):
        ax.annotate(r.label, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set(xlabel="latency (ms)", ylabel="mIoU (%)", title=f"{table}: latency vs mIoU (published)")
    ax.legend()
    written += _save(fig, out_dir, "latency_vs_miou")
    plt.close(fig)
    with_params = [r for r in mine if "params_m" in r.values]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter([r.values["params_m"] for r in with_params], [r.values["latency_ms"] for r in with_params],
               color="tab:green")
    for r in with_params:
        ax.annotate(r.label, (r.values["params_m"], r.values["latency_ms"]), textcoords="offset points",
                    xytext=(4, 4), fontsize=8)
    ax.set(xlabel="params (M)", ylabel="latency (ms)", title=f"{table}: params vs latency (published)")
    written += _save(fig, out_dir, "params_vs_latency")
    plt.close(fig)
    return written
