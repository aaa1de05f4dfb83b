import numpy as np
import pytest

from paperlib.sampling.liquids import MOL_ID, solvent_molecule
from paperlib.sampling.paths import bond_graph
from paperlib.sampling.liquids import pack_box
from paperlib.sampling.md import density_g_cm3
from paperlib.sampling.training_sets import (CORRECTIVE_KINDS, SIMPLE_KINDS, automatic_set, corrective_set, dimer,
                                             scaled_liquid, simple_set, stretched_bond)


@pytest.fixture(scope="module")
def molecules():
    return {"EC": solvent_molecule("EC"), "EMC": solvent_molecule("EMC")}


COUNTS = {"EC": 4, "EMC": 8}


def simple(molecules, seed):
    return simple_set(molecules, COUNTS, 1.1, n_monomers=3, n_dimers=3, n_clusters=2, cluster_radius_A=4.5,
                      seed=seed)


def corrective(molecules, seed):
    return corrective_set(molecules, COUNTS, 1.1, n_per_kind=2, cluster_radius_A=4.5, seed=seed)


def assert_whole_and_apart(atoms, molecules, min_distance_A):
    """Every molecule whole (its template's bonds within 0.35 A of their length: rattling by 0.05 A moves a bond
    by about 0.07 A) and atoms of different molecules at least ``min_distance_A`` apart."""
    ids = atoms.arrays[MOL_ID]
    for mol in np.unique(ids):
        part = atoms[ids == mol]
        template = next(m for m in molecules.values() if len(m) == len(part))
        assert list(part.numbers) == list(template.numbers)
        bonds = np.array(sorted(bond_graph(template)))
        d_part = np.linalg.norm(part.positions[bonds[:, 0]] - part.positions[bonds[:, 1]], axis=1)
        d_template = np.linalg.norm(template.positions[bonds[:, 0]] - template.positions[bonds[:, 1]], axis=1)
        assert np.abs(d_part - d_template).max() < 0.35
    if len(np.unique(ids)) > 1:
        d = atoms.get_all_distances()
        assert d[ids[:, None] != ids[None, :]].min() >= min_distance_A


@pytest.mark.parametrize("make, kinds", [(simple, SIMPLE_KINDS), (corrective, CORRECTIVE_KINDS)])
def test_each_set_type_is_deterministic_given_a_seed(molecules, make, kinds):
    a, b, c = make(molecules, 1), make(molecules, 1), make(molecules, 2)
    assert [x.info["set_kind"] for x in a] == [x.info["set_kind"] for x in b]
    assert {x.info["set_kind"] for x in a} == set(kinds)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.positions, y.positions)
        np.testing.assert_array_equal(x.arrays[MOL_ID], y.arrays[MOL_ID])
    assert any(len(x) != len(y) or not np.allclose(x.positions, y.positions) for x, y in zip(a, c))


def test_simple_set_has_whole_separate_molecules(molecules):
    for atoms in simple(molecules, 0):
        assert not atoms.pbc.any()
        if atoms.info["set_kind"] == "monomer":
            # Rattled by 0.05 A per component: the RMS displacement from its template is about 0.05 * sqrt(3).
            template = next(m for m in molecules.values() if len(m) == len(atoms))
            rms = np.sqrt(np.mean(np.sum((atoms.positions - template.positions) ** 2, axis=1)))
            assert 0.03 < rms < 0.15 and len(np.unique(atoms.arrays[MOL_ID])) == 1
        else:
            assert_whole_and_apart(atoms, molecules, 1.3)   # 1.5 A apart before rattling


def test_corrective_set_kinds(molecules):
    confs = corrective(molecules, 0)
    for atoms in confs:
        kind = atoms.info["set_kind"]
        if kind == "expanded":
            assert_whole_and_apart(atoms, molecules, 1.5)   # 1.7 A apart before rattling
        if kind == "compressed":   # rigid molecules moved closer: contacts below the packing limit, no overlaps
            assert_whole_and_apart(atoms, molecules, 1.2)
        if kind == "close_dimer":
            ids = atoms.arrays[MOL_ID]
            coms = [atoms[ids == m].get_center_of_mass() for m in (0, 1)]
            assert 2.7 <= np.linalg.norm(coms[1] - coms[0]) <= 3.7   # 2.8-3.6 A before rattling
            assert_whole_and_apart(atoms, molecules, 1.3)


def test_stretched_bond_lengthens_exactly_one_bond_by_the_factor(molecules):
    rng = np.random.default_rng(3)
    emc = molecules["EMC"]
    out = stretched_bond(emc, 1.3, rng)
    before, after = emc.get_all_distances(), out.get_all_distances()
    ratios = sorted(after[i, j] / before[i, j] for i, j in bond_graph(emc))
    assert ratios[-1] == pytest.approx(1.3, rel=1e-9)
    assert ratios[-2] == pytest.approx(1.0, abs=1e-9)  # a chain bond: one fragment moved rigidly


