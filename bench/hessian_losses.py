"""Cost of Hessian training: seconds per epoch of E+F, E+F+H with the full Hessian (paperlib's vectorised
rows, and schnetpack's per-element ``derivative_from_atomic``), and E+F+H with the Hessian-vector-product
loss for k = 1, 4, 16, as ratios to E+F, measured one after the other in this process.

Data: the largest training set of the Hessian-training study at the default profile (the reactions' critical
points and the training molecules' minima; cached after the first run). Goal: the HVP loss at k <= 4 within 2x of E+F.
"""

import time

import numpy as np
import torch

from paperlib.cache import Cache
from paperlib.models.base import Targets
from paperlib.models.schnet import SchNetPotential, collate
from paperlib.studies import RunOptions
from paperlib.studies import hessian_training as study
from paperlib.losses import N_ATOMS, POSITIONS, REF_HESSIAN, weighted_loss
from paperlib.training import TrainConfig, with_runtime

EPOCHS = 20
CPU = RunOptions(device="cpu", executor="in-process", progress=False)


def schnetpack_full_loss(forces: torch.Tensor, batch: dict) -> torch.Tensor:
    """The full Hessian loss with schnetpack's own Hessian: one backward pass per Hessian element row."""
    from schnetpack.atomistic.response import derivative_from_atomic

    n_atoms = batch[N_ATOMS]
    flat = derivative_from_atomic(-forces, batch[POSITIONS], n_atoms, create_graph=True, retain_graph=True)
    total, start = forces.new_zeros(()), 0
    for b, n in enumerate(n_atoms.tolist()):
        block = flat[start:start + n * n].reshape(n, n, 3, 3).permute(0, 2, 1, 3).reshape(3 * n, 3 * n)
        total = total + torch.sum((block - batch[REF_HESSIAN][b, :3 * n, :3 * n]) ** 2)
        start += n * n
    return total / torch.sum((3 * n_atoms.double()) ** 2)


def seconds_per_epoch(p, train, name: str) -> float:
    loss_kind, probes = ("hvp", int(name.split("k=")[1].rstrip(")"))) if "HVP" in name else ("full", 1)
    config = with_runtime(study.model_config(p, loss_kind, 1), CPU)
    model = SchNetPotential(config)
    model.fit(train, targets=Targets(1.0, 1.0))   # one epoch sets the energy scale; not timed
    opt = torch.optim.Adam(model.net.parameters(), lr=1e-4)
    graphs = [model._graph(a, True) for a in train]
    batches = [collate(graphs[s:s + p.batch_size], model.dtype, model.device)
               for s in range(0, len(graphs), p.batch_size)]
    tcfg = TrainConfig(hessian_loss=loss_kind, hessian_probes=probes)
    gen = torch.Generator().manual_seed(0)
    targets = Targets(1.0, 1.0, 0.0 if name == "E+F" or "schnetpack" in name else 0.01)
    model.net.train()
    start = time.perf_counter()
    for _ in range(EPOCHS):
        for batch in batches:
            opt.zero_grad(set_to_none=True)
            pred = model._forward(batch)
            loss = weighted_loss(pred, batch, targets, tcfg.hessian_loss, tcfg.hessian_probes, gen)
            if "schnetpack" in name:
                loss = loss + 0.01 * schnetpack_full_loss(pred["forces"], batch)
            loss.backward()
            opt.step()
    return (time.perf_counter() - start) / EPOCHS


if __name__ == "__main__":
    p = study.Params.resolve("default")
    with RunOptions().make_executor() as ex:   # the labels on every core (cached after the first run)
        train = study.reference_data(p, Cache(), progress=False, executor=ex).training_set(max(p.train_sizes))
    names = ["E+F", "E+F+H (full)", "E+F+H (full, schnetpack)", "E+F+H (HVP, k=1)", "E+F+H (HVP, k=4)",
             "E+F+H (HVP, k=16)"]
    times = {n: seconds_per_epoch(p, train, n) for n in names}
    print(f"Hessian losses: SchNet {p.model_size} float64, {len(train)} training structures "
          f"({int(np.max(train.n_atoms()))} atoms max), batch {p.batch_size}, {EPOCHS} epochs each, "
          f"{torch.get_num_threads()} threads")
    for n, t in times.items():
        print(f"  {n:28s} {1000 * t:8.1f} ms/epoch  {t / times['E+F']:5.2f}x E+F")
    k4 = times["E+F+H (HVP, k=4)"] / times["E+F"]
    print(f"  goal: HVP at k <= 4 within 2x of E+F -> k=4 at {k4:.2f}x: {'met' if k4 <= 2 else 'missed'}")
