"""Pure statistics over latency samples (milliseconds). No I/O.

Percentiles use linear interpolation (numpy's default), std is the sample standard
deviation (ddof=1), and the median's confidence interval is the distribution-free one
from order statistics, so it holds for the skewed, multi-modal timings phones produce.

The figures of one record's samples (a few hundred, typically) are computed in plain Python up to SMALL samples,
bit for bit what numpy computes (its pairwise summation, its median and its linear percentile, reproduced below;
tests/test_stats_small.py compares them), so that a report of one run never imports numpy; more samples, or any
that is not finite, take numpy itself. numpy is imported where it is used.
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Sequence
from typing import TYPE_CHECKING

from segbench.model import Latency, Measurement

if TYPE_CHECKING:
    import numpy as np

# Coefficient of variation above which a cell is flagged as unstable in reports.
UNSTABLE_CV = 0.05
# Samples up to which one record's figures are computed without numpy (a sort and a few sums of this many floats
# cost well under the import of numpy).
SMALL = 4096


def summarize(samples: Sequence[float]) -> Latency:
    """Latency figures of per-iteration times; all None for no samples."""
    if len(samples) == 0:
        return Latency()
    if (xs := _small(samples)) is not None:
        ordered = sorted(xs)
        return Latency(avg=_sum(xs) / len(xs), min=ordered[0], max=ordered[-1],
                       std=_std(xs) if len(xs) > 1 else 0.0, median=_median(ordered),
                       p90=_percentile(ordered, 90), p95=_percentile(ordered, 95))
    import numpy as np

    a = np.asarray(samples, dtype=np.float64)
    return Latency(
        avg=float(a.mean()),
        min=float(a.min()),
        max=float(a.max()),
        std=float(a.std(ddof=1)) if a.size > 1 else 0.0,
        median=float(np.median(a)),
        p90=float(np.percentile(a, 90)),
        p95=float(np.percentile(a, 95)),
    )


def cv(samples: Sequence[float]) -> float | None:
    """Coefficient of variation (std / mean); None when undefined."""
    if len(samples) < 2:
        return None
    if (xs := _small(samples)) is not None:
        mean = _sum(xs) / len(xs)
        return _std(xs) / mean if mean > 0 else None
    import numpy as np

    a = np.asarray(samples, dtype=np.float64)
    mean = a.mean()
    return float(a.std(ddof=1) / mean) if mean > 0 else None


def median_ci(samples: Sequence[float], confidence: float = 0.95) -> tuple[float, float] | None:
    """Distribution-free confidence interval of the median from order statistics.

    Finds the narrowest symmetric pair of ranks (j, k) with P(X_(j) <= median <= X_(k)) >=
    confidence under Binomial(n, 1/2). None for fewer than 6 samples (no such pair at 95%).
    """
    n = len(samples)
    if n < 2:
        return None
    j = _median_rank(n, confidence)
    if j <= 0:
        return None
    if (xs := _small(samples)) is not None:
        ordered = sorted(xs)
        return ordered[j - 1], ordered[n - j]
    import numpy as np

    a = np.sort(np.asarray(samples, dtype=np.float64))
    return float(a[j - 1]), float(a[n - j])


@functools.lru_cache(maxsize=4096)
def _median_rank(n: int, confidence: float) -> int:
    """The rank j of median_ci's interval for n samples (0: none). It depends on n alone, so it is computed once
    per n, and only as far as it is needed (the lower half of the distribution)."""
    alpha = 1.0 - confidence
    # Largest j (0-based lower rank) with P(B <= j - 1) <= alpha / 2; the interval is [a[j], a[n-1-j]].
    # P(B <= i) for B ~ Binomial(n, 1/2), i = 0, 1, ..., summed in log space (n can be large).
    j, acc = -1, 0.0
    for cand in range(n // 2):
        acc += math.exp(math.lgamma(n + 1) - math.lgamma(cand + 1) - math.lgamma(n - cand + 1) - n * math.log(2))
        if min(acc, 1.0) <= alpha / 2:
            j = cand + 1
        else:
            break
    return j


def outliers(samples: Sequence[float], k: float = 3.0) -> list[int]:
    """Indices of samples farther than k scaled MADs from the median (robust to the outliers themselves)."""
    if len(samples) < 3:
        return []
    if (xs := _small(samples)) is not None:
        middle = _median(sorted(xs))
        dev = [abs(x - middle) for x in xs]
        scaled = 1.4826 * _median(sorted(dev))
        return [i for i, d in enumerate(dev) if d > k * scaled] if scaled != 0 else []
    import numpy as np

    a = np.asarray(samples, dtype=np.float64)
    med = np.median(a)
    mad = 1.4826 * np.median(np.abs(a - med))
    if mad == 0:
        return []
    return [int(i) for i in np.nonzero(np.abs(a - med) > k * mad)[0]]


def stability_warnings(samples: Sequence[float]) -> list[str]:
    """Human-readable reasons not to trust a cell: few samples, high CV, outliers, drift."""
    n = len(samples)
    if n == 0:
        return []
    halves = None
    if n >= 20:
        half = n // 2
        halves = _median_of(samples[:half]), _median_of(samples[half:])
    return warnings_of(n, cv(samples), len(outliers(samples)), halves)


def warnings_of(n: int, c: float | None, n_outliers: int, halves: tuple[float, float] | None) -> list[str]:
    """stability_warnings' text from its figures: the sample count, the CV, how many outliers, and the medians of
    the first and second half (None for fewer than 20 samples). One place for the words of both computations."""
    warnings: list[str] = []
    if n < 10:
        warnings.append(f"only {n} samples")
    if c is not None and c > UNSTABLE_CV:
        warnings.append(f"CV {c:.1%} > {UNSTABLE_CV:.0%}")
    if n_outliers:
        warnings.append(f"{n_outliers} outlier(s)")
    if halves is not None:
        first, second = halves
        if first > 0 and (second - first) / first > 0.10:
            warnings.append(f"slowed {100 * (second - first) / first:.0f}% during the run (thermal?)")
    return warnings


def _median_of(samples: Sequence[float]) -> float:
    """np.median of samples (at least one)."""
    if (xs := _small(samples)) is not None:
        return _median(sorted(xs))
    import numpy as np

    return float(np.median(np.asarray(samples, dtype=np.float64)))


# -- numpy's arithmetic in plain Python, for few samples ----------------------------------------------------------


def _small(samples: Sequence[float]) -> list[float] | None:
    """The samples as floats when the plain-Python figures apply (at most SMALL, all finite), else None (numpy's)."""
    if len(samples) > SMALL:
        return None
    xs = list(map(float, samples))  # map, not a generator: a third of the time (it runs 8 times per table row)
    return xs if all(map(math.isfinite, xs)) else None


def _sum(xs: Sequence[float], lo: int = 0, n: int | None = None) -> float:
    """numpy's sum of float64: pairwise summation (blocks of at most 128 summed in eight interleaved partial sums,
    larger runs split in two at a multiple of 8), whose rounding differs from a left-to-right sum."""
    n = len(xs) - lo if n is None else n
    if n < 8:
        total = -0.0
        for i in range(lo, lo + n):
            total += xs[i]
        return total
    if n <= 128:
        whole = lo + n - n % 8
        # Partial sum j: xs[lo + j] + xs[lo + j + 8] + ..., left to right (reduce adds in order; the built-in sum
        # of floats is compensated from Python 3.12 on, so it is not numpy's).
        r = [functools.reduce(operator.add, xs[lo + j:whole:8]) for j in range(8)]
        total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        for i in range(whole, lo + n):
            total += xs[i]
        return total
    half = n // 2
    half -= half % 8
    return _sum(xs, lo, half) + _sum(xs, lo + half, n - half)


def _std(xs: Sequence[float]) -> float:
    """numpy's std(ddof=1): the root of the sum of squared deviations from the mean over n - 1."""
    mean = _sum(xs) / len(xs)
    return math.sqrt(_sum([(x - mean) * (x - mean) for x in xs]) / (len(xs) - 1))


def _median(ordered: Sequence[float]) -> float:
    """numpy's median of sorted values: the middle one, or the mean of the middle two."""
    n = len(ordered)
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def _percentile(ordered: Sequence[float], q: float) -> float:
    """numpy's percentile (method "linear") of sorted values, with its interpolation: from the lower neighbour
    below the midpoint of the gap, from the upper one at or above it."""
    n = len(ordered)
    at = (n - 1) * (q / 100)
    if at >= n - 1:
        return ordered[-1]
    below = math.floor(at)
    t = at - below
    lo, hi = ordered[below], ordered[below + 1]
    return hi - (hi - lo) * (1 - t) if t >= 0.5 else lo + (hi - lo) * t


# -- many records at once ----------------------------------------------------------------------------------------
#
# A cold report of a farm's history computes the figures above for 100k records; one numpy call per figure per
# record costs ~2 ms a record. segments() computes them for all records at once: records are grouped by their number
# of samples, and each group is one (records x samples) array reduced along its rows, with the very numpy functions
# the one-record code calls (a row reduction of a C-contiguous array sums as the 1-D call does), so every figure is
# bit for bit the one-record figure (tests/test_columns_cache.py compares them).

SEGMENT_FIGURES = ("avg", "min", "max", "std", "median", "p90", "cv", "ci_low", "ci_high", "outliers", "first_half",
                   "second_half")


def segments(samples: np.ndarray, offsets: np.ndarray) -> dict[str, np.ndarray]:
    """Per record i (samples[offsets[i]:offsets[i + 1]]): summarize's avg, min, max, std, median and p90, cv,
    median_ci's bounds, the number of outliers, and the medians of the first and second half of its samples (as
    stability_warnings takes them). NaN where the one-record function gives None (no samples, too few for the
    figure, a mean <= 0 for cv); ``outliers`` is 0 for fewer than 3 samples."""
    import numpy as np

    lengths = np.diff(offsets)
    out = {k: np.full(lengths.size, np.nan) for k in SEGMENT_FIGURES}
    out["outliers"] = np.zeros(lengths.size, dtype=np.int64)
    for n in np.unique(lengths).tolist():
        if n == 0:
            continue
        rows = np.nonzero(lengths == n)[0]
        a = samples[offsets[rows][:, None] + np.arange(n)]  # (records, n), C-contiguous
        _segment_figures(a, rows, out)
    return out


def _segment_figures(a: np.ndarray, rows: np.ndarray, out: dict[str, np.ndarray]) -> None:
    """segments() for records ``rows`` of one sample count, their samples the rows of ``a``."""
    import numpy as np

    n = a.shape[1]
    mean = a.mean(axis=1)
    out["avg"][rows] = mean
    out["min"][rows] = a.min(axis=1)
    out["max"][rows] = a.max(axis=1)
    med = np.median(a, axis=1)
    out["median"][rows] = med
    out["p90"][rows] = np.percentile(a, 90, axis=1)
    if n > 1:
        std = a.std(axis=1, ddof=1)
        out["std"][rows] = std
        positive = mean > 0
        out["cv"][rows[positive]] = std[positive] / mean[positive]
        j = _median_rank(n, 0.95)
        if j > 0:
            ordered = np.sort(a, axis=1)
            out["ci_low"][rows], out["ci_high"][rows] = ordered[:, j - 1], ordered[:, n - j]
    else:
        out["std"][rows] = 0.0
    if n >= 3:
        dev = np.abs(a - med[:, None])
        mad = 1.4826 * np.median(dev, axis=1)
        far = (dev > 3.0 * mad[:, None]).sum(axis=1)
        out["outliers"][rows] = np.where(mad == 0, 0, far)
    if n >= 20:
        half = n // 2
        out["first_half"][rows] = np.median(a[:, :half], axis=1)
        out["second_half"][rows] = np.median(a[:, half:], axis=1)


# -- launches: the unit of evidence ----------------------------------------------------------------------------
#
# Most of a benchmark's variance is between launches (a fresh process or session: memory placement, scheduler,
# clocks, temperature), not between the iterations of one launch, so intervals for a case and for a comparison are
# taken over per-launch figures. Timings are compared as ratios, so the figures are taken on the log scale (a
# ratio of geometric means); Student's t (Welch's for two sides) gives intervals that stay honest for the few
# launches a phone affords: with 2 launches a side the interval is wide, as it should be.


CLOCKS = ("wall", "cpu")


def launch_figure(m: Measurement, clock: str = "wall") -> float | None:
    """One launch's figure: the median of its timed runs (the tool's own median, else its avg). ``clock="cpu"``:
    the median CPU time of its runs (host runs), None for a record without CPU times."""
    if clock == "cpu":
        return _median_of(m.cpu_samples_ms) if m.cpu_samples_ms else None
    if m.samples_ms:
        return _median_of(m.samples_ms)
    return m.latency_ms.median if m.latency_ms.median is not None else m.latency_ms.avg


def launch_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float] | None:
    """(geometric mean, low, high) of per-launch figures: a t interval of the mean log. None for < 2 launches."""
    import numpy as np
    from scipy.stats import t as student_t

    a = np.log(np.asarray(values, dtype=np.float64))
    if a.size < 2 or not np.all(np.isfinite(a)):
        return None
    centre, se = float(a.mean()), float(a.std(ddof=1) / math.sqrt(a.size))
    half = float(student_t.ppf(0.5 + confidence / 2, a.size - 1)) * se
    return math.exp(centre), math.exp(centre - half), math.exp(centre + half)


def launch_ratio_ci(base: Sequence[float], cand: Sequence[float], confidence: float = 0.95,
                    ) -> tuple[float, float, float] | None:
    """(ratio, low, high): candidate over baseline geometric mean of per-launch figures, with Welch's t interval
    on the log scale (Welch-Satterthwaite degrees of freedom). None unless both sides have >= 2 launches."""
    import numpy as np
    from scipy.stats import t as student_t

    b = np.log(np.asarray(base, dtype=np.float64))
    c = np.log(np.asarray(cand, dtype=np.float64))
    if b.size < 2 or c.size < 2 or not (np.all(np.isfinite(b)) and np.all(np.isfinite(c))):
        return None
    vb, vc = float(b.var(ddof=1)) / b.size, float(c.var(ddof=1)) / c.size
    diff = float(c.mean() - b.mean())
    se = math.sqrt(vb + vc)
    if se == 0.0:
        return math.exp(diff), math.exp(diff), math.exp(diff)
    df = (vb + vc) ** 2 / (vb ** 2 / (b.size - 1) + vc ** 2 / (c.size - 1))
    half = float(student_t.ppf(0.5 + confidence / 2, df)) * se
    return math.exp(diff), math.exp(diff - half), math.exp(diff + half)
