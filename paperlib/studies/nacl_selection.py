"""Study 4: data selection for molten NaCl (Tovey et al., arXiv 2108.01582).

Stages (each cached by its inputs): NPT reference pools (training pool, and a test pool of separate runs) ->
selections, their state points and closest contacts -> trained models (and the positive control) -> errors on
random test-pool frames and the short-range probe -> reference and ML-driven NVT MD -> close-contact detection
and RDFs -> claims (:mod:`paperlib.studies.nacl_selection_claims`). :func:`run` computes them all and returns
the :class:`Results` that the chapter presents and the claims judge; the pools, the trainings, the evaluations
and the ML MD runs go through one executor (:class:`~paperlib.options.RunOptions`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from paperlib import keys, selection
from paperlib.analysis.contacts import closest_distances, contact_onset
from paperlib.analysis.probes import energy_changes, probe_structures
from paperlib.analysis.rdf import nonphysical_short_range, partial_rdfs, rdf_distance
from paperlib.cache import Cache, cached_step
from paperlib.data.dataset import Dataset
from paperlib.executors import Executor, InProcessExecutor
from paperlib.export import DataArtefact, ModelArtefact, artefact_map
from paperlib.models import registry
from paperlib.models.registry import SavedModel
from paperlib.options import RunOptions
from paperlib.reference.bmhtf import BMHTFSettings, LammpsBMHTF, label_all
from paperlib.sampling.engine import model_md
from paperlib.sampling.md import density_g_cm3, lammps_md, random_salt_box
from paperlib.seeds import stream_seed
from paperlib.studies.contract import StudyParams, StudyResults
from paperlib.studies.nacl_selection_claims import (BAD, CLAIMS, GOOD, MD_METHODS,  # noqa: F401
                                                    summary_figures)
from paperlib.timing import Timer

STUDY = "nacl_selection"
PAIRS: tuple[tuple[str, str], ...] = (("Na", "Na"), ("Na", "Cl"), ("Cl", "Cl"))
LIKE_PAIRS: tuple[tuple[str, str], ...] = (("Na", "Na"), ("Cl", "Cl"))
RDF_RMAX_A = 6.0
START_DENSITY_G_CM3 = 1.5
FRAMES = "frames.xyz"
STATE_T, STATE_P = "T (K)", "P (bar)"
PROPERTIES = {"E/N (eV)": "global energy per atom (eV)", "atomic energy (eV)": "atomic energy (eV)",
              "|F| (eV/Å)": "force magnitude (eV/Å)"}
"""The properties whose distributions over every training set the chapter shows ({column: axis label})."""
CONTROL = "contact_free"
"""Method name of the positive control: configurations without close like-ion contacts."""
PROBE_DISTANCES_A: tuple[float, ...] = (3.0, 2.6, 2.3, 2.0)
"""Distances (A) to which the short-range probe pulls the closest like-ion pair of each probe frame."""
COLLAPSE_MIN_DISTANCE_A, COLLAPSE_MAX_FORCE_EV_A = 1.0, 50.0


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


def pool_contacts(pool: Dataset) -> pd.DataFrame:
    """Per configuration of ``pool``: its closest Na-Na, Na-Cl and Cl-Cl distances (A)."""
    return pd.DataFrame(closest_distances(list(pool), PAIRS))


# -- selection ------------------------------------------------------------------------------------
def method_options(p: Params, method: str) -> dict[str, Any]:
    """Extra options a selection method takes from the study parameters."""
    return {"temperature_K": p.single_md_temperature_K} if method == "single_md_random" else {}


def training_selections(p: Params, pool: Dataset, n: int | None = None) -> dict[tuple[str, int], np.ndarray]:
    """Pool indices of every training set of ``n`` configurations (default ``n_train``), keyed by (method,
    replicate); replicate ``r`` of every method draws from the stream ``selection`` (index ``r``)."""
    n = p.n_train if n is None else n
    return {(m, r): selection.select(m, pool, n, seed=stream_seed(p.seed, "selection", r), **method_options(p, m))
            for m in p.selection_methods for r in range(p.n_seeds)}


def control_selections(p: Params, pool: Dataset, contacts: pd.DataFrame) -> dict[tuple[str, int], np.ndarray]:
    """The positive control's training sets: at every state point its share of ``n_train`` configurations,
    drawn at random (stream ``control_selection``, index ``r``) from the twice as many whose closest like-ion
    contact is the farthest, measured per pair against that state point's median (so that neither Na-Na nor
    Cl-Cl contacts come close, while every state point stays covered as in the other training sets)."""
    states = list(zip(pool.info(keys.TEMPERATURE), pool.info(keys.PRESSURE)))
    distinct = sorted(set(states))
    members = [np.array([i for i, s in enumerate(states) if s == state]) for state in distinct]
    quota = [p.n_train // len(distinct) + (k < p.n_train % len(distinct)) for k in range(len(distinct))]
    candidates = []
    for idx, q in zip(members, quota):
        local = contacts.iloc[idx]
        score = np.min([local[f"{a}-{b}"] - local[f"{a}-{b}"].median() for a, b in LIKE_PAIRS], axis=0)
        candidates.append(idx[np.argsort(-score, kind="stable")[:2 * q]])
    out = {}
    for r in range(p.control_models):
        rng = np.random.default_rng(stream_seed(p.seed, "control_selection", r))
        out[(CONTROL, r)] = np.sort(np.concatenate([rng.choice(c, q, replace=False)
                                                    for c, q in zip(candidates, quota) if q]))
    return out


def test_indices(p: Params, test_pool: Dataset) -> np.ndarray:
    """Where the test set lies in the test pool: ``n_test`` random frames of the test pool (separate MD runs no
    selection method saw), an equal share from every state point (stream ``test_set``), in pool order."""
    states = list(zip(test_pool.info(keys.TEMPERATURE), test_pool.info(keys.PRESSURE)))
    distinct = sorted(set(states))
    per = p.n_test // len(distinct)
    rng = np.random.default_rng(stream_seed(p.seed, "test_set"))
    chosen = [rng.choice([i for i, s in enumerate(states) if s == state], per, replace=False) for state in distinct]
    return np.sort(np.concatenate(chosen))


def test_set(p: Params, test_pool: Dataset) -> Dataset:
    """The test set (:func:`test_indices` of the test pool)."""
    return test_pool.subset(test_indices(p, test_pool))


def artefacts(p: Params, cache: Cache, jobs: Mapping[tuple[str, str, int], np.ndarray],
              models: Mapping[tuple[str, str, int], Trained], test_pool: Dataset) -> dict[str, list[dict]]:
    """What ``paperlib export`` writes for this run: every trained model with the training set and seed it had,
    the training pool and the test set."""
    pool_file = str(_npt_pool.entry(cache, **_pool_args(p, "train"), progress=False) / FRAMES)
    test_file = str(_npt_pool.entry(cache, **_pool_args(p, "test"), progress=False) / FRAMES)
    datasets = [DataArtefact("training pool", pool_file, None, "every labelled frame of the NPT training pool"),
                DataArtefact("test set", test_file, test_indices(p, test_pool).tolist(),
                             "the test set: random frames of separate NPT runs, an equal share per state point")]
    trained, named = [], {}
    for (mdl, m, r), idx in jobs.items():
        # GAP trains on selections of its own size: a set is named by method, replicate and size
        name = f"{selection.LABELS.get(m, m)} replicate {r} ({len(idx)} frames)"
        if name not in named:
            named[name] = [int(i) for i in idx]
            datasets.append(DataArtefact(name, pool_file, named[name],
                                         f"the training set of {selection.LABELS.get(m, m)}, replicate {r}"))
        elif named[name] != [int(i) for i in idx]:
            raise ValueError(f"artefacts: two training sets named {name!r} differ")
        trained.append(ModelArtefact(f"{mdl} {m} {r}", mdl, str(models[(mdl, m, r)].saved.path), name,
                                     train_settings(p, r, mdl)["seed"],
                                     f"{mdl} trained on energies and forces of {name}"))
    return artefact_map(trained, datasets)


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


def selection_diagnostics(pool: Dataset, contacts: pd.DataFrame, selections: Mapping
                          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What each method's training sets hold (replicates pooled): the share of every state point, and one row
    per selected configuration with its closest Na-Na, Na-Cl and Cl-Cl distances (A)."""
    temps, press = pool.info(keys.TEMPERATURE), pool.info(keys.PRESSURE)
    shares, rows = [], []
    for m in dict.fromkeys(m for m, _ in selections):
        idx = np.concatenate([v for (mm, _), v in selections.items() if mm == m])
        states = pd.DataFrame({STATE_T: temps[idx], STATE_P: press[idx]})
        share = states.value_counts(normalize=True).rename("share").reset_index()
        shares.append(share.assign(method=m))
        rows.append(contacts.iloc[idx].assign(method=m))
    return pd.concat(shares, ignore_index=True), pd.concat(rows, ignore_index=True)


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
    """A trained model's saved form (loadable anywhere), its fit record and the cache entry that holds it."""

    saved: SavedModel
    fit: dict
    entry: Path


