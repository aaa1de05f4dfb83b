"""Reaction paths and critical points on any ASE calculator.

One recipe serves the reference method and every trained model: minimise reactant and product, run a
climbing-image NEB through an initial path, refine the climbing image into a first-order saddle point
with ``sella``, and confirm it by its Hessian (exactly one imaginary frequency) and by the two minima it
connects (displace along the imaginary mode both ways and minimise). The reactions themselves are data
(``sampling/data/reactions.yaml``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import yaml
from ase import Atoms
from ase.calculators.calculator import Calculator

from paperlib.sampling.normal_modes import normal_modes

REACTIONS_FILE = Path(__file__).parent / "data" / "reactions.yaml"
HessianFn = Callable[[Atoms], np.ndarray]
"""Maps a structure (with its calculator attached or not) to its Hessian, eV/A^2, [3n, 3n]."""
Evaluator = Callable[[Sequence[Atoms]], tuple[np.ndarray, list[np.ndarray]]]
"""Energies (eV, [k]) and forces (eV/A, k arrays [n, 3]) of k structures in one call, e.g. one model batch."""

IMAGINARY_TOL_CM = 50.0
"""Imaginary wavenumbers smaller than this (cm^-1) are numerical noise of a flat mode, not a saddle direction."""


@dataclasses.dataclass(frozen=True)
class Reaction:
    """A reaction as data: symbols and reactant / saddle-guess / product positions (A), same atom order."""

    name: str
    description: str
    symbols: tuple[str, ...]
    reactant: np.ndarray
    guess: np.ndarray
    product: np.ndarray

    def atoms(self, which: str) -> Atoms:
        """``which`` in {"reactant", "guess", "product"} as an :class:`~ase.Atoms` (no cell, no pbc)."""
        if which not in ("reactant", "guess", "product"):
            raise ValueError(f"Reaction.atoms: got {which!r}; allowed: 'reactant', 'guess' or 'product'")
        return Atoms(self.symbols, positions=getattr(self, which))


def reaction_names() -> tuple[str, ...]:
    """Names of the reactions shipped with the package, in file order."""
    return tuple(yaml.safe_load(REACTIONS_FILE.read_text()))


def load_reaction(name: str) -> Reaction:
    """The shipped reaction ``name``; raises ValueError naming the allowed ones."""
    data = yaml.safe_load(REACTIONS_FILE.read_text())
    if name not in data:
        raise ValueError(f"unknown reaction {name!r}; allowed: {', '.join(data)}")
    r = data[name]
    arrays = {k: np.array(r[k], dtype=float) for k in ("reactant", "guess", "product")}
    for k, a in arrays.items():
        if a.shape != (len(r["symbols"]), 3):
            raise ValueError(f"reaction {name!r}: {k} has shape {a.shape}; expected ({len(r['symbols'])}, 3)")
    return Reaction(name, r["description"], tuple(r["symbols"]), **arrays)


def kabsch_rmsd(a: Atoms | np.ndarray, b: Atoms | np.ndarray) -> float:
    """RMSD (A) between two structures with the same atom order after optimal translation and rotation
    (no reflection, no permutation)."""
    p = np.asarray(a.positions if isinstance(a, Atoms) else a, dtype=float)
    q = np.asarray(b.positions if isinstance(b, Atoms) else b, dtype=float)
    p, q = p - p.mean(0), q - q.mean(0)
    u, _, vt = np.linalg.svd(p.T @ q)
    d = np.sign(np.linalg.det(u @ vt))
    rot = u @ np.diag([1.0, 1.0, d]) @ vt
    return float(np.sqrt(np.mean(np.sum((p @ rot - q) ** 2, axis=1))))


def initial_path(reactant: Atoms, guess: Atoms, product: Atoms, n_images: int) -> list[Atoms]:
    """``n_images`` (odd, >= 3) structures from ``reactant`` to ``product`` by linear interpolation through
    ``guess``, which sits in the middle."""
    if n_images < 3 or n_images % 2 == 0:
        raise ValueError(f"initial_path: n_images must be odd and >= 3; got {n_images}")
    half = n_images // 2
    out = []
    for k in range(n_images):
        a, b, t = (reactant, guess, k / half) if k <= half else (guess, product, (k - half) / half)
        img = reactant.copy()
        img.calc = None
        img.positions = (1 - t) * a.positions + t * b.positions
        out.append(img)
    return out


def minimise(atoms: Atoms, calc: Calculator, *, fmax_eV_A: float, steps: int, rattle_A: float = 1e-3,
             seed: int = 0) -> tuple[Atoms, bool]:
    """A copy of ``atoms`` minimised with BFGS on ``calc`` and whether it reached ``fmax_eV_A``.

    The start is displaced by a random ``rattle_A`` (seeded): BFGS keeps any symmetry of its start, so an
    exactly linear or planar start would stop on a symmetric saddle of a surface whose minimum is bent.
    """
    from ase.optimize import BFGS

    work = atoms.copy()
    work.positions = atoms.positions + np.random.default_rng(seed).normal(scale=rattle_A, size=atoms.positions.shape)
    work.calc = calc
    converged = bool(BFGS(work, logfile=None).run(fmax=fmax_eV_A, steps=steps))
    work.calc = None
    return work, converged


def stable_minimum(atoms: Atoms, calc: Calculator, hessian_fn: HessianFn, *, fmax_eV_A: float, steps: int,
                   step_A: float = 0.1, max_escapes: int = 3) -> tuple[Atoms, np.ndarray]:
    """A true minimum near ``atoms`` and its wavenumbers (cm^-1): :func:`minimise`, then, while the Hessian has
    an imaginary mode (a symmetric saddle that BFGS stopped on), descend both ways along it and keep the lower
    end.

    Raises
    ------
    RuntimeError
        When an imaginary mode is left after ``max_escapes`` descents.
    """
    current, _ = minimise(atoms, calc, fmax_eV_A=fmax_eV_A, steps=steps)
    for _ in range(max_escapes + 1):
        hessian = hessian_fn(current)
        wavenumbers, _ = normal_modes(current, hessian)
        if n_imaginary(wavenumbers) == 0:
            return current, wavenumbers
        ends = descend_from_saddle(current, hessian, calc, step_A=step_A, fmax_eV_A=fmax_eV_A, steps=steps)
        current = min(ends, key=lambda end: end[1])[0]
    raise RuntimeError(f"no minimum without imaginary modes after {max_escapes} descents")


def calculator_evaluator(calc: Calculator) -> Evaluator:
    """An :data:`Evaluator` that runs ``calc`` on one structure after the other."""

    def evaluate(structures: Sequence[Atoms]) -> tuple[np.ndarray, list[np.ndarray]]:
        energies, forces = [], []
        for a in structures:
            work = a.copy()
            work.calc = calc
            energies.append(float(work.get_potential_energy()))
            forces.append(np.array(work.get_forces(), dtype=float))
        return np.array(energies), forces

    return evaluate


def _batched_neb(images: list[Atoms], evaluate: Evaluator, **kwargs):
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.mep import NEB

    def attach(structures: Sequence[Atoms]) -> None:
        energies, forces = evaluate(structures)
        for a, e, f in zip(structures, energies, forces):
            a.calc = SinglePointCalculator(a, energy=float(e), forces=f)

    class BatchedNEB(NEB):
        """All moving images evaluated by one call of ``evaluate`` per optimiser step."""

        def get_forces(self):
            attach(self.images[1:-1])
            return super().get_forces()

    attach([images[0], images[-1]])   # fixed end points: evaluated once
    return BatchedNEB(images, **kwargs)


def climbing_image_neb(images: Sequence[Atoms], evaluate: Evaluator, *, fmax_eV_A: float, steps: int
                       ) -> tuple[list[Atoms], np.ndarray, bool]:
    """Climbing-image NEB (improved tangent, FIRE) with fixed end points; ``evaluate`` computes all moving
    images of a step in one call (see :func:`calculator_evaluator`).

    Returns the relaxed images (no calculator), their energies (eV) and whether ``fmax_eV_A`` was reached.
    """
    from ase.optimize import FIRE

    work = [a.copy() for a in images]
    neb = _batched_neb(work, evaluate, climb=True, method="improvedtangent")
    converged = bool(FIRE(neb, logfile=None).run(fmax=fmax_eV_A, steps=steps))
    energies, _ = evaluate(work)
    for a in work:
        a.calc = None
    return work, np.asarray(energies, dtype=float), converged


def refine_saddle(atoms: Atoms, calc: Calculator, hessian_fn: HessianFn, *, fmax_eV_A: float,
                  steps: int) -> tuple[Atoms, bool]:
    """A first-order saddle point near ``atoms`` by sella's partitioned rational-function optimiser, started
    from the exact Hessian; returns the structure and whether ``fmax_eV_A`` was reached."""
    from sella import Sella

    work = atoms.copy()
    work.calc = calc
    opt = Sella(work, order=1, internal=False, logfile=None, trajectory=None,
                hessian_function=lambda a: hessian_fn(a))
    converged = bool(opt.run(fmax=fmax_eV_A, steps=steps))
    work.calc = None
    return work, converged


def n_imaginary(wavenumbers_cm: np.ndarray, tol_cm: float = IMAGINARY_TOL_CM) -> int:
    """Number of imaginary vibrational modes (stored as negative wavenumbers) beyond ``tol_cm``."""
    return int(np.sum(np.asarray(wavenumbers_cm) < -tol_cm))


def bond_graph(atoms: Atoms, scale: float = 1.2) -> frozenset[tuple[int, int]]:
    """Pairs (i < j) closer than ``scale`` times the sum of their covalent radii (minimum image in periodic
    cells)."""
    from ase.data import covalent_radii
    from ase.neighborlist import neighbor_list

    i, j = neighbor_list("ij", atoms, (scale * covalent_radii[atoms.numbers]).tolist())
    return frozenset((int(a), int(b)) for a, b in zip(i, j) if a < b)


def same_minimum(a: Atoms, energy_a_eV: float, b: Atoms, energy_b_eV: float, energy_tol_eV: float = 5e-3) -> bool:
    """Two minima are the same species when their bond graphs agree and their energies differ by less than
    ``energy_tol_eV`` (which also identifies rotamers and mirror images that are equivalent by symmetry)."""
    return bond_graph(a) == bond_graph(b) and abs(energy_a_eV - energy_b_eV) < energy_tol_eV


def imaginary_mode(atoms: Atoms, hessian: np.ndarray) -> tuple[float, np.ndarray]:
    """The lowest vibrational wavenumber (cm^-1) and its Cartesian displacement direction [n, 3] (unit norm)."""
    wavenumbers, modes = normal_modes(atoms, hessian)
    k = int(np.argmin(wavenumbers))
    cart = (modes[:, k] / np.sqrt(np.repeat(atoms.get_masses(), 3))).reshape(-1, 3)
    return float(wavenumbers[k]), cart / np.linalg.norm(cart)


def descend_from_saddle(ts: Atoms, hessian: np.ndarray, calc: Calculator, *, step_A: float = 0.1,
                        fmax_eV_A: float, steps: int) -> tuple[tuple[Atoms, float], tuple[Atoms, float]]:
    """The minima reached by displacing ``ts`` by +/- ``step_A`` along its imaginary mode and minimising,
    each with its energy (eV)."""
    _, mode = imaginary_mode(ts, hessian)
    out = []
    for sign in (1.0, -1.0):
        start = ts.copy()
        start.positions = ts.positions + sign * step_A * mode
        end, _ = minimise(start, calc, fmax_eV_A=fmax_eV_A, steps=steps)
        out.append((end, float(calc.get_potential_energy(end))))
    return out[0], out[1]


def connects(ends: Sequence[tuple[Atoms, float]], reactant: tuple[Atoms, float], product: tuple[Atoms, float],
             energy_tol_eV: float = 5e-3) -> bool:
    """True when the two minima below a saddle are the reactant and the product, one each (in either order)."""
    (a, ea), (b, eb) = ends
    (r, er), (p, ep) = reactant, product
    forward = same_minimum(a, ea, r, er, energy_tol_eV) and same_minimum(b, eb, p, ep, energy_tol_eV)
    backward = same_minimum(a, ea, p, ep, energy_tol_eV) and same_minimum(b, eb, r, er, energy_tol_eV)
    return forward or backward


@dataclasses.dataclass
class CriticalPoints:
    """What :func:`locate_critical_points` found for one reaction on one potential.

    Structures carry no calculator; energies are eV, wavenumbers cm^-1 (imaginary ones negative).
    ``barrier_eV`` is E(saddle) - E(reactant); ``ts_confirmed`` means exactly one imaginary mode and,
    where checked, a saddle that connects the reactant and the product.
    """

    reactant: Atoms
    product: Atoms
    ts: Atoms
    images: list[Atoms]
    image_energies: np.ndarray
    energies: dict[str, float]
    wavenumbers: dict[str, np.ndarray]
    converged: dict[str, bool]
    connects: bool | None

    @property
    def barrier_eV(self) -> float:
        return self.energies["ts"] - self.energies["reactant"]

    @property
    def ts_imaginary(self) -> int:
        return n_imaginary(self.wavenumbers["ts"])

    @property
    def ts_confirmed(self) -> bool:
        return self.ts_imaginary == 1 and self.connects is not False


def locate_critical_points(reactant: Atoms, guess: Atoms, product: Atoms, calc: Calculator,
                           hessian_fn: HessianFn, *, n_images: int = 9, min_fmax_eV_A: float = 1e-3,
                           neb_fmax_eV_A: float = 0.05, ts_fmax_eV_A: float = 1e-3, max_steps: int = 500,
                           check_connection: bool = True, evaluate: Evaluator | None = None) -> CriticalPoints:
    """Minima, NEB path and saddle point of one reaction on ``calc`` (see the module docstring).

    ``evaluate`` lets the NEB compute its images together (default: ``calc`` one image after the other).

    Optimisers stop after ``max_steps``; what they reached is kept and ``converged`` says which finished.
    Raises nothing for an unconverged search, so that a poor model's failure is a measurement.
    """
    r, r_ok = minimise(reactant, calc, fmax_eV_A=min_fmax_eV_A, steps=max_steps)
    p, p_ok = minimise(product, calc, fmax_eV_A=min_fmax_eV_A, steps=max_steps)
    g = guess.copy()
    g.positions = guess.positions - guess.positions.mean(0) + 0.5 * (r.positions.mean(0) + p.positions.mean(0))
    images, image_energies, neb_ok = climbing_image_neb(initial_path(r, g, p, n_images),
                                                        evaluate or calculator_evaluator(calc),
                                                        fmax_eV_A=neb_fmax_eV_A, steps=max_steps)
    climbing = images[int(np.argmax(image_energies[1:-1])) + 1]
    ts, ts_ok = refine_saddle(climbing, calc, hessian_fn, fmax_eV_A=ts_fmax_eV_A, steps=max_steps)
    energies = {k: float(calc.get_potential_energy(a)) for k, a in (("reactant", r), ("product", p), ("ts", ts))}
    hessians = {k: hessian_fn(a) for k, a in (("reactant", r), ("product", p), ("ts", ts))}
    wavenumbers = {k: normal_modes(a, hessians[k])[0] for k, a in (("reactant", r), ("product", p), ("ts", ts))}
    link = None
    if check_connection and n_imaginary(wavenumbers["ts"]) >= 1:
        ends = descend_from_saddle(ts, hessians["ts"], calc, fmax_eV_A=min_fmax_eV_A * 10, steps=max_steps)
        link = connects(ends, (r, energies["reactant"]), (p, energies["product"]))
    return CriticalPoints(r, p, ts, images, image_energies, energies, wavenumbers,
                          {"reactant": r_ok, "product": p_ok, "neb": neb_ok, "ts": ts_ok}, link)


def reaction_compositions(names: Sequence[str]) -> set[tuple[tuple[str, int], ...]]:
    """The element counts (:func:`paperlib.sampling.molecules.composition`) of the reactants and products of
    the shipped reactions ``names``."""
    from paperlib.sampling.molecules import composition

    out = set()
    for name in names:
        r = load_reaction(name)
        out |= {composition(r.atoms(k).get_chemical_symbols()) for k in ("reactant", "product")}
    return out
