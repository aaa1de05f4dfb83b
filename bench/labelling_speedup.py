"""Reference labelling speed-up: GFN2-xTB energies and forces of the same structures, labelled serially (one
process, one thread) and by ``label_all`` over every core, measured side by side in one run. Prints
structures/s for both, their ratio (goal on 2 cores: >= 1.8x) and checks that the labels agree."""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np

from paperlib import keys
from paperlib.executors import single_threaded_children
from paperlib.reference.xtb import XTBSettings, default_workers, label_all
from paperlib.sampling.molecules import rmd17_molecule

N_STRUCTURES = 384


def structures() -> list:
    """Rattled copies of aspirin (21 atoms), different in every frame."""
    base = rmd17_molecule("aspirin")
    out = []
    for i in range(N_STRUCTURES):
        a = base.copy()
        a.positions += np.random.default_rng(i).normal(scale=0.05, size=a.positions.shape)
        out.append(a)
    return out


def rate(frames: list, workers: int) -> tuple[float, list]:
    t = time.perf_counter()
    labelled = label_all(frames, XTBSettings(), workers=workers, progress=False)
    return len(frames) / (time.perf_counter() - t), labelled


def serial_rate(frames: list) -> tuple[float, list]:
    """One single-threaded process labelling everything (a spawned child, so that OpenMP starts with one thread)."""
    with single_threaded_children():
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as ex:
            ex.submit(rate, frames[:4], 1).result()  # import and initialise tblite before timing
            return ex.submit(rate, frames, 1).result()


def main() -> None:
    frames = structures()
    serial, a = serial_rate(frames)
    workers = default_workers()
    parallel, b = rate(frames, workers)
    same = np.allclose([x.info[keys.REF_energy] for x in a], [x.info[keys.REF_energy] for x in b], atol=1e-8)
    print(f"serial (1 process, 1 thread): {serial:.2f} structures/s")
    print(f"label_all ({workers} workers):     {parallel:.2f} structures/s")
    print(f"speed-up: {parallel / serial:.2f}x on {workers} cores (goal >= 1.8x on 2); labels agree: {same}")


if __name__ == "__main__":
    main()
