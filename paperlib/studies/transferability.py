"""Study 5: transferability of training sets between MLIP algorithms (Niblett, Kourtis, Magdau, Grey & Csanyi,
JCTC 2024, arXiv 2409.05590), on a liquid carbonate battery-electrolyte solvent.

Stages (each cached by its inputs): GFN2-xTB labels of the training-set types (simple, human-designed
corrective), of a cluster test set, of small periodic boxes and of clusters of the unseen liquids -> MACE and
Deep Potential trained on the simple set (first generation) -> NPT MD of the liquid with every model, which
both scores the model and, for the first generation, supplies the automatic set (clusters harvested from the
model's own trajectory, relabelled) -> both algorithms trained on simple + corrective and on simple + each
algorithm's automatic set -> fixed test-set errors, MD stability, density, errors on each model's own
trajectory, one score, the transfer matrix, and MD of liquids the models never saw.

:func:`run` computes all of it and returns the :class:`Results` the chapter presents and the claims
(:mod:`~paperlib.studies.transferability_claims`) judge. The fits, the MD runs and the automatic sets go through
one executor of the :class:`~paperlib.options.RunOptions`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import multiprocessing
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from ase import Atoms

from paperlib import keys
from paperlib.analysis.stability import StabilityCriteria, frame_failure
from paperlib.cache import Cache, cached_step
from paperlib.data.dataset import Dataset
from paperlib.export import ModelArtefact, artefact_map, data_artefact
from paperlib.models.base import Potential, Targets
from paperlib.models.registry import SavedModel
from paperlib.options import RunOptions
from paperlib.reference.xtb import default_workers, label_all
from paperlib.sampling.liquids import SOLVENTS, counts_for_weight_fractions, pack_box, solvent_molecule
from paperlib.sampling.training_sets import automatic_set, designed_corrective_set, simple_set
from paperlib.seeds import stream_seed
from paperlib.studies import transferability_analysis as analysis
from paperlib.studies import transferability_claims as claims
from paperlib.studies.contract import StudyParams, StudyResults
from paperlib.studies.transferability_analysis import MD_FRAMES, MD_SUMMARY, OWN, REFERENCE_MD, Fitted, MDRun
from paperlib.studies.transferability_claims import (ALGORITHM_LABELS, ALGORITHMS, AUTOMATIC, CLAIMS, FOUNDATION,
                                                     ORIGIN_LABELS, ORIGINS)
from paperlib.timing import Timer

STUDY = "transferability"
TRAINING = "training liquid"
__all__ = ["ALGORITHMS", "ALGORITHM_LABELS", "AUTOMATIC", "CLAIMS", "FOUNDATION", "ORIGINS", "ORIGIN_LABELS",
           "Fitted", "MDRun", "Params", "Results", "figures", "run"]


class Params(StudyParams):
    """Validated parameters of the transferability study (``Params.resolve(profile, overrides)``)."""

    STUDY = STUDY



# -- composition ----------------------------------------------------------------------------------
def mixture_density(names: Sequence[str], weights: Sequence[float]) -> float:
    """Density (g/cm^3) of a mixture by ideal mixing of the experimental densities: 1/rho = sum_i w_i / rho_i."""
    w = np.asarray(weights, dtype=float) / np.sum(weights)
    return float(1.0 / np.sum(w / np.array([SOLVENTS[n].density_g_cm3 for n in names])))


@dataclasses.dataclass
class Liquid:
    """A liquid: molecules by name, molecule counts in a box, and its density (g/cm^3)."""

    name: str
    molecules: dict[str, Atoms]
    counts: dict[str, int]
    density_g_cm3: float

    def box(self, seed: int) -> Atoms:
        """A periodic box of the liquid packed at its density, with ``arrays["mol_id"]``."""
        names = list(self.molecules)
        return pack_box([self.molecules[n] for n in names], [self.counts[n] for n in names], self.density_g_cm3,
                        seed=seed)


def training_liquid(p: Params) -> Liquid:
    """The liquid the models are trained for: ``solvents`` mixed by ``weight_fractions``, ``box_molecules``
    molecules per box."""
    molecules = {n: solvent_molecule(n, seed=p.seed) for n in p.solvents}
    counts = counts_for_weight_fractions(molecules, dict(zip(p.solvents, p.weight_fractions)), p.box_molecules)
    name = ":".join(p.solvents)
    return Liquid(name, molecules, counts, mixture_density(p.solvents, p.weight_fractions))


def unseen_liquid(p: Params, name: str) -> Liquid:
    """One pure solvent the models never saw, ``box_molecules`` molecules per box at its experimental density."""
    return Liquid(name, {name: solvent_molecule(name, seed=p.seed)}, {name: p.box_molecules},
                  SOLVENTS[name].density_g_cm3)


# -- seeds ----------------------------------------------------------------------------------------
def seed_of(p: Params, stream: str, *indices: int) -> int:
    """The integer seed of one named random stream of the study's ``seed`` (:func:`paperlib.seeds.stream_seed`):
    ``corrective``, ``test``, ``periodic`` (index: the box), ``automatic``, ``harvest`` (the first generation's
    MD runs that feed the automatic sets), ``test <liquid>``, ``md`` / ``md <liquid>`` (unseen liquids),
    ``training`` (training replicates), ``conformers`` / ``conformers test`` and ``reference_md``. The simple set,
    the molecules and the models take ``seed`` itself."""
    return stream_seed(p.seed, stream, *indices)


def md_seeds(p: Params, liquid: str | None = None) -> tuple[int, ...]:
    """Seeds of the ``md_seeds`` MD runs of the training liquid (``liquid`` None) or of the ``unseen_md_seeds``
    runs of the unseen liquid ``liquid``: run k of every model starts from the same packed box with the same
    velocities, so runs pair across models."""
    n = p.md_seeds if liquid is None else p.unseen_md_seeds
    return tuple(seed_of(p, "md" if liquid is None else f"md {liquid}", k) for k in range(n))


def training_seed(p: Params, k: int) -> Params:
    """``p`` with the seed of training replicate ``k``: ``seed`` itself for k = 0, else the stream
    ``training`` of ``seed``. Only the models' initialisation and batching change; every reference set stays."""
    if k == 0:
        return p
    return Params(p.study, p.profile, {**p.to_dict(), "seed": seed_of(p, "training", k)}, p.overrides)


