"""SchNet training time with glibc's adaptive trim threshold vs the 64 KiB threshold that dask's nanny sets in
its workers (``MALLOC_TRIM_THRESHOLD_=65536``), measured side by side in one run: the same fit (100-ion NaCl,
schnet_small, one thread) in two fresh processes that differ only in that variable. Prints both times and their
ratio; :class:`paperlib.executors.DaskExecutor` unsets the variable for its workers."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from paperlib.data.dataset import Dataset
from paperlib.reference.bmhtf import LammpsBMHTF
from paperlib.sampling.md import lammps_md, random_salt_box

FIT = """
import sys, time, torch
from paperlib.data.dataset import Dataset
from paperlib.models import registry
from paperlib.models.base import Targets
torch.set_num_threads(1)
train = Dataset.read(sys.argv[1])
pot = registry.make("schnet_small", seed=0, max_epochs=5, batch_size=8, learning_rate=5e-4, progress=False)
t = time.perf_counter()
pot.fit(train, targets=Targets(0.01, 0.99))
print(time.perf_counter() - t)
"""


def fit_seconds(path: Path, trim: str | None) -> float:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_TRIM_THRESHOLD_"}
    if trim is not None:
        env["MALLOC_TRIM_THRESHOLD_"] = trim
    out = subprocess.run([sys.executable, "-c", FIT, str(path)], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    engine = LammpsBMHTF()
    frames = lammps_md(engine, random_salt_box(100, 1.5, seed=0), temperature_K=1400, pressure_bar=1.0,
                       timestep_fs=2.0, equil_steps=500, n_frames=40, stride=20, seed=0, progress=False)
    engine.close()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.xyz"
        Dataset(frames).write(path)
        adaptive = min(fit_seconds(path, None) for _ in range(2))
        trimmed = min(fit_seconds(path, "65536") for _ in range(2))
    print(f"5-epoch SchNet fit, 40 x 100-ion NaCl: adaptive trim {adaptive:.2f} s, MALLOC_TRIM_THRESHOLD_=65536 "
          f"{trimmed:.2f} s")
    print(f"RATIO worker_malloc_trim {trimmed / adaptive:.2f}")


if __name__ == "__main__":
    main()
