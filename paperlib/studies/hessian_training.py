"""Study 3: does Hessian data improve ML potentials? (Rodriguez, Smith & Mendoza-Cortes, JCTC 2025,
arXiv 2503.07839).

Stages (each cached by its inputs): per reaction, GFN2-xTB critical points (minima, climbing-image NEB,
sella saddle refinement, confirmed by Hessian and by the minima the saddle connects) with the NEB images
and normal-mode displaced test geometries, all labelled with Hessians -> SchNet (float64) trained on the
critical points only, with E, E+F and E+F+H losses -> errors against the distance from the nearest
critical point -> NEB, saddle search and harmonic frequencies on every model -> a learning curve over the
number of reactions -> the cost of an epoch per loss -> claims.

The study contract: :class:`Params`, :func:`run` (every step above, in order, the reactions, fits and model
searches on one executor) -> :class:`Results`, :data:`CLAIMS` and :func:`figures`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from ase import Atoms

from paperlib import keys
from paperlib.analysis.vibrations import frequency_mae
from paperlib.cache import Cache, cached_step
from paperlib.data.dataset import Dataset
from paperlib.models.base import Targets
from paperlib.models.registry import SavedModel
from paperlib.models.schnet import SchNetConfig, SchNetPotential
from paperlib.executors import Executor, InProcessExecutor
from paperlib.options import RunOptions
from paperlib.reference.hessian import finite_difference_hessian, hessian_checks
from paperlib.reference.xtb import HESSIAN_ASYMMETRY, label, xtb_calculator
from paperlib.sampling.normal_modes import displace_along_modes
from paperlib.sampling.paths import kabsch_rmsd, load_reaction, locate_critical_points
from paperlib.seeds import stream_seed
from paperlib.studies.contract import StudyParams, StudyResults
# CLAIMS is part of this module's interface (the study contract); it lives in the claims module.
from paperlib.studies.hessian_training_claims import (CLAIMS, E_AND_F, E_ONLY, METRICS,  # noqa: F401
                                                      efh_mode, summary_figures)
from paperlib.timing import Timer
from paperlib.training import TrainConfig, resolve_device, with_runtime

STUDY = "hessian_training"
CRITICAL, PATH, DISPLACED, SUMMARY = "critical.xyz", "path.xyz", "displaced.xyz", "summary.json"
CP_KINDS = ("reactant", "product", "ts")


class Params(StudyParams):
    """Validated parameters of the study (``Params.resolve(profile, overrides)``)."""

    STUDY = STUDY


def modes(p: Params) -> list[str]:
    """Training modes of a run: E, E+F and one E+F+H per Hessian loss; the first E+F+H is judged."""
    return [E_ONLY, E_AND_F] + [efh_mode(loss, p.hessian_probes) for loss in p.hessian_losses]


def judged_mode(p: Params) -> str:
    """The E+F+H mode that the claims compare with E+F."""
    return efh_mode(p.hessian_losses[0], p.hessian_probes)


# -- reference data -------------------------------------------------------------------------------
def _bare(atoms: Atoms) -> Atoms:
    """Numbers and positions only: no labels, info or calculator carried over."""
    return Atoms(atoms.numbers, positions=atoms.positions)


@cached_step
def _reference_reaction(out: Path, *, name: str, n_images: int, amplitudes_A: list[float],
                        samples_per_amplitude: int, seed: int) -> None:
    """Critical points, NEB images and normal-mode displacements of reaction ``name``, labelled with Hessians;
    the displacements of critical point j at amplitude a draw from the stream ``displacements/<name>`` (j, a)
    of ``seed``, so a reaction's test geometries do not depend on the other reactions of a run."""
    calc = xtb_calculator()
    r = load_reaction(name)
    cp = locate_critical_points(r.atoms("reactant"), r.atoms("guess"), r.atoms("product"), calc,
                                lambda a: finite_difference_hessian(a, calc), n_images=n_images)
    critical = []
    for kind in CP_KINDS:
        frame = label(_bare(getattr(cp, kind)), calc, hessian=True)
        frame.info.update(reaction=name, kind=kind, amplitude_A=0.0)
        critical.append(frame)
    path = []
    for i, img in enumerate(cp.images[1:-1], start=1):
        frame = label(_bare(img), calc, hessian=True)
        frame.info.update(reaction=name, kind="path", image=i)
        path.append(frame)
    displaced = []
    for j, frame in enumerate(critical):
        hessian = np.reshape(frame.info[keys.REF_hessian], (3 * len(frame), 3 * len(frame)))
        for a, amp in enumerate(amplitudes_A):
            for conf in displace_along_modes(_bare(frame), hessian, amp, samples_per_amplitude,
                                             seed=stream_seed(seed, f"displacements/{name}", j, a)):
                got = label(conf, calc, hessian=True)
                got.info.update(reaction=name, kind="displaced", source=frame.info["kind"], amplitude_A=amp)
                displaced.append(got)
    everything = critical + path + displaced
    checks = [hessian_checks(np.reshape(f.info[keys.REF_hessian], (3 * len(f), 3 * len(f)))) for f in everything]
    summary = {"name": name, "description": r.description, "barrier_eV": cp.barrier_eV,
               "reaction_energy_eV": cp.energies["product"] - cp.energies["reactant"],
               "ts_imaginary": cp.ts_imaginary, "connects": cp.connects, "converged": cp.converged,
               "wavenumbers_cm": {k: v.tolist() for k, v in cp.wavenumbers.items()},
               "path_energies_eV": (cp.image_energies - cp.energies["reactant"]).tolist(),
               "max_asymmetry_eV_A2": max(f.info[HESSIAN_ASYMMETRY] for f in everything),
               "max_translation_sum_eV_A2": max(c["translation"] for c in checks),
               "max_element_eV_A2": max(c["scale"] for c in checks)}
    Dataset(critical).write(out / CRITICAL)
    Dataset(path).write(out / PATH)
    Dataset(displaced).write(out / DISPLACED)
    (out / SUMMARY).write_text(json.dumps(summary, indent=1))


