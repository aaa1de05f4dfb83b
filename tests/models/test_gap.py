import gc

import numpy as np
import pytest

from paperlib.models.base import Targets
from paperlib.models.gap import GAPConfig, GAPPotential

from .mixin import PotentialMixin


def test_gap_reproduces_its_training_forces_better_than_unseen(nacl_frames):
    model = GAPPotential(GAPConfig(n_sparse=40, l_max=4, n_max=6))
    model.fit(nacl_frames[:8], targets=Targets(1.0, 1.0))
    train_err = np.abs(model.predict(list(nacl_frames[:8])).forces - nacl_frames[:8].forces()).mean()
    test_err = np.abs(model.predict(list(nacl_frames[8:])).forces - nacl_frames[8:].forces()).mean()
    assert train_err < test_err
    assert test_err < np.abs(nacl_frames[8:].forces()).mean()  # better than predicting zero force


def test_the_fitted_models_own_directory_goes_with_it_and_a_saved_copy_stays(nacl_frames, tmp_path):
    model = GAPPotential(GAPConfig(n_sparse=10, l_max=2, n_max=2))
    model.fit(nacl_frames[:2])
    own = model._dir
    model.save(tmp_path / "saved")
    expected = model.predict(list(nacl_frames[8:9])).energies
    del model
    gc.collect()
    assert not own.exists()
    again = GAPPotential.load(tmp_path / "saved").predict(list(nacl_frames[8:9])).energies
    np.testing.assert_array_equal(again, expected)


def test_descriptor_carries_paper_settings():
    d = GAPConfig().descriptor()
    for item in ("n_max=8", "l_max=6", "atom_sigma=0.825", "cutoff=6.5", "cutoff_transition_width=0.5",
                 "delta=1.0", "zeta=4"):
        assert item in d


class TestGAPPotential(PotentialMixin):
    fd_tolerance = 1e-4

    @pytest.fixture(scope="class")
    def potential(self, nacl_frames):
        model = GAPPotential(GAPConfig(n_sparse=20, l_max=4, n_max=4))
        model.fit(nacl_frames[:6])
        return model

    @pytest.fixture
    def structures(self, nacl_frames):
        return [a.copy() for a in nacl_frames[8:11]]
