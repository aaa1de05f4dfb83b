import numpy as np
import pytest
from ase import Atoms

from paperlib import keys
from paperlib.analysis.probes import nearest_pair, pull_probe, pulled
from paperlib.reference.bmhtf import CHARGES, TOSI_FUMI_NACL, BMHTFSettings, label_all

COULOMB_EV_A = 14.399645  # e^2 / (4 pi eps0) in eV A


def direct_energy(atoms: Atoms) -> float:
    """BMHTF energy of a few ions in vacuum: every pair's short-range term plus its bare Coulomb term."""
    sym = atoms.get_chemical_symbols()
    e = 0.0
    for i in range(len(atoms)):
        for j in range(i + 1, len(atoms)):
            r = atoms.get_distance(i, j)
            key = (sym[i], sym[j]) if (sym[i], sym[j]) in TOSI_FUMI_NACL else (sym[j], sym[i])
            e += TOSI_FUMI_NACL[key].energy(np.array(r)) + COULOMB_EV_A * CHARGES[sym[i]] * CHARGES[sym[j]] / r
    return float(e)


def test_pulled_moves_only_the_pair_to_the_distance():
    atoms = Atoms("Na2Cl", positions=[[1, 1, 1], [4.5, 1, 1], [3, 4, 1]], cell=[20, 20, 20], pbc=True)
    i, j, vec = nearest_pair(atoms, "Na", "Na")
    out = pulled(atoms, i, j, vec, 2.0)
    assert out.get_distance(i, j) == pytest.approx(2.0)
    np.testing.assert_allclose(out.positions[[i, j]].mean(axis=0), atoms.positions[[i, j]].mean(axis=0))
    np.testing.assert_array_equal(out.positions[2], atoms.positions[2])


def test_the_probe_recovers_bmhtfs_own_curve():
    # Two Na ions 4 A apart on x and two Cl ions 10 A away on y, in a 40 A box: the energy change of pulling the
    # Na pair together is the direct sum over the four ions (pair terms and Coulomb). LAMMPS sums Coulomb by
    # Ewald over the periodic images; moving charges of a neutral cell by ~1 A changes the image energy by
    # about q^2 x (change of the cell's quadrupole, ~10 A^2) / L^3 = 14.4 * 10 / 64000 = 0.002 eV, so 0.01 eV
    # is the tolerance (the pair curve itself changes by several eV over these distances).
    c = 20.0
    atoms = Atoms("Na2Cl2", positions=[[c - 2, c, c], [c + 2, c, c], [c, c - 10, c], [c, c + 10, c]],
                  cell=[40, 40, 40], pbc=True)
    distances = [3.5, 3.0, 2.5, 2.0]

    def bmhtf(structures):
        return [a.info[keys.REF_energy] for a in label_all(structures, BMHTFSettings(cutoff_A=15.0))]

    changes = pull_probe([atoms], bmhtf, "Na", "Na", distances)
    i, j, vec = nearest_pair(atoms, "Na", "Na")
    expected = [direct_energy(pulled(atoms, i, j, vec, d)) - direct_energy(atoms) for d in distances]
    assert changes.shape == (1, 4)
    np.testing.assert_allclose(changes[0], expected, atol=0.01)
    assert expected[-1] > 2.0  # like ions at 2 A repel strongly: the curve the probe compares models with
