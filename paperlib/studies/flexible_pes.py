"""Study 2: ML force fields on the flexible azobenzene surface (Vassilev-Galindo, Fonseca, Poltavsky &
Tkatchenko, JCP 154, 094119 (2021), arXiv 2103.01103).

Stages (each cached by its inputs): GFN2-xTB cis and trans minima, a relaxed scan per cis -> trans mechanism
(rotation, inversion, inversion-assisted rotation) with a sella saddle refinement from each scan's highest
image -> Langevin MD at 300 K and at a hot temperature around both minima plus short cold runs from every
interior scan image, every frame tagged with its region -> random test, validation and nested training sets
-> every model at every training size (learning curves), one local-model set vs its global counterpart ->
errors per region and mechanism, energy profiles along the scans -> claims.

The study contract: :class:`Params`, :func:`run` (all the compute, returning :class:`Results`), :data:`CLAIMS`
and :func:`figures`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ase import Atoms

from paperlib import keys
from paperlib.cache import Cache, cached_step
from paperlib.data.dataset import Dataset
from paperlib.models import registry
from paperlib.models.base import Potential, Targets
from paperlib.options import RunOptions
from paperlib.reference.hessian import finite_difference_hessian
from paperlib.reference.xtb import XTBSettings, default_workers, label, map_in_workers, xtb_calculator
from paperlib.sampling.azobenzene import (MECHANISMS, NEAR_EQUILIBRIUM, REGIONS, RegionRule, azo_indices,
                                          collective_variables, isomer, relaxed_scan)
from paperlib.sampling.md import xtb_langevin_runs
from paperlib.sampling.normal_modes import normal_modes
from paperlib.sampling.paths import n_imaginary, refine_saddle, stable_minimum
from paperlib.seeds import rng, stream_seed
from paperlib.studies.contract import StudyParams, StudyResults
# CLAIMS and the shared tables are part of this module's interface (the study contract); they live in the claims
# module so that it does not import this one.
from paperlib.studies.flexible_pes_claims import (CLAIMS, KCAL_MOL_EV, TRANSITION, barrier_table,  # noqa: F401
                                                   crossing, learning_curves, summary_figures, transition_ratios)
from paperlib.timing import Timer

STUDY = "flexible_pes"
MINIMA, PATHS, SADDLES, FRAMES, SUMMARY = "minima.xyz", "paths.xyz", "saddles.xyz", "frames.xyz", "summary.json"


class Params(StudyParams):
    """Validated parameters of the flexible-PES study (``Params.resolve(profile, overrides)``)."""

    STUDY = STUDY


def region_rule(p: Params) -> RegionRule:
    """The study's region rule (thresholds from the parameters)."""
    return RegionRule(planar_deg=p.planar_deg, wide_angle_deg=p.wide_angle_deg, linear_deg=p.linear_deg)


def _bare(atoms: Atoms) -> Atoms:
    return Atoms(atoms.numbers, positions=atoms.positions)


# -- reference: minima, scans, saddles ------------------------------------------------------------
def _hessian_fn(calc):
    return lambda a: finite_difference_hessian(a, calc)


def _minimum(which: str, seed: int) -> Atoms:
    """The labelled GFN2-xTB minimum of isomer ``which``, embedded from SMILES on the ``conformer`` stream."""
    calc = xtb_calculator()
    start = isomer(which, seed=stream_seed(seed, "conformer"))
    m, wavenumbers = stable_minimum(start, calc, _hessian_fn(calc), fmax_eV_A=0.005, steps=2000)
    frame = label(m, calc)
    frame.info.update(kind=which, lowest_wavenumber_cm=float(np.min(wavenumbers)))
    return frame


def _mechanism(mechanism: str, cis: Atoms, trans: Atoms, scan_points: int, assisted_angle_deg: float
               ) -> tuple[list[Atoms], Atoms, bool, np.ndarray]:
    """Scan images (labelled), the refined saddle (labelled), whether sella converged, and its wavenumbers."""
    calc = xtb_calculator()
    images = [label(a, calc) for a in relaxed_scan(cis, trans, calc, mechanism, scan_points,
                                                    assisted_angle_deg=assisted_angle_deg)]
    for i, a in enumerate(images):
        a.info.update(mechanism=mechanism, image=i)
    top = int(np.argmax([a.info[keys.REF_energy] for a in images]))
    ts, converged = refine_saddle(_bare(images[top]), calc, _hessian_fn(calc), fmax_eV_A=0.01, steps=300)
    wavenumbers, _ = normal_modes(ts, finite_difference_hessian(ts, calc))
    ts = label(ts, calc)
    ts.info.update(mechanism=mechanism, kind="saddle")
    return images, ts, converged, wavenumbers


