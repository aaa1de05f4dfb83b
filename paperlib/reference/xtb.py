"""GFN2-xTB reference labels through tblite's ASE calculator.

Labels are energies (eV), forces (eV/A) and, on request, Hessians (eV/A^2, central differences of the
analytic forces; see :mod:`paperlib.reference.hessian`). :func:`label_all` spreads structures over
worker processes, one per core, each running tblite single-threaded: for molecules of tens of atoms
process parallelism scales better than tblite's own OpenMP threads. Worker processes are spawned, so a
script calling these functions needs the usual ``if __name__ == "__main__":`` guard (notebooks do not).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from tblite.ase import TBLite
from threadpoolctl import ThreadpoolController
from tqdm.auto import tqdm

from paperlib import keys
from paperlib.executors import single_threaded_children

METHODS: tuple[str, ...] = ("GFN2-xTB", "GFN1-xTB")
HESSIAN_ASYMMETRY = "hessian_asymmetry"
"""``Atoms.info`` key: max ``|H - H^T|`` of a finite-difference Hessian before symmetrisation, eV/A^2."""


@dataclasses.dataclass(frozen=True)
class XTBSettings:
    """tblite settings: Hamiltonian, SCC accuracy (1 = default, smaller = tighter), electronic
    temperature (K), SCC iteration limit and total charge (e)."""

    method: str = "GFN2-xTB"
    accuracy: float = 1.0
    electronic_temperature_K: float = 300.0
    max_iterations: int = 250
    charge: int = 0

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"XTBSettings.method: got {self.method!r}; allowed: one of {', '.join(METHODS)}")
        if not 1e-4 <= self.accuracy <= 1e3:
            raise ValueError(f"XTBSettings.accuracy: got {self.accuracy}; allowed: 1e-4 to 1e3")


@functools.cache
def _thread_pools() -> ThreadpoolController:
    """The OpenMP and BLAS libraries loaded in this process (found once, after tblite has loaded its own)."""
    return ThreadpoolController()


class OneThreadTBLite(TBLite):
    """tblite's ASE calculator, computing on one OpenMP (and BLAS) thread whatever the process's thread count.

    tblite sums over OpenMP threads in whatever order they finish: on two threads, six identical runs of ten
    azobenzene labels gave six different sets of forces, which MD and network training then amplify. On one
    thread the labels are the same bit for bit. Cores are used instead by labelling structures in parallel
    processes (:func:`label_all`). The limit holds only during a calculation, so torch's threads are untouched.
    """

    def calculate(self, *args, **kwargs):
        with _thread_pools().limit(limits=1):
            super().calculate(*args, **kwargs)


def xtb_calculator(settings: XTBSettings = XTBSettings()) -> Calculator:
    """A fresh tblite ASE calculator with ``settings`` (silent, one thread: see :class:`OneThreadTBLite`)."""
    return OneThreadTBLite(method=settings.method, accuracy=settings.accuracy, charge=settings.charge,
                           electronic_temperature=settings.electronic_temperature_K,
                           max_iterations=settings.max_iterations, verbosity=0)


def label(atoms: Atoms, calc: Calculator, hessian: bool = False, hessian_step_A: float = 5e-3) -> Atoms:
    """A copy of ``atoms`` (no calculator) carrying ``REF_energy``, ``REF_forces`` and, when ``hessian``,
    ``REF_hessian`` (flattened [3n * 3n], symmetrised) computed with ``calc``, and the asymmetry of the
    finite-difference Hessian before symmetrisation under :data:`HESSIAN_ASYMMETRY` (eV/A^2)."""
    work = atoms.copy()
    work.calc = calc
    energy = float(work.get_potential_energy())
    forces = np.array(work.get_forces(apply_constraint=False), dtype=float)
    out = atoms.copy()
    out.calc = None
    out.set_constraint()
    out.info[keys.REF_energy] = energy
    out.arrays[keys.REF_forces] = forces
    if hessian:
        from paperlib.reference.hessian import finite_difference_hessian, hessian_checks

        raw = finite_difference_hessian(atoms, calc, step_A=hessian_step_A, symmetrise=False)
        out.info[keys.REF_hessian] = (0.5 * (raw + raw.T)).ravel()
        out.info[HESSIAN_ASYMMETRY] = hessian_checks(raw)["asymmetry"]
    return out


def default_workers() -> int:
    """Cores available to this process."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _label_chunk(structures: list[Atoms], settings: XTBSettings, hessian: bool) -> list[Atoms]:
    calc = xtb_calculator(settings)
    return [label(a, calc, hessian=hessian) for a in structures]


def map_in_workers(fn: Callable, *iterables, workers: int) -> Iterator:
    """``fn`` over the zipped ``iterables``, results in order: in this process when ``workers <= 1``, else
    in ``workers`` spawned processes running single-threaded (see :func:`single_threaded_children`)."""
    if workers <= 1:
        yield from map(fn, *iterables)
        return
    with single_threaded_children():
        ex = ProcessPoolExecutor(workers, mp_context=get_context("spawn"))
        results = ex.map(fn, *iterables)   # submits everything, which starts the workers
    with ex:
        yield from results


def label_all(structures: Sequence[Atoms], settings: XTBSettings = XTBSettings(), *, hessian: bool = False,
              workers: int | None = None, progress: bool = True, chunk: int = 16) -> list[Atoms]:
    """Label every structure with GFN2-xTB, in order, over ``workers`` processes (default: all cores)."""
    structures = list(structures)
    workers = min(workers or default_workers(), max(1, len(structures) // chunk))
    chunks = [structures[i:i + chunk] for i in range(0, len(structures), chunk)]
    bar = tqdm(total=len(structures), desc=f"{settings.method} labels", disable=not progress, leave=False)
    out: list[Atoms] = []
    try:
        for done in map_in_workers(_label_chunk, chunks, [settings] * len(chunks), [hessian] * len(chunks),
                                   workers=workers):
            out += done
            bar.update(len(done))
    finally:
        bar.close()
    return out


def relax(atoms: Atoms, settings: XTBSettings = XTBSettings(), *, fmax_eV_A: float = 0.01,
          max_steps: int = 1000) -> Atoms:
    """``atoms`` relaxed to a local minimum of the reference (BFGS until the largest force is below
    ``fmax_eV_A``), labelled. Raises RuntimeError when it does not converge within ``max_steps``."""
    from ase.optimize import BFGS

    work = atoms.copy()
    work.calc = xtb_calculator(settings)
    opt = BFGS(work, logfile=None)
    if not opt.run(fmax=fmax_eV_A, steps=max_steps):
        raise RuntimeError(f"relaxation of {work.get_chemical_formula()} did not reach fmax {fmax_eV_A} eV/A "
                           f"in {max_steps} steps")
    return label(work, work.calc)
