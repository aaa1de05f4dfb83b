"""``paperlib export``: models in their packages' own formats, data sets as extxyz, nothing half-written."""

from __future__ import annotations

import json

import numpy as np
import pytest

from paperlib.analysis.claims import write_results
from paperlib.export import DataArtefact, ExportError, ModelArtefact, artefact_map, export_run


@pytest.fixture(scope="module")
def run(nacl_frames, tmp_path_factory):
    """A results.json recording a SchNet trained on frames 0-7 of a pool file, and that pool's test frames."""
    from paperlib.models.schnet import SchNetConfig, SchNetPotential
    from paperlib.training import TrainConfig

    root = tmp_path_factory.mktemp("run")
    nacl_frames.write(root / "pool.extxyz")
    model = SchNetPotential(SchNetConfig(cutoff_A=4.0, train=TrainConfig(max_epochs=2, batch_size=4, seed=5)))
    model.fit(nacl_frames.subset(range(8)))
    model.save(root / "entry" / "model")
    arts = artefact_map([ModelArtefact("schnet random 0", "schnet_small", str(root / "entry" / "model"),
                                       "random replicate 0", 5, "SchNet on random frames")],
                        [DataArtefact("random replicate 0", str(root / "pool.extxyz"), list(range(8)), "training"),
                         DataArtefact("test set", str(root / "pool.extxyz"), [8, 9, 10, 11], "test")])
    write_results(root / "results.json", study="nacl_selection", title="NaCl", profile="smoke", params={},
                  figures={}, verdicts=[], provenance={"commit": "abc", "overrides": {"n_train": 8}},
                  artefacts=arts)
    return root, model


def test_schnet_exports_as_a_model_schnetpacks_own_calculator_loads(run, nacl_frames, tmp_path, monkeypatch):
    import torch

    from paperlib.models.schnet import spk

    root, model = run
    done = export_run(root / "results.json", tmp_path / "out")
    folder = tmp_path / "out" / done["models"][0]["folder"]
    assert float((folder / "cutoff_A.txt").read_text()) == 4.0
    # schnetpack 2.1 loads whole models with torch.load, whose default refuses pickled modules since torch 2.6
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    calc = spk.interfaces.SpkCalculator(model_file=str(folder / "model.pt"), energy_unit="eV", position_unit="Ang",
                                        neighbor_list=spk.transform.ASENeighborList(cutoff=4.0), dtype=torch.float64)
    test = [a.copy() for a in nacl_frames.subset([8, 9, 10, 11])]
    ours = model.predict(test)
    for k, atoms in enumerate(test):
        atoms.calc = calc
        # paperlib's model runs in float32, the export in float64: 16 atomic energies of ~4 eV summed with a
        # relative rounding of 6e-8 each bound the difference by 16 x 4 x 6e-8 x ~16 (accumulation) < 1e-4 eV
        assert atoms.get_potential_energy() == pytest.approx(ours.energies[k], abs=1e-4)
        np.testing.assert_allclose(atoms.get_forces(), ours.split_forces([16] * 4)[k], atol=1e-5)


def test_data_sets_are_written_as_extxyz_with_their_reference_labels(run, nacl_frames, tmp_path):
    from paperlib import keys
    from paperlib.data.dataset import Dataset

    root, _ = run
    done = export_run(root / "results.json", tmp_path / "out")
    by_name = {d["name"]: d for d in done["datasets"]}
    train = Dataset.read(tmp_path / "out" / by_name["random replicate 0"]["file"], require=[keys.REF_forces])
    np.testing.assert_array_equal(train.energies(), nacl_frames.energies()[:8])
    assert by_name["test set"]["structures"] == 4
    readme = (tmp_path / "out" / "README.md").read_text()
    model = done["models"][0]
    assert f"| `{model['folder']}` | schnet_small | `{model['training_file']}` | 5 |" in readme
    assert "n_train=8" in readme
    assert json.loads((tmp_path / "out" / "artefacts.json").read_text()) == done


def test_an_export_that_cannot_be_made_leaves_nothing(run, tmp_path):
    root, _ = run
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "a.txt").write_text("mine")
    with pytest.raises(ExportError, match="is not empty"):
        export_run(root / "results.json", tmp_path / "taken")
    data = json.loads((root / "results.json").read_text())
    data["artefacts"]["models"][0]["path"] = str(tmp_path / "cleaned")
    (tmp_path / "gone.json").write_text(json.dumps(data))
    with pytest.raises(ExportError, match="no longer in the cache"):
        export_run(tmp_path / "gone.json", tmp_path / "out")
    data["artefacts"] = {}
    (tmp_path / "none.json").write_text(json.dumps(data))
    with pytest.raises(ExportError, match="records no trained models"):
        export_run(tmp_path / "none.json", tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gone.json", "none.json", "taken"]


def test_a_model_must_name_a_data_set_of_the_run():
    with pytest.raises(ValueError, match="not among the data sets"):
        artefact_map([ModelArtefact("m", "gap", "/x", "missing", 0, "")], [])
