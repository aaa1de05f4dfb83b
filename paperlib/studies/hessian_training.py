"""Study 3: does Hessian data improve ML potentials? (Rodriguez, Smith & Mendoza-Cortes, JCTC 2025,
arXiv 2503.07839).

Stages (each cached by its inputs): per reaction, GFN2-xTB critical points (minima, climbing-image NEB, sella
saddle refinement, confirmed by Hessian and by the minima the saddle connects); per small molecule of the
shipped list, its GFN2-xTB minimum with a finite-difference Hessian; the molecules split by molecule into a
test set and a training pool; normal-mode displacements of the test molecules, labelled with Hessians ->
SchNets (float64) trained on the reactions' critical points and the minima of n training molecules, with E+F
and E+F+H losses and several training seeds -> errors on the test molecules against the distance from their
minimum -> frequencies at each model's own minima of the test molecules -> NEB, saddle search and
confirmation on the reactions -> the cost of an epoch per loss -> claims.

The study contract: :class:`Params`, :func:`run` (every step above, in order, the labels, fits and model
searches on one executor) -> :class:`Results`, :data:`CLAIMS` and :func:`figures`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from ase import Atoms

from paperlib import keys
from paperlib.analysis.vibrations import frequency_mae
from paperlib.cache import Cache, cached_step
from paperlib.data.dataset import Dataset
from paperlib.executors import Executor, InProcessExecutor
from paperlib.export import ModelArtefact, artefact_map, data_artefact
from paperlib.models.base import Targets
from paperlib.models.registry import SavedModel
from paperlib.models.schnet import SchNetConfig, SchNetPotential
from paperlib.options import RunOptions
from paperlib.reference.hessian import finite_difference_hessian, hessian_checks
from paperlib.reference.xtb import HESSIAN_ASYMMETRY, label, xtb_calculator
from paperlib.sampling.molecules import from_smiles, small_molecules
from paperlib.sampling.normal_modes import displace_along_modes, normal_modes
from paperlib.sampling.paths import (kabsch_rmsd, load_reaction, locate_critical_points, minimise, n_imaginary,
                                     reaction_compositions, stable_minimum)
from paperlib.seeds import stream_seed
from paperlib.studies.contract import StudyParams, StudyResults
# CLAIMS is part of this module's interface (the study contract); it lives in the claims module.
from paperlib.studies.hessian_training_claims import (CLAIMS, E_AND_F, E_ONLY, METRICS,  # noqa: F401
                                                      efh_mode, summary_figures)
from paperlib.timing import Timer
from paperlib.training import TrainConfig, resolve_device, with_runtime

STUDY = "hessian_training"
CRITICAL, SUMMARY, MINIMUM, DISPLACED = "critical.xyz", "summary.json", "minimum.xyz", "displaced.xyz"
CP_KINDS = ("reactant", "product", "ts")
MINIMUM_FMAX_EV_A = 1e-3
"""Largest force (eV/A) at a reference minimum of a molecule, as at the reactions' minima."""
MODEL_FMAX_EV_A = 5e-3
"""Largest force (eV/A) at which a model's relaxation of a test molecule stops."""


class Params(StudyParams):
    """Validated parameters of the study (``Params.resolve(profile, overrides)``)."""

    STUDY = STUDY


def modes(p: Params) -> list[str]:
    """Training modes at the largest training set: E (when ``energy_only``), E+F and one E+F+H per Hessian
    loss; the first E+F+H is judged."""
    return ([E_ONLY] if p.energy_only else []) + [E_AND_F] + [efh_mode(loss, p.hessian_probes)
                                                             for loss in p.hessian_losses]


def judged_mode(p: Params) -> str:
    """The E+F+H mode that the claims compare with E+F."""
    return efh_mode(p.hessian_losses[0], p.hessian_probes)


# -- reference data -------------------------------------------------------------------------------
def _bare(atoms: Atoms) -> Atoms:
    """Numbers and positions only: no labels, info or calculator carried over."""
    return Atoms(atoms.numbers, positions=atoms.positions)


def _hessian(frame: Atoms) -> np.ndarray:
    n3 = 3 * len(frame)
    return np.reshape(frame.info[keys.REF_hessian], (n3, n3))


