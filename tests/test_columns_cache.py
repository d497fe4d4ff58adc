"""The columnar cache of a run's records (segbench.columns, RunDir.columns): built from results.jsonl, rebuilt when
missing, stale or damaged, never the only copy; a merged history of several hosts' runs reads as one."""

from __future__ import annotations

import math
import os
import random
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from tabulate import tabulate

from segbench.cli import cli
from segbench.model import Accuracy, DeviceInfo, Measurement, ModelRef, RunInfo
from segbench.report.compare import compare, compare_columns
from segbench.report.markdown import github_table
from segbench.report.tables import derive_tag, record_rows, summary, summary_of
from segbench.store import RunDir, Store

pytestmark = pytest.mark.oldlibs  # run on numpy 1.x / pandas 2.x too (README: the Python 3.10 tests)

HOST = DeviceInfo(id="host-a", kind="host", model="box", cpu_model="cpu", cores=4, os="Linux")


def _m(run_id: str, k: int, median: float = 10.0, device: str = "host-a", seed: int = 0) -> Measurement:
    rng = np.random.default_rng(seed + k)
    return Measurement(run_id=run_id, case_id=f"m{k}", model=ModelRef(f"m{k % 3}", f"/m/{k}.onnx", "onnx", f"{k % 3:064x}"),
                       runtime="onnxruntime", status="ok", threads=1 + k % 2, power_mode="high", device_id=device,
                       tool="ort", tool_version="1", samples_ms=tuple(float(x) for x in median * np.exp(
                           rng.normal(0, 0.02, 30))))


def _store(root: Path, run_id: str, records: list[Measurement], device: DeviceInfo = HOST) -> Store:
    store = Store(root)
    info = RunInfo(run_id=run_id, started="2026-01-01T00:00:00+00:00", harness_version="t", device=device,
                   settings={"warmup": 1, "repeats": 30}, versions={}, status="completed")
    store.import_run(info, records)
    return store


def _cols(store: Store, run_id: str, said: list[str] | None = None):
    return store.run(run_id).columns(record_rows, derive_tag(), (said if said is not None else []).append)


def _cache(root: Path, run_id: str) -> Path:
    return root / "index" / "columns" / f"{run_id}.cols"


def test_missing_cache_is_built_and_then_read(tmp_path):
    store = _store(tmp_path, "r1", [_m("r1", k) for k in range(6)])
    assert not _cache(tmp_path, "r1").exists()
    first = _cols(store, "r1")
    assert _cache(tmp_path, "r1").is_file() and len(first) == 6
    stamp = _cache(tmp_path, "r1").stat().st_mtime_ns
    again = _cols(store, "r1")
    assert _cache(tmp_path, "r1").stat().st_mtime_ns == stamp  # read, not written again
    assert again["case_id"].tolist() == first["case_id"].tolist()
    assert np.array_equal(again.samples, first.samples)
    # the table from the cache is the table from the records themselves
    records = store.run("r1").measurements()
    assert summary_of(again).to_json() == summary(records).to_json()


def test_a_cold_report_reads_each_results_file_once(tmp_path, monkeypatch):
    """Building a run's cache also finds its accuracy records for the store's index: one read of each file, not
    one for the cache and another for the index; a warm report reads none."""
    store = _store(tmp_path, "r1", [_m("r1", k) for k in range(6)])
    _store(tmp_path, "r2", [_m("r2", k) for k in range(3)])
    store.run("r1").append(Accuracy(run_id="r1", case_id="eval", model=ModelRef("m0", "/m/0.onnx", "onnx", f"{0:064x}"),
                                    runtime="onnxruntime", status="ok", miou=0.4125, images=8,
                                    dataset={"name": "ADE20K", "split": "validation"}))
    reads: list[str] = []
    real = RunDir._read

    def counted(self):
        reads.append(self.run_id)
        return real(self)

    monkeypatch.setattr(RunDir, "_read", counted)

    def report() -> str:
        res = CliRunner().invoke(cli, ["report", "--all", "--reports", str(tmp_path), "--manifest",
                                       str(tmp_path / "no.toml")], catch_exceptions=False)
        assert res.exit_code == 0, res.output
        return res.output

    assert "41.250" in report()  # the mIoU found in the same pass as the latencies
    assert sorted(reads) == ["r1", "r2"]
    index = (tmp_path / "index" / "accuracies.json").read_text()
    assert '"miou": 0.4125' in index
    reads.clear()
    assert "41.250" in report() and reads == []
    store.run("r2").append(_m("r2", 7))  # a changed run is read again, once
    assert "41.250" in report() and reads == ["r2"]


