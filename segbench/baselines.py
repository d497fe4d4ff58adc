"""Saved baselines: the records a nightly run is compared against, one file per kind of phone and tool.

``<reports>/baselines/<device kind>__<tool>-<version>.json`` (schema ``segbench.baseline/1``) holds copies
of a run's records for one device kind (brand and model: every MI 9 is the same kind) measured with one
tool version, so a phone is only ever compared with the same kind of phone and the same tool. A file
holds the records themselves, not a pointer to a run, so it survives the run directory being cleaned.
Saving again replaces it (docs/farm.md).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from segbench.errors import StoreError
from segbench.model import DeviceInfo, Measurement, RunInfo
from segbench.store import safe_name, utc_now, write_atomic, write_error
from segbench.validate import want

BASELINE_SCHEMA = "segbench.baseline/1"


def device_kind(d: DeviceInfo) -> str:
    """What makes phones comparable: brand and model (a host: its CPU). An emulated phone is a kind of its own
    ("Xiaomi MI 9 (emulated)"): its baseline is never a real MI 9's, nor the other way round."""
    if d.kind == "android" or d.brand or d.model:
        kind = " ".join(x for x in (d.brand, d.model) if x) or d.id
        return f"{kind} (emulated)" if d.emulated else kind
    return f"host {d.cpu_model or d.model or d.id}"


@dataclass(frozen=True)
class Key:
    """Which baseline a record belongs to."""

    device_kind: str
    tool: str
    tool_version: str | None

    def describe(self) -> str:
        return f"{self.device_kind} with {self.tool} {self.tool_version or '(version unknown)'}"

    def file_name(self) -> str:
        import hashlib

        name = safe_name(f"{self.device_kind}__{self.tool}-{self.tool_version or 'unknown'}").lower()
        if len(name) > 100:  # a version string can be a sentence; keep file names short and still unique
            name = name[:90] + "-" + hashlib.sha256(name.encode()).hexdigest()[:8]
        return name + ".json"


def key_of(m: Measurement, info: RunInfo) -> Key | None:
    """The baseline key of a record; None for records that never reached a tool (nothing to compare)."""
    if not m.tool:
        return None
    return Key(device_kind(info.device_for(m.device_id)), m.tool, m.tool_version)


def group(records: Iterable[Measurement], info: RunInfo) -> dict[Key, list[Measurement]]:
    out: dict[Key, list[Measurement]] = {}
    for m in records:
        k = key_of(m, info)
        if k is not None:
            out.setdefault(k, []).append(m)
    return out


@dataclass(frozen=True)
class Baseline:
    key: Key
    run_id: str
    saved: str
    records: tuple[Measurement, ...]
    path: Path


class Baselines:
    """The baselines directory of a reports directory."""

    def __init__(self, reports: str | os.PathLike[str]) -> None:
        self.root = Path(reports) / "baselines"

    def save(self, key: Key, run_id: str, records: Sequence[Measurement]) -> Path:
        """Write (or replace) the baseline for ``key`` atomically."""
        path = self.root / key.file_name()
        data = {"schema": BASELINE_SCHEMA, "device_kind": key.device_kind, "tool": key.tool,
                "tool_version": key.tool_version, "run_id": run_id, "saved": utc_now(),
                "records": [m.to_dict() for m in records]}
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            write_atomic(path, json.dumps(data, sort_keys=True, allow_nan=False) + "\n")
        except OSError as exc:
            raise write_error(exc, path) from None
        return path

    def load(self, key: Key) -> Baseline | None:
        path = self.root / key.file_name()
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text())
            if data.get("schema") != BASELINE_SCHEMA:
                raise StoreError(f"{path}: unknown schema {data.get('schema')!r}", hint="upgrade segbench")
            want(data.get("records"), list, f"{path}: records", error=StoreError)
            records = tuple(Measurement.from_dict(r, f"{path}: records[{i}]") for i, r in enumerate(data["records"]))
            return Baseline(key, want(data.get("run_id"), str, f"{path}: run_id", error=StoreError),
                            want(data.get("saved"), str, f"{path}: saved", error=StoreError), records, path)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StoreError(f"baseline {path} is damaged: {exc}", hint="save it again") from None

    def saved(self) -> list[str]:
        """What is saved, as 'DEVICE KIND with TOOL VERSION' (for error hints)."""
        if not self.root.is_dir():
            return []
        out = []
        for path in sorted(self.root.glob("*.json")):
            try:
                d = json.loads(path.read_text())
                out.append(Key(d["device_kind"], d["tool"], d.get("tool_version")).describe())
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return out
