"""Published comparison tables (manifest.toml ``[[published]]`` rows) in the seed's layout, with checks.

Deltas are formatted as PP-MobileSeg's README prints them: mIoU in points (``36.70 (+1.7)``), latency and
params relative to the baseline row (``215.3 (-53.1%)``). Every delta a table prints is recomputed from
its own columns; one that differs by more than 0.1 (points or percentage points) is listed as a note,
and so is a model whose figures differ between two tables of the same source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segbench.errors import ModelError
from segbench.validate import item as want_item
from segbench.validate import items, read_toml, shown, want

if TYPE_CHECKING:
    from segbench.report.document import Document


METRICS = ("miou", "latency_ms", "params_m")
HEADERS = {"miou": "mIoU (%)", "latency_ms": "latency (ms)", "params_m": "params (M)"}
DIGITS = {"miou": 2, "latency_ms": 1, "params_m": 2}
# Extra numeric keys some tables carry (TI edgeai: GigaMACs); unknown keys are shown under their own name.
EXTRA_HEADERS = {"gmacs": "GMACs"}
# Published deltas that disagree with their own columns by more than this are listed.
TOLERANCE = 0.1


@dataclass(frozen=True)
class PublishedRow:
    table: str
    source: str
    model: str
    label: str
    backbone: str | None = None
    values: dict[str, float] = field(default_factory=dict)
    baseline: str | None = None
    deltas: dict[str, str] = field(default_factory=dict)
    device: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def read_published(manifest: Path) -> list[PublishedRow]:
    """The ``[[published]]`` rows of a manifest.toml, in file order."""
    data = read_toml(manifest, ModelError)
    rows = []
    for i, item in enumerate(items(data, "published", dict, str(manifest), optional=True, error=ModelError) or ()):
        rows.append(_row(item, f"{manifest}: [[published]] {i + 1}"))
    return rows


_ROW_KEYS = {"table", "source", "model", "label", "backbone", "baseline", "deltas", "device", *METRICS}


def _row(item: dict[str, Any], where: str) -> PublishedRow:
    """One [[published]] table, every value of its documented type; numeric extras (gmacs) finite."""
    def text(key: str, **checks: Any) -> Any:
        return want_item(item, key, str, where, error=ModelError, **checks)

    values = {k: v for k in METRICS if (v := want_item(item, k, float, where, optional=True, error=ModelError))
              is not None}
    deltas = want_item(item, "deltas", dict, where, optional=True, error=ModelError) or {}
    for key, printed in deltas.items():
        try:
            _parse_delta(printed if isinstance(printed, str) else "x")
        except ValueError:
            raise ModelError(f"{where}: deltas.{key} must be a delta as the table prints it (\"+1.7\", "
                             f"\"-48.2%\"), not {shown(printed)}") from None
    for key, value in item.items():
        if key not in _ROW_KEYS and isinstance(value, (int, float)) and not isinstance(value, bool):
            want(value, float, f"{where}: {key}", error=ModelError)
    model = text("model", nonempty=True)
    return PublishedRow(
        table=text("table", nonempty=True), source=text("source", optional=True) or "", model=model,
        label=text("label", optional=True) or model, backbone=text("backbone", optional=True), values=values,
        baseline=text("baseline", optional=True), deltas={k: str(v) for k, v in deltas.items()}, device=text("device", optional=True),
        extra={k: v for k, v in item.items() if k not in _ROW_KEYS})


# Which statistic of the timed runs a published latency column is (``latency_stat`` in its [[published]] rows),
# and the summary-table column that holds the same statistic for a measured case.
LATENCY_STATS = {"median": "median_ms", "min": "min_ms", "avg": "avg_ms", "p90": "p90_ms"}


def latency_stat(rows: Sequence[PublishedRow]) -> str:
    """The statistic of one table's latency column: the ``latency_stat`` its rows give (median when none do)."""
    stats = {str(r.extra["latency_stat"]) for r in rows if "latency_stat" in r.extra}
    bad = sorted(s for s in stats if s not in LATENCY_STATS)
    if bad:
        raise ModelError(f"[[published]] latency_stat {bad[0]!r} is not one of {', '.join(LATENCY_STATS)}")
    if len(stats) > 1:
        raise ModelError(f"the rows of table {rows[0].table!r} give different latency_stat: {', '.join(sorted(stats))}")
    return stats.pop() if stats else "median"


