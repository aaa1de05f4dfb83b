"""A study run killed at several points, then run again, completes with the results of an uninterrupted run, and
the cache never holds a corrupt entry. This is also a whole-study determinism check: the resumed run mixes entries
computed by four different processes.

The run is the gradients study at smoke (about 20 s); it is killed with SIGKILL (process and kernel), as a power
cut or an out-of-memory kill would, at three points: right after its first cache entry is complete, in the
middle of computing an entry, and after several entries.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from paperlib.cache import Cache

pytestmark = pytest.mark.slow
STUDY = "gradients"


def _start(cache: Path, out: Path) -> subprocess.Popen:
    code = ("from paperlib.runner import run_study; "
            f"run_study({STUDY!r}, 'smoke', output={str(out / 'nb.ipynb')!r}, "
            f"results_dir={str(out / 'results')!r}, progress=False)")
    return subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "PAPERLIB_CACHE": str(cache)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _entries(cache: Path) -> list[Path]:
    return [p for p in cache.glob("*/*") if p.is_dir() and not p.name.startswith(".tmp-")]


def _computing(cache: Path) -> bool:
    return any(cache.glob("*/.tmp-*"))


def _kill_when(proc: subprocess.Popen, condition: Callable[[], bool], timeout_s: float = 600) -> bool:
    """SIGKILL the run and its kernel as soon as ``condition()`` holds; False when the run ended first."""
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None and time.monotonic() < deadline:
        if condition():
            family = [proc.pid] + [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
            for pid in family:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            proc.wait()
            psutil.wait_procs([psutil.Process(p) for p in family[1:] if psutil.pid_exists(p)], timeout=10)
            return True
        time.sleep(0.02)
    proc.wait()
    return False


def test_killed_runs_resume_to_identical_results_without_corrupt_entries(tmp_path):
    cache_dir, out = tmp_path / "cache", tmp_path / "run"
    cache = Cache(cache_dir)
    points = {"first entry complete": lambda: len(_entries(cache_dir)) >= 1,
              "mid-computation": lambda: len(_entries(cache_dir)) >= 3 and _computing(cache_dir),
              "several entries complete": lambda: len(_entries(cache_dir)) >= 8}
    counts = []
    for name, condition in points.items():
        before = len(_entries(cache_dir))
        assert _kill_when(_start(cache_dir, out), condition), f"the run finished before the kill point: {name}"
        entries = _entries(cache_dir)
        counts.append(len(entries))
        assert len(entries) > before or name == "mid-computation", name  # the run made progress
        assert all(cache.is_valid(e) for e in entries), f"corrupt cache entry after a kill at: {name}"
        assert not (out / "results" / "results.json").exists() and not (out / "nb.ipynb").exists()
    assert counts == sorted(counts)

    proc = _start(cache_dir, out)
    assert proc.wait(timeout=900) == 0
    assert all(cache.is_valid(e) for e in _entries(cache_dir))
    again = json.loads((out / "results" / "results.json").read_text())
    # the same run, never interrupted, from an empty cache of its own
    assert _start(tmp_path / "cache-whole", tmp_path / "whole").wait(timeout=900) == 0
    first = json.loads((tmp_path / "whole" / "results" / "results.json").read_text())
    # Not bit for bit: with the machine oversubscribed, the errors of the kernel models trained on forces moved
    # by up to 8e-9 relative between these two runs (ill-conditioned solves amplify the last bits; the source was
    # not isolated). 1e-6 is over 100x that spread, and a real difference (seed, code path) moves them by 1e-3.
    assert again["figures"] == pytest.approx(first["figures"], rel=1e-6, abs=1e-12)
    assert [c for c in again["claims"] if not c["timed"]] == [c for c in first["claims"] if not c["timed"]]
    assert cache.clean_temporaries() >= 1  # the mid-computation kill left its temporary directory, unread
