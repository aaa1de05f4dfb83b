"""Wall times of a study's named steps, for its provenance block and results.json."""

from __future__ import annotations

import sys
import time


class Timer:
    """Collects wall times of named steps: ``with timer("training"): ...``.

    Unless ``quiet``, each step also prints one line to standard error when it starts and one with its wall time
    when it ends. Inside a chapter that stream reaches the terminal of ``paperlib run`` live, and then moves out
    of the chapter into its log (:func:`paperlib.runner.tidy_executed`).
    """

    def __init__(self, quiet: bool = False):
        self.times: dict[str, float] = {}
        self._start = time.perf_counter()
        self._quiet = quiet

    def _say(self, text: str) -> None:
        if not self._quiet:
            print(f"[paperlib {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

    def __call__(self, name: str):
        timer = self

        class _Step:
            def __enter__(self):
                timer._say(f"{name}: started")
                self.t0 = time.perf_counter()

            def __exit__(self, exc_type, *exc):
                took = time.perf_counter() - self.t0
                timer.times[name] = timer.times.get(name, 0.0) + took
                timer._say(f"{name}: {'failed' if exc_type else 'done'} after {took:.1f} s")

        return _Step()

    @property
    def total_s(self) -> float:
        """Seconds since the timer was created."""
        return time.perf_counter() - self._start