@dataclasses.dataclass
class ReferenceData:
    """Reference critical points (training data), NEB images and displaced geometries (test data) of every
    reaction, with one summary per reaction (barrier, frequencies, checks)."""

    critical: Dataset
    path: Dataset
    displaced: Dataset
    summaries: dict[str, dict]

    def reactions(self, names: list[str]) -> Dataset:
        """The critical points of the reactions ``names``."""
        return Dataset([a for a in self.critical if a.info["reaction"] in names])

    @property
    def test(self) -> Dataset:
        """Every geometry the models never see: NEB images and normal-mode displacements."""
        return self.path + self.displaced


def reference_data(p: Params, cache: Cache, progress: bool = True, executor: Executor | None = None
                   ) -> ReferenceData:
    """GFN2-xTB critical points, paths and test geometries of ``p.reactions``, one reaction per point of
    ``executor`` (default: in this process)."""
    args = [dict(name=n, n_images=p.n_images, amplitudes_A=list(p.amplitudes_A),
                 samples_per_amplitude=p.samples_per_amplitude, seed=p.seed) for n in p.reactions]
    entries = (executor or InProcessExecutor()).map(lambda a: _reference_reaction.entry(cache, **a), args,
                                                    desc="reactions (critical points, Hessians)", progress=progress)
    parts = {k: Dataset() for k in (CRITICAL, PATH, DISPLACED)}
    summaries = {}
    for name, entry in zip(p.reactions, map(Path, entries)):
        for k in parts:
            parts[k] = parts[k] + Dataset.read(entry / k, require=[keys.REF_energy, keys.REF_forces, keys.REF_hessian])
        summaries[name] = json.loads((entry / SUMMARY).read_text())
    return ReferenceData(parts[CRITICAL], parts[PATH], parts[DISPLACED], summaries)


def reference_table(ref: ReferenceData) -> pd.DataFrame:
    """One row per reaction: barrier, reaction energy, saddle checks and Hessian consistency."""
    rows = []
    for name, s in ref.summaries.items():
        rows.append({"reaction": name, "description": s["description"], "barrier (eV)": s["barrier_eV"],
                     "reaction energy (eV)": s["reaction_energy_eV"],
                     "imaginary mode (cm⁻¹)": min(s["wavenumbers_cm"]["ts"]),
                     "imaginary modes at saddle": s["ts_imaginary"], "connects reactant and product": s["connects"],
                     "max |H - Hᵀ| before symmetrisation (eV/Å²)": s["max_asymmetry_eV_A2"],
                     "max translational row sum (eV/Å²)": s["max_translation_sum_eV_A2"]})
    return pd.DataFrame(rows)


