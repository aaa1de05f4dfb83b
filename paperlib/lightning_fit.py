"""Training through a Lightning ``Trainer``, for runs on several devices (``TrainConfig.devices``) or with a
distribution strategy (``TrainConfig.strategy``).

The loss, optimiser, learning-rate decay, early stopping and best-weight selection are those of the in-memory
loop of :func:`paperlib.training.fit_torch`, which stays the default on one device because it avoids the
per-step overhead of a ``Trainer``. Differences: the batches are formed once and shuffled as whole batches each
epoch (a ``DistributedSampler`` hands each process its share of them), and the loss per epoch is the mean over
batches.

Inside a notebook (papermill runs every study in one) a multi-process run needs ``strategy="ddp_notebook"``
(processes forked from the kernel); from a script, ``"ddp"``.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch

from paperlib.models.base import FitReport, Targets

Batch = dict[str, torch.Tensor]


def accelerator_of(module: torch.nn.Module) -> str:
    """Lightning's name for the device the module's parameters are on (``"cpu"`` or ``"gpu"``)."""
    return "gpu" if next(module.parameters()).device.type == "cuda" else "cpu"


def trainer_kwargs(module: torch.nn.Module, config) -> dict:
    """The ``Trainer`` arguments that a :class:`~paperlib.training.TrainConfig` sets."""
    return dict(accelerator=accelerator_of(module), devices=config.devices, strategy=config.strategy,
                max_epochs=config.max_epochs, deterministic=False, inference_mode=False, logger=False,
                enable_progress_bar=config.progress, enable_model_summary=False, num_sanity_val_steps=0)


def fit_lightning(module: torch.nn.Module, forward: Callable[[Batch], Batch],
                  make_batches: Callable[[np.random.Generator], Sequence[Batch]],
                  valid_batches: Sequence[Batch] | None, targets: Targets, config) -> FitReport:
    """Optimise ``module`` like :func:`~paperlib.training.fit_torch`, through a Lightning ``Trainer`` with
    ``config.devices`` and ``config.strategy``; afterwards ``module`` holds the best weights (rank 0's)."""
    import pytorch_lightning as pl
    from torch.utils.data import DataLoader

    from paperlib.training import weighted_loss

    pl.seed_everything(config.seed, workers=True, verbose=False)
    probes = torch.Generator().manual_seed(config.seed)
    monitor = "val_loss" if valid_batches else "train_loss"
    history: dict[str, list[float]] = {"train_loss": [], "val_loss": []}

    class Task(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = module

        def _loss(self, batch: Batch, name: str) -> torch.Tensor:
            loss = weighted_loss(forward(batch), batch, targets, config, probes)
            self.log(name, loss, on_step=False, on_epoch=True, sync_dist=True,
                     batch_size=len(batch["REF_energy"]))
            return loss

        def training_step(self, batch: Batch, _index: int) -> torch.Tensor:
            return self._loss(batch, "train_loss")

        def validation_step(self, batch: Batch, _index: int) -> None:
            # Forces are gradients of the energy, so validation needs autograd; Hessian terms need the graph.
            self.net.train(targets.hessian > 0)
            with torch.enable_grad():
                self._loss(batch, "val_loss").detach()

        def on_train_epoch_end(self) -> None:
            for name in history:
                if name in self.trainer.callback_metrics:
                    history[name].append(float(self.trainer.callback_metrics[name]))

        def configure_optimizers(self):
            opt = torch.optim.Adam(self.net.parameters(), lr=config.learning_rate)
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=config.lr_decay,
                                                               patience=config.lr_patience,
                                                               min_lr=config.min_learning_rate)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "monitor": monitor}}

    def loader(batches: Sequence[Batch], shuffle: bool) -> DataLoader:
        return DataLoader(list(batches), batch_size=None, shuffle=shuffle)

    with tempfile.TemporaryDirectory(prefix="paperlib-lightning-") as tmp:
        best = pl.callbacks.ModelCheckpoint(dirpath=tmp, monitor=monitor, mode="min", save_top_k=1)
        callbacks = [best]
        if valid_batches:
            callbacks.append(pl.callbacks.EarlyStopping(monitor=monitor, patience=config.patience, mode="min"))
        trainer = pl.Trainer(default_root_dir=tmp, callbacks=callbacks, **trainer_kwargs(module, config))
        task = Task()
        start = time.perf_counter()
        trainer.fit(task, train_dataloaders=loader(make_batches(np.random.default_rng(config.seed)), True),
                    val_dataloaders=loader(valid_batches, False) if valid_batches else None)
        wall = time.perf_counter() - start
        if best.best_model_path:
            state = torch.load(best.best_model_path, map_location="cpu", weights_only=False)["state_dict"]
            module.load_state_dict({k.removeprefix("net."): v for k, v in state.items()})
    module.eval()
    return FitReport(wall_time_s=wall, epochs=trainer.current_epoch, train_loss=history["train_loss"],
                     valid_loss=history["val_loss"],
                     notes=f"Lightning: {config.devices} {accelerator_of(module)} device(s), "
                           f"strategy {config.strategy}")
