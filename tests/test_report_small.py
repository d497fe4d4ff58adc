"""`segbench report` of few records (cmd_report.SMALL_BYTES) tables them in plain Python, without the columnar
cache, numpy or pandas: its text must be the columnar path's, character for character, for every kind of row."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from segbench.cli import cli, cmd_report
from segbench.model import (
    BACKEND_APPLIED,
    BACKEND_FALLBACK,
    BACKEND_NODES,
    Accuracy,
    DeviceInfo,
    Latency,
    Measurement,
    ModelRef,
    RunInfo,
)
from segbench.store import Store

pytestmark = pytest.mark.oldlibs  # run on numpy 1.x / pandas 2.x too (README: the Python 3.10 tests)

PHONE = DeviceInfo(id="R58M12ABCDE", kind="android", brand="Xiaomi", model="MI 9", soc="SM8150",
                   android_version="11", api_level=30)
A = ModelRef("seg_a", "/m/seg_a.tflite", "tflite", "a" * 64)
A2 = ModelRef("seg_a", "/n/seg_a.tflite", "tflite", "c" * 64)  # the same name, another file
B = ModelRef("seg_b", "/m/seg_b.nb", "paddle-nb", "b" * 64)
E = ModelRef("seg_e", "/m/seg_e.onnx", "onnx", "e" * 64)  # evaluated only


def _m(run_id: str, case: str, model: ModelRef = A, **kw) -> Measurement:
    base = dict(run_id=run_id, case_id=case, model=model, runtime="tflite", status="ok", threads=1,
                power_mode="high", device_id=PHONE.id, tool="benchmark_model", tool_version="2.16", cpu_mask="f0",
                warmup=1, repeats=30, count=30)
    return Measurement(**{**base, **kw})


def _samples(n: int, seed: int, drift: float = 0.0) -> tuple[float, ...]:
    return tuple(round(50 + ((seed * 7 + k * 13) % 17) * 0.3 + drift * k, 3) for k in range(n))


def _records(run_id: str, device: str = PHONE.id) -> list[Measurement]:
    return [
        _m(run_id, "a1", samples_ms=_samples(30, 1), device_id=device),
        _m(run_id, "a1", samples_ms=_samples(30, 2), launch=2, device_id=device),  # two launches: pooled
        _m(run_id, "a2", threads=2, samples_ms=_samples(5, 3), throttled=True, throttled_at_start=True,
           cooldown_s=12.5, device_id=device),  # few samples, hot phone
        _m(run_id, "a4", threads=4, samples_ms=_samples(40, 4, drift=1.0) + (400.0,), device_id=device),
        _m(run_id, "a2c", A2, threads=2, samples_ms=_samples(12, 5), device_id=device),  # a name shared
        _m(run_id, "b1", B, runtime="paddlelite", tool="benchmark_bin", tool_version="2.13", cpu_mask="80",
           samples_ms=None, latency_ms=Latency(avg=61.25, min=60.0, max=70.5), count=30,
           device_id=device),  # a summary only, on other cores
        _m(run_id, "b2", B, runtime="paddlelite", tool="benchmark_bin", tool_version="2.13", threads=2,
           status="failed", error="benchmark_bin: cannot load model", samples_ms=None, device_id=device),
        _m(run_id, "g1", backend="gpu", samples_ms=_samples(20, 6), device_id=device,
           extra={BACKEND_APPLIED: True, BACKEND_FALLBACK: "3 nodes on the CPU",
                  BACKEND_NODES: {"delegated": 46, "total": 49}}),
        _m(run_id, "g2", backend="gpu", threads=2, samples_ms=_samples(20, 7), device_id=device,
           extra={BACKEND_APPLIED: False, BACKEND_FALLBACK: "GPU delegate unavailable"}),
        _m(run_id, "o1", threads=3, samples_ms=_samples(25, 8), device_id=device,
           extra={"oversubscribed": "3 threads on 2 CPUs"}),
    ]


def _store(root: Path) -> Store:
    store = Store(root)
    info = RunInfo(run_id="20260101-000000-000-eval", started="2026-01-01T00:00:00+00:00", harness_version="t",
                   device=PHONE, settings={"command": "eval"}, versions={}, status="completed")
    run = store.create_run(info)
    for model, miou in ((A, 0.3625), (E, 0.41)):
        run.append(Accuracy(run_id=run.run_id, case_id=f"eval-{model.name}", model=model, runtime="tflite",
                            status="ok", miou=miou, images=8, dataset={"name": "ADE20K", "split": "validation"},
                            finished="2026-01-01T00:00:01"))
    for r, device in ((1, PHONE.id), (2, "farm-phone-2")):
        run_id = f"20260101-00000{r}-000-bench"
        info = RunInfo(run_id=run_id, started="2026-01-01T00:00:00+00:00", harness_version="t", device=PHONE,
                       settings={"warmup": 1, "repeats": 30}, versions={"segbench": "t"}, status="completed")
        store.import_run(info, _records(run_id, device))
    return store


def _report(root: Path, *args: str) -> str:
    res = CliRunner().invoke(cli, ["report", "--reports", str(root), "--manifest", str(root / "none.toml"), *args],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


@pytest.mark.parametrize("args", [(), ("--run", "20260101-000000-000-eval"),
                                  ("--run", "20260101-000001-000-bench", "--run", "20260101-000002-000-bench"),
                                  ("--view", "cases")])
def test_the_small_table_is_the_columnar_one(tmp_path, monkeypatch, args):
    _store(tmp_path)
    small = _report(tmp_path, *args)
    assert not (tmp_path / "index" / "columns").exists()  # the check can fail: no cache was read or built
    monkeypatch.setattr(cmd_report, "SMALL_BYTES", -1)
    columnar = _report(tmp_path, *args)
    assert (tmp_path / "index" / "columns").is_dir()
    assert small == columnar
    assert "|" in small


def test_the_small_table_has_every_kind_of_row(tmp_path):
    """What the comparison above covers (else it could pass on a table of nothing much)."""
    _store(tmp_path)
    out = _report(tmp_path, "--run", "20260101-000001-000-bench", "--run", "20260101-000002-000-bench")
    for said in ("2 launches: 95% CI", "only 5 samples", "throttled (at start)", "cooldown 12.5 s",
                 "2 rows share this name", "benchmark_bin: cannot load model", "gpu (partial 46/49)",
                 "gpu (CPU fallback)", "3 threads on 2 CPUs", "power mode high ran on CPUs", "1 outlier(s)",
                 "slowed", "36.250", "farm-phone-2"):
        assert said in out, said
    assert "41.000" in _report(tmp_path, "--run", "20260101-000000-000-eval")  # an eval-only row


def test_a_published_model_hands_over_to_the_comparison(tmp_path, monkeypatch):
    """The default markdown report adds the paper's comparison when the manifest's table names a measured model:
    that is the documents' work (full.build), so the small path hands it over, and the text is the columnar path's."""
    store = Store(tmp_path)
    info = RunInfo(run_id="20260101-000001-000-bench", started="2026-01-01T00:00:00+00:00", harness_version="t",
                   device=PHONE, settings={"warmup": 1, "repeats": 30}, versions={}, status="completed")
    store.import_run(info, [_m(info.run_id, "l1", ModelRef("LR-ASPP", "/m/lraspp.onnx", "onnx", "d" * 64),
                               samples_ms=_samples(30, 1))])
    manifest = Path(__file__).resolve().parent.parent / "models_dir" / "manifest.toml"
    args = ["report", "--reports", str(tmp_path), "--manifest", str(manifest)]
    handed = []
    real = cmd_report._small_table
    monkeypatch.setattr(cmd_report, "_small_table", lambda *a: handed.append(real(*a)) or handed[-1])
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert handed == [None]  # the small path was asked and declined
    assert "measured on Xiaomi MI 9" in res.output and "Compare with SOTA" in res.output  # the comparison follows
    monkeypatch.setattr(cmd_report, "SMALL_BYTES", -1)
    assert CliRunner().invoke(cli, args, catch_exceptions=False).output == res.output


def test_damaged_records_say_the_same_either_way(tmp_path, monkeypatch):
    store = _store(tmp_path)
    path = store.run("20260101-000002-000-bench").results_path
    path.write_text(path.read_text().replace('"threads": 1', '"threads": "one"', 1))
    small = CliRunner().invoke(cli, ["report", "--reports", str(tmp_path), "--manifest", "none.toml"])
    monkeypatch.setattr(cmd_report, "SMALL_BYTES", -1)
    columnar = CliRunner().invoke(cli, ["report", "--reports", str(tmp_path), "--manifest", "none.toml"])
    assert small.exit_code == columnar.exit_code
    assert small.output == columnar.output


def test_a_report_that_fails_midway_leaves_the_previous_file_whole(tmp_path):
    """-o is written beside its place and moved there whole: a json report streamed a block of rows at a time that
    fails (an error, Ctrl-C, a full disk) after its first block leaves the previous report, and no temporary file."""
    from segbench.cli.cmd_report import _write

    out = tmp_path / "report.json"
    out.write_text("the previous report\n")

    def pieces():
        yield '{"rows": ['
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _write(pieces(), out)
    assert out.read_text() == "the previous report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]
    _write(iter(['{"rows": []}']), out)
    assert out.read_text() == '{"rows": []}\n'


def test_name_collision_notes_are_the_same_from_lists_and_arrays():
    """The note on rows sharing a name, made a row at a time for the plain table (lists) and at once for the
    columnar one (numpy object arrays): the same notes, on random tables with earlier notes and missing values."""
    import random

    import numpy as np
    import pandas as pd

    from segbench.columns import object_array
    from segbench.report import tables

    rng = random.Random(11)
    for _ in range(40):
        n = rng.randint(1, 60)
        pick = lambda *xs, n=n: [rng.choice(xs) for _ in range(n)]  # noqa: E731
        out = {"device": pick("p1", "p2", None), "model": pick("a", "b"), "runtime": pick("tflite"),
               "threads": pick(1, 2, None), "power_mode": pick("high", None), "backend": pick("cpu", "gpu"),
               "sha256": pick("a" * 64, "b" * 64, None), "tool": pick("benchmark_model", None),
               "tool_version": pick("2.16", "", None), "notes": pick(None, "", "slowed", "1 outlier(s)")}
        listed = {k: list(v) for k, v in out.items()}
        arrays = {k: object_array(v) for k, v in out.items()}
        coded = {k: object_array(v) for k, v in out.items()}
        tables._name_collisions_of(listed, {})
        tables._name_collisions_of(arrays, {})
        # some columns given as codes instead (summary_of's), numbered in another order than first seen
        keys = {k: -pd.factorize(coded[k], use_na_sentinel=False)[0] for k in ("model", "threads", "sha256")}
        tables._name_collisions_of(coded, keys)
        assert isinstance(arrays["notes"], np.ndarray)
        assert arrays["notes"].tolist() == listed["notes"] == coded["notes"].tolist()
        assert any("share this name" in (x or "") for x in listed["notes"]) or len(set(zip(
            *(out[k] for k in tables.GROUP_KEYS)))) == n
