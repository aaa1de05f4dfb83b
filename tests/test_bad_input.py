"""Bad input fails before any compute, naming the problem, and leaves nothing in the cache.

Each case runs the way a reader would (``run_study``), with a private cache root: the error must name the
parameter (or the file and what is wrong with it), and neither the cache directory nor the executed notebook
may exist afterwards.
"""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.io import write

from paperlib.data.dataset import DataFileError, Dataset
from paperlib.data.formats import read_rmd17
from paperlib.params import ParameterError
from paperlib.runner import run_study


def _rmd17(path, n_frames=3, **replace):
    z = np.array([6, 1, 1, 1, 1])
    arrays = {"nuclear_charges": z, "coords": np.random.default_rng(0).normal(size=(n_frames, 5, 3)),
              "energies": np.linspace(-10, -9, n_frames), "forces": np.zeros((n_frames, 5, 3))}
    arrays.update(replace)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def _truncated(path):
    _rmd17(path, n_frames=50)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _not_npz(path):
    path.write_text("energies: 1 2 3\n")
    return path


def _sgdml(path):
    np.savez(path, z=np.array([1, 1]), R=np.zeros((2, 2, 3)), E=np.zeros(2), F=np.zeros((2, 2, 3)))
    return path


BAD_PARAMETERS = [
    ("nacl_selection", {"n_train": -1}, "'n_train': got -1"),
    ("nacl_selection", {"n_atoms": 17}, "'n_atoms': got 17; allowed: an even number"),
    ("nacl_selection", {"temperatures_K": []}, "'temperatures_K'"),
    ("nacl_selection", {"selection_methods": ["random", "farthest"]}, "'selection_methods'"),
    ("nacl_selection", {"n_trian": 10}, "unknown parameter 'n_trian'"),
    ("gradients", {"molecule": "unobtainium"}, "'molecule': got 'unobtainium'; allowed: an rMD17 molecule"),
    ("gradients", {"molecule": "smiles:C1CC"}, "'molecule': got 'smiles:C1CC': RDKit cannot parse the SMILES 'C1CC'"),
    ("gradients", {"molecule": "/no/such/molecule.xyz"}, "'molecule': got '/no/such/molecule.xyz'; allowed"),
    ("gradients", {"krr_sizes": [4, 6, 16]}, "'krr_sizes': got \\[4, 6, 16\\]; allowed: a doubling series"),
    ("gradients", {"n_draws": 0}, "'n_draws': got 0"),
    ("gradients", {"test_molecule_fraction": 1.5}, "'test_molecule_fraction': got 1.5"),
    ("gradients", {"dataset_path": "/no/such/rmd17.npz"}, "'dataset_path'"),
    ("hessian_training", {"reactions": ["no_such_reaction"]}, "'reactions'"),
    ("hessian_training", {"n_images": 4}, "'n_images': got 4; allowed: an odd number"),
    ("hessian_training", {"train_sizes": [4, 4]}, "'train_sizes': got \\[4, 4\\]; allowed: increasing"),
    ("flexible_pes", {"md_temperatures_K": ["hot"]}, "'md_temperatures_K'"),
    ("flexible_pes", {"max_epochs": -5}, "'max_epochs': got -5"),
    ("transferability", {"solvents": ["EC", "kryptonite"]}, "'solvents'"),
    ("transferability", {"foundation_model": "/no/such/mace.model"}, "'foundation_model'"),
    ("transferability", {"box_molecules": -2}, "'box_molecules': got -2"),
]

BAD_FILES = [
    (_truncated, "truncated or corrupt|not a readable .npz"),
    (_not_npz, "not a readable .npz"),
    (_sgdml, "lacks \\['nuclear_charges', 'coords', 'energies', 'forces'\\].*sGDML"),
    (lambda p: _rmd17(p, forces=None), "lacks \\['forces'\\]"),
    (lambda p: _rmd17(p, e_unit=np.array("eV")), "e_unit is 'eV'; rMD17 files are in 'kcal/mol'"),
    (lambda p: _rmd17(p, forces=np.zeros((3, 4, 3))), "shapes disagree"),
]


BAD_OPTIONS = [
    ({"strategy": "horovod"}, "option 'strategy': got 'horovod'; allowed: one of auto"),
    ({"devices": 0}, "option 'devices': got 0; allowed: an integer >= 1"),
    ({"executor": "local:0"}, "option 'executor': got 'local:0'; allowed: 'auto' or 'in-process'"),
    ({"device": "tpu"}, "option 'device': got 'tpu'; allowed: one of auto, cpu, cuda or 'cuda:N'"),
    ({"device": "cuda:7"}, "option 'device': got 'cuda:7'; allowed: a device this machine has"),
    ({"devices": 64}, "option 'devices': got 64; allowed: at most the [0-9]+ CUDA device\\(s\\) torch sees"),
    ({"device": "cpu", "devices": 2}, "option 'devices': got 2; allowed: 1 with device 'cpu'"),
    # port 9 (discard) on this machine's loopback: nothing listens there, so the connection is refused at once
    ({"executor": "tcp://127.0.0.1:9"}, "option 'executor': got 'tcp://127.0.0.1:9'; allowed: a reachable dask "
                                        "scheduler: no scheduler answers at 127.0.0.1:9"),
    ({"workers": 2}, "unknown run option 'workers'; allowed: device, executor"),
]


