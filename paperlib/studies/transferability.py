"""Study 5: transferability of training sets between MLIP algorithms (Niblett, Kourtis, Magdau, Grey & Csanyi,
JCTC 2024, arXiv 2409.05590), on a liquid carbonate battery-electrolyte solvent.

Stages (each cached by its inputs): GFN2-xTB labels of the training-set types (simple, human-designed
corrective), of a cluster test set, of small periodic boxes and of clusters of the unseen liquids -> MACE and
Deep Potential trained on the simple set (first generation) -> NPT MD of the liquid with every model, which
both scores the model and, for the first generation, supplies the automatic set (clusters harvested from the
model's own trajectory, relabelled) -> both algorithms trained on simple + corrective and on simple + each
algorithm's automatic set -> fixed test-set errors, MD stability, density, errors on each model's own
trajectory, one score, the transfer matrix, and MD of liquids the models never saw.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from ase import Atoms

from paperlib import keys
from paperlib.analysis.stability import StabilityCriteria, frame_failure
from paperlib.cache import Cache
from paperlib.data.dataset import Dataset
from paperlib.models.base import Potential, Targets
from paperlib.params import Params
from paperlib.reference.xtb import default_workers, label_all
from paperlib.sampling.liquids import SOLVENTS, counts_for_weight_fractions, pack_box, solvent_molecule
from paperlib.sampling.training_sets import automatic_set, corrective_set, simple_set

STUDY = "transferability"
ALGORITHMS = ("mace", "deepmd")
ALGORITHM_LABELS = {"mace": "MACE", "deepmd": "Deep Potential"}
AUTOMATIC = "automatic_"
ORIGINS = ("simple", "corrective", AUTOMATIC + "mace", AUTOMATIC + "deepmd")
ORIGIN_LABELS = {"simple": "simple", "corrective": "simple + corrective",
                 AUTOMATIC + "mace": "simple + automatic (MACE MD)",
                 AUTOMATIC + "deepmd": "simple + automatic (Deep Potential MD)"}
TRAINING = "training liquid"
FOUNDATION = "foundation"


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


# -- reference data -------------------------------------------------------------------------------
def _label(structures: Sequence[Atoms]) -> list[Atoms]:
    """GFN2-xTB labels in single-threaded worker processes, so that repeated runs give identical numbers."""
    workers = default_workers()
    return label_all(structures, workers=workers, chunk=max(1, -(-len(structures) // (4 * workers))),
                     progress=False)


def _reference_sets(out: Path, p: Params) -> None:
    liquid = training_liquid(p)
    sets = {
        "simple": simple_set(liquid.molecules, liquid.counts, liquid.density_g_cm3, n_monomers=p.n_monomers,
                             n_dimers=p.n_dimers, n_clusters=p.n_clusters, cluster_radius_A=p.cluster_radius_A,
                             seed=p.seed),
        "corrective": corrective_set(liquid.molecules, liquid.counts, liquid.density_g_cm3,
                                     n_per_kind=p.corrective_per_kind, cluster_radius_A=p.cluster_radius_A,
                                     seed=p.seed + 1),
        "test": simple_set(liquid.molecules, liquid.counts, liquid.density_g_cm3, n_monomers=0, n_dimers=0,
                           n_clusters=p.n_test, cluster_radius_A=p.cluster_radius_A, seed=p.seed + 2),
        "periodic": [liquid.box(seed=p.seed + 3 + k) for k in range(p.n_periodic)],
    }
    for k, name in enumerate(p.unseen):
        u = unseen_liquid(p, name)
        sets[f"test {name}"] = simple_set(u.molecules, u.counts, u.density_g_cm3, n_monomers=0, n_dimers=0,
                                          n_clusters=p.n_test, cluster_radius_A=p.cluster_radius_A,
                                          seed=p.seed + 10 + k)
    for a in sets["periodic"]:
        a.info["set_kind"] = "periodic"
    names = list(sets)
    flat = [a for n in names for a in sets[n]]
    labelled = iter(_label(flat))
    for n in names:
        Dataset([next(labelled) for _ in sets[n]]).write(out / f"{n}.xyz")


def reference_sets(p: Params, cache: Cache) -> dict[str, Dataset]:
    """GFN2-xTB-labelled sets: ``simple``, ``corrective``, ``test`` (clusters of the training liquid),
    ``periodic`` (whole boxes, the small periodic validation set) and ``test <name>`` for every unseen
    liquid (cached)."""
    names = ["simple", "corrective", "test", "periodic"] + [f"test {n}" for n in p.unseen]
    args = {k: getattr(p, k) for k in ("seed", "solvents", "weight_fractions", "box_molecules", "n_monomers",
                                        "n_dimers", "n_clusters", "corrective_per_kind", "cluster_radius_A",
                                        "n_test", "n_periodic", "unseen")}
    entry = cache.get(_reference_sets, args, lambda o: _reference_sets(o, p))
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


# -- models ---------------------------------------------------------------------------------------
def make_model(algorithm: str, p: Params) -> Potential:
    """A fresh model of ``algorithm`` with the study's settings (shared cutoff ``r_cut_A``)."""
    if algorithm == "mace":
        from paperlib.models.mace import MACEConfig, MACEPotential
        from paperlib.training import resolve_device

        return MACEPotential(MACEConfig(hidden_irreps=p.mace_hidden_irreps, r_max_A=p.r_cut_A,
                                        max_L=p.mace_max_L, correlation=p.mace_correlation,
                                        max_epochs=p.mace_epochs, batch_size=p.batch_size,
                                        learning_rate=p.mace_learning_rate,
                                        stage_two_epochs=p.mace_stage_two_epochs, dtype=p.mace_dtype,
                                        seed=p.seed, device=resolve_device(p.device).type))
    if algorithm == "deepmd":
        from paperlib.models.deepmd import DeepMDConfig, DeepMDPotential

        return DeepMDPotential(DeepMDConfig(rcut_A=p.r_cut_A, steps=p.deepmd_steps, batch_size=p.batch_size,
                                            start_lr=p.deepmd_start_lr, stop_lr=p.deepmd_stop_lr, seed=p.seed))
    raise ValueError(f"algorithm {algorithm!r}; allowed: {', '.join(ALGORITHMS)}")


