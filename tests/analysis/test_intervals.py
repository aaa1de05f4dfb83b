import math

import numpy as np
import pytest
from scipy import stats

from paperlib.analysis import intervals as I


def test_mean_interval_is_students_t():
    x = [1.0, 2.0, 4.0, 3.0]
    iv = I.mean_interval(x)
    half = stats.t.ppf(0.975, 3) * np.std(x, ddof=1) / 2
    assert iv.value == pytest.approx(2.5) and iv.n == 4
    assert (iv.low, iv.high) == pytest.approx((2.5 - half, 2.5 + half), rel=1e-12)


def test_too_few_units_give_an_undefined_interval():
    for iv in (I.mean_interval([1.0]), I.bootstrap_interval([[1.0]], np.mean), I.proportion_interval(0, 0)):
        assert math.isnan(iv.low) and math.isnan(iv.high)


def test_constant_values_give_a_point_interval():
    iv = I.mean_interval([2.0, 2.0, 2.0])
    assert (iv.low, iv.value, iv.high) == (2.0, 2.0, 2.0)
    bs = I.bootstrap_interval([[2.0] * 10], np.mean)
    assert bs.low == bs.high == 2.0


def test_bootstrap_covers_the_mean_and_narrows_with_n():
    rng = np.random.default_rng(0)
    small = I.bootstrap_interval([rng.normal(1.0, 1.0, 30)], np.mean)
    large = I.bootstrap_interval([rng.normal(1.0, 1.0, 3000)], np.mean)
    assert small.low < small.value < small.high and large.low < 1.0 < large.high
    # The width scales as 1/sqrt(n): 10x narrower for 100x the units, within sampling noise.
    assert 5 < (small.high - small.low) / (large.high - large.low) < 20


def test_paired_bootstrap_removes_shared_noise():
    rng = np.random.default_rng(1)
    shared = rng.normal(0, 1.0, 200)
    a, b = shared + 0.1, shared + rng.normal(0, 0.01, 200)
    diff = lambda x, y: np.mean(x - y)  # noqa: E731
    paired = I.bootstrap_interval([a, b], diff, paired=True)
    assert paired.low > 0.09 and paired.high < 0.11 and "paired" in paired.method


def test_exact_proportion_and_newcombe_difference():
    iv = I.proportion_interval(0, 10)
    assert iv.low == 0.0 and iv.high == pytest.approx(1 - 0.025 ** (1 / 10))
    d = I.proportion_difference_interval(10, 10, 0, 10)
    assert d.value == 1.0 and 0.5 < d.low < 0.75 and d.high == pytest.approx(1.0)
    same = I.proportion_difference_interval(3, 10, 3, 10)
    assert same.low < 0 < same.high and same.low == pytest.approx(-same.high)
