"""95 % intervals for the statistics that claims are judged by, all from scipy.stats.

Which interval suits which data:

- :func:`mean_interval`: the mean of a few independent values (seeds, draws, paired differences between
  methods that share a seed), Student's t interval; with 3-10 units a bootstrap under-covers badly.
- :func:`bootstrap_interval`: any statistic of many independent units (test configurations, molecules,
  trajectories), ``scipy.stats.bootstrap`` with BCa (percentile where BCa is undefined), paired or not.
- :func:`crossed_bootstrap_interval`: a statistic of a table crossed in two factors (seeds x test
  configurations), both resampled.
- :func:`proportion_interval`: a count out of n (Clopper-Pearson, exact).
- :func:`proportion_difference_interval`: difference of two proportions (Newcombe's hybrid score interval
  from the two Wilson intervals).
- :func:`all_of`: the smallest of several statistics that must all exceed their thresholds (a claim with
  parts), with the multiplicity of its parts accounted for.

Every function returns an :class:`Interval`. The bounds are NaN, which the verdict rule reads as
"inconclusive", wherever the data cannot give an honest interval: too few units, a non-finite unit (a diverged
model), or no spread at all among a handful of units (three identical values say nothing about variability).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
MIN_BOOTSTRAP_UNITS = 10
"""Below this many units a bootstrap interval under-covers badly (use :func:`mean_interval`)."""


@dataclasses.dataclass(frozen=True)
class Interval:
    """A point estimate, its 95 % interval, the number of independent units and the method used."""

    value: float
    low: float
    high: float
    n: int
    method: str

    def shifted(self, by: float) -> "Interval":
        """The interval of ``statistic + by`` (e.g. a margin over a threshold with ``by = -threshold``)."""
        return dataclasses.replace(self, value=self.value + by, low=self.low + by, high=self.high + by)

    def mapped(self, increasing: Callable[[float], float]) -> "Interval":
        """The interval of ``increasing(statistic)``; a monotone increasing map keeps the coverage."""
        return dataclasses.replace(self, value=increasing(self.value), low=increasing(self.low),
                                   high=increasing(self.high))


def _nan_interval(value: float, n: int, method: str) -> Interval:
    return Interval(float(value), math.nan, math.nan, n, f"{method} (undefined for n={n})")


def mean_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """Mean of independent ``values`` with Student's t interval (undefined with a non-finite value, fewer
    than two values, or no spread)."""
    x = np.asarray(values, dtype=float)
    method = "Student t interval of the mean"
    if len(x) and not np.isfinite(x).all():
        bad = int((~np.isfinite(x)).sum())
        return _nan_interval(float(np.mean(x)), len(x), f"{method}; {bad} of {len(x)} units not finite")
    if len(x) < 2:
        return _nan_interval(float(x.mean()) if len(x) else math.nan, len(x), method)
    m = float(x.mean())
    if np.ptp(x) == 0:
        return _nan_interval(m, len(x), f"{method}; the {len(x)} units are identical")
    ci = stats.ttest_1samp(x, 0.0).confidence_interval(confidence)
    return Interval(m, float(ci.low), float(ci.high), len(x), method)


def bootstrap_interval(data: Sequence[Sequence[float]], statistic: Callable[..., float], *, paired: bool = False,
                       seed: int = 0, n_resamples: int = 4999, confidence: float = CONFIDENCE) -> Interval:
    """``statistic(*data)`` with a bootstrap interval over the units of ``data``.

    ``data`` is one or more equally long sequences of per-unit values; ``paired=True`` resamples the same
    units in every sequence (methods compared on the same test configurations or seeds). BCa is used, and
    the percentile interval where BCa is undefined. Undefined below :data:`MIN_BOOTSTRAP_UNITS` units, with
    non-finite values, or when the statistic does not vary over resamples.
    """
    arrays = [np.asarray(d, dtype=float) for d in data]
    n = min(len(a) for a in arrays)
    value = float(statistic(*arrays))
    if n < MIN_BOOTSTRAP_UNITS:
        return _nan_interval(value, n, f"bootstrap (needs >= {MIN_BOOTSTRAP_UNITS} units)")
    if not all(np.isfinite(a).all() for a in arrays):
        return _nan_interval(value, n, "bootstrap; some units not finite")
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = stats.bootstrap(tuple(arrays), statistic, paired=paired, vectorized=False,
                                  confidence_level=confidence, n_resamples=n_resamples, method=method,
                                  random_state=np.random.default_rng(seed))
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if math.isfinite(lo) and math.isfinite(hi) and hi > lo:
            kind = "paired " if paired and len(arrays) > 1 else ""
            text = f"{kind}bootstrap ({method}, {n_resamples} resamples) over {n} units"
            if not lo <= value <= hi:
                text += "; the interval was widened to contain the point estimate"
                lo, hi = min(lo, value), max(hi, value)
            return Interval(value, lo, hi, n, text)
    return _nan_interval(value, n, "bootstrap; the statistic does not vary over resamples")


def crossed_bootstrap_intervals(statistic: Callable[[np.ndarray, np.ndarray], float], n_rows: int, n_cols: int,
                                confidences: Sequence[float] = (CONFIDENCE,), *, min_rows: int = 3, seed: int = 0,
                                n_resamples: int = 4999) -> list[Interval]:
    """``statistic(rows, cols)`` of a table of units crossed in two factors (e.g. training seeds x test
    configurations), with a bootstrap that resamples rows and columns independently, at each of ``confidences``.

    ``statistic`` receives index arrays into the rows and the columns (with repeats in a resample), so both
    sources of variation enter the interval. ``scipy.stats.bootstrap`` with two unpaired samples does exactly
    this; BCa, percentile where BCa is undefined. Every confidence reads the same bootstrap distribution (as
    separate calls with the same ``seed`` would). Undefined with fewer than ``min_rows`` rows or
    :data:`MIN_BOOTSTRAP_UNITS` columns, or a non-finite statistic. ``n`` is the number of rows (the scarcer
    factor). With few rows a bootstrap under-covers (the variance between rows is estimated with n rather
    than n - 1 in the denominator): the method text says how many rows there were.
    """
    rows, cols = np.arange(n_rows), np.arange(n_cols)
    value = float(statistic(rows, cols))
    name = f"two-way bootstrap over {n_rows} rows x {n_cols} columns"
    if n_rows < min_rows or n_cols < MIN_BOOTSTRAP_UNITS:
        return [_nan_interval(value, n_rows, f"{name} (needs >= {min_rows} rows, >= {MIN_BOOTSTRAP_UNITS} columns)")
                for _ in confidences]
    if not math.isfinite(value):
        return [_nan_interval(value, n_rows, f"{name}; statistic not finite") for _ in confidences]

    def stat(r, c):
        return statistic(r.astype(int), c.astype(int))

    for method in ("BCa", "percentile"):
        res, out = None, []
        for confidence in confidences:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = stats.bootstrap((rows, cols), stat, paired=False, vectorized=False,
                                      confidence_level=confidence, n_resamples=n_resamples if res is None else 0,
                                      bootstrap_result=res, method=method, random_state=np.random.default_rng(seed))
            lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
            if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
                break
            text = f"{name} ({method}, {n_resamples} resamples)"
            if not lo <= value <= hi:
                text += "; the interval was widened to contain the point estimate"
                lo, hi = min(lo, value), max(hi, value)
            out.append(Interval(value, lo, hi, n_rows, text))
        if len(out) == len(confidences):
            return out
    return [_nan_interval(value, n_rows, f"{name}; the statistic does not vary over resamples") for _ in confidences]


def crossed_bootstrap_interval(statistic: Callable[[np.ndarray, np.ndarray], float], n_rows: int, n_cols: int, *,
                               min_rows: int = 3, seed: int = 0, n_resamples: int = 4999,
                               confidence: float = CONFIDENCE) -> Interval:
    """The interval of :func:`crossed_bootstrap_intervals` at one ``confidence``."""
    return crossed_bootstrap_intervals(statistic, n_rows, n_cols, (confidence,), min_rows=min_rows, seed=seed,
                                       n_resamples=n_resamples)[0]


def proportion_interval(k: int, n: int, confidence: float = CONFIDENCE) -> Interval:
    """Proportion ``k / n`` with the exact (Clopper-Pearson) interval."""
    if n < 1:
        return _nan_interval(math.nan, n, "Clopper-Pearson interval")
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence, method="exact")
    return Interval(k / n, float(ci.low), float(ci.high), n, "Clopper-Pearson exact interval")


def proportion_difference_interval(k1: int, n1: int, k2: int, n2: int, confidence: float = CONFIDENCE) -> Interval:
    """``k1/n1 - k2/n2`` with Newcombe's hybrid score interval; ``n`` is the smaller group."""
    method = "Newcombe hybrid score interval"
    if min(n1, n2) < 1:
        return _nan_interval(math.nan, min(n1, n2), method)
    p1, p2 = k1 / n1, k2 / n2
    w1 = stats.binomtest(int(k1), int(n1)).proportion_ci(confidence, method="wilson")
    w2 = stats.binomtest(int(k2), int(n2)).proportion_ci(confidence, method="wilson")
    d = p1 - p2
    low = d - math.hypot(p1 - w1.low, w2.high - p2)
    high = d + math.hypot(w1.high - p1, p2 - w2.low)
    return Interval(d, float(low), float(high), min(n1, n2), method)


