import numpy as np
import pytest
import torch
from ase import Atoms

from paperlib import keys
from paperlib.compat import import_schnetpack
from paperlib.data.dataset import Dataset
from paperlib.models.base import Targets
from paperlib.models.schnet import SchNetConfig, SchNetPotential, collate
from paperlib.reference.hessian import finite_difference_hessian
from paperlib.losses import (N_ATOMS, POSITIONS, REF_HESSIAN, hessian_loss, hessian_vector_products, model_hessians,
                             pad_atoms)
from paperlib.training import TrainConfig

from .springs import Springs, springs_hessian


def molecules(n: int = 4, seed: int = 0) -> list[Atoms]:
    """Small molecules of 3-5 atoms (H, C, N, O) with positions near bonding distances."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        size = 3 + k % 3
        pos = np.cumsum(rng.normal(scale=0.4, size=(size, 3)) + [1.0, 0.0, 0.0], axis=0)
        out.append(Atoms(rng.choice(["H", "C", "N", "O"], size=size).tolist(), positions=pos))
    return out


def labelled(structures: list[Atoms]) -> Dataset:
    """Structures labelled with the springs potential: energies, forces and exact Hessians."""
    out = []
    for a in structures:
        b = a.copy()
        calc = Springs()
        b.calc = calc
        b.info[keys.REF_energy] = b.get_potential_energy()
        b.arrays[keys.REF_forces] = b.get_forces()
        b.info[keys.REF_hessian] = springs_hessian(a.positions).ravel()
        b.calc = None
        out.append(b)
    return Dataset(out)


@pytest.fixture(scope="module")
def model() -> SchNetPotential:
    torch.manual_seed(0)
    return SchNetPotential(SchNetConfig(dtype="float64", device="cpu", cutoff_A=5.0,
                                        train=TrainConfig(progress=False)))


def training_batch(model: SchNetPotential, data: Dataset):
    model.net.train()
    batch = collate([model._graph(a, True) for a in data], torch.float64, torch.device("cpu"))
    out = model._forward(batch)
    return batch, out


def test_model_hessian_matches_finite_differences_of_its_forces(model):
    atoms = molecules()[2]
    h = model.predict([atoms], hessians=True).hessians[0]
    fd = finite_difference_hessian(atoms, model.calculator(), step_A=1e-4)
    assert np.abs(h).max() > 1e-3
    np.testing.assert_allclose(h, fd, atol=1e-6 * np.abs(h).max() + 1e-9)
    np.testing.assert_allclose(h, h.T, atol=1e-10)


def test_batched_hessians_equal_one_by_one_and_schnetpack(model):
    mols = molecules(5)
    together = model.predict(mols, hessians=True).hessians
    for a, h in zip(mols, together):
        assert h.shape == (3 * len(a), 3 * len(a))
        np.testing.assert_allclose(h, model.predict([a], hessians=True).hessians[0], atol=1e-10)
    # schnetpack's own (per-element) Hessian of the same batch
    spk = import_schnetpack()
    from schnetpack.atomistic.response import derivative_from_atomic

    batch, out = training_batch(model, labelled(mols))
    ref = derivative_from_atomic(-out["forces"], batch[POSITIONS], batch[N_ATOMS], retain_graph=True)
    ours = model_hessians(out["forces"], batch[POSITIONS], batch[N_ATOMS])
    start = 0
    for b, a in enumerate(mols):
        n = len(a)
        block = ref[start:start + n * n].reshape(n, n, 3, 3).permute(0, 2, 1, 3).reshape(3 * n, 3 * n)
        np.testing.assert_allclose(ours[b, :3 * n, :3 * n].detach().numpy(), block.detach().numpy(), atol=1e-10)
        start += n * n
    assert spk is not None


def test_hessian_vector_products_equal_hessian_times_vector(model):
    data = labelled(molecules(3))
    batch, out = training_batch(model, data)
    h = model_hessians(out["forces"], batch[POSITIONS], batch[N_ATOMS])
    v = torch.randn(2, *out["forces"].shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    hv = hessian_vector_products(out["forces"], batch[POSITIONS], v)
    for k in range(2):
        expected = torch.bmm(h, pad_atoms(v[k], batch[N_ATOMS]).unsqueeze(-1)).squeeze(-1)
        torch.testing.assert_close(pad_atoms(hv[k], batch[N_ATOMS]), expected, atol=1e-10, rtol=1e-10)


def test_hvp_loss_is_an_unbiased_estimate_of_the_full_hessian_loss(model):
    batch, out = training_batch(model, labelled(molecules(4)))
    assert batch[REF_HESSIAN].shape == (4, 15, 15)
    full = float(hessian_loss(out["forces"], batch, "full"))
    gen = torch.Generator().manual_seed(0)
    estimates = [float(hessian_loss(out["forces"], batch, "hvp", probes=64, generator=gen)) for _ in range(40)]
    # 2560 probes in all; the relative standard error of the mean is ~1% here, the tolerance 4%
    assert np.mean(estimates) == pytest.approx(full, rel=0.04)
    assert np.std(estimates) > 0
    with pytest.raises(ValueError, match="kind"):
        hessian_loss(out["forces"], batch, "diagonal")


@pytest.mark.parametrize("loss", ["full", "hvp"])
def test_hessian_training_reduces_hessian_error(loss):
    data = labelled(molecules(6, seed=3))
    torch.manual_seed(0)
    model = SchNetPotential(SchNetConfig(dtype="float64", device="cpu", cutoff_A=5.0, train=TrainConfig(
        max_epochs=60, batch_size=3, learning_rate=3e-3, progress=False, hessian_loss=loss, hessian_probes=2)))

    def hessian_mae() -> float:
        pred = model.predict(list(data), hessians=True).hessians
        return float(np.mean([np.abs(p - np.reshape(a.info[keys.REF_hessian], p.shape)).mean()
                              for p, a in zip(pred, data)]))

    before = hessian_mae()
    report = model.fit(data, targets=Targets(1.0, 1.0, 0.1))
    assert report.epochs == 60
    assert hessian_mae() < 0.7 * before


def test_train_config_rejects_bad_values():
    with pytest.raises(ValueError, match="hessian_loss: got 'exact'"):
        TrainConfig(hessian_loss="exact")
    with pytest.raises(ValueError, match="hessian_probes: got 0"):
        TrainConfig(hessian_probes=0)


def test_hessian_targets_need_hessian_labels(model):
    data = labelled(molecules(2))
    for a in data:
        del a.info[keys.REF_hessian]
    with pytest.raises(ValueError, match="REF_hessian"):
        model.fit(data, targets=Targets(1.0, 1.0, 1.0))


def test_calculator_returns_the_hessian(model):
    atoms = molecules()[1].copy()
    atoms.calc = model.calculator()
    h = atoms.calc.get_property("hessian", atoms)
    np.testing.assert_allclose(h, model.predict([atoms], hessians=True).hessians[0], atol=1e-12)
    assert atoms.get_potential_energy() == pytest.approx(float(model.predict([atoms]).energies[0]))
