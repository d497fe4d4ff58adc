"""One record's statistics in plain Python (up to stats.SMALL samples) are numpy's bit for bit: the same floats
from summarize, cv, median_ci, outliers, stability_warnings and launch_figure whichever path computes them, and
the same as the columnar cache's figures (stats.segments), so a report never prints another digit for not having
imported numpy."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segbench import stats
from segbench.model import Measurement, ModelRef

FIGURES = (stats.summarize, stats.cv, stats.median_ci, stats.outliers, stats.stability_warnings)
# Around the pairwise sum's block sizes (8 partial sums, blocks of 128, halves split at multiples of 8).
LENGTHS = (1, 2, 3, 7, 8, 9, 15, 16, 17, 19, 20, 21, 63, 127, 128, 129, 130, 255, 256, 257, 1000, 1024, 4095, 4096)


def _numpy_path(f, samples):
    """``f(samples)`` with every sample count taking numpy's path."""
    old = stats.SMALL
    stats.SMALL = -1
    try:
        return f(samples)
    finally:
        stats.SMALL = old


def _same(samples: tuple[float, ...]) -> None:
    assert stats._small(samples) is not None  # the check can fail: the plain path was taken
    for f in FIGURES:
        small, big = f(samples), _numpy_path(f, samples)
        assert repr(small) == repr(big), (f.__name__, len(samples))
    m = Measurement(run_id="r", case_id="c", model=ModelRef("m", "/m.onnx", "onnx"), runtime="onnxruntime",
                    status="ok", samples_ms=samples, cpu_samples_ms=samples)
    for clock in stats.CLOCKS:
        assert repr(stats.launch_figure(m, clock)) == repr(_numpy_path(lambda c: stats.launch_figure(m, c), clock))


def _draw(rng: random.Random, n: int, kind: int) -> tuple[float, ...]:
    if kind == 0:  # a phone's timings as the tools print them: few decimals, many ties
        return tuple(round(100 + rng.gauss(0, 3), rng.randint(0, 3)) for _ in range(n))
    if kind == 1:  # heavy tails
        return tuple(rng.lognormvariate(3, 1.5) for _ in range(n))
    return tuple(rng.choice((1e-3, 1.0, 1e3, 1e7)) * rng.random() for _ in range(n))  # magnitudes mixed


@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("kind", [0, 1, 2])
def test_the_plain_figures_are_numpys(n, kind):
    rng = random.Random(n * 10 + kind)
    for _ in range(5):
        _same(_draw(rng, n, kind))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=1e9, allow_nan=False, allow_infinity=False), min_size=1,
                max_size=600))
def test_any_finite_samples_give_numpys_figures(samples):
    _same(tuple(samples))


def test_integers_from_json_are_floats_alike():
    _same((100, 101, 99, 100, 250, 100, 98, 97, 100, 103, 100, 101))


def test_more_or_not_finite_samples_take_numpy():
    assert stats._small(tuple(range(stats.SMALL + 1))) is None
    assert stats._small((1.0, float("inf"))) is None
    assert stats.summarize((1.0, 2.0, float("nan"))).avg != stats.summarize((1.0, 2.0, float("nan"))).avg  # NaN


def test_the_plain_figures_are_the_caches():
    """summarize & co. in plain Python against stats.segments (the columnar cache's figures) for one record."""
    rng = random.Random(7)
    for n in LENGTHS:
        samples = _draw(rng, n, n % 3)
        seg = stats.segments(np.asarray(samples, dtype=np.float64), np.asarray([0, n], dtype=np.int64))
        lat = stats.summarize(samples)
        for name, value in (("avg", lat.avg), ("min", lat.min), ("max", lat.max), ("std", lat.std),
                            ("median", lat.median), ("p90", lat.p90)):
            assert value == float(seg[name][0]), (name, n)
        assert len(stats.outliers(samples)) == int(seg["outliers"][0])
        cv = stats.cv(samples)
        assert (cv is None and np.isnan(seg["cv"][0])) or cv == float(seg["cv"][0])
