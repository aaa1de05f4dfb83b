import numpy as np
import pytest
import torch

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
    with pytest.raises(ValueError, match="stage_two_epochs"):
        MACEConfig(max_epochs=5, stage_two_epochs=5)
    with pytest.raises(ValueError, match="dtype"):
        MACEConfig(dtype="float16")


def test_stage_two_removes_the_energy_offset(short_and_long, azobenzene_frames):
    """Forces weighted 100x the energies leave a per-atom energy offset after stage one; the second stage (energy
    weight 1000) must shrink the mean energy error by at least half on held-out frames. Trained and evaluated in
    float32, which the calculator must keep."""
    model = MACEPotential(MACEConfig(max_epochs=8, stage_two_epochs=3, dtype="float32", **TINY))
    model.fit(azobenzene_frames[:8], azobenzene_frames[16:18], targets=Targets(1.0, 100.0))
    assert {p.dtype for p in model._package_calculator().models[0].parameters()} == {torch.float32}
    test = azobenzene_frames[20:]
    offset = {name: abs(np.mean(m.predict(list(test)).energies - test.energies()))
              for name, m in (("one stage", short_and_long[8]), ("two stages", model))}
    assert offset["two stages"] < 0.5 * offset["one stage"], offset


class TestMACEPotential(PotentialMixin):
    fd_tolerance = 1e-4

    @pytest.fixture(scope="class")
    def potential(self, short_and_long):
        return short_and_long[8]

    @pytest.fixture
    def structures(self, azobenzene_frames):
        return [a.copy() for a in azobenzene_frames[20:23]]


def test_calculator_stress_is_the_strain_derivative_of_the_energy(short_and_long, azobenzene_frames):
    """A periodic cell small enough that images interact: stress = (1/V) dE/d(strain), central differences."""
    atoms = azobenzene_frames[20].copy()
    atoms.set_cell([11.0, 10.0, 9.0])
    atoms.pbc = True
    atoms.calc = short_and_long[8].calculator()
    stress = atoms.get_stress(voigt=False)
    cell0, h = atoms.cell.array.copy(), 1e-4
    fd = np.zeros((3, 3))
    for i in range(3):
        for j in range(3):
            energies = []
            for sign in (1, -1):
                strain = np.eye(3)
                strain[i, j] += sign * h
                strained = atoms.copy()
                strained.set_cell(cell0 @ strain, scale_atoms=True)
                strained.calc = short_and_long[8].calculator()
                energies.append(strained.get_potential_energy())
            fd[i, j] = (energies[0] - energies[1]) / (2 * h) / atoms.get_volume()
    np.testing.assert_allclose(stress, 0.5 * (fd + fd.T), atol=1e-6)
    assert np.abs(stress).max() > 1e-5   # the images do interact
    molecule = azobenzene_frames[20].copy()
    molecule.calc = short_and_long[8].calculator()
    with pytest.raises(Exception, match="periodic"):
        molecule.get_stress()


def test_a_model_file_evaluates_like_the_model(short_and_long, azobenzene_frames, tmp_path):
    short_and_long[8].save(tmp_path / "saved")
    model = MACEPotential.from_model_file(tmp_path / "saved" / "model.model")
    test = list(azobenzene_frames[20:23])
    a, b = model.predict(test), short_and_long[8].predict(test)
    np.testing.assert_allclose(a.energies, b.energies, rtol=1e-12)
    np.testing.assert_allclose(a.forces, b.forces, rtol=1e-10, atol=1e-12)
    assert model.name == "foundation"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        MACEPotential.from_model_file(tmp_path / "missing.model")


def test_the_engine_force_field_equals_the_calculator(short_and_long, azobenzene_frames):
    """Three molecules in one engine batch, two of them in 14 A periodic boxes (images inside r_max, so the pair
    offsets matter), after one MD step: the energies and forces the engine used equal the calculator's on the same
    geometries (float64 model: only the order of the sums differs, and the skin pairs beyond r_max contribute
    exactly zero)."""
    from ase import Atoms

    from paperlib.sampling.engine import run_replicas

    model = short_and_long[8]
    ff = model.force_field()
    seen = []

    class Spy:
        cutoff_A, device = ff.cutoff_A, ff.device

        def __call__(self, g):
            e, f = ff(g)
            seen.append((g.positions.clone(), e, f))
            return e, f

    def boxed(a, side):
        return Atoms(a.numbers, positions=a.positions - a.positions.mean(0) + side / 2, cell=[side] * 3, pbc=True)

    frames = [boxed(azobenzene_frames[20], 14.0), azobenzene_frames[21].copy(), boxed(azobenzene_frames[22], 14.0)]
    d = frames[0].get_all_distances(mic=True) - frames[0].get_all_distances(mic=False)
    assert d.min() < -1.0 and frames[0].get_all_distances(mic=True)[np.triu_indices(len(frames[0]), 1)].min() > 0.8
    run_replicas(Spy(), frames, temperature_K=300.0, timestep_fs=0.5, steps=1, sample_every=1, seeds=[0, 1, 2],
                 min_distance_A=0.1, progress=False)
    x, e, f = seen[1]
    n = len(frames[0])
    moved = [a.copy() for a in frames]
    for k, a in enumerate(moved):
        a.positions = x[k * n:(k + 1) * n].numpy()
    pred = model.predict(moved)
    np.testing.assert_allclose(e.numpy(), pred.energies, rtol=0, atol=1e-8)
    np.testing.assert_allclose(f.numpy(), pred.forces, rtol=0, atol=1e-8)
