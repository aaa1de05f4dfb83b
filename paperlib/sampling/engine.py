"""Batched ML-driven MD: many replicas advanced together, one model call per step.

:func:`run_replicas` integrates any number of replicas (different seeds, models' starting boxes, even different
systems) with a torch force field (:class:`ForceField`; e.g. :meth:`paperlib.models.schnet.SchNetPotential.
force_field`) in one flat batch:

- velocity Verlet with a Nose-Hoover chain per replica (length 3, damping :data:`~paperlib.sampling.md.
  THERMOSTAT_DAMPING_FS`; the NVT ensemble of :func:`~paperlib.sampling.md.ase_md`), or plain NVE;
- a Verlet neighbour list per replica with a skin, rebuilt (and the positions wrapped into the cell) only when
  an atom of that replica has moved more than half the skin since the last build. For a model whose
  interactions vanish at its cutoff (SchNet's cosine cutoff) the forces equal those of a list rebuilt every
  step;
- positions, velocities and the thermostat in float64, the model in its own precision;
- the failure checks of :func:`~paperlib.sampling.md.ase_md` at the same points: on every sampled frame,
  :func:`~paperlib.sampling.md.problem` (non-finite values, a force above a bound, two atoms closer than a
  bound) and an optional ``check``. Non-finite values are also caught at every step (they would poison the
  neighbour lists) and reported at the next sampling point, as ASE's loop would. A replica that fails stops
  alone and is reported in its :class:`~paperlib.sampling.md.MDResult`; the others go on unchanged.

Initial velocities are those :func:`~paperlib.sampling.md.ase_md` draws for the same seed (ASE's Maxwell-
Boltzmann draw, centre-of-mass motion removed), and both thermostats act on the 3N - 3 degrees of freedom left
when the total momentum is zero (as LAMMPS' ``fix nvt`` does for the reference runs).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol

import numpy as np
import torch
from ase import Atoms, units
from ase.data import chemical_symbols
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
from tqdm.auto import tqdm

from paperlib import keys
from paperlib.neighbours import pairs_within
from paperlib.sampling.md import THERMOSTAT_DAMPING_FS, MDResult, pair_name, problem

CHAIN = 3
"""Thermostats per Nose-Hoover chain."""
DEFAULT_SKIN_A = 1.0
"""Verlet skin (A): a list holds pairs within cutoff + skin and lasts until an atom moves skin / 2."""


class Graph(NamedTuple):
    """Replicas as one flat batch: ``numbers`` and ``positions`` (A) of every atom of every replica, each
    replica's ``cells`` [R, 3, 3] (A) and ``pbc`` [R, 3], atoms per replica ``n_atoms`` [R], the replica of every
    atom ``replica``, and the pairs ``idx_i``, ``idx_j`` (flat atom indices) with their periodic ``offsets``
    (A: r_ij = x_j - x_i + offset)."""

    numbers: torch.Tensor
    positions: torch.Tensor
    cells: torch.Tensor
    pbc: torch.Tensor
    n_atoms: torch.Tensor
    replica: torch.Tensor
    idx_i: torch.Tensor
    idx_j: torch.Tensor
    offsets: torch.Tensor


class ForceField(Protocol):
    """A torch model that evaluates a :class:`Graph` in one call."""

    cutoff_A: float
    device: torch.device

    def __call__(self, graph: Graph) -> tuple[torch.Tensor, torch.Tensor]:
        """Energies [R] (eV) and forces [n, 3] (eV/A) of every replica of ``graph``, detached."""
        ...


@dataclasses.dataclass
class _Replica:
    """Per-replica state between rebuilds of the flat batch."""

    start: Atoms
    seed: int
    result: MDResult
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None   # i, j, Cartesian offsets (A)


def unlabelled(atoms: Atoms) -> Atoms:
    """A copy of ``atoms`` without calculator, momenta or reference labels (which belong to the start alone);
    other per-atom arrays (e.g. ``mol_id``) stay, so every snapshot carries them."""
    out = atoms.copy()
    out.calc = None
    for name in [k for k in out.arrays if k.startswith(keys.REF_PREFIX) or k == "momenta"]:
        del out.arrays[name]
    for name in [k for k in out.info if k.startswith(keys.REF_PREFIX)]:
        del out.info[name]
    return out


def initial_velocities(atoms: Atoms, temperature_K: float, seed: int) -> np.ndarray:
    """Velocities (A per ASE time unit) that :func:`~paperlib.sampling.md.ase_md` starts from for ``seed``."""
    work = atoms.copy()
    MaxwellBoltzmannDistribution(work, temperature_K=temperature_K, rng=np.random.default_rng(seed))
    Stationary(work)
    return work.get_velocities()


class _Chain:
    """Nose-Hoover chains, one per replica (Martyna-Tuckerman-Klein, one Trotter step per half step)."""

    def __init__(self, dof: torch.Tensor, temperature_K: float, tdamp_fs: float):
        self.kT = units.kB * temperature_K
        tau = tdamp_fs * units.fs
        self.dof = dof
        q = torch.full((len(dof), CHAIN), self.kT * tau ** 2, dtype=torch.float64, device=dof.device)
        q[:, 0] *= dof
        self.q = q
        self.v = torch.zeros_like(q)
        self.eta = torch.zeros_like(q)

    def keep(self, mask: torch.Tensor) -> None:
        """Only the chains of the replicas in ``mask``."""
        self.dof, self.q, self.v, self.eta = self.dof[mask], self.q[mask], self.v[mask], self.eta[mask]

    def _g(self, k: int, kinetic2: torch.Tensor) -> torch.Tensor:
        if k == 0:
            return (kinetic2 - self.dof * self.kT) / self.q[:, 0]
        return (self.q[:, k - 1] * self.v[:, k - 1] ** 2 - self.kT) / self.q[:, k]

    def half_step(self, kinetic2: torch.Tensor, h: float) -> torch.Tensor:
        """Advance the chains by ``h`` given twice the kinetic energy per replica; returns the factor that scales
        each replica's velocities."""
        last = CHAIN - 1
        self.v[:, last] += 0.5 * h * self._g(last, kinetic2)
        for k in range(last - 1, -1, -1):
            s = torch.exp(-0.25 * h * self.v[:, k + 1])
            self.v[:, k] = s * (s * self.v[:, k] + 0.5 * h * self._g(k, kinetic2))
        scale = torch.exp(-h * self.v[:, 0])
        kinetic2 = kinetic2 * scale ** 2
        self.eta += h * self.v
        for k in range(last):
            s = torch.exp(-0.25 * h * self.v[:, k + 1])
            self.v[:, k] = s * (s * self.v[:, k] + 0.5 * h * self._g(k, kinetic2))
        self.v[:, last] += 0.5 * h * self._g(last, kinetic2)
        return scale

    def energy(self) -> torch.Tensor:
        """The chains' energy per replica (eV): what NVT adds to the conserved quantity."""
        return (0.5 * self.q * self.v ** 2).sum(1) + self.dof * self.kT * self.eta[:, 0] + \
            self.kT * self.eta[:, 1:].sum(1)


