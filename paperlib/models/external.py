"""Shared machinery of backends trained by an external program into a model directory and evaluated by
their package's own ASE calculator (GAP via quippy, MACE via mace-torch, Deep Potential via DeePMD-kit).

A subclass sets ``config_type`` and implements ``fit`` (which ends with :meth:`ExternalPotential._adopt` on the
model directory) and ``_make_calculator``; it may override ``_prepare`` to adapt a structure before
evaluation.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator

from paperlib.models.base import PotentialCalculator, Predictions


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

    def __init__(self, config: Any, name: str):
        self.config = config
        self.name = name
        self._dir: Path | None = None
        self._calc: Calculator | None = None

    def _adopt(self, directory: Path) -> None:
        """Use the trained model in ``directory`` from now on."""
        self._dir = Path(directory)
        self._calc = None

    def _make_calculator(self, directory: Path) -> Calculator:
        raise NotImplementedError

    def _prepare(self, atoms: Atoms) -> Atoms:
        """The structure the package's calculator evaluates (a copy; ``atoms`` itself is never modified)."""
        return atoms.copy()

    def _package_calculator(self) -> Calculator:
        if self._dir is None:
            raise RuntimeError(f"{self.name}: not fitted or loaded")
        if self._calc is None:
            self._calc = self._make_calculator(self._dir)
        return self._calc

    def predict(self, structures: Sequence[Atoms]) -> Predictions:
        """Energies (eV) and forces (eV/A), one structure after the other through the package's calculator."""
        calc = self._package_calculator()
        energies, forces = [], []
        for atoms in structures:
            work = self._prepare(atoms)
            work.calc = calc
            energies.append(work.get_potential_energy())
            forces.append(np.array(work.get_forces(), dtype=float))
        return Predictions(np.array(energies, dtype=float), np.concatenate(forces) if forces else np.zeros((0, 3)))

    def calculator(self) -> PotentialCalculator:
        """ASE calculator (energy, forces) backed by this model."""
        return PotentialCalculator(self)

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
