import numpy as np
import pytest
from ase import units

from paperlib.reference.hessian import finite_difference_hessian
from paperlib.reference.xtb import relax, xtb_calculator
from paperlib.sampling.molecules import from_smiles
from paperlib.sampling.normal_modes import is_linear, normal_modes, sample_normal_modes


@pytest.fixture(scope="module")
def water():
    atoms = relax(from_smiles("O"))
    return atoms, finite_difference_hessian(atoms, xtb_calculator())


def test_water_has_three_real_modes_in_the_expected_bands(water):
    atoms, hessian = water
    wavenumbers, modes = normal_modes(atoms, hessian)
    assert modes.shape == (9, 3)
    assert 1300 < wavenumbers[0] < 1800          # bend, cm^-1
    assert 3300 < wavenumbers[1] < 4000 and 3300 < wavenumbers[2] < 4000   # stretches


def test_linear_molecules_keep_3n_minus_5_modes():
    co2 = relax(from_smiles("O=C=O"))
    assert is_linear(co2)
    wavenumbers, _ = normal_modes(co2, finite_difference_hessian(co2, xtb_calculator()))
    assert len(wavenumbers) == 4


def test_samples_follow_the_harmonic_boltzmann_distribution(water):
    """Mean harmonic energy 1/2 dx^T H dx = n_vib kT / 2 (equipartition), within 5 % for 4000 samples."""
    atoms, hessian = water
    temperature = 300.0
    samples = sample_normal_modes(atoms, hessian, 4000, temperature, seed=0)
    dx = np.array([(s.positions - atoms.positions).ravel() for s in samples])
    energy = 0.5 * np.einsum("ni,ij,nj->n", dx, hessian, dx)
    assert energy.mean() == pytest.approx(3 * units.kB * temperature / 2, rel=0.05)
    # no rigid rotation or translation: the centre of mass does not move
    com = np.array([s.get_center_of_mass() for s in samples[:50]])
    np.testing.assert_allclose(com, np.tile(atoms.get_center_of_mass(), (50, 1)), atol=1e-5)


def test_displacements_have_the_requested_rms_and_no_rigid_motion():
    from paperlib.reference.hessian import finite_difference_hessian
    from paperlib.reference.xtb import relax, xtb_calculator
    from paperlib.sampling.normal_modes import displace_along_modes
    from paperlib.sampling.paths import kabsch_rmsd, load_reaction

    start = relax(load_reaction("formic_acid_rotamer").atoms("reactant"))
    hessian = finite_difference_hessian(start, xtb_calculator())
    confs = displace_along_modes(start, hessian, 0.02, 4, seed=1)
    assert len(confs) == 4
    masses = start.get_masses()
    for c in confs:
        d = c.positions - start.positions
        assert np.sqrt(np.mean(np.sum(d ** 2, axis=1))) == pytest.approx(0.02, rel=1e-10)
        # the centre of mass stays put up to the finite-difference Hessian's translational residue (~1e-5 here)
        assert np.linalg.norm(masses @ d) / masses.sum() < 1e-3 * 0.02
        # rotations are excluded in the mass-weighted sense; unweighted alignment removes a little more
        assert 0.5 * 0.02 < kabsch_rmsd(c, start) <= 0.02 + 1e-12
    assert not np.allclose(confs[0].positions, confs[1].positions)
    with pytest.raises(ValueError, match="rms_A"):
        displace_along_modes(start, hessian, 0.0, 1, seed=0)
