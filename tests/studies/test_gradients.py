import json
import pickle

import cloudpickle
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from paperlib.analysis import claims as C
from paperlib.params import ParameterError, resolve
from paperlib.studies import gradients as study


JITTER = (0.9, 1.0, 1.12)  # per-draw factor on the E+F errors: draw-to-draw spread of the paired ratios


@pytest.fixture
def power_at_64(monkeypatch):
    """The synthetic curves compare at N = 64: let that size meet the training-size budget of a negative."""
    monkeypatch.setattr(study, "POWER_TRAINING_SIZE", 64)


def _curves(single_ratio, unseen_energy_ratio, unseen_force_ratio, jitter=JITTER, n_atoms=9,
            n_test=500, test_molecules=52, single_force_ratio=None, mol_spread=0.1,
            gp_sizes=(2, 4, 8, 16, 32, 64), test_runs=16):
    """Power-law curves, E-only MAE = c N^-1/2; E+F MAE = E-only / (ratio * jitter[draw]) in draw ``draw``.
    Every point also gets error sums per test unit (``test_runs`` runs of the single molecule,
    ``test_molecules`` unseen molecules): unit m (weight 1 + m % 3) has its E+F errors further divided by
    exp(mol_spread * z_m), z evenly spread over [-1, 1]."""
    rows, per_unit = [], []
    single_force_ratio = single_ratio if single_force_ratio is None else single_force_ratio
    for dataset, (re, rf), units in ((study.SINGLE, (single_ratio, single_force_ratio), test_runs),
                                     (study.UNSEEN, (unseen_energy_ratio, unseen_force_ratio), test_molecules)):
        z = np.linspace(-1, 1, units)
        for targets, sizes in ((study.E_ONLY, [8, 16, 32, 64, 128, 256, 512, 1024]), (study.E_AND_F, gp_sizes)):
            for n in sizes:
                for draw, j in enumerate(jitter):
                    e, f = 1.0 * n**-0.5, 2.0 * n**-0.5
                    if targets == study.E_AND_F:
                        e, f = e / (re * j), f / (rf * j)
                    per = 1 + 3 * n_atoms if targets == study.E_AND_F else 1
                    rows.append({"dataset": dataset, "family": study.KERNEL, "targets": targets, "n_train": n,
                                 "draw": draw, "mae_energy": e, "mae_forces": f, "n_labels": n * per})
                    shift = np.exp(mol_spread * z) if targets == study.E_AND_F else np.ones_like(z)
                    per_unit += [{"dataset": dataset, "targets": targets, "n_train": n, "draw": draw,
                                  "group": f"u{m}", "abs_energy": (1 + m % 3) * e / shift[m],
                                  "abs_forces": 30 * (1 + m % 3) * f / shift[m]} for m in range(units)]
    return {"curves": rows, "group_errors": per_unit, "n_test_configurations": n_test,
            "unseen_test_molecules": test_molecules}


def _t_interval(x):
    x = np.asarray(x, dtype=float)
    lo, hi = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    return x.mean(), lo, hi


def _t_bounds(x, confidence):
    ci = stats.ttest_1samp(np.asarray(x, dtype=float), 0).confidence_interval(confidence)
    return ci.low, ci.high


def _all_of_high(*parts):
    """Upper bound of a claim whose K parts must all hold: the smallest upper bound at 1 - 0.05/K."""
    return min(_t_bounds(x, 1 - 0.05 / len(parts))[1] for x in parts)


def _verdicts(results):
    return {v.key: v for v in C.judge(study.CLAIMS, results, "smoke")}


# -- claim 1 --------------------------------------------------------------------------------------
def _pooled_log_ratio(results, metric, dataset, n=64):
    """Mean over draws of log(sum over test units of E-only errors / of E+F errors), computed directly."""
    m = pd.DataFrame(results["group_errors"])
    m = m[m.dataset == dataset]
    col = {"mae_energy": "abs_energy", "mae_forces": "abs_forces"}[metric]
    sums = {t: m[(m.targets == t) & (m.n_train == n)].groupby("draw")[col].sum() for t in (study.E_ONLY,
                                                                                           study.E_AND_F)}
    return float(np.mean(np.log(sums[study.E_ONLY] / sums[study.E_AND_F])))


