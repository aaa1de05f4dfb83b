"""Normal modes of a relaxed molecule and Boltzmann sampling of non-equilibrium conformations along them."""

from __future__ import annotations

import numpy as np
from ase import Atoms, units

from paperlib import seeds

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

    The 6 (5 for linear molecules) modes with the smallest ``|eigenvalue|`` are translations and rotations
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


def displace_along_modes(atoms: Atoms, hessian_eV_A2: np.ndarray, rms_A: float, n: int, seed: int) -> list[Atoms]:
    """``n`` copies of ``atoms`` displaced along a random combination of its vibrational normal modes
    (Gaussian weights), scaled so that the root-mean-square atomic displacement is ``rms_A``.

    Rigid translations and rotations are excluded (in the mass-weighted sense of the normal modes), so the
    aligned RMSD from ``atoms`` is at most ``rms_A``."""
    if rms_A <= 0 or n < 1:
        raise ValueError(f"displace_along_modes: rms_A must be > 0 and n >= 1; got {rms_A}, {n}")
    _, modes = normal_modes(atoms, hessian_eV_A2)
    cartesian = modes / np.sqrt(np.repeat(atoms.get_masses(), 3))[:, None]
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        d = (cartesian @ rng.normal(size=cartesian.shape[1])).reshape(-1, 3)
        snap = atoms.copy()
        snap.calc = None
        snap.positions = atoms.positions + d * rms_A / np.sqrt(np.mean(np.sum(d ** 2, axis=1)))
        out.append(snap)
    return out


def thermal_samples(molecule: Atoms, n: int, temperature_K: float, seed: int, settings=None) -> list[Atoms]:
    """``n`` thermal conformations of ``molecule``: relaxed with the GFN2-xTB reference (``settings``: an
    :class:`~paperlib.reference.xtb.XTBSettings`, default settings when None), its finite-difference Hessian
    computed, then sampled along its normal modes at ``temperature_K`` (:func:`sample_normal_modes`; unlabelled,
    atoms in the order of ``molecule``)."""
    from paperlib.reference.hessian import finite_difference_hessian
    from paperlib.reference.xtb import XTBSettings, relax, xtb_calculator

    settings = settings if settings is not None else XTBSettings()
    labelled = relax(molecule, settings)
    relaxed = Atoms(labelled.numbers, positions=labelled.positions)
    hessian = finite_difference_hessian(relaxed, xtb_calculator(settings))
    return sample_normal_modes(relaxed, hessian, n, temperature_K, seed)


def _molecule_conformations(smiles: str, name: str, n: int, temperature_K: float, seed: int,
                            settings) -> list[Atoms]:
    from paperlib.reference.xtb import label, xtb_calculator
    from paperlib.sampling.molecules import from_smiles

    calc = xtb_calculator(settings)
    out = []
    for k, conf in enumerate(thermal_samples(from_smiles(smiles, seed=seed), n, temperature_K, seed, settings)):
        frame = label(conf, calc)
        frame.info.update(molecule=name, smiles=smiles, conformation=k)
        out.append(frame)
    return out


def _molecule_chunk(jobs: list[tuple], settings) -> list[tuple[str, list[Atoms] | str]]:
    out = []
    for smiles, name, n, temperature_K, seed in jobs:
        try:
            out.append((name, _molecule_conformations(smiles, name, n, temperature_K, seed, settings)))
        except (ValueError, RuntimeError) as err:   # unparsable SMILES, failed embedding or relaxation
            out.append((name, str(err)))
    return out


def xtb_normal_mode_set(molecules: list[tuple[str, str]], *, per_molecule: int, temperature_K: float, seed: int,
                        settings, workers: int | None = None, progress: bool = True
                        ) -> tuple[list[Atoms], dict[str, str]]:
    """Non-equilibrium conformations of many molecules: each ``(smiles, name)`` is embedded (RDKit), relaxed
    and its Hessian computed with the reference (``settings``: an XTBSettings), then ``per_molecule``
    normal-mode samples at ``temperature_K`` are labelled. Molecules run in parallel over the cores.

    Returns the labelled frames (``info``: molecule, smiles, conformation) in the order of ``molecules``,
    and the molecules that failed with the reason.
    """
    from tqdm.auto import tqdm

    from paperlib.reference.xtb import default_workers, map_in_workers

    jobs = [(s, name, per_molecule, temperature_K, seeds.stream_seed(seed, "molecule", i))
            for i, (s, name) in enumerate(molecules)]
    chunk = 8
    chunks = [jobs[i:i + chunk] for i in range(0, len(jobs), chunk)]
    workers = min(workers or default_workers(), len(chunks))
    frames, failed = [], {}
    with tqdm(total=len(jobs), desc="molecules (relax, Hessian, samples)", disable=not progress,
              leave=False) as bar:
        for done in map_in_workers(_molecule_chunk, chunks, [settings] * len(chunks), workers=workers):
            for name, got in done:
                if isinstance(got, str):
                    failed[name] = got
                else:
                    frames += got
            bar.update(len(done))
    return frames, failed