@cached_step
def _reference_reaction(out: Path, *, name: str, n_images: int) -> None:
    """Critical points of reaction ``name`` labelled with Hessians, and a summary (barrier, path energies,
    wavenumbers, saddle checks)."""
    calc = xtb_calculator()
    r = load_reaction(name)
    cp = locate_critical_points(r.atoms("reactant"), r.atoms("guess"), r.atoms("product"), calc,
                                lambda a: finite_difference_hessian(a, calc), n_images=n_images)
    critical = []
    for kind in CP_KINDS:
        frame = label(_bare(getattr(cp, kind)), calc, hessian=True)
        frame.info.update(reaction=name, kind=kind)
        critical.append(frame)
    checks = [hessian_checks(_hessian(f)) for f in critical]
    summary = {"name": name, "description": r.description, "barrier_eV": cp.barrier_eV,
               "reaction_energy_eV": cp.energies["product"] - cp.energies["reactant"],
               "ts_imaginary": cp.ts_imaginary, "connects": cp.connects, "converged": cp.converged,
               "wavenumbers_cm": {k: v.tolist() for k, v in cp.wavenumbers.items()},
               "path_energies_eV": (cp.image_energies - cp.energies["reactant"]).tolist(),
               "max_asymmetry_eV_A2": max(f.info[HESSIAN_ASYMMETRY] for f in critical),
               "max_translation_sum_eV_A2": max(c["translation"] for c in checks)}
    Dataset(critical).write(out / CRITICAL)
    (out / SUMMARY).write_text(json.dumps(summary, indent=1))


@cached_step
def _reference_molecule(out: Path, *, smiles: str, name: str, seed: int) -> None:
    """The GFN2-xTB minimum of ``smiles`` (RDKit embedding with ``seed``, BFGS, descents along any imaginary
    mode) labelled with its Hessian, and a summary (wavenumbers, checks); or the reason it failed."""
    calc = xtb_calculator()
    try:
        start = from_smiles(smiles, seed=seed)
        atoms, wavenumbers = stable_minimum(_bare(start), calc, lambda a: finite_difference_hessian(a, calc),
                                            fmax_eV_A=MINIMUM_FMAX_EV_A, steps=2000)
    except (ValueError, RuntimeError) as err:   # unparsable SMILES, failed embedding, no minimum found
        (out / SUMMARY).write_text(json.dumps({"name": name, "smiles": smiles, "failed": str(err)}))
        return
    frame = label(_bare(atoms), calc, hessian=True)
    frame.info.update(molecule=name, smiles=smiles, kind="minimum", amplitude_A=0.0)
    checks = hessian_checks(_hessian(frame))
    Dataset([frame]).write(out / MINIMUM)
    (out / SUMMARY).write_text(json.dumps({
        "name": name, "smiles": smiles, "formula": frame.get_chemical_formula(), "n_atoms": len(frame),
        "wavenumbers_cm": wavenumbers.tolist(), "max_asymmetry_eV_A2": frame.info[HESSIAN_ASYMMETRY],
        "max_translation_sum_eV_A2": checks["translation"]}, indent=1))


@cached_step
def _displaced(out: Path, *, minimum: Dataset, amplitudes_A: list[float], samples_per_amplitude: int,
               seed: int) -> None:
    """Normal-mode displacements of the one molecule in ``minimum`` at each RMS amplitude, labelled with
    Hessians; amplitude a draws from the stream ``displacements/<molecule>`` (a) of ``seed``."""
    calc = xtb_calculator()
    (frame,) = minimum
    name = frame.info["molecule"]
    displaced = []
    for a, amp in enumerate(amplitudes_A):
        for conf in displace_along_modes(_bare(frame), _hessian(frame), amp, samples_per_amplitude,
                                         seed=stream_seed(seed, f"displacements/{name}", a)):
            got = label(conf, calc, hessian=True)
            got.info.update(molecule=name, smiles=frame.info["smiles"], kind="displaced", amplitude_A=amp)
            displaced.append(got)
    Dataset(displaced).write(out / DISPLACED)


def molecule_candidates(p: Params) -> list[tuple[str, str]]:
    """``(smiles, name)`` of every molecule the study may draw, in the seeded order it draws them: the shipped
    list's neutral H/C/N/O molecules with at most ``max_heavy_atoms`` heavy atoms, less every molecule with the
    formula of a reaction's reactant or product (no isomer of a reaction species is ever a test molecule)."""
    found = small_molecules(p.max_heavy_atoms, exclude=reaction_compositions(p.reactions))
    order = np.random.default_rng(stream_seed(p.seed, "molecules")).permutation(len(found))
    return [found[i] for i in order]


@dataclasses.dataclass
class ReferenceData:
    """Reference data of a run.

    ``critical`` (the reactions' critical points, always in training), ``summaries`` (reaction -> barrier,
    path energies, wavenumbers, checks), ``pool`` (training molecules' minima, in the order the training sets
    take them), ``test_minima`` and ``displaced`` (the held-out molecules' minima and normal-mode
    displacements) and ``molecules`` (one summary per molecule labelled, with its ``role``: test, train,
    spare or failed).
    """

    critical: Dataset
    summaries: dict[str, dict]
    pool: Dataset
    test_minima: Dataset
    displaced: Dataset
    molecules: list[dict]

    def training_set(self, n_molecules: int) -> Dataset:
        """The reactions' critical points and the minima of the first ``n_molecules`` training molecules."""
        return self.critical + self.pool.subset(np.arange(n_molecules))

    @property
    def test(self) -> Dataset:
        """Every test geometry: the held-out molecules' minima and their displacements."""
        return self.test_minima + self.displaced

    @property
    def test_names(self) -> set[str]:
        """Names of the held-out molecules."""
        return {a.info["molecule"] for a in self.test_minima}


