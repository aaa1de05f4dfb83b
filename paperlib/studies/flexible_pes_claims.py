"""Claims of the flexible-PES study, their rules, and the figures written to ``results.json``.

``results`` (what the notebook hands to :func:`paperlib.analysis.claims.judge`) holds the records of
``errors`` (one per test frame, model and training size), ``profiles`` (one per scan image and model at the
largest size), ``paper_models`` (the paper's three models among those run) and ``local`` / ``global`` (the
names of the local model set and its global counterpart).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from paperlib.analysis import claims as C
from paperlib.sampling.azobenzene import MECHANISMS
from paperlib.studies.flexible_pes import KCAL_MOL_EV, TRANSITION, barrier_table, crossing, learning_curves

PAPER_LIMIT = 1000
"""The paper's claim: chemical accuracy with fewer than this many training points."""
HARDER = 1.5
"""A transition / near-equilibrium MAE ratio at or above this counts as 'transition regions are harder'."""
DIFFER = 1.5
"""A ratio between the largest and smallest per-mechanism MAE at or above this counts as 'mechanisms differ'."""
MIN_FRAMES = 5
"""Fewest test frames per region or mechanism for a per-region comparison to count."""
BETTER = 1.1
"""Global / local MAE ratio at or above this counts as 'local models are better'."""


def _largest(results: Mapping[str, Any]) -> pd.DataFrame:
    e = pd.DataFrame(results["errors"])
    return e[e["n_train"] == e["n_train"].max()]


def judge_global_accuracy(results: Mapping[str, Any]) -> tuple[str, str]:
    """Claim 1: GAP, SchNet and sGDML reach 1 kcal/mol energy MAE with fewer than 1000 training points."""
    cross = crossing(learning_curves(pd.DataFrame(results["errors"]))).set_index("model")
    paper = [m for m in results["paper_models"] if m in cross.index]
    largest = int(pd.DataFrame(results["errors"])["n_train"].max())
    parts = []
    for m, row in cross.iterrows():
        n = row["smallest size below 1 kcal/mol"]
        parts.append(f"{m}: " + (f"{int(n)} points" if np.isfinite(n) else
                                 f"not within {largest} ({row['energy MAE at largest (eV)'] / KCAL_MOL_EV:.2f} kcal/mol)"))
    measured = "smallest training size with test energy MAE < 1 kcal/mol: " + "; ".join(parts)
    reached = [m for m in paper if np.isfinite(cross.loc[m, "smallest size below 1 kcal/mol"])]
    if paper and len(reached) == len(paper):
        return C.REPRODUCED, measured
    if largest >= PAPER_LIMIT or not paper:
        return C.NOT_REPRODUCED, measured
    return C.INCONCLUSIVE, measured + f" (curves stop at {largest} < {PAPER_LIMIT} points)"


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


def judge_regions(results: Mapping[str, Any]) -> tuple[str, str]:
    """Claim 2: errors are larger in the transition regions than near equilibrium."""
    r = transition_ratios(results)
    measured = "transition / near-equilibrium MAE (energy, forces): " + "; ".join(
        f"{row.model} {row.err_energy:.2f}x, {row.mae_forces:.2f}x" for row in r.itertuples())
    if r.empty or r["transition frames"].min() < MIN_FRAMES or r["near-equilibrium frames"].min() < MIN_FRAMES:
        return C.INCONCLUSIVE, measured + f" (fewer than {MIN_FRAMES} test frames in a group)"
    harder = int((r[["err_energy", "mae_forces"]] >= HARDER).all(axis=1).sum())
    easier = int((r[["err_energy", "mae_forces"]] < 1.0).all(axis=1).sum())
    measured += f"; {harder} of {len(r)} models >= {HARDER}x in both"
    if harder > len(r) / 2:
        return C.REPRODUCED, measured
    if easier > len(r) / 2:
        return C.NOT_REPRODUCED, measured
    return C.INCONCLUSIVE, measured


def mechanism_spread(results: Mapping[str, Any]) -> pd.DataFrame:
    """Per model at the largest size: force MAE per mechanism's transition region (eV/A), test frame counts,
    and the spread (largest / smallest)."""
    d = _largest(results)
    d = d[d["region"].isin(MECHANISMS)]
    table = d.pivot_table(index="model", columns="region", values="mae_forces", aggfunc="mean")
    table = table.reindex(columns=list(MECHANISMS))
    table["spread"] = table.max(axis=1) / table.min(axis=1)
    counts = d[d["model"] == d["model"].iloc[0]]["region"].value_counts() if len(d) else pd.Series(dtype=int)
    table.attrs["frames"] = {m: int(counts.get(m, 0)) for m in MECHANISMS}
    return table


