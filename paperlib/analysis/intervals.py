"""95 % intervals for the statistics that claims are judged by, all from scipy.stats.

Which interval suits which data:

- :func:`mean_interval`: the mean of a few independent values (seeds, draws, paired differences between
  methods that share a seed), Student's t interval; with 3-10 units a bootstrap under-covers badly.
- :func:`bootstrap_interval`: any statistic of many independent units (test configurations, molecules,
  trajectories), ``scipy.stats.bootstrap`` with BCa (percentile where BCa is undefined), paired or not.
- :func:`proportion_interval`: a count out of n (Clopper-Pearson, exact).
- :func:`proportion_difference_interval`: difference of two proportions (Newcombe's hybrid score interval
  from the two Wilson intervals).

Every function returns an :class:`Interval`; with fewer than two units the bounds are NaN, which the verdict
rule reads as "inconclusive".
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats

CONFIDENCE = 0.95


@dataclasses.dataclass(frozen=True)
class Interval:
    """A point estimate, its 95 % interval, the number of independent units and the method used."""

    value: float
    low: float
    high: float
    n: int
    method: str


def _nan_interval(value: float, n: int, method: str) -> Interval:
    return Interval(float(value), math.nan, math.nan, n, f"{method} (undefined for n={n})")


def mean_interval(values: Sequence[float]) -> Interval:
    """Mean of independent ``values`` with Student's t 95 % interval."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    method = "Student t interval of the mean"
    if len(x) < 2:
        return _nan_interval(float(x.mean()) if len(x) else math.nan, len(x), method)
    m = float(x.mean())
    if np.ptp(x) == 0:
        return Interval(m, m, m, len(x), method)
    ci = stats.ttest_1samp(x, 0.0).confidence_interval(CONFIDENCE)
    return Interval(m, float(ci.low), float(ci.high), len(x), method)


def bootstrap_interval(data: Sequence[Sequence[float]], statistic: Callable[..., float], *, paired: bool = False,
                       seed: int = 0, n_resamples: int = 4999) -> Interval:
    """``statistic(*data)`` with a bootstrap 95 % interval over the units of ``data``.

    ``data`` is one or more equally long sequences of per-unit values; ``paired=True`` resamples the same
    units in every sequence (methods compared on the same test configurations or seeds). BCa is used, and
    the percentile interval where BCa is undefined (e.g. a statistic constant over resamples).
    """
    arrays = [np.asarray(d, dtype=float) for d in data]
    n = min(len(a) for a in arrays)
    value = float(statistic(*arrays))
    if n < 2:
        return _nan_interval(value, n, "bootstrap")
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = stats.bootstrap(tuple(arrays), statistic, paired=paired, vectorized=False,
                                  confidence_level=CONFIDENCE, n_resamples=n_resamples, method=method,
                                  random_state=np.random.default_rng(seed))
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if math.isfinite(lo) and math.isfinite(hi):
            lo, hi = min(lo, value), max(hi, value)
            kind = "paired " if paired and len(arrays) > 1 else ""
            return Interval(value, lo, hi, n, f"{kind}bootstrap ({method}, {n_resamples} resamples) over {n} units")
    return _nan_interval(value, n, "bootstrap")


def proportion_interval(k: int, n: int) -> Interval:
    """Proportion ``k / n`` with the exact (Clopper-Pearson) 95 % interval."""
    if n < 1:
        return _nan_interval(math.nan, n, "Clopper-Pearson interval")
    ci = stats.binomtest(int(k), int(n)).proportion_ci(CONFIDENCE, method="exact")
    return Interval(k / n, float(ci.low), float(ci.high), n, "Clopper-Pearson exact interval")


def proportion_difference_interval(k1: int, n1: int, k2: int, n2: int) -> Interval:
    """``k1/n1 - k2/n2`` with Newcombe's hybrid score 95 % interval; ``n`` is the smaller group."""
    method = "Newcombe hybrid score interval"
    if min(n1, n2) < 1:
        return _nan_interval(math.nan, min(n1, n2), method)
    p1, p2 = k1 / n1, k2 / n2
    w1 = stats.binomtest(int(k1), int(n1)).proportion_ci(CONFIDENCE, method="wilson")
    w2 = stats.binomtest(int(k2), int(n2)).proportion_ci(CONFIDENCE, method="wilson")
    d = p1 - p2
    low = d - math.hypot(p1 - w1.low, w2.high - p2)
    high = d + math.hypot(w1.high - p1, p2 - w2.low)
    return Interval(d, float(low), float(high), min(n1, n2), method)