def _map(executor: Executor | None, fn, items: list, desc: str, progress: bool) -> list:
    return (executor or InProcessExecutor()).map(fn, items, desc=desc, progress=progress)


def reference_data(p: Params, cache: Cache, progress: bool = True, executor: Executor | None = None
                   ) -> ReferenceData:
    """Critical points of ``p.reactions`` and the molecules' minima and test displacements, labelled with
    GFN2-xTB, one reaction or molecule per point of ``executor`` (default: in this process).

    Molecules are taken in the order of :func:`molecule_candidates`: the first ``test_molecules`` that reach a
    minimum are the test set, the next ``max(train_sizes)`` the training pool. Molecules are labelled in
    batches until both are full.
    """
    entries = _map(executor, lambda n: _reference_reaction.entry(cache, name=n, n_images=p.n_images),
                   list(p.reactions), "reactions (critical points, Hessians)", progress)
    critical, summaries = Dataset(), {}
    for name, entry in zip(p.reactions, map(Path, entries)):
        critical = critical + Dataset.read(entry / CRITICAL, require=[keys.REF_energy, keys.REF_forces,
                                                                      keys.REF_hessian])
        summaries[name] = json.loads((entry / SUMMARY).read_text())
    candidates = molecule_candidates(p)
    need = p.test_molecules + max(p.train_sizes)
    found: list[tuple[dict, Path]] = []
    done = 0
    while sum("failed" not in s for s, _ in found) < need and done < len(candidates):
        # a few spares per batch, since a molecule can fail (no embedding, no minimum)
        batch = candidates[done:done + need - sum("failed" not in s for s, _ in found) + 4]
        done += len(batch)
        got = _map(executor, lambda c: _reference_molecule.entry(cache, smiles=c[0], name=c[1], seed=p.seed),
                   batch, "molecules (minimum, Hessian)", progress)
        found += [(json.loads((Path(e) / SUMMARY).read_text()), Path(e)) for e in got]
    ok = [(s, e) for s, e in found if "failed" not in s]
    if len(ok) < need:
        raise RuntimeError(f"only {len(ok)} of {len(candidates)} candidate molecules reached a minimum; the run "
                           f"needs test_molecules + max(train_sizes) = {need}")
    minima = [Dataset.read(e / MINIMUM, require=[keys.REF_energy, keys.REF_forces, keys.REF_hessian])
              for _, e in ok[:need]]
    test_minima = sum(minima[:p.test_molecules], Dataset())
    pool = sum(minima[p.test_molecules:], Dataset())
    args = [dict(minimum=m, amplitudes_A=list(p.amplitudes_A), samples_per_amplitude=p.samples_per_amplitude,
                 seed=p.seed) for m in minima[:p.test_molecules]]
    got = _map(executor, lambda a: _displaced.entry(cache, **a), args, "test displacements (Hessians)", progress)
    displaced = sum((Dataset.read(Path(e) / DISPLACED, require=[keys.REF_hessian]) for e in got), Dataset())
    roles = {s["name"]: "test" if k < p.test_molecules else "train" if k < need else "spare"
             for k, (s, _) in enumerate(ok)}
    molecules = [{**s, "role": roles.get(s["name"], "failed")} for s, _ in found]
    return ReferenceData(critical, summaries, pool, test_minima, displaced, molecules)


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


def molecule_table(ref: ReferenceData) -> pd.DataFrame:
    """One row per molecule labelled: name, SMILES, role (test, train, spare, failed), formula, atoms, lowest
    wavenumber (cm^-1) and the Hessian checks, or why it failed."""
    rows = []
    for s in ref.molecules:
        w = s.get("wavenumbers_cm")
        rows.append({"molecule": s["name"], "smiles": s["smiles"], "role": s["role"], "formula": s.get("formula", ""),
                     "atoms": s.get("n_atoms", 0), "lowest wavenumber (cm⁻¹)": min(w) if w else math.nan,
                     "max |H - Hᵀ| (eV/Å²)": s.get("max_asymmetry_eV_A2", math.nan),
                     "max translational row sum (eV/Å²)": s.get("max_translation_sum_eV_A2", math.nan),
                     "failed": s.get("failed", "")})
    return pd.DataFrame(rows)


# -- models ---------------------------------------------------------------------------------------
class ModelPoint(NamedTuple):
    """One trained model: training molecules, mode and training-seed index."""

    n_molecules: int
    mode: str
    seed: int


