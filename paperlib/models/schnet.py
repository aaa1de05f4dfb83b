"""SchNet (schnetpack 2) behind the :class:`~paperlib.models.base.Potential` interface.

The network is schnetpack's own (``representation.SchNet``, ``atomistic.Atomwise``, ``atomistic.Forces``
inside ``model.NeuralNetworkPotential``). Training skips schnetpack's data pipeline: neighbour lists are
computed once per structure (matscipy) and batches are assembled in memory, which is what makes
paperlib's loop faster than ``ASEAtomsData`` + ``AtomisticTask`` + Lightning (see ``bench/``).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from ase import Atoms

from paperlib import keys
from paperlib.compat import import_schnetpack
from paperlib.data.dataset import Dataset
from paperlib.models.base import FitReport, PotentialCalculator, Predictions, Targets
from paperlib.neighbours import pairs_within
from paperlib.determinism import cpu_determinism
from paperlib.losses import REF_HESSIAN, model_hessians
from paperlib.training import TrainConfig, fit_energy_reference, fit_torch, resolve_device

spk = import_schnetpack()
P = spk.properties

SIZES: dict[str, dict[str, int]] = {
    # Tovey et al.: small / medium / large SchNet.
    "small": {"n_interactions": 3, "n_atom_basis": 32, "n_filters": 32},
    "medium": {"n_interactions": 4, "n_atom_basis": 48, "n_filters": 64},
    "large": {"n_interactions": 4, "n_atom_basis": 64, "n_filters": 128},
}


@dataclasses.dataclass(frozen=True)
class SchNetConfig:
    """Architecture and training settings (cutoff in Angstrom)."""

    size: str = "small"
    cutoff_A: float = 6.0
    n_rbf: int = 20
    dtype: str = "float32"
    device: str = "auto"
    train: TrainConfig = TrainConfig()

    def __post_init__(self):
        if self.size not in SIZES:
            raise ValueError(f"SchNetConfig.size: got {self.size!r}; allowed: one of {', '.join(SIZES)}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"SchNetConfig.dtype: got {self.dtype!r}; allowed: 'float32' or 'float64'")


def atoms_to_graph(atoms: Atoms, cutoff_A: float) -> dict[str, np.ndarray]:
    """Inputs of one structure in schnetpack's layout, with its neighbour list (pairs within ``cutoff_A``)."""
    i, j, offsets, cell = pairs_within(atoms, cutoff_A)
    return {
        P.Z: atoms.numbers.astype(np.int64),
        P.R: atoms.positions.astype(float),
        P.cell: cell[None],
        P.pbc: atoms.pbc[None].copy(),
        P.idx_i: i.astype(np.int64),
        P.idx_j: j.astype(np.int64),
        P.offsets: offsets,
    }


def collate(graphs: Sequence[dict[str, np.ndarray]], dtype: torch.dtype, device: torch.device) -> dict:
    """Concatenate graphs into one schnetpack batch (indices shifted, ``idx_m`` added)."""
    n = np.array([len(g[P.Z]) for g in graphs])
    shift = np.concatenate([[0], np.cumsum(n)[:-1]])
    cat = np.concatenate
    batch = {
        P.Z: torch.from_numpy(cat([g[P.Z] for g in graphs])),
        P.R: torch.from_numpy(cat([g[P.R] for g in graphs])).to(dtype),
        P.cell: torch.from_numpy(cat([g[P.cell] for g in graphs])).to(dtype),
        P.pbc: torch.from_numpy(cat([g[P.pbc] for g in graphs])),
        P.idx_i: torch.from_numpy(cat([g[P.idx_i] + s for g, s in zip(graphs, shift)])),
        P.idx_j: torch.from_numpy(cat([g[P.idx_j] + s for g, s in zip(graphs, shift)])),
        P.offsets: torch.from_numpy(cat([g[P.offsets] for g in graphs])).to(dtype),
        P.n_atoms: torch.from_numpy(n),
        P.idx_m: torch.from_numpy(np.repeat(np.arange(len(graphs)), n)),
    }
    for k in (keys.REF_energy, keys.REF_forces):
        if k in graphs[0]:
            batch[k] = torch.from_numpy(cat([np.atleast_1d(g[k]) for g in graphs])).to(dtype)
    if keys.REF_hessian in graphs[0]:
        m = 3 * int(n.max())
        padded = np.zeros((len(graphs), m, m))
        for b, (g, k) in enumerate(zip(graphs, 3 * n)):
            padded[b, :k, :k] = np.reshape(g[keys.REF_hessian], (k, k))
        batch[REF_HESSIAN] = torch.from_numpy(padded).to(dtype)
    return {k: v.to(device) for k, v in batch.items()}