def _fails_cleanly(study, profile, overrides, match, tmp_path, monkeypatch, options=None):
    cache = tmp_path / "cache"
    monkeypatch.setenv("PAPERLIB_CACHE", str(cache))
    with pytest.raises(ParameterError, match=match):
        run_study(study, profile, overrides, output=tmp_path / "nb.ipynb", results_dir=tmp_path / "results",
                  options=options)
    assert not cache.exists() and not (tmp_path / "nb.ipynb").exists() and not (tmp_path / "results").exists()


@pytest.mark.parametrize("study, overrides, match", BAD_PARAMETERS,
                         ids=[f"{s}-{next(iter(o))}" for s, o, _ in BAD_PARAMETERS])
def test_bad_parameter_is_named_and_nothing_is_written(study, overrides, match, tmp_path, monkeypatch):
    _fails_cleanly(study, "smoke", overrides, match, tmp_path, monkeypatch)


@pytest.mark.parametrize("options, match", BAD_OPTIONS, ids=[next(iter(o)) + str(i) for i, (o, _) in
                                                              enumerate(BAD_OPTIONS)])
def test_an_option_this_machine_cannot_serve_is_named_before_compute(options, match, tmp_path, monkeypatch):
    """No machine running the tests has 8 GPUs or 64, so ``cuda:7`` and ``devices=64`` can never be served."""
    _fails_cleanly("nacl_selection", "smoke", {}, match, tmp_path, monkeypatch, options=options)


def test_the_command_line_routes_options_and_names_the_bad_one(tmp_path, monkeypatch, capsys):
    from paperlib.cli import main

    monkeypatch.setenv("PAPERLIB_CACHE", str(tmp_path / "cache"))
    code = main(["run", "nacl_selection", "--profile", "smoke", "-p", "device=cuda:7", "--output",
                 str(tmp_path / "nb.ipynb"), "--results", str(tmp_path / "r")])
    assert code == 2 and "option 'device': got 'cuda:7'" in capsys.readouterr().err
    assert not (tmp_path / "cache").exists() and not (tmp_path / "nb.ipynb").exists()


@pytest.mark.parametrize("make, match", BAD_FILES, ids=["truncated", "not-npz", "sgdml-keys", "no-forces",
                                                         "wrong-units", "bad-shapes"])
def test_malformed_data_file_is_refused_before_compute(make, match, tmp_path, monkeypatch):
    path = make(tmp_path / "data.npz")
    with pytest.raises(DataFileError, match=match):
        read_rmd17(path)
    _fails_cleanly("gradients", "smoke", {"dataset_path": str(path)}, f"'dataset_path': .*({match})", tmp_path,
                   monkeypatch)


@pytest.mark.parametrize("profile, study, match", [("huge", "gradients", "'profile': got 'huge'; allowed: one of"),
                                                  ("smoke", "nacl", "unknown study 'nacl'; allowed")])
def test_unknown_profile_or_study(profile, study, match, tmp_path, monkeypatch):
    _fails_cleanly(study, profile, {}, match, tmp_path, monkeypatch)


def _labelled(n=3):
    frames = []
    for i in range(n):
        a = Atoms("H2O", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
        a.info["REF_energy"] = -14.0 - i
        a.arrays["REF_forces"] = np.zeros((3, 3))
        frames.append(a)
    return frames


def test_truncated_extxyz_is_refused(tmp_path):
    path = tmp_path / "water.xyz"
    Dataset(_labelled()).write(path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-2]) + "\n")
    with pytest.raises(DataFileError, match="water.xyz' is not valid extended XYZ"):
        Dataset.read(path, require=["REF_energy", "REF_forces"])


@pytest.mark.parametrize("drop, key", [("REF_forces", "REF_forces"), ("REF_energy", "REF_energy")])
def test_extxyz_without_a_required_label_is_refused(tmp_path, drop, key):
    frames = _labelled()
    for a in frames:
        a.info.pop(drop, None)
        if drop in a.arrays:
            del a.arrays[drop]
    path = tmp_path / "water.xyz"
    Dataset(frames).write(path)
    with pytest.raises(DataFileError, match=f"structure 0 lacks the label '{key}'"):
        Dataset.read(path, require=["REF_energy", "REF_forces"])


def test_extxyz_with_bare_energy_keys_is_refused(tmp_path):
    """Energies under ASE's bare ``energy`` key could be predictions; the loader wants ``REF_`` labels."""
    path = tmp_path / "bare.xyz"
    frames = _labelled()
    for a in frames:
        a.info["energy"] = a.info.pop("REF_energy")
    write(path, frames, format="extxyz")
    with pytest.raises(DataFileError, match="lacks the label 'REF_energy'"):
        Dataset.read(path, require=["REF_energy"])
