"""Claims of the flexible-PES study, their rules, and the figures written to ``results.json``.

``results`` (``Results.claims_input()`` of :mod:`paperlib.studies.flexible_pes`, what
:func:`paperlib.analysis.claims.judge` reads) holds the records of
``errors`` (one per test frame, model, training size and draw of the training pool; ``frame`` numbers the test
frame, the same for every model; ``trajectory`` is the run it came from and ``sampled_at`` where that run
started: a minimum or a mechanism), ``profiles`` (one per scan image and model at the largest size),
``paper_models`` (the paper's models among those run), ``local`` / ``global_model`` (the names of the local model
set and its global counterpart) and ``split_by_trajectory``.

The independent units are the test runs: the split keeps whole runs apart, and frames of one run are
correlated. Every interval is a bootstrap that resamples whole test runs; every model is evaluated on the same
test frames, so a resampled run carries the errors of every model (paired between models), and runs started
in different places are resampled separately where a claim compares places.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from paperlib.analysis import claims as C
from paperlib.analysis.intervals import (MIN_BOOTSTRAP_UNITS, Interval, bootstrap_interval,
                                         crossed_bootstrap_interval)
from paperlib.sampling.azobenzene import MECHANISMS, NEAR_EQUILIBRIUM

PAPER_LIMIT = 1000
"""The paper's claim: chemical accuracy with at most this many training points (also the budget for a negative)."""
RELATIVE_ACCURACY = 10.0
"""Claim 1's criterion: a model's test energy MAE at most this many times smaller than that of the mean-energy
baseline (this compendium's translation of "chemical accuracy" to a reference whose energy scale differs from
the paper's)."""
BASELINE = "mean energy"
"""The trivial model: the training set's mean reference energy and zero forces for every structure."""
MIN_RUNS = MIN_BOOTSTRAP_UNITS
"""Fewest test runs (per starting place where a claim compares places) for a negative verdict."""
MIN_EFFECT = 1.2
"""The smallest error ratio (transition / near-equilibrium, worst / best mechanism) that counts as an effect."""
MIN_FRAMES = 25
"""Fewest test frames per region group or mechanism for a negative verdict on claims 2 and 3."""
MIN_DRAWS = 3
"""Fewest draws of the training pool for claim 4's interval."""
SEED = 0
"""Seed of every bootstrap."""

KCAL_MOL_EV = 0.0433641
"""1 kcal/mol in eV: the paper's 'chemical accuracy'."""
TRANSITION = "transition"
"""The group of every transition-region frame (rotation, inversion, inversion-assisted rotation)."""
PATH_NEAR = "near-planar on a path"
"""The group of a frame from a run held on a path that the region rule puts in a minimum's region: neither near
equilibrium nor a transition region, so no claim compares it."""


# -- tables shared by the study, its figures and its claims ----------------------------------------
def learning_curves(errors: pd.DataFrame) -> pd.DataFrame:
    """Test MAE of energies (eV) and forces (eV/A) per model and training size (draw 0 of the pool)."""
    if "draw" in errors:
        errors = errors[errors["draw"] == 0]
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
def _errors(results: Mapping[str, Any], draw: int | None = 0) -> pd.DataFrame:
    """The error records (of draw ``draw`` of the pool; all draws when None)."""
    e = pd.DataFrame(results["errors"])
    if "frame" not in e:  # records without frame numbers list every model's test frames in the same order
        e["frame"] = e.groupby(["model", "n_train"] + (["draw"] if "draw" in e else [])).cumcount()
    if "draw" not in e:
        e["draw"] = 0
    if "sampled_at" not in e:
        e["sampled_at"] = e["region"]
    return e if draw is None else e[e["draw"] == draw]


def _largest(results: Mapping[str, Any]) -> pd.DataFrame:
    e = _errors(results)
    e = e[e["model"] != BASELINE]
    return e[e["n_train"] == e["n_train"].max()]


