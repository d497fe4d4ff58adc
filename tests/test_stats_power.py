import numpy as np
import pytest

from segbench import power, stats
from segbench.errors import UsageError

SD855 = {0: 1785600, 1: 1785600, 2: 1785600, 3: 1785600, 4: 2419200, 5: 2419200, 6: 2419200, 7: 2841600}


def test_summarize_hand_checked():
    lat = stats.summarize([4.0, 1.0, 3.0, 2.0, 10.0])
    assert (lat.min, lat.max, lat.median, lat.avg) == (1.0, 10.0, 3.0, 4.0)
    assert lat.std == pytest.approx(np.std([4, 1, 3, 2, 10], ddof=1))
    assert lat.p90 == pytest.approx(7.6)  # linear between 4 (80%) and 10 (100%)
    assert stats.summarize([]).median is None


def test_median_ci_uses_order_statistics():
    samples = list(range(1, 51))  # n=50: the 95% CI of the median is [x(18), x(33)]
    assert stats.median_ci(samples) == (18.0, 33.0)
    assert stats.median_ci([1.0, 2.0, 3.0]) is None


def test_cv_and_warnings():
    assert stats.cv([1.0]) is None
    assert stats.cv([1.0, 3.0]) == pytest.approx(np.std([1, 3], ddof=1) / 2)
    steady = [10.0] * 10 + [12.5] * 10
    assert any("slowed" in w for w in stats.stability_warnings(steady))
    assert stats.outliers([1.0, 1.1, 0.9, 1.0, 50.0]) == [4]


def test_sd855_masks_follow_clusters():
    masks = {m: power.mask_hex(power.cpus_for_mode(m, SD855)) for m in ("high", "low", "full", "no_bind")}
    assert masks == {"high": "f0", "low": "f", "full": "ff", "no_bind": None}


def test_single_cluster_host_binds_all_cpus():
    assert power.cpus_for_mode("low", {}, [0, 1]) == [0, 1]
    assert power.cpus_for_mode("high", {0: 3000000, 1: 3000000}) == [0, 1]


@pytest.mark.parametrize("text", ["0", "-1", "two", ",", ""])
def test_bad_thread_lists_are_usage_errors(text):
    with pytest.raises(UsageError):
        power.parse_threads(text)


def test_power_mode_list():
    assert power.parse_power_modes("high, low,high") == ["high", "low"]
    with pytest.raises(UsageError, match="turbo"):
        power.parse_power_modes("high,turbo")