# -- models ---------------------------------------------------------------------------------------
def targets_for(mode: str, p: Params) -> tuple[Targets, str]:
    """Loss weights and Hessian-loss kind of a training mode."""
    if mode == E_ONLY:
        return Targets(p.energy_weight), "full"
    if mode == E_AND_F:
        return Targets(p.energy_weight, p.force_weight), "full"
    for loss in ("full", "hvp"):
        if mode == efh_mode(loss, p.hessian_probes):
            return Targets(p.energy_weight, p.force_weight, p.hessian_weight), loss
    raise ValueError(f"unknown training mode {mode!r}; allowed: {', '.join(modes(p))}")


def model_config(p: Params, hessian_loss: str, max_epochs: int | None = None) -> SchNetConfig:
    """SchNet settings of the study (float64, since Hessians differentiate the forces once more); where it
    trains is set from the run options by :func:`paperlib.training.with_runtime`."""
    train = TrainConfig(max_epochs=max_epochs or p.max_epochs, batch_size=p.batch_size,
                        learning_rate=p.learning_rate, seed=p.seed, progress=False, hessian_loss=hessian_loss,
                        hessian_probes=p.hessian_probes, patience=10 ** 9, lr_patience=50)
    return SchNetConfig(size=p.model_size, cutoff_A=p.cutoff_A, dtype="float64", train=train)


@cached_step(runtime=("options",))
def _train(out: Path, *, train: Dataset, config: SchNetConfig, targets: Targets, options: RunOptions) -> None:
    model = SchNetPotential(with_runtime(config, options), name="schnet")
    report = model.fit(train, targets=targets)
    model.save(out / "model")
    (out / "report.json").write_text(json.dumps({"epochs": report.epochs, "wall_time_s": report.wall_time_s,
                                                 "final_loss": report.train_loss[-1]}))


def train_job(p: Params, train: Dataset, mode: str, options: RunOptions = RunOptions()) -> dict[str, Any]:
    """The arguments of the cached step that trains a SchNet on ``train`` in ``mode`` on ``options``' device."""
    targets, loss = targets_for(mode, p)
    return dict(train=train, config=model_config(p, loss), targets=targets, options=options)


class Trained(NamedTuple):
    """A trained model and the cache entry that holds it."""

    model: SchNetPotential
    entry: Path

    def saved(self, device: str) -> SavedModel:
        """The model as saved in its entry, to be loaded onto ``device``."""
        return SavedModel(f"schnet_{self.model.config.size}", self.entry / "model", device)


def train_models(p: Params, cache: Cache, sets: list[tuple[Dataset, str]], options: RunOptions = RunOptions(),
                 executor: Executor | None = None, desc: str = "models") -> list[Trained]:
    """SchNets trained on each (training set, mode) of ``sets`` (cached), one per point of ``executor``
    (default: in this process), in the order of ``sets``."""
    jobs = [train_job(p, train, mode, options) for train, mode in sets]
    entries = (executor or InProcessExecutor()).map(lambda job: _train.entry(cache, **job), jobs, desc=desc,
                                                    progress=options.progress)
    return [Trained(SchNetPotential.load(Path(e) / "model", device=options.device), Path(e)) for e in entries]


def train_model(p: Params, cache: Cache, train: Dataset, mode: str, options: RunOptions = RunOptions()
                ) -> Trained:
    """SchNet trained on ``train`` in ``mode`` (cached), in this process."""
    return train_models(p, cache, [(train, mode)], dataclasses.replace(options, progress=False))[0]


def prediction_errors(model: SchNetPotential, frames: Dataset, critical: Dataset) -> pd.DataFrame:
    """Per test geometry: reaction, kind, amplitude, RMSD to the nearest critical point of its reaction (A),
    |energy error| (eV), force MAE (eV/A) and Hessian MAE (eV/A^2)."""
    pred = model.predict(list(frames), hessians=True)
    forces = pred.split_forces(frames.n_atoms())
    cps: dict[str, list] = {}
    for a in critical:
        cps.setdefault(a.info["reaction"], []).append(a)
    rows = []
    for i, a in enumerate(frames):
        n3 = 3 * len(a)
        rows.append({"reaction": a.info["reaction"], "kind": a.info["kind"],
                     "amplitude_A": float(a.info.get("amplitude_A", np.nan)),
                     "distance_A": min(kabsch_rmsd(a, c) for c in cps[a.info["reaction"]]),
                     "err_energy": abs(float(pred.energies[i]) - a.info[keys.REF_energy]),
                     "mae_forces": float(np.mean(np.abs(forces[i] - a.arrays[keys.REF_forces]))),
                     "mae_hessian": float(np.mean(np.abs(pred.hessians[i] - np.reshape(a.info[keys.REF_hessian],
                                                                                      (n3, n3)))))})
    return pd.DataFrame(rows)