def _frames(d: pd.DataFrame, models: Sequence[str]) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The test frames (their region, group, run and starting place, one row each) and per error column a
    models x frames matrix."""
    d = d[d["model"].isin(models)]
    frames = d.drop_duplicates("frame").set_index("frame").sort_index()[["region", "group", "trajectory",
                                                                          "sampled_at"]]
    mats = {c: d.pivot_table(index="model", columns="frame", values=c, aggfunc="mean")
            .reindex(index=list(models), columns=frames.index).to_numpy(float) for c in ("err_energy", "mae_forces")}
    return frames.reset_index(drop=True), mats


def _majority(values: Sequence[float]) -> float:
    """The value that more than half of ``values`` reach or exceed (the median of three, the smaller of two);
    NaN when any value is not finite (a model whose error is undefined cannot count for or against)."""
    v = np.asarray(values, dtype=float)
    if not np.isfinite(v).all():
        return math.nan
    v = np.sort(v)[::-1]
    return float(v[len(v) // 2])


def _runs(frames: pd.DataFrame, places: Sequence[str] | None = None) -> list[np.ndarray]:
    """Per test run (started at one of ``places``; all runs when None): the positions of its frames."""
    at = frames["sampled_at"].to_numpy()
    traj = frames["trajectory"].to_numpy()
    mask = np.ones(len(frames), bool) if places is None else np.isin(at, list(places))
    return [np.flatnonzero(mask & (traj == t)) for t in np.unique(traj[mask])]


def _by_runs(frames: pd.DataFrame, statistic: Callable[[np.ndarray], float],
             strata: Sequence[Sequence[str]] | None = None) -> Interval:
    """``statistic(frame positions)`` with a bootstrap that resamples whole test runs, the runs started in each
    stratum of places (e.g. the minima, the paths) separately; ``n`` is the fewest runs of a stratum."""
    groups = [_runs(frames)] if strata is None else [_runs(frames, s) for s in strata]

    def on_runs(*samples: np.ndarray) -> float:
        picked = [g[int(k)] for g, sample in zip(groups, samples) for k in sample]
        return statistic(np.concatenate(picked) if picked else np.array([], dtype=int))

    n = min(len(g) for g in groups)
    if n < 2:
        value = on_runs(*[np.arange(len(g)) for g in groups])
        return Interval(float(value), math.nan, math.nan, n, f"bootstrap over test runs (undefined for n={n})")
    out = bootstrap_interval([np.arange(len(g), dtype=float) for g in groups], on_runs, paired=False, seed=SEED)
    how = ("all test runs together" if len(groups) == 1 else
           f"the runs of {len(groups)} groups of starting places resampled separately, n = the smallest")
    return dataclasses.replace(out, method=f"{out.method} (whole test runs; {how})")


def _paper_models(results: Mapping[str, Any], d: pd.DataFrame) -> list[str]:
    return [m for m in results["paper_models"] if m in set(d["model"])]


def _log_ratio(mat: np.ndarray, num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Per model (row): log(mean error over frames ``num`` / mean error over frames ``den``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(mat[:, num].mean(axis=1) / mat[:, den].mean(axis=1))


def _frames_as_units(results: Mapping[str, Any], ev: C.Evidence) -> C.Evidence:
    """``ev`` as it stands when the split kept whole MD runs apart (``results["split_by_trajectory"]``);
    otherwise without an interval. With frames split one by one, near-copies of test frames a few fs away sit
    in the training set and frames of one run are not independent, so no interval is honest; ``n`` is then the
    number of MD runs the test frames came from."""
    if results.get("split_by_trajectory", False):
        return ev
    errors = pd.DataFrame(results.get("errors", []))
    runs = int(errors["trajectory"].nunique()) if "trajectory" in errors else 0
    return dataclasses.replace(
        ev, ci_low=math.nan, ci_high=math.nan, n=runs, powered=False,
        method="undefined: test frames were split from training frames one by one (frames of the same MD runs on "
               f"both sides), so they are not independent units; {runs} MD runs gave the test frames. The "
               "interval would have been: " + ev.method)


# -- claim 1 --------------------------------------------------------------------------------------
def judge_global_accuracy(results: Mapping[str, Any]) -> C.Evidence | None:
    """Claim 1: GAP, SchNet and sGDML reach chemical accuracy with at most 1000 training points, judged by the
    relative criterion :data:`RELATIVE_ACCURACY`.

    Statistic: the smallest over the paper's models of log10(baseline energy MAE / model energy MAE) at the
    largest training size up to :data:`PAPER_LIMIT` (baseline: :data:`BASELINE`), minus log10
    :data:`RELATIVE_ACCURACY`; bootstrap over whole test runs. The absolute MAEs (kcal/mol) are context.
    """
    e = _errors(results)
    sizes = e.loc[(e["n_train"] <= PAPER_LIMIT) & (e["model"] != BASELINE), "n_train"]
    if sizes.empty:
        return None
    size = int(sizes.max())
    d = e[e["n_train"] == size]
    paper = _paper_models(results, d)
    if not paper or BASELINE not in set(d["model"]):
        return None
    frames, mats = _frames(d, [BASELINE] + paper)
    energy = mats["err_energy"]

    def margin(idx: np.ndarray) -> float:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = energy[0, idx].mean() / energy[1:, idx].mean(axis=1)
        return float(np.min(np.log10(ratios)) - math.log10(RELATIVE_ACCURACY))

    interval = _by_runs(frames, margin)
    cross = crossing(learning_curves(e[e["model"].isin(paper)])).set_index("model")
    parts = []
    for m, row in zip(paper, energy[1:]):
        first = cross.loc[m, "smallest size below 1 kcal/mol"]
        parts.append(f"{m} {row.mean() / KCAL_MOL_EV:.3g} kcal/mol, {energy[0].mean() / row.mean():.3g}x better "
                     "than the baseline" + (f" (below 1 kcal/mol from {int(first)} points)" if np.isfinite(first) else ""))
    context = (f"at {size} training points, baseline energy MAE {energy[0].mean() / KCAL_MOL_EV:.3g} kcal/mol; "
               + "; ".join(parts))
    powered = size >= PAPER_LIMIT and len(_runs(frames)) >= MIN_RUNS
    ev = C.Evidence.from_interval(f"log10(baseline / worst paper model's test energy MAE) - log10 "
                                 f"{RELATIVE_ACCURACY:g}", interval, 0.0, powered, context)
    return _frames_as_units(results, ev)


# -- claim 2 --------------------------------------------------------------------------------------
def transition_ratios(results: Mapping[str, Any]) -> pd.DataFrame:
    """Per model at the largest size: MAE of transition-region frames / near-equilibrium frames (frames of runs
    around the minima; :data:`PATH_NEAR` frames left out)."""
    d = _largest(results)
    d = d[d["group"] != PATH_NEAR]
    near = d["group"] != TRANSITION
    rows = []
    for model, g in d.groupby("model"):
        n_near, n_tr = int(near[g.index].sum()), int((~near[g.index]).sum())
        row = {"model": model, "near-equilibrium frames": n_near, "transition frames": n_tr}
        for k in ("err_energy", "mae_forces"):
            row[k] = float(g.loc[~near[g.index], k].mean() / g.loc[near[g.index], k].mean()) if n_near and n_tr else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


PLACES_OF_GROUPS = (tuple(NEAR_EQUILIBRIUM), tuple(MECHANISMS))
"""Claim 2's strata: runs started at the minima, runs started along the paths."""


