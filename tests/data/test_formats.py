import numpy as np
import pytest

from paperlib import keys
from paperlib.data.dataset import DataFileError
from paperlib.data.formats import read_rmd17, write_rmd17
from paperlib.units import kcal_per_mol


def _synthetic_rmd17(path, n_frames=5):
    rng = np.random.default_rng(0)
    z = np.array([6, 6, 8, 1, 1, 1, 1, 1, 1])
    np.savez(path, nuclear_charges=z, coords=rng.normal(size=(n_frames, 9, 3)),
             energies=-97000.0 + rng.normal(size=n_frames), forces=rng.normal(size=(n_frames, 9, 3)) * 30,
             old_indices=np.arange(n_frames), old_energies=rng.normal(size=n_frames))
    return np.load(path)


def test_rmd17_reader_converts_kcal_per_mol_to_ev(tmp_path):
    raw = _synthetic_rmd17(tmp_path / "rmd17_ethanol.npz")
    data = read_rmd17(tmp_path / "rmd17_ethanol.npz")
    assert len(data) == 5 and data[0].get_chemical_formula() == "C2H6O"
    np.testing.assert_allclose(data.energies(), raw["energies"] * kcal_per_mol, rtol=1e-12)
    np.testing.assert_allclose(data[3].arrays[keys.REF_forces], raw["forces"][3] * kcal_per_mol, rtol=1e-12)
    np.testing.assert_allclose(data[2].positions, raw["coords"][2])
    assert kcal_per_mol == pytest.approx(0.0433641, rel=1e-5)


def test_rmd17_round_trip(tmp_path):
    _synthetic_rmd17(tmp_path / "a.npz")
    data = read_rmd17(tmp_path / "a.npz")
    write_rmd17(data, tmp_path / "b.npz")
    back = read_rmd17(tmp_path / "b.npz")
    np.testing.assert_allclose(back.energies(), data.energies(), rtol=1e-12)
    np.testing.assert_allclose(back.forces(), data.forces(), rtol=1e-12)


def test_rmd17_reader_names_what_is_wrong(tmp_path):
    with pytest.raises(DataFileError, match="does not exist"):
        read_rmd17(tmp_path / "missing.npz")
    np.savez(tmp_path / "partial.npz", nuclear_charges=np.array([1, 1]), coords=np.zeros((2, 2, 3)))
    with pytest.raises(DataFileError, match="lacks"):
        read_rmd17(tmp_path / "partial.npz")
    np.savez(tmp_path / "bad.npz", nuclear_charges=np.array([1, 1]), coords=np.zeros((2, 2, 3)),
             energies=np.zeros(3), forces=np.zeros((2, 2, 3)))
    with pytest.raises(DataFileError, match="shapes disagree"):
        read_rmd17(tmp_path / "bad.npz")
    (tmp_path / "text.npz").write_text("not an archive")
    with pytest.raises(DataFileError, match="not a readable"):
        read_rmd17(tmp_path / "text.npz")
