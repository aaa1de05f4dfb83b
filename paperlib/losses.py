"""The training losses: one weighted term per trained property (energy, forces, Hessian).

Both training paths, the in-memory loop of :mod:`paperlib.training` and the Lightning task of
:mod:`paperlib.lightning_fit`, import their loss from here.
"""

from __future__ import annotations

import torch

from paperlib import keys
from paperlib.models.base import Targets

Batch = dict[str, torch.Tensor]
N_ATOMS = "_n_atoms"
"""Batch key of the atom count per structure (schnetpack's ``properties.n_atoms``)."""
POSITIONS = "_positions"
"""Batch key of the positions [sum n, 3] that forces are differentiated by (schnetpack's ``properties.R``)."""
REF_HESSIAN = keys.REF_hessian
"""Batch key of the reference Hessians, zero-padded to [B, 3 max(n), 3 max(n)] (eV/A^2)."""
HESSIAN_LOSSES: tuple[str, ...] = ("full", "hvp")


def pad_atoms(x: torch.Tensor, n_atoms: torch.Tensor) -> torch.Tensor:
    """Per-atom vectors [sum n, 3] of a batch as zero-padded rows [B, 3 max(n)]."""
    n_atoms = n_atoms.to(x.device)
    idx_m = torch.repeat_interleave(torch.arange(len(n_atoms), device=x.device), n_atoms)
    local = torch.arange(len(x), device=x.device) - (torch.cumsum(n_atoms, 0) - n_atoms)[idx_m]
    out = x.new_zeros(len(n_atoms), int(n_atoms.max()), 3)
    out[idx_m, local] = x
    return out.reshape(len(n_atoms), -1)


def model_hessians(forces: torch.Tensor, positions: torch.Tensor, n_atoms: torch.Tensor,
                   create_graph: bool = False) -> torch.Tensor:
    """Hessians d2E/dR2 of every structure of a batch, zero-padded to [B, 3 max(n), 3 max(n)].

    ``forces`` must carry the graph of their derivative with respect to ``positions``. Row c of all
    structures comes from one vector-Jacobian product, because the batch Hessian is block diagonal; the
    3 max(n) products run as one vectorised backward pass.
    """
    n_atoms = n_atoms.to(forces.device)
    offsets = torch.cumsum(n_atoms, 0) - n_atoms
    m = int(n_atoms.max())
    selectors = torch.zeros((3 * m, *forces.shape), dtype=forces.dtype, device=forces.device)
    for c in range(3 * m):
        atom, k = divmod(c, 3)
        selectors[c, offsets[n_atoms > atom] + atom, k] = -1.0   # H = -dF/dR
    (rows,) = torch.autograd.grad(forces, positions, selectors, create_graph=create_graph, retain_graph=True,
                                  is_grads_batched=True)
    return torch.stack([pad_atoms(r, n_atoms) for r in rows], dim=1)


def hessian_vector_products(forces: torch.Tensor, positions: torch.Tensor, vectors: torch.Tensor,
                            create_graph: bool = False) -> torch.Tensor:
    """H v for a stack of vectors [k, sum n, 3] (one vectorised backward pass); returns [k, sum n, 3]."""
    if len(vectors) == 1:   # a plain backward pass is cheaper than a vectorised one of size 1
        (hv,) = torch.autograd.grad(forces, positions, -vectors[0], create_graph=create_graph, retain_graph=True)
        return hv.unsqueeze(0)
    (hv,) = torch.autograd.grad(forces, positions, -vectors, create_graph=create_graph, retain_graph=True,
                                is_grads_batched=True)
    return hv


def hessian_loss(forces: torch.Tensor, batch: Batch, kind: str = "full", probes: int = 4,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Mean squared Hessian error per element, (eV/A^2)^2, over the batch's [3n, 3n] blocks.

    ``kind="full"`` builds the model Hessians; ``kind="hvp"`` averages ||(H - H_ref) v||^2 over ``probes``
    random sign vectors v, an unbiased estimate of the same quantity.
    """
    n_atoms = batch[N_ATOMS].to(forces.device)
    ref = batch[REF_HESSIAN]
    elements = torch.sum((3 * n_atoms.to(forces.dtype)) ** 2)
    if kind == "full":
        pred = model_hessians(forces, batch[POSITIONS], n_atoms, create_graph=True)
        return torch.sum((pred - ref) ** 2) / elements
    if kind != "hvp":
        raise ValueError(f"hessian_loss: kind {kind!r}; allowed: one of {', '.join(HESSIAN_LOSSES)}")
    signs = torch.randint(0, 2, (probes, *forces.shape), generator=generator).to(forces.device, forces.dtype)
    signs = 2 * signs - 1
    hv = hessian_vector_products(forces, batch[POSITIONS], signs, create_graph=True)
    total = forces.new_zeros(())
    for v, h in zip(signs, hv):
        ref_hv = torch.bmm(ref, pad_atoms(v, n_atoms).unsqueeze(-1)).squeeze(-1)
        total = total + torch.sum((pad_atoms(h, n_atoms) - ref_hv) ** 2)
    return total / probes / elements


def weighted_loss(pred: Batch, batch: Batch, targets: Targets, hessian_kind: str = "full", hessian_probes: int = 4,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Weighted MSE: energies per atom (eV/atom)^2, force components (eV/A)^2 and Hessian elements
    (eV/A^2)^2 (of the kind ``hessian_kind`` with ``hessian_probes``; see :func:`hessian_loss`).

    Energies are compared per atom so that structures of different sizes weigh alike.
    """
    loss = pred["energy"].new_zeros(())
    if targets.energy > 0:
        n = batch[N_ATOMS].to(pred["energy"].dtype)
        loss = loss + targets.energy * torch.mean(((pred["energy"] - batch[keys.REF_energy]) / n) ** 2)
    if targets.forces > 0:
        loss = loss + targets.forces * torch.mean((pred["forces"] - batch[keys.REF_forces]) ** 2)
    if targets.hessian > 0:
        loss = loss + targets.hessian * hessian_loss(pred["forces"], batch, hessian_kind, hessian_probes,
                                                     generator)
    return loss
