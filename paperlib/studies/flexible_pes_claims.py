"""Claims of the flexible-PES study, their rules, and the figures written to ``results.json``.

``results`` (``Results.claims_input()`` of :mod:`paperlib.studies.flexible_pes`, what
:func:`paperlib.analysis.claims.judge` reads) holds the records of
``errors`` (one per test frame, model and training size; ``frame`` numbers the test frame, the same for every
model), ``profiles`` (one per scan image and model at the largest size), ``paper_models`` (the paper's three
models among those run) and ``local`` / ``global`` (the names of the local model set and its global
counterpart).

Every interval is a bootstrap over test configurations (:func:`paperlib.analysis.intervals.bootstrap_interval`
resampling frame numbers): every model is evaluated on the same random test set, so one resampled frame
carries the errors of every model (paired between models); frames of different regions or mechanisms are
resampled separately (unpaired between groups).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from paperlib.analysis import claims as C
from paperlib.analysis.intervals import Interval, bootstrap_interval
from paperlib.sampling.azobenzene import MECHANISMS

PAPER_LIMIT = 1000
"""The paper's claim: chemical accuracy with at most this many training points (also the budget for a negative)."""
MIN_TEST = 100
"""Fewest test configurations for a negative verdict on claims 1 and 4."""
MIN_EFFECT = 1.2
"""The smallest error ratio (transition / near-equilibrium, worst / best mechanism) that counts as an effect."""
MIN_FRAMES = 25
"""Fewest test frames per region group or mechanism for a negative verdict on claims 2 and 3."""
SEED = 0
"""Seed of every bootstrap."""

KCAL_MOL_EV = 0.0433641
"""1 kcal/mol in eV: the paper's 'chemical accuracy'."""
TRANSITION = "transition"
"""The group of every transition-region frame (rotation, inversion, inversion-assisted rotation)."""


# -- tables shared by the study, its figures and its claims ----------------------------------------
def learning_curves(errors: pd.DataFrame) -> pd.DataFrame:
    """Test MAE of energies (eV) and forces (eV/A) per model and training size."""
    return errors.groupby(["model", "n_train"])[["err_energy", "mae_forces"]].mean().reset_index()


def crossing(curves: pd.DataFrame, threshold_eV: float = KCAL_MOL_EV) -> pd.DataFrame:
    """Per model: the smallest training size whose energy MAE is below ``threshold_eV`` (NaN if none)."""
    rows = []
    for model, d in curves.groupby("model"):
        below = d[d["err_energy"] < threshold_eV]["n_train"]
        rows.append({"model": model, "sizes tried": ", ".join(str(n) for n in sorted(d["n_train"])),
                     "smallest size below 1 kcal/mol": float(below.min()) if len(below) else np.nan,
                     "energy MAE at largest (eV)": float(d.sort_values("n_train")["err_energy"].iloc[-1])})
    return pd.DataFrame(rows)


def barrier_table(profiles: pd.DataFrame) -> pd.DataFrame:
    """Per model and mechanism: scan barrier (highest image) of reference and model and the error (eV)."""
    g = profiles.groupby(["model", "mechanism"])
    out = pd.DataFrame({"reference_barrier_eV": g["reference_eV"].max(), "model_barrier_eV": g["model_eV"].max()})
    out["barrier_error_eV"] = (out["model_barrier_eV"] - out["reference_barrier_eV"]).abs()
    return out.reset_index()


# -- per-frame data -------------------------------------------------------------------------------
def _errors(results: Mapping[str, Any]) -> pd.DataFrame:
    e = pd.DataFrame(results["errors"])
    if "frame" not in e:  # records without frame numbers list every model's test frames in the same order
        e["frame"] = e.groupby(["model", "n_train"]).cumcount()
    return e


def _largest(results: Mapping[str, Any]) -> pd.DataFrame:
    e = _errors(results)
    return e[e["n_train"] == e["n_train"].max()]


