import numpy as np
import pytest
from ase import Atoms

from paperlib import keys
from paperlib.analysis.autocorrelation import (autocorrelation_table, integrated_times, lag_one_autocorrelation,
                                               md_observables)
from paperlib.data.dataset import Dataset


def _ar1(phi, n, runs, seed=0):
    rng = np.random.default_rng(seed)
    x = np.zeros((n, runs))
    noise = rng.normal(size=(n, runs))
    for t in range(1, n):
        x[t] = phi * x[t - 1] + noise[t]
    return x


def test_integrated_time_of_an_ar1_series_is_its_known_value():
    # AR(1) with coefficient phi: tau = (1 + phi) / (1 - phi), lag-one autocorrelation phi. With 8 runs of 5000
    # samples the estimator's relative error is about sqrt(2 * 5 * tau / 40000) ~ 3 %; 10 % is three of those.
    series = np.stack([_ar1(0.5, 5000, 8), _ar1(0.0, 5000, 8, seed=1)], axis=-1)
    tau = integrated_times(series)
    assert tau[0] == pytest.approx(3.0, rel=0.1) and tau[1] == pytest.approx(1.0, rel=0.1)
    rho = lag_one_autocorrelation(series)
    assert rho[0] == pytest.approx(0.5, abs=0.03) and abs(rho[1]) < 0.03


def test_integrated_times_refuses_too_short_series():
    with pytest.raises(ValueError, match="n_samples"):
        integrated_times(np.zeros((3, 2, 1)))


def test_md_observables_order_frames_by_run_and_time():
    frames = []
    for run in (1, 0):
        for k in (3, 2, 0, 1):  # stored out of time order
            a = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.7 + 0.1 * k + run]])
            a.info.update({keys.TRAJECTORY: run, keys.TIME_FS: 50.0 * (k + 1), keys.REF_energy: -float(k)})
            frames.append(a)
    series, names = md_observables(Dataset(frames))
    assert names == ["potential energy", "r(H0-H1)"] and series.shape == (4, 2, 2)
    np.testing.assert_allclose(series[:, 0, 1], [0.7, 0.8, 0.9, 1.0])        # run 0, in time order
    np.testing.assert_allclose(series[:, 1, 0], [0.0, -1.0, -2.0, -3.0])     # run 1's energies
    table = autocorrelation_table(Dataset(frames), 50.0)
    assert list(table.runs) == [2, 2] and (table.tau_fs == 50.0 * table.tau_frames).all()
