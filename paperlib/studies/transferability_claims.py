"""Claims of the transferability study, their rules, and the figures written to ``results.json``.

``results`` (what the notebook hands to :func:`paperlib.analysis.claims.judge`) holds the records of
``errors`` (:func:`~paperlib.studies.transferability_analysis.fixed_errors`: one per model and fixed evaluation
set) and ``md`` (:func:`~paperlib.studies.transferability_analysis.md_table`: one per MD run), and ``liquid``, the name of the
training liquid.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from paperlib.analysis import claims as C
from paperlib.studies.transferability import ALGORITHM_LABELS, AUTOMATIC, FOUNDATION

TOL = 0.05
"""Score differences below this (the score runs from 0 to 1) count as no difference."""
WORSE = 2.0
"""A first-generation Deep Potential scoring below MACE's / WORSE counts as 'needs further training'."""
NEAR_BEST = 1.25
"""Models with a fixed test-set force MAE within this factor of the best count as 'accurate by the test set'."""
STABLE = 0.9
"""Mean survived fraction at or above this counts as 'stable'."""
LOST = 0.2
"""A drop of the mean survived fraction by at least this counts as 'stability lost'."""
MIN_DURATION_FS = 5000.0
"""Runs shorter than this (fs) cannot show that a model is stable, only that it is not: a verdict that rests on
runs surviving is inconclusive below it."""
CHANGE = {"EC": "shape", "PC": "shape", "EMC": "shape", "DMC": "shape", "VC": "functional"}
"""How an unseen solvent differs from the alkyl carbonates: every saturated alkyl carbonate has the same bonding
motifs (carbonate group, sp3 C-H and C-O, ring or chain), so a new one changes only the molecular shape; vinylene
carbonate adds a C=C double bond conjugated to the carbonate, a new functional chemistry."""


def _md(results: Mapping[str, Any]) -> pd.DataFrame:
    md = pd.DataFrame(results["md"])
    return md[md["origin"] != FOUNDATION]


def _scores(results: Mapping[str, Any]) -> pd.DataFrame:
    """Score and survived fraction per (algorithm, origin) on the training liquid."""
    md = _md(results)
    return md[md["liquid"] == results["liquid"]].set_index(["algorithm", "origin"])


def _get(s: pd.DataFrame, alg: str, origin: str, col: str = "score") -> float:
    return float(s.loc[(alg, origin), col]) if (alg, origin) in s.index else np.nan


def judge_simple_sets(results: Mapping[str, Any]) -> tuple[str, str]:
    """Claim 1: MACE is good with the simple set; Deep Potential needs iterative training."""
    s = _scores(results)
    mace_surv, mace = _get(s, "mace", "simple", "survived fraction"), _get(s, "mace", "simple")
    dp_surv, dp = _get(s, "deepmd", "simple", "survived fraction"), _get(s, "deepmd", "simple")
    dp_iter = _get(s, "deepmd", AUTOMATIC + "deepmd")
    measured = (f"simple set: MACE survived {mace_surv:.2f} of the run (score {mace:.3f}), Deep Potential "
                f"{dp_surv:.2f} (score {dp:.3f}); Deep Potential after its own automatic iteration: score {dp_iter:.3f}")
    if np.isnan([mace, dp, dp_iter]).any():
        return C.INCONCLUSIVE, measured + " (a model of the rule was not run)"
    if mace_surv < 1.0:
        return C.NOT_REPRODUCED, measured
    needs = dp_surv < 1.0 or dp < mace / WORSE
    if not needs:
        return C.NOT_REPRODUCED, measured
    if dp_iter > dp + TOL:
        return C.REPRODUCED, measured
    return C.INCONCLUSIVE, measured + " (the iteration did not help Deep Potential)"


def gains(results: Mapping[str, Any]) -> pd.DataFrame:
    """Per algorithm: score gains over its simple-set model from the corrective set, from its own automatic set
    and from the other algorithm's automatic set (NaN where not run)."""
    s = _scores(results)
    rows = []
    algorithms = sorted({a for a, _ in s.index})
    for alg in algorithms:
        base = _get(s, alg, "simple")
        others = [a for a in algorithms if a != alg]
        rows.append({"algorithm": alg, "simple": base,
                     "corrective gain": _get(s, alg, "corrective") - base,
                     "own automatic gain": _get(s, alg, AUTOMATIC + alg) - base,
                     "other's automatic gain": (np.nanmean([_get(s, alg, AUTOMATIC + o) for o in others]) - base
                                                if others else np.nan)})
    return pd.DataFrame(rows)