def main_models(p: Params, cache: Cache, ref: ReferenceData, options: RunOptions = RunOptions(),
                executor: Executor | None = None) -> dict[str, Trained]:
    """One model per training mode, trained on the critical points of every reaction (the modes on
    ``executor``)."""
    train = ref.reactions(list(p.reactions))
    trained = train_models(p, cache, [(train, mode) for mode in modes(p)], options, executor,
                           desc="models (one per training mode)")
    return dict(zip(modes(p), trained))


def test_errors(models: Mapping[str, Trained], ref: ReferenceData) -> pd.DataFrame:
    """:func:`prediction_errors` of every model on every test geometry, with a ``mode`` column."""
    return pd.concat([prediction_errors(t.model, ref.test, ref.critical).assign(mode=mode)
                      for mode, t in models.items()], ignore_index=True)


# -- critical points on the models ----------------------------------------------------------------
def _batch(model: SchNetPotential, structures) -> tuple[np.ndarray, list[np.ndarray]]:
    pred = model.predict(list(structures))
    return pred.energies, pred.split_forces([len(a) for a in structures])


@cached_step
def _model_search(out: Path, *, model: SavedModel, critical: Dataset, reactions: list[str], n_images: int,
                  steps: int) -> None:
    """Minima, NEB path and saddle of every reaction on ``model``, started from the reference minima in
    ``critical`` and the reference's rough saddle guess."""
    model = model.load()
    calc = model.calculator()
    found = {}
    for name in reactions:
        cps = {a.info["kind"]: a for a in critical if a.info["reaction"] == name}
        try:
            cp = locate_critical_points(_bare(cps["reactant"]), load_reaction(name).atoms("guess"),
                                        _bare(cps["product"]), calc,
                                        lambda a: model.predict([a], hessians=True).hessians[0],
                                        n_images=n_images, max_steps=steps, evaluate=lambda imgs: _batch(model, imgs))
        except (RuntimeError, ValueError, np.linalg.LinAlgError) as err:   # a model whose surface breaks apart
            found[name] = {"failed": f"{type(err).__name__}: {err}"}
            continue
        found[name] = {"barrier_eV": cp.barrier_eV, "ts_imaginary": cp.ts_imaginary, "connects": cp.connects,
                       "converged": cp.converged, "ts_rmsd_A": kabsch_rmsd(cp.ts, cps["ts"]),
                       "wavenumbers_cm": {k: v.tolist() for k, v in cp.wavenumbers.items()},
                       "path_energies_eV": (cp.image_energies - cp.energies["reactant"]).tolist()}
    (out / "searches.json").write_text(json.dumps(found, indent=1))




def model_searches(p: Params, cache: Cache, models: Mapping[str, Trained],
                   ref: ReferenceData, options: RunOptions = RunOptions(), executor: Executor | None = None
                   ) -> dict[str, dict[str, dict]]:
    """Per model (mode): minima, NEB path, saddle search and frequencies of every reaction (cached), started from
    the reference minima and the same rough saddle guess as the reference; one model per point of ``executor``."""
    search = dict(critical=ref.critical, reactions=list(p.reactions), n_images=p.n_images, steps=p.search_steps)
    entries = (executor or InProcessExecutor()).map(lambda model: _model_search.entry(cache, model=model, **search),
                                                    [t.saved(options.device) for t in models.values()],
                                                    desc="NEB and saddle searches (one per model)",
                                                    progress=options.progress)
    return {mode: json.loads((Path(e) / "searches.json").read_text()) for mode, e in zip(models, entries)}


