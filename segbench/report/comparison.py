"""The paper's comparison table from measured runs, merged with a published table.

Model | Backbone | mIoU (%) | latency (ms) | params (M) (+ numeric extras a published table carries, e.g.
GMACs). Each cell is measured when we have it (latency: the selected config's figure in the statistic the
published table states with ``latency_stat`` (PP-MobileSeg's: benchmark_bin's min), median when it states none;
params and MACs:
`segbench inspect` of the timed file; mIoU: `segbench eval`), else published, and carries its source as a
footnote marker. A delta against the row's baseline is printed only when both cells share one source
(the same device and config, or the same published table): a measured latency against a published one
would compare two phones, so it is left out and said so in a note. A measured latency is shown beside the
paper's figure for the same model, with its difference (the reproduction check). A measured case that cannot
fill the column (its tool gives no such statistic) is named in a note, never dropped silently.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from segbench.errors import UsageError
from segbench.report.document import Section
from segbench.report.published import (
    DIGITS,
    EXTRA_HEADERS,
    HEADERS,
    LATENCY_STATS,
    METRICS,
    PublishedRow,
    delta,
    format_delta,
    latency_stat,
)

CONFIG_KEYS = ("threads", "power_mode", "runtime", "device")
# What the seed measured (1 thread on the big cores); the default when runs have it.
SEED_CONFIG = {"threads": "1", "power_mode": "high"}


@dataclass(frozen=True)
class Cell:
    value: float | None = None
    source: str | None = None


@dataclass(frozen=True)
class Inputs:
    """What the table is made of; the CLI gathers it (runs, manifest, inspect cache)."""

    measured: pd.DataFrame  # tables.summary + accuracy.with_accuracy
    published: Sequence[PublishedRow]  # one table's rows
    backbones: Mapping[str, str]  # model name -> backbone (manifest [[model]])
    baselines: Mapping[str, str]  # model name -> baseline: --baseline over manifest over the published row
    devices: Mapping[str, str]  # device id -> "Xiaomi MI 9 (SM8150, Android 11)"
    gmacs: Mapping[str, float]  # model sha256 -> inspected GMACs


def parse_config(text: str | None) -> dict[str, str]:
    """``threads=1,power_mode=high`` -> {"threads": "1", "power_mode": "high"}."""
    out: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in CONFIG_KEYS or not value.strip():
            raise UsageError(f"--config {text!r}: expected KEY=VALUE[,KEY=VALUE] with keys {', '.join(CONFIG_KEYS)}")
        out[key] = value.strip()
    return out


def select_config(measured: pd.DataFrame, config: Mapping[str, str], stat: str = "median",
                  ) -> tuple[list[dict], dict[str, str], list[str]]:
    """The measured rows (ok, with the statistic) of the chosen config, that config, and notes naming the ok
    rows of that config that cannot fill the column.

    No --config: the seed's (1 thread, high) when measured, else the first measured row's config, so
    every latency in the column comes from the same setting.
    """
    column = LATENCY_STATS[stat]
    # Rows are chosen on a few columns' values; only the chosen ones are made into dicts (a farm's table has
    # 100,000 rows, the comparison a few). The values are those to_dict("records") gives (the same boxing).
    keys = [k for k in dict.fromkeys(("status", column, *CONFIG_KEYS, *config)) if k in measured.columns]
    values = {k: _native(measured[k]) for k in keys}

    def get(key: str, i: int) -> object:
        return values[key][i] if key in values else None

    def matches(i: int, config: Mapping[str, str]) -> bool:
        return all(str(get(k, i)) == v for k, v in config.items())

    def records(index: list[int]) -> list[dict]:
        if not index:
            return []
        chosen = measured.iloc[index]
        names = list(chosen.columns)
        return [dict(zip(names, row)) for row in zip(*(_native(chosen[c]) for c in names))]

    ok = [i for i in range(len(measured)) if get("status", i) == "ok"]
    rows = [i for i in ok if number(get(column, i))]
    lacking = [i for i in ok if not number(get(column, i))]
    if not rows:
        notes = [_lacks(r, stat) for r in records(lacking)]
        return [], dict(config), notes
    if not config:
        first = rows[0]
        config = SEED_CONFIG if any(matches(i, SEED_CONFIG) for i in rows) else \
            {"threads": str(get("threads", first)), "power_mode": str(get("power_mode", first))}
    chosen = [i for i in rows if matches(i, config)]
    if not chosen:
        have = sorted({f"threads={get('threads', i)},power_mode={get('power_mode', i)},runtime={get('runtime', i)}"
                       for i in rows})
        raise UsageError(f"no measured case matches --config {_config_text(config)}", hint=f"measured: {'; '.join(have)}")
    return records(chosen), dict(config), [_lacks(r, stat) for r in records([i for i in lacking if matches(i, config)])]


def _native(column: pd.Series) -> list:
    """A column's values as to_dict gives them (numpy scalars as Python's), a column at a time."""
    values = column.tolist()  # Python scalars for numeric columns
    if column.dtype == object and any(issubclass(t, np.generic) for t in set(map(type, values))):
        values = [v.item() if isinstance(v, np.generic) else v for v in values]
    return values


def _lacks(row: Mapping[str, object], stat: str) -> str:
    tool = row.get("tool") or row.get("runtime")
    return (f"{row['model']} ({_case(row)}): measured, but {tool} gives no {stat} of the timed runs, which this "
            "table's latency column is; not shown")


def _case(row: Mapping[str, object]) -> str:
    return f"threads={row['threads']},power_mode={row['power_mode']},runtime={row['runtime']},device={row['device']}"


def _config_text(config: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in config.items())


def number(value: object) -> float | None:
    """A cell's value as a float; None for missing, NaN, bools and text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(float(value)):
        return float(value)
    return None


