"""Claims of the Hessian-training study, their rules, and the figures written to ``results.json``.

``results`` (what the notebook hands to :func:`paperlib.analysis.claims.judge`) holds the records of
``errors`` (one per test geometry and mode), ``searches`` (one per reaction and mode), ``curve`` (one per
training size and mode), ``costs`` (one per timed mode) and ``judged``, the name of the E+F+H mode compared
with E+F.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from paperlib.analysis import claims as C
from paperlib.studies.hessian_training import E_AND_F, METRICS, efh_mode

IMPROVES = 1.2
"""A ratio E+F error / E+F+H error at or above this counts as an improvement."""
COSTLIER = 1.5
"""A full-Hessian epoch at least this many times an E+F epoch counts as 'more expensive'."""


def error_means(results: Mapping[str, Any]) -> pd.DataFrame:
    """Mean test errors per mode (rows) and metric (columns)."""
    return pd.DataFrame(results["errors"]).groupby("mode")[list(METRICS)].mean()


def judge_extrapolation(results: Mapping[str, Any]) -> tuple[str, str]:
    """Claim 1: Hessians improve energies, forces and Hessians away from the critical points."""
    m, efh = error_means(results), results["judged"]
    ratios = m.loc[E_AND_F] / m.loc[efh]
    n = int((pd.DataFrame(results["errors"])["mode"] == efh).sum())
    measured = (f"E+F / {efh} MAE over {n} unseen geometries: " +
                ", ".join(f"{METRICS[k]} {ratios[k]:.2f}x" for k in METRICS))
    if (ratios >= IMPROVES).all():
        return C.REPRODUCED, measured
    if (ratios < IMPROVES).all():
        return C.NOT_REPRODUCED, measured
    return C.INCONCLUSIVE, measured


def _searches(results: Mapping[str, Any], mode: str) -> pd.DataFrame:
    s = pd.DataFrame(results["searches"])
    return s[s["mode"] == mode]


def judge_barriers(results: Mapping[str, Any]) -> tuple[str, str]:
    """Claim 2: Hessians improve NEB barrier heights."""
    ef, efh = _searches(results, E_AND_F), _searches(results, results["judged"])
    mae = {k: float(np.nanmean(d["barrier_error_eV"])) if d["barrier_error_eV"].notna().any() else np.inf
           for k, d in (("ef", ef), ("efh", efh))}
    fails = {k: int(d["barrier_error_eV"].isna().sum()) for k, d in (("ef", ef), ("efh", efh))}
    measured = (f"barrier MAE over {len(ef)} reactions: E+F {mae['ef']:.3f} eV, {results['judged']} "
                f"{mae['efh']:.3f} eV (failed searches {fails['ef']} / {fails['efh']})")
    if mae["efh"] * IMPROVES <= mae["ef"] and fails["efh"] <= fails["ef"]:
        return C.REPRODUCED, measured
    if mae["efh"] > mae["ef"] or fails["efh"] > fails["ef"]:
        return C.NOT_REPRODUCED, measured
    return C.INCONCLUSIVE, measured


def judge_transition_states(results: Mapping[str, Any]) -> tuple[str, str]:
    """Claim 3: with Hessians, a saddle search on the model finds the transition state more reliably."""
    ef, efh = _searches(results, E_AND_F), _searches(results, results["judged"])
    found = {k: int(d["ts_confirmed"].sum()) for k, d in (("ef", ef), ("efh", efh))}
    rmsd = {k: float(np.nanmean(d["ts_rmsd_A"])) if d["ts_rmsd_A"].notna().any() else np.inf
            for k, d in (("ef", ef), ("efh", efh))}
    measured = (f"confirmed first-order saddles (1 imaginary mode, connects reactant and product): E+F "
                f"{found['ef']}/{len(ef)}, {results['judged']} {found['efh']}/{len(efh)}; mean RMSD to the "
                f"reference saddle {rmsd['ef']:.3f} / {rmsd['efh']:.3f} A")
    if found["efh"] > found["ef"]:
        return C.REPRODUCED, measured
    if found["efh"] < found["ef"]:
        return C.NOT_REPRODUCED, measured
    if rmsd["efh"] * IMPROVES <= rmsd["ef"]:
        return C.REPRODUCED, measured
    if rmsd["efh"] > rmsd["ef"]:
        return C.NOT_REPRODUCED, measured
    return C.INCONCLUSIVE, measured


def frequency_means(results: Mapping[str, Any]) -> dict[str, float]:
    """Mean frequency MAE (cm^-1) per mode over all critical points (two minima and one saddle per reaction)."""
    s = pd.DataFrame(results["searches"])
    per = (2 * s["freq_mae_minima_cm"] + s["freq_mae_ts_cm"]) / 3
    return {mode: float(per[s["mode"] == mode].mean()) for mode in s["mode"].unique()}


def judge_frequencies(results: Mapping[str, Any]) -> tuple[str, str]:
    """Claim 4: Hessians improve harmonic frequencies at minima and saddle points."""
    f = frequency_means(results)
    ef, efh = f[E_AND_F], f[results["judged"]]
    measured = f"frequency MAE at the models' own critical points: E+F {ef:.0f} cm^-1, {results['judged']} {efh:.0f} cm^-1"
    if not np.isfinite(ef) or not np.isfinite(efh):
        return C.INCONCLUSIVE, measured + " (a search failed)"
    if efh * IMPROVES <= ef:
        return C.REPRODUCED, measured
    if efh > ef:
        return C.NOT_REPRODUCED, measured
    return C.INCONCLUSIVE, measured


def judge_less_data(results: Mapping[str, Any]) -> tuple[str, str]:
    """Claim 5: with Hessians, fewer training data reach the same accuracy."""
    c = pd.DataFrame(results["curve"])
    largest = int(c["n_reactions"].max())
    ef = c[c["mode"] == E_AND_F].set_index("n_reactions")["mae_forces"]
    efh = c[c["mode"] == results["judged"]].set_index("n_reactions")["mae_forces"]
    target = float(ef.loc[largest])
    reached = [int(n) for n, v in efh.sort_index().items() if v <= target]
    first = reached[0] if reached else None
    measured = (f"E+F force MAE with all {largest} reactions: {target:.3f} eV/A; {results['judged']} reaches it with "
                + (f"{first} reaction(s)" if first else "none of the sizes tried"))
    if first is not None and first < largest:
        return C.REPRODUCED, measured
    if first is None:
        return C.NOT_REPRODUCED, measured
    return C.INCONCLUSIVE, measured


def judge_cost(results: Mapping[str, Any]) -> tuple[str, str]:
    """Claim 6: Hessian training is more expensive."""
    costs = pd.DataFrame(results["costs"]).set_index("mode")["ratio_to_E+F"]
    full = float(costs[efh_mode("full", 0)])
    hvp = ", ".join(f"{k.removeprefix('E+F+H ')} {v:.1f}x" for k, v in costs.items() if "HVP" in k)
    measured = f"epoch time relative to E+F: full Hessian {full:.1f}x; {hvp}"
    return (C.REPRODUCED if full >= COSTLIER else C.NOT_REPRODUCED), measured


CLAIMS: tuple[C.Claim, ...] = (
    C.Claim("1 extrapolation", "Models trained on critical points with Hessians predict energies, forces and "
                               "Hessians of non-equilibrium geometries better than models trained without them.",
            f"mean errors over the NEB images and normal-mode displacements of every reaction, E+F vs the judged "
            f"E+F+H model: reproduced if the E+F / E+F+H ratio is >= {IMPROVES} for energy, forces and Hessian; "
            f"not reproduced if it is below {IMPROVES} for all three; otherwise inconclusive.", judge_extrapolation),
    C.Claim("2 NEB barriers", "Hessian training improves reaction-path (NEB) barrier heights.",
            f"climbing-image NEB + saddle refinement on each model, barrier MAE over reactions: reproduced if E+F+H's "
            f"MAE is at least {IMPROVES}x smaller than E+F's with no more failed searches; not reproduced if it is "
            "larger or fails more often; otherwise inconclusive.", judge_barriers),
    C.Claim("3 transition states", "Hessian training improves transition-state identification.",
            "a saddle search on the model counts when it ends with exactly one imaginary frequency and connects "
            "the reactant and product: reproduced if E+F+H succeeds on more reactions than E+F (or as many, with "
            f"a mean saddle RMSD to the reference at least {IMPROVES}x smaller); not reproduced if on fewer (or as "
            "many with a larger RMSD); otherwise inconclusive.", judge_transition_states),
    C.Claim("4 frequencies", "Hessian training improves harmonic vibrational frequencies at minima and saddles.",
            f"frequency MAE at each model's own critical points vs the reference: reproduced if E+F+H's MAE is at "
            f"least {IMPROVES}x smaller than E+F's; not reproduced if larger; otherwise inconclusive.",
            judge_frequencies),
    C.Claim("5 less data", "Hessians reduce the amount of training data needed.",
            "learning curve over the number of reactions in training (fixed test set of every reaction): "
            "reproduced if E+F+H reaches E+F's force MAE at the largest size with fewer reactions; not reproduced "
            "if it never reaches it; inconclusive if only at the largest size.", judge_less_data),
    C.Claim("6 cost", "The price is a more expensive training.",
            f"seconds per epoch measured one after the other in one run: reproduced if a full-Hessian epoch takes "
            f">= {COSTLIER}x an E+F epoch; otherwise not reproduced. Hessian-vector-product ratios are reported.",
            judge_cost, timed=True),
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
