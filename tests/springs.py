"""An analytic test potential: harmonic springs between all atom pairs, with its exact Hessian."""

from __future__ import annotations

import numpy as np
from ase.calculators.calculator import Calculator, all_changes


class Springs(Calculator):
    """E = k/2 sum_{i<j} (r_ij - r0)^2 (eV, A)."""

    implemented_properties = ["energy", "forces"]

    def __init__(self, k: float = 5.0, r0: float = 1.2, **kwargs):
        super().__init__(**kwargs)
        self.k, self.r0 = k, r0

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        pos = self.atoms.positions
        energy, forces = 0.0, np.zeros_like(pos)
        for i in range(len(pos)):
            for j in range(i + 1, len(pos)):
                d = pos[i] - pos[j]
                r = np.linalg.norm(d)
                energy += 0.5 * self.k * (r - self.r0) ** 2
                f = -self.k * (r - self.r0) * d / r
                forces[i] += f
                forces[j] -= f
        self.results = {"energy": energy, "forces": forces}


def springs_hessian(positions: np.ndarray, k: float = 5.0, r0: float = 1.2) -> np.ndarray:
    """Exact Hessian [3n, 3n] (eV/A^2) of :class:`Springs`."""
    n = len(positions)
    h = np.zeros((3 * n, 3 * n))
    for i in range(n):
        for j in range(i + 1, n):
            d = positions[i] - positions[j]
            r = np.linalg.norm(d)
            u = np.outer(d, d) / r ** 2
            block = k * (u + (1 - r0 / r) * (np.eye(3) - u))
            si, sj = slice(3 * i, 3 * i + 3), slice(3 * j, 3 * j + 3)
            h[si, si] += block
            h[sj, sj] += block
            h[si, sj] -= block
            h[sj, si] -= block
    return h
