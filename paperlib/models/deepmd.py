"""Deep Potential (DeePMD-kit, TensorFlow backend, ``se_e2_a`` descriptor) behind the
:class:`~paperlib.models.base.Potential` interface.

Training writes the data in DeePMD-kit's npy format (one system per distinct atom sequence), runs
``dp --tf train`` and ``dp --tf freeze``, and predicts with DeePMD-kit's ASE calculator on the frozen graph.
DeePMD-kit's PyTorch backend is built for one torch version and refuses the one installed here; the
TensorFlow backend runs alongside it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols

from paperlib import keys
from paperlib.data.dataset import Dataset
from paperlib.models.base import FitReport, Targets
from paperlib.models.external import ExternalPotential, find_executable
from paperlib.neighbours import pairs_within


@dataclasses.dataclass(frozen=True)
class DeepMDConfig:
    """``se_e2_a`` descriptor and fitting-network sizes, cutoffs (A) and training settings (steps, learning
    rates, DeePMD's start/limit loss prefactors)."""

    rcut_A: float = 5.0
    rcut_smth_A: float = 0.5
    descriptor_neurons: tuple[int, ...] = (16, 32)
    axis_neuron: int = 8
    fitting_neurons: tuple[int, ...] = (64, 64)
    steps: int = 2000
    batch_size: int = 4
    start_lr: float = 1e-3
    stop_lr: float = 1e-5
    start_pref_e: float = 0.02
    limit_pref_e: float = 1.0
    start_pref_f: float = 1000.0
    limit_pref_f: float = 1.0
    seed: int = 0
    sel: tuple[tuple[str, int], ...] = ()
    """Per element, the most neighbours of that element within ``rcut_A`` the descriptor keeps (DeePMD-kit drops
    the rest, silently); empty: DeePMD-kit's ``auto``, from the training data alone. :func:`sel_for` sets it from
    every structure a model will meet."""

    def __post_init__(self):
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError(f"DeepMDConfig: steps and batch_size must be >= 1; got {self.steps}, {self.batch_size}")
        if not 0 < self.rcut_smth_A < self.rcut_A:
            raise ValueError(f"DeepMDConfig.rcut_smth_A: got {self.rcut_smth_A}; allowed: 0 < value < rcut_A "
                             f"({self.rcut_A})")

    def input_json(self, type_map: list[str], systems: list[str]) -> dict:
        """The ``dp train`` input for ``systems`` (directories) with element order ``type_map``."""
        return {
            "model": {"type_map": type_map,
                      "descriptor": {"type": "se_e2_a", "rcut": self.rcut_A,
                                     "sel": [dict(self.sel)[el] for el in type_map] if self.sel else "auto",
                                     "rcut_smth": self.rcut_smth_A, "neuron": list(self.descriptor_neurons),
                                     "axis_neuron": self.axis_neuron, "seed": self.seed},
                      "fitting_net": {"neuron": list(self.fitting_neurons), "seed": self.seed}},
            "learning_rate": {"type": "exp", "start_lr": self.start_lr, "stop_lr": self.stop_lr,
                              "decay_steps": max(1, self.steps // 20)},
            "loss": {"type": "ener", "start_pref_e": self.start_pref_e, "limit_pref_e": self.limit_pref_e,
                     "start_pref_f": self.start_pref_f, "limit_pref_f": self.limit_pref_f},
            "training": {"training_data": {"systems": systems, "batch_size": self.batch_size},
                         "numb_steps": self.steps, "seed": self.seed, "disp_file": "lcurve.out",
                         "disp_freq": max(1, self.steps // 20), "save_freq": self.steps}}


def max_neighbours(structures: Iterable[Atoms], rcut_A: float) -> dict[str, int]:
    """Per element, the largest number of atoms of that element within ``rcut_A`` of any one atom, over
    ``structures`` (periodic images counted where a structure is periodic)."""
    out: dict[str, int] = {}
    for atoms in structures:
        sym = np.array(atoms.get_chemical_symbols())
        i, j, _, _ = pairs_within(atoms, rcut_A)
        for el in np.unique(sym[j]):
            most = int(np.bincount(i[sym[j] == el], minlength=len(atoms)).max())
            out[str(el)] = max(out.get(str(el), 0), most)
    return out


def sel_for(structures: Iterable[Atoms], rcut_A: float, margin: float = 1.25) -> tuple[tuple[str, int], ...]:
    """A ``sel`` that keeps every neighbour in ``structures`` with room for ``margin`` times as many (denser
    moments of MD than the structures given)."""
    return tuple(sorted((el, int(math.ceil(margin * n))) for el, n in max_neighbours(structures, rcut_A).items()))


def sel_problems(sel: Sequence[tuple[str, int]], structures: Iterable[Atoms], rcut_A: float) -> list[str]:
    """Where ``structures`` hold more neighbours of an element than ``sel`` keeps (each would be dropped)."""
    allowed = dict(sel)
    return [f"an atom has {n} {el} neighbours within {rcut_A:g} A; sel keeps {allowed.get(el, 0)}"
            for el, n in sorted(max_neighbours(structures, rcut_A).items()) if n > allowed.get(el, 0)]


def write_deepmd_systems(data: Dataset, root: str | Path, type_map: list[str]) -> list[str]:
    """Write ``data`` (``REF_`` labels) in DeePMD-kit's npy format under ``root``, one system directory per
    distinct atom sequence (DeePMD-kit requires one atom order per system); non-periodic structures get a
    ``nopbc`` marker. Returns the system directories."""
    root = Path(root)
    groups: dict[tuple, list[Atoms]] = {}
    for a in data:
        groups.setdefault((tuple(a.numbers), bool(a.pbc.any())), []).append(a)
    systems = []
    for k, ((numbers, periodic), frames) in enumerate(groups.items()):
        d = root / f"system_{k:03d}"
        (d / "set.000").mkdir(parents=True)
        (d / "type.raw").write_text("\n".join(str(type_map.index(chemical_symbols[z])) for z in numbers) + "\n")
        (d / "type_map.raw").write_text("\n".join(type_map) + "\n")
        np.save(d / "set.000" / "coord.npy", np.stack([a.positions.ravel() for a in frames]))
        np.save(d / "set.000" / "energy.npy", np.array([a.info[keys.REF_energy] for a in frames]))
        np.save(d / "set.000" / "force.npy", np.stack([a.arrays[keys.REF_forces].ravel() for a in frames]))
        if periodic:
            np.save(d / "set.000" / "box.npy", np.stack([a.cell.array.ravel() for a in frames]))
        else:
            (d / "nopbc").touch()
        systems.append(str(d))
    return systems


_TRAIN_AND_FREEZE = ("from deepmd.main import main\n"
                     "main(['--tf', 'train', 'input.json'])\n"
                     "main(['--tf', 'freeze', '-o', 'graph.pb'])\n")


class DeepMDPotential(ExternalPotential):
    """A Deep Potential trained and frozen by DeePMD-kit and evaluated by its calculator; implements
    :class:`~paperlib.models.base.Potential`."""

    config_type = DeepMDConfig
    name = "deepmd"

    def __init__(self, config: DeepMDConfig = DeepMDConfig(), name: str = "deepmd"):
        super().__init__(config, name)
        self.type_map: list[str] = []

    def fit(self, train: Dataset, valid: Dataset | None = None, *, targets: Targets = Targets(1.0, 1.0)
            ) -> FitReport:
        """Train for ``config.steps`` steps with DeePMD-kit's energy/force prefactor schedule and freeze the
        graph. ``targets`` must train energies and forces (the prefactors come from the config); ``valid`` is
        not used (DeePMD-kit keeps the last step)."""
        if targets.hessian > 0 or targets.energy == 0 or targets.forces == 0:
            raise ValueError(f"DeepMDPotential.fit: targets {targets.labels}; allowed: energy and forces (the "
                             "config's prefactors weigh them)")
        train.require(keys.REF_energy, keys.REF_forces)
        self.type_map = [chemical_symbols[z] for z in sorted({int(z) for a in train for z in a.numbers})]
        if self.config.sel:
            dropped = sel_problems(self.config.sel, train, self.config.rcut_A)
            if dropped:
                raise ValueError(f"DeepMDConfig.sel {dict(self.config.sel)} drops neighbours of the training data: "
                                 + "; ".join(dropped))
        work = Path(tempfile.mkdtemp(prefix="paperlib-deepmd-"))
        systems = write_deepmd_systems(train, work / "data", self.type_map)
        (work / "input.json").write_text(json.dumps(self.config.input_json(self.type_map, systems), indent=1))
        start = time.perf_counter()
        find_executable("dp", "deepmd-kit[cpu]")   # a clear error when DeePMD-kit is missing
        # `dp train` then `dp freeze` in one process: importing TensorFlow and DeePMD-kit costs ~6 s per process
        proc = subprocess.run([sys.executable, "-c", _TRAIN_AND_FREEZE], cwd=work, capture_output=True, text=True)
        if proc.returncode != 0 or not (work / "graph.pb").exists():
            raise RuntimeError(f"dp train/freeze failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}"
                               f"{proc.stderr[-2000:]}")
        final = Path(tempfile.mkdtemp(prefix="paperlib-deepmd-model-"))
        for name in ("graph.pb", "lcurve.out", "input.json"):
            if (work / name).exists():
                shutil.copy2(work / name, final / name)
        shutil.rmtree(work, ignore_errors=True)
        self._adopt(final, temporary=True)
        return FitReport(wall_time_s=time.perf_counter() - start, epochs=self.config.steps)

    def _adopt(self, directory: Path, temporary: bool = False) -> None:
        super()._adopt(directory, temporary)
        self.type_map = json.loads((Path(directory) / "input.json").read_text())["model"]["type_map"]

    def _make_calculator(self, directory: Path):
        from deepmd.calculator import DP

        return DP(model=str(directory / "graph.pb"))

    def _prepare(self, atoms: Atoms) -> Atoms:
        unknown = sorted(set(atoms.get_chemical_symbols()) - set(self.type_map))
        if unknown:
            raise ValueError(f"{self.name}: elements {unknown} were not in the training data ({self.type_map})")
        return atoms.copy()