def model_points(p: Params) -> list[ModelPoint]:
    """Every model of a run: all modes at the largest training set, E+F and the judged E+F+H at the smaller
    ones, each with ``training_seeds`` seeds."""
    largest = max(p.train_sizes)
    return [ModelPoint(n, mode, s) for n in p.train_sizes
            for mode in (modes(p) if n == largest else [E_AND_F, judged_mode(p)])
            for s in range(p.training_seeds)]


def training_seed(p: Params, index: int) -> int:
    """The training seed of seed index ``index`` (shared by every mode and size, so comparisons are paired)."""
    return stream_seed(p.seed, "training", index)


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


def model_config(p: Params, hessian_loss: str, max_epochs: int | None = None, seed: int | None = None
                 ) -> SchNetConfig:
    """SchNet settings of the study (float64, since Hessians differentiate the forces once more); where it
    trains is set from the run options by :func:`paperlib.training.with_runtime`."""
    train = TrainConfig(max_epochs=max_epochs or p.max_epochs, batch_size=p.batch_size,
                        learning_rate=p.learning_rate, seed=p.seed if seed is None else seed, progress=False,
                        hessian_loss=hessian_loss, hessian_probes=p.hessian_probes, patience=10 ** 9,
                        lr_patience=p.lr_patience)
    return SchNetConfig(size=p.model_size, cutoff_A=p.cutoff_A, dtype="float64", train=train)


@cached_step(runtime=("options",))
def _train(out: Path, *, train: Dataset, config: SchNetConfig, targets: Targets, options: RunOptions) -> None:
    model = SchNetPotential(with_runtime(config, options), name="schnet")
    report = model.fit(train, targets=targets)
    model.save(out / "model")
    (out / "report.json").write_text(json.dumps({"epochs": report.epochs, "wall_time_s": report.wall_time_s,
                                                 "train_loss": report.train_loss}))


def train_job(p: Params, train: Dataset, mode: str, seed: int = 0, options: RunOptions = RunOptions()
              ) -> dict[str, Any]:
    """The arguments of the cached step that trains a SchNet on ``train`` in ``mode`` with training-seed index
    ``seed`` on ``options``' device."""
    targets, loss = targets_for(mode, p)
    return dict(train=train, config=model_config(p, loss, seed=training_seed(p, seed)), targets=targets,
                options=options)


class Trained(NamedTuple):
    """A trained model, the cache entry that holds it and its training report (epochs, losses)."""

    model: SchNetPotential
    entry: Path
    report: dict

    def saved(self, device: str) -> SavedModel:
        """The model as saved in its entry, to be loaded onto ``device``."""
        return SavedModel(f"schnet_{self.model.config.size}", self.entry / "model", device)


def artefacts(p: Params, cache: Cache, ref: ReferenceData, models: Mapping[ModelPoint, Trained]
              ) -> dict[str, list[dict]]:
    """What ``paperlib export`` writes for this run: every SchNet with its training set (by size) and seed, each
    training set and the held-out test geometries."""
    datasets = [data_artefact(cache, f"training set of {n} molecules", ref.training_set(n),
                              f"the reactions' critical points and the minima of the first {n} training molecules")
                for n in sorted(p.train_sizes)]
    datasets.append(data_artefact(cache, "test set", ref.test, "the held-out molecules' minima and displacements"))
    trained = [ModelArtefact(f"schnet {point.mode} {point.n_molecules} molecules seed {point.seed}",
                             f"schnet_{t.model.config.size}", str(t.entry / "model"),
                             f"training set of {point.n_molecules} molecules", training_seed(p, point.seed),
                             f"SchNet trained in mode {point.mode}") for point, t in models.items()]
    return artefact_map(trained, datasets)


def train_models(p: Params, cache: Cache, ref: ReferenceData, points: Sequence[ModelPoint],
                 options: RunOptions = RunOptions(), executor: Executor | None = None) -> dict[ModelPoint, Trained]:
    """SchNets of ``points`` (cached), one per point of ``executor`` (default: in this process)."""
    jobs = [train_job(p, ref.training_set(pt.n_molecules), pt.mode, pt.seed, options) for pt in points]
    entries = _map(executor, lambda job: _train.entry(cache, **job), jobs, "models (sizes x modes x seeds)",
                   options.progress)
    return {pt: Trained(SchNetPotential.load(Path(e) / "model", device=options.device), Path(e),
                        json.loads((Path(e) / "report.json").read_text()))
            for pt, e in zip(points, entries)}


def largest_models(p: Params, models: Mapping[ModelPoint, Trained]) -> dict[ModelPoint, Trained]:
    """The models of the largest training set (those that claims 1-4 judge), in the order of ``models``."""
    return {pt: t for pt, t in models.items() if pt.n_molecules == max(p.train_sizes)}