def run_replicas(force_field: ForceField, starts: Sequence[Atoms], *, temperature_K: float, timestep_fs: float,
                 steps: int, sample_every: int, seeds: Sequence[int], thermostat: bool = True,
                 min_distance_A: float = 1.0, max_force_eV_A: float = 50.0, skin_A: float = DEFAULT_SKIN_A,
                 check: Callable[[Atoms], str | None] | None = None, progress: bool = True,
                 record: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None) -> list[MDResult]:
    """MD of every start (replica ``r`` from ``starts[r]`` with velocities of ``seeds[r]``), all in one batch.

    ``thermostat``: Nose-Hoover-chain NVT at ``temperature_K``, else NVE from velocities drawn at it. Frames
    every ``sample_every`` steps (copies of the start without its labels; positions as integrated, wrapped into
    the cell at each neighbour-list rebuild). A replica stops when it fails a check; the others continue.
    ``record(step, conserved, kinetic)`` is called after every step with each running replica's conserved energy
    (eV: potential + kinetic, plus the chains' energy under NVT) and kinetic energy (eV).
    """
    if len(starts) != len(seeds):
        raise ValueError(f"run_replicas: {len(starts)} starts but {len(seeds)} seeds")
    for name, value, ok, allowed in (("skin_A", skin_A, skin_A > 0, "> 0"),
                                     ("timestep_fs", timestep_fs, timestep_fs > 0, "> 0"),
                                     ("temperature_K", temperature_K, temperature_K > 0, "> 0"),
                                     ("steps", steps, steps >= 0, ">= 0"),
                                     ("sample_every", sample_every, sample_every >= 1, ">= 1")):
        if not ok:
            raise ValueError(f"run_replicas: {name} got {value}; allowed: {allowed}")
    if any(len(a) < 2 for a in starts):
        raise ValueError("run_replicas: starts need at least 2 atoms each (3N - 3 degrees of freedom)")
    device = force_field.device
    f64 = dict(dtype=torch.float64, device=device)
    reps = [_Replica(unlabelled(s), seed, MDResult([], 0, steps)) for s, seed in zip(starts, seeds)]
    x = torch.tensor(np.concatenate([r.start.positions for r in reps]), **f64)
    v = torch.tensor(np.concatenate([initial_velocities(r.start, temperature_K, r.seed) for r in reps]), **f64)
    masses = torch.tensor(np.concatenate([r.start.get_masses() for r in reps]), **f64)[:, None]
    numbers = torch.tensor(np.concatenate([r.start.numbers for r in reps]), dtype=torch.long, device=device)
    n_atoms = torch.tensor([len(r.start) for r in reps], dtype=torch.long, device=device)
    cells = torch.tensor(np.stack([r.start.cell.array for r in reps]), **f64)
    pbc = torch.tensor(np.stack([r.start.pbc for r in reps]), dtype=torch.bool, device=device)
    active = list(range(len(reps)))
    dt = timestep_fs * units.fs
    reach = force_field.cutoff_A + skin_A

    def replica_of_atoms() -> torch.Tensor:
        return torch.repeat_interleave(torch.arange(len(active), device=device), n_atoms)

    def bounds() -> np.ndarray:
        """Where each running replica's atoms start in the flat arrays (and, last, where they end)."""
        return np.concatenate([[0], np.cumsum(n_atoms.cpu().numpy())])

    rep_of = replica_of_atoms()                 # the running replica of every atom (changes only in drop)
    built = torch.full_like(x, np.inf)          # positions at each replica's last list build
    cached: list[torch.Tensor] = []             # idx_i, idx_j, offsets of the running replicas

    def graph() -> Graph:
        """The flat batch of the running replicas, rebuilding the lists of those that moved too far."""
        nonlocal x, built
        moved = torch.zeros(len(active), **f64).scatter_reduce(0, rep_of, (x - built).norm(dim=1), "amax")
        stale = torch.nonzero(~(moved <= 0.5 * skin_A)).flatten().tolist()
        if stale or not cached:
            starts_at = bounds()
            x_np = x.cpu().numpy()
            for k in stale:
                rep, sl = reps[active[k]], slice(starts_at[k], starts_at[k + 1])
                box = Atoms(rep.start.numbers, positions=x_np[sl], cell=rep.start.cell, pbc=rep.start.pbc)
                if box.pbc.all():
                    box.wrap()
                x_np[sl] = box.positions
                rep.pairs = pairs_within(box, reach)[:3]
            x = torch.tensor(x_np, **f64)
            built = torch.where(torch.isin(rep_of, torch.tensor(stale, dtype=torch.long, device=device))[:, None],
                                x, built)
            to = dict(dtype=torch.long, device=device)
            parts = [reps[r].pairs for r in active]
            cached[:] = [torch.tensor(np.concatenate([p[0] + b for p, b in zip(parts, starts_at)]), **to),
                         torch.tensor(np.concatenate([p[1] + b for p, b in zip(parts, starts_at)]), **to),
                         torch.tensor(np.concatenate([p[2] for p in parts]), **f64)]
        # The network sees only the pairs within its cutoff (the skin's pairs would cost as much as any other).
        i, j, off = cached
        within = (x[j] - x[i] + off).norm(dim=1) < force_field.cutoff_A
        return Graph(numbers, x, cells, pbc, n_atoms, rep_of, i[within], j[within], off[within])

    def evaluate() -> tuple[Graph, torch.Tensor, torch.Tensor]:
        g = graph()
        e, f = force_field(g)
        return g, e.to(torch.float64), f.to(torch.float64)

    def failures(g: Graph, e: torch.Tensor, f: torch.Tensor, sampled: bool) -> list[str | None]:
        """Why each running replica is unphysical now (None when it looks fine): non-finite values at every
        step, forces and closest approach at sampled steps only (where :func:`ase_md` checks them)."""
        bad_atoms = torch.zeros(len(active), **f64).index_add(0, g.replica, (~torch.isfinite(f).all(1)).double())
        finite = (torch.isfinite(e) & (bad_atoms == 0)).tolist()
        if not sampled:
            return [problem(ok, 0.0, np.inf, min_distance_A, max_force_eV_A) for ok in finite]
        fmax = torch.zeros(len(active), **f64).scatter_reduce(0, g.replica, f.norm(dim=1), "amax")
        d = (g.positions[g.idx_j] - g.positions[g.idx_i] + g.offsets).norm(dim=1)
        owner = g.replica[g.idx_i]
        dmin = torch.full((len(active),), np.inf, **f64).scatter_reduce(0, owner, d, "amin")
        names = ["atoms"] * len(active)
        for k in torch.nonzero(dmin < min_distance_A).flatten().tolist():
            # Name the elements of a replica's closest pair only when it fails (rare; the search is per pair).
            mine = torch.nonzero(owner == k).flatten()
            at = mine[torch.argmin(d[mine])]
            names[k] = pair_name(*(chemical_symbols[int(g.numbers[idx[at]])] for idx in (g.idx_i, g.idx_j)))
        return [problem(ok, fm, dm, min_distance_A, max_force_eV_A, name)
                for ok, fm, dm, name in zip(finite, fmax.tolist(), dmin.tolist(), names)]

    chain = _Chain((3 * n_atoms - 3).to(torch.float64), temperature_K, THERMOSTAT_DAMPING_FS) if thermostat else None

    def kinetic2() -> torch.Tensor:
        return torch.zeros(len(active), **f64).index_add(0, rep_of, (masses * v ** 2).sum(1))

    def thermostat_half() -> None:
        nonlocal v
        if chain is not None:
            v = v * chain.half_step(kinetic2(), 0.5 * dt)[rep_of][:, None]

    def drop(failed: list[int], step: int) -> None:
        """Stop the running replicas at positions ``failed`` (indices into ``active``); the others keep their
        state, forces included, so they go on as if the failed ones had never run with them."""
        nonlocal x, v, f, masses, numbers, n_atoms, cells, pbc, active, built, rep_of
        keep_rep = torch.ones(len(active), dtype=torch.bool, device=device)
        keep_rep[failed] = False
        keep_atom = keep_rep[rep_of]
        # Like ase_md, a failure is dated at the sampling point where it is seen.
        seen = min(steps, -(-step // sample_every) * sample_every)
        for k in failed:
            reps[active[k]].result.time_to_failure_fs = seen * timestep_fs
            reps[active[k]].result.steps_done = seen
        x, v, f, masses, numbers = x[keep_atom], v[keep_atom], f[keep_atom], masses[keep_atom], numbers[keep_atom]
        built = built[keep_atom]
        cached.clear()
        n_atoms, cells, pbc = n_atoms[keep_rep], cells[keep_rep], pbc[keep_rep]
        if chain is not None:
            chain.keep(keep_rep)
        active = [r for k, r in enumerate(active) if k not in set(failed)]
        rep_of = replica_of_atoms()

    g, e, f = evaluate()
    bar = tqdm(total=steps, desc=f"MD x{len(reps)} {temperature_K:g} K", disable=not progress, leave=False)
    try:
        for step in range(1, steps + 1):
            if not active:
                break
            thermostat_half()
            v = v + 0.5 * dt * f / masses
            x = x + dt * v
            g, e, f = evaluate()
            v = v + 0.5 * dt * f / masses
            thermostat_half()
            for r in active:
                reps[r].result.steps_done = step
            sampled = step % sample_every == 0 or step == steps
            reasons = failures(g, e, f, sampled)
            if sampled:
                starts_at = bounds()
                x_np = x.cpu().numpy()
                for k, r in enumerate(active):
                    if reasons[k] is not None:
                        continue
                    rep = reps[r]
                    snap = rep.start.copy()
                    snap.positions = x_np[starts_at[k]:starts_at[k + 1]]
                    reasons[k] = check(snap) if check is not None else None
                    if reasons[k] is None:
                        rep.result.frames.append(snap)
            if record is not None:
                k2 = kinetic2()
                record(step, e + 0.5 * k2 + (chain.energy() if chain is not None else 0.0), 0.5 * k2)
            failed = [k for k, why in enumerate(reasons) if why is not None]
            for k in failed:
                reps[active[k]].result.failure = reasons[k]
            if failed:
                drop(failed, step)
            bar.update(1)
    finally:
        bar.close()
    return [r.result for r in reps]


def model_md(potential, starts: Sequence[Atoms], *, temperature_K: float, timestep_fs: float, steps: int,
             sample_every: int, seeds: Sequence[int], min_distance_A: float = 1.0, max_force_eV_A: float = 50.0,
             check: Callable[[Atoms], str | None] | None = None, progress: bool = True) -> list[MDResult]:
    """Nose-Hoover-chain NVT of every start with a trained model: batched through :func:`run_replicas` when the
    model has a ``force_field()`` (the torch networks), else one :func:`~paperlib.sampling.md.ase_md` run per
    start through its ASE calculator (GAP, kernel models, the Deep Potential)."""
    run = dict(temperature_K=temperature_K, timestep_fs=timestep_fs, steps=steps, sample_every=sample_every,
               min_distance_A=min_distance_A, max_force_eV_A=max_force_eV_A, check=check, progress=progress)
    if hasattr(potential, "force_field"):
        return run_replicas(potential.force_field(), starts, seeds=seeds, **run)
    from paperlib.sampling.md import ase_md

    return [ase_md(start, potential.calculator(), seed=seed, **run) for start, seed in zip(starts, seeds)]
