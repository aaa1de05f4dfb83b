"""Study 1: the role of gradients (Christensen & von Lilienfeld, MLST 1, 045018 (2020), arXiv 2007.09593).

Stages (each cached by its inputs): reference MD of one molecule in independent runs, frames far apart in
time (or an rMD17 file) -> hyperparameters by cross-validation on training data, each model on what it is
trained on -> learning curves of energy-only vs energy+force kernel models (FCHL19 KRR / GPR), and SchNet
where the profile asks -> normal-mode conformations of many small molecules, split by molecule ->
unseen-molecule learning curves; errors kept per independent test unit (test MD run, held-out molecule) ->
claims.

The study contract: :class:`Params`, :func:`run` (all the compute, one executor for the independent fits) ->
:class:`Results`, :data:`CLAIMS` and :func:`figures`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from paperlib import keys
from paperlib.seeds import rng, stream_seed
from paperlib.analysis import autocorrelation as AC
from paperlib.analysis import claims as C
from paperlib.analysis import intervals as IV
from paperlib.analysis import learning_curves as LC
from paperlib.cache import Cache, cached_step
from paperlib.data.dataset import Dataset
from paperlib.data.formats import read_rmd17
from paperlib.data.splits import group_split, random_split
from paperlib.executors import Executor
from paperlib.export import artefact_map, data_artefact
from paperlib.models.base import Targets
from paperlib.models.gpr import FCHLConfig, FCHLPotential, best_setting, select_hyperparameters
from paperlib.options import RunOptions
from paperlib.reference.xtb import XTBSettings, relax
from paperlib.sampling.md import xtb_langevin_trajectories
from paperlib.sampling.molecules import molecule_structure, small_molecules
from paperlib.sampling.normal_modes import xtb_normal_mode_set
from paperlib.studies.contract import StudyParams, StudyResults
from paperlib.timing import Timer

STUDY = "gradients"
FRAMES = "frames.xyz"
KERNEL, NN = "kernel", "nn"
E_ONLY, E_AND_F = "E", "E+F"
E_COMMON = "E (tuned on E and F)"
"""The energy-only kernel with the hyperparameters the common rule (energy and force error) chooses."""
SINGLE, UNSEEN = "single molecule", "unseen molecules"
METRICS = ("mae_energy", "mae_forces")
PAPER_RATIO = 7.0


class Params(StudyParams):
    """Validated parameters of the gradients study (``Params.resolve(profile, overrides)``)."""

    STUDY = STUDY


# -- reference data -------------------------------------------------------------------------------
@cached_step(runtime=("progress",))
def _reference_md(out: Path, *, start: Dataset, temperature_K: float, timestep_fs: float, friction_per_fs: float,
                  equil_steps: int, stride: int, frames_per_trajectory: int, n_trajectories: int, seed: int,
                  progress: bool) -> None:
    """Langevin GFN2-xTB trajectories from the relaxed structure of the one molecule in ``start`` (keyed by its
    atoms and positions, so a structure file is keyed by its content)."""
    start = relax(start[0])
    frames = xtb_langevin_trajectories(start, XTBSettings(), n_trajectories=n_trajectories, seed=seed,
                                       temperature_K=temperature_K, timestep_fs=timestep_fs,
                                       friction_per_fs=friction_per_fs, equil_steps=equil_steps,
                                       n_frames=frames_per_trajectory, stride=stride, progress=progress)
    Dataset(frames).write(out / FRAMES)


def pool_size(p: Params) -> int:
    """Training configurations the single-molecule pool must hold."""
    return max(max(p.krr_sizes), max(p.gp_sizes), max(p.nn_sizes, default=0), p.cv_size)


def single_molecule_data(p: Params, cache: Cache, progress: bool = True) -> tuple[Dataset, Dataset]:
    """(training pool, test set) of one molecule: reference MD, ``n_trajectories`` independent runs for the
    pool and ``test_trajectories`` for the test set (from a separate seed stream), frames ``stride_fs`` apart;
    or, with ``dataset_path``, an rMD17 file split at random."""
    if p.dataset_path:
        data = read_rmd17(p.dataset_path)
        if len(data) < pool_size(p) + p.n_test:
            raise ValueError(f"parameter 'dataset_path': {p.dataset_path!r} has {len(data)} frames; the chosen "
                             f"sizes need {pool_size(p) + p.n_test} (pool {pool_size(p)} + n_test {p.n_test})")
        rest, test = random_split(len(data), p.n_test, stream_seed(p.seed, "test_split"))
        return data.subset(rest), data.subset(test)
    stride = math.ceil(p.stride_fs / p.timestep_fs - 1e-9)   # steps: frames at least stride_fs apart
    common = dict(start=Dataset([molecule_structure(p.molecule)]), temperature_K=p.temperature_K,
                  timestep_fs=p.timestep_fs, friction_per_fs=p.friction_per_fs, equil_steps=p.equil_steps,
                  stride=stride)
    out = []
    # Pool and test frames come from trajectories of separate seed streams: no test frame is a near-copy of a
    # training frame.
    for kind, n, runs, seed in (("pool", pool_size(p), p.n_trajectories, stream_seed(p.seed, "pool_md")),
                                ("test", p.n_test, p.test_trajectories, stream_seed(p.seed, "test_md"))):
        args = dict(common, frames_per_trajectory=math.ceil(n / runs), n_trajectories=runs, seed=seed)
        entry = _reference_md.entry(cache, **args, progress=progress)
        out.append(Dataset.read(entry / FRAMES, require=[keys.REF_energy, keys.REF_forces])[:n])
    return out[0], out[1]


def qm7b_molecules(p: Params) -> list[tuple[str, str]]:
    """The first ``qm7b_molecules`` neutral entries of the QM7b-like list whose elements are all allowed and
    that have at most ``qm7b_max_heavy_atoms`` heavy atoms."""
    heavy = tuple(e for e in p.qm7b_elements if e != "H")
    return small_molecules(p.qm7b_max_heavy_atoms, heavy)[:p.qm7b_molecules]


@cached_step(runtime=("progress",))
def _qm7b(out: Path, *, molecules: list, per_molecule: int, temperature_K: float, seed: int, progress: bool) -> None:
    frames, failed = xtb_normal_mode_set([tuple(m) for m in molecules], per_molecule=per_molecule,
                                         temperature_K=temperature_K, seed=seed, settings=XTBSettings(),
                                         progress=progress)
    Dataset(frames).write(out / FRAMES)
    (out / "failed.json").write_text(json.dumps(failed, indent=1))


def qm7b_data(p: Params, cache: Cache, progress: bool = True) -> tuple[Dataset, dict[str, str]]:
    """Labelled normal-mode conformations of the QM7b-like molecules, and the molecules that failed."""
    args = dict(molecules=[list(m) for m in qm7b_molecules(p)], per_molecule=p.conformations_per_molecule,
                temperature_K=p.nm_temperature_K, seed=stream_seed(p.seed, "normal_modes"))
    entry = _qm7b.entry(cache, **args, progress=progress)
    data = Dataset.read(entry / FRAMES, require=[keys.REF_energy, keys.REF_forces])
    return data, json.loads((entry / "failed.json").read_text())


def unseen_split(p: Params, data: Dataset) -> tuple[Dataset, Dataset]:
    """(training conformations, test conformations), split by molecule: no test molecule is in training."""
    tr, te = group_split(data.info("molecule"), p.test_molecule_fraction, stream_seed(p.seed, "molecule_split"))
    return data.subset(tr), data.subset(te)


# -- models ---------------------------------------------------------------------------------------
def _cv_set(p: Params, pool: Dataset) -> Dataset:
    return pool.subset(np.sort(rng(p.seed, "cv_set").permutation(len(pool))[:p.cv_size]))


@cached_step(runtime=("device",))
def _hyper(out: Path, *, with_forces: bool, grouped: bool, sigmas: list, regularisations: list, folds: int,
           seed: int, data: Dataset, device: str = "cpu") -> None:
    groups = data.info("molecule") if grouped else None
    *_, table = select_hyperparameters(data, with_forces=with_forces, sigmas=sigmas,
                                       regularisations=regularisations, folds=folds, groups=groups,
                                       seed=seed, device=device)
    (out / "hyper.json").write_text(json.dumps({"table": table}))


def hyperparameters(p: Params, cache: Cache, pool: Dataset, with_forces: bool, grouped: bool = False,
                    device: str = "auto", score: str | None = None) -> dict[str, Any]:
    """Kernel width and regularisation chosen by ``cv_folds``-fold cross-validation on ``cv_size``
    configurations of the training pool (grouped by molecule when ``grouped``), computed on torch ``device``
    (a runtime setting: not part of the cache key). ``score`` (see :data:`paperlib.models.gpr.SCORES`)
    defaults to what the model is trained on: energies, or energies and forces."""
    table = _hyper_entry(cache, _hyper_job(p, pool, with_forces, grouped), _device(device))
    return _choice(table, score or ("energy+forces" if with_forces else "energy"))


def _choice(table: list[dict], score: str) -> dict[str, Any]:
    best = best_setting(table, score)
    return {"sigma": best["sigma"], "regularisation": best["regularisation"], "score": score, "table": table}


def _hyper_job(p: Params, pool: Dataset, with_forces: bool, grouped: bool) -> dict[str, Any]:
    return dict(with_forces=with_forces, grouped=grouped, sigmas=list(p.sigmas),
                regularisations=list(p.regularisations), folds=p.cv_folds, seed=stream_seed(p.seed, "cv_folds"),
                data=_cv_set(p, pool))


def _hyper_entry(cache: Cache, args: dict[str, Any], device: str) -> list[dict]:
    entry = _hyper.entry(cache, **args, device=device)
    return json.loads((entry / "hyper.json").read_text())["table"]


def hyperparameter_pair(p: Params, cache: Cache, pool: Dataset, grouped: bool = False, device: str = "auto",
                        executor: Executor | None = None, progress: bool = False) -> dict[str, dict[str, Any]]:
    """:func:`hyperparameters` (targets -> choice) of the energy-only model tuned on its energies, of the
    energy+force model tuned on energies and forces, and (:data:`E_COMMON`) of the energy-only model tuned by
    that same energy and force rule; the two cross-validations computed by ``executor`` (default: in this
    process)."""
    from paperlib.executors import InProcessExecutor

    executor = executor or InProcessExecutor()
    device = _device(device)
    # Mapped over (data, key) built here: the parameters object itself does not cross to the workers.
    jobs = [_hyper_job(p, pool, with_forces, grouped) for with_forces in (False, True)]
    tables = executor.map(lambda job: _hyper_entry(cache, job, device), jobs, desc="hyperparameters",
                          progress=progress)
    return {E_ONLY: _choice(tables[0], "energy"), E_AND_F: _choice(tables[1], "energy+forces"),
            E_COMMON: _choice(tables[0], "energy+forces")}


def _device(device: str) -> str:
    """The torch device ``device`` (``auto``, ``cpu``, ``cuda``, ``cuda:N``) stands for, as a string."""
    from paperlib.training import resolve_device

    return str(resolve_device(device))


def _errors(pred, test: Dataset, group: str | None = None) -> dict[str, Any]:
    """MAE of energies and forces; with ``group`` (an ``info`` key of the test frames: the molecule, or the MD
    run) also, per group, the sums of the absolute energy and force-component errors (``by_group``: name ->
    [energy, forces])."""
    abs_e = np.abs(pred.energies - test.energies())
    abs_f = np.abs(pred.forces - test.forces())
    out: dict[str, Any] = {"mae_energy": float(abs_e.mean()), "mae_forces": float(abs_f.mean())}
    if group is not None:
        ends = np.cumsum(test.n_atoms())
        per_frame_f = np.array([abs_f[e - n:e].sum() for e, n in zip(ends, test.n_atoms())])
        names = np.asarray([str(v) for v in test.info(group)])
        out["by_group"] = {str(m): [float(abs_e[names == m].sum()), float(per_frame_f[names == m].sum())]
                           for m in np.unique(names)}
    return out


@cached_step(runtime=("device",))
def _kernel_point(out: Path, *, train: Dataset, test: Dataset, sigma: float, regularisation: float,
                  with_forces: bool, group: str | None = None, device: str = "cpu") -> None:
    model = FCHLPotential(FCHLConfig(sigma=sigma, regularisation=regularisation, device=device))
    fit = model.fit(train, targets=Targets(1.0, 1.0 if with_forces else 0.0))
    (out / "point.json").write_text(json.dumps({**_errors(model.predict(list(test)), test, group),
                                                "fit_s": fit.wall_time_s}))


@cached_step(runtime=("progress", "runtime"))
def _nn_point(out: Path, *, train: Dataset, test: Dataset, model: str, settings: dict, force_weight: float,
              progress: bool, runtime: dict | None = None) -> None:
    from paperlib.models import registry

    pot = registry.make(model, progress=progress, **settings, **(runtime or {}))
    targets = Targets(1.0 - force_weight, force_weight) if force_weight > 0 else Targets(1.0, 0.0)
    fit = pot.fit(train, targets=targets)
    (out / "point.json").write_text(json.dumps({**_errors(pot.predict(list(test)), test),
                                                "fit_s": fit.wall_time_s}))


def _draws_seed(p: Params) -> int:
    """Seed of the training-set draws: the E-only and E+F curves (and the network's) share it, so draw d of
    every curve of a pool is the same training set (nested in N)."""
    return stream_seed(p.seed, "training_draws")


def _curve(cache: Cache, fn, pool: Dataset, test: Dataset, subsets, key: dict, compute_args: dict,
           executor: Executor | None, progress: bool = False, **labels) -> pd.DataFrame:
    def evaluate(idx: np.ndarray) -> dict[str, float]:
        entry = fn.entry(cache, train=pool.subset(idx), test=test, **key, **compute_args)
        return json.loads((entry / "point.json").read_text())

    return LC.learning_curve(subsets, evaluate, executor, progress=progress, **labels)


def kernel_curves(p: Params, cache: Cache, pool: Dataset, test: Dataset, hyper: Mapping[str, dict],
                  sizes: Mapping[str, list[int]], dataset: str, executor: Executor | None = None,
                  device: str = "auto", progress: bool = False) -> pd.DataFrame:
    """Learning curves of KRR (E-only targets) and GPR (E+F), one per entry of ``sizes`` (targets -> training
    sizes, each with the hyperparameters ``hyper[targets]``): one row per (targets, size, draw) with energy and
    force MAE, and each point's errors per independent unit of the test set (``by_group``: per test molecule,
    or per test MD run of one molecule). The points are computed by ``executor`` (default: in this process) on
    torch ``device``."""
    frames = []
    compute = {"device": _device(device)}
    for targets, n_train in sizes.items():
        hp = hyper[targets]
        subsets = LC.draws(len(pool), n_train, p.n_draws, _draws_seed(p))
        key = dict(sigma=hp["sigma"], regularisation=hp["regularisation"], with_forces=targets == E_AND_F,
                   group=test_units(test))
        frames.append(_curve(cache, _kernel_point, pool, test, subsets, key, compute, executor, progress,
                             dataset=dataset, family=KERNEL, targets=targets))
    return _with_labels(pd.concat(frames, ignore_index=True), pool)


def test_units(test: Dataset) -> str | None:
    """The ``info`` key whose values are the independent units of a test set: the molecule when it holds
    several, else the MD run; None for frames without runs (an rMD17 file)."""
    if all("molecule" in a.info for a in test) and len(set(test.info("molecule"))) > 1:
        return "molecule"
    return keys.TRAJECTORY if all(keys.TRAJECTORY in a.info for a in test) else None


def group_errors(curves: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(curves without the ``by_group`` column, one row per point and test unit: ``dataset``, ``targets``,
    ``n_train``, ``draw``, ``group`` (test molecule or run), ``abs_energy`` and ``abs_forces``, the summed
    absolute errors in eV and eV/Å)."""
    rows = []
    if "by_group" in curves:
        for r in curves.itertuples():
            if isinstance(r.by_group, dict):
                rows += [{"dataset": r.dataset, "targets": r.targets, "n_train": int(r.n_train), "draw": int(r.draw),
                          "group": m, "abs_energy": e, "abs_forces": f} for m, (e, f) in r.by_group.items()]
    return (curves.drop(columns="by_group", errors="ignore"),
            pd.DataFrame(rows, columns=["dataset", "targets", "n_train", "draw", "group", "abs_energy",
                                        "abs_forces"]))


