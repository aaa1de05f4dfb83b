import numpy as np
import pytest
from ase import Atoms

from paperlib.analysis import deficiencies as D
from paperlib.sampling.liquids import MOL_ID


def water_pair(oh_A: float, contact_A: float) -> Atoms:
    """Two water-like molecules: the first's O-H bonds of length ``oh_A``, its O ``contact_A`` from an H of
    the second along x."""
    a = [[0, 0, 0], [oh_A, 0, 0], [0, oh_A, 0]]
    h2 = np.array([-contact_A, 0, 0])
    b = [h2 + [-0.96, 0, 0], h2, h2 + [-0.96, 0.96, 0]]
    atoms = Atoms("OHHOHH", positions=a + b)
    atoms.arrays[MOL_ID] = np.array([0, 0, 0, 1, 1, 1])
    return atoms


def test_extremes_find_the_closest_contact_and_the_longest_bond_of_each_pair():
    frames = [water_pair(0.96, 2.0), water_pair(1.10, 1.7)]
    ext = D.extremes(frames)
    assert ext["contact"]["H-O"] == pytest.approx(1.7)
    assert ext["bond"]["H-O"] == pytest.approx(1.10)
    # within a molecule nothing counts as a contact; the first frame fixes the bonds
    assert ext["contact"]["H-H"] > 1.7


def test_deficiencies_flag_what_the_reference_never_reaches_and_nothing_within_the_margins():
    reference = [[water_pair(0.96, 2.0), water_pair(1.00, 1.9)]]
    close = [water_pair(0.97, 1.9 - D.CONTACT_MARGIN_A - 0.1)]
    stretched = [water_pair(1.00 * (1 + D.BOND_MARGIN) + 0.05, 1.95)]
    within = [water_pair(1.00 * (1 + D.BOND_MARGIN) - 0.01, 1.9 - D.CONTACT_MARGIN_A + 0.05)]
    assert D.deficiencies([within], reference) == []
    found = D.deficiencies([close, stretched, close], reference, labels=["MACE", "DP", "DP"])
    kinds = {(r["kind"], r["pair"]): r for r in found}
    # moving the second molecule in brings its other atoms closer too: every flagged pair lies beyond its margin
    assert {("contact", "H-O"), ("bond", "H-O")} <= set(kinds)
    for r in found:
        assert (r["model_A"] < r["reference_A"] - D.CONTACT_MARGIN_A if r["kind"] == "contact"
                else r["model_A"] > r["reference_A"] * (1 + D.BOND_MARGIN))
    contact = kinds["contact", "H-O"]
    assert contact["runs"] == 2 and contact["reference_A"] == pytest.approx(1.9) and contact["by"] == "DP, MACE"
    assert contact["model_A"] == pytest.approx(1.9 - D.CONTACT_MARGIN_A - 0.1)
    assert contact["severity"] == pytest.approx((D.CONTACT_MARGIN_A + 0.1) / 1.9)
    assert [r["severity"] for r in found] == sorted((r["severity"] for r in found), reverse=True)
