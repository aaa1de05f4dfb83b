"""Claims of the transferability study, their rules, and the figures written to ``results.json``.

``results`` (``Results.claims_input()`` of :mod:`paperlib.studies.transferability`, what
:func:`paperlib.analysis.claims.judge` reads) holds the records of
``errors`` (:func:`~paperlib.studies.transferability_analysis.fixed_errors`: one per model and fixed evaluation
set), ``configurations`` (:func:`~paperlib.studies.transferability_analysis.configuration_errors`: one per model
and configuration of the fixed test set of the training liquid), ``md``
(:func:`~paperlib.studies.transferability_analysis.md_table`: one per MD run), and ``liquid``, the name of the
training liquid.

Replicates. A record may carry a training seed (column :data:`SEED`) and an MD seed (:data:`MD_SEED`); records
without them count as training seed 0 and MD seed 0. The profiles set ``training_seeds``, ``md_seeds`` and
``unseen_md_seeds``: at ``default`` every model is trained once and runs three MD runs of the training liquid. A model's score for one training
seed is the mean over its MD seeds, and the training seed is the independent unit of every claim judged by the
score, so with one seed those claims have n = 1 and stay inconclusive.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from paperlib.analysis import claims as C
from paperlib.analysis import intervals as I

ALGORITHMS = ("mace", "deepmd")
ALGORITHM_LABELS = {"mace": "MACE", "deepmd": "Deep Potential"}
AUTOMATIC = "automatic_"
"""Prefix of the origin of an automatic set: ``automatic_<algorithm>`` was harvested from that algorithm's MD."""
ORIGINS = ("simple", "corrective", AUTOMATIC + "mace", AUTOMATIC + "deepmd")
ORIGIN_LABELS = {"simple": "simple", "corrective": "simple + corrective",
                 AUTOMATIC + "mace": "simple + automatic (MACE MD)",
                 AUTOMATIC + "deepmd": "simple + automatic (Deep Potential MD)"}
FOUNDATION = "foundation"
"""Origin of the foundation model, evaluated beside the trained models and left out of the claims."""

TOL = 0.05
"""Score differences below this (the score runs from 0 to 1) count as no difference."""
WORSE = 2.0
"""A first-generation Deep Potential scoring below MACE's / WORSE counts as 'needs further training'."""
NEAR_BEST = 1.25
"""Models with a fixed test-set force MAE within this factor of the best count as 'accurate by the test set'."""
LOWER = 0.9
"""A fixed test-set force MAE at most this fraction of another model's counts as 'lower by the test set'."""
LOST = 0.2
"""A drop of the share of MD runs that complete by at least this counts as 'stability lost'; a drop below it as
'stability conserved'."""
MIN_DURATION_FS = 5000.0
"""Runs shorter than this (fs) cannot show that a model is stable, only that it is not: a negative verdict
needs runs at least this long."""
MIN_TRAINING_SEEDS = 3
"""Training seeds per (algorithm, training set) a negative verdict needs."""
MIN_MD_SEEDS = 3
"""MD seeds per model and liquid a negative verdict needs."""
MIN_CONFIGURATIONS = 10
"""Test configurations below which the bootstrap over configurations is not computed (it under-covers)."""
SEED, MD_SEED = "seed", "MD seed"
"""Optional record columns: the training seed of a model and the seed of an MD run (0 where absent)."""
BUDGET = (f">= {MIN_TRAINING_SEEDS} training seeds per (algorithm, training set) and, per model, >= {MIN_MD_SEEDS} "
          f"MD seeds of >= {MIN_DURATION_FS / 1000:g} ps each (met at the gpu profile; the default profile trains "
          "each model once and runs sub-picosecond MD, so no negative is powered there)")
CHANGE = {"EC": "shape", "PC": "shape", "EMC": "shape", "DMC": "shape", "VC": "functional"}
"""How an unseen solvent differs from the alkyl carbonates: every saturated alkyl carbonate has the same bonding
motifs (carbonate group, sp3 C-H and C-O, ring or chain), so a new one changes only the molecular shape; vinylene
carbonate adds a C=C double bond conjugated to the carbonate, a new functional chemistry."""

_MEANS = ["score", "survived fraction", "own-trajectory force MAE (eV/Å)", "reference-MD force MAE (eV/Å)"]
SCORED = ("simple_sets", "corrective_transfer", "md_stringent")
"""The claims judged by the MD score (whose verdicts depend on its force scale)."""