def test_claim1_reproduced_at_seven_fold(power_at_64):
    res = _curves(7.0, 1.0, 7.0)
    ev = study.judge_single(res)
    smaller = min(_pooled_log_ratio(res, m, study.SINGLE) for m in study.METRICS)
    assert ev.value == pytest.approx(np.exp(smaller))
    assert 3.5 < ev.ci_low <= ev.value <= ev.ci_high and ev.threshold == 3.5 and ev.n == 3 and ev.powered
    assert "16 runs x 3 draws" in ev.context and C.verdict_of(ev) == C.REPRODUCED
    assert _verdicts(res)["1"].verdict == C.REPRODUCED


def test_claim1_takes_the_smaller_metric_conservatively(power_at_64):
    res = _curves(7.0, 1.0, 7.0, single_force_ratio=2.0)
    ev = study.judge_single(res)
    assert ev.value == pytest.approx(np.exp(_pooled_log_ratio(res, "mae_forces", study.SINGLE)))
    assert ev.ci_high < 3.5 and C.verdict_of(ev) == C.NOT_REPRODUCED


def test_claim1_not_reproduced_when_forces_do_not_help(power_at_64):
    ev = study.judge_single(_curves(1.0, 1.0, 7.0))
    assert ev.ci_high < 3.5 and ev.powered and C.verdict_of(ev) == C.NOT_REPRODUCED


def test_claim1_inconclusive_when_straddling_or_unpowered(power_at_64):
    straddle = study.judge_single(_curves(3.5, 1.0, 7.0))
    assert straddle.ci_low < 3.5 < straddle.ci_high and C.verdict_of(straddle) == C.INCONCLUSIVE
    few_tests = study.judge_single(_curves(1.0, 1.0, 7.0, n_test=20))
    assert few_tests.ci_high < 3.5 and not few_tests.powered and C.verdict_of(few_tests) == C.INCONCLUSIVE
    two_draws = study.judge_single(_curves(1.0, 1.0, 7.0, jitter=(0.9, 1.1)))
    assert two_draws.n == 2 and np.isnan(two_draws.ci_low) and C.verdict_of(two_draws) == C.INCONCLUSIVE


def test_claim1_identical_draws_count_once(power_at_64):
    # N = the whole pool: every draw is the same training set, with the same errors; one unit, not three
    ev = study.judge_single(_curves(7.0, 1.0, 7.0, jitter=(1.0, 1.0, 1.0)))
    assert ev.n == 1 and np.isnan(ev.ci_low) and C.verdict_of(ev) == C.INCONCLUSIVE


def test_a_hyperparameter_at_the_grids_edge_leaves_a_negative_unpowered(power_at_64):
    res = _curves(1.0, 2.0, 7.0)
    res["hyperparameters"] = [{"dataset": d, "targets": t, "sigma": 16.0, "regularisation": 1e-8,
                               "score": "energy", "at the grid's edge": "no"}
                              for d in (study.SINGLE, study.UNSEEN) for t in (study.E_ONLY, study.E_AND_F)]
    assert study.judge_single(res).powered and study.judge_unseen(res).powered
    res["hyperparameters"][1]["at the grid's edge"] = "sigma"          # single molecule, E+F
    ev = study.judge_single(res)
    assert not ev.powered and C.verdict_of(ev) == C.INCONCLUSIVE and "E+F (sigma) at the edge" in ev.context
    assert study.judge_unseen(res).powered                              # the other dataset's search is fine
    res["hyperparameters"].append({"dataset": study.SINGLE, "targets": study.E_COMMON, "sigma": 1024.0,
                                   "regularisation": 1e-8, "score": "energy+forces", "at the grid's edge": "sigma"})
    res["hyperparameters"][1]["at the grid's edge"] = "no"
    assert study.judge_single(res).powered                              # the unjudged check does not count


def test_test_units_are_runs_of_one_molecule_or_molecules():
    from ase import Atoms

    from paperlib import keys
    from paperlib.data.dataset import Dataset

    def frames(**info_of):
        out = []
        for i in range(4):
            a = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]])
            a.info.update({k: v(i) for k, v in info_of.items()})
            out.append(a)
        return Dataset(out)

    assert study.test_units(frames(molecule=lambda i: f"m{i % 2}", trajectory=lambda i: 0)) == "molecule"
    assert study.test_units(frames(molecule=lambda i: "ethanol", trajectory=lambda i: i)) == keys.TRAJECTORY
    assert study.test_units(frames()) is None


