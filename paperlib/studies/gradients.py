"""Study 1: the role of gradients (Christensen & von Lilienfeld, MLST 1, 045018 (2020), arXiv 2007.09593).

Stages (each cached by its inputs): reference MD of one molecule (or an rMD17 file) -> hyperparameters by
cross-validation on training data -> learning curves of energy-only vs energy+force kernel models (FCHL19
KRR / GPR) and SchNet -> normal-mode conformations of many small molecules, split by molecule ->
unseen-molecule learning curves -> claims.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from paperlib import keys
from paperlib.analysis import claims as C
from paperlib.analysis import learning_curves as LC
from paperlib.cache import Cache
from paperlib.data.dataset import Dataset
from paperlib.data.formats import read_rmd17
from paperlib.data.splits import group_split, random_split
from paperlib.executors import Executor
from paperlib.models.base import Targets
from paperlib.models.gpr import FCHLConfig, FCHLPotential, select_hyperparameters
from paperlib.params import Params
from paperlib.reference.xtb import XTBSettings, relax
from paperlib.sampling.md import xtb_langevin_trajectories
from paperlib.sampling.molecules import read_smiles_list, rmd17_molecule
from paperlib.sampling.normal_modes import xtb_normal_mode_set

STUDY = "gradients"
FRAMES = "frames.xyz"
KERNEL, NN = "kernel", "nn"
E_ONLY, E_AND_F = "E", "E+F"
SINGLE, UNSEEN = "single molecule", "unseen molecules"
METRICS = ("mae_energy", "mae_forces")
PAPER_RATIO = 7.0


# -- reference data -------------------------------------------------------------------------------
def _reference_md(out: Path, *, molecule: str, temperature_K: float, timestep_fs: float, friction_per_fs: float,
                  equil_steps: int, stride: int, frames_per_trajectory: int, n_trajectories: int, seed: int,
                  progress: bool) -> None:
    start = relax(rmd17_molecule(molecule))
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
        rest, test = random_split(len(data), p.n_test, p.seed)
        return data.subset(rest), data.subset(test)
    stride = max(1, round(p.stride_fs / p.timestep_fs))
    common = dict(molecule=p.molecule, temperature_K=p.temperature_K, timestep_fs=p.timestep_fs,
                  friction_per_fs=p.friction_per_fs, equil_steps=p.equil_steps, stride=stride,
                  n_trajectories=p.n_trajectories)
    out = []
    for kind, n, seed in (("pool", pool_size(p), p.seed), ("test", p.n_test, p.seed + 10_000)):
        args = dict(common, frames_per_trajectory=math.ceil(n / p.n_trajectories), seed=seed)
        entry = cache.get(_reference_md, args, lambda o, a=args: _reference_md(o, progress=progress, **a))
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


def _qm7b(out: Path, *, molecules: list, per_molecule: int, temperature_K: float, seed: int, progress: bool) -> None:
    frames, failed = xtb_normal_mode_set([tuple(m) for m in molecules], per_molecule=per_molecule,
                                         temperature_K=temperature_K, seed=seed, settings=XTBSettings(),
                                         progress=progress)
    Dataset(frames).write(out / FRAMES)
    (out / "failed.json").write_text(json.dumps(failed, indent=1))


def qm7b_data(p: Params, cache: Cache, progress: bool = True) -> tuple[Dataset, dict[str, str]]:
    """Labelled normal-mode conformations of the QM7b-like molecules, and the molecules that failed."""
    args = dict(molecules=[list(m) for m in qm7b_molecules(p)], per_molecule=p.conformations_per_molecule,
                temperature_K=p.nm_temperature_K, seed=p.seed)
    entry = cache.get(_qm7b, args, lambda o: _qm7b(o, progress=progress, **args))
    data = Dataset.read(entry / FRAMES, require=[keys.REF_energy, keys.REF_forces])
    return data, json.loads((entry / "failed.json").read_text())


def unseen_split(p: Params, data: Dataset) -> tuple[Dataset, Dataset]:
    """(training conformations, test conformations), split by molecule: no test molecule is in training."""
    tr, te = group_split(data.info("molecule"), p.test_molecule_fraction, p.seed)
    return data.subset(tr), data.subset(te)


# -- models ---------------------------------------------------------------------------------------
def _cv_set(p: Params, pool: Dataset) -> Dataset:
    return pool.subset(np.sort(np.random.default_rng([p.seed, 77]).permutation(len(pool))[:p.cv_size]))


def _hyper(out: Path, *, with_forces: bool, grouped: bool, sigmas: list, regularisations: list, folds: int,
           seed: int, device: str, data_fingerprint: str, data: Dataset) -> None:
    groups = data.info("molecule") if grouped else None
    sigma, lam, table = select_hyperparameters(data, with_forces=with_forces, sigmas=sigmas,
                                               regularisations=regularisations, folds=folds, groups=groups,
                                               seed=seed, device=device)
    (out / "hyper.json").write_text(json.dumps({"sigma": sigma, "regularisation": lam, "table": table}))


def hyperparameters(p: Params, cache: Cache, pool: Dataset, with_forces: bool, grouped: bool = False
                    ) -> dict[str, Any]:
    """Kernel width and regularisation chosen by ``cv_folds``-fold cross-validation on ``cv_size``
    configurations of the training pool (grouped by molecule when ``grouped``)."""
    data = _cv_set(p, pool)
    args = dict(with_forces=with_forces, grouped=grouped, sigmas=p.sigmas, regularisations=p.regularisations,
                folds=p.cv_folds, seed=p.seed, device=_device(p), data_fingerprint=data.fingerprint())
    entry = cache.get(_hyper, args, lambda o: _hyper(o, data=data, **args))
    return json.loads((entry / "hyper.json").read_text())


def _device(p: Params) -> str:
    from paperlib.training import resolve_device

    return str(resolve_device(p.device))


def _errors(pred, test: Dataset) -> dict[str, float]:
    return {"mae_energy": float(np.abs(pred.energies - test.energies()).mean()),
            "mae_forces": float(np.abs(pred.forces - test.forces()).mean())}


def _kernel_point(out: Path, *, train: Dataset, test: Dataset, sigma: float, regularisation: float,
                  with_forces: bool, device: str, **_key) -> None:
    model = FCHLPotential(FCHLConfig(sigma=sigma, regularisation=regularisation, device=device))
    fit = model.fit(train, targets=Targets(1.0, 1.0 if with_forces else 0.0))
    (out / "point.json").write_text(json.dumps({**_errors(model.predict(list(test)), test),
                                                "fit_s": fit.wall_time_s}))


def _nn_point(out: Path, *, train: Dataset, test: Dataset, model: str, settings: dict, force_weight: float,
              progress: bool, **_key) -> None:
    from paperlib.models import registry

    pot = registry.make(model, progress=progress, **settings)
    targets = Targets(1.0 - force_weight, force_weight) if force_weight > 0 else Targets(1.0, 0.0)
    fit = pot.fit(train, targets=targets)
    (out / "point.json").write_text(json.dumps({**_errors(pot.predict(list(test)), test),
                                                "fit_s": fit.wall_time_s}))


def _curve(cache: Cache, fn, pool: Dataset, test: Dataset, subsets, key: dict, compute_args: dict,
           executor: Executor | None, **labels) -> pd.DataFrame:
    pool_fp, test_fp = pool.fingerprint(), test.fingerprint()

    def evaluate(idx: np.ndarray) -> dict[str, float]:
        args = dict(key, pool_fingerprint=pool_fp, test_fingerprint=test_fp, indices=idx.tolist())
        entry = cache.get(fn, args, lambda o: fn(o, train=pool.subset(idx), test=test, **compute_args, **args))
        return json.loads((entry / "point.json").read_text())

    return LC.learning_curve(subsets, evaluate, executor, **labels)


def kernel_curves(p: Params, cache: Cache, pool: Dataset, test: Dataset, hyper: Mapping[str, dict],
                  sizes: Mapping[str, list[int]], dataset: str, executor: Executor | None = None) -> pd.DataFrame:
    """Learning curves of KRR (E) and GPR (E+F): one row per (targets, size, draw) with energy and force MAE.
    The points are computed by ``executor`` (default: in this process)."""
    frames = []
    for targets, with_forces in ((E_ONLY, False), (E_AND_F, True)):
        hp = hyper[targets]
        subsets = LC.draws(len(pool), sizes[targets], p.n_draws, p.seed)
        key = dict(sigma=hp["sigma"], regularisation=hp["regularisation"], with_forces=with_forces,
                   device=_device(p))
        frames.append(_curve(cache, _kernel_point, pool, test, subsets, key, {}, executor, dataset=dataset,
                             family=KERNEL, targets=targets))
    return _with_labels(pd.concat(frames, ignore_index=True), pool)


def nn_curves(p: Params, cache: Cache, pool: Dataset, test: Dataset, progress: bool = True,
              executor: Executor | None = None) -> pd.DataFrame:
    """Learning curves of the neural network trained on E only and on E+F (same sizes and draws), the points
    computed by ``executor`` (default: in this process)."""
    frames = []
    subsets = LC.draws(len(pool), p.nn_sizes, p.nn_draws, p.seed)
    for targets, w in ((E_ONLY, 0.0), (E_AND_F, p.force_weight)):
        settings = dict(seed=p.seed, device=p.device, max_epochs=p.max_epochs, batch_size=p.batch_size,
                        learning_rate=p.learning_rate, devices=p.devices, strategy=p.strategy)
        key = dict(model=p.nn_model, settings=settings, force_weight=w)
        frames.append(_curve(cache, _nn_point, pool, test, subsets, key, {"progress": progress}, executor,
                             dataset=SINGLE, family=NN, targets=targets))
    return _with_labels(pd.concat(frames, ignore_index=True), pool)


def _with_labels(df: pd.DataFrame, pool: Dataset) -> pd.DataFrame:
    n_atoms = float(pool.n_atoms().mean())
    per = df.targets.map({E_ONLY: LC.labels_per_configuration(n_atoms, False),
                          E_AND_F: LC.labels_per_configuration(n_atoms, True)})
    return df.assign(n_labels=df.n_train * per)


# -- claims ---------------------------------------------------------------------------------------
def mean_curve(df: pd.DataFrame, dataset: str, family: str, targets: str, x: str = "n_train"
               ) -> pd.DataFrame:
    """Mean over draws of one curve, sorted by ``x``."""
    sub = df[(df.dataset == dataset) & (df.family == family) & (df.targets == targets)]
    return sub.groupby(x)[list(METRICS)].mean().reset_index().sort_values(x)


def ratios(df: pd.DataFrame, dataset: str, family: str = KERNEL) -> dict[str, float]:
    """E-only / E+F MAE ratios of energy and forces at the largest training size both curves share."""
    e, ef = mean_curve(df, dataset, family, E_ONLY), mean_curve(df, dataset, family, E_AND_F)
    out = {}
    for m in METRICS:
        n, r = LC.ratio_at_largest_common(e.n_train.to_numpy(), e[m].to_numpy(), ef.n_train.to_numpy(),
                                          ef[m].to_numpy())
        out["n_train"], out[m] = n, r
    return out


def judge_single(results: Mapping[str, Any]) -> tuple[str, str]:
    """Claim 1: forces in training improve energies and forces ~7-fold for one molecule."""
    r = ratios(pd.DataFrame(results["curves"]), SINGLE)
    measured = (f"kernel E-only / E+F MAE at N = {r['n_train']:.0f}: energy {r['mae_energy']:.1f}x, "
                f"forces {r['mae_forces']:.1f}x")
    if min(r["mae_energy"], r["mae_forces"]) >= PAPER_RATIO / 2:
        return C.REPRODUCED, measured
    if min(r["mae_energy"], r["mae_forces"]) < 1.5:
        return C.NOT_REPRODUCED, measured
    return C.INCONCLUSIVE, measured


def judge_unseen(results: Mapping[str, Any]) -> tuple[str, str]:
    """Claim 2: for unseen molecules forces do not improve energies but improve forces ~7-fold."""
    r = ratios(pd.DataFrame(results["curves"]), UNSEEN)
    measured = (f"kernel E-only / E+F MAE on held-out molecules at N = {r['n_train']:.0f}: energy "
                f"{r['mae_energy']:.2f}x, forces {r['mae_forces']:.1f}x")
    energy_near_one = 0.5 <= r["mae_energy"] <= 2.0
    if energy_near_one and r["mae_forces"] >= PAPER_RATIO / 2:
        return C.REPRODUCED, measured
    if r["mae_energy"] >= PAPER_RATIO / 2 or r["mae_forces"] < 1.5:
        return C.NOT_REPRODUCED, measured
    return C.INCONCLUSIVE, measured


def per_label_gaps(results: Mapping[str, Any]) -> dict[str, Any]:
    """Largest factor between the E-only and E+F kernel curves plotted against labels, per metric."""
    df = pd.DataFrame(results["curves"])
    e = mean_curve(df, SINGLE, KERNEL, E_ONLY, x="n_labels")
    ef = mean_curve(df, SINGLE, KERNEL, E_AND_F, x="n_labels")
    out: dict[str, Any] = {}
    for m in METRICS:
        out[m], out["range"] = LC.max_gap_factor(e.n_labels.to_numpy(), e[m].to_numpy(), ef.n_labels.to_numpy(),
                                                 ef[m].to_numpy())
    return out


def judge_per_label(results: Mapping[str, Any]) -> tuple[str, str]:
    """Claim 3: per label, energies and forces contribute equally (the per-label curves coincide)."""
    try:
        g = per_label_gaps(results)
    except ValueError as err:
        return C.INCONCLUSIVE, f"no common label range ({err}); extend krr_sizes"
    lo, hi = g["range"]
    worst = max(g[m] for m in METRICS)
    measured = (f"over {lo:.0f}-{hi:.0f} labels the E-only and E+F kernel curves differ by at most "
                f"{g['mae_energy']:.2f}x (energy) and {g['mae_forces']:.2f}x (forces)")
    if worst <= 2.0:
        return C.REPRODUCED, measured
    if worst > 4.0:
        return C.NOT_REPRODUCED, measured
    return C.INCONCLUSIVE, measured


CLAIMS: tuple[C.Claim, ...] = (
    C.Claim("1", "For one molecule (MD data), training on energies and forces improves predicted energies and "
                 "forces about 7-fold over energies only, at the same number of configurations.",
            "kernel models (FCHL19 KRR on E vs GPR on E+F), mean over draws at the largest training size both "
            "curves share: reproduced if the E-only/E+F MAE ratio is >= 3.5 (half the paper's 7) for both energy "
            "and forces; not reproduced if either ratio is < 1.5; otherwise inconclusive.", judge_single),
    C.Claim("2", "For unseen molecules in non-equilibrium conformations, forces do not improve predicted "
                 "energies but improve forces about 7-fold.",
            "kernel models tested on molecules absent from training, at the largest common training size: "
            "reproduced if the energy ratio lies in [0.5, 2] and the force ratio is >= 3.5; not reproduced if "
            "the energy ratio is >= 3.5 or the force ratio < 1.5; otherwise inconclusive.", judge_unseen),
    C.Claim("3", "Per label, energy and force labels contribute equally to the convergence of the errors.",
            "single-molecule kernel curves plotted against labels (N for E-only, N(1 + 3 n_atoms) for E+F), "
            "interpolated log-log over their common label range: reproduced if they differ by at most 2x for "
            "both energy and force MAE; not reproduced if by more than 4x; otherwise inconclusive.",
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