def load_model(algorithm: str, directory: Path) -> Potential:
    """A model of ``algorithm`` saved by :func:`fit`."""
    from paperlib.models import registry

    return registry.load(algorithm, directory)


def _predictions(model: Potential, evaluate: Mapping[str, Dataset]) -> dict:
    out = {}
    for key, data in evaluate.items():
        pred = model.predict(list(data))
        out[key] = {"energies": pred.energies.tolist(), "forces": pred.forces.tolist()}
    return out


def _fit(out: Path, algorithm: str, p: Params, train: Dataset, evaluate: Mapping[str, Dataset]) -> None:
    model = make_model(algorithm, p)
    report = model.fit(train, None, targets=Targets(p.energy_weight, p.force_weight))
    model.save(out / "model")
    (out / "predictions.json").write_text(json.dumps({"fit_s": report.wall_time_s,
                                                      "predictions": _predictions(model, evaluate)}))


def _model_settings(p: Params) -> dict:
    return {k: getattr(p, k) for k in ("seed", "r_cut_A", "mace_hidden_irreps", "mace_max_L", "mace_correlation",
                                        "mace_epochs", "mace_learning_rate", "mace_stage_two_epochs", "mace_dtype",
                                        "deepmd_steps", "deepmd_start_lr", "deepmd_stop_lr", "batch_size",
                                        "energy_weight", "force_weight")}


@dataclasses.dataclass
class Fitted:
    """A trained model's cache entry: the saved model directory, fit time (s) and test-set predictions."""

    algorithm: str
    origin: str
    directory: Path
    fit_s: float
    predictions: dict
    key: dict

    def model(self) -> Potential:
        """The trained model."""
        return load_model(self.algorithm, self.directory)


def fit(p: Params, cache: Cache, algorithm: str, origin: str, train: Dataset,
        evaluate: Mapping[str, Dataset]) -> Fitted:
    """``algorithm`` trained on ``train`` (the set of ``origin``) and its predictions on ``evaluate`` (cached)."""
    key = {"algorithm": algorithm, "settings": _model_settings(p), "train": train.fingerprint(),
           "evaluate": {k: v.fingerprint() for k, v in evaluate.items()}}
    entry = cache.get(_fit, key, lambda o: _fit(o, algorithm, p, train, evaluate))
    raw = json.loads((entry / "predictions.json").read_text())
    return Fitted(algorithm, origin, entry / "model", raw["fit_s"], raw["predictions"], key)


# -- MD with a model ------------------------------------------------------------------------------
MD_FRAMES, MD_SUMMARY, OWN = "trajectory.xyz", "md.json", "own.xyz"