def nn_curves(p: Params, cache: Cache, pool: Dataset, test: Dataset, progress: bool = True,
              executor: Executor | None = None, options: RunOptions | None = None) -> pd.DataFrame:
    """Learning curves of the neural network trained on E only and on E+F (same sizes and draws), the points
    computed by ``executor`` (default: in this process) with the device, devices and strategy of
    ``options`` (runtime settings: not part of the cache key)."""
    options = options or RunOptions()
    runtime = options.training()
    frames = []
    subsets = LC.draws(len(pool), p.nn_sizes, p.nn_draws, _draws_seed(p))
    for targets, w in ((E_ONLY, 0.0), (E_AND_F, p.force_weight)):
        settings = dict(seed=p.seed, max_epochs=p.max_epochs, batch_size=p.batch_size,
                        learning_rate=p.learning_rate)
        key = dict(model=p.nn_model, settings=settings, force_weight=w)
        frames.append(_curve(cache, _nn_point, pool, test, subsets, key, {"progress": progress, "runtime": runtime},
                             executor, progress, dataset=SINGLE, family=NN, targets=targets))
    return _with_labels(pd.concat(frames, ignore_index=True), pool)


def _with_labels(df: pd.DataFrame, pool: Dataset) -> pd.DataFrame:
    n_atoms = float(pool.n_atoms().mean())
    per = df.targets.map(lambda t: LC.labels_per_configuration(n_atoms, t == E_AND_F))
    return df.assign(n_labels=df.n_train * per)


