"""One fresh process of the cross-process determinism test (``tests/test_determinism.py``).

``python -m tests.determinism_worker KIND DATA OUT``: trains model KIND (a registry name) on the frames in the
extxyz file DATA, or runs the reference method KIND (``xtb``, ``bmhtf``), and writes every number it produced
to the ``.npy`` file OUT.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from paperlib import keys
from paperlib.data.dataset import Dataset

TRAIN, VALID = slice(0, 12), slice(12, 16)
"""Frames of DATA that train and validate; the rest are predicted."""


def model_numbers(name: str, frames: Dataset) -> np.ndarray:
    """Test-frame energies and forces of model ``name`` trained on the first frames, as one flat array."""
    from paperlib.models import registry
    from paperlib.models.base import Targets
    from paperlib.models.deepmd import DeepMDConfig, DeepMDPotential
    from paperlib.models.mace import MACEConfig, MACEPotential

    # MACE and Deep Potential at sizes that train in seconds; the others by their registry defaults.
    if name == "mace":
        model = MACEPotential(MACEConfig(hidden_irreps="8x0e + 8x1o", r_max_A=4.0, num_interactions=1, max_L=1,
                                         correlation=2, batch_size=4, max_epochs=2))
    elif name == "deepmd":
        model = DeepMDPotential(DeepMDConfig(descriptor_neurons=(8, 16), axis_neuron=4, fitting_neurons=(16, 16),
                                             steps=20))
    else:
        settings = {"gap": dict(n_sparse=20, seed=0), "sgdml": dict(sigmas=(40,)), "fchl19": dict(device="cpu")}
        network = dict(seed=0, device="cpu", max_epochs=3, batch_size=4, learning_rate=1e-3, progress=False)
        model = registry.make(name, **settings.get(name, network))
    model.fit(frames[TRAIN], frames[VALID], targets=Targets(1.0, 1.0))
    pred = model.predict(list(frames[VALID.stop:]))
    return np.concatenate([pred.energies, pred.forces.ravel()])


def xtb_numbers(frames: Dataset) -> np.ndarray:
    """GFN2-xTB labels of the frames and a short Langevin run from the first, computed in this process."""
    from paperlib.reference.xtb import label, xtb_calculator
    from paperlib.sampling.md import langevin_md

    calc = xtb_calculator()
    labelled = [label(a, calc) for a in frames[:6]]
    md = langevin_md(frames[0], calc, temperature_K=500.0, timestep_fs=0.5, friction_per_fs=0.01, equil_steps=10,
                     n_frames=4, stride=5, seed=0, progress=False)
    return np.concatenate([a.arrays[keys.REF_forces].ravel() for a in labelled + md] +
                          [[a.info[keys.REF_energy] for a in labelled + md]])


def bmhtf_numbers() -> np.ndarray:
    """Positions and labels of a short BMHTF NVT run of molten NaCl (LAMMPS)."""
    from paperlib.reference.bmhtf import LammpsBMHTF
    from paperlib.sampling.md import lammps_md, random_salt_box

    engine = LammpsBMHTF()
    frames = lammps_md(engine, random_salt_box(64, 1.5, seed=1), temperature_K=1400.0, pressure_bar=None,
                       timestep_fs=2.0, equil_steps=50, n_frames=4, stride=10, seed=1, progress=False)
    engine.close()
    return np.concatenate([np.concatenate([a.positions.ravel(), a.arrays[keys.REF_forces].ravel(),
                                           [a.info[keys.REF_energy]]]) for a in frames])


def main(kind: str, data: str, out: str) -> None:
    """Compute the numbers of ``kind`` and write them to ``out``."""
    if kind == "bmhtf":
        numbers = bmhtf_numbers()
    else:
        frames = Dataset.read(data, [keys.REF_energy, keys.REF_forces])
        numbers = xtb_numbers(frames) if kind == "xtb" else model_numbers(kind, frames)
    np.save(Path(out), numbers)


if __name__ == "__main__":
    main(*sys.argv[1:4])