def judge_regions(results: Mapping[str, Any]) -> C.Evidence | None:
    """Claim 2: errors are larger in the transition regions than near equilibrium.

    Statistic: per paper model the smaller of log(transition / near-equilibrium MAE) for energies and for
    forces; the value that most of the paper's models reach; bootstrap over whole test runs, the runs started
    at the minima and along the paths resampled separately.
    """
    d = _largest(results)
    paper = _paper_models(results, d)
    if not paper:
        return None
    frames, mats = _frames(d, paper)
    groups = frames["group"].to_numpy()

    is_near = np.isin(groups, list(NEAR_EQUILIBRIUM))

    def per_model(idx: np.ndarray) -> np.ndarray:
        near, trans = idx[is_near[idx]], idx[groups[idx] == TRANSITION]
        if not len(near) or not len(trans):
            return np.full(len(paper), np.nan)
        return np.minimum(_log_ratio(mats["err_energy"], trans, near), _log_ratio(mats["mae_forces"], trans, near))

    everything = np.arange(len(frames))
    interval = _by_runs(frames, lambda idx: _majority(per_model(idx)), PLACES_OF_GROUPS)
    near, trans = int(np.sum(is_near)), int(np.sum(groups == TRANSITION))
    context = (f"{near} near-equilibrium and {trans} transition test frames from "
               f"{len(_runs(frames, PLACES_OF_GROUPS[0]))} and {len(_runs(frames, PLACES_OF_GROUPS[1]))} runs; "
               "transition / near-equilibrium MAE (energy, forces): ")
    if near and trans:
        n_idx, t_idx = everything[is_near], everything[groups == TRANSITION]
        context += "; ".join(f"{m} {math.exp(_log_ratio(mats['err_energy'], t_idx, n_idx)[i]):.3g}x, "
                             f"{math.exp(_log_ratio(mats['mae_forces'], t_idx, n_idx)[i]):.3g}x"
                             for i, m in enumerate(paper))
    else:
        context += "undefined"
    powered = min(near, trans) >= MIN_FRAMES and min(len(_runs(frames, s)) for s in PLACES_OF_GROUPS) >= MIN_RUNS
    ev = C.Evidence.from_interval("log transition / near-equilibrium MAE (smaller of energy and force) reached by "
                                 "most paper models", interval, math.log(MIN_EFFECT), powered, context)
    return _frames_as_units(results, ev)


