"""Molecular dynamics drivers.

- :func:`lammps_md`: reference MD of BMHTF NaCl in LAMMPS (Nose-Hoover NPT or NVT), returning labelled
  frames.
- :func:`ase_md`: Nose-Hoover-chain NVT, or isotropic MTK NPT, with any ASE calculator (a trained model), with
  blow-up detection that stops the run and reports it instead of crashing.

Both NVT drivers use Nose-Hoover chains (length 3) with the same damping time, so reference and ML runs
sample the same ensemble. Stochastic thermostats are avoided on purpose: LAMMPS' ``fix langevin`` adds
its friction and noise to the per-atom forces, which would then no longer be reference labels.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import numpy as np
from ase import Atoms, units
from ase.md.nose_hoover_chain import IsotropicMTKNPT, NoseHooverChainNVT
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
from ase.neighborlist import neighbor_list
from tqdm.auto import tqdm

from paperlib import keys, seeds
from paperlib.reference.bmhtf import LammpsBMHTF, attach_labels
from paperlib.units import amu_per_A3_to_g_per_cm3

THERMOSTAT_DAMPING_FS = 100.0
"""Nose-Hoover damping time (fs) shared by reference and ML NVT runs."""
BAROSTAT_DAMPING_FS = 500.0
"""MTK barostat damping time (fs) of ML NPT runs: slow enough that a small box does not ring."""


def random_salt_box(n_atoms: int, density_g_cm3: float, seed: int, min_distance_A: float = 2.0) -> Atoms:
    """A cubic periodic box of ``n_atoms/2`` Na and Cl ions at random positions, no pair closer than
    ``min_distance_A`` (Angstrom, minimum image), at the given mass density (g/cm^3)."""
    if n_atoms % 2:
        raise ValueError(f"n_atoms must be even for NaCl; got {n_atoms}")
    symbols = ["Na", "Cl"] * (n_atoms // 2)
    mass_amu = Atoms(symbols).get_masses().sum()
    length = (mass_amu / (density_g_cm3 / amu_per_A3_to_g_per_cm3)) ** (1 / 3)
    rng = np.random.default_rng(seed)
    pos = np.empty((n_atoms, 3))
    placed = 0
    for _attempt in range(200 * n_atoms):
        trial = rng.uniform(0, length, 3)
        d = pos[:placed] - trial
        d -= length * np.round(d / length)
        if placed == 0 or np.min(np.einsum("ij,ij->i", d, d)) >= min_distance_A**2:
            pos[placed] = trial
            placed += 1
            if placed == n_atoms:
                break
    else:
        raise RuntimeError(f"could not place {n_atoms} ions {min_distance_A} A apart at {density_g_cm3} g/cm^3")
    return Atoms(symbols, positions=pos, cell=[length] * 3, pbc=True)


def density_g_cm3(atoms: Atoms) -> float:
    """Mass density of ``atoms`` in g/cm^3."""
    return float(atoms.get_masses().sum() / atoms.get_volume() * amu_per_A3_to_g_per_cm3)


def lammps_md(engine: LammpsBMHTF, atoms: Atoms, *, temperature_K: float, pressure_bar: float | None,
              timestep_fs: float, equil_steps: int, n_frames: int, stride: int, seed: int,
              trajectory_id: int = 0, minimize: bool = True, progress: bool = True) -> list[Atoms]:
    """Run reference MD from ``atoms`` and return ``n_frames`` labelled frames, ``stride`` steps apart.

    ``pressure_bar`` given: NPT (Nose-Hoover thermostat and isotropic barostat, damping 100 and 1000
    time steps). ``pressure_bar=None``: Nose-Hoover NVT (damping ``THERMOSTAT_DAMPING_FS``).
    Frames carry ``REF_energy``, ``REF_forces``, ``REF_atomic_energies`` and the state point in ``info``.
    """
    engine.load(atoms)
    lmp = engine.lmp
    dt_ps = timestep_fs / 1000.0
    lmp_seed = 1 + seed % 900_000_000
    cmds = [f"timestep {dt_ps}"]
    if minimize:
        cmds += ["min_style fire", "minimize 0.0 1.0e-3 200 2000"]
    cmds.append(f"velocity all create {temperature_K} {lmp_seed} mom yes rot no dist gaussian")
    if pressure_bar is not None:
        cmds.append(f"fix all_md all npt temp {temperature_K} {temperature_K} {100 * dt_ps} "
                    f"iso {pressure_bar} {pressure_bar} {1000 * dt_ps}")
    else:
        cmds.append(f"fix all_md all nvt temp {temperature_K} {temperature_K} {THERMOSTAT_DAMPING_FS / 1000}")
    frames = []
    desc = f"LAMMPS {'NPT' if pressure_bar is not None else 'NVT'} {temperature_K:g} K"
    try:
        lmp.commands_list(cmds)
        if equil_steps:
            lmp.command(f"run {equil_steps} post no")
        for k in tqdm(range(n_frames), desc=desc, disable=not progress, leave=False):
            # Between chunks nothing changes but time, so LAMMPS' set-up (neighbour lists, Ewald
            # coefficients) need not be redone: 'pre no' after the first chunk.
            lmp.command(f"run {stride} pre {'yes' if k == 0 else 'no'} post no")
            frame = attach_labels(engine.current_atoms(), engine.results())
            frame.info[keys.TEMPERATURE] = float(temperature_K)
            if pressure_bar is not None:
                frame.info[keys.PRESSURE] = float(pressure_bar)
            frame.info[keys.TRAJECTORY] = int(trajectory_id)
            frames.append(frame)
    finally:
        if lmp.has_id("fix", "all_md"):
            lmp.command("unfix all_md")
    return frames


@dataclasses.dataclass
class MDResult:
    """Outcome of :func:`ase_md`: sampled frames, steps completed and why the run stopped (if it did)."""

    frames: list[Atoms]
    steps_done: int
    steps_requested: int
    failure: str | None = None
    time_to_failure_fs: float | None = None

    @property
    def stable(self) -> bool:
        """True when the run completed every requested step."""
        return self.failure is None


def check_sane(atoms: Atoms, min_distance_A: float, max_force_eV_A: float) -> str | None:
    """Why ``atoms`` (with a calculator attached) is unphysical, or ``None`` when it looks fine
    (:func:`frame_problem` of its energy and forces)."""
    return frame_problem(atoms, atoms.get_potential_energy(), atoms.get_forces(), min_distance_A, max_force_eV_A)


def frame_problem(frame: Atoms, energy_eV: float, forces: np.ndarray, min_distance_A: float,
                  max_force_eV_A: float) -> str | None:
    """Why ``frame`` with ``energy_eV`` and ``forces`` (eV/A) is unphysical, or ``None`` (:func:`problem`)."""
    if not (math.isfinite(energy_eV) and np.isfinite(forces).all()):
        return problem(False, math.nan, math.nan, min_distance_A, max_force_eV_A)
    i, j, d = neighbor_list("ijd", frame, min_distance_A)
    if not len(d):
        return problem(True, float(np.linalg.norm(forces, axis=1).max()), math.inf, min_distance_A, max_force_eV_A)
    k = int(np.argmin(d))
    symbols = frame.get_chemical_symbols()
    return problem(True, float(np.linalg.norm(forces, axis=1).max()), float(d[k]), min_distance_A, max_force_eV_A,
                   pair_name(symbols[i[k]], symbols[j[k]]))


def pair_name(a: str, b: str) -> str:
    """The name of a pair of elements, in alphabetical order (``"Cl-Na"``, ``"Na-Na"``)."""
    return "-".join(sorted((a, b)))


def problem(finite: bool, max_force: float, closest_A: float, min_distance_A: float, max_force_eV_A: float,
            closest_pair: str = "atoms") -> str | None:
    """The failure of a frame from its summary, or ``None``: a non-finite energy or force, the closest pair (A,
    its elements named by ``closest_pair``) nearer than ``min_distance_A``, or the largest force (eV/A) above
    ``max_force_eV_A``, in that order (atoms that collapse also feel huge forces; the pair says more)."""
    if not finite:
        return "non-finite energy or forces"
    if closest_A < min_distance_A:
        return f"{closest_pair} {closest_A:.2f} A apart (< {min_distance_A:g} A)"
    if max_force > max_force_eV_A:
        return f"force {max_force:.1f} eV/A above {max_force_eV_A:g} eV/A"
    return None


def ase_md(atoms: Atoms, calculator, *, temperature_K: float, timestep_fs: float, steps: int, sample_every: int,
           seed: int, min_distance_A: float = 1.0, max_force_eV_A: float = 50.0, progress: bool = True,
           on_sample: Callable[[Atoms], None] | None = None, pressure_bar: float | None = None,
           check: Callable[[Atoms], str | None] | None = None) -> MDResult:
    """Nose-Hoover-chain NVT MD of ``atoms`` with ``calculator`` (isotropic MTK NPT at ``pressure_bar`` when
    given, for periodic ``atoms``); frames every ``sample_every`` steps.

    The run stops early, without raising, when :func:`check_sane` or ``check`` flags a sampled frame; the
    reason and the time to failure are reported in the result.
    """
    atoms = atoms.copy()
    atoms.calc = calculator
    rng = np.random.default_rng(seed)
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_K, rng=rng)
    Stationary(atoms)
    if pressure_bar is None:
        # ASE's chain counts 3N degrees of freedom; with the total momentum zero there are 3N - 3 (as LAMMPS'
        # fix nvt and the batched engine count). A chain told 3N samples the canonical ensemble at
        # target * 3N / (3N - 3), so it is given the target that makes that the requested temperature.
        n = len(atoms)
        dyn = NoseHooverChainNVT(atoms, timestep_fs * units.fs, temperature_K=temperature_K * (3 * n - 3) / (3 * n),
                                 tdamp=THERMOSTAT_DAMPING_FS * units.fs)
    else:
        if not atoms.pbc.all():
            raise ValueError("ase_md: pressure_bar needs a periodic cell")
        dyn = IsotropicMTKNPT(atoms, timestep_fs * units.fs, temperature_K=temperature_K,
                              pressure_au=pressure_bar * units.bar, tdamp=THERMOSTAT_DAMPING_FS * units.fs,
                              pdamp=BAROSTAT_DAMPING_FS * units.fs)
    frames: list[Atoms] = []
    result = MDResult(frames, 0, steps)
    bar = tqdm(total=steps, desc=f"MD {temperature_K:g} K", disable=not progress, leave=False)
    try:
        while result.steps_done < steps:
            n = min(sample_every, steps - result.steps_done)
            try:
                dyn.run(n)
            except (ValueError, FloatingPointError, RuntimeError) as err:
                result.failure = f"integration error: {err}"
            result.steps_done += n
            bar.update(n)
            if result.failure is None:
                result.failure = check_sane(atoms, min_distance_A, max_force_eV_A)
            if result.failure is None and check is not None:
                result.failure = check(atoms)
            if result.failure is not None:
                result.time_to_failure_fs = result.steps_done * timestep_fs
                break
            snap = atoms.copy()
            snap.calc = None
            frames.append(snap)
            if on_sample is not None:
                on_sample(snap)
    finally:
        bar.close()
    return result


def langevin_md(atoms: Atoms, calculator, *, temperature_K: float, timestep_fs: float, friction_per_fs: float,
                equil_steps: int, n_frames: int, stride: int, seed: int, trajectory_id: int = 0,
                labeller=None, progress: bool = True) -> list[Atoms]:
    """Langevin NVT MD of a molecule; returns ``n_frames`` frames, one every ``stride`` steps after
    ``equil_steps`` (each with its run id and simulated time in ``info``), labelled with the energy and forces (``REF_`` keys) of ``labeller`` (default: the
    propagating ``calculator``; a restrained run propagates on reference + restraint and labels with the
    reference alone).

    ASE's Langevin integrator adds friction and noise to the momenta, never to the calculator's forces,
    so the stored forces are the reference's own.
    """
    from ase.constraints import FixCom
    from ase.md.langevin import Langevin

    from paperlib.reference.xtb import label

    work = atoms.copy()
    work.calc = calculator
    work.set_constraint(FixCom())
    rng = np.random.default_rng(seed)
    MaxwellBoltzmannDistribution(work, temperature_K=temperature_K, rng=rng)
    Stationary(work)
    dyn = Langevin(work, timestep_fs * units.fs, temperature_K=temperature_K, friction=friction_per_fs / units.fs,
                   fixcm=False, rng=rng)
    frames: list[Atoms] = []
    with tqdm(total=equil_steps + n_frames * stride, desc=f"Langevin {temperature_K:g} K", disable=not progress,
              leave=False) as bar:
        if equil_steps:
            dyn.run(equil_steps)
            bar.update(equil_steps)
        for k in range(n_frames):
            dyn.run(stride)
            bar.update(stride)
            frame = label(work, labeller if labeller is not None else calculator)
            frame.info[keys.TEMPERATURE] = temperature_K
            frame.info[keys.TRAJECTORY] = trajectory_id
            frame.info[keys.TIME_FS] = (equil_steps + (k + 1) * stride) * timestep_fs
            frames.append(frame)
    return frames


def _xtb_trajectory(start: Atoms, settings, trajectory_id: int, md: dict) -> list[Atoms]:
    from paperlib.reference.xtb import xtb_calculator

    md = dict(md)
    propagator = md.pop("propagator", None)
    reference = xtb_calculator(settings)
    moving = propagator(reference) if propagator is not None else reference
    return langevin_md(start, moving, trajectory_id=trajectory_id, labeller=reference, progress=False, **md)


def xtb_langevin_trajectories(start: Atoms, settings, *, n_trajectories: int, seed: int, workers: int | None = None,
                              progress: bool = True, **md) -> list[Atoms]:
    """Independent :func:`langevin_md` runs of ``start`` with the GFN2-xTB reference (``settings``: an
    :class:`~paperlib.reference.xtb.XTBSettings`), seeds from the stream ``trajectory`` of ``seed`` (:mod:`paperlib.seeds`), run in parallel over the cores.
    ``md`` holds the remaining keyword arguments of :func:`langevin_md`. Frames come trajectory by trajectory.
    """
    runs = [dict(md, seed=seeds.stream_seed(seed, "trajectory", k)) for k in range(n_trajectories)]
    return xtb_langevin_runs([start] * n_trajectories, settings, runs, workers=workers, progress=progress)


def xtb_langevin_runs(starts: Sequence[Atoms], settings, runs: Sequence[dict], *, workers: int | None = None,
                      progress: bool = True) -> list[Atoms]:
    """One GFN2-xTB :func:`langevin_md` run per start structure, run in parallel over the cores; ``runs[k]``
    holds the keyword arguments (temperature, steps, seed, ...) of run k, whose frames get trajectory id k.
    A run's optional ``propagator`` (a picklable callable: reference calculator -> calculator, e.g. a restraint
    around it) moves the atoms; the frames carry the reference's own labels. Frames come run by run."""
    from paperlib.reference.xtb import default_workers, map_in_workers

    if len(starts) != len(runs):
        raise ValueError(f"xtb_langevin_runs: {len(starts)} starts but {len(runs)} runs")
    if not runs:
        return []
    workers = min(workers or default_workers(), len(runs))
    frames: list[Atoms] = []
    with tqdm(total=len(runs), desc="reference MD runs", disable=not progress, leave=False) as bar:
        for traj in map_in_workers(_xtb_trajectory, list(starts), [settings] * len(runs), range(len(runs)),
                                   list(runs), workers=workers):
            frames += traj
            bar.update(1)
    return frames
