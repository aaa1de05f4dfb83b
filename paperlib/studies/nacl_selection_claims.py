"""Claims of the NaCl data-selection study, their rules, and the figures written to ``results.json``.

``results`` (what the notebook hands to :func:`paperlib.analysis.claims.judge`) holds the records of
``config_errors`` (one per model family, method, replicate and test configuration: sums of squared and absolute
force-component errors, their count and the largest one), ``md`` (one per ML MD run: model family, method,
replicate, MD replica, ion-ps, collapse, close-contact detection, RDF-core weight) and ``control`` (the same for
the positive-control runs): fields of :class:`paperlib.studies.nacl_selection.Results`.

Independent units. Claim (a): replicate ``r`` of every method shares its training seed, so methods are paired
by replicate; the test configurations are random frames of separate MD runs, shared by every model, so they
pair too. Both are resampled (a two-way bootstrap). Claim (b): a trained model is the unit (its MD replicas
share its weights and are not independent of one another).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from paperlib import selection
from paperlib.analysis import claims as C
from paperlib.analysis import intervals as I

GOOD = ("uniform_atomic_energy", "uniform_force")
BAD = ("uniform_energy", "random")
MD_METHODS = ("uniform_energy", "uniform_atomic_energy", "random")
"""The methods whose models drive ML MD: the two that claim (b) compares, and random as the baseline."""
METRICS = {"rmse": "force RMSE", "max": "mean per-configuration Max force error"}
MIN_ERROR_RATIO = 1.05
"""Claim (a)'s threshold: the error ratio (global-energy or random over atomic-energy or force) must exceed 5 %
for "lower error" to count, and a ratio whose interval lies below it, with the budget met, refutes the claim."""
MIN_FLAGGED_DIFFERENCE = 0.2
"""Claim (b)'s threshold: the flagged share of uniform-energy models must exceed that of uniform-atomic-energy
models by 20 percentage points (one model in five); an interval below it, with the budgets met, refutes it."""
LIKE_ION_PAIRS = ("Na-Na", "Cl-Cl")
MIN_REPLICATES = 5
"""Claim (a)'s budget for a negative: paired replicates (training seeds) per method."""
MIN_ION_PS = 3 * 50.0 * 216
"""Claim (b)'s budget for a negative, per method: ML MD in ion-picoseconds (ions x simulated time summed over
its runs), 3 runs of 50 ps of a 216-ion box."""
MIN_CONTROL_FLAGGED = 0.5
"""Claim (b)'s sensitivity requirement: at least this share of the positive-control runs must be flagged, or
the detector and the MD length could not have seen the failure and a negative is not powered."""


# -- claim (a) -------------------------------------------------------------------------------------
def error_tables(config_errors: pd.DataFrame, model: str, method: str) -> dict[str, np.ndarray]:
    """Per-(replicate, test configuration) tables [replicates, configurations] of one model family and
    method: ``sse`` (sum of squared force-component errors, eV^2/A^2), ``n`` (components) and ``max`` (largest
    absolute component error, eV/A); replicates and configurations in ascending order."""
    sub = config_errors[(config_errors.model == model) & (config_errors.method == method)]
    return {col: sub.pivot(index="replicate", columns="config", values=src).sort_index().sort_index(axis=1)
            .to_numpy(float) for col, src in (("sse", "sse"), ("n", "n"), ("max", "max_abs"))}


def metric_value(t: Mapping[str, np.ndarray], metric: str, rows: np.ndarray, cols: np.ndarray) -> float:
    """``metric`` (``rmse`` or ``max``, eV/A) of the tables ``t`` over the given replicates and configurations
    (indices may repeat, as in a bootstrap resample)."""
    block = np.ix_(rows, cols)
    if metric == "rmse":
        return float(np.sqrt(t["sse"][block].sum() / t["n"][block].sum()))
    return float(t["max"][block].mean())


def comparison(config_errors: pd.DataFrame, model: str, metric: str, good: str, bad: str,
               confidences: tuple[float, ...] = (I.CONFIDENCE,)) -> list[I.Interval]:
    """log(metric of ``bad`` / metric of ``good``) of ``model`` (positive: ``good`` has the lower error), with
    a two-way bootstrap over the shared replicates (training seeds) and test configurations, at each of
    ``confidences``."""
    shared = sorted(set(config_errors.replicate[config_errors.method == good])
                    & set(config_errors.replicate[config_errors.method == bad]))
    paired = config_errors[config_errors.replicate.isin(shared)]
    tg, tb = error_tables(paired, model, good), error_tables(paired, model, bad)
    n_rows = len(shared)

    def log_ratio(rows: np.ndarray, cols: np.ndarray) -> float:
        return float(np.log(metric_value(tb, metric, rows, cols) / metric_value(tg, metric, rows, cols)))

    return I.crossed_bootstrap_intervals(log_ratio, n_rows, tg["sse"].shape[1], confidences)


