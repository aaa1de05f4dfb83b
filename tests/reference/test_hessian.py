import numpy as np
import pytest
from ase import Atoms

from paperlib.reference.hessian import finite_difference_hessian, hessian_checks
from ..springs import Springs, springs_hessian


@pytest.fixture
def cluster() -> Atoms:
    rng = np.random.default_rng(0)
    return Atoms("H5", positions=rng.normal(scale=1.0, size=(5, 3)))


def test_finite_differences_match_the_analytic_hessian(cluster):
    exact = springs_hessian(cluster.positions)
    fd = finite_difference_hessian(cluster, Springs(), step_A=1e-3)
    # central differences: error ~ h^2 * third derivative (k / r), well below 1e-4 eV/A^2 here
    np.testing.assert_allclose(fd, exact, atol=1e-4 * np.abs(exact).max())
    assert not np.allclose(exact, 0)


def test_symmetrised_unless_asked_not_to(cluster):
    sym = finite_difference_hessian(cluster, Springs(), step_A=1e-2)
    raw = finite_difference_hessian(cluster, Springs(), step_A=1e-2, symmetrise=False)
    np.testing.assert_array_equal(sym, sym.T)
    np.testing.assert_allclose(sym, 0.5 * (raw + raw.T), atol=1e-14)


def test_checks_report_asymmetry_and_translational_sums(cluster):
    exact = springs_hessian(cluster.positions)
    ok = hessian_checks(exact)
    assert ok["asymmetry"] < 1e-12 and ok["translation"] < 1e-12
    assert ok["scale"] == pytest.approx(np.abs(exact).max())
    broken = exact.copy()
    broken[0, 4] += 0.3
    bad = hessian_checks(broken)
    assert bad["asymmetry"] == pytest.approx(0.3) and bad["translation"] == pytest.approx(0.3)
    with pytest.raises(ValueError, match="shape"):
        hessian_checks(np.zeros((4, 4)))
