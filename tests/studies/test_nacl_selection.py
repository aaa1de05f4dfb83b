"""Claims of the NaCl data-selection study, judged on synthetic results (no training, no MD)."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from paperlib.analysis import claims as C
from paperlib.analysis.intervals import proportion_difference_interval
from paperlib.studies import nacl_selection as study
from paperlib.studies.nacl_selection import CLAIMS, judge_force_errors, judge_rdf

RATIO_NOISE = (0.00, 0.03, -0.02, 0.05, -0.04, 0.01, -0.03)


def errors(rmse: dict, n: int = 5, noise=RATIO_NOISE, models=("schnet_small",)):
    """Force errors: method m, replicate r has RMSE rmse[m] * exp(noise[r]) for the bad methods (Max = 10x)."""
    rows = []
    for model in models:
        for method, value in rmse.items():
            for r in range(n):
                v = value * (math.exp(noise[r]) if method in study.BAD else 1.0)
                rows.append({"model": model, "method": method, "replicate": r, "force_rmse": v,
                             "force_max": 10 * v, "force_mae": 0.8 * v})
    return {"errors": rows}


def t_interval(x):
    x = np.asarray(x, float)
    lo, hi = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    return x.mean(), lo, hi


def bonferroni_high(parts):
    """all_of's upper bound: the smallest Student t upper bound over the K parts at confidence 1 - 0.05/K."""
    k = len(parts)
    return min(stats.ttest_1samp(np.asarray(p, float), 0.0).confidence_interval(1 - 0.05 / k).high for p in parts)


GOOD_ERRORS = {"uniform_atomic_energy": 0.10, "uniform_force": 0.11, "uniform_energy": 0.20, "random": 0.21,
               "single_md_random": 0.5}


def test_force_claim_reproduced_with_the_weakest_comparison_and_its_t_interval():
    ev = judge_force_errors(errors(GOOD_ERRORS))
    # Weakest comparison: uniform-force (0.11) vs global-energy (0.20); the noise enters the bad method only,
    # so every comparison has the same spread and the smallest bounds are those of the weakest comparison.
    # The upper bound is at the Bonferroni confidence 1 - 0.05/K over the K = 8 comparisons
    # (1 model x 2 metrics x 2 good x 2 bad methods); the lower bound stays the 95 % one.
    noise = np.array(RATIO_NOISE[:5])
    mean, lo, hi95 = t_interval(np.log(0.20 / 0.11) + noise)
    parts = [np.log(bad / good) + noise for _metric in range(2) for good in (0.10, 0.11) for bad in (0.20, 0.21)]
    hi = bonferroni_high(parts)
    assert hi == pytest.approx(stats.ttest_1samp(np.log(0.20 / 0.11) + noise, 0).confidence_interval(1 - 0.05 / 8).high)
    assert hi > hi95
    assert ev.value == pytest.approx(mean) and ev.ci_low == pytest.approx(lo) and ev.ci_high == pytest.approx(hi)
    assert ev.threshold == 0.0 and ev.n == 5 and ev.powered
    assert f"uniform global energy / uniform force error ratio {np.exp(mean):.3g}" in ev.context
    assert C.verdict_of(ev) == C.REPRODUCED


def test_force_claim_not_reproduced_when_global_energy_selection_wins():
    reversed_ = {"uniform_atomic_energy": 0.30, "uniform_force": 0.31, "uniform_energy": 0.20, "random": 0.21}
    ev = judge_force_errors(errors(reversed_))
    noise = np.array(RATIO_NOISE[:5])
    mean, lo, _ = t_interval(np.log(0.20 / 0.31) + noise)
    # Upper bound: smallest over the 8 comparisons at the Bonferroni confidence 1 - 0.05/8.
    hi = bonferroni_high([np.log(bad / good) + noise for _metric in range(2) for good in (0.30, 0.31)
                          for bad in (0.20, 0.21)])
    assert ev.value == pytest.approx(mean) and ev.ci_low == pytest.approx(lo)
    assert ev.ci_high == pytest.approx(hi) and ev.ci_high < 0
    assert C.verdict_of(ev) == C.NOT_REPRODUCED