def delta(metric: str, value: float, base: float) -> float:
    """mIoU: difference in points; latency and params: change relative to the baseline, in percent."""
    return value - base if metric == "miou" else 100.0 * (value / base - 1.0)


def format_delta(metric: str, d: float) -> str:
    return f"{d:+.1f}" if metric == "miou" else f"{d:+.1f}%"


def _parse_delta(text: str) -> float:
    return float(text.strip().rstrip("%"))


def cell(metric: str, value: float | None, base: float | None) -> str:
    if value is None:
        return ""
    text = f"{value:.{DIGITS[metric]}f}"
    if base is None or base == 0:
        return text
    return f"{text} ({format_delta(metric, delta(metric, value, base))})"


def extra_columns(rows: Sequence[PublishedRow]) -> tuple[list[str], list[str]]:
    """(text keys, numeric keys) of a table's extra columns, in first-seen order.

    A text key (dataset, resolution) is shown only when it varies within the table: a constant says
    nothing per row and belongs in the caption. A numeric key (gmacs) is always shown.
    """
    text: list[str] = []
    numeric: list[str] = []
    for r in rows:
        for key, value in r.extra.items():
            is_num = isinstance(value, (int, float)) and not isinstance(value, bool)
            target = numeric if is_num else text
            if key not in target and isinstance(value, (int, float, str)):
                target.append(key)
    varying = [k for k in text if k not in numeric and all(k in r.extra for r in rows)
               and len({str(r.extra[k]) for r in rows}) > 1]
    return varying, numeric


def row_remarks(rows: Sequence[PublishedRow]) -> list[str]:
    """Text extras only some rows carry (a footnote such as SeaFormer-Base**'s): said under the table."""
    text, _ = extra_columns(rows)
    out = []
    for r in rows:
        for key, value in r.extra.items():
            if isinstance(value, str) and key not in text and not all(key in o.extra for o in rows):
                out.append(f"{r.label}: {value}")
    return out


def table_headers(rows: Sequence[PublishedRow], table: str) -> list[str]:
    """Model | Backbone | varying text extras | numeric extras | the metrics the table has."""
    mine = [r for r in rows if r.table == table]
    text, numeric = extra_columns(mine)
    metrics = [m for m in METRICS if any(m in r.values for r in mine)]
    backbone = ["Backbone"] if any(r.backbone for r in mine) else []
    return ["Model", *backbone, *text, *[EXTRA_HEADERS.get(k, k) for k in numeric], *[HEADERS[m] for m in metrics]]


def _extra_cell(value: object) -> str:
    # Published extras are shown as printed (TI gives GMACs to 2-4 decimals).
    if isinstance(value, float):
        return f"{value:g}"
    return "" if value is None else str(value)


def table_rows(rows: Sequence[PublishedRow], table: str,
               baselines: dict[str, str] | None = None) -> list[list[str]]:
    """The cells of one published table (columns as table_headers), deltas recomputed."""
    mine = [r for r in rows if r.table == table]
    by_model = {r.model: r for r in mine}
    text, numeric = extra_columns(mine)
    metrics = [m for m in METRICS if any(m in r.values for r in mine)]
    has_backbone = any(r.backbone for r in mine)
    out = []
    for r in mine:
        base_name = (baselines or {}).get(r.model, r.baseline)
        base = by_model.get(base_name) if base_name else None
        cells = [cell(m, r.values.get(m), base.values.get(m) if base else None) for m in metrics]
        extras = [_extra_cell(r.extra.get(k)) for k in (*text, *numeric)]
        out.append([r.label, *([r.backbone or ""] if has_backbone else []), *extras, *cells])
    return out


