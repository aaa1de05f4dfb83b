import numpy as np
import pandas as pd
import pytest

from paperlib.analysis import claims as C
from paperlib.params import ParameterError, resolve
from paperlib.studies import gradients as study


def _curves(single_ratio, unseen_energy_ratio, unseen_force_ratio, n_atoms=9):
    rows = []
    for dataset, (re, rf) in ((study.SINGLE, (single_ratio, single_ratio)),
                              (study.UNSEEN, (unseen_energy_ratio, unseen_force_ratio))):
        for targets, sizes in ((study.E_ONLY, [8, 16, 32, 64, 128, 256, 512, 1024]),
                               (study.E_AND_F, [8, 16, 32, 64])):
            for n in sizes:
                for draw in range(3):
                    e, f = 1.0 * n**-0.5, 2.0 * n**-0.5
                    if targets == study.E_AND_F:
                        e, f = e / re, f / rf
                    per = 1 + 3 * n_atoms if targets == study.E_AND_F else 1
                    rows.append({"dataset": dataset, "family": study.KERNEL, "targets": targets, "n_train": n,
                                 "draw": draw, "mae_energy": e, "mae_forces": f, "n_labels": n * per})
    return {"curves": rows}


def test_claims_reproduced_when_the_paper_holds():
    verdicts = {v.key: v for v in C.judge(study.CLAIMS, _curves(7.0, 1.0, 7.0), "smoke")}
    assert verdicts["1"].verdict == C.REPRODUCED and "7.0x" in verdicts["1"].measured
    assert verdicts["2"].verdict == C.REPRODUCED


def test_claims_not_reproduced_when_forces_do_not_help():
    verdicts = {v.key: v for v in C.judge(study.CLAIMS, _curves(1.0, 5.0, 1.0), "smoke")}
    assert verdicts["1"].verdict == C.NOT_REPRODUCED
    assert verdicts["2"].verdict == C.NOT_REPRODUCED
    # E+F at the same N as E-only, spread over 28x the labels: per-label curves differ by ~sqrt(28) > 4
    assert verdicts["3"].verdict == C.NOT_REPRODUCED


def test_per_label_claim_holds_when_a_label_is_a_label():
    # E-only MAE a N^-1/2 and E+F MAE a (28 N)^-1/2: identical per label
    verdicts = {v.key: v for v in C.judge(study.CLAIMS, _curves(np.sqrt(28.0), 1.0, 7.0), "smoke")}
    assert verdicts["3"].verdict == C.REPRODUCED
    assert study.per_label_gaps(_curves(np.sqrt(28.0), 1.0, 7.0))["mae_energy"] == pytest.approx(1.0)


@pytest.mark.parametrize("override, name", [({"stride_fs": 2.0}, "stride_fs"), ({"molecule": "water"}, "molecule"),
                                            ({"gp_sizes": [8, 24]}, "gp_sizes"),
                                            ({"qm7b_elements": ["N", "O"]}, "qm7b_elements"),
                                            ({"dataset_path": "/nonexistent.npz"}, "dataset_path")])
def test_bad_parameters_are_named(override, name):
    with pytest.raises(ParameterError, match=name):
        resolve("gradients", "smoke", override)


def test_malonaldehyde_runs_like_ethanol(cache):
    p = resolve("gradients", "smoke", {"molecule": "malonaldehyde", "krr_sizes": [4, 8], "gp_sizes": [4, 8],
                                       "n_draws": 2})
    pool, test = study.single_molecule_data(p, cache, progress=False)
    assert pool[0].get_chemical_formula(mode="hill") == "C3H4O2" and len(test) == p.n_test
    hyper = {study.E_ONLY: study.hyperparameters(p, cache, pool, with_forces=False),
             study.E_AND_F: study.hyperparameters(p, cache, pool, with_forces=True)}
    df = study.kernel_curves(p, cache, pool, test, hyper, {study.E_ONLY: p.krr_sizes, study.E_AND_F: p.gp_sizes},
                             study.SINGLE)
    assert len(df) == 2 * 2 * 2
    mean = df.groupby("targets").mae_forces.mean()
    spread = np.abs(test.forces() - test.forces().mean()).mean()
    assert mean[study.E_AND_F] < spread           # learns something at N = 4..8
    assert mean[study.E_AND_F] < mean[study.E_ONLY]


def test_rmd17_file_replaces_the_simulation(tmp_path, cache, ethanol_frames):
    from paperlib.data.formats import write_rmd17

    write_rmd17(ethanol_frames, tmp_path / "rmd17_ethanol.npz")
    p = resolve("gradients", "smoke", {"dataset_path": str(tmp_path / "rmd17_ethanol.npz"), "n_test": 10,
                                       "krr_sizes": [4, 8], "gp_sizes": [4], "nn_sizes": [4], "cv_size": 8})
    pool, test = study.single_molecule_data(p, cache, progress=False)
    assert len(pool) == 20 and len(test) == 10
    assert not {a.positions.tobytes() for a in pool} & {a.positions.tobytes() for a in test}
    np.testing.assert_allclose(np.sort(np.concatenate([pool.energies(), test.energies()])),
                               np.sort(ethanol_frames.energies()), rtol=1e-10)
    too_big = resolve("gradients", "smoke", {"dataset_path": str(tmp_path / "rmd17_ethanol.npz")})
    with pytest.raises(ValueError, match="dataset_path"):
        study.single_molecule_data(too_big, cache, progress=False)


def test_unseen_split_is_by_molecule():
    from ase import Atoms

    from paperlib.data.dataset import Dataset

    frames = []
    for i in range(40):
        a = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]])
        a.info["molecule"] = f"m{i % 10}"
        frames.append(a)
    p = resolve("gradients", "smoke")
    train, test = study.unseen_split(p, Dataset(frames))
    assert not set(train.info("molecule")) & set(test.info("molecule"))
    assert len(train) + len(test) == 40
    assert isinstance(pd.Series(test.info("molecule")).nunique(), int)
