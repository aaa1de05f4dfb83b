"""Neighbour pairs within a cut-off, in schnetpack's convention: r_ij = x_j - x_i + offset."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from matscipy.neighbours import neighbour_list


def pairs_within(atoms: Atoms, cutoff_A: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (i, j) closer than ``cutoff_A`` (both directions), their periodic offsets (A) and the cell they were
    found in: ``atoms``' own, or for a structure without periodic directions and cell, a box that holds it with
    room for the cut-off (matscipy wants a cell; any large enough box gives the same pairs)."""
    work = atoms
    if not atoms.pbc.any() and atoms.cell.rank < 3:
        work = atoms.copy()
        work.cell = np.diag(np.ptp(atoms.positions, axis=0) + 2 * cutoff_A + 1.0)
    i, j, S = neighbour_list("ijS", work, cutoff_A)
    cell = np.asarray(work.cell.array, dtype=float)
    return i, j, S.astype(float) @ cell, cell


def pair_vectors(atoms: Atoms, cutoff_A: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (i, j) closer than ``cutoff_A`` (both directions) and their vectors r_ij (A), periodic images
    included (see :func:`pairs_within`)."""
    i, j, offsets, _ = pairs_within(atoms, cutoff_A)
    return i, j, atoms.positions[j] - atoms.positions[i] + offsets
