import numpy as np
import pytest

from paperlib.analysis.stability import StabilityCriteria, stable_fraction, time_to_failure
from paperlib.sampling.liquids import MOL_ID, pack_box, solvent_molecule, whole_molecules
from paperlib.sampling.paths import bond_graph


@pytest.fixture(scope="module")
def box():
    return pack_box([solvent_molecule("EC")], [8], 1.32, seed=0)


def test_a_stable_trajectory_never_fails(box):
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(5):
        f = box.copy()
        f.positions += rng.normal(scale=0.01, size=f.positions.shape)
        frames.append(f)
    assert time_to_failure(frames, [0, 10, 20, 30, 40]) == (None, None)


def test_constructed_failures_are_found_at_the_right_time(box):
    ok = box.copy()
    broken = box.copy()
    c, o = 0, 1   # the first two atoms of molecule 0 are bonded in the SMILES order (C1COC(=O)O1: C-C)
    assert (c, o) in bond_graph(box)
    broken.positions[o] += 2.5 * (broken.positions[o] - broken.positions[c]) / np.linalg.norm(
        broken.positions[o] - broken.positions[c])
    t, reason = time_to_failure([box, ok, broken, ok], [0.0, 5.0, 10.0, 15.0])
    assert t == 10.0 and "broke" in reason

    close = box.copy()
    close.positions[20] = close.positions[0] + [0.3, 0.0, 0.0]
    t, reason = time_to_failure([box, close], [0.0, 7.0])
    assert t == 7.0 and "apart" in reason

    # Rigid molecules moved apart: centres of mass scaled with a 1.2x longer cell (density 0.58x).
    expanded = box.copy()
    expanded.positions = whole_molecules(box)
    for mol in np.unique(box.arrays[MOL_ID]):
        idx = box.arrays[MOL_ID] == mol
        expanded.positions[idx] += 0.2 * expanded[idx].get_center_of_mass()
    expanded.set_cell(box.cell * 1.2)
    t, reason = time_to_failure([box, expanded], [0.0, 3.0])
    assert t == 3.0 and "density 0.58x" in reason


def test_stable_fraction_and_criteria_checks():
    assert stable_fraction([None, 50.0, 200.0], 100.0) == pytest.approx((1 + 0.5 + 1) / 3)
    with pytest.raises(ValueError, match="density_range"):
        StabilityCriteria(density_range=(1.1, 1.3))
    with pytest.raises(ValueError, match="frames"):
        time_to_failure([], [1.0])
