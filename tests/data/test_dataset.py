import numpy as np
import pytest

from paperlib import keys
from paperlib.data.dataset import DataFileError, Dataset


def test_extxyz_round_trip_keeps_labels(tmp_path, nacl_frames):
    path = tmp_path / "pool.xyz"
    nacl_frames.write(path)
    back = Dataset.read(path, require=[keys.REF_energy, keys.REF_forces, keys.REF_atomic_energies])
    assert len(back) == len(nacl_frames)
    np.testing.assert_allclose(back.energies(), nacl_frames.energies(), rtol=1e-12)
    # extxyz stores per-atom arrays with 8 decimals
    np.testing.assert_allclose(back.forces(), nacl_frames.forces(), atol=1e-7)
    back.write(tmp_path / "again.xyz")
    assert Dataset.read(tmp_path / "again.xyz").fingerprint() == back.fingerprint()
    assert back[0].info[keys.TEMPERATURE] == 1400.0


def test_fingerprint_changes_with_labels(nacl_frames):
    other = Dataset([a.copy() for a in nacl_frames])
    other[0].info[keys.REF_energy] += 1e-6
    assert other.fingerprint() != nacl_frames.fingerprint()


def test_truncated_and_missing_files_raise_clear_errors(tmp_path, nacl_frames):
    path = tmp_path / "pool.xyz"
    nacl_frames.write(path)
    text = path.read_text().splitlines()
    (tmp_path / "cut.xyz").write_text("\n".join(text[: len(text) // 2 + 3]) + "\n")
    with pytest.raises(DataFileError, match="not valid extended XYZ"):
        Dataset.read(tmp_path / "cut.xyz")
    with pytest.raises(DataFileError, match="does not exist"):
        Dataset.read(tmp_path / "nope.xyz")


def test_missing_label_is_named(tmp_path, nacl_frames):
    stripped = Dataset([a.copy() for a in nacl_frames])
    del stripped[3].arrays[keys.REF_forces]
    stripped.write(tmp_path / "s.xyz")
    with pytest.raises(DataFileError, match="structure 3 lacks the label 'REF_forces'"):
        Dataset.read(tmp_path / "s.xyz", require=[keys.REF_forces])


def test_per_atom_index_and_subset(nacl_frames):
    sub = nacl_frames.subset([2, 0])
    assert sub[0] is nacl_frames[2]
    idx = nacl_frames.structure_index()
    assert len(idx) == len(nacl_frames.forces()) and idx[-1] == len(nacl_frames) - 1
