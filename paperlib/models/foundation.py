"""Pretrained foundation models (SevenNet-0, CHGNet) behind the :class:`~paperlib.models.base.Potential` interface.

Both ship their weights inside their wheels and run offline, but need PyTorch/e3nn versions that MACE's pins
exclude; they are installed in a separate environment (``make setup`` builds ``.venv-foundation`` from
``requirements-foundation.txt``; ``PAPERLIB_FOUNDATION_PYTHON`` names another interpreter). A potential starts one
worker process of that environment (:mod:`paperlib.models.foundation_worker`) on first use and exchanges one JSON
line per structure with it. Structures without a cell are evaluated in a periodic box with more vacuum than
either model's cut-off, so that no periodic image is a neighbour.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

from paperlib.data.dataset import Dataset
from paperlib.models.base import FitReport, Predictions, Targets

MODELS = ("sevennet", "chgnet")
"""The pretrained models this module serves."""
VACUUM_A = 8.0
"""Vacuum on each side of a structure without a cell: more than the cut-off of either model (5 and 6 A)."""
ENVIRONMENT = Path(__file__).resolve().parents[2] / ".venv-foundation"


def environment_token() -> str:
    """SHA-256 of ``requirements-foundation.txt`` (the pinned packages that serve the models), or ``""`` where
    the file is not beside the package."""
    import hashlib

    pinned = ENVIRONMENT.parent / "requirements-foundation.txt"
    return hashlib.sha256(pinned.read_bytes()).hexdigest() if pinned.exists() else ""


def foundation_python() -> Path:
    """The Python of the foundation environment: ``PAPERLIB_FOUNDATION_PYTHON`` or ``.venv-foundation``; raises
    FileNotFoundError saying how to create it."""
    path = Path(os.environ.get("PAPERLIB_FOUNDATION_PYTHON", ENVIRONMENT / "bin" / "python"))
    if not path.exists():
        raise FileNotFoundError(f"foundation models need the environment {str(path)!r}: run `make setup` (it installs "
                                "requirements-foundation.txt there) or set PAPERLIB_FOUNDATION_PYTHON")
    return path


def periodic(atoms: Atoms) -> Atoms:
    """``atoms`` as the models take it: unchanged when periodic in all directions, else in a periodic box with
    :data:`VACUUM_A` of vacuum on every side."""
    out = atoms.copy()
    out.calc = None
    if atoms.pbc.all():
        return out
    out.set_cell(np.diag(np.ptp(atoms.positions, axis=0) + 2 * VACUUM_A))
    out.center()
    out.pbc = True
    return out


class _Worker:
    """One worker process serving one model."""

    def __init__(self, model: str):
        # The worker's own messages (library banners, a traceback) go to a file that an error quotes.
        self.log = tempfile.TemporaryFile(mode="w+")
        # Not this environment's Python settings: a notebook kernel's MPLBACKEND (matplotlib_inline) or PYTHONPATH
        # would break the other environment's imports (pymatgen imports matplotlib).
        env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "PYTHONPATH", "PYTHONHOME")}
        self.proc = subprocess.Popen([str(foundation_python()), str(Path(__file__).with_name("foundation_worker.py")),
                                      model], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                     text=True, bufsize=1, env={**env, "MPLBACKEND": "Agg"})
        self.version = self._read()["ready"]

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=30)
            self.log.seek(0)
            raise RuntimeError(f"the foundation worker stopped (exit {self.proc.returncode}):\n"
                               + self.log.read()[-3000:])
        return json.loads(line)

    def evaluate(self, atoms: Atoms) -> dict:
        """Energy (eV), forces (eV/A) and, for periodic cells, the stress (eV/A^3) of ``atoms``."""
        self.proc.stdin.write(json.dumps({"numbers": atoms.numbers.tolist(), "positions": atoms.positions.tolist(),
                                          "cell": atoms.cell.array.tolist(), "pbc": atoms.pbc.tolist()}) + "\n")
        return self._read()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        self.log.close()


@dataclasses.dataclass(frozen=True)
class FoundationConfig:
    """Which pretrained model: ``sevennet`` (SevenNet-0) or ``chgnet``."""

    model: str = "sevennet"

    def __post_init__(self):
        if self.model not in MODELS:
            raise ValueError(f"FoundationConfig.model: got {self.model!r}; allowed: one of {', '.join(MODELS)}")


class FoundationCalculator(Calculator):
    """ASE calculator of a foundation model: energy, forces and (periodic cells) stress."""

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, potential: FoundationPotential, **kwargs):
        super().__init__(**kwargs)
        self.potential = potential

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        out = self.potential.evaluate(self.atoms)
        self.results = {"energy": out["energy"], "free_energy": out["energy"],
                        "forces": np.asarray(out["forces"], float)}
        if "stress" in out:
            self.results["stress"] = np.asarray(out["stress"], float)


class FoundationPotential:
    """A pretrained foundation model (not trainable here); implements :class:`~paperlib.models.base.Potential`."""

    computes_stress = True

    def __init__(self, config: FoundationConfig = FoundationConfig(), name: str | None = None):
        self.config = config
        self.name = name or config.model
        self._worker: _Worker | None = None

    @property
    def version(self) -> str:
        """The package (and model) version the worker serves."""
        return self._started().version

    def _started(self) -> _Worker:
        if self._worker is None:
            self._worker = _Worker(self.config.model)
        return self._worker

    def evaluate(self, atoms: Atoms) -> dict:
        """Energy, forces and (periodic cells) stress of ``atoms`` (see :func:`periodic`)."""
        return self._started().evaluate(periodic(atoms))

    def fit(self, train: Dataset, valid: Dataset | None = None, *, targets: Targets = Targets(1.0, 1.0)
            ) -> FitReport:
        """Not available: a foundation model is used as published."""
        raise NotImplementedError(f"{self.name} is pretrained; it is evaluated, not trained, here")

    def predict(self, structures: Sequence[Atoms]) -> Predictions:
        """Energies (eV) and forces (eV/A) of ``structures`` (not modified)."""
        results = [self.evaluate(a) for a in structures]
        if not results:
            return Predictions(np.zeros(0), np.zeros((0, 3)))
        return Predictions(np.array([r["energy"] for r in results]),
                           np.concatenate([np.asarray(r["forces"], float) for r in results]))

    def calculator(self) -> FoundationCalculator:
        """An ASE calculator backed by this model."""
        return FoundationCalculator(self)

    def save(self, path: str | Path) -> None:
        """Write ``config.json`` (the model and the package version that serves it) into the directory ``path``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / "config.json").write_text(json.dumps({"name": self.name, "model": self.config.model,
                                                      "version": self.version}))

    @classmethod
    def load(cls, path: str | Path) -> FoundationPotential:
        """The model described by :meth:`save`'s ``config.json``."""
        raw = json.loads((Path(path) / "config.json").read_text())
        return cls(FoundationConfig(raw["model"]), name=raw["name"])

    def close(self) -> None:
        """Stop the worker process (started again on the next use)."""
        if self._worker is not None:
            self._worker.close()
            self._worker = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown may have torn down subprocess already
            pass
