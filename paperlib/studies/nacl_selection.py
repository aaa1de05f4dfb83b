"""Study 4: data selection for molten NaCl (Tovey et al., arXiv 2108.01582).

Stages (each cached by its inputs): NPT reference pools -> selections -> trained models -> test-set force
errors -> reference and ML-driven NVT MD -> RDFs -> claims. :func:`run` computes them all and returns the
:class:`Results` that the chapter presents and the claims judge; the two reference pools, the trainings and the
ML MD runs go through one executor (:class:`~paperlib.options.RunOptions`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ase import Atoms

from paperlib import keys, selection
from paperlib.analysis import claims as C
from paperlib.analysis import intervals as I
from paperlib.analysis.metrics import energy_errors_per_atom, force_errors
from paperlib.analysis.rdf import nonphysical_short_range, partial_rdf, rdf_distance
from paperlib.cache import Cache, cached_step
from paperlib.data.dataset import Dataset
from paperlib.executors import Executor, InProcessExecutor
from paperlib.models import registry
from paperlib.models.registry import SavedModel
from paperlib.options import RunOptions
from paperlib.reference.bmhtf import BMHTFSettings, LammpsBMHTF
from paperlib.sampling.engine import model_md
from paperlib.sampling.md import density_g_cm3, lammps_md, random_salt_box
from paperlib.seeds import stream_seed
from paperlib.studies.contract import StudyParams, StudyResults
from paperlib.timing import Timer

STUDY = "nacl_selection"
PAIRS: tuple[tuple[str, str], ...] = (("Na", "Na"), ("Na", "Cl"), ("Cl", "Cl"))
RDF_RMAX_A = 6.0
GOOD = ("uniform_atomic_energy", "uniform_force")
BAD = ("uniform_energy", "random")
START_DENSITY_G_CM3 = 1.5
FRAMES = "frames.xyz"
STATE_T, STATE_P = "T (K)", "P (bar)"
PROPERTIES = {"E/N (eV)": "global energy per atom (eV)", "atomic energy (eV)": "atomic energy (eV)",
              "|F| (eV/Å)": "force magnitude (eV/Å)"}
"""The properties whose distributions over every training set the chapter shows ({column: axis label})."""


class Params(StudyParams):
    """Validated parameters of the NaCl data-selection study (``paperlib/profiles/nacl_selection.yaml``)."""

    STUDY = STUDY


# -- reference data -------------------------------------------------------------------------------
@cached_step(runtime=("progress",))
def _npt_pool(out: Path, *, n_atoms: int, temperatures_K: list[float], pressures_bar: list[float],
              timestep_fs: float, equil_steps: int, n_frames: int, stride: int, seed: int, pool: str,
              progress: bool) -> None:
    """NPT MD of every state point ``k``; its start box and velocities come from the streams
    ``<pool>_pool_box`` and ``<pool>_pool_md`` (index ``k``) of the study seed."""
    engine = LammpsBMHTF()
    frames: list = []
    states = [(t, p) for t in temperatures_K for p in pressures_bar]
    for k, (t, p) in enumerate(states):
        start = random_salt_box(n_atoms, START_DENSITY_G_CM3, seed=stream_seed(seed, f"{pool}_pool_box", k))
        frames += lammps_md(engine, start, temperature_K=t, pressure_bar=p, timestep_fs=timestep_fs,
                            equil_steps=equil_steps, n_frames=n_frames, stride=stride,
                            seed=stream_seed(seed, f"{pool}_pool_md", k), trajectory_id=k, progress=progress)
    engine.close()
    Dataset(frames).write(out / FRAMES)


def _pool_args(p: Params, kind: str) -> dict[str, Any]:
    if kind not in ("train", "test"):
        raise ValueError(f"kind: got {kind!r}; allowed: 'train' or 'test'")
    return dict(n_atoms=p.n_atoms, temperatures_K=p.temperatures_K, pressures_bar=p.pressures_bar,
                timestep_fs=p.timestep_fs, equil_steps=p.equil_steps, stride=p.stride_steps,
                n_frames=p.frames_per_state if kind == "train" else p.test_frames_per_state,
                seed=p.seed, pool=kind)


def reference_pool(p: Params, cache: Cache, kind: str = "train", progress: bool = True) -> Dataset:
    """The labelled NPT pool (``kind="train"``) or the separate test pool (``kind="test"``, other streams)."""
    entry = _npt_pool.entry(cache, **_pool_args(p, kind), progress=progress)
    return Dataset.read(entry / FRAMES, require=[keys.REF_energy, keys.REF_forces, keys.REF_atomic_energies])


def pool_states(pool: Dataset) -> pd.DataFrame:
    """Per state point (temperature, pressure) of ``pool``: frames, mean density (g/cm^3), mean energy per
    atom (eV)."""
    states = pd.DataFrame({STATE_T: pool.info(keys.TEMPERATURE), STATE_P: pool.info(keys.PRESSURE),
                           "density": [density_g_cm3(a) for a in pool], "e": pool.energies() / pool.n_atoms()})
    return (states.groupby([STATE_T, STATE_P]).agg(frames=("e", "size"), density=("density", "mean"),
                                                   energy_per_atom=("e", "mean")).reset_index())


# -- selection ------------------------------------------------------------------------------------
def method_options(p: Params, method: str) -> dict[str, Any]:
    """Extra options a selection method takes from the study parameters."""
    return {"temperature_K": p.single_md_temperature_K} if method == "single_md_random" else {}


def training_selections(p: Params, pool: Dataset) -> dict[tuple[str, int], np.ndarray]:
    """Pool indices of every training set, keyed by (method, replicate); replicate ``r`` of every method draws
    from the stream ``selection`` (index ``r``)."""
    return {(m, r): selection.select(m, pool, p.n_train, seed=stream_seed(p.seed, "selection", r),
                                     **method_options(p, m))
            for m in p.selection_methods for r in range(p.n_seeds)}


def test_set(p: Params, test_pool: Dataset) -> tuple[Dataset, np.ndarray]:
    """The test set: ``n_test`` configurations of the test pool, drawn in equal parts by every method
    (each from what the previous methods left). Returns the set and the method of each configuration."""
    per = p.n_test // len(p.selection_methods)
    remaining = np.arange(len(test_pool))
    chosen, origin = [], []
    for k, m in enumerate(p.selection_methods):
        sub = test_pool.subset(remaining)
        opts = method_options(p, m)
        if m == "single_md_random":
            at_t = np.isclose(sub.info(keys.TEMPERATURE), p.single_md_temperature_K)
            traj = sub.info(keys.TRAJECTORY)
            take = min(per, int(np.sum(at_t & (traj == traj[at_t].min())))) if at_t.any() else 0
        else:
            take = min(per, len(sub))
        seed = stream_seed(p.seed, "test_set", k)
        picked = remaining[selection.select(m, sub, take, seed=seed, **opts)] if take else []
        chosen += list(picked)
        origin += [m] * len(picked)
        remaining = np.setdiff1d(remaining, picked)
    return test_pool.subset(chosen), np.array(origin)


def selection_distributions(pool: Dataset, selections: Mapping) -> dict[str, dict[str, np.ndarray]]:
    """Per method, the values of every :data:`PROPERTIES` column over all its training sets (replicates
    pooled): global energy per atom per configuration, atomic energies and force magnitudes per atom."""
    out: dict[str, dict[str, list]] = {}
    for (m, r), idx in selections.items():
        sub = pool.subset(idx)
        parts = out.setdefault(m, {col: [] for col in PROPERTIES})
        parts["E/N (eV)"].append(sub.energies() / sub.n_atoms())
        parts["atomic energy (eV)"].append(np.asarray(sub.per_atom(keys.REF_atomic_energies), float))
        parts["|F| (eV/Å)"].append(np.linalg.norm(sub.forces(), axis=1))
    return {m: {col: np.concatenate(v) for col, v in parts.items()} for m, parts in out.items()}


# -- training -------------------------------------------------------------------------------------
def train_settings(p: Params, replicate: int, model: str = "schnet_small") -> dict[str, Any]:
    """Keyword arguments of :func:`paperlib.models.registry.make` of ``model`` for one replicate (what is
    trained; where it trains comes from :meth:`RunOptions.training`). Replicate ``r`` of every method and model
    shares the training seed of stream ``training`` (index ``r``)."""
    seed = stream_seed(p.seed, "training", replicate)
    if model == "gap":
        return dict(seed=seed, n_sparse=p.gap_n_sparse)
    return dict(seed=seed, max_epochs=p.max_epochs, batch_size=p.batch_size, learning_rate=p.learning_rate)


@cached_step(runtime=("runtime", "progress"))
def _train(out: Path, *, model: str, settings: dict, force_weight: float, train: Dataset,
           runtime: Mapping[str, Any], progress: bool) -> None:
    from paperlib.models.base import Targets

    # Runtime settings and the progress bar go to the models that take them (networks, not GAP).
    accepted = registry.settings(model)
    extra = {k: v for k, v in {**runtime, "progress": progress}.items() if k in accepted}
    pot = registry.make(model, **settings, **extra)
    targets = Targets(energy=1.0 - force_weight, forces=force_weight) if model != "gap" else Targets(1.0, 1.0)
    report = pot.fit(train, targets=targets)
    pot.save(out / "model")
    (out / "fit.json").write_text(json.dumps({"wall_time_s": report.wall_time_s, "epochs": report.epochs,
                                              "train_loss": report.train_loss}))


@dataclasses.dataclass
class Trained:
    """A trained potential, its fit record and the cache entry that holds it."""

    potential: Any
    fit: dict
    entry: Path


def _load(model: str, entry: Path, device: str) -> Trained:
    pot = registry.load(model, entry / "model", device=device if model != "gap" else None)
    return Trained(pot, json.loads((entry / "fit.json").read_text()), entry)


def _train_args(p: Params, model: str, train: Dataset, replicate: int) -> dict:
    return dict(model=model, settings=train_settings(p, replicate, model), force_weight=p.force_weight,
                train=train)


def train_all(p: Params, cache: Cache, pool: Dataset, selections: Mapping, options: RunOptions = RunOptions(),
              executor: Executor | None = None) -> dict:
    """Every (model, method, replicate) potential, with its fit info; the trainings run on ``executor``
    (default: in this process) on ``options.device`` and the trained models are read back from the cache."""
    jobs = [(mdl, m, r) for mdl in p.models for (m, r) in selections]
    trains = {(m, r): pool.subset(idx) for (m, r), idx in selections.items()}
    work = [_train_args(p, mdl, trains[(m, r)], r) for mdl, m, r in jobs]
    runtime = options.training()
    entries = (executor or InProcessExecutor()).map(
        lambda args: _train.entry(cache, **args, runtime=runtime, progress=False), work, desc="training",
        progress=options.progress)
    return {job: _load(job[0], entry, options.device) for job, entry in zip(jobs, entries)}


def test_errors(models: Mapping, test: Dataset) -> pd.DataFrame:
    """Force errors (MAE, RMSE, Max; eV/A) and energy MAE (eV/atom) of every model on the test set."""
    rows = []
    for (mdl, m, r), trained in models.items():
        pred = trained.potential.predict(list(test))
        f = force_errors(pred, test)
        e = energy_errors_per_atom(pred, test)
        rows.append({"model": mdl, "method": m, "replicate": r, "force_mae": f["mae"], "force_rmse": f["rmse"],
                     "force_max": f["max"], "energy_mae_per_atom": e["mae"], "fit_s": trained.fit["wall_time_s"]})
    return pd.DataFrame(rows)


# -- MD and RDFs ----------------------------------------------------------------------------------
@cached_step(runtime=("progress",))
def _reference_nvt(out: Path, *, n_atoms: int, density: float, temperature_K: float, timestep_fs: float,
                   equil_steps: int, steps: int, every: int, seed: int, progress: bool) -> None:
    """NVT MD of a fresh box; box and velocities from the streams ``reference_md_box`` and ``reference_md``."""
    engine = LammpsBMHTF(BMHTFSettings(kspace_style="pppm", kspace_accuracy=1e-5))
    start = random_salt_box(n_atoms, density, seed=stream_seed(seed, "reference_md_box"))
    frames = lammps_md(engine, start, temperature_K=temperature_K, pressure_bar=None, timestep_fs=timestep_fs,
                       equil_steps=equil_steps, n_frames=max(1, steps // every), stride=every,
                       seed=stream_seed(seed, "reference_md"), progress=progress)
    engine.close()
    Dataset(frames).write(out / FRAMES)


def md_density(p: Params, pool: Dataset) -> float:
    """Density (g/cm^3) of the RDF box: the pool's mean at the MD temperature and lowest pressure."""
    temps, press = pool.info(keys.TEMPERATURE), pool.info(keys.PRESSURE)
    m = np.isclose(temps, p.md_temperature_K) & np.isclose(press, min(p.pressures_bar))
    if not m.any():
        m = np.isclose(press, min(p.pressures_bar))
        t_near = temps[m][np.argmin(np.abs(temps[m] - p.md_temperature_K))]
        m &= np.isclose(temps, t_near)
    return float(np.mean([density_g_cm3(pool[i]) for i in np.flatnonzero(m)]))