def _frames(d: pd.DataFrame, models: Sequence[str]) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The test frames (their region and group, one row each) and per error column a models x frames matrix."""
    d = d[d["model"].isin(models)]
    frames = d.drop_duplicates("frame").set_index("frame").sort_index()[["region", "group"]]
    mats = {c: d.pivot_table(index="model", columns="frame", values=c, aggfunc="mean")
            .reindex(index=list(models), columns=frames.index).to_numpy(float) for c in ("err_energy", "mae_forces")}
    return frames.reset_index(drop=True), mats


def _majority(values: Sequence[float]) -> float:
    """The value that more than half of ``values`` reach or exceed (the median of three, the smaller of two)."""
    v = np.sort(np.asarray(values, dtype=float))[::-1]
    return float(v[len(v) // 2])


def _indexed(groups: Sequence[np.ndarray], statistic: Callable[..., float], paired: bool) -> Interval:
    """Bootstrap ``statistic`` of integer frame indices, resampling each group of frames (the units)."""
    if min(len(g) for g in groups) < 2:
        n = min(len(g) for g in groups)
        value = statistic(*groups) if n else math.nan
        return Interval(float(value), math.nan, math.nan, n, f"bootstrap over test frames (undefined for n={n})")
    out = bootstrap_interval([np.asarray(g, dtype=float) for g in groups],
                             lambda *g: statistic(*(np.asarray(x, dtype=int) for x in g)), paired=paired, seed=SEED)
    how = ("the same resampled frames for every model" if len(groups) == 1 else
           f"{len(groups)} groups of frames resampled separately, n = the smallest")
    return dataclasses.replace(out, method=f"{out.method} (test frames; {how})")


def _paper_models(results: Mapping[str, Any], d: pd.DataFrame) -> list[str]:
    return [m for m in results["paper_models"] if m in set(d["model"])]


def _log_ratio(mat: np.ndarray, num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Per model (row): log(mean error over frames ``num`` / mean error over frames ``den``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(mat[:, num].mean(axis=1) / mat[:, den].mean(axis=1))


def _frames_as_units(results: Mapping[str, Any], ev: C.Evidence) -> C.Evidence:
    """``ev`` as it stands when the split kept whole MD runs apart (``results["split_by_trajectory"]``);
    otherwise without an interval. With frames split one by one, near-copies of test frames 5 fs away sit in
    the training set and frames of one run are not independent, so no interval over frames is honest; ``n`` is
    then the number of MD runs the test frames came from."""
    if results.get("split_by_trajectory", False):
        return ev
    errors = pd.DataFrame(results.get("errors", []))
    runs = int(errors["trajectory"].nunique()) if "trajectory" in errors else 0
    return dataclasses.replace(
        ev, ci_low=math.nan, ci_high=math.nan, n=runs, powered=False,
        method="undefined: test frames were split from training frames one by one (frames of the same MD runs on "
               f"both sides), so they are not independent units; {runs} MD runs gave the test frames. The "
               "interval over frames would have been: " + ev.method)


# -- claim 1 --------------------------------------------------------------------------------------
def judge_global_accuracy(results: Mapping[str, Any]) -> C.Evidence | None:
    """Claim 1: GAP, SchNet and sGDML reach 1 kcal/mol energy MAE with at most 1000 training points.

    Statistic: 1 kcal/mol minus the test energy MAE (kcal/mol) of the worst of the paper's models at the largest
    training size up to :data:`PAPER_LIMIT`; bootstrap of that minimum over the shared test frames.
    """
    e = _errors(results)
    sizes = e.loc[e["n_train"] <= PAPER_LIMIT, "n_train"]
    if sizes.empty:
        return None
    size = int(sizes.max())
    d = e[e["n_train"] == size]
    paper = _paper_models(results, d)
    if not paper:
        return None
    frames, mats = _frames(d, paper)
    energy = mats["err_energy"] / KCAL_MOL_EV

    def margin(idx: np.ndarray) -> float:
        return float(np.min(1.0 - energy[:, idx].mean(axis=1)))

    interval = _indexed([np.arange(len(frames))], margin, paired=True)
    cross = crossing(learning_curves(e[e["model"].isin(paper)])).set_index("model")
    parts = []
    for m, mae in zip(paper, energy.mean(axis=1)):
        first = cross.loc[m, "smallest size below 1 kcal/mol"]
        parts.append(f"{m} {mae:.3g} kcal/mol" + (f" (below 1 from {int(first)} points)" if np.isfinite(first) else ""))
    context = f"test energy MAE at {size} training points: " + "; ".join(parts)
    ev = C.Evidence.from_interval("1 kcal/mol minus the worst paper model's test energy MAE (kcal/mol)", interval,
                                 0.0, size >= PAPER_LIMIT and len(frames) >= MIN_TEST, context)
    return _frames_as_units(results, ev)


# -- claim 2 --------------------------------------------------------------------------------------
def transition_ratios(results: Mapping[str, Any]) -> pd.DataFrame:
    """Per model at the largest size: MAE of transition-region frames / near-equilibrium frames."""
    d = _largest(results)
    near = d["group"] != TRANSITION
    rows = []
    for model, g in d.groupby("model"):
        n_near, n_tr = int(near[g.index].sum()), int((~near[g.index]).sum())
        row = {"model": model, "near-equilibrium frames": n_near, "transition frames": n_tr}
        for k in ("err_energy", "mae_forces"):
            row[k] = float(g.loc[~near[g.index], k].mean() / g.loc[near[g.index], k].mean()) if n_near and n_tr else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def judge_regions(results: Mapping[str, Any]) -> C.Evidence | None:
    """Claim 2: errors are larger in the transition regions than near equilibrium.

    Statistic: per paper model the smaller of log(transition / near-equilibrium MAE) for energies and for
    forces; the value that most of the paper's models reach; bootstrap over test frames, the two groups
    resampled separately.
    """
    d = _largest(results)
    paper = _paper_models(results, d)
    if not paper:
        return None
    frames, mats = _frames(d, paper)
    near = np.flatnonzero(frames["group"].to_numpy() != TRANSITION)
    trans = np.flatnonzero(frames["group"].to_numpy() == TRANSITION)

    def per_model(n: np.ndarray, t: np.ndarray) -> np.ndarray:
        return np.minimum(_log_ratio(mats["err_energy"], t, n), _log_ratio(mats["mae_forces"], t, n))

    interval = _indexed([near, trans], lambda n, t: _majority(per_model(n, t)), paired=False)
    context = (f"{len(near)} near-equilibrium and {len(trans)} transition test frames; transition / near-equilibrium "
               "MAE (energy, forces): ")
    if len(near) and len(trans):
        context += "; ".join(f"{m} {math.exp(_log_ratio(mats['err_energy'], trans, near)[i]):.3g}x, "
                             f"{math.exp(_log_ratio(mats['mae_forces'], trans, near)[i]):.3g}x"
                             for i, m in enumerate(paper))
    else:
        context += "undefined"
    ev = C.Evidence.from_interval("log transition / near-equilibrium MAE (smaller of energy and force) reached by "
                                 "most paper models", interval, math.log(MIN_EFFECT),
                                 min(len(near), len(trans)) >= MIN_FRAMES, context)
    return _frames_as_units(results, ev)


# -- claim 3 --------------------------------------------------------------------------------------
def judge_mechanisms(results: Mapping[str, Any]) -> C.Evidence | None:
    """Claim 3: errors differ between the three mechanisms.

    Statistic: per paper model log(largest / smallest per-mechanism test force MAE); the value that most of the
    paper's models reach; bootstrap over test frames, each mechanism's frames resampled separately.
    """
    d = _largest(results)
    paper = _paper_models(results, d)
    if not paper:
        return None
    frames, mats = _frames(d, paper)
    regions = frames["region"].to_numpy()
    groups = [np.flatnonzero(regions == m) for m in MECHANISMS]
    forces = mats["mae_forces"]

    def spread(*idx: np.ndarray) -> float:
        means = np.column_stack([forces[:, i].mean(axis=1) for i in idx])
        with np.errstate(divide="ignore", invalid="ignore"):
            return _majority(np.log(means.max(axis=1) / means.min(axis=1)))

    interval = _indexed(groups, spread, paired=False)
    counts = {m: len(g) for m, g in zip(MECHANISMS, groups)}
    context = f"test frames per mechanism {counts}"
    if min(counts.values()):
        means = np.column_stack([forces[:, g].mean(axis=1) for g in groups])
        context += "; largest / smallest mechanism force MAE: " + "; ".join(
            f"{m} {row.max() / row.min():.3g}x ({MECHANISMS[int(np.argmax(row))]} worst)"
            for m, row in zip(paper, means))
    profiles = pd.DataFrame(results["profiles"])
    if len(profiles):
        b = barrier_table(profiles[profiles["model"].isin(paper)])
        worst = b.loc[b.groupby("model")["barrier_error_eV"].idxmax()].set_index("model")["mechanism"]
        context += "; largest scan-barrier error: " + "; ".join(f"{m} {v}" for m, v in worst.items())
    ev = C.Evidence.from_interval("log largest / smallest per-mechanism test force MAE reached by most paper models",
                                 interval, math.log(MIN_EFFECT), min(counts.values()) >= MIN_FRAMES, context)
    return _frames_as_units(results, ev)


# -- claim 4 --------------------------------------------------------------------------------------
def judge_local(results: Mapping[str, Any]) -> C.Evidence | None:
    """Claim 4: several local models do better than one global model on the same data.

    Statistic: the smaller of log(global / local test MAE) for energies and for forces at the largest size;
    paired bootstrap over the shared test frames.
    """
    d = _largest(results)
    pair = [results["global_model"], results["local"]]
    if not set(pair) <= set(d["model"]):
        return None
    frames, mats = _frames(d, pair)
    everything = np.arange(len(frames))

    def ratios(idx: np.ndarray) -> np.ndarray:
        """log(global / local) for energies and forces."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.array([np.log(m[0, idx].mean() / m[1, idx].mean())
                             for m in (mats["err_energy"], mats["mae_forces"])])

    interval = _indexed([everything], lambda i: float(ratios(i).min()), paired=True)
    g_e, g_f = mats["err_energy"][0].mean(), mats["mae_forces"][0].mean()
    l_e, l_f = mats["err_energy"][1].mean(), mats["mae_forces"][1].mean()
    context = (f"{pair[0]} vs {pair[1]} at {int(d['n_train'].max())} points on {len(frames)} test frames: energy MAE "
               f"{g_e:.4f} vs {l_e:.4f} eV, force MAE {g_f:.4f} vs {l_f:.4f} eV/A (global / local "
               f"{g_e / l_e:.3g}x, {g_f / l_f:.3g}x)")
    ev = C.Evidence.from_interval("log global / local test MAE (smaller of energy and force)", interval, 0.0,
                                 len(frames) >= MIN_TEST, context)
    return _frames_as_units(results, ev)


