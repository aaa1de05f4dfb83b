"""Stability of molecular-liquid MD driven by a model: when, and why, a trajectory stops being physical.

A frame fails when two atoms come closer than ``min_distance_A``, when its covalent bond graph differs from
the first frame's (a molecule broke, or atoms of different molecules bonded), or when the density left the
stated range around the first frame's (the liquid collapsed or boiled off). The time to failure is the time
of the first failing frame.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from ase import Atoms

from paperlib.sampling.paths import bond_graph


@dataclasses.dataclass(frozen=True)
class StabilityCriteria:
    """Thresholds of the failure tests: closest allowed approach (A), bond cutoff as a multiple of the summed
    covalent radii, and the allowed density range relative to the first frame (periodic frames only)."""

    min_distance_A: float = 0.7
    bond_scale: float = 1.2
    density_range: tuple[float, float] = (0.7, 1.3)

    def __post_init__(self):
        if not self.min_distance_A > 0:
            raise ValueError(f"min_distance_A: got {self.min_distance_A}; allowed: > 0")
        lo, hi = self.density_range
        if not 0 < lo < 1 < hi:
            raise ValueError(f"density_range: got {self.density_range}; allowed: 0 < low < 1 < high")


def frame_failure(frame: Atoms, reference_bonds: frozenset[tuple[int, int]], reference_volume_A3: float | None,
                  criteria: StabilityCriteria = StabilityCriteria()) -> str | None:
    """Why ``frame`` is unphysical compared with the reference bond graph and volume, or ``None``."""
    from ase.neighborlist import neighbor_list

    d = neighbor_list("d", frame, criteria.min_distance_A)
    if len(d):
        return f"atoms {d.min():.2f} A apart (< {criteria.min_distance_A:g} A)"
    bonds = bond_graph(frame, criteria.bond_scale)
    broken, formed = sorted(reference_bonds - bonds), sorted(bonds - reference_bonds)
    if broken:
        return f"bond {broken[0][0]}-{broken[0][1]} broke" + (f" (+{len(broken) - 1} more)" if len(broken) > 1 else "")
    if formed:
        return f"new bond {formed[0][0]}-{formed[0][1]}" + (f" (+{len(formed) - 1} more)" if len(formed) > 1 else "")
    if reference_volume_A3 is not None and frame.pbc.all():
        ratio = reference_volume_A3 / frame.get_volume()
        lo, hi = criteria.density_range
        if not lo <= ratio <= hi:
            return f"density {ratio:.2f}x the start (allowed {lo:g}-{hi:g}x)"
    return None


def time_to_failure(frames: Sequence[Atoms], times_fs: Sequence[float],
                    criteria: StabilityCriteria = StabilityCriteria()) -> tuple[float | None, str | None]:
    """Time (fs) and reason of the first failing frame, judged against the first frame; ``(None, None)`` when
    every frame passes."""
    if len(frames) != len(times_fs):
        raise ValueError(f"time_to_failure: {len(frames)} frames but {len(times_fs)} times")
    if not len(frames):
        return None, None
    first = frames[0]
    bonds = bond_graph(first, criteria.bond_scale)
    volume = first.get_volume() if first.pbc.all() else None
    for frame, t in zip(frames, times_fs):
        reason = frame_failure(frame, bonds, volume, criteria)
        if reason is not None:
            return float(t), reason
    return None, None


def stable_fraction(times_to_failure_fs: Sequence[float | None], duration_fs: float) -> float:
    """Mean fraction of the requested duration that runs survived (a run without failure counts 1)."""
    if not len(times_to_failure_fs):
        raise ValueError("stable_fraction: no runs")
    return float(np.mean([1.0 if t is None else min(t, duration_fs) / duration_fs for t in times_to_failure_fs]))
