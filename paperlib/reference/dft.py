"""Kohn-Sham DFT single points with PySCF: a second opinion on a reference's relative energies.

Closed-shell molecules only (restricted Kohn-Sham with density fitting); energies in eV.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from ase import Atoms, units


@dataclasses.dataclass(frozen=True)
class DFTSettings:
    """Exchange-correlation functional and Gaussian basis set, as PySCF names them (e.g. ``PBE``, ``def2-SVP``);
    ``conv_tol_hartree`` is the SCF energy tolerance."""

    functional: str
    basis: str
    conv_tol_hartree: float = 1e-8

    @classmethod
    def parse(cls, method: str) -> "DFTSettings":
        """Settings from ``"functional/basis"``; raises ValueError naming what is wrong (an unknown functional
        or basis, or not one slash), before any compute."""
        parts = method.split("/")
        if len(parts) != 2 or not all(p.strip() for p in parts):
            raise ValueError(f"DFT method {method!r}; allowed: 'functional/basis', e.g. 'PBE/def2-SVP'")
        settings = cls(parts[0].strip(), parts[1].strip())
        settings.check()
        return settings

    def check(self) -> None:
        """Raise ValueError unless PySCF knows the functional and has the basis for carbon."""
        from pyscf import gto
        from pyscf.dft import libxc

        try:
            libxc.parse_xc(self.functional)
        except (KeyError, ValueError, NotImplementedError):
            raise ValueError(f"DFT functional {self.functional!r} is unknown to PySCF") from None
        try:
            gto.basis.load(self.basis, "C")
        except (KeyError, RuntimeError):  # PySCF's BasisNotFoundError is a RuntimeError
            raise ValueError(f"DFT basis {self.basis!r} is unknown to PySCF") from None


def dft_energy(atoms: Atoms, settings: DFTSettings) -> float:
    """Total energy (eV) of the closed-shell molecule ``atoms`` by restricted Kohn-Sham DFT with density fitting;
    raises RuntimeError when the SCF does not converge."""
    from pyscf import dft, gto

    mol = gto.M(atom=[(s, tuple(p)) for s, p in zip(atoms.get_chemical_symbols(), atoms.positions)],
                basis=settings.basis, unit="Angstrom", charge=0, spin=0, verbose=0)
    mf = dft.RKS(mol).density_fit()
    mf.xc = settings.functional
    mf.conv_tol = settings.conv_tol_hartree
    energy = mf.kernel()
    if not mf.converged:
        raise RuntimeError(f"{settings.functional}/{settings.basis}: the SCF did not converge for "
                           f"{atoms.get_chemical_formula()}")
    return float(energy * units.Hartree)


def dft_energies(structures: Sequence[Atoms], settings: DFTSettings) -> list[float]:
    """:func:`dft_energy` of each structure, in order (PySCF threads over the cores); NaN where the SCF does not
    converge (a cross-check leaves that entry open rather than stopping the study)."""
    out = []
    for a in structures:
        try:
            out.append(dft_energy(a, settings))
        except RuntimeError:
            out.append(float("nan"))
    return out
