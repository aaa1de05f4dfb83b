"""MACE (mace-torch) behind the :class:`~paperlib.models.base.Potential` interface.

Training runs mace-torch's own ``mace_run_train`` on extxyz files written from the data set (labels under the
``REF_`` keys), so the model is exactly what the MACE authors' pipeline produces; prediction uses mace-torch's
ASE calculator in the precision the model was trained in (``MACEConfig.dtype``).
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from paperlib import keys
from paperlib.data.dataset import Dataset
from paperlib.determinism import cpu_determinism
from paperlib.models.base import FitReport, Targets
from paperlib.models.external import ExternalPotential


_RUN_TRAIN = ("import sys, torch; from mace.cli.run_train import main; "
              "torch.use_deterministic_algorithms(sys.argv[sys.argv.index('--device') + 1] == 'cpu'); "
              "sys.argv[0] = 'mace_run_train'; sys.exit(main())")
"""``mace_run_train`` in torch's deterministic mode on CPU: in float32, MACE's sender gathers accumulate their
gradients with atomic additions on several CPU threads (see :func:`paperlib.determinism.cpu_determinism`)."""

DTYPES = ("float32", "float64")
"""Floating-point precisions ``mace_run_train`` and the calculator accept."""


@dataclasses.dataclass(frozen=True)
class MACEConfig:
    """Architecture and training settings passed to ``mace_run_train`` (lengths in A).

    The last ``stage_two_epochs`` epochs run MACE's second stage, which raises the energy weight to
    ``stage_two_energy_weight`` at learning rate ``stage_two_lr``: with forces weighted 100 times the energies,
    the first stage leaves a per-atom energy offset that the second removes.
    """

    hidden_irreps: str = "32x0e + 32x1o"
    r_max_A: float = 5.0
    num_interactions: int = 2
    max_L: int = 1
    correlation: int = 3
    max_epochs: int = 100
    batch_size: int = 8
    learning_rate: float = 0.01
    seed: int = 0
    device: str = "cpu"
    valid_fraction: float = 0.1
    stage_two_epochs: int = 0
    stage_two_energy_weight: float = 1000.0
    stage_two_lr: float = 1e-3
    dtype: str = "float64"

    def __post_init__(self):
        if self.max_epochs < 1 or self.batch_size < 1:
            raise ValueError(f"MACEConfig: max_epochs and batch_size must be >= 1; got {self.max_epochs}, "
                             f"{self.batch_size}")
        if self.dtype not in DTYPES:
            raise ValueError(f"MACEConfig.dtype: got {self.dtype!r}; allowed: {', '.join(DTYPES)}")
        if not 0 <= self.stage_two_epochs < self.max_epochs:
            raise ValueError(f"MACEConfig.stage_two_epochs: got {self.stage_two_epochs}; allowed: 0 <= value < "
                             f"max_epochs ({self.max_epochs})")
        if not 0 < self.valid_fraction < 1:
            raise ValueError(f"MACEConfig.valid_fraction: got {self.valid_fraction}; allowed: 0 < value < 1")


class MACEPotential(ExternalPotential):
    """A MACE model trained by ``mace_run_train`` and evaluated by mace-torch's calculator; implements
    :class:`~paperlib.models.base.Potential`."""

    config_type = MACEConfig
    name = "mace"

    def __init__(self, config: MACEConfig = MACEConfig(), name: str = "mace"):
        if config.device == "auto":
            # mace_run_train takes a concrete device, so "auto" is resolved here, once.
            from paperlib.training import resolve_device

            config = dataclasses.replace(config, device=resolve_device("auto").type)
        super().__init__(config, name)

    def fit(self, train: Dataset, valid: Dataset | None = None, *, targets: Targets = Targets(1.0, 100.0)
            ) -> FitReport:
        """Train with the energy and force weights of ``targets``; ``valid`` (else a ``valid_fraction`` of
        ``train``) picks the best epoch."""
        if targets.hessian > 0:
            raise ValueError("MACEPotential.fit: Hessian targets are not supported by this backend")
        train.require(keys.REF_energy, keys.REF_forces)
        c = self.config
        work = Path(tempfile.mkdtemp(prefix="paperlib-mace-"))
        train.write(work / "train.xyz")
        args = [sys.executable, "-c", _RUN_TRAIN, "--name", "model", "--train_file", "train.xyz",
                "--energy_key", keys.REF_energy, "--forces_key", keys.REF_forces, "--model", "MACE",
                "--hidden_irreps", c.hidden_irreps, "--r_max", str(c.r_max_A),
                "--num_interactions", str(c.num_interactions), "--max_L", str(c.max_L),
                "--correlation", str(c.correlation), "--batch_size", str(c.batch_size),
                "--valid_batch_size", str(c.batch_size), "--max_num_epochs", str(c.max_epochs), "--lr",
                str(c.learning_rate), "--energy_weight", str(targets.energy), "--forces_weight", str(targets.forces),
                "--E0s", "average", "--device", c.device, "--default_dtype", c.dtype, "--seed", str(c.seed),
                "--num_workers", "0", "--save_cpu", "--results_dir", "results", "--checkpoints_dir", "checkpoints",
                "--model_dir", "out", "--log_dir", "logs"]
        if c.stage_two_epochs:
            args += ["--stage_two", "--start_stage_two", str(c.max_epochs - c.stage_two_epochs),
                     "--stage_two_energy_weight", str(c.stage_two_energy_weight),
                     "--stage_two_forces_weight", str(targets.forces), "--stage_two_lr", str(c.stage_two_lr)]
        if valid is not None and len(valid):
            valid.require(keys.REF_energy, keys.REF_forces)
            valid.write(work / "valid.xyz")
            args += ["--valid_file", "valid.xyz"]
        else:
            args += ["--valid_fraction", str(c.valid_fraction)]
        start = time.perf_counter()
        proc = subprocess.run(args, cwd=work, capture_output=True, text=True)
        model = work / "out" / ("model_stagetwo.model" if c.stage_two_epochs else "model.model")
        if proc.returncode != 0 or not model.exists():
            raise RuntimeError(f"mace_run_train failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}"
                               f"{proc.stderr[-2000:]}")
        final = Path(tempfile.mkdtemp(prefix="paperlib-mace-model-"))
        shutil.copy2(model, final / "model.model")
        (final / "train.log").write_text(proc.stdout[-20000:] + proc.stderr[-20000:])
        shutil.rmtree(work, ignore_errors=True)
        self._adopt(final, temporary=True)
        return FitReport(wall_time_s=time.perf_counter() - start, epochs=c.max_epochs)

    @classmethod
    def from_model_file(cls, path: str | Path, device: str = "cpu", name: str = "foundation") -> MACEPotential:
        """A ready-to-use model from a mace-torch model file (e.g. a downloaded foundation model); ``fit``
        would retrain it from scratch, so it is meant for evaluation only.

        Raises
        ------
        FileNotFoundError
            When ``path`` is not a file.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"MACE model file {str(path)!r} does not exist")
        directory = Path(tempfile.mkdtemp(prefix="paperlib-mace-file-"))
        (directory / "model.model").symlink_to(path.resolve())
        model = cls(MACEConfig(device=device), name=name)
        model._adopt(directory, temporary=True)
        return model

    def force_field(self) -> MACEForceField:
        """This model as the force field of the batched MD engine (:mod:`paperlib.sampling.engine`): the same
        network and precision as the calculator, without stress."""
        return MACEForceField(self._package_calculator(), self.config.device)

    def _computing(self):
        """Forces are gradients through the same gathers as in training: deterministic mode on CPU too."""
        return cpu_determinism(self.config.device)

    def _make_calculator(self, directory: Path):
        from mace.calculators import MACECalculator

        return MACECalculator(model_paths=str(directory / "model.model"), device=self.config.device,
                              default_dtype=self.config.dtype)


