"""Shared fixtures: a small labelled NaCl data set from the real reference, and a private cache."""

from __future__ import annotations

import pytest

from paperlib.cache import Cache
from paperlib.data.dataset import Dataset


@pytest.fixture
def cache(tmp_path) -> Cache:
    """An empty cache private to one test."""
    return Cache(tmp_path / "cache")


@pytest.fixture(scope="session")
def nacl_frames() -> Dataset:
    """Twelve labelled 16-ion NaCl frames from short BMHTF NVT MD at 1400 K."""
    from paperlib.reference.bmhtf import LammpsBMHTF
    from paperlib.sampling.md import lammps_md, random_salt_box

    engine = LammpsBMHTF()
    frames = lammps_md(engine, random_salt_box(16, 1.5, seed=3), temperature_K=1400.0, pressure_bar=None,
                       timestep_fs=2.0, equil_steps=100, n_frames=12, stride=10, seed=3, progress=False)
    engine.close()
    return Dataset(frames)


@pytest.fixture(scope="session")
def executed(tmp_path_factory):
    """Each study notebook executed once at smoke with a fresh cache: {study: (notebook, results dict)}."""
    import json
    import os

    from paperlib.params import SCHEMAS
    from paperlib.runner import notebook_path, run_study

    out = {}
    before = os.environ.get("PAPERLIB_CACHE")
    try:
        for study in sorted(s for s in SCHEMAS if notebook_path(s).exists()):
            root = tmp_path_factory.mktemp(study)
            os.environ["PAPERLIB_CACHE"] = str(root / "cache")  # read by the kernel the run starts
            nb = run_study(study, "smoke", output=root / f"{study}.ipynb", results_dir=root / "results",
                           progress=False)
            out[study] = (nb, json.loads((root / "results" / "results.json").read_text()))
    finally:
        # later tests, in whatever order a worker takes them, see the cache they began with
        if before is None:
            os.environ.pop("PAPERLIB_CACHE", None)
        else:
            os.environ["PAPERLIB_CACHE"] = before
    return out


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items):
    """Under ``pytest -n`` (``--dist loadgroup``, as ``make test`` runs it) every test that needs the smoke runs of
    the studies goes to one worker, so that the five runs are made once, not once per worker."""
    for item in items:
        if "executed" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("smoke_runs"))


@pytest.fixture(scope="session")
def ethanol_frames() -> Dataset:
    """Thirty GFN2-xTB-labelled ethanol frames from short Langevin MD at 500 K (one process)."""
    from paperlib.reference.xtb import XTBSettings, relax, xtb_calculator
    from paperlib.sampling.md import langevin_md
    from paperlib.sampling.molecules import rmd17_molecule

    start = relax(rmd17_molecule("ethanol"), XTBSettings())
    return Dataset(langevin_md(start, xtb_calculator(), temperature_K=500.0, timestep_fs=0.5, friction_per_fs=0.01,
                               equil_steps=50, n_frames=30, stride=20, seed=1, progress=False))


@pytest.fixture(scope="session")
def azobenzene_minima() -> dict:
    """GFN2-xTB minima of cis and trans azobenzene (same atom order, no imaginary mode),
    ``{"cis": Atoms, "trans": Atoms}``."""
    from paperlib.reference.hessian import finite_difference_hessian
    from paperlib.reference.xtb import xtb_calculator
    from paperlib.sampling.azobenzene import isomer
    from paperlib.sampling.paths import stable_minimum

    calc = xtb_calculator()
    return {w: stable_minimum(isomer(w), calc, lambda a: finite_difference_hessian(a, calc), fmax_eV_A=0.01,
                              steps=1000)[0] for w in ("cis", "trans")}


@pytest.fixture(scope="session")
def azobenzene_frames(azobenzene_minima) -> Dataset:
    """Thirty GFN2-xTB-labelled azobenzene frames: 15 from 500 K Langevin MD around each minimum."""
    from paperlib.reference.xtb import xtb_calculator
    from paperlib.sampling.md import langevin_md

    frames = []
    for seed, which in enumerate(("cis", "trans")):
        frames += langevin_md(azobenzene_minima[which], xtb_calculator(), temperature_K=500.0, timestep_fs=0.5,
                              friction_per_fs=0.02, equil_steps=20, n_frames=15, stride=6, seed=seed, progress=False)
    return Dataset(frames)
