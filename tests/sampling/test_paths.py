import numpy as np
import pytest
from ase import Atoms
from scipy.spatial.transform import Rotation

from paperlib.sampling.paths import (CriticalPoints, bond_graph, connects, initial_path, kabsch_rmsd, load_reaction,
                                     locate_critical_points, n_imaginary, reaction_names, same_minimum)


def test_every_shipped_reaction_loads_with_matching_shapes():
    names = reaction_names()
    assert len(names) >= 6
    for name in names:
        r = load_reaction(name)
        assert len(r.symbols) <= 8
        for which in ("reactant", "guess", "product"):
            assert r.atoms(which).positions.shape == (len(r.symbols), 3)
        assert bond_graph(r.atoms("reactant")) != bond_graph(r.atoms("product")) or name.endswith(
            ("cis_trans", "rotamer", "inversion"))
    with pytest.raises(ValueError, match="unknown reaction 'hcn'; allowed: hcn_hnc"):
        load_reaction("hcn")


def test_initial_path_runs_through_the_guess():
    r = load_reaction("hcn_hnc")
    path = initial_path(r.atoms("reactant"), r.atoms("guess"), r.atoms("product"), 7)
    assert len(path) == 7
    np.testing.assert_allclose(path[0].positions, r.reactant)
    np.testing.assert_allclose(path[3].positions, r.guess)
    np.testing.assert_allclose(path[-1].positions, r.product)
    np.testing.assert_allclose(path[1].positions, r.reactant + (r.guess - r.reactant) / 3)
    with pytest.raises(ValueError, match="odd"):
        initial_path(path[0], path[3], path[-1], 6)


def test_kabsch_rmsd_ignores_rigid_motion_but_not_reflection():
    r = load_reaction("nh3_inversion")
    a = r.atoms("reactant")
    moved = a.copy()
    moved.positions = Rotation.from_euler("xyz", [30, -50, 120], degrees=True).apply(a.positions) + [1.0, -2.0, 3.0]
    assert kabsch_rmsd(a, moved) < 1e-10
    # the inverted umbrella is the mirror image: no rotation maps one onto the other
    assert kabsch_rmsd(a, r.atoms("product")) > 0.3


def test_imaginary_modes_are_counted_beyond_the_noise_threshold():
    assert n_imaginary(np.array([-900.0, -20.0, 300.0, 1500.0])) == 1
    assert n_imaginary(np.array([-900.0, -120.0, 300.0])) == 2
    assert n_imaginary(np.array([200.0, 300.0])) == 0


def _cp(ts_wavenumbers, link) -> CriticalPoints:
    a = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]])
    return CriticalPoints(a, a, a, [a], np.zeros(1), {"reactant": 0.0, "product": 0.1, "ts": 0.5},
                          {"reactant": np.array([4000.0]), "product": np.array([4000.0]),
                           "ts": np.asarray(ts_wavenumbers)}, {}, link)


def test_a_saddle_is_confirmed_by_one_imaginary_mode_and_its_minima():
    assert _cp([-800.0, 500.0], True).ts_confirmed
    assert _cp([-800.0, 500.0], None).ts_confirmed          # connection not checked
    assert not _cp([-800.0, 500.0], False).ts_confirmed     # leads elsewhere
    assert not _cp([300.0, 500.0], True).ts_confirmed       # a minimum
    assert not _cp([-800.0, -400.0, 500.0], True).ts_confirmed   # second order
    assert _cp([-800.0, 500.0], True).barrier_eV == pytest.approx(0.5)


def test_minima_are_matched_by_bond_graph_and_energy():
    r = load_reaction("hcn_hnc")
    hcn, hnc = r.atoms("reactant"), r.atoms("product")
    assert same_minimum(hcn, -1.0, hcn, -1.002)
    assert not same_minimum(hcn, -1.0, hcn, -1.1)            # same bonds, other energy: another rotamer
    assert not same_minimum(hcn, -1.0, hnc, -1.0)            # other bonds
    assert connects([(hnc, 0.5), (hcn, -1.0)], (hcn, -1.0), (hnc, 0.5))
    assert connects([(hcn, -1.0), (hnc, 0.5)], (hcn, -1.0), (hnc, 0.5))
    assert not connects([(hcn, -1.0), (hcn, -1.0)], (hcn, -1.0), (hnc, 0.5))


def test_reference_saddle_of_ammonia_inversion():
    from paperlib.reference.hessian import finite_difference_hessian
    from paperlib.reference.xtb import xtb_calculator

    r = load_reaction("nh3_inversion")
    calc = xtb_calculator()
    cp = locate_critical_points(r.atoms("reactant"), r.atoms("guess"), r.atoms("product"), calc,
                                lambda a: finite_difference_hessian(a, calc), n_images=5)
    assert all(cp.converged.values())
    assert cp.ts_imaginary == 1 and cp.connects and cp.ts_confirmed
    assert 0.1 < cp.barrier_eV < 0.5                        # experiment ~0.25 eV; GFN2-xTB 0.26 eV
    assert abs(cp.energies["product"] - cp.energies["reactant"]) < 1e-4
    # the saddle is planar: N lies in the plane of the three H atoms
    h = cp.ts.positions[1:]
    normal = np.cross(h[1] - h[0], h[2] - h[0])
    assert abs(np.dot(cp.ts.positions[0] - h[0], normal / np.linalg.norm(normal))) < 0.02
    assert n_imaginary(cp.wavenumbers["reactant"]) == 0 and len(cp.wavenumbers["reactant"]) == 6
