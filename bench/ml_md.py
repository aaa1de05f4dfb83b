"""ML-driven MD throughput (ion-picoseconds per wall-clock second): the batched engine
(:mod:`paperlib.sampling.engine`) against ASE's Nose-Hoover-chain loop through the model's calculator, same
trained model, box, time step and thermostat, measured side by side in one run.

- ``schnet_one_replica``: SchNet small (float32) on a 216-ion molten NaCl box at 1400 K, one replica (goal >= 5x);
- ``schnet_batched``: the same, 8 replicas in one engine call vs 8 ASE runs one after another (goal >= 10x);
- ``mace``: a small float32 MACE (trained on GFN2-xTB-labelled EC monomers, dimers and clusters) on the 8-molecule
  EC box at 320 K, engine vs mace-torch's own ASE calculator (goal >= 2x).

Also printed: whether the engine samples what ASE samples (the Na-Cl RDF of engine runs against ASE runs of the
same model, beside the difference between ASE runs of two seeds, the noise); the largest force difference between the float32 model and the same weights in float64 on the
benchmark's frames (what float32 MD costs in accuracy). ``deepmd_lammps`` prints ``nan``: the installed DeePMD-kit
LAMMPS plugin registers no pair coefficients in this LAMMPS build (see :mod:`paperlib.compat`).
The script ends with one ``RATIO <name> <value>`` line per ratio.
"""

import argparse
import time

import numpy as np
import torch

from paperlib.analysis.rdf import partial_rdf, rdf_distance
from paperlib.data.dataset import Dataset
from paperlib.models.schnet import SchNetConfig, SchNetPotential
from paperlib.reference.bmhtf import LammpsBMHTF
from paperlib.sampling.engine import run_replicas
from paperlib.sampling.md import ase_md, lammps_md, random_salt_box
from paperlib.training import TrainConfig

IONS, TEMPERATURE_K, TIMESTEP_FS, REPLICAS = 216, 1400.0, 2.0, 8
SAMPLE_EVERY = 20
"""Steps between sampled (and, in ASE, checked) frames: the NaCl study's RDF interval."""


def reference_frames(n: int) -> Dataset:
    engine = LammpsBMHTF()
    frames = lammps_md(engine, random_salt_box(IONS, 1.5, seed=0), temperature_K=TEMPERATURE_K, pressure_bar=None,
                       timestep_fs=TIMESTEP_FS, equil_steps=500, n_frames=n, stride=20, seed=0, progress=False)
    engine.close()
    return Dataset(frames)


def trained(frames: Dataset, epochs: int) -> SchNetPotential:
    model = SchNetPotential(SchNetConfig(size="small", device="cpu",
                                         train=TrainConfig(max_epochs=epochs, batch_size=4, learning_rate=1e-3,
                                                           progress=False, seed=0)))
    model.fit(frames)
    return model


def ion_ps_per_s(steps_done: int, seconds: float) -> float:
    """Ion-picoseconds per second of ``steps_done`` MD steps summed over replicas (a replica that failed a check
    stops, and only its steps count)."""
    return IONS * steps_done * TIMESTEP_FS / 1000.0 / seconds


def ase_rate(model: SchNetPotential, start, steps: int, replicas: int) -> float:
    t = time.perf_counter()
    done = sum(ase_md(start, model.calculator(), temperature_K=TEMPERATURE_K, timestep_fs=TIMESTEP_FS, steps=steps,
                      sample_every=SAMPLE_EVERY, seed=seed, progress=False).steps_done for seed in range(replicas))
    return ion_ps_per_s(done, time.perf_counter() - t)


def engine_rate(model: SchNetPotential, start, steps: int, replicas: int) -> float:
    t = time.perf_counter()
    results = run_replicas(model.force_field(), [start] * replicas, temperature_K=TEMPERATURE_K,
                           timestep_fs=TIMESTEP_FS, steps=steps, sample_every=SAMPLE_EVERY, seeds=list(range(replicas)),
                           progress=False)
    return ion_ps_per_s(sum(r.steps_done for r in results), time.perf_counter() - t)


def sampled_rdf_distances(model: SchNetPotential, start, steps: int) -> tuple[float, float]:
    """(engine vs ASE, ASE seed 0 vs ASE seed 1): integrated |g_NaCl difference| over runs of ``steps``."""
    run = dict(temperature_K=TEMPERATURE_K, timestep_fs=TIMESTEP_FS, steps=steps, sample_every=10, progress=False)
    ase = [ase_md(start, model.calculator(), seed=seed, **run).frames for seed in (0, 1)]
    engine = run_replicas(model.force_field(), [start], seeds=[2], **run)[0].frames
    (r, g0), (_, g1), (_, ge) = (partial_rdf(f, "Na", "Cl", 6.0, 60) for f in (*ase, engine))
    return rdf_distance(r, ge, 0.5 * (g0 + g1)), rdf_distance(r, g0, g1)