def training_jobs(p: Params, selections: Mapping, gap_selections: Mapping, controls: Mapping
                  ) -> dict[tuple[str, str, int], np.ndarray]:
    """Pool indices of every model to train, keyed by (model family, method, replicate): every family on every
    selection (GAP on its own, ``gap_n_train``-sized ones), and the positive control for the MD family."""
    jobs = {}
    for mdl in p.models:
        for (m, r), idx in (gap_selections if mdl == "gap" else selections).items():
            jobs[(mdl, m, r)] = idx
    for (m, r), idx in controls.items():
        jobs[(p.md_model, m, r)] = idx
    return jobs


def train_all(p: Params, cache: Cache, pool: Dataset, jobs: Mapping, options: RunOptions = RunOptions(),
              executor: Executor | None = None) -> dict[tuple[str, str, int], Trained]:
    """Train every job of :func:`training_jobs` on ``executor`` (default: in this process) on
    ``options.device``; returns the saved models and their fit records, read back from the cache."""
    work = [dict(model=mdl, settings=train_settings(p, r, mdl), force_weight=p.force_weight,
                 train=pool.subset(idx)) for (mdl, m, r), idx in jobs.items()]
    runtime = options.training()
    entries = (executor or InProcessExecutor()).map(
        lambda args: _train.entry(cache, **args, runtime=runtime, progress=False), work, desc="training",
        progress=options.progress)
    device = options.device
    return {job: Trained(SavedModel(job[0], entry / "model", device if job[0] != "gap" else None),
                         json.loads((entry / "fit.json").read_text()), entry)
            for job, entry in zip(jobs, entries)}