# -- claim 3 --------------------------------------------------------------------------------------
def judge_mechanisms(results: Mapping[str, Any]) -> C.Evidence | None:
    """Claim 3: errors differ between the three mechanisms.

    Statistic: per paper model log(largest / smallest per-mechanism test force MAE), a mechanism's frames being
    those of the runs held along its path (whatever region the rule gives each frame, so that every resample has
    frames of every mechanism); the value that most of the paper's models reach; bootstrap over whole test runs,
    each mechanism's runs resampled separately.
    """
    d = _largest(results)
    paper = _paper_models(results, d)
    if not paper:
        return None
    frames, mats = _frames(d, paper)
    along = frames["sampled_at"].to_numpy()
    forces = mats["mae_forces"]

    def spread(idx: np.ndarray) -> float:
        parts = [idx[along[idx] == m] for m in MECHANISMS]
        if min(len(p) for p in parts) == 0:
            return math.nan
        means = np.column_stack([forces[:, p].mean(axis=1) for p in parts])
        with np.errstate(divide="ignore", invalid="ignore"):
            return _majority(np.log(means.max(axis=1) / means.min(axis=1)))

    interval = _by_runs(frames, spread, [(m,) for m in MECHANISMS])
    regions = frames["region"].to_numpy()
    counts = {m: int(np.sum(along == m)) for m in MECHANISMS}
    in_region = {m: int(np.sum((along == m) & (regions == m))) for m in MECHANISMS}
    runs = {m: len(_runs(frames, [m])) for m in MECHANISMS}
    context = f"test frames per mechanism's path {counts} ({in_region} in its region) from runs {runs}"
    if min(counts.values()):
        means = np.column_stack([forces[:, along == m].mean(axis=1) for m in MECHANISMS])
        context += "; largest / smallest mechanism force MAE: " + "; ".join(
            f"{m} {row.max() / row.min():.3g}x ({MECHANISMS[int(np.argmax(row))]} worst)"
            for m, row in zip(paper, means))
    profiles = pd.DataFrame(results["profiles"])
    if len(profiles):
        b = barrier_table(profiles[profiles["model"].isin(paper)])
        worst = b.loc[b.groupby("model")["barrier_error_eV"].idxmax()].set_index("model")["mechanism"]
        context += "; largest scan-barrier error: " + "; ".join(f"{m} {v}" for m, v in worst.items())
    powered = min(in_region.values()) >= MIN_FRAMES and min(runs.values()) >= MIN_RUNS
    ev = C.Evidence.from_interval("log largest / smallest per-mechanism test force MAE reached by most paper models",
                                 interval, math.log(MIN_EFFECT), powered, context)
    return _frames_as_units(results, ev)


