"""Hessians by central finite differences of analytic forces, for any ASE calculator."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator


def finite_difference_hessian(atoms: Atoms, calc: Calculator, step_A: float = 5e-3) -> np.ndarray:
    """d2E/dR2 in eV/A^2, shape [3n, 3n], from 6n force evaluations, symmetrised.

    Column j is -(F(R + h e_j) - F(R - h e_j)) / 2h; the error is O(h^2) in the forces' third derivative.
    """
    work = atoms.copy()
    work.calc = calc
    n3 = 3 * len(atoms)
    hess = np.empty((n3, n3))
    base = atoms.positions.copy()
    for j in range(n3):
        i, k = divmod(j, 3)
        cols = []
        for sign in (1.0, -1.0):
            pos = base.copy()
            pos[i, k] += sign * step_A
            work.positions = pos
            cols.append(work.get_forces().ravel())
        hess[:, j] = -(cols[0] - cols[1]) / (2 * step_A)
    return 0.5 * (hess + hess.T)
