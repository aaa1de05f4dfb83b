"""Readers and writers of public data-set formats, converting to paperlib's eV and Angstrom.

- rMD17 (Christensen & von Lilienfeld 2020): one ``.npz`` per molecule with ``nuclear_charges`` [n_atoms],
  ``coords`` [n_frames, n_atoms, 3] (A), ``energies`` [n_frames] (kcal/mol) and ``forces``
  [n_frames, n_atoms, 3] (kcal/mol/A); the published files also carry ``old_indices`` and ``old_energies``.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
from ase import Atoms

from paperlib import keys
from paperlib.data.dataset import DataFileError, Dataset
from paperlib.units import ev_to_kcal_per_mol, kcal_per_mol_to_ev

RMD17_KEYS: tuple[str, ...] = ("nuclear_charges", "coords", "energies", "forces")
RMD17_UNITS: dict[str, str] = {"e_unit": "kcal/mol", "r_unit": "Ang"}
"""Unit keys some files carry (sGDML writes them); when present they must name rMD17's units."""


def read_rmd17(path: str | os.PathLike, max_frames: int | None = None) -> Dataset:
    """An rMD17 ``.npz`` file as a Dataset with ``REF_energy`` (eV) and ``REF_forces`` (eV/A).

    Raises
    ------
    DataFileError
        When the file is missing, not an npz archive or truncated, lacks one of :data:`RMD17_KEYS`, declares
        other units than :data:`RMD17_UNITS`, or the arrays' shapes disagree.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"rMD17 file {str(path)!r} does not exist")
    try:
        data = np.load(path)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise DataFileError(f"rMD17 file {str(path)!r} is not a readable .npz archive ({err})") from err
    with data:
        missing = [k for k in RMD17_KEYS if k not in data.files]
        if missing:
            hint = " (keys E, F, R, z are the sGDML/MD17 format; rMD17 names them as listed)" \
                if {"E", "F", "R", "z"} <= set(data.files) else ""
            raise DataFileError(f"rMD17 file {str(path)!r} lacks {missing}; has {sorted(data.files)}{hint}")
        for key, unit in RMD17_UNITS.items():
            if key in data.files and str(data[key]) != unit:
                raise DataFileError(f"rMD17 file {str(path)!r}: {key} is {str(data[key])!r}; rMD17 files are in "
                                    f"{unit!r}")
        try:
            z, r, e, f = (np.asarray(data[k]) for k in RMD17_KEYS)
        except (OSError, ValueError, zipfile.BadZipFile, EOFError, zlib.error) as err:
            raise DataFileError(f"rMD17 file {str(path)!r} is truncated or corrupt ({err})") from err
    n_frames, n_atoms = len(r), len(z)
    if r.shape != (n_frames, n_atoms, 3) or f.shape != r.shape or e.reshape(-1).shape != (n_frames,):
        raise DataFileError(f"rMD17 file {str(path)!r}: shapes disagree (nuclear_charges {z.shape}, coords "
                            f"{r.shape}, energies {e.shape}, forces {f.shape})")
    take = n_frames if max_frames is None else min(max_frames, n_frames)
    frames = []
    for i in range(take):
        atoms = Atoms(numbers=z.astype(int), positions=r[i].astype(float))
        atoms.info[keys.REF_energy] = float(kcal_per_mol_to_ev(e.reshape(-1)[i]))
        atoms.arrays[keys.REF_forces] = kcal_per_mol_to_ev(f[i].astype(float))
        frames.append(atoms)
    return Dataset(frames)


def write_rmd17(data: Dataset, path: str | os.PathLike) -> None:
    """Write a single-molecule Dataset in the rMD17 ``.npz`` layout (kcal/mol units), atomically."""
    data.require(keys.REF_energy, keys.REF_forces)
    z = data[0].numbers
    if any(len(a) != len(z) or (a.numbers != z).any() for a in data):
        raise ValueError("write_rmd17: every structure must be the same molecule (same atoms in the same order)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".npz", dir=path.parent)
    os.close(fd)
    try:
        np.savez(tmp, nuclear_charges=z, coords=np.array([a.positions for a in data]),
                 energies=ev_to_kcal_per_mol(data.energies()),
                 forces=ev_to_kcal_per_mol(np.array([a.arrays[keys.REF_forces] for a in data])))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