def training_table(p: Params, ref: ReferenceData, models: Mapping[ModelPoint, Trained]) -> pd.DataFrame:
    """One row per model: training molecules and structures, mode, seed index, loss weights, epochs and the
    last epoch's training loss."""
    rows = []
    for pt, t in models.items():
        targets, loss = targets_for(pt.mode, p)
        rows.append({"n_molecules": pt.n_molecules, "structures": len(ref.training_set(pt.n_molecules)),
                     "mode": pt.mode, "seed": pt.seed, "energy weight": targets.energy,
                     "force weight": targets.forces, "Hessian weight": targets.hessian,
                     "Hessian loss": loss if targets.hessian else "", "epochs": t.report["epochs"],
                     "final training loss": t.report["train_loss"][-1]})
    return pd.DataFrame(rows)


def loss_histories(models: Mapping[ModelPoint, Trained], n_molecules: int) -> pd.DataFrame:
    """Training loss per epoch (long table: mode, seed, epoch, loss) of the models with ``n_molecules``."""
    return pd.DataFrame([{"mode": pt.mode, "seed": pt.seed, "epoch": i + 1, "loss": v}
                         for pt, t in models.items() if pt.n_molecules == n_molecules
                         for i, v in enumerate(t.report["train_loss"])])


def prediction_errors(model: SchNetPotential, frames: Dataset, minima: Dataset, hessians: bool = True
                      ) -> pd.DataFrame:
    """Per test geometry: molecule, kind, amplitude, RMSD to its molecule's minimum in ``minima`` (A),
    ``|energy error|`` (eV), force MAE (eV/A) and, with ``hessians``, Hessian MAE (eV/A^2; NaN without)."""
    pred = model.predict(list(frames), hessians=hessians)
    forces = pred.split_forces(frames.n_atoms())
    at = {a.info["molecule"]: a for a in minima}
    rows = []
    for i, a in enumerate(frames):
        name = a.info["molecule"]
        rows.append({"molecule": name, "kind": a.info["kind"], "amplitude_A": float(a.info["amplitude_A"]),
                     "distance_A": kabsch_rmsd(a, at[name]),
                     "err_energy": abs(float(pred.energies[i]) - a.info[keys.REF_energy]),
                     "mae_forces": float(np.mean(np.abs(forces[i] - a.arrays[keys.REF_forces]))),
                     "mae_hessian": float(np.mean(np.abs(pred.hessians[i] - _hessian(a)))) if hessians else math.nan})
    return pd.DataFrame(rows)


@cached_step
def _test_errors(out: Path, *, model: SavedModel, frames: Dataset, minima: Dataset, hessians: bool) -> None:
    """:func:`prediction_errors` of ``model`` on ``frames``, as ``errors.json``."""
    errors = prediction_errors(model.load(), frames, minima, hessians)
    (out / "errors.json").write_text(errors.to_json(orient="records"))


def test_errors(p: Params, cache: Cache, models: Mapping[ModelPoint, Trained], ref: ReferenceData,
                options: RunOptions = RunOptions(), executor: Executor | None = None) -> pd.DataFrame:
    """:func:`prediction_errors` of every model on the held-out molecules (cached, one model per point of
    ``executor``), with ``n_molecules``, ``mode`` and ``seed`` columns and the geometry's
    :func:`zero_model_errors`; Hessian errors for the models of the largest training set only (the learning
    curve is judged on forces)."""
    largest = max(p.train_sizes)
    entries = _map(executor, lambda a: _test_errors.entry(cache, **a),
                   [dict(model=t.saved(options.device), frames=ref.test, minima=ref.test_minima,
                         hessians=pt.n_molecules == largest) for pt, t in models.items()],
                   "test errors (one per model)", options.progress)
    zero = zero_model_errors(ref.test)
    return pd.concat([pd.read_json(Path(e) / "errors.json", orient="records").assign(
        n_molecules=pt.n_molecules, mode=pt.mode, seed=pt.seed, **zero) for pt, e in zip(models, entries)],
        ignore_index=True)


def zero_model_errors(frames: Dataset) -> dict[str, np.ndarray]:
    """Per geometry of ``frames``: the force MAE (eV/A) and Hessian MAE (eV/A^2) of a model that predicts zero
    forces and a zero Hessian everywhere (the mean ``|reference|`` values): the baseline of a model that learnt no
    curvature."""
    return {"zero_forces": np.array([np.mean(np.abs(a.arrays[keys.REF_forces])) for a in frames]),
            "zero_hessian": np.array([np.mean(np.abs(_hessian(a))) for a in frames])}


