"""The model interface shared by every backend, and the ASE calculator built on it.

Any data set can be paired with any model: a backend implements :class:`Potential` (``fit``, ``predict``,
``calculator``, ``save``) and passes the shared test mixin in ``tests/models/mixin.py``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

from paperlib.data.dataset import Dataset


@dataclasses.dataclass(frozen=True)
class Targets:
    """Which labels train a model and with what loss weights (weights need not sum to 1)."""

    energy: float = 1.0
    forces: float = 0.0
    hessian: float = 0.0

    def __post_init__(self):
        for name in ("energy", "forces", "hessian"):
            w = getattr(self, name)
            if w < 0:
                raise ValueError(f"Targets.{name}: got {w}; allowed: a weight >= 0")
        if self.energy == self.forces == self.hessian == 0:
            raise ValueError("Targets: at least one of energy, forces, hessian needs a positive weight")

    @property
    def labels(self) -> tuple[str, ...]:
        """Names of the labels with positive weight."""
        return tuple(n for n in ("energy", "forces", "hessian") if getattr(self, n) > 0)


@dataclasses.dataclass
class FitReport:
    """What a fit did: wall time (s), epochs (or 1 for closed-form fits) and the loss history."""

    wall_time_s: float
    epochs: int = 1
    train_loss: list[float] = dataclasses.field(default_factory=list)
    valid_loss: list[float] = dataclasses.field(default_factory=list)
    notes: str = ""


@dataclasses.dataclass
class Predictions:
    """Model outputs for a list of structures: energies [n] (eV), forces [sum n_atoms, 3] (eV/A),
    optional Hessians (list of [3 n_atoms, 3 n_atoms] arrays, eV/A^2)."""

    energies: np.ndarray
    forces: np.ndarray
    hessians: list[np.ndarray] | None = None

    def split_forces(self, n_atoms: Sequence[int]) -> list[np.ndarray]:
        """Forces split back into one [n_atoms_i, 3] array per structure."""
        return np.split(self.forces, np.cumsum(n_atoms)[:-1])


@runtime_checkable
class Potential(Protocol):
    """A trainable interatomic potential.

    Capabilities are class flags (absent means False): ``provides_hessians`` (``predict`` takes
    ``hessians=True``), ``trains_on_hessians`` (``fit`` accepts Hessian targets) and ``computes_stress`` (its
    calculator gives the stress of periodic cells). :func:`paperlib.models.registry.capabilities` reads them.
    """

    name: str

    def fit(self, train: Dataset, valid: Dataset | None = None, *, targets: Targets) -> FitReport:
        """Train on ``train`` (labels under the ``REF_`` keys); ``valid`` may steer early stopping."""

    def predict(self, structures: Sequence[Atoms]) -> Predictions:
        """Energies and forces of ``structures``; must not modify them."""

    def calculator(self) -> Calculator:
        """An ASE calculator backed by this model (for MD, NEB, vibrations)."""

    def save(self, path: str | Path) -> None:
        """Write the trained model into the directory ``path``."""


class PotentialCalculator(Calculator):
    """ASE calculator that evaluates a :class:`Potential` through its ``predict`` method.

    Potentials with ``provides_hessians = True`` (whose ``predict`` takes ``hessians=True``) also give the
    ``hessian`` property, [3n, 3n] in eV/A^2: ``calc.get_property("hessian", atoms)``.
    """

    implemented_properties = ["energy", "free_energy", "forces"]

    def __init__(self, potential: Potential, **kwargs):
        super().__init__(**kwargs)
        self.potential = potential
        if getattr(potential, "provides_hessians", False):
            self.implemented_properties = [*type(self).implemented_properties, "hessian"]

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        if "hessian" in properties:
            pred = self.potential.predict([self.atoms], hessians=True)
        else:
            pred = self.potential.predict([self.atoms])
        energy = float(pred.energies[0])
        self.results = {"energy": energy, "free_energy": energy, "forces": np.asarray(pred.forces, dtype=float)}
        if pred.hessians:
            self.results["hessian"] = pred.hessians[0]