# -- claims ---------------------------------------------------------------------------------------
# Draw d of the E-only and of the E+F curve is the same training set (LC.draws from the same pool and seed),
# so the two curves are compared draw by draw: the draws are the paired, independent units of every interval.
POWER_DRAWS = 3              # budget for a negative verdict: independent training-set draws ...
POWER_TEST_CONFIGURATIONS = 100  # ... and test configurations of the single molecule ...
POWER_TEST_MOLECULES = 20    # ... or held-out test molecules for the unseen-molecule claim ...
POWER_TRAINING_SIZE = 256    # ... and, for the ratio claims, a compared training size of this many configurations:
                             # the paper's ~7x is a large-N figure, and the E+F advantage grows along the curve
ENERGY_WINDOW = 4.0 / 3.0    # "forces do not improve energies": the energy ratio within [0.75, 1.33]
LABEL_GAP = 2.0              # "per label, equal": the per-label curves within a factor 2 of each other ...
LABEL_RANGE = 10.0           # ... over a common range of at least a decade of labels


def curves_frame(results: Mapping[str, Any]) -> pd.DataFrame:
    """The curves table of ``results`` (one row per dataset, family, targets, n_train, draw); a table
    without a ``draw`` column is one draw."""
    df = pd.DataFrame(results["curves"])
    return df if "draw" in df else df.assign(draw=0)