@cached_step
def _reference_paths(out: Path, *, scan_points: int, assisted_angle_deg: float, seed: int) -> None:
    # Single-threaded workers keep tblite's sums in one order, so repeated runs give identical numbers.
    workers = min(default_workers(), len(MECHANISMS))
    minima = dict(zip(NEAR_EQUILIBRIUM, map_in_workers(_minimum, NEAR_EQUILIBRIUM, [seed] * 2, workers=workers)))
    # Saddle searches may break the N=N bond graph, so the CNNC atoms are fixed once from the cis minimum.
    idx = azo_indices(minima["cis"])
    e_cis = minima["cis"].info[keys.REF_energy]
    summary = {"minima": {w: {"energy_rel_cis_eV": m.info[keys.REF_energy] - e_cis,
                              **dataclasses.asdict(collective_variables(m, idx))} for w, m in minima.items()},
               "mechanisms": {}}
    n = len(MECHANISMS)
    paths, saddles = [], []
    for mechanism, (images, ts, converged, wavenumbers) in zip(MECHANISMS, map_in_workers(
            _mechanism, MECHANISMS, [minima["cis"]] * n, [minima["trans"]] * n, [scan_points] * n,
            [assisted_angle_deg] * n, workers=workers)):
        energies = np.array([a.info[keys.REF_energy] for a in images])
        summary["mechanisms"][mechanism] = {
            "scan_barrier_eV": float(energies.max() - e_cis), "scan_top_image": int(np.argmax(energies)),
            "saddle_barrier_eV": ts.info[keys.REF_energy] - e_cis, "saddle_converged": converged,
            "saddle_imaginary": n_imaginary(wavenumbers), "saddle_wavenumber_cm": float(np.min(wavenumbers)),
            **{f"saddle_{k}": v for k, v in dataclasses.asdict(collective_variables(ts, idx)).items()}}
        paths += images
        saddles.append(ts)
    Dataset(list(minima.values())).write(out / MINIMA)
    Dataset(paths).write(out / PATHS)
    Dataset(saddles).write(out / SADDLES)
    (out / SUMMARY).write_text(json.dumps(summary, indent=1))


@dataclasses.dataclass
class Reference:
    """GFN2-xTB minima, scan images of every mechanism (in path order), refined saddles and their summary."""

    minima: Dataset
    paths: Dataset
    saddles: Dataset
    summary: dict

    def path(self, mechanism: str) -> Dataset:
        """The scan images of one mechanism, cis first."""
        return Dataset([a for a in self.paths if a.info["mechanism"] == mechanism])


def reference(p: Params, cache: Cache) -> Reference:
    """Minima, scans and saddles (cached)."""
    args = dict(scan_points=p.scan_points, assisted_angle_deg=p.assisted_angle_deg, seed=p.seed)
    entry = _reference_paths.entry(cache, **args)
    need = [keys.REF_energy, keys.REF_forces]
    return Reference(Dataset.read(entry / MINIMA, need), Dataset.read(entry / PATHS, need),
                     Dataset.read(entry / SADDLES, need), json.loads((entry / SUMMARY).read_text()))


def reference_table(ref: Reference, rule: RegionRule) -> pd.DataFrame:
    """One row per mechanism: scan barrier, and the saddle refined from the scan's highest image with its
    barrier, imaginary modes, collective variables and the region ``rule`` gives it (eV, degrees, cm^-1).

    "saddle of this mechanism" is true when the refinement ended on a first-order saddle (exactly one
    imaginary mode) inside the mechanism's own region; otherwise the saddle found belongs to another process.
    """
    from paperlib.sampling.azobenzene import CollectiveVariables

    rows = []
    for mechanism, s in ref.summary["mechanisms"].items():
        cv = CollectiveVariables(s["saddle_torsion_deg"], s["saddle_angle1_deg"], s["saddle_angle2_deg"])
        region = rule.region(cv)
        rows.append({"mechanism": mechanism, "scan barrier (eV)": s["scan_barrier_eV"],
                     "refined saddle barrier (eV)": s["saddle_barrier_eV"], "imaginary modes": s["saddle_imaginary"],
                     "imaginary wavenumber (cm⁻¹)": s["saddle_wavenumber_cm"],
                     "saddle CNNC (°)": cv.torsion_deg, "saddle CNN (°)": cv.wide_angle_deg,
                     "saddle region (rule)": region,
                     "saddle of this mechanism": s["saddle_imaginary"] == 1 and region == mechanism,
                     "sella converged": s["saddle_converged"]})
    return pd.DataFrame(rows)


