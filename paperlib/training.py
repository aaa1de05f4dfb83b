"""Training of torch potentials: weighted energy/force losses, epochs, learning-rate decay, early stopping,
checkpoints and progress bars. Backends supply batches and a forward function; the loop is shared."""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch

from paperlib.models.base import FitReport, Targets

Batch = dict[str, torch.Tensor]
N_ATOMS = "_n_atoms"
"""Batch key of the atom count per structure (schnetpack's ``properties.n_atoms``)."""


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings.

    ``max_epochs`` bounds the run; with a validation set, training stops after ``patience`` epochs without
    improvement and the best-validation weights are kept. The learning rate decays by ``lr_decay`` when
    the monitored loss has not improved for ``lr_patience`` epochs.
    """

    max_epochs: int = 100
    learning_rate: float = 5e-4
    batch_size: int = 16
    patience: int = 50
    lr_decay: float = 0.5
    lr_patience: int = 10
    min_learning_rate: float = 1e-6
    seed: int = 0
    progress: bool = True


def resolve_device(device: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; otherwise ``torch.device(device)``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but torch sees no CUDA device; use 'cpu' or 'auto'")
    return torch.device(device)


def energy_force_loss(pred: Batch, batch: Batch, targets: Targets) -> torch.Tensor:
    """Weighted MSE: energies per atom (eV/atom)^2 and force components (eV/A)^2.

    Energies are compared per atom so that structures of different sizes weigh alike.
    """
    loss = pred["energy"].new_zeros(())
    if targets.energy > 0:
        n = batch[N_ATOMS].to(pred["energy"].dtype)
        loss = loss + targets.energy * torch.mean(((pred["energy"] - batch["REF_energy"]) / n) ** 2)
    if targets.forces > 0:
        loss = loss + targets.forces * torch.mean((pred["forces"] - batch["REF_forces"]) ** 2)
    return loss


def fit_torch(module: torch.nn.Module, forward: Callable[[Batch], Batch], make_batches: Callable[[np.random.Generator],
              Sequence[Batch]], valid_batches: Sequence[Batch] | None, targets: Targets,
              config: TrainConfig, desc: str = "training") -> FitReport:
    """Optimise ``module`` with Adam on ``loss(forward(batch), batch)``.

    Parameters
    ----------
    forward
        Maps a batch to predictions ``{"energy": [B], "forces": [sum n, 3]}``.
    make_batches
        Called once per epoch with the epoch's random generator; returns the (shuffled) training batches.
    valid_batches
        Optional fixed validation batches for early stopping and model selection.
    """
    from tqdm.auto import tqdm

    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    opt = torch.optim.Adam(module.parameters(), lr=config.learning_rate)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=config.lr_decay, patience=config.lr_patience,
                                                       min_lr=config.min_learning_rate)
    report = FitReport(wall_time_s=0.0, epochs=0)
    best = (float("inf"), None)
    stale = 0
    start = time.perf_counter()
    bar = tqdm(range(config.max_epochs), desc=desc, disable=not config.progress, leave=False)
    for _epoch in bar:
        module.train()
        total, count = 0.0, 0
        for batch in make_batches(rng):
            opt.zero_grad(set_to_none=True)
            loss = energy_force_loss(forward(batch), batch, targets)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(batch["REF_energy"])
            count += len(batch["REF_energy"])
        report.train_loss.append(total / count)
        monitored = report.train_loss[-1]
        if valid_batches:
            module.eval()
            vals = [float(energy_force_loss(forward(b), b, targets).detach()) * len(b["REF_energy"])
                    for b in valid_batches]
            monitored = sum(vals) / sum(len(b["REF_energy"]) for b in valid_batches)
            report.valid_loss.append(monitored)
        sched.step(monitored)
        report.epochs += 1
        bar.set_postfix(loss=f"{monitored:.3g}", lr=f"{opt.param_groups[0]['lr']:.1e}")
        if monitored < best[0]:
            best = (monitored, copy.deepcopy(module.state_dict()) if valid_batches else None)
            stale = 0
        else:
            stale += 1
            if valid_batches and stale >= config.patience:
                report.notes = f"early stop after {report.epochs} epochs"
                break
    bar.close()
    if best[1] is not None:
        module.load_state_dict(best[1])
    module.eval()
    report.wall_time_s = time.perf_counter() - start
    return report
