"""Local Gaussian kernels over atomic environments, with derivatives, for learning energies and forces.

For molecules a, b with atomic representations x_I (I in a), x_J (J in b) and Jacobians D_I = dx_I/dR_a::

    K(a, b)          = sum_{I,J: Z_I = Z_J} k_IJ,              k_IJ = exp(-|x_I - x_J|^2 / (2 sigma^2))
    dK/dR_b          = sum k_IJ D_J^T u_IJ / sigma^2            u_IJ = x_I - x_J
    dK/dR_a          = -sum k_IJ D_I^T u_IJ / sigma^2
    d2K/dR_a dR_b    = sum k_IJ [D_I^T D_J / sigma^2 - (D_I^T u_IJ)(D_J^T u_IJ)^T / sigma^4]

These are the kernels of qmllib's ``get_local_kernel`` and ``get_symmetric_gp_kernel`` / ``get_gp_kernel``
(qmllib's first-derivative blocks are taken with respect to forces, so they carry the opposite sign; the
tests check agreement to 1e-9). qmllib forms the representation-space Hessian of every atom pair and projects
it, O(d^2) per pair; contracting the Jacobians first costs O(d) per pair, groups molecules by size so that
no padding is computed, uses the symmetry of training kernels, and runs on any torch device.

Predictions never build cross kernels: with weights alpha (energies) and beta_J = D_J alpha_grad (per
training atom), the posterior mean is a sum over atom pairs, and its gradient is exact (see :func:`predict`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch

CHUNK_ELEMENTS = 20_000_000
"""Upper bound on the elements of one intermediate tensor (float64: 160 MB); blocks are tiled to fit."""


@dataclasses.dataclass
class Molecules:
    """Atomic representations of a set of molecules: per molecule ``x`` [n, d], ``z`` [n] and optionally
    ``jac`` [n, d, 3n] (dx_I/dR, coordinates atom-major: atom 0 x, y, z, atom 1 x, ...)."""

    x: list[np.ndarray]
    z: list[np.ndarray]
    jac: list[np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.x)

    @property
    def n_atoms(self) -> np.ndarray:
        """Atoms per molecule."""
        return np.array([len(z) for z in self.z], dtype=int)

    def subset(self, idx: Sequence[int] | np.ndarray) -> Molecules:
        """The molecules at ``idx``, in that order."""
        idx = [int(i) for i in idx]
        return Molecules([self.x[i] for i in idx], [self.z[i] for i in idx],
                         None if self.jac is None else [self.jac[i] for i in idx])

    def gradient_rows(self) -> list[np.ndarray]:
        """For each molecule, its 3n gradient row indices among all gradient rows (before any offset)."""
        start = np.concatenate([[0], np.cumsum(3 * self.n_atoms)[:-1]])
        return [s + np.arange(3 * n) for s, n in zip(start, self.n_atoms)]


def _tensor(arrays: Sequence[np.ndarray], device) -> torch.Tensor:
    return torch.as_tensor(np.stack(arrays), dtype=torch.float64, device=device)


def _block(xa, za, ja, xb, zb, jb, sigma: float, grad_a: bool, grad_b: bool):
    """Blocks between molecules of equal size within each side: xa [ma, na, d], ja [ma, na, d, 3na], ...
    Returns ee [ma, mb], ge [ma, 3na, mb], eg [ma, mb, 3nb], gg [ma, 3na, mb, 3nb] (None when not asked)."""
    ma, na, d = xa.shape
    mb, nb, _ = xb.shape
    s2 = sigma**2
    fa, fb = xa.reshape(-1, d), xb.reshape(-1, d)
    d2 = (fa * fa).sum(1)[:, None] + (fb * fb).sum(1)[None, :] - 2.0 * fa @ fb.T
    same = za.reshape(-1)[:, None] == zb.reshape(-1)[None, :]
    k = (torch.exp(-d2.clamp_min(0.0) / (2.0 * s2)) * same).reshape(ma, na, mb, nb)
    ee = k.sum(dim=(1, 3))
    ge = eg = gg = v = w = None
    if grad_b:
        s_b = torch.einsum("bjdq,bjd->bjq", jb, xb)                       # D_J^T x_J
        w = torch.einsum("bjdq,aid->aibjq", jb, xa) - s_b[None, None]     # D_J^T u_IJ
        eg = torch.einsum("aibj,aibjq->abq", k, w) / s2
    if grad_a:
        s_a = torch.einsum("aidp,aid->aip", ja, xa)
        v = s_a[..., None, None] - torch.einsum("aidp,bjd->aipbj", ja, xb)  # D_I^T u_IJ
        ge = -torch.einsum("aibj,aipbj->apb", k, v) / s2
    if grad_a and grad_b:
        qa, qb = 3 * na, 3 * nb
        # sum_J k_IJ D_J as one batched product over b, then one product per a over (I, d)
        t = torch.bmm(k.permute(2, 0, 1, 3).reshape(mb, ma * na, nb), jb.reshape(mb, nb, d * qb))
        t = t.view(mb, ma, na * d, qb).permute(1, 2, 0, 3).reshape(ma, na * d, mb * qb)
        first = torch.bmm(ja.reshape(ma, na * d, qa).transpose(1, 2), t).view(ma, qa, mb, qb)
        kv = (k.unsqueeze(2) * v).permute(0, 3, 2, 1, 4).reshape(ma * mb, qa, na * nb)
        second = torch.bmm(kv, w.permute(0, 2, 1, 3, 4).reshape(ma * mb, na * nb, qb))
        gg = first / s2 - second.view(ma, mb, qa, qb).permute(0, 2, 1, 3) / s2**2
    return ee, ge, eg, gg


def kernel(a: Molecules, b: Molecules | None, sigma: float, grad_a: bool = False, grad_b: bool = False,
           device: str | torch.device = "cpu") -> np.ndarray:
    """The block kernel matrix between molecule sets ``a`` and ``b`` (``b=None``: ``a`` with itself,
    computed once per symmetric pair).

    Rows: the len(a) energies, then (``grad_a``) the 3 * sum(n_atoms) gradient components of ``a``,
    molecule by molecule, atom-major. Columns likewise for ``b``. Gradients are dK/dR, not forces.
    """
    symmetric = b is None
    b = a if symmetric else b
    if (grad_a and a.jac is None) or (grad_b and b.jac is None):
        raise ValueError("kernel: gradient blocks need Molecules with Jacobians")
    if symmetric and grad_a != grad_b:
        raise ValueError("kernel: a symmetric kernel has gradient blocks on both sides or neither")
    rows_g, cols_g = a.gradient_rows(), b.gradient_rows()
    done = np.zeros((len(a), len(b)), dtype=bool)
    out = np.zeros((len(a) + 3 * a.n_atoms.sum() * grad_a, len(b) + 3 * b.n_atoms.sum() * grad_b))
    groups_a = {n: np.flatnonzero(a.n_atoms == n) for n in np.unique(a.n_atoms)}
    groups_b = {n: np.flatnonzero(b.n_atoms == n) for n in np.unique(b.n_atoms)}
    for na, ia in groups_a.items():
        d = a.x[ia[0]].shape[1]
        for nb, ib in groups_b.items():
            if symmetric and nb < na:
                continue
            xb, zb = _tensor([b.x[i] for i in ib], device), torch.as_tensor(np.stack([b.z[i] for i in ib]),
                                                                            device=device)
            jb = _tensor([b.jac[i] for i in ib], device) if grad_b else None
            per_a = na * len(ib) * nb * (1 + 3 * na * grad_a + 3 * nb * grad_b) + na * d * len(ib) * 3 * nb * grad_b
            step = max(1, CHUNK_ELEMENTS // max(per_a, 1))
            for s in range(0, len(ia), step):
                ca = ia[s:s + step]
                lo = s if symmetric and na == nb else 0   # within a symmetric group: columns from the chunk on
                cb = ib[lo:]
                xa = _tensor([a.x[i] for i in ca], device)
                za = torch.as_tensor(np.stack([a.z[i] for i in ca]), device=device)
                ja = _tensor([a.jac[i] for i in ca], device) if grad_a else None
                ee, ge, eg, gg = _block(xa, za, ja, xb[lo:], zb[lo:], None if jb is None else jb[lo:],
                                        sigma, grad_a, grad_b)
                _scatter(out, ca, cb, len(a), len(b), rows_g, cols_g, ee, ge, eg, gg)
                done[np.ix_(ca, cb)] = True
    if symmetric:
        owner = _row_molecule(a, grad_a)
        computed = done[owner[:, None], owner[None, :]]
        out = np.where(computed, out, out.T)
    return out


def _row_molecule(m: Molecules, grad: bool) -> np.ndarray:
    """For each row of a kernel over ``m``, the molecule it belongs to."""
    rows = np.arange(len(m))
    return np.concatenate([rows, np.repeat(rows, 3 * m.n_atoms)]) if grad else rows


def _scatter(out, ca, cb, ma, mb, rows_g, cols_g, ee, ge, eg, gg) -> None:
    out[np.ix_(ca, cb)] = ee.cpu().numpy()
    if eg is not None:
        cols = np.concatenate([mb + cols_g[j] for j in cb])
        out[np.ix_(ca, cols)] = eg.reshape(len(ca), -1).cpu().numpy()
    if ge is not None:
        rows = np.concatenate([ma + rows_g[i] for i in ca])
        out[np.ix_(rows, cb)] = ge.reshape(-1, len(cb)).cpu().numpy()
    if gg is not None:
        out[np.ix_(rows, cols)] = gg.reshape(len(rows), len(cols)).cpu().numpy()
