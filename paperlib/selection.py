"""Selection of training configurations from a labelled pool (Tovey et al., arXiv 2108.01582).

Every method returns ``n`` distinct pool indices, deterministic given ``seed``.

"Uniform in a property" means even coverage of the property's range: the range [min, max] over the
pool is cut into ``n`` equal-width bins; the method then visits the bins round-robin (in a seeded random
order), each visit taking one not-yet-chosen configuration at random from the bin, skipping empty or
exhausted bins, until ``n`` configurations are chosen. Sparse extremes of the distribution are thus
represented as well as its crowded centre.

For per-atom properties (atomic energies, force magnitudes) the bins hold *atoms*; a visit picks a
random atom in the bin and takes the configuration that contains it. A configuration is chosen at most
once, so its other atoms do not count again.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from paperlib import keys
from paperlib.data.dataset import Dataset


def random_selection(pool: Dataset, n: int, seed: int) -> np.ndarray:
    """``n`` configurations uniformly at random from the whole pool."""
    _check_n(pool, n)
    return np.sort(np.random.default_rng(seed).choice(len(pool), n, replace=False))


def single_md_random(pool: Dataset, n: int, seed: int, temperature_K: float) -> np.ndarray:
    """``n`` configurations at random from the single MD run at ``temperature_K``.

    Runs are identified by ``info['trajectory']``; when several runs share the temperature, the first
    one (lowest trajectory id) is used, as a user running one simulation would.
    """
    temps = pool.info(keys.TEMPERATURE)
    traj = pool.info(keys.TRAJECTORY)
    at_t = np.flatnonzero(np.isclose(temps, temperature_K))
    if not len(at_t):
        raise ValueError(f"single_md_random: no frames at {temperature_K} K; pool has {sorted(set(temps))}")
    members = at_t[traj[at_t] == traj[at_t].min()]
    if n > len(members):
        raise ValueError(f"single_md_random: asked for {n} frames but the run at {temperature_K} K has {len(members)}")
    return np.sort(np.random.default_rng(seed).choice(members, n, replace=False))


def uniform_in(values: np.ndarray, owner: np.ndarray, n_configs: int, n: int, seed: int) -> np.ndarray:
    """Core of the uniform methods: cover the range of ``values`` evenly (see module docstring).

    Parameters
    ----------
    values
        Property values, one per item (a configuration or an atom).
    owner
        Configuration index of each item.
    n_configs
        Number of configurations in the pool.
    n
        Configurations to choose.
    """
    if n > n_configs:
        raise ValueError(f"asked for {n} configurations from a pool of {n_configs}")
    rng = np.random.default_rng(seed)
    lo, hi = float(values.min()), float(values.max())
    edges = np.linspace(lo, hi, n + 1)
    bins = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, n - 1)
    members = [rng.permutation(np.flatnonzero(bins == b)).tolist() for b in range(n)]
    chosen: list[int] = []
    taken = np.zeros(n_configs, dtype=bool)
    visit_order = rng.permutation(n)
    while len(chosen) < n:
        progressed = False
        for b in visit_order:
            items = members[b]
            while items and taken[owner[items[-1]]]:
                items.pop()
            if not items:
                continue
            config = int(owner[items.pop()])
            taken[config] = True
            chosen.append(config)
            progressed = True
            if len(chosen) == n:
                break
        # Every untaken configuration still owns items, so a full round always takes one.
        assert progressed
    return np.sort(np.array(chosen))


def uniform_energy(pool: Dataset, n: int, seed: int) -> np.ndarray:
    """Uniform in global energy per atom, ``REF_energy / n_atoms`` (eV/atom)."""
    _check_n(pool, n)
    values = pool.energies() / pool.n_atoms()
    return uniform_in(values, np.arange(len(pool)), len(pool), n, seed)


def uniform_atomic_energy(pool: Dataset, n: int, seed: int) -> np.ndarray:
    """Uniform in atomic energies ``REF_atomic_energies`` (eV), all atoms of the pool binned together."""
    _check_n(pool, n)
    values = pool.per_atom(keys.REF_atomic_energies).astype(float)
    return uniform_in(values, pool.structure_index(), len(pool), n, seed)


def uniform_force(pool: Dataset, n: int, seed: int) -> np.ndarray:
    """Uniform in per-atom force magnitudes ``|F_i|`` (eV/A)."""
    _check_n(pool, n)
    values = np.linalg.norm(pool.forces(), axis=1)
    return uniform_in(values, pool.structure_index(), len(pool), n, seed)


METHODS: dict[str, Callable[..., np.ndarray]] = {
    "random": random_selection,
    "single_md_random": single_md_random,
    "uniform_energy": uniform_energy,
    "uniform_atomic_energy": uniform_atomic_energy,
    "uniform_force": uniform_force,
}
LABELS: dict[str, str] = {
    "random": "random",
    "single_md_random": "single-MD random",
    "uniform_energy": "uniform global energy",
    "uniform_atomic_energy": "uniform atomic energy",
    "uniform_force": "uniform force",
}


def select(method: str, pool: Dataset, n: int, seed: int, **options) -> np.ndarray:
    """Dispatch to a selection method by name (see :data:`METHODS`); ``options`` go to the method."""
    if method not in METHODS:
        raise ValueError(f"unknown selection method {method!r}; allowed: {', '.join(METHODS)}")
    return METHODS[method](pool, n, seed, **options)


def _check_n(pool: Dataset, n: int) -> None:
    if not 1 <= n <= len(pool):
        raise ValueError(f"cannot select {n} configurations from a pool of {len(pool)}")
