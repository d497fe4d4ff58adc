"""segbench.csvtext writes DataFrame.to_csv(index=False)'s very text (reports' csv at 100k rows use it)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segbench import csvtext

pytestmark = pytest.mark.oldlibs  # run on numpy 1.x / pandas 2.x too (README: the Python 3.10 tests)

# Text with every character the csv module may quote for, spaces at the ends, non-ASCII.
TEXT = st.text(alphabet=st.sampled_from(list('ab ,"\r\n;é%') + ["\u2028"]), max_size=6)
FLOATS = st.floats(allow_nan=True, allow_infinity=True)
CELLS = st.none() | st.booleans() | st.integers() | FLOATS | TEXT | st.lists(TEXT | st.integers(), max_size=2)


def _frame(columns: dict[str, list], dtype: object = None) -> pd.DataFrame:
    return pd.DataFrame(columns, dtype=dtype)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 4).flatmap(lambda k: st.integers(0, 6).flatmap(
    lambda n: st.lists(st.lists(CELLS, min_size=n, max_size=n), min_size=k, max_size=k))))
def test_table_is_an_object_frames_to_csv(columns):
    headers = [f"c{i}" for i in range(len(columns))]
    assert csvtext.table(headers, columns) == _frame(dict(zip(headers, columns)), object).to_csv(index=False)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 6).flatmap(lambda n: st.tuples(
    st.lists(FLOATS, min_size=n, max_size=n), st.lists(st.none() | TEXT, min_size=n, max_size=n),
    st.lists(st.integers(-10**20, 10**20), min_size=n, max_size=n), st.lists(st.booleans(), min_size=n, max_size=n),
    st.lists(st.none() | st.booleans() | st.integers(0, 3), min_size=n, max_size=n))))
def test_frame_is_to_csv_for_each_dtype(cols):
    floats, texts, ints, bools, mixed = cols
    df = _frame({"f": floats, "s": texts, "i": ints, "b": bools, "o": pd.Series(mixed, dtype=object)})
    assert csvtext.frame(df) == df.to_csv(index=False)
    for name in df.columns:  # one column alone: its empty cells are lines of their own
        assert csvtext.frame(df[[name]]) == df[[name]].to_csv(index=False), name


def test_float_text_is_numpys_over_every_magnitude():
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2**63, 20_000, dtype=np.uint64)
    values = np.concatenate([bits.view(np.float64), rng.normal(0, 1, 20_000) * 10.0 ** rng.integers(-30, 30, 20_000),
                             [0.0, -0.0, 1e16, 1e16 - 2, 1e-4, 9.9999e-5, 5e-324, math.inf, -math.inf, math.nan]])
    df = _frame({"x": values, "y": values[::-1].copy()})
    assert csvtext.frame(df) == df.to_csv(index=False)


def test_blocks_of_rows_join_to_the_same_text(monkeypatch):
    df = _frame({"a": [1.5, math.nan, 3.25] * 5, "b": ["x,y", "", None] * 5})
    whole = df.to_csv(index=False)
    monkeypatch.setattr(csvtext, "_BLOCK", 4)
    parts = list(csvtext.frame_chunks(df))
    assert len(parts) == 1 + 4 and "".join(parts) == whole


@pytest.mark.parametrize("df", [
    pd.DataFrame({"a": [np.float64(0.1), 2]}, dtype=object),  # numpy scalars in an object column
    pd.DataFrame({"d": pd.to_datetime(["2026-01-01", None])}),  # dates
    pd.DataFrame({"a": pd.Categorical(["x", "y"])}),
    pd.DataFrame([[1, 2]], columns=["a", "a"]),  # a repeated name
    pd.DataFrame({"a": []}), pd.DataFrame(),  # no rows, no columns
    pd.DataFrame({"a": [(1, 2), {"k": 1}]}, dtype=object),  # tuples and dicts: pandas' own text
    pd.DataFrame({"a": np.array([0.1, np.nan], dtype=np.float32)}),  # numpy's float32 text is not the repr
    pd.DataFrame({"a": pd.array([1, None], dtype="Int64"), "b": pd.array([0.5, None], dtype="Float64"),
                  "c": pd.array([True, None], dtype="boolean")}),  # pandas' nullable types
], ids=["numpy-scalars", "dates", "categorical", "repeated-name", "no-rows", "empty", "tuples", "float32",
        "nullable"])
def test_frames_it_does_not_expect_are_written_by_pandas(df):
    assert csvtext.frame(df) == df.to_csv(index=False)


def test_table_of_odd_values_and_no_rows():
    assert csvtext.table(["a"], [[np.int64(3), (1,)]]) == _frame({"a": [np.int64(3), (1,)]}, object).to_csv(index=False)
    assert csvtext.table(["a", "b"], [[], []]) == _frame({"a": [], "b": []}, object).to_csv(index=False)
    assert csvtext.table([], []) == pd.DataFrame().to_csv(index=False)
