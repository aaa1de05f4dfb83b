"""Learning curves: errors against training-set size (configurations or labels), averaged over random draws,
and the comparisons the gradients study makes between curves."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from paperlib.executors import Executor, InProcessExecutor


def doubling_sizes(smallest: int, largest: int) -> list[int]:
    """smallest, 2*smallest, ... up to ``largest`` (included when it is on the series)."""
    if not 1 <= smallest <= largest:
        raise ValueError(f"doubling_sizes: need 1 <= smallest <= largest; got {smallest}, {largest}")
    out = [smallest]
    while out[-1] * 2 <= largest:
        out.append(out[-1] * 2)
    return out


def draws(pool_size: int, sizes: Sequence[int], n_draws: int, seed: int) -> dict[tuple[int, int], np.ndarray]:
    """Random training subsets: for each draw one permutation of the pool, whose first n items form the
    set of size n (so a draw's sets are nested, and draws are independent)."""
    if max(sizes) > pool_size:
        raise ValueError(f"training size {max(sizes)} exceeds the pool of {pool_size} configurations")
    out = {}
    for d in range(n_draws):
        perm = np.random.default_rng([seed, d]).permutation(pool_size)
        for n in sizes:
            out[(n, d)] = np.sort(perm[:n])
    return out


def learning_curve(subsets: Mapping[tuple[int, int], np.ndarray],
                   evaluate: Callable[[np.ndarray], Mapping[str, float]], executor: Executor | None = None,
                   progress: bool = False, **labels) -> pd.DataFrame:
    """One row per (size, draw): ``evaluate(indices)`` -> metrics, plus ``labels`` as constant columns.

    The points are evaluated by ``executor`` (default: in this process, one after the other)."""
    points = sorted(subsets.items())
    executor = executor or InProcessExecutor()
    metrics = executor.map(evaluate, [idx for _, idx in points], desc="learning curve", progress=progress)
    return pd.DataFrame([{**labels, "n_train": n, "draw": d, **m} for ((n, d), _), m in zip(points, metrics)])


def summarise(df: pd.DataFrame, by: Sequence[str], metrics: Sequence[str]) -> pd.DataFrame:
    """Mean, standard deviation and count over draws of each metric, per group of ``by`` + ``n_train``."""
    agg = df.groupby(list(by) + ["n_train"])[list(metrics)].agg(["mean", "std", "count"])
    agg.columns = [f"{m}_{s}" for m, s in agg.columns]
    return agg.reset_index()


def labels_per_configuration(n_atoms: float, with_forces: bool) -> float:
    """Scalar labels one configuration contributes: 1 energy, plus 3 n_atoms force components."""
    return 1.0 + 3.0 * n_atoms if with_forces else 1.0


def value_at(x: np.ndarray, y: np.ndarray, at: float) -> float:
    """y at ``at`` by linear interpolation in log-log space (x ascending, y > 0)."""
    return float(np.exp(np.interp(np.log(at), np.log(x), np.log(y))))


def ratio_at_largest_common(x1: np.ndarray, y1: np.ndarray, x2: np.ndarray, y2: np.ndarray) -> tuple[float, float]:
    """(N, y1(N) / y2(N)) at the largest N both curves contain."""
    common = sorted(set(np.asarray(x1).tolist()) & set(np.asarray(x2).tolist()))
    if not common:
        raise ValueError("the curves share no training size")
    n = common[-1]
    return float(n), float(np.asarray(y1)[np.asarray(x1) == n][0] / np.asarray(y2)[np.asarray(x2) == n][0])


def max_gap_factor(x1: np.ndarray, y1: np.ndarray, x2: np.ndarray, y2: np.ndarray,
                   points: int = 25) -> tuple[float, tuple[float, float]]:
    """Largest factor max(y1/y2, y2/y1) between two log-log curves over their common x range, and the range.

    Both curves are interpolated log-linearly at ``points`` log-spaced x in the overlap. Raises ValueError
    when the x ranges do not overlap.
    """
    lo, hi = max(np.min(x1), np.min(x2)), min(np.max(x1), np.max(x2))
    if lo > hi:
        raise ValueError(f"the curves do not overlap (x ranges [{np.min(x1)}, {np.max(x1)}] and "
                         f"[{np.min(x2)}, {np.max(x2)}])")
    xs = np.geomspace(lo, hi, points) if hi > lo else np.array([lo])
    f1 = np.array([value_at(x1, y1, x) for x in xs])
    f2 = np.array([value_at(x2, y2, x) for x in xs])
    return float(np.exp(np.abs(np.log(f1 / f2)).max())), (float(lo), float(hi))


def loglog_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of log y against log x (learning-curve exponent)."""
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])