# -- frequencies of the held-out molecules on the models ------------------------------------------
@cached_step
def _model_frequencies(out: Path, *, model: SavedModel, minima: Dataset, steps: int) -> None:
    """Per molecule of ``minima``: relaxed on ``model`` from the reference minimum, the model's harmonic
    wavenumbers there, the RMSD of the relaxation and whether it converged (or why it failed)."""
    model = model.load()
    calc = model.calculator()
    found = {}
    for a in minima:
        name = a.info["molecule"]
        try:
            relaxed, converged = minimise(_bare(a), calc, fmax_eV_A=MODEL_FMAX_EV_A, steps=steps)
            hessian = model.predict([relaxed], hessians=True).hessians[0]
            if not np.isfinite(hessian).all():
                raise ValueError("non-finite Hessian")
            wavenumbers, _ = normal_modes(relaxed, hessian)
        except (RuntimeError, ValueError, np.linalg.LinAlgError) as err:   # a surface that breaks apart
            found[name] = {"failed": f"{type(err).__name__}: {err}"}
            continue
        found[name] = {"wavenumbers_cm": wavenumbers.tolist(), "converged": converged,
                       "rmsd_A": kabsch_rmsd(relaxed, a)}
    (out / "frequencies.json").write_text(json.dumps(found, indent=1))


def model_frequencies(p: Params, cache: Cache, models: Mapping[ModelPoint, Trained], ref: ReferenceData,
                      options: RunOptions = RunOptions(), executor: Executor | None = None) -> dict[str, dict]:
    """Per model of the largest training set (key :func:`run_name`): each held-out molecule relaxed on the model
    from its reference minimum, and the model's wavenumbers there (cached; one model per point of ``executor``).
    Only the held-out molecules' minima are relaxed."""
    largest = largest_models(p, models)
    entries = _map(executor, lambda m: _model_frequencies.entry(cache, model=m, minima=ref.test_minima,
                                                                steps=p.search_steps),
                   [t.saved(options.device) for t in largest.values()], "frequencies of the test molecules",
                   options.progress)
    return {run_name(pt): json.loads((Path(e) / "frequencies.json").read_text()) for pt, e in zip(largest, entries)}


def frequency_table(reference: Mapping[str, Sequence[float]], found: Mapping[str, Mapping[str, dict]]
                    ) -> pd.DataFrame:
    """Per (model, held-out molecule) of :func:`model_frequencies`: frequency MAE (cm^-1) at the model's own
    minimum against the ``reference`` wavenumbers (molecule -> cm^-1) at the reference minimum, the
    relaxation's RMSD (A), whether it converged, and the model's imaginary modes there."""
    rows = []
    for run, by_molecule in found.items():
        mode, _, seed = run.rpartition(" / seed ")
        for name, f in by_molecule.items():
            row = {"mode": mode, "seed": int(seed), "molecule": name}
            if "failed" in f:
                rows.append({**row, "freq_mae_cm": math.nan, "rmsd_A": math.nan, "converged": False,
                             "imaginary": -1, "note": f["failed"]})
                continue
            w = np.asarray(f["wavenumbers_cm"])
            rows.append({**row, "freq_mae_cm": frequency_mae(reference[name], w), "rmsd_A": f["rmsd_A"],
                         "converged": f["converged"], "imaginary": n_imaginary(w), "note": ""})
    return pd.DataFrame(rows)


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


def model_searches(p: Params, cache: Cache, models: Mapping[ModelPoint, Trained], ref: ReferenceData,
                   options: RunOptions = RunOptions(), executor: Executor | None = None) -> dict[str, dict]:
    """Per model of the largest training set (key ``"<mode> / seed <s>"``): minima, NEB path, saddle search
    and frequencies of every reaction (cached), started from the reference minima and the same rough saddle
    guess as the reference; one model per point of ``executor``."""
    largest = largest_models(p, models)
    search = dict(critical=ref.critical, reactions=list(p.reactions), n_images=p.n_images, steps=p.search_steps)
    entries = _map(executor, lambda model: _model_search.entry(cache, model=model, **search),
                   [t.saved(options.device) for t in largest.values()], "NEB and saddle searches (one per model)",
                   options.progress)
    return {run_name(pt): json.loads((Path(e) / "searches.json").read_text()) for pt, e in zip(largest, entries)}


def barriers_at_reference(p: Params, models: Mapping[ModelPoint, Trained], ref: ReferenceData
                          ) -> dict[str, dict[str, float]]:
    """Per model of the largest training set (key :func:`run_name`) and reaction: the model's barrier (eV) at the
    reference reactant and saddle, with no search; both are training geometries, so this is how well the model
    fits its own training points."""
    out = {}
    for pt, t in largest_models(p, models).items():
        energies = t.model.predict(list(ref.critical)).energies
        at = {(a.info["reaction"], a.info["kind"]): e for a, e in zip(ref.critical, energies)}
        out[run_name(pt)] = {r: float(at[(r, "ts")] - at[(r, "reactant")]) for r in p.reactions}
    return out


