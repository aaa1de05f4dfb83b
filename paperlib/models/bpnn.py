"""Behler-Parrinello neural network (BPNN) behind the :class:`~paperlib.models.base.Potential` interface.

Each atom is described by atom-centred symmetry functions, torchani's ANI-1x atomic environment vectors
(radial and angular Behler-Parrinello functions with shifted centres, 5.2 A / 3.5 A cutoffs); one feed-forward
network per element maps them to an atomic energy, and the energy is their sum. Forces are minus the gradient
of the energy with respect to the positions (autograd). Training uses the shared loop of
:mod:`paperlib.training`.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from ase import Atoms

from paperlib import keys
from paperlib.data.dataset import Dataset
from paperlib.models.base import FitReport, PotentialCalculator, Predictions, Targets
from paperlib.determinism import cpu_determinism
from paperlib.losses import N_ATOMS
from paperlib.training import TrainConfig, fit_energy_reference, fit_torch, resolve_device

os.environ.setdefault("TORCHANI_NO_WARN_EXTENSIONS", "1")


@dataclasses.dataclass(frozen=True)
class BPNNConfig:
    """Network widths per element (``hidden``), CELU activations, the elements it can see (atomic numbers),
    device and training settings. The network runs in float64, so that finite differences of its energy
    match its forces."""

    hidden: tuple[int, ...] = (64, 64)
    elements: tuple[int, ...] = (1, 6, 7, 8)
    device: str = "auto"
    train: TrainConfig = TrainConfig(max_epochs=300, learning_rate=1e-3, batch_size=16, patience=60)

    def __post_init__(self):
        if not self.hidden or any(h < 1 for h in self.hidden):
            raise ValueError(f"BPNNConfig.hidden: got {self.hidden}; allowed: a non-empty tuple of positive widths")
        if sorted(set(self.elements)) != list(self.elements):
            raise ValueError(f"BPNNConfig.elements: got {self.elements}; allowed: sorted distinct atomic numbers")


class BPNNetwork(torch.nn.Module):
    """Symmetry functions -> per-element networks -> summed atomic energies (eV), with per-element reference
    energies and an energy scale fitted to the training set."""

    def __init__(self, config: BPNNConfig):
        super().__init__()
        from torchani.aev import AEVComputer

        self.aev = AEVComputer.like_1x(num_species=len(config.elements))
        self.register_buffer("element_index", torch.full((119,), -1, dtype=torch.long))
        self.element_index[list(config.elements)] = torch.arange(len(config.elements))
        self.register_buffer("e_ref", torch.zeros(len(config.elements), dtype=torch.float64))
        self.register_buffer("scale", torch.ones((), dtype=torch.float64))
        nets = []
        for _ in config.elements:
            layers, width = [], self.aev.out_dim
            for h in config.hidden:
                layers += [torch.nn.Linear(width, h), torch.nn.CELU(0.1)]
                width = h
            nets.append(torch.nn.Sequential(*layers, torch.nn.Linear(width, 1)))
        self.nets = torch.nn.ModuleList(nets)

    def forward(self, numbers: torch.Tensor, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Energies [B] (eV) and forces [B, n, 3] (eV/A) of padded structures (``numbers`` 0 for padding)."""
        species = torch.where(numbers > 0, self.element_index[numbers], -1)
        if (species[numbers > 0] < 0).any():
            raise ValueError("BPNN: structure contains an element the network was not built for")
        positions = positions.requires_grad_(True)
        features = self.aev(species, positions)
        atomic = torch.zeros(species.shape, dtype=positions.dtype, device=positions.device)
        for k, net in enumerate(self.nets):
            mask = species == k
            if mask.any():
                atomic = atomic.masked_scatter(mask, net(features[mask]).squeeze(-1).to(atomic.dtype))
        shift = torch.where(species >= 0, self.e_ref.to(atomic.dtype)[species.clamp(min=0)], 0.0)
        energy = (atomic * self.scale.to(atomic.dtype) + shift).sum(-1)
        (grad,) = torch.autograd.grad(energy.sum(), positions, create_graph=self.training)
        return energy, -grad


def _pad(structures: Sequence[Atoms], device: torch.device, dtype: torch.dtype):
    n = max(len(a) for a in structures)
    numbers = np.zeros((len(structures), n), dtype=np.int64)
    positions = np.zeros((len(structures), n, 3))
    for i, a in enumerate(structures):
        numbers[i, :len(a)] = a.numbers
        positions[i, :len(a)] = a.positions
    return torch.as_tensor(numbers, device=device), torch.as_tensor(positions, dtype=dtype, device=device)


