"""Unit conversions, in one place. paperlib works in eV and Angstrom throughout."""

from typing import Final

from ase import units as _ase

eV: Final[float] = 1.0
Angstrom: Final[float] = 1.0
kcal_per_mol: Final[float] = float(_ase.kcal / _ase.mol)
"""One kcal/mol in eV (0.04336...)."""
kJ_per_mol: Final[float] = float(_ase.kJ / _ase.mol)
"""One kJ/mol in eV."""
meV: Final[float] = 1e-3
fs: Final[float] = 1.0
"""Femtosecond: paperlib's time unit for MD time steps and durations."""
ps: Final[float] = 1000.0
amu_per_A3_to_g_per_cm3: Final[float] = 1.66053906660
"""Density conversion: (atomic mass units / Angstrom^3) -> g/cm^3."""
coulomb_eV_A: Final[float] = 14.399645
"""Coulomb constant e^2/(4 pi eps0) in eV Angstrom, as used by LAMMPS metal units."""


def ev_to_kcal_per_mol(x):
    """Convert eV (or eV/Angstrom) to kcal/mol (or kcal/mol/Angstrom)."""
    return x / kcal_per_mol


def kcal_per_mol_to_ev(x):
    """Convert kcal/mol (or kcal/mol/Angstrom) to eV (or eV/Angstrom)."""
    return x * kcal_per_mol
