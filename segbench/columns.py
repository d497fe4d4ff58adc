"""Records as columns: one numpy array per field over many Measurements, and the file a run's columns are cached in.

results.jsonl stays the source of truth (crash-safe appends); this is a derived copy that a report or compare of
many runs reads at numpy speed instead of parsing JSON. ``Columns`` holds, per record:

- the identity and summary fields (strings dictionary-encoded on disk, object arrays in memory; ints with None as
  a sentinel; floats with None as NaN — stored JSON never holds NaN; tri-state bools as -1/0/1),
- its per-iteration samples (one flat float64 array and offsets),
- where its line is in results.jsonl (path, byte offset, length), so the rare reader that needs the whole record
  (a per-operator profile, an accelerator's fallback details, a case pooled over several launches) parses just it,
- ``derived`` columns: per-record figures computed by a caller-given function (the report's row of one record),
  kept with a tag naming their version, so that reading a cached run costs no per-record statistics.

The cache file is one header (json: the meta, column names and kinds, string tables, sizes and crc32s; its own
length and crc32 before it) and the arrays' bytes after it (ints with the string codes, floats, sample offsets,
then the samples, which a report skips), read with two reads and no parsing per column; written
atomically; it is never trusted blindly: the run's results.jsonl size and mtime (or, after a copy, its sha256)
must match the ones it was built from (segbench.store.RunDir.columns). No pickles: a merged history may hold
files from other hosts, so loading never executes anything.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from segbench.model import Measurement

CACHE_SCHEMA = "segbench.columns/2"
CACHE_SUFFIX = ".cols"  # <reports>/index/columns/<run_id>.cols (segbench.columns/1 was an .npz)
_MAGIC = b"segbench.cols\x00\x02\x00"  # then the header's length (uint64) and crc32 (uint32), little-endian
NONE_INT = np.iinfo(np.int64).min  # an int column's None

# Raw fields: (column, getter). Strings, ints, floats, tri-state bools.
STRINGS: dict[str, Callable[[Measurement], str | None]] = {
    "run_id": lambda m: m.run_id, "case_id": lambda m: m.case_id, "model": lambda m: m.model.name,
    "sha256": lambda m: m.model.sha256, "model_path": lambda m: m.model.path, "model_format": lambda m: m.model.format,
    "runtime": lambda m: m.runtime, "status": lambda m: m.status, "power_mode": lambda m: m.power_mode,
    "backend": lambda m: m.backend, "tool": lambda m: m.tool, "tool_version": lambda m: m.tool_version,
    "device": lambda m: m.device_id, "cpu_mask": lambda m: m.cpu_mask, "error": lambda m: m.error,
}
INTS: dict[str, Callable[[Measurement], int | None]] = {
    "threads": lambda m: m.threads, "count": lambda m: m.count, "launch": lambda m: m.launch,
}
FLOATS: dict[str, Callable[[Measurement], float | None]] = {
    **{f"lat_{k}": (lambda m, k=k: getattr(m.latency_ms, k)) for k in ("avg", "min", "max", "std", "median", "p90", "p95")},
    "cooldown_s": lambda m: m.cooldown_s,
}
TRIS: dict[str, Callable[[Measurement], bool | None]] = {
    "throttled": lambda m: m.throttled, "throttled_at_start": lambda m: m.throttled_at_start,
    "emulated": lambda m: m.emulated, "has_samples": lambda m: m.samples_ms is not None,
    "has_ops": lambda m: bool(m.ops_by_type),
}
# A function of a run's records giving per-record derived columns (lists of str / int / float / None), and the tag
# of its version (cached derived columns of another tag are computed again).
Deriver = Callable[[Sequence[Measurement]], dict[str, list[Any]]]


class Columns:
    """Columns of records in order; ``source`` tells how to get a record back whole."""

    def __init__(self, cols: dict[str, np.ndarray], samples: np.ndarray | None, offsets: np.ndarray,
                 paths: list[str], records: Sequence[Measurement] | None = None) -> None:
        self.cols = cols
        self.samples = samples  # every record's samples_ms, one after another (None: not loaded, see load)
        self.offsets = offsets  # record i's samples are samples[offsets[i]:offsets[i + 1]]
        self.paths = paths  # results.jsonl files the "src" column indexes
        self._records = records  # the Measurements themselves, when built from them
        # A text column as codes into its values: the cache file's own encoding, kept when loaded, as one part per
        # run (codes into that run's values) until Columns.codes numbers them in one table.
        self._codes: dict[str, list[tuple[np.ndarray, list[str | None]]]] = {}

    def __len__(self) -> int:
        return int(self.offsets.size - 1)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.cols[name]

    # -- building --------------------------------------------------------------------------------------------------

    @classmethod
    def of(cls, records: Sequence[Measurement], derive: Deriver | None = None,
           lines: tuple[str, Sequence[int], Sequence[int]] | None = None) -> Columns:
        """Columns of ``records``; ``lines`` = (results.jsonl, each record's byte offset, length) when they were
        read from one (then they are parsed again from there when asked for whole, and not kept in memory)."""
        n = len(records)
        cols: dict[str, np.ndarray] = {}
        for name, get in STRINGS.items():
            cols[name] = object_array([get(m) for m in records])
        for name, get in INTS.items():
            cols[name] = np.array([NONE_INT if (v := get(m)) is None else v for m in records], dtype=np.int64)
        for name, get in FLOATS.items():
            cols[name] = np.array([np.nan if (v := get(m)) is None else v for m in records], dtype=np.float64)
        for name, get in TRIS.items():
            cols[name] = np.array([-1 if (v := get(m)) is None else int(bool(v)) for m in records], dtype=np.int8)
        lengths = np.array([len(m.samples_ms or ()) for m in records], dtype=np.int64)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        samples = np.fromiter((x for m in records for x in (m.samples_ms or ())), dtype=np.float64,
                              count=int(offsets[-1]))
        if derive is not None:
            for name, values in derive(records).items():
                cols["d_" + name] = _column(values)
        if lines is not None:
            cols["src"] = np.zeros(n, dtype=np.int64)
            cols["line_start"] = np.asarray(lines[1], dtype=np.int64)
            cols["line_len"] = np.asarray(lines[2], dtype=np.int64)
            return cls(cols, samples, offsets, [lines[0]])
        return cls(cols, samples, offsets, [], list(records))

    @classmethod
    def concat(cls, parts: Sequence[Columns]) -> Columns:
        """The records of ``parts``, one after another (a report of several runs)."""
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return cls.of([])
        names = [k for k in parts[0].cols if all(k in p.cols for p in parts)]
        cols = {k: _concatenated([p.cols[k] for p in parts]) for k in names}
        bases = np.cumsum([0] + [p.offsets[-1] for p in parts[:-1]])
        offsets = np.concatenate([[0]] + [p.offsets[1:] + b for p, b in zip(parts, bases)])
        paths: list[str] = []
        records: list[Measurement] | None = [] if all(p._records is not None for p in parts) else None
        if "src" in cols:
            cols["src"] = np.concatenate([p.cols["src"] + len(paths_before)
                                          for p, paths_before in _running(parts, paths)])
        for p in parts:
            if records is not None:
                records.extend(p._records or ())
        samples = None if any(p.samples is None for p in parts) else np.concatenate([p.samples for p in parts])
        out = cls(cols, samples, offsets, paths, records)
        for name in names:  # the parts' codes, where every part has them (numbered in one table when asked for)
            if all(name in p._codes for p in parts):
                out._codes[name] = [part for p in parts for part in p._codes[name]]
        return out

    # -- reading back ----------------------------------------------------------------------------------------------

    def sample_slice(self, i: int) -> np.ndarray:
        if self.samples is None:
            raise ValueError("these columns were loaded without their samples")
        return self.samples[self.offsets[i]:self.offsets[i + 1]]

    def records(self, index: Sequence[int]) -> list[Measurement]:
        """Records ``index`` whole: kept ones, or each parsed again from its line."""
        if self._records is not None:
            return [self._records[i] for i in index]
        out = []
        handles: dict[int, Any] = {}
        try:
            for i in index:
                src = int(self.cols["src"][i])
                if src not in handles:
                    handles[src] = open(self.paths[src], "rb")  # noqa: SIM115 (closed below)
                f = handles[src]
                f.seek(int(self.cols["line_start"][i]))
                line = f.read(int(self.cols["line_len"][i]))
                out.append(Measurement.from_dict(json.loads(line), f"{self.paths[src]}"))
        finally:
            for f in handles.values():
                f.close()
        return out

    def codes(self, name: str) -> tuple[np.ndarray, list[str | None]]:
        """A text column as (codes, its distinct values): ``self[name]`` is ``values[codes]``; equal texts have one
        code, None included. Grouping by codes is grouping by the texts, at the speed of ints (a farm's history is
        a million records)."""
        parts = self._codes.get(name)
        if parts is None:
            uniques, codes = _encode(self.cols[name])
            parts = [(codes, uniques)]
        if len(parts) != 1 or parts[0][0].dtype != np.int32:
            parts = self._codes[name] = [renumbered(parts)]
        return parts[0]

    def values(self, name: str) -> list[Any]:
        """A column as the records hold it (None for a missing value)."""
        return python_values(self.cols[name]).tolist()

    def value(self, name: str, i: int) -> Any:
        """One cell as the record holds it (None for a missing value)."""
        return _py(self.cols[name], i)

    # -- the cache file ----------------------------------------------------------------------------------------------

    def save(self, path: Path, meta: dict[str, Any], write: Callable[[Path, Callable], None]) -> None:
        """Write to ``path`` through ``write`` (segbench.store.write_atomic) with ``meta`` (stamp, tags)."""
        if self.samples is None:
            raise ValueError("columns loaded without their samples cannot be saved")
        kinds: dict[str, list[str]] = {"f": [], "i": [], "s": []}
        strings: dict[str, list[str | None]] = {}
        ints, codes_, floats = [], [], []
        for name, a in self.cols.items():
            if name in ("src",):
                continue
            if a.dtype == object:
                uniques, codes = _encode(a)
                strings[name] = uniques
                kinds["s"].append(name)
                codes_.append(codes)
            elif a.dtype.kind == "f":
                kinds["f"].append(name)
                floats.append(a)
            else:
                kinds["i"].append(name)
                ints.append(a.astype(np.int64))
        n = len(self)
        ints += codes_  # load() reads the int columns first, then the string codes
        arrays = [np.ascontiguousarray(np.stack(ints, axis=1) if ints else np.zeros((n, 0)), dtype="<i8"),
                  np.ascontiguousarray(np.stack(floats, axis=1) if floats else np.zeros((n, 0)), dtype="<f8"),
                  np.ascontiguousarray(self.offsets, dtype="<i8"), np.ascontiguousarray(self.samples, dtype="<f8")]
        head = [memoryview(a).cast("B") for a in arrays[:3]]
        body = memoryview(arrays[3]).cast("B")
        header = json.dumps({**meta, "schema": CACHE_SCHEMA, "n": n, "kinds": kinds, "strings": strings,
                             "sizes": [len(m) for m in (*head, body)],
                             "crc": [_crc(head), _crc([body])]}, allow_nan=False).encode()

        def dump(f: Any) -> None:
            f.write(_MAGIC + struct.pack("<QI", len(header), zlib.crc32(header)) + header)
            for part in (*head, body):
                f.write(part)

        write(path, dump)

    @classmethod
    def load(cls, path: Path, results_path: str, samples: bool = True) -> tuple[Columns, dict[str, Any]]:
        """The columns in ``path`` and its meta; ValueError (or OSError) when it is not a whole cache file. Without
        ``samples`` the per-iteration samples are not read (a report needs only the per-record figures: at a farm's
        scale the samples are most of the file) and ``sample_slice`` raises."""
        with open(path, "rb") as f:
            prefix = f.read(len(_MAGIC) + 12)
            if len(prefix) != len(_MAGIC) + 12 or not prefix.startswith(_MAGIC):
                raise ValueError(f"not a {CACHE_SCHEMA} file")
            size, crc = struct.unpack("<QI", prefix[len(_MAGIC):])
            header = f.read(size)
            if len(header) != size or zlib.crc32(header) != crc:
                raise ValueError("its header is damaged")
            meta = json.loads(header)
            if not isinstance(meta, dict) or meta.get("schema") != CACHE_SCHEMA:
                raise ValueError(f"not a {CACHE_SCHEMA} file")
            n, kinds, strings = int(meta["n"]), meta["kinds"], meta["strings"]
            width_i, width_f = len(kinds["i"]) + len(kinds["s"]), len(kinds["f"])
            sizes = [int(x) for x in meta["sizes"]]
            if sizes[:3] != [8 * n * width_i, 8 * n * width_f, 8 * (n + 1)] or sizes[3] % 8:
                raise ValueError("its arrays do not match its header")
            parts = [_read(f, k) for k in sizes[:3]]
            if _crc(parts) != meta["crc"][0]:
                raise ValueError("its columns are damaged")
            flat = None
            if samples:
                body = _read(f, sizes[3])
                if _crc([body]) != meta["crc"][1]:
                    raise ValueError("its samples are damaged")
                flat = np.frombuffer(body, dtype="<f8")
        ints = np.frombuffer(parts[0], dtype="<i8").reshape(n, width_i)
        floats = np.frombuffer(parts[1], dtype="<f8").reshape(n, width_f)
        offsets = np.frombuffer(parts[2], dtype="<i8")
        if int(offsets[0]) != 0 or (flat is not None and int(offsets[-1]) != flat.size):
            raise ValueError("its arrays do not match its header")
        cols: dict[str, np.ndarray] = {}
        at = 0
        for name in kinds["i"]:
            cols[name] = ints[:, at].copy()
            at += 1
        codes: dict[str, list[tuple[np.ndarray, list[str | None]]]] = {}
        for name in kinds["s"]:
            cols[name] = _decode(strings[name], ints[:, at])
            codes[name] = [(ints[:, at], strings[name])]  # a view: merged (and copied) only if asked for
            at += 1
        for j, name in enumerate(kinds["f"]):
            cols[name] = floats[:, j].copy()
        for name in TRIS:
            if name in cols:
                cols[name] = cols[name].astype(np.int8)
        cols["src"] = np.zeros(n, dtype=np.int64)
        missing = [k for k in (*STRINGS, *INTS, *FLOATS, *TRIS, "line_start", "line_len") if k not in cols]
        if missing:
            raise ValueError(f"it lacks column(s) {', '.join(missing)}")
        out = cls(cols, flat, offsets, [results_path])
        out._codes = codes
        return out, meta


def _read(f: Any, size: int) -> bytearray:
    """``size`` bytes of ``f`` into a buffer numpy can view writably (ValueError when the file ends first)."""
    buf = bytearray(size)
    if f.readinto(buf) != size:
        raise ValueError("it ends early")
    return buf


def _crc(parts: Sequence[Any]) -> int:
    crc = 0
    for part in parts:
        crc = zlib.crc32(part, crc)
    return crc


def _concatenated(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """One column of several runs. A derived column's type is chosen per run from its values (_column), and one
    where every value is None is stored as ints (the sentinel): beside floats or objects of another run its
    sentinel becomes NaN or None, never a number (-9.2e18 as the median of a parsed log's row)."""
    kinds = {a.dtype.kind for a in arrays}
    if len(kinds) < 2 or not kinds & {"f", "O"}:
        return np.concatenate(arrays)
    if "O" in kinds:
        parts = [a if a.dtype == object else python_values(a) for a in arrays]
    else:
        parts = [np.where(a == NONE_INT, np.nan, a) if a.dtype.kind == "i" else a for a in arrays]
    return np.concatenate(parts)


def python_values(a: np.ndarray) -> np.ndarray:
    """A column as an object array of the Python values the records hold (None where missing): floats (NaN: None),
    tri-state bools, ints (the sentinel: None); an object column is copied."""
    if a.dtype == object:
        return a.copy()
    if a.dtype.kind == "f":
        out = a.astype(object)
        out[np.isnan(a)] = None
    elif a.dtype == np.int8:  # tri-state bools
        out = (a == 1).astype(object)
        out[a < 0] = None
    else:
        out = a.astype(object)
        out[a == NONE_INT] = None
    return out


def _running(parts: Sequence[Columns], paths: list[str]):
    """Each part with the paths already merged before it (and merges its paths into ``paths``)."""
    for p in parts:
        before = list(paths)
        paths.extend(p.paths)
        yield p, before


def object_array(values: Sequence[Any]) -> np.ndarray:
    """``values`` as a 1-d object array (numpy would make a list of lists 2-d)."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _column(values: list[Any]) -> np.ndarray:
    """A derived column: floats (None as NaN) when every value is a number or None and some is a float; ints
    (None as the sentinel) when every value is an int or None; else objects (strings)."""
    kinds = {type(v) for v in values if v is not None}
    if kinds and kinds <= {int, float} and float in kinds:
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    if kinds <= {int}:
        return np.array([NONE_INT if v is None else v for v in values], dtype=np.int64)
    return object_array(values)


def renumbered(coded: Sequence[tuple[np.ndarray, list[Any]]]) -> tuple[np.ndarray, list[Any]]:
    """Several columns' (codes, values) as one column's (int32 codes): each part's values numbered in one table
    (a value listed twice, in one part or several, gets one code)."""
    table: dict[str | None, int] = {}
    parts = []
    for codes, values in coded:
        remap = np.array([table.setdefault(v, len(table)) for v in values], dtype=np.int32)
        parts.append(remap[codes] if codes.size else np.zeros(0, dtype=np.int32))
    return np.concatenate(parts), list(table)


def _encode(a: np.ndarray) -> tuple[list[str | None], np.ndarray]:
    uniques: dict[Any, int] = {}
    codes = np.fromiter((uniques.setdefault(v, len(uniques)) for v in a), dtype=np.int64, count=a.size)
    for v in uniques:
        if v is not None and not isinstance(v, str):
            raise TypeError(f"a string column holds {type(v).__name__}")
    return list(uniques), codes


def _decode(uniques: list[str | None], codes: np.ndarray) -> np.ndarray:
    table = object_array(list(uniques))
    if codes.size and (codes.min() < 0 or codes.max() >= len(uniques)):
        raise ValueError("a string code out of range")
    return table[codes] if codes.size else object_array([])


def _py(a: np.ndarray, i: int) -> Any:
    v = a[i]
    if a.dtype == object:
        return v
    if a.dtype.kind == "f":
        return None if np.isnan(v) else float(v)
    if a.dtype == np.int8:
        return None if v < 0 else bool(v)
    return None if v == NONE_INT else int(v)
