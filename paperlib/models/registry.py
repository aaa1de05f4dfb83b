"""Model names -> constructors and loaders, so studies and the CLI can name models as strings."""

from __future__ import annotations

from pathlib import Path

from paperlib.models.base import Potential

NAMES: tuple[str, ...] = ("schnet_small", "schnet_medium", "schnet_large", "gap", "fchl19")


def make(name: str, *, seed: int = 0, device: str = "auto", max_epochs: int = 100, batch_size: int = 16,
         learning_rate: float = 5e-4, gap_n_sparse: int = 200, progress: bool = True) -> Potential:
    """A fresh, untrained model by name (see :data:`NAMES`), with the given training settings."""
    if name.startswith("schnet_"):
        from paperlib.models.schnet import SIZES, SchNetConfig, SchNetPotential
        from paperlib.training import TrainConfig

        size = name.removeprefix("schnet_")
        if size not in SIZES:
            raise ValueError(f"unknown model {name!r}; allowed: {', '.join(NAMES)}")
        train = TrainConfig(max_epochs=max_epochs, learning_rate=learning_rate, batch_size=batch_size, seed=seed,
                            progress=progress)
        return SchNetPotential(SchNetConfig(size=size, device=device, train=train), name=name)
    if name == "gap":
        from paperlib.models.gap import GAPConfig, GAPPotential

        return GAPPotential(GAPConfig(n_sparse=gap_n_sparse, seed=seed), name=name)
    if name == "fchl19":
        from paperlib.models.gpr import FCHLConfig, FCHLPotential

        return FCHLPotential(FCHLConfig(device="cpu" if device == "auto" else device), name=name)
    raise ValueError(f"unknown model {name!r}; allowed: {', '.join(NAMES)}")


def load(name: str, path: str | Path, device: str | None = None) -> Potential:
    """Load a model of kind ``name`` saved with its ``save`` method."""
    if name.startswith("schnet_"):
        from paperlib.models.schnet import SchNetPotential

        return SchNetPotential.load(path, device=device)
    if name == "gap":
        from paperlib.models.gap import GAPPotential

        return GAPPotential.load(path)
    if name == "fchl19":
        from paperlib.models.gpr import FCHLPotential

        return FCHLPotential.load(path)
    raise ValueError(f"unknown model {name!r}; allowed: {', '.join(NAMES)}")
