"""Radial distribution functions and detection of non-physical short-range structure."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms

from paperlib.neighbours import pair_vectors


def partial_rdfs(frames: Sequence[Atoms], pairs: Sequence[tuple[str, str]], r_max_A: float, n_bins: int = 200,
                 exclude_same: str | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Partial RDFs g_ab(r) of every pair (a, b) in ``pairs``, averaged over ``frames`` (periodic, fixed
    composition), from one neighbour list per frame: {"a-b": (bin centres in Angstrom, g)}.

    g is normalised so that an ideal gas gives 1: g_ab(r) = <number of b around an a in the shell> / (rho_b *
    shell volume). With ``exclude_same`` (a per-atom array such as ``"mol_id"``), pairs with equal values are not
    counted: the intermolecular RDF.
    """
    edges = np.linspace(0.0, r_max_A, n_bins + 1)
    counts = {pair: np.zeros(n_bins) for pair in pairs}
    norm = dict.fromkeys(pairs, 0.0)
    for atoms in frames:
        sym = np.array(atoms.get_chemical_symbols())
        i, j, vectors = pair_vectors(atoms, r_max_A)
        d = np.linalg.norm(vectors, axis=1)
        keep = np.ones(len(d), bool)
        if exclude_same is not None:
            keep = atoms.arrays[exclude_same][i] != atoms.arrays[exclude_same][j]
        for a, b in pairs:
            m = keep & (sym[i] == a) & (sym[j] == b)
            counts[(a, b)] += np.histogram(d[m], bins=edges)[0]
            n_a, n_b = np.sum(sym == a), np.sum(sym == b)
            norm[(a, b)] += n_a * (n_b - (a == b)) / atoms.get_volume()
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    centres = 0.5 * (edges[1:] + edges[:-1])
    return {f"{a}-{b}": (centres, counts[(a, b)] / (norm[(a, b)] * shell)) for a, b in pairs}


def partial_rdf(frames: Sequence[Atoms], a: str, b: str, r_max_A: float, n_bins: int = 200,
                exclude_same: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Partial RDF g_ab(r) averaged over ``frames``: bin centres (Angstrom) and g(r) (see :func:`partial_rdfs`)."""
    return partial_rdfs(frames, [(a, b)], r_max_A, n_bins, exclude_same)[f"{a}-{b}"]


def first_rise(r: np.ndarray, g: np.ndarray, threshold: float = 0.05) -> float:
    """Smallest r (Angstrom) where ``g`` first exceeds ``threshold`` (the onset of the first peak)."""
    above = np.flatnonzero(g > threshold)
    return float(r[above[0]]) if len(above) else float(r[-1])


def short_range_weight(r: np.ndarray, g: np.ndarray, r_cut: float, density_b: float) -> float:
    """Neighbours per atom closer than ``r_cut``: integral of 4 pi r^2 rho_b g(r) dr for r < r_cut."""
    dr = r[1] - r[0]
    m = r < r_cut
    return float(np.sum(4 * np.pi * r[m] ** 2 * density_b * g[m]) * dr)


def nonphysical_short_range(r: np.ndarray, g_model: np.ndarray, g_ref: np.ndarray, density_b: float,
                            margin_A: float = 0.1, tolerance: float = 0.01) -> tuple[bool, float]:
    """Detect RDF weight where the reference has none.

    The reference's first rise (g > 0.05) minus ``margin_A`` bounds the physically excluded core; the
    model is flagged when it puts more than ``tolerance`` neighbours per atom inside it.

    Returns
    -------
    (flagged, weight): whether the model shows non-physical short-range structure, and the neighbours
    per atom it places inside the excluded core.
    """
    r_cut = first_rise(r, g_ref) - margin_A
    weight = short_range_weight(r, g_model, r_cut, density_b)
    return weight > tolerance, weight


def rdf_distance(r: np.ndarray, g_model: np.ndarray, g_ref: np.ndarray) -> float:
    """Integrated absolute difference of two RDFs, ``int |g_model - g_ref| dr / r_max`` (dimensionless)."""
    dr = r[1] - r[0]
    return float(np.sum(np.abs(g_model - g_ref)) * dr / (r[-1] + dr / 2))
