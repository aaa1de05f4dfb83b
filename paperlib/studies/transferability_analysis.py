"""Analysis of the transferability study (:mod:`paperlib.studies.transferability`): fixed-set errors with the
intra/inter-molecular force split, the MD table and its score, transfer matrices, density traces and RDFs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from ase import Atoms

from paperlib.analysis.metrics import molecular_force_split
from paperlib.data.dataset import Dataset
from paperlib.models.base import Potential
from paperlib.models.registry import SavedModel
from paperlib.sampling.liquids import MOL_ID
from paperlib.studies.transferability_claims import ALGORITHM_LABELS, ORIGIN_LABELS, ORIGINS

MD_FRAMES, MD_SUMMARY, OWN = "trajectory.xyz", "md.json", "own.xyz"
"""Files of an MD run's cache entry: NVT snapshots, summary, relabelled own-trajectory clusters."""


# -- what the study computes (the records the analysis reads) ----------------------------------------
@dataclasses.dataclass
class Fitted:
    """A trained model's cache entry: the saved model directory, fit time (s) and test-set predictions."""

    algorithm: str
    origin: str
    directory: Path
    fit_s: float
    predictions: dict

    def model(self) -> Potential:
        """The trained model."""
        return self.saved().load()

    def saved(self) -> SavedModel:
        """The trained model as saved in its cache entry."""
        return SavedModel(self.algorithm, self.directory)


@dataclasses.dataclass
class MDRun:
    """A model's MD of one liquid: NVT snapshots (periodic, with ``mol_id``; the packed start first) and their
    times, the failure (time and reason, ``None`` when it ran to the end), the densities of the NPT
    continuation of a complete run, and the relabelled own-trajectory clusters (cut from :attr:`model_frames`)
    with the model's predictions on them."""

    algorithm: str
    origin: str
    liquid: str
    frames: Dataset
    summary: dict
    own: Dataset

    @property
    def model_frames(self) -> list[Atoms]:
        """The snapshots the model generated (after the packed start), or the start alone when the run failed
        before its first snapshot."""
        return list(self.frames)[1:] or list(self.frames)[:1]

    @property
    def survived_fraction(self) -> float:
        """Fraction of the requested duration before failure (1 when the run completed)."""
        t = self.summary["time_to_failure_fs"]
        return 1.0 if t is None else min(t, self.summary["duration_fs"]) / self.summary["duration_fs"]


# -- tables -------------------------------------------------------------------------------------------


def error_rows(algorithm: str, origin: str, data: Dataset, pred: Mapping[str, list], set_name: str
               ) -> dict:
    """Errors of one model on one set: energy MAE per atom (meV/atom), also after removing the set's mean error
    (a training liquid of one stoichiometry leaves the per-element energy references undetermined, so
    molecules of another composition carry an arbitrary offset), force-component MAE (eV/A), and its
    intra- and inter-molecular parts (:func:`~paperlib.analysis.metrics.molecular_force_split` of model and
    reference forces alike, so the parts add up to the total force error)."""
    energies = np.asarray(pred["energies"])
    forces = np.asarray(pred["forces"])
    ref_f = data.forces()
    intra, inter = [], []
    start = 0
    for a in data:
        sl = slice(start, start + len(a))
        start += len(a)
        ids = a.arrays[MOL_ID] if MOL_ID in a.arrays else np.zeros(len(a), int)
        # periodic boxes are split with molecules made whole, so the rigid-body parts are well defined
        pos = _whole_positions(a)
        di, de = molecular_force_split(forces[sl] - ref_f[sl], pos, a.get_masses(), ids)
        intra.append(di)
        inter.append(de)
    err = (energies - data.energies()) / data.n_atoms()
    return {"algorithm": algorithm, "origin": origin, "set": set_name,
            "energy MAE (meV/atom)": 1000 * float(np.mean(np.abs(err))),
            "energy MAE, offset removed (meV/atom)": 1000 * float(np.mean(np.abs(err - err.mean()))),
            "force MAE (eV/Å)": float(np.mean(np.abs(forces - ref_f))),
            "intra-molecular force MAE (eV/Å)": float(np.mean(np.abs(np.concatenate(intra)))),
            "inter-molecular force MAE (eV/Å)": float(np.mean(np.abs(np.concatenate(inter))))}


def _whole_positions(atoms: Atoms) -> np.ndarray:
    from paperlib.sampling.liquids import whole_molecules

    return whole_molecules(atoms) if atoms.pbc.any() and MOL_ID in atoms.arrays else atoms.positions


def fixed_errors(fits: Sequence[Fitted], evaluate: Mapping[str, Dataset]) -> pd.DataFrame:
    """One row per model and fixed evaluation set (see :func:`error_rows`)."""
    return pd.DataFrame([error_rows(f.algorithm, f.origin, evaluate[k], pred, k)
                         for f in fits for k, pred in f.predictions.items()])


def configuration_errors(fits: Sequence[Fitted], evaluate: Mapping[str, Dataset], set_name: str = "test"
                         ) -> pd.DataFrame:
    """One row per model and configuration of the fixed set ``set_name``: the configuration's index, its
    force-component MAE (eV/A) and number of force components. Every model sees the same configurations, so
    the rows pair models configuration by configuration; the component-weighted mean of a model's rows is its
    force MAE of :func:`error_rows`."""
    data = evaluate[set_name]
    ref_f = data.forces()
    owner = data.structure_index()
    rows = []
    for f in fits:
        if set_name not in f.predictions:
            continue
        err = np.abs(np.asarray(f.predictions[set_name]["forces"]) - ref_f)
        for k in range(len(data)):
            e = err[owner == k]
            rows.append({"algorithm": f.algorithm, "origin": f.origin, "set": set_name, "configuration": k,
                         "force MAE (eV/Å)": float(e.mean()), "force components": int(e.size)})
    return pd.DataFrame(rows, columns=["algorithm", "origin", "set", "configuration", "force MAE (eV/Å)",
                                       "force components"])


