"""Cache keys follow the code a step can reach and the packages that code imports."""

import pytest

from paperlib import reach
from paperlib.cache import cache_key
from paperlib.studies import nacl_selection as nacl

PARAMS = {"n": 1}


@pytest.fixture
def edited(monkeypatch):
    """Pretend the named paperlib modules were edited (a comment appended), without touching the files."""
    edits: set[str] = set()
    real = reach.module_source

    def source(name):
        return real(name) + ("\n# edited\n" if name in edits else "")

    monkeypatch.setattr(reach, "module_source", source)
    return edits


def keys():
    return {fn.__name__: cache_key(fn, PARAMS) for fn in (nacl._npt_pool, nacl._train, nacl._reference_nvt)}


def test_editing_a_model_backend_recomputes_training_and_not_the_reference(edited):
    before = keys()
    edited.add("paperlib.models.schnet")
    after = keys()
    assert after["_train"] != before["_train"]
    assert after["_npt_pool"] == before["_npt_pool"] and after["_reference_nvt"] == before["_reference_nvt"]


def test_editing_the_reference_method_recomputes_the_reference(edited):
    before = keys()
    edited.add("paperlib.reference.bmhtf")
    after = keys()
    assert after["_npt_pool"] != before["_npt_pool"] and after["_reference_nvt"] != before["_reference_nvt"]


def test_editing_the_training_loop_recomputes_trained_models(edited):
    before = keys()
    edited.add("paperlib.training")
    assert keys()["_train"] != before["_train"]


def test_editing_plots_recomputes_nothing(edited):
    import importlib

    from paperlib.params import SCHEMAS

    steps = []
    for name in sorted(SCHEMAS):
        mod = importlib.import_module(f"paperlib.studies.{name}")
        steps += [obj for obj in vars(mod).values() if callable(obj) and getattr(obj, "__module__", "") == mod.__name__
                  and obj.__name__.startswith("_") and not isinstance(obj, type)]
    assert len(steps) > 10
    before = [cache_key(fn, PARAMS) for fn in steps]
    edited.add("paperlib.plots")
    assert [cache_key(fn, PARAMS) for fn in steps] == before
    assert not any("paperlib.plots" in reach.step_fingerprint(fn)["modules"] for fn in steps)


def test_a_package_version_change_recomputes_what_imports_it(monkeypatch):
    before = keys()
    real = reach.distribution_version
    monkeypatch.setattr(reach, "distribution_version", lambda d: "0.0-other" if d == "ase" else real(d))
    assert keys()["_npt_pool"] != before["_npt_pool"]
    monkeypatch.setattr(reach, "distribution_version", lambda d: "0.0-other" if d == "mace-torch" else real(d))
    assert keys()["_npt_pool"] == before["_npt_pool"] and keys()["_train"] != before["_train"]


def test_a_step_reaches_the_functions_and_constants_of_its_own_module_that_it_names():
    pieces, modules, _ = reach.step_reach(nacl.reference_pool)
    assert "_npt_pool" in pieces and "reference_pool" in pieces
    assert "paperlib.studies.nacl_selection.FRAMES" in pieces
    assert "judge_rdf" not in pieces and "paperlib.studies.nacl_selection" not in modules


def test_the_manifest_records_what_the_key_covers(cache):
    entry = cache.get(nacl._npt_pool, PARAMS, lambda out: (out / "x").write_text("1"))
    import json

    meta = json.loads((entry / "MANIFEST.json").read_text())
    fp = reach.step_fingerprint(nacl._npt_pool)
    assert meta["code"] == fp["code"] and meta["packages"] == fp["packages"]
    assert "paperlib.reference.bmhtf" in meta["modules"] and "ase" in meta["packages"]