# -- test errors and the short-range probe ---------------------------------------------------------
def probe_set(p: Params, test: Dataset) -> list:
    """The short-range probe's structures: for each of ``probe_frames`` test configurations spread evenly over the
    test set and each like-ion pair, the frame and its closest pair pulled to every :data:`PROBE_DISTANCES_A`."""
    # Spread over the test set, which is ordered by state point, so that every state point is probed.
    frames = [test[int(k)] for k in np.linspace(0, len(test) - 1, p.probe_frames).round()]
    return [s for a, b in LIKE_PAIRS for s in probe_structures(frames, a, b, PROBE_DISTANCES_A)]


def probe_table(energies: Sequence[float], n_frames: int) -> pd.DataFrame:
    """The energies of :func:`probe_set` as a table: like-ion pair, frame, distance (A) and energy change
    E(pulled) - E(frame) (eV)."""
    e = np.asarray(energies, float).reshape(len(LIKE_PAIRS), -1)
    rows = []
    for (a, b), block in zip(LIKE_PAIRS, e):
        changes = energy_changes(block, n_frames, len(PROBE_DISTANCES_A))
        for f, row in enumerate(changes):
            rows += [{"pair": f"{a}-{b}", "frame": f, "distance_A": d, "dE": float(v)}
                     for d, v in zip(PROBE_DISTANCES_A, row)]
    return pd.DataFrame(rows)


