"""Assemble the report Document of stored runs: comparison, sweep, per-operator and per-case tables,
the footer and the plots, for the views `segbench report --view` offers."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from segbench.columns import Columns
from segbench.model import Architecture, RunInfo
from segbench.report import breakdown, comparison, plots
from segbench.report.document import Document, Section
from segbench.report.published import PublishedRow
from segbench.report.tables import (
    COLUMNS,
    device_label,
    footer_lines,
    formatted_rows,
    json_rows,
    visible_columns,
)


@dataclass(frozen=True)
class Context:
    """Everything the sections are built from (gathered by the CLI)."""

    table: pd.DataFrame  # tables.summary + accuracy.with_accuracy
    records: Columns  # the reported records (segbench.columns; whole records read back only where needed)
    infos: Sequence[RunInfo]
    published: Sequence[PublishedRow]  # rows of the chosen published table (may be empty)
    models: Mapping[str, Mapping[str, object]]  # manifest [[model]] by name: backbone, baseline, head
    baselines: Mapping[str, str]  # --baseline overrides
    config: Mapping[str, str]  # --config
    gmacs: Mapping[str, float]  # sha256 -> inspected GMACs
    # model sha256 (else name) -> architecture, format, precision (segbench.models.architecture_of): --view runtimes
    architectures: Mapping[str, Architecture] = field(default_factory=dict)


def profiled(records: Columns) -> list:
    """The records that carry a per-operator profile, whole (few: only profiled runs have one)."""
    import numpy as np

    return records.records(np.nonzero(records["has_ops"] == 1)[0].tolist())


def cases_section(df: pd.DataFrame) -> Section:
    """The per-case table `segbench report` has always printed, as a Section."""
    cols = visible_columns(df) if not df.empty else list(COLUMNS)
    rows = formatted_rows(df, cols)
    records = json_rows(df) if not df.empty else ()  # the rows' json values, as columns
    return Section("cases", "All measured cases", tuple(COLUMNS[c] for c in cols), tuple(rows), records)


def _baselines(ctx: Context) -> dict[str, str]:
    """--baseline over the manifest's [[model]] baseline over the published row's."""
    out = {r.model: r.baseline for r in ctx.published if r.baseline}
    out.update({name: str(m["baseline"]) for name, m in ctx.models.items() if m.get("baseline")})
    out.update(ctx.baselines)
    return out


def _device_labels(infos: Sequence[RunInfo]) -> dict[str, str]:
    """Device id -> 'Xiaomi MI 9 (emulated) (msmnile, Android 9)', for every phone of every run (farms too)."""
    return {d.id: device_label(replace(i, device=d)) for i in infos for d in (*i.devices, i.device)}


def measured_on(infos: Sequence[RunInfo]) -> str:
    """The plots' footer: 'measured on Xiaomi MI 9 (emulated) (msmnile, Android 9)' (every device, once)."""
    labels = dict.fromkeys(_device_labels([i for i in infos if i.settings.get("source") != "parse"]).values())
    return f"measured on {'; '.join(labels)}" if labels else ""


def comparison_section(ctx: Context) -> Section:
    inputs = comparison.Inputs(
        measured=ctx.table, published=ctx.published,
        backbones={n: str(m.get("backbone") or "") for n, m in ctx.models.items()},
        baselines=_baselines(ctx), devices=_device_labels(ctx.infos), gmacs=ctx.gmacs)
    section, _ = comparison.build(inputs, ctx.config)
    return section


def runtimes_section(ctx: Context) -> Section | None:
    """The runtime comparison over the cases of one config (--config, else the seed's 1 thread on the big cores
    when measured, else the first measured case's); every ok case has an avg, so none is left out for its tool."""
    rows, config, _ = comparison.select_config(ctx.table, ctx.config, "avg")
    return breakdown.runtimes_section(rows, ctx.architectures, config)


def _footer(ctx: Context, shown: Sequence[str], with_published: bool) -> list[str]:
    tools = [" ".join(x for x in (tool, version) if x)
             for tool, version in zip(ctx.records["tool"].tolist(), ctx.records["tool_version"].tolist()) if tool]
    heads = {name: str(m["head"]) for name, m in ctx.models.items() if m.get("head")}
    lines = footer_lines(ctx.infos, tools, breakdown.timed_region(shown, heads) if shown else None)
    published = ctx.published if with_published else ()
    for source, tool, stat in dict.fromkeys((r.source, str(r.extra["tool"]), r.extra.get("latency_stat"))
                                            for r in published if r.extra.get("tool")):
        lines.append(f"published latency ({source}): {tool}" + (f"; the {stat} of the timed runs" if stat else ""))
    return lines


def _optional(view: str, key: str, make: Callable[[], Section | None], title: str, why_empty: str) -> list[Section]:
    """A table only some runs have data for: left out of ``--view all`` without data; asked for by name, an
    empty table that says why."""
    if view not in (key, "all"):
        return []
    section = make()
    if section is None and view == key:
        section = Section(key, title, (), (), notes=(why_empty,))
    return [section] if section is not None else []


def build(ctx: Context, view: str, plot_dir: Path | None) -> Document:
    """The sections of ``view`` (``all``: those with data), footer and plots written to ``plot_dir``."""
    sections: list[Section] = []
    if view in ("comparison", "all"):
        sections.append(comparison_section(ctx))
    sections += _optional(view, "sweep", lambda: breakdown.sweep_section(ctx.table), "Sweep: threads x power mode",
                          "no model was measured at more than one thread count or power mode")
    sections += _optional(view, "runtimes", lambda: runtimes_section(ctx), "Runtimes: one architecture across "
                          "runtimes and precisions", "no architecture was measured ok in more than one runtime or "
                          "precision (architecture, format and precision: docs/report.md)")
    sections += _optional(view, "ops", lambda: breakdown.ops_section(profiled(ctx.records)), "Per-operator breakdown",
                          "no record carries a per-operator profile (ops_by_type)")
    if view in ("cases", "all"):
        sections.append(cases_section(ctx.table))
    shown = [str(m) for m in ctx.table["model"]] if not ctx.table.empty else []
    written = _plots(sections, plot_dir, measured_on(ctx.infos)) if plot_dir else []
    runs = tuple(i.to_dict() for i in ctx.infos)
    return Document("segbench report", tuple(sections), tuple(_footer(ctx, shown, any(s.key == "comparison" for s in sections))), runs,
                    tuple(p for p in written if p.suffix == ".png"))


def _plots(sections: Sequence[Section], out_dir: Path, note: str) -> list[Path]:
    by_key = {s.key: s for s in sections}
    written: list[Path] = []
    if "comparison" in by_key:
        points = [(r["label"], {m: r[m] for m in ("miou", "latency_ms", "params_m") if r.get(m) is not None},
                   "measured" if str(r.get("latency_ms_source") or "").startswith("measured") else "published")
                  for r in by_key["comparison"].records]
        written += plots.plot_points(points, "Comparison", out_dir, note)
    if "sweep" in by_key and by_key["sweep"].records:
        written += plots.plot_sweep(by_key["sweep"].records, out_dir, note)
    if "ops" in by_key and by_key["ops"].records:
        written += plots.plot_ops(by_key["ops"].records, out_dir, note)
    return written
