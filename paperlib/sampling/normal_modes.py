"""Normal modes of a relaxed molecule and Boltzmann sampling of non-equilibrium conformations along them."""

from __future__ import annotations

import numpy as np
from ase import Atoms, units

_HBAR_OMEGA_PER_SQRT_LAMBDA = units._hbar * 1e10 / np.sqrt(units._e * units._amu)
"""hbar*omega (eV) of a mass-weighted Hessian eigenvalue lambda = 1 eV/(A^2 amu), as in ``ase.vibrations``."""

MIN_WAVENUMBER_CM = 100.0
"""Modes softer than this are sampled as if they had this wavenumber, so that floppy torsions do not
receive unphysically large harmonic amplitudes."""


def is_linear(atoms: Atoms, tol: float = 1e-3) -> bool:
    """True when the smallest principal moment of inertia vanishes (relative to the largest)."""
    if len(atoms) < 3:
        return True
    moments = atoms.get_moments_of_inertia()
    return bool(moments.min() < tol * moments.max())


def normal_modes(atoms: Atoms, hessian_eV_A2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vibrational wavenumbers (cm^-1; imaginary ones negative) and mass-weighted modes [3n, n_vib].

    The 6 (5 for linear molecules) modes with the smallest |eigenvalue| are translations and rotations
    and are dropped.
    """
    masses = np.repeat(atoms.get_masses(), 3)
    inv_sqrt_m = 1.0 / np.sqrt(masses)
    mw = hessian_eV_A2 * inv_sqrt_m[:, None] * inv_sqrt_m[None, :]
    evals, evecs = np.linalg.eigh(0.5 * (mw + mw.T))
    n_rigid = 5 if is_linear(atoms) else 6
    keep = np.sort(np.argsort(np.abs(evals))[n_rigid:])
    evals, evecs = evals[keep], evecs[:, keep]
    wavenumbers = np.sign(evals) * np.sqrt(np.abs(evals)) * _HBAR_OMEGA_PER_SQRT_LAMBDA / units.invcm
    return wavenumbers, evecs


def sample_normal_modes(atoms: Atoms, hessian_eV_A2: np.ndarray, n: int, temperature_K: float,
                        seed: int) -> list[Atoms]:
    """``n`` conformations displaced along the normal modes with classical harmonic Boltzmann amplitudes
    at ``temperature_K``: each mass-weighted mode coordinate q ~ N(0, kT / lambda). Returns copies of
    ``atoms`` (no labels)."""
    wavenumbers, modes = normal_modes(atoms, hessian_eV_A2)
    lam = (np.maximum(np.abs(wavenumbers), MIN_WAVENUMBER_CM) * units.invcm / _HBAR_OMEGA_PER_SQRT_LAMBDA) ** 2
    kT = units.kB * temperature_K
    rng = np.random.default_rng(seed)
    inv_sqrt_m = 1.0 / np.sqrt(np.repeat(atoms.get_masses(), 3))
    out = []
    for _ in range(n):
        q = rng.normal(0.0, np.sqrt(kT / lam))
        snap = atoms.copy()
        snap.calc = None
        snap.positions = atoms.positions + (inv_sqrt_m * (modes @ q)).reshape(-1, 3)
        out.append(snap)
    return out
