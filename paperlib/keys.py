"""Property keys, as stored in ``Atoms.info`` / ``Atoms.arrays`` and in extxyz files.

Reference labels carry the ``REF_`` prefix; predictions of a model named ``m`` use ``m_energy``,
``m_forces`` and so on (see :func:`prediction_key`).
"""

from typing import Final

REF_PREFIX: Final[str] = "REF_"
"""Prefix of every reference label."""

REF_energy: Final[str] = "REF_energy"
"""Total potential energy, eV, scalar per structure (``Atoms.info``)."""

REF_forces: Final[str] = "REF_forces"
"""Forces, eV/Angstrom, shape [n_atoms, 3] (``Atoms.arrays``)."""

REF_atomic_energies: Final[str] = "REF_atomic_energies"
"""Per-atom energies summing to ``REF_energy``, eV, shape [n_atoms] (``Atoms.arrays``)."""

REF_hessian: Final[str] = "REF_hessian"
"""Hessian d2E/dR2, eV/Angstrom^2, shape [3 n_atoms, 3 n_atoms] flattened row-major (``Atoms.info``)."""

TEMPERATURE: Final[str] = "temperature_K"
"""Thermostat temperature of the run a frame came from, K (``Atoms.info``)."""

PRESSURE: Final[str] = "pressure_bar"
"""Barostat pressure of the run a frame came from, bar (``Atoms.info``)."""

TRAJECTORY: Final[str] = "trajectory"
"""Integer id of the MD run a frame came from (``Atoms.info``)."""

TIME_FS: Final[str] = "time_fs"
"""Simulated time of a frame since its run started (equilibration included), fs (``Atoms.info``)."""


def prediction_key(model: str, quantity: str) -> str:
    """Key under which a model's prediction of ``quantity`` (``energy``, ``forces``...) is stored."""
    return f"{model}_{quantity}"