def test_force_claim_negative_needs_five_replicates():
    reversed_ = {"uniform_atomic_energy": 0.30, "uniform_force": 0.31, "uniform_energy": 0.20, "random": 0.21}
    ev = judge_force_errors(errors(reversed_, n=4))
    assert ev.n == 4 and not ev.powered and ev.ci_high < 0
    assert C.verdict_of(ev) == C.INCONCLUSIVE


def test_force_claim_inconclusive_when_the_interval_straddles_zero():
    mixed = {"uniform_atomic_energy": 0.200, "uniform_force": 0.201, "uniform_energy": 0.201, "random": 0.21}
    ev = judge_force_errors(errors(mixed))
    assert ev.ci_low < 0 < ev.ci_high and ev.powered
    assert C.verdict_of(ev) == C.INCONCLUSIVE


def test_force_claim_conservative_bounds_over_models_and_metrics():
    data = errors(GOOD_ERRORS)
    # A second model where the Max error of uniform-force selection is only 1.05x better than random,
    # with more spread across replicates: its bounds decide the interval. The other gap comparisons carry
    # the same small replicate noise on the bad methods as the first model (identical values would leave
    # their intervals undefined).
    rng = np.random.default_rng(1)
    jitter = rng.normal(0, 0.1, 5)
    noise = np.array(RATIO_NOISE[:5])
    for r in range(5):
        for method, value in GOOD_ERRORS.items():
            v = value * (math.exp(noise[r]) if method in study.BAD else 1.0)
            row = {"model": "gap", "method": method, "replicate": r, "force_rmse": v, "force_max": 10 * v,
                   "force_mae": v}
            if method == "random":
                row["force_max"] = 10 * 0.11 * 1.05 * math.exp(jitter[r])
            data["errors"].append(row)
    ev = judge_force_errors(data)
    mean, lo, _ = t_interval(np.log(1.05) + jitter)
    # All K = 16 comparisons (2 models x 2 metrics x 2 good x 2 bad), written out from the construction above.
    parts = [np.log(bad / good) + noise for _metric in range(2) for good in (0.10, 0.11) for bad in (0.20, 0.21)]
    for good in (0.10, 0.11):
        for bad in (0.20, 0.21):
            parts.append(np.log(bad / good) + noise)  # gap force RMSE
            parts.append(np.log(0.11 * 1.05 / good) + jitter if bad == 0.21 else np.log(bad / good) + noise)
    assert len(parts) == 16
    assert lo == pytest.approx(min(t_interval(p)[1] for p in parts))
    assert ev.value == pytest.approx(mean) and ev.ci_low == pytest.approx(lo)
    assert ev.ci_high == pytest.approx(bonferroni_high(parts))
    assert "gap force Max" in ev.context


@pytest.mark.filterwarnings("ignore:Precision loss")
def test_force_claim_pairs_by_replicate():
    # Errors that vary a lot between replicates but identically for every method, up to a small paired
    # spread on the bad methods (zero mean in log for global energy, so the weakest ratio stays exact):
    # paired ratios remove the replicate scale.
    rows = []
    energy_spread = (0.01, -0.01, 0.02, -0.02, 0.0)
    for r, scale in enumerate([1.0, 3.0, 0.5, 2.0, 1.5]):
        for method, value in GOOD_ERRORS.items():
            own = {"random": 1.0 + 0.01 * r, "uniform_energy": math.exp(energy_spread[r])}.get(method, 1.0)
            v = value * scale * own
            rows.append({"model": "schnet_small", "method": method, "replicate": r, "force_rmse": v,
                         "force_max": 10 * v})
    ev = judge_force_errors({"errors": rows})
    assert ev.value == pytest.approx(np.log(0.20 / 0.11)) and ev.ci_low > 0.5
    assert C.verdict_of(ev) == C.REPRODUCED


def test_force_claim_one_replicate_is_inconclusive_and_absent_methods_give_none():
    ev = judge_force_errors(errors(GOOD_ERRORS, n=1))
    assert ev.n == 1 and math.isnan(ev.ci_low) and C.verdict_of(ev) == C.INCONCLUSIVE
    assert judge_force_errors(errors({"random": 0.2, "uniform_energy": 0.2})) is None
    assert judge_force_errors({"errors": []}) is None