def _published_source(r: PublishedRow, metric: str) -> str:
    where = f" on {r.device}" if metric == "latency_ms" and r.device else ""
    return f"published: {r.source}, {r.table}{where}"


def _latency_source(row: Mapping[str, object], devices: Mapping[str, str], stat: str) -> str:
    device = devices.get(str(row["device"]), str(row["device"]))
    tool = " ".join(str(x) for x in (row.get("tool"), row.get("tool_version")) if x)
    return (f"measured on {device}: {row['runtime']}{f' ({tool})' if tool else ''}, {row['threads']} thread(s), "
            f"power mode {row['power_mode']}, {stat} of {row.get('n') or '?'} timed runs")


INSPECTED = "measured: `segbench inspect` of the timed model file"


def _measured_cells(row: Mapping[str, object], inputs: Inputs, stat: str) -> dict[str, Cell]:
    cells = {"latency_ms": Cell(number(row.get(LATENCY_STATS[stat])), _latency_source(row, inputs.devices, stat))}
    if (params := number(row.get("params_m"))) is not None:
        cells["params_m"] = Cell(params, INSPECTED)
    source = str(row.get("miou_source") or "")
    if (miou := number(row.get("miou_pct"))) is not None and source.startswith("measured"):
        cells["miou"] = Cell(miou, source)
    if (gmacs := inputs.gmacs.get(str(row.get("sha256") or ""))) is not None:
        cells["gmacs"] = Cell(gmacs, INSPECTED)
    return cells


@dataclass(frozen=True)
class _Row:
    model: str
    label: str
    backbone: str
    cells: dict[str, Cell]
    published: dict[str, Cell]  # published figures of extra columns, shown beside a measured one


def _rows(inputs: Inputs, chosen: list[dict], extras: list[str], stat: str) -> tuple[list[_Row], list[str]]:
    notes: list[str] = []
    by_model: dict[str, dict] = {}
    for r in chosen:
        if r["model"] in by_model:
            first = by_model[r["model"]]
            notes.append(f"{r['model']}: also measured at {_case(r)}; showing {_case(first)} "
                         "(narrow with --config threads=...,power_mode=...,runtime=...,device=...)")
            continue
        by_model[r["model"]] = r
    out = []
    published = {r.model: r for r in inputs.published}
    for name in [*published, *[m for m in by_model if m not in published]]:
        pub = published.get(name)
        cells = {m: Cell(pub.values[m], _published_source(pub, m)) for m in METRICS if pub and m in pub.values}
        pub_extra = {k: Cell(float(pub.extra[k]), _published_source(pub, k)) for k in extras
                     if pub and number(pub.extra.get(k)) is not None}
        cells.update(pub_extra)
        if name in by_model:
            cells.update(_measured_cells(by_model[name], inputs, stat))
            measured = _measured_cells(by_model[name], inputs, stat)
            # the paper's figure for the same model, beside each measured one
            pub_extra = {**pub_extra, **{m: Cell(pub.values[m], _published_source(pub, m)) for m in METRICS
                                         if pub and m in pub.values and measured.get(m, Cell()).value is not None}}
        backbone = (pub.backbone if pub and pub.backbone else None) or inputs.backbones.get(name, "")
        out.append(_Row(name, pub.label if pub else name, backbone, cells, pub_extra))
    return out, notes