def _md(out: Path, model: Potential, liquid: Liquid, p: Params, seed: int) -> None:
    from paperlib.sampling.md import ase_md, density_g_cm3
    from paperlib.sampling.paths import bond_graph

    start = liquid.box(seed=seed)
    criteria = StabilityCriteria(min_distance_A=p.min_distance_A)
    bonds = bond_graph(start, criteria.bond_scale)
    run = dict(temperature_K=p.md_temperature_K, timestep_fs=p.timestep_fs, sample_every=p.md_sample_every,
               min_distance_A=p.min_distance_A, max_force_eV_A=p.max_force_eV_A, progress=False)
    res = ase_md(start, model.calculator(), steps=p.md_steps, seed=seed,
                 check=lambda a: frame_failure(a, bonds, None, criteria), **run)
    frames = [start] + res.frames
    times = [0.0] + [p.md_sample_every * p.timestep_fs * (k + 1) for k in range(len(res.frames))]
    # NPT only after a complete NVT run: a freshly packed box is far from equilibrium, and its first
    # expansion would otherwise pass for a density collapse
    npt_density, npt_failure = [], None
    if res.stable and p.npt_steps:
        npt = ase_md(frames[-1], model.calculator(), steps=p.npt_steps, seed=seed + 2, pressure_bar=p.pressure_bar,
                     check=lambda a: frame_failure(a, bonds, None, criteria), **run)
        npt_density, npt_failure = [density_g_cm3(a) for a in npt.frames], npt.failure
    own = _label(automatic_set(res.frames or [start], p.own_frames, p.cluster_radius_A, seed=seed + 1))
    pred = model.predict(own)
    (out / MD_SUMMARY).write_text(json.dumps({
        "duration_fs": p.md_steps * p.timestep_fs, "time_to_failure_fs": res.time_to_failure_fs,
        "failure": res.failure, "times_fs": times, "npt_density_g_cm3": npt_density, "npt_failure": npt_failure,
        "npt_sample_fs": p.md_sample_every * p.timestep_fs,
        "own": {"energies": pred.energies.tolist(), "forces": pred.forces.tolist()}}))
    for a in frames:
        a.calc = None
        a.arrays.pop("momenta", None)
    Dataset(frames).write(out / MD_FRAMES)
    Dataset(own).write(out / OWN)


@dataclasses.dataclass
class MDRun:
    """A model's MD of one liquid: NVT snapshots (periodic, with ``mol_id``; the packed start first) and their
    times, the failure (time and reason, ``None`` when it ran to the end), the densities of the NPT
    continuation of a complete run, and the relabelled own-trajectory clusters (cut from :attr:`model_frames`)
    with the model's predictions on them."""

    algorithm: str
    origin: str
    liquid: str
    frames: Dataset
    summary: dict
    own: Dataset

    @property
    def model_frames(self) -> list[Atoms]:
        """The snapshots the model generated (after the packed start), or the start alone when the run failed
        before its first snapshot."""
        return list(self.frames)[1:] or list(self.frames)[:1]

    @property
    def survived_fraction(self) -> float:
        """Fraction of the requested duration before failure (1 when the run completed)."""
        t = self.summary["time_to_failure_fs"]
        return 1.0 if t is None else min(t, self.summary["duration_fs"]) / self.summary["duration_fs"]


def md_run(p: Params, cache: Cache, fitted: Fitted, liquid: Liquid, seed: int) -> MDRun:
    """NVT MD of ``liquid`` at its experimental density with the model of ``fitted`` from a box packed with
    ``seed``, then, when it survived, an NPT continuation at ``pressure_bar`` (cached)."""
    key = {"model": fitted.key, "liquid": liquid.name, "counts": liquid.counts, "density": liquid.density_g_cm3,
           "seed": seed, **{k: getattr(p, k) for k in ("md_temperature_K", "pressure_bar", "timestep_fs",
                                                          "md_steps", "npt_steps", "md_sample_every", "own_frames",
                                                          "cluster_radius_A", "min_distance_A",
                                                          "max_force_eV_A")}}
    entry = cache.get(_md, key, lambda o: _md(o, fitted.model(), liquid, p, seed))
    return MDRun(fitted.algorithm, fitted.origin, liquid.name, Dataset.read(entry / MD_FRAMES),
                 json.loads((entry / MD_SUMMARY).read_text()), Dataset.read(entry / OWN))


