import numpy as np
import pytest
from ase.build import bulk

from paperlib import keys
from paperlib.reference.bmhtf import TOSI_FUMI_NACL, BMHTFCalculator, LammpsBMHTF
from paperlib.units import coulomb_eV_A

MADELUNG_ROCKSALT = 1.747564594633


def independent_lattice_energy_per_pair(a0: float, r_max: float) -> float:
    """Rock-salt energy per ion pair from the Madelung constant plus a direct sum of the short-range terms
    truncated at ``r_max`` (as LAMMPS truncates them at the pair cutoff)."""
    half = a0 / 2
    n = int(np.ceil(r_max / half))
    g = np.arange(-n, n + 1)
    ijk = np.array(np.meshgrid(g, g, g, indexing="ij")).reshape(3, -1).T
    ijk = ijk[np.any(ijk != 0, axis=1)]
    r = np.linalg.norm(ijk, axis=1) * half
    keep = r < r_max
    r, unlike = r[keep], (ijk[keep].sum(axis=1) % 2 == 1)
    # Around an ion, sites with odd index sum carry the opposite charge.
    e_na = TOSI_FUMI_NACL[("Na", "Cl")].energy(r[unlike]).sum() + TOSI_FUMI_NACL[("Na", "Na")].energy(r[~unlike]).sum()
    e_cl = TOSI_FUMI_NACL[("Na", "Cl")].energy(r[unlike]).sum() + TOSI_FUMI_NACL[("Cl", "Cl")].energy(r[~unlike]).sum()
    short = 0.5 * (e_na + e_cl)
    return short - MADELUNG_ROCKSALT * coulomb_eV_A / half


@pytest.fixture(scope="module")
def engine():
    e = LammpsBMHTF()
    yield e
    e.close()


@pytest.mark.parametrize("a0", [5.5, 5.64, 5.8])
def test_crystal_energy_matches_independent_sum(engine, a0):
    crystal = bulk("NaCl", "rocksalt", a=a0, cubic=True).repeat(3)
    e = engine.label(crystal).info[keys.REF_energy] / (len(crystal) / 2)
    assert e == pytest.approx(independent_lattice_energy_per_pair(a0, engine.settings.cutoff_A), abs=2e-4)
    assert -8.3 < e < -7.7  # about -8 eV per ion pair, as the literature quotes for these parameters


def test_forces_are_minus_energy_gradient(engine):
    atoms = bulk("NaCl", "rocksalt", a=5.64, cubic=True).repeat(2)
    atoms.rattle(0.15, seed=4)
    f = engine.label(atoms).arrays[keys.REF_forces]
    h = 1e-4
    for i, k in [(0, 0), (5, 1), (17, 2), (30, 0)]:
        plus, minus = atoms.copy(), atoms.copy()
        plus.positions[i, k] += h
        minus.positions[i, k] -= h
        fd = -(engine.label(plus).info[keys.REF_energy] - engine.label(minus).info[keys.REF_energy]) / (2 * h)
        assert fd == pytest.approx(f[i, k], abs=2e-5)


def test_atomic_energies_sum_to_total_and_reflect_species(engine, nacl_frames):
    for frame in nacl_frames:
        relabelled = engine.label(frame)
        assert relabelled.arrays[keys.REF_atomic_energies].sum() == pytest.approx(relabelled.info[keys.REF_energy],
                                                                                abs=1e-8)
        # labels written during MD equal a fresh evaluation of the same configuration
        assert relabelled.info[keys.REF_energy] == pytest.approx(frame.info[keys.REF_energy], abs=1e-6)
        np.testing.assert_allclose(relabelled.arrays[keys.REF_forces], frame.arrays[keys.REF_forces], atol=1e-6)


def test_calculator_matches_engine(nacl_frames):
    atoms = nacl_frames[0].copy()
    atoms.calc = BMHTFCalculator()
    assert atoms.get_potential_energy() == pytest.approx(nacl_frames[0].info[keys.REF_energy], abs=1e-6)
    assert atoms.get_potential_energies().sum() == pytest.approx(atoms.get_potential_energy(), abs=1e-8)


def test_rejects_foreign_species_and_open_cells(engine):
    with pytest.raises(ValueError, match="only Na and Cl; got K"):
        engine.label(bulk("KCl", "rocksalt", a=6.3, cubic=True))
    crystal = bulk("NaCl", "rocksalt", a=5.64, cubic=True)
    crystal.pbc = False
    with pytest.raises(ValueError, match="periodic"):
        engine.label(crystal)


def test_importing_lammps_loads_no_plugin():
    """DeePMD-kit's entry point would import TensorFlow and load its plugin into every LAMMPS instance."""
    import os

    from paperlib.compat import import_lammps

    lmp = import_lammps().lammps(cmdargs=["-screen", "none", "-log", "none", "-nocite"])
    try:
        assert not lmp.has_style("pair", "deepmd")
    finally:
        lmp.close()
    assert "deepmd" not in os.environ.get("LAMMPS_PLUGIN_PATH", "")