def test_absent_experiments_give_no_evidence():
    res = _curves(7.0, 1.0, 7.0)
    only_single = {**res, "curves": [r for r in res["curves"] if r["dataset"] == study.SINGLE],
                   "group_errors": [r for r in res["group_errors"] if r["dataset"] == study.SINGLE]}
    assert study.judge_unseen(only_single) is None
    assert study.judge_single({}) is None and study.judge_unseen({}) is None and study.judge_per_label({}) is None
    verdicts = _verdicts(only_single)
    assert verdicts["2"].verdict == C.INCONCLUSIVE and verdicts["2"].evidence is None


# -- claim 2 --------------------------------------------------------------------------------------
def test_closeness_to_one_maps_the_interval():
    from paperlib.analysis.intervals import Interval

    assert study.closeness_to_one(Interval(0.2, 0.1, 0.3, 3, "t")) == Interval(-0.2, -0.3, -0.1, 3, "t")
    assert study.closeness_to_one(Interval(-0.2, -0.3, -0.1, 3, "t")) == Interval(-0.2, -0.3, -0.1, 3, "t")
    assert study.closeness_to_one(Interval(0.1, -0.2, 0.5, 3, "t")) == Interval(-0.1, -0.5, 0.0, 3, "t")


def test_claim2_reproduced_when_energies_unchanged_and_forces_seven_fold(power_at_64):
    res = _curves(7.0, 1.0, 7.0)
    ev = study.judge_unseen(res)
    e, f = _pooled_log_ratio(res, "mae_energy", study.UNSEEN), _pooled_log_ratio(res, "mae_forces", study.UNSEEN)
    assert ev.value == pytest.approx(min(np.log(4 / 3) - abs(e), f - np.log(3.5)))
    assert 0 < ev.ci_low <= ev.value <= ev.ci_high and ev.threshold == 0.0 and ev.n == 3 and ev.powered
    assert "52 held-out test molecules x 3 draws" in ev.context
    assert C.verdict_of(ev) == C.REPRODUCED


def test_claim2_not_reproduced_when_forces_improve_energies_or_forces_do_not_help(power_at_64):
    # energy ratio 2: outside [0.75, 1.33]; then force ratio 1: below 3.5
    for args in ((7.0, 2.0, 7.0), (7.0, 1.0, 1.0)):
        ev = study.judge_unseen(_curves(*args))
        assert ev.ci_high < 0 and ev.powered and C.verdict_of(ev) == C.NOT_REPRODUCED


def test_claim2_inconclusive_when_straddling_or_too_few_test_molecules(power_at_64):
    straddle = study.judge_unseen(_curves(7.0, 4 / 3, 7.0))
    assert straddle.ci_low < 0 < straddle.ci_high and C.verdict_of(straddle) == C.INCONCLUSIVE
    few = study.judge_unseen(_curves(7.0, 2.0, 7.0, test_molecules=12))
    assert few.ci_high < 0 and not few.powered and C.verdict_of(few) == C.INCONCLUSIVE


def test_claim2_interval_resamples_test_molecules_and_draws():
    rng = np.random.default_rng(0)
    a = rng.uniform(1, 3, size=(3, 40))
    draw = np.array([[0.95], [1.0], [1.05]])
    narrow = study.pooled_log_ratio(a, a / (2 * draw * np.exp(0.02 * rng.normal(size=40))))
    wide = study.pooled_log_ratio(a, a / (2 * draw * np.exp(0.6 * rng.normal(size=40))))
    assert narrow.value == pytest.approx(np.log(2), abs=0.02) and narrow.low < np.log(2) < narrow.high
    # molecules that disagree widen the interval: a bootstrap over draws alone would not see them
    assert wide.high - wide.low > 3 * (narrow.high - narrow.low)
    same_molecules = study.pooled_log_ratio(a, a / (2 * draw))
    assert same_molecules.high - same_molecules.low > 0   # the draw-to-draw spread alone still counts


