import numpy as np
import pytest
from ase import Atoms
from ase.calculators.emt import EMT

from paperlib.sampling.azobenzene import (ASSISTED, INVERSION, MECHANISMS, ROTATION, CollectiveVariables, RegionRule,
                                          Restrained, azo_indices, collective_variables, relaxed_scan, scan_targets)
from paperlib.sampling.paths import kabsch_rmsd


def azomethane(torsion_deg: float, angle1_deg: float, angle2_deg: float) -> Atoms:
    """C-N=N-C with the given CNNC torsion and CNN angles (N=N along x, first C in the xy plane), plus one H
    on each carbon, pointing away."""
    nn, nc = 1.25, 1.45
    a1, a2, t = np.radians([angle1_deg, angle2_deg, torsion_deg])
    n1, n2 = np.zeros(3), np.array([nn, 0.0, 0.0])
    c1 = n1 + nc * np.array([np.cos(a1), np.sin(a1), 0.0])
    # C2 sits at angle a2 from the N2->N1 axis, rotated by the torsion about the N=N axis.
    c2 = n2 + nc * np.array([-np.cos(a2), np.sin(a2) * np.cos(t), np.sin(a2) * np.sin(t)])
    h1 = c1 + 1.09 * (c1 - n1) / nc
    h2 = c2 + 1.09 * (c2 - n2) / nc
    return Atoms("CNNCHH", positions=[c1, n1, n2, c2, h1, h2])


@pytest.mark.parametrize("torsion, a1, a2, region", [
    (5.0, 122.0, 121.0, "cis"),
    (40.0, 130.0, 128.0, "cis"),
    (175.0, 117.0, 118.0, "trans"),
    (140.0, 120.0, 120.0, "trans"),
    (90.0, 125.0, 126.0, ROTATION),
    (60.0, 135.0, 120.0, ROTATION),
    (0.0, 175.0, 120.0, INVERSION),
    (178.0, 118.0, 150.0, INVERSION),
    (95.0, 155.0, 119.0, ASSISTED),
    (120.0, 119.0, 141.0, ASSISTED),
    (60.0, 174.0, 121.0, INVERSION),
])
def test_region_rule_on_hand_built_geometries(torsion, a1, a2, region):
    atoms = azomethane(torsion, a1, a2)
    cv = collective_variables(atoms)
    assert cv.torsion_deg == pytest.approx(torsion, abs=1e-6)
    assert (cv.angle1_deg, cv.angle2_deg) == pytest.approx((a1, a2), abs=1e-6)
    assert RegionRule().tag([atoms]) == [region]


def test_torsion_is_folded_and_sign_blind():
    assert collective_variables(azomethane(-30.0, 120.0, 120.0)).torsion_deg == pytest.approx(30.0, abs=1e-6)
    assert collective_variables(azomethane(200.0, 120.0, 120.0)).torsion_deg == pytest.approx(160.0, abs=1e-6)


def test_thresholds_move_the_boundaries():
    cv = CollectiveVariables(50.0, 138.0, 120.0)
    assert RegionRule().region(cv) == ROTATION
    assert RegionRule(planar_deg=55.0).region(cv) == "cis"
    assert RegionRule(wide_angle_deg=135.0).region(cv) == ASSISTED
    with pytest.raises(ValueError, match="planar_deg"):
        RegionRule(planar_deg=95.0)
    with pytest.raises(ValueError, match="wide_angle_deg"):
        RegionRule(wide_angle_deg=180.0)
    with pytest.raises(ValueError, match="linear_deg"):
        RegionRule(wide_angle_deg=150.0, linear_deg=145.0)
    assert RegionRule(linear_deg=180.0).region(CollectiveVariables(60.0, 175.0, 120.0)) == ASSISTED


def test_azo_indices_finds_the_unit_regardless_of_order():
    atoms = azomethane(170.0, 118.0, 118.0)
    perm = [5, 2, 0, 4, 3, 1]
    c1, n1, n2, c2 = azo_indices(atoms[perm])
    assert sorted([perm[n1], perm[n2]]) == [1, 2] and sorted([perm[c1], perm[c2]]) == [0, 3]
    with pytest.raises(ValueError, match="no C-N=N-C unit"):
        azo_indices(Atoms("CCO", positions=[[0, 0, 0], [1.5, 0, 0], [2.5, 1, 0]]))