def test_records_appended_after_caching_are_seen(tmp_path):
    store = _store(tmp_path, "r1", [_m("r1", k) for k in range(4)])
    assert len(_cols(store, "r1")) == 4
    store.run("r1").append(_m("r1", 9))
    cols = _cols(store, "r1")
    assert len(cols) == 5 and cols["case_id"].tolist()[-1] == "m9"


def test_a_corrupt_cache_is_said_ignored_and_rebuilt(tmp_path):
    store = _store(tmp_path, "r1", [_m("r1", k) for k in range(4)])
    _cols(store, "r1")
    _cache(tmp_path, "r1").write_bytes(b"not a zip file at all")
    said: list[str] = []
    cols = _cols(store, "r1", said)
    assert len(cols) == 4
    assert len(said) == 1 and "cannot be read" in said[0] and "rebuilding" in said[0]
    assert _cols(store, "r1", said) is not None and len(said) == 1  # rebuilt: no second warning


@pytest.mark.parametrize("where", ["magic", "header", "columns", "samples", "truncated", "empty"])
def test_a_damaged_cache_is_never_read_as_records(tmp_path, where):
    """Any byte of the cache changed, or the file cut short, is caught (crc32 of the header, of the columns and of
    the samples; the sizes the header states): said once, rebuilt, and the records are results.jsonl's."""
    from segbench.columns import Columns

    store = _store(tmp_path, "r1", [_m("r1", k) for k in range(4)])
    good = _cols(store, "r1")
    path = _cache(tmp_path, "r1")
    data = bytearray(path.read_bytes())
    at = {"magic": 3, "header": 40, "columns": len(data) - 8 * good.offsets[-1] - 20,
          "samples": len(data) - 5}.get(where)
    if at is not None:
        data[int(at)] ^= 0x10
    path.write_bytes(bytes(data[:len(data) // 2] if where == "truncated" else b"" if where == "empty" else data))
    with pytest.raises(ValueError):
        Columns.load(path, "x", samples=True)
    said: list[str] = []
    again = _cols(store, "r1", said)
    assert len(said) == 1 and "cannot be read" in said[0]
    assert again["case_id"].tolist() == good["case_id"].tolist()
    assert np.array_equal(again.samples, good.samples) and np.array_equal(again["lat_avg"], good["lat_avg"], equal_nan=True)


def test_a_cache_of_the_old_format_is_replaced(tmp_path):
    """A segbench.columns/1 .npz beside the run's records: not read, and removed when the new cache is written."""
    store = _store(tmp_path, "r1", [_m("r1", k) for k in range(3)])
    old = _cache(tmp_path, "r1").with_suffix(".npz")
    old.parent.mkdir(parents=True)
    old.write_bytes(b"PK\x03\x04 an old npz")
    assert len(_cols(store, "r1")) == 3
    assert not old.exists() and _cache(tmp_path, "r1").is_file()


def test_text_columns_as_codes_are_their_texts(tmp_path):
    """Columns.codes: each text column as codes into its values, equal texts one code, None included; kept from the
    cache file, merged across the runs of a report, made on demand for columns built from records."""
    from segbench.columns import STRINGS, Columns

    store = _store(tmp_path, "r1", [_m("r1", k) for k in range(5)])
    _store(tmp_path, "r2", [_m("r2", k, device="host-b") for k in range(2, 9)])
    _cols(store, "r1"), _cols(store, "r2")  # the caches written; read back below
    loaded = Columns.concat([_cols(store, "r1"), _cols(store, "r2")])
    built = Columns.of(store.run("r1").measurements() + store.run("r2").measurements())
    for cols in (loaded, built):
        for name in STRINGS:
            codes, values = cols.codes(name)
            texts = cols[name].tolist()
            assert [values[c] for c in codes.tolist()] == texts, name
            assert len(values) == len(set(values)) == len(set(texts)), name
    assert len(loaded.codes("device")[1]) == 2 and len(loaded.codes("error")[1]) == 1  # [None]


def test_the_cache_is_never_the_only_copy(tmp_path):
    store = _store(tmp_path, "r1", [_m("r1", k) for k in range(4)])
    _cols(store, "r1")
    shutil.rmtree(tmp_path / "index")
    assert len(_cols(store, "r1")) == 4


def test_a_copied_cache_of_the_same_file_is_kept(tmp_path):
    """A run and its cache copied elsewhere (new mtimes): the content hash shows the cache still holds its records."""
    _store(tmp_path / "a", "r1", [_m("r1", k) for k in range(4)])
    _cols(Store(tmp_path / "a"), "r1")
    shutil.copytree(tmp_path / "a", tmp_path / "b")  # copies get new mtimes
    os.utime(tmp_path / "b" / "runs" / "r1" / "results.jsonl", ns=(1, 1))
    cache = _cache(tmp_path / "b", "r1")
    before = cache.read_bytes()
    assert len(_cols(Store(tmp_path / "b"), "r1")) == 4
    assert cache.read_bytes() != before  # its stamp renewed; its columns the same
    store = Store(tmp_path / "b")
    assert summary_of(_cols(store, "r1")).to_json() == summary(store.run("r1").measurements()).to_json()


def test_merged_history_of_two_hosts(tmp_path):
    """Each host's runs copied into one reports directory: `report --all` reads them all, no server."""
    other = DeviceInfo(id="host-b", kind="host", model="other", cpu_model="cpu", cores=8, os="Linux")
    _store(tmp_path / "a", "20260101-000000-000-aaaa", [_m("20260101-000000-000-aaaa", k) for k in range(3)])
    _store(tmp_path / "b", "20260102-000000-000-bbbb",
           [_m("20260102-000000-000-bbbb", k, device="host-b") for k in range(3)], other)
    for host in ("a", "b"):  # each host has built its own caches
        CliRunner().invoke(cli, ["report", "--all", "--reports", str(tmp_path / host), "--manifest", str(tmp_path / "no.toml")], catch_exceptions=False)
    merged = tmp_path / "team"
    for host in ("a", "b"):
        shutil.copytree(tmp_path / host / "runs", merged / "runs", dirs_exist_ok=True)
    result = CliRunner().invoke(cli, ["report", "--all", "--format", "csv", "--reports", str(merged),
                                      "--manifest", str(tmp_path / "no.toml")],
                                catch_exceptions=False)
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 + 6
    assert {"host-a", "host-b"} <= {line.split(",")[5] for line in lines[1:]}
    # a report of the merged store is the report of all its records
    store = Store(merged)
    records = [m for i in store.run_ids() for m in store.run(i).measurements()]
    assert summary(records).shape == (6, summary(records).shape[1])


def test_pooled_groups_read_whole_records_from_their_lines(tmp_path):
    """A case in several runs is one row, pooled from the records read back from results.jsonl."""
    _store(tmp_path, "r1", [_m("r1", k) for k in range(3)])
    _store(tmp_path, "r2", [_m("r2", k, median=11.0, seed=7) for k in range(3)])
    store = Store(tmp_path)
    from segbench.columns import Columns

    cols = Columns.concat([_cols(store, "r1"), _cols(store, "r2")])
    records = store.run("r1").measurements() + store.run("r2").measurements()
    assert summary_of(cols).to_json() == summary(records).to_json()
    assert summary_of(cols)["launches"].tolist() == [2, 2, 2]


def test_github_table_is_tabulates_text():
    rng = random.Random(1)
    alpha = "ab-|.0123 x"
    for k in range(800):
        ncol, nrow = rng.randint(1, 6), rng.randint(0, 5)
        # Now and then cells tabulate measures otherwise: spaces at an end (k % 4 == 1), several lines, tabs, a wide
        # or accented character (k % 4 == 2).
        chars, strip = alpha + ("\n\u00e9\u4e2d\t" if k % 4 == 2 else ""), k % 4 != 1
        word = lambda chars=chars, strip=strip: (lambda w: w.strip() if strip else w)(  # noqa: E731
            "".join(rng.choice(chars) for _ in range(rng.randint(0, 9))))
        heads = [word() for _ in range(ncol)]
        rows = [[word() for _ in range(ncol)] for _ in range(nrow)]
        assert github_table(heads, rows) == tabulate(rows, headers=heads, tablefmt="github", disable_numparse=True)


def test_github_table_comes_a_block_of_rows_at_a_time(monkeypatch):
    import segbench.report.markdown as md

    heads, rows = ["a", "b%"], [[f"x{i}", "1" * (i % 4)] for i in range(7)]
    whole = tabulate(rows, headers=heads, tablefmt="github", disable_numparse=True)
    monkeypatch.setattr(md, "_BLOCK", 3)
    parts = list(md.github_chunks(heads, [list(c) for c in zip(*rows)]))
    assert len(parts) == 1 + 3 and "".join(parts) == whole == github_table(heads, rows)


def test_github_table_takes_columns_of_bytes_as_their_text(monkeypatch):
    """Numbers written at once as ASCII bytes (floattext) beside text columns: the table tabulate makes of their
    text, a block of rows at a time; an empty cell and cells wider than the header included."""
    import numpy as np

    import segbench.report.markdown as md

    monkeypatch.setattr(md, "_BLOCK", 4)
    rng = random.Random(3)
    for _ in range(60):
        n = rng.randint(0, 9)
        values = [rng.choice(["", "1", "12.345", "-0.000", "123456789.0", "inf"]) for _ in range(n)]
        names = [rng.choice(["m", "model-01", "a|b", "x y"]) for _ in range(n)]
        heads = ["model", "v" * rng.randint(1, 14)]
        as_bytes = np.array([v.encode() for v in values], dtype="S") if n else np.zeros(0, dtype="S1")
        whole = tabulate(list(zip(names, values)), headers=heads, tablefmt="github", disable_numparse=True)
        assert "".join(md.github_chunks(heads, [names, as_bytes])) == whole


@pytest.mark.parametrize("slower", [1.0, 1.02, 1.3, 0.7])
def test_compare_from_columns_gives_the_records_verdicts(tmp_path, slower):
    base = [_m("base", k) for k in range(6)]
    cand = [_m("cand", k, median=10.0 * slower, seed=99) for k in range(6)]
    _store(tmp_path, "base", base)
    _store(tmp_path, "cand", cand)
    store = Store(tmp_path)
    fast = compare_columns(_cols(store, "base"), _cols(store, "cand"), 0.05)
    slow = compare(store.run("base").measurements(), store.run("cand").measurements(), 0.05)
    assert [(v.case, v.status, v.ratio, v.reason, v.evidence) for v in fast] == \
        [(v.case, v.status, v.ratio, v.reason, v.evidence) for v in slow]
    expected = {1.0: "same", 1.02: "same", 1.3: "regression", 0.7: "improved"}[slower]
    assert {v.status for v in fast} == {expected}


def _mixed_records() -> list[Measurement]:
    """Every kind of record a row is made of: samples of many lengths (1, 2, under 6, under 10, 20 and more, with
    outliers, drift, ties, zeros, a mean <= 0), failures with and without samples, summary-only tool records (ints,
    None figures, an empty samples tuple), throttling, cooldowns, oversubscription, accelerator backends."""
    from segbench.model import BACKEND_APPLIED, BACKEND_FALLBACK, BACKEND_NODES, Latency

    rng = np.random.default_rng(5)
    out: list[Measurement] = []
    base = dict(run_id="r", model=ModelRef("m", "/m.tflite", "tflite", "a" * 64), runtime="tflite", threads=1,
                power_mode="high", device_id="d", tool="benchmark_model", tool_version="2.16")
    lengths = [1, 2, 3, 5, 6, 7, 8, 9, 10, 16, 19, 20, 21, 50, 129, 300]
    for k, n in enumerate(lengths * 3):
        s = 10.0 * np.exp(rng.normal(0, (0.01, 0.08, 0.3)[k % 3], n))
        if k % 4 == 1 and n >= 3:
            s[rng.integers(0, n)] *= 5.0  # an outlier
        if k % 5 == 2 and n >= 20:
            s[n // 2:] *= 1.4  # slowed in its second half
        if k % 7 == 3:
            s = np.round(s)  # ties (a zero MAD for the steadiest)
        if k % 11 == 4:
            s = -s  # a mean <= 0: no CV
        out.append(Measurement(case_id=f"s{k}", status="ok", samples_ms=tuple(float(x) for x in s),
                               throttled=k % 6 == 0 or None, throttled_at_start=k % 12 == 0,
                               cooldown_s=1.25 * k if k % 4 == 0 else None, launch=1 + k % 3, **base))
    out.append(Measurement(case_id="zeros", status="ok", samples_ms=(0.0,) * 12, **base))
    out.append(Measurement(case_id="flat", status="ok", samples_ms=(3.0,) * 25, **base))
    out.append(Measurement(case_id="failed", status="failed", error="tool crashed", **base))
    out.append(Measurement(case_id="failed-samples", status="timeout", samples_ms=(1.0, 2.0, 3.0), **base))
    out.append(Measurement(case_id="skipped", status="skipped", **base))
    out.append(Measurement(case_id="summary", status="ok", count=50, latency_ms=Latency(avg=12, min=10.5, max=20.0,
                                                                                         std=None, median=None), **base))
    out.append(Measurement(case_id="summary-median", status="ok", count=None, latency_ms=Latency(avg=3.5, median=3.25),
                           **base))
    out.append(Measurement(case_id="empty", status="ok", samples_ms=(), latency_ms=Latency(avg=7.0), **base))
    out.append(Measurement(case_id="oversub", status="ok", samples_ms=(4.0, 5.0, 6.0, 4.5, 5.5, 5.0, 4.9),
                           extra={"oversubscribed": "4 threads on 1 CPU"}, **base))
    for name, extra in (("gpu-whole", {BACKEND_APPLIED: True}), ("gpu-none", {BACKEND_APPLIED: False,
                                                                              BACKEND_FALLBACK: "no GPU delegate"}),
                        ("gpu-partial", {BACKEND_APPLIED: True, BACKEND_FALLBACK: "12 ops on CPU",
                                         BACKEND_NODES: {"delegated": 37, "total": 49}}),
                        ("gpu-unknown", {})):
        out.append(Measurement(case_id=name, status="ok", backend="gpu", samples_ms=(8.0, 8.5, 9.0, 8.2, 8.1, 8.3),
                               extra=extra, **base))
    out.append(Measurement(case_id="gpu-failed", status="failed", backend="gpu", error=None, **base))
    return out


def test_record_rows_are_each_records_row_of_one():
    """record_rows computes all records at once; each value is the one-record row's, bit for bit and of its type."""
    from segbench import stats
    from segbench.report.tables import DERIVED, _row

    records = _mixed_records()
    got = record_rows(records)
    rows = [_row([m]) for m in records]
    for key in DERIVED:
        want = [r[key] for r in rows]
        assert [(type(v), v) for v in got[key]] == [(type(v), v) for v in want], key
    want_fig = [stats.launch_figure(m) for m in records]
    assert [(type(v), v) for v in got["launch_figure"]] == [(type(v), v) for v in want_fig]
    # the mix does reach every branch
    notes = " | ".join(got["notes"])
    for said in ("only 1 samples", "CV ", "outlier(s)", "slowed", "throttled (at start)", "cooldown", "tool crashed",
                 "4 threads on 1 CPU", "no GPU delegate"):
        assert said in notes, said
    assert None in got["cv_pct"] and None in got["ci_low_ms"] and 12 in got["avg_ms"]
    assert record_rows([]) == {k: [] for k in (*DERIVED, "launch_figure")}


def test_json_rows_are_the_values_of_pandas_json_with_floats_unrounded():
    import json

    import pandas as pd

    from segbench.report.tables import json_rows

    rng = np.random.default_rng(3)
    floats = [math.nan, math.inf, -math.inf, 1e300, 1e-20, -0.0, 123.456789012345678, 1.2345678901234567e-6,
              *rng.normal(50, 30, 200)]
    df = pd.DataFrame({"f": floats, "mixed": pd.Series([None, 1.5, 2, "x", *[None] * (len(floats) - 4)], dtype=object),
                       "i": range(len(floats)), "s": [f"r{i}" for i in range(len(floats))],
                       "ids": [["a", "b"]] * len(floats)})
    got = list(json_rows(df))
    pandas = json.loads(df.to_json(orient="records", double_precision=15))
    assert [{k: v for k, v in row.items() if k != "f"} for row in got] == [
        {k: v for k, v in row.items() if k != "f"} for row in pandas]
    # the float column: the frame's very values (pandas rounds to 15 decimal places), non-finite ones None as in
    # pandas' json
    assert [row["f"] for row in got] == [None, None, None, *floats[3:]]
    assert pandas[7]["f"] != floats[7] and got[7]["f"] == floats[7]


def test_a_summary_only_run_beside_measured_ones_keeps_its_missing_figures_missing(tmp_path):
    """A parsed log (avg/min/max, no median, no samples) is a run whose derived median column has no value at all;
    read with a run that has them, its median is missing, not the cache's int sentinel (-9.2e18)."""
    from segbench.columns import Columns
    from segbench.model import Latency

    store = _store(tmp_path, "r1", [_m("r1", k) for k in range(4)])
    logged = replace(_m("r2", 9), case_id="logged", model=ModelRef("logged", "/m/logged.nb", "paddle-nb", "d" * 64),
                     runtime="paddlelite", samples_ms=None, count=10, latency_ms=Latency(avg=50.0, min=45.0, max=60.0))
    _store(tmp_path, "r2", [logged])
    for order in (("r1", "r2"), ("r2", "r1")):
        cols = Columns.concat([_cols(store, r) for r in order])
        table = summary_of(cols)
        row = table[table["model"] == "logged"].iloc[0]
        assert math.isnan(row["median_ms"]) and math.isnan(row["ci_low_ms"]) and row["avg_ms"] == 50.0
        assert np.nanmin(cols["d_median_ms"]) > 0
    res = CliRunner().invoke(cli, ["report", "--all", "--reports", str(tmp_path), "--format", "csv"])
    assert res.exit_code == 0, res.output
    assert "e+18" not in res.output and "9223372036854775808" not in res.output