# -- claim 3 --------------------------------------------------------------------------------------
def test_claim3_reproduced_when_a_label_is_a_label():
    # E-only MAE N^-1/2 and E+F MAE (28 N)^-1/2 / jitter: per label the curves differ by the jitter only
    res = _curves(np.sqrt(28.0), 1.0, 7.0)
    gaps = study.per_label_gaps(res)
    np.testing.assert_allclose(gaps.mae_energy, np.maximum(JITTER, 1 / np.array(JITTER)), rtol=1e-9)
    assert (gaps.lo == 56).all() and (gaps.hi == 1024).all()
    ev = study.judge_per_label(res)
    m, lo, hi = _t_interval(-np.abs(np.log(JITTER)))
    assert (ev.value, ev.ci_low, ev.ci_high) == pytest.approx((m, lo, hi))
    assert ev.threshold == pytest.approx(-np.log(2)) and ev.n == 3 and ev.powered
    assert C.verdict_of(ev) == C.REPRODUCED


def test_claim3_not_reproduced_when_per_configuration_curves_coincide():
    # E+F at the same N as E-only, spread over 28x the labels: per-label curves differ by ~sqrt(28) > 2
    ev = study.judge_per_label(_curves(1.0, 1.0, 7.0))
    m, lo, hi = _t_interval(-np.log(np.sqrt(28.0) / np.array(JITTER)))
    assert ev.value == pytest.approx(m) and ev.ci_high == pytest.approx(hi) and ev.ci_high < -np.log(2)
    assert C.verdict_of(ev) == C.NOT_REPRODUCED


def test_claim3_inconclusive_when_unpowered_straddling_or_without_overlap():
    few = study.judge_per_label(_curves(1.0, 1.0, 7.0, n_test=20))
    assert not few.powered and C.verdict_of(few) == C.INCONCLUSIVE
    straddle = study.judge_per_label(_curves(np.sqrt(28.0) / 2, 1.0, 7.0, jitter=(0.7, 1.0, 1.4)))
    assert straddle.ci_low < -np.log(2) < straddle.ci_high and C.verdict_of(straddle) == C.INCONCLUSIVE
    res = _curves(7.0, 1.0, 7.0)
    res["curves"] = [r for r in res["curves"] if r["targets"] == study.E_AND_F or r["n_train"] <= 16]
    none = study.judge_per_label(res)
    assert np.isnan(none.value) and "no common label range" in none.context
    assert C.verdict_of(none) == C.INCONCLUSIVE
    # E+F from N = 8: labels 224-1024 in common, under a decade: no verdict either way
    short = study.judge_per_label(_curves(1.0, 1.0, 7.0, gp_sizes=(8, 16, 32, 64)))
    assert np.isnan(short.value) and "224-1024 labels" in short.context and C.verdict_of(short) == C.INCONCLUSIVE


def test_ratios_are_geometric_means_of_paired_draws():
    r = study.ratios(pd.DataFrame(_curves(7.0, 1.0, 7.0)["curves"]), study.SINGLE)
    assert r["n_train"] == 64 and r["mae_forces"] == pytest.approx(7.0 * np.exp(np.log(JITTER).mean()))


@pytest.mark.parametrize("override, name", [({"stride_fs": 40.0}, "stride_fs"), ({"molecule": "water"}, "molecule"),
                                            ({"qm7b_sizes": [16, 32]}, "qm7b_sizes"),
                                            ({"gp_sizes": [8, 24]}, "gp_sizes"),
                                            ({"qm7b_elements": ["N", "O"]}, "qm7b_elements"),
                                            ({"dataset_path": "/nonexistent.npz"}, "dataset_path")])
def test_bad_parameters_are_named(override, name):
    with pytest.raises(ParameterError, match=name):
        resolve("gradients", "smoke", override)


@pytest.mark.parametrize("molecule, formula", [("malonaldehyde", "C3H4O2"), ("smiles:CC(=O)N", "C2H5NO")])
def test_another_molecule_runs_like_ethanol(cache, molecule, formula):
    p = study.Params.resolve("smoke", {"molecule": molecule, "krr_sizes": [4, 8], "gp_sizes": [4, 8],
                                       "n_draws": 2})
    pool, test = study.single_molecule_data(p, cache, progress=False)
    assert pool[0].get_chemical_formula(mode="hill") == formula and len(test) == p.n_test
    hyper = {study.E_ONLY: study.hyperparameters(p, cache, pool, with_forces=False),
             study.E_AND_F: study.hyperparameters(p, cache, pool, with_forces=True)}
    df = study.kernel_curves(p, cache, pool, test, hyper, {study.E_ONLY: p.krr_sizes, study.E_AND_F: p.gp_sizes},
                             study.SINGLE)
    assert len(df) == 2 * 2 * 2
    mean = df.groupby("targets").mae_forces.mean()
    spread = np.abs(test.forces() - test.forces().mean()).mean()
    assert mean[study.E_AND_F] < spread           # learns something at N = 4..8
    assert mean[study.E_AND_F] < mean[study.E_ONLY]