def judge_mechanisms(results: Mapping[str, Any]) -> tuple[str, str]:
    """Claim 3: errors differ between the three mechanisms (test frames and scan barriers)."""
    t = mechanism_spread(results)
    frames = t.attrs["frames"]
    b = barrier_table(pd.DataFrame(results["profiles"]))
    worst = b.loc[b.groupby("model")["barrier_error_eV"].idxmax()].set_index("model")["mechanism"]
    measured = (f"test frames per mechanism {frames}; force-MAE spread (largest / smallest mechanism): " +
                "; ".join(f"{m} {v:.2f}x" for m, v in t["spread"].items()) +
                "; largest scan-barrier error: " + "; ".join(f"{m} {v}" for m, v in worst.items()))
    if min(frames.values()) < MIN_FRAMES:
        return C.INCONCLUSIVE, measured + f" (fewer than {MIN_FRAMES} test frames for a mechanism)"
    differ = int((t["spread"] >= DIFFER).sum())
    if differ > len(t) / 2:
        return C.REPRODUCED, measured
    if int((t["spread"] < 1.2).sum()) > len(t) / 2:
        return C.NOT_REPRODUCED, measured
    return C.INCONCLUSIVE, measured


def judge_local(results: Mapping[str, Any]) -> tuple[str, str]:
    """Claim 4: several local models do better than one global model on the same data."""
    d = _largest(results)
    m = d.groupby("model")[["err_energy", "mae_forces"]].mean()
    g, loc = m.loc[results["global"]], m.loc[results["local"]]
    ratio = g / loc
    measured = (f"{results['global']} vs {results['local']} at {int(d['n_train'].max())} points: energy MAE "
                f"{g['err_energy']:.4f} vs {loc['err_energy']:.4f} eV, force MAE {g['mae_forces']:.4f} vs "
                f"{loc['mae_forces']:.4f} eV/A (global / local {ratio['err_energy']:.2f}x, {ratio['mae_forces']:.2f}x)")
    if (ratio >= BETTER).all():
        return C.REPRODUCED, measured
    if (ratio < 1.0).all():
        return C.NOT_REPRODUCED, measured
    return C.INCONCLUSIVE, measured


CLAIMS: tuple[C.Claim, ...] = (
    C.Claim("1 global accuracy", "GAP/SOAP, SchNet and sGDML reach chemical accuracy (1 kcal/mol) on the whole "
                                 "surface with fewer than 1000 training points.",
            f"learning curves on one random test set: reproduced if each of the paper's models that ran reaches a "
            f"test energy MAE below 1 kcal/mol ({KCAL_MOL_EV} eV) at some size tried; not reproduced if one does not "
            f"although the curves reach {PAPER_LIMIT} points; otherwise inconclusive.", judge_global_accuracy),
    C.Claim("2 transition regions", "Errors depend on the region: transition regions are harder than the "
                                    "near-equilibrium regions.",
            f"at the largest training size, MAE of test frames tagged rotation/inversion/inversion-assisted rotation "
            f"over frames tagged cis/trans: reproduced if the ratio is >= {HARDER} for energies and forces for most "
            f"models; not reproduced if it is below 1 for most; inconclusive otherwise or with fewer than "
            f"{MIN_FRAMES} test frames in a group.", judge_regions),
    C.Claim("3 mechanisms", "Errors differ between the three transition mechanisms.",
            f"at the largest training size, force MAE of test frames per mechanism region: reproduced if the largest "
            f"over the smallest is >= {DIFFER} for most models; not reproduced if it is below 1.2 for most; "
            f"inconclusive otherwise or with fewer than {MIN_FRAMES} test frames for a mechanism. The mechanism with "
            "the largest scan-barrier error is reported.", judge_mechanisms),
    C.Claim("4 local models", "Several local models (one per region) may do better than one global model.",
            f"one model per region group (cis, trans, transition), chosen by the region rule, vs the same algorithm "
            f"trained once on the same frames: reproduced if global / local test MAE is >= {BETTER} for energies "
            "and forces; not reproduced if below 1 for both; otherwise inconclusive.", judge_local),
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
    return {k: v for k, v in figures.items() if np.isfinite(v)}
