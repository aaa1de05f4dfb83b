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
from paperlib.studies.transferability_claims import ALGORITHM_LABELS, MD_SEED, ORIGIN_LABELS, ORIGINS, SEED

MD_FRAMES, MD_SUMMARY, OWN = "trajectory{}.xyz", "md.json", "own{}.xyz"
"""Files of the cache entry of a model's MD runs of one liquid: NVT snapshots and relabelled own-trajectory
clusters of the run with MD seed index k (``MD_FRAMES.format(k)``), and the summaries of every run."""
REFERENCE_MD = "reference_md"
"""The evaluation set of reference-driven MD frames (:func:`~paperlib.sampling.training_sets.reference_md_set`)
whose force error enters the score."""
DENSITY_TOL = 0.01
"""An NPT density counts as converged when the mean densities of the last two quarters of the NPT run differ by
less than this fraction of the experimental density."""


# -- what the study computes (the records the analysis reads) ----------------------------------------
@dataclasses.dataclass
class Fitted:
    """A trained model's cache entry: the saved model directory, fit time (s) and test-set predictions."""

    algorithm: str
    origin: str
    directory: Path
    fit_s: float
    predictions: dict
    seed: int = 0
    """Index of the training seed (0: the study's ``seed`` itself)."""

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
    seed: int = 0
    """Index of the training seed of the model."""
    md_seed: int = 0
    """Index of the MD seed (start box and velocities; shared by every model, so runs pair across models)."""

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
    return pd.DataFrame([{**error_rows(f.algorithm, f.origin, evaluate[k], pred, k), SEED: f.seed}
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
            rows.append({"algorithm": f.algorithm, "origin": f.origin, SEED: f.seed, "set": set_name,
                         "configuration": k, "force MAE (eV/Å)": float(e.mean()), "force components": int(e.size)})
    return pd.DataFrame(rows, columns=["algorithm", "origin", SEED, "set", "configuration", "force MAE (eV/Å)",
                                       "force components"])


def reference_force_mae(fits: Sequence[Fitted], evaluate: Mapping[str, Dataset]) -> dict[tuple, float]:
    """Force-component MAE (eV/A) of every model on the reference-MD set (:data:`REFERENCE_MD`), keyed by
    (algorithm, origin, training seed); empty when the set was not evaluated."""
    if REFERENCE_MD not in evaluate:
        return {}
    ref = evaluate[REFERENCE_MD].forces()
    return {(f.algorithm, f.origin, f.seed): float(np.mean(np.abs(np.asarray(f.predictions[REFERENCE_MD]["forces"])
                                                                   - ref)))
            for f in fits if REFERENCE_MD in f.predictions}


def density_convergence(densities_g_cm3: Sequence[float], experiment_g_cm3: float) -> tuple[float, bool]:
    """The NPT density relative to experiment (mean of the second half of the run) and whether it converged
    (:data:`DENSITY_TOL`: the means of the last two quarters agree); (NaN, False) without NPT frames."""
    d = np.asarray(densities_g_cm3, dtype=float)
    if len(d) < 4:
        return (float(d[len(d) // 2:].mean() / experiment_g_cm3) if len(d) else np.nan), False
    half, quarter = len(d) // 2, (3 * len(d)) // 4
    drift = abs(d[quarter:].mean() - d[half:quarter].mean()) / experiment_g_cm3
    return float(d[half:].mean() / experiment_g_cm3), bool(drift < DENSITY_TOL)


def md_table(runs: Sequence[MDRun], liquids: Mapping[str, float], force_scale_eV_A: float,
             reference_mae: Mapping[tuple, float], scored_liquid: str) -> pd.DataFrame:
    """One row per MD run: training and MD seed, NVT survival and failure, the NPT density (relative to the
    experimental density ``liquids[name]``; NaN when the NVT run failed or no NPT ran) and whether it converged
    (:func:`density_convergence`), any NPT failure, errors on the model's own relabelled snapshots (a
    diagnostic), and, for runs of ``scored_liquid``, the model's force MAE on the reference-MD set
    (``reference_mae``, :func:`reference_force_mae`) and the score (:func:`score`)."""
    rows = []
    for r in runs:
        e = np.asarray(r.summary["own"]["energies"])
        f = np.asarray(r.summary["own"]["forces"])
        density, converged = density_convergence(r.summary["npt_density_g_cm3"], liquids[r.liquid])
        ref = reference_mae.get((r.algorithm, r.origin, r.seed), np.nan) if r.liquid == scored_liquid else np.nan
        rows.append({"algorithm": r.algorithm, "origin": r.origin, SEED: r.seed, MD_SEED: r.md_seed,
                     "liquid": r.liquid, "duration (fs)": r.summary["duration_fs"],
                     "survived fraction": r.survived_fraction,
                     "time to failure (fs)": r.summary["time_to_failure_fs"],
                     "failure": r.summary["failure"] or "",
                     "NPT duration (fs)": r.summary.get("npt_duration_fs", 0.0),
                     "NPT density / experiment": density, "NPT density converged": converged,
                     "NPT failure": r.summary["npt_failure"] or "",
                     "own-trajectory energy MAE (meV/atom)": 1000 * float(np.mean(
                         np.abs(e - r.own.energies()) / r.own.n_atoms())),
                     "own-trajectory force MAE (eV/Å)": float(np.mean(np.abs(f - r.own.forces()))),
                     "reference-MD force MAE (eV/Å)": ref,
                     "score": score(r.survived_fraction, ref, force_scale_eV_A)})
    return pd.DataFrame(rows)


def score(survived_fraction: float, force_mae_eV_A: float, force_scale_eV_A: float) -> float:
    """The MD score, between 0 and 1: ``survived_fraction / (1 + force_mae / force_scale)``.

    A model is only as good as the MD it drives: a run that breaks early scores at most the fraction it
    survived, however small its test errors; a run that survives is then judged by its force error on frames of
    reference-driven MD of the liquid (:data:`REFERENCE_MD`), which no model generated, so no training set is
    favoured for sharing the distribution of a model's own trajectory. ``force_scale_eV_A`` sets the force error
    that halves the score."""
    return float(survived_fraction / (1.0 + force_mae_eV_A / force_scale_eV_A))


SENSITIVITY_VERDICT = "verdict at this F0"
"""Column of :func:`score_sensitivity` holding the recomputed verdict (the chapter's claims table is the one with
a ``verdict`` column)."""
SCORE_SCALES_EV_A = (0.05, 0.1, 0.2, 0.4)
"""Force scales F0 (eV/A) over which :func:`score_sensitivity` recomputes the verdicts."""


def score_sensitivity(results: Mapping, scales_eV_A: Sequence[float] = SCORE_SCALES_EV_A) -> pd.DataFrame:
    """The verdict of every claim judged by the MD score with the score recomputed (:func:`score`) at each force
    scale of ``scales_eV_A``, from each run's survived fraction and reference-MD force MAE: columns F0 (eV/A),
    claim, value, CI low, CI high, :data:`SENSITIVITY_VERDICT`. ``results`` is what the claims read
    (``Results.claims_input()``)."""
    from paperlib.analysis.claims import verdict_of
    from paperlib.studies.transferability_claims import CLAIMS, SCORED

    md = pd.DataFrame(results["md"])
    rows = []
    for f0 in scales_eV_A:
        rescored = md.assign(score=[score(s, e, f0) for s, e in zip(md["survived fraction"],
                                                                     md["reference-MD force MAE (eV/Å)"])])
        again = {**results, "md": rescored.to_dict("records")}
        for claim in CLAIMS:
            if claim.key not in SCORED:
                continue
            ev = claim.judge(again)
            rows.append({"F0 (eV/Å)": f0, "claim": claim.key,
                         "value": ev.value if ev is not None else np.nan,
                         "CI low": ev.ci_low if ev is not None else np.nan,
                         "CI high": ev.ci_high if ev is not None else np.nan, SENSITIVITY_VERDICT: verdict_of(ev)})
    return pd.DataFrame(rows, columns=["F0 (eV/Å)", "claim", "value", "CI low", "CI high", SENSITIVITY_VERDICT])


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


def model_label(run: MDRun) -> str:
    """``"algorithm / origin"`` in words (:data:`ALGORITHM_LABELS`, :data:`ORIGIN_LABELS`)."""
    return f"{ALGORITHM_LABELS.get(run.algorithm, run.algorithm)} / {ORIGIN_LABELS.get(run.origin, run.origin)}"


def rdf_curves(runs: Sequence[MDRun], pairs: Sequence[tuple[str, str]], r_max_A: float, n_bins: int = 60
               ) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Intermolecular partial RDFs of the snapshots after the start of every run of each model (all its seeds
    together): ``{"algorithm / origin": {"A-B": (r in A, g)}}``. Pairs within one molecule are left out, so the
    curves show packing, not bonds; runs that failed before their first snapshot add nothing."""
    from paperlib.analysis.rdf import partial_rdf

    frames: dict[str, list[Atoms]] = {}
    for r in runs:
        if len(r.frames) >= 2:
            frames.setdefault(model_label(r), []).extend(list(r.frames)[1:])
    return {model: {f"{a}-{b}": partial_rdf(snaps, a, b, r_max_A, n_bins, exclude_same=MOL_ID) for a, b in pairs}
            for model, snaps in frames.items()}


def density_traces(runs: Sequence[MDRun], liquids: Mapping[str, float]) -> pd.DataFrame:
    """Density relative to experiment at every snapshot of every NPT continuation: columns model, training
    seed, MD seed, liquid, time (fs, from the start of the NPT run), density / experiment."""
    columns = ["model", SEED, MD_SEED, "liquid", "time (fs)", "density / experiment"]
    rows = []
    for r in runs:
        step = r.summary["npt_sample_fs"]
        for k, d in enumerate(r.summary["npt_density_g_cm3"]):
            rows.append(dict(zip(columns, (model_label(r), r.seed, r.md_seed, r.liquid, (k + 1) * step,
                                           d / liquids[r.liquid]))))
    return pd.DataFrame(rows, columns=columns)
