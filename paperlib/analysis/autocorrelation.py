"""How far apart in time the frames of a set of MD runs are correlated.

The integrated autocorrelation time tau of an observable sampled every ``stride`` (1 for independent samples,
larger when neighbouring samples repeat each other) is estimated with emcee's estimator
(:func:`emcee.autocorr.integrated_time`: the autocorrelation function averaged over the runs, summed up to
Sokal's automatic window). The effective number of independent frames of a run is its length over tau.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from paperlib import keys
from paperlib.data.dataset import Dataset


def integrated_times(series: np.ndarray) -> np.ndarray:
    """Integrated autocorrelation time, in samples, of each observable of ``series`` [n_samples, n_runs,
    n_observables] (every run sampled at the same interval; the autocorrelation is averaged over runs)."""
    from emcee.autocorr import integrated_time

    series = np.asarray(series, dtype=float)
    if series.ndim != 3 or series.shape[0] < 4:
        raise ValueError(f"integrated_times: need [n_samples >= 4, n_runs, n_observables]; got {series.shape}")
    with warnings.catch_warnings():
        # emcee warns when a run is shorter than 50 tau; the estimate is still the right one to report.
        warnings.simplefilter("ignore")
        return np.asarray(integrated_time(series, c=5, tol=0, quiet=True), dtype=float)


def lag_one_autocorrelation(series: np.ndarray) -> np.ndarray:
    """Autocorrelation at a lag of one sample of each observable of ``series`` [n_samples, n_runs,
    n_observables], each run centred on its own mean and the products pooled over runs."""
    x = np.asarray(series, dtype=float)
    x = x - x.mean(axis=0, keepdims=True)
    var = (x * x).sum(axis=(0, 1))
    return np.where(var > 0, (x[1:] * x[:-1]).sum(axis=(0, 1)) / np.where(var > 0, var, 1.0), np.nan)


def md_observables(frames: Dataset) -> tuple[np.ndarray, list[str]]:
    """The potential energy and every interatomic distance of frames of one molecule from several runs, as
    [frames per run, runs, observables] (runs by ``info['trajectory']``, each in time order and cut to the
    shortest run), and the observables' names."""
    runs = np.asarray(frames.info(keys.TRAJECTORY))
    ids = sorted(set(runs.tolist()))
    length = min(int(np.sum(runs == i)) for i in ids)
    symbols = frames[0].get_chemical_symbols()
    iu = np.triu_indices(len(symbols), 1)
    names = ["potential energy"] + [f"r({symbols[i]}{i}-{symbols[j]}{j})" for i, j in zip(*iu)]
    energies = frames.energies()
    out = np.empty((length, len(ids), len(names)))
    for c, run in enumerate(ids):
        idx = np.flatnonzero(runs == run)
        idx = idx[np.argsort([frames[int(k)].info.get(keys.TIME_FS, k) for k in idx], kind="stable")][:length]
        for r, k in enumerate(idx):
            a = frames[int(k)]
            out[r, c, 0] = energies[k]
            out[r, c, 1:] = a.get_all_distances()[iu]
    return out, names


def autocorrelation_table(frames: Dataset, stride_fs: float) -> pd.DataFrame:
    """For frames ``stride_fs`` apart in several runs: the integrated autocorrelation time (frames and fs), the
    lag-one autocorrelation and the effective number of independent frames (all frames / max(tau, 1)) of the
    potential energy and of the slowest interatomic distance. Within-run only: it cannot tell whether runs
    started from one structure are independent of each other."""
    series, names = md_observables(frames)
    tau, rho = integrated_times(series), lag_one_autocorrelation(series)
    slow = 1 + int(np.nanargmax(tau[1:]))
    rows = [(f"{names[i]}{' (slowest distance)' if i == slow else ''}", tau[i], rho[i]) for i in (0, slow)]
    n_frames = series.shape[0] * series.shape[1]
    return pd.DataFrame({"observable": [r[0] for r in rows], "tau_frames": [float(r[1]) for r in rows],
                         "tau_fs": [float(r[1]) * stride_fs for r in rows],
                         "lag_one_autocorrelation": [float(r[2]) for r in rows],
                         "runs": series.shape[1], "frames_per_run": series.shape[0],
                         "effective_frames": [n_frames / max(float(r[1]), 1.0) for r in rows]})
