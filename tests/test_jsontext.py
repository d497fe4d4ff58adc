"""segbench.jsontext.dumps writes json.dumps(obj, indent=2)'s very text (reports' json at 100k rows use it)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segbench.jsontext import Rows, chunks, dumps

pytestmark = pytest.mark.oldlibs  # run on numpy 1.x / pandas 2.x too (README: the Python 3.10 tests)

LEAVES = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
          | st.text(max_size=8))
KEYS = st.text(max_size=6) | st.integers(-5, 5) | st.floats(allow_nan=False) | st.booleans() | st.none()
DOCS = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
                    | st.dictionaries(KEYS, inner, max_size=4), max_leaves=30)


@settings(max_examples=400, deadline=None)
@given(DOCS)
def test_dumps_is_json_dumps_with_indent_2(doc):
    assert dumps(doc) == json.dumps(doc, indent=2)


def test_a_report_shaped_document_and_subclasses():
    rows = [{"model": "m\u00e9", "n": 3, "median_ms": 1.5, "run_ids": ["a", "b"], "empty": [], "none": None,
             "nan": math.nan, "flags": {}, "ok": True}] * 3
    doc = {"schema": "segbench.report/1", "rows": rows, "runs": [{"cpu": {7: 2841600, 1.5: "x"}}],
           "np": [np.float64(2.25), np.float64(0.1)]}  # float subclasses write as floats
    assert dumps(doc) == json.dumps(doc, indent=2)


def test_default_and_unserialisable():
    doc = {"x": [np.bool_(True), 3, np.int64(5), {"y": {1, 2}}]}  # numpy's bool and int are no JSON types
    assert dumps(doc, default=str) == json.dumps(doc, indent=2, default=str)
    with pytest.raises(TypeError, match="not JSON serializable"):
        dumps({"x": object()})
    with pytest.raises(TypeError, match="keys must be"):
        dumps({(1, 2): 3})


ROW_VALUES = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) \
    | st.text(max_size=5) | st.lists(st.text(max_size=3), max_size=2)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["a", "b%s", "c d", "\u00e9"]), unique=True, min_size=1, max_size=4).flatmap(
    lambda keys: st.tuples(st.just(keys), st.lists(st.tuples(*[ROW_VALUES] * len(keys)), max_size=6))))
def test_rows_are_written_as_the_list_of_dicts_they_stand_for(table):
    keys, rows = table
    dicts = [dict(zip(keys, row)) for row in rows]
    columns = {k: [row[j] for row in rows] for j, k in enumerate(keys)}
    doc = {"schema": "x", "rows": Rows(columns), "nested": [{"more": Rows(columns)}], "runs": []}
    expected = json.dumps({"schema": "x", "rows": dicts, "nested": [{"more": dicts}], "runs": []}, indent=2)
    assert dumps(doc) == expected
    assert "".join(chunks(doc)) == expected
    assert list(Rows(columns)) == dicts and Rows(columns)[-1:] == dicts[-1:]


def test_rows_come_a_block_at_a_time(monkeypatch):
    import segbench.jsontext as jt

    monkeypatch.setattr(jt, "_BLOCK", 3)
    columns = {"x": [1.5, None, math.inf, 2.0, -0.0, math.nan, 7.25], "s": list("abcdefg")}
    dicts = [dict(zip(columns, row)) for row in zip(*columns.values())]
    parts = list(chunks({"rows": Rows(columns)}))
    assert "".join(parts) == json.dumps({"rows": dicts}, indent=2)
    assert len(parts) >= 4  # the text around, and three blocks of rows


@pytest.mark.parametrize("column", [
    [["r1"], [], ["a", "\u00e9\n"], ["x"]],  # run ids: lists of text, each one join
    [["r1"], ["a", 1], [None], []],  # an item that is not text: written as any value is
    [None, None, None, None],  # a column no row has a value in
    [["r1"]] * 9 + [["r2"], ["\u00e9"], ["r1"]],  # one text each, few distinct: each written once
    [[1]] * 10 + [["a"], [None]],  # one item each, not all text
    [True, None, False] * 4,  # bools and None
], ids=["lists-of-text", "lists-of-anything", "all-null", "one-text-each", "one-item-each", "bools"])
def test_columns_of_lists_and_of_nothing(column):
    columns = {"ids": column, "n": list(range(len(column)))}
    dicts = [dict(zip(columns, row)) for row in zip(*columns.values())]
    assert dumps({"rows": Rows(columns), "x": [Rows(columns)]}) == json.dumps({"rows": dicts, "x": [dicts]}, indent=2)


@pytest.mark.parametrize("columns", [
    {"a%s": ["x%s", "x%s", "x%s"], "b": [1, 2, 3], "c": [None, None, None]},  # one text throughout, with a %
    {"a%": ["%d", "%d", "%d"], "b": [1.5, 1.5, 1.5]},  # every column one text: the rows are the template itself
    {"a": ["x", "x", "y"], "b": [[], [], []]},  # the same but in the last row
], ids=["some-constant", "all-constant", "all-but-one"])
def test_columns_of_one_text_throughout(columns, monkeypatch):
    import segbench.jsontext as jt

    dicts = [dict(zip(columns, row)) for row in zip(*columns.values())]
    assert dumps({"rows": Rows(columns)}) == json.dumps({"rows": dicts}, indent=2)
    monkeypatch.setattr(jt, "_BLOCK", 2)  # one text in one block, two in another
    assert dumps({"rows": Rows(columns)}) == json.dumps({"rows": dicts}, indent=2)


def test_a_column_of_floats_as_an_array():
    """jsontext.Floats: a float64 array whose NaN and infinities are null, written as the list of its values."""
    import numpy as np

    from segbench.jsontext import Floats

    a = np.array([1.5, np.nan, 1e-05, np.inf, -0.0, 2.675, -np.inf, 1e16])
    values = [1.5, None, 1e-05, None, -0.0, 2.675, None, 1e16]
    column = Floats(a)
    assert list(column) == values and [column[i] for i in range(len(a))] == values and list(column[2:4]) == values[2:4]
    dicts = [{"x": v, "n": i} for i, v in enumerate(values)]
    assert dumps({"rows": Rows({"x": column, "n": list(range(len(a)))})}) == json.dumps({"rows": dicts}, indent=2)
    assert Rows({"x": column, "n": list(range(len(a)))}) == dicts