class _EnergyScaleShift(torch.nn.Module):
    """E = scale * E_nn + sum_i e_ref[Z_i]: puts the network's O(1) output on the data's energy scale."""

    def __init__(self, max_z: int = 100):
        super().__init__()
        self.register_buffer("scale", torch.ones(()))
        self.register_buffer("e_ref", torch.zeros(max_z + 1))

    def forward(self, inputs: dict) -> dict:
        shift = torch.zeros_like(inputs["energy"]).index_add(0, inputs[P.idx_m], self.e_ref[inputs[P.Z]])
        inputs["energy"] = self.scale * inputs["energy"] + shift
        return inputs


def build_network(config: SchNetConfig) -> torch.nn.Module:
    """The schnetpack ``NeuralNetworkPotential`` for ``config``."""
    size = SIZES[config.size]
    rep = spk.representation.SchNet(
        n_atom_basis=size["n_atom_basis"], n_interactions=size["n_interactions"], n_filters=size["n_filters"],
        radial_basis=spk.nn.GaussianRBF(n_rbf=config.n_rbf, cutoff=config.cutoff_A),
        cutoff_fn=spk.nn.CosineCutoff(config.cutoff_A))
    return spk.model.NeuralNetworkPotential(
        representation=rep, input_modules=[spk.atomistic.PairwiseDistances()],
        output_modules=[spk.atomistic.Atomwise(n_in=size["n_atom_basis"], output_key="energy"),
                        _EnergyScaleShift(), spk.atomistic.Forces(energy_key="energy", force_key="forces")],
        input_dtype_str=config.dtype)


