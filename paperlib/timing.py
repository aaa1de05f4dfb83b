"""Wall times of a study's named steps, for its provenance block and results.json."""

from __future__ import annotations

import time


class Timer:
    """Collects wall times of named steps: ``with timer("training"): ...``."""

    def __init__(self):
        self.times: dict[str, float] = {}
        self._start = time.perf_counter()

    def __call__(self, name: str):
        timer = self

        class _Step:
            def __enter__(self):
                self.t0 = time.perf_counter()

            def __exit__(self, *exc):
                timer.times[name] = timer.times.get(name, 0.0) + time.perf_counter() - self.t0

        return _Step()

    @property
    def total_s(self) -> float:
        """Seconds since the timer was created."""
        return time.perf_counter() - self._start
