"""Error metrics of predictions against reference labels."""

from __future__ import annotations

import numpy as np

from paperlib.data.dataset import Dataset
from paperlib.models.base import Predictions


def error_stats(errors: np.ndarray) -> dict[str, float]:
    """MAE, RMSE and Max of absolute errors (same unit as ``errors``)."""
    a = np.abs(np.asarray(errors, dtype=float)).ravel()
    return {"mae": float(a.mean()), "rmse": float(np.sqrt(np.mean(a**2))), "max": float(a.max())}


def force_errors(pred: Predictions, ref: Dataset) -> dict[str, float]:
    """Force-component errors (eV/A): ``mae``, ``rmse``, ``max`` over all components of all atoms."""
    return error_stats(pred.forces - ref.forces())


def energy_errors_per_atom(pred: Predictions, ref: Dataset) -> dict[str, float]:
    """Energy errors per atom (eV/atom): ``mae``, ``rmse``, ``max``."""
    return error_stats((pred.energies - ref.energies()) / ref.n_atoms())