def judge_force_errors(results: Mapping[str, Any]) -> C.Evidence | None:
    """Claim (a): atomic-energy and force selection beat global-energy and random selection.

    For every model family, metric (:data:`METRICS`) and pair (atomic-energy or force vs global-energy or
    random), the log error ratio with its two-way bootstrap interval; the statistic is the weakest of these
    comparisons, combined by :func:`~paperlib.analysis.intervals.all_of`."""
    df = pd.DataFrame(results.get("config_errors", []))
    if df.empty or not set(GOOD + BAD) <= set(df.method):
        return None
    models = sorted(df.model.unique())
    keys_ = [(m, metric, g, b) for m in models for metric in METRICS for g in GOOD for b in BAD]
    # all_of asks for every part at 95 % and at the Bonferroni level 1 - 0.05/K; one bootstrap serves both.
    levels = (I.CONFIDENCE, 1 - (1 - I.CONFIDENCE) / len(keys_))
    both = {k: comparison(df, *k, confidences=levels) for k in keys_}
    first = {k: v[0] for k, v in both.items()}
    combined = I.all_of(lambda c: [both[k][int(np.argmin([abs(c - x) for x in levels]))] for k in keys_],
                        "comparisons (models x metrics x pairs), each a log error ratio")
    weakest = min(keys_, key=lambda k: first[k].value if np.isfinite(first[k].value) else -np.inf)
    model, metric, good, bad = weakest
    compared = df[df.method.isin(GOOD + BAD)]
    n_reps = int(compared.groupby(["model", "method"]).replicate.nunique().min())
    context = (f"Weakest comparison: {model} {METRICS[metric]}, {selection.LABELS[bad]} / "
               f"{selection.LABELS[good]} = {np.exp(first[weakest].value):.3g}; "
               + "; ".join(f"{m} {METRICS[x]} {selection.LABELS[b]}/{selection.LABELS[g]} "
                           f"{np.exp(first[(m, x, g, b)].value):.3g}" for m, x, g, b in keys_)
               + f"; {n_reps} replicates x {compared.config.nunique()} test configurations")
    return C.Evidence.from_interval(
        "weakest log force-error ratio (global-energy or random / atomic-energy or force)", combined,
        float(np.log(MIN_ERROR_RATIO)), n_reps >= MIN_REPLICATES, context)


# -- claim (b) -------------------------------------------------------------------------------------
def run_flags(runs: pd.DataFrame) -> pd.Series:
    """The rule of claim (b) for one run: flagged when the close-contact detector fired or the run collapsed with
    a like-ion pair closest (the runaway form of the same short-range failure). Other collapses (an unlike pair,
    a force or energy blow-up) and RDF-core weight are reported beside it, not counted."""
    return runs.contact.astype(bool) | runs.collapse_pair.isin(LIKE_ION_PAIRS)


