import numpy as np
import pytest

from paperlib.models.base import Targets
from paperlib.models.bpnn import BPNNConfig, BPNNPotential
from paperlib.training import TrainConfig

from .mixin import PotentialMixin


def config(epochs: int) -> BPNNConfig:
    return BPNNConfig(hidden=(16,), device="cpu",
                      train=TrainConfig(max_epochs=epochs, learning_rate=3e-3, batch_size=8, progress=False))


def test_training_lowers_the_force_error(azobenzene_frames):
    train, test = azobenzene_frames[:24], azobenzene_frames[24:]
    untrained = BPNNPotential(config(1))
    untrained.fit(train, targets=Targets(0.01, 1.0))
    trained = BPNNPotential(config(40))
    report = trained.fit(train, targets=Targets(0.01, 1.0))
    assert report.train_loss[-1] < 0.5 * report.train_loss[0]
    err = {m: np.abs(m.predict(list(test)).forces - test.forces()).mean() for m in (untrained, trained)}
    assert err[trained] < 0.8 * err[untrained]


def test_energy_reference_makes_untrained_energies_sensible(azobenzene_frames):
    model = BPNNPotential(config(1))
    model.fit(azobenzene_frames[:10], targets=Targets(1.0, 0.0))
    e = model.predict(list(azobenzene_frames[10:14])).energies
    # Per-element reference energies put the total within a few eV of ~ -995 eV (a 24-atom molecule).
    np.testing.assert_allclose(e, azobenzene_frames[10:14].energies(), atol=5.0)


def test_rejects_unknown_elements_and_hessians(azobenzene_frames, nacl_frames):
    with pytest.raises(ValueError, match="elements"):
        BPNNPotential(config(1)).fit(nacl_frames[:2], targets=Targets(1.0, 1.0))
    with pytest.raises(ValueError, match="Hessian"):
        BPNNPotential(config(1)).fit(azobenzene_frames[:2], targets=Targets(1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="hidden"):
        BPNNConfig(hidden=())


class TestBPNNPotential(PotentialMixin):
    fd_tolerance = 1e-5

    @pytest.fixture(scope="class")
    def potential(self, azobenzene_frames):
        model = BPNNPotential(config(3))
        model.fit(azobenzene_frames[:12], targets=Targets(0.01, 1.0))
        return model

    @pytest.fixture
    def structures(self, azobenzene_frames):
        return [a.copy() for a in azobenzene_frames[20:23]]
