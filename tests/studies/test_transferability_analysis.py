import numpy as np
import pandas as pd
import pytest
from ase import Atoms

from paperlib import keys
from paperlib.data.dataset import Dataset
from paperlib.sampling.liquids import MOL_ID
from paperlib.studies import transferability as study
from paperlib.studies import transferability_analysis as analysis

from .test_transferability import paper_like


def test_score_is_survival_discounted_by_own_trajectory_error():
    assert analysis.score(1.0, 0.0, 0.1) == 1.0
    assert analysis.score(1.0, 0.1, 0.1) == pytest.approx(0.5)
    assert analysis.score(0.25, 0.0, 0.1) == pytest.approx(0.25)
    assert analysis.score(1.0, 0.05, 0.1) > analysis.score(1.0, 0.2, 0.1) > analysis.score(0.5, 0.2, 0.1)


def test_transfer_matrix_is_origin_by_algorithm():
    table = pd.DataFrame(paper_like()["md"])
    m = analysis.transfer_matrix(table[table["liquid"] == "EC"], "survived fraction")
    assert list(m.index) == [study.ORIGIN_LABELS[o] for o in study.ORIGINS]
    assert list(m.columns) == ["Deep Potential", "MACE"]
    assert m.loc["simple", "Deep Potential"] == 0.2 and m.loc["simple + corrective", "MACE"] == 1.0


def test_error_rows_split_forces_and_remove_energy_offsets():
    rng = np.random.default_rng(0)
    frames = []
    for n in (6, 8):
        a = Atoms("CHO" * (n // 3) + "H" * (n % 3), positions=rng.normal(scale=2.0, size=(n, 3)))
        a.arrays[MOL_ID] = np.arange(n) // 3
        a.info[keys.REF_energy] = float(rng.normal())
        a.arrays[keys.REF_forces] = rng.normal(size=(n, 3))
        frames.append(a)
    data = Dataset(frames)
    exact = {"energies": list(data.energies()), "forces": data.forces().tolist()}
    row = analysis.error_rows("mace", "simple", data, exact, "test")
    assert row["energy MAE (meV/atom)"] == 0 and row["force MAE (eV/Å)"] == 0
    shifted = {"energies": list(data.energies() + 0.5 * data.n_atoms()),
               "forces": (data.forces() + rng.normal(scale=0.1, size=data.forces().shape)).tolist()}
    row = analysis.error_rows("mace", "simple", data, shifted, "test")
    assert row["energy MAE (meV/atom)"] == pytest.approx(500.0)
    assert row["energy MAE, offset removed (meV/atom)"] == pytest.approx(0.0, abs=1e-9)
    err = np.asarray(shifted["forces"]) - data.forces()
    assert row["force MAE (eV/Å)"] == pytest.approx(np.abs(err).mean())
    # the parts of a random error: neither vanishes, and each is at most the whole error
    assert 0 < row["inter-molecular force MAE (eV/Å)"] < row["force MAE (eV/Å)"] * 1.5
    assert 0 < row["intra-molecular force MAE (eV/Å)"] < row["force MAE (eV/Å)"] * 1.5


def test_configuration_errors_pair_models_and_average_to_the_set_force_mae():
    rng = np.random.default_rng(2)
    frames = []
    for n in (3, 6, 9):
        a = Atoms("CHO" * (n // 3), positions=rng.normal(scale=2.0, size=(n, 3)))
        a.info[keys.REF_energy] = float(rng.normal())
        a.arrays[keys.REF_forces] = rng.normal(size=(n, 3))
        frames.append(a)
    data = Dataset(frames)
    fits = [study.Fitted(alg, "simple", None, 0.0,
                         {"test": {"energies": list(data.energies()),
                                   "forces": (data.forces() + rng.normal(scale=s, size=data.forces().shape)).tolist()}})
            for alg, s in (("mace", 0.1), ("deepmd", 0.3))]
    table = analysis.configuration_errors(fits, {"test": data})
    assert list(table["configuration"]) == [0, 1, 2] * 2 and list(table["force components"]) == [9, 18, 27] * 2
    whole = analysis.fixed_errors(fits, {"test": data}).set_index("algorithm")["force MAE (eV/Å)"]
    for alg, d in table.groupby("algorithm"):
        weighted = np.average(d["force MAE (eV/Å)"], weights=d["force components"])
        assert weighted == pytest.approx(whole[alg])
    first = np.abs(np.asarray(fits[0].predictions["test"]["forces"])[:3] - data.forces()[:3]).mean()
    assert table.iloc[0]["force MAE (eV/Å)"] == pytest.approx(first)


def test_density_convergence_compares_the_last_two_quarters():
    flat = [1.30] * 8
    drifting = [1.20, 1.22, 1.24, 1.26, 1.28, 1.30, 1.32, 1.34]
    assert analysis.density_convergence(flat, 1.3) == (pytest.approx(1.0), True)
    value, converged = analysis.density_convergence(drifting, 1.3)
    assert value == pytest.approx(np.mean(drifting[4:]) / 1.3) and not converged
    assert analysis.density_convergence([], 1.3)[1] is False
