"""Training through a Lightning ``Trainer``, for runs on several devices (``TrainConfig.devices``) or with a
distribution strategy (``TrainConfig.strategy``).

The loss, optimiser, learning-rate decay, early stopping and best-weight selection are those of the in-memory
loop of :func:`paperlib.training.fit_torch`, which stays the default on one device because it avoids the
per-step overhead of a ``Trainer``. Differences: the batches are formed once and shuffled as whole batches each
epoch (a ``DistributedSampler`` hands each process its share of them), and the loss per epoch is the mean over
batches.

Inside a notebook (papermill runs every study in one) a multi-process run needs ``strategy="ddp_spawn"``:
``"ddp"`` relaunches the script, which a kernel does not have, and the forking ``"ddp_notebook"`` cannot start
once CUDA is initialised, which building a model on the GPU does. From a script, ``"ddp"`` is the usual choice.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from collections.abc import Callable, Sequence

import numpy as np
import pytorch_lightning as pl
import torch

from paperlib import keys
from paperlib.compat import ensure_torch_t_co
from paperlib.determinism import cpu_determinism
from paperlib.losses import Batch, weighted_loss
from paperlib.models.base import FitReport, Targets

# A spawned process imports this module (for the pickled task) before it unpickles the network inside it, so
# the shim that schnetpack needs is applied here, ahead of schnetpack's own import.
ensure_torch_t_co()


def accelerator_of(module: torch.nn.Module) -> str:
    """Lightning's name for the device the module's parameters are on (``"cpu"`` or ``"gpu"``)."""
    return "gpu" if next(module.parameters()).device.type == "cuda" else "cpu"


def trainer_kwargs(module: torch.nn.Module, config) -> dict:
    """The ``Trainer`` arguments that a :class:`~paperlib.training.TrainConfig` sets."""
    # deterministic=None: Lightning leaves torch's flag as fit_lightning sets it (False would switch it off).
    return dict(accelerator=accelerator_of(module), devices=config.devices, strategy=config.strategy,
                max_epochs=config.max_epochs, deterministic=None, inference_mode=False, logger=False,
                enable_progress_bar=config.progress, enable_model_summary=False, num_sanity_val_steps=0)


class _Task(pl.LightningModule):
    """The network and the weighted loss of :func:`~paperlib.losses.weighted_loss` as a LightningModule.

    Defined at module level so that spawned processes (``ddp_spawn``) can unpickle it."""

    def __init__(self, module: torch.nn.Module, forward: Callable[[Batch], Batch], targets: Targets, config):
        super().__init__()
        self.net = module
        self.forward_fn = forward
        self.targets = targets
        self.config = config
        self.history: dict[str, list[float]] = {"train_loss": [], "val_loss": []}
        self.monitor = "train_loss"
        self.probes = None

    def on_fit_start(self) -> None:
        self.probes = torch.Generator().manual_seed(self.config.seed)

    def _loss(self, batch: Batch, name: str) -> torch.Tensor:
        loss = weighted_loss(self.forward_fn(batch), batch, self.targets, self.config.hessian_loss,
                             self.config.hessian_probes, self.probes)
        self.log(name, loss, on_step=False, on_epoch=True, sync_dist=True, batch_size=len(batch[keys.REF_energy]))
        return loss

    def training_step(self, batch: Batch, _index: int) -> torch.Tensor:
        return self._loss(batch, "train_loss")

    def validation_step(self, batch: Batch, _index: int) -> None:
        # Forces are gradients of the energy, so validation needs autograd; Hessian terms need the graph.
        self.net.train(self.targets.hessian > 0)
        with torch.enable_grad():
            self._loss(batch, "val_loss")

    def on_train_epoch_end(self) -> None:
        for name, values in self.history.items():
            if name in self.trainer.callback_metrics:
                values.append(float(self.trainer.callback_metrics[name]))

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # The history travels in the checkpoint files, which every launcher leaves on the shared disk.
        checkpoint["paperlib_history"] = self.history

    def configure_optimizers(self):
        cfg = self.config
        opt = torch.optim.Adam(self.net.parameters(), lr=cfg.learning_rate)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=cfg.lr_decay, patience=cfg.lr_patience,
                                                           min_lr=cfg.min_learning_rate)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "monitor": self.monitor}}


def fit_lightning(module: torch.nn.Module, forward: Callable[[Batch], Batch],
                  make_batches: Callable[[np.random.Generator], Sequence[Batch]],
                  valid_batches: Sequence[Batch] | None, targets: Targets, config) -> FitReport:
    """Optimise ``module`` like :func:`~paperlib.training.fit_torch`, through a Lightning ``Trainer`` with
    ``config.devices`` and ``config.strategy``; afterwards ``module`` holds the best weights (rank 0's).
    The epoch count and loss history come from the last checkpoint, so they are complete whichever process
    (this one, forked or spawned ones) trained."""
    from torch.utils.data import DataLoader

    pl.seed_everything(config.seed, workers=True, verbose=False)
    task = _Task(module, forward, targets, config)
    task.monitor = "val_loss" if valid_batches else "train_loss"

    def loader(batches: Sequence[Batch], shuffle: bool) -> DataLoader:
        return DataLoader(list(batches), batch_size=None, shuffle=shuffle)

    with tempfile.TemporaryDirectory(prefix="paperlib-lightning-") as tmp:
        # Saved at the end of each training epoch, after validation and after the history is updated.
        best = pl.callbacks.ModelCheckpoint(dirpath=tmp, monitor=task.monitor, mode="min", save_top_k=1,
                                            save_last=True, save_on_train_epoch_end=True)
        callbacks = [best]
        if valid_batches:
            callbacks.append(pl.callbacks.EarlyStopping(monitor=task.monitor, patience=config.patience, mode="min"))
        trainer = pl.Trainer(default_root_dir=tmp, callbacks=callbacks, **trainer_kwargs(module, config))
        start = time.perf_counter()
        with cpu_determinism(next(module.parameters()).device):
            trainer.fit(task, train_dataloaders=loader(make_batches(np.random.default_rng(config.seed)), True),
                        val_dataloaders=loader(valid_batches, False) if valid_batches else None)
        wall = time.perf_counter() - start
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            # Free the rendezvous port, so that the next network of a sweep can start its own group.
            torch.distributed.destroy_process_group()
        state = torch.load(best.best_model_path, map_location="cpu", weights_only=False)["state_dict"]
        module.load_state_dict({k.removeprefix("net."): v for k, v in state.items()})
        last = torch.load(Path(tmp) / "last.ckpt", map_location="cpu", weights_only=False)
    module.eval()
    history = last["paperlib_history"]
    return FitReport(wall_time_s=wall, epochs=last["epoch"] + 1, train_loss=history["train_loss"],
                     valid_loss=history["val_loss"],
                     notes=f"Lightning: {config.devices} {accelerator_of(module)} device(s), "
                           f"strategy {config.strategy}")
