"""Azobenzene's cis -> trans isomerisation: the CNNC collective variables, the region rule that tags every
frame, and relaxed scans along the three mechanisms (Vassilev-Galindo et al., JCP 2021).

Collective variables: the CNNC torsion folded into [0, 180] degrees (0 = cis, 180 = trans) and the two CNN
bond angles. The region rule splits this space in two directions, near-planar vs twisted torsion and normal
vs widened CNN angle:

===========================  ==============================  =====================
region                       torsion                         wider CNN angle
===========================  ==============================  =====================
cis                          < ``planar_deg``                < ``wide_angle_deg``
trans                        > 180 - ``planar_deg``          < ``wide_angle_deg``
rotation                     between                         < ``wide_angle_deg``
inversion                    < ``planar_deg`` or > 180 - it  >= ``wide_angle_deg``
inversion-assisted rotation  between                         >= ``wide_angle_deg``
===========================  ==============================  =====================

A CNN angle of at least ``linear_deg`` counts as inversion whatever the torsion, which is ill-defined when
C-N=N is nearly linear.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.geometry import get_angles_derivatives, get_dihedrals_derivatives
from tqdm.auto import tqdm

from paperlib.sampling.molecules import from_smiles
from paperlib.sampling.paths import bond_graph

SMILES = {"cis": "c1ccc(cc1)/N=N\\c1ccccc1", "trans": "c1ccc(cc1)/N=N/c1ccccc1"}
ROTATION, INVERSION, ASSISTED = "rotation", "inversion", "inversion-assisted rotation"
MECHANISMS: tuple[str, ...] = (ROTATION, INVERSION, ASSISTED)
NEAR_EQUILIBRIUM: tuple[str, ...] = ("cis", "trans")
REGIONS: tuple[str, ...] = NEAR_EQUILIBRIUM + MECHANISMS


def isomer(which: str, seed: int = 0) -> Atoms:
    """An unrelaxed 3D azobenzene, ``which`` = "cis" or "trans" (RDKit embedding of the SMILES)."""
    if which not in SMILES:
        raise ValueError(f"isomer {which!r}; allowed: cis, trans")
    return from_smiles(SMILES[which], seed=seed)


def azo_indices(atoms: Atoms) -> tuple[int, int, int, int]:
    """Indices (C1, N1, N2, C2) of the C-N=N-C unit: the two bonded nitrogens and the carbon bonded to each.

    Raises
    ------
    ValueError
        When the structure has no N=N unit with a carbon on each nitrogen.
    """
    bonded = np.zeros((len(atoms), len(atoms)), dtype=bool)
    for i, j in bond_graph(atoms):
        bonded[i, j] = bonded[j, i] = True
    nitrogens = [i for i in range(len(atoms)) if atoms[i].symbol == "N"]
    for n1 in nitrogens:
        for n2 in nitrogens:
            if n1 < n2 and bonded[n1, n2]:
                d = atoms.get_all_distances()
                carbons = [[j for j in np.flatnonzero(bonded[n]) if atoms[j].symbol == "C"] for n in (n1, n2)]
                if all(carbons):
                    c1, c2 = (min(c, key=lambda j, n=n: d[n, j]) for c, n in zip(carbons, (n1, n2)))
                    return int(c1), n1, n2, int(c2)
    raise ValueError(f"{atoms.get_chemical_formula()}: no C-N=N-C unit found (needs two bonded N, each bonded to C)")


@dataclasses.dataclass(frozen=True)
class CollectiveVariables:
    """CNNC torsion folded into [0, 180] and the two CNN angles, all in degrees."""

    torsion_deg: float
    angle1_deg: float
    angle2_deg: float

    @property
    def wide_angle_deg(self) -> float:
        """The wider of the two CNN angles."""
        return max(self.angle1_deg, self.angle2_deg)


def collective_variables(atoms: Atoms, indices: Sequence[int] | None = None) -> CollectiveVariables:
    """The CNNC torsion and CNN angles of ``atoms`` (``indices`` from :func:`azo_indices` when not given)."""
    c1, n1, n2, c2 = indices if indices is not None else azo_indices(atoms)
    d = atoms.get_dihedral(c1, n1, n2, c2) % 360.0
    return CollectiveVariables(float(min(d, 360.0 - d)), float(atoms.get_angle(c1, n1, n2)),
                               float(atoms.get_angle(n1, n2, c2)))


@dataclasses.dataclass(frozen=True)
class RegionRule:
    """The region rule of the module docstring; thresholds in degrees."""

    planar_deg: float = 45.0
    wide_angle_deg: float = 140.0
    linear_deg: float = 170.0

    def __post_init__(self):
        if not 0.0 < self.planar_deg < 90.0:
            raise ValueError(f"planar_deg: got {self.planar_deg}; allowed: 0 < value < 90")
        if not 90.0 < self.wide_angle_deg < 180.0:
            raise ValueError(f"wide_angle_deg: got {self.wide_angle_deg}; allowed: 90 < value < 180")
        if not self.wide_angle_deg <= self.linear_deg <= 180.0:
            raise ValueError(f"linear_deg: got {self.linear_deg}; allowed: wide_angle_deg ({self.wide_angle_deg}) "
                             "<= value <= 180")

    def region(self, cv: CollectiveVariables) -> str:
        """The region (one of :data:`REGIONS`) of a point in collective-variable space."""
        if cv.wide_angle_deg >= self.linear_deg:
            return INVERSION  # a nearly linear C-N=N has no meaningful torsion
        planar = cv.torsion_deg < self.planar_deg or cv.torsion_deg > 180.0 - self.planar_deg
        wide = cv.wide_angle_deg >= self.wide_angle_deg
        if planar:
            return INVERSION if wide else ("cis" if cv.torsion_deg < 90.0 else "trans")
        return ASSISTED if wide else ROTATION

    def tag(self, structures: Iterable[Atoms]) -> list[str]:
        """Region of every structure (all must be azobenzene with the same atom order)."""
        structures = list(structures)
        if not structures:
            return []
        idx = azo_indices(structures[0])
        return [self.region(collective_variables(a, idx)) for a in structures]


class Restrained(Calculator):
    """``calc`` plus harmonic restraints ``k/2 (cv - target)^2`` on a CNNC dihedral and one CNN angle.

    ``k_eV_rad2`` in eV/rad^2. The restraint steers relaxed scans; the energies and forces stored with scan
    images come from ``calc`` alone.
    """

    implemented_properties = ["energy", "forces"]

    def __init__(self, calc: Calculator, indices: Sequence[int], *, dihedral_deg: float | None,
                 angle_deg: float | None, k_eV_rad2: float = 50.0):
        super().__init__()
        self.calc, self.indices, self.k = calc, tuple(indices), k_eV_rad2
        self.dihedral_deg, self.angle_deg = dihedral_deg, angle_deg

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        c1, n1, n2, c2 = self.indices
        ref = self.atoms.copy()
        ref.calc = self.calc
        energy, forces = ref.get_potential_energy(), ref.get_forces().copy()
        p = self.atoms.positions
        if self.dihedral_deg is not None:
            delta = (self.atoms.get_dihedral(c1, n1, n2, c2) - self.dihedral_deg + 180.0) % 360.0 - 180.0
            grad = get_dihedrals_derivatives(p[[n1]] - p[[c1]], p[[n2]] - p[[n1]], p[[c2]] - p[[n2]])[0]
            energy, forces = self._add(energy, forces, delta, grad, (c1, n1, n2, c2))
        if self.angle_deg is not None:
            delta = self.atoms.get_angle(c1, n1, n2) - self.angle_deg
            grad = get_angles_derivatives(p[[c1]] - p[[n1]], p[[n2]] - p[[n1]])[0]
            energy, forces = self._add(energy, forces, delta, grad, (c1, n1, n2))
        self.results = {"energy": energy, "forces": forces}

    def _add(self, energy, forces, delta_deg, grad_deg_A, atoms_idx):
        delta = np.radians(delta_deg)
        forces[list(atoms_idx)] -= self.k * delta * np.radians(grad_deg_A)
        return energy + 0.5 * self.k * delta**2, forces


def scan_targets(mechanism: str, cis: CollectiveVariables, trans: CollectiveVariables, n_points: int, *,
                 assisted_angle_deg: float = 155.0, linear_deg: float = 176.0
                 ) -> list[tuple[float | None, float | None]]:
    """Restraint targets ``(torsion_deg, angle_deg)`` (folded torsion, first CNN angle; None = free) of one
    mechanism's scan, in path order from cis to trans.

    - rotation: the CNNC torsion from the cis to the trans value, angles free;
    - inversion: the first CNN angle opened to ``linear_deg`` in the molecular plane with the torsion free,
      then, with the torsion held at its trans value (which moves the carbon across the N=N axis), closed
      again to its trans value;
    - inversion-assisted rotation: the torsion as in rotation while the first CNN angle rises to
      ``assisted_angle_deg`` half way.
    """
    if mechanism not in MECHANISMS:
        raise ValueError(f"mechanism {mechanism!r}; allowed: {', '.join(MECHANISMS)}")
    if n_points < 3:
        raise ValueError(f"n_points: got {n_points}; allowed: >= 3")
    s = np.linspace(0.0, 1.0, n_points)
    torsions = cis.torsion_deg + (trans.torsion_deg - cis.torsion_deg) * s
    if mechanism == ROTATION:
        return [(float(t), None) for t in torsions]
    if mechanism == ASSISTED:
        base = cis.angle1_deg + (trans.angle1_deg - cis.angle1_deg) * s
        bump = (assisted_angle_deg - 0.5 * (cis.angle1_deg + trans.angle1_deg)) * np.sin(np.pi * s)
        return [(float(t), float(a)) for t, a in zip(torsions, base + bump)]
    half = (n_points + 1) // 2
    up = np.linspace(cis.angle1_deg, linear_deg, half)
    down = np.linspace(linear_deg, trans.angle1_deg, n_points - half + 1)[1:]
    return [(None, float(a)) for a in up] + [(trans.torsion_deg, float(a)) for a in down]


def relaxed_scan(cis: Atoms, trans: Atoms, calc: Calculator, mechanism: str, n_points: int, *,
                 fmax_eV_A: float = 0.05, steps: int = 300, k_eV_rad2: float = 50.0, progress: bool = False,
                 **target_kwargs) -> list[Atoms]:
    """Relaxed scan of one mechanism from the ``cis`` minimum towards the ``trans`` minimum's collective
    variables (``trans`` gives the targets only, so every image keeps the atom labels of ``cis``).

    Each point is relaxed with BFGS on ``calc`` under the restraints of :func:`scan_targets`, starting from the
    previous point; the restraint is then removed. Returns ``n_points`` unlabelled structures in path order,
    with ``info["mechanism"]`` and ``info["image"]``. The last image is a trans structure, which may be the
    mirror image of ``trans`` or differ from it by a flip of a phenyl ring.
    """
    from ase.optimize import BFGS

    idx = azo_indices(cis)
    targets = scan_targets(mechanism, collective_variables(cis, idx), collective_variables(trans, idx), n_points,
                           **target_kwargs)
    previous, out = cis, []
    for i, (torsion, angle) in enumerate(tqdm(targets, desc=f"scan {mechanism}", disable=not progress,
                                              leave=False)):
        work = Atoms(previous.numbers, positions=previous.positions)
        dihedral = None if torsion is None else signed_torsion(work, idx, torsion)
        work.calc = Restrained(calc, idx, dihedral_deg=dihedral, angle_deg=angle, k_eV_rad2=k_eV_rad2)
        BFGS(work, logfile=None, maxstep=0.1).run(fmax=fmax_eV_A, steps=steps)
        work.calc = None
        work.info.update(mechanism=mechanism, image=i)
        out.append(work)
        previous = work
    return out


def signed_torsion(atoms: Atoms, idx: Sequence[int], folded_deg: float) -> float:
    """The signed dihedral (ASE's [0, 360) convention) with folded value ``folded_deg`` on the same side as
    the structure's current dihedral, so that a scan turns one way only (a nearly linear CNN unit, whose
    dihedral is ill-defined, may take either side)."""
    d = atoms.get_dihedral(*idx) % 360.0
    return folded_deg if d <= 180.0 else 360.0 - folded_deg
