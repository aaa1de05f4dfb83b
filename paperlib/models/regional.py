"""Several local models instead of one global model: one member potential per group of azobenzene regions,
chosen for each structure by the region rule on the CNNC collective variables.

The selector switches models at the region boundaries, so energies jump there and the forces are the
members' own (minus the gradient of the energy everywhere except on a boundary). Groups with fewer than
``min_points`` training structures get no member of their own; their structures go to a fallback member fitted
on the whole training set.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from ase import Atoms

from paperlib.data.dataset import Dataset
from paperlib.models.base import FitReport, Potential, PotentialCalculator, Predictions, Targets
from paperlib.sampling.azobenzene import ASSISTED, INVERSION, ROTATION, RegionRule, azo_indices, collective_variables

FALLBACK = "all"
THREE_GROUPS: dict[str, str] = {"cis": "cis", "trans": "trans", ROTATION: "transition", INVERSION: "transition",
                                ASSISTED: "transition"}
"""Default grouping: one model per minimum and one for every transition region together."""


class RegionalPotential:
    """One member per region group; implements :class:`~paperlib.models.base.Potential`.

    Parameters
    ----------
    member_kind
        Registry name of the member models (e.g. ``"gap"``); ``make_member()`` builds a fresh one.
    """

    def __init__(self, member_kind: str, make_member: Callable[[], Potential], *, rule: RegionRule = RegionRule(),
                 groups: Mapping[str, str] = THREE_GROUPS, min_points: int = 10, name: str | None = None):
        self.member_kind, self.make_member = member_kind, make_member
        self.rule, self.groups, self.min_points = rule, dict(groups), min_points
        self.name = name or f"local_{member_kind}"
        self.members: dict[str, Potential] = {}

    def group_of(self, structures: Sequence[Atoms]) -> list[str]:
        """The group of each structure (a value of ``groups``)."""
        if not len(structures):
            return []
        idx = azo_indices(structures[0])
        return [self.groups[self.rule.region(collective_variables(a, idx))] for a in structures]

    def fit(self, train: Dataset, valid: Dataset | None = None, *, targets: Targets = Targets(1.0, 1.0)
            ) -> FitReport:
        """Fit one member per group on that group's training (and validation) structures."""
        start = time.perf_counter()
        train_groups = np.array(self.group_of(train))
        valid_groups = np.array(self.group_of(valid)) if valid is not None and len(valid) else None
        self.members, notes = {}, []
        for group in sorted(set(self.groups.values())):
            idx = np.flatnonzero(train_groups == group)
            if len(idx) < self.min_points:
                notes.append(f"{group}: {len(idx)} points, uses the fallback")
                continue
            sub_valid = valid.subset(np.flatnonzero(valid_groups == group)) if valid_groups is not None else None
            self.members[group] = self.make_member()
            self.members[group].fit(train.subset(idx), sub_valid if sub_valid is not None and len(sub_valid) else None,
                                    targets=targets)
            notes.append(f"{group}: {len(idx)} points")
        if len(self.members) < len(set(self.groups.values())):
            self.members[FALLBACK] = self.make_member()
            self.members[FALLBACK].fit(train, valid, targets=targets)
        return FitReport(wall_time_s=time.perf_counter() - start, epochs=1, notes="; ".join(notes))

    def predict(self, structures: Sequence[Atoms]) -> Predictions:
        """Energies (eV) and forces (eV/A), each structure from its group's member."""
        if not self.members:
            raise RuntimeError(f"{self.name}: not fitted or loaded")
        structures = list(structures)
        groups = [g if g in self.members else FALLBACK for g in self.group_of(structures)]
        energies = np.zeros(len(structures))
        forces = [np.zeros((0, 3))] * len(structures)
        for group in set(groups):
            idx = [i for i, g in enumerate(groups) if g == group]
            pred = self.members[group].predict([structures[i] for i in idx])
            energies[idx] = pred.energies
            for i, f in zip(idx, pred.split_forces([len(structures[i]) for i in idx])):
                forces[i] = f
        return Predictions(energies, np.concatenate(forces) if forces else np.zeros((0, 3)))

    def calculator(self) -> PotentialCalculator:
        """ASE calculator (energy, forces) backed by the selector and its members."""
        return PotentialCalculator(self)

    def save(self, path: str | Path) -> None:
        """Write every member into ``path/<group>`` and the selector into ``path/config.json``."""
        if not self.members:
            raise RuntimeError(f"{self.name}: nothing to save, the model is not fitted")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for group, member in self.members.items():
            member.save(path / group)
        (path / "config.json").write_text(json.dumps({
            "name": self.name, "member_kind": self.member_kind, "rule": dataclasses.asdict(self.rule),
            "groups": self.groups, "min_points": self.min_points, "members": sorted(self.members)}))

    @classmethod
    def load(cls, path: str | Path, load_member: Callable[[str, Path], Potential],
             make_member: Callable[[], Potential]) -> RegionalPotential:
        """Read a model written by :meth:`save`; ``load_member(kind, directory)`` reads one member and
        ``make_member()`` builds fresh ones for a later refit."""
        path = Path(path)
        raw = json.loads((path / "config.json").read_text())
        kind = raw["member_kind"]
        model = cls(kind, make_member, rule=RegionRule(**raw["rule"]),
                    groups=raw["groups"], min_points=raw["min_points"], name=raw["name"])
        model.members = {g: load_member(kind, path / g) for g in raw["members"]}
        return model
