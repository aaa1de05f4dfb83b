import numpy as np
import pytest
from ase import Atoms

from paperlib import keys
from paperlib.data.dataset import Dataset
from paperlib.models.base import Targets
from paperlib.models.deepmd import (DeepMDConfig, DeepMDPotential, max_neighbours, sel_for, sel_problems,
                                    write_deepmd_systems)

from .mixin import PotentialMixin

SMALL = dict(descriptor_neurons=(8, 16), axis_neuron=4, fitting_neurons=(16, 16), rcut_A=4.0)


def labelled(symbols: str, positions, energy: float, pbc: bool = False) -> Atoms:
    a = Atoms(symbols, positions=positions, cell=[8.0] * 3 if pbc else None, pbc=pbc)
    a.info[keys.REF_energy] = energy
    a.arrays[keys.REF_forces] = np.arange(3 * len(a), dtype=float).reshape(-1, 3)
    return a


def test_npy_systems_group_by_atom_order_and_mark_molecules(tmp_path):
    data = Dataset([labelled("CH", [[0, 0, 0], [1.1, 0, 0]], -1.0), labelled("CH", [[0, 0, 0], [1.2, 0, 0]], -2.0),
                    labelled("HC", [[0, 0, 0], [1.1, 0, 0]], -3.0),
                    labelled("CH", [[0, 0, 0], [1.1, 0, 0]], -4.0, pbc=True)])
    systems = write_deepmd_systems(data, tmp_path, ["H", "C"])
    assert len(systems) == 3
    first = tmp_path / "system_000"
    assert (first / "type.raw").read_text().split() == ["1", "0"]
    assert (first / "type_map.raw").read_text().split() == ["H", "C"]
    np.testing.assert_allclose(np.load(first / "set.000" / "energy.npy"), [-1.0, -2.0])
    assert np.load(first / "set.000" / "coord.npy").shape == (2, 6)
    np.testing.assert_allclose(np.load(first / "set.000" / "force.npy")[0], np.arange(6.0))
    assert (first / "nopbc").exists() and not (first / "set.000" / "box.npy").exists()
    periodic = tmp_path / "system_002"
    assert not (periodic / "nopbc").exists()
    np.testing.assert_allclose(np.load(periodic / "set.000" / "box.npy"), [np.diag([8.0] * 3).ravel()])


def test_sel_counts_periodic_neighbours_and_a_small_sel_is_refused():
    """A simple-cubic carbon lattice (a = 1.5 A, periodic): within 1.6 A every atom has 6 neighbours, within
    2.2 A 18 (6 faces + 12 edges); a small cluster cut from it has fewer, which is what DeePMD-kit's ``auto``
    sizes ``sel`` from when the training data are clusters."""
    bulk = Atoms("C27", positions=[[1.5 * i, 1.5 * j, 1.5 * k] for i in range(3) for j in range(3) for k in range(3)],
                 cell=[4.5] * 3, pbc=True)
    assert max_neighbours([bulk], 1.6) == {"C": 6} and max_neighbours([bulk], 2.2) == {"C": 18}
    # Eight atoms of the lattice without periodic images: every atom has 3 + 3 neighbours within 2.2 A.
    cluster = Atoms("C8", positions=[[1.5 * i, 1.5 * j, 1.5 * k] for i in range(2) for j in range(2) for k in range(2)])
    assert max_neighbours([cluster], 2.2) == {"C": 6}
    assert sel_for([bulk], 2.2) == (("C", 23),)   # 18 x 1.25, rounded up
    assert sel_problems((("C", 23),), [bulk], 2.2) == []
    small = sel_problems((("C", 10),), [bulk], 2.2)
    assert small == ["an atom has 18 C neighbours within 2.2 A; sel keeps 10"]
    train = bulk.copy()
    train.info[keys.REF_energy] = -1.0
    train.arrays[keys.REF_forces] = np.zeros((27, 3))
    with pytest.raises(ValueError, match="sel .* drops neighbours of the training data: an atom has 18 C"):
        DeepMDPotential(DeepMDConfig(rcut_A=2.2, rcut_smth_A=0.5, sel=(("C", 10),))).fit(Dataset([train]))
    descriptor = DeepMDConfig(sel=(("C", 23), ("H", 40))).input_json(["H", "C"], ["s"])["model"]["descriptor"]
    assert descriptor["sel"] == [40, 23] and DeepMDConfig().input_json(["H"], ["s"])["model"]["descriptor"]["sel"] == "auto"


@pytest.fixture(scope="module")
def short_and_long(azobenzene_frames):
    out = {}
    for steps in (50, 600):
        model = DeepMDPotential(DeepMDConfig(steps=steps, **SMALL))
        model.fit(azobenzene_frames[:24])
        out[steps] = model
    return out


def test_training_longer_lowers_the_energy_error(short_and_long, azobenzene_frames):
    test = azobenzene_frames[24:]
    err = {k: np.abs(m.predict(list(test)).energies - test.energies()).mean() for k, m in short_and_long.items()}
    assert err[600] < 0.5 * err[50]


def test_rejects_unknown_elements_and_bad_settings(short_and_long, nacl_frames):
    with pytest.raises(ValueError, match="not in the training data"):
        short_and_long[50].predict([nacl_frames[0]])
    with pytest.raises(ValueError, match="rcut_smth_A"):
        DeepMDConfig(rcut_A=4.0, rcut_smth_A=5.0)
    with pytest.raises(ValueError, match="targets"):
        DeepMDPotential().fit(nacl_frames[:2], targets=Targets(1.0, 0.0))


class TestDeepMDPotential(PotentialMixin):
    fd_tolerance = 1e-4

    @pytest.fixture(scope="class")
    def potential(self, short_and_long):
        return short_and_long[600]

    @pytest.fixture
    def structures(self, azobenzene_frames):
        return [a.copy() for a in azobenzene_frames[24:27]]
