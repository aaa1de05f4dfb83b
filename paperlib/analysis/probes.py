"""Short-range probe: the energy change when one close pair of ions is pulled together, by any energy model.

A model whose training data lack close contacts of a pair of species can put a spurious attractive well
there; the probe shows it without MD, by comparing the model's energy change with the reference's on the
same pulled configurations.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from ase import Atoms

from paperlib.neighbours import pair_vectors

EnergyFunction = Callable[[list[Atoms]], np.ndarray]
"""Energies (eV) of a list of structures: a trained model's predictions or the reference's labels."""


def nearest_pair(atoms: Atoms, a: str, b: str, reach_A: float = 8.0) -> tuple[int, int, np.ndarray]:
    """The closest (``a``, ``b``) pair of ``atoms`` (periodic): indices i, j and the vector i -> j (A)."""
    sym = np.array(atoms.get_chemical_symbols())
    i, j, vectors = pair_vectors(atoms, reach_A)
    m = (sym[i] == a) & (sym[j] == b) & (i != j)
    if not m.any():
        raise ValueError(f"no {a}-{b} pair within {reach_A} A")
    vec = vectors[m]
    k = int(np.argmin(np.linalg.norm(vec, axis=1)))
    return int(i[m][k]), int(j[m][k]), vec[k]


def pulled(atoms: Atoms, i: int, j: int, vector: np.ndarray, distance_A: float) -> Atoms:
    """A copy of ``atoms`` with atoms ``i`` and ``j`` moved symmetrically along ``vector`` (i -> j) to
    ``distance_A`` apart; every other atom stays."""
    out = atoms.copy()
    out.calc = None
    d = float(np.linalg.norm(vector))
    shift = 0.5 * (d - distance_A) * vector / d
    out.positions[i] += shift
    out.positions[j] -= shift
    return out


def probe_structures(frames: Sequence[Atoms], a: str, b: str, distances_A: Sequence[float]) -> list[Atoms]:
    """For every frame, the frame itself followed by a copy per distance with its closest (``a``, ``b``) pair
    pulled to that distance: ``len(frames) * (1 + len(distances_A))`` structures, frame by frame."""
    out: list[Atoms] = []
    for atoms in frames:
        i, j, vec = nearest_pair(atoms, a, b)
        out += [atoms] + [pulled(atoms, i, j, vec, r) for r in distances_A]
    return out


def energy_changes(energies: Sequence[float], n_frames: int, n_distances: int) -> np.ndarray:
    """The energies of :func:`probe_structures` as changes E(pulled) - E(frame): array [frames, distances]."""
    e = np.asarray(energies, float).reshape(n_frames, 1 + n_distances)
    return e[:, 1:] - e[:, :1]


def pull_probe(frames: Sequence[Atoms], energies: EnergyFunction, a: str, b: str,
               distances_A: Sequence[float]) -> np.ndarray:
    """Energy change (eV) of every frame when its closest (``a``, ``b``) pair is pulled to each of
    ``distances_A``: array [frames, distances] of E(pulled) - E(frame)."""
    structures = probe_structures(frames, a, b, distances_A)
    return energy_changes(energies(structures), len(frames), len(distances_A))
