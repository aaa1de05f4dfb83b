import numpy as np
import pytest
from ase import Atoms

from paperlib import keys, selection
from paperlib.data.dataset import Dataset


def synthetic_pool(values_per_config, per_atom=None, temps=None):
    """Configurations whose labels are set directly, so the selection answer is known."""
    frames = []
    for k, v in enumerate(values_per_config):
        a = Atoms("NaCl", positions=[[0, 0, 0], [2.8, 0, 0]], cell=[10, 10, 10], pbc=True)
        a.info[keys.REF_energy] = 2 * v
        a.info[keys.TEMPERATURE] = temps[k] if temps is not None else 1000.0
        a.info[keys.TRAJECTORY] = 0 if temps is None else int(temps[k])
        atomic = per_atom[k] if per_atom is not None else [v, v]
        a.arrays[keys.REF_atomic_energies] = np.array(atomic, dtype=float)
        a.arrays[keys.REF_forces] = np.array([[atomic[0], 0, 0], [atomic[1], 0, 0]], dtype=float)
        frames.append(a)
    return Dataset(frames)


def test_uniform_energy_takes_one_per_bin_on_an_even_grid():
    pool = synthetic_pool(np.arange(100.0))
    idx = selection.uniform_energy(pool, 10, seed=0)
    assert sorted(np.floor(idx / 10)) == list(range(10))  # exactly one configuration in each tenth


def test_uniform_covers_sparse_tail_that_random_misses():
    rng = np.random.default_rng(1)
    values = np.concatenate([rng.normal(0, 0.05, 950), np.linspace(1, 5, 50)])  # crowded centre, sparse tail
    pool = synthetic_pool(values)
    uni = selection.uniform_energy(pool, 20, seed=3)
    rnd = selection.random_selection(pool, 20, seed=3)
    tail_uniform = np.mean(values[uni] > 0.5)
    tail_random = np.mean(values[rnd] > 0.5)
    assert tail_uniform >= 0.75  # 19 of 20 bins lie in the tail
    assert tail_random <= 0.2
    assert np.ptp(values[uni]) > 0.85 * np.ptp(values)  # end bins lose at most a bin width each


def test_atomic_energy_selection_follows_atoms_not_totals():
    # totals are identical, but one configuration in ten holds an extreme atom
    per_atom = [[5.0, -5.0] if k % 10 == 0 else [0.0, 0.0] for k in range(100)]
    pool = synthetic_pool(np.zeros(100), per_atom=per_atom)
    idx = selection.uniform_atomic_energy(pool, 10, seed=0)
    assert np.mean(np.array(idx) % 10 == 0) >= 0.5  # the extremes dominate, unlike 10% at random


def test_force_selection_targets_large_forces():
    per_atom = [[0.1 * k, 0.0] for k in range(50)]
    pool = synthetic_pool(np.zeros(50), per_atom=per_atom)
    idx = selection.uniform_force(pool, 5, seed=0)
    # bins of width 0.98 eV/A: every decade of configurations above the first owns one bin of Na forces
    assert {int(i) // 10 for i in idx} >= {1, 2, 3, 4}
    assert len(set(idx.tolist())) == 5


def test_single_md_stays_in_one_run():
    temps = [900.0] * 30 + [1400.0] * 30
    pool = synthetic_pool(np.arange(60.0), temps=temps)
    idx = selection.single_md_random(pool, 10, seed=0, temperature_K=1400.0)
    assert np.all(idx >= 30)
    with pytest.raises(ValueError, match="no frames at 1000"):
        selection.single_md_random(pool, 5, seed=0, temperature_K=1000.0)


@pytest.mark.parametrize("method", list(selection.METHODS))
def test_every_method_is_deterministic_and_distinct(method):
    temps = [1000.0] * 40
    pool = synthetic_pool(np.random.default_rng(0).random(40), temps=temps)
    opts = {"temperature_K": 1000.0} if method == "single_md_random" else {}
    a = selection.select(method, pool, 12, seed=5, **opts)
    b = selection.select(method, pool, 12, seed=5, **opts)
    assert np.array_equal(a, b) and len(set(a.tolist())) == 12


def test_bad_requests_are_named():
    pool = synthetic_pool(np.arange(5.0))
    with pytest.raises(ValueError, match="cannot select 6 configurations from a pool of 5"):
        selection.random_selection(pool, 6, seed=0)
    with pytest.raises(ValueError, match="unknown selection method 'kmeans'"):
        selection.select("kmeans", pool, 2, seed=0)