# -- claim 4 --------------------------------------------------------------------------------------
def judge_local(results: Mapping[str, Any]) -> C.Evidence | None:
    """Claim 4 (an extension: the paper recommends local models, it does not test them): several local models
    do better than one global model of the same total capacity on the same data.

    Statistic: the smaller of log(global / local test MAE) for energies and for forces at the largest size,
    averaged over the draws of the training pool; a bootstrap that resamples draws and whole test runs
    independently (:func:`~paperlib.analysis.intervals.crossed_bootstrap_interval`).
    """
    e = _errors(results, draw=None)
    pair = [results["global_model"], results["local"]]
    if results["local"] not in set(e["model"]):
        return None
    e = e[e["n_train"] == e.loc[e["model"] == results["local"], "n_train"].max()]
    draws = sorted(set(e.loc[e["model"] == pair[0], "draw"]) & set(e.loc[e["model"] == pair[1], "draw"]))
    if not draws:
        return None
    per_draw = [_frames(e[e["draw"] == k], pair) for k in draws]
    frames = per_draw[0][0]
    runs = _runs(frames)
    # [draw, model, frame] per error kind
    cube = {c: np.stack([m[c] for _, m in per_draw]) for c in ("err_energy", "mae_forces")}

    def statistic(rows: np.ndarray, cols: np.ndarray) -> float:
        idx = np.concatenate([runs[int(c)] for c in cols])
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = [np.log(cube[c][rows][:, 0][:, idx].mean() / cube[c][rows][:, 1][:, idx].mean())
                    for c in ("err_energy", "mae_forces")]
        return float(min(logs))

    interval = crossed_bootstrap_interval(statistic, len(draws), len(runs), min_rows=MIN_DRAWS, seed=SEED)
    g_e, l_e = cube["err_energy"][:, 0].mean(), cube["err_energy"][:, 1].mean()
    g_f, l_f = cube["mae_forces"][:, 0].mean(), cube["mae_forces"][:, 1].mean()
    spread = [float(min(np.log(cube[c][k, 0].mean() / cube[c][k, 1].mean()) for c in cube)) for k in range(len(draws))]
    context = (f"{pair[0]} vs {pair[1]} at {int(e['n_train'].max())} points, {len(draws)} draws, {len(frames)} test "
               f"frames from {len(runs)} runs: energy MAE {g_e:.4f} vs {l_e:.4f} eV, force MAE {g_f:.4f} vs "
               f"{l_f:.4f} eV/A (global / local {g_e / l_e:.3g}x, {g_f / l_f:.3g}x); statistic per draw "
               + ", ".join(f"{v:.3g}" for v in spread))
    ev = C.Evidence.from_interval("log global / local test MAE (smaller of energy and force), errors pooled over "
                                 "draws",
                                 interval, 0.0, len(draws) >= MIN_DRAWS and len(runs) >= MIN_RUNS, context)
    return _frames_as_units(results, ev)


# -- the cut-off test (a table, not a claim) -------------------------------------------------------
def cutoff_table(results: Mapping[str, Any], cutoffs: Mapping[str, float]) -> pd.DataFrame:
    """GAP at each cut-off of ``cutoffs`` ({model name: cut-off in A}) at the largest size all of them ran (draw
    0): near-equilibrium and transition MAEs, their ratio, and for each model after the first the change of the
    log force ratio against the first (negative: the longer reach narrows the gap) with its bootstrap over whole
    test runs."""
    e = _errors(results)
    sizes = [set(e.loc[e["model"] == m, "n_train"]) for m in cutoffs]
    common = set.intersection(*sizes) if sizes else set()
    if not common:
        return pd.DataFrame()
    d = e[e["n_train"] == max(common)]
    models = list(cutoffs)
    frames, mats = _frames(d, models)
    groups = frames["group"].to_numpy()
    everything = np.arange(len(frames))
    is_near = np.isin(groups, list(NEAR_EQUILIBRIUM))

    def log_ratios(idx: np.ndarray) -> np.ndarray:
        near, trans = idx[is_near[idx]], idx[groups[idx] == TRANSITION]
        if not len(near) or not len(trans):
            return np.full(len(models), np.nan)
        return _log_ratio(mats["mae_forces"], trans, near)

    rows = []
    near, trans = everything[is_near], everything[groups == TRANSITION]
    for i, m in enumerate(models):
        row = {"model": m, "cut-off (Å)": cutoffs[m], "training points": int(d["n_train"].iloc[0])}
        for c, unit in (("err_energy", "eV"), ("mae_forces", "eV/Å")):
            row[f"near-equilibrium {c} ({unit})"] = float(mats[c][i, near].mean())
            row[f"transition {c} ({unit})"] = float(mats[c][i, trans].mean())
        row["transition / near force MAE"] = float(math.exp(log_ratios(everything)[i]))
        if i:
            iv = _by_runs(frames, lambda idx, i=i: float(log_ratios(idx)[i] - log_ratios(idx)[0]), PLACES_OF_GROUPS)
            row.update({"Δ log force ratio vs first": iv.value, "CI low": iv.low, "CI high": iv.high,
                        "test runs (fewest per stratum)": iv.n})
        rows.append(row)
    return pd.DataFrame(rows)