def test_dimer_places_centres_at_the_distance_and_fails_when_impossible(molecules):
    rng = np.random.default_rng(0)
    pair = dimer(molecules["EC"], molecules["EC"], 5.0, rng)
    n = len(molecules["EC"])
    assert np.linalg.norm(pair[n:].get_center_of_mass() - pair[:n].get_center_of_mass()) == pytest.approx(5.0)
    with pytest.raises(RuntimeError, match="no orientation"):
        dimer(molecules["EC"], molecules["EC"], 0.5, rng, max_tries=20)


@pytest.mark.parametrize("factor", [1.2, 0.8])
def test_scaled_liquid_changes_the_density_and_keeps_molecules_rigid(molecules, factor):
    box = pack_box([molecules["EC"]], [8], 1.32, seed=4)
    out = scaled_liquid(box, factor)
    assert density_g_cm3(out) == pytest.approx(1.32 * factor, rel=1e-9)
    from paperlib.sampling.liquids import whole_molecules

    before, after = whole_molecules(box), whole_molecules(out)
    ids = box.arrays[MOL_ID]
    for mol in np.unique(ids):
        d0 = np.linalg.norm(before[ids == mol][:, None] - before[ids == mol][None], axis=-1)
        d1 = np.linalg.norm(after[ids == mol][:, None] - after[ids == mol][None], axis=-1)
        np.testing.assert_allclose(d1, d0, atol=1e-9)
    with pytest.raises(ValueError, match="density_factor"):
        scaled_liquid(box, 0.0)


def test_automatic_set_follows_its_selection_rule(molecules):
    boxes = [pack_box([molecules["EC"]], [8], 1.32, seed=s) for s in range(5)]
    for k, b in enumerate(boxes):
        b.info["snapshot"] = k
    first, again = automatic_set(boxes, 3, 4.5, seed=1), automatic_set(boxes, 3, 4.5, seed=1)
    assert [a.info["set_kind"] for a in first] == ["automatic"] * 3
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.positions, b.positions)
    # snapshots 0, 2 and 4: evenly spaced, the last one included; each a cluster of its snapshot
    from paperlib.sampling.liquids import cut_cluster

    matches = [[k for k, b in enumerate(boxes) for c in range(8)
                if len(cut_cluster(b, c, 4.5)) == len(atoms)
                and np.allclose(cut_cluster(b, c, 4.5).positions, atoms.positions)] for atoms in first]
    assert [m[:1] for m in matches] == [[0], [2], [4]]
    for atoms in first:
        assert not atoms.pbc.any()
        assert_whole_and_apart(atoms, molecules, 1.7)
    assert automatic_set(boxes, 1, 4.5, seed=0)[0].info["set_kind"] == "automatic"
    with pytest.raises(ValueError, match="no frames"):
        automatic_set([], 2, 4.5, seed=0)


def _distances(positions):
    return np.linalg.norm(positions[:, None] - positions[None], axis=-1)


def test_thermal_molecules_keep_place_and_orientation_and_take_the_drawn_shape(molecules):
    """Each molecule takes a pool conformation whose internal distances are the conformation's own (a rigid
    superposition), at the molecule's centre of mass; molecules without a pool conformation stay untouched."""
    from paperlib.sampling.training_sets import thermal_molecules

    rng = np.random.default_rng(0)
    ec = molecules["EC"]
    pool = []
    for _ in range(3):
        c = ec.copy()
        c.positions = ec.positions + rng.normal(scale=0.05, size=ec.positions.shape)
        pool.append(c)
    from paperlib.sampling.liquids import cut_cluster

    config = cut_cluster(pack_box([molecules["EC"], molecules["EMC"]], [4, 4], 1.1, seed=0), 0, 6.0)
    assert len(np.unique(config.arrays[MOL_ID])) > 2
    out = thermal_molecules(config, pool, np.random.default_rng(1))
    ids = config.arrays[MOL_ID]
    masses = config.get_masses()
    for mol in np.unique(ids):
        sel = ids == mol
        if len(ec) != sel.sum() or (config.numbers[sel] != ec.numbers).any():
            np.testing.assert_array_equal(out.positions[sel], config.positions[sel])
            continue
        d = _distances(out.positions[sel])
        assert min(np.abs(d - _distances(c.positions)).max() for c in pool) < 1e-10
        assert not np.allclose(d, _distances(config.positions[sel]), atol=1e-3)
        np.testing.assert_allclose(np.average(out.positions[sel], axis=0, weights=masses[sel]),
                                   np.average(config.positions[sel], axis=0, weights=masses[sel]), atol=1e-10)


