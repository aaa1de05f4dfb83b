"""Bitwise reproducible computation on CPU: the same inputs give the same numbers in any process.

Two sources of run-to-run differences were found and are removed here and in
:class:`paperlib.reference.xtb.OneThreadTBLite`; ``tests/test_determinism.py`` checks every backend in two
fresh processes, and ``bench/repeat_runs.py`` whole studies.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def cpu_determinism(device: torch.device | str) -> Iterator[None]:
    """Within the block, torch computes on CPU in a fixed summation order (the previous mode is restored on exit).

    For float32 tensors, the backward pass of advanced indexing (``x[idx_j]``: schnetpack's neighbour gathers,
    MACE's sender gathers) is an ``index_put_`` with accumulation that torch runs on several CPU threads with
    atomic additions, so the order of each sum depends on thread timing. Two identical float32 SchNet trainings
    in fresh processes gave different weights in 2 runs of 10 (and a flexible-PES test error 5e-6 apart);
    torch's deterministic mode accumulates in a fixed order, and 10 of 10 agreed. The mode is process-wide:
    threads that train at the same time share it. It stays off on GPUs, where deterministic kernels cost much
    more and bitwise reproducibility is not promised.
    """
    if torch.device(device).type != "cpu":
        yield
        return
    before = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