def reference_md(p: Params, cache: Cache, density: float, progress: bool = True) -> Dataset:
    """Reference NVT frames (LAMMPS, Nose-Hoover) of the RDF box."""
    args = dict(n_atoms=p.md_n_atoms, density=density, temperature_K=p.md_temperature_K,
                timestep_fs=p.md_timestep_fs, equil_steps=p.md_equil_steps, steps=p.md_steps, every=p.rdf_every,
                seed=p.seed)
    entry = _reference_nvt.entry(cache, **args, progress=progress)
    return Dataset.read(entry / FRAMES)


@cached_step(runtime=("progress",))
def _ml_nvt(out: Path, *, model: SavedModel, start: Atoms, temperature_K: float, timestep_fs: float, steps: int,
            every: int, seed: int, progress: bool) -> None:
    """NVT MD of ``start`` with ``model`` (batched engine for networks, ASE for GAP)."""
    (res,) = model_md(model.load(), [start], temperature_K=temperature_K, timestep_fs=timestep_fs, steps=steps,
                      sample_every=every, seeds=[seed], progress=progress)
    Dataset(res.frames).write(out / FRAMES)
    (out / "outcome.json").write_text(json.dumps({"steps_done": res.steps_done, "failure": res.failure,
                                                  "time_to_failure_fs": res.time_to_failure_fs}))