def model_flags(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per trained model (model family, method, replicate): ``flagged`` (any of its MD replicas
    flagged by :func:`run_flags`), its runs and its ion-ps."""
    runs = runs.assign(flagged=run_flags(runs))
    return (runs.groupby(["model", "method", "replicate"])
            .agg(flagged=("flagged", "any"), runs=("flagged", "size"), ion_ps=("ion_ps", "sum")).reset_index())


def judge_rdf(results: Mapping[str, Any]) -> C.Evidence | None:
    """Claim (b): models trained on global-energy selections fail at short range, atomic-energy ones do not.

    Flagged share of uniform-energy models minus that of uniform-atomic-energy models (Newcombe interval over
    models); powered when each method has :data:`MIN_ION_PS` ion-ps of ML MD and the positive control is
    flagged in at least :data:`MIN_CONTROL_FLAGGED` of its runs."""
    md = pd.DataFrame(results.get("md", []))
    if md.empty or not {"uniform_energy", "uniform_atomic_energy"} <= set(md.method):
        return None
    models = model_flags(md)
    e, a = (models[models.method == m] for m in ("uniform_energy", "uniform_atomic_energy"))
    ke, ka = int(e.flagged.sum()), int(a.flagged.sum())
    iv = I.proportion_difference_interval(ke, len(e), ka, len(a))
    ion_ps = {m: float(md[md.method == m].ion_ps.sum()) for m in ("uniform_energy", "uniform_atomic_energy")}
    control = pd.DataFrame(results.get("control", []))
    control_share = float(run_flags(control).mean()) if len(control) else float("nan")
    sensitive = bool(np.isfinite(control_share) and control_share >= MIN_CONTROL_FLAGGED)
    powered = min(ion_ps.values()) >= MIN_ION_PS and sensitive
    context = (f"flagged models: {ke}/{len(e)} uniform-energy, {ka}/{len(a)} uniform-atomic-energy; ML MD "
               f"{ion_ps['uniform_energy']:.4g} and {ion_ps['uniform_atomic_energy']:.4g} ion-ps (budget "
               f"{MIN_ION_PS:.4g} per method); positive control flagged in {control_share:.2f} of its runs "
               f"(needs >= {MIN_CONTROL_FLAGGED})")
    return C.Evidence.from_interval(
        "flagged share of uniform-energy models minus flagged share of uniform-atomic-energy models",
        I.Interval(iv.value, iv.low, iv.high, iv.n, f"{iv.method} over trained models"), MIN_FLAGGED_DIFFERENCE,
        powered, context)


CLAIMS: tuple[C.Claim, ...] = (
    C.Claim("a", "Selecting by atomic energies or by forces gives lower force RMSE and Max error than selecting "
                 "uniformly in global energy or at random.",
            "test set: random frames of separate reference MD runs at every state point (no selection method "
            "chose them). For every model family, metric (force RMSE over all components; the mean over test "
            "configurations of each configuration's largest component error, a Max that one outlier cannot "
            "decide) and pair (atomic-energy or force selection vs global-energy or random selection): "
            "log(error of the global-energy or random model / error of the atomic-energy or force model), with "
            "replicates paired by their shared training seed and the test configurations shared. Interval: a "
            "two-way bootstrap that resamples replicates and test configurations; the claim needs every "
            "comparison, so the statistic is the weakest, its lower bound the smallest 95 % lower bound and "
            f"its upper bound the smallest Bonferroni upper bound. Threshold log({MIN_ERROR_RATIO:g}) (the other "
            f"method's error must be at least {MIN_ERROR_RATIO - 1:.0%} higher). Reproduced if the interval lies above the "
            f"threshold; not reproduced if it lies below it with >= {MIN_REPLICATES} replicates per method (the "
            "budget for a negative); otherwise inconclusive.", judge_force_errors),
    C.Claim("b", "Models trained on global-energy selections show non-physical short-range structure; "
                 "atomic-energy models do not.",
            "ML MD (NVT at md_temperature_K) by several models per method, several runs per model. A run is "
            "flagged when a like-ion pair (Na-Na or Cl-Cl) comes closer than the reference "
            "run's closest approach of that pair minus a margin for several consecutive samples (the "
            "close-contact detector), or when the run collapses with a like-ion pair closer than 1 A. Other "
            "collapses (an unlike pair, a force > 50 eV/A, a non-finite energy) and RDF weight inside the "
            "reference's excluded core are reported beside it and do not count. A model is flagged when any of "
            "its runs is. Statistic: flagged share of uniform-energy models minus flagged share of "
            "uniform-atomic-energy models, Newcombe hybrid score 95 % interval over models, threshold "
            f"{MIN_FLAGGED_DIFFERENCE:g} (one model in five). Reproduced if the interval lies above the threshold; "
            "not reproduced if "
            f"it lies below it, each method has at least {MIN_ION_PS:,.0f} ion-ps of ML MD (3 runs of 50 ps of "
            "a 216-ion box) and the positive control (models trained on configurations without close like-ion "
            f"contacts) is flagged in at least {MIN_CONTROL_FLAGGED:.0%} of its runs; otherwise inconclusive.",
            judge_rdf),
)


# -- figures ---------------------------------------------------------------------------------------
def summary_figures(errors: pd.DataFrame, md: pd.DataFrame, control: pd.DataFrame) -> dict[str, Any]:
    """The measured figures written to results.json: per (model, method) the mean and standard error of every
    test-error column over replicates (where two or more exist), per (model, method) with ML MD the flagged
    share of its models and the ion-ps, and ``positive_control/flagged_fraction`` (share of its runs)."""
    figures: dict[str, Any] = {}
    cols = [c for c in errors.columns if c not in ("model", "method", "replicate", "fit_s")]
    for (mdl, m), g in errors.groupby(["model", "method"]):
        for col in cols:
            figures[f"{mdl}/{m}/{col}_mean"] = float(g[col].mean())
            if len(g) > 1:
                figures[f"{mdl}/{m}/{col}_sem"] = float(g[col].sem())
    if not md.empty:
        models = model_flags(md)
        for (mdl, m), g in models.groupby(["model", "method"]):
            figures[f"{mdl}/{m}/md_flagged_model_fraction"] = float(g.flagged.mean())
            figures[f"{mdl}/{m}/md_ion_ps"] = float(g.ion_ps.sum())
    if not control.empty:
        figures["positive_control/flagged_fraction"] = float(run_flags(control).mean())
        figures["positive_control/ion_ps"] = float(control.ion_ps.sum())
    return figures
