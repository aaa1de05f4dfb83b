"""Claims of the Hessian-training study, their rules, and the figures written to ``results.json``.

``results`` (what the notebook hands to :func:`paperlib.analysis.claims.judge`) holds the records of
``errors`` (one per test geometry and mode), ``searches`` (one per reaction and mode), ``curve`` (one per
training size and mode), ``curve_errors`` (one per test geometry, training size and mode), ``costs`` (one per
timed mode, or several per mode when the timing is repeated), ``judged``, the name of the E+F+H mode compared
with E+F, and ``seeds``, the training seeds behind the models (today one): the fields of
:class:`paperlib.studies.hessian_training.Results` (``Results.claims_input()``). The mode names and metric
columns live here so that the study module can import this one without a cycle.

Every model of a mode is trained with one seed, so the independent units of the intervals are the reactions:
E+F and E+F+H are tested on the same reactions, so their comparisons are paired per reaction (the test
geometries of one reaction share its critical points and are not independent of one another). A negative
verdict also needs several training seeds, since one seed cannot separate the loss from the luck of a seed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from paperlib.analysis import claims as C
from paperlib.analysis import intervals as iv

E_ONLY, E_AND_F = "E", "E+F"
METRICS = {"err_energy": "energy", "mae_forces": "forces", "mae_hessian": "Hessian"}
"""Test-error columns (of ``errors``, ``curve`` and ``curve_errors``) and their names."""


def efh_mode(loss: str, probes: int) -> str:
    """Name of the E+F+H training mode with Hessian loss ``loss`` ("full" or "hvp")."""
    return "E+F+H (full)" if loss == "full" else f"E+F+H (HVP, k={probes})"


MIN_SEEDS = 3
"""Fewest training seeds for a negative verdict."""
MIN_REACTIONS = 7
"""Fewest reactions (the paired units) for a negative verdict."""
MIN_TIMINGS = 5
"""Fewest repeated timings of each mode for a negative verdict on the cost."""
FULL = efh_mode("full", 0)
"""The full-Hessian mode timed for the cost claim (the paper's loss)."""


def _n_seeds(results: Mapping[str, Any]) -> int:
    return len(results.get("seeds", [None]))


def _powered(results: Mapping[str, Any], n_reactions: int) -> bool:
    return _n_seeds(results) >= MIN_SEEDS and n_reactions >= MIN_REACTIONS


def _budget(results: Mapping[str, Any]) -> str:
    return f"{_n_seeds(results)} training seed(s)"


def error_means(results: Mapping[str, Any]) -> pd.DataFrame:
    """Mean test errors per mode (rows) and metric (columns)."""
    return pd.DataFrame(results["errors"]).groupby("mode")[list(METRICS)].mean()


def reaction_log_ratios(errors: pd.DataFrame, ef: str, efh: str, metrics: Sequence[str]) -> pd.DataFrame:
    """Per reaction (rows) and metric (columns): log(mean error of ``ef`` / mean error of ``efh``) over the
    reaction's test geometries; only reactions tested with both modes."""
    m = errors.groupby(["mode", "reaction"])[list(metrics)].mean()
    a, b = m.loc[ef], m.loc[efh]
    both = a.index.intersection(b.index)
    return np.log(a.loc[both] / b.loc[both])


def judge_extrapolation(results: Mapping[str, Any]) -> C.Evidence | None:
    """Claim 1: Hessians improve energies, forces and Hessians away from the critical points."""
    efh = results["judged"]
    errors = pd.DataFrame(results.get("errors", []))
    if errors.empty or not {E_AND_F, efh} <= set(errors["mode"]):
        return None
    logs = reaction_log_ratios(errors, E_AND_F, efh, list(METRICS))
    parts = [iv.mean_interval(logs[k].to_numpy()) for k in METRICS]
    interval = iv.all_of(lambda c: [iv.mean_interval(logs[k].to_numpy(), c) for k in METRICS],
                         f"mean per-reaction log(E+F / E+F+H MAE) of {', '.join(METRICS.values())}")
    n_geo = int((errors["mode"] == efh).sum())
    context = (f"E+F / {efh} MAE per reaction (geometric mean over {len(logs)} reactions, {n_geo} unseen "
               "geometries): " + ", ".join(f"{METRICS[k]} {math.exp(p.value):.2f}x" for k, p in zip(METRICS, parts))
               + f"; {_budget(results)}")
    return C.Evidence.from_interval("min over energy, forces, Hessian of mean per-reaction log(E+F MAE / E+F+H MAE)",
                                    interval, 0.0, _powered(results, len(logs)), context)


def _searches(results: Mapping[str, Any], mode: str) -> pd.DataFrame:
    s = pd.DataFrame(results["searches"])
    return s[s["mode"] == mode]


def paired_searches(results: Mapping[str, Any]) -> pd.DataFrame:
    """One row per reaction searched with both E+F (suffix ``_ef``) and the judged E+F+H (``_efh``)."""
    ef, efh = _searches(results, E_AND_F), _searches(results, results["judged"])
    return ef.merge(efh, on="reaction", suffixes=("_ef", "_efh"))


def judge_barriers(results: Mapping[str, Any]) -> C.Evidence | None:
    """Claim 2: Hessians improve NEB barrier heights."""
    if not results.get("searches"):
        return None
    s = paired_searches(results)
    if s.empty:
        return None
    zero = s["barrier_ref_eV_ef"].abs()   # the error of predicting no barrier at all
    # A failed search yields no barrier: it is charged the zero-barrier error.
    ef = s["barrier_error_eV_ef"].fillna(zero).to_numpy()
    efh = s["barrier_error_eV_efh"].fillna(zero).to_numpy()
    interval = iv.all_of(lambda c: [iv.mean_interval(ef - efh, c), iv.mean_interval(zero.to_numpy() - efh, c)],
                         "mean per-reaction differences of |barrier error| (eV): E+F - E+F+H and zero-barrier - "
                         "E+F+H")
    fails = {k: int(s[f"barrier_error_eV_{k}"].isna().sum()) for k in ("ef", "efh")}
    context = (f"barrier MAE over {len(s)} reactions: E+F {ef.mean():.3f} eV, {results['judged']} {efh.mean():.3f} eV, "
               f"zero-barrier baseline {zero.mean():.3f} eV; failed searches {fails['ef']} / {fails['efh']} "
               f"(charged the zero-barrier error); {_budget(results)}")
    return C.Evidence.from_interval("min(E+F - E+F+H, zero-barrier - E+F+H) barrier MAE (eV)", interval, 0.0,
                                    _powered(results, len(s)), context)


def judge_transition_states(results: Mapping[str, Any]) -> C.Evidence | None:
    """Claim 3: with Hessians, a saddle search on the model finds the transition state more reliably."""
    if not results.get("searches"):
        return None
    ef, efh = _searches(results, E_AND_F), _searches(results, results["judged"])
    if ef.empty or efh.empty:
        return None
    found = {k: int(d["ts_confirmed"].sum()) for k, d in (("ef", ef), ("efh", efh))}
    rmsd = {k: float(np.nanmean(d["ts_rmsd_A"])) if d["ts_rmsd_A"].notna().any() else math.nan
            for k, d in (("ef", ef), ("efh", efh))}
    interval = iv.proportion_difference_interval(found["efh"], len(efh), found["ef"], len(ef))
    context = (f"confirmed first-order saddles (1 imaginary mode, connects reactant and product): "
               f"{results['judged']} {found['efh']}/{len(efh)}, E+F {found['ef']}/{len(ef)}; mean RMSD to the "
               f"reference saddle {rmsd['efh']:.3f} / {rmsd['ef']:.3f} A; {_budget(results)}")
    return C.Evidence.from_interval("confirmed-saddle fraction E+F+H - E+F", interval, 0.0,
                                    _powered(results, min(len(ef), len(efh))), context)


def frequency_means(results: Mapping[str, Any]) -> dict[str, float]:
    """Mean frequency MAE (cm^-1) per mode over all critical points (two minima and one saddle per reaction)."""
    s = pd.DataFrame(results["searches"])
    per = (2 * s["freq_mae_minima_cm"] + s["freq_mae_ts_cm"]) / 3
    return {mode: float(per[s["mode"] == mode].mean()) for mode in s["mode"].unique()}


def judge_frequencies(results: Mapping[str, Any]) -> C.Evidence | None:
    """Claim 4: Hessians improve harmonic frequencies at minima and saddle points."""
    if not results.get("searches"):
        return None
    s = paired_searches(results)
    if s.empty:
        return None
    per = {k: (2 * s[f"freq_mae_minima_cm_{k}"] + s[f"freq_mae_ts_cm_{k}"]) / 3 for k in ("ef", "efh")}
    ok = per["ef"].notna() & per["efh"].notna()
    # The models trained on these reactions' critical points (with their Hessians, for E+F+H): frequencies there
    # are in-sample and cannot test the claim. Only reactions outside the training set count as units.
    trained = set(pd.DataFrame(results.get("reference", [])).get("reaction", pd.Series(dtype=str)))
    held_out = ok & ~s["reaction"].isin(trained)
    logs = np.log(per["ef"][held_out] / per["efh"][held_out]).to_numpy()
    interval = iv.mean_interval(logs)
    if not held_out.any():
        interval = iv.Interval(float(np.log(per["ef"][ok] / per["efh"][ok]).mean()) if ok.any() else math.nan,
                               math.nan, math.nan, 0, "undefined: every searched reaction is a training reaction "
                               "(in-sample frequencies); the value is the in-sample mean log ratio")
    context = (f"frequency MAE at the models' own critical points over {int(ok.sum())} reactions searched by both "
               f"({int(held_out.sum())} outside the training set): E+F {per['ef'][ok].mean():.0f} cm^-1, "
               f"{results['judged']} {per['efh'][ok].mean():.0f} cm^-1; {int((~ok).sum())} reaction(s) left out "
               f"for a failed search; {_budget(results)}")
    return C.Evidence.from_interval("mean per-reaction log(E+F / E+F+H frequency MAE) on reactions outside the "
                                    "training set", interval, 0.0, _powered(results, int(held_out.sum())), context)


def judge_less_data(results: Mapping[str, Any]) -> C.Evidence | None:
    """Claim 5: with Hessians, fewer training data reach the same accuracy."""
    e = pd.DataFrame(results.get("curve_errors", []))
    if e.empty:
        return None
    efh_name = results["judged"]
    sizes = sorted(int(n) for n in e["n_reactions"].unique())
    if len(sizes) < 2:
        return None
    largest, smaller = sizes[-1], sizes[-2]
    by = e.groupby(["n_reactions", "mode", "reaction"])["mae_forces"].mean()
    try:
        target, efh = by.loc[(largest, E_AND_F)], by.loc[(smaller, efh_name)]
    except KeyError:   # a mode missing at one of the two sizes
        return None
    both = target.index.intersection(efh.index)
    interval = iv.mean_interval(np.log(target.loc[both] / efh.loc[both]).to_numpy())
    means = e.groupby(["n_reactions", "mode"])["mae_forces"].mean()
    context = (f"test force MAE: E+F with {largest} reactions {means.loc[(largest, E_AND_F)]:.3f} eV/A; "
               f"{efh_name} with "
               + ", ".join(f"{n} {means.loc[(n, efh_name)]:.3f}" for n in sizes if (n, efh_name) in means.index)
               + f" eV/A; {_budget(results)}")
    return C.Evidence.from_interval(f"mean per-reaction log(E+F force MAE with {largest} reactions / E+F+H force MAE "
                                    f"with {smaller})", interval, 0.0, _powered(results, len(both)), context)


def judge_cost(results: Mapping[str, Any]) -> C.Evidence | None:
    """Claim 6: Hessian training is more expensive."""
    costs = pd.DataFrame(results.get("costs", []))
    if costs.empty or not {E_AND_F, FULL} <= set(costs["mode"]):
        return None
    times = {m: costs.loc[costs["mode"] == m, "seconds_per_epoch"].to_numpy(float) for m in costs["mode"].unique()}
    n = min(len(times[E_AND_F]), len(times[FULL]))   # repeated timings are paired in the order they were taken
    interval = iv.mean_interval(np.log(times[FULL][:n] / times[E_AND_F][:n]))
    ratios = {m: float(np.mean(t) / np.mean(times[E_AND_F])) for m, t in times.items()}
    hvp = ", ".join(f"{k.removeprefix('E+F+H ')} {v:.1f}x" for k, v in ratios.items() if "HVP" in k)
    context = f"epoch time relative to E+F: full Hessian {ratios[FULL]:.1f}x" + (f"; {hvp}" if hvp else "")
    return C.Evidence.from_interval("mean log(seconds per epoch, full-Hessian E+F+H / E+F)", interval, 0.0,
                                    n >= MIN_TIMINGS, context)


_UNITS = (f"Units: the reactions, paired (both models see the same test set; every model is trained with one "
          f"seed). A negative needs >= {MIN_SEEDS} training seeds and >= {MIN_REACTIONS} reactions.")

CLAIMS: tuple[C.Claim, ...] = (
    C.Claim("1 extrapolation", "Models trained on critical points with Hessians predict energies, forces and "
                               "Hessians of non-equilibrium geometries better than models trained without them.",
            "statistic: for each of energy, forces and Hessian, the mean over reactions of log(E+F MAE / E+F+H MAE) "
            "on the reaction's NEB images and normal-mode displacements, with a Student t 95 % interval; the "
            "smallest of the three (conservative interval: smallest lower and smallest upper bound), since all "
            "three must improve. Threshold 0 (no improvement). " + _UNITS, judge_extrapolation),
    C.Claim("2 NEB barriers", "Hessian training improves reaction-path (NEB) barrier heights.",
            "climbing-image NEB + saddle refinement on each model; per reaction |barrier error| (a failed search is "
            "charged the error of predicting a zero barrier). Statistic: the smaller of mean(|err E+F|) - "
            "mean(|err E+F+H|) and mean(|zero-barrier err|) - mean(|err E+F+H|) in eV (E+F+H must beat E+F and "
            "also the zero-barrier baseline), each a Student t 95 % interval of the mean per-reaction difference, "
            "conservative interval of the minimum. Threshold 0 eV. " + _UNITS, judge_barriers),
    C.Claim("3 transition states", "Hessian training improves transition-state identification.",
            "a saddle search on the model counts when it ends with exactly one imaginary frequency and connects "
            "the reactant and product. Statistic: confirmed fraction of reactions with E+F+H minus that with E+F, "
            "Newcombe 95 % interval. Threshold 0. " + _UNITS, judge_transition_states),
    C.Claim("4 frequencies", "Hessian training improves harmonic vibrational frequencies at minima and saddles.",
            "frequency MAE at each model's own critical points vs the reference (two minima and the saddle of a "
            "reaction, weighted 2:1). Statistic: mean over reactions searched by both models and absent from the "
            "training set of log(E+F MAE / E+F+H MAE), Student t 95 % interval (frequencies at critical points the "
            "models trained on are in-sample and do not count). Threshold 0. " + _UNITS, judge_frequencies),
    C.Claim("5 less data", "Hessians reduce the amount of training data needed.",
            "learning curve over the number of reactions in training, tested on the unseen geometries of every "
            "reaction. Statistic: mean over test reactions of log(force MAE of E+F with the largest training set "
            "/ force MAE of E+F+H with the next smaller one), Student t 95 % interval; above 0 means E+F+H "
            "reaches E+F's accuracy with fewer reactions. Threshold 0. " + _UNITS, judge_less_data),
    C.Claim("6 cost", "The price is a more expensive training.",
            "seconds per epoch measured one after the other in one run. Statistic: mean log(full-Hessian E+F+H "
            "epoch time / E+F epoch time) over repeated paired timings, Student t 95 % interval; a single timing "
            f"is n = 1 (inconclusive). Threshold 0. A negative needs >= {MIN_TIMINGS} repeated timings. "
            "Hessian-vector-product ratios are reported.", judge_cost, timed=True),
)


def summary_figures(results: Mapping[str, Any]) -> dict[str, float]:
    """Measured figures for results.json (timings excluded: they vary between identical runs)."""
    figures: dict[str, float] = {}
    for mode, row in error_means(results).iterrows():
        for k, v in row.items():
            figures[f"test/{mode}/{k}"] = float(v)
    s = pd.DataFrame(results["searches"])
    for mode, d in s.groupby("mode"):
        figures[f"searches/{mode}/barrier_mae_eV"] = float(d["barrier_error_eV"].mean())
        figures[f"searches/{mode}/ts_confirmed"] = float(d["ts_confirmed"].sum())
    for mode, v in frequency_means(results).items():
        figures[f"searches/{mode}/frequency_mae_cm"] = v
    for row in results["curve"]:
        figures[f"curve/{row['mode']}/n={row['n_reactions']}/mae_forces"] = float(row["mae_forces"])
    return {k: v for k, v in figures.items() if np.isfinite(v)}
