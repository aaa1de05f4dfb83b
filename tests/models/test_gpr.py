import numpy as np
import pytest

from paperlib.models.base import Targets
from paperlib.models.gpr import FCHLConfig, FCHLPotential, best_setting, select_hyperparameters

from .mixin import PotentialMixin


def test_gp_reproduces_its_training_forces(ethanol_frames):
    train, test = ethanol_frames[:10], ethanol_frames[20:]
    model = FCHLPotential(FCHLConfig(sigma=4.0, regularisation=1e-10))
    model.fit(train, targets=Targets(1.0, 1.0))
    train_err = np.abs(model.predict(list(train)).forces - train.forces()).max()
    test_err = np.abs(model.predict(list(test)).forces - test.forces()).mean()
    assert train_err < 1e-3        # eV/A: interpolates its labels
    assert test_err < 0.5 * np.abs(test.forces() - test.forces().mean()).mean()


def test_forces_in_training_beat_energies_only(ethanol_frames):
    train, test = ethanol_frames[:16], ethanol_frames[16:]
    errors = {}
    for w in (0.0, 1.0):
        model = FCHLPotential(FCHLConfig(sigma=4.0 if w else 16.0, regularisation=1e-8))
        model.fit(train, targets=Targets(1.0, w))
        errors[w] = np.abs(model.predict(list(test)).forces - test.forces()).mean()
    assert errors[1.0] < errors[0.0] / 2


def test_hyperparameter_search_uses_the_grid_and_groups(ethanol_frames):
    sigma, lam, table = select_hyperparameters(ethanol_frames[:12], with_forces=True, sigmas=[2.0, 8.0],
                                               regularisations=[1e-8, 1e-4], folds=3)
    assert sigma in (2.0, 8.0) and lam in (1e-8, 1e-4) and len(table) == 4
    assert min(r["score_energy+forces"] for r in table) == next(r["score_energy+forces"] for r in table
                                                                if r["sigma"] == sigma and r["regularisation"] == lam)
    with pytest.raises(ValueError, match="folds"):
        select_hyperparameters(ethanol_frames[:12], with_forces=False, sigmas=[2.0], regularisations=[1e-8],
                               folds=3, groups=np.array(["a", "b"] * 6))


def test_energy_only_tuning_minimises_the_energy_error(ethanol_frames):
    kw = dict(with_forces=False, sigmas=[0.5, 4.0, 64.0], regularisations=[1e-10, 1e-2], folds=3)
    sigma, lam, table = select_hyperparameters(ethanol_frames[:12], score="energy", **kw)
    by_energy = min(table, key=lambda r: r["mae_energy_eV"])
    assert (sigma, lam) == (by_energy["sigma"], by_energy["regularisation"])
    # the same grid scored both ways: the common rule reads the same rows, so both choices come from one search
    common = best_setting(table, "energy+forces")
    assert common == min(table, key=lambda r: r["score_energy"] + r["mae_forces_eV_A"] / np.std(
        ethanol_frames[:12].forces()))
    assert select_hyperparameters(ethanol_frames[:12], score="energy+forces", **kw)[:2] == (
        common["sigma"], common["regularisation"])
    with pytest.raises(ValueError, match="score"):
        select_hyperparameters(ethanol_frames[:12], score="forces", **kw)


def test_hessian_targets_and_unknown_elements_are_refused(ethanol_frames):
    model = FCHLPotential(FCHLConfig(elements=(1, 6)))
    with pytest.raises(ValueError, match="Hessian"):
        model.fit(ethanol_frames[:4], targets=Targets(1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="elements"):
        model.fit(ethanol_frames[:4], targets=Targets(1.0, 0.0))


class TestKRR(PotentialMixin):
    fd_tolerance = 1e-4

    @pytest.fixture(scope="class")
    def potential(self, ethanol_frames):
        model = FCHLPotential(FCHLConfig(sigma=8.0), name="fchl19")
        model.fit(ethanol_frames[:10], targets=Targets(1.0, 0.0))
        return model

    @pytest.fixture
    def structures(self, ethanol_frames):
        return [a.copy() for a in ethanol_frames[20:23]]


class TestGPR(TestKRR):
    @pytest.fixture(scope="class")
    def potential(self, ethanol_frames):
        model = FCHLPotential(FCHLConfig(sigma=4.0), name="fchl19")
        model.fit(ethanol_frames[:6], targets=Targets(1.0, 1.0))
        return model