@cached_step()
def _probe_reference(out: Path, *, structures: Dataset) -> None:
    """BMHTF energies (eV) of the probe structures."""
    labelled = label_all(list(structures), BMHTFSettings())
    (out / "energies.json").write_text(json.dumps([a.info[keys.REF_energy] for a in labelled]))


@cached_step()
def _evaluate(out: Path, *, model: SavedModel, test: Dataset, probe: Dataset) -> None:
    """Predictions of ``model``: per test configuration its force-component errors (sums, count, largest)
    and energy error, and its energies of the probe structures."""
    pot = model.load()
    pred = pot.predict(list(test))
    diff = pred.forces - test.forces()
    owner = test.structure_index()
    n_atoms = test.n_atoms()
    configs = pd.DataFrame({
        "config": np.arange(len(test)), "T": test.info(keys.TEMPERATURE), "P": test.info(keys.PRESSURE),
        "sse": np.bincount(owner, (diff ** 2).sum(axis=1)), "sae": np.bincount(owner, np.abs(diff).sum(axis=1)),
        "n": 3 * n_atoms, "max_abs": [float(np.abs(diff[owner == c]).max()) for c in range(len(test))],
        "energy_error_per_atom": (pred.energies - test.energies()) / n_atoms})
    components = np.abs(diff).ravel()
    summary = {"force_mae": float(components.mean()), "force_rmse": float(np.sqrt((components ** 2).mean())),
               "force_max": float(components.max()), "force_p999": float(np.quantile(components, 0.999)),
               "energy_mae_per_atom": float(np.abs(configs.energy_error_per_atom).mean())}
    configs.to_csv(out / "configs.csv", index=False)
    (out / "summary.json").write_text(json.dumps(summary))
    (out / "probe.json").write_text(json.dumps(pot.predict(list(probe)).energies.tolist()))


