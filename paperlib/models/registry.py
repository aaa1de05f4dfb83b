"""Model names -> constructors and loaders, so studies and the CLI can name models as strings.

``local_<kind>`` (e.g. ``local_gap``) names several local models of kind ``<kind>``, one per group of azobenzene
regions (:class:`~paperlib.models.regional.RegionalPotential`).
"""

from __future__ import annotations

from pathlib import Path

from paperlib.models.base import Potential

BASE_NAMES: tuple[str, ...] = ("schnet_small", "schnet_medium", "schnet_large", "gap", "fchl19", "sgdml", "bpnn",
                               "mace", "deepmd")
NAMES: tuple[str, ...] = BASE_NAMES + tuple(f"local_{n}" for n in BASE_NAMES)
LOCAL_PREFIX = "local_"


def _unknown(name: str) -> ValueError:
    return ValueError(f"unknown model {name!r}; allowed: {', '.join(BASE_NAMES)}, or local_ followed by one of them")


def make(name: str, *, seed: int = 0, device: str = "auto", max_epochs: int = 100, batch_size: int = 16,
         learning_rate: float = 5e-4, gap_n_sparse: int = 200, gap_config=None, sgdml_sigmas: tuple[int, ...] | None = None,
         region_rule=None, progress: bool = True, devices: int = 1, strategy: str = "auto") -> Potential:
    """A fresh, untrained model by name (see :data:`NAMES`), with the given training settings.

    ``gap_config`` (a :class:`~paperlib.models.gap.GAPConfig`) replaces the default GAP settings, whose
    ``n_sparse`` is ``gap_n_sparse``; ``sgdml_sigmas`` replaces sGDML's length-scale grid; ``region_rule`` (a
    :class:`~paperlib.sampling.azobenzene.RegionRule`) replaces the default rule of ``local_`` models.
    ``devices`` and ``strategy`` go to the networks' :class:`~paperlib.training.TrainConfig` (Lightning).
    """
    settings = dict(seed=seed, device=device, max_epochs=max_epochs, batch_size=batch_size,
                    learning_rate=learning_rate, gap_n_sparse=gap_n_sparse, gap_config=gap_config,
                    sgdml_sigmas=sgdml_sigmas, progress=progress, devices=devices, strategy=strategy)
    if name.startswith(LOCAL_PREFIX):
        from paperlib.models.regional import RegionalPotential
        from paperlib.sampling.azobenzene import RegionRule

        kind = name.removeprefix(LOCAL_PREFIX)
        if kind not in BASE_NAMES:
            raise _unknown(name)
        return RegionalPotential(kind, lambda: make(kind, **settings), rule=region_rule or RegionRule(), name=name)
    from paperlib.training import TrainConfig

    train = TrainConfig(max_epochs=max_epochs, learning_rate=learning_rate, batch_size=batch_size, seed=seed,
                        progress=progress, devices=devices, strategy=strategy)
    if name.startswith("schnet_"):
        from paperlib.models.schnet import SIZES, SchNetConfig, SchNetPotential

        size = name.removeprefix("schnet_")
        if size not in SIZES:
            raise _unknown(name)
        return SchNetPotential(SchNetConfig(size=size, device=device, train=train), name=name)
    if name == "gap":
        from paperlib.models.gap import GAPConfig, GAPPotential

        return GAPPotential(gap_config or GAPConfig(n_sparse=gap_n_sparse, seed=seed), name=name)
    if name == "fchl19":
        from paperlib.models.gpr import FCHLConfig, FCHLPotential

        return FCHLPotential(FCHLConfig(device="cpu" if device == "auto" else device), name=name)
    if name == "sgdml":
        from paperlib.models.sgdml import SGDMLConfig, SGDMLPotential

        return SGDMLPotential(SGDMLConfig(sigmas=tuple(sgdml_sigmas)) if sgdml_sigmas else SGDMLConfig(), name=name)
    if name == "bpnn":
        from paperlib.models.bpnn import BPNNConfig, BPNNPotential

        return BPNNPotential(BPNNConfig(device=device, train=train), name=name)
    if name == "mace":
        from paperlib.models.mace import MACEConfig, MACEPotential
        from paperlib.training import resolve_device

        return MACEPotential(MACEConfig(max_epochs=max_epochs, batch_size=batch_size, seed=seed,
                                        device=resolve_device(device).type), name=name)
    if name == "deepmd":
        from paperlib.models.deepmd import DeepMDConfig, DeepMDPotential

        return DeepMDPotential(DeepMDConfig(batch_size=batch_size, seed=seed), name=name)
    raise _unknown(name)


def load(name: str, path: str | Path, device: str | None = None) -> Potential:
    """Load a model of kind ``name`` saved with its ``save`` method."""
    if name.startswith(LOCAL_PREFIX):
        from paperlib.models.regional import RegionalPotential

        kind = name.removeprefix(LOCAL_PREFIX)
        if kind not in BASE_NAMES:
            raise _unknown(name)
        return RegionalPotential.load(path, lambda k, p: load(k, p, device), lambda: make(kind))
    if name.startswith("schnet_"):
        from paperlib.models.schnet import SchNetPotential

        return SchNetPotential.load(path, device=device)
    if name == "gap":
        from paperlib.models.gap import GAPPotential

        return GAPPotential.load(path)
    if name == "fchl19":
        from paperlib.models.gpr import FCHLPotential

        return FCHLPotential.load(path)
    if name == "sgdml":
        from paperlib.models.sgdml import SGDMLPotential

        return SGDMLPotential.load(path)
    if name == "bpnn":
        from paperlib.models.bpnn import BPNNPotential

        return BPNNPotential.load(path, device=device)
    if name == "mace":
        from paperlib.models.mace import MACEPotential

        return MACEPotential.load(path)
    if name == "deepmd":
        from paperlib.models.deepmd import DeepMDPotential

        return DeepMDPotential.load(path)
    raise _unknown(name)