def search_table(ref: ReferenceData, searches: Mapping[str, Mapping[str, dict]]) -> pd.DataFrame:
    """Per (mode, reaction): barrier vs reference (eV), saddle RMSD to the reference saddle (A), imaginary
    modes, connection, whether the saddle is confirmed, and the frequency MAE (cm^-1) at minima and saddle."""
    rows = []
    for mode, by_reaction in searches.items():
        for name, s in by_reaction.items():
            r = ref.summaries[name]
            row = {"mode": mode, "reaction": name, "barrier_ref_eV": r["barrier_eV"]}
            if "failed" in s:
                rows.append({**row, "barrier_eV": np.nan, "barrier_error_eV": np.nan, "ts_rmsd_A": np.nan,
                             "ts_imaginary": -1, "connects": False, "ts_confirmed": False,
                             "freq_mae_minima_cm": np.nan, "freq_mae_ts_cm": np.nan, "note": s["failed"]})
                continue
            w, wr = s["wavenumbers_cm"], r["wavenumbers_cm"]
            rows.append({**row, "barrier_eV": s["barrier_eV"], "barrier_error_eV": abs(s["barrier_eV"] - r["barrier_eV"]),
                         "ts_rmsd_A": s["ts_rmsd_A"], "ts_imaginary": s["ts_imaginary"],
                         "connects": bool(s["connects"]),
                         "ts_confirmed": s["ts_imaginary"] == 1 and s["connects"] is not False,
                         "freq_mae_minima_cm": np.mean([frequency_mae(wr[k], w[k]) for k in ("reactant", "product")]),
                         "freq_mae_ts_cm": frequency_mae(wr["ts"], w["ts"]), "note": ""})
    return pd.DataFrame(rows)


# -- learning curve and cost ----------------------------------------------------------------------
def learning_curve_errors(p: Params, cache: Cache, ref: ReferenceData, options: RunOptions = RunOptions(),
                          executor: Executor | None = None) -> pd.DataFrame:
    """:func:`prediction_errors` of E+F and the judged E+F+H mode trained on the critical points of the first n
    reactions, n in ``curve_sizes``, always on the NEB images and displacements of every reaction; with the
    columns ``n_reactions``, ``n_structures`` (training critical points) and ``mode``. The models are trained
    on ``executor``, one per point."""
    points = [(n, mode) for n in p.curve_sizes for mode in (E_AND_F, judged_mode(p))]
    sets = [ref.reactions(list(p.reactions[:n])) for n, _ in points]
    trained = train_models(p, cache, [(train, mode) for train, (_, mode) in zip(sets, points)], options, executor,
                           desc="learning curve (one model per size and mode)")
    parts = []
    for (n, mode), train, t in zip(points, sets, trained):
        err = prediction_errors(t.model, ref.test, ref.critical)
        parts.append(err.assign(n_reactions=n, n_structures=len(train), mode=mode))
    return pd.concat(parts, ignore_index=True)


def curve_means(errors: pd.DataFrame) -> pd.DataFrame:
    """Mean test errors per training size and mode of :func:`learning_curve_errors`."""
    return (errors.groupby(["n_reactions", "n_structures", "mode"], sort=False)[list(METRICS)].mean()
            .reset_index())


def learning_curve(p: Params, cache: Cache, ref: ReferenceData, options: RunOptions = RunOptions(),
                   executor: Executor | None = None) -> pd.DataFrame:
    """Mean test errors of E+F and the judged E+F+H mode trained on the critical points of the first n
    reactions, n in ``curve_sizes``, always tested on the NEB images and displacements of every reaction."""
    return curve_means(learning_curve_errors(p, cache, ref, options, executor))


@cached_step(runtime=("options",))
def _epoch_costs(out: Path, *, train: Dataset, runs: Mapping[str, tuple[SchNetConfig, Targets]], timed_on: str,
                 options: RunOptions) -> None:
    """Seconds per epoch of every run, timed where ``options`` say (``timed_on``: device, devices, strategy)."""
    times = {}
    for name, (config, targets) in runs.items():
        report = SchNetPotential(with_runtime(config, options)).fit(train, targets=targets)
        times[name] = report.wall_time_s / report.epochs
    (out / "costs.json").write_text(json.dumps(times, indent=1))