# -- reference: sampling --------------------------------------------------------------------------
@cached_step
def _sampling(out: Path, *, minima: Dataset, paths: Dataset, md_frames: int, hot_frames: int, hot_K: float,
              path_frames: int, path_K: float, stride: int, timestep_fs: float, seed: int) -> None:
    starts, runs, sources = [], [], []
    md = dict(timestep_fs=timestep_fs, friction_per_fs=0.01, stride=stride)
    for m in minima:
        for temperature, n in ((300.0, md_frames), (hot_K, hot_frames)):
            if n:
                starts.append(_bare(m))
                runs.append(dict(md, temperature_K=temperature, equil_steps=20 * stride, n_frames=n))
                sources.append(f"{m.info['kind']} {temperature:g} K")
    last_image: dict[str, int] = {}
    for img in paths:
        last_image[img.info["mechanism"]] = max(last_image.get(img.info["mechanism"], 0), img.info["image"])
    for img in paths:
        if path_frames and 0 < img.info["image"] < last_image[img.info["mechanism"]]:
            starts.append(_bare(img))
            runs.append(dict(md, temperature_K=path_K, equil_steps=0, n_frames=path_frames, stride=max(1, stride // 2)))
            sources.append(f"{img.info['mechanism']} image {img.info['image']}")
    for k, run in enumerate(runs):
        run["seed"] = stream_seed(seed, "reference_md", k)
    frames = xtb_langevin_runs(starts, XTBSettings(), runs)
    for f in frames:
        f.info["source"] = sources[f.info[keys.TRAJECTORY]]
    Dataset(frames).write(out / FRAMES)


def sample(p: Params, cache: Cache, ref: Reference) -> Dataset:
    """Labelled MD frames around both minima (300 K and ``hot_K``) and from every interior scan image
    (``path_K``), each tagged with ``info["region"]`` by the study's region rule (cached)."""
    args = dict(md_frames=p.md_frames, hot_frames=p.hot_frames, hot_K=p.hot_K, path_frames=p.path_frames,
                path_K=p.path_K, stride=p.md_stride, timestep_fs=p.timestep_fs, seed=p.seed)
    entry = _sampling.entry(cache, minima=ref.minima, paths=ref.paths, **args)
    frames = Dataset.read(entry / FRAMES, [keys.REF_energy, keys.REF_forces])
    for a, region in zip(frames, region_rule(p).tag(frames)):
        a.info["region"] = region
    return frames


@dataclasses.dataclass
class Splits:
    """Random test and validation sets and a training pool whose first n frames are the size-n training set."""

    test: Dataset
    valid: Dataset
    pool: Dataset

    def train(self, n: int) -> Dataset:
        """The nested training set of size ``n``."""
        return self.pool.subset(np.arange(n))


def split(frames: Dataset, p: Params) -> Splits:
    """One permutation (the ``split`` stream of the seed): the first ``n_test`` frames test, the next ``n_valid``
    validate, the rest train."""
    perm = rng(p.seed, "split").permutation(len(frames))
    need = p.n_test + p.n_valid + max(p.curve_sizes)
    if need > len(frames):
        raise ValueError(f"the sampling gave {len(frames)} frames but n_test + n_valid + max(curve_sizes) = {need}; "
                         "sample more frames (md_frames, hot_frames, path_frames) or ask for fewer")
    return Splits(frames.subset(perm[:p.n_test]), frames.subset(perm[p.n_test:p.n_test + p.n_valid]),
                  frames.subset(perm[p.n_test + p.n_valid:]))


def region_counts(frames: Dataset) -> pd.Series:
    """Frames per region, in :data:`REGIONS` order."""
    counts = pd.Series([a.info["region"] for a in frames]).value_counts()
    return counts.reindex(list(REGIONS), fill_value=0)


# -- models ---------------------------------------------------------------------------------------
def model_targets(name: str, p: Params) -> Targets:
    """Loss weights: the kernel models (sGDML, GAP) take energies and forces as they come; the networks use the
    study's energy/force weights."""
    base = name.removeprefix(registry.LOCAL_PREFIX)
    if base in ("gap", "sgdml"):
        return Targets(1.0, 1.0)
    return Targets(p.energy_weight, p.force_weight)


def model_settings(name: str, p: Params, options: RunOptions = RunOptions(), progress: bool = False
                   ) -> dict[str, Any]:
    """Settings of :func:`paperlib.models.registry.make` for model ``name`` (or the members of ``local_<name>``):
    GAP's SOAP for a small organic molecule (5 A cutoff, n_max 6, l_max 4), sGDML's length-scale grid, and for
    the networks the study's training settings on the device (and Lightning devices and strategy) of
    ``options``, with :class:`~paperlib.training.TrainConfig`'s default patience for every network."""
    from paperlib.training import TrainConfig

    base = name.removeprefix(registry.LOCAL_PREFIX)
    if base == "gap":
        return dict(n_max=6, l_max=4, atom_sigma=0.5, cutoff_A=5.0, cutoff_transition_width_A=1.0,
                    n_sparse=p.gap_n_sparse, sigma_energy_eV=0.004, sigma_force_eV_A=0.03, seed=p.seed)
    if base == "sgdml":
        return dict(sigmas=tuple(p.sgdml_sigmas))
    return dict(seed=p.seed, max_epochs=p.max_epochs, batch_size=p.batch_size, learning_rate=p.learning_rate,
                patience=TrainConfig.patience, progress=progress, **options.training())


def make_model(name: str, p: Params, options: RunOptions = RunOptions(), progress: bool = False) -> Potential:
    """A fresh model by registry name with the study's settings (:func:`model_settings`); ``local_`` models
    select their members by the study's region rule."""
    rule = region_rule(p) if name.startswith(registry.LOCAL_PREFIX) else None
    return registry.make(name, region_rule=rule, **model_settings(name, p, options, progress))


MODEL_PARAMS = ("seed", "max_epochs", "batch_size", "learning_rate", "energy_weight", "force_weight", "gap_n_sparse",
                "sgdml_sigmas", "planar_deg", "wide_angle_deg", "linear_deg")
"""The parameters a model's fit reads (settings, loss weights and, for local models, the region rule)."""


@cached_step(runtime=("options",))
def _train_and_predict(out: Path, *, name: str, settings: Params, train: Dataset, valid: Dataset,
                       evaluate: Mapping[str, Dataset], options: RunOptions) -> None:
    """Fit model ``name`` with the parameters ``settings`` (:data:`MODEL_PARAMS`) and predict ``evaluate``."""
    model = make_model(name, settings, options)
    report = model.fit(train, valid, targets=model_targets(name, settings))
    model.save(out / "model")
    preds = {}
    for key, data in evaluate.items():
        pred = model.predict(list(data))
        preds[key] = {"energies": pred.energies.tolist(), "forces": pred.forces.tolist()}
    (out / "predictions.json").write_text(json.dumps({"fit_s": report.wall_time_s, "notes": report.notes,
                                                      "predictions": preds}))


def train_and_predict(p: Params, cache: Cache, name: str, n: int, splits: Splits, ref: Reference,
                      options: RunOptions = RunOptions()) -> dict:
    """Model ``name`` trained on the first ``n`` pool frames (cached); its predictions on the test set and the
    scan images: ``{"fit_s", "notes", "predictions": {"test"|"paths": {"energies", "forces"}}}``."""
    return _read_predictions(_train_and_predict_entry(p, cache, name, n, splits, ref, options))


def _read_predictions(entry: Path | str) -> dict:
    return json.loads((Path(entry) / "predictions.json").read_text())


def _train_and_predict_entry(p: Params, cache: Cache, name: str, n: int, splits: Splits, ref: Reference,
                             options: RunOptions = RunOptions()) -> str:
    """The cache entry of :func:`train_and_predict` (computed on a miss); ``options`` stay out of the key."""
    return str(_train_and_predict.entry(cache, name=name, settings=p.part(*MODEL_PARAMS), train=splits.train(n),
                                        valid=splits.valid, evaluate={"test": splits.test, "paths": ref.paths},
                                        options=options))


def error_rows(name: str, n: int, data: Dataset, pred: Mapping[str, list]) -> pd.DataFrame:
    """Per frame: model, training size, frame (its index in ``data``, shared by every model), the MD run it came
    from, region, mechanism group, |energy error| (eV), force MAE (eV/A)."""
    energies = np.asarray(pred["energies"])
    forces = np.split(np.asarray(pred["forces"]), np.cumsum(data.n_atoms())[:-1])
    rows = []
    for i, a in enumerate(data):
        region = a.info["region"]
        rows.append({"model": name, "n_train": n, "frame": i, "trajectory": int(a.info.get(keys.TRAJECTORY, -1)),
                     "region": region,
                     "group": region if region in NEAR_EQUILIBRIUM else TRANSITION,
                     "err_energy": abs(energies[i] - a.info[keys.REF_energy]),
                     "mae_forces": float(np.mean(np.abs(forces[i] - a.arrays[keys.REF_forces])))})
    return pd.DataFrame(rows)


def profile_rows(name: str, ref: Reference, pred: Mapping[str, list]) -> pd.DataFrame:
    """Per scan image: model, mechanism, image, reference and model energies (eV) relative to each one's energy
    of the scan's first image (the cis minimum), so barrier errors hold no constant offset."""
    energies = np.asarray(pred["energies"])
    rows = []
    zero = {}
    for i, a in enumerate(ref.paths):
        if a.info["image"] == 0:
            zero[a.info["mechanism"]] = (a.info[keys.REF_energy], energies[i])
    for i, a in enumerate(ref.paths):
        m = a.info["mechanism"]
        rows.append({"model": name, "mechanism": m, "image": int(a.info["image"]),
                     "reference_eV": a.info[keys.REF_energy] - zero[m][0], "model_eV": energies[i] - zero[m][1]})
    return pd.DataFrame(rows)




def _fit_point(p: Params, cache: Cache, splits: Splits, ref: Reference, options: RunOptions,
               job: tuple[str, int]) -> str:
    """One (model, training size) point of the sweep, on any executor: its cache entry's path."""
    name, n = job
    return _train_and_predict_entry(p, cache, name, n, splits, ref, options)


def fit_jobs(p: Params) -> list[tuple[str, int]]:
    """Every model at every training size, then the local model set at the largest size."""
    jobs = [(name, n) for name in p.models for n in sorted(p.curve_sizes)]
    jobs.append((registry.LOCAL_PREFIX + p.local_model, max(p.curve_sizes)))
    return jobs


def run_models(p: Params, cache: Cache, splits: Splits, ref: Reference, ex, options: RunOptions = RunOptions()
               ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Every model at every training size and the local model set at the largest size, each fit a point of
    the executor ``ex``: per-frame test errors, scan-image profiles (largest size) and fit times."""
    largest = max(p.curve_sizes)
    jobs = fit_jobs(p)
    entries = ex.map(functools.partial(_fit_point, p, cache, splits, ref, options), jobs,
                     desc="models x training sizes", progress=options.progress)
    errors, profiles, fits = [], [], []
    for (name, n), entry in zip(jobs, entries):
        out = _read_predictions(entry)
        errors.append(error_rows(name, n, splits.test, out["predictions"]["test"]))
        if n == largest:
            profiles.append(profile_rows(name, ref, out["predictions"]["paths"]))
        fits.append({"model": name, "n_train": n, "fit_s": out["fit_s"], "notes": out["notes"]})
    return pd.concat(errors, ignore_index=True), pd.concat(profiles, ignore_index=True), pd.DataFrame(fits)


@dataclasses.dataclass
class Results(StudyResults):
    """Everything the notebook shows and the claims judge.

    ``errors`` (per test frame, model and training size), ``profiles`` (per scan image and model at the largest
    size) and ``fit_seconds`` (per fit, with its notes) are the raw tables; ``paper_models``, ``local`` and
    ``global_model`` name the models the claims compare; the rest are the tables the chapter shows, derived
    from those and from the reference.
    """

    errors: pd.DataFrame
    profiles: pd.DataFrame
    fit_seconds: pd.DataFrame
    paper_models: list
    local: str
    global_model: str
    reference_summary: dict
    """GFN2-xTB minima (``minima``: per isomer its energy relative to cis and collective variables) and
    ``mechanisms`` (scan and saddle per mechanism)."""
    saddles: pd.DataFrame
    """:func:`reference_table`: one row per mechanism."""
    region_counts: pd.DataFrame
    """Frames per region in all frames, the test set and the training pool."""
    frame_cvs: pd.DataFrame
    """:func:`cv_table` of the sampled frames."""
    path_cvs: pd.DataFrame
    """:func:`cv_table` of the scan images."""
    curves: pd.DataFrame
    """:func:`learning_curves` of every model."""
    crossing: pd.DataFrame
    """:func:`crossing` of the study's models (without the local set)."""
    region_errors: pd.DataFrame
    """:func:`region_errors` at the largest training size."""
    transition_ratios: pd.DataFrame
    """Transition / near-equilibrium MAE per model at the largest size."""
    barriers: pd.DataFrame
    """:func:`barrier_table` of the profiles."""
    local_vs_global: pd.DataFrame
    """Mean test errors per region group of the local set and its global counterpart at the largest size."""


def figures(results: Results) -> dict[str, float]:
    """Measured figures for results.json (fit times excluded: they vary between identical runs)."""
    return summary_figures(results.claims_input())


def run(p: Params, cache: Cache, options: RunOptions = RunOptions(), timer: Timer | None = None) -> Results:
    """All the study's compute: reference surface, MD sampling, splits, every model at every training size (one
    executor of ``options`` over the fits) and the tables of :class:`Results`."""
    timer = timer if timer is not None else Timer()
    with timer("reference minima, scans and saddles"):
        ref = reference(p, cache)
    rule = region_rule(p)
    with timer("reference MD sampling"):
        frames = sample(p, cache, ref)
    splits = split(frames, p)
    counts = pd.DataFrame({"all frames": region_counts(frames), "test": region_counts(splits.test),
                           f"training pool (largest set {max(p.curve_sizes)})": region_counts(splits.pool)})
    counts = counts.rename_axis("region").reset_index()
    with timer("training and prediction (all models and sizes)"):
        with options.make_executor() as ex:
            errors, profiles, fits = run_models(p, cache, splits, ref, ex, options)
    largest = max(p.curve_sizes)
    local = registry.LOCAL_PREFIX + p.local_model
    paper_models = [m for m in p.models if m in ("sgdml", "gap") or m.startswith("schnet")]
    curves = learning_curves(errors)
    pair = errors[errors["model"].isin([p.local_model, local]) & (errors["n_train"] == largest)]
    results = Results(
        errors=errors, profiles=profiles, fit_seconds=fits, paper_models=paper_models, local=local,
        global_model=p.local_model, reference_summary=ref.summary, saddles=reference_table(ref, rule),
        region_counts=counts, frame_cvs=cv_table(frames, ref), path_cvs=cv_table(ref.paths, ref), curves=curves,
        crossing=crossing(curves[curves["model"].isin(p.models)]), region_errors=region_errors(errors, largest),
        transition_ratios=pd.DataFrame(), barriers=barrier_table(profiles),
        local_vs_global=pair.groupby(["model", "group"])[["err_energy", "mae_forces"]].mean().reset_index())
    results.transition_ratios = transition_ratios(results.claims_input())
    return results


def region_errors(errors: pd.DataFrame, n_train: int) -> pd.DataFrame:
    """MAE per model and region at training size ``n_train`` (energies eV, forces eV/A), with frame counts."""
    d = errors[errors["n_train"] == n_train]
    out = d.groupby(["model", "region"]).agg(err_energy=("err_energy", "mean"), mae_forces=("mae_forces", "mean"),
                                             frames=("err_energy", "size"))
    return out.reset_index()


def cv_table(structures: Dataset, ref: Reference) -> pd.DataFrame:
    """CNNC torsion and wider CNN angle (degrees) of every structure, with its ``region`` (sampled frames) or
    ``mechanism`` and ``image`` (scan images), in the order given."""
    idx = azo_indices(ref.minima[0])
    rows = []
    for a in structures:
        cv = collective_variables(a, idx)
        rows.append({"torsion_deg": cv.torsion_deg, "angle_deg": cv.wide_angle_deg,
                     **{k: a.info[k] for k in ("region", "mechanism", "image") if k in a.info}})
    return pd.DataFrame(rows)
