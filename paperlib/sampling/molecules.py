"""Molecules from SMILES (RDKit): the rMD17 molecules and the QM7b-like list shipped as package data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms

RMD17_SMILES: dict[str, str] = {
    "aspirin": "CC(=O)Oc1ccccc1C(=O)O",
    "azobenzene": "c1ccc(cc1)/N=N/c1ccccc1",
    "benzene": "c1ccccc1",
    "ethanol": "CCO",
    "malonaldehyde": "O=C/C=C\\O",
    "naphthalene": "c1ccc2ccccc2c1",
    "paracetamol": "CC(=O)Nc1ccc(O)cc1",
    "salicylic_acid": "OC(=O)c1ccccc1O",
    "toluene": "Cc1ccccc1",
    "uracil": "O=c1cc[nH]c(=O)[nH]1",
}
"""The ten molecules of rMD17 (Christensen & von Lilienfeld 2020), as SMILES."""

QM7B_LIKE = Path(__file__).parent / "data" / "qm7b_like.smi"
"""Package data: small organic molecules (C, H, N, O, S, Cl; 1-7 heavy atoms), one ``SMILES name`` per line."""


def read_smiles_list(path: str | Path = QM7B_LIKE) -> list[tuple[str, str]]:
    """``(smiles, name)`` pairs from a file with one ``SMILES [name]`` per line; lines starting with ``#`` are
    comments (``#`` inside a SMILES is a triple bond)."""
    out = []
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            smiles, _, name = line.partition(" ")
            out.append((smiles, name.strip() or smiles))
    return out


def from_smiles(smiles: str, seed: int = 0) -> Atoms:
    """A 3D structure of ``smiles`` with explicit hydrogens: RDKit ETKDG embedding then MMFF94
    pre-optimisation (the reference relaxes it afterwards).

    Raises
    ------
    ValueError
        When RDKit cannot parse or embed the SMILES.
    """
    from rdkit import Chem
    from rdkit.Chem import AllChem

    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"SMILES {smiles!r} could not be parsed by RDKit")
    mol = Chem.AddHs(mol)
    if AllChem.EmbedMolecule(mol, randomSeed=seed) != 0:
        raise ValueError(f"SMILES {smiles!r}: RDKit could not embed a 3D structure")
    if AllChem.MMFFHasAllMoleculeParams(mol):
        AllChem.MMFFOptimizeMolecule(mol, maxIters=500)
    positions = mol.GetConformer().GetPositions()
    atoms = Atoms([a.GetSymbol() for a in mol.GetAtoms()], positions=np.asarray(positions, dtype=float))
    atoms.info["smiles"] = smiles
    return atoms


def rmd17_molecule(name: str) -> Atoms:
    """A 3D starting structure of one rMD17 molecule (see :data:`RMD17_SMILES`)."""
    if name not in RMD17_SMILES:
        raise ValueError(f"molecule {name!r}; allowed: one of {', '.join(RMD17_SMILES)}")
    atoms = from_smiles(RMD17_SMILES[name])
    atoms.info["molecule"] = name
    return atoms


def composition(symbols) -> tuple[tuple[str, int], ...]:
    """Element counts of a structure's symbols (hydrogens included), sorted by element: a hashable formula."""
    counts: dict[str, int] = {}
    for s in symbols:
        counts[s] = counts.get(s, 0) + 1
    return tuple(sorted(counts.items()))


def small_molecules(max_heavy_atoms: int, heavy_elements: tuple[str, ...] = ("C", "N", "O"),
                    exclude: set[tuple[tuple[str, int], ...]] = frozenset(), path: str | Path = QM7B_LIKE
                    ) -> list[tuple[str, str]]:
    """``(smiles, name)`` of the neutral molecules of ``path`` with at most ``max_heavy_atoms`` heavy atoms, all
    of them in ``heavy_elements``, whose :func:`composition` is not in ``exclude``; in file order."""
    from rdkit import Chem

    out = []
    for smiles, name in read_smiles_list(path):
        mol = Chem.MolFromSmiles(smiles)
        if mol is None or Chem.GetFormalCharge(mol) != 0 or mol.GetNumHeavyAtoms() > max_heavy_atoms:
            continue
        if not {a.GetSymbol() for a in mol.GetAtoms()} <= set(heavy_elements):
            continue
        if composition(a.GetSymbol() for a in Chem.AddHs(mol).GetAtoms()) in exclude:
            continue
        out.append((smiles, name))
    return out


SMILES_PREFIX = "smiles:"
STRUCTURE_SUFFIXES = (".xyz", ".extxyz")
MOLECULE_SPEC = (f"an rMD17 molecule ({', '.join(RMD17_SMILES)}), '{SMILES_PREFIX}<SMILES>' or a path to an "
                 f"{'/'.join(STRUCTURE_SUFFIXES)} file holding one molecule")
"""What a ``molecule`` parameter may name (for error messages)."""


def molecule_structure(spec: str) -> Atoms:
    """A starting structure of the molecule that ``spec`` names: an rMD17 molecule (:func:`rmd17_molecule`),
    ``"smiles:<SMILES>"`` (:func:`from_smiles`) or a path to an xyz/extxyz file of one molecule (its first
    structure, without cell or periodicity). Raises ValueError, saying what is allowed, otherwise."""
    if spec in RMD17_SMILES:
        return rmd17_molecule(spec)
    if spec.startswith(SMILES_PREFIX):
        atoms = from_smiles(spec[len(SMILES_PREFIX):].strip())
    elif Path(spec).suffix.lower() in STRUCTURE_SUFFIXES and Path(spec).is_file():
        from ase.io import read

        try:
            read_atoms = read(spec, index=0)
        except Exception as err:   # ase raises many kinds for a malformed file
            raise ValueError(f"{spec!r} is not a readable xyz/extxyz file ({type(err).__name__}: {err})") from err
        atoms = Atoms(read_atoms.numbers, positions=read_atoms.positions)
        if len(atoms) < 2:
            raise ValueError(f"{spec!r} holds {len(atoms)} atom(s); a molecule needs at least 2")
    else:
        raise ValueError(f"got {spec!r}; allowed: {MOLECULE_SPEC}")
    atoms.info["molecule"] = spec
    return atoms


def molecule_spec_error(spec: str) -> str | None:
    """Why ``spec`` names no molecule (None when it does), without embedding or computing anything heavy: an
    rMD17 name, a SMILES that RDKit parses, or a readable structure file."""
    if spec.startswith(SMILES_PREFIX):
        from rdkit import Chem, RDLogger

        RDLogger.DisableLog("rdApp.*")   # the message below says what is wrong
        smiles = spec[len(SMILES_PREFIX):].strip()
        if not smiles or Chem.MolFromSmiles(smiles) is None:
            return f"got {spec!r}: RDKit cannot parse the SMILES {smiles!r}; allowed: {MOLECULE_SPEC}"
        return None
    try:
        if spec not in RMD17_SMILES:
            molecule_structure(spec)
    except ValueError as err:
        return str(err) if str(err).startswith("got ") else f"got {spec!r}: {err}; allowed: {MOLECULE_SPEC}"
    return None
