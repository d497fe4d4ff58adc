"""segbench.jsontext.dumps writes json.dumps(obj, indent=2)'s very text (reports' json at 100k rows use it)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segbench.jsontext import dumps

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
