"""The five studies. Every module has the same shape (the study contract):

``Params`` (``Params.resolve(profile, overrides)``), ``run(p, cache, options=RunOptions(), timer=None) ->
Results``, ``Results`` (``to_json`` / ``from_json``), ``CLAIMS`` and ``figures(results)``. :data:`STUDIES`
maps each study's name to its module, imported on first use (the modules import torch and friends).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from types import ModuleType

from paperlib.options import RunOptions

NAMES: tuple[str, ...] = ("flexible_pes", "gradients", "hessian_training", "nacl_selection", "transferability")
__all__ = ["NAMES", "STUDIES", "RunOptions"]


class _Studies(Mapping[str, ModuleType]):
    """Study name -> module, imported when first looked up."""

    def __getitem__(self, name: str) -> ModuleType:
        if name not in NAMES:
            raise KeyError(f"unknown study {name!r}; allowed: {', '.join(NAMES)}")
        return importlib.import_module(f"{__name__}.{name}")

    def __iter__(self) -> Iterator[str]:
        return iter(NAMES)

    def __len__(self) -> int:
        return len(NAMES)


STUDIES: Mapping[str, ModuleType] = _Studies()
