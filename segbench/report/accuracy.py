"""The mIoU column of the report: measured by `segbench eval`, else published in the models' manifest.

A latency row takes the newest accuracy record of the same model file (same sha256); failing that,
of a model with the same name. Measured beats published, and the source column says which it is.
Accuracy records of the reported runs whose model has no latency row get a row of their own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from segbench.model import Accuracy
from segbench.report.tables import keep_ints
from segbench.vocab import MANIFEST

if TYPE_CHECKING:
    import pandas as pd


def _latest(records: Sequence[Accuracy]) -> dict[str, Accuracy]:
    """key -> newest ok record, for keys ``sha:<sha256>`` and ``name:<model name>``."""
    out: dict[str, Accuracy] = {}
    for rec in sorted((r for r in records if r.status == "ok" and r.miou is not None), key=lambda r: r.finished or ""):
        if rec.model.sha256:
            out[f"sha:{rec.model.sha256}"] = rec
        out[f"name:{rec.model.name}"] = rec
    return out


def _pct(rec: Accuracy) -> float:
    return 100 * (rec.miou or 0.0)  # records without a mIoU never reach here (see _latest)


def _describe(rec: Accuracy, how: str) -> str:
    ds = rec.dataset
    return f"{how}: {ds.get('name', ds.get('format'))} {ds.get('split')}, {rec.images} images"


def _published(model_path: str | None) -> float | None:
    """The manifest's published mIoU (percent) for the model file, if its directory has one."""
    if not model_path or not (Path(model_path).parent / MANIFEST).is_file():
        return None  # most measured files have no manifest beside them: segbench.models stays unimported
    from segbench.errors import ModelError
    from segbench.models import read_manifest

    try:
        entry = read_manifest(Path(model_path).parent).get(Path(model_path).name)
    except ModelError:
        return None
    value = entry.published.get("miou") if entry else None
    return float(value) if isinstance(value, (int, float)) else None


def miou_for(sha256: str | None, name: str, path: str | None, latest: dict[str, Accuracy],
             published: dict[str | None, float | None] | None = None) -> tuple[float | None, str | None]:
    """(mIoU in percent, where it comes from) for one model; ``published`` keeps the manifests' figures by path
    (many files of a farm's history share a path: each export of the night)."""
    rec = latest.get(f"sha:{sha256}") if sha256 else None
    if rec is not None:
        return _pct(rec), _describe(rec, "measured")
    rec = latest.get(f"name:{name}")
    if rec is not None:
        return _pct(rec), _describe(rec, "measured (same name, other file)")
    if published is None:
        value = _published(path)
    elif path in published:
        value = published[path]
    else:
        value = published[path] = _published(path)
    return (value, "published (manifest.toml)") if value is not None else (None, None)


def with_accuracy(df: pd.DataFrame, known: Sequence[Accuracy], reported: Sequence[Accuracy] = (),
                  paths: dict[str, str] | None = None) -> pd.DataFrame:
    """``df`` with ``miou_pct`` and ``miou_source`` columns, plus rows for ``reported`` records without latency rows.

    ``known``: every accuracy record in the store (to join on); ``reported``: those of the reported runs;
    ``paths``: model sha256 -> file path, to find a manifest's published figure.
    """
    import pandas as pd

    df = df.copy(deep=False)  # copy-on-write (pandas >= 3): the caller's frame is left as it was
    values, extra = _joined(df["sha256"].tolist(), df["model"].tolist(), known, reported, paths or {})
    df["miou_pct"] = [v for v, _ in values]
    df["miou_source"] = [s for _, s in values]
    if extra:
        df = pd.concat([df, pd.DataFrame(extra)], ignore_index=True) if not df.empty else pd.DataFrame(extra, columns=df.columns)
    return keep_ints(df)  # the eval-only rows have no threads: keep the others' 1, not 1.0


def accuracy_rows(table: dict[str, list], known: Sequence[Accuracy], reported: Sequence[Accuracy] = (),
                  paths: dict[str, str] | None = None) -> dict[str, list]:
    """with_accuracy of a table as columns of Python values (tables.summary_rows): the same cells, no pandas. A
    cell an eval-only row lacks is NaN, as pandas leaves it."""
    values, extra = _joined(table["sha256"], table["model"], known, reported, paths or {})
    out = {k: list(v) for k, v in table.items()}
    out["miou_pct"] = [v for v, _ in values]
    out["miou_source"] = [s for _, s in values]
    for row in extra:
        for k, column in out.items():
            column.append(row.get(k, math.nan))
    return out


def _joined(shas: list[str | None], names: list[str], known: Sequence[Accuracy], reported: Sequence[Accuracy],
            paths: dict[str, str]) -> tuple[list[tuple[float | None, str | None]], list[dict]]:
    """Each row's (mIoU, source), and the rows of ``reported`` accuracy records whose model has no latency row."""
    from segbench.distinct import each_once

    latest = _latest(known)
    published: dict[str | None, float | None] = {}
    # once per model file and name: rows are many (a farm's history), models few
    values = each_once(list(zip(shas, names)),
                       lambda key: miou_for(key[0], key[1], paths.get(key[0] or ""), latest, published))
    seen = {sha for sha in shas if isinstance(sha, str)} | set(names)
    extra = []
    for rec in _latest(reported).values():
        if rec.model.sha256 in seen or rec.model.name in seen:
            continue
        seen |= {rec.model.sha256, rec.model.name}
        extra.append({"model": rec.model.name, "runtime": rec.runtime, "device": rec.device_id, "status": rec.status,
                      "n": 0, "sha256": rec.model.sha256, "run_ids": [rec.run_id], "tool": rec.tool,
                      "tool_version": rec.tool_version, "miou_pct": _pct(rec),
                      "miou_source": _describe(rec, "measured"), "notes": "accuracy only (segbench eval)"})
    return values, extra