def _md_stream(seed: int, stream: str) -> int:
    """The seed of one part of an MD run of seed ``seed`` (``npt``: the NPT continuation; ``own``: the choice of
    the own-trajectory clusters); the packed box and the NVT run take ``seed`` itself."""
    return stream_seed(seed, stream)


# -- reference data -------------------------------------------------------------------------------
def _label_workers() -> int:
    """Processes for GFN2-xTB labelling: every core in the main process; one (this process) inside a dask
    worker, which is daemonic (it may not start processes) and is one of the workers that already fill the
    cores (dask starts its workers with one OpenMP/BLAS thread, as the spawned labelling workers run)."""
    return 1 if multiprocessing.current_process().daemon else default_workers()


def _label(structures: Sequence[Atoms]) -> list[Atoms]:
    """GFN2-xTB labels in single-threaded processes, so that repeated runs give identical numbers."""
    workers = _label_workers()
    return label_all(structures, workers=workers, chunk=max(1, -(-len(structures) // (4 * workers))),
                     progress=False)


REFERENCE_PARAMS = ("seed", "solvents", "weight_fractions", "box_molecules", "n_monomers", "n_dimers", "n_clusters",
                    "corrective_per_kind", "cluster_radius_A", "n_test", "n_periodic", "unseen", "thermal_conformers",
                    "md_temperature_K", "timestep_fs", "reference_md_runs", "reference_md_equilibration_steps",
                    "reference_md_frames", "reference_md_stride")
"""The parameters the reference sets are built from."""


def conformer_pool(p: Params, molecules: Mapping[str, Atoms], stream: str = "conformers") -> list[Atoms]:
    """``thermal_conformers`` normal-mode samples at ``md_temperature_K`` of each molecule relaxed by GFN2-xTB
    (:func:`~paperlib.sampling.normal_modes.thermal_samples`), drawn from the random stream ``stream`` (the test
    sets draw their own, so no test molecule repeats a training geometry); empty when ``thermal_conformers`` is 0
    (the sets then rattle rigid molecules instead)."""
    from paperlib.sampling.normal_modes import thermal_samples

    if not p.thermal_conformers:
        return []
    return [c for k, (name, m) in enumerate(molecules.items())
            for c in thermal_samples(m, p.thermal_conformers, p.md_temperature_K, seed_of(p, stream, k))]


@cached_step
def _reference_sets(out: Path, *, p: Params) -> None:
    """Every reference set of the parameters ``p`` (:data:`REFERENCE_PARAMS` only)."""
    from paperlib.sampling.training_sets import reference_md_set

    liquid = training_liquid(p)
    thermal = conformer_pool(p, liquid.molecules)
    sets = {
        "simple": simple_set(liquid.molecules, liquid.counts, liquid.density_g_cm3, n_monomers=p.n_monomers,
                             n_dimers=p.n_dimers, n_clusters=p.n_clusters, cluster_radius_A=p.cluster_radius_A,
                             seed=p.seed, conformers=thermal),
        "test": simple_set(liquid.molecules, liquid.counts, liquid.density_g_cm3, n_monomers=0, n_dimers=0,
                           n_clusters=p.n_test, cluster_radius_A=p.cluster_radius_A, seed=seed_of(p, "test"),
                           conformers=conformer_pool(p, liquid.molecules, "conformers test")),
        "periodic": [liquid.box(seed=seed_of(p, "periodic", k)) for k in range(p.n_periodic)],
    }
    for name in p.unseen:
        u = unseen_liquid(p, name)
        sets[f"test {name}"] = simple_set(u.molecules, u.counts, u.density_g_cm3, n_monomers=0, n_dimers=0,
                                          n_clusters=p.n_test, cluster_radius_A=p.cluster_radius_A,
                                          seed=seed_of(p, f"test {name}"),
                                          conformers=conformer_pool(p, u.molecules, "conformers test"))
    for a in sets["periodic"]:
        a.info["set_kind"] = "periodic"
    names = list(sets)
    flat = [a for n in names for a in sets[n]]
    labelled = iter(_label(flat))
    for n in names:
        Dataset([next(labelled) for _ in sets[n]]).write(out / f"{n}.xyz")
    Dataset(reference_md_set(liquid.molecules, liquid.counts, liquid.density_g_cm3, n_runs=p.reference_md_runs,
                             cluster_radius_A=p.cluster_radius_A, temperature_K=p.md_temperature_K,
                             timestep_fs=p.timestep_fs, equilibration_steps=p.reference_md_equilibration_steps,
                             n_frames=p.reference_md_frames, stride=p.reference_md_stride,
                             seed=seed_of(p, REFERENCE_MD), workers=_label_workers())
            ).write(out / f"{REFERENCE_MD}.xyz")


def reference_md_failures(reference: Dataset, min_distance_A: float) -> list[str]:
    """The frames of the reference-MD set that the models' MD checks would count as failures (a bond broken or
    formed against the first frame of their run, or atoms closer than ``min_distance_A``): ``"run k, frame j:
    reason"``, empty when reference MD at these settings never fails."""
    from paperlib.sampling.paths import bond_graph

    criteria = StabilityCriteria(min_distance_A=min_distance_A)
    out, first, seen = [], {}, {}
    for a in reference:
        run_id = int(a.info[keys.TRAJECTORY])
        if run_id not in first:
            first[run_id] = bond_graph(a, criteria.bond_scale)
        seen[run_id] = seen.get(run_id, -1) + 1
        reason = frame_failure(a, first[run_id], None, criteria)
        if reason is not None:
            out.append(f"run {run_id}, frame {seen[run_id]}: {reason}")
    return out


def reference_sets(p: Params, cache: Cache) -> dict[str, Dataset]:
    """GFN2-xTB-labelled sets: ``simple``, ``test`` (clusters of the training liquid),
    ``periodic`` (whole boxes, the small periodic validation set), ``test <name>`` for every unseen liquid and
    ``reference_md`` (frames of GFN2-xTB MD of clusters of the training liquid, the score's evaluation set)
    (cached)."""
    names = ["simple", "test", "periodic"] + [f"test {n}" for n in p.unseen] + [REFERENCE_MD]
    entry = _reference_sets.entry(cache, p=p.part(*REFERENCE_PARAMS))
    return {n: Dataset.read(entry / f"{n}.xyz", [keys.REF_energy, keys.REF_forces]) for n in names}


def set_summary(sets: Mapping[str, Dataset]) -> pd.DataFrame:
    """Per set and configuration kind: configurations, mean atoms, and the energy spread per atom (eV/atom)."""
    rows = []
    for name, data in sets.items():
        for kind in dict.fromkeys(a.info.get("set_kind", "") for a in data):
            d = [a for a in data if a.info.get("set_kind", "") == kind]
            e = np.array([a.info[keys.REF_energy] / len(a) for a in d])
            rows.append({"set": name, "kind": kind, "configurations": len(d),
                         "mean atoms": float(np.mean([len(a) for a in d])),
                         "energy spread (eV/atom)": float(e.max() - e.min())})
    return pd.DataFrame(rows)


ENERGY_COLUMN = "energy (eV/atom) - set median"


def set_energies(sets: Mapping[str, Dataset]) -> pd.DataFrame:
    """Energy per atom of every configuration of the training-liquid sets (unseen liquids left out), less its
    set's median: columns ``set`` and :data:`ENERGY_COLUMN`."""
    return pd.DataFrame([{"set": name, ENERGY_COLUMN: e}
                         for name, data in sets.items() if not name.startswith("test ")
                         for e in (data.energies() / data.n_atoms()
                                   - pd.Series(data.energies() / data.n_atoms()).median())],
                        columns=["set", ENERGY_COLUMN])


# -- models ---------------------------------------------------------------------------------------
def make_model(algorithm: str, p: Params, device: str = "auto", sel: tuple[tuple[str, int], ...] = ()) -> Potential:
    """A fresh model of ``algorithm`` with the study's settings (shared cutoff ``r_cut_A``); MACE trains on the
    torch ``device`` (the Deep Potential on DeePMD-kit's default device, keeping ``sel`` neighbours per element:
    see :func:`deepmd_sel`)."""
    if algorithm == "mace":
        from paperlib.models.mace import MACEConfig, MACEPotential
        from paperlib.training import resolve_device

        return MACEPotential(MACEConfig(hidden_irreps=p.mace_hidden_irreps, r_max_A=p.r_cut_A,
                                        max_L=p.mace_max_L, correlation=p.mace_correlation,
                                        max_epochs=p.mace_epochs, batch_size=p.batch_size,
                                        learning_rate=p.mace_learning_rate,
                                        stage_two_epochs=p.mace_stage_two_epochs, dtype=p.mace_dtype,
                                        seed=p.seed, device=resolve_device(device).type))
    if algorithm == "deepmd":
        from paperlib.models.deepmd import DeepMDConfig, DeepMDPotential

        return DeepMDPotential(DeepMDConfig(rcut_A=p.r_cut_A, steps=p.deepmd_steps, batch_size=p.batch_size,
                                            start_lr=p.deepmd_start_lr, stop_lr=p.deepmd_stop_lr, seed=p.seed,
                                            sel=sel))
    raise ValueError(f"algorithm {algorithm!r}; allowed: {', '.join(ALGORITHMS)}")


def _predictions(model: Potential, evaluate: Mapping[str, Dataset]) -> dict:
    out = {}
    for key, data in evaluate.items():
        pred = model.predict(list(data))
        out[key] = {"energies": pred.energies.tolist(), "forces": pred.forces.tolist()}
    return out


FIT_PARAMS = ("seed", "r_cut_A", "mace_hidden_irreps", "mace_max_L", "mace_correlation", "mace_epochs",
              "mace_learning_rate", "mace_stage_two_epochs", "mace_dtype", "deepmd_steps", "deepmd_start_lr",
              "deepmd_stop_lr", "batch_size", "energy_weight", "force_weight")
"""The parameters a model's fit reads."""


@cached_step(runtime=("device",))
def _fit(out: Path, *, algorithm: str, p: Params, train: Dataset, evaluate: Mapping[str, Dataset],
         sel: tuple = (), device: str = "auto") -> None:
    """Fit ``algorithm`` with the parameters ``p`` (:data:`FIT_PARAMS` only) and predict ``evaluate``."""
    # A sel read back from a cache manifest comes as lists; make_model gives it to the Deep Potential alone.
    model = make_model(algorithm, p, device, sel=tuple(tuple(x) for x in sel))
    report = model.fit(train, None, targets=Targets(p.energy_weight, p.force_weight))
    model.save(out / "model")
    (out / "predictions.json").write_text(json.dumps({"fit_s": report.wall_time_s,
                                                      "predictions": _predictions(model, evaluate)}))


def _fit_entry(p: Params, cache: Cache, evaluate: Mapping[str, Dataset], device: str,
               job: tuple[str, Dataset], sel: tuple = ()) -> Path:
    """The cache entry of ``algorithm`` trained on ``train`` (``job``), computed on a miss (an executor task);
    ``sel`` is the Deep Potential's (see :func:`deepmd_sel`)."""
    algorithm, train = job
    return _fit.entry(cache, algorithm=algorithm, p=p.part(*FIT_PARAMS), train=train, evaluate=evaluate,
                      sel=sel if algorithm == "deepmd" else (), device=device)


def _seeded_fit_entry(p: Params, cache: Cache, evaluate: Mapping[str, Dataset], device: str, sel: tuple,
                      job: tuple[str, Dataset, int]) -> Path:
    """:func:`_fit_entry` of ``job`` (algorithm, training set, training seed index; see :func:`training_seed`)."""
    algorithm, train, seed = job
    return _fit_entry(training_seed(p, seed), cache, evaluate, device, (algorithm, train), sel)


def deepmd_sel(p: Params, sets: Mapping[str, Dataset]) -> tuple[tuple[str, int], ...]:
    """The Deep Potential's ``sel``: every neighbour (within ``r_cut_A``) of the training and evaluation sets and
    of the periodic start boxes of every liquid its MD runs, with 25 % room for denser moments of the MD.
    DeePMD-kit's ``auto`` would size it from the training clusters alone and silently drop bulk neighbours."""
    from paperlib.models.deepmd import sel_for

    boxes = ([training_liquid(p).box(seed=seed) for seed in md_seeds(p)]
             + [unseen_liquid(p, n).box(seed=seed) for n in p.unseen for seed in md_seeds(p, n)])
    return sel_for([a for data in sets.values() for a in data] + boxes, p.r_cut_A)


def _fitted(algorithm: str, origin: str, entry: Path, seed: int = 0) -> Fitted:
    raw = json.loads((entry / "predictions.json").read_text())
    return Fitted(algorithm, origin, entry / "model", raw["fit_s"], raw["predictions"], seed)


def fit(p: Params, cache: Cache, algorithm: str, origin: str, train: Dataset,
        evaluate: Mapping[str, Dataset], device: str = "auto", sel: tuple = (), seed: int = 0) -> Fitted:
    """``algorithm`` trained on ``train`` (the set of ``origin``) with training seed ``seed``
    (:func:`training_seed`) and its predictions on ``evaluate`` (cached; ``device`` is where MACE trains, never
    part of the key)."""
    return _fitted(algorithm, origin, _fit_entry(training_seed(p, seed), cache, evaluate, device,
                                                 (algorithm, train), sel), seed)


# -- MD with a model ------------------------------------------------------------------------------
MD_PARAMS = ("md_temperature_K", "pressure_bar", "timestep_fs", "md_steps", "npt_steps", "md_sample_every",
             "own_frames", "cluster_radius_A", "min_distance_A", "max_force_eV_A")
"""The parameters an MD run reads."""


@cached_step
def _md(out: Path, *, model: SavedModel, liquid: Liquid, p: Params, seeds: tuple[int, ...]) -> None:
    """NVT (then NPT) MD of ``liquid`` with ``model`` and the parameters ``p`` (:data:`MD_PARAMS` only), one run
    per seed of ``seeds``: the NVT runs together (batched for the torch networks), each NPT continuation and
    relabelling after."""
    from paperlib.sampling.engine import model_md
    from paperlib.sampling.md import ase_md, density_g_cm3
    from paperlib.sampling.paths import bond_graph

    model = model.load()
    starts = [liquid.box(seed=seed) for seed in seeds]
    criteria = StabilityCriteria(min_distance_A=p.min_distance_A)
    # every box holds the same molecules in the same order, so one bond graph serves all the runs
    bonds = bond_graph(starts[0], criteria.bond_scale)
    run = dict(temperature_K=p.md_temperature_K, timestep_fs=p.timestep_fs, sample_every=p.md_sample_every,
               min_distance_A=p.min_distance_A, max_force_eV_A=p.max_force_eV_A, progress=False)
    results = model_md(model, starts, steps=p.md_steps, seeds=list(seeds),
                       check=lambda a: frame_failure(a, bonds, None, criteria), **run)
    summaries = []
    for k, (seed, start, res) in enumerate(zip(seeds, starts, results)):
        frames = [start] + res.frames
        times = [0.0] + [p.md_sample_every * p.timestep_fs * (j + 1) for j in range(len(res.frames))]
        # NPT only after a complete NVT run: a freshly packed box is far from equilibrium, and its first
        # expansion would otherwise pass for a density collapse
        npt_density, npt_failure = [], None
        if res.stable and p.npt_steps:
            npt = ase_md(frames[-1], model.calculator(), steps=p.npt_steps, seed=_md_stream(seed, "npt"),
                         pressure_bar=p.pressure_bar, check=lambda a: frame_failure(a, bonds, None, criteria), **run)
            npt_density, npt_failure = [density_g_cm3(a) for a in npt.frames], npt.failure
        own = _label(automatic_set(res.frames or [start], p.own_frames, p.cluster_radius_A,
                                   seed=_md_stream(seed, "own")))
        pred = model.predict(own)
        summaries.append({
            "duration_fs": p.md_steps * p.timestep_fs, "time_to_failure_fs": res.time_to_failure_fs,
            "failure": res.failure, "times_fs": times, "npt_density_g_cm3": npt_density,
            "npt_failure": npt_failure, "npt_sample_fs": p.md_sample_every * p.timestep_fs,
            "npt_duration_fs": p.npt_steps * p.timestep_fs if res.stable else 0.0,
            "own": {"energies": pred.energies.tolist(), "forces": pred.forces.tolist()}})
        for a in frames:
            a.calc = None
            a.arrays.pop("momenta", None)
        Dataset(frames).write(out / MD_FRAMES.format(k))
        Dataset(own).write(out / OWN.format(k))
    (out / MD_SUMMARY).write_text(json.dumps(summaries))


def _md_entry(p: Params, cache: Cache, job: tuple[Fitted, Liquid, tuple[int, ...]]) -> Path:
    """The cache entry of a model's MD runs of one liquid (``job``: model, liquid, seeds), computed on a miss
    (an executor task)."""
    fitted, liquid, seeds = job
    return _md.entry(cache, model=fitted.saved(), liquid=liquid, p=p.part(*MD_PARAMS), seeds=tuple(seeds))


def _md_runs(fitted: Fitted, liquid: Liquid, entry: Path) -> list[MDRun]:
    summaries = json.loads((entry / MD_SUMMARY).read_text())
    return [MDRun(fitted.algorithm, fitted.origin, liquid.name, Dataset.read(entry / MD_FRAMES.format(k)), summary,
                  Dataset.read(entry / OWN.format(k)), seed=fitted.seed, md_seed=k)
            for k, summary in enumerate(summaries)]


def md_runs(p: Params, cache: Cache, fitted: Fitted, liquid: Liquid, seeds: Sequence[int]) -> list[MDRun]:
    """NVT MD of ``liquid`` at its experimental density with the model of ``fitted``, one run from a box packed
    with each of ``seeds``, then, for each run that survived, an NPT continuation at ``pressure_bar`` (cached)."""
    return _md_runs(fitted, liquid, _md_entry(p, cache, (fitted, liquid, tuple(seeds))))


@cached_step
def _automatic(out: Path, *, frames: Dataset, n: int, radius_A: float, seed: int) -> None:
    """``n`` clusters of radius ``radius_A`` cut from ``frames`` and labelled by GFN2-xTB."""
    Dataset(_label(automatic_set(list(frames), n, radius_A, seed))).write(out / "automatic.xyz")


def _automatic_entry(p: Params, cache: Cache, run: MDRun) -> Path:
    """The cache entry of the automatic set harvested from ``run``, computed on a miss (an executor task)."""
    return _automatic.entry(cache, frames=Dataset(run.model_frames), n=p.n_automatic, radius_A=p.cluster_radius_A,
                            seed=seed_of(p, "automatic"))


def _read_automatic(entry: Path) -> Dataset:
    return Dataset.read(entry / "automatic.xyz", [keys.REF_energy, keys.REF_forces])


def automatic(p: Params, cache: Cache, run: MDRun) -> Dataset:
    """The automatic set harvested from a first-generation model's run, relabelled by GFN2-xTB (cached)."""
    return _read_automatic(_automatic_entry(p, cache, run))


# -- the corrective set ----------------------------------------------------------------------------
CORRECTIVE_PARAMS = ("seed", "solvents", "weight_fractions", "box_molecules", "corrective_per_kind",
                     "cluster_radius_A", "thermal_conformers", "md_temperature_K")
"""The parameters the corrective set is built from (beside the deficiencies it is designed against)."""
DENSITY_DEFICIENCY = 0.05
"""A first-generation NPT density further than this fraction from experiment counts as a deficiency."""


def observed_deficiencies(runs: Sequence[MDRun], reference: Dataset, liquid: str, experiment_g_cm3: float
                          ) -> list[dict]:
    """The deficiencies the first-generation runs ``runs`` of ``liquid`` show against the reference-MD set
    (:func:`~paperlib.analysis.deficiencies.deficiencies`, with the reference's runs told apart by
    ``info["trajectory"]``), plus a ``density`` record when the mean NPT density of the runs that have one lies
    further than :data:`DENSITY_DEFICIENCY` from experiment."""
    from paperlib.analysis.deficiencies import deficiencies

    on_liquid = [r for r in runs if r.liquid == liquid]
    by_run: dict[int, list[Atoms]] = {}
    for a in reference:
        by_run.setdefault(int(a.info[keys.TRAJECTORY]), []).append(a)
    out = deficiencies([r.model_frames for r in on_liquid], list(by_run.values()),
                       labels=[ALGORITHM_LABELS.get(r.algorithm, r.algorithm) for r in on_liquid])
    densities = [analysis.density_convergence(r.summary["npt_density_g_cm3"], experiment_g_cm3)[0]
                 for r in on_liquid if r.summary["npt_density_g_cm3"]]
    if densities and abs(np.mean(densities) - 1.0) > DENSITY_DEFICIENCY:
        ratio = float(np.mean(densities))
        out.append({"kind": "density", "pair": "", "ratio": ratio, "runs": len(densities),
                    "severity": abs(ratio - 1.0), "by": ", ".join(sorted({ALGORITHM_LABELS.get(r.algorithm, r.algorithm)
                                                                           for r in on_liquid}))})
    return out


@cached_step
def _corrective(out: Path, *, p: Params, design: list) -> None:
    """The corrective set designed against the deficiencies ``design`` with the parameters ``p``
    (:data:`CORRECTIVE_PARAMS` only), labelled by GFN2-xTB."""
    liquid = training_liquid(p)
    configs = designed_corrective_set(liquid.molecules, liquid.counts, liquid.density_g_cm3, design,
                                      n_per_kind=p.corrective_per_kind, cluster_radius_A=p.cluster_radius_A,
                                      seed=seed_of(p, "corrective"), conformers=conformer_pool(p, liquid.molecules))
    Dataset(_label(configs)).write(out / "corrective.xyz")


def corrective(p: Params, cache: Cache, design: Sequence[Mapping]) -> Dataset:
    """The corrective set designed against ``design`` (:func:`observed_deficiencies`), labelled (cached)."""
    entry = _corrective.entry(cache, p=p.part(*CORRECTIVE_PARAMS), design=[dict(d) for d in design])
    return Dataset.read(entry / "corrective.xyz", [keys.REF_energy, keys.REF_forces])


# -- the whole grid -------------------------------------------------------------------------------
@dataclasses.dataclass
class Grid:
    """Every fitted model, every MD run, the training sets by origin and the evaluation sets."""

    fits: list[Fitted]
    runs: list[MDRun]
    training_sets: dict[str, Dataset]
    evaluate: dict[str, Dataset]
    sel: tuple[tuple[str, int], ...] = ()
    deficiencies: list = dataclasses.field(default_factory=list)
    by_seed: dict[tuple[str, int], Dataset] = dataclasses.field(default_factory=dict)
    """The training set of every (origin, training seed index)."""


def artefacts(p: Params, cache: Cache, grid: Grid) -> dict[str, list[dict]]:
    """What ``paperlib export`` writes for this run: every trained model (MACE, Deep Potential) with the training
    set and seed it had, every training set and every fixed evaluation set."""
    datasets = [data_artefact(cache, f"{origin} seed {k}", frames, f"the {origin} training set of training seed "
                                                                    f"index {k}")
                for (origin, k), frames in grid.by_seed.items()]
    datasets += [data_artefact(cache, name, frames, f"the fixed evaluation set {name!r}")
                 for name, frames in grid.evaluate.items()]
    models = [ModelArtefact(f"{f.algorithm} {f.origin} seed {f.seed}", f.algorithm, str(f.directory),
                            f"{f.origin} seed {f.seed}", training_seed(p, f.seed).seed,
                            f"{f.algorithm} trained on the {f.origin} set, training seed index {f.seed}")
              for f in grid.fits]
    return artefact_map(models, datasets)


def evaluation_sets(sets: Mapping[str, Dataset]) -> dict[str, Dataset]:
    """The fixed test sets every model is scored on: training-liquid clusters, periodic boxes, unseen liquids."""
    return {k: v for k, v in sets.items() if k not in ("simple", "corrective")}


def run_grid(p: Params, cache: Cache, sets: Mapping[str, Dataset], options: RunOptions = RunOptions(),
             executor=None) -> Grid:
    """First generation (simple set) of every algorithm and training seed and its MD, the automatic sets and the
    corrective set designed against the first generation's deficiencies, then every other origin x algorithm,
    each with MD of the training liquid; unseen liquids for ``unseen_origins``.

    The fits of one generation, their MD runs and the automatic sets each go through ``executor`` (default: in
    this process); every task writes a cache entry that this process reads back."""
    from paperlib.executors import InProcessExecutor

    ex = executor if executor is not None else InProcessExecutor()
    progress = options.progress
    evaluate = evaluation_sets(sets)
    liquid = training_liquid(p)
    unseen = [unseen_liquid(p, n) for n in p.unseen]

    sel = deepmd_sel(p, sets) if "deepmd" in p.algorithms else ()
    seeds = range(p.training_seeds)

    def generation(jobs: list[tuple[str, str, int]], training: Mapping[tuple[str, int], Dataset], label: str,
                   harvest: bool = False) -> tuple[list[Fitted], list[MDRun], list[MDRun]]:
        entries = ex.map(functools.partial(_seeded_fit_entry, p, cache, evaluate, options.device, sel),
                         [(alg, training[origin, seed], seed) for alg, origin, seed in jobs],
                         desc=f"fits ({label})", progress=progress)
        fits = [_fitted(alg, origin, entry, seed) for (alg, origin, seed), entry in zip(jobs, entries)]
        md_jobs = []
        for f in fits:
            md_jobs.append((f, liquid, md_seeds(p)))
            if f.origin in p.unseen_origins:
                md_jobs += [(f, u, md_seeds(p, u.name)) for u in unseen]
        # automatic sets come from runs of their own (seed stream "harvest"), so that no scored run starts
        # from a box and velocities whose trajectory a second-generation model was trained on
        extra = [(f, liquid, (seed_of(p, "harvest"),)) for f in fits] if harvest else []
        md_entries = ex.map(functools.partial(_md_entry, p, cache), md_jobs + extra, desc=f"MD ({label})",
                            progress=progress)
        runs = [r for (f, u, _), entry in zip(md_jobs, md_entries) for r in _md_runs(f, u, entry)]
        return fits, runs, [_md_runs(f, u, entry)[0] for (f, u, _), entry in zip(extra, md_entries[len(md_jobs):])]

    training = {("simple", seed): sets["simple"] for seed in seeds}
    first = [(alg, "simple", seed) for seed in seeds for alg in p.algorithms]
    rest = [(alg, o, seed) for seed in seeds for o in p.origins if o != "simple" for alg in p.algorithms]
    fits, runs, harvested = generation(first, training, "first generation", harvest=True)
    harvest = [(o.removeprefix(AUTOMATIC), seed) for o, seed in dict.fromkeys((o, seed) for _, o, seed in rest)
               if o.startswith(AUTOMATIC)]
    # the automatic set of one training seed comes from that seed's first-generation model
    sources = [next(r for r in harvested if (r.algorithm, r.seed) == (alg, seed)) for alg, seed in harvest]
    auto = ex.map(functools.partial(_automatic_entry, p, cache), sources, desc="automatic sets", progress=progress)
    for (alg, seed), entry in zip(harvest, auto):
        training[AUTOMATIC + alg, seed] = sets["simple"] + _read_automatic(entry)
    design = []
    if any(o == "corrective" for _, o, _ in rest):
        design = observed_deficiencies(runs, sets[REFERENCE_MD], liquid.name, liquid.density_g_cm3)
        designed = corrective(p, cache, design)
        training.update({("corrective", seed): sets["simple"] + designed for seed in seeds})
    more_fits, more_runs, _ = generation(rest, training, "other training sets")
    # the training sets in the order of the origins (the first generation first), of the first training seed
    training_sets = {o: training[o, 0] for o in dict.fromkeys(o for _, o, _ in first + rest)}
    return Grid(fits + more_fits, runs + more_runs, training_sets, evaluate, sel, design, training)


def sel_check(grid: Grid, r_cut_A: float) -> pd.DataFrame:
    """Per element, the Deep Potential's ``sel``, the most neighbours of that element within ``r_cut_A`` of any
    atom in every Deep Potential MD frame, and whether the MD exceeded ``sel`` (those neighbours were dropped)."""
    from paperlib.models.deepmd import max_neighbours

    frames = [a for r in grid.runs if r.algorithm == "deepmd" for a in r.model_frames]
    seen = max_neighbours(frames, r_cut_A) if frames else {}
    rows = [{"element": el, "sel": n, "most in MD": seen.get(el, 0), "dropped": seen.get(el, 0) > n}
            for el, n in grid.sel]
    return pd.DataFrame(rows, columns=["element", "sel", "most in MD", "dropped"])


def liquid_densities(p: Params) -> dict[str, float]:
    """Experimental density (g/cm^3) of the training liquid and every unseen liquid, by liquid name."""
    liquid = training_liquid(p)
    return {liquid.name: liquid.density_g_cm3, **{n: SOLVENTS[n].density_g_cm3 for n in p.unseen}}


# -- foundation model -----------------------------------------------------------------------------
def foundation(p: Params, cache: Cache, evaluate: Mapping[str, Dataset], executor=None
               ) -> list[tuple[Fitted, list[MDRun] | None]]:
    """The foundation models evaluated like the trained models (fixed test sets, then, with ``foundation_md``,
    MD of the training liquid, one run per MD seed; ``None`` in place of the runs without): the MACE model file ``foundation_model``
    (when given, cached by the file's content) and every pretrained model of ``foundation_models`` (SevenNet-0,
    CHGNet; cached by the name and the pinned environment). The pretrained models and the MD runs go through
    ``executor`` (default: in this process)."""
    from paperlib.executors import InProcessExecutor

    ex = executor if executor is not None else InProcessExecutor()
    fits = []
    if p.foundation_model:
        import hashlib

        path = Path(p.foundation_model)
        entry = _foundation.entry(cache, digest=hashlib.sha256(path.read_bytes()).hexdigest(), path=path,
                                  evaluate=evaluate)
        fits.append(Fitted("mace", FOUNDATION, entry / "model", 0.0,
                           json.loads((entry / "predictions.json").read_text())["predictions"]))
    entries = ex.map(functools.partial(_pretrained_entry, cache, evaluate), list(p.foundation_models),
                     desc="foundation models", progress=False)
    fits += [Fitted(name, FOUNDATION, entry / "model", 0.0,
                    json.loads((entry / "predictions.json").read_text())["predictions"])
             for name, entry in zip(p.foundation_models, entries)]
    if not p.foundation_md:
        return [(f, None) for f in fits]
    liquid = training_liquid(p)
    md_entries = ex.map(functools.partial(_md_entry, p, cache), [(f, liquid, md_seeds(p)) for f in fits],
                        desc="MD (foundation models)", progress=False)
    return [(f, _md_runs(f, liquid, entry)) for f, entry in zip(fits, md_entries)]


@cached_step(runtime=("path",))
def _foundation(out: Path, *, digest: str, path: Path, evaluate: Mapping[str, Dataset]) -> None:
    """The MACE model file at ``path`` (SHA-256 ``digest``: the key, wherever the file lies), saved like a
    trained model, with its predictions on ``evaluate``."""
    from paperlib.models.mace import MACEPotential

    model = MACEPotential.from_model_file(path, name=FOUNDATION)
    model.save(out / "model")
    (out / "predictions.json").write_text(json.dumps({"fit_s": 0.0, "predictions": _predictions(model, evaluate)}))


@cached_step
def _pretrained(out: Path, *, model: str, environment: str, evaluate: Mapping[str, Dataset]) -> None:
    """The pretrained ``model`` (served by the foundation environment whose pinned requirements hash to
    ``environment``), saved like a trained model, with its predictions on ``evaluate``."""
    from paperlib.models import registry

    pot = registry.make(model)
    pot.save(out / "model")
    (out / "predictions.json").write_text(json.dumps({"fit_s": 0.0, "predictions": _predictions(pot, evaluate)}))
    pot.close()


def _pretrained_entry(cache: Cache, evaluate: Mapping[str, Dataset], model: str) -> Path:
    """The cache entry of the pretrained ``model``, computed on a miss (an executor task)."""
    from paperlib.models.foundation import environment_token

    return _pretrained.entry(cache, model=model, environment=environment_token(), evaluate=evaluate)


def foundation_versions(fits: Sequence[Fitted]) -> list[str]:
    """``name: version`` of every foundation model among ``fits`` (the MACE file by its path's name)."""
    out = []
    for f in fits:
        if f.origin != FOUNDATION:
            continue
        saved = Path(f.directory) / "config.json"
        config = json.loads(saved.read_text()) if saved.exists() else {}
        out.append(f"{f.algorithm}: {config.get('version', 'MACE model file')}")
    return out


# -- the study ------------------------------------------------------------------------------------
RDF_PAIRS: tuple[tuple[str, str], ...] = (("O", "H"), ("C", "O"))
"""Element pairs of the intermolecular RDFs the chapter shows."""
RDF_MAX_A = 6.0


@dataclasses.dataclass
class Results(StudyResults):
    """Everything the chapter shows and the claims judge.

    Attributes
    ----------
    set_summary
        per reference set and configuration kind: configurations, mean atoms, energy spread (:func:`set_summary`).
    energies
        energy per atom less the set median, per configuration of the training-liquid sets (:func:`set_energies`).
    training_sets
        per training-set origin: configurations and atoms.
    fit_times
        per model (algorithm, origin): fit wall time (s).
    foundation
        ``name: version`` of every foundation model evaluated beside the trained models (origin ``foundation``).
    errors
        fixed test-set errors, one row per model and evaluation set
        (:func:`~paperlib.studies.transferability_analysis.fixed_errors`).
    configurations
        force MAE per model and test configuration
        (:func:`~paperlib.studies.transferability_analysis.configuration_errors`).
    md
        one row per MD run (:func:`~paperlib.studies.transferability_analysis.md_table`).
    liquid
        name of the training liquid.
    gains
        per algorithm, the score gains over its simple-set model
        (:func:`~paperlib.studies.transferability_claims.gains`).
    unseen
        per unseen liquid, the runs completed by models stable on the training liquid
        (:func:`~paperlib.studies.transferability_claims.unseen_table`).
    density_traces
        density / experiment along every NPT continuation of the training liquid.
    rdfs
        intermolecular RDFs of every run of the training liquid: {"algorithm / origin": {"A-B": array (2, bins)
        of r (A) and g(r)}}.
    sel
        the Deep Potential's neighbour budget against its MD (:func:`sel_check`).
    deficiencies
        what the first generation's MD got wrong against reference MD, which the corrective set is designed
        against (:func:`observed_deficiencies`; empty: none seen, and the corrective set is the generic one).
    sensitivity
        the verdicts of the claims judged by the MD score at other force scales F0
        (:func:`~paperlib.studies.transferability_analysis.score_sensitivity`).
    reference_md_failures
        frames of the reference MD that the models' stability checks would flag (:func:`reference_md_failures`).
    artefacts
        the trained models and data sets of this run (:func:`artefacts`), which ``paperlib export`` writes.
    """

    set_summary: pd.DataFrame
    energies: pd.DataFrame
    training_sets: pd.DataFrame
    fit_times: pd.DataFrame
    foundation: list
    errors: pd.DataFrame
    configurations: pd.DataFrame
    md: pd.DataFrame
    liquid: str
    gains: pd.DataFrame
    unseen: pd.DataFrame
    density_traces: pd.DataFrame
    rdfs: dict
    sel: pd.DataFrame
    deficiencies: pd.DataFrame
    sensitivity: pd.DataFrame
    reference_md_failures: list
    artefacts: dict = dataclasses.field(default_factory=dict)


def figures(results: Results) -> dict[str, float]:
    """Headline figures for results.json: per model on the training liquid, the MD score and the test force MAE
    (eV/A) (:func:`~paperlib.studies.transferability_claims.figures`), ``deepmd/sel_dropped_elements`` (the
    elements whose neighbours the Deep Potential's MD had more of than its ``sel`` keeps, where it ran) and the
    foundation models' figures (:func:`foundation_figures`)."""
    out = claims.figures(results.claims_input())
    if len(results.sel):
        out["deepmd/sel_dropped_elements"] = float(results.sel.dropped.sum())
    return {**out, **foundation_figures(results.errors, results.md, results.liquid)}


def foundation_figures(errors: pd.DataFrame, md: pd.DataFrame, liquid: str) -> dict[str, float]:
    """Per foundation model ``foundation/<name>/...``: test force MAE (eV/A), survived fraction of its MD runs of
    the training liquid and their NPT density relative to experiment (where an NPT stage ran), each the mean over
    the runs."""
    out = {}
    if not len(errors):
        return out
    test = errors[(errors.origin == FOUNDATION) & (errors["set"] == "test")]
    for alg, g in test.groupby("algorithm"):
        out[f"foundation/{alg}/test_force_mae_eV_A"] = float(g["force MAE (eV/Å)"].mean())
    runs = md[(md.origin == FOUNDATION) & (md.liquid == liquid)] if len(md) else md
    for alg, g in runs.groupby("algorithm") if len(runs) else ():
        out[f"foundation/{alg}/survived_fraction"] = float(g["survived fraction"].mean())
        density = g["NPT density / experiment"].dropna()
        if len(density):
            out[f"foundation/{alg}/npt_density_over_experiment"] = float(density.mean())
    return out


def run(p: Params, cache: Cache, options: RunOptions = RunOptions(), timer=None) -> Results:
    """The whole study: reference labels, every fit and MD run of the grid, the foundation model (when given),
    and the tables of errors, MD, gains, unseen liquids, NPT densities and RDFs.

    The fits, MD runs and automatic sets go through one executor of ``options``; the reference labels are one
    cache entry, labelled over every core in this process."""
    timer = timer if timer is not None else Timer()
    with timer("reference labels (GFN2-xTB)"):
        sets = reference_sets(p, cache)
    with options.make_executor() as ex:
        with timer("training and MD (all origins x algorithms)"):
            grid = run_grid(p, cache, sets, options, executor=ex)
        with timer("foundation models"):
            # the training liquid's sets only: on a CPU a foundation model costs about a second per cluster
            found = foundation(p, cache, {k: v for k, v in grid.evaluate.items() if not k.startswith("test ")},
                               executor=ex)
    fits = grid.fits + [f for f, _ in found]
    runs = grid.runs + [r for _, rs in found if rs is not None for r in rs]
    densities = liquid_densities(p)
    liquid = training_liquid(p).name
    errors = analysis.fixed_errors(fits, grid.evaluate)
    md = analysis.md_table(runs, densities, p.score_force_scale_eV_A,
                           analysis.reference_force_mae(fits, grid.evaluate), liquid)
    configurations = analysis.configuration_errors(fits, grid.evaluate)
    judged = {"errors": errors.to_dict("records"), "md": md.to_dict("records"), "liquid": liquid,
              "configurations": configurations.to_dict("records")}
    on_liquid = [r for r in runs if r.liquid == liquid]
    shown = {**sets, **({"corrective": grid.training_sets["corrective"][len(sets["simple"]):]}
                        if "corrective" in grid.training_sets else {})}
    rdfs = analysis.rdf_curves(on_liquid, RDF_PAIRS, r_max_A=RDF_MAX_A)
    return Results(
        set_summary=set_summary(shown), energies=set_energies(shown),
        deficiencies=pd.DataFrame(grid.deficiencies, columns=["kind", "pair", "model_A", "reference_A", "ratio",
                                                              "runs", "by", "severity"]),
        training_sets=pd.DataFrame([{"origin": o, "configurations": len(d), "atoms": int(d.n_atoms().sum())}
                                    for o, d in grid.training_sets.items()],
                                   columns=["origin", "configurations", "atoms"]),
        fit_times=pd.DataFrame([{"algorithm": f.algorithm, "origin": f.origin, claims.SEED: f.seed, "fit (s)": f.fit_s}
                                for f in fits], columns=["algorithm", "origin", claims.SEED, "fit (s)"]),
        foundation=foundation_versions(fits), errors=errors, configurations=configurations,
        md=md, liquid=liquid, gains=claims.gains(judged), unseen=claims.unseen_table(judged),
        density_traces=analysis.density_traces(on_liquid, densities),
        rdfs={model: {pair: np.vstack([np.asarray(r, float), np.asarray(g, float)]) for pair, (r, g) in c.items()}
              for model, c in rdfs.items()},
        sel=sel_check(grid, p.r_cut_A), sensitivity=analysis.score_sensitivity(judged),
        reference_md_failures=reference_md_failures(sets[REFERENCE_MD], p.min_distance_A),
        artefacts=artefacts(p, cache, grid))
