import numpy as np
import pytest

from paperlib.models.base import Targets
from paperlib.models.mace import MACEConfig, MACEPotential

from .mixin import PotentialMixin

TINY = dict(hidden_irreps="8x0e + 8x1o", r_max_A=4.0, num_interactions=1, max_L=1, correlation=2, batch_size=2)


@pytest.fixture(scope="module")
def short_and_long(azobenzene_frames):
    out = {}
    for epochs in (1, 8):
        model = MACEPotential(MACEConfig(max_epochs=epochs, **TINY))
        model.fit(azobenzene_frames[:8], azobenzene_frames[16:18], targets=Targets(1.0, 100.0))
        out[epochs] = model
    return out


def test_training_longer_lowers_the_force_error(short_and_long, azobenzene_frames):
    test = azobenzene_frames[20:]
    err = {k: np.abs(m.predict(list(test)).forces - test.forces()).mean() for k, m in short_and_long.items()}
    assert err[8] < 0.8 * err[1]


def test_rejects_hessians_and_bad_settings(azobenzene_frames):
    with pytest.raises(ValueError, match="Hessian"):
        MACEPotential().fit(azobenzene_frames[:4], targets=Targets(1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="valid_fraction"):
        MACEConfig(valid_fraction=1.5)


class TestMACEPotential(PotentialMixin):
    fd_tolerance = 1e-4

    @pytest.fixture(scope="class")
    def potential(self, short_and_long):
        return short_and_long[8]

    @pytest.fixture
    def structures(self, azobenzene_frames):
        return [a.copy() for a in azobenzene_frames[20:23]]