def test_pool_frames_are_stride_apart_in_independent_runs(cache):
    from paperlib import keys

    p = study.Params.resolve("smoke", {"krr_sizes": [4, 8], "gp_sizes": [2, 4], "cv_size": 6, "nn_sizes": [],
                                       "n_test": 6})
    pool, test = study.single_molecule_data(p, cache, progress=False)
    assert len(pool) == 8 and len(test) == 6
    for frames, n_runs in ((pool, p.n_trajectories), (test, p.test_trajectories)):
        runs, times = np.array(frames.info(keys.TRAJECTORY)), np.array(frames.info(keys.TIME_FS))
        assert len(set(runs.tolist())) == n_runs
        for run in set(runs.tolist()):
            t = np.sort(times[runs == run])
            assert t[0] >= (p.equil_steps * p.timestep_fs + p.stride_fs) - 1e-9
            assert (np.diff(t) >= p.stride_fs - 1e-9).all()
    # the test runs are other runs: they share no configuration with the pool
    assert not {a.positions.tobytes() for a in pool} & {a.positions.tobytes() for a in test}
    table = study.AC.autocorrelation_table(pool, p.stride_fs)
    assert list(table.runs) == [2, 2] and list(table.frames_per_run) == [4, 4]
    assert np.isfinite(table.tau_frames).all()


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


# -- the study contract ---------------------------------------------------------------------------
def _results(**curve_args):
    res = _curves(7.0, 1.0, 7.0, **curve_args)
    return study.Results(
        curves=pd.DataFrame(res["curves"]).assign(fit_s=0.25),
        n_test_configurations=res["n_test_configurations"], unseen_test_molecules=res["unseen_test_molecules"],
        reference_sets=pd.DataFrame({"set": ["training pool", "test"], "frames": [16, 20], "atoms": [9, 9],
                                     "energy_spread": [0.31, 0.27], "mean_abs_force": [0.9, 0.85]}),
        autocorrelation=pd.DataFrame({"observable": ["potential energy", "r(H3-H4) (slowest distance)"],
                                      "tau_frames": [1.1, 1.6], "tau_fs": [55.0, 80.0],
                                      "lag_one_autocorrelation": [0.05, 0.3], "runs": 8, "frames_per_run": 128}),
        hyperparameters=pd.DataFrame([{"dataset": d, "targets": t, "sigma": 16.0, "regularisation": 1e-8,
                                       "score": "energy", "at the grid's edge": "no"}
                                      for d in (study.SINGLE, study.UNSEEN) for t in (study.E_ONLY, study.E_AND_F)]),
        group_errors=pd.DataFrame(res["group_errors"]),
        unseen_sets=pd.DataFrame({"set": ["training", "test"], "molecules": [9, 3], "conformations": [27, 9],
                                  "atoms (min-max)": ["3-15", "5-12"]}),
        failed_molecules={"cyclopropanone": "xtb did not converge"})


def test_results_round_trip_through_json_with_the_same_figures_and_verdicts():
    r = _results()
    back = study.Results.from_json(json.loads(json.dumps(r.to_json())))
    assert study.figures(back) == study.figures(r)
    assert "single molecule/kernel/E+F/N=64/mae_forces" in study.figures(back)   # integer N survives JSON
    for name in ("curves", "reference_sets", "autocorrelation", "hyperparameters", "group_errors", "unseen_sets"):
        pd.testing.assert_frame_equal(getattr(back, name), getattr(r, name))
    assert back.failed_molecules == r.failed_molecules and back.n_test_configurations == 500
    judged = {v.key: (v.verdict, v.evidence) for v in C.judge(study.CLAIMS, r.claims_input(), "smoke")}
    assert judged == {v.key: (v.verdict, v.evidence) for v in C.judge(study.CLAIMS, back.claims_input(), "smoke")}
    assert judged["1"][0] == C.REPRODUCED


def test_figures_are_the_summary_of_the_curves():
    r = _results()
    assert study.figures(r) == study.summary_figures(r.curves)
    assert study.figures(r)["single molecule/kernel/ratio_mae_energy"] == pytest.approx(
        7.0 * np.exp(np.log(JITTER).mean()))


