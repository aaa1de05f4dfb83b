"""Runtime options of a study run: where it computes, never what it computes.

:class:`RunOptions` is the same for every study and never enters a cache key or a result: the same
parameters give the same numbers on one core, on a dask cluster or on a GPU (to float tolerance there).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from typing import Any

from paperlib.executors import IN_PROCESS, executor_error, make_executor, scheduler_unreachable
from paperlib.schema import ParameterError

DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")
"""torch devices: ``auto`` is CUDA when torch sees one, else the CPU; ``cuda:N`` names one GPU."""
STRATEGIES: tuple[str, ...] = ("auto", "ddp", "ddp_notebook", "ddp_spawn", "fsdp")
"""Lightning distribution strategies of network training (``ddp_spawn`` inside notebooks)."""
AUTO = "auto"
_CUDA_INDEX = re.compile(r"^cuda:(\d+)$")


def default_executor() -> str:
    """Every core of this machine: a local dask cluster of one worker per core, in process on one core."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return f"local:{cores}" if cores > 1 else IN_PROCESS


def _cuda_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """Where a study computes.

    Attributes
    ----------
    device
        torch device of training, prediction and ML-driven MD: ``auto`` (CUDA when present), ``cpu``,
        ``cuda`` or ``cuda:N``.
    executor
        where independent fits and MD runs are computed: ``auto`` (every core: :func:`default_executor`),
        ``in-process``, ``local:N`` or a dask scheduler address ``tcp://host:port``.
    devices
        GPUs each network trains on; more than one trains through Lightning.
    strategy
        Lightning distribution strategy, one of :data:`STRATEGIES`.
    progress
        show progress bars.
    """

    device: str = AUTO
    executor: str = AUTO
    devices: int = 1
    strategy: str = AUTO
    progress: bool = True

    NAMES = ("device", "executor", "devices", "strategy", "progress")

    def training(self) -> dict[str, Any]:
        """Where a network trains: the ``device``, ``devices`` and ``strategy`` settings of
        :func:`paperlib.models.registry.make`."""
        return dict(device=self.device, devices=self.devices, strategy=self.strategy)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> "RunOptions":
        """Options from a mapping (e.g. command-line ``-p device=cuda``), validated; unknown names raise."""
        values = dict(values or {})
        unknown = sorted(set(values) - set(cls.NAMES))
        if unknown:
            raise ParameterError(f"unknown run option {unknown[0]!r}; allowed: {', '.join(cls.NAMES)}")
        return cls(**values).validated()

    def validated(self) -> "RunOptions":
        """These options, or :class:`~paperlib.schema.ParameterError` naming the first one this machine
        cannot serve (before any compute)."""
        def fail(name: str, allowed: str) -> ParameterError:
            return ParameterError(f"option {name!r}: got {getattr(self, name)!r}; allowed: {allowed}")

        if not isinstance(self.device, str) or not (self.device in DEVICES or _CUDA_INDEX.match(self.device)):
            raise fail("device", "one of " + ", ".join(DEVICES) + " or 'cuda:N'")
        if self.executor != AUTO and executor_error(self.executor):
            raise fail("executor", f"'auto' or {executor_error(self.executor).split('allowed: ')[1]}")
        unreachable = scheduler_unreachable(self.executor) if self.executor != AUTO else None
        if unreachable:
            raise fail("executor", f"a reachable dask scheduler: {unreachable}")
        if isinstance(self.devices, bool) or not isinstance(self.devices, int) or self.devices < 1:
            raise fail("devices", "an integer >= 1")
        if self.strategy not in STRATEGIES:
            raise fail("strategy", "one of " + ", ".join(STRATEGIES))
        if not isinstance(self.progress, bool):
            raise fail("progress", "true or false")
        # Checked here even with a dask cluster: the notebook's own process loads the trained models on
        # ``device`` too.
        if self.device == "cpu" and self.devices > 1:
            raise fail("devices", "1 with device 'cpu' (several training processes need one GPU each)")
        if self.device.startswith("cuda") or self.devices > 1:
            n = _cuda_count()
            index = _CUDA_INDEX.match(self.device)
            if self.device.startswith("cuda") and (int(index.group(1)) if index else 0) >= n:
                raise fail("device", f"a device this machine has (torch sees {n} CUDA device(s)); use 'cpu' "
                                     f"or 'auto'")
            if self.devices > n:
                raise fail("devices", f"at most the {n} CUDA device(s) torch sees on this machine")
        return self

    @property
    def executor_spec(self) -> str:
        """The executor specification ``auto`` stands for on this machine."""
        return default_executor() if self.executor == AUTO else self.executor

    def make_executor(self):
        """A new executor for :attr:`executor_spec` (use it as a context manager)."""
        return make_executor(self.executor_spec)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, for provenance."""
        return dataclasses.asdict(self)
