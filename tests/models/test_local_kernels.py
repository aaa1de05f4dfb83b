import numpy as np
import pytest
from ase.build import molecule
from qmllib.kernels.gradient_kernels import get_gp_kernel, get_local_kernel, get_symmetric_gp_kernel
from qmllib.representations import generate_fchl19

from paperlib.models import local_kernels as L
from paperlib.models.gpr import representations

ELEMENTS = [1, 6, 8]
NAMES = ["CH3CH2OH", "H2O", "CH3OH", "C2H4", "CH3CH2OH", "H2O"]


@pytest.fixture(scope="module")
def sets():
    rng = np.random.default_rng(0)
    mols = []
    for name in NAMES:
        m = molecule(name)
        m.positions += rng.normal(0, 0.05, m.positions.shape)
        mols.append(m)
    padded = [generate_fchl19(m.numbers, m.positions, elements=ELEMENTS, gradients=True, pad=9) for m in mols]
    x = np.array([p[0] for p in padded])
    dx = np.array([p[1] for p in padded])
    return mols, x, dx, [m.numbers for m in mols], representations(mols, ELEMENTS, gradients=True)


def _flip_first_derivative_blocks(k, n_rows, n_cols):
    # qmllib's first-derivative blocks are with respect to forces (-dK/dR)
    k = k.copy()
    k[:n_rows, n_cols:] *= -1
    k[n_rows:, :n_cols] *= -1
    return k


def test_symmetric_kernel_matches_qmllib_gp_kernel(sets):
    mols, x, dx, q, ours = sets
    sigma = 3.0
    ref = _flip_first_derivative_blocks(get_symmetric_gp_kernel(x, dx, q, sigma), len(mols), len(mols))
    k = L.kernel(ours, None, sigma, True, True)
    np.testing.assert_allclose(k, ref, atol=1e-9 * np.abs(ref).max())
    np.testing.assert_allclose(k, L.kernel(ours, ours, sigma, True, True), atol=1e-10)


def test_energy_block_matches_qmllib_local_kernel(sets):
    mols, x, dx, q, ours = sets
    np.testing.assert_allclose(L.kernel(ours.subset([0, 1]), ours.subset([2, 3, 4]), 2.0),
                               get_local_kernel(x[:2], x[2:5], q[:2], q[2:5], 2.0).T, rtol=1e-10)


def test_cross_kernel_matches_qmllib(sets):
    mols, x, dx, q, ours = sets
    ref = get_gp_kernel(x[:3], x[3:], dx[:3], dx[3:], q[:3], q[3:], 4.0)
    k = L.kernel(ours.subset([3, 4, 5]), ours.subset([0, 1, 2]), 4.0, True, True)
    np.testing.assert_allclose(k, _flip_first_derivative_blocks(ref, 3, 3), atol=1e-9 * np.abs(ref).max())


def test_gradient_blocks_are_finite_differences_of_the_kernel(sets):
    mols, x, dx, q, ours = sets
    target = mols[2]
    direction = np.random.default_rng(1).normal(size=target.positions.shape)
    h = 1e-5

    def energy_block(pos):
        moved = target.copy()
        moved.positions = pos
        return L.kernel(ours, representations([moved], ELEMENTS, gradients=False), 2.5)[:, 0]

    fd = (energy_block(target.positions + h * direction) - energy_block(target.positions - h * direction)) / (2 * h)
    single = representations([target], ELEMENTS, gradients=True)
    analytic = L.kernel(ours, single, 2.5, grad_b=True)[:, 1:] @ direction.ravel()
    np.testing.assert_allclose(analytic, fd, rtol=1e-5, atol=1e-8)


def test_chunking_does_not_change_the_kernel(sets, monkeypatch):
    *_, ours = sets
    full = L.kernel(ours, None, 3.0, True, True)
    monkeypatch.setattr(L, "CHUNK_ELEMENTS", 10)
    np.testing.assert_allclose(L.kernel(ours, None, 3.0, True, True), full, atol=1e-12)
