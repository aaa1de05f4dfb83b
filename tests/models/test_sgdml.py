import numpy as np
import pytest

from paperlib.models.base import Targets
from paperlib.models.sgdml import SGDMLConfig, SGDMLPotential

from .mixin import PotentialMixin


@pytest.fixture(scope="module")
def fitted(azobenzene_frames):
    model = SGDMLPotential(SGDMLConfig(sigmas=(10, 40)))
    report = model.fit(azobenzene_frames[:20], azobenzene_frames[20:25], targets=Targets(1.0, 1.0))
    return model, report


def test_learns_forces_and_picks_sigma_on_validation(fitted, azobenzene_frames):
    model, report = fitted
    assert len(report.valid_loss) == 2 and int(model.model["sig"]) == (10, 40)[int(np.argmin(report.valid_loss))]
    test = azobenzene_frames[25:]
    err = np.abs(model.predict(list(test)).forces - test.forces()).mean()
    # Better than predicting zero force by a wide margin (a fitted kernel model on similar MD frames).
    assert err < 0.5 * np.abs(test.forces()).mean()


def test_without_validation_uses_first_sigma(azobenzene_frames):
    model = SGDMLPotential(SGDMLConfig(sigmas=(30, 60)))
    model.fit(azobenzene_frames[:8])
    assert int(model.model["sig"]) == 30


def test_rejects_other_molecules_and_hessian_targets(fitted, azobenzene_frames, ethanol_frames):
    model, _ = fitted
    with pytest.raises(ValueError, match="not the trained molecule"):
        model.predict([ethanol_frames[0]])
    with pytest.raises(ValueError, match="targets"):
        SGDMLPotential().fit(azobenzene_frames[:5], targets=Targets(1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="sigmas"):
        SGDMLConfig(sigmas=())


class TestSGDMLPotential(PotentialMixin):
    fd_tolerance = 1e-3

    @pytest.fixture(scope="class")
    def potential(self, fitted):
        return fitted[0]

    @pytest.fixture
    def structures(self, azobenzene_frames):
        return [a.copy() for a in azobenzene_frames[25:28]]

    def test_permutation_invariance(self, potential, structures):
        """sGDML fixes the atom order; it is invariant under the molecule's own symmetric permutations, which
        it found in the training data, and refuses any other order."""
        atoms = structures[0]
        perms = potential.model["perms"]
        assert len(perms) > 1
        base = potential.predict([atoms])
        for perm in perms[1:]:
            moved = atoms[np.argsort(perm)]
            if not np.array_equal(moved.numbers, atoms.numbers):
                continue
            got = potential.predict([moved])
            assert got.energies[0] == pytest.approx(base.energies[0], abs=1e-6)
            np.testing.assert_allclose(got.forces, base.forces[np.argsort(perm)], atol=1e-6)
