import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from paperlib.cache import MANIFEST, Cache, cache_key


def _write(out, text):
    (out / "data.txt").write_text(text)


def step(out, value):
    _write(out, f"value={value}")


def test_hit_returns_same_entry_without_recomputing(cache):
    calls = []

    def compute(out):
        calls.append(1)
        step(out, 3)

    a = cache.get(step, {"value": 3}, compute)
    b = cache.get(step, {"value": 3}, compute)
    assert a == b and len(calls) == 1
    assert (a / "data.txt").read_text() == "value=3"
    assert cache.get(step, {"value": 4}, lambda out: step(out, 4)) != a


def test_key_depends_on_parameters_not_their_order():
    assert cache_key(step, {"a": 1, "b": [1, 2]}) == cache_key(step, {"b": [1, 2], "a": 1})
    assert cache_key(step, {"a": 1}) != cache_key(step, {"a": 2})


def test_failed_compute_leaves_nothing(cache):
    def compute(out):
        (out / "half.txt").write_text("partial")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        cache.get(step, {"value": 1}, compute)
    entry = cache.entry_dir(step, {"value": 1})
    assert not entry.exists()
    assert list(entry.parent.iterdir()) == []


def test_corrupt_entry_is_detected_and_recomputed(cache):
    entry = cache.get(step, {"value": 5}, lambda out: step(out, 5))
    (entry / "data.txt").write_text("value=garbage")
    assert not cache.is_valid(entry)
    again = cache.get(step, {"value": 5}, lambda out: step(out, 5))
    assert (again / "data.txt").read_text() == "value=5"
    assert cache.is_valid(again)
    (again / MANIFEST).unlink()
    assert not cache.is_valid(again)


def test_write_killed_midway_leaves_no_entry(tmp_path):
    root = tmp_path / "cache"
    script = textwrap.dedent(f"""
        import os, signal, time
        from paperlib.cache import Cache
        from tests.test_cache import step
        def compute(out):
            (out / "data.txt").write_text("partial")
            os.kill(os.getpid(), signal.SIGKILL)
        Cache({str(root)!r}).get(step, {{"value": 9}}, compute)
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=os.path.dirname(os.path.dirname(__file__)))
    assert proc.returncode == -signal.SIGKILL
    cache = Cache(root)
    entry = cache.entry_dir(step, {"value": 9})
    assert not entry.exists()
    assert cache.clean_temporaries() == 1
    fresh = cache.get(step, {"value": 9}, lambda out: step(out, 9))
    assert json.loads((fresh / MANIFEST).read_text())["params"] == {"value": 9}


def test_disabled_cache_always_computes(tmp_path):
    c = Cache(None)
    calls = []
    for _ in range(2):
        c.get(step, {"value": 1}, lambda out: (calls.append(1), step(out, 1)))
    assert len(calls) == 2