class MACEForceField:
    """A MACE network evaluating many replicas in one call: :class:`paperlib.sampling.engine.ForceField`.

    MACE's radial envelope is zero beyond ``r_max``, so the pairs of a Verlet list's skin contribute nothing."""

    def __init__(self, calculator, device: str):
        self.model = calculator.models[0]
        self.cutoff_A = float(calculator.r_max)
        self.device = torch.device(device)
        self.dtype = next(self.model.parameters()).dtype
        zs = [int(z) for z in calculator.z_table.zs]
        self.index = torch.full((max(zs) + 1,), -1, dtype=torch.long, device=self.device)
        self.index[zs] = torch.arange(len(zs), device=self.device)
        self.n_species = len(zs)
        # the head the calculator evaluates (the "default" one of a multi-head foundation model)
        self.head = list(calculator.available_heads).index(calculator.head)

    def __call__(self, graph) -> tuple[torch.Tensor, torch.Tensor]:
        """Energies [R] (eV) and forces [n, 3] (eV/A) of the flat batch ``graph`` (an engine ``Graph``)."""
        species = self.index[graph.numbers]
        if (species < 0).any():
            raise ValueError("MACEForceField: an element the model was not trained on")
        replicas = len(graph.n_atoms)
        data = {"positions": graph.positions.detach().to(dtype=self.dtype, copy=True),
                "node_attrs": torch.nn.functional.one_hot(species, self.n_species).to(self.dtype),
                "edge_index": torch.stack([graph.idx_i, graph.idx_j]), "shifts": graph.offsets.to(self.dtype),
                "unit_shifts": torch.zeros_like(graph.offsets, dtype=self.dtype),
                "cell": graph.cells.to(self.dtype).reshape(-1, 3), "batch": graph.replica,
                "ptr": torch.cat([graph.n_atoms.new_zeros(1), torch.cumsum(graph.n_atoms, 0)]),
                "head": torch.full((replicas,), self.head, dtype=torch.long, device=self.device)}
        with torch.enable_grad(), cpu_determinism(self.device):
            out = self.model(data, training=False, compute_force=True, compute_stress=False)
        return out["energy"].detach(), out["forces"].detach()