def ml_md(p: Params, cache: Cache, models: Mapping, start, options: RunOptions = RunOptions(),
          executor: Executor | None = None) -> dict:
    """ML-driven NVT MD from ``start`` for every model, run on ``executor`` (default: in this process):
    {key: (frames, outcome dict)}. Every run shares the thermostat seed of stream ``ml_md``."""
    run = dict(temperature_K=p.md_temperature_K, timestep_fs=p.md_timestep_fs, steps=p.md_steps,
               every=p.rdf_every, seed=stream_seed(p.seed, "ml_md"))
    keys_ = list(models)
    # The workers get the saved model (small, picklable), not the loaded potential.
    work = [SavedModel(key[0], models[key].entry / "model", options.device) for key in keys_]
    entries = (executor or InProcessExecutor()).map(
        lambda model: _ml_nvt.entry(cache, model=model, start=start, **run, progress=False), work, desc="ML MD",
        progress=options.progress)
    out = {}
    for key, entry in zip(keys_, entries):
        outcome = json.loads((entry / "outcome.json").read_text())
        frames = Dataset.read(entry / FRAMES) if (entry / FRAMES).stat().st_size else Dataset()
        out[key] = (frames, outcome)
    return out


def rdfs(frames: Dataset, n_bins: int = 120) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Partial RDFs Na-Na, Na-Cl, Cl-Cl of ``frames``: {"Na-Na": (r, g), ...}."""
    return {f"{a}-{b}": partial_rdf(list(frames), a, b, RDF_RMAX_A, n_bins) for a, b in PAIRS}


def md_summary(ref_frames: Dataset, runs: Mapping, timestep_fs: float) -> tuple[pd.DataFrame, dict, dict]:
    """Stability and RDF checks of every ML MD run against the reference.

    Returns a table (one row per run: stable?, failure, time to failure, ions, simulated time, ion-ps (ions x
    simulated time), per pair the neighbours per atom inside the reference's excluded core, whether that is
    non-physical, and the RDF distance), the reference RDFs and the RDFs of every run that left frames
    ({key: rdfs}). ``timestep_fs`` is the time step of the ML MD runs.
    """
    ref = rdfs(ref_frames)
    vol = ref_frames[0].get_volume()
    symbols = ref_frames[0].get_chemical_symbols()
    all_rdfs: dict = {}
    rows = []
    for (mdl, m, r), (frames, outcome) in runs.items():
        row = {"model": mdl, "method": m, "replicate": r, "stable": outcome["failure"] is None,
               "failure": outcome["failure"] or "", "time_to_failure_ps":
               (outcome["time_to_failure_fs"] or np.nan) / 1000.0, "frames": len(frames),
               "ions": len(symbols), "simulated_ps": outcome["steps_done"] * timestep_fs / 1000.0}
        row["ion_ps"] = row["ions"] * row["simulated_ps"]
        flagged = not row["stable"]
        if len(frames):
            mine = rdfs(frames)
            all_rdfs[(mdl, m, r)] = mine
            for a, b in PAIRS:
                pair = f"{a}-{b}"
                rr, g_ref = ref[pair]
                bad, weight = nonphysical_short_range(rr, mine[pair][1], g_ref, symbols.count(b) / vol)
                row[f"core_weight_{pair}"] = weight
                row[f"rdf_distance_{pair}"] = rdf_distance(rr, mine[pair][1], g_ref)
                flagged |= bad
        row["nonphysical"] = bool(flagged)
        rows.append(row)
    return pd.DataFrame(rows), ref, all_rdfs


# -- claims ---------------------------------------------------------------------------------------
METRICS = {"force_rmse": "RMSE", "force_max": "Max"}
MIN_REPLICATES = 5
# Claim (b)'s budget for a negative: ML MD per method, in ion-picoseconds (ions x simulated time summed over
# runs): 3 runs of 50 ps of a 216-ion box.
MIN_ION_PS = 3 * 50.0 * 216


def paired_log_ratios(errors: pd.DataFrame, model: str, good: str, bad: str, col: str) -> np.ndarray:
    """Per replicate, log(error of ``bad`` / error of ``good``) of ``model`` (positive: ``good`` is better).

    Replicate ``r`` of every method shares its training seed, so the two methods are paired by replicate."""
    sub = errors[errors.model == model]
    a = sub[sub.method == good].set_index("replicate")[col]
    b = sub[sub.method == bad].set_index("replicate")[col]
    both = a.index.intersection(b.index).sort_values()
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(b.loc[both].to_numpy(float) / a.loc[both].to_numpy(float))


def judge_force_errors(results: Mapping[str, Any]) -> C.Evidence | None:
    """Claim (a): atomic-energy and force selection beat global-energy and random selection.

    For every model, metric (force RMSE, Max) and pair (atomic-energy or force vs global-energy or random),
    the mean over replicates of the paired log error ratio with its Student t interval; the statistic is
    the weakest of these comparisons (smallest mean), with the interval of :func:`~paperlib.analysis.intervals.all_of`
    (Bonferroni over the comparisons for the upper bound)."""
    df = pd.DataFrame(results.get("errors", []))
    if df.empty or not set(GOOD + BAD) <= set(df.method):
        return None
    keys_ = [(model, col, good, bad) for model in sorted(df.model.unique()) for col in METRICS for good in GOOD
             for bad in BAD]
    logs = {(m, col, g, b): paired_log_ratios(df, m, g, b, col) for m, col, g, b in keys_}
    comparisons = {k: I.mean_interval(v) for k, v in logs.items()}
    weakest = min(comparisons, key=lambda k: (comparisons[k].value if np.isfinite(comparisons[k].value)
                                               else -np.inf))
    combined = I.all_of(lambda c: [I.mean_interval(logs[k], c) for k in keys_],
                        "comparisons (models x metrics x pairs), each the mean paired log ratio over replicates")
    model, col, good, bad = weakest
    means = []
    for mdl in sorted(df.model.unique()):
        g = df[df.model == mdl].groupby("method").force_rmse.mean()
        means.append(f"{mdl} mean force RMSE (eV/A): " + ", ".join(
            f"{selection.LABELS[m]} {g[m]:.3f}" for m in GOOD + BAD if m in g))
    context = (f"Weakest comparison: {model} force {METRICS[col]}, {selection.LABELS[bad]} / "
               f"{selection.LABELS[good]} error ratio {np.exp(comparisons[weakest].value):.3g} (geometric mean "
               "over replicates). "
               + "; ".join(means))
    return C.Evidence.from_interval(
        "weakest mean paired log ratio of force error (global-energy or random / atomic-energy or force)",
        combined, 0.0, combined.n >= MIN_REPLICATES, context)


def judge_rdf(results: Mapping[str, Any]) -> C.Evidence | None:
    """Claim (b): global-energy models show non-physical short-range RDF structure, atomic-energy ones do not.

    Flagged fraction of uniform-energy runs minus that of uniform-atomic-energy runs (all models and
    replicates), Newcombe interval; powered when each method has at least :data:`MIN_ION_PS` ion-ps of ML MD."""
    md = pd.DataFrame(results.get("md", []))
    if md.empty or not {"uniform_energy", "uniform_atomic_energy"} <= set(md.method):
        return None
    e = md[md.method == "uniform_energy"]
    a = md[md.method == "uniform_atomic_energy"]
    ke, ka = int(e.nonphysical.sum()), int(a.nonphysical.sum())
    iv = I.proportion_difference_interval(ke, len(e), ka, len(a))
    ion_ps = {m: float(g.ion_ps.sum()) if "ion_ps" in g else 0.0 for m, g in (("energy", e), ("atomic", a))}
    powered = min(ion_ps.values()) >= MIN_ION_PS
    context = (f"non-physical or unstable MD: {ke}/{len(e)} uniform-energy runs, {ka}/{len(a)} "
               f"uniform-atomic-energy runs; ML MD {ion_ps['energy']:.4g} and {ion_ps['atomic']:.4g} ion-ps "
               f"(budget {MIN_ION_PS:.4g} per method)")
    return C.Evidence.from_interval(
        "flagged fraction of uniform-energy runs minus flagged fraction of uniform-atomic-energy runs",
        dataclasses.replace(iv, method=f"{iv.method} over runs (models x replicates)"), 0.0, powered, context)


CLAIMS: tuple[C.Claim, ...] = (
    C.Claim("a", "Selecting by atomic energies or by forces gives lower force RMSE and Max error than selecting "
                 "uniformly in global energy or at random.",
            "statistic: for every model, metric (force RMSE, Max) and pair (atomic-energy or force selection vs "
            "global-energy or random selection), the mean over replicates of log(error of the global-energy or "
            "random model / error of the atomic-energy or force model), replicates paired by their shared "
            "training seed; the claim needs every comparison, so the statistic is the weakest (smallest) of "
            "them, with a Student t 95 % interval over replicates per comparison, combined conservatively "
            "(smallest lower bound, smallest upper bound). Threshold 0 (log ratio > 0: atomic-energy/force "
            "selection has the lower error). Reproduced if the interval lies above 0; not reproduced if it lies "
            f"below 0 with >= {MIN_REPLICATES} "
            "replicates (the budget for a negative); otherwise inconclusive.", judge_force_errors),
    C.Claim("b", "Models trained on global-energy selections show non-physical short-range peaks in the RDF; "
                 "atomic-energy models reproduce the reference RDF.",
            "a run is flagged when it blows up or puts more than 0.01 neighbours per atom inside the reference "
            "RDF's excluded core (below its first rise at g > 0.05, minus 0.1 A) for any pair. Statistic: "
            "flagged fraction of uniform-energy runs minus flagged fraction of uniform-atomic-energy runs (runs "
            "of all models and replicates), Newcombe hybrid score 95 % interval, threshold 0. Reproduced if the "
            "interval lies above 0; not reproduced if it lies below 0 and each method has at least "
            f"{MIN_ION_PS:,.0f} ion-ps of ML MD (ions x simulated time summed over its runs, e.g. 3 runs of "
            "50 ps of a 216-ion box; the budget for a negative); otherwise inconclusive.", judge_rdf),
)


def summary_figures(errors: pd.DataFrame, md: pd.DataFrame) -> dict[str, Any]:
    """The measured figures written to results.json: mean and standard error per (model, method)."""
    agg = errors.groupby(["model", "method"]).agg(["mean", "sem"])
    figures = {f"{mdl}/{m}/{col}_{stat}": float(v) for (mdl, m), row in agg.iterrows()
               for (col, stat), v in row.items() if col not in ("replicate", "fit_s") and np.isfinite(v)}
    if not md.empty:
        for (mdl, m), g in md.groupby(["model", "method"]):
            figures[f"{mdl}/{m}/md_flagged_fraction"] = float(g.nonphysical.mean())
    return figures


def figures(results: "Results") -> dict[str, Any]:
    """The measured figures written to results.json (see :func:`summary_figures`)."""
    return summary_figures(results.errors, results.md)


# -- the study ------------------------------------------------------------------------------------
def run_key(model: str, method: str, replicate: int) -> str:
    """The string key of one (model, method, replicate) in :attr:`Results.model_rdfs`."""
    return f"{model}/{method}/{replicate}"


def parse_run_key(key: str) -> tuple[str, str, int]:
    """(model, method, replicate) of a :func:`run_key`."""
    model, method, replicate = key.split("/")
    return model, method, int(replicate)


@dataclasses.dataclass
class Results(StudyResults):
    """Everything the chapter shows and the claims judge.

    Attributes
    ----------
    states
        per state point of the training pool (``T (K)``, ``P (bar)``): frames, mean density (g/cm^3), mean
        energy per atom (eV).
    distributions
        per selection method, the values of every :data:`PROPERTIES` column over its training sets.
    test_origin
        the selection method that drew each test configuration.
    errors
        test-set errors, one row per (model, method, replicate): force MAE, RMSE, Max (eV/A), energy MAE
        (eV/atom), fit wall time (s).
    md_density_g_cm3
        density of the RDF box.
    md
        one row per ML MD run: stability, time to failure, ion-ps, core weights, RDF distances, flagged.
    reference_rdf
        partial RDFs of the reference run: {pair: array (2, bins) of r (A) and g(r)}.
    model_rdfs
        the same for every ML MD run that left frames, keyed by :func:`run_key`.
    """

    states: pd.DataFrame
    distributions: dict
    test_origin: list
    errors: pd.DataFrame
    md_density_g_cm3: float
    md: pd.DataFrame
    reference_rdf: dict
    model_rdfs: dict


def _rdf_arrays(rdf: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    return {pair: np.vstack([np.asarray(r, float), np.asarray(g, float)]) for pair, (r, g) in rdf.items()}


def run(p: Params, cache: Cache, options: RunOptions = RunOptions(), timer=None) -> Results:
    """The whole study: reference pools, selections, training, test errors, reference and ML MD, RDFs.

    The two reference pools, the trainings and the ML MD runs go through one executor of ``options``; every
    step is cached by its inputs, so a second run reads everything back."""
    timer = timer if timer is not None else Timer()
    progress = options.progress
    with options.make_executor() as ex:
        with timer("reference pools"):
            ex.map(lambda args: _npt_pool.entry(cache, **args, progress=False), [_pool_args(p, k) for k in ("train", "test")],
                   desc="reference pools", progress=progress)
            pool = reference_pool(p, cache, "train", progress)
            test_pool = reference_pool(p, cache, "test", progress)
        states = pool_states(pool)
        with timer("selection"):
            selections = training_selections(p, pool)
            test, test_origin = test_set(p, test_pool)
        distributions = selection_distributions(pool, selections)
        with timer("training"):
            models = train_all(p, cache, pool, selections, options, executor=ex)
        errors = test_errors(models, test)
        with timer("MD"):
            density = md_density(p, pool)
            ref_frames = reference_md(p, cache, density, progress)
            runs = ml_md(p, cache, models, ref_frames[-1], options, executor=ex)
    md, ref_rdf, model_rdfs = md_summary(ref_frames, runs, p.md_timestep_fs)
    return Results(states=states, distributions=distributions, test_origin=[str(m) for m in test_origin],
                   errors=errors, md_density_g_cm3=density, md=md, reference_rdf=_rdf_arrays(ref_rdf),
                   model_rdfs={run_key(*k): _rdf_arrays(v) for k, v in model_rdfs.items()})
