"""Every study notebook executed at the smoke profile (papermill), checked by its results. Determinism is checked
step by step in ``tests/test_determinism.py`` and for a whole study in ``tests/test_interruption.py``."""

from __future__ import annotations

import math

import nbformat
import pytest

from paperlib.analysis.claims import VERDICTS
from paperlib.params import SCHEMAS
from paperlib.runner import notebook_path, run_study

STUDIES = sorted(s for s in SCHEMAS if notebook_path(s).exists())

pytestmark = pytest.mark.slow


def test_there_are_studies():
    assert "nacl_selection" in STUDIES


@pytest.mark.parametrize("study", STUDIES)
def test_study_runs_at_smoke_and_judges_its_claims(executed, study):
    nb_path, results = executed[study]
    nb = nbformat.read(nb_path, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 3  # the chapter's figures
    assert results["profile"] == "smoke" and results["study"] == study
    assert results["claims"] and all(c["verdict"] in VERDICTS for c in results["claims"])
    assert all(c["measured"] for c in results["claims"])
    assert results["figures"] and all(math.isfinite(v) for v in results["figures"].values())
    assert results["provenance"]["commit"] and "timings_s" in results["provenance"]


def test_bad_parameter_fails_before_execution(tmp_path):
    from paperlib.params import ParameterError

    with pytest.raises(ParameterError, match="n_train"):
        run_study("nacl_selection", "smoke", {"n_train": -1}, output=tmp_path / "nb.ipynb")
    assert not (tmp_path / "nb.ipynb").exists()