def md(e_flags, a_flags, ion_ps=40_000.0):
    rows = [{"model": "schnet_small", "method": "uniform_energy", "replicate": r, "nonphysical": f,
             "ion_ps": ion_ps / len(e_flags)} for r, f in enumerate(e_flags)]
    rows += [{"model": "schnet_small", "method": "uniform_atomic_energy", "replicate": r, "nonphysical": f,
              "ion_ps": ion_ps / len(a_flags)} for r, f in enumerate(a_flags)]
    return {"md": rows}


def test_rdf_claim_reproduced_with_the_newcombe_interval():
    ev = judge_rdf(md([True] * 9 + [False], [False] * 10))
    iv = proportion_difference_interval(9, 10, 0, 10)
    assert ev.value == pytest.approx(0.9) and (ev.ci_low, ev.ci_high) == pytest.approx((iv.low, iv.high))
    assert ev.n == 10 and ev.powered and ev.threshold == 0.0
    assert C.verdict_of(ev) == C.REPRODUCED


def test_rdf_claim_newcombe_by_hand():
    # Newcombe's hybrid score interval from the two Wilson intervals, computed here without the library.
    def wilson(k, n, z=stats.norm.ppf(0.975)):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return centre - half, centre + half

    ev = judge_rdf(md([True] * 6 + [False] * 2, [True] + [False] * 7))
    (l1, u1), (l2, u2) = wilson(6, 8), wilson(1, 8)
    d = 6 / 8 - 1 / 8
    assert ev.ci_low == pytest.approx(d - math.hypot(6 / 8 - l1, u2 - 1 / 8))
    assert ev.ci_high == pytest.approx(d + math.hypot(u1 - 6 / 8, 1 / 8 - l2))


def test_rdf_claim_not_reproduced_when_atomic_energy_runs_are_flagged_more():
    ev = judge_rdf(md([False] * 10, [True] * 9 + [False]))
    assert ev.ci_high < 0 and ev.powered
    assert C.verdict_of(ev) == C.NOT_REPRODUCED


def test_rdf_claim_negative_needs_the_ion_ps_budget():
    ev = judge_rdf(md([False] * 10, [True] * 9 + [False], ion_ps=study.MIN_ION_PS - 1))
    assert ev.ci_high < 0 and not ev.powered
    assert C.verdict_of(ev) == C.INCONCLUSIVE
    no_column = {"md": [{k: v for k, v in row.items() if k != "ion_ps"}
                        for row in md([False] * 10, [True] * 10)["md"]]}
    assert not judge_rdf(no_column).powered


def test_rdf_claim_inconclusive_when_the_interval_straddles_zero():
    ev = judge_rdf(md([True, True, False, False], [True, False, False, False]))
    assert ev.value == pytest.approx(0.25) and ev.ci_low < 0 < ev.ci_high
    assert C.verdict_of(ev) == C.INCONCLUSIVE


def test_rdf_claim_absent_runs_give_none():
    assert judge_rdf({"md": []}) is None
    assert judge_rdf({"md": md([True], [False])["md"][:1]}) is None


def test_md_summary_records_ion_ps():
    from ase import Atoms

    from paperlib.data.dataset import Dataset

    rng = np.random.default_rng(0)
    frames = Dataset([Atoms("Na4Cl4", positions=rng.uniform(0, 8, (8, 3)), cell=[8, 8, 8], pbc=True)
                      for _ in range(3)])
    runs = {("schnet_small", "random", 0): (frames, {"failure": None, "steps_done": 500,
                                                     "time_to_failure_fs": None}),
            ("schnet_small", "uniform_energy", 0): (Dataset(), {"failure": "close atoms", "steps_done": 40,
                                                                "time_to_failure_fs": 80.0})}
    table, _, _ = study.md_summary(frames, runs, timestep_fs=2.0)
    assert table.ions.tolist() == [8, 8]
    assert table.simulated_ps.tolist() == pytest.approx([1.0, 0.08])
    assert table.ion_ps.tolist() == pytest.approx([8.0, 0.64])
    assert table.nonphysical.tolist()[1]


def test_results_json_follows_the_rule(tmp_path):
    results = {**errors(GOOD_ERRORS), **md([True] * 9 + [False], [False] * 10)}
    verdicts = C.judge(CLAIMS, results, "smoke")
    assert [v.verdict for v in verdicts] == [C.REPRODUCED, C.REPRODUCED]
    C.write_results(tmp_path / "results.json", study="nacl_selection", title="NaCl", profile="smoke",
                    params={}, figures={}, verdicts=verdicts, provenance={})
    data = json.loads((tmp_path / "results.json").read_text())
    assert all(C.rule_problems(c) == [] for c in data["claims"])
    assert isinstance(C.rules_table(CLAIMS), pd.DataFrame)
    assert [c.key for c in CLAIMS] == ["a", "b"]


