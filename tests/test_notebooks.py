"""Every study notebook executed at the smoke profile (papermill), checked by its results. Determinism is checked
step by step in ``tests/test_determinism.py`` and for a whole study in ``tests/test_interruption.py``."""

from __future__ import annotations

import json
import math

import ase.io

import nbformat
import pytest

from paperlib.analysis.claims import VERDICTS, rule_problems
from paperlib.cache import Cache
from paperlib.params import SCHEMAS
from paperlib.runner import notebook_path, run_in_process, run_study
from paperlib import studies
from paperlib.studies import NAMES, RunOptions

STUDIES = sorted(s for s in SCHEMAS if notebook_path(s).exists())

pytestmark = pytest.mark.slow


def test_there_are_studies():
    assert STUDIES == list(NAMES)


@pytest.mark.parametrize("study", NAMES)
def test_every_study_module_has_the_contract(study):
    module = studies.STUDIES[study]
    assert module.__name__ == f"paperlib.studies.{study}"
    for name in ("Params", "run", "Results", "CLAIMS", "figures"):
        assert hasattr(module, name), f"{study} lacks {name}"
    assert module.Params.STUDY == study and module.CLAIMS


@pytest.mark.parametrize("study", STUDIES)
def test_study_runs_at_smoke_and_judges_its_claims(executed, study):
    nb_path, results = executed[study]
    nb = nbformat.read(nb_path, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    # every figure the chapter publishes is glued into it as a PNG, for its numbered {glue:figure}
    glued = sum("application/papermill.record/image/png" in o.get("data", {}) for o in outputs)
    published = sum(c.source.count("plots.publish(") for c in nb.cells if c.cell_type == "code")
    assert glued == published >= 3
    assert results["profile"] == "smoke" and results["study"] == study
    assert results["claims"] and all(c["verdict"] in VERDICTS for c in results["claims"])
    assert all(c["measured"] for c in results["claims"])
    assert results["figures"] and all(math.isfinite(v) for v in results["figures"].values())
    assert results["provenance"]["commit"] and "timings_s" in results["provenance"]


@pytest.mark.parametrize("study", STUDIES)
def test_every_verdict_follows_from_its_evidence(executed, study):
    _nb, results = executed[study]
    assert {c["key"]: rule_problems(c) for c in results["claims"]} == {c["key"]: [] for c in results["claims"]}


@pytest.mark.parametrize("study", STUDIES)
def test_a_python_run_without_papermill_writes_the_notebooks_figures(executed, study, tmp_path):
    """``run_in_process`` (resolve, ``STUDIES[name].run``, judge) on the notebook run's cache gives the same
    results.json figures and verdicts, and its ``Results`` survive a JSON round trip."""
    nb_path, results = executed[study]
    done = run_in_process(study, "smoke", options=RunOptions(progress=False), results_dir=tmp_path,
                          cache=Cache(nb_path.parent / "cache"))
    ours = json.loads(done.results_json.read_text())
    # Kernel models trained on forces agree to 1e-6 relative between processes (tests/test_determinism.py).
    assert ours["figures"] == pytest.approx(results["figures"], rel=1e-6, abs=1e-12)
    untimed = [(c["key"], c["verdict"]) for c in results["claims"] if not c["timed"]]
    assert [(c["key"], c["verdict"]) for c in ours["claims"] if not c["timed"]] == untimed
    module = studies.STUDIES[study]
    again = module.Results.from_json(json.loads(json.dumps(done.results.to_json())))
    assert module.figures(again) == pytest.approx(module.figures(done.results), rel=1e-12, abs=1e-15)


NATIVE_FILES = {"schnet": "model.pt", "gap": "*.xml", "mace": "model.model", "deepmd": "graph.pb",
                "sgdml": "model.npz"}
"""The file each model family's package loads, as the export writes it."""


def _gap_reads(xml, atoms) -> None:
    """quippy's own ``Potential`` reads ``xml`` and gives a finite energy for ``atoms`` (in a large box when
    they are a molecule)."""
    from quippy.potential import Potential

    atoms = atoms.copy()
    if not atoms.pbc.any():
        atoms.cell, atoms.pbc = [40.0] * 3, True
        atoms.center()
    atoms.calc = Potential(param_filename=str(xml))
    assert math.isfinite(atoms.get_potential_energy())


def _mace_reads(path, atoms) -> None:
    """``torch.load`` (how MACE reads its files) gives a MACE model for the elements of ``atoms``."""
    import torch

    model = torch.load(path, map_location="cpu", weights_only=False)
    assert set(atoms.get_atomic_numbers()) <= {int(z) for z in model.atomic_numbers}


def _deepmd_reads(path, atoms) -> None:
    """DeePMD-kit's own ``DeepPot`` reads the frozen graph, whose type map holds the elements of ``atoms``."""
    from deepmd.infer import DeepPot

    assert set(atoms.get_chemical_symbols()) <= set(DeepPot(str(path)).get_type_map())


def _sgdml_reads(path, atoms) -> None:
    """sGDML's own ``GDMLPredict`` accepts the model file, which is for the molecule ``atoms``."""
    import numpy as np
    from sgdml.predict import GDMLPredict

    with np.load(path, allow_pickle=True) as f:
        model = dict(f)
    GDMLPredict(model, max_processes=1)  # sGDML's default forks a pool of every core but one
    assert list(model["z"]) == list(atoms.get_atomic_numbers())


NATIVE_READERS = {"gap": _gap_reads, "mace": _mace_reads, "deepmd": _deepmd_reads, "sgdml": _sgdml_reads}
"""Each family's native file read by its own package, checked against a frame of its training set."""


@pytest.mark.parametrize("study, families", [("nacl_selection", {"schnet", "gap"}),
                                              ("flexible_pes", {"sgdml", "gap", "schnet"}),
                                              ("hessian_training", {"schnet"}),
                                              ("transferability", {"mace", "deepmd"}),
                                              ("gradients", set())])
def test_a_run_exports_the_models_and_data_sets_it_records(executed, study, families, tmp_path):
    """The chapter's results.json records each kept model with its training set; the export writes them all,
    each in its package's own format, and every data set (the gradients study keeps no model)."""
    from paperlib.export import export_run

    nb_path, results = executed[study]
    recorded = results["artefacts"]
    done = export_run(nb_path.parent / "results" / "results.json", tmp_path / "export")
    assert len(done["models"]) == len(recorded["models"]) >= (2 if families else 0)
    assert [d["structures"] for d in done["datasets"]] == [len(ase.io.read(tmp_path / "export" / d["file"], ":"))
                                                           for d in done["datasets"]]
    assert len(done["datasets"]) == len(recorded["datasets"]) >= 2 and all(d["structures"] for d in done["datasets"])
    readme = (tmp_path / "export" / "README.md").read_text()
    assert ("keeps no trained model" in readme) == (not families)
    assert ("SpkCalculator" in readme) == ("schnet" in families)
    assert {f for f in NATIVE_FILES for m in done["models"] if m["kind"].startswith(f)} == families
    for m in done["models"]:
        folder = tmp_path / "export" / m["folder"]
        family = next((f for f in NATIVE_FILES if m["kind"].startswith(f)), None)
        native = NATIVE_FILES.get(family, "paperlib")
        assert list(folder.glob(native)), (m["folder"], sorted(p.name for p in folder.iterdir()))
        assert (folder / "paperlib").is_dir()  # what paperlib.models.registry.load reads
        first = ase.io.read(tmp_path / "export" / m["training_file"], index=0)
        if family in NATIVE_READERS:
            NATIVE_READERS[family](next(folder.glob(NATIVE_FILES[family])), first)
    assert {m["training_set"] for m in recorded["models"]} <= {d["name"] for d in recorded["datasets"]}


def test_bad_parameter_fails_before_execution(tmp_path):
    from paperlib.params import ParameterError

    with pytest.raises(ParameterError, match="n_train"):
        run_study("nacl_selection", "smoke", {"n_train": -1}, output=tmp_path / "nb.ipynb")
    assert not (tmp_path / "nb.ipynb").exists()


def test_tidy_executed_moves_stderr_to_a_log_and_hides_the_parameters(tmp_path):
    from paperlib.runner import stderr_log, tidy_executed

    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('profile = "default"', metadata={"tags": ["parameters"]})
    injected = nbformat.v4.new_code_cell('profile = "smoke"', metadata={"tags": ["injected-parameters"]})
    work = nbformat.v4.new_code_cell("run()", outputs=[
        nbformat.v4.new_output("stream", name="stderr", text="TqdmWarning: IProgress not found\n"),
        nbformat.v4.new_output("stream", name="stdout", text="fitted\n"),
        nbformat.v4.new_output("display_data", data={"text/plain": "table"}),
        nbformat.v4.new_output("stream", name="stderr", text="training: 100%\n")])
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), params, injected, work]
    path = tmp_path / "study.ipynb"
    nbformat.write(nb, path)
    log = tidy_executed(path, stderr_log(path))
    back = nbformat.read(path, as_version=4)
    assert log == tmp_path / "study.stderr.log"
    assert log.read_text() == "--- cell 3\nTqdmWarning: IProgress not found\n\n--- cell 3\ntraining: 100%\n"
    outputs = back.cells[3].outputs
    assert [(o.output_type, o.get("name")) for o in outputs] == [("stream", "stdout"), ("display_data", None)]
    assert all("remove-cell" in c.metadata.tags for c in back.cells[1:3])
    assert "tags" not in back.cells[0].metadata and back.cells[3].metadata.tags == []


def test_executed_chapters_hold_no_stderr_and_state_their_parameters_once(executed):
    for study, (nb_path, _) in executed.items():
        nb = nbformat.read(nb_path, as_version=4)
        streams = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
                   if o.output_type == "stream" and o.name == "stderr"]
        assert not streams, (study, streams[:1])
        shown = [c for c in nb.cells if c.cell_type == "code" and "remove-cell" not in c.metadata.get("tags", [])]
        assert not [c for c in shown if c.source.lstrip().startswith("profile =")], study
        assert nb_path.with_suffix(".stderr.log").exists()
