"""Error metrics of predictions against reference labels."""

from __future__ import annotations

import numpy as np

from paperlib.data.dataset import Dataset
from paperlib.models.base import Predictions


def error_stats(errors: np.ndarray) -> dict[str, float]:
    """MAE, RMSE and Max of absolute errors (same unit as ``errors``)."""
    a = np.abs(np.asarray(errors, dtype=float)).ravel()
    return {"mae": float(a.mean()), "rmse": float(np.sqrt(np.mean(a**2))), "max": float(a.max())}


def force_errors(pred: Predictions, ref: Dataset) -> dict[str, float]:
    """Force-component errors (eV/A): ``mae``, ``rmse``, ``max`` over all components of all atoms."""
    return error_stats(pred.forces - ref.forces())


def energy_errors_per_atom(pred: Predictions, ref: Dataset) -> dict[str, float]:
    """Energy errors per atom (eV/atom): ``mae``, ``rmse``, ``max``."""
    return error_stats((pred.energies - ref.energies()) / ref.n_atoms())


def molecular_force_split(forces: np.ndarray, positions: np.ndarray, masses: np.ndarray, mol_ids: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Split per-atom forces [n, 3] (any unit) into intra- and inter-molecular parts.

    The inter-molecular part of each molecule is the rigid-body force field with the same total force and
    torque about its centre of mass: atom i gets ``m_i (a + alpha x r_i)``, with ``a = F / M`` and
    ``alpha = I^-1 tau``. The intra-molecular rest carries no net force and no net torque, so it only bends
    and stretches the molecule. ``positions`` (A) must have every molecule whole. Returns ``(intra, inter)``.
    """
    forces = np.asarray(forces, dtype=float)
    positions = np.asarray(positions, dtype=float)
    masses = np.asarray(masses, dtype=float)
    inter = np.zeros_like(forces)
    for mol in np.unique(mol_ids):
        idx = np.flatnonzero(mol_ids == mol)
        m, f = masses[idx], forces[idx]
        r = positions[idx] - np.average(positions[idx], axis=0, weights=m)
        inter[idx] = m[:, None] * f.sum(axis=0) / m.sum()
        if len(idx) > 1:
            inertia = np.einsum("i,ij->", m, r * r) * np.eye(3) - np.einsum("i,ij,ik->jk", m, r, r)
            # pinv: a linear molecule has no moment about its axis and no torque about it either
            alpha = np.linalg.pinv(inertia) @ np.cross(r, f).sum(axis=0)
            inter[idx] += m[:, None] * np.cross(alpha, r)
    return forces - inter, inter
