import numpy as np
import pytest
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

from paperlib import keys
from paperlib.reference.hessian import finite_difference_hessian
from paperlib.reference.xtb import XTBSettings, label, label_all, relax, xtb_calculator
from paperlib.sampling.molecules import from_smiles


def test_xtb_forces_are_minus_the_energy_gradient():
    atoms = from_smiles("CCO", seed=2)
    atoms.calc = xtb_calculator()
    forces = atoms.get_forces()
    h = 1e-4
    for i, k in [(0, 0), (2, 1), (8, 2)]:
        e = []
        for s in (h, -h):
            moved = atoms.copy()
            moved.positions[i, k] += s
            moved.calc = xtb_calculator()
            e.append(moved.get_potential_energy())
        assert -(e[0] - e[1]) / (2 * h) == pytest.approx(forces[i, k], abs=2e-4)  # eV/A


def test_label_stores_reference_keys_without_calculator():
    atoms = from_smiles("O")
    out = label(atoms, xtb_calculator(), hessian=True)
    assert out.calc is None and keys.REF_energy in out.info
    assert out.arrays[keys.REF_forces].shape == (3, 3)
    h = out.info[keys.REF_hessian].reshape(9, 9)
    np.testing.assert_allclose(h, h.T, atol=1e-10)
    # translational invariance: each row of the Hessian sums to ~0 over x (resp. y, z) displacements
    assert np.abs(h.reshape(9, 3, 3).sum(axis=1)).max() < 5e-2


def test_parallel_labels_equal_serial_in_order():
    frames = [from_smiles(s) for s in ("C", "O", "N", "CC", "CO", "CN")]
    serial = label_all(frames, workers=1, progress=False)
    parallel = label_all(frames, workers=2, progress=False, chunk=2)
    for a, b in zip(serial, parallel):
        assert a.get_chemical_formula() == b.get_chemical_formula()
        assert a.info[keys.REF_energy] == pytest.approx(b.info[keys.REF_energy], abs=1e-9)


def test_relax_reaches_the_requested_force_threshold():
    out = relax(from_smiles("CC=O"), XTBSettings(), fmax_eV_A=0.01)
    assert np.linalg.norm(out.arrays[keys.REF_forces], axis=1).max() < 0.01


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="method"):
        XTBSettings(method="GFN3")


class _Quadratic(Calculator):
    """E = 1/2 x^T A x over the flattened positions: the Hessian is A exactly."""

    implemented_properties = ["energy", "forces"]

    def __init__(self, a):
        super().__init__()
        self.a = a

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        x = self.atoms.positions.ravel()
        self.results = {"energy": 0.5 * x @ self.a @ x, "forces": -(self.a @ x).reshape(-1, 3)}


def test_finite_difference_hessian_recovers_a_known_hessian():
    rng = np.random.default_rng(0)
    m = rng.normal(size=(6, 6))
    a = m @ m.T
    atoms = Atoms("H2", positions=rng.normal(size=(2, 3)))
    np.testing.assert_allclose(finite_difference_hessian(atoms, _Quadratic(a), step_A=1e-3), a, atol=1e-8)
