"""Study 1: the role of gradients (Christensen & von Lilienfeld, MLST 1, 045018 (2020), arXiv 2007.09593).

Stages (each cached by its inputs): reference MD of one molecule (or an rMD17 file) -> hyperparameters by
cross-validation on training data -> learning curves of energy-only vs energy+force kernel models (FCHL19
KRR / GPR) and SchNet -> normal-mode conformations of many small molecules, split by molecule ->
unseen-molecule learning curves -> claims.

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
from paperlib.analysis import claims as C
from paperlib.analysis import intervals as IV
from paperlib.analysis import learning_curves as LC
from paperlib.cache import Cache, cached_step
from paperlib.data.dataset import Dataset
from paperlib.data.formats import read_rmd17
from paperlib.data.splits import group_split, random_split
from paperlib.executors import Executor
from paperlib.models.base import Targets
from paperlib.models.gpr import FCHLConfig, FCHLPotential, select_hyperparameters
from paperlib.options import RunOptions
from paperlib.reference.xtb import XTBSettings, relax
from paperlib.sampling.md import xtb_langevin_trajectories
from paperlib.sampling.molecules import molecule_structure, read_smiles_list
from paperlib.sampling.normal_modes import xtb_normal_mode_set
from paperlib.studies.contract import StudyParams, StudyResults
from paperlib.timing import Timer

STUDY = "gradients"
FRAMES = "frames.xyz"
KERNEL, NN = "kernel", "nn"
E_ONLY, E_AND_F = "E", "E+F"
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
    return max(max(p.krr_sizes), max(p.gp_sizes), max(p.nn_sizes), p.cv_size)


def single_molecule_data(p: Params, cache: Cache, progress: bool = True) -> tuple[Dataset, Dataset]:
    """(training pool, test set) of one molecule: reference MD, test frames from separate trajectories;
    or, with ``dataset_path``, an rMD17 file split at random."""
    if p.dataset_path:
        data = read_rmd17(p.dataset_path)
        if len(data) < pool_size(p) + p.n_test:
            raise ValueError(f"parameter 'dataset_path': {p.dataset_path!r} has {len(data)} frames; the chosen "
                             f"sizes need {pool_size(p) + p.n_test} (pool {pool_size(p)} + n_test {p.n_test})")
        rest, test = random_split(len(data), p.n_test, stream_seed(p.seed, "test_split"))
        return data.subset(rest), data.subset(test)
    stride = max(1, round(p.stride_fs / p.timestep_fs))
    common = dict(start=Dataset([molecule_structure(p.molecule)]), temperature_K=p.temperature_K, timestep_fs=p.timestep_fs,
                  friction_per_fs=p.friction_per_fs, equil_steps=p.equil_steps, stride=stride,
                  n_trajectories=p.n_trajectories)
    out = []
    # Pool and test frames come from trajectories of separate seed streams: no test frame is a near-copy of a
    # training frame.
    for kind, n, seed in (("pool", pool_size(p), stream_seed(p.seed, "pool_md")),
                          ("test", p.n_test, stream_seed(p.seed, "test_md"))):
        args = dict(common, frames_per_trajectory=math.ceil(n / p.n_trajectories), seed=seed)
        entry = _reference_md.entry(cache, **args, progress=progress)
        out.append(Dataset.read(entry / FRAMES, require=[keys.REF_energy, keys.REF_forces])[:n])
    return out[0], out[1]


def qm7b_molecules(p: Params) -> list[tuple[str, str]]:
    """The first ``qm7b_molecules`` entries of the QM7b-like list whose elements are all allowed."""
    from rdkit import Chem

    allowed = set(p.qm7b_elements)
    chosen = []
    for smiles, name in read_smiles_list():
        mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
        if {a.GetSymbol() for a in mol.GetAtoms()} <= allowed:
            chosen.append((smiles, name))
    return chosen[:p.qm7b_molecules]


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
    sigma, lam, table = select_hyperparameters(data, with_forces=with_forces, sigmas=sigmas,
                                               regularisations=regularisations, folds=folds, groups=groups,
                                               seed=seed, device=device)
    (out / "hyper.json").write_text(json.dumps({"sigma": sigma, "regularisation": lam, "table": table}))


def hyperparameters(p: Params, cache: Cache, pool: Dataset, with_forces: bool, grouped: bool = False,
                    device: str = "auto") -> dict[str, Any]:
    """Kernel width and regularisation chosen by ``cv_folds``-fold cross-validation on ``cv_size``
    configurations of the training pool (grouped by molecule when ``grouped``), computed on torch ``device``
    (a runtime setting: not part of the cache key)."""
    return _hyper_entry(cache, _hyper_job(p, pool, with_forces, grouped), _device(device))


def _hyper_job(p: Params, pool: Dataset, with_forces: bool, grouped: bool) -> dict[str, Any]:
    return dict(with_forces=with_forces, grouped=grouped, sigmas=list(p.sigmas),
                regularisations=list(p.regularisations), folds=p.cv_folds, seed=stream_seed(p.seed, "cv_folds"),
                data=_cv_set(p, pool))


def _hyper_entry(cache: Cache, args: dict[str, Any], device: str) -> dict[str, Any]:
    entry = _hyper.entry(cache, **args, device=device)
    return json.loads((entry / "hyper.json").read_text())


def hyperparameter_pair(p: Params, cache: Cache, pool: Dataset, grouped: bool = False, device: str = "auto",
                        executor: Executor | None = None, progress: bool = False) -> dict[str, dict[str, Any]]:
    """:func:`hyperparameters` of the energy-only and of the energy+force model (targets -> choice), the two
    cross-validations computed by ``executor`` (default: in this process)."""
    from paperlib.executors import InProcessExecutor

    executor = executor or InProcessExecutor()
    device = _device(device)
    # Mapped over (data, key) built here: the parameters object itself does not cross to the workers.
    jobs = [_hyper_job(p, pool, with_forces, grouped) for with_forces in (False, True)]
    chosen = executor.map(lambda job: _hyper_entry(cache, job, device), jobs, desc="hyperparameters",
                          progress=progress)
    return {E_ONLY: chosen[0], E_AND_F: chosen[1]}


def _device(device: str) -> str:
    """The torch device ``device`` (``auto``, ``cpu``, ``cuda``, ``cuda:N``) stands for, as a string."""
    from paperlib.training import resolve_device

    return str(resolve_device(device))


def _errors(pred, test: Dataset) -> dict[str, float]:
    return {"mae_energy": float(np.abs(pred.energies - test.energies()).mean()),
            "mae_forces": float(np.abs(pred.forces - test.forces()).mean())}


@cached_step(runtime=("device",))
def _kernel_point(out: Path, *, train: Dataset, test: Dataset, sigma: float, regularisation: float,
                  with_forces: bool, device: str = "cpu") -> None:
    model = FCHLPotential(FCHLConfig(sigma=sigma, regularisation=regularisation, device=device))
    fit = model.fit(train, targets=Targets(1.0, 1.0 if with_forces else 0.0))
    (out / "point.json").write_text(json.dumps({**_errors(model.predict(list(test)), test),
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
    """Learning curves of KRR (E) and GPR (E+F): one row per (targets, size, draw) with energy and force MAE.
    The points are computed by ``executor`` (default: in this process) on torch ``device``."""
    frames = []
    compute = {"device": _device(device)}
    for targets, with_forces in ((E_ONLY, False), (E_AND_F, True)):
        hp = hyper[targets]
        subsets = LC.draws(len(pool), sizes[targets], p.n_draws, _draws_seed(p))
        key = dict(sigma=hp["sigma"], regularisation=hp["regularisation"], with_forces=with_forces)
        frames.append(_curve(cache, _kernel_point, pool, test, subsets, key, compute, executor, progress,
                             dataset=dataset, family=KERNEL, targets=targets))
    return _with_labels(pd.concat(frames, ignore_index=True), pool)


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
    per = df.targets.map({E_ONLY: LC.labels_per_configuration(n_atoms, False),
                          E_AND_F: LC.labels_per_configuration(n_atoms, True)})
    return df.assign(n_labels=df.n_train * per)


# -- claims ---------------------------------------------------------------------------------------
# Draw d of the E-only and of the E+F curve is the same training set (LC.draws from the same pool and seed),
# so the two curves are compared draw by draw: the draws are the paired, independent units of every interval.
POWER_DRAWS = 3              # budget for a negative verdict: independent training-set draws ...
POWER_TEST_CONFIGURATIONS = 100  # ... and test configurations of the single molecule ...
POWER_TEST_MOLECULES = 20    # ... or held-out test molecules for the unseen-molecule claim ...
POWER_TRAINING_SIZE = 256    # ... and, for the ratio claims, a compared training size of this many configurations:
                             # the paper's ~7x is a large-N figure, and the E+F advantage grows along the curve
ENERGY_WINDOW = 2.0          # "forces do not improve energies": the energy ratio within [1/2, 2]
LABEL_GAP = 2.0              # "per label, equal": the per-label curves within a factor 2 of each other


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
    """Per draw: the E-only / E+F MAE ratio of energy and forces at the largest training size both curves
    share (columns ``draw``, ``n_train`` and the metrics), paired by draw. Draws whose errors coincide
    exactly with an earlier draw's (the same training set, e.g. N = the whole pool) count once. Raises
    ValueError when the two curves share no training size or no draw."""
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
    """E-only / E+F MAE ratios of energy and forces at the largest training size both curves share:
    geometric mean over draws of the per-draw (paired) ratios."""
    r = draw_ratios(df, dataset, family)
    out = {"n_train": float(r.n_train.iloc[0])}
    for m in METRICS:
        out[m] = float(np.exp(np.log(r[m].to_numpy()).mean()))
    return out


def log_ratio_intervals(r: pd.DataFrame, confidence: float = IV.CONFIDENCE) -> dict[str, IV.Interval]:
    """Per metric: mean of the per-draw log ratios with its Student t interval."""
    return {m: IV.mean_interval(np.log(r[m].to_numpy()), confidence) for m in METRICS}


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
    if "curves" not in results:
        return None
    df = curves_frame(results)
    try:
        r = draw_ratios(df, SINGLE)
    except ValueError:
        return None
    n_train = int(r.n_train.iloc[0])
    per = {m: iv.mapped(math.exp) for m, iv in log_ratio_intervals(r).items()}
    iv = IV.all_of(lambda c: list(log_ratio_intervals(r, c).values()),
                   f"per-metric mean per-draw log(E-only/E+F MAE) over {len(r)} paired draws (exponentiated)"
                   ).mapped(math.exp)
    n_test = results.get("n_test_configurations", 0)
    powered = iv.n >= POWER_DRAWS and n_test >= POWER_TEST_CONFIGURATIONS and n_train >= POWER_TRAINING_SIZE
    context = (f"kernel models at N = {n_train}, {n_test} test configurations: "
               + ", ".join(_ratio_text(m.removeprefix("mae_"), per[m]) for m in METRICS))
    try:
        nn = ratios(df, SINGLE, NN)
        context += (f"; neural network (not judged) at N = {nn['n_train']:.0f}: energy "
                    f"{nn['mae_energy']:.3g}x, forces {nn['mae_forces']:.3g}x")
    except ValueError:
        pass
    return C.Evidence.from_interval("kernel E-only/E+F MAE ratio at the largest common N, the smaller of "
                                    "energy and forces (geometric mean over draws)", iv, PAPER_RATIO / 2,
                                    powered, context)


def judge_unseen(results: Mapping[str, Any]) -> C.Evidence | None:
    """Claim 2: for unseen molecules forces do not improve energies but improve forces ~7-fold."""
    if "curves" not in results:
        return None
    try:
        r = draw_ratios(curves_frame(results), UNSEEN)
    except ValueError:
        return None
    n_train = int(r.n_train.iloc[0])
    logs = log_ratio_intervals(r)

    def parts(confidence: float) -> list[IV.Interval]:
        at = log_ratio_intervals(r, confidence)
        return [closeness_to_one(at["mae_energy"]).shifted(math.log(ENERGY_WINDOW)),
                at["mae_forces"].shifted(-math.log(PAPER_RATIO / 2))]

    energy, forces = parts(IV.CONFIDENCE)
    iv = IV.all_of(parts, f"margins (energy: log 2 - |mean per-draw log ratio|; forces: mean per-draw log ratio "
                          f"- log 3.5) over {len(r)} paired draws")
    n_mol = results.get("unseen_test_molecules", 0)
    powered = iv.n >= POWER_DRAWS and n_mol >= POWER_TEST_MOLECULES and n_train >= POWER_TRAINING_SIZE
    context = (f"kernel models at N = {n_train}, {n_mol} held-out test molecules: "
               + ", ".join(_ratio_text(m.removeprefix("mae_"), logs[m].mapped(math.exp)) for m in METRICS)
               + f"; energy margin {energy.value:.3g}, forces margin {forces.value:.3g}")
    return C.Evidence.from_interval("smaller log-margin of the two parts: min(log 2 - |log energy ratio|, "
                                    "log force ratio - log 3.5), E-only/E+F kernel MAE on unseen molecules",
                                    iv, 0.0, powered, context)


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
    per_draw = -np.log(g[list(METRICS)].to_numpy().max(axis=1))
    iv = IV.mean_interval(per_draw)
    iv = IV.Interval(iv.value, iv.low, iv.high, iv.n,
                     f"{iv.method} over {len(g)} draws of -log(max gap factor), each draw's E-only and E+F curves "
                     f"compared (draw noise can only widen a gap)")
    n_test = results.get("n_test_configurations", 0)
    powered = iv.n >= POWER_DRAWS and n_test >= POWER_TEST_CONFIGURATIONS
    context = (f"over {g.lo.iloc[0]:.0f}-{g.hi.iloc[0]:.0f} labels the curves differ by at most "
               + ", ".join(f"{np.exp(np.log(g[m]).mean()):.3g}x ({m.removeprefix('mae_')})" for m in METRICS)
               + " (geometric mean over draws)")
    return C.Evidence.from_interval(statistic, iv, -math.log(LABEL_GAP), powered, context)


_BUDGET = (f"not reproduced only if the interval lies below the threshold and the run has >= {POWER_DRAWS} draws "
           f"and >= {POWER_TEST_CONFIGURATIONS} test configurations; otherwise inconclusive")

CLAIMS: tuple[C.Claim, ...] = (
    C.Claim("1", "For one molecule (MD data), training on energies and forces improves predicted energies and "
                 "forces about 7-fold over energies only, at the same number of configurations.",
            "Kernel models (FCHL19 KRR on E vs GPR on E+F) at the largest training size both curves share. "
            "Statistic: the smaller, over energy and forces, of the E-only/E+F MAE ratio (geometric mean over "
            "draws; draw d of both curves is the same training set, so ratios are paired per draw). Threshold "
            f"{PAPER_RATIO / 2:g} (half the paper's {PAPER_RATIO:g}). Interval: per metric the Student t 95 % "
            "interval of the mean per-draw log ratio, exponentiated; the two combined as the smaller 95 % lower "
            "bound and the smaller Bonferroni (97.5 %) upper bound. Reproduced if the interval lies above the "
            f"threshold; {_BUDGET}, at a compared training size of >= {POWER_TRAINING_SIZE} configurations.",
            judge_single),
    C.Claim("2", "For unseen molecules in non-equilibrium conformations, forces do not improve predicted "
                 "energies but improve forces about 7-fold.",
            "Kernel models tested on molecules absent from training, at the largest training size both curves "
            "share. Two parts must both hold: the energy E-only/E+F MAE ratio lies within "
            f"[1/{ENERGY_WINDOW:g}, {ENERGY_WINDOW:g}] (margin log {ENERGY_WINDOW:g} - |log ratio|) and the force "
            f"ratio exceeds {PAPER_RATIO / 2:g}, half the paper's {PAPER_RATIO:g} (margin log ratio - "
            f"log {PAPER_RATIO / 2:g}). Statistic: the smaller margin; threshold 0. Interval: Student t 95 % "
            "interval of the mean per-draw log ratio (paired draws) for each part, mapped to its margin; "
            "combined as the smaller 95 % lower bound and the smaller Bonferroni (97.5 %) upper bound. Reproduced "
            f"if the interval lies above 0; not reproduced only if it lies below 0 and the run has >= {POWER_DRAWS} "
            f"draws, >= {POWER_TEST_MOLECULES} held-out test molecules and a compared training size of >= "
            f"{POWER_TRAINING_SIZE} configurations; otherwise inconclusive.", judge_unseen),
    C.Claim("3", "Per label, energy and force labels contribute equally to the convergence of the errors.",
            "Single-molecule kernel curves plotted against labels (N for E-only, N(1 + 3 n_atoms) for E+F), "
            "interpolated log-log over their common label range, draw by draw. Statistic: -log of the largest "
            "factor between the two curves, energy or forces (mean over draws); threshold -log "
            f"{LABEL_GAP:g} (curves within {LABEL_GAP:g}x). Interval: Student t 95 % interval over the "
            "per-draw values. Reproduced if the interval lies above the threshold; " + _BUDGET
            + "; inconclusive when the curves share no label range.", judge_per_label),
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
        the single molecule's training pool and test set: frames, atoms, energy spread and mean |F| (eV, eV/Å).
    hyperparameters
        one row per (dataset, targets): the cross-validated ``sigma`` and ``regularisation``.
    unseen_sets
        training and test side of the split by molecule: molecules, conformations, atoms (min-max).
    failed_molecules
        molecule name -> why its conformations could not be made.
    """

    curves: pd.DataFrame
    n_test_configurations: int
    unseen_test_molecules: int
    reference_sets: pd.DataFrame
    hyperparameters: pd.DataFrame
    unseen_sets: pd.DataFrame
    failed_molecules: dict[str, str]