def test_simple_set_with_conformers_draws_monomers_from_the_pool(molecules):
    pool = [molecules["EC"].copy() for _ in range(2)]
    pool[1].positions[0] += 0.1
    out = simple_set({"EC": molecules["EC"]}, {"EC": 4}, 1.3, n_monomers=4, n_dimers=1, n_clusters=1,
                     cluster_radius_A=4.5, seed=0, conformers=pool)
    monomers = [a for a in out if a.info["set_kind"] == "monomer"]
    for m in monomers:   # no rattle on top of a drawn conformation
        assert min(np.abs(_distances(m.positions) - _distances(c.positions)).max() for c in pool) < 1e-10


def test_reference_md_set_holds_unrestrained_reference_frames_of_independent_runs(molecules):
    """Every frame is reference-driven (its stored forces are GFN2-xTB's at its geometry), tagged, and the runs
    start from different packed clusters."""
    from paperlib.reference.xtb import label, xtb_calculator
    from paperlib.sampling.training_sets import reference_md_set
    from paperlib import keys

    frames = reference_md_set({"EC": molecules["EC"]}, {"EC": 4}, 1.32, n_runs=2, cluster_radius_A=3.0,
                              temperature_K=320.0, timestep_fs=1.0, equilibration_steps=2, n_frames=2, stride=2,
                              seed=0, workers=1)
    assert len(frames) == 4 and {a.info["set_kind"] for a in frames} == {"reference_md"}
    assert [a.info[keys.TRAJECTORY] for a in frames] == [0, 0, 1, 1]
    assert MOL_ID in frames[0].arrays and not frames[0].pbc.any()
    # The MD's SCF starts from the previous step's density, a fresh calculation from scratch: they agree to the
    # SCF convergence (about 1e-4 eV/A here), far below the model errors this set measures (> 0.05 eV/A).
    for a in frames:
        again = label(a, xtb_calculator())
        np.testing.assert_allclose(a.arrays[keys.REF_forces], again.arrays[keys.REF_forces], atol=1e-3)
    assert not np.allclose(frames[0].positions[:3], frames[2].positions[:3])


def _intermolecular(atoms, x, y):
    ids = atoms.arrays[MOL_ID]
    sym = np.array(atoms.get_chemical_symbols())
    d = _distances(atoms.positions)
    mask = (ids[:, None] != ids[None]) & (((sym[:, None] == x) & (sym[None] == y)) | ((sym[:, None] == y) & (sym[None] == x)))
    return d[mask].min()


def test_contact_dimer_places_the_designed_contact_and_keeps_the_others_apart(molecules):
    from paperlib.sampling.training_sets import contact_dimer

    rng = np.random.default_rng(0)
    a, b = molecules["EC"], molecules["EMC"]
    pair = contact_dimer(a, b, ("O", "H"), 1.6, rng)
    d = np.linalg.norm(pair.positions[:len(a), None] - pair.positions[None, len(a):], axis=-1)
    sym_a, sym_b = np.array(a.get_chemical_symbols()), np.array(b.get_chemical_symbols())
    designed = np.isclose(d, 1.6) & (sym_a[:, None] == "O") & (sym_b[None] == "H")
    assert designed.sum() == 1
    assert d[~designed].min() >= 1.6
    with pytest.raises(RuntimeError, match="keeps the other contacts"):
        contact_dimer(a, b, ("C", "C"), 1.2, rng, tries=5)


def test_designed_corrective_set_aims_at_each_deficiency_and_falls_back_to_the_generic_kinds(molecules):
    from paperlib.sampling.training_sets import designed_corrective_set

    ec = {"EC": molecules["EC"]}
    design = [{"kind": "contact", "pair": "H-O", "model_A": 1.5, "reference_A": 2.0, "severity": 0.25},
              {"kind": "bond", "pair": "C-H", "model_A": 1.4, "reference_A": 1.15, "severity": 0.2},
              {"kind": "density", "pair": "", "ratio": 1.15, "severity": 0.15}]
    out = designed_corrective_set(ec, {"EC": 4}, 1.32, design, n_per_kind=3, cluster_radius_A=4.0, seed=0,
                                  max_deficiencies=2)
    assert [a.info["deficiency"] for a in out] == ["contact H-O"] * 3 + ["bond C-H"] * 3
    for a in out[:3]:
        assert 1.5 <= _intermolecular(a, "O", "H") <= 2.0 + 0.3 + 1e-9
    for a in out[3:]:
        sym = np.array(a.get_chemical_symbols())
        ch = [a.get_distance(i, j) for i, j in bond_graph(molecules["EC"]) if {sym[i], sym[j]} == {"C", "H"}]
        assert 1.15 - 1e-9 <= max(ch) <= 1.4 + 1e-9
    generic = designed_corrective_set(ec, {"EC": 4}, 1.32, [], n_per_kind=1, cluster_radius_A=4.0, seed=0)
    assert {a.info["set_kind"] for a in generic} == set(CORRECTIVE_KINDS)
    assert {a.info["deficiency"] for a in generic} == {"none observed (generic)"}