def test_restraint_forces_are_minus_its_energy_gradient():
    atoms = azomethane(70.0, 125.0, 121.0)
    calc = Restrained(EMT(), azo_indices(atoms), dihedral_deg=120.0, angle_deg=150.0, k_eV_rad2=40.0)
    atoms.calc = calc
    forces = atoms.get_forces()
    for i, k in [(0, 1), (1, 2), (3, 0)]:
        plus, minus = atoms.copy(), atoms.copy()
        plus.positions[i, k] += 1e-5
        minus.positions[i, k] -= 1e-5
        plus.calc, minus.calc = calc, calc
        e_plus, e_minus = plus.get_potential_energy(), minus.get_potential_energy()
        assert -(e_plus - e_minus) / 2e-5 == pytest.approx(forces[i, k], abs=1e-5)
    base = atoms.copy()
    base.calc = EMT()
    bias = 0.5 * 40.0 * (np.radians(50.0) ** 2 + np.radians(25.0) ** 2)
    assert atoms.get_potential_energy() - base.get_potential_energy() == pytest.approx(bias, rel=1e-6)


def test_scan_targets_run_from_cis_to_trans():
    cis, trans = CollectiveVariables(10.0, 124.0, 124.0), CollectiveVariables(172.0, 117.0, 117.0)
    rot = scan_targets(ROTATION, cis, trans, 7)
    assert [t[0] for t in rot] == pytest.approx(np.linspace(10.0, 172.0, 7))
    assert all(t[1] is None for t in rot)
    inv = scan_targets(INVERSION, cis, trans, 7)
    angles = [t[1] for t in inv]
    assert angles[0] == 124.0 and angles[-1] == 117.0 and max(angles) == angles[3] == 176.0
    assert [t[0] for t in inv] == [None] * 4 + [172.0] * 3
    assisted = scan_targets(ASSISTED, cis, trans, 7, assisted_angle_deg=150.0)
    assert assisted[3][1] == pytest.approx(150.0) and assisted[0][1] == pytest.approx(124.0)
    with pytest.raises(ValueError, match="mechanism"):
        scan_targets("twist", cis, trans, 7)


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_relaxed_scans_are_connected_and_ordered(azobenzene_minima, mechanism):
    from paperlib.reference.xtb import xtb_calculator

    cis, trans = azobenzene_minima["cis"], azobenzene_minima["trans"]
    path = relaxed_scan(cis, trans, xtb_calculator(), mechanism, 9, fmax_eV_A=0.05, steps=300)
    assert [a.info["image"] for a in path] == list(range(9))
    assert all(a.info["mechanism"] == mechanism for a in path)
    # Connected: it starts at cis, neighbouring images are close, and it ends at a trans minimum (trans's
    # energy and collective variables; its atoms may be trans's mirror image or have a phenyl ring flipped).
    assert kabsch_rmsd(path[0], cis) < 0.15
    steps = [kabsch_rmsd(a, b) for a, b in zip(path, path[1:])]
    # 1.2 A bounds a relaxation jump of the phenyl rings; it is well under the cis -> trans distance.
    assert max(steps) < min(1.2, 0.5 * kabsch_rmsd(path[0], path[-1])), steps
    cvs = [collective_variables(a) for a in path]
    end, ref = path[-1].copy(), trans.copy()
    end.calc, ref.calc = xtb_calculator(), xtb_calculator()
    assert end.get_potential_energy() == pytest.approx(ref.get_potential_energy(), abs=0.03)
    assert cvs[-1].torsion_deg == pytest.approx(collective_variables(trans).torsion_deg, abs=5.0)
    if mechanism == INVERSION:
        angles = [cv.angle1_deg for cv in cvs]
        assert np.argmax(angles) == 4 and angles[4] > 165.0
    else:
        torsions = [cv.torsion_deg for cv in cvs]
        assert np.all(np.diff(torsions) > 0), torsions
    if mechanism == ASSISTED:
        assert cvs[4].angle1_deg > 145.0