def test_params_hold_science_only():
    p = study.Params.resolve("smoke", {"n_draws": 2})
    assert p.study == "gradients" and p.n_draws == 2 and p.profile == "smoke"
    for runtime in ("device", "executor", "devices", "strategy"):
        assert runtime not in p
    with pytest.raises(ParameterError, match="device"):
        study.Params.resolve("smoke", {"device": "cpu"})


def test_random_choices_draw_from_named_streams():
    from paperlib.seeds import stream_seed

    p = study.Params.resolve("smoke")
    assert study._draws_seed(p) == stream_seed(p.seed, "training_draws") != p.seed
    assert study._draws_seed(study.Params.resolve("smoke", {"seed": 1})) != study._draws_seed(p)


class _PicklingExecutor:
    """In process, but every function and item crosses cloudpickle as it would to a dask worker."""

    def map(self, fn, items, desc="", progress=True):
        fn = pickle.loads(cloudpickle.dumps(fn))
        return [fn(pickle.loads(cloudpickle.dumps(item))) for item in items]


def test_mapped_fits_are_picklable_and_runtime_settings_stay_out_of_cache_keys(tmp_path, ethanol_frames):
    from paperlib.cache import Cache

    p = study.Params.resolve("smoke", {"n_draws": 2, "cv_size": 8, "sigmas": [16.0], "regularisations": [1e-8]})
    pool, test = ethanol_frames.subset(range(16)), ethanol_frames.subset(range(20, 26))
    cache = Cache(tmp_path / "cache")
    hyper = study.hyperparameter_pair(p, cache, pool, device="cpu", executor=_PicklingExecutor())
    assert set(hyper) == {study.E_ONLY, study.E_AND_F, study.E_COMMON} and hyper[study.E_AND_F]["sigma"] == 16.0
    sizes = {study.E_ONLY: [4, 8], study.E_AND_F: [4]}
    df = study.kernel_curves(p, cache, pool, test, hyper, sizes, study.SINGLE, _PicklingExecutor(), device="cpu")
    n_entries = len(cache.entries())
    # "auto" is the CPU here; another device name must find the same entries, not compute new ones
    assert study.hyperparameter_pair(p, cache, pool, device="auto") == hyper
    again = study.kernel_curves(p, cache, pool, test, hyper, sizes, study.SINGLE, device="auto")
    pd.testing.assert_frame_equal(again, df)
    assert len(cache.entries()) == n_entries == 2 + 2 * (2 + 1)


def test_a_negative_on_the_ratio_claims_needs_the_paper_scale_training_size():
    """At N = 64 the ratios are not the paper's large-N figure: a shortfall there is not powered."""
    results = _curves(1.0, 3.0, 1.0)
    for judge in (study.judge_single, study.judge_unseen):
        ev = judge(results)
        assert ev.ci_high < ev.threshold and not ev.powered and C.verdict_of(ev) == C.INCONCLUSIVE
        assert "N = 64" in ev.context


def test_hyperparameter_rows_flag_a_choice_at_the_end_of_its_grid():
    table = [{"sigma": s, "regularisation": lam, "score_energy": abs(s - best_s) + lam,
              "score_energy+forces": abs(s - 4.0) + 1e-3 - lam}
             for best_s in [256.0] for s in (4.0, 16.0, 256.0) for lam in (1e-8, 1e-4, 1e-3)]
    hyper = {study.E_ONLY: study._choice(table, "energy"), study.E_COMMON: study._choice(table, "energy+forces")}
    rows = {r["targets"]: r for r in study._hyper_rows(study.SINGLE, hyper)}
    assert (rows[study.E_ONLY]["sigma"], rows[study.E_ONLY]["regularisation"]) == (256.0, 1e-8)
    assert rows[study.E_ONLY]["at the grid's edge"] == "sigma, regularisation"
    assert (rows[study.E_COMMON]["sigma"], rows[study.E_COMMON]["regularisation"]) == (4.0, 1e-3)
    assert rows[study.E_COMMON]["at the grid's edge"] == "sigma, regularisation"
    middle = [dict(r, score_energy=abs(r["sigma"] - 16.0) + abs(r["regularisation"] - 1e-4)) for r in table]
    assert study._hyper_rows(study.SINGLE, {study.E_ONLY: study._choice(middle, "energy")})[0][
        "at the grid's edge"] == "no"