def mean_curve(df: pd.DataFrame, dataset: str, family: str, targets: str, x: str = "n_train"
               ) -> pd.DataFrame:
    """Mean over draws of one curve, sorted by ``x``."""
    sub = df[(df.dataset == dataset) & (df.family == family) & (df.targets == targets)]
    return sub.groupby(x)[list(METRICS)].mean().reset_index().sort_values(x)


def draw_ratios(df: pd.DataFrame, dataset: str, family: str = KERNEL) -> pd.DataFrame:
    """Per draw: the E-only / E+F MAE ratio of energy and forces at the largest
    training size both curves share (columns ``draw``, ``n_train`` and the metrics), paired by draw. Draws
    whose errors coincide exactly with an earlier draw's (the same training set, e.g. N = the whole pool)
    count once. Raises ValueError when the two curves share no training size or no draw."""
    df = df if "draw" in df else df.assign(draw=0)
    sub = df[(df.dataset == dataset) & (df.family == family)]
    e, ef = sub[sub.targets == E_ONLY], sub[sub.targets == E_AND_F]
    common = sorted(set(e.n_train.tolist()) & set(ef.n_train.tolist()))
    if not common:
        raise ValueError(f"the {dataset} {family} E-only and E+F curves share no training size")
    n = common[-1]
    a = e[e.n_train == n].groupby("draw")[list(METRICS)].mean()
    b = ef[ef.n_train == n].groupby("draw")[list(METRICS)].mean()
    shared = a.index.intersection(b.index)
    if not len(shared):
        raise ValueError(f"the {dataset} {family} E-only and E+F curves share no draw at N = {n}")
    both = pd.concat([a.loc[shared], b.loc[shared]], axis=1)
    shared = shared[~both.duplicated().to_numpy()]
    out = (a.loc[shared] / b.loc[shared]).reset_index()
    out.insert(1, "n_train", n)
    return out


def ratios(df: pd.DataFrame, dataset: str, family: str = KERNEL) -> dict[str, float]:
    """E-only / E+F MAE ratios of energy and forces at the largest training size both
    curves share: geometric mean over draws of the per-draw (paired) ratios."""
    r = draw_ratios(df, dataset, family)
    out = {"n_train": float(r.n_train.iloc[0])}
    for m in METRICS:
        out[m] = float(np.exp(np.log(r[m].to_numpy()).mean()))
    return out


def closeness_to_one(log_ratio: IV.Interval) -> IV.Interval:
    """``-|mu|`` and its interval, the image of the interval of ``mu`` under ``mu -> -|mu|``."""
    lo, hi = log_ratio.low, log_ratio.high
    if lo >= 0:
        low, high = -hi, -lo
    elif hi <= 0:
        low, high = lo, hi
    elif math.isfinite(lo) and math.isfinite(hi):  # the interval contains 0
        low, high = -max(-lo, hi), 0.0
    else:  # undefined bounds stay undefined
        low, high = math.nan, math.nan
    return IV.Interval(-abs(log_ratio.value), low, high, log_ratio.n, log_ratio.method)


def _ratio_text(name: str, iv: IV.Interval) -> str:
    f = C.number_text
    return f"{name} {f(iv.value)}x [95 % CI {f(iv.low)}, {f(iv.high)}]"


