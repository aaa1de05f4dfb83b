"""What a model's MD got wrong, measured against reference MD of the same liquid: the geometric extremes of its
frames (the closest contact between atoms of different molecules and the longest covalent bond, per element
pair) beside the extremes that reference-driven MD reaches. A model that brings two molecules closer than the
reference ever does, or stretches a bond further, is sampling configurations its training set did not teach it;
these are the deficiencies a corrective training set is designed against
(:func:`~paperlib.sampling.training_sets.designed_corrective_set`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms
from ase.geometry import find_mic

from paperlib.neighbours import pair_vectors
from paperlib.sampling.liquids import MOL_ID
from paperlib.sampling.md import pair_name

CONTACT_MARGIN_A = 0.2
"""A contact counts as too close when it is nearer than the reference's closest by more than this (A)."""
BOND_MARGIN = 0.05
"""A bond counts as over-stretched when it is longer than the reference's longest by more than this fraction."""
CONTACT_REACH_A = 4.0
"""Contacts between molecules are looked for within this distance (A)."""


def extremes(frames: Sequence[Atoms], bond_scale: float = 1.2) -> dict[str, dict[str, float]]:
    """Over ``frames`` of one run (same atoms, ``arrays["mol_id"]``; periodic or not): ``{"contact": {pair:
    closest distance (A) between atoms of different molecules}, "bond": {pair: longest bond (A)}}``. The bonds
    are those of the first frame (pairs of one molecule within ``bond_scale`` times their covalent radii), followed
    through the run, so a bond that breaks shows as a long one."""
    from paperlib.sampling.paths import bond_graph

    contact: dict[str, float] = {}
    bond: dict[str, float] = {}
    if not len(frames):
        return {"contact": contact, "bond": bond}
    bonds = np.array(sorted(bond_graph(frames[0], bond_scale)), dtype=int).reshape(-1, 2)
    sym = np.array(frames[0].get_chemical_symbols())
    bond_keys = np.array([pair_name(sym[i], sym[j]) for i, j in bonds])
    for atoms in frames:
        ids = atoms.arrays[MOL_ID]
        i, j, vectors = pair_vectors(atoms, CONTACT_REACH_A)
        other = ids[i] != ids[j]
        d = np.linalg.norm(vectors[other], axis=1)
        for key, dist in zip((pair_name(a, b) for a, b in zip(sym[i[other]], sym[j[other]])), d):
            contact[key] = min(contact.get(key, np.inf), float(dist))
        if len(bonds):
            vec = atoms.positions[bonds[:, 1]] - atoms.positions[bonds[:, 0]]
            if atoms.pbc.any():
                vec, _ = find_mic(vec, atoms.cell, atoms.pbc)
            lengths = np.linalg.norm(vec, axis=1)
            for key in np.unique(bond_keys):
                bond[key] = max(bond.get(key, 0.0), float(lengths[bond_keys == key].max()))
    return {"contact": contact, "bond": bond}


def combined(runs: Sequence[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """The extremes of several runs' :func:`extremes` together (closest contact, longest bond)."""
    contact: dict[str, float] = {}
    bond: dict[str, float] = {}
    for r in runs:
        for k, v in r["contact"].items():
            contact[k] = min(contact.get(k, np.inf), v)
        for k, v in r["bond"].items():
            bond[k] = max(bond.get(k, 0.0), v)
    return {"contact": contact, "bond": bond}


def deficiencies(runs: Sequence[Sequence[Atoms]], reference: Sequence[Sequence[Atoms]],
                 labels: Sequence[str] | None = None) -> list[dict]:
    """The deficiencies the model runs ``runs`` show against the reference runs ``reference``: one record per
    kind and element pair, ``{"kind": "contact" | "bond", "pair", "model_A", "reference_A", "runs",
    "severity", "by"}``, where ``model_A`` is the most extreme value over the runs that show it, ``runs`` how many
    do, ``severity`` the relative distance of ``model_A`` beyond ``reference_A`` and ``by`` the ``labels`` of those
    runs (e.g. their algorithms; comma-separated, each once); most severe first. A contact is
    deficient when closer than the reference's closest by more than :data:`CONTACT_MARGIN_A`; a bond when longer
    than the reference's longest by more than :data:`BOND_MARGIN` of it. Pairs the reference never shows are
    not judged.

    The model's extremes come from more frames, and from bulk boxes rather than clusters, than the reference's,
    which pushes them further out by chance alone; the margins keep small excesses from counting, but a deficiency
    near its margin is weak evidence."""
    ref = combined([extremes(frames) for frames in reference])
    found: dict[tuple[str, str], dict] = {}
    labels = list(labels) if labels is not None else [""] * len(runs)
    shown_by: dict[tuple[str, str], set[str]] = {}
    for frames, label in zip(runs, labels):
        ext = extremes(frames)
        hits = [("contact", k, v, ref["contact"][k]) for k, v in ext["contact"].items()
                if k in ref["contact"] and v < ref["contact"][k] - CONTACT_MARGIN_A]
        hits += [("bond", k, v, ref["bond"][k]) for k, v in ext["bond"].items()
                 if k in ref["bond"] and v > ref["bond"][k] * (1.0 + BOND_MARGIN)]
        for kind, key, value, reference_value in hits:
            rec = found.setdefault((kind, key), {"kind": kind, "pair": key, "model_A": value,
                                                 "reference_A": reference_value, "runs": 0})
            rec["runs"] += 1
            shown_by.setdefault((kind, key), set()).update({label} - {""})
            rec["model_A"] = min(rec["model_A"], value) if kind == "contact" else max(rec["model_A"], value)
            rec["severity"] = abs(rec["model_A"] - reference_value) / reference_value
    for k, rec in found.items():
        rec["by"] = ", ".join(sorted(shown_by[k]))
    return sorted(found.values(), key=lambda r: (-r["severity"], r["kind"], r["pair"]))
