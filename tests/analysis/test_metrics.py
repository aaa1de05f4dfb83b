import numpy as np
import pytest

from paperlib.analysis.metrics import molecular_force_split


@pytest.fixture
def two_molecules():
    rng = np.random.default_rng(0)
    positions = np.vstack([rng.normal(size=(5, 3)), rng.normal(size=(4, 3)) + 6.0])
    masses = rng.uniform(1.0, 16.0, 9)
    ids = np.r_[np.zeros(5, int), np.ones(4, int)]
    return positions, masses, ids


def net_force_and_torque(f, positions, masses):
    r = positions - np.average(positions, axis=0, weights=masses)
    return f.sum(axis=0), np.cross(r, f).sum(axis=0)


def test_rigid_body_forces_are_all_inter_molecular(two_molecules):
    positions, masses, ids = two_molecules
    forces = np.zeros_like(positions)
    for mol, (a, alpha) in enumerate([([1.0, -2.0, 0.5], [0.3, 0.1, -0.2]), ([0.0, 1.0, 1.0], [-0.5, 0.2, 0.4])]):
        sel = ids == mol
        r = positions[sel] - np.average(positions[sel], axis=0, weights=masses[sel])
        forces[sel] = masses[sel, None] * (np.array(a) + np.cross(alpha, r))
    intra, inter = molecular_force_split(forces, positions, masses, ids)
    np.testing.assert_allclose(intra, 0.0, atol=1e-10)
    np.testing.assert_allclose(inter, forces, atol=1e-10)


def test_equal_and_opposite_pair_forces_are_all_intra_molecular(two_molecules):
    positions, masses, ids = two_molecules
    forces = np.zeros_like(positions)
    for i, j in [(0, 1), (1, 3), (2, 4), (5, 6), (7, 8)]:   # central pair forces inside each molecule
        f = 0.7 * (positions[i] - positions[j])
        forces[i] += f
        forces[j] -= f
    intra, inter = molecular_force_split(forces, positions, masses, ids)
    np.testing.assert_allclose(inter, 0.0, atol=1e-10)
    np.testing.assert_allclose(intra, forces, atol=1e-10)


def test_intra_part_has_no_net_force_or_torque(two_molecules):
    positions, masses, ids = two_molecules
    forces = np.random.default_rng(1).normal(size=positions.shape)
    intra, inter = molecular_force_split(forces, positions, masses, ids)
    np.testing.assert_allclose(intra + inter, forces, atol=1e-12)
    for mol in (0, 1):
        sel = ids == mol
        f, tau = net_force_and_torque(intra[sel], positions[sel], masses[sel])
        np.testing.assert_allclose(f, 0.0, atol=1e-10)
        np.testing.assert_allclose(tau, 0.0, atol=1e-10)
        f_all, tau_all = net_force_and_torque(forces[sel], positions[sel], masses[sel])
        f_inter, tau_inter = net_force_and_torque(inter[sel], positions[sel], masses[sel])
        np.testing.assert_allclose(f_inter, f_all, atol=1e-10)
        np.testing.assert_allclose(tau_inter, tau_all, atol=1e-10)
