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


def test_no_spread_non_finite_units_or_a_small_bootstrap_give_no_interval():
    """Three identical values say nothing about variability; a diverged model's infinite error is not a
    number to average; a bootstrap over a handful of units under-covers. None of them may decide a verdict."""
    for iv in (I.mean_interval([2.0, 2.0, 2.0]), I.bootstrap_interval([[2.0] * 10], np.mean),
               I.mean_interval([1.0, 2.0, np.inf]), I.bootstrap_interval([[1.0, 2.0, 3.0, 4.0]], np.mean),
               I.bootstrap_interval([list(range(9)) + [np.nan]], np.mean)):
        assert math.isnan(iv.low) and math.isnan(iv.high), iv
    assert "not finite" in I.mean_interval([1.0, 2.0, np.inf]).method


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


def test_all_of_takes_the_weakest_part_with_a_bonferroni_upper_bound():
    rng = np.random.default_rng(2)
    a, b = rng.normal(1.0, 1.0, 8), rng.normal(0.5, 1.0, 8)
    iv = I.all_of(lambda c: [I.mean_interval(a, c), I.mean_interval(b, c)])
    assert iv.value == pytest.approx(min(a.mean(), b.mean()))
    assert iv.low == pytest.approx(min(I.mean_interval(a).low, I.mean_interval(b).low))
    bonferroni = min(I.mean_interval(a, 0.975).high, I.mean_interval(b, 0.975).high)
    assert iv.high == pytest.approx(bonferroni) and iv.high > min(I.mean_interval(a).high, I.mean_interval(b).high)
    assert iv.n == 8 and "Bonferroni" in iv.method
    assert math.isnan(I.all_of(lambda c: [I.mean_interval(a, c), I.mean_interval([1.0], c)]).low)


def test_all_of_one_part_is_that_part():
    a = [0.1, 0.4, 0.3, 0.2]
    assert I.all_of(lambda c: [I.mean_interval(a, c)]) == I.mean_interval(a)


def test_shift_and_increasing_map_move_value_and_bounds_alike():
    iv = I.Interval(0.5, 0.1, 0.9, 4, "t")
    assert iv.shifted(-0.5) == I.Interval(0.0, -0.4, 0.4, 4, "t")
    e = iv.mapped(math.exp)
    assert (e.value, e.low, e.high, e.n) == (math.exp(0.5), math.exp(0.1), math.exp(0.9), 4)


def test_crossed_bootstrap_resamples_both_factors():
    """A table of seeds x test configurations: a seed-to-seed effect must widen the interval of the grand
    mean (a bootstrap over configurations alone would ignore it), and without one the two-way interval
    matches the one-way bootstrap over configurations."""
    rng = np.random.default_rng(0)
    cols = rng.normal(0.0, 1.0, 200)
    flat = np.tile(cols, (6, 1))
    seeded = flat + rng.normal(0.0, 1.0, (6, 1))

    def grand_mean(table):
        return lambda r, c: table[np.ix_(r, c)].mean()

    two_way_flat = I.crossed_bootstrap_interval(grand_mean(flat), 6, 200)
    one_way = I.bootstrap_interval([cols], np.mean)
    width = two_way_flat.high - two_way_flat.low
    assert width == pytest.approx(one_way.high - one_way.low, rel=0.15)
    two_way_seeded = I.crossed_bootstrap_interval(grand_mean(seeded), 6, 200)
    # The seed effect (sd 1 over 6 seeds: ~0.4 standard error) dominates the configurations' (~0.07).
    assert two_way_seeded.high - two_way_seeded.low > 3 * width
    assert two_way_seeded.n == 6 and "6 rows x 200 columns" in two_way_seeded.method
    too_few = I.crossed_bootstrap_interval(grand_mean(seeded), 2, 200)
    assert math.isnan(too_few.low) and math.isnan(too_few.high)
    # Several confidences from one bootstrap distribution equal separate calls with the same seed.
    both = I.crossed_bootstrap_intervals(grand_mean(seeded), 6, 200, (0.95, 0.99))
    assert both[0] == two_way_seeded
    wide = I.crossed_bootstrap_interval(grand_mean(seeded), 6, 200, confidence=0.99)
    assert (both[1].low, both[1].high) == pytest.approx((wide.low, wide.high), rel=1e-12)