def run_name(pt: ModelPoint) -> str:
    """Key of a model's searches: ``"<mode> / seed <s>"``."""
    return f"{pt.mode} / seed {pt.seed}"


def search_table(summaries: Mapping[str, dict], searches: Mapping[str, Mapping[str, dict]],
                 fitted: Mapping[str, Mapping[str, float]] | None = None) -> pd.DataFrame:
    """Per (model, reaction): barrier vs reference (eV), saddle RMSD to the reference saddle (A), imaginary
    modes, connection, whether the saddle is confirmed, the frequency MAE (cm^-1) at minima and saddle, and,
    with ``fitted`` (:func:`barriers_at_reference`), the error of the barrier at the reference geometries.
    Models are keyed as :func:`run_name` writes them."""
    rows = []
    for run, by_reaction in searches.items():
        mode, _, seed = run.rpartition(" / seed ")
        for name, s in by_reaction.items():
            r = summaries[name]
            row = {"mode": mode, "seed": int(seed), "reaction": name, "barrier_ref_eV": r["barrier_eV"],
                   "fit_error_eV": abs(fitted[run][name] - r["barrier_eV"]) if fitted else np.nan}
            if "failed" in s:
                rows.append({**row, "barrier_eV": np.nan, "barrier_error_eV": np.nan, "ts_rmsd_A": np.nan,
                             "ts_imaginary": -1, "connects": False, "ts_confirmed": False,
                             "freq_mae_minima_cm": np.nan, "freq_mae_ts_cm": np.nan, "note": s["failed"]})
                continue
            w, wr = s["wavenumbers_cm"], r["wavenumbers_cm"]
            rows.append({**row, "barrier_eV": s["barrier_eV"],
                         "barrier_error_eV": abs(s["barrier_eV"] - r["barrier_eV"]),
                         "ts_rmsd_A": s["ts_rmsd_A"], "ts_imaginary": s["ts_imaginary"],
                         "connects": bool(s["connects"]),
                         "ts_confirmed": s["ts_imaginary"] == 1 and s["connects"] is not False,
                         "freq_mae_minima_cm": np.mean([frequency_mae(wr[k], w[k]) for k in ("reactant", "product")]),
                         "freq_mae_ts_cm": frequency_mae(wr["ts"], w["ts"]), "note": ""})
    return pd.DataFrame(rows)


# -- cost ----------------------------------------------------------------------------------------
@cached_step(runtime=("options",))
def _epoch_costs(out: Path, *, train: Dataset, runs: Mapping[str, tuple[SchNetConfig, Targets]], repeats: int,
                 timed_on: str, options: RunOptions) -> None:
    """Seconds per epoch of every run, ``repeats`` times in turn, timed where ``options`` say (``timed_on``:
    device, devices, strategy)."""
    rows = []
    names = list(runs)
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:   # each mode leads a repeat in turn
            config, targets = runs[name]
            report = SchNetPotential(with_runtime(config, options)).fit(train, targets=targets)
            rows.append({"mode": name, "repeat": r, "seconds_per_epoch": report.wall_time_s / report.epochs})
    (out / "costs.json").write_text(json.dumps(rows, indent=1))


def epoch_costs(p: Params, cache: Cache, train: Dataset, options: RunOptions = RunOptions()) -> pd.DataFrame:
    """Seconds per training epoch of E+F, E+F+H (full) and E+F+H (HVP) for each k in ``cost_probes``, on
    ``cost_structures`` structures of ``train`` drawn at random (seeded), taken ``cost_repeats`` times in turn in
    this process on the device of ``options``, each mode leading one repeat in turn; with the ratio of each
    timing to E+F's of the same repeat. Unlike every other cached step, this one keys on the device: a timing
    measures the device it ran on."""
    runs = {E_AND_F: (model_config(p, "full", p.cost_epochs), Targets(p.energy_weight, p.force_weight))}
    h = Targets(p.energy_weight, p.force_weight, p.hessian_weight)
    runs[efh_mode("full", 0)] = (model_config(p, "full", p.cost_epochs), h)
    for k in p.cost_probes:
        config = model_config(p, "hvp", p.cost_epochs)
        runs[efh_mode("hvp", k)] = (dataclasses.replace(config, train=dataclasses.replace(config.train,
                                                                                          hessian_probes=k)), h)
    timed_on = f"{resolve_device(options.device)} x{options.devices} {options.strategy}"
    sample = np.random.default_rng(stream_seed(p.seed, "cost structures")).permutation(len(train))
    entry = _epoch_costs.entry(cache, train=train.subset(np.sort(sample[:p.cost_structures])), runs=runs,
                               repeats=p.cost_repeats, timed_on=timed_on, options=options)
    costs = pd.DataFrame(json.loads((entry / "costs.json").read_text()))
    ef = costs[costs["mode"] == E_AND_F].set_index("repeat")["seconds_per_epoch"]
    return costs.assign(**{"ratio_to_E+F": costs["seconds_per_epoch"].to_numpy() / ef.loc[costs["repeat"]].to_numpy()})