class BPNNPotential:
    """A Behler-Parrinello network trained on energies and/or forces; implements
    :class:`~paperlib.models.base.Potential`."""

    name = "bpnn"

    def __init__(self, config: BPNNConfig = BPNNConfig(), name: str = "bpnn"):
        self.config = config
        self.name = name
        self.device = resolve_device(config.device)
        torch.manual_seed(config.train.seed)
        self.net = BPNNetwork(config).to(self.device, torch.float64)

    def _batch(self, structures: Sequence[Atoms], labels: bool) -> dict:
        numbers, positions = _pad(structures, self.device, torch.float64)
        batch = {"numbers": numbers, "positions": positions,
                 N_ATOMS: torch.as_tensor([len(a) for a in structures], device=self.device)}
        if labels:
            batch[keys.REF_energy] = torch.as_tensor([a.info[keys.REF_energy] for a in structures],
                                                     dtype=torch.float64, device=self.device)
            if all(keys.REF_forces in a.arrays for a in structures):
                batch[keys.REF_forces] = torch.as_tensor(np.concatenate([a.arrays[keys.REF_forces] for a in structures]),
                                                         dtype=torch.float64, device=self.device)
        return batch

    def _forward(self, batch: dict) -> dict:
        energy, forces = self.net(batch["numbers"], batch["positions"].clone())
        return {"energy": energy, "forces": forces[batch["numbers"] > 0]}

    def fit(self, train: Dataset, valid: Dataset | None = None, *, targets: Targets = Targets(0.01, 0.99)
            ) -> FitReport:
        """Train on ``train``; with ``valid``, keep the best-validation weights and stop early."""
        if targets.hessian > 0:
            raise ValueError("BPNNPotential.fit: Hessian targets are not supported by this backend")
        train.require(keys.REF_energy, *([keys.REF_forces] if targets.forces > 0 else []))
        unknown = sorted({int(z) for a in train for z in a.numbers} - set(self.config.elements))
        if unknown:
            raise ValueError(f"BPNNPotential.fit: elements {unknown} not in BPNNConfig.elements {self.config.elements}")
        e_ref, scale = fit_energy_reference(train)
        with torch.no_grad():
            for z, e in e_ref.items():
                self.net.e_ref[self.config.elements.index(z)] = e
            self.net.scale.fill_(scale)
        cfg = self.config.train
        structures = list(train)

        def make_batches(rng: np.random.Generator):
            order = rng.permutation(len(structures))
            return [self._batch([structures[i] for i in order[s:s + cfg.batch_size]], True)
                    for s in range(0, len(order), cfg.batch_size)]

        valid_batches = None
        if valid is not None and len(valid):
            vs = list(valid)
            valid_batches = [self._batch(vs[s:s + cfg.batch_size], True) for s in range(0, len(vs), cfg.batch_size)]
        return fit_torch(self.net, self._forward, make_batches, valid_batches, targets, cfg, desc=self.name)

    def predict(self, structures: Sequence[Atoms], batch_size: int = 64) -> Predictions:
        """Energies (eV) and forces (eV/A) as float64 numpy arrays; ``structures`` are not modified."""
        self.net.eval()
        energies, forces = [], []
        with cpu_determinism(self.device):
            for s in range(0, len(structures), batch_size):
                out = self._forward(self._batch(structures[s:s + batch_size], False))
                energies.append(out["energy"].detach().cpu().double().numpy())
                forces.append(out["forces"].detach().cpu().double().numpy())
        if not energies:
            return Predictions(np.zeros(0), np.zeros((0, 3)))
        return Predictions(np.concatenate(energies), np.concatenate(forces))

    def calculator(self) -> PotentialCalculator:
        """ASE calculator (energy, forces) backed by this model."""
        return PotentialCalculator(self)

    def save(self, path: str | Path) -> None:
        """Write ``model.pt`` (weights) and ``config.json`` into the directory ``path``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        torch.save(self.net.state_dict(), path / "model.pt")
        cfg = dataclasses.asdict(self.config)
        (path / "config.json").write_text(json.dumps({"name": self.name, **cfg}))

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> BPNNPotential:
        """Read a model written by :meth:`save` (onto ``device``, default the saved one)."""
        path = Path(path)
        raw = json.loads((path / "config.json").read_text())
        name = raw.pop("name")
        train = TrainConfig(**raw.pop("train"))
        config = BPNNConfig(hidden=tuple(raw["hidden"]), elements=tuple(raw["elements"]),
                            device=device or raw["device"], train=train)
        model = cls(config, name=name)
        model.net.load_state_dict(torch.load(path / "model.pt", map_location=model.device))
        return model
