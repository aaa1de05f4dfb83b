"""Checks every Potential backend must pass (used by the per-backend test modules).

A subclass provides a ``potential`` fixture (a fitted model) and a ``structures`` fixture (periodic
structures the model can evaluate), and sets ``fd_tolerance`` (eV/A) for the finite-difference check.
"""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.calculator import Calculator

from paperlib.models.base import Potential


class PotentialMixin:
    fd_tolerance = 1e-4
    step_A = 1e-3

    def test_implements_protocol(self, potential):
        assert isinstance(potential, Potential)
        assert isinstance(potential.calculator(), Calculator)

    def test_shapes_and_no_mutation(self, potential, structures):
        before = [s.positions.copy() for s in structures]
        pred = potential.predict(structures)
        assert pred.energies.shape == (len(structures),)
        assert pred.forces.shape == (sum(len(s) for s in structures), 3)
        assert np.isfinite(pred.energies).all() and np.isfinite(pred.forces).all()
        for s, b in zip(structures, before):
            np.testing.assert_array_equal(s.positions, b)

    def test_forces_are_minus_energy_gradient(self, potential, structures):
        atoms = structures[0]
        forces = potential.predict([atoms]).forces
        for i, k in [(0, 0), (1, 1), (len(atoms) - 1, 2)]:
            plus, minus = atoms.copy(), atoms.copy()
            plus.positions[i, k] += self.step_A
            minus.positions[i, k] -= self.step_A
            e = potential.predict([plus, minus]).energies
            assert -(e[0] - e[1]) / (2 * self.step_A) == pytest.approx(forces[i, k], abs=self.fd_tolerance)

    def test_permutation_invariance(self, potential, structures):
        atoms = structures[0]
        perm = np.random.default_rng(0).permutation(len(atoms))
        a, b = potential.predict([atoms]), potential.predict([atoms[perm]])
        assert b.energies[0] == pytest.approx(a.energies[0], abs=1e-5 * len(atoms))
        np.testing.assert_allclose(b.forces, a.forces[perm], atol=1e-4)

    def test_rotation_and_translation_consistency(self, potential, structures):
        atoms = structures[0]
        from scipy.spatial.transform import Rotation

        rot = Rotation.from_euler("zx", [37, 20], degrees=True).as_matrix()
        moved = atoms.copy()
        moved.positions = atoms.positions @ rot.T + np.array([0.3, -1.1, 0.7])
        moved.cell = atoms.cell.array @ rot.T
        a, b = potential.predict([atoms]), potential.predict([moved])
        assert b.energies[0] == pytest.approx(a.energies[0], abs=1e-5 * len(atoms))
        np.testing.assert_allclose(b.forces, a.forces @ rot.T, atol=1e-4)

    def test_batched_equals_one_by_one(self, potential, structures):
        batched = potential.predict(structures)
        single = [potential.predict([s]) for s in structures]
        np.testing.assert_allclose(batched.energies, [p.energies[0] for p in single], rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(batched.forces, np.concatenate([p.forces for p in single]), atol=1e-5)

    def test_calculator_agrees_with_predict(self, potential, structures):
        atoms = structures[1].copy()
        atoms.calc = potential.calculator()
        pred = potential.predict([structures[1]])
        assert atoms.get_potential_energy() == pytest.approx(pred.energies[0], abs=1e-8)
        np.testing.assert_allclose(atoms.get_forces(), pred.forces, atol=1e-8)

    def test_save_and_load_round_trip(self, potential, structures, tmp_path):
        from paperlib.models import registry

        potential.save(tmp_path / "m")
        back = registry.load(potential.name, tmp_path / "m")
        np.testing.assert_allclose(back.predict(structures).energies, potential.predict(structures).energies,
                                   atol=1e-8)