_BOOT = ("95 % BCa bootstrap (4999 resamples, fixed seed) over test configurations, which count as independent "
         "units only when the split keeps whole MD runs out of training (otherwise the interval is undefined")
CLAIMS: tuple[C.Claim, ...] = (
    C.Claim("1 global accuracy", "GAP/SOAP, SchNet and sGDML reach chemical accuracy (1 kcal/mol) on the whole "
                                 "surface with fewer than 1000 training points.",
            f"statistic: 1 kcal/mol ({KCAL_MOL_EV} eV) minus the test energy MAE (kcal/mol) of the worst of the "
            f"paper's models that ran (sGDML, GAP, SchNet), at the largest training size tried up to {PAPER_LIMIT} "
            f"points, on the whole random test set; threshold 0. Interval: {_BOOT}; paired between models, the "
            f"minimum over models recomputed in every resample). Reproduced if the interval lies above 0; a negative "
            f"needs curves that reach {PAPER_LIMIT} training points and >= {MIN_TEST} test configurations.",
            judge_global_accuracy),
    C.Claim("2 transition regions", "Errors depend on the region: transition regions are harder than the "
                                    "near-equilibrium regions.",
            f"statistic: at the largest training size, per paper model the smaller of log(transition / "
            f"near-equilibrium test MAE) for energies and for forces (transition: frames tagged rotation, inversion "
            f"or inversion-assisted rotation; near-equilibrium: cis, trans), then the value that most of the paper's "
            f"models reach (the median of three); threshold log {MIN_EFFECT} (a minimal effect of {MIN_EFFECT}x). "
            f"Interval: {_BOOT}; the two groups resampled separately, every model on the same resampled frames). "
            f"A negative needs >= {MIN_FRAMES} test frames in each group.", judge_regions),
    C.Claim("3 mechanisms", "Errors differ between the three transition mechanisms.",
            f"statistic: at the largest training size, per paper model log(largest / smallest mean test force MAE "
            f"over the three mechanisms' regions), then the value that most of the paper's models reach; threshold "
            f"log {MIN_EFFECT} (a minimal effect of {MIN_EFFECT}x; the largest / smallest of three noisy means exceeds "
            f"1 even without a difference). Interval: {_BOOT}; each mechanism's frames resampled separately). A "
            f"negative needs >= {MIN_FRAMES} test frames for every mechanism. The mechanism with the largest "
            "scan-barrier error is reported, not judged.", judge_mechanisms),
    C.Claim("4 local models", "Several local models (one per region) may do better than one global model.",
            f"statistic: one model per region group (cis, trans, transition), chosen by the region rule, vs the same "
            f"algorithm trained once on the same frames, at the largest training size: the smaller of log(global / "
            f"local test MAE) for energies and for forces; threshold 0. Interval: {_BOOT}; paired, both models on "
            f"the same resampled frames). A negative needs >= {MIN_TEST} test configurations.", judge_local),
)


def summary_figures(results: Mapping[str, Any]) -> dict[str, float]:
    """Measured figures for results.json (fit times excluded: they vary between identical runs)."""
    figures: dict[str, float] = {}
    for row in learning_curves(pd.DataFrame(results["errors"])).itertuples():
        figures[f"curve/{row.model}/n={row.n_train}/energy_mae_eV"] = float(row.err_energy)
        figures[f"curve/{row.model}/n={row.n_train}/force_mae_eV_A"] = float(row.mae_forces)
    for row in barrier_table(pd.DataFrame(results["profiles"])).itertuples():
        figures[f"barrier/{row.model}/{row.mechanism}/error_eV"] = float(row.barrier_error_eV)
    for row in transition_ratios(results).itertuples():
        figures[f"regions/{row.model}/transition_over_near_forces"] = float(row.mae_forces)
        figures[f"regions/{row.model}/transition_over_near_energy"] = float(row.err_energy)
    return {k: v for k, v in figures.items() if np.isfinite(v)}
