"""Model names -> backends, so studies and the CLI can name models as strings.

Each backend declares its configuration dataclass and its potential class (:data:`BACKENDS`);
``make(name, **settings)`` builds that configuration from ``settings`` and refuses a setting the backend does not
have, naming the allowed ones. Networks take their training settings (``max_epochs``, ``learning_rate``, ...;
:class:`~paperlib.training.TrainConfig`) at the same level as their own. What a backend can do is a flag on its
potential class (:func:`capabilities`), not a check scattered over the studies.

``local_<kind>`` (e.g. ``local_gap``) names several local models of kind ``<kind>``, one per group of azobenzene
regions (:class:`~paperlib.models.regional.RegionalPotential`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from paperlib.models.base import Potential

LOCAL_PREFIX = "local_"
TRAIN = "train"
"""Field of a network's configuration that holds its :class:`~paperlib.training.TrainConfig`."""


@dataclasses.dataclass(frozen=True)
class Backend:
    """Where a backend lives: its module, configuration class, potential class and fixed settings."""

    module: str
    config: str
    potential: str
    fixed: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def config_class(self) -> type:
        """The configuration dataclass (imports the backend)."""
        return getattr(importlib.import_module(self.module), self.config)

    def potential_class(self) -> type:
        """The potential class (imports the backend)."""
        return getattr(importlib.import_module(self.module), self.potential)


BACKENDS: dict[str, Backend] = {
    **{f"schnet_{size}": Backend("paperlib.models.schnet", "SchNetConfig", "SchNetPotential", {"size": size})
       for size in ("small", "medium", "large")},
    "gap": Backend("paperlib.models.gap", "GAPConfig", "GAPPotential"),
    "fchl19": Backend("paperlib.models.gpr", "FCHLConfig", "FCHLPotential"),
    "sgdml": Backend("paperlib.models.sgdml", "SGDMLConfig", "SGDMLPotential"),
    "bpnn": Backend("paperlib.models.bpnn", "BPNNConfig", "BPNNPotential"),
    "mace": Backend("paperlib.models.mace", "MACEConfig", "MACEPotential"),
    "deepmd": Backend("paperlib.models.deepmd", "DeepMDConfig", "DeepMDPotential"),
    **{name: Backend("paperlib.models.foundation", "FoundationConfig", "FoundationPotential", {"model": name})
       for name in ("sevennet", "chgnet")},
}
BASE_NAMES: tuple[str, ...] = tuple(BACKENDS)
NAMES: tuple[str, ...] = BASE_NAMES + tuple(f"{LOCAL_PREFIX}{n}" for n in BASE_NAMES)


def _unknown(name: str) -> ValueError:
    return ValueError(f"unknown model {name!r}; allowed: {', '.join(BASE_NAMES)}, or local_ followed by one of them")


def backend(name: str) -> Backend:
    """The backend of a base model name; raises ValueError naming the allowed ones."""
    if name not in BACKENDS:
        raise _unknown(name)
    return BACKENDS[name]


def settings(name: str) -> tuple[str, ...]:
    """The settings ``make(name, ...)`` accepts: the configuration's fields (and its training fields)."""
    b = backend(name.removeprefix(LOCAL_PREFIX))
    own = [f.name for f in dataclasses.fields(b.config_class())]
    fields = [f for f in own if f not in b.fixed and f != TRAIN]
    if TRAIN in own:
        from paperlib.training import TrainConfig

        fields += [f.name for f in dataclasses.fields(TrainConfig) if f.name not in fields]
    return tuple(fields)


def build_config(name: str, **values: Any) -> Any:
    """The configuration of base model ``name`` with ``values`` replacing its defaults.

    Raises
    ------
    ValueError
        For a setting the backend does not have, naming the model and the allowed settings.
    """
    b = backend(name)
    cls = b.config_class()
    allowed = settings(name)
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise ValueError(f"model {name!r}: unknown setting {unknown[0]!r}; allowed: {', '.join(allowed)}")
    own = {f.name for f in dataclasses.fields(cls)}
    direct = {k: v for k, v in values.items() if k in own}
    train = {k: v for k, v in values.items() if k not in own}
    if TRAIN in own and train:
        base = next(f for f in dataclasses.fields(cls) if f.name == TRAIN).default
        direct[TRAIN] = dataclasses.replace(base, **train)
    return cls(**b.fixed, **direct)