def _reference_table(pool: Dataset, test: Dataset) -> pd.DataFrame:
    sets = (("training pool", pool), ("test", test))
    return pd.DataFrame({"set": [name for name, _ in sets], "frames": [len(d) for _, d in sets],
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
    return [{"dataset": dataset, "targets": t, "sigma": float(h["sigma"]),
             "regularisation": float(h["regularisation"])} for t, h in hyper.items()]


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
            kernel = kernel_curves(p, cache, pool, test, hyper, {E_ONLY: p.krr_sizes, E_AND_F: p.gp_sizes},
                                   SINGLE, ex, device, progress)
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
            unseen = kernel_curves(p, cache, train_u, test_u, hyper_u, {E_ONLY: p.qm7b_sizes,
                                                                        E_AND_F: p.qm7b_sizes}, UNSEEN, ex,
                                   device, progress)
    return Results(curves=pd.concat([kernel, nn, unseen], ignore_index=True),
                   n_test_configurations=len(test),
                   unseen_test_molecules=len(set(test_u.info("molecule"))),
                   reference_sets=_reference_table(pool, test),
                   hyperparameters=pd.DataFrame(_hyper_rows(SINGLE, hyper) + _hyper_rows(UNSEEN, hyper_u)),
                   unseen_sets=_unseen_table(train_u, test_u),
                   failed_molecules={str(k): str(v) for k, v in failed.items()})