def judge_corrective(results: Mapping[str, Any]) -> tuple[str, str]:
    """Claim 2: corrective configurations transfer between algorithms, automatic ones not necessarily."""
    g = gains(results)
    parts = [f"{ALGORITHM_LABELS.get(alg, alg)} {c:+.3f}, {own:+.3f}, {other:+.3f}" for alg, c, own, other in
             zip(g["algorithm"], g["corrective gain"], g["own automatic gain"], g["other's automatic gain"])]
    measured = "score gain over the simple set (corrective, own automatic, other's automatic): " + "; ".join(parts)
    cols = ["corrective gain", "other's automatic gain"]
    if g.empty or g[cols].isna().any().any():
        return C.INCONCLUSIVE, measured + " (needs both algorithms with every origin)"
    s = _scores(results)
    if s["score"].max() - s["score"].min() < TOL:
        return C.INCONCLUSIVE, measured + f" (every score within {TOL})"
    transfers = bool((g["corrective gain"] >= -TOL).all())
    foreign_worse = bool((g["other's automatic gain"] < g["corrective gain"] - TOL).any())
    if transfers and foreign_worse:
        return C.REPRODUCED, measured
    return C.NOT_REPRODUCED, measured


def discordant_pairs(results: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Pairs (better by test, better by MD) of models on the training liquid where the fixed test set and MD
    disagree: the first has a test force MAE at least 10% lower but an MD score at least TOL lower."""
    e = pd.DataFrame(results["errors"])
    test = e[(e["set"] == "test") & (e["origin"] != FOUNDATION)].set_index(["algorithm", "origin"])["force MAE (eV/Å)"]
    s = _scores(results)["score"]
    out = []
    for a in s.index:
        for b in s.index:
            if a in test.index and b in test.index and test[a] < 0.9 * test[b] and s[a] < s[b] - TOL:
                out.append(("/".join(a), "/".join(b)))
    return out


def _short(results: Mapping[str, Any]) -> bool:
    return float(pd.DataFrame(results["md"])["duration (fs)"].min()) < MIN_DURATION_FS


def judge_md_stringent(results: Mapping[str, Any]) -> tuple[str, str]:
    """Claim 3: MD-based evaluation is more stringent than fixed test-set errors."""
    e = pd.DataFrame(results["errors"])
    test = e[(e["set"] == "test") & (e["origin"] != FOUNDATION)].set_index(["algorithm", "origin"])["force MAE (eV/Å)"]
    s = _scores(results)
    accurate = test[test <= NEAR_BEST * test.min()].index
    failing = [("/".join(k)) for k in accurate if k in s.index and s.loc[k, "survived fraction"] < 1.0]
    ratio = (s["own-trajectory force MAE (eV/Å)"] / test.reindex(s.index)).median()
    pairs = discordant_pairs(results)
    measured = (f"{len(failing)} of {len(accurate)} models within {NEAR_BEST}x of the best test force MAE fail in MD"
                + (f" ({', '.join(failing)})" if failing else "")
                + f"; {len(pairs)} model pairs ranked oppositely by test error and MD score; median own-trajectory /"
                  f" test force MAE {ratio:.2f}")
    if failing or pairs:
        return C.REPRODUCED, measured
    if _short(results):
        return C.INCONCLUSIVE, measured + f" (runs shorter than {MIN_DURATION_FS:g} fs)"
    return C.NOT_REPRODUCED, measured


def unseen_table(results: Mapping[str, Any]) -> pd.DataFrame:
    """Per unseen liquid: kind of change, runs, mean survived fraction and own-trajectory force MAE, over the
    models that survived the training liquid."""
    md = _md(results)
    s = _scores(results)
    stable_models = set(s.index[s["survived fraction"] >= 1.0])
    rows = []
    for liquid, d in md[md["liquid"] != results["liquid"]].groupby("liquid"):
        d = d[[(a, o) in stable_models for a, o in zip(d["algorithm"], d["origin"])]]
        rows.append({"liquid": liquid, "change": CHANGE.get(liquid, "functional"), "runs": len(d),
                     "mean survived fraction": float(d["survived fraction"].mean()) if len(d) else np.nan,
                     "own-trajectory force MAE (eV/Å)": float(d["own-trajectory force MAE (eV/Å)"].mean())
                     if len(d) else np.nan})
    return pd.DataFrame(rows)


def judge_unseen(results: Mapping[str, Any]) -> tuple[str, str]:
    """Claim 4: stability survives a change of molecular shape but not of functional chemistry."""
    u = unseen_table(results)
    if u.empty:
        return C.INCONCLUSIVE, "no MD runs of unseen liquids"
    measured = "mean survived fraction on unseen liquids (models stable on the training liquid): " + "; ".join(
        f"{r['liquid']} ({r['change']}) {r['mean survived fraction']:.2f} over {r['runs']} runs"
        for r in u.to_dict("records"))
    u = u[u["runs"] > 0]
    shape = u[u["change"] == "shape"]["mean survived fraction"]
    functional = u[u["change"] == "functional"]["mean survived fraction"]
    if shape.empty or functional.empty:
        return C.INCONCLUSIVE, measured + " (needs a shape-change and a functional-change liquid with stable models)"
    if shape.mean() >= STABLE and functional.mean() <= shape.mean() - LOST:
        return C.REPRODUCED, measured
    if functional.mean() > shape.mean() - LOST and _short(results):
        return C.INCONCLUSIVE, measured + f" (runs shorter than {MIN_DURATION_FS:g} fs)"
    return C.NOT_REPRODUCED, measured


CLAIMS = (
    C.Claim("simple_sets",
            "MACE performs well with even the simplest training sets; the Deep Potential model needs further "
            "iterative training to describe the liquid.",
            f"Reproduced if MACE trained on the simple set runs the whole MD of the training liquid, Deep Potential "
            f"trained on it fails or scores below MACE's / {WORSE:g}, and Deep Potential trained with its own "
            f"automatic set scores more than {TOL} higher. Not reproduced if MACE fails or Deep Potential is not "
            "worse.", judge_simple_sets),
    C.Claim("corrective_transfer",
            "Configurations designed by human intuition to correct deficiencies transfer well between algorithms; "
            "configurations generated automatically by one MLIP do not necessarily help another.",
            f"Reproduced if adding the corrective set changes no algorithm's score by less than -{TOL}, and for at "
            f"least one algorithm the other algorithm's automatic set gains at least {TOL} less than the corrective "
            f"set. Inconclusive if all scores lie within {TOL}.", judge_corrective),
    C.Claim("md_stringent",
            "Evaluation by MD is more stringent than fixed test-set errors.",
            f"Reproduced if a model within {NEAR_BEST}x of the best fixed test-set force MAE fails in MD, or a pair "
            f"of models is ranked oppositely (one has >= 10% lower test force MAE but an MD score >= {TOL} lower); "
            f"otherwise not reproduced, or inconclusive with runs shorter than {MIN_DURATION_FS:g} fs.",
            judge_md_stringent),
    C.Claim("unseen_molecules",
            "Stability is conserved for small changes of molecular shape, but not for changes of functional "
            "chemistry.",
            f"Over models that survive the training liquid: reproduced if their mean survived fraction is >= "
            f"{STABLE} on shape-change liquids (PC, DMC) and at least {LOST} lower on functional-change ones (VC); "
            f"a functional-change liquid that stays stable is inconclusive with runs shorter than "
            f"{MIN_DURATION_FS:g} fs.",
            judge_unseen),
)


def figures(results: Mapping[str, Any]) -> dict[str, float]:
    """Headline figures for the dashboard: per model on the training liquid, the MD score and the test force
    MAE (eV/A)."""
    out = {}
    s = _scores(results)
    e = pd.DataFrame(results["errors"])
    test = e[e["set"] == "test"].set_index(["algorithm", "origin"])["force MAE (eV/Å)"]
    for (alg, origin), row in s.iterrows():
        out[f"score {alg} {origin}"] = float(row["score"])
        if (alg, origin) in test.index:
            out[f"test force MAE {alg} {origin} (eV/A)"] = float(test[(alg, origin)])
    return out