def judge_single(results: Mapping[str, Any]) -> C.Evidence | None:
    """Claim 1: forces in training improve energies and forces ~7-fold for one molecule."""
    got = error_tables(results, SINGLE)
    if got is None:
        return None
    n_train, tables = got
    n_draws, n_runs = tables["mae_energy"][0].shape
    iv = IV.all_of(lambda c: [pooled_log_ratio(*t, c) for t in tables.values()],
                   f"per-metric mean over {n_draws} draws of log(E-only/E+F MAE) on {n_runs} test runs "
                   "(exponentiated)").mapped(math.exp)
    n_test = results.get("n_test_configurations", 0)
    powered = (iv.n >= POWER_DRAWS and n_test >= POWER_TEST_CONFIGURATIONS and n_train >= POWER_TRAINING_SIZE
               and not edge_choices(results, SINGLE))
    per = {m: pooled_log_ratio(*t).mapped(math.exp) for m, t in tables.items()}
    context = (f"kernel models at N = {n_train}, {n_test} test configurations in {n_runs} runs x {n_draws} draws: "
               + ", ".join(_ratio_text(m.removeprefix("mae_"), per[m]) for m in METRICS)
               + f" (the paper: about {PAPER_RATIO:g}x)")
    context += _tuning_checks(results, SINGLE)
    try:
        nn = ratios(curves_frame(results), SINGLE, NN)
        context += (f"; neural network (not judged) at N = {nn['n_train']:.0f}: energy "
                    f"{nn['mae_energy']:.3g}x, forces {nn['mae_forces']:.3g}x")
    except (ValueError, KeyError):
        pass
    return C.Evidence.from_interval("kernel E-only/E+F MAE ratio at the largest common N, the smaller of "
                                    "energy and forces (geometric mean over draws)", iv, PAPER_RATIO / 2,
                                    powered, context)


def edge_choices(results: Mapping[str, Any], dataset: str) -> list[str]:
    """The judged models (E-only, E+F) of ``dataset`` whose cross-validated hyperparameters lie at an end of
    the searched grid: the search may not have found their best setting."""
    h = pd.DataFrame(results.get("hyperparameters", []))
    if h.empty or "at the grid's edge" not in h:
        return []
    h = h[(h.dataset == dataset) & h.targets.isin([E_ONLY, E_AND_F]) & (h["at the grid's edge"] != "no")]
    return [f"{t} ({edge})" for t, edge in zip(h.targets, h["at the grid's edge"])]


def _edge_text(results: Mapping[str, Any], dataset: str) -> str:
    edges = edge_choices(results, dataset)
    return f"; not powered for a negative: {', '.join(edges)} at the edge of the searched grid" if edges else ""


def _tuning_checks(results: Mapping[str, Any], dataset: str) -> str:
    """What the ratio claims add to their context: the ratios with the energy-only kernel tuned by the energy
    and force rule instead, and any judged model whose hyperparameters lie at the grid's edge."""
    text = ""
    common = error_tables(results, dataset, E_COMMON)
    if common is not None:
        text = "; with the energy-only kernel tuned by the energy and force rule instead: " + ", ".join(
            f"{m.removeprefix('mae_')} {C.number_text(math.exp(mean_log_ratio(a, b)))}x"
            for m, (a, b) in common[1].items())
    return text + _edge_text(results, dataset)


def error_tables(results: Mapping[str, Any], dataset: str, e_targets: str = E_ONLY
                 ) -> tuple[int, dict[str, tuple[np.ndarray, np.ndarray]]] | None:
    """At the largest training size the ``dataset``'s kernel curves ``e_targets`` and E+F share: that size,
    and per metric the summed absolute errors of the two models as [draws x test units] tables (the draws
    and units both have; a draw whose errors repeat an earlier draw's, the same training set, counts once).
    None without per-unit errors."""
    m = pd.DataFrame(results.get("group_errors", []))
    if m.empty:
        return None
    m = m[m.dataset == dataset]
    e, ef = m[m.targets == e_targets], m[m.targets == E_AND_F]
    common = sorted(set(e.n_train.tolist()) & set(ef.n_train.tolist()))
    if not common:
        return None
    n = common[-1]
    pivots = {}
    for metric, col in (("mae_energy", "abs_energy"), ("mae_forces", "abs_forces")):
        pivots[metric] = [x[x.n_train == n].pivot_table(index="draw", columns="group", values=col) for x in (e, ef)]
    a0, b0 = pivots["mae_energy"]
    rows, cols = a0.index.intersection(b0.index), a0.columns.intersection(b0.columns)
    both = pd.concat([p.loc[rows, cols] for pair in pivots.values() for p in pair], axis=1)
    rows = rows[~both.duplicated().to_numpy()]
    return n, {metric: (a.loc[rows, cols].to_numpy(float), b.loc[rows, cols].to_numpy(float))
               for metric, (a, b) in pivots.items()}


def pooled_log_ratio(a: np.ndarray, b: np.ndarray, confidence: float = IV.CONFIDENCE) -> IV.Interval:
    """Mean over draws (rows) of log(sum over test units (columns) of ``a`` / the same of ``b``): with
    summed absolute errors on the same test frames, the log of the MAE ratio. Interval: the two-way bootstrap
    over draws x test units (molecules or MD runs), so both the draw-to-draw spread and the choice of test
    data enter."""
    def statistic(rows: np.ndarray, cols: np.ndarray) -> float:
        return mean_log_ratio(a[np.ix_(rows, cols)], b[np.ix_(rows, cols)])

    return IV.crossed_bootstrap_interval(statistic, *a.shape, confidence=confidence)


