"""Shared machinery of backends trained by an external program into a model directory and evaluated by
their package's own ASE calculator (GAP via quippy, MACE via mace-torch, Deep Potential via DeePMD-kit).

A subclass sets ``config_type`` and implements ``fit`` (which ends with :meth:`ExternalPotential._adopt` on the
model directory) and ``_make_calculator``; it may override ``_prepare`` to adapt a structure before
evaluation.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import sys
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes

from paperlib.models.base import Predictions


def find_executable(name: str, package: str) -> str:
    """Path of the command ``name`` (next to the running Python, else on ``PATH``).

    Raises
    ------
    FileNotFoundError
        Naming the package that provides it.
    """
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} not found: install {package}")
    return found


class ExternalPotential:
    """Base of the directory-backed backends; implements everything of
    :class:`~paperlib.models.base.Potential` except ``fit``."""

    config_type: ClassVar[type]
    name = "external"
    computes_stress: ClassVar[bool] = True
    """Its ASE calculator gives the stress of periodic cells (NPT MD)."""

    def __init__(self, config: Any, name: str):
        self.config = config
        self.name = name
        self._dir: Path | None = None
        self._calc: Calculator | None = None

    def _adopt(self, directory: Path, temporary: bool = False) -> None:
        """Use the trained model in ``directory`` from now on; a ``temporary`` directory (one this object made)
        is removed when the object is garbage-collected (:meth:`save` copies what should outlive it)."""
        self._dir = Path(directory)
        self._calc = None
        if temporary:
            weakref.finalize(self, shutil.rmtree, self._dir, ignore_errors=True)

    def _make_calculator(self, directory: Path) -> Calculator:
        raise NotImplementedError

    def _computing(self) -> contextlib.AbstractContextManager:
        """The context every evaluation of the package's calculator runs in (none by default)."""
        return contextlib.nullcontext()

    def _prepare(self, atoms: Atoms) -> Atoms:
        """The structure the package's calculator evaluates (a copy; ``atoms`` itself is never modified)."""
        return atoms.copy()

    def _package_calculator(self) -> Calculator:
        if self._dir is None:
            raise RuntimeError(f"{self.name}: not fitted or loaded")
        if self._calc is None:
            self._calc = self._make_calculator(self._dir)
        return self._calc

    def _evaluated(self, atoms: Atoms) -> Atoms:
        """The prepared copy of ``atoms`` with the package's calculator attached."""
        work = self._prepare(atoms)
        work.calc = self._package_calculator()
        return work

    def predict(self, structures: Sequence[Atoms]) -> Predictions:
        """Energies (eV) and forces (eV/A), one structure after the other through the package's calculator."""
        energies, forces = [], []
        with self._computing():
            for atoms in structures:
                work = self._evaluated(atoms)
                energies.append(work.get_potential_energy())
                forces.append(np.array(work.get_forces(), dtype=float))
        return Predictions(np.array(energies, dtype=float), np.concatenate(forces) if forces else np.zeros((0, 3)))

    def calculator(self) -> ExternalCalculator:
        """ASE calculator (energy, forces, and stress of periodic cells) backed by this model."""
        return ExternalCalculator(self)

    def save(self, path: str | Path) -> None:
        """Copy the model directory and write ``config.json`` into the directory ``path``."""
        if self._dir is None:
            raise RuntimeError(f"{self.name}: nothing to save, the model is not fitted")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for f in self._dir.iterdir():
            if f.is_file() and f.resolve() != (path / f.name).resolve():
                shutil.copy2(f, path / f.name)
        (path / "config.json").write_text(json.dumps({"name": self.name, **dataclasses.asdict(self.config)}))

    @classmethod
    def load(cls, path: str | Path):
        """Read a model written by :meth:`save`."""
        path = Path(path)
        raw = json.loads((path / "config.json").read_text())
        name = raw.pop("name")
        model = cls(cls.config_type(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}),
                    name=name)
        model._adopt(path)
        return model


class ExternalCalculator(Calculator):
    """ASE calculator of an :class:`ExternalPotential`: energy and forces as ``predict`` gives them, and the
    package's stress (eV/A^3, Voigt order) for periodic cells, which NPT MD needs."""

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, potential: ExternalPotential, **kwargs):
        super().__init__(**kwargs)
        self.potential = potential

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        if "stress" in properties and not self.atoms.pbc.all():
            raise PropertyNotImplementedError(f"{self.potential.name}: stress needs a periodic cell")
        work = self.potential._evaluated(self.atoms)
        with self.potential._computing():
            energy = float(work.get_potential_energy())
            self.results = {"energy": energy, "free_energy": energy,
                            "forces": np.array(work.get_forces(), dtype=float)}
            if "stress" in properties:
                self.results["stress"] = np.array(work.get_stress(), dtype=float)
