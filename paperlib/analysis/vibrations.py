"""Comparison of harmonic vibrational frequencies (wavenumbers in cm^-1, imaginary ones negative)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd


def frequency_mae(reference_cm: np.ndarray, model_cm: np.ndarray) -> float:
    """Mean absolute difference (cm^-1) of two sets of wavenumbers, each sorted, matched from the highest down.

    Matching from the top keeps stretches with stretches when one set has a mode fewer (a linear molecule
    has 3n-5 vibrations, the same molecule slightly bent 3n-6).
    """
    a = np.sort(np.asarray(reference_cm, dtype=float))[::-1]
    b = np.sort(np.asarray(model_cm, dtype=float))[::-1]
    m = min(len(a), len(b))
    if m == 0:
        raise ValueError("frequency_mae: no wavenumbers to compare")
    return float(np.mean(np.abs(a[:m] - b[:m])))


def stick_table(spectra: Mapping[str, Mapping[str, np.ndarray]]) -> pd.DataFrame:
    """Long table (system, source, wavenumber_cm) from {system: {source: wavenumbers}} for stick spectra."""
    rows = [{"system": system, "source": source, "wavenumber_cm": float(w)}
            for system, by_source in spectra.items() for source, ws in by_source.items() for w in ws]
    return pd.DataFrame(rows, columns=["system", "source", "wavenumber_cm"])
