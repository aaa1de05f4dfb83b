"""Network training through Lightning: devices and strategy reach the Trainer, and a CPU run trains like the loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from paperlib.models.base import Targets
from paperlib.models.schnet import SchNetConfig, SchNetPotential
from paperlib.training import TrainConfig


@pytest.mark.parametrize("kwargs, match", [({"devices": 0}, "devices: got 0"),
                                           ({"strategy": "horovod"}, "strategy: got 'horovod'; allowed")])
def test_bad_devices_or_strategy_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


def test_the_default_stays_in_the_loop_and_devices_or_strategy_select_lightning():
    assert not TrainConfig().uses_lightning
    assert TrainConfig(devices=4).uses_lightning and TrainConfig(strategy="ddp").uses_lightning


def test_devices_and_strategy_reach_the_trainer():
    import pytorch_lightning as pl

    from paperlib.lightning_fit import trainer_kwargs

    net = SchNetPotential(SchNetConfig(size="small", device="cpu")).net
    trainer = pl.Trainer(**trainer_kwargs(net, TrainConfig(devices=4, strategy="ddp_spawn", max_epochs=3)))
    assert trainer.num_devices == 4 and trainer.max_epochs == 3
    assert type(trainer.accelerator).__name__ == "CPUAccelerator"
    assert type(trainer.strategy).__name__ == "DDPStrategy" and trainer.strategy._start_method == "spawn"


def test_registry_settings_reach_the_train_config():
    from paperlib.models import registry

    model = registry.make("schnet_small", device="cpu", devices=3, strategy="ddp")
    assert (model.config.train.devices, model.config.train.strategy) == (3, "ddp")


def test_a_ddp_run_on_cpu_trains_like_the_loop(nacl_frames):
    """Same network, seed, data and epochs: the Lightning run (DDP, one CPU process, gloo) lowers the validation
    loss and ends within 10% of the in-memory loop's test force error (observed: 0.03%)."""
    train, valid = nacl_frames.subset(range(8)), nacl_frames.subset(range(8, 12))
    errors = {}
    for strategy in ("auto", "ddp"):
        model = SchNetPotential(SchNetConfig(size="small", device="cpu", train=TrainConfig(
            max_epochs=8, batch_size=4, progress=False, strategy=strategy)))
        report = model.fit(train, valid, targets=Targets(0.01, 0.99))
        errors[strategy] = float(np.abs(model.predict(list(valid)).forces - valid.forces()).mean())
        assert report.epochs == 8 and report.valid_loss[-1] < report.valid_loss[0]
    assert "strategy ddp" in report.notes
    assert errors["ddp"] == pytest.approx(errors["auto"], rel=0.1)


def test_two_spawned_processes_train_and_return_their_weights(nacl_frames):
    """ddp_spawn with 2 CPU processes (gloo): the parent's network gets rank 0's best weights, and the epoch
    count and loss history come back from the processes. Each process takes half of the batches, so an epoch
    has half the optimiser steps; the force error stays within 25% of the one-process run's (observed: 6%)."""
    train, valid = nacl_frames.subset(range(8)), nacl_frames.subset(range(8, 12))
    errors = {}
    for devices, strategy in ((1, "auto"), (2, "ddp_spawn")):
        model = SchNetPotential(SchNetConfig(size="small", device="cpu", train=TrainConfig(
            max_epochs=8, batch_size=4, progress=False, devices=devices, strategy=strategy)))
        initial = [p.detach().clone() for p in model.net.parameters()]
        report = model.fit(train, valid, targets=Targets(0.01, 0.99))
        assert any(not torch.equal(a, b) for a, b in zip(initial, model.net.parameters()))
        errors[devices] = float(np.abs(model.predict(list(valid)).forces - valid.forces()).mean())
    assert report.epochs == 8 and len(report.valid_loss) == 8 and report.valid_loss[-1] < report.valid_loss[0]
    assert errors[2] == pytest.approx(errors[1], rel=0.25)
