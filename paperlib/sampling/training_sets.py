"""Training-set types of the transferability study (Niblett et al., JCTC 2024), as functions returning
unlabelled configurations, so that any algorithm can be trained on any of them.

- :func:`simple_set`: no ab initio MD: isolated molecules, random dimers, and clusters cut from boxes packed at
  the experimental density; with a pool of thermal conformations (:func:`~paperlib.sampling.normal_modes.
  thermal_samples`) every molecule takes a thermal geometry, else every atom is rattled.
- :func:`designed_corrective_set`: configurations designed against the deficiencies a first-generation model
  showed in MD (contacts closer and bonds longer than reference MD reaches, a density away from experiment);
  :func:`corrective_set`, the generic kinds a person would add without such evidence: clusters from compressed
  and expanded liquid, close-contact dimers, and molecules with one stretched bond.
- :func:`automatic_set`: clusters harvested from MD of a first-generation model, by a stated selection rule.
- :func:`reference_md_set`: frames of reference-driven (GFN2-xTB) MD of clusters of the liquid, an evaluation
  set no model had a hand in.

Every configuration is non-periodic, carries ``arrays["mol_id"]`` and ``info["set_kind"]``, and is
determined by the seed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from ase import Atoms
from scipy.spatial.transform import Rotation

from paperlib.sampling.liquids import MOL_ID, cut_cluster, pack_box

SIMPLE_KINDS = ("monomer", "dimer", "cluster")
CORRECTIVE_KINDS = ("compressed", "expanded", "close_dimer", "stretched_bond")


def _tagged(atoms: Atoms, kind: str, mol_ids: np.ndarray | None = None) -> Atoms:
    out = Atoms(atoms.numbers, positions=atoms.positions)
    out.arrays[MOL_ID] = np.zeros(len(atoms), dtype=int) if mol_ids is None else np.asarray(mol_ids)
    out.info["set_kind"] = kind
    return out


def rattled(molecule: Atoms, amplitude_A: float, rng: np.random.Generator) -> Atoms:
    """A copy of ``molecule`` with every atom displaced by a Gaussian of standard deviation ``amplitude_A``."""
    out = molecule.copy()
    out.positions = molecule.positions + rng.normal(scale=amplitude_A, size=molecule.positions.shape)
    return out


def dimer(a: Atoms, b: Atoms, distance_A: float, rng: np.random.Generator, min_distance_A: float = 1.5,
          max_tries: int = 200) -> Atoms:
    """``a`` and ``b`` randomly oriented with their centres of mass ``distance_A`` apart along a random
    direction; orientations are redrawn until no two atoms of different molecules are closer than
    ``min_distance_A``.

    Raises
    ------
    RuntimeError
        When no orientation in ``max_tries`` keeps the molecules apart.
    """
    pa = a.positions - a.get_center_of_mass()
    pb0 = b.positions - b.get_center_of_mass()
    for _ in range(max_tries):
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        pb = Rotation.random(random_state=rng).apply(pb0) + distance_A * direction
        pa_rot = Rotation.random(random_state=rng).apply(pa)
        if np.linalg.norm(pa_rot[:, None] - pb[None], axis=-1).min() >= min_distance_A:
            return Atoms(np.concatenate([a.numbers, b.numbers]), positions=np.vstack([pa_rot, pb]))
    raise RuntimeError(f"dimer: no orientation at {distance_A} A keeps atoms {min_distance_A} A apart")


def stretched_bond(molecule: Atoms, factor: float, rng: np.random.Generator, pair: str | None = None,
                   length_A: float | None = None) -> Atoms:
    """A copy of ``molecule`` with one randomly chosen bond (covalent radii x 1.2; of the element pair ``pair``,
    e.g. ``"C-O"``, when given) stretched by ``factor``, or to ``length_A`` when given: the smaller fragment on
    one side of the bond moves along it.

    Raises
    ------
    ValueError
        When the molecule has no bond of ``pair``.
    """
    from scipy.sparse.csgraph import connected_components

    bonds = _bonds_of(molecule, pair)
    if not bonds:
        raise ValueError(f"stretched_bond: {molecule.get_chemical_formula()} has no {pair} bond")
    i, j = bonds[rng.integers(len(bonds))]
    if length_A is not None:
        factor = length_A / molecule.get_distance(i, j)
    adjacency = np.zeros((len(molecule), len(molecule)), dtype=bool)
    for p, q in bonds:
        if (p, q) != (i, j):
            adjacency[p, q] = adjacency[q, p] = True
    _, labels = connected_components(adjacency, directed=False)
    side_j = labels == labels[j]
    if labels[i] == labels[j]:   # a ring bond: only atom j moves
        side_j = np.arange(len(molecule)) == j
    elif side_j.sum() > (~side_j).sum():
        i, j, side_j = j, i, ~side_j
    out = molecule.copy()
    vec = molecule.positions[j] - molecule.positions[i]
    out.positions[side_j] += (factor - 1.0) * vec
    return out


def scaled_liquid(box: Atoms, density_factor: float) -> Atoms:
    """``box`` compressed (``density_factor`` > 1) or expanded (< 1): the cell and every molecule's centre of
    mass scale by ``density_factor ** (-1/3)`` while the molecules stay rigid, so contacts between molecules
    shorten or lengthen as in a liquid under pressure or tension."""
    from paperlib.sampling.liquids import whole_molecules

    if not density_factor > 0:
        raise ValueError(f"density_factor: got {density_factor}; allowed: > 0")
    scale = density_factor ** (-1.0 / 3.0)
    pos = whole_molecules(box)
    ids = box.arrays[MOL_ID]
    masses = box.get_masses()
    out = box.copy()
    for mol in np.unique(ids):
        sel = ids == mol
        com = np.average(pos[sel], axis=0, weights=masses[sel])
        out.positions[sel] = pos[sel] + (scale - 1.0) * com
    out.set_cell(box.cell.array * scale, scale_atoms=False)
    out.wrap()
    return out


def thermal_molecules(config: Atoms, conformers: Sequence[Atoms], rng: np.random.Generator) -> Atoms:
    """A copy of ``config`` (carrying ``arrays["mol_id"]``) in which every molecule with a conformation in
    ``conformers`` (matched by its sequence of atomic numbers) takes a randomly drawn one, superposed onto the
    molecule's place and orientation (mass-weighted Kabsch fit), so packing is kept while bond lengths and
    angles become thermal."""
    pool: dict[tuple[int, ...], list[Atoms]] = {}
    for c in conformers:
        pool.setdefault(tuple(c.numbers), []).append(c)
    out = config.copy()
    ids = config.arrays[MOL_ID]
    masses = config.get_masses()
    for mol in np.unique(ids):
        sel = np.flatnonzero(ids == mol)
        choices = pool.get(tuple(config.numbers[sel]))
        if not choices:
            continue
        sample = choices[int(rng.integers(len(choices)))].positions
        w = masses[sel]
        target = config.positions[sel]
        t_com, s_com = np.average(target, axis=0, weights=w), np.average(sample, axis=0, weights=w)
        rot, _ = Rotation.align_vectors(target - t_com, sample - s_com, weights=w)
        out.positions[sel] = rot.apply(sample - s_com) + t_com
    return out


def _shaped(config: Atoms, kind: str, mol_ids: np.ndarray, rng: np.random.Generator, rattle_A: float,
            conformers: Sequence[Atoms]) -> Atoms:
    """``config`` with thermal molecules when ``conformers`` is given, else rattled by ``rattle_A``, tagged."""
    config = config.copy()
    config.arrays[MOL_ID] = np.asarray(mol_ids)
    shaped = thermal_molecules(config, conformers, rng) if len(conformers) else rattled(config, rattle_A, rng)
    return _tagged(shaped, kind, mol_ids)


def _clusters(molecules: Sequence[Atoms], counts: Sequence[int], density_g_cm3: float, n: int, radius_A: float,
              kind: str, rng: np.random.Generator, rattle_A: float, density_factor: float = 1.0,
              conformers: Sequence[Atoms] = ()) -> list[Atoms]:
    out = []
    for _ in range(n):
        box = pack_box(molecules, counts, density_g_cm3, seed=int(rng.integers(2**31)))
        if density_factor != 1.0:
            box = scaled_liquid(box, density_factor)
        centre = int(rng.integers(box.arrays[MOL_ID].max() + 1))
        cluster = cut_cluster(box, centre, radius_A)
        out.append(_shaped(cluster, kind, cluster.arrays[MOL_ID], rng, rattle_A, conformers))
    return out


def _pairs(molecules: Sequence[Atoms], n: int, distances_A: tuple[float, float], kind: str,
           rng: np.random.Generator, rattle_A: float, conformers: Sequence[Atoms] = ()) -> list[Atoms]:
    out = []
    for _ in range(n):
        a, b = (molecules[int(k)] for k in rng.integers(len(molecules), size=2))
        pair = dimer(a, b, float(rng.uniform(*distances_A)), rng)
        out.append(_shaped(pair, kind, np.r_[np.zeros(len(a), int), np.ones(len(b), int)], rng, rattle_A,
                           conformers))
    return out


def simple_set(molecules: Mapping[str, Atoms], counts: Mapping[str, int], density_g_cm3: float, *,
               n_monomers: int, n_dimers: int, n_clusters: int, cluster_radius_A: float, seed: int,
               rattle_A: float = 0.05, dimer_distance_A: tuple[float, float] = (4.0, 7.0),
               conformers: Sequence[Atoms] = ()) -> list[Atoms]:
    """The 'simple' set: ``n_monomers`` isolated molecules (species in turn), ``n_dimers`` random dimers with
    centres ``dimer_distance_A`` apart, and ``n_clusters`` clusters of radius ``cluster_radius_A`` cut from
    boxes of ``counts`` molecules packed at ``density_g_cm3``.

    Packed molecules are rigid copies and MD will bend and stretch them, so molecular geometries are made
    thermal: with ``conformers`` (thermal conformations of the molecules, e.g. normal-mode samples) every
    monomer is a drawn conformation and every molecule of a dimer or cluster takes one
    (:func:`thermal_molecules`); without, every atom is rattled by ``rattle_A`` (A, Gaussian)."""
    rng = np.random.default_rng(seed)
    names = list(molecules)
    out = []
    for k in range(n_monomers):
        molecule = molecules[names[k % len(names)]]
        out.append(_shaped(molecule, "monomer", np.zeros(len(molecule), int), rng, rattle_A, conformers))
    out += _pairs([molecules[n] for n in names], n_dimers, dimer_distance_A, "dimer", rng, rattle_A, conformers)
    out += _clusters([molecules[n] for n in names], [counts[n] for n in names], density_g_cm3, n_clusters,
                     cluster_radius_A, "cluster", rng, rattle_A, conformers=conformers)
    return out


def corrective_set(molecules: Mapping[str, Atoms], counts: Mapping[str, int], density_g_cm3: float, *,
                   n_per_kind: int, cluster_radius_A: float, seed: int, density_factors: tuple[float, float] = (1.2, 0.8),
                   close_distance_A: tuple[float, float] = (2.8, 3.6), stretch: tuple[float, float] = (1.1, 1.35),
                   rattle_A: float = 0.05) -> list[Atoms]:
    """The 'human-designed corrective' set, ``n_per_kind`` of each: clusters from packed liquid compressed and
    expanded to ``density_factors`` times its density (:func:`scaled_liquid`), dimers in close contact
    (centres ``close_distance_A`` apart), and molecules with one bond stretched by a factor drawn from
    ``stretch``; clusters and dimers rattled by ``rattle_A`` (A) as in :func:`simple_set`."""
    rng = np.random.default_rng(seed)
    names = list(molecules)
    mols = [molecules[n] for n in names]
    cnt = [counts[n] for n in names]
    out = _clusters(mols, cnt, density_g_cm3, n_per_kind, cluster_radius_A, "compressed", rng, rattle_A,
                    density_factors[0])
    out += _clusters(mols, cnt, density_g_cm3, n_per_kind, cluster_radius_A, "expanded", rng, rattle_A,
                     density_factors[1])
    out += _pairs(mols, n_per_kind, close_distance_A, "close_dimer", rng, rattle_A)
    for k in range(n_per_kind):
        molecule = mols[k % len(mols)]
        out.append(_tagged(stretched_bond(molecule, float(rng.uniform(*stretch)), rng), "stretched_bond"))
    return out


def contact_dimer(a: Atoms, b: Atoms, pair: tuple[str, str], distance_A: float, rng: np.random.Generator,
                  tries: int = 200, min_other: float = 1.0) -> Atoms:
    """``a`` and ``b`` in contact: an atom of element ``pair[0]`` of ``a`` and one of ``pair[1]`` of ``b``
    ``distance_A`` apart, ``b`` placed outward from ``a`` along a random direction near the first atom's and
    turned so that its centre of mass lies beyond its contact atom. Of ``tries`` placements, the one whose
    other contacts between the molecules are farthest is kept; it must keep them at least ``min_other`` x
    ``distance_A`` apart (by default, the designed contact is the closest one; a buried atom, such as a carbonate
    carbon, cannot be approached without its neighbours coming closer).

    Raises
    ------
    RuntimeError
        When no placement keeps the other contacts that far.
    """
    ia = [k for k, s in enumerate(a.get_chemical_symbols()) if s == pair[0]]
    ib = [k for k, s in enumerate(b.get_chemical_symbols()) if s == pair[1]]
    if not ia or not ib:
        raise ValueError(f"contact_dimer: no {pair[0]} in {a.get_chemical_formula()} or no {pair[1]} in "
                         f"{b.get_chemical_formula()}")
    pa0 = a.positions - a.get_center_of_mass()
    pb0 = b.positions - b.get_center_of_mass()
    best, best_other = None, -np.inf
    for _ in range(tries):
        pa = Rotation.random(random_state=rng).apply(pa0)
        i, j = ia[int(rng.integers(len(ia)))], ib[int(rng.integers(len(ib)))]
        direction = pa[i] / max(np.linalg.norm(pa[i]), 1e-9) + 0.3 * rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        spin = Rotation.from_rotvec(direction * rng.uniform(0, 2 * np.pi))
        out_b = -pb0[j] / max(np.linalg.norm(pb0[j]), 1e-9)   # from atom j towards b's centre of mass
        turn, _ = Rotation.align_vectors(direction[None], out_b[None])
        pb = (spin * turn).apply(pb0)
        pb += pa[i] + distance_A * direction - pb[j]
        d = np.linalg.norm(pa[:, None] - pb[None], axis=-1)
        d[i, j] = np.inf
        if d.min() > best_other:
            best, best_other = (pa, pb), float(d.min())
    if best_other < min_other * distance_A:
        raise RuntimeError(f"contact_dimer: no placement of the {pair[0]}-{pair[1]} contact at {distance_A:.2f} A "
                           f"keeps the other contacts {min_other:g} x as far")
    return Atoms(np.concatenate([a.numbers, b.numbers]), positions=np.vstack(best))


def designed_corrective_set(molecules: Mapping[str, Atoms], counts: Mapping[str, int], density_g_cm3: float,
                            deficiencies: Sequence[Mapping], *, n_per_kind: int, cluster_radius_A: float, seed: int,
                            contact_room_A: float = 0.3, max_stretch: float = 1.6, max_deficiencies: int = 4,
                            conformers: Sequence[Atoms] = ()) -> list[Atoms]:
    """A corrective set designed against observed ``deficiencies`` (records of
    :func:`~paperlib.analysis.deficiencies.deficiencies`, plus ``{"kind": "density", "ratio": model density /
    experiment}`` records), ``n_per_kind`` configurations for each of the ``max_deficiencies`` most severe
    (largest ``severity``; so the set is never larger than the generic one of four kinds; a contact that no
    dimer can realise, such as one to a buried atom, is passed over for the next):

    - a contact of elements X-Y closer than the reference's closest: dimers (:func:`contact_dimer`) whose X-Y
      contact spans the gap, from the model's distance to the reference's closest plus ``contact_room_A``;
    - a bond X-Y longer than the reference's longest: molecules with one X-Y bond stretched to lengths between
      the reference's longest and the model's (at most ``max_stretch`` times the reference's longest);
    - a density away from experiment: clusters of liquid packed at the model's density (:func:`scaled_liquid`;
      ``compressed`` above experiment, ``expanded`` below).

    With no deficiency (or none that can be built), the generic set (:func:`corrective_set`). Molecules take
    thermal geometries from ``conformers`` as in :func:`simple_set`. Every configuration carries
    ``info["deficiency"]``."""
    rng = np.random.default_rng(seed)
    names = list(molecules)
    mols = [molecules[n] for n in names]
    out: list[Atoms] = []
    for d in sorted(deficiencies, key=lambda d: -d.get("severity", 0.0)):
        if len({a.info["deficiency"] for a in out}) == max_deficiencies:
            break
        try:
            made = _designed(d, mols, [counts[n] for n in names], density_g_cm3, n_per_kind, cluster_radius_A, rng,
                             contact_room_A, max_stretch, conformers)
        except RuntimeError:   # a contact no dimer can realise (a buried atom): the next deficiency instead
            continue
        for a in made:
            a.info["deficiency"] = f"{d['kind']} {d.get('pair', '')}".strip()
        out += made
    if not out:
        out = corrective_set(molecules, counts, density_g_cm3, n_per_kind=n_per_kind,
                             cluster_radius_A=cluster_radius_A, seed=seed)
        for a in out:
            a.info["deficiency"] = "none observed (generic)"
    return out


def _designed(d: Mapping, mols: Sequence[Atoms], counts: Sequence[int], density_g_cm3: float, n: int,
              cluster_radius_A: float, rng: np.random.Generator, contact_room_A: float, max_stretch: float,
              conformers: Sequence[Atoms]) -> list[Atoms]:
    """The ``n`` configurations of :func:`designed_corrective_set` aimed at the deficiency ``d``."""
    made: list[Atoms] = []
    if d["kind"] == "contact":
        x, y = d["pair"].split("-")
        for _ in range(n):
            a, b = (mols[int(k)] for k in rng.integers(len(mols), size=2))
            px, py = (x, y) if rng.random() < 0.5 else (y, x)
            pair = contact_dimer(a, b, (px, py), float(rng.uniform(d["model_A"], d["reference_A"] + contact_room_A)),
                                 rng)
            made.append(_tagged(pair, "close_contact", np.r_[np.zeros(len(a), int), np.ones(len(b), int)]))
    elif d["kind"] == "bond":
        with_bond = [m for m in mols if _bonds_of(m, d["pair"])]
        if not with_bond:
            raise RuntimeError(f"no molecule has a {d['pair']} bond")
        for k in range(n):
            m = with_bond[k % len(with_bond)]
            shaped = _shaped(m, "stretched_bond", np.zeros(len(m), int), rng, 0.0, conformers)
            length = float(rng.uniform(d["reference_A"], min(d["model_A"], max_stretch * d["reference_A"])))
            made.append(_tagged(stretched_bond(shaped, 1.0, rng, pair=d["pair"], length_A=length), "stretched_bond"))
    elif d["kind"] == "density":
        made = _clusters(mols, counts, density_g_cm3, n, cluster_radius_A,
                         "compressed" if d["ratio"] > 1 else "expanded", rng, 0.0, density_factor=float(d["ratio"]),
                         conformers=conformers)
    else:
        raise ValueError(f"deficiency kind {d['kind']!r}; allowed: contact, bond, density")
    return made


def _bonds_of(molecule: Atoms, pair: str | None) -> list[tuple[int, int]]:
    """The bonds of ``molecule`` (covalent radii x 1.2), sorted; only those of the element pair ``pair`` (e.g.
    ``"C-O"``) when given."""
    from paperlib.sampling.md import pair_name
    from paperlib.sampling.paths import bond_graph

    sym = molecule.get_chemical_symbols()
    return [b for b in sorted(bond_graph(molecule)) if pair is None or pair_name(sym[b[0]], sym[b[1]]) == pair]


def automatic_set(trajectory: Sequence[Atoms], n: int, cluster_radius_A: float, seed: int) -> list[Atoms]:
    """The 'automatic' set: ``n`` clusters of radius ``cluster_radius_A`` harvested from MD snapshots of a model
    (periodic boxes carrying ``arrays["mol_id"]``), one per snapshot, around a randomly drawn molecule.

    Selection rule: snapshots evenly spaced in time over the run, always including the last one (the nearest
    to where a failing run broke down, i.e. where the model went wrong); with fewer snapshots than ``n``,
    snapshots repeat with other centre molecules.
    """
    if not len(trajectory):
        raise ValueError("automatic_set: the trajectory has no frames")
    rng = np.random.default_rng(seed)
    picks = np.round(np.linspace(0, len(trajectory) - 1, n)).astype(int) if n > 1 else np.array([len(trajectory) - 1])
    out = []
    for k in picks:
        box = trajectory[int(k)]
        centre = int(rng.integers(box.arrays[MOL_ID].max() + 1))
        cluster = cut_cluster(box, centre, cluster_radius_A)
        out.append(_tagged(cluster, "automatic", cluster.arrays[MOL_ID]))
    return out


def reference_md_set(molecules: Mapping[str, Atoms], counts: Mapping[str, int], density_g_cm3: float, *,
                     n_runs: int, cluster_radius_A: float, temperature_K: float, timestep_fs: float,
                     equilibration_steps: int, n_frames: int, stride: int, seed: int, workers: int | None = None
                     ) -> list[Atoms]:
    """An evaluation set no model had a hand in: ``n_runs`` GFN2-xTB Langevin runs (:func:`~paperlib.sampling.
    md.xtb_langevin_runs`, in parallel over ``workers`` processes), each of a cluster of radius
    ``cluster_radius_A`` cut from its own packed box, ``equilibration_steps`` steps at ``temperature_K`` before
    ``n_frames`` frames every ``stride`` steps. Frames carry the reference energy and forces of the MD itself,
    ``arrays["mol_id"]``, ``info["set_kind"] = "reference_md"`` and the run as ``info["trajectory"]``."""
    from paperlib.reference.xtb import XTBSettings
    from paperlib.sampling.md import xtb_langevin_runs
    from paperlib.seeds import stream_seed

    rng = np.random.default_rng(seed)
    names = list(molecules)
    starts = _clusters([molecules[n] for n in names], [counts[n] for n in names], density_g_cm3, n_runs,
                       cluster_radius_A, "reference_md", rng, rattle_A=0.0)
    runs = [dict(temperature_K=temperature_K, timestep_fs=timestep_fs, friction_per_fs=0.01,
                 equil_steps=equilibration_steps, n_frames=n_frames, stride=stride,
                 seed=stream_seed(seed, "trajectory", k)) for k in range(n_runs)]
    frames = xtb_langevin_runs(starts, XTBSettings(), runs, workers=workers, progress=False)
    for a in frames:
        a.info["set_kind"] = "reference_md"
    return frames