def _format(metric: str, cell: Cell, base: Cell | None, marker: int) -> str:
    if cell.value is None:
        return ""
    text = f"{cell.value:.{digits(metric, cell.value)}f}"
    if base is not None and base.value and base.source == cell.source:
        text += f" ({format_delta(metric if metric in METRICS else 'latency_ms', delta(metric, cell.value, base.value))})"
    return f"{text} [{marker}]"


def build(inputs: Inputs, config: Mapping[str, str] | None = None) -> tuple[Section, dict[str, str]]:
    """The comparison Section and the config whose latencies fill it."""
    stat = latency_stat(inputs.published) if inputs.published else "median"
    chosen, used, lacking = select_config(inputs.measured, config or {}, stat)
    extras = [k for r in inputs.published for k, v in r.extra.items() if number(v) is not None]
    extras = list(dict.fromkeys(extras))
    rows, notes = _rows(inputs, chosen, extras, stat)
    notes = [*lacking, *notes]
    metrics = [m for m in METRICS if any(m in r.cells for r in rows)]
    columns = [*extras, *metrics]
    sources: dict[str, int] = {}
    by_model = {r.model: r for r in rows}
    display, records = [], []
    for r in rows:
        base = by_model.get(inputs.baselines.get(r.model, ""))
        cells, record = [r.label, r.backbone], {"model": r.model, "label": r.label, "backbone": r.backbone,
                                                "baseline": base.model if base else None}
        for col in columns:
            cell, base_cell = r.cells.get(col, Cell()), base.cells.get(col) if base else None
            marker = sources.setdefault(cell.source, len(sources) + 1) if cell.source else 0
            text = _format(col, cell, base_cell, marker)
            pub = r.published.get(col)
            if pub is not None and pub.source != cell.source and cell.value is not None:  # measured beside published
                kind = col if col in METRICS else "latency_ms"  # mIoU in points, the others relative
                ours = f", {format_delta(kind, delta(kind, cell.value, pub.value))}" if pub.value else ""
                text += f" (published {pub.value:g} [{sources.setdefault(pub.source or '', len(sources) + 1)}]{ours})"
                record[f"{col}_published"] = pub.value
            if base_cell is not None and cell.value is not None and base_cell.source != cell.source:
                notes.append(f"{r.label} {_header(col)}: no delta against {base.label} ({_kind(cell)} vs "
                             f"{_kind(base_cell)})")
            same = base_cell is not None and cell.value is not None and base_cell.value and base_cell.source == cell.source
            record.update({col: cell.value, f"{col}_source": cell.source,
                           f"{col}_delta": delta(col, cell.value, base_cell.value) if same else None})  # type: ignore[arg-type]
            cells.append(text)
        display.append(tuple(cells))
        records.append(record)
    headers = ("Model", "Backbone", *[_header(c) for c in columns])
    legend = [f"[{n}] {s}" for s, n in sources.items()]
    explain = ("deltas against each row's baseline, only between cells of the same source: mIoU in points, "
               "the others relative to the baseline; a measured cell's published figure for the same model follows "
               "it, with the measured value's difference from it")
    what = (f"{stat} of the timed runs, {_config_text(used)}" if used
            else f"{stat} of the timed runs, which no measured case gives" if lacking else "no measured runs")
    return Section("comparison", f"Comparison (latency: {what})", headers,
                   tuple(display), tuple(records), (*legend, explain, *notes)), used


def digits(metric: str, value: float) -> int:
    """The seed's digits (mIoU 2, latency 1, params 2), more for small host models (0.21 ms, 0.0012 M)."""
    n = DIGITS.get(metric, 2)
    while n < 4 and 0 < abs(value) < 10 ** (2 - n):
        n += 1
    return n


def _header(col: str) -> str:
    return HEADERS.get(col) or EXTRA_HEADERS.get(col, col)


def _kind(cell: Cell) -> str:
    return "measured" if (cell.source or "").startswith("measured") else "published"
