"""MACE (mace-torch) behind the :class:`~paperlib.models.base.Potential` interface.

Training runs mace-torch's own ``mace_run_train`` on extxyz files written from the data set (labels under the
``REF_`` keys), so the model is exactly what the MACE authors' pipeline produces; prediction uses mace-torch's
ASE calculator in float64.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from ase import Atoms

from paperlib import keys
from paperlib.data.dataset import Dataset
from paperlib.models.base import FitReport, PotentialCalculator, Predictions, Targets


@dataclasses.dataclass(frozen=True)
class MACEConfig:
    """Architecture and training settings passed to ``mace_run_train`` (lengths in A)."""

    hidden_irreps: str = "32x0e + 32x1o"
    r_max_A: float = 5.0
    num_interactions: int = 2
    max_L: int = 1
    correlation: int = 3
    max_epochs: int = 100
    batch_size: int = 8
    learning_rate: float = 0.01
    seed: int = 0
    device: str = "cpu"
    valid_fraction: float = 0.1

    def __post_init__(self):
        if self.max_epochs < 1 or self.batch_size < 1:
            raise ValueError(f"MACEConfig: max_epochs and batch_size must be >= 1; got {self.max_epochs}, "
                             f"{self.batch_size}")
        if not 0 < self.valid_fraction < 1:
            raise ValueError(f"MACEConfig.valid_fraction: got {self.valid_fraction}; allowed: 0 < value < 1")


def _executable() -> str:
    local = Path(sys.executable).parent / "mace_run_train"
    found = str(local) if local.exists() else shutil.which("mace_run_train")
    if not found:
        raise FileNotFoundError("mace_run_train not found: install mace-torch")
    return found


class MACEPotential:
    """A MACE model trained by ``mace_run_train``; implements :class:`~paperlib.models.base.Potential`."""

    name = "mace"

    def __init__(self, config: MACEConfig = MACEConfig(), name: str = "mace"):
        self.config = config
        self.name = name
        self._dir: Path | None = None
        self._calc = None

    def fit(self, train: Dataset, valid: Dataset | None = None, *, targets: Targets = Targets(1.0, 100.0)
            ) -> FitReport:
        """Train with the energy and force weights of ``targets``; ``valid`` (else a ``valid_fraction`` of
        ``train``) picks the best epoch."""
        if targets.hessian > 0:
            raise ValueError("MACEPotential.fit: Hessian targets are not supported by this backend")
        train.require(keys.REF_energy, keys.REF_forces)
        c = self.config
        work = Path(tempfile.mkdtemp(prefix="paperlib-mace-"))
        train.write(work / "train.xyz")
        args = [_executable(), "--name", "model", "--train_file", "train.xyz",
                "--energy_key", keys.REF_energy, "--forces_key", keys.REF_forces, "--model", "MACE",
                "--hidden_irreps", c.hidden_irreps, "--r_max", str(c.r_max_A),
                "--num_interactions", str(c.num_interactions), "--max_L", str(c.max_L),
                "--correlation", str(c.correlation), "--batch_size", str(c.batch_size),
                "--valid_batch_size", str(c.batch_size), "--max_num_epochs", str(c.max_epochs), "--lr",
                str(c.learning_rate), "--energy_weight", str(targets.energy), "--forces_weight", str(targets.forces),
                "--E0s", "average", "--device", c.device, "--default_dtype", "float64", "--seed", str(c.seed),
                "--num_workers", "0", "--save_cpu", "--results_dir", "results", "--checkpoints_dir", "checkpoints",
                "--model_dir", "out", "--log_dir", "logs"]
        if valid is not None and len(valid):
            valid.require(keys.REF_energy, keys.REF_forces)
            valid.write(work / "valid.xyz")
            args += ["--valid_file", "valid.xyz"]
        else:
            args += ["--valid_fraction", str(c.valid_fraction)]
        start = time.perf_counter()
        proc = subprocess.run(args, cwd=work, capture_output=True, text=True)
        model = work / "out" / "model.model"
        if proc.returncode != 0 or not model.exists():
            raise RuntimeError(f"mace_run_train failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}"
                               f"{proc.stderr[-2000:]}")
        final = Path(tempfile.mkdtemp(prefix="paperlib-mace-model-"))
        shutil.copy2(model, final / "model.model")
        (final / "train.log").write_text(proc.stdout[-20000:] + proc.stderr[-20000:])
        shutil.rmtree(work, ignore_errors=True)
        self._adopt(final)
        return FitReport(wall_time_s=time.perf_counter() - start, epochs=c.max_epochs)

    def _adopt(self, directory: Path) -> None:
        self._dir = directory
        self._calc = None

    def _mace(self):
        if self._dir is None:
            raise RuntimeError(f"{self.name}: not fitted or loaded")
        if self._calc is None:
            from mace.calculators import MACECalculator

            self._calc = MACECalculator(model_paths=str(self._dir / "model.model"), device=self.config.device,
                                        default_dtype="float64")
        return self._calc

    def predict(self, structures: Sequence[Atoms]) -> Predictions:
        """Energies (eV) and forces (eV/A) from mace-torch's calculator; ``structures`` are not modified."""
        calc = self._mace()
        energies, forces = [], []
        for atoms in structures:
            work = atoms.copy()
            work.calc = calc
            energies.append(work.get_potential_energy())
            forces.append(np.array(work.get_forces(), dtype=float))
        return Predictions(np.array(energies, dtype=float), np.concatenate(forces) if forces else np.zeros((0, 3)))

    def calculator(self) -> PotentialCalculator:
        """ASE calculator (energy, forces) backed by this model."""
        return PotentialCalculator(self)

    def save(self, path: str | Path) -> None:
        """Copy ``model.model`` (mace-torch's file) and its training log, plus ``config.json``, into ``path``."""
        if self._dir is None:
            raise RuntimeError(f"{self.name}: nothing to save, the model is not fitted")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for f in self._dir.iterdir():
            shutil.copy2(f, path / f.name)
        (path / "config.json").write_text(json.dumps({"name": self.name, **dataclasses.asdict(self.config)}))

    @classmethod
    def load(cls, path: str | Path) -> MACEPotential:
        """Read a model written by :meth:`save`."""
        path = Path(path)
        raw = json.loads((path / "config.json").read_text())
        name = raw.pop("name")
        model = cls(MACEConfig(**raw), name=name)
        model._adopt(path)
        return model