def consistency_notes(rows: Sequence[PublishedRow]) -> list[str]:
    """Published deltas that do not follow from their own columns; figures that differ between tables."""
    notes = []
    keyed = {(r.source, r.table, r.model): r for r in rows}
    for r in rows:
        base = keyed.get((r.source, r.table, r.baseline)) if r.baseline else None
        for metric, printed in r.deltas.items():
            if base is None or metric not in r.values or metric not in base.values:
                continue
            ours = delta(metric, r.values[metric], base.values[metric])
            if abs(ours - _parse_delta(printed)) > TOLERANCE:
                notes.append(f"{r.source}, {r.table}: {r.label} {HEADERS[metric]} prints {printed} against "
                             f"{base.label}, its own columns give {format_delta(metric, ours)} "
                             f"({r.values[metric]:g} vs {base.values[metric]:g})")
    seen: dict[tuple[str, str], PublishedRow] = {}
    for r in rows:
        first = seen.setdefault((r.source, r.model), r)
        if first is r:
            continue
        for metric in METRICS:
            a, b = first.values.get(metric), r.values.get(metric)
            if a is not None and b is not None and a != b:
                notes.append(f"{r.source}: {r.model} {HEADERS[metric]} is {a:g} in {first.table} "
                             f"({first.label}) but {b:g} in {r.table} ({r.label})")
    return notes


def _caption(rows: Sequence[PublishedRow], table: str) -> list[str]:
    sources = sorted({f"{r.source}, {r.table}" for r in rows if r.table == table})
    devices = sorted({r.device for r in rows if r.table == table and r.device})
    return [f"every cell: published ({'; '.join(sources)}) on {', '.join(devices) or 'unstated device'}",
            "deltas recomputed from the table's own columns: mIoU in points, latency and params relative "
            "to the baseline row", *row_remarks([r for r in rows if r.table == table])]


def published_document(rows: Sequence[PublishedRow], table: str, baselines: dict[str, str] | None = None,
                       plots: Sequence[Path] = ()) -> Document:
    """The published table as a report Document (csv/json/html/latex), notes and plots included."""
    from segbench.report.document import Document, Section

    body = table_rows(rows, table, baselines)
    mine = [r for r in rows if r.table == table]
    text, numeric = extra_columns(mine)
    metrics = [m for m in METRICS if any(m in r.values for r in mine)]
    records = []
    for r in mine:
        rec: dict[str, Any] = {"model": r.model, "label": r.label, "backbone": r.backbone, "source": r.source,
                               "device": r.device, "baseline": (baselines or {}).get(r.model, r.baseline)}
        rec.update({k: r.extra.get(k) for k in (*text, *numeric)})
        rec.update({m: r.values.get(m) for m in metrics})
        rec.update({f"{m}_printed_delta": r.deltas[m] for m in metrics if m in r.deltas})
        records.append(rec)
    notes = [*_caption(rows, table), *[f"does not agree: {n}" for n in consistency_notes(rows)]]
    section = Section("published", f"{table} (published)", tuple(table_headers(rows, table)),
                      tuple(tuple(b) for b in body), tuple(records), tuple(notes))
    return Document(f"segbench report --published: {table}", (section,), plots=tuple(plots))


def render_published(rows: Sequence[PublishedRow], table: str, baselines: dict[str, str] | None = None) -> str:
    """The published table as markdown, then the consistency notes of every table read."""
    from tabulate import tabulate

    body = table_rows(rows, table, baselines)
    if not body:
        tables = sorted({r.table for r in rows})
        raise ModelError(f"no published table named {table!r}", hint=f"tables: {', '.join(tables) or 'none'}")
    text = tabulate(body, headers=table_headers(rows, table), tablefmt="github", disable_numparse=True)
    lines = [text, "", *[f"- {line}" for line in _caption(rows, table)]]
    notes = consistency_notes(rows)
    if notes:
        lines += ["", "Notes (published figures that do not agree):", *[f"- {n}" for n in notes]]
    return "\n".join(lines)
