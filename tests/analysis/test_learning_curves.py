import numpy as np
import pytest

from paperlib.analysis import learning_curves as LC


def test_doubling_sizes_and_nested_independent_draws():
    assert LC.doubling_sizes(8, 100) == [8, 16, 32, 64]
    subsets = LC.draws(200, [8, 16, 32], 3, seed=0)
    for d in range(3):
        assert set(subsets[(8, d)]) <= set(subsets[(16, d)]) <= set(subsets[(32, d)])
    assert set(subsets[(32, 0)]) != set(subsets[(32, 1)])
    with pytest.raises(ValueError, match="exceeds"):
        LC.draws(10, [16], 1, 0)


def test_learning_curve_of_the_mean_predictor_matches_theory():
    """Labels y ~ N(0, 1) and the model 'predict the training mean': the test MAE is
    E|y - mean_N| = sqrt(2/pi * (1 + 1/N)), known exactly for every N."""
    rng = np.random.default_rng(0)
    pool = rng.normal(size=4096)
    test = rng.normal(size=200_000)
    subsets = LC.draws(len(pool), [1, 2, 4, 8], 400, seed=1)
    df = LC.learning_curve(subsets, lambda idx: {"mae": float(np.abs(test - pool[idx].mean()).mean())},
                           model="mean")
    summary = LC.summarise(df, ["model"], ["mae"])
    for _, row in summary.iterrows():
        expected = np.sqrt(2 / np.pi * (1 + 1 / row.n_train))
        assert row.mae_mean == pytest.approx(expected, rel=0.03)
        assert row.mae_count == 400


def test_curve_comparisons_on_power_laws():
    n = np.array([8, 16, 32, 64, 128])
    e_only = 10 * n**-0.5
    e_and_f = e_only / 7
    assert LC.ratio_at_largest_common(n, e_only, n[:3], e_and_f[:3]) == (32.0, pytest.approx(7.0))
    assert LC.loglog_slope(n, e_only) == pytest.approx(-0.5)
    # per label: E+F has 28 labels per configuration; the same law per label gives a gap of 1
    labels_ef = n * 28.0
    same_law = 10 * labels_ef**-0.5
    factor, (lo, hi) = LC.max_gap_factor(n * 28.0, same_law, np.array([8, 64, 512, 4096]),
                                         10 * np.array([8, 64, 512, 4096]) ** -0.5)
    assert factor == pytest.approx(1.0) and lo == 224 and hi == 3584
    factor, _ = LC.max_gap_factor(n, e_only, n, e_only * 3)
    assert factor == pytest.approx(3.0)
    with pytest.raises(ValueError, match="do not overlap"):
        LC.max_gap_factor(n, e_only, n * 1000, e_only)
