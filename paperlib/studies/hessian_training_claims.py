"""Claims of the Hessian-training study, their rules, and the figures written to ``results.json``.

``results`` (what the notebook hands to :func:`paperlib.analysis.claims.judge`) holds the records of
``errors`` (one per test geometry and model: ``molecule``, ``n_molecules``, ``mode``, ``seed`` and the error
columns of :data:`METRICS`), ``frequencies`` (one per model of the largest training set and test molecule),
``searches`` (one per model of the largest training set and reaction), ``costs`` (one per timing), ``judged``
(the E+F+H mode compared with E+F), ``seeds`` (the training seeds) and ``train_sizes``: the fields of
:class:`paperlib.studies.hessian_training.Results` (``Results.claims_input()``). The mode names and metric
columns live here so that the study module can import this one without a cycle.

Units. Claims 1, 4 and 5 are tested on held-out molecules: a table of training seeds x test molecules, with a
bootstrap that resamples both (E+F and E+F+H of one seed index share the seed, so the log ratios are paired per
cell). Claims 2 and 3 are tested on the reactions: each reaction's value is its mean over the seeds, and the
interval is Student's t over the reactions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from paperlib.analysis import claims as C
from paperlib.analysis import intervals as iv

E_ONLY, E_AND_F = "E", "E+F"
METRICS = {"err_energy": "energy", "mae_forces": "forces", "mae_hessian": "Hessian"}
"""Test-error columns of ``errors`` and their names."""


def efh_mode(loss: str, probes: int) -> str:
    """Name of the E+F+H training mode with Hessian loss ``loss`` ("full" or "hvp")."""
    return "E+F+H (full)" if loss == "full" else f"E+F+H (HVP, k={probes})"


MIN_SEEDS = 3
"""Fewest training seeds for a negative verdict."""
MIN_REACTIONS = 7
"""Fewest reactions for a negative verdict on claims 2 and 3."""
MIN_TEST_MOLECULES = 20
"""Fewest held-out molecules for a negative verdict on claims 1, 4 and 5."""
MIN_TIMINGS = 5
"""Fewest repeated timings of each mode for a negative verdict on the cost."""
BARRIER_QUALITY = 0.25
"""Claim 2 counts only when the E+F+H barrier MAE is at most this fraction of the mean reference barrier."""
FULL = efh_mode("full", 0)
"""The full-Hessian mode timed for the cost claim (the paper's loss)."""


def _n_seeds(results: Mapping[str, Any]) -> int:
    return len(results.get("seeds", [None]))


def _budget(results: Mapping[str, Any]) -> str:
    return f"{_n_seeds(results)} training seed(s)"


def _largest(results: Mapping[str, Any]) -> int:
    return max(results["train_sizes"])


def seed_molecule_table(rows: pd.DataFrame, column: str) -> pd.DataFrame:
    """Mean of ``column`` per (seed, molecule), seeds as rows and molecules as columns."""
    return rows.groupby(["seed", "molecule"])[column].mean().unstack("molecule")


def _paired(table: pd.DataFrame, column: str, ef: tuple[int, str],
            efh: tuple[int, str]) -> tuple[np.ndarray, np.ndarray] | None:
    """Seeds x molecules arrays of ``column`` for the models (n_molecules, mode) ``ef`` and ``efh``, on the seeds
    and molecules both have; None when either is missing."""
    parts = []
    for n, mode in (ef, efh):
        rows = table[(table["n_molecules"] == n) & (table["mode"] == mode)] if "n_molecules" in table else \
            table[table["mode"] == mode]
        if rows.empty:
            return None
        parts.append(seed_molecule_table(rows, column))
    seeds = parts[0].index.intersection(parts[1].index)
    molecules = parts[0].columns.intersection(parts[1].columns)
    return parts[0].loc[seeds, molecules].to_numpy(float), parts[1].loc[seeds, molecules].to_numpy(float)


def crossed_log_ratio(a: np.ndarray, b: np.ndarray, confidences=(iv.CONFIDENCE,)) -> list[iv.Interval]:
    """Mean over seeds x molecules of log(a / b), with the two-way bootstrap over seeds and molecules at each of
    ``confidences`` (cells where either value is not finite are left out of every resample's mean)."""
    logs = np.log(a / b)

    def statistic(rows: np.ndarray, cols: np.ndarray) -> float:
        cell = logs[np.ix_(rows, cols)]
        return float(np.mean(cell[np.isfinite(cell)])) if np.isfinite(cell).any() else math.nan

    return iv.crossed_bootstrap_intervals(statistic, *logs.shape, confidences)


def _powered_molecules(results: Mapping[str, Any], n_molecules: int) -> bool:
    return _n_seeds(results) >= MIN_SEEDS and n_molecules >= MIN_TEST_MOLECULES


BASELINES = {"mae_forces": "zero_forces", "mae_hessian": "zero_hessian"}
"""Error columns and the columns of the same error of a model that predicts zero forces and a zero Hessian."""


def judge_extrapolation(results: Mapping[str, Any]) -> C.Evidence | None:
    """Claim 1: Hessians improve energies, forces and Hessians of held-out molecules away from their minima (and
    the E+F+H forces and Hessians beat those of a model that learnt no curvature)."""
    efh = results["judged"]
    errors = pd.DataFrame(results.get("errors", []))
    if errors.empty:
        return None
    largest = _largest(results)
    displaced = errors[errors["kind"] == "displaced"]
    pairs = {k: _paired(displaced, k, (largest, E_AND_F), (largest, efh)) for k in METRICS}
    if any(v is None for v in pairs.values()):
        return None
    own = displaced[(displaced["mode"] == efh) & (displaced["n_molecules"] == largest)]
    baselines = {k: (seed_molecule_table(own, zero).to_numpy(float), seed_molecule_table(own, k).to_numpy(float))
                 for k, zero in BASELINES.items()}
    parts = {**{k: pairs[k] for k in METRICS}, **{f"zero/{k}": v for k, v in baselines.items()}}
    interval = iv.all_of(lambda c: [crossed_log_ratio(*v, (c,))[0] for v in parts.values()],
                         f"mean log MAE ratios (E+F / E+F+H of {', '.join(METRICS.values())}; zero model / E+F+H "
                         "of forces and Hessian)")
    ratio = {k: math.exp(crossed_log_ratio(*v)[0].value) for k, v in parts.items()}
    n_seeds, n_mol = pairs["mae_forces"][0].shape
    context = (f"on {len(own)} displaced geometries of {n_mol} held-out molecules x {n_seeds} seed(s), geometric "
               f"means: E+F / {efh} MAE " + ", ".join(f"{METRICS[k]} {ratio[k]:.2f}x" for k in METRICS)
               + "; zero-force / E+F+H force MAE " + f"{ratio['zero/mae_forces']:.2f}x, zero-Hessian / E+F+H Hessian "
               f"MAE {ratio['zero/mae_hessian']:.2f}x; {_budget(results)}")
    return C.Evidence.from_interval("min over energy, forces, Hessian of mean log(E+F MAE / E+F+H MAE), and over "
                                    "forces, Hessian of mean log(zero-model MAE / E+F+H MAE), on displaced "
                                    "geometries of held-out molecules", interval, 0.0,
                                    _powered_molecules(results, n_mol), context)


def _searches(results: Mapping[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(results.get("searches", []))


def per_reaction(results: Mapping[str, Any]) -> pd.DataFrame:
    """Per reaction: reference barrier, and per mode (E+F suffix ``_ef``, the judged E+F+H ``_efh``) the mean
    over seeds of ``|barrier error|`` (a failed search charged the zero-barrier error
    ``|reference barrier|``) and the fraction of seeds whose saddle was confirmed; only reactions searched by
    both."""
    s = _searches(results)
    if s.empty:
        return pd.DataFrame()
    s = s.assign(charged=s["barrier_error_eV"].fillna(s["barrier_ref_eV"].abs()),
                 confirmed=s["ts_confirmed"].astype(float))
    out = {}
    for suffix, mode in (("ef", E_AND_F), ("efh", results["judged"])):
        m = s[s["mode"] == mode].groupby("reaction")
        out[f"barrier_error_eV_{suffix}"] = m["charged"].mean()
        out[f"confirmed_{suffix}"] = m["confirmed"].mean()
        out[f"failed_{suffix}"] = m["barrier_error_eV"].apply(lambda x: int(x.isna().sum()))
    table = pd.DataFrame(out).dropna()
    ref = s.groupby("reaction")["barrier_ref_eV"].first()
    return table.assign(barrier_ref_eV=ref.loc[table.index])


def judge_barriers(results: Mapping[str, Any]) -> C.Evidence | None:
    """Claim 2: Hessians improve NEB barrier heights (and the E+F+H barriers are good enough to count)."""
    r = per_reaction(results)
    if r.empty:
        return None
    ef, efh = r["barrier_error_eV_ef"].to_numpy(), r["barrier_error_eV_efh"].to_numpy()
    quality = BARRIER_QUALITY * r["barrier_ref_eV"].abs().to_numpy()
    interval = iv.all_of(lambda c: [iv.mean_interval(ef - efh, c), iv.mean_interval(quality - efh, c)],
                         f"mean per-reaction differences (eV): |E+F error| - |E+F+H error| and "
                         f"{BARRIER_QUALITY:g} x reference barrier - |E+F+H error|")
    zero = float(r["barrier_ref_eV"].abs().mean())
    context = (f"barrier MAE over {len(r)} reactions (each the mean over seeds): E+F {ef.mean():.3f} eV, "
               f"{results['judged']} {efh.mean():.3f} eV; zero-barrier baseline {zero:.3f} eV, so the quality bar "
               f"is {BARRIER_QUALITY * zero:.3f} eV; the parts: E+F - E+F+H {np.mean(ef - efh):.3f} eV, quality bar - "
               f"E+F+H {np.mean(quality - efh):.3f} eV; failed searches {int(r['failed_ef'].sum())} / "
               f"{int(r['failed_efh'].sum())} (charged the zero-barrier error); {_budget(results)}")
    return C.Evidence.from_interval(f"min(E+F - E+F+H, {BARRIER_QUALITY:g} x mean reference barrier - E+F+H) "
                                    "barrier MAE (eV)", interval, 0.0,
                                    _n_seeds(results) >= MIN_SEEDS and len(r) >= MIN_REACTIONS, context)


def both_confirmed_rmsd(results: Mapping[str, Any]) -> tuple[float, float, int]:
    """Mean saddle RMSD to the reference (A) of E+F and of the judged E+F+H over the (reaction, seed) pairs where
    both confirmed a saddle, and the number of such pairs."""
    s = _searches(results)
    ef = s[s["mode"] == E_AND_F].set_index(["reaction", "seed"])
    efh = s[s["mode"] == results["judged"]].set_index(["reaction", "seed"])
    both = ef.index.intersection(efh.index)
    ok = both[ef.loc[both, "ts_confirmed"].to_numpy(bool) & efh.loc[both, "ts_confirmed"].to_numpy(bool)]
    if len(ok) == 0:
        return math.nan, math.nan, 0
    return float(ef.loc[ok, "ts_rmsd_A"].mean()), float(efh.loc[ok, "ts_rmsd_A"].mean()), len(ok)


def judge_transition_states(results: Mapping[str, Any]) -> C.Evidence | None:
    """Claim 3: with Hessians, a saddle search on the model finds the transition state more reliably."""
    r = per_reaction(results)
    if r.empty:
        return None
    diff = (r["confirmed_efh"] - r["confirmed_ef"]).to_numpy()
    rmsd_ef, rmsd_efh, n_both = both_confirmed_rmsd(results)
    context = (f"confirmed first-order saddles (1 imaginary mode, connects reactant and product), mean over "
               f"reactions of the fraction of seeds: {results['judged']} {r['confirmed_efh'].mean():.2f}, E+F "
               f"{r['confirmed_ef'].mean():.2f}; where both confirmed ({n_both} reaction-seed pairs) mean RMSD to the "
               f"reference saddle {rmsd_efh:.3f} / {rmsd_ef:.3f} A; {_budget(results)}")
    return C.Evidence.from_interval("mean per-reaction confirmed-saddle fraction, E+F+H - E+F",
                                    iv.mean_interval(diff), 0.0,
                                    _n_seeds(results) >= MIN_SEEDS and len(r) >= MIN_REACTIONS, context)


def judge_frequencies(results: Mapping[str, Any]) -> C.Evidence | None:
    """Claim 4: Hessian training improves harmonic frequencies (at the models' own minima of held-out
    molecules)."""
    f = pd.DataFrame(results.get("frequencies", []))
    if f.empty:
        return None
    pair = _paired(f, "freq_mae_cm", (0, E_AND_F), (0, results["judged"]))
    if pair is None:
        return None
    interval = crossed_log_ratio(*pair)[0]
    n_seeds, n_mol = pair[0].shape
    means = f.groupby("mode")["freq_mae_cm"].mean()
    failed = f.groupby("mode")["freq_mae_cm"].apply(lambda x: int(x.isna().sum()))
    context = (f"frequency MAE at each model's own minimum of {n_mol} held-out molecules x {n_seeds} seed(s): "
               f"E+F {means.get(E_AND_F, math.nan):.0f} cm^-1, {results['judged']} "
               f"{means.get(results['judged'], math.nan):.0f} cm^-1; failed relaxations "
               f"{failed.get(E_AND_F, 0)} / {failed.get(results['judged'], 0)} (left out); {_budget(results)}")
    return C.Evidence.from_interval("mean log(E+F / E+F+H frequency MAE) on held-out molecules", interval, 0.0,
                                    _powered_molecules(results, n_mol), context)


def judge_less_data(results: Mapping[str, Any]) -> C.Evidence | None:
    """Claim 5: with Hessians, fewer training molecules reach the same accuracy."""
    e = pd.DataFrame(results.get("errors", []))
    sizes = sorted(results.get("train_sizes", []))
    if e.empty or len(sizes) < 2:
        return None
    largest, smaller = sizes[-1], sizes[-2]
    e = e[e["kind"] == "displaced"]
    pair = _paired(e, "mae_forces", (largest, E_AND_F), (smaller, results["judged"]))
    if pair is None:
        return None
    interval = crossed_log_ratio(*pair)[0]
    means = e.groupby(["n_molecules", "mode"])["mae_forces"].mean()
    efh = results["judged"]
    context = (f"force MAE on displaced geometries of held-out molecules (eV/A): E+F with " + ", ".join(f"{n} {means.loc[(n, E_AND_F)]:.3f}" for n in sizes
                                                               if (n, E_AND_F) in means.index)
               + f"; {efh} with "
               + ", ".join(f"{n} {means.loc[(n, efh)]:.3f}" for n in sizes if (n, efh) in means.index)
               + f" training molecules; {_budget(results)}")
    return C.Evidence.from_interval(f"mean log(E+F force MAE with {largest} molecules / E+F+H force MAE with "
                                    f"{smaller}) on held-out molecules", interval, 0.0,
                                    _powered_molecules(results, pair[0].shape[1]), context)


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


_MOLECULES = (f"Units: training seeds x held-out molecules, both resampled (two-way bootstrap, BCa). A negative "
              f"needs >= {MIN_SEEDS} training seeds and >= {MIN_TEST_MOLECULES} held-out molecules.")
_REACTIONS = (f"Units: the reactions, each the mean over the training seeds. A negative needs >= {MIN_SEEDS} "
              f"training seeds and >= {MIN_REACTIONS} reactions.")

CLAIMS: tuple[C.Claim, ...] = (
    C.Claim("1 extrapolation", "Models trained on critical points with Hessians predict energies, forces and "
                               "Hessians of non-equilibrium geometries better than models trained without them.",
            "test set: normal-mode displacements of molecules held out of training. Statistic: the smallest of five "
            "mean log MAE ratios over seeds x held-out molecules at the largest training set: E+F / E+F+H for "
            "energy, forces and Hessian (all three must improve), and, for forces and Hessian, the MAE of a model "
            "predicting zero forces and a zero Hessian / E+F+H (E+F+H must have learnt some curvature); "
            "conservative interval: smallest lower bound, smallest upper bound at Bonferroni confidence. "
            "Threshold 0. " + _MOLECULES, judge_extrapolation),
    C.Claim("2 NEB barriers", "Hessian training improves reaction-path (NEB) barrier heights.",
            "climbing-image NEB + saddle refinement on each model; per reaction |barrier error| averaged over seeds "
            "(a failed search is charged the error of predicting a zero barrier). Statistic: the smaller of "
            "mean(|err E+F|) - mean(|err E+F+H|) and "
            f"{BARRIER_QUALITY:g} x mean(reference barrier) - mean(|err E+F+H|) in eV: E+F+H must beat E+F and "
            f"reach an absolute quality (its MAE at most {BARRIER_QUALITY:g} of the zero-barrier baseline's), each "
            "a Student t 95 % interval over reactions, conservative interval of the minimum. Threshold 0 eV. "
            + _REACTIONS, judge_barriers),
    C.Claim("3 transition states", "Hessian training improves transition-state identification.",
            "a saddle search on the model counts when it ends with exactly one imaginary frequency and connects "
            "the reactant and product. Statistic: mean over reactions of (fraction of seeds confirmed with E+F+H - "
            "with E+F), Student t 95 % interval; the saddle RMSD is compared only where both confirmed. "
            "Threshold 0. " + _REACTIONS, judge_transition_states),
    C.Claim("4 frequencies", "Hessian training improves harmonic vibrational frequencies at minima and saddles.",
            "each held-out molecule is relaxed on each model (largest training set) from the reference minimum; "
            "frequency MAE there against the reference frequencies. Statistic: mean over seeds x held-out molecules "
            "of log(E+F MAE / E+F+H MAE). Threshold 0. Only minima of unseen molecules are tested (saddles of the "
            "reactions are training data). " + _MOLECULES, judge_frequencies),
    C.Claim("5 less data", "Hessians reduce the amount of training data needed.",
            "learning curve over the number of training molecules, always tested on the displaced geometries of the "
            "same held-out molecules. Statistic: mean over seeds x held-out molecules of log(force MAE of E+F with the largest training set "
            "/ force MAE of E+F+H with the next smaller one); above 0 means E+F+H reaches E+F's accuracy with "
            "fewer molecules. Threshold 0. " + _MOLECULES, judge_less_data),
    C.Claim("6 cost", "The price is a more expensive training.",
            "seconds per epoch measured in turn in one run. Statistic: mean log(full-Hessian E+F+H epoch time / "
            "E+F epoch time) over repeated paired timings, Student t 95 % interval; a single timing is n = 1 "
            f"(inconclusive). Threshold 0. A negative needs >= {MIN_TIMINGS} repeated timings. "
            "Hessian-vector-product ratios are reported.", judge_cost, timed=True),
)


def summary_figures(results: Mapping[str, Any]) -> dict[str, float]:
    """Measured figures for results.json (timings excluded: they vary between identical runs). Barrier MAEs
    charge a failed search the zero-barrier error, as claim 2 does."""
    figures: dict[str, float] = {}
    e = pd.DataFrame(results["errors"])
    for (kind, n, mode), row in e.groupby(["kind", "n_molecules", "mode"])[list(METRICS)].mean().iterrows():
        for k, v in row.items():
            figures[f"test/{kind}/n={n}/{mode}/{k}"] = float(v)
    for kind, d in e.groupby("kind"):
        one = d[(d["mode"] == d["mode"].iloc[0]) & (d["n_molecules"] == d["n_molecules"].iloc[0])
                & (d["seed"] == d["seed"].iloc[0])]   # the baselines do not depend on the model
        for k, zero in BASELINES.items():
            figures[f"baseline/{kind}/{zero}_{k}"] = float(one[zero].mean())
    s = _searches(results)
    if not s.empty:
        charged = s["barrier_error_eV"].fillna(s["barrier_ref_eV"].abs())
        for mode, d in s.assign(charged=charged).groupby("mode"):
            figures[f"searches/{mode}/barrier_mae_eV"] = float(d["charged"].mean())
            figures[f"searches/{mode}/ts_confirmed_fraction"] = float(d["ts_confirmed"].mean())
        figures["baseline/zero_barrier_mae_eV"] = float(s.groupby("reaction")["barrier_ref_eV"].first().abs().mean())
    f = pd.DataFrame(results.get("frequencies", []))
    if not f.empty:
        for mode, v in f.groupby("mode")["freq_mae_cm"].mean().items():
            figures[f"frequencies/{mode}/mae_cm"] = float(v)
    return {k: v for k, v in figures.items() if np.isfinite(v)}
