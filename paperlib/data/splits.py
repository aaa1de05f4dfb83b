"""Train/test splits: by configuration, and by group (molecule) so that test molecules are never seen."""

from __future__ import annotations

import numpy as np


def group_split(groups: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test) such that every group (e.g. molecule) lies wholly on one side.

    Whole groups, in random order, go to the test side until it holds at least ``test_fraction`` of the
    groups; both sides keep at least one group.
    """
    groups = np.asarray(groups)
    names = np.unique(groups)
    if len(names) < 2:
        raise ValueError(f"group_split: need at least 2 groups; got {len(names)}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"group_split: test_fraction {test_fraction}; allowed: strictly between 0 and 1")
    order = np.random.default_rng(seed).permutation(names)
    n_test = min(len(names) - 1, max(1, int(round(test_fraction * len(names)))))
    test_groups = set(order[:n_test].tolist())
    is_test = np.array([g in test_groups for g in groups.tolist()])
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def random_split(n: int, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (rest, test) of a random split of ``n`` items with ``n_test`` in the test part."""
    if not 0 < n_test < n:
        raise ValueError(f"random_split: n_test {n_test}; allowed: 1 to {n - 1} for {n} items")
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])