def mean_log_ratio(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over rows (draws) of log(row sum of ``a`` / row sum of ``b``)."""
    return float(np.mean(np.log(a.sum(1) / b.sum(1))))


def judge_unseen(results: Mapping[str, Any]) -> C.Evidence | None:
    """Claim 2: for unseen molecules forces do not improve energies but improve forces ~7-fold."""
    got = error_tables(results, UNSEEN)
    if got is None:
        return None
    n_train, tables = got

    def parts(confidence: float) -> list[IV.Interval]:
        return [closeness_to_one(pooled_log_ratio(*tables["mae_energy"], confidence)
                                 ).shifted(math.log(ENERGY_WINDOW)),
                pooled_log_ratio(*tables["mae_forces"], confidence).shifted(-math.log(PAPER_RATIO / 2))]

    logs = {m: pooled_log_ratio(*t) for m, t in tables.items()}
    energy = closeness_to_one(logs["mae_energy"]).shifted(math.log(ENERGY_WINDOW))
    forces = logs["mae_forces"].shifted(-math.log(PAPER_RATIO / 2))
    n_draws, n_mol = tables["mae_energy"][0].shape
    iv = IV.all_of(parts, f"margins (energy: log {ENERGY_WINDOW:.3g} - |log ratio|; forces: log ratio - log "
                          f"{PAPER_RATIO / 2:g}), each the mean over {n_draws} draws of the log MAE ratio on "
                          f"{n_mol} held-out molecules")
    powered = (n_draws >= POWER_DRAWS and n_mol >= POWER_TEST_MOLECULES and n_train >= POWER_TRAINING_SIZE
               and not edge_choices(results, UNSEEN))
    context = (f"kernel models at N = {n_train}, {n_mol} held-out test molecules x {n_draws} draws: "
               + ", ".join(_ratio_text(m.removeprefix("mae_"), logs[m].mapped(math.exp)) for m in METRICS)
               + f"; energy margin {energy.value:.3g}, forces margin {forces.value:.3g}")
    context += _tuning_checks(results, UNSEEN)
    return C.Evidence.from_interval(f"smaller log-margin of the two parts: min(log {ENERGY_WINDOW:.3g} - |log "
                                    f"energy ratio|, log force ratio - log {PAPER_RATIO / 2:g}), E-only/E+F "
                                    "kernel MAE on unseen molecules", iv, 0.0, powered, context)


def per_label_gaps(results: Mapping[str, Any]) -> pd.DataFrame:
    """Per draw: the largest factor between that draw's E-only and E+F kernel curves plotted against labels,
    per metric, over their common label range (columns ``draw``, the metrics, ``lo``, ``hi``). Raises
    ValueError when the curves do not overlap in labels."""
    df = curves_frame(results)
    sub = df[(df.dataset == SINGLE) & (df.family == KERNEL)]
    rows = []
    for d in sorted(set(sub[sub.targets == E_ONLY].draw) & set(sub[sub.targets == E_AND_F].draw)):
        e = mean_curve(sub[sub.draw == d], SINGLE, KERNEL, E_ONLY, x="n_labels")
        ef = mean_curve(sub[sub.draw == d], SINGLE, KERNEL, E_AND_F, x="n_labels")
        row: dict[str, Any] = {"draw": d}
        for m in METRICS:
            row[m], (row["lo"], row["hi"]) = LC.max_gap_factor(e.n_labels.to_numpy(), e[m].to_numpy(),
                                                               ef.n_labels.to_numpy(), ef[m].to_numpy())
        rows.append(row)
    return pd.DataFrame(rows, columns=["draw", *METRICS, "lo", "hi"])


def judge_per_label(results: Mapping[str, Any]) -> C.Evidence | None:
    """Claim 3: per label, energies and forces contribute equally (the per-label curves coincide)."""
    if "curves" not in results:
        return None
    statistic = "-log of the largest factor between the per-label E-only and E+F kernel curves (energy or forces)"
    try:
        g = per_label_gaps(results)
    except ValueError as err:
        return C.Evidence.from_interval(statistic, IV.mean_interval([]), -math.log(LABEL_GAP), False,
                                        f"no common label range ({err}); extend krr_sizes")
    if g.empty:
        return None
    lo, hi = float(g.lo.iloc[0]), float(g.hi.iloc[0])
    if hi < LABEL_RANGE * lo:
        return C.Evidence.from_interval(statistic, IV.mean_interval([]), -math.log(LABEL_GAP), False,
                                        f"the curves share only {lo:.0f}-{hi:.0f} labels, less than the "
                                        f"{LABEL_RANGE:g}-fold range the rule needs; extend krr_sizes or start "
                                        "gp_sizes lower")
    per_draw = -np.log(g[list(METRICS)].to_numpy().max(axis=1))
    iv = IV.mean_interval(per_draw)
    iv = IV.Interval(iv.value, iv.low, iv.high, iv.n,
                     f"{iv.method} over {len(g)} draws of -log(max gap factor), each draw's E-only and E+F curves "
                     f"compared (draw noise can only widen a gap)")
    n_test = results.get("n_test_configurations", 0)
    powered = iv.n >= POWER_DRAWS and n_test >= POWER_TEST_CONFIGURATIONS and not edge_choices(results, SINGLE)
    context = (f"over {g.lo.iloc[0]:.0f}-{g.hi.iloc[0]:.0f} labels the curves differ by at most "
               + ", ".join(f"{np.exp(np.log(g[m]).mean()):.3g}x ({m.removeprefix('mae_')})" for m in METRICS)
               + " (geometric mean over draws)" + _edge_text(results, SINGLE))
    return C.Evidence.from_interval(statistic, iv, -math.log(LABEL_GAP), powered, context)


_BUDGET = (f"not reproduced only if the interval lies below the threshold and the run has >= {POWER_DRAWS} draws "
           f"and >= {POWER_TEST_CONFIGURATIONS} test configurations; otherwise inconclusive")

CLAIMS: tuple[C.Claim, ...] = (
    C.Claim("1", "For one molecule (MD data), training on energies and forces improves predicted energies and "
                 "forces about 7-fold over energies only, at the same number of configurations.",
            "Kernel models (FCHL19 KRR on E vs GPR on E+F), each with the hyperparameters that minimise the "
            "cross-validated error of what it is trained on, at the largest training size both curves share. "
            "Statistic: the smaller, over energy and forces, of the E-only/E+F MAE ratio (geometric mean over "
            "draws of the MAE ratio over the test set; draw d of both curves is the same training set, so ratios "
            f"are paired per draw). Threshold {PAPER_RATIO / 2:g} (half the paper's {PAPER_RATIO:g}). Interval: "
            "per metric a two-way bootstrap (BCa) over draws x test MD runs of the mean log ratio, "
            "exponentiated; the two combined as the smaller 95 % lower bound and the smaller Bonferroni (97.5 %) "
            f"upper bound. Reproduced if the interval lies above the threshold; {_BUDGET}, at a compared training "
            f"size of >= {POWER_TRAINING_SIZE} configurations and with neither model's hyperparameters at an "
            "end of the searched grid.",
            judge_single),
    C.Claim("2", "For unseen molecules in non-equilibrium conformations, forces do not improve predicted "
                 "energies but improve forces about 7-fold.",
            "Kernel models tested on molecules absent from training, at the largest training size both curves "
            "share. Two parts must both hold: the energy E-only/E+F MAE ratio lies within "
            f"[{1 / ENERGY_WINDOW:.2f}, {ENERGY_WINDOW:.2f}] (margin log {ENERGY_WINDOW:.3g} - |log ratio|) and "
            f"the force ratio exceeds {PAPER_RATIO / 2:g}, half the paper's {PAPER_RATIO:g} (margin log ratio - "
            f"log {PAPER_RATIO / 2:g}). Each ratio is taken within a draw over the pooled errors of all test "
            "molecules and averaged in log over draws. Statistic: the smaller margin; threshold 0. Interval: "
            "two-way bootstrap (BCa) over draws x held-out test molecules for each part, mapped to its margin; "
            "combined as the smaller 95 % lower bound and the smaller Bonferroni (97.5 %) upper bound. Reproduced "
            f"if the interval lies above 0; not reproduced only if it lies below 0 and the run has >= {POWER_DRAWS} "
            f"draws, >= {POWER_TEST_MOLECULES} held-out test molecules, a compared training size of >= "
            f"{POWER_TRAINING_SIZE} configurations and neither model's hyperparameters at an end of the searched "
            "grid; otherwise inconclusive.", judge_unseen),
    C.Claim("3", "Per label, energy and force labels contribute equally to the convergence of the errors.",
            "Single-molecule kernel curves plotted against labels (N for E-only, N(1 + 3 n_atoms) for E+F), "
            "interpolated log-log over their common label range, draw by draw. Statistic: -log of the largest "
            "factor between the two curves, energy or forces (mean over draws); threshold -log "
            f"{LABEL_GAP:g} (curves within {LABEL_GAP:g}x). Interval: Student t 95 % interval over the "
            "per-draw values. Reproduced if the interval lies above the threshold; " + _BUDGET
            + f" and neither model's hyperparameters at an end of the searched grid; inconclusive when the "
            f"curves share less than a {LABEL_RANGE:g}-fold range of labels.",
            judge_per_label),
)


def summary_figures(curves: pd.DataFrame) -> dict[str, float]:
    """Measured figures for results.json: mean MAE per (dataset, family, targets, size) and the ratios."""
    figures: dict[str, float] = {}
    agg = curves.groupby(["dataset", "family", "targets", "n_train"])[list(METRICS)].mean()
    for (ds, fam, tg, n), row in agg.iterrows():
        for m in METRICS:
            figures[f"{ds}/{fam}/{tg}/N={n}/{m}"] = float(row[m])
    for ds in (SINGLE, UNSEEN):
        if ((curves.dataset == ds) & (curves.family == KERNEL)).any():
            for m, v in ratios(curves, ds).items():
                figures[f"{ds}/kernel/ratio_{m}"] = float(v)
    return figures


def figures(results: "Results") -> dict[str, float]:
    """The measured figures of results.json (:func:`summary_figures` of the curves)."""
    return summary_figures(results.curves)


# -- the study ------------------------------------------------------------------------------------
@dataclasses.dataclass
class Results(StudyResults):
    """What the chapter presents and the claims judge.

    Attributes
    ----------
    curves
        one row per (dataset, family, targets, n_train, draw): ``mae_energy``, ``mae_forces`` (eV, eV/Å),
        ``fit_s`` and ``n_labels``; the single-molecule kernel and network curves and the unseen-molecule
        kernel curves.
    n_test_configurations
        test frames of the single molecule.
    unseen_test_molecules
        molecules held out for the unseen-molecule test.
    reference_sets
        the single molecule's training pool and test set: frames, independent runs, atoms, energy spread and
        mean ``|F|`` (eV, eV/Å).
    autocorrelation
        per set (pool, test): integrated autocorrelation time (frames, fs), lag-one autocorrelation and the
        effective number of independent frames of the potential energy and of the slowest interatomic
        distance (empty for an rMD17 file, whose frames carry no run or time).
    hyperparameters
        one row per (dataset, targets): the cross-validated ``sigma`` and ``regularisation``, the ``score``
        that chose them, and which of the two lies at an end of its searched grid.
    group_errors
        per kernel curve point and independent test unit (a test MD run of the single molecule, a held-out
        molecule): the summed absolute energy and force errors.
    unseen_sets
        training and test side of the split by molecule: molecules, conformations, atoms (min-max).
    failed_molecules
        molecule name -> why its conformations could not be made.
    artefacts
        the data sets of this run (:func:`artefacts`), which ``paperlib export`` writes. Its models (kernels
        and networks) are not kept: each learning-curve point caches its errors only.
    """

    curves: pd.DataFrame
    n_test_configurations: int
    unseen_test_molecules: int
    reference_sets: pd.DataFrame
    autocorrelation: pd.DataFrame
    hyperparameters: pd.DataFrame
    group_errors: pd.DataFrame
    unseen_sets: pd.DataFrame
    failed_molecules: dict[str, str]
    artefacts: dict = dataclasses.field(default_factory=dict)


def artefacts(p: Params, cache: Cache, pool: Dataset, test: Dataset, train_u: Dataset,
              test_u: Dataset) -> dict[str, list[dict]]:
    """The run's data sets for ``paperlib export``: the single molecule's training pool (every training set
    of its learning curves is a draw from it) and test set, and the two sides of the split by molecule."""
    source = p.dataset_path or p.molecule
    return artefact_map([], [
        data_artefact(cache, "training pool", pool, f"{source}: the pool every single-molecule training set is "
                                                     f"drawn from (draw seed {_draws_seed(p)})"),
        data_artefact(cache, "test set", test, f"{source}: the held-out frames of the single-molecule curves"),
        data_artefact(cache, "unseen-molecule training set", train_u,
                      "normal-mode conformations of the training molecules"),
        data_artefact(cache, "unseen-molecule test set", test_u,
                      "normal-mode conformations of the held-out molecules")])


def _reference_table(pool: Dataset, test: Dataset) -> pd.DataFrame:
    sets = (("training pool", pool), ("test", test))
    runs = [len(set(d.info(keys.TRAJECTORY))) if all(keys.TRAJECTORY in a.info for a in d) else math.nan
            for _, d in sets]
    return pd.DataFrame({"set": [name for name, _ in sets], "frames": [len(d) for _, d in sets], "runs": runs,
                         "atoms": [int(d.n_atoms()[0]) for _, d in sets],
                         "energy_spread": [float(np.ptp(d.energies())) for _, d in sets],
                         "mean_abs_force": [float(np.abs(d.forces()).mean()) for _, d in sets]})


def _unseen_table(train: Dataset, test: Dataset) -> pd.DataFrame:
    sets = (("training", train), ("test", test))
    return pd.DataFrame({"set": [name for name, _ in sets],
                         "molecules": [len(set(d.info("molecule"))) for _, d in sets],
                         "conformations": [len(d) for _, d in sets],
                         "atoms (min-max)": [f"{d.n_atoms().min()}-{d.n_atoms().max()}" for _, d in sets]})


def _hyper_rows(dataset: str, hyper: Mapping[str, dict]) -> list[dict[str, Any]]:
    rows = []
    for t, h in hyper.items():
        grid = {name: sorted({float(r[name]) for r in h["table"]}) for name in ("sigma", "regularisation")}
        edge = [name for name, values in grid.items() if len(values) > 1 and float(h[name]) in (values[0], values[-1])]
        rows.append({"dataset": dataset, "targets": t, "sigma": float(h["sigma"]),
                     "regularisation": float(h["regularisation"]), "score": h["score"],
                     "at the grid's edge": ", ".join(edge) or "no"})
    return rows


def _compared_size(*curves: list[int]) -> list[int]:
    """The largest training size the curves share (as a one-size list), or none."""
    common = set(curves[0]).intersection(*curves[1:])
    return [max(common)] if common else []


def _autocorrelation(p: Params, pool: Dataset, test: Dataset) -> pd.DataFrame:
    if p.dataset_path:
        return pd.DataFrame(columns=["set", "observable", "tau_frames", "tau_fs", "lag_one_autocorrelation",
                                     "runs", "frames_per_run", "effective_frames"])
    return pd.concat([AC.autocorrelation_table(d, p.stride_fs).assign(set=name).pipe(
        lambda t: t[["set", *t.columns[:-1]]]) for name, d in (("training pool", pool), ("test", test))],
        ignore_index=True)


def run(p: Params, cache: Cache, options: RunOptions = RunOptions(), timer: "Timer | None" = None) -> Results:
    """All the compute of the chapter, each stage cached: reference MD, cross-validated hyperparameters, the
    single-molecule kernel and network learning curves, the normal-mode conformations of many molecules and
    the unseen-molecule kernel curves. The independent fits (the two cross-validations of each dataset and
    every learning-curve point) run on one executor of ``options``."""
    timer = timer if timer is not None else Timer()
    progress = options.progress
    device = _device(options.device)
    with options.make_executor() as ex:
        with timer("reference MD"):
            pool, test = single_molecule_data(p, cache, progress=progress)
        with timer("hyperparameters (single molecule)"):
            hyper = hyperparameter_pair(p, cache, pool, False, device, ex, progress)
        with timer("kernel learning curves (single molecule)"):
            sizes = {E_ONLY: p.krr_sizes, E_AND_F: p.gp_sizes, E_COMMON: _compared_size(p.krr_sizes, p.gp_sizes)}
            kernel = kernel_curves(p, cache, pool, test, hyper, sizes, SINGLE, ex, device, progress)
        nn = pd.DataFrame()
        if p.nn_sizes:
            with timer("neural-network learning curves"):
                nn = nn_curves(p, cache, pool, test, progress=progress, executor=ex, options=options)
        with timer("reference conformations (many molecules)"):
            confs, failed = qm7b_data(p, cache, progress=progress)
            train_u, test_u = unseen_split(p, confs)
        shared = set(train_u.info("molecule")) & set(test_u.info("molecule"))
        if shared:
            raise RuntimeError(f"molecules on both sides of the split: {sorted(shared)}")
        with timer("unseen-molecule curves"):
            hyper_u = hyperparameter_pair(p, cache, train_u, True, device, ex, progress)
            # The energy-only kernel is cheap: it also learns from every training conformation.
            krr = sorted(set(p.qm7b_sizes) | {len(train_u)})
            sizes = {E_ONLY: krr, E_AND_F: p.qm7b_sizes, E_COMMON: _compared_size(krr, p.qm7b_sizes)}
            unseen, per_molecule = group_errors(kernel_curves(p, cache, train_u, test_u, hyper_u, sizes, UNSEEN,
                                                              ex, device, progress))
    kernel, per_run = group_errors(kernel)
    return Results(curves=pd.concat([kernel, nn, unseen], ignore_index=True),
                   n_test_configurations=len(test),
                   unseen_test_molecules=len(set(test_u.info("molecule"))),
                   reference_sets=_reference_table(pool, test),
                   autocorrelation=_autocorrelation(p, pool, test),
                   hyperparameters=pd.DataFrame(_hyper_rows(SINGLE, hyper) + _hyper_rows(UNSEEN, hyper_u)),
                   group_errors=pd.concat([per_run, per_molecule], ignore_index=True),
                   unseen_sets=_unseen_table(train_u, test_u),
                   failed_molecules={str(k): str(v) for k, v in failed.items()},
                   artefacts=artefacts(p, cache, pool, test, train_u, test_u))