def all_of(parts: Callable[[float], Sequence[Interval]], what: str = "parts") -> Interval:
    """The smallest of several statistics that must all exceed the threshold, with its interval.

    ``parts(confidence)`` returns every part's interval (its statistic minus its own threshold, so that 0
    is every part's threshold) at that confidence. The lower bound is the smallest of the 95 % lower
    bounds: the claim is supported only when every part's interval clears 0, a test at the 5 % level without
    correction (intersection-union). The upper bound is the smallest of the upper bounds at the Bonferroni
    confidence 1 - 0.05/K: one of K parts falling short by chance would otherwise decide a negative up to K
    times too often. Undefined when any part's bounds are.
    """
    first = list(parts(CONFIDENCE))
    k = len(first)
    if k == 1:
        return first[0]
    wide = list(parts(1 - (1 - CONFIDENCE) / k))
    value = min(p.value for p in first)
    lows, highs = [p.low for p in first], [p.high for p in wide]
    n = min(p.n for p in first)
    method = (f"smallest of {k} {what}: lower bound the smallest 95 % lower bound, upper bound the smallest "
              f"upper bound at Bonferroni confidence 1 - 0.05/{k}; " + first[0].method)
    if not all(math.isfinite(x) for x in (value, *lows, *highs)):
        return _nan_interval(value, n, method)
    return Interval(value, min(lows), min(highs), n, method)
