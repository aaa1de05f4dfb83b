import numpy as np
import pytest
import torch

from paperlib.compat import ensure_torch_t_co
from paperlib.models.base import Targets
from paperlib.models.schnet import SchNetConfig, SchNetPotential, atoms_to_graph
from paperlib.training import fit_energy_reference
from paperlib.training import TrainConfig

from .mixin import PotentialMixin


def test_compat_provides_t_co_for_schnetpack():
    ensure_torch_t_co()
    import torch.utils.data.dataloader as dl
    import typing

    assert isinstance(dl.T_co, typing.TypeVar) and dl.T_co.__covariant__


def test_neighbour_list_matches_brute_force(nacl_frames):
    atoms = nacl_frames[0]
    g = atoms_to_graph(atoms, 5.0)
    d = np.linalg.norm(atoms.positions[g["_idx_j"]] - atoms.positions[g["_idx_i"]] + g["_offsets"], axis=1)
    assert d.max() <= 5.0 and d.min() > 1.0
    from ase.neighborlist import neighbor_list

    assert len(d) == len(neighbor_list("d", atoms, 5.0))


def test_energy_reference_recovers_linear_composition(nacl_frames):
    e_ref, scale = fit_energy_reference(nacl_frames)
    per_atom = nacl_frames.energies() / nacl_frames.n_atoms()
    assert e_ref[11] + e_ref[17] == pytest.approx(2 * per_atom.mean(), rel=1e-6)
    assert scale == pytest.approx(np.sqrt(np.mean(nacl_frames.forces() ** 2)))


def test_training_reduces_force_error(nacl_frames):
    train, test = nacl_frames[:10], nacl_frames[10:]
    model = SchNetPotential(SchNetConfig(device="cpu", train=TrainConfig(max_epochs=40, batch_size=5,
                                                                         learning_rate=2e-3, progress=False)))
    before = np.abs(model.predict(list(test)).forces - test.forces()).mean()
    report = model.fit(train, targets=Targets(0.01, 0.99))
    after = np.abs(model.predict(list(test)).forces - test.forces()).mean()
    assert report.epochs == 40 and report.train_loss[-1] < 0.5 * report.train_loss[0]
    assert after < 0.8 * before


class TestSchNetPotential(PotentialMixin):
    fd_tolerance = 1e-6

    @pytest.fixture(scope="class")
    def potential(self, nacl_frames):
        torch.manual_seed(0)
        cfg = SchNetConfig(size="small", dtype="float64", device="cpu",
                           train=TrainConfig(max_epochs=2, batch_size=4, progress=False))
        model = SchNetPotential(cfg)
        model.fit(nacl_frames[:8])
        return model

    @pytest.fixture
    def structures(self, nacl_frames):
        return [a.copy() for a in nacl_frames[8:12]]