def capabilities(name: str) -> dict[str, bool]:
    """What a base model can do: ``hessian_targets`` (trains on Hessians), ``stress`` (its calculator gives
    the stress of periodic cells, for NPT MD) and ``hessians`` (predicts Hessians)."""
    cls = backend(name).potential_class()
    return {"hessian_targets": bool(getattr(cls, "trains_on_hessians", False)),
            "stress": bool(getattr(cls, "computes_stress", False)),
            "hessians": bool(getattr(cls, "provides_hessians", False))}


def make(name: str, *, config: Any = None, region_rule=None, **values: Any) -> Potential:
    """A fresh, untrained model by name (see :data:`NAMES`).

    Either ``config`` (an instance of the backend's configuration class) or ``values`` (its settings, see
    :func:`settings`) describe it. ``region_rule`` (a :class:`~paperlib.sampling.azobenzene.RegionRule`) replaces
    the default rule of ``local_`` models, whose members are made with the same ``config`` or ``values``.
    """
    if name.startswith(LOCAL_PREFIX):
        from paperlib.models.regional import RegionalPotential
        from paperlib.sampling.azobenzene import RegionRule

        kind = name.removeprefix(LOCAL_PREFIX)
        backend(kind)
        return RegionalPotential(kind, lambda: make(kind, config=config, **values), rule=region_rule or RegionRule(),
                                 name=name)
    if region_rule is not None:
        raise ValueError(f"model {name!r}: region_rule applies to local_ models only")
    b = backend(name)
    if config is None:
        config = build_config(name, **values)
    elif values:
        raise ValueError(f"model {name!r}: give either config or settings, not both")
    elif not isinstance(config, b.config_class()):
        raise ValueError(f"model {name!r}: config must be a {b.config}; got {type(config).__name__}")
    return b.potential_class()(config, name=name)


def load(name: str, path: str | Path, device: str | None = None) -> Potential:
    """Load a model of kind ``name`` saved with its ``save`` method (networks onto ``device``)."""
    if name.startswith(LOCAL_PREFIX):
        from paperlib.models.regional import RegionalPotential

        kind = name.removeprefix(LOCAL_PREFIX)
        backend(kind)
        return RegionalPotential.load(path, lambda k, p: load(k, p, device), lambda: make(kind))
    cls = backend(name).potential_class()
    # Networks are placed on a device when loaded; the other backends have no device to choose.
    return cls.load(path, device=device) if "device" in inspect.signature(cls.load).parameters else cls.load(path)


@dataclasses.dataclass(frozen=True)
class SavedModel:
    """A model of kind ``name`` saved in the directory ``path`` (by its ``save`` method), loaded on demand.

    Small and picklable, so executors ship it instead of the loaded network; as an argument of a cached step
    it is keyed by its kind and the content of its files, not by where they lie or which device loads them (a
    retrained model that differs, e.g. from a GPU's non-deterministic sums, is a new key).
    """

    name: str
    path: Path
    device: str | None = None

    def load(self) -> Potential:
        """The model, on ``device`` (networks)."""
        return load(self.name, self.path, self.device)

    def cache_token(self) -> dict[str, str]:
        """The model kind and a SHA-256 over the names and bytes of its saved files."""
        root = Path(self.path)
        files = sorted(p for p in root.rglob("*") if p.is_file())
        if not files:
            raise FileNotFoundError(f"SavedModel {self.name!r}: no saved files under {str(root)!r}")
        h = hashlib.sha256()
        for f in files:
            h.update(str(f.relative_to(root)).encode() + b"\0")
            with open(f, "rb") as stream:
                for chunk in iter(lambda: stream.read(1 << 20), b""):
                    h.update(chunk)
        return {"model": self.name, "content": h.hexdigest()}
