"""sGDML (symmetric gradient-domain machine learning, the ``sgdml`` package) behind the
:class:`~paperlib.models.base.Potential` interface.

sGDML learns one molecule's force field as a Gaussian process on inverse interatomic distances, with the
molecule's permutational symmetries found from the training data. Every structure must be that molecule
with the atoms in the training order. The kernel length scale ``sigma`` is chosen from a grid by the force
error on the validation set.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from ase import Atoms

from paperlib import keys
from paperlib.data.dataset import Dataset
from paperlib.models.base import FitReport, PotentialCalculator, Predictions, Targets


@dataclasses.dataclass(frozen=True)
class SGDMLConfig:
    """Kernel length scales tried (``sigmas``, in sGDML's inverse-distance descriptor units), the
    regularisation ``lam`` and whether to include the molecule's permutational symmetries (sGDML) or not
    (GDML)."""

    sigmas: tuple[int, ...] = (20, 40, 80)
    lam: float = 1e-10
    use_sym: bool = True

    def __post_init__(self):
        if not self.sigmas or any(s <= 0 for s in self.sigmas):
            raise ValueError(f"SGDMLConfig.sigmas: got {self.sigmas}; allowed: a non-empty tuple of positive integers")


def _import_sgdml() -> None:
    """Import sgdml, then undo its global side effect: importing it makes every logger created afterwards, by
    any library, a logger with its own handler on the stderr of that moment."""
    for module in ("sgdml", "sgdml.predict", "sgdml.train"):
        importlib.import_module(module)
    logging.setLoggerClass(logging.Logger)
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("sgdml"):
            logging.getLogger(name).setLevel(logging.ERROR)


def _sgdml_dataset(data: Dataset, name: str) -> dict:
    """An sGDML dataset dict (eV and Angstrom) from a labelled data set of one molecule."""
    _import_sgdml()
    from sgdml.utils import io

    numbers = data[0].numbers
    if any(not np.array_equal(a.numbers, numbers) for a in data):
        raise ValueError("sGDML: every structure must be the same molecule with the same atom order")
    # sGDML reads its string fields as numpy arrays (as stored in its .npz files).
    d = {k: np.array(v) for k, v in {"type": "d", "name": name, "theory": "GFN2-xTB", "r_unit": "Ang",
                                      "e_unit": "eV"}.items()}
    d |= {"z": np.asarray(numbers, dtype=int), "R": np.stack([a.positions for a in data]),
         "E": data.energies().astype(float), "F": np.stack([a.arrays[keys.REF_forces] for a in data])}
    d["md5"] = io.dataset_md5(d)
    return d


class SGDMLPotential:
    """An sGDML model fitted with ``sgdml``'s ``GDMLTrain``; implements :class:`~paperlib.models.base.Potential`."""

    name = "sgdml"

    def __init__(self, config: SGDMLConfig = SGDMLConfig(), name: str = "sgdml"):
        self.config = config
        self.name = name
        self.model: dict | None = None
        self._predictor = None

    def fit(self, train: Dataset, valid: Dataset | None = None, *, targets: Targets = Targets(1.0, 1.0)
            ) -> FitReport:
        """Fit on forces and energies (sGDML always trains on forces; energies fix the integration constant).

        With ``valid``, each ``sigma`` of the config is trained once and the model with the lowest force MAE
        on ``valid`` is kept; without it, the first ``sigma`` is used.
        """
        _import_sgdml()
        from sgdml.train import GDMLTrain

        if targets.hessian > 0 or targets.forces == 0:
            raise ValueError(f"SGDMLPotential.fit: targets {targets.labels}; allowed: energy and forces "
                             "(sGDML learns the force field)")
        train.require(keys.REF_energy, keys.REF_forces)
        sigmas = self.config.sigmas if valid is not None and len(valid) else self.config.sigmas[:1]
        if valid is not None and len(valid):
            valid.require(keys.REF_forces)
        start = time.perf_counter()
        d_train = _sgdml_dataset(train, self.name)
        trainer = GDMLTrain(max_processes=1)
        best, best_err, errors = None, np.inf, []
        perms = None
        for sigma in sigmas:
            task = trainer.create_task(d_train, len(train), d_train, 0, sig=int(sigma), lam=self.config.lam,
                                       use_sym=self.config.use_sym, perms=perms)
            perms = task["perms"]  # the symmetry search runs once
            self._set(trainer.train(task))
            if len(sigmas) == 1:
                best, errors = self.model, [float("nan")]
                break
            err = float(np.abs(self.predict(list(valid)).forces - valid.forces()).mean())
            errors.append(err)
            if err < best_err:
                best, best_err = self.model, err
        self._set(best)
        notes = ", ".join(f"sigma={s}: {e:.4f} eV/A" for s, e in zip(sigmas, errors))
        return FitReport(wall_time_s=time.perf_counter() - start, epochs=len(sigmas),
                         valid_loss=errors, notes=f"force MAE per sigma ({notes}); kept sigma={int(best['sig'])}")

    def _set(self, model: dict) -> None:
        _import_sgdml()
        from sgdml.predict import GDMLPredict

        self.model = model
        self._predictor = GDMLPredict(model, max_processes=1, log_level=logging.ERROR)

    def predict(self, structures: Sequence[Atoms]) -> Predictions:
        """Energies (eV) and forces (eV/A); ``structures`` are not modified."""
        if self._predictor is None:
            raise RuntimeError(f"{self.name}: not fitted or loaded")
        if not len(structures):
            return Predictions(np.zeros(0), np.zeros((0, 3)))
        numbers = self.model["z"]
        for a in structures:
            if not np.array_equal(a.numbers, numbers):
                raise ValueError(f"{self.name}: structure {a.get_chemical_formula()} is not the trained molecule "
                                 "in the trained atom order")
        r = np.stack([a.positions.ravel() for a in structures])
        energies, forces = self._predictor.predict(r)
        return Predictions(np.asarray(energies, dtype=float).reshape(-1), np.asarray(forces, dtype=float).reshape(-1, 3))

    def calculator(self) -> PotentialCalculator:
        """ASE calculator (energy, forces) backed by this model."""
        return PotentialCalculator(self)

    def save(self, path: str | Path) -> None:
        """Write ``model.npz`` (sGDML's own model file) and ``config.json`` into the directory ``path``."""
        if self.model is None:
            raise RuntimeError(f"{self.name}: nothing to save, the model is not fitted")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path / "model.npz", **self.model)
        (path / "config.json").write_text(json.dumps({"name": self.name, **dataclasses.asdict(self.config)}))

    @classmethod
    def load(cls, path: str | Path) -> SGDMLPotential:
        """Read a model written by :meth:`save`."""
        path = Path(path)
        raw = json.loads((path / "config.json").read_text())
        name = raw.pop("name")
        model = cls(SGDMLConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}), name=name)
        with np.load(path / "model.npz", allow_pickle=True) as f:
            model._set(dict(f))
        return model