def _automatic(out: Path, run: MDRun, n: int, radius_A: float, seed: int) -> None:
    Dataset(_label(automatic_set(run.model_frames, n, radius_A, seed))).write(out / "automatic.xyz")


def automatic(p: Params, cache: Cache, run: MDRun) -> Dataset:
    """The automatic set harvested from a first-generation model's run, relabelled by GFN2-xTB (cached)."""
    key = {"frames": run.frames.fingerprint(), "n": p.n_automatic, "radius": p.cluster_radius_A, "seed": p.seed}
    entry = cache.get(_automatic, key, lambda o: _automatic(o, run, p.n_automatic, p.cluster_radius_A,
                                                            p.seed + 4))
    return Dataset.read(entry / "automatic.xyz", [keys.REF_energy, keys.REF_forces])


# -- the whole grid -------------------------------------------------------------------------------
@dataclasses.dataclass
class Results:
    """Every fitted model, every MD run, the training sets by origin and the evaluation sets."""

    fits: list[Fitted]
    runs: list[MDRun]
    training_sets: dict[str, Dataset]
    evaluate: dict[str, Dataset]


def evaluation_sets(sets: Mapping[str, Dataset]) -> dict[str, Dataset]:
    """The fixed test sets every model is scored on: training-liquid clusters, periodic boxes, unseen liquids."""
    return {k: v for k, v in sets.items() if k not in ("simple", "corrective")}


def run_grid(p: Params, cache: Cache, sets: Mapping[str, Dataset], progress: bool = True) -> Results:
    """First generation (simple set) of every algorithm and its MD, the automatic sets, then every other
    origin x algorithm, each with MD of the training liquid; unseen liquids for ``unseen_origins``."""
    from tqdm.auto import tqdm

    evaluate = evaluation_sets(sets)
    liquid = training_liquid(p)
    unseen = [unseen_liquid(p, n) for n in p.unseen]
    training = {"simple": sets["simple"]}
    jobs = [(alg, "simple") for alg in p.algorithms]
    jobs += [(alg, o) for o in p.origins if o != "simple" for alg in p.algorithms]
    fits, runs = [], []
    bar = tqdm(total=len(jobs), desc="models (fit + MD)", disable=not progress, leave=False)
    for alg, origin in jobs:
        if origin not in training:
            extra = sets["corrective"] if origin == "corrective" else automatic(
                p, cache, next(r for r in runs if r.algorithm == origin.removeprefix(AUTOMATIC)
                               and r.origin == "simple" and r.liquid == liquid.name))
            training[origin] = sets["simple"] + extra
        f = fit(p, cache, alg, origin, training[origin], evaluate)
        fits.append(f)
        runs.append(md_run(p, cache, f, liquid, seed=p.seed + 100))
        if origin in p.unseen_origins:
            runs += [md_run(p, cache, f, u, seed=p.seed + 101 + k) for k, u in enumerate(unseen)]
        bar.update(1)
    bar.close()
    return Results(fits, runs, training, evaluate)


def liquid_densities(p: Params) -> dict[str, float]:
    """Experimental density (g/cm^3) of the training liquid and every unseen liquid, by liquid name."""
    liquid = training_liquid(p)
    return {liquid.name: liquid.density_g_cm3, **{n: SOLVENTS[n].density_g_cm3 for n in p.unseen}}


# -- foundation model -----------------------------------------------------------------------------
def foundation(p: Params, cache: Cache, evaluate: Mapping[str, Dataset]) -> tuple[Fitted, MDRun] | None:
    """The MACE model file ``foundation_model`` (when given) evaluated like the trained models: fixed test
    sets and MD of the training liquid (cached by the file's content)."""
    if not p.foundation_model:
        return None
    import hashlib

    from paperlib.models.mace import MACEPotential

    path = Path(p.foundation_model)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()

    def compute(out: Path) -> None:
        model = MACEPotential.from_model_file(path, name=FOUNDATION)
        model.save(out / "model")
        (out / "predictions.json").write_text(json.dumps({"fit_s": 0.0,
                                                          "predictions": _predictions(model, evaluate)}))

    key = {"foundation_model": digest, "evaluate": {k: v.fingerprint() for k, v in evaluate.items()}}
    entry = cache.get(foundation, key, compute)
    raw = json.loads((entry / "predictions.json").read_text())
    fitted = Fitted("mace", FOUNDATION, entry / "model", 0.0, raw["predictions"], key)
    return fitted, md_run(p, cache, fitted, training_liquid(p), seed=p.seed + 100)
