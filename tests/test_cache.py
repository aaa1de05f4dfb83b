import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from paperlib.cache import MANIFEST, Cache, cache_key, cached_step


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


def test_cache_ls_and_clean_by_study_and_age(tmp_path, capsys):
    import time

    from paperlib.cli import main
    from paperlib.studies import gradients, nacl_selection

    root = tmp_path / "c"
    cache = Cache(root)
    old = cache.get(nacl_selection._npt_pool, {"a": 1}, lambda out: _write(out, "x" * 1000))
    new = cache.get(nacl_selection._train, {"a": 1}, lambda out: _write(out, "y"))
    other = cache.get(gradients._qm7b, {"a": 1}, lambda out: _write(out, "z"))
    ten_days_ago = time.time() - 10 * 86400
    os.utime(old / MANIFEST, (ten_days_ago, ten_days_ago))
    os.utime(other / MANIFEST, (ten_days_ago, ten_days_ago))
    # A hit marks the entry used: it is no longer a candidate for --older-than.
    assert cache.get(gradients._qm7b, {"a": 1}, lambda out: _write(out, "z")) == other

    assert main(["cache", "ls", "--root", str(root)]) == 0
    listing = capsys.readouterr().out
    assert "3 entries" in listing and listing.count("paperlib.studies.nacl_selection.") == 2 and "gradients" in listing
    assert [e.path for e in Cache(root).entries()] == [old, new, other]

    assert main(["cache", "clean", "--root", str(root), "--study", "nacl_selection", "--older-than", "5"]) == 0
    assert "removed 1 entries" in capsys.readouterr().out
    assert not old.exists() and new.exists() and other.exists()
    assert main(["cache", "clean", "--root", str(root), "--study", "nacl_selection"]) == 0
    assert not new.exists() and other.exists()
    assert main(["cache", "clean", "--root", str(root)]) == 0
    assert Cache(root).entries() == []


def test_cache_clean_rejects_a_negative_age(capsys):
    from paperlib.cli import main

    with pytest.raises(SystemExit):
        main(["cache", "clean", "--older-than", "-1"])
    assert "--older-than: got '-1'; allowed: a number of days >= 0" in capsys.readouterr().err


@cached_step(runtime=("progress",))
def _frames_step(out, *, data, scale, progress=False):
    _write(out, f"{scale * len(data)}")


def test_a_cached_step_keys_by_its_bound_arguments_and_data_by_content(cache):
    from ase import Atoms

    from paperlib.data.dataset import Dataset

    data = Dataset([Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]])])
    a = _frames_step.entry(cache, data=data, scale=2, progress=True)
    # the same content in another object, another progress setting: the same entry, not recomputed
    same = Dataset([Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]])])
    assert _frames_step.entry(cache, data=same, scale=2, progress=False) == a and cache.misses == 1
    moved = Dataset([Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.75]])])
    assert _frames_step.entry(cache, data=moved, scale=2) != a
    assert _frames_step.entry(cache, data=data, scale=3) != a
    assert (a / "data.txt").read_text() == "2" and cache.misses == 3
    assert set(_frames_step.key_params(data=data, scale=2)) == {"data", "scale"}


def test_a_saved_model_is_keyed_by_its_content_not_where_it_lies_or_loads(tmp_path):
    from paperlib.cache import _canonical
    from paperlib.models.registry import SavedModel

    for where, weights in (("one", b"w1"), ("other", b"w1"), ("third", b"w2")):
        (tmp_path / where / "model").mkdir(parents=True)
        (tmp_path / where / "model" / "model.pt").write_bytes(weights)
    here = SavedModel("schnet_small", tmp_path / "one" / "model", "cpu")
    there = SavedModel("schnet_small", tmp_path / "other" / "model", "cuda")
    retrained = SavedModel("schnet_small", tmp_path / "third" / "model", "cpu")
    assert _canonical(here) == _canonical(there) != _canonical(retrained)
    assert _canonical(here) != _canonical(SavedModel("schnet_large", tmp_path / "one" / "model"))
    with pytest.raises(FileNotFoundError, match="no saved files"):
        _canonical(SavedModel("schnet_small", tmp_path / "missing"))


def test_a_step_reads_only_the_parameters_it_is_keyed_by():
    from paperlib.studies import transferability as T

    part = T.Params.resolve("smoke", {}).part(*T.MD_PARAMS)
    assert set(part) == set(T.MD_PARAMS)
    with pytest.raises(AttributeError):
        part.seed
    with pytest.raises(KeyError, match="no_such"):
        part.part("no_such")


def test_a_runtime_argument_must_be_a_parameter_of_the_step():
    with pytest.raises(TypeError, match="devise"):
        cached_step(runtime=("devise",))(step)


def test_a_decorated_step_is_followed_by_the_code_reach_of_its_callers():
    from paperlib import reach
    from paperlib.studies import nacl_selection as nacl

    pieces, _, _ = reach.step_reach(nacl.reference_pool)
    assert "_npt_pool" in pieces and "lammps_md(" in pieces["_npt_pool"]
