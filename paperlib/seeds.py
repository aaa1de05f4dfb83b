"""Named random streams: every random choice of a study draws from its own stream of the study's seed.

``stream_seed(seed, "test_pool")`` and ``rng(seed, "selection", replicate)`` replace arithmetic offsets such as
``seed + 100_000``: streams with different names (or indices) are statistically independent whatever the
seed, and two seeds never share a stream, which offsets cannot promise (``seed=100_000`` met ``seed + 100_000``).
"""

from __future__ import annotations

import zlib

import numpy as np


def _words(seed: int, stream: str, indices: tuple[int, ...]) -> list[int]:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: got {seed!r}; allowed: an integer >= 0")
    if any(isinstance(i, bool) or not isinstance(i, (int, np.integer)) or i < 0 for i in indices):
        raise ValueError(f"stream indices: got {indices!r}; allowed: integers >= 0")
    # The count of indices is mixed in because SeedSequence treats trailing zero words as absent.
    return [int(seed), zlib.crc32(stream.encode()), len(indices), *map(int, indices)]


def sequence(seed: int, stream: str, *indices: int) -> np.random.SeedSequence:
    """The ``SeedSequence`` of stream ``stream`` (and optional integer ``indices``, e.g. a replicate)."""
    return np.random.SeedSequence(_words(seed, stream, indices))


def rng(seed: int, stream: str, *indices: int) -> np.random.Generator:
    """A numpy generator on the named stream."""
    return np.random.default_rng(sequence(seed, stream, *indices))


def stream_seed(seed: int, stream: str, *indices: int) -> int:
    """An integer seed (0 <= s < 2**31, for LAMMPS, torch or a library that takes an int) for the named stream."""
    return int(sequence(seed, stream, *indices).generate_state(1, dtype=np.uint32)[0] % (2**31 - 1)) + 1
