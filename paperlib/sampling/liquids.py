"""Molecular liquids: carbonate solvent molecules, boxes packed at a given density without overlaps, and
molecular clusters cut from them with every molecule whole.

Every structure carries ``arrays["mol_id"]`` (which molecule each atom belongs to), so that later steps can
tell intra- from intermolecular terms and keep molecules whole.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np
from ase import Atoms
from ase.data import vdw_radii
from scipy.spatial.transform import Rotation

from paperlib.sampling.molecules import from_smiles
from paperlib.units import amu_per_A3_to_g_per_cm3

MOL_ID = "mol_id"
"""Per-atom array: index of the molecule the atom belongs to (0, 1, ...)."""


@dataclasses.dataclass(frozen=True)
class Solvent:
    """A solvent molecule: SMILES and the experimental liquid density (g/cm^3) at ``temperature_K``."""

    smiles: str
    density_g_cm3: float
    temperature_K: float


SOLVENTS: dict[str, Solvent] = {
    "EC": Solvent("C1COC(=O)O1", 1.32, 313.0),     # ethylene carbonate (solid at 298 K)
    "EMC": Solvent("CCOC(=O)OC", 1.01, 298.0),     # ethyl methyl carbonate
    "PC": Solvent("CC1COC(=O)O1", 1.20, 298.0),    # propylene carbonate
    "DMC": Solvent("COC(=O)OC", 1.07, 298.0),      # dimethyl carbonate
    "VC": Solvent("C1=COC(=O)O1", 1.35, 298.0),    # vinylene carbonate
}
"""Carbonate battery-electrolyte solvents by their usual abbreviation."""


def solvent_molecule(name: str, seed: int = 0) -> Atoms:
    """A 3D structure of one solvent of :data:`SOLVENTS` (RDKit embedding, MMFF pre-optimisation)."""
    if name not in SOLVENTS:
        raise ValueError(f"solvent {name!r}; allowed: one of {', '.join(SOLVENTS)}")
    atoms = from_smiles(SOLVENTS[name].smiles, seed=seed)
    atoms.info["molecule"] = name
    return atoms


def counts_for_weight_fractions(molecules: Mapping[str, Atoms], weights: Mapping[str, float],
                                n_molecules: int) -> dict[str, int]:
    """Molecule counts, ``n_molecules`` in all, closest to the mass ratio ``weights`` (e.g. EC:EMC 3:7).

    Counts are proportional to weight / molar mass, rounded so that they sum to ``n_molecules``; every species
    with a positive weight gets at least one molecule.
    """
    names = [n for n in weights if weights[n] > 0]
    if not names or n_molecules < len(names):
        raise ValueError(f"n_molecules: got {n_molecules}; allowed: at least one per species with a positive "
                         f"weight ({len(names)})")
    moles = np.array([weights[n] / molecules[n].get_masses().sum() for n in names])
    exact = n_molecules * moles / moles.sum()
    counts = np.maximum(np.floor(exact).astype(int), 1)
    while counts.sum() < n_molecules:
        counts[np.argmax(exact - counts)] += 1
    while counts.sum() > n_molecules:
        counts[np.argmax(np.where(counts > 1, counts - exact, -np.inf))] -= 1
    return dict(zip(names, counts.tolist()))


def _min_image_distances(a: np.ndarray, b: np.ndarray, length_A: float) -> np.ndarray:
    """Distances [len(a), len(b)] between points of a cubic periodic box of side ``length_A``."""
    d = a[:, None, :] - b[None, :, :]
    d -= length_A * np.round(d / length_A)
    return np.linalg.norm(d, axis=-1)


def _overlaps(trial: np.ndarray, trial_radii: np.ndarray, others: np.ndarray, other_radii: np.ndarray,
              length_A: float, min_distance_A: float, vdw_scale: float) -> bool:
    if not len(others):
        return False
    limit = np.maximum(min_distance_A, vdw_scale * (trial_radii[:, None] + other_radii[None, :]))
    return bool((_min_image_distances(trial, others, length_A) < limit).any())


def pack_box(molecules: Sequence[Atoms], counts: Sequence[int], density_g_cm3: float, *, seed: int,
             min_distance_A: float = 1.7, vdw_scale: float = 0.65, start_density_fraction: float = 0.3,
             compression: float = 0.97, max_sweeps: int = 200) -> Atoms:
    """A cubic periodic box of ``counts[i]`` rigid copies of ``molecules[i]`` at ``density_g_cm3``, with no two
    atoms of different molecules closer than ``min_distance_A`` or ``vdw_scale`` times the sum of their van der
    Waals radii, whichever is larger (minimum image). The pair-specific limit keeps heavy atoms of neighbouring
    molecules out of contacts no liquid visits (O...O at 1.8 A costs electronvolts), while H...O contacts may
    come close.

    Random placement alone jams well below liquid densities, so the box is built by compression: molecules are
    placed with random orientations at ``start_density_fraction`` of the density, each accepted only without
    overlap; then, repeatedly, the box and the molecules' centres are scaled by ``compression`` (at most down
    to the target) and every molecule that now overlaps gets random rigid moves (a shift of up to 0.3 A and a
    rotation of up to 20 degrees) until none overlaps; a step that cannot be cleared in ``max_sweeps`` sweeps
    is undone and retried with half the compression. Atoms are stored molecule by molecule, inside the box,
    with ``arrays["mol_id"]``; everything is seeded.

    Raises
    ------
    ValueError
        For non-positive density or counts that do not match the molecules.
    RuntimeError
        When the target density cannot be reached without overlaps.
    """
    if len(molecules) != len(counts) or any(c < 0 for c in counts) or sum(counts) == 0:
        raise ValueError(f"counts: got {list(counts)} for {len(molecules)} molecules; allowed: one count >= 0 per "
                         "molecule, not all zero")
    if not density_g_cm3 > 0:
        raise ValueError(f"density_g_cm3: got {density_g_cm3}; allowed: > 0")
    rng = np.random.default_rng(seed)
    kinds = [k for k in sorted(range(len(molecules)), key=lambda i: -len(molecules[i])) for _ in range(counts[k])]
    templates = [molecules[k].positions - molecules[k].get_center_of_mass() for k in kinds]
    radii = [vdw_radii[molecules[k].numbers] for k in kinds]
    mass_amu = sum(molecules[k].get_masses().sum() for k in kinds)
    target = float((mass_amu * amu_per_A3_to_g_per_cm3 / density_g_cm3) ** (1.0 / 3.0))
    length = target / start_density_fraction ** (1.0 / 3.0)
    if 2 * max(np.linalg.norm(t, axis=1).max() for t in templates) + min_distance_A > target:
        raise RuntimeError(f"pack_box: the largest molecule does not fit a {target:.2f} A box; use more molecules")
    rots = [Rotation.random(random_state=rng) for _ in kinds]
    centres = np.zeros((len(kinds), 3))
    placed, placed_radii = np.zeros((0, 3)), np.zeros(0)
    for i, t in enumerate(templates):
        for _attempt in range(10000):
            centres[i] = rng.uniform(0.0, length, 3)
            trial = rots[i].apply(t) + centres[i]
            if not _overlaps(trial, radii[i], placed, placed_radii, length, min_distance_A, vdw_scale):
                break
            rots[i] = Rotation.random(random_state=rng)
        else:
            raise RuntimeError(f"pack_box: no free place for molecule {i} at the start density; lower "
                               "start_density_fraction")
        placed = np.vstack([placed, trial])
        placed_radii = np.concatenate([placed_radii, radii[i]])

    def positions(c, r) -> list[np.ndarray]:
        return [ri.apply(t) + ci for t, ri, ci in zip(templates, r, c)]

    def relax(c, r, box_length) -> bool:
        pos = positions(c, r)
        for _sweep in range(max_sweeps):
            clashing = 0
            for i in rng.permutation(len(kinds)):
                others = np.vstack([p for j, p in enumerate(pos) if j != i])
                other_radii = np.concatenate([q for j, q in enumerate(radii) if j != i])
                if not _overlaps(pos[i], radii[i], others, other_radii, box_length, min_distance_A, vdw_scale):
                    continue
                clashing += 1
                for _try in range(20):
                    ci = c[i] + rng.uniform(-0.3, 0.3, 3)
                    ri = Rotation.from_rotvec(rng.normal(size=3) * np.radians(20.0) / np.sqrt(3)) * r[i]
                    trial = ri.apply(templates[i]) + ci
                    if not _overlaps(trial, radii[i], others, other_radii, box_length, min_distance_A, vdw_scale):
                        c[i], r[i], pos[i] = ci, ri, trial
                        break
            if clashing == 0:
                return True
        return False

    factor = compression
    while length > target:
        new_length = max(target, length * factor)
        c, r = centres * (new_length / length), list(rots)
        if relax(c, r, new_length):
            centres, rots, length = c, r, new_length
            factor = compression
        else:
            factor = 1.0 - 0.5 * (1.0 - factor)
            if factor > 0.999:
                raise RuntimeError(f"pack_box: stuck at {density_g_cm3 * (target / length) ** 3:.3f} g/cm^3 on the way "
                                   f"to {density_g_cm3} g/cm^3 with min_distance_A={min_distance_A}, vdw_scale={vdw_scale}")
    box = Atoms(np.concatenate([molecules[k].numbers for k in kinds]), positions=np.concatenate(positions(centres, rots)),
                cell=[length] * 3, pbc=True)
    box.wrap()
    box.arrays[MOL_ID] = np.concatenate([np.full(len(t), i) for i, t in enumerate(templates)])
    return box


def whole_molecules(box: Atoms, bond_scale: float = 1.2) -> np.ndarray:
    """Positions [n, 3] with every molecule of ``box`` made whole: starting from each molecule's first atom,
    every bonded neighbour (closer than ``bond_scale`` times the sum of covalent radii, minimum image) is placed
    at its minimum-image position relative to the atom it was reached from. Works for molecules longer than
    half the box, as long as each bond is shorter than half the box."""
    from collections import deque

    from ase.data import covalent_radii
    from ase.neighborlist import neighbor_list

    ids = box.arrays[MOL_ID]
    cutoffs = bond_scale * covalent_radii[box.numbers]
    i_idx, j_idx, vec = neighbor_list("ijD", box, cutoffs.tolist())
    neighbours: dict[int, list[tuple[int, np.ndarray]]] = {}
    for i, j, d in zip(i_idx, j_idx, vec):
        if ids[i] == ids[j]:
            neighbours.setdefault(int(i), []).append((int(j), d))
    pos = box.positions.copy()
    for mol in np.unique(ids):
        members = np.flatnonzero(ids == mol)
        seen = {int(members[0])}
        queue = deque([int(members[0])])
        while queue:
            i = queue.popleft()
            for j, d in neighbours.get(i, []):
                if j not in seen:
                    pos[j] = pos[i] + d
                    seen.add(j)
                    queue.append(j)
        if len(seen) != len(members):
            raise ValueError(f"whole_molecules: molecule {mol} is not bonded together ({len(seen)} of "
                             f"{len(members)} atoms reached from its first atom)")
    return pos


def cut_cluster(box: Atoms, centre_molecule: int, radius_A: float) -> Atoms:
    """A non-periodic cluster: every molecule whose centre of mass lies within ``radius_A`` (minimum image) of
    the centre of mass of ``centre_molecule``, whole, placed around it. Keeps ``arrays["mol_id"]`` (renumbered
    from 0, the centre molecule first) and records the radius and centre in ``info``.
    """
    if MOL_ID not in box.arrays:
        raise ValueError("cut_cluster: the box has no 'mol_id' array (pack it with pack_box)")
    ids = box.arrays[MOL_ID]
    if centre_molecule not in ids:
        raise ValueError(f"centre_molecule: got {centre_molecule}; allowed: 0..{ids.max()}")
    if not radius_A > 0:
        raise ValueError(f"radius_A: got {radius_A}; allowed: > 0")
    pos = whole_molecules(box)
    masses = box.get_masses()
    mols = np.unique(ids)
    coms = np.array([np.average(pos[ids == m], axis=0, weights=masses[ids == m]) for m in mols])
    cell = box.cell.array
    inv = np.linalg.inv(cell)
    shift = (coms - coms[np.searchsorted(mols, centre_molecule)]) @ inv
    shift = np.round(shift) @ cell
    offsets = coms - shift - coms[np.searchsorted(mols, centre_molecule)]
    chosen = [m for m, off in zip(mols, offsets) if np.linalg.norm(off) <= radius_A]
    chosen.sort(key=lambda m: (m != centre_molecule, np.linalg.norm(offsets[np.searchsorted(mols, m)])))
    positions, numbers, new_ids = [], [], []
    for k, m in enumerate(chosen):
        idx = np.flatnonzero(ids == m)
        positions.append(pos[idx] - shift[np.searchsorted(mols, m)])
        numbers.append(box.numbers[idx])
        new_ids.append(np.full(len(idx), k))
    cluster = Atoms(np.concatenate(numbers), positions=np.concatenate(positions))
    cluster.positions -= coms[np.searchsorted(mols, centre_molecule)]
    cluster.arrays[MOL_ID] = np.concatenate(new_ids)
    cluster.info.update(cluster_radius_A=float(radius_A), centre_molecule=int(centre_molecule))
    return cluster