class SchNetPotential:
    """SchNet trained on energies, forces and/or Hessians; implements :class:`~paperlib.models.base.Potential`.

    Hessian training and prediction differentiate the forces once more; use ``dtype="float64"`` for them.
    """

    provides_hessians = True
    trains_on_hessians = True

    def __init__(self, config: SchNetConfig = SchNetConfig(), name: str | None = None):
        self.config = config
        self.name = name or f"schnet_{config.size}"
        self.device = resolve_device(config.device)
        self.dtype = getattr(torch, config.dtype)
        torch.manual_seed(config.train.seed)
        self.net = build_network(config).to(device=self.device, dtype=self.dtype)

    def _graph(self, atoms: Atoms, with_labels: bool) -> dict[str, np.ndarray]:
        g = atoms_to_graph(atoms, self.config.cutoff_A)
        if with_labels:
            if keys.REF_energy in atoms.info:
                g[keys.REF_energy] = np.array([atoms.info[keys.REF_energy]])
            if keys.REF_forces in atoms.arrays:
                g[keys.REF_forces] = atoms.arrays[keys.REF_forces]
            if keys.REF_hessian in atoms.info:
                g[keys.REF_hessian] = np.asarray(atoms.info[keys.REF_hessian], dtype=float)
        return g

    def _forward(self, batch: dict) -> dict:
        return self.net({k: v for k, v in batch.items() if not k.startswith(keys.REF_PREFIX)})

    def fit(self, train: Dataset, valid: Dataset | None = None, *, targets: Targets = Targets(0.01, 0.99)
            ) -> FitReport:
        """Train on ``train``; with ``valid``, keep the best-validation weights and stop early."""
        needed = [keys.REF_energy] + ([keys.REF_forces] if targets.forces > 0 else []) + (
            [keys.REF_hessian] if targets.hessian > 0 else [])
        train.require(*needed)
        e_ref, scale = fit_energy_reference(train)
        shift = self.net.output_modules[1]
        shift.scale.fill_(scale)
        for z, e in e_ref.items():
            shift.e_ref[z] = e
        cfg = self.config.train
        graphs = [self._graph(a, True) for a in train]

        def make_batches(rng: np.random.Generator):
            order = rng.permutation(len(graphs))
            return [collate([graphs[i] for i in order[s:s + cfg.batch_size]], self.dtype, self.device)
                    for s in range(0, len(order), cfg.batch_size)]

        valid_batches = None
        if valid is not None and len(valid):
            valid.require(*needed)
            vg = [self._graph(a, True) for a in valid]
            valid_batches = [collate(vg[s:s + cfg.batch_size], self.dtype, self.device)
                             for s in range(0, len(vg), cfg.batch_size)]
        return fit_torch(self.net, self._forward, make_batches, valid_batches, targets, cfg, desc=self.name)

    def predict(self, structures: Sequence[Atoms], batch_size: int = 32, hessians: bool = False) -> Predictions:
        """Energies (eV), forces (eV/A) and, with ``hessians``, Hessians ([3n, 3n] eV/A^2 per structure) in
        float64 numpy arrays; ``structures`` are not modified."""
        self.net.eval()
        forces_module = self.net.output_modules[-1]
        energies, forces, hess = [], [], []
        with torch.enable_grad(), cpu_determinism(self.device):
            for s in range(0, len(structures), batch_size):
                graphs = [self._graph(a, False) for a in structures[s:s + batch_size]]
                batch = collate(graphs, self.dtype, self.device)
                # schnetpack keeps the forces' graph only in training mode; Hessians differentiate it again.
                forces_module.train(hessians)
                try:
                    out = self._forward(batch)
                    if hessians:
                        blocks = model_hessians(out["forces"], batch[P.R], batch[P.n_atoms]).detach().cpu()
                        hess += [blocks[b, :3 * len(g[P.Z]), :3 * len(g[P.Z])].double().numpy()
                                 for b, g in enumerate(graphs)]
                finally:
                    forces_module.eval()
                energies.append(out["energy"].detach().cpu().double().numpy())
                forces.append(out["forces"].detach().cpu().double().numpy())
        if not energies:
            return Predictions(np.zeros(0), np.zeros((0, 3)), [] if hessians else None)
        return Predictions(np.concatenate(energies), np.concatenate(forces), hess if hessians else None)

    def calculator(self) -> PotentialCalculator:
        """ASE calculator (energy, forces, and ``hessian`` [3n, 3n] on request) backed by this model."""
        return PotentialCalculator(self)

    def force_field(self) -> SchNetForceField:
        """This model as the force field of the batched MD engine (:mod:`paperlib.sampling.engine`)."""
        return SchNetForceField(self)

    def save(self, path: str | Path) -> None:
        """Write ``config.json`` and ``model.pt`` (state dict) into the directory ``path``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / "config.json").write_text(json.dumps({"name": self.name, **dataclasses.asdict(self.config)}))
        torch.save(self.net.state_dict(), path / "model.pt")

    def schnetpack_model(self) -> torch.nn.Module:
        """This network as a model of schnetpack's own modules only, in float64 on the CPU, which schnetpack's
        ``SpkCalculator`` loads with no paperlib installed: the energy scale and per-element offsets become
        ``transform.ScaleProperty`` and ``transform.AddOffsets`` (the same arithmetic)."""
        import copy

        shift = self.net.output_modules[1]
        scale = spk.transform.ScaleProperty("energy", scale=shift.scale.detach().reshape(()).clone())
        offsets = spk.transform.AddOffsets("energy", add_atomrefs=True, zmax=len(shift.e_ref))
        offsets.atomref = shift.e_ref.detach().clone()
        offsets._atomrefs_initialized = True
        net = copy.deepcopy(self.net).cpu()
        model = spk.model.NeuralNetworkPotential(
            representation=net.representation, input_modules=list(net.input_modules),
            output_modules=[net.output_modules[0], scale, offsets, net.output_modules[2]],
            input_dtype_str="float64")
        model.spk_version = importlib.metadata.version("schnetpack")
        return model.to(torch.float64).eval()

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> SchNetPotential:
        """Read a model written by :meth:`save` (optionally onto another ``device``)."""
        path = Path(path)
        raw = json.loads((path / "config.json").read_text())
        name = raw.pop("name")
        raw["train"] = TrainConfig(**raw["train"])
        if device is not None:
            raw["device"] = device
        model = cls(SchNetConfig(**raw), name=name)
        model.net.load_state_dict(torch.load(path / "model.pt", map_location=model.device))
        model.net.eval()
        return model


class SchNetForceField:
    """A SchNet evaluating many replicas in one call: :class:`paperlib.sampling.engine.ForceField`."""

    def __init__(self, potential: SchNetPotential):
        self.net = potential.net
        self.cutoff_A = potential.config.cutoff_A
        self.device = potential.device
        self.dtype = potential.dtype
        self.net.eval()

    def __call__(self, graph) -> tuple[torch.Tensor, torch.Tensor]:
        """Energies [R] (eV) and forces [n, 3] (eV/A) of the flat batch ``graph`` (an engine ``Graph``)."""
        def cast(t: torch.Tensor) -> torch.Tensor:
            return t.detach().to(dtype=self.dtype, copy=True)

        batch = {P.Z: graph.numbers, P.R: cast(graph.positions), P.cell: cast(graph.cells), P.pbc: graph.pbc,
                 P.idx_i: graph.idx_i, P.idx_j: graph.idx_j, P.offsets: cast(graph.offsets),
                 P.n_atoms: graph.n_atoms, P.idx_m: graph.replica}
        with torch.enable_grad(), cpu_determinism(self.device):
            out = self.net(batch)
        return out["energy"].detach(), out["forces"].detach()
