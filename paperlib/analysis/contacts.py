"""Closest contacts between species along a trajectory, and the count-based detector of close like-ion pairs.

The detector is the trajectory-level form of the short-range failure that an RDF shows as weight inside the
reference's excluded core: a pair of species closer than the reference ever brings it (minus a margin) for
``k`` consecutive samples. Unlike an RDF weight, one such pair in one run is enough to fire it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from ase import Atoms

from paperlib.neighbours import pair_vectors


def closest_distances(frames: Sequence[Atoms], pairs: Iterable[tuple[str, str]], reach_A: float = 6.0
                      ) -> dict[str, np.ndarray]:
    """Per frame, the closest distance (A) between atoms of each species pair (``"Na-Cl"`` etc.; periodic).

    Pairs farther apart than ``reach_A`` are not looked for: a frame without one gives ``inf``."""
    pairs = list(pairs)
    out = {f"{a}-{b}": np.full(len(frames), np.inf) for a, b in pairs}
    for k, atoms in enumerate(frames):
        sym = np.array(atoms.get_chemical_symbols())
        i, j, vectors = pair_vectors(atoms, reach_A)
        d = np.linalg.norm(vectors, axis=1)
        for a, b in pairs:
            m = (sym[i] == a) & (sym[j] == b)
            if m.any():
                out[f"{a}-{b}"][k] = float(d[m].min())
    return out


def contact_onset(closest_A: Sequence[float], threshold_A: float, consecutive: int) -> int | None:
    """Index of the first sample of the first run of ``consecutive`` samples closer than ``threshold_A``, or
    ``None`` when there is none (a single close sample, e.g. one hard collision, does not count)."""
    if consecutive < 1:
        raise ValueError(f"consecutive: got {consecutive}; allowed: an integer >= 1")
    run = 0
    for k, d in enumerate(np.asarray(closest_A, float)):
        run = run + 1 if d < threshold_A else 0
        if run == consecutive:
            return k - consecutive + 1
    return None
