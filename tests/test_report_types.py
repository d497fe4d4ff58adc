"""Integer fields stay integers through storage and every report path (issue 21).

A real `segbench run` (threads 1,2) and a real `segbench eval` of another model go into one store: the eval-only
row has no thread count, which once turned the whole threads column into floats (1.000, threads=1.0, and
`--config threads=1` matching nothing)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import run_cli
from seg_synth import LABEL, PRED, build_model, upscale, write_dataset

pytestmark = pytest.mark.oldlibs  # run on numpy 1.x / pandas 2.x too (README: the Python 3.10 tests)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("types")
    data = write_dataset(tmp / "data", "ade20k", [(upscale(LABEL, 2), upscale(PRED, 2))])
    timed = build_model(tmp / "timed.onnx", 150, size=(8, 8))
    evaluated = build_model(tmp / "evaluated.onnx", 150, size=(8, 8), stride=2)  # another file: a row of its own
    reports = tmp / "reports"
    ran = run_cli("run", "--models", str(timed), "--threads", "1,2", "--warmup", "1", "--repeats", "3",
                  "--reports", str(reports), "-q")
    assert ran.code == 0, ran.err
    ev = run_cli("eval", "--model", str(evaluated), "--dataset", str(data), "--format", "ade20k", "--preset", "raw",
                 "--reports", str(reports), "-q")
    assert ev.code == 0, ev.err
    return reports


def _report(store: Path, *args: str) -> str:
    res = run_cli("report", "--all", "--reports", str(store), *args)
    assert res.code == 0, res.err
    return res.out


def _ints(rows: list[dict], key: str = "threads") -> list[object]:
    return [r[key] for r in rows if r.get(key) is not None]


def test_cases_table_keeps_threads_and_n_integers_in_markdown_csv_and_json(store: Path):
    md = _report(store)
    threads = [line.split("|")[3].strip() for line in md.splitlines() if line.startswith("| timed ")]
    assert threads == ["1", "2"], md
    assert "| evaluated " in md  # the eval-only row is there (and is what made the column float)
    csv = _report(store, "--format", "csv")
    assert re.search(r"^timed,onnxruntime,1,high,", csv, re.M) and ",1.0," not in csv, csv
    rows = json.loads(_report(store, "--format", "json"))["rows"]
    assert _ints(rows) == [1, 2] and all(type(x) is int for x in _ints(rows))
    assert all(type(x) is int for x in _ints(rows, "n"))


def test_config_threads_1_matches_after_an_eval(store: Path):
    md = _report(store, "--config", "threads=1")
    assert "## Comparison (latency: min of the timed runs, threads=1)" in md and "1 thread(s)" in md and "1.0 thread" not in md


def test_every_format_of_the_full_report_keeps_integers(store: Path):
    doc = json.loads(_report(store, "--view", "all", "--format", "json"))
    for key in ("sweep", "cases"):
        values = _ints(doc["sections"][key]["rows"])
        assert sorted(values) == [1, 2] and all(type(x) is int for x in values), (key, values)
    assert "threads=1," in doc["sections"]["comparison"]["title"]
    csv = _report(store, "--view", "all", "--format", "csv")
    sweep, cases = csv.split("# sweep")[1].split("# cases")
    assert re.search(r",high,1,", sweep) and re.search(r"^timed,onnxruntime,1,high,", cases, re.M), csv
    assert "1.0,high" not in csv and "high,1.0," not in csv
    html = _report(store, "--format", "html")
    assert "<td class=\"num\">1</td>" in html and ">1.000</td>" not in html
    latex = _report(store, "--format", "latex")
    assert re.search(r"timed & onnxruntime & 1 & high", latex) and "& 1.000 &" not in latex