def md_table(runs: Sequence[MDRun], liquids: Mapping[str, float], force_scale_eV_A: float) -> pd.DataFrame:
    """One row per MD run: NVT survival and failure, the NPT density (mean of the second half of the NPT
    continuation, relative to the experimental density ``liquids[name]``; NaN when the NVT run failed) and
    any NPT failure, errors on the model's own relabelled snapshots and the score (:func:`score`)."""
    rows = []
    for r in runs:
        dens = np.asarray(r.summary["npt_density_g_cm3"])
        e = np.asarray(r.summary["own"]["energies"])
        f = np.asarray(r.summary["own"]["forces"])
        own_f = float(np.mean(np.abs(f - r.own.forces())))
        rows.append({"algorithm": r.algorithm, "origin": r.origin, "liquid": r.liquid,
                     "duration (fs)": r.summary["duration_fs"], "survived fraction": r.survived_fraction,
                     "time to failure (fs)": r.summary["time_to_failure_fs"],
                     "failure": r.summary["failure"] or "",
                     "NPT density / experiment": (float(dens[len(dens) // 2:].mean() / liquids[r.liquid])
                                                  if len(dens) else np.nan),
                     "NPT failure": r.summary["npt_failure"] or "",
                     "own-trajectory energy MAE (meV/atom)": 1000 * float(np.mean(
                         np.abs(e - r.own.energies()) / r.own.n_atoms())),
                     "own-trajectory force MAE (eV/Å)": own_f,
                     "score": score(r.survived_fraction, own_f, force_scale_eV_A)})
    return pd.DataFrame(rows)


def score(survived_fraction: float, own_force_mae_eV_A: float, force_scale_eV_A: float) -> float:
    """The MD score, between 0 and 1: ``survived_fraction / (1 + own_force_mae / force_scale)``.

    A model is only as good as the MD it drives: a run that breaks early scores at most the fraction it
    survived, however small its test errors; a run that survives is then judged by its force error on the
    configurations it visited itself (relabelled by the reference), which fixed test sets never probe.
    ``force_scale_eV_A`` sets the force error that halves the score."""
    return float(survived_fraction / (1.0 + own_force_mae_eV_A / force_scale_eV_A))


def labelled(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``table`` with its ``origin`` and ``algorithm`` columns in words (:data:`ORIGIN_LABELS`,
    :data:`ALGORITHM_LABELS`; other values, such as the foundation model's, unchanged)."""
    return table.assign(origin=table["origin"].map(lambda o: ORIGIN_LABELS.get(o, o)),
                        algorithm=table["algorithm"].map(lambda a: ALGORITHM_LABELS.get(a, a)))


def transfer_matrix(table: pd.DataFrame, value: str) -> pd.DataFrame:
    """Training-set origin x algorithm for one column of :func:`md_table` or :func:`test_errors` (rows in
    :data:`ORIGINS` order, labelled by :data:`ORIGIN_LABELS`)."""
    m = table.pivot_table(index="origin", columns="algorithm", values=value, aggfunc="mean")
    m = m.reindex([o for o in ORIGINS if o in m.index])
    m.index = [ORIGIN_LABELS[o] for o in m.index]
    m.columns = [ALGORITHM_LABELS.get(c, c) for c in m.columns]
    return m


def rdf_curves(runs: Sequence[MDRun], pairs: Sequence[tuple[str, str]], r_max_A: float, n_bins: int = 60
               ) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Intermolecular partial RDFs of every run's snapshots after the start: ``{"algorithm / origin":
    {"A-B": (r in A, g)}}``. Pairs within one molecule are left out, so the curves show packing, not bonds;
    runs that failed before their first snapshot are skipped."""
    from paperlib.analysis.rdf import partial_rdf

    out = {}
    for r in runs:
        if len(r.frames) < 2:
            continue
        out[f"{ALGORITHM_LABELS.get(r.algorithm, r.algorithm)} / {ORIGIN_LABELS.get(r.origin, r.origin)}"] = {
            f"{a}-{b}": partial_rdf(list(r.frames)[1:], a, b, r_max_A, n_bins, exclude_same=MOL_ID)
            for a, b in pairs}
    return out


def density_traces(runs: Sequence[MDRun], liquids: Mapping[str, float]) -> pd.DataFrame:
    """Density relative to experiment at every snapshot of every NPT continuation: columns model, liquid,
    time (fs, from the start of the NPT run), density / experiment."""
    rows = []
    for r in runs:
        step = r.summary["npt_sample_fs"]
        for k, d in enumerate(r.summary["npt_density_g_cm3"]):
            rows.append({"model": f"{ALGORITHM_LABELS.get(r.algorithm, r.algorithm)} / "
                                  f"{ORIGIN_LABELS.get(r.origin, r.origin)}",
                         "liquid": r.liquid, "time (fs)": (k + 1) * step, "density / experiment": d / liquids[r.liquid]})
    return pd.DataFrame(rows, columns=["model", "liquid", "time (fs)", "density / experiment"])
