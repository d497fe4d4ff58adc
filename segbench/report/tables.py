"""Result tables: one row per model x runtime x threads x power mode (per device).

Statistics are computed here, when reading, from the stored per-iteration samples; records
that carry only a tool's summary (parsed logs) contribute their stored figures.

A table is built as columns of Python values (``summary_rows``: a dict of lists, one per ROW_COLUMNS name), which
the markdown renderer prints as it is; pandas makes a DataFrame of it for csv/json and the document's tables
(``summary``, ``summary_of``). numpy and pandas are imported where they are used: the table of one run in markdown
(`segbench report`'s default) needs neither.
"""

from __future__ import annotations

import itertools
import json
import math
import operator
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Union

from segbench import stats
from segbench.model import (
    BACKEND_APPLIED,
    BACKEND_FALLBACK,
    BACKEND_NODES,
    DEFAULT_BACKEND,
    DeviceInfo,
    Measurement,
    RunInfo,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from segbench.columns import Columns
    from segbench.jsontext import Rows

# A table: a DataFrame, or its columns as lists of Python values (summary_rows, accuracy.accuracy_rows).
Table = Union["pd.DataFrame", dict[str, list]]

REPORT_SCHEMA = "segbench.report/1"
GROUP_KEYS = ("device", "model", "runtime", "threads", "power_mode", "backend")
FORMATS = ("markdown", "csv", "json")  # html and latex are documents: report/document.py

COLUMNS = {
    "model": "model", "runtime": "runtime", "threads": "threads", "power_mode": "power mode", "backend": "backend",
    "device": "device", "status": "status", "n": "n", "median_ms": "median (ms)", "p90_ms": "p90 (ms)", "min_ms": "min (ms)",
    "avg_ms": "avg (ms)", "std_ms": "std (ms)", "cv_pct": "CV (%)", "params_m": "params (M)",
    "miou_pct": "mIoU (%)", "miou_source": "mIoU source", "notes": "notes",
}
# Columns shown only when some row has a value.
OPTIONAL = ("params_m", "miou_pct", "miou_source")
# Counts: pandas turns an int column with one missing value (a parsed log without threads, an eval-only row) into
# float64, and 1 would print as 1.000 and stop matching --config threads=1. They are kept as Python ints or None.
INT_COLUMNS = ("threads", "n", "launches")


def keep_ints(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with its INT_COLUMNS as object columns of Python ints and None (the stored values, not floats)."""
    import pandas as pd

    df = df.copy(deep=False)  # copy-on-write (pandas >= 3): the columns set below are the copy's alone
    for col in INT_COLUMNS:
        if col in df.columns:
            values = df[col].tolist()  # Python ints (an int64 column), floats (float64) or objects
            if df[col].dtype.kind == "i" or set(map(type, values)) <= {int, type(None)}:
                df[col] = pd.Series(values, index=df.index, dtype=object)  # ints already: no None to make
            else:
                df[col] = pd.Series([_int_or_none(v) for v in values], index=df.index, dtype=object)
    return df


def _int_or_none(value: object) -> int | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return int(value)  # type: ignore[call-overload]


def _row(group: Sequence[Measurement]) -> dict:
    first = group[0]
    ok = [m for m in group if m.status == "ok"]
    backend, fell_back, flags = backend_cell(first.backend, ok)
    row = {
        "device": first.device_id, "model": first.model.name, "runtime": first.runtime,
        "threads": first.threads, "power_mode": first.power_mode, "backend": backend,
        "status": ("fallback" if fell_back else "ok") if ok else group[-1].status,
        "sha256": first.model.sha256, "run_ids": sorted({m.run_id for m in group}),
        "cpu_mask": first.cpu_mask, "tool": first.tool, "tool_version": first.tool_version,
        "emulated": first.emulated,
    }
    samples = [s for m in ok for s in (m.samples_ms or ())]
    notes: list[str] = []
    if samples:
        lat, n, cv = stats.summarize(samples), len(samples), stats.cv(samples)
        notes += _launch_warnings(ok)
    elif ok:  # tool summaries only: keep what the tool printed (one record; several are not poolable)
        lat, n, cv = ok[-1].latency_ms, ok[-1].count, None
        if len(ok) > 1:
            notes.append(f"{len(ok)} summaries; showing the latest")
    else:
        lat, n, cv = stats.summarize([]), 0, None
        notes.append(str(group[-1].error or group[-1].status))
    notes += thermal_notes(group)
    notes += flags
    notes += list(dict.fromkeys(str(m.extra["oversubscribed"]) for m in ok if m.extra.get("oversubscribed")))
    ci = stats.median_ci(samples) if samples else None
    # Launches (records of the case, in one run or several): the interval that counts is over their figures.
    figures = [x for m in ok if (x := stats.launch_figure(m)) is not None]
    between = stats.launch_ci(figures) if len(figures) > 1 else None
    if between:
        notes.insert(0, f"{len(figures)} launches: 95% CI {between[1]:.4g}-{between[2]:.4g} ms")
    row.update(n=n, median_ms=lat.median, p90_ms=lat.p90, min_ms=lat.min, avg_ms=lat.avg, std_ms=lat.std,
               cv_pct=None if cv is None else 100.0 * cv, notes="; ".join(notes),
               ci_low_ms=ci[0] if ci else None, ci_high_ms=ci[1] if ci else None, launches=len(ok),
               launch_ci_low_ms=between[1] if between else None, launch_ci_high_ms=between[2] if between else None)
    return row


def backend_cell(backend: str | None, ok: Sequence[Measurement]) -> tuple[str, bool, list[str]]:
    """The backend column of a row, whether its accelerator ran none of the model (its figures are the CPU's: the
    row's status is then ``fallback``), and the notes that say so. An accelerator case reads ``gpu (CPU fallback)``,
    ``gpu (partial 12/49)`` or ``gpu (unverified)`` unless every record says the accelerator ran the whole model."""
    name = backend or DEFAULT_BACKEND
    if name == DEFAULT_BACKEND or not ok:
        return name, False, []
    applied = [m.extra.get(BACKEND_APPLIED) for m in ok]
    fallbacks = list(dict.fromkeys(str(m.extra[BACKEND_FALLBACK]) for m in ok if m.extra.get(BACKEND_FALLBACK)))
    if any(a is False for a in applied):
        k = sum(a is False for a in applied)
        some = f" in {k} of {len(ok)} launches" if len(ok) > 1 else ""
        return f"{name} (CPU fallback)", k == len(ok), [f"{f}{some}" for f in fallbacks]
    nodes = [m.extra.get(BACKEND_NODES) for m in ok if m.extra.get(BACKEND_FALLBACK) and m.extra.get(BACKEND_NODES)]
    if nodes:
        n = nodes[-1]
        return f"{name} (partial {n.get('delegated')}/{n.get('total')})", False, fallbacks
    if any(a is None for a in applied):
        return f"{name} (unverified)", False, fallbacks
    return name, False, fallbacks


def _launch_warnings(ok: Sequence[Measurement]) -> list[str]:
    """Stability warnings of each launch's own samples (pooled launches would describe no launch), each said once
    with how many launches it applies to."""
    said: dict[str, int] = {}
    for m in ok:
        for w in stats.stability_warnings(m.samples_ms or ()):
            key = w.split(" (")[0] if w.startswith("slowed") else w
            said[key if len(ok) > 1 else w] = said.get(key if len(ok) > 1 else w, 0) + 1
    if len(ok) <= 1:
        return list(said)
    return [f"{w} in {k} of {len(ok)} launches" for w, k in said.items()]


def thermal_notes(group: Sequence[Measurement]) -> list[str]:
    """What the phone's heat did to these records: throttled (at start: the phone was already hot when the case
    began), and how long the --cooldown before them took."""
    notes = []
    hot = [m for m in group if m.throttled]
    if hot:
        start = sum(bool(m.throttled_at_start) for m in hot)
        when = " (at start)" if start == len(hot) else f" ({start} at start)" if start else ""
        notes.append(f"throttled{when}" + (f" in {len(hot)} of {len(group)} records" if len(group) > 1 else ""))
    waits = [m.cooldown_s for m in group if m.cooldown_s is not None]
    if waits:
        notes.append(f"cooldown {max(waits):.1f} s" if len(waits) == 1 else
                     f"cooldown {min(waits):.1f}-{max(waits):.1f} s")
    return notes


ROW_COLUMNS = [*COLUMNS, "sha256", "run_ids", "cpu_mask", "tool", "tool_version", "emulated", "ci_low_ms", "ci_high_ms",
               "launches", "launch_ci_low_ms", "launch_ci_high_ms"]
# The row of a group of one record, and its launch figure, kept per record in the store's columns (the figures
# of any number of records of one case come from them, not from per-row statistics at every report).
DERIVED = ("backend", "status", "n", "median_ms", "p90_ms", "min_ms", "avg_ms", "std_ms", "cv_pct", "notes", "ci_low_ms",
           "ci_high_ms", "launches", "launch_ci_low_ms", "launch_ci_high_ms")


def record_rows(records: Sequence[Measurement]) -> dict[str, list]:
    """Per record: the figures of its row as a group of one (``_row([m])``) and its launch figure (compare's),
    computed for all records at once (stats.segments): building a run's cache costs about what reading it does.
    The values are ``_row([m])``'s and ``stats.launch_figure(m)``'s, of the same Python types."""
    import numpy as np

    n = len(records)
    lengths = np.fromiter((len(m.samples_ms or ()) for m in records), dtype=np.int64, count=n)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.fromiter((x for m in records for x in (m.samples_ms or ())), dtype=np.float64, count=int(offsets[-1]))
    seg = stats.segments(flat, offsets)
    fig = {k: _nan_none(v.tolist()) for k, v in seg.items() if k != "outliers"}
    n_outliers = seg["outliers"].tolist()
    out: dict[str, list] = {k: [] for k in (*DERIVED, "launch_figure")}
    for i, m in enumerate(records):
        ok = m.status == "ok"
        backend, fell_back, flags = backend_cell(m.backend, [m] if ok else [])
        k = int(lengths[i])
        notes: list[str] = []
        if ok and k:
            median, p90, low, avg, std = (fig[f][i] for f in ("median", "p90", "min", "avg", "std"))
            cv = fig["cv"][i]
            halves = (fig["first_half"][i], fig["second_half"][i]) if k >= 20 else None
            notes += stats.warnings_of(k, cv, n_outliers[i], halves)
            count: int | None = k
            ci = (fig["ci_low"][i], fig["ci_high"][i])
        elif ok:  # the tool's summary only
            lat = m.latency_ms
            median, p90, low, avg, std, cv, count, ci = lat.median, lat.p90, lat.min, lat.avg, lat.std, None, m.count, None
        else:
            median = p90 = low = avg = std = cv = ci = None
            count = 0
            notes.append(str(m.error or m.status))
        notes += thermal_notes([m])
        notes += flags
        if ok and m.extra.get("oversubscribed"):
            notes.append(str(m.extra["oversubscribed"]))
        for key, value in (("backend", backend), ("status", ("fallback" if fell_back else "ok") if ok else m.status),
                           ("n", count), ("median_ms", median), ("p90_ms", p90), ("min_ms", low), ("avg_ms", avg),
                           ("std_ms", std), ("cv_pct", None if cv is None else 100.0 * cv), ("notes", "; ".join(notes)),
                           ("ci_low_ms", ci[0] if ci else None), ("ci_high_ms", ci[1] if ci else None),
                           ("launches", int(ok)), ("launch_ci_low_ms", None), ("launch_ci_high_ms", None)):
            out[key].append(value)
        # stats.launch_figure: the median of its samples whatever its status, else the tool's median or avg
        out["launch_figure"].append(fig["median"][i] if k else
                                    m.latency_ms.median if m.latency_ms.median is not None else m.latency_ms.avg)
    return out


def _nan_none(values: list[float]) -> list[float | None]:
    return [None if v != v else v for v in values]


def derive_tag() -> str:
    """The version of record_rows: a hash of the code it runs, so that cached figures are made again by any change
    of how a row is computed (a cache is never trusted across versions)."""
    import hashlib
    from pathlib import Path

    h = hashlib.sha256()
    for module in (__file__, stats.__file__, Path(stats.__file__).with_name("model.py")):
        h.update(Path(module).read_bytes())
    return "rows:" + h.hexdigest()[:16]


def summary(measurements: Sequence[Measurement], params: Mapping[str, int] | None = None) -> pd.DataFrame:
    """The grouped table, in first-seen order of groups.

    ``params`` maps a model's sha256 to its inspected params (segbench.modelinfo.cache); rows whose
    model is not in it have no params value.
    """
    return frame(summary_rows(measurements, params))


# One row per case identity: the same name with another file or tool version is another row. The CPUs it ran on
# too: records of one power mode on other cores (another topology) are never pooled.
IDENTITY = ("device", "model", "runtime", "threads", "power_mode", "backend", "sha256", "tool", "tool_version",
            "cpu_mask")
# The values of a row that come from its group's first record; the rest (DERIVED, run_ids) from all of its records.
FIRST = ("device", "model", "runtime", "threads", "power_mode", "sha256", "cpu_mask", "tool", "tool_version",
         "emulated")
# A record's IDENTITY values: the Measurement attribute of each column's name, but for these.
_identity_of = operator.attrgetter(*({"device": "device_id", "model": "model.name", "sha256": "model.sha256"}
                                     .get(k, k) for k in IDENTITY))
_BACKEND_AT = IDENTITY.index("backend")


def summary_rows(measurements: Sequence[Measurement], params: Mapping[str, int] | None = None) -> dict[str, list]:
    """summary()'s table as columns of Python values (ROW_COLUMNS -> one value per row), from the records
    themselves: each group's row is ``_row`` of its records (for one record, what record_rows caches for it)."""
    groups: dict[tuple, list[Measurement]] = {}
    for m in measurements:
        key = _identity_of(m)
        if m.backend is None:  # the default backend, as summary_of pools it
            key = (*key[:_BACKEND_AT], DEFAULT_BACKEND, *key[_BACKEND_AT + 1:])
        groups.setdefault(key, []).append(m)
    rows = [_row(records) for records in groups.values()]
    return _finish({k: [row[k] for row in rows] for k in (*FIRST, *DERIVED, "run_ids")}, params, len(rows))


def frame(table: Table) -> pd.DataFrame:
    """A table as the DataFrame csv, json and the report's documents take (ints kept as ints)."""
    import pandas as pd

    if isinstance(table, pd.DataFrame):
        return table
    if not table or not len(next(iter(table.values()))):
        return keep_ints(pd.DataFrame([], columns=list(table) or ROW_COLUMNS))
    # The counts as objects from the start (keep_ints' columns) and the arrays taken as they are: no copy of the
    # whole table (a farm's history is a million rows).
    columns = {k: _int_objects(v) if k in INT_COLUMNS else v for k, v in table.items()}
    return pd.DataFrame(columns, columns=list(table), copy=False)


def _int_objects(values: Sequence) -> np.ndarray:
    """A count column as keep_ints makes it: an object array of Python ints and None."""
    from segbench.columns import object_array

    return object_array(values if set(map(type, values)) <= {int, type(None)} else [_int_or_none(v) for v in values])


def summary_of(cols: Columns, params: Mapping[str, int] | None = None) -> pd.DataFrame:
    """summary() of records as columns (segbench.columns, with record_rows derived): groups of one record take the
    row cached with it; the records of larger groups are read whole and grouped as summary() always has."""
    import numpy as np

    from segbench.columns import object_array, python_values

    n = len(cols)
    if n == 0:
        return frame({k: [] for k in ROW_COLUMNS})
    # One row per case identity: the same name with another file or tool version is another row.
    # The CPUs it ran on too: records of one power mode on other cores (another topology) are never pooled.
    # Text columns are grouped by their codes (Columns.codes): the same groups, at the speed of ints.
    keys = {k: _key(cols, k) for k in IDENTITY}
    gid = _factorize(list(keys.values()))
    groups = int(gid.max()) + 1
    sizes = np.bincount(gid, minlength=groups)
    first = np.full(groups, n, dtype=np.int64)
    np.minimum.at(first, gid, np.arange(n))
    out: dict[str, np.ndarray] = {}
    for key in FIRST:
        out[key] = python_values(cols[key][first])
    for key in DERIVED:
        column = cols["d_" + key][first]
        # floats stay float64 (NaN where missing), as the frame holds them: not a Python float per cell and back
        out[key] = column if column.dtype.kind == "f" else python_values(column)
    run_ids = cols["run_id"][first]
    out["run_ids"] = object_array([[r] for r in run_ids])
    pooled = np.nonzero(sizes > 1)[0]
    if pooled.size:
        members = np.nonzero(sizes[gid] > 1)[0]  # file order
        whole = dict(zip(members.tolist(), cols.records(members.tolist())))
        by_group: dict[int, list[Measurement]] = {}
        for i in members.tolist():
            by_group.setdefault(int(gid[i]), []).append(whole[i])
        for g, records in by_group.items():
            row = _row(records)
            for key in (*DERIVED, "run_ids"):
                value = row[key]
                out[key][g] = math.nan if value is None and out[key].dtype.kind == "f" else value
    # The first record's keys as codes, for the notes that compare rows (_name_collisions_of)
    firsts = {k: keys[k][first] for k in (*GROUP_KEYS, "sha256", "tool", "tool_version") if k in FIRST}
    return frame(_finish(out, params, groups, firsts))


def _key(cols: Columns, name: str) -> np.ndarray:
    """A column to group by: a text column as codes of its texts (a missing backend is the default one), another
    as it is."""
    from segbench.columns import STRINGS, renumbered

    if name not in STRINGS:
        return cols[name]
    codes, values = cols.codes(name)
    if name == "backend":  # a record without a backend ran on the default one: one group with it
        codes, _ = renumbered([(codes, [DEFAULT_BACKEND if v is None else v for v in values])])
    return codes


def _finish(out: dict[str, list], params: Mapping[str, int] | None, groups: int,
            keys: Mapping[str, np.ndarray] | None = None) -> dict[str, list]:
    """The rows' params and the notes that compare rows with each other, added to ``out`` (one list per column, or
    a numpy array: objects, or float64 for a figure); every ROW_COLUMNS name, in order. ``keys``: some of its
    columns as codes to group by (summary_of's)."""
    counts = [(params or {}).get(sha or "") for sha in out["sha256"]]
    out["params_m"] = [None if c is None else c / 1e6 for c in counts]
    _name_collisions_of(out, keys or {})
    _core_differences_of(out)
    # Columns no row sets (mIoU: with_accuracy's) are NaN, as pandas makes them from rows that lack the key.
    return {k: out[k] if k in out else [math.nan] * groups for k in ROW_COLUMNS}


def _factorize(keys: Sequence[np.ndarray]) -> np.ndarray:
    """Group ids (0, 1, ... in first-seen order) of the rows of several key columns (None is a value)."""
    import numpy as np
    import pandas as pd

    gid = np.zeros(len(keys[0]), dtype=np.int64)
    for key in keys:
        codes, uniques = pd.factorize(key, use_na_sentinel=False)
        gid, _ = pd.factorize(gid * (len(uniques) + 1) + codes, use_na_sentinel=False)
    return gid.astype(np.int64)


def _name_collisions_of(out: dict[str, list], keys: Mapping[str, np.ndarray]) -> None:
    """Rows of one name and config that differ in file or tool version say so (they are never pooled). ``keys``:
    some of those columns as codes (equal codes exactly where the values are equal), to group by instead."""
    if not isinstance(out["notes"], list):
        return _name_collisions_at_once(out, keys)
    keys = list(zip(*(out[k] for k in GROUP_KEYS)))
    sizes = Counter(keys)
    if len(sizes) == len(keys):
        return
    texts: dict[tuple, str] = {}  # one text per file and tool: a night's export is in many rows
    notes = out["notes"]
    for i, (key, sha, tool, version) in enumerate(zip(keys, out["sha256"], out["tool"], out["tool_version"])):
        same = sizes[key]
        if same < 2:
            continue
        said = (same, sha, tool, version)
        text = texts.get(said)
        if text is None:
            text = texts[said] = _collision_text(*said)
        notes[i] = _noted(notes[i], text)


def _name_collisions_at_once(out: dict[str, np.ndarray], keys: Mapping[str, np.ndarray]) -> None:
    """_name_collisions_of for columns as numpy object arrays (summary_of): the rows grouped with numpy and each
    distinct text made once, not a Python step per row (a farm's nightly exports make a million rows of it)."""
    import numpy as np

    from segbench.columns import object_array

    def key(k: str) -> np.ndarray:
        return keys[k] if k in keys else np.asarray(out[k], dtype=object)

    gid = _factorize([key(k) for k in GROUP_KEYS])
    sizes = np.bincount(gid)[gid]
    rows = np.flatnonzero(sizes > 1)
    if not rows.size:
        return
    said = [sizes[rows], *(key(k)[rows] for k in ("sha256", "tool", "tool_version"))]
    kind = _factorize(said)
    first = _firsts(kind)
    texts = object_array([_collision_text(int(sizes[rows[i]]), *(out[k][rows[i]] for k in ("sha256", "tool",
                                                                                         "tool_version")))
                          for i in first.tolist()])
    notes = np.asarray(out["notes"], dtype=object)
    pair = _factorize([notes[rows], kind])  # each (earlier note, text) once
    first = _firsts(pair)
    noted = object_array([_noted(notes[rows[i]], texts[kind[i]]) for i in first.tolist()])
    notes[rows] = noted[pair]
    out["notes"] = notes


def _firsts(gid: np.ndarray) -> np.ndarray:
    """The first index of each group id 0, 1, ... (as _factorize numbers them: in first-seen order)."""
    import numpy as np

    _, first = np.unique(gid, return_index=True)
    return first


def _collision_text(same: int, sha: str | None, tool: str | None, version: str | None) -> str:
    what = f"file {str(sha or '?')[:12]}, {tool or '?'} {version or ''}".strip()
    return f"{same} rows share this name: this is {what}"


def _noted(note: str | None, text: str) -> str:
    return f"{note}; {text}" if note else text


def _core_differences_of(out: dict[str, list]) -> None:
    """Rows of one power mode (same device, threads and backend) that ran on different CPUs say so: a tool that binds
    by itself (Paddle Lite's high puts 1 thread on the prime core) beside tools under the cluster's taskset mask (the
    whole big cluster). The explicit modes (prime, gold, silver, big, cpus:LIST) give every tool the same CPUs.
    One pass over the rows, each group's masks and runtimes gathered first: a farm's history holds groups of
    thousands of rows."""

    def cores(mask: str | None) -> str:
        # segbench.power is imported only for rows that differ: most reports have none (tests/test_startup.py)
        from segbench.power import cpu_list, cpus_of_mask

        return f"CPUs {cpu_list(cpus_of_mask(mask) or ())}" if mask else "no known binding"

    keys = list(zip(out["device"], out["threads"], out["power_mode"], out["backend"]))
    masks = out["cpu_mask"]
    runtimes: dict[tuple, dict[str | None, set[str]]] = {}  # group -> its masks -> the runtimes that ran on each
    for key, mask, runtime in set(zip(keys, masks, out["runtime"])):  # each combination once
        if key[2] is not None:
            runtimes.setdefault(key, {}).setdefault(mask, set()).add(runtime)
    differing = {key: by_mask for key, by_mask in runtimes.items() if len(by_mask) > 1}
    if not differing:
        return
    said: dict[tuple, str] = {}
    notes = out["notes"]
    for i, (key, mask) in enumerate(zip(keys, masks)):
        by_mask = differing.get(key)
        if by_mask is None:
            continue
        if (key, mask) not in said:
            others = sorted({f"{runtime} on {cores(m)}" for m, names in by_mask.items() if m != mask
                             for runtime in names})
            said[key, mask] = (f"power mode {key[2]} ran on {cores(mask)} here, other rows of it on "
                               f"other cores ({'; '.join(others)})")
        notes[i] = "; ".join(x for x in (notes[i], said[key, mask]) if x)


def fmt_cell(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 1000 else f"{value:.1f}"
    return str(value)


def columns_of(table: Table) -> dict[str, list]:
    """A table's columns as lists of Python values (a DataFrame's NaN stays NaN: both are a missing cell)."""
    if isinstance(table, dict):
        return table
    return {c: table[c].tolist() for c in table.columns}


def row_count(table: Table) -> int:
    return len(next(iter(table.values()), ())) if isinstance(table, dict) else len(table)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _any_value(table: Table, col: str) -> bool:
    """Whether some row of ``table`` has a value in ``col`` (a column it lacks has none)."""
    if isinstance(table, dict):
        return any(not _missing(v) for v in table.get(col, ()))
    return col in table.columns and bool(table[col].notna().any())


def visible_columns(table: Table) -> list[str]:
    if isinstance(table, dict):
        cols = [c for c in COLUMNS if c in table]
        one_device = len({v for v in table["device"] if not _missing(v)}) <= 1
        default_backend = "backend" in cols and all(v == DEFAULT_BACKEND for v in table["backend"])
    else:  # the same questions asked of the frame's columns at once (a farm's history is a million rows)
        cols = [c for c in COLUMNS if c in table.columns]
        one_device = table["device"].nunique(dropna=True) <= 1
        default_backend = "backend" in cols and bool((table["backend"] == DEFAULT_BACKEND).all())
    empty = {c for c in OPTIONAL if c in cols and not _any_value(table, c)}
    if one_device:
        cols.remove("device")
    if default_backend:
        cols.remove("backend")  # a CPU-only table looks as it did before backends
    return [c for c in cols if c not in empty]


def to_markdown(table: Table) -> str:
    return "".join(markdown_chunks(table))


def markdown_chunks(table: Table) -> Iterator[str]:
    """to_markdown's text in pieces (markdown.github_chunks)."""
    from segbench.report.markdown import github_chunks

    if row_count(table) == 0:
        return iter(["_no results_"])
    cols = visible_columns(table)
    if isinstance(table, dict):
        return github_chunks([COLUMNS[c] for c in cols], formatted_columns(table, cols))
    return github_chunks([COLUMNS[c] for c in cols], [_cells(table[c]) for c in cols])


def _cells(column: pd.Series) -> list[str] | np.ndarray:
    """fmt_cell of each cell of a frame's column; a column of floats, or of ints and None, as ASCII bytes made at
    once (segbench.floattext), and one of text as the bytes of its distinct values, which the markdown writer takes
    as they are."""
    import numpy as np
    import pandas as pd

    from segbench import floattext
    from segbench.report.markdown import plain

    if column.dtype.kind == "f":
        a = column.to_numpy(dtype=np.float64)
        small = np.abs(a) < 1000.0  # NaN compares False
        large = ~small & ~np.isnan(a)  # the infinities too: fmt_cell writes them with .1f
        parts = [(small, floattext.fixed(a[small], 3)), (large, floattext.fixed(a[large], 1))]
        out = np.zeros(a.size, dtype=f"S{max(t.dtype.itemsize for _, t in parts)}")  # NaN: b""
        for where, texts in parts:
            out[where] = texts
        return out
    values = column.tolist()
    kinds = set(map(type, values))
    if kinds <= {str, type(None)} or (isinstance(column.dtype, pd.StringDtype) and kinds <= {str, float}):
        # Each distinct text made and checked once (a farm's history repeats a few names a million times); a
        # missing cell (None, or NaN in a text column) is "". Not for other objects: 1, 1.0 and True are one key.
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        texts = [*_formatted(list(uniques)), ""]  # code -1: the missing cell
        if plain(texts):
            return np.array(texts, dtype="S")[codes]
        return [texts[c] for c in codes.tolist()]
    if kinds <= {int, type(None)}:
        none = np.array([v is None for v in values], dtype=bool)
        try:
            ints = np.array([0 if v is None else v for v in values], dtype=np.int64)
        except OverflowError:  # beyond int64: one at a time
            return _formatted(values)
        out = floattext.integers(ints)
        out[none] = b""
        return out
    return _formatted(values)


def formatted_rows(table: Table, cols: Sequence[str]) -> list[tuple[str, ...]]:
    """``table``'s rows as the text of their ``cols`` (fmt_cell of each cell)."""
    columns = formatted_columns(table, cols)
    return list(zip(*columns)) if columns else [() for _ in range(row_count(table))]


def formatted_columns(table: Table, cols: Sequence[str]) -> list[list[str]]:
    """The text of ``table``'s ``cols`` (fmt_cell of each cell), a column at a time."""
    return [_formatted(table[c] if isinstance(table, dict) else table[c].tolist()) for c in cols]


def _formatted(values: list) -> list[str]:
    """fmt_cell of each value, with the common columns (all text, all floats) done without a call per cell."""
    kinds = set(map(type, values))
    if kinds <= {str}:
        return values
    if kinds <= {float}:  # NaN is not equal to itself; fmt_cell's abs(v) < 1000, inf included
        return ["" if v != v else f"{v:.3f}" if -1000.0 < v < 1000.0 else f"{v:.1f}" for v in values]
    if kinds <= {int, type(None)}:
        return ["" if v is None else int.__repr__(v) for v in values]
    return [v if type(v) is str else fmt_cell(v) for v in values]


def device_label(info: RunInfo) -> str:
    """Where a run measured: 'Xiaomi MI 9 (SM8150, Android 11)' or 'host <name> (<CPU>, <n> cores, <OS>)'."""
    d = info.device
    if d.kind == "android":
        return (f"{phone_name(d)} ({d.soc or d.cpu_model or 'unknown SoC'}, Android {d.android_version})").strip()
    return f"host {d.model} ({d.cpu_model or 'unknown CPU'}, {d.cores} cores, {d.os})"


def phone_name(d: DeviceInfo) -> str:
    """'Xiaomi MI 9', or 'Xiaomi MI 9 (emulated)' for a device that says it is emulated."""
    name = " ".join(x for x in (d.brand, d.model) if x) or d.id
    return f"{name} (emulated)" if d.emulated else name


def footer_lines(infos: Sequence[RunInfo], tools: Sequence[str] = (), timed: str | None = None) -> list[str]:
    """What the numbers mean: where, with what, and how they were measured (one line per fact).

    ``tools``: "tool version" of the measurements shown; ``timed``: what the timed region holds per model.
    """
    lines = []
    for info in infos:
        d, s = info.device, info.settings
        where = device_label(info)
        if info.devices:  # a farm run: every phone (records name theirs in the device column)
            where = f"{len(info.devices)} phones: " + ", ".join(f"{x.id} {phone_name(x)}" for x in info.devices)
        if s.get("source") == "parse":  # imported by `segbench parse`: say where from, not how we measured
            where = f"imported from {len(s.get('files') or [])} log(s), {d.id}"
        versions = ", ".join(f"{k} {v}" for k, v in sorted(info.versions.items()) if v and k != "python")
        what = (f"eval on {s.get('format')} {s.get('split')} (preset {s.get('preset')}, resize {s.get('resize')})"
                if s.get("command") == "eval" else f"warmup {s.get('warmup')}, repeats {s.get('repeats')}")
        lines.append(f"run `{info.run_id}` ({info.status}): {where}; {what}; {versions}")
    if tools:
        lines.append(f"tools: {', '.join(dict.fromkeys(tools))}")
    measured = [i for i in infos if i.settings.get("source") != "parse"]
    if any(i.device.kind != "android" for i in measured) or not infos:
        lines.append("latency: the inference call only (input copies and output conversion excluded); median of the "
                     "timed repeats, with its distribution-free 95% CI in csv/json (ci_low_ms, ci_high_ms); "
                     "CV = std / mean.")
    if any(i.device.kind == "android" for i in measured):
        lines.append("on the phone: the vendor tool's own timing of each repeat (docs/vendor-tools.md); median where "
                     "the tool reports one or its per-run samples (95% CI in csv/json only with samples); "
                     "CV = std / mean.")
    if any(d.emulated for i in measured for d in (i.device, *i.devices)):
        lines.append("emulated: measured on an emulated phone (the device reports ro.kernel.qemu / ro.boot.qemu); "
                     "its latencies are this host's CPU running the model behind a phone's protocol (the CPU time of each "
                     "run, docs/emulator.md), not the phone's.")
    if any(i.settings.get("source") == "parse" for i in infos):
        lines.append("parsed logs: the vendor tool's own figures (median only where the tool prints it; "
                     "Paddle Lite prints avg/min/max).")
    if any(len(i.settings.get("backends") or ()) > 1 or any(b != DEFAULT_BACKEND for b in i.settings.get("backends") or ())
           for i in measured):
        lines.append("backend: what executed the case (run --backend); 'CPU fallback' = the tool says the accelerator "
                     "ran no part of the model, so the figures are the CPU's (status fallback); 'partial N/M' = it ran "
                     "N of M nodes; 'unverified' = the log does not say.")
    if timed:
        lines.append(f"timed region: {timed}")
    return lines


def footer(infos: Sequence[RunInfo]) -> str:
    return "\n".join(f"- {line}" for line in footer_lines(infos))


def json_rows(df: pd.DataFrame) -> Rows:
    """The rows as json values, as columns (segbench.jsontext.Rows): what ``json.loads(df.to_json(orient=
    "records"))`` gives, without a dict per row, but a float column's values exactly the frame's (pandas' json rounds to 15
    decimal places, and a latency of a few microseconds lost its last digits). A missing or non-finite float (NaN,
    an infinity) is None, as pandas writes it (null: json has no NaN); float columns are kept as their arrays
    (jsontext.Floats). Columns of text, ints, bools, None and lists of text are taken as they are (a missing text,
    NaN in a text column, is None); the others (odd objects) go through pandas' json a column at a time."""
    import pandas as pd

    from segbench.jsontext import Floats, Rows

    columns: dict[str, Sequence] = {}
    for name in df.columns:
        s = df[name]
        if s.dtype.kind == "f":
            columns[str(name)] = Floats(s.to_numpy(dtype="float64"))
            continue
        values = s.tolist()
        kinds = set(map(type, values))
        if isinstance(s.dtype, pd.StringDtype) and float in kinds:  # a missing text is NaN in a text column
            values = [None if type(v) is float else v for v in values]
            kinds = (kinds - {float}) | {type(None)}
        if s.dtype.kind not in "iub" and not _json_ready(values, kinds):
            values = json.loads(s.to_json(orient="records", double_precision=15))
        columns[str(name)] = values
    return Rows(columns)


def _json_ready(values: list, kinds: set[type]) -> bool:
    """Whether pandas' json would give ``values`` (of types ``kinds``) back as they are: text, ints, bools, None
    and lists of text (a row's run ids)."""
    if list in kinds:
        lists = values if kinds == {list} else [v for v in values if type(v) is list]
        if not set(map(type, itertools.chain.from_iterable(lists))) <= {str}:
            return False
        kinds = kinds - {list}
    return kinds <= {str, int, bool, type(None)}


def render(table: Table, fmt: str, infos: Sequence[RunInfo] = ()) -> str:
    return "".join(render_chunks(table, fmt, infos))


def render_chunks(table: Table, fmt: str, infos: Sequence[RunInfo] = ()) -> Iterator[str]:
    """render's text in pieces, a block of rows at a time (a report of a million rows is written without holding
    its text whole)."""
    if fmt == "json":
        from segbench.jsontext import chunks

        # json.dumps(..., indent=2)'s text
        return chunks({"schema": REPORT_SCHEMA, "rows": json_rows(frame(table)), "runs": [i.to_dict() for i in infos]})
    if fmt == "csv":
        from segbench import csvtext

        out = frame(table).copy(deep=False)  # a new run_ids column below; the others shared, not written
        out["run_ids"] = [" ".join(ids) for ids in out["run_ids"].tolist()]
        return csvtext.frame_chunks(out)  # out.to_csv(index=False)
    if fmt == "markdown":
        notes = footer(infos) if infos else ""
        if _any_value(table, "miou_pct"):
            notes += ("\n- mIoU: measured by `segbench eval` on this machine (newest result for the same model file), "
                      "else published in the models' manifest.toml; the source column says which.")
        return itertools.chain(markdown_chunks(table), ["\n\n" + notes.lstrip("\n") if notes else ""])
    raise ValueError(f"unknown format {fmt}")


def render_summary(measurements: Sequence[Measurement], info: RunInfo) -> str:
    """The table `segbench run` prints at the end."""
    return render(summary(measurements), "markdown", [info])