def mace_ratio(steps: int) -> float:
    """Engine vs mace-torch's ASE calculator on the 8-molecule EC box (80 atoms), ion-ps/s ratio."""
    from paperlib.models.base import Targets
    from paperlib.models.mace import MACEConfig, MACEPotential
    from paperlib.reference.xtb import label_all
    from paperlib.sampling.training_sets import simple_set
    from paperlib.studies import transferability as T

    liquid = T.training_liquid(T.Params.resolve("default", {}))
    train = Dataset(label_all(simple_set(liquid.molecules, liquid.counts, liquid.density_g_cm3, n_monomers=10,
                                         n_dimers=10, n_clusters=10, cluster_radius_A=5.0, seed=0), progress=False))
    model = MACEPotential(MACEConfig(hidden_irreps="16x0e + 16x1o", r_max_A=4.5, max_L=1, correlation=2,
                                     max_epochs=10, batch_size=4, dtype="float32", device="cpu"))
    model.fit(train, targets=Targets(1.0, 100.0))
    box = liquid.box(seed=0)
    run = dict(temperature_K=320.0, timestep_fs=0.5, steps=steps, sample_every=10, min_distance_A=0.5,
               max_force_eV_A=1e6, progress=False)
    ase_md(box, model.calculator(), seed=0, **{**run, "steps": 5})
    t = time.perf_counter()
    ase = ase_md(box, model.calculator(), seed=0, **run).steps_done / (time.perf_counter() - t)
    ff = model.force_field()
    run_replicas(ff, [box], seeds=[0], **{**run, "steps": 5})
    t = time.perf_counter()
    engine = run_replicas(ff, [box], seeds=[0], **run)[0].steps_done / (time.perf_counter() - t)
    print(f"MACE, 80 atoms: ASE {ase:.1f} steps/s, engine {engine:.1f} steps/s")
    return engine / ase


def float32_force_error(model: SchNetPotential, frames: Dataset) -> float:
    double = SchNetPotential(SchNetConfig(**{**model.config.__dict__, "dtype": "float64"}), name=model.name)
    double.net.load_state_dict({k: v.double() if v.is_floating_point() else v
                                for k, v in model.net.state_dict().items()})
    single, exact = model.predict(list(frames)), double.predict(list(frames))
    return float(np.abs(single.forces - exact.forces).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200, help="MD steps per measurement")
    parser.add_argument("--epochs", type=int, default=60, help="training epochs of the benchmark model")
    parser.add_argument("--mace-steps", type=int, default=100, help="MD steps of each MACE measurement")
    parser.add_argument("--rdf-steps", type=int, default=500, help="MD steps of each run of the RDF comparison")
    args = parser.parse_args()
    torch.manual_seed(0)
    frames = reference_frames(48)
    model = trained(frames, args.epochs)
    start = frames[-1]
    warm = max(5, args.steps // 20)
    ase_rate(model, start, warm, 1)
    engine_rate(model, start, warm, 1)
    rates = {"ase_one": ase_rate(model, start, args.steps, 1), "engine_one": engine_rate(model, start, args.steps, 1),
             "ase_batch": ase_rate(model, start, args.steps, REPLICAS),
             "engine_batch": engine_rate(model, start, args.steps, REPLICAS)}
    for name, rate in rates.items():
        print(f"{name:14s} {rate:10.2f} ion-ps/s")
    print(f"float32 vs float64 forces, largest difference: {float32_force_error(model, frames):.2e} eV/A")
    engine_vs_ase, ase_vs_ase = sampled_rdf_distances(model, start, args.rdf_steps)
    print(f"Na-Cl RDF distance, engine vs ASE: {engine_vs_ase:.4f}; ASE seed vs seed (noise): {ase_vs_ase:.4f}")
    ratios = {"schnet_one_replica": rates["engine_one"] / rates["ase_one"],
              "schnet_batched": rates["engine_batch"] / rates["ase_batch"],
              "mace": mace_ratio(args.mace_steps), "deepmd_lammps": float("nan")}
    for name, value in ratios.items():
        print(f"RATIO {name} {value:.2f}")


if __name__ == "__main__":
    main()
