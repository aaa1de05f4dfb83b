"""Hessians by central finite differences of analytic forces, for any ASE calculator, and their checks."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator


def finite_difference_hessian(atoms: Atoms, calc: Calculator, step_A: float = 5e-3,
                              symmetrise: bool = True) -> np.ndarray:
    """d2E/dR2 in eV/A^2, shape [3n, 3n], from 6n force evaluations (symmetrised unless ``symmetrise`` is False).

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
    return 0.5 * (hess + hess.T) if symmetrise else hess


def hessian_checks(hessian: np.ndarray) -> dict[str, float]:
    """Consistency figures of a Hessian [3n, 3n] (eV/A^2): the largest asymmetry max|H - H^T| and the
    largest translational sum max|sum_j H[3i+a, 3j+b]| (zero for any isolated system, since moving every
    atom by the same vector changes no force)."""
    h = np.asarray(hessian, dtype=float)
    n = h.shape[0] // 3
    if h.shape != (3 * n, 3 * n):
        raise ValueError(f"hessian_checks: expected a [3n, 3n] array; got shape {h.shape}")
    translation = h.reshape(3 * n, n, 3).sum(axis=1)
    return {"asymmetry": float(np.abs(h - h.T).max()), "translation": float(np.abs(translation).max()),
            "scale": float(np.abs(h).max())}