def synthetic_results() -> study.Results:
    """A small Results as run() builds it, without training or MD."""
    rng = np.random.default_rng(3)
    errs = pd.DataFrame(errors(GOOD_ERRORS, n=3, models=("schnet_small", "gap"))["errors"])
    errs["energy_mae_per_atom"] = rng.uniform(0.001, 0.01, len(errs))
    errs["fit_s"] = rng.uniform(1, 2, len(errs))
    runs = pd.DataFrame(md([True, False, True], [False, False, True])["md"])
    runs["failure"] = ["", "", "close atoms", "", "", ""]
    runs["time_to_failure_ps"] = [np.nan, np.nan, 0.08, np.nan, np.nan, np.nan]
    runs["rdf_distance_Na-Cl"] = [0.1, 0.2, np.nan, 0.05, 0.07, 0.3]
    r = np.linspace(0.05, 5.95, 60)
    rdf = {pair: np.vstack([r, rng.uniform(0, 2, r.size)]) for pair in ("Na-Na", "Na-Cl", "Cl-Cl")}
    states = pd.DataFrame({study.STATE_T: [1200.0, 2000.0], study.STATE_P: [1.0, 1.0], "frames": [12, 12],
                           "density": [1.6, 1.4], "energy_per_atom": [-3.3, -3.1]})
    return study.Results(
        states=states,
        distributions={m: {col: rng.normal(size=5) for col in study.PROPERTIES} for m in GOOD_ERRORS},
        test_origin=["random", "uniform_energy"], errors=errs, md_density_g_cm3=1.55, md=runs,
        reference_rdf=rdf, model_rdfs={study.run_key("schnet_small", "random", 0): rdf})


def test_results_round_trip_through_json():
    original = synthetic_results()
    back = study.Results.from_json(json.loads(json.dumps(original.to_json())))
    pd.testing.assert_frame_equal(back.errors, original.errors)
    pd.testing.assert_frame_equal(back.md, original.md)
    pd.testing.assert_frame_equal(back.states, original.states)
    for m, cols in original.distributions.items():
        for col, v in cols.items():
            np.testing.assert_array_equal(back.distributions[m][col], v)
    np.testing.assert_array_equal(back.reference_rdf["Na-Cl"], original.reference_rdf["Na-Cl"])
    assert list(back.model_rdfs) == ["schnet_small/random/0"]
    assert study.parse_run_key(next(iter(back.model_rdfs))) == ("schnet_small", "random", 0)
    assert back.test_origin == original.test_origin and back.md_density_g_cm3 == original.md_density_g_cm3
    assert study.figures(back) == study.figures(original)
    fig = study.figures(original)
    assert fig["schnet_small/uniform_energy/md_flagged_fraction"] == pytest.approx(2 / 3)
    assert fig["gap/random/force_rmse_mean"] == pytest.approx(0.21 * np.mean(np.exp(RATIO_NOISE[:3])))
    # The judges read the same records from a round-tripped Results.
    verdicts = [C.verdict_of(ev) for ev in (judge_force_errors(back.claims_input()), judge_rdf(back.claims_input()))]
    assert verdicts == [C.verdict_of(judge_force_errors(original.claims_input())),
                        C.verdict_of(judge_rdf(original.claims_input()))]


def test_runtime_settings_stay_out_of_the_training_key():
    from paperlib.studies import RunOptions

    p = study.Params.resolve("smoke", {})
    for model in ("schnet_small", "gap"):
        assert not {"device", "devices", "strategy", "progress"} & set(study.train_settings(p, 0, model))
    assert study.train_settings(p, 0, "gap")["n_sparse"] == p.gap_n_sparse
    train = study.Dataset()
    args = [dict(**study._train_args(p, "schnet_small", train, 0), runtime=RunOptions(device=d).training(),
                 progress=d == "cpu") for d in ("cpu", "cuda")]
    assert study._train.key(**args[0]) == study._train.key(**args[1])
    assert not {"runtime", "progress"} & set(study._train.key_params(**args[0]))
