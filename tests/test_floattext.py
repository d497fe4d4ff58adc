"""segbench.floattext.reprs writes each float as float.__repr__ does (the csv and json of large reports use it)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segbench.floattext import fixed, integers, reprs

pytestmark = pytest.mark.oldlibs  # run on numpy 1.x / pandas 2.x too (README: the Python 3.10 tests)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), max_size=60))
def test_any_float_is_written_as_repr(values: list[float]):
    assert reprs(values) == [float.__repr__(v) for v in values]
    assert reprs(np.array(values, dtype=np.float64)) == [float.__repr__(v) for v in values]


def test_the_edges_of_repr_s_plain_notation():
    edges = [0.0, -0.0, 1e-4, np.nextafter(1e-4, 0), 9.999999999999999e-05, 1e16, np.nextafter(1e16, 0), -1e16,
             5e-324, 1.7976931348623157e308, math.nan, math.inf, -math.inf, 0.1, 0.3, 2.675, 1 / 3, 100.0, 123456789.0]
    assert reprs(edges) == [float.__repr__(float(v)) for v in edges]


def test_many_latencies_at_once():
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.lognormal(2, 2, 20000), np.round(rng.random(5000) * 100, 3), rng.random(100) * 1e-5])
    assert reprs(values) == list(map(float.__repr__, values.tolist()))


def test_empty_and_shape():
    assert reprs([]) == []
    try:
        reprs(np.zeros((2, 2)))
    except ValueError as exc:
        assert "one column" in str(exc)
    else:
        raise AssertionError("a 2-d array was taken")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), max_size=60), st.sampled_from([0, 1, 3, 6]))
def test_fixed_is_pythons_fixed_point_text(values: list[float], decimals: int):
    assert fixed(np.array(values, dtype=np.float64), decimals).tolist() == \
        [f"{v:.{decimals}f}".encode() for v in values]


def test_fixed_at_the_half_way_points_and_signs():
    # Ties in binary (0.125, 2.5), near-ties the product with 10**d rounds across (0.0005, 2.675, 1.0005), negative
    # zero and values that round to it, and the edges of the fast path.
    values = [0.125, 0.375, 2.5, 0.0005, 0.0015, 2.675, 1.0005, 999.9995, -0.0, -0.0001, -0.0004999, 0.0, 1e-300,
              2.0 ** 38 / 1000, 2.0 ** 38 / 1000 + 0.5, 1e300, -1e300, 123.4565, 0.9995]
    for d in (0, 1, 2, 3):
        assert fixed(np.array(values), d).tolist() == [f"{v:.{d}f}".encode() for v in values]
    rng = np.random.default_rng(5)
    many = np.concatenate([rng.lognormal(2, 3, 20000), rng.uniform(-999, 999, 20000), np.round(rng.random(5000), 4)])
    assert fixed(many, 3).tolist() == [f"{v:.3f}".encode() for v in many.tolist()]


@given(st.lists(st.integers(min_value=-2 ** 63, max_value=2 ** 63 - 1), max_size=40))
def test_integers_are_str(values: list[int]):
    assert integers(np.array(values, dtype=np.int64)).tolist() == [str(v).encode() for v in values]
