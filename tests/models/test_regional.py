import numpy as np
import pytest

from paperlib.models.base import Targets
from paperlib.models.gap import GAPConfig, GAPPotential
from paperlib.models.regional import FALLBACK, RegionalPotential

from .mixin import PotentialMixin

SMALL_GAP = GAPConfig(n_max=4, l_max=3, atom_sigma=0.5, cutoff_A=4.0, n_sparse=30, sigma_energy_eV=0.004,
                      sigma_force_eV_A=0.03)


def local_gap(min_points: int = 5) -> RegionalPotential:
    return RegionalPotential("gap", lambda: GAPPotential(SMALL_GAP), min_points=min_points, name="local_gap")


@pytest.fixture(scope="module")
def fitted(azobenzene_frames):
    model = local_gap()
    model.fit(azobenzene_frames, targets=Targets(1.0, 1.0))
    return model


def test_one_member_per_group_with_enough_data_and_a_fallback(fitted, azobenzene_frames):
    groups = fitted.group_of(list(azobenzene_frames))
    assert set(groups) >= {"cis", "trans"}
    assert "cis" in fitted.members and "trans" in fitted.members
    assert FALLBACK in fitted.members  # no transition frames in 500 K MD around the minima


def test_each_structure_goes_to_its_groups_member(fitted, azobenzene_frames):
    frames = list(azobenzene_frames[:3]) + list(azobenzene_frames[15:18])
    pred = fitted.predict(frames)
    for i, (atoms, group) in enumerate(zip(frames, fitted.group_of(frames))):
        own = fitted.members[group].predict([atoms])
        assert pred.energies[i] == pytest.approx(own.energies[0], abs=1e-9)
        np.testing.assert_allclose(pred.split_forces([len(a) for a in frames])[i], own.forces, atol=1e-9)


def test_groups_below_min_points_use_the_fallback(azobenzene_frames):
    model = local_gap(min_points=100)
    report = model.fit(azobenzene_frames[:12], targets=Targets(1.0, 1.0))
    assert list(model.members) == [FALLBACK]
    assert "uses the fallback" in report.notes


class TestRegionalPotential(PotentialMixin):
    fd_tolerance = 1e-4

    @pytest.fixture(scope="class")
    def potential(self, fitted):
        return fitted

    @pytest.fixture
    def structures(self, azobenzene_frames):
        return [azobenzene_frames[2].copy(), azobenzene_frames[17].copy(), azobenzene_frames[5].copy()]