# -- the study contract ---------------------------------------------------------------------------
@dataclasses.dataclass
class Results(StudyResults):
    """Everything the chapter presents and the claims judge.

    ``reference`` (one row per reaction: :func:`reference_table`), ``summaries`` (reaction -> reference
    summary: barrier, path energies, wavenumbers), ``molecules`` (:func:`molecule_table`), ``data_sizes``
    (reactions, critical points, molecules per role, test geometries), ``modes`` (training modes at the largest
    training set), ``training`` (:func:`training_table`), ``losses`` (:func:`loss_histories` of the largest
    training set), ``errors`` (one row per test geometry and model: :func:`test_errors`), ``frequencies``
    (:func:`frequency_table`), ``reference_wavenumbers`` (held-out molecule -> reference wavenumbers, cm^-1),
    ``model_wavenumbers`` (model -> held-out molecule -> relaxation and wavenumbers: :func:`model_frequencies`),
    ``search_runs`` (model -> reaction -> its search: :func:`model_searches`),
    ``searches`` (:func:`search_table`), ``costs`` (:func:`epoch_costs`), ``judged`` (the E+F+H mode compared
    with E+F), ``seeds`` (the training seeds, one per seed index), ``train_sizes`` (training molecules of the
    learning curve) and ``artefacts`` (the trained models and data sets that ``paperlib export`` writes:
    :func:`artefacts`).
    """

    reference: pd.DataFrame
    summaries: dict[str, dict]
    molecules: pd.DataFrame
    data_sizes: dict[str, int]
    modes: list[str]
    training: pd.DataFrame
    losses: pd.DataFrame
    errors: pd.DataFrame
    frequencies: pd.DataFrame
    reference_wavenumbers: dict[str, list[float]]
    model_wavenumbers: dict[str, dict[str, dict]]
    search_runs: dict[str, dict[str, dict]]
    searches: pd.DataFrame
    costs: pd.DataFrame
    judged: str
    seeds: list[int]
    train_sizes: list[int]
    artefacts: dict = dataclasses.field(default_factory=dict)


def run(p: Params, cache: Cache, options: RunOptions = RunOptions(), timer: Timer | None = None) -> Results:
    """Every computation of the chapter, in its order, the steps timed by ``timer``: reference data (one
    reaction or molecule per executor point), the models (one per point), test errors, frequencies of the
    held-out molecules and NEB and saddle searches (one model per point), and the epoch costs (in this process,
    one mode after the other)."""
    timer = timer if timer is not None else Timer()
    with options.make_executor() as ex:
        with timer("reference: reactions, molecules' minima and test displacements"):
            ref = reference_data(p, cache, options.progress, ex)
        with timer("training"):
            models = train_models(p, cache, ref, model_points(p), options, ex)
        with timer("test errors"):
            errors = test_errors(p, cache, models, ref, options, ex)
        with timer("frequencies of the test molecules on the models"):
            frequencies = model_frequencies(p, cache, models, ref, options, ex)
        with timer("NEB and saddle searches on the models"):
            searches = model_searches(p, cache, models, ref, options, ex)
    with timer("epoch costs"):
        costs = epoch_costs(p, cache, ref.training_set(max(p.train_sizes)), options)
    roles = pd.Series([m["role"] for m in ref.molecules]).value_counts()
    reference = {m["name"]: m["wavenumbers_cm"] for m in ref.molecules if m["role"] == "test"}
    sizes = {"reactions": len(p.reactions), "critical": len(ref.critical), "test molecules": len(ref.test_minima),
             "training molecules": len(ref.pool), "failed molecules": int(roles.get("failed", 0)),
             "displaced": len(ref.displaced)}
    return Results(reference=reference_table(ref), summaries=ref.summaries, molecules=molecule_table(ref),
                   data_sizes=sizes, modes=modes(p), training=training_table(p, ref, models),
                   losses=loss_histories(models, max(p.train_sizes)), errors=errors,
                   frequencies=frequency_table(reference, frequencies), reference_wavenumbers=reference,
                   model_wavenumbers=frequencies,
                   search_runs=searches,
                   searches=search_table(ref.summaries, searches, barriers_at_reference(p, models, ref)), costs=costs,
                   judged=judged_mode(p), seeds=[training_seed(p, s) for s in range(p.training_seeds)],
                   train_sizes=sorted(p.train_sizes), artefacts=artefacts(p, cache, ref, models))


def figures(results: Results) -> dict[str, float]:
    """Measured figures for ``results.json`` (timings excluded: they vary between identical runs)."""
    return summary_figures(results.claims_input())
