"""Study 2: ML force fields on the flexible azobenzene surface (Vassilev-Galindo, Fonseca, Poltavsky &
Tkatchenko, JCP 154, 094119 (2021), arXiv 2103.01103).

Stages (each cached by its inputs): GFN2-xTB cis and trans minima, a relaxed scan per cis -> trans mechanism
(rotation, inversion, inversion-assisted rotation) with a sella saddle refinement from each scan's highest
image, and a cross-check of the isomer energy and the barriers with GFN1-xTB (and DFT when asked) ->
independent Langevin runs at the same temperatures around both minima and, restrained to each interior scan
image, along the paths, every frame tagged with its region -> a split by run (no run gives frames to both
training and test) with a test set stratified by region -> every model at every training size (learning
curves), the local-model set against its global counterpart on several draws of the training set, GAP at two
cut-offs -> errors per region and mechanism, energy profiles along the scans -> claims.

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
from paperlib.export import ModelArtefact, artefact_map, data_artefact
from paperlib.models import registry
from paperlib.models.base import Potential, Targets
from paperlib.models.regional import THREE_GROUPS
from paperlib.options import RunOptions
from paperlib.reference.hessian import finite_difference_hessian
from paperlib.reference.xtb import XTBSettings, default_workers, label, label_all, map_in_workers, xtb_calculator
from paperlib.sampling.azobenzene import (MECHANISMS, NEAR_EQUILIBRIUM, REGIONS, RegionRule, Restrained, azo_indices,
                                          collective_variables, isomer, relaxed_scan, scan_targets, signed_torsion)
from paperlib.sampling.md import xtb_langevin_runs
from paperlib.sampling.normal_modes import normal_modes, sample_normal_modes
from paperlib.sampling.paths import n_imaginary, refine_saddle, stable_minimum
from paperlib.seeds import rng, stream_seed
from paperlib.studies.contract import StudyParams, StudyResults
# CLAIMS and the shared tables are part of this module's interface (the study contract); they live in the claims
# module so that it does not import this one.
from paperlib.studies.flexible_pes_claims import (BASELINE, CLAIMS, KCAL_MOL_EV, PATH_NEAR,  # noqa: F401
                                                   RELATIVE_ACCURACY, TRANSITION,
                                                   barrier_table, crossing, cutoff_table, learning_curves,
                                                   summary_figures, transition_ratios)
from paperlib.timing import Timer

STUDY = "flexible_pes"
MINIMA, PATHS, SADDLES, FRAMES, SUMMARY = "minima.xyz", "paths.xyz", "saddles.xyz", "frames.xyz", "summary.json"
CROSS_CHECK = "cross_check.json"
FRICTION_PER_FS = 0.02
"""Langevin friction of every sampling run (1/fs): velocities forget their start within about 50 fs."""
RESTRAINT_EV_RAD2 = 50.0
"""Force constant of the restraint that holds a path run at its scan image (the scans' own), eV/rad^2."""


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


# -- reference: a second method -------------------------------------------------------------------
@cached_step
def _cross_check(out: Path, *, minima: Dataset, saddles: Dataset, dft_method: str) -> None:
    """Energies (eV) of the GFN2-xTB minima and saddles with GFN1-xTB and, when ``dft_method`` names one
    ("functional/basis"), DFT (PySCF); the structures are GFN2-xTB's."""
    points = list(minima) + list(saddles)
    energies = {"GFN1-xTB": [a.info[keys.REF_energy]
                             for a in label_all(points, XTBSettings(method="GFN1-xTB"), progress=False)]}
    if dft_method:
        from paperlib.reference.dft import DFTSettings, dft_energies

        energies[dft_method] = dft_energies(points, DFTSettings.parse(dft_method))
    (out / CROSS_CHECK).write_text(json.dumps(energies))


def cross_check(p: Params, cache: Cache, ref: Reference) -> pd.DataFrame:
    """The isomer energy (trans - cis) and each mechanism's saddle barrier (saddle - cis) in eV, by GFN2-xTB
    (the reference), GFN1-xTB and, when ``dft_method`` is set, DFT single points on the same structures
    (cached)."""
    entry = _cross_check.entry(cache, minima=ref.minima, saddles=ref.saddles, dft_method=p.dft_method)
    energies = {"GFN2-xTB (reference)": [a.info[keys.REF_energy] for a in list(ref.minima) + list(ref.saddles)],
                **json.loads((entry / CROSS_CHECK).read_text())}
    kinds = [a.info["kind"] for a in ref.minima] + [a.info["mechanism"] for a in ref.saddles]
    rows = {}
    for method, e in energies.items():
        by = dict(zip(kinds, e))
        rows[method] = {"trans - cis": by["trans"] - by["cis"],
                        **{f"{m} saddle - cis": by[m] - by["cis"] for m in MECHANISMS if m in by}}
    return pd.DataFrame(rows).rename_axis("energy difference (eV)").reset_index()


# -- reference: sampling --------------------------------------------------------------------------
def path_restraint(image: Atoms, cis: Atoms, trans: Atoms, n_points: int, assisted_angle_deg: float
                   ) -> functools.partial:
    """The restraint that holds a run at scan image ``image`` (``info["mechanism"]``, ``info["image"]``): the
    scan's own targets for that image (:func:`~paperlib.sampling.azobenzene.scan_targets`; a variable the scan
    left free stays free), as a picklable factory ``reference calculator -> restrained calculator``."""
    idx = azo_indices(cis)
    torsion, angle = scan_targets(image.info["mechanism"], collective_variables(cis, idx),
                                  collective_variables(trans, idx), n_points,
                                  assisted_angle_deg=assisted_angle_deg)[image.info["image"]]
    dihedral = None if torsion is None else signed_torsion(image, idx, torsion)
    return functools.partial(Restrained, indices=tuple(int(i) for i in idx), dihedral_deg=dihedral, angle_deg=angle,
                             k_eV_rad2=RESTRAINT_EV_RAD2)


def _start_hessian(structure: Atoms, restraint: functools.partial | None) -> np.ndarray:
    """Finite-difference Hessian (eV/A^2) of GFN2-xTB, plus the restraint that holds a path run when given."""
    calc = xtb_calculator()
    return finite_difference_hessian(structure, restraint(calc) if restraint is not None else calc)


@cached_step
def _sampling(out: Path, *, minima: Dataset, paths: Dataset, temperatures_K: list, minimum_runs: int,
              minimum_frames: int, path_runs: int, path_frames: int, frame_spacing_fs: float,
              equilibration_fs: float, timestep_fs: float, assisted_angle_deg: float, seed: int) -> None:
    by_kind = {m.info["kind"]: m for m in minima}
    n_points = 1 + max(int(img.info["image"]) for img in paths)
    md = dict(timestep_fs=timestep_fs, friction_per_fs=FRICTION_PER_FS,
              stride=max(1, round(frame_spacing_fs / timestep_fs)), equil_steps=round(equilibration_fs / timestep_fs))
    # every place a run starts from: a minimum (free) or an interior scan image (held by its restraint)
    places = [(_bare(by_kind[w]), None, w, f"{w} minimum", minimum_runs, minimum_frames) for w in NEAR_EQUILIBRIUM]
    places += [(_bare(img), path_restraint(img, by_kind["cis"], by_kind["trans"], n_points, assisted_angle_deg),
                img.info["mechanism"], f"{img.info['mechanism']} image {img.info['image']}", path_runs, path_frames)
               for img in paths if 0 < img.info["image"] < n_points - 1]
    # Each run starts from its own harmonic thermal sample of its place (normal modes of the place's Hessian,
    # restraint included), so runs from one place share no slow-mode coordinates, as they would from one structure.
    hessians = list(map_in_workers(_start_hessian, [pl[0] for pl in places], [pl[1] for pl in places],
                                   workers=min(default_workers(), len(places))))
    starts, runs, origins = [], [], []
    for temperature in temperatures_K:
        for (structure, restraint, sampled_at, source, n_runs, n_frames), hessian in zip(places, hessians):
            for _ in range(n_runs):
                k = len(runs)
                starts.append(sample_normal_modes(structure, hessian, 1, temperature,
                                                  stream_seed(seed, "start", k))[0])
                runs.append(dict(md, temperature_K=temperature, n_frames=n_frames, seed=stream_seed(seed, "reference_md", k),
                                 **({"propagator": restraint} if restraint is not None else {})))
                origins.append((sampled_at, source))
    frames = xtb_langevin_runs(starts, XTBSettings(), runs)
    for f in frames:
        sampled_at, source = origins[f.info[keys.TRAJECTORY]]
        f.info.update(sampled_at=sampled_at, source=f"{source}, {f.info[keys.TEMPERATURE]:g} K")
    Dataset(frames).write(out / FRAMES)


def sample(p: Params, cache: Cache, ref: Reference) -> Dataset:
    """Labelled frames of independent Langevin runs (cached): ``minimum_runs`` per minimum and temperature, and
    ``path_runs`` per interior scan image and temperature, held at the image by the scan's restraint (the
    restraint moves the atoms; the labels are GFN2-xTB's alone), every run at each of ``md_temperatures_K``,
    started from its own harmonic thermal sample of its place, with frames ``frame_spacing_fs`` apart after
    ``equilibration_fs``. Each frame carries its run
    (``info["trajectory"]``), where the run was started (``info["sampled_at"]``: a minimum or a mechanism) and
    the region the study's rule gives it (``info["region"]``)."""
    entry = _sampling.entry(cache, minima=ref.minima, paths=ref.paths, temperatures_K=list(p.md_temperatures_K),
                            minimum_runs=p.minimum_runs, minimum_frames=p.minimum_frames, path_runs=p.path_runs,
                            path_frames=p.path_frames, frame_spacing_fs=p.frame_spacing_fs,
                            equilibration_fs=p.equilibration_fs, timestep_fs=p.timestep_fs,
                            assisted_angle_deg=p.assisted_angle_deg, seed=p.seed)
    frames = Dataset.read(entry / FRAMES, [keys.REF_energy, keys.REF_forces])
    for a, region in zip(frames, region_rule(p).tag(frames)):
        a.info["region"] = region
    return frames


@dataclasses.dataclass
class Splits:
    """Test, validation and training-pool frames, split by run; draw ``k`` of the pool is a seeded permutation
    whose first n frames are the size-n training set (draw 0 gives the learning curves)."""

    test: Dataset
    valid: Dataset
    pool: Dataset
    seed: int = 0

    def train(self, n: int, draw: int = 0) -> Dataset:
        """The nested training set of size ``n`` of draw ``draw``."""
        return self.pool.subset(rng(self.seed, "pool", draw).permutation(len(self.pool))[:n])


def split(frames: Dataset, p: Params) -> Splits:
    """Split whole runs (``info["trajectory"]``), in one seeded order of the runs (the ``split`` stream).

    For each place a run can start from (cis, trans and each mechanism, ``info["sampled_at"]``) the test set
    takes that place's runs until it holds at least ``test_runs`` of them and ``test_frames`` frames of that
    place's region; the validation set takes further runs until it holds ``n_valid`` frames; the remaining
    runs form the training pool. No run gives frames to two of the sets.
    """
    traj = np.array([int(a.info[keys.TRAJECTORY]) for a in frames])
    at = np.array([a.info["sampled_at"] for a in frames])
    region = np.array([a.info["region"] for a in frames])
    order = [int(t) for t in rng(p.seed, "split").permutation(np.unique(traj))]
    start_of = {t: at[traj == t][0] for t in order}
    test: list[int] = []
    for place in REGIONS:
        runs = frames_in = 0
        for t in (t for t in order if start_of[t] == place):
            if runs >= p.test_runs and frames_in >= p.test_frames:
                break
            test.append(t)
            runs += 1
            frames_in += int(np.sum((traj == t) & (region == place)))
        if runs < p.test_runs or frames_in < p.test_frames:
            raise ValueError(f"the runs started at {place!r} give {runs} test runs with {frames_in} frames in its "
                             f"region; test_runs = {p.test_runs} and test_frames = {p.test_frames} ask for more: "
                             "sample more (minimum_runs, path_runs, their frames) or ask for fewer")
    valid: list[int] = []
    for t in (t for t in order if t not in test):
        if np.isin(traj, valid).sum() >= p.n_valid:
            break
        valid.append(t)
    pool = np.flatnonzero(~np.isin(traj, test + valid))
    if max(p.curve_sizes) > len(pool):
        raise ValueError(f"the training pool holds {len(pool)} frames but max(curve_sizes) = {max(p.curve_sizes)}; "
                         "sample more frames or ask for fewer")
    return Splits(frames.subset(np.flatnonzero(np.isin(traj, test))), frames.subset(np.flatnonzero(np.isin(traj, valid))),
                  frames.subset(pool), p.seed)


def region_counts(frames: Dataset) -> pd.Series:
    """Frames per region, in :data:`REGIONS` order."""
    counts = pd.Series([a.info["region"] for a in frames]).value_counts()
    return counts.reindex(list(REGIONS), fill_value=0)


def run_counts(frames: Dataset) -> pd.Series:
    """Runs per place they started from (a minimum or a mechanism), in :data:`REGIONS` order."""
    starts = {(a.info["sampled_at"], int(a.info[keys.TRAJECTORY])) for a in frames}
    counts = pd.Series([place for place, _ in starts]).value_counts()
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
    GAP's SOAP for a small organic molecule (``gap_cutoff_A``, n_max 6, l_max 4) with ``gap_n_sparse`` sparse
    points in all (a local set shares them out equally among its :data:`LOCAL_GROUPS` members, so that it holds
    no more than the global model), sGDML's length-scale grid, and for the networks the study's training
    settings on the device (and Lightning devices and strategy) of ``options``, with
    :class:`~paperlib.training.TrainConfig`'s default patience for every network."""
    from paperlib.training import TrainConfig

    base = name.removeprefix(registry.LOCAL_PREFIX)
    if base == "gap":
        members = LOCAL_GROUPS if name.startswith(registry.LOCAL_PREFIX) else 1
        return dict(n_max=6, l_max=4, atom_sigma=0.5, cutoff_A=p.gap_cutoff_A, cutoff_transition_width_A=1.0,
                    n_sparse=max(1, p.gap_n_sparse // members), sigma_energy_eV=0.004, sigma_force_eV_A=0.03,
                    seed=p.seed)
    if base == "sgdml":
        return dict(sigmas=tuple(p.sgdml_sigmas))
    return dict(seed=p.seed, max_epochs=p.max_epochs, batch_size=p.batch_size, learning_rate=p.learning_rate,
                patience=TrainConfig.patience, progress=progress, **options.training())


LOCAL_GROUPS = len(set(THREE_GROUPS.values()))
"""Members of a local model set: one per minimum and one for the transition regions."""


def make_model(name: str, p: Params, options: RunOptions = RunOptions(), progress: bool = False) -> Potential:
    """A fresh model by registry name with the study's settings (:func:`model_settings`); ``local_`` models
    select their members by the study's region rule."""
    rule = region_rule(p) if name.startswith(registry.LOCAL_PREFIX) else None
    return registry.make(name, region_rule=rule, **model_settings(name, p, options, progress))


MODEL_PARAMS = ("seed", "max_epochs", "batch_size", "learning_rate", "energy_weight", "force_weight", "gap_n_sparse",
                "gap_cutoff_A", "sgdml_sigmas", "planar_deg", "wide_angle_deg", "linear_deg")
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


@dataclasses.dataclass(frozen=True)
class Job:
    """One fit: the model's name in the tables (``label``), its registry name, the training size, the draw
    of the training pool and whether GAP uses the long cut-off ``gap_long_cutoff_A``."""

    label: str
    name: str
    n: int
    draw: int = 0
    long_cutoff: bool = False


GAP_LONG = "gap_long_cutoff"
"""Label of GAP with the long cut-off (the test of whether transition-region errors come from a short reach)."""


def fit_jobs(p: Params) -> list[Job]:
    """Every model at every training size (draw 0), the local set and its global counterpart at ``local_size``
    on each of ``local_draws`` draws, and GAP with the long cut-off at ``local_size`` on draw 0 (when GAP runs
    and ``gap_long_cutoff_A`` > 0)."""
    local = registry.LOCAL_PREFIX + p.local_model
    jobs = [Job(name, name, n) for name in p.models for n in sorted(p.curve_sizes)]
    jobs += [Job(local, local, p.local_size, d) for d in range(p.local_draws)]
    jobs += [Job(p.local_model, p.local_model, p.local_size, d) for d in range(p.local_draws)
             if d or p.local_size not in p.curve_sizes]
    if "gap" in p.models and p.gap_long_cutoff_A > 0:
        jobs.append(Job(GAP_LONG, "gap", p.local_size, 0, True))
    return jobs


def _settings(p: Params, job: Job) -> Params:
    """The parameters of one fit: the study's, with the long cut-off where the job asks for it and, for draws
    after the first, a seed of the draw's own (GAP's sparse points, a network's initial weights)."""
    part = p.part(*MODEL_PARAMS)
    changed = {**({"gap_cutoff_A": p.gap_long_cutoff_A} if job.long_cutoff else {}),
               **({"seed": stream_seed(p.seed, "draw", job.draw)} if job.draw else {})}
    if not changed:
        return part
    return type(part)(part.study, part.profile, {**part.to_dict(), **changed}, {})


def _train_and_predict_entry(p: Params, cache: Cache, splits: Splits, ref: Reference, options: RunOptions,
                             job: Job) -> str:
    """The cache entry of one fit (computed on a miss, on any executor; ``job`` last, so that the sweep binds the
    rest); ``options`` stay out of the key."""
    return str(_train_and_predict.entry(cache, name=job.name, settings=_settings(p, job),
                                        train=splits.train(job.n, job.draw), valid=splits.valid,
                                        evaluate={"test": splits.test, "paths": ref.paths}, options=options))


def train_and_predict(p: Params, cache: Cache, job: Job, splits: Splits, ref: Reference,
                      options: RunOptions = RunOptions()) -> dict:
    """The fit of ``job`` (cached); its predictions on the test set and the scan images:
    ``{"fit_s", "notes", "predictions": {"test"|"paths": {"energies", "forces"}}}``."""
    return _read_predictions(_train_and_predict_entry(p, cache, splits, ref, options, job))


def artefacts(p: Params, cache: Cache, splits: Splits, ref: Reference, options: RunOptions
              ) -> dict[str, list[dict]]:
    """What ``paperlib export`` writes for this run: every fitted model (cached entries, read back) with the
    training set and seed it had, each training set, the validation and the test set."""
    sets = {(job.n, job.draw) for job in fit_jobs(p)}
    datasets = [data_artefact(cache, f"training set of {n} frames draw {d}", splits.train(n, d),
                              f"nested training set of {n} frames of the training pool, draw {d}")
                for n, d in sorted(sets)]
    datasets += [data_artefact(cache, "validation set", splits.valid, "frames of whole runs, early stopping"),
                 data_artefact(cache, "test set", splits.test, "frames of whole runs that no training set shares")]
    models = [ModelArtefact(f"{job.label} {job.n} frames draw {job.draw}", job.name,
                            str(Path(_train_and_predict_entry(p, cache, splits, ref, options, job)) / "model"),
                            f"training set of {job.n} frames draw {job.draw}", _settings(p, job).seed,
                            f"{job.label} fitted to energies and forces") for job in fit_jobs(p)]
    return artefact_map(models, datasets)


def _read_predictions(entry: Path | str) -> dict:
    return json.loads((Path(entry) / "predictions.json").read_text())


def region_group(region: str, sampled_at: str) -> str:
    """The group a test frame counts in: its minimum (cis, trans) when a run around that minimum gave it,
    :data:`TRANSITION` for every transition region, :data:`PATH_NEAR` for a path run's frame that the rule puts
    in a minimum's region (near-planar, but held on a path: neither group of claim 2)."""
    if region not in NEAR_EQUILIBRIUM:
        return TRANSITION
    return region if sampled_at in NEAR_EQUILIBRIUM else PATH_NEAR


def error_rows(name: str, n: int, data: Dataset, pred: Mapping[str, list], draw: int = 0) -> pd.DataFrame:
    """Per frame: model, training size, draw, frame (its index in ``data``, shared by every model), the run it
    came from and where that run started, region, group (:func:`region_group`), ``|energy error|`` (eV), force
    MAE (eV/A)."""
    energies = np.asarray(pred["energies"])
    forces = np.split(np.asarray(pred["forces"]), np.cumsum(data.n_atoms())[:-1])
    rows = []
    for i, a in enumerate(data):
        region = a.info["region"]
        at = a.info.get("sampled_at", region)
        rows.append({"model": name, "n_train": n, "draw": draw, "frame": i,
                     "trajectory": int(a.info.get(keys.TRAJECTORY, -1)), "sampled_at": at,
                     "region": region, "group": region_group(region, at),
                     "err_energy": abs(energies[i] - a.info[keys.REF_energy]),
                     "mae_forces": float(np.mean(np.abs(forces[i] - a.arrays[keys.REF_forces])))})
    return pd.DataFrame(rows)


def baseline_rows(splits: Splits, n: int) -> pd.DataFrame:
    """:func:`error_rows` of the trivial model that predicts the mean reference energy of the size-``n``
    training set (draw 0) and zero forces: the scale the claim-1 criterion is relative to."""
    mean = float(np.mean(splits.train(n).energies()))
    pred = {"energies": [mean] * len(splits.test), "forces": np.zeros((int(np.sum(splits.test.n_atoms())), 3))}
    return error_rows(BASELINE, n, splits.test, pred)


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


def run_models(p: Params, cache: Cache, splits: Splits, ref: Reference, ex, options: RunOptions = RunOptions()
               ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Every fit of :func:`fit_jobs`, each a point of the executor ``ex``: per-frame test errors (with the
    mean-energy baseline at every size), scan-image profiles (largest size, draw 0) and fit times."""
    largest = max(p.curve_sizes)
    jobs = fit_jobs(p)
    entries = ex.map(functools.partial(_train_and_predict_entry, p, cache, splits, ref, options), jobs,
                     desc="models x training sizes", progress=options.progress)
    errors = [baseline_rows(splits, n) for n in sorted(p.curve_sizes)]
    profiles, fits = [], []
    for job, entry in zip(jobs, entries):
        out = _read_predictions(entry)
        errors.append(error_rows(job.label, job.n, splits.test, out["predictions"]["test"], job.draw))
        if job.n == largest and job.draw == 0:
            profiles.append(profile_rows(job.label, ref, out["predictions"]["paths"]))
        fits.append({"model": job.label, "n_train": job.n, "draw": job.draw, "fit_s": out["fit_s"],
                     "notes": out["notes"]})
    return pd.concat(errors, ignore_index=True), pd.concat(profiles, ignore_index=True), pd.DataFrame(fits)


@dataclasses.dataclass
class Results(StudyResults):
    """Everything the notebook shows and the claims judge.

    ``errors`` (per test frame, model, training size and draw), ``profiles`` (per scan image and model at the
    largest size) and ``fit_seconds`` (per fit, with its notes) are the raw tables; ``paper_models``, ``local``
    and ``global_model`` name the models the claims compare; the rest are the tables the chapter shows, derived
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
    cross_check: pd.DataFrame
    """:func:`cross_check`: the isomer energy and the barriers by the reference and a second method."""
    region_counts: pd.DataFrame
    """Frames and runs per region in all frames, the test set, the validation set and the training pool."""
    frame_cvs: pd.DataFrame
    """:func:`cv_table` of the sampled frames."""
    path_cvs: pd.DataFrame
    """:func:`cv_table` of the scan images."""
    curves: pd.DataFrame
    """:func:`learning_curves` of every model (draw 0)."""
    crossing: pd.DataFrame
    """:func:`crossing` of the study's models (without the local set)."""
    region_errors: pd.DataFrame
    """:func:`region_errors` at the largest training size."""
    transition_ratios: pd.DataFrame
    """Transition / near-equilibrium MAE per model at the largest size."""
    barriers: pd.DataFrame
    """:func:`barrier_table` of the profiles."""
    local_vs_global: pd.DataFrame
    """Mean test errors per region group and draw of the local set and its global counterpart at
    ``local_size``."""
    cutoffs: pd.DataFrame
    """:func:`cutoff_table`: GAP at its two cut-offs, transition and near-equilibrium errors."""
    split_by_trajectory: bool = True
    """No run gives frames to both the training and the test set (what makes test frames independent)."""
    artefacts: dict = dataclasses.field(default_factory=dict)
    """The fitted models and data sets of this run (:func:`artefacts`), which ``paperlib export`` writes."""


def figures(results: Results) -> dict[str, float]:
    """Measured figures for results.json (fit times excluded: they vary between identical runs)."""
    figures = summary_figures(results.claims_input())
    for row in results.cross_check.to_dict("records"):
        what = row.pop("energy difference (eV)").replace(" - ", "_minus_").replace(" ", "_")
        figures.update({f"reference/{method.replace('/', '_')}/{what}_eV": float(v) for method, v in row.items()})
    for row in results.cutoffs.to_dict("records"):
        figures[f"cutoff/{row['model']}/transition_over_near_forces"] = float(row["transition / near force MAE"])
        figures[f"cutoff/{row['model']}/delta_log_force_ratio"] = float(row.get("Δ log force ratio vs first", np.nan))
    return {k: v for k, v in figures.items() if np.isfinite(v)}


def split_counts(splits: Splits) -> pd.DataFrame:
    """Frames per region and runs per starting place in the test, validation and training-pool sets."""
    parts = {"test": splits.test, "validation": splits.valid, "training pool": splits.pool}
    table = pd.DataFrame({**{f"{k} frames": region_counts(v) for k, v in parts.items()},
                          **{f"{k} runs": run_counts(v) for k, v in parts.items()}})
    return table.rename_axis("region").reset_index()


def run(p: Params, cache: Cache, options: RunOptions = RunOptions(), timer: Timer | None = None) -> Results:
    """All the study's compute: reference surface and its cross-check, MD sampling, the split by run, every
    fit (one executor of ``options`` over the fits) and the tables of :class:`Results`."""
    timer = timer if timer is not None else Timer()
    with timer("reference minima, scans and saddles"):
        ref = reference(p, cache)
    with timer("cross-check of the reference (GFN1-xTB" + (f", {p.dft_method})" if p.dft_method else ")")):
        checked = cross_check(p, cache, ref)
    rule = region_rule(p)
    with timer("reference MD sampling"):
        frames = sample(p, cache, ref)
    splits = split(frames, p)
    with timer("training and prediction (all models and sizes)"):
        with options.make_executor() as ex:
            errors, profiles, fits = run_models(p, cache, splits, ref, ex, options)
    largest = max(p.curve_sizes)
    local = registry.LOCAL_PREFIX + p.local_model
    paper_models = [m for m in p.models if m in ("sgdml", "gap") or m.startswith("schnet")]
    main = errors[errors["draw"] == 0]
    curves = learning_curves(main)
    pair = errors[errors["model"].isin([p.local_model, local]) & (errors["n_train"] == p.local_size)]
    results = Results(
        errors=errors, profiles=profiles, fit_seconds=fits, paper_models=paper_models, local=local,
        global_model=p.local_model, reference_summary=ref.summary,
        saddles=reference_table(ref, rule), cross_check=checked, region_counts=split_counts(splits),
        frame_cvs=cv_table(frames, ref), path_cvs=cv_table(ref.paths, ref), curves=curves,
        crossing=crossing(curves[curves["model"].isin(p.models)]),
        region_errors=region_errors(main[main["model"] != BASELINE], largest),
        transition_ratios=pd.DataFrame(), barriers=barrier_table(profiles),
        local_vs_global=pair.groupby(["model", "draw", "group"])[["err_energy", "mae_forces"]].mean().reset_index(),
        cutoffs=pd.DataFrame(), artefacts=artefacts(p, cache, splits, ref, options))
    inputs = results.claims_input()
    results.transition_ratios = transition_ratios(inputs)
    results.cutoffs = cutoff_table(inputs, {"gap": p.gap_cutoff_A, GAP_LONG: p.gap_long_cutoff_A})
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