_BOOT = ("95 % BCa bootstrap (4999 resamples, fixed seed) over whole test runs, the independent units (no run "
         "gives frames to both training and test; otherwise the interval is undefined")
CLAIMS: tuple[C.Claim, ...] = (
    C.Claim("1 global accuracy", "GAP/SOAP, SchNet and sGDML reach chemical accuracy (1 kcal/mol) on the whole "
                                 "surface with fewer than 1000 training points.",
            f"statistic: for each of the paper's models that ran (sGDML, GAP, SchNet) the test energy MAE of the "
            f"{BASELINE!r} baseline (the training set's mean energy for every structure) divided by the model's, "
            f"at the largest training size tried up to {PAPER_LIMIT} points; log10 of the smallest of these "
            f"ratios minus log10 {RELATIVE_ACCURACY:g}; threshold 0 (every model at least {RELATIVE_ACCURACY:g}x "
            f"better than the baseline: this compendium's relative form of chemical accuracy, since 1 kcal/mol "
            f"means something else on a reference with another energy scale; the absolute MAEs are shown as "
            f"context). Interval: {_BOOT}; paired between models). Reproduced if the interval lies above 0; a "
            f"negative needs curves that reach {PAPER_LIMIT} training points and >= {MIN_RUNS} test runs.",
            judge_global_accuracy),
    C.Claim("2 transition regions", "Errors depend on the region: transition regions are harder than the "
                                    "near-equilibrium regions.",
            f"statistic: at the largest training size, per paper model the smaller of log(transition / "
            f"near-equilibrium test MAE) for energies and for forces (transition: frames tagged rotation, inversion "
            f"or inversion-assisted rotation; near-equilibrium: cis, trans frames of the runs around the minima; both "
            f"sampled at the same temperatures; path-run frames in a minimum's region count in neither), "
            f"then the value that most of the paper's models reach (the median of three); threshold log "
            f"{MIN_EFFECT} (a minimal effect of {MIN_EFFECT}x). Interval: {_BOOT}; runs started at the minima and "
            f"along the paths resampled separately). A negative needs >= {MIN_FRAMES} test frames in each group "
            f"and >= {MIN_RUNS} test runs from each.", judge_regions),
    C.Claim("3 mechanisms", "Errors differ between the three transition mechanisms.",
            f"statistic: at the largest training size, per paper model log(largest / smallest mean test force MAE "
            f"over the three mechanisms, a mechanism's frames being those of the runs held along its path), then the "
            f"value that most of the paper's models reach; threshold "
            f"log {MIN_EFFECT} (a minimal effect of {MIN_EFFECT}x; the largest / smallest of three noisy means exceeds "
            f"1 even without a difference). Interval: {_BOOT}; each mechanism's runs resampled separately). A "
            f"negative needs >= {MIN_FRAMES} test frames in its region and >= {MIN_RUNS} test runs for every "
            f"mechanism. The "
            "mechanism with the largest scan-barrier error is reported, not judged.", judge_mechanisms),
    C.Claim("4 local models", "Several local models (one per region) may do better than one global model (the "
                              "paper's suggestion, tested here as an extension).",
            f"statistic: one model per region group (cis, trans, transition), chosen by the region rule (for GAP each "
            f"with a third of the global model's sparse points: equal total capacity unless a fallback member is "
            f"needed), vs the same algorithm trained once on the same frames, at `local_size` points: the smaller of "
            f"log(global / local test MAE) for "
            f"energies and for forces, the errors pooled over draws of the training pool; threshold 0. Interval: 95 % "
            f"bootstrap that resamples draws and whole test runs independently (4999 resamples, fixed seed). A "
            f"negative needs >= {MIN_DRAWS} draws and >= {MIN_RUNS} test runs.", judge_local),
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
