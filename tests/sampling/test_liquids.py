import numpy as np
import pytest

from paperlib.sampling.liquids import (MOL_ID, SOLVENTS, counts_for_weight_fractions, cut_cluster, pack_box,
                                       solvent_molecule, whole_molecules)
from paperlib.sampling.md import density_g_cm3
from paperlib.sampling.paths import bond_graph


@pytest.fixture(scope="module")
def solvents():
    return {n: solvent_molecule(n) for n in ("EC", "EMC")}


@pytest.fixture(scope="module")
def box(solvents):
    counts = counts_for_weight_fractions(solvents, {"EC": 3.0, "EMC": 7.0}, 16)
    # EC:EMC 3:7 by weight at the mixture's experimental density (about that of EMC's and EC's weighted mean).
    return pack_box([solvents["EC"], solvents["EMC"]], [counts["EC"], counts["EMC"]], 1.1, seed=4), counts


def intermolecular_min_distance(atoms) -> float:
    d = atoms.get_all_distances(mic=True)
    same = atoms.arrays[MOL_ID][:, None] == atoms.arrays[MOL_ID][None, :]
    return float(d[~same].min())


def test_weight_fractions_become_molecule_counts(solvents):
    counts = counts_for_weight_fractions(solvents, {"EC": 3.0, "EMC": 7.0}, 40)
    assert sum(counts.values()) == 40
    m_ec, m_emc = (solvents[n].get_masses().sum() for n in ("EC", "EMC"))
    mass_fraction = counts["EC"] * m_ec / (counts["EC"] * m_ec + counts["EMC"] * m_emc)
    assert mass_fraction == pytest.approx(0.3, abs=0.5 * m_emc / (40 * 100.0))
    with pytest.raises(ValueError, match="n_molecules"):
        counts_for_weight_fractions(solvents, {"EC": 1.0, "EMC": 1.0}, 1)


def test_packed_box_has_the_density_no_overlaps_and_intact_molecules(box, solvents):
    atoms, counts = box
    assert density_g_cm3(atoms) == pytest.approx(1.1, rel=1e-9)
    assert intermolecular_min_distance(atoms) >= 1.7
    assert len(np.unique(atoms.arrays[MOL_ID])) == sum(counts.values())
    whole = atoms.copy()
    whole.positions = whole_molecules(atoms)
    whole.pbc = False
    for mol in np.unique(atoms.arrays[MOL_ID]):
        part = whole[atoms.arrays[MOL_ID] == mol]
        template = solvents["EC"] if len(part) == len(solvents["EC"]) else solvents["EMC"]
        assert bond_graph(part) == bond_graph(template)


@pytest.mark.parametrize("name", sorted(SOLVENTS))
def test_every_solvent_packs_at_its_experimental_density(name):
    molecule = solvent_molecule(name)
    atoms = pack_box([molecule], [24], SOLVENTS[name].density_g_cm3, seed=0)
    assert density_g_cm3(atoms) == pytest.approx(SOLVENTS[name].density_g_cm3, rel=1e-9)
    assert intermolecular_min_distance(atoms) >= 1.7
    # heavy atoms of different molecules keep 0.65 x their van der Waals contact (O...O about 2 A)
    from ase.data import vdw_radii
    from ase.neighborlist import neighbor_list

    i, j, d = neighbor_list("ijd", atoms, 4.0)
    other = atoms.arrays[MOL_ID][i] != atoms.arrays[MOL_ID][j]
    limit = 0.65 * (vdw_radii[atoms.numbers[i]] + vdw_radii[atoms.numbers[j]])
    assert np.all(d[other] >= np.maximum(limit[other], 1.7) - 1e-9)


def test_packing_is_deterministic_given_a_seed(solvents):
    kw = dict(molecules=[solvents["EC"]], counts=[6], density_g_cm3=1.0)
    a, b, c = pack_box(**kw, seed=1), pack_box(**kw, seed=1), pack_box(**kw, seed=2)
    np.testing.assert_array_equal(a.positions, b.positions)
    assert not np.allclose(a.positions, c.positions)


def test_impossible_packing_fails_clearly(solvents):
    with pytest.raises(RuntimeError, match="stuck at .* on the way to 3.0 g/cm"):
        pack_box([solvents["EC"]], [12], 3.0, seed=0, min_distance_A=2.5, start_density_fraction=0.1, max_sweeps=5)
    with pytest.raises(RuntimeError, match="at the start density"):
        pack_box([solvents["EC"]], [12], 3.0, seed=0, min_distance_A=2.5, start_density_fraction=0.9)
    with pytest.raises(ValueError, match="density_g_cm3"):
        pack_box([solvents["EC"]], [4], 0.0, seed=0)
    with pytest.raises(ValueError, match="counts"):
        pack_box([solvents["EC"]], [1, 2], 1.0, seed=0)


def test_cluster_keeps_whole_molecules_within_the_radius(box, solvents):
    atoms, _ = box
    cluster = cut_cluster(atoms, centre_molecule=3, radius_A=5.0)
    assert not cluster.pbc.any() and cluster.info["centre_molecule"] == 3
    ids = cluster.arrays[MOL_ID]
    assert ids[0] == 0 and 1 < len(np.unique(ids)) < len(np.unique(atoms.arrays[MOL_ID]))
    masses = cluster.get_masses()
    for mol in np.unique(ids):
        part = cluster[ids == mol]
        template = solvents["EC"] if len(part) == len(solvents["EC"]) else solvents["EMC"]
        assert bond_graph(part) == bond_graph(template)
        com = np.average(part.positions, axis=0, weights=masses[ids == mol])
        assert np.linalg.norm(com) <= 5.0 + 1e-9
    # Every molecule with its centre of mass inside the radius is included: count them independently.
    whole = whole_molecules(atoms)
    m_all = atoms.get_masses()
    coms = np.array([np.average(whole[atoms.arrays[MOL_ID] == m], axis=0, weights=m_all[atoms.arrays[MOL_ID] == m])
                     for m in np.unique(atoms.arrays[MOL_ID])])
    d = coms - coms[3]
    d -= atoms.cell.lengths()[0] * np.round(d / atoms.cell.lengths()[0])
    assert len(np.unique(ids)) == int((np.linalg.norm(d, axis=1) <= 5.0).sum())
    with pytest.raises(ValueError, match="centre_molecule"):
        cut_cluster(atoms, centre_molecule=99, radius_A=5.0)


def test_whole_molecules_follows_bonds_in_a_box_smaller_than_twice_a_molecule(solvents):
    emc = solvents["EMC"]
    atoms = pack_box([emc], [6], SOLVENTS["EMC"].density_g_cm3, seed=0)
    span = emc.get_all_distances().max()
    assert span > atoms.cell.lengths()[0] / 2  # the first-atom minimum image would break molecules here
    whole = atoms.copy()
    whole.positions = whole_molecules(atoms)
    whole.pbc = False
    for mol in range(6):
        part = whole[atoms.arrays[MOL_ID] == mol]
        np.testing.assert_allclose(part.get_all_distances(), emc.get_all_distances(), atol=1e-9)
