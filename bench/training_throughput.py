"""SchNet training throughput (structures/s): paperlib's in-memory loop vs schnetpack's own pipeline
(ASEAtomsData + AtomsDataModule + AtomisticTask + Lightning Trainer), same network, data, loss weights and
batch size, measured side by side in one run. Prints both rates and their ratio (goal: paperlib >= 2x)."""

import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from paperlib.compat import import_schnetpack
from paperlib.data.dataset import Dataset
from paperlib.models.base import Targets
from paperlib.models.schnet import SchNetConfig, SchNetPotential, build_network
from paperlib.reference.bmhtf import LammpsBMHTF
from paperlib.sampling.md import lammps_md, random_salt_box
from paperlib.training import TrainConfig

spk = import_schnetpack()
N_STRUCTURES, BATCH, EPOCHS, CUTOFF = 64, 8, 3, 6.0


def data() -> Dataset:
    engine = LammpsBMHTF()
    frames = lammps_md(engine, random_salt_box(100, 1.5, seed=0), temperature_K=1400, pressure_bar=1.0,
                       timestep_fs=2.0, equil_steps=500, n_frames=N_STRUCTURES, stride=20, seed=0, progress=False)
    engine.close()
    return Dataset(frames)


def paperlib_rate(ds: Dataset) -> float:
    model = SchNetPotential(SchNetConfig(device="cpu", train=TrainConfig(max_epochs=EPOCHS, batch_size=BATCH,
                                                                          progress=False)))
    t = time.perf_counter()
    model.fit(ds, targets=Targets(0.01, 0.99))
    return EPOCHS * len(ds) / (time.perf_counter() - t)


def schnetpack_rate(ds: Dataset, workdir: Path) -> float:
    import pytorch_lightning as pl

    db = spk.data.ASEAtomsData.create(str(workdir / "data.db"), distance_unit="Ang",
                                      property_unit_dict={"energy": "eV", "forces": "eV/Ang"})
    db.add_systems([{"energy": np.array([a.info["REF_energy"]]), "forces": a.arrays["REF_forces"]} for a in ds],
                   list(ds))
    dm = spk.data.AtomsDataModule(str(workdir / "data.db"), batch_size=BATCH, num_train=len(ds) - 2, num_val=2,
                                  transforms=[spk.transform.ASENeighborList(cutoff=CUTOFF),
                                              spk.transform.CastTo32()],
                                  num_workers=0, split_file=str(workdir / "split.npz"))
    net = build_network(SchNetConfig(device="cpu"))
    outputs = [spk.task.ModelOutput("energy", loss_fn=torch.nn.MSELoss(), loss_weight=0.01, metrics={}),
               spk.task.ModelOutput("forces", loss_fn=torch.nn.MSELoss(), loss_weight=0.99, metrics={})]
    task = spk.task.AtomisticTask(model=net, outputs=outputs, optimizer_args={"lr": 5e-4})
    trainer = pl.Trainer(max_epochs=EPOCHS, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, num_sanity_val_steps=0, limit_val_batches=0,
                         default_root_dir=str(workdir))
    t = time.perf_counter()
    trainer.fit(task, datamodule=dm)
    return EPOCHS * (len(ds) - 2) / (time.perf_counter() - t)


if __name__ == "__main__":
    ds = data()
    with tempfile.TemporaryDirectory() as tmp:
        theirs = schnetpack_rate(ds, Path(tmp))
    ours = paperlib_rate(ds)
    print(f"SchNet small training, {len(ds)} NaCl configurations x 100 ions, batch {BATCH}, {EPOCHS} epochs, CPU")
    print(f"  paperlib loop:       {ours:7.1f} structures/s")
    print(f"  schnetpack pipeline: {theirs:7.1f} structures/s")
    print(f"  ratio paperlib/schnetpack: {ours / theirs:.2f} (goal >= 2)")
