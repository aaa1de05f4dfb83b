"""GAP with SOAP (quippy's ``gap_fit``) behind the :class:`~paperlib.models.base.Potential` interface."""

from __future__ import annotations

import dataclasses
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from ase import Atoms

from paperlib import keys
from paperlib.data.dataset import Dataset
from paperlib.models.base import FitReport, Targets
from paperlib.models.external import ExternalPotential, find_executable


@dataclasses.dataclass(frozen=True)
class GAPConfig:
    """SOAP descriptor and GP settings (defaults: Tovey et al.'s NaCl GAP). Lengths in Angstrom.

    ``sigma_energy_eV`` and ``sigma_force_eV_A`` are the expected errors (regularisation) of energy and
    force labels; ``n_sparse`` sparse points per species are chosen by CUR.
    """

    n_max: int = 8
    l_max: int = 6
    atom_sigma: float = 0.825
    cutoff_A: float = 6.5
    cutoff_transition_width_A: float = 0.5
    delta: float = 1.0
    zeta: int = 4
    n_sparse: int = 200
    sigma_energy_eV: float = 0.002
    sigma_force_eV_A: float = 0.05
    seed: int = 0

    def descriptor(self) -> str:
        """The ``gap={...}`` descriptor string for ``gap_fit``."""
        return (f"soap n_max={self.n_max} l_max={self.l_max} atom_sigma={self.atom_sigma} cutoff={self.cutoff_A} "
                f"cutoff_transition_width={self.cutoff_transition_width_A} delta={self.delta} zeta={self.zeta} "
                f"covariance_type=dot_product n_sparse={self.n_sparse} sparse_method=cur_points")


def gap_fit_executable() -> str:
    """Path of quippy's ``gap_fit`` (next to the running Python, else on ``PATH``)."""
    return find_executable("gap_fit", "quippy-ase")


def boxed(atoms: Atoms, cutoff_A: float) -> Atoms:
    """A copy of ``atoms``: as it is when it has a cell; else a molecule in a non-periodic box that clears the
    SOAP cutoff (QUIP reads and neighbours every structure through a lattice)."""
    out = atoms.copy()
    if atoms.cell.rank == 3:
        return out
    extent = np.ptp(atoms.positions, axis=0) if len(atoms) else np.zeros(3)
    out.set_cell(np.diag(extent + 2 * cutoff_A + 1.0))
    out.pbc = False
    return out


class GAPPotential(ExternalPotential):
    """A SOAP GAP fitted with ``gap_fit`` and evaluated by quippy; implements
    :class:`~paperlib.models.base.Potential`."""

    config_type = GAPConfig
    name = "gap"

    def __init__(self, config: GAPConfig = GAPConfig(), name: str = "gap"):
        super().__init__(config, name)

    def fit(self, train: Dataset, valid: Dataset | None = None, *, targets: Targets = Targets(1.0, 1.0)
            ) -> FitReport:
        """Fit by ``gap_fit`` on energies (and forces when ``targets.forces > 0``); ``valid`` is unused."""
        if targets.hessian > 0:
            raise ValueError("GAPPotential.fit: Hessian targets are not supported by this backend")
        train.require(keys.REF_energy, *([keys.REF_forces] if targets.forces > 0 else []))
        work = Path(tempfile.mkdtemp(prefix="paperlib-gap-"))
        Dataset([boxed(a, self.config.cutoff_A) for a in train]).write(work / "train.xyz")
        force_sigma = self.config.sigma_force_eV_A if targets.forces > 0 else 0.0
        args = [gap_fit_executable(), "at_file=train.xyz", "gp_file=gap.xml", f"gap={{{self.config.descriptor()}}}",
                f"default_sigma={{{self.config.sigma_energy_eV} {force_sigma} 0.0 0.0}}",
                f"energy_parameter_name={keys.REF_energy}",
                f"force_parameter_name={keys.REF_forces if targets.forces > 0 else 'NONE_'}",
                "e0_method=average", f"rnd_seed={self.config.seed + 1}", "sparse_jitter=1e-8"]
        start = time.perf_counter()
        proc = subprocess.run(args, cwd=work, capture_output=True, text=True)
        if proc.returncode != 0 or not (work / "gap.xml").exists():
            raise RuntimeError(f"gap_fit failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
        (work / "train.xyz").unlink()
        for extra in work.glob("train.xyz.idx"):
            extra.unlink()
        (work / "fit.log").write_text(proc.stdout)
        self._adopt(work, temporary=True)
        return FitReport(wall_time_s=time.perf_counter() - start, epochs=1)

    def _make_calculator(self, directory: Path):
        from quippy.potential import Potential as QuipPotential

        return QuipPotential(param_filename=str(directory / "gap.xml"))

    def _prepare(self, atoms: Atoms) -> Atoms:
        return boxed(atoms, self.config.cutoff_A)