def _with_seeds(table: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    table = table.copy()
    for c in columns:
        if c not in table:
            table[c] = 0
    return table


def _md(results: Mapping[str, Any]) -> pd.DataFrame:
    """MD records of the trained models (the foundation model left out), with seed columns filled in."""
    md = pd.DataFrame(results["md"])
    return _with_seeds(md[md["origin"] != FOUNDATION], (SEED, MD_SEED))


def _per_seed(results: Mapping[str, Any]) -> pd.DataFrame:
    """Score, survived fraction and own-trajectory force MAE per (algorithm, origin, training seed) on the
    training liquid, each the mean over the model's MD seeds."""
    md = _md(results)
    md = md[md["liquid"] == results["liquid"]]
    return md.groupby(["algorithm", "origin", SEED])[[c for c in _MEANS if c in md]].mean()


def _scores(results: Mapping[str, Any]) -> pd.DataFrame:
    """Score and survived fraction per (algorithm, origin) on the training liquid (mean over seeds)."""
    return _per_seed(results).groupby(["algorithm", "origin"]).mean()


def _seed_table(results: Mapping[str, Any], col: str = "score") -> pd.DataFrame:
    """``col`` per training seed (rows) and model (columns, (algorithm, origin))."""
    return _per_seed(results)[col].unstack(["algorithm", "origin"])


def _get(s: pd.DataFrame, alg: str, origin: str, col: str = "score") -> float:
    return float(s.loc[(alg, origin), col]) if (alg, origin) in s.index else np.nan


def _powered(md: pd.DataFrame) -> bool:
    """Whether the runs ``md`` meet :data:`BUDGET`."""
    if md.empty:
        return False
    seeds = md.groupby(["algorithm", "origin"])[SEED].nunique().min()
    md_seeds = md.groupby(["algorithm", "origin", SEED, "liquid"])[MD_SEED].nunique().min()
    return bool(seeds >= MIN_TRAINING_SEEDS and md_seeds >= MIN_MD_SEEDS
                and md["duration (fs)"].min() >= MIN_DURATION_FS)


def _training_powered(results: Mapping[str, Any]) -> bool:
    md = _md(results)
    return _powered(md[md["liquid"] == results["liquid"]])


def _finite(*xs: float) -> bool:
    return all(x is not None and math.isfinite(x) for x in xs)


def _margins_over_seeds(margins: Mapping[str, pd.Series]) -> I.Interval:
    """Per-seed margins of each part -> the Student t interval of each part's mean margin, combined by
    :func:`~paperlib.analysis.intervals.all_of`."""
    return I.all_of(lambda c: [I.mean_interval(m.to_numpy(), c) for m in margins.values()],
                    "margins over their thresholds (" + "; ".join(margins) + "), each the mean over training seeds")


# -- claim 1 --------------------------------------------------------------------------------------
def judge_simple_sets(results: Mapping[str, Any]) -> C.Evidence | None:
    """Claim 1: MACE is good with the simple set; Deep Potential needs iterative training."""
    t = _seed_table(results)
    need = [("mace", "simple"), ("deepmd", "simple"), ("deepmd", AUTOMATIC + "deepmd")]
    if any(k not in t.columns for k in need):
        return None
    mace_best = t[[c for c in t.columns if c[0] == "mace"]].max(axis=1)
    t = t[need].assign(best=mace_best).dropna()
    mace, dp, dp_iter = (t[k] for k in need)
    margins = {"MACE simple - best MACE + TOL": mace - t["best"] + TOL,
               f"MACE simple - {WORSE:g} x DP simple": mace - WORSE * dp,
               "DP own automatic - DP simple - TOL": dp_iter - dp - TOL}
    iv = _margins_over_seeds(margins)
    s = _scores(results)
    f = C.number_text
    context = (f"mean over {len(t)} training seed(s): MACE simple-set score {f(mace.mean())} (best MACE "
               f"{f(t['best'].mean())}, survived {f(_get(s, 'mace', 'simple', 'survived fraction'))}); "
               f"Deep Potential simple-set score {f(dp.mean())} (survived "
               f"{f(_get(s, 'deepmd', 'simple', 'survived fraction'))}), after its own automatic iteration "
               f"{f(dp_iter.mean())}")
    return C.Evidence.from_interval("smallest margin (score units) of: MACE simple-set score above its best score "
                                    f"less {TOL}; MACE simple-set score above {WORSE:g} x Deep Potential's; Deep "
                                    f"Potential's gain from its own automatic set above {TOL}",
                                    iv, 0.0, _training_powered(results), context)


# -- claim 2 --------------------------------------------------------------------------------------
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


def judge_corrective(results: Mapping[str, Any]) -> C.Evidence | None:
    """Claim 2: corrective configurations transfer between algorithms, automatic ones not necessarily."""
    t = _seed_table(results)
    algorithms = sorted({a for a, o in t.columns if o == "simple"})
    if len(algorithms) < 2:
        return None
    need = [(a, o) for a in algorithms for o in ("simple", "corrective")]
    need += [(a, AUTOMATIC + b) for a in algorithms for b in algorithms if b != a]
    if any(k not in t.columns for k in need):
        return None
    t = t[need].dropna()
    corrective_gain = pd.concat([t[(a, "corrective")] - t[(a, "simple")] for a in algorithms], axis=1)
    foreign = pd.concat([t[(a, "corrective")] - t[[(a, AUTOMATIC + b) for b in algorithms if b != a]].mean(axis=1)
                         for a in algorithms], axis=1)
    margins = {"smallest corrective gain + TOL": corrective_gain.min(axis=1) + TOL,
               "largest (corrective - other's automatic) - TOL": foreign.max(axis=1) - TOL}
    iv = _margins_over_seeds(margins)
    g = gains(results)
    context = "mean score gain over the simple set (corrective, own automatic, other's automatic): " + "; ".join(
        f"{ALGORITHM_LABELS.get(a, a)} {C.number_text(c)}, {C.number_text(own)}, {C.number_text(other)}"
        for a, c, own, other in zip(g["algorithm"], g["corrective gain"], g["own automatic gain"],
                                    g["other's automatic gain"]))
    return C.Evidence.from_interval(f"smallest margin (score units) of: every algorithm's corrective-set gain above "
                                    f"-{TOL}; for the algorithm where it is largest, corrective-set score above the "
                                    f"score with the other algorithm's automatic set by more than {TOL}",
                                    iv, 0.0, _training_powered(results), context)


# -- claim 3 --------------------------------------------------------------------------------------
def _test_mae(results: Mapping[str, Any]) -> pd.Series:
    e = pd.DataFrame(results["errors"])
    e = e[(e["set"] == "test") & (e["origin"] != FOUNDATION)]
    return e.groupby(["algorithm", "origin"])["force MAE (eV/Å)"].mean()


def judge_md_stringent(results: Mapping[str, Any]) -> C.Evidence | None:
    """Claim 3: MD-based evaluation is more stringent than fixed test-set errors."""
    if "configurations" not in results:
        return None
    cfg = pd.DataFrame(results["configurations"])
    if cfg.empty:
        return None
    cfg = cfg[(cfg["set"] == "test") & (cfg["origin"] != FOUNDATION)]
    # summed absolute force error of each configuration: ratios of sums are ratios of force MAEs
    cfg = cfg.assign(err=cfg["force MAE (eV/Å)"] * cfg["force components"])
    w = cfg.pivot_table(index="configuration", columns=["algorithm", "origin"], values="err", aggfunc="mean")
    s = _scores(results)
    models = [m for m in w.columns if m in s.index]
    if len(models) < 2:
        return None
    w = w[models].dropna()
    score = s["score"]
    pairs = [(a, b) for a in models for b in models if score[b] - score[a] >= TOL]   # b ahead of a in MD
    test = _test_mae(results)
    accurate = test[test <= NEAR_BEST * test.min()].index
    failing = ["/".join(k) for k in accurate if k in s.index and s.loc[k, "survived fraction"] < 1.0]
    ratio = (s["own-trajectory force MAE (eV/Å)"] / test.reindex(s.index)).median()
    context = (f"{len(pairs)} model pairs whose MD scores differ by >= {TOL}; {len(failing)} of {len(accurate)} "
               f"models within {NEAR_BEST}x of the best test force MAE fail in MD"
               + (f" ({', '.join(failing)})" if failing else "")
               + f"; median own-trajectory / test force MAE {C.number_text(ratio)}")
    statistic = ("largest log(test force MAE of the model MD scores higher / that of the model MD scores lower), "
                 f"over model pairs whose MD scores differ by >= {TOL}")
    threshold = -math.log(LOWER)
    powered = _training_powered(results) and len(w) >= MIN_CONFIGURATIONS
    if not pairs:
        return C.Evidence(statistic, math.nan, math.nan, math.nan, threshold, len(w),
                          "undefined: MD separates no pair of models", powered, context)
    used = sorted({m for pair in pairs for m in pair})
    col = {m: k for k, m in enumerate(used)}
    index = [(col[a], col[b]) for a, b in pairs]

    def largest(*err):
        return max(math.log(err[j].sum() / err[i].sum()) for i, j in index)

    data = [w[m].to_numpy() for m in used]
    md = _md(results)
    training = md[md["liquid"] == results.get("liquid")] if "liquid" in md else md
    md_seeds = int(training.groupby(["algorithm", "origin"])[MD_SEED].nunique().min()) if len(training) else 0
    seeds = int(training.groupby(["algorithm", "origin"])[SEED].nunique().min()) if len(training) else 0
    if len(w) < MIN_CONFIGURATIONS:
        iv = I.Interval(float(largest(*data)), math.nan, math.nan, len(w),
                        f"paired bootstrap over test configurations (undefined for fewer than {MIN_CONFIGURATIONS})")
    elif md_seeds < MIN_MD_SEEDS:
        # The pairs are chosen by MD scores; from fewer MD runs per model the choice is noise the bootstrap over
        # test configurations cannot see, and the largest of many pairwise ratios would then decide by chance.
        iv = I.Interval(float(largest(*data)), math.nan, math.nan, len(w),
                        f"undefined: the MD scores that choose the pairs rest on {md_seeds} MD run(s) per model "
                        f"(needs >= {MIN_MD_SEEDS})")
    elif seeds < MIN_TRAINING_SEEDS:
        # Likewise for training seeds: one model per (algorithm, set) lets one lucky or unlucky fit pick the
        # pair whose ratio is the largest.
        iv = I.Interval(float(largest(*data)), math.nan, math.nan, len(w),
                        f"undefined: the models that form the pairs rest on {seeds} training seed(s) each "
                        f"(needs >= {MIN_TRAINING_SEEDS})")
    else:
        iv = I.bootstrap_interval(data, largest, paired=True, seed=0)
        iv = dataclasses.replace(iv, method=iv.method + " (test configurations shared by every model; the MD "
                                                        "scores that select the pairs are held fixed)")
    return C.Evidence.from_interval(statistic, iv, threshold, powered, context)


# -- claim 4 --------------------------------------------------------------------------------------
def _stable_models(results: Mapping[str, Any]) -> set:
    """(algorithm, origin, training seed) of the models whose every run of the training liquid completed."""
    per_seed = _per_seed(results)
    return set(per_seed.index[per_seed["survived fraction"] >= 1.0])


def unseen_table(results: Mapping[str, Any]) -> pd.DataFrame:
    """Per unseen liquid: kind of change, runs, runs completed, mean survived fraction and own-trajectory force
    MAE, over the models that survived the training liquid."""
    md = _md(results)
    stable = _stable_models(results)
    rows = []
    for liquid, d in md[md["liquid"] != results["liquid"]].groupby("liquid"):
        d = d[[k in stable for k in zip(d["algorithm"], d["origin"], d[SEED])]]
        rows.append({"liquid": liquid, "change": CHANGE[liquid], "runs": len(d),
                     "runs completed": int((d["survived fraction"] >= 1.0).sum()),
                     "mean survived fraction": float(d["survived fraction"].mean()) if len(d) else np.nan,
                     "own-trajectory force MAE (eV/Å)": float(d["own-trajectory force MAE (eV/Å)"].mean())
                     if len(d) else np.nan})
    return pd.DataFrame(rows)


def judge_unseen(results: Mapping[str, Any]) -> C.Evidence | None:
    """Claim 4: stability survives a change of molecular shape but not of functional chemistry."""
    u = unseen_table(results)
    if u.empty:
        return None
    ks, ns = (int(u.loc[u["change"] == "shape", c].sum()) for c in ("runs completed", "runs"))
    kf, nf = (int(u.loc[u["change"] == "functional", c].sum()) for c in ("runs completed", "runs"))
    iv = I.all_of(lambda c: [I.proportion_interval(ks, ns, c).shifted(-(1.0 - LOST)),
                             I.proportion_difference_interval(ks, ns, kf, nf, c).shifted(-LOST)],
                  "margins (share of shape-change runs completed - (1 - LOST); shape - functional share "
                  "completed - LOST)")
    context = ("runs completed by models stable on the training liquid: " + "; ".join(
        f"{r['liquid']} ({r['change']}) {r['runs completed']} of {r['runs']} (mean survived fraction "
        f"{C.number_text(r['mean survived fraction'])})" for r in u.to_dict("records")))
    md = _md(results)
    stable = _stable_models(results)
    md = md[[k in stable for k in zip(md["algorithm"], md["origin"], md[SEED])]]
    return C.Evidence.from_interval(f"smallest margin of: share of shape-change runs completed above 1 - {LOST:g}; "
                                    f"that share above the functional-change share by more than {LOST:g}",
                                    iv, 0.0, ns > 0 and nf > 0 and _powered(md), context)


CLAIMS = (
    C.Claim("simple_sets",
            "MACE performs well with even the simplest training sets; the Deep Potential model needs further "
            "iterative training to describe the liquid.",
            "Statistic: per training seed, three margins of MD scores on the training liquid must all be positive: "
            f"MACE trained on the simple set scores at least its best score on any training set less {TOL}; it "
            f"scores more than {WORSE:g} x the Deep Potential trained on the simple set; and the Deep Potential "
            f"trained with its own automatic set gains more than {TOL} over its simple-set model. Value: the "
            "smallest of the three mean margins; interval: Student t over training seeds for each margin, "
            "conservatively combined (smallest lower and smallest upper bound); threshold 0. Reproduced if the "
            "interval lies above 0; not reproduced if below 0 with " + BUDGET + ".", judge_simple_sets),
    C.Claim("corrective_transfer",
            "Configurations designed by human intuition to correct deficiencies transfer well between algorithms; "
            "configurations generated automatically by one MLIP do not necessarily help another.",
            "Statistic: per training seed, two margins of MD scores on the training liquid must both be positive: "
            f"the smallest gain over the simple set that adding the corrective set gives any algorithm, plus {TOL} "
            "(it transfers: no algorithm loses more than that); and the largest, over algorithms, of its "
            f"corrective-set score less its score with the other algorithm's automatic set, minus {TOL}. Value: the "
            "smaller mean margin; interval: Student t over training seeds for each, conservatively combined; "
            "threshold 0. Reproduced if the interval lies above 0; not reproduced if below 0 with " + BUDGET + ".",
            judge_corrective),
    C.Claim("md_stringent",
            "Evaluation by MD is more stringent than fixed test-set errors.",
            f"Statistic: over the pairs of models whose MD scores on the training liquid differ by >= {TOL}, the "
            "largest log ratio of the fixed test-set force MAE of the model MD ranks higher to that of the model "
            f"MD ranks lower; threshold log(1/{LOWER:g}) (the test set gives the MD-worse model a force MAE >= "
            f"{round(100 * (1 - LOWER))} % lower). Interval: paired bootstrap (BCa) over the test "
            f"configurations every model sees (undefined below {MIN_CONFIGURATIONS}), with the MD scores that pick "
            "the pairs held fixed, so it does not cover seed-to-seed variation; undefined unless every model's MD "
            f"score rests on >= {MIN_MD_SEEDS} MD runs and every (algorithm, set) on >= {MIN_TRAINING_SEEDS} "
            "training seeds, since otherwise one run or one fit picks the pairs by chance. "
            "Reproduced if the interval lies "
            f"above the threshold; not reproduced if below it with >= {MIN_CONFIGURATIONS} test configurations and "
            + BUDGET + ".", judge_md_stringent),
    C.Claim("unseen_molecules",
            "Stability is conserved for small changes of molecular shape, but not for changes of functional "
            "chemistry.",
            "Units: MD runs of unseen liquids by models whose runs of the training liquid completed; a run counts "
            f"as stable if it completes. Statistic: the smaller of two margins: the share of shape-change runs (PC, "
            f"DMC) completed above 1 - {LOST:g} (Clopper-Pearson exact interval), and that share above the share "
            f"of functional-change runs (VC) completed by more than {LOST:g} (Newcombe interval of the "
            "difference, which ignores that the same models run both and so is wider than a paired one); "
            "conservatively combined; threshold 0. Reproduced if the interval lies above 0; not reproduced if "
            "below 0 with " + BUDGET + ".", judge_unseen),
)


def figures(results: Mapping[str, Any]) -> dict[str, float]:
    """Headline figures for the dashboard: per model on the training liquid, the MD score and the test force
    MAE (eV/A)."""
    out = {}
    s = _scores(results)
    e = pd.DataFrame(results["errors"])
    test = e[e["set"] == "test"].groupby(["algorithm", "origin"])["force MAE (eV/Å)"].mean()
    for (alg, origin), row in s.iterrows():
        out[f"score {alg} {origin}"] = float(row["score"])
        if (alg, origin) in test.index:
            out[f"test force MAE {alg} {origin} (eV/A)"] = float(test[(alg, origin)])
    return out
