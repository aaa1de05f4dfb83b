import numpy as np
import pytest
from ase import Atoms

from paperlib.analysis.contacts import closest_distances, contact_onset


def rock_salt(a=5.6):
    """A 2x2x2 conventional rock-salt cell of NaCl (64 ions; like ions a/sqrt(2) = 3.96 A apart)."""
    from ase.build import bulk

    return bulk("NaCl", "rocksalt", a=a, cubic=True).repeat(2)


def test_closest_distances_of_rock_salt_and_across_the_boundary():
    atoms = rock_salt()
    d = closest_distances([atoms], [("Na", "Na"), ("Na", "Cl"), ("Cl", "Cl")])
    assert d["Na-Cl"][0] == pytest.approx(2.8) and d["Na-Na"][0] == pytest.approx(5.6 / np.sqrt(2))
    # Two Na ions 2.0 A apart through the periodic boundary (x = 0.5 and x = L - 1.5).
    pair = Atoms("Na2", positions=[[0.5, 5, 5], [9.5, 5, 5]], cell=[11, 11, 11], pbc=True)
    assert closest_distances([pair], [("Na", "Na")])["Na-Na"][0] == pytest.approx(2.0)
    assert closest_distances([pair], [("Cl", "Cl")])["Cl-Cl"][0] == np.inf


def test_detector_fires_on_a_close_like_ion_pair_and_passes_the_reference():
    reference = [rock_salt() for _ in range(6)]
    rng = np.random.default_rng(0)
    for a in reference:
        a.positions += rng.normal(0, 0.05, a.positions.shape)
    threshold = closest_distances(reference, [("Na", "Na")])["Na-Na"].min() - 0.3
    assert contact_onset(closest_distances(reference, [("Na", "Na")])["Na-Na"], threshold, 3) is None

    # The same trajectory with one Na-Na pair pushed to 2.2 A in samples 2, 3 and 4.
    traj = [a.copy() for a in reference]
    na = [i for i, s in enumerate(traj[0].get_chemical_symbols()) if s == "Na"]
    i, j = na[0], min(na[1:], key=lambda k: traj[0].get_distance(na[0], k, mic=True))
    for k in (2, 3, 4):
        vec = traj[k].get_distance(i, j, mic=True, vector=True)
        traj[k].positions[j] = traj[k].positions[i] + vec / np.linalg.norm(vec) * 2.2
    closest = closest_distances(traj, [("Na", "Na")])["Na-Na"]
    assert closest[2] == pytest.approx(2.2) and contact_onset(closest, threshold, 3) == 2
    # Fewer consecutive close samples than required: no detection.
    assert contact_onset(closest, threshold, 4) is None


def test_a_single_close_sample_is_not_a_contact():
    assert contact_onset([3.0, 1.5, 3.0, 1.5, 3.0], 2.5, 2) is None
    assert contact_onset([3.0, 1.5, 1.4, 3.0], 2.5, 2) == 1
    with pytest.raises(ValueError, match="consecutive"):
        contact_onset([3.0], 2.5, 0)
