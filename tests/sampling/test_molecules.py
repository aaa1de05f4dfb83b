import pytest
from rdkit import Chem

from paperlib.sampling.molecules import RMD17_SMILES, from_smiles, read_smiles_list, rmd17_molecule


def test_qm7b_like_list_is_large_valid_and_small():
    entries = read_smiles_list()
    assert len(entries) >= 150
    canonical = set()
    for smiles, name in entries:
        mol = Chem.MolFromSmiles(smiles)
        assert mol is not None, smiles
        assert 1 <= mol.GetNumHeavyAtoms() <= 7, name
        assert {a.GetSymbol() for a in mol.GetAtoms()} <= {"C", "N", "O", "S", "Cl"}, name
        canonical.add(Chem.MolToSmiles(mol))
    assert len(canonical) == len(entries)  # no duplicates


@pytest.mark.parametrize("name, formula", [("ethanol", "C2H6O"), ("malonaldehyde", "C3H4O2"),
                                           ("aspirin", "C9H8O4"), ("uracil", "C4H4N2O2")])
def test_rmd17_molecules_have_their_formula(name, formula):
    atoms = rmd17_molecule(name)
    assert atoms.get_chemical_formula(mode="hill") == formula
    assert atoms.get_all_distances()[~__import__("numpy").eye(len(atoms), dtype=bool)].min() > 0.8


def test_all_ten_rmd17_molecules_embed():
    assert len(RMD17_SMILES) == 10
    for name in RMD17_SMILES:
        assert len(rmd17_molecule(name)) > 5


def test_bad_smiles_and_names_are_reported():
    with pytest.raises(ValueError, match="could not be parsed"):
        from_smiles("C1CC")
    with pytest.raises(ValueError, match="allowed"):
        rmd17_molecule("water")


def test_a_molecule_is_named_by_rmd17_name_smiles_or_structure_file(tmp_path):
    import numpy as np
    from ase.io import write

    from paperlib.sampling.molecules import molecule_spec_error, molecule_structure

    assert molecule_structure("ethanol").get_chemical_formula() == "C2H6O"
    amide = molecule_structure("smiles:CC(=O)N")
    assert amide.get_chemical_formula() == "C2H5NO" and amide.info["molecule"] == "smiles:CC(=O)N"
    path = tmp_path / "water.xyz"
    write(path, [amide, molecule_structure("ethanol")])   # two structures: the first one is used
    got = molecule_structure(str(path))
    np.testing.assert_allclose(got.positions, amide.positions, atol=1e-6)
    assert not got.pbc.any() and molecule_spec_error(str(path)) is None
    assert molecule_spec_error("smiles:CCO") is None and molecule_spec_error("aspirin") is None
    assert "cannot parse the SMILES 'C(('" in molecule_spec_error("smiles:C((")
    assert "cannot parse" in molecule_spec_error("smiles:")
    (tmp_path / "bad.xyz").write_text("two\nnot a number\nH 0 0\n")
    assert "not a readable xyz/extxyz file" in molecule_spec_error(str(tmp_path / "bad.xyz"))
    with pytest.raises(ValueError, match="allowed: an rMD17 molecule"):
        molecule_structure("benzene.pdb")