def epoch_costs(p: Params, cache: Cache, train: Dataset, options: RunOptions = RunOptions()) -> pd.DataFrame:
    """Seconds per training epoch of E+F, E+F+H (full) and E+F+H (HVP) for each k in ``cost_probes``,
    measured one after the other in this process on ``train`` on the device of ``options``; with the ratio to
    E+F. Unlike every other cached step, this one keys on the device: a timing measures the device it ran on."""
    runs = {E_AND_F: (model_config(p, "full", p.cost_epochs), Targets(p.energy_weight, p.force_weight))}
    h = Targets(p.energy_weight, p.force_weight, p.hessian_weight)
    runs[efh_mode("full", 0)] = (model_config(p, "full", p.cost_epochs), h)
    for k in p.cost_probes:
        config = model_config(p, "hvp", p.cost_epochs)
        runs[efh_mode("hvp", k)] = (dataclasses.replace(config, train=dataclasses.replace(config.train,
                                                                                          hessian_probes=k)), h)
    timed_on = f"{resolve_device(options.device)} x{options.devices} {options.strategy}"
    entry = _epoch_costs.entry(cache, train=train, runs=runs, timed_on=timed_on, options=options)
    times = json.loads((entry / "costs.json").read_text())
    return pd.DataFrame([{"mode": k, "seconds_per_epoch": v, "ratio_to_E+F": v / times[E_AND_F]}
                         for k, v in times.items()])


# -- the study contract ---------------------------------------------------------------------------
@dataclasses.dataclass
class Results(StudyResults):
    """Everything the chapter presents and the claims judge.

    ``reference`` (one row per reaction: :func:`reference_table`), ``summaries`` (reaction -> reference
    summary: barrier, path energies, wavenumbers), ``data_sizes`` (critical points, NEB images, displaced
    geometries, reactions), ``modes`` (training modes in order), ``errors`` (one row per test geometry and mode:
    :func:`test_errors`), ``search_runs`` (mode -> reaction -> the search on that model: :func:`model_searches`),
    ``searches`` (one row per mode and reaction: :func:`search_table`), ``curve_errors`` and ``curve``
    (:func:`learning_curve_errors`, :func:`curve_means`), ``costs`` (:func:`epoch_costs`), ``judged`` (the E+F+H
    mode compared with E+F) and ``seeds`` (the training seeds behind the models).
    """

    reference: pd.DataFrame
    summaries: dict[str, dict]
    data_sizes: dict[str, int]
    modes: list[str]
    errors: pd.DataFrame
    search_runs: dict[str, dict[str, dict]]
    searches: pd.DataFrame
    curve_errors: pd.DataFrame
    curve: pd.DataFrame
    costs: pd.DataFrame
    judged: str
    seeds: list[int]


def run(p: Params, cache: Cache, options: RunOptions = RunOptions(), timer: Timer | None = None) -> Results:
    """Every computation of the chapter, in its order, the steps timed by ``timer``: reference data (one
    reaction per executor point), one model per training mode (one per point), test errors, NEB and saddle
    searches (one model per point), the learning curve (one model per point) and the epoch costs (in this
    process, one mode after the other)."""
    timer = timer if timer is not None else Timer()
    with options.make_executor() as ex:
        with timer("reference critical points and test geometries"):
            ref = reference_data(p, cache, options.progress, ex)
        with timer("training"):
            models = main_models(p, cache, ref, options, ex)
        with timer("test errors"):
            errors = test_errors(models, ref)
        with timer("NEB and saddle searches on the models"):
            searches = model_searches(p, cache, models, ref, options, ex)
        with timer("learning curve"):
            curve_errors = learning_curve_errors(p, cache, ref, options, ex)
    with timer("epoch costs"):
        costs = epoch_costs(p, cache, ref.reactions(list(p.reactions)), options)
    sizes = {"critical": len(ref.critical), "path": len(ref.path), "displaced": len(ref.displaced),
             "reactions": len(p.reactions)}
    return Results(reference=reference_table(ref), summaries=ref.summaries, data_sizes=sizes, modes=modes(p),
                   errors=errors, search_runs=searches, searches=search_table(ref, searches),
                   curve_errors=curve_errors, curve=curve_means(curve_errors), costs=costs, judged=judged_mode(p),
                   seeds=[p.seed])


def figures(results: Results) -> dict[str, float]:
    """Measured figures for ``results.json`` (timings excluded: they vary between identical runs)."""
    return summary_figures(results.claims_input())
