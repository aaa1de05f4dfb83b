import numpy as np
import pytest
from ase import Atoms

from paperlib.analysis.rdf import first_rise, nonphysical_short_range, partial_rdf, rdf_distance


def ideal_gas(n, length, seed):
    rng = np.random.default_rng(seed)
    return Atoms(["Na", "Cl"] * (n // 2), positions=rng.uniform(0, length, (n, 3)), cell=[length] * 3, pbc=True)


def test_ideal_gas_rdf_is_one():
    frames = [ideal_gas(200, 15.0, s) for s in range(20)]
    r, g = partial_rdf(frames, "Na", "Cl", 6.0, n_bins=12)
    assert np.mean(g[3:]) == pytest.approx(1.0, abs=0.05)
    r, g = partial_rdf(frames, "Na", "Na", 6.0, n_bins=12)
    assert np.mean(g[3:]) == pytest.approx(1.0, abs=0.07)


def test_short_range_detection():
    r = np.linspace(0.025, 5.975, 120)
    g_ref = np.where(r > 2.5, 1.0, 0.0)
    assert first_rise(r, g_ref) == pytest.approx(r[r > 2.5][0])
    clean = g_ref.copy()
    flagged, weight = nonphysical_short_range(r, clean, g_ref, density_b=0.02)
    assert not flagged and weight == 0.0
    bad = g_ref + np.where(np.abs(r - 1.2) < 0.1, 5.0, 0.0)  # a spurious peak at 1.2 A
    flagged, weight = nonphysical_short_range(r, bad, g_ref, density_b=0.02)
    expected = np.sum(4 * np.pi * r[np.abs(r - 1.2) < 0.1] ** 2 * 0.02 * 5.0) * (r[1] - r[0])
    assert flagged and weight == pytest.approx(expected)
    assert rdf_distance(r, g_ref, g_ref) == 0.0 and rdf_distance(r, bad, g_ref) > 0


def test_exclude_same_drops_pairs_within_a_molecule():
    # Two-atom "molecules" 1.0 A long, far from each other: all pairs at 1.0 A are intramolecular.
    frames = []
    rng = np.random.default_rng(3)
    for _ in range(5):
        centres = rng.uniform(0, 20.0, (10, 3))
        pos = np.vstack([centres, centres + [1.0, 0.0, 0.0]])
        a = Atoms(["Na"] * 10 + ["Cl"] * 10, positions=pos, cell=[20.0] * 3, pbc=True)
        a.arrays["mol_id"] = np.r_[np.arange(10), np.arange(10)]
        frames.append(a)
    r, g = partial_rdf(frames, "Na", "Cl", 3.0, n_bins=30)
    r, g_inter = partial_rdf(frames, "Na", "Cl", 3.0, n_bins=30, exclude_same="mol_id")
    bond = np.abs(r - 1.0) < 0.06
    assert g[bond].max() > 10 and g_inter[bond].max() == 0.0
