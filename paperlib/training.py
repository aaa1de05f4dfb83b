"""Training of torch potentials: weighted energy/force/Hessian losses, epochs, learning-rate decay, early
stopping and progress bars. Backends supply batches and a forward function; the loop is shared.

Hessian terms come in two kinds. ``"full"`` compares whole Hessians, built row by row with one backward
pass per row (3 max(n_atoms) passes per batch, since a batch's Hessian is block diagonal). ``"hvp"``
compares Hessian-vector products with k random sign vectors v: E_v ||(H - H_ref) v||^2 = ||H - H_ref||_F^2
when E[v v^T] = I, so it is an unbiased estimate of the full loss at k backward passes instead of 3n.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from paperlib import keys
from paperlib.data.dataset import Dataset
from paperlib.determinism import cpu_determinism
from paperlib.losses import HESSIAN_LOSSES, Batch, weighted_loss
from paperlib.models.base import FitReport, Targets
from paperlib.options import STRATEGIES, RunOptions



@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings.

    ``max_epochs`` bounds the run; with a validation set, training stops after ``patience`` epochs without
    improvement and the best-validation weights are kept. The learning rate decays by ``lr_decay`` when
    the monitored loss has not improved for ``lr_patience`` epochs. ``devices`` (> 1) or a ``strategy``
    other than ``"auto"`` trains through a Lightning ``Trainer`` (:mod:`paperlib.lightning_fit`), e.g. on
    several GPUs with ``devices=4, strategy="ddp_spawn"``; otherwise the in-memory loop runs.
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
    hessian_loss: str = "full"
    hessian_probes: int = 4
    devices: int = 1
    strategy: str = "auto"

    def __post_init__(self):
        if self.hessian_loss not in HESSIAN_LOSSES:
            raise ValueError(f"TrainConfig.hessian_loss: got {self.hessian_loss!r}; allowed: one of "
                             f"{', '.join(HESSIAN_LOSSES)}")
        if self.hessian_probes < 1:
            raise ValueError(f"TrainConfig.hessian_probes: got {self.hessian_probes}; allowed: an integer >= 1")
        if self.devices < 1:
            raise ValueError(f"TrainConfig.devices: got {self.devices}; allowed: an integer >= 1")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"TrainConfig.strategy: got {self.strategy!r}; allowed: one of {', '.join(STRATEGIES)}")
        if self.max_epochs < 1 or self.batch_size < 1:
            raise ValueError(f"TrainConfig: max_epochs and batch_size must be >= 1; got {self.max_epochs}, "
                             f"{self.batch_size}")

    @property
    def uses_lightning(self) -> bool:
        """Whether training goes through a Lightning ``Trainer`` (several devices or a strategy)."""
        return self.devices > 1 or self.strategy != "auto"


def with_runtime(config: Any, options: RunOptions, progress: bool = False) -> Any:
    """A network configuration (a dataclass with ``device`` and a :class:`TrainConfig` ``train``) set to train
    where ``options`` say, with or without a progress bar: what a cached step applies to the configuration it
    is keyed by, which leaves these settings at their defaults."""
    train = dataclasses.replace(config.train, devices=options.devices, strategy=options.strategy,
                                progress=progress)
    return dataclasses.replace(config, device=options.device, train=train)


def fit_energy_reference(train: Dataset) -> tuple[dict[int, float], float]:
    """Per-element reference energies (least squares of E on composition, eV) and the energy scale.

    The scale is the larger of the RMS of the training forces (eV/A, when present) and the standard deviation
    of the per-atom residual energy, so that the network's output is of order one; the second matters for
    data at stationary points, where all forces vanish.
    """
    elements = sorted({int(z) for a in train for z in a.numbers})
    counts = np.array([[np.sum(a.numbers == z) for z in elements] for a in train], dtype=float)
    energies = train.energies()
    coef, *_ = np.linalg.lstsq(counts, energies, rcond=None)
    scale = float(np.std((energies - counts @ coef) / counts.sum(1)))
    if all(keys.REF_forces in a.arrays for a in train):
        scale = max(scale, float(np.sqrt(np.mean(train.forces() ** 2))))
    return dict(zip(elements, coef.tolist())), max(scale, 1e-3)


def resolve_device(device: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; otherwise ``torch.device(device)``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but torch sees no CUDA device; use 'cpu' or 'auto'")
    return torch.device(device)


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
    if config.uses_lightning:
        from paperlib.lightning_fit import fit_lightning

        return fit_lightning(module, forward, make_batches, valid_batches, targets, config)
    with cpu_determinism(next(module.parameters()).device):
        return _fit_in_memory(module, forward, make_batches, valid_batches, targets, config, desc)


def _fit_in_memory(module: torch.nn.Module, forward: Callable[[Batch], Batch],
                   make_batches: Callable[[np.random.Generator], Sequence[Batch]],
                   valid_batches: Sequence[Batch] | None, targets: Targets, config: TrainConfig,
                   desc: str) -> FitReport:
    from tqdm.auto import tqdm

    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    probes = torch.Generator().manual_seed(config.seed)
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
            loss = weighted_loss(forward(batch), batch, targets, config.hessian_loss, config.hessian_probes, probes)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(batch[keys.REF_energy])
            count += len(batch[keys.REF_energy])
        report.train_loss.append(total / count)
        monitored = report.train_loss[-1]
        if valid_batches:
            # Hessian terms differentiate the forces, so their graph is kept (train mode) for validation too.
            module.train(targets.hessian > 0)
            vals = [float(weighted_loss(forward(b), b, targets, config.hessian_loss, config.hessian_probes,
                                        probes).detach()) * len(b[keys.REF_energy]) for b in valid_batches]
            monitored = sum(vals) / sum(len(b[keys.REF_energy]) for b in valid_batches)
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
