"""Born-Mayer-Huggins-Tosi-Fumi (BMHTF) molten NaCl, evaluated by LAMMPS.

Pair energy (metal units, charges +1/-1, Ewald-summed Coulomb):

    E(r) = A exp((sigma - r) / rho) - C / r^6 - D / r^8 + q_i q_j k_e / r

LAMMPS ``pair_style born`` writes the last dispersion term as ``+D/r^8``, so D is passed negated.
Parameters: Tosi & Fumi, J. Phys. Chem. Solids 25, 45 (1964); as tabulated by Lewis, Singer & Woodcock (1975).
"""

from __future__ import annotations

import ctypes
import dataclasses
from collections.abc import Sequence

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

from paperlib import keys
from paperlib.compat import import_lammps

SPECIES: tuple[str, ...] = ("Na", "Cl")
CHARGES: dict[str, float] = {"Na": 1.0, "Cl": -1.0}
MASSES_AMU: dict[str, float] = {"Na": 22.98977, "Cl": 35.453}


@dataclasses.dataclass(frozen=True)
class PairParameters:
    """Born-Mayer-Huggins parameters of one pair: A (eV), rho (A), sigma (A), C (eV A^6), D (eV A^8)."""

    A: float
    rho: float
    sigma: float
    C: float
    D: float

    def energy(self, r: np.ndarray) -> np.ndarray:
        """Short-range (non-Coulomb) pair energy in eV at distances ``r`` (Angstrom)."""
        return self.A * np.exp((self.sigma - r) / self.rho) - self.C / r**6 - self.D / r**8


TOSI_FUMI_NACL: dict[tuple[str, str], PairParameters] = {
    ("Na", "Na"): PairParameters(0.2637, 0.317, 2.340, 1.0486, 0.4993),
    ("Na", "Cl"): PairParameters(0.2110, 0.317, 2.755, 6.9906, 8.6758),
    ("Cl", "Cl"): PairParameters(0.1582, 0.317, 3.170, 72.404, 145.427),
}


@dataclasses.dataclass(frozen=True)
class BMHTFSettings:
    """Numerical settings of the reference: real-space cutoff (A), Ewald accuracy (relative) and solver."""

    cutoff_A: float = 9.0
    kspace_accuracy: float = 1e-6
    kspace_style: str = "ewald"


