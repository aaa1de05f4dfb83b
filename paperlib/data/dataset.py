"""A data set: structures with reference labels under the ``REF_`` keys, stored as extxyz."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import read, write

from paperlib import keys


class DataFileError(ValueError):
    """A data file is missing, truncated or lacks the labels a step needs."""


class Dataset(Sequence[Atoms]):
    """An ordered collection of labelled structures.

    Labels live on each ``Atoms``: per-structure scalars in ``atoms.info`` (e.g. ``REF_energy``),
    per-atom arrays in ``atoms.arrays`` (e.g. ``REF_forces``).
    """

    def __init__(self, structures: Iterable[Atoms] = ()):
        self.structures: list[Atoms] = list(structures)

    def __len__(self) -> int:
        return len(self.structures)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Dataset(self.structures[index])
        return self.structures[index]

    def __iter__(self) -> Iterator[Atoms]:
        return iter(self.structures)

    def __add__(self, other: Dataset) -> Dataset:
        return Dataset(self.structures + list(other))

    def subset(self, indices: Sequence[int] | np.ndarray) -> Dataset:
        """The structures at ``indices`` (in that order), as a new Dataset sharing the Atoms objects."""
        return Dataset(self.structures[int(i)] for i in indices)

    # -- labels ---------------------------------------------------------------------------------
    def require(self, *names: str) -> None:
        """Raise :class:`DataFileError` unless every structure carries every label in ``names``."""
        for name in names:
            for i, a in enumerate(self.structures):
                if name not in a.info and name not in a.arrays:
                    raise DataFileError(f"structure {i} lacks the label {name!r} (has: "
                                        f"{sorted(set(a.info) | set(a.arrays) - {'numbers', 'positions'})})")

    def info(self, name: str) -> np.ndarray:
        """Per-structure label ``name`` as an array [n_structures, ...]."""
        self.require(name)
        return np.array([a.info[name] for a in self.structures])

    def per_atom(self, name: str) -> np.ndarray:
        """Per-atom label ``name`` concatenated over structures: [sum n_atoms, ...]."""
        self.require(name)
        if not self.structures:
            return np.zeros((0,))
        return np.concatenate([a.arrays[name] for a in self.structures])

    def energies(self, key: str = keys.REF_energy) -> np.ndarray:
        """Total energies, eV, shape [n_structures]."""
        return self.info(key).astype(float)

    def forces(self, key: str = keys.REF_forces) -> np.ndarray:
        """Forces, eV/A, shape [sum n_atoms, 3]."""
        return self.per_atom(key).astype(float)

    def n_atoms(self) -> np.ndarray:
        """Atom count per structure, shape [n_structures]."""
        return np.array([len(a) for a in self.structures], dtype=int)

    def structure_index(self) -> np.ndarray:
        """For each atom of :meth:`per_atom` arrays, the index of its structure: [sum n_atoms]."""
        return np.repeat(np.arange(len(self)), self.n_atoms())

    def fingerprint(self) -> str:
        """SHA-256 over species, positions, cells and every ``REF_`` label: identifies the data for caching."""
        h = hashlib.sha256()
        for a in self.structures:
            for arr in (a.numbers, a.positions, a.cell.array, a.pbc):
                h.update(np.ascontiguousarray(arr).tobytes())
            for k in sorted(k for k in a.info if k.startswith(keys.REF_PREFIX)):
                h.update(k.encode() + np.asarray(a.info[k], dtype=float).tobytes())
            for k in sorted(k for k in a.arrays if k.startswith(keys.REF_PREFIX)):
                h.update(k.encode() + np.ascontiguousarray(a.arrays[k], dtype=float).tobytes())
        return h.hexdigest()

    # -- files ----------------------------------------------------------------------------------
    def write(self, path: str | os.PathLike) -> None:
        """Write as extended XYZ, atomically (a temporary file renamed into place)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.close(fd)
        try:
            clean = [_without_calculator(a) for a in self.structures]
            write(tmp, clean, format="extxyz")
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def read(cls, path: str | os.PathLike, require: Sequence[str] = ()) -> Dataset:
        """Read an extended XYZ file; ``require`` names labels every structure must carry.

        Raises
        ------
        DataFileError
            When the file is missing, unreadable or truncated, or a required label is absent.
        """
        path = Path(path)
        if not path.is_file():
            raise DataFileError(f"data file {str(path)!r} does not exist")
        try:
            frames = read(path, index=":", format="extxyz")
        except Exception as err:  # ASE raises several types for malformed files
            raise DataFileError(f"data file {str(path)!r} is not valid extended XYZ ({err})") from err
        ds = cls(frames)
        try:
            ds.require(*require)
        except DataFileError as err:
            raise DataFileError(f"data file {str(path)!r}: {err}") from None
        return ds


def _without_calculator(atoms: Atoms) -> Atoms:
    # A SinglePointCalculator would be written under the bare keys 'energy'/'forces', which readers
    # then confuse with predictions; the REF_ labels are the data.
    copy = atoms.copy()
    copy.calc = None
    return copy