def evaluate_all(p: Params, cache: Cache, models: Mapping[tuple, Trained], test: Dataset,
                 options: RunOptions = RunOptions(), executor: Executor | None = None
                 ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Test errors and probe energies of every model (on ``executor``), and the reference's probe energies.

    Returns (summary: one row per model with force MAE, RMSE, Max, 99.9th percentile (eV/A), energy MAE
    (eV/atom) and fit time; config_errors: one row per model and test configuration; probe: one row per model
    (and ``reference``), pair, probe frame and distance with the energy change)."""
    probe = Dataset(probe_set(p, test))
    n_frames = min(p.probe_frames, len(test))
    entries = (executor or InProcessExecutor()).map(
        lambda saved: _evaluate.entry(cache, model=saved, test=test, probe=probe),
        [t.saved for t in models.values()], desc="evaluation", progress=options.progress)
    summaries, configs, probes = [], [], []
    ref = json.loads((_probe_reference.entry(cache, structures=probe) / "energies.json").read_text())
    probes.append(probe_table(ref, n_frames).assign(model="reference", method="reference", replicate=0))
    for (mdl, m, r), entry in zip(models, entries):
        ids = {"model": mdl, "method": m, "replicate": r}
        summaries.append({**ids, **json.loads((entry / "summary.json").read_text()),
                          "fit_s": models[(mdl, m, r)].fit["wall_time_s"]})
        configs.append(pd.read_csv(entry / "configs.csv").assign(**ids))
        probes.append(probe_table(json.loads((entry / "probe.json").read_text()), n_frames).assign(**ids))
    return pd.DataFrame(summaries), pd.concat(configs, ignore_index=True), pd.concat(probes, ignore_index=True)


def errors_by_state(config_errors: pd.DataFrame) -> pd.DataFrame:
    """Force RMSE (eV/A) per model family, method and test state point (replicates pooled)."""
    g = config_errors.groupby(["model", "method", "T", "P"])[["sse", "n"]].sum()
    return np.sqrt(g.sse / g.n).rename("force_rmse").reset_index()


def probe_summary(probe: pd.DataFrame) -> pd.DataFrame:
    """Per model and like-ion pair at the probe's shortest distance: the mean energy change of the model and
    of the reference (eV), and the share of probe frames where the model's energy goes down (a spurious well:
    BMHTF's goes up steeply)."""
    d_min = min(PROBE_DISTANCES_A)
    at = probe[np.isclose(probe.distance_A, d_min)]
    ref = at[at.model == "reference"].set_index(["pair", "frame"]).dE
    rows = []
    for (mdl, m, r, pair), g in at[at.model != "reference"].groupby(["model", "method", "replicate", "pair"]):
        ref_pair = ref.loc[pair].reindex(g.frame).to_numpy()
        rows.append({"model": mdl, "method": m, "replicate": r, "pair": pair, "dE_model": float(g.dE.mean()),
                     "dE_reference": float(ref_pair.mean()), "well_share": float((g.dE.to_numpy() < 0).mean())})
    return pd.DataFrame(rows)


# -- MD, close contacts and RDFs --------------------------------------------------------------------
@cached_step(runtime=("progress",))
def _reference_nvt(out: Path, *, n_atoms: int, density: float, temperature_K: float, timestep_fs: float,
                   equil_steps: int, steps: int, every: int, seed: int, stream: str, progress: bool) -> None:
    """NVT MD of a fresh box; box and velocities from the streams ``<stream>_box`` and ``<stream>``."""
    engine = LammpsBMHTF(BMHTFSettings(kspace_style="pppm", kspace_accuracy=1e-5))
    start = random_salt_box(n_atoms, density, seed=stream_seed(seed, f"{stream}_box"))
    frames = lammps_md(engine, start, temperature_K=temperature_K, pressure_bar=None, timestep_fs=timestep_fs,
                       equil_steps=equil_steps, n_frames=max(1, steps // every), stride=every,
                       seed=stream_seed(seed, stream), progress=progress)
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


def reference_md(p: Params, cache: Cache, density: float, progress: bool = True, stream: str = "reference_md"
                 ) -> Dataset:
    """Reference NVT frames (LAMMPS, Nose-Hoover) of the RDF box: the run the ML MD starts from and is compared
    with (``stream="reference_md"``), or an independent one of the same length (``"negative_control"``) on which
    the close-contact detector must stay silent."""
    args = dict(n_atoms=p.md_n_atoms, density=density, temperature_K=p.md_temperature_K,
                timestep_fs=p.md_timestep_fs, equil_steps=p.md_equil_steps, steps=p.md_steps, every=p.rdf_every,
                seed=p.seed, stream=stream)
    entry = _reference_nvt.entry(cache, **args, progress=progress)
    return Dataset.read(entry / FRAMES)


def md_starts(p: Params, ref_frames: Dataset) -> list:
    """The start of each ML MD replica: reference frames spread over the second half of the reference run."""
    n = len(ref_frames)
    picks = np.linspace(n - 1, n // 2, p.md_replicas).round().astype(int)
    return [ref_frames[int(k)] for k in picks]


@cached_step(runtime=("progress",))
def _ml_nvt(out: Path, *, model: SavedModel, starts: Dataset, temperature_K: float, timestep_fs: float,
            steps: int, every: int, seeds: list[int], progress: bool) -> None:
    """NVT MD of every start with ``model``, one replica each (the batched engine for networks)."""
    results = model_md(model.load(), list(starts), temperature_K=temperature_K, timestep_fs=timestep_fs,
                       steps=steps, sample_every=every, seeds=seeds, min_distance_A=COLLAPSE_MIN_DISTANCE_A,
                       max_force_eV_A=COLLAPSE_MAX_FORCE_EV_A, progress=progress)
    outcomes = []
    for k, res in enumerate(results):
        Dataset(res.frames).write(out / f"frames_{k}.xyz")
        outcomes.append({"steps_done": res.steps_done, "failure": res.failure,
                         "time_to_failure_fs": res.time_to_failure_fs})
    (out / "outcomes.json").write_text(json.dumps(outcomes))


def md_jobs(p: Params, models: Mapping[tuple, Trained]) -> list[tuple[str, str, int]]:
    """The models that drive ML MD: the ``md_model`` family's first ``md_models`` replicates of every method in
    :data:`MD_METHODS`, then the positive control's."""
    jobs = [k for k in models if k[0] == p.md_model and k[1] in MD_METHODS and k[2] < p.md_models]
    return jobs + [k for k in models if k[1] == CONTROL]


def ml_md(p: Params, cache: Cache, models: Mapping[tuple, Trained], starts: list, options: RunOptions = RunOptions(),
          executor: Executor | None = None) -> dict[tuple[str, str, int, int], tuple[Dataset, dict]]:
    """ML-driven NVT MD of every :func:`md_jobs` model from every start, run on ``executor``: {(model, method,
    replicate, replica): (frames, outcome)}. Replica ``k`` of every model has the velocity seed of stream
    ``ml_md`` (index ``k``)."""
    jobs = md_jobs(p, models)
    run = dict(starts=Dataset(starts), temperature_K=p.md_temperature_K, timestep_fs=p.md_timestep_fs,
               steps=p.md_steps, every=p.rdf_every, seeds=[stream_seed(p.seed, "ml_md", k) for k in range(len(starts))])
    entries = (executor or InProcessExecutor()).map(
        lambda saved: _ml_nvt.entry(cache, model=saved, **run, progress=False), [models[j].saved for j in jobs],
        desc="ML MD", progress=options.progress)
    out = {}
    for job, entry in zip(jobs, entries):
        for k, outcome in enumerate(json.loads((entry / "outcomes.json").read_text())):
            path = entry / f"frames_{k}.xyz"
            out[(*job, k)] = (Dataset.read(path) if path.stat().st_size else Dataset(), outcome)
    return out


def rdfs(frames: Dataset, n_bins: int = 120) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Partial RDFs Na-Na, Na-Cl, Cl-Cl of ``frames``: {"Na-Na": (r, g), ...}."""
    return partial_rdfs(list(frames), PAIRS, RDF_RMAX_A, n_bins)


def contact_thresholds(ref_frames: Dataset, margin_A: float) -> dict[str, float]:
    """Per like-ion pair, the close-contact threshold (A): the reference run's closest approach minus
    ``margin_A``."""
    closest = closest_distances(list(ref_frames), LIKE_PAIRS)
    return {pair: float(d.min()) - margin_A for pair, d in closest.items()}


def collapse_pair(failure: str | None) -> str:
    """The elements of the closest pair named in a collapse's failure (``"Na-Na 0.34 A apart (< 1 A)"``), or
    ``""`` when the run did not collapse by atoms coming too close."""
    return failure.split()[0] if failure and " A apart" in failure else ""


def negative_control(frames: Dataset, thresholds: Mapping[str, float], consecutive: int) -> dict[str, Any]:
    """The close-contact detector on an independent reference run: its closest like-ion distances (A) and
    whether it fired (it must not: the reference has no spurious contacts)."""
    closest = closest_distances(list(frames), LIKE_PAIRS)
    fired = any(contact_onset(d, thresholds[pair], consecutive) is not None for pair, d in closest.items())
    return {"contact_fired": bool(fired), "closest_A": {pair: float(d.min()) for pair, d in closest.items()}}


def md_summary(ref_frames: Dataset, runs: Mapping, timestep_fs: float, every: int, thresholds: Mapping[str, float],
               consecutive: int) -> tuple[pd.DataFrame, dict, dict]:
    """Close-contact, collapse and RDF checks of every ML MD run against the reference.

    Returns a table (one row per run: model, method, replicate, replica, ions, simulated ps, ion-ps, collapse,
    its time and the elements of its closest pair, close-contact detection and its time, the closest like-ion distances, per pair the neighbours
    per atom inside the reference's excluded core and the RDF distance, ``rdf_core``), the reference RDFs and
    the RDFs of every run that left frames ({key: rdfs}). ``timestep_fs`` and ``every`` are the time step and
    the sampling interval (steps) of the ML MD runs.
    """
    ref = rdfs(ref_frames)
    vol = ref_frames[0].get_volume()
    symbols = ref_frames[0].get_chemical_symbols()
    all_rdfs: dict = {}
    rows = []
    for (mdl, m, r, k), (frames, outcome) in runs.items():
        row = {"model": mdl, "method": m, "replicate": r, "replica": k, "ions": len(symbols),
               "simulated_ps": outcome["steps_done"] * timestep_fs / 1000.0,
               "collapsed": outcome["failure"] is not None, "failure": outcome["failure"] or "",
               "collapse_ps": (outcome["time_to_failure_fs"] or np.nan) / 1000.0, "frames": len(frames),
               "collapse_pair": collapse_pair(outcome["failure"])}
        row["ion_ps"] = row["ions"] * row["simulated_ps"]
        closest = closest_distances(list(frames), LIKE_PAIRS)
        onsets = {pair: contact_onset(d, thresholds[pair], consecutive) for pair, d in closest.items()}
        fired = [o for o in onsets.values() if o is not None]
        row["contact"] = bool(fired)
        row["contact_ps"] = (min(fired) + 1) * every * timestep_fs / 1000.0 if fired else np.nan
        for pair, d in closest.items():
            row[f"closest_{pair}"] = float(d.min()) if len(d) else np.nan
        core = False
        if len(frames):
            mine = rdfs(frames)
            all_rdfs[(mdl, m, r, k)] = mine
            for a, b in PAIRS:
                pair = f"{a}-{b}"
                rr, g_ref = ref[pair]
                bad, weight = nonphysical_short_range(rr, mine[pair][1], g_ref, symbols.count(b) / vol)
                row[f"core_weight_{pair}"] = weight
                row[f"rdf_distance_{pair}"] = rdf_distance(rr, mine[pair][1], g_ref)
                core |= bad
        row["rdf_core"] = bool(core)
        rows.append(row)
    return pd.DataFrame(rows), ref, all_rdfs


def figures(results: "Results") -> dict[str, Any]:
    """The measured figures written to results.json: those of
    :func:`~paperlib.studies.nacl_selection_claims.summary_figures`, and ``negative_control/contact_fired`` (1 when
    the close-contact detector fired on the independent reference run, which it must not)."""
    return {**summary_figures(results.errors, results.md, results.control),
            "negative_control/contact_fired": float(results.negative_control["contact_fired"])}


# -- the study ------------------------------------------------------------------------------------
def run_key(model: str, method: str, replicate: int, replica: int) -> str:
    """The string key of one ML MD run in :attr:`Results.model_rdfs`."""
    return f"{model}/{method}/{replicate}/{replica}"


def parse_run_key(key: str) -> tuple[str, str, int, int]:
    """(model, method, replicate, replica) of a :func:`run_key`."""
    model, method, replicate, replica = key.split("/")
    return model, method, int(replicate), int(replica)


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
    selection_states
        per method and state point, the share of its selected configurations.
    selection_contacts
        one row per selected configuration (and method): closest Na-Na, Na-Cl, Cl-Cl distances (A).
    errors
        test errors, one row per (model, method, replicate): force MAE, RMSE, Max, 99.9th percentile (eV/A),
        energy MAE (eV/atom), fit wall time (s).
    config_errors
        one row per (model, method, replicate, test configuration): its state point, force-error sums
        (``sse``, ``sae``), components ``n``, largest component error ``max_abs`` (eV/A), energy error per atom.
    probe
        short-range probe: one row per model (and ``reference``), like-ion pair, probe frame and distance (A)
        with the energy change (eV).
    md_density_g_cm3
        density of the ML MD box.
    contact_thresholds
        per like-ion pair, the close-contact threshold (A).
    negative_control
        the detector on an independent reference run (see :func:`negative_control`).
    md, control
        one row per ML MD run (see :func:`md_summary`) of the :data:`MD_METHODS` models and of the positive
        control.
    reference_rdf
        partial RDFs of the reference run: {pair: array (2, bins) of r (A) and g(r)}.
    model_rdfs
        the same for every ML MD run that left frames, keyed by :func:`run_key`.
    artefacts
        the trained models and data sets of this run (:func:`artefacts`), which ``paperlib export`` writes.
    """

    states: pd.DataFrame
    distributions: dict
    selection_states: pd.DataFrame
    selection_contacts: pd.DataFrame
    errors: pd.DataFrame
    config_errors: pd.DataFrame
    probe: pd.DataFrame
    md_density_g_cm3: float
    contact_thresholds: dict
    negative_control: dict
    md: pd.DataFrame
    control: pd.DataFrame
    reference_rdf: dict
    model_rdfs: dict
    artefacts: dict = dataclasses.field(default_factory=dict)


def _rdf_arrays(rdf: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    return {pair: np.vstack([np.asarray(r, float), np.asarray(g, float)]) for pair, (r, g) in rdf.items()}


def run(p: Params, cache: Cache, options: RunOptions = RunOptions(), timer=None) -> Results:
    """The whole study: reference pools, selections and their diagnostics, training (with the positive
    control), test errors and the short-range probe, reference and ML MD, close contacts and RDFs.

    The pools, the trainings, the evaluations and the ML MD runs go through one executor of ``options``; every
    step is cached by its inputs, so a second run reads everything back."""
    timer = timer if timer is not None else Timer()
    progress = options.progress
    with options.make_executor() as ex:
        with timer("reference pools"):
            ex.map(lambda args: _npt_pool.entry(cache, **args, progress=False),
                   [_pool_args(p, k) for k in ("train", "test")], desc="reference pools", progress=progress)
            pool = reference_pool(p, cache, "train", progress)
            test_pool = reference_pool(p, cache, "test", progress)
        with timer("selection"):
            contacts = pool_contacts(pool)
            selections = training_selections(p, pool)
            gap_selections = training_selections(p, pool, p.gap_n_train) if "gap" in p.models else {}
            controls = control_selections(p, pool, contacts)
            test = test_set(p, test_pool)
            sel_states, sel_contacts = selection_diagnostics(pool, contacts, {**selections, **controls})
        with timer("training"):
            jobs = training_jobs(p, selections, gap_selections, controls)
            models = train_all(p, cache, pool, jobs, options, executor=ex)
        with timer("evaluation"):
            errors, config_errors, probe = evaluate_all(p, cache, models, test, options, executor=ex)
        with timer("MD"):
            density = md_density(p, pool)
            ref_frames = reference_md(p, cache, density, progress)
            independent = reference_md(p, cache, density, progress, stream="negative_control")
            runs = ml_md(p, cache, models, md_starts(p, ref_frames), options, executor=ex)
    thresholds = contact_thresholds(ref_frames, p.contact_margin_A)
    table, ref_rdf, model_rdfs = md_summary(ref_frames, runs, p.md_timestep_fs, p.rdf_every, thresholds,
                                            p.contact_samples)
    is_control = table.method == CONTROL if len(table) else pd.Series(dtype=bool)
    return Results(states=pool_states(pool), distributions=selection_distributions(pool, selections),
                   selection_states=sel_states, selection_contacts=sel_contacts, errors=errors,
                   config_errors=config_errors, probe=probe, md_density_g_cm3=density,
                   contact_thresholds=thresholds,
                   negative_control=negative_control(independent, thresholds, p.contact_samples),
                   md=table[~is_control].reset_index(drop=True),
                   control=table[is_control].reset_index(drop=True), reference_rdf=_rdf_arrays(ref_rdf),
                   model_rdfs={run_key(*k): _rdf_arrays(v) for k, v in model_rdfs.items()},
                   artefacts=artefacts(p, cache, jobs, models, test_pool))