class LammpsBMHTF:
    """A LAMMPS instance set up for BMHTF NaCl; loads configurations and returns their labels.

    The instance is reused across configurations: loading one with the same atom count and species
    only resets the box and scatters positions.
    """

    def __init__(self, settings: BMHTFSettings = BMHTFSettings(),
                 pairs: dict[tuple[str, str], PairParameters] = TOSI_FUMI_NACL):
        self.settings = settings
        self.pairs = pairs
        self._lammps_mod = import_lammps()
        self.lmp = None
        self._symbols: tuple[str, ...] | None = None

    # -- set-up ---------------------------------------------------------------------------------
    def _setup(self, atoms: Atoms) -> None:
        if self.lmp is not None:
            self.lmp.close()
        self.lmp = self._lammps_mod.lammps(cmdargs=["-screen", "none", "-log", "none", "-nocite"])
        lo, hi = _box_bounds(atoms)
        cmds = [
            "units metal", "atom_style charge", "atom_modify map array sort 0 0.0", "boundary p p p",
            f"region box block {lo[0]} {hi[0]} {lo[1]} {hi[1]} {lo[2]} {hi[2]}",
            "create_box 2 box",
            f"mass 1 {MASSES_AMU['Na']}", f"mass 2 {MASSES_AMU['Cl']}",
            f"pair_style born/coul/long {self.settings.cutoff_A}",
        ]
        index = {s: i + 1 for i, s in enumerate(SPECIES)}
        for (a, b), p in self.pairs.items():
            i, j = sorted((index[a], index[b]))
            # LAMMPS born: A exp((sigma-r)/rho) - C/r^6 + D/r^8, hence -D.
            cmds.append(f"pair_coeff {i} {j} {p.A} {p.rho} {p.sigma} {p.C} {-p.D}")
        cmds += [
            # Tabulated real-space Coulomb (the LAMMPS default) makes forces and energies inconsistent
            # at the 1e-3 eV/A level; the analytic erfc keeps forces = -dE/dR.
            "pair_modify table 0",
            f"kspace_style {self.settings.kspace_style} {self.settings.kspace_accuracy}",
            "neighbor 2.0 bin", "neigh_modify every 1 delay 0 check yes",
            "compute pe_atom all pe/atom", "thermo_style custom step temp pe press vol",
        ]
        self.lmp.commands_list(cmds)
        n = len(atoms)
        types = [index[s] for s in atoms.get_chemical_symbols()]
        self.lmp.create_atoms(n, list(range(1, n + 1)), types, list(_wrapped(atoms).ravel()))
        self.lmp.command("set type 1 charge 1.0")
        self.lmp.command("set type 2 charge -1.0")
        self._symbols = tuple(atoms.get_chemical_symbols())

    def load(self, atoms: Atoms) -> None:
        """Put ``atoms`` (Na/Cl, periodic, orthorhombic cell) into LAMMPS."""
        _check_atoms(atoms)
        if self.lmp is None or self._symbols != tuple(atoms.get_chemical_symbols()):
            self._setup(atoms)
            return
        lo, hi = _box_bounds(atoms)
        self.lmp.command("change_box all " + " ".join(f"{d} final {lo[k]} {hi[k]}" for k, d in enumerate("xyz"))
                         + " units box")
        x = _wrapped(atoms).ravel()
        self.lmp.scatter_atoms("x", 1, 3, (len(x) * ctypes.c_double)(*x))
        self.lmp.scatter_atoms("v", 1, 3, (len(x) * ctypes.c_double)())

    # -- results --------------------------------------------------------------------------------
    def compute(self) -> None:
        """Evaluate energy and forces of the loaded configuration (``run 0``)."""
        self.lmp.command("run 0 post no")

    def results(self) -> dict[str, np.ndarray | float]:
        """Energy (eV), forces (eV/A, [n, 3]) and atomic energies (eV, [n]) of the current state, by atom id."""
        n = self.lmp.get_natoms()
        f = np.ctypeslib.as_array(self.lmp.gather_atoms("f", 1, 3)).reshape(n, 3).copy()
        ids = np.asarray(self.lmp.numpy.extract_atom("id"))[:n]
        pe_local = np.asarray(self.lmp.numpy.extract_compute("pe_atom", 1, 1))[:n]
        pe_atom = np.empty(n)
        pe_atom[ids - 1] = pe_local
        energy = float(self.lmp.get_thermo("pe"))
        return {"energy": energy, "forces": f, "atomic_energies": pe_atom}

    def current_atoms(self) -> Atoms:
        """The LAMMPS state as ``Atoms`` (positions by atom id, current box)."""
        n = self.lmp.get_natoms()
        x = np.ctypeslib.as_array(self.lmp.gather_atoms("x", 1, 3)).reshape(n, 3).copy()
        boxlo, boxhi, *_ = self.lmp.extract_box()
        cell = np.diag(np.asarray(boxhi) - np.asarray(boxlo))
        return Atoms(self._symbols, positions=x - np.asarray(boxlo), cell=cell, pbc=True)

    def label(self, atoms: Atoms) -> Atoms:
        """Return a copy of ``atoms`` with ``REF_energy``, ``REF_forces`` and ``REF_atomic_energies``."""
        self.load(atoms)
        self.compute()
        return attach_labels(atoms.copy(), self.results())

    def close(self) -> None:
        """Release the LAMMPS instance."""
        if self.lmp is not None:
            self.lmp.close()
            self.lmp = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown may have torn down lammps already
            pass


def attach_labels(atoms: Atoms, res: dict) -> Atoms:
    """Store reference results on ``atoms`` under the ``REF_`` keys; returns ``atoms``."""
    atoms.info[keys.REF_energy] = float(res["energy"])
    atoms.arrays[keys.REF_forces] = np.asarray(res["forces"], dtype=float)
    atoms.arrays[keys.REF_atomic_energies] = np.asarray(res["atomic_energies"], dtype=float)
    return atoms


def label_all(structures: Sequence[Atoms], settings: BMHTFSettings = BMHTFSettings()) -> list[Atoms]:
    """Label every structure with the BMHTF reference (one LAMMPS instance, reused)."""
    engine = LammpsBMHTF(settings)
    try:
        return [engine.label(a) for a in structures]
    finally:
        engine.close()


class BMHTFCalculator(Calculator):
    """ASE calculator for BMHTF NaCl through LAMMPS: ``energy``, ``forces`` and per-atom ``energies``."""

    implemented_properties = ["energy", "forces", "energies", "free_energy"]

    def __init__(self, settings: BMHTFSettings = BMHTFSettings(), **kwargs):
        super().__init__(**kwargs)
        self.engine = LammpsBMHTF(settings)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.engine.load(self.atoms)
        self.engine.compute()
        res = self.engine.results()
        self.results = {"energy": res["energy"], "free_energy": res["energy"], "forces": res["forces"],
                        "energies": res["atomic_energies"]}


def _check_atoms(atoms: Atoms) -> None:
    bad = sorted(set(atoms.get_chemical_symbols()) - set(SPECIES))
    if bad:
        raise ValueError(f"BMHTF NaCl handles only Na and Cl; got {', '.join(bad)}")
    if not atoms.pbc.all():
        raise ValueError("BMHTF NaCl needs a periodic cell (pbc=True in all directions)")
    cell = atoms.cell.array
    if np.abs(cell - np.diag(np.diag(cell))).max() > 1e-10:
        raise ValueError("BMHTF NaCl handles orthorhombic cells only (off-diagonal cell entries must be 0)")


def _box_bounds(atoms: Atoms) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(3), np.diag(atoms.cell.array).copy()


def _wrapped(atoms: Atoms) -> np.ndarray:
    return atoms.get_positions(wrap=True)
