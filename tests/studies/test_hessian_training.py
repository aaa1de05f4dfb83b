import numpy as np
import pandas as pd
import pytest
from scipy import stats

from paperlib.analysis import claims as C
from paperlib.params import resolve
from paperlib.studies import hessian_training as S
from paperlib.studies import hessian_training_claims as HC
from paperlib.training import with_runtime

EF, EFH = S.E_AND_F, S.efh_mode("hvp", 4)


@pytest.fixture
def p():
    return resolve("hessian_training", "smoke")


def test_modes_and_their_targets(p):
    assert S.modes(p) == ["E", "E+F", "E+F+H (HVP, k=4)", "E+F+H (full)"]
    assert S.judged_mode(p) == EFH
    t, loss = S.targets_for("E", p)
    assert (t.energy, t.forces, t.hessian) == (p.energy_weight, 0.0, 0.0)
    t, loss = S.targets_for(EFH, p)
    assert t.hessian == p.hessian_weight and loss == "hvp"
    assert S.targets_for("E+F+H (full)", p)[1] == "full"
    with pytest.raises(ValueError, match="unknown training mode 'F'"):
        S.targets_for("F", p)
    assert S.model_config(p, "hvp").dtype == "float64"


REACTIONS = [f"r{i}" for i in range(7)]
POWERED, ONE_SEED = [0, 1, 2], [0]
JITTER = np.array([1.0, 1.1, 0.9, 1.05, 0.95, 1.2, 0.8])


def t_interval(x, confidence=0.95) -> tuple[float, float, float]:
    """Mean and Student t interval (95 % unless told), from the textbook formula."""
    x = np.asarray(x, dtype=float)
    half = stats.t.ppf(1 - (1 - confidence) / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
    return x.mean(), x.mean() - half, x.mean() + half


def all_of_interval(parts) -> tuple[float, float, float]:
    """Claim with K parts: smallest mean, smallest 95 % lower bound, smallest upper bound at the Bonferroni
    confidence 1 - 0.05/K (each upper bound from scipy's t interval, independently of the textbook formula)."""
    parts = [np.asarray(x, dtype=float) for x in parts]
    k = len(parts)
    highs = [stats.ttest_1samp(x, 0.0).confidence_interval(1 - 0.05 / k).high for x in parts]
    return min(x.mean() for x in parts), min(t_interval(x)[1] for x in parts), min(highs)


def wilson(k: int, n: int) -> tuple[float, float]:
    z = stats.norm.ppf(0.975)
    p = k / n
    centre = (p + z ** 2 / (2 * n)) / (1 + z ** 2 / n)
    half = z / (1 + z ** 2 / n) * np.sqrt(p * (1 - p) / n + z ** 2 / (4 * n ** 2))
    return centre - half, centre + half


def check_evidence(ev, value, low, high, n):
    assert ev.value == pytest.approx(value) and ev.n == n
    assert ev.ci_low == pytest.approx(low) and ev.ci_high == pytest.approx(high)


def errors(factors: tuple[float, float, float], reactions=REACTIONS) -> list[dict]:
    """Two test geometries per reaction; E+F+H's errors are E+F's times ``factors`` (per metric) times a
    per-reaction jitter, so the per-reaction log ratio of each metric is -log(factor * jitter)."""
    rows = []
    for r, (name, jit) in enumerate(zip(reactions, JITTER)):
        for scale in (0.5, 1.5):
            base = {k: (r + 1) * scale for k in S.METRICS}
            rows.append({"mode": EF, "reaction": name, **base})
            rows.append({"mode": EFH, "reaction": name, **{k: v * f * jit for (k, v), f in zip(base.items(), factors)}})
    return rows


def expected_extrapolation(factors, n=7):
    return all_of_interval([-np.log(f * JITTER[:n]) for f in factors])


def test_extrapolation_reproduced_with_hand_interval():
    factors = (0.5, 0.6, 0.7)
    ev = HC.judge_extrapolation({"errors": errors(factors), "judged": EFH, "seeds": ONE_SEED})
    check_evidence(ev, *expected_extrapolation(factors), n=7)
    assert ev.threshold == 0.0 and not ev.powered and C.verdict_of(ev) == C.REPRODUCED
    assert "over 7 reactions, 14 unseen geometries" in ev.context and "Hessian" in ev.context


def test_extrapolation_not_reproduced_needs_seeds():
    factors = (0.5, 0.6, 1.6)   # the Hessian error gets worse
    ev = HC.judge_extrapolation({"errors": errors(factors), "judged": EFH, "seeds": POWERED})
    check_evidence(ev, *expected_extrapolation(factors), n=7)
    assert ev.powered and C.verdict_of(ev) == C.NOT_REPRODUCED
    one = HC.judge_extrapolation({"errors": errors(factors), "judged": EFH, "seeds": ONE_SEED})
    assert not one.powered and C.verdict_of(one) == C.INCONCLUSIVE
    assert not HC.judge_extrapolation({"errors": errors(factors), "judged": EFH}).powered   # no seeds: one


def test_extrapolation_inconclusive_and_absent():
    factors = (0.5, 0.6, 1.0)   # log ratios -log(jitter): the interval straddles 0
    ev = HC.judge_extrapolation({"errors": errors(factors), "judged": EFH, "seeds": POWERED})
    check_evidence(ev, *expected_extrapolation(factors), n=7)
    assert ev.ci_low < 0 < ev.ci_high and C.verdict_of(ev) == C.INCONCLUSIVE
    two = HC.judge_extrapolation({"errors": errors((0.1, 0.1, 0.1), REACTIONS[:2]), "judged": EFH, "seeds": POWERED})
    assert two.n == 2 and C.verdict_of(two) == C.INCONCLUSIVE
    only_ef = [r for r in errors(factors) if r["mode"] == EF]
    assert HC.judge_extrapolation({"errors": only_ef, "judged": EFH}) is None


def searches(mode: str, barrier_errors, confirmed, rmsd, freq, ref=None) -> list[dict]:
    ref = ref if ref is not None else [1.0] * len(barrier_errors)
    return [{"mode": mode, "reaction": f"r{i}", "barrier_ref_eV": b0, "barrier_error_eV": b, "ts_confirmed": c,
             "ts_rmsd_A": r, "freq_mae_minima_cm": f, "freq_mae_ts_cm": f}
            for i, (b0, b, c, r, f) in enumerate(zip(ref, barrier_errors, confirmed, rmsd, freq))]


def barrier_case(ef_err, efh_err, ref, seeds):
    n = len(ef_err)
    res = {"searches": searches(EF, ef_err, [True] * n, [0.1] * n, [50.0] * n, ref)
           + searches(EFH, efh_err, [True] * n, [0.1] * n, [50.0] * n, ref), "judged": EFH, "seeds": seeds}
    return HC.judge_barriers(res)


def expected_barriers(ef_err, efh_err, ref):
    zero = np.abs(ref)
    ef, efh = np.where(np.isnan(ef_err), zero, ef_err), np.where(np.isnan(efh_err), zero, efh_err)
    return all_of_interval([ef - efh, zero - efh])


def test_barriers_reproduced_not_reproduced_inconclusive():
    ref = 1.0 * JITTER
    ef, efh = 0.3 * JITTER, 0.05 * JITTER[::-1]
    ev = barrier_case(ef, efh, ref, ONE_SEED)
    check_evidence(ev, *expected_barriers(ef, efh, ref), n=7)
    assert C.verdict_of(ev) == C.REPRODUCED and "zero-barrier baseline 1.0" in ev.context
    ev = barrier_case(efh, ef, ref, POWERED)   # swapped: E+F+H is worse than E+F
    check_evidence(ev, *expected_barriers(efh, ef, ref), n=7)
    assert ev.powered and C.verdict_of(ev) == C.NOT_REPRODUCED
    assert C.verdict_of(barrier_case(efh, ef, ref, ONE_SEED)) == C.INCONCLUSIVE   # one seed: not powered
    ev = barrier_case(0.1 * JITTER, 0.1 * JITTER[::-1], ref, POWERED)   # no difference: straddles 0
    assert ev.ci_low < 0 < ev.ci_high and C.verdict_of(ev) == C.INCONCLUSIVE


def test_barriers_must_beat_the_zero_barrier_baseline_and_failures_count():
    ref = 0.1 * JITTER                              # tiny barriers: predicting 0 is better than both models
    ef, efh = 0.5 * JITTER, 0.3 * JITTER[::-1]
    ev = barrier_case(ef, efh, ref, POWERED)
    check_evidence(ev, *expected_barriers(ef, efh, ref), n=7)
    assert ev.value == pytest.approx(np.mean(ref - efh)) and C.verdict_of(ev) == C.NOT_REPRODUCED
    ef_failed = np.array([np.nan, *(0.3 * JITTER[1:])])
    ev = barrier_case(ef_failed, 0.05 * JITTER, 1.0 * JITTER, ONE_SEED)
    check_evidence(ev, *expected_barriers(ef_failed, 0.05 * JITTER, 1.0 * JITTER), n=7)
    assert "failed searches 1 / 0" in ev.context
    assert HC.judge_barriers({"searches": [], "judged": EFH}) is None


def ts_case(k_ef, k_efh, seeds, n=7):
    res = {"searches": searches(EF, [0.1] * n, [i < k_ef for i in range(n)], [0.1] * n, [50.0] * n)
           + searches(EFH, [0.1] * n, [i < k_efh for i in range(n)], [0.05] * n, [50.0] * n),
           "judged": EFH, "seeds": seeds}
    return HC.judge_transition_states(res)


def test_transition_states_newcombe():
    ev = ts_case(0, 7, ONE_SEED)
    (l1, u1), (l2, u2) = wilson(7, 7), wilson(0, 7)
    check_evidence(ev, 1.0, 1.0 - np.hypot(1.0 - l1, u2), 1.0 + np.hypot(u1 - 1.0, 0.0 - l2), n=7)
    assert C.verdict_of(ev) == C.REPRODUCED and "7/7" in ev.context
    ev = ts_case(7, 0, POWERED)
    assert ev.value == -1.0 and ev.powered and C.verdict_of(ev) == C.NOT_REPRODUCED
    assert C.verdict_of(ts_case(7, 0, ONE_SEED)) == C.INCONCLUSIVE
    ev = ts_case(4, 5, POWERED)
    assert ev.ci_low < 0 < ev.ci_high and C.verdict_of(ev) == C.INCONCLUSIVE
    assert HC.judge_transition_states({"searches": [], "judged": EFH}) is None


def freq_case(ef_freq, efh_freq, seeds, trained=()):
    n = len(ef_freq)
    res = {"searches": searches(EF, [0.1] * n, [True] * n, [0.1] * n, ef_freq)
           + searches(EFH, [0.1] * n, [True] * n, [0.1] * n, efh_freq), "judged": EFH, "seeds": seeds,
           "reference": [{"reaction": r} for r in trained]}
    return HC.judge_frequencies(res)


def test_frequencies_paired_log_ratio():
    ef, efh = 100.0 * JITTER, 40.0 * JITTER[::-1]
    ev = freq_case(ef, efh, ONE_SEED)
    check_evidence(ev, *t_interval(np.log(ef / efh)), n=7)
    assert C.verdict_of(ev) == C.REPRODUCED
    ev = freq_case(efh, ef, POWERED)
    check_evidence(ev, *t_interval(np.log(efh / ef)), n=7)
    assert C.verdict_of(ev) == C.NOT_REPRODUCED
    ev = freq_case(50.0 * JITTER, 50.0 * JITTER[::-1], POWERED)
    assert ev.ci_low < 0 < ev.ci_high and C.verdict_of(ev) == C.INCONCLUSIVE
    failed = np.array([np.nan, *ef[1:]])   # a failed search leaves its reaction out
    ev = freq_case(failed, efh, POWERED)
    check_evidence(ev, *t_interval(np.log(ef[1:] / efh[1:])), n=6)
    assert not ev.powered and "1 reaction(s) left out" in ev.context
    assert HC.judge_frequencies({"searches": [], "judged": EFH}) is None


def test_frequencies_at_the_training_reactions_are_in_sample_and_decide_nothing():
    ef, efh = 100.0 * JITTER, 40.0 * JITTER[::-1]
    ev = freq_case(ef, efh, POWERED, trained=[f"r{i}" for i in range(len(ef))])
    assert ev.n == 0 and np.isnan(ev.ci_low) and C.verdict_of(ev) == C.INCONCLUSIVE
    assert ev.value == pytest.approx(np.mean(np.log(ef / efh))) and "in-sample" in ev.method
    ev = freq_case(ef, efh, POWERED, trained=["r0", "r1", "r2"])   # four reactions held out
    check_evidence(ev, *t_interval(np.log(ef[3:] / efh[3:])), n=4)


def curve_errors(ef_large, efh_small, reactions=REACTIONS) -> list[dict]:
    """Per-reaction force errors (two geometries each, mean as given) of E+F with 7 and E+F+H with 3 reactions,
    plus the other two (size, mode) pairs."""
    rows = []
    for (n, mode), values in (((3, EF), 2 * ef_large), ((7, EF), ef_large), ((3, EFH), efh_small),
                              ((7, EFH), 0.5 * efh_small)):
        for name, v in zip(reactions, values):
            for scale in (0.5, 1.5):
                rows.append({"n_reactions": n, "n_structures": 3 * n, "mode": mode, "reaction": name,
                             "mae_forces": v * scale})
    return rows


def test_less_data_rule():
    ef, efh = 1.0 * JITTER, 0.6 * JITTER[::-1]
    ev = HC.judge_less_data({"curve_errors": curve_errors(ef, efh), "judged": EFH, "seeds": ONE_SEED})
    check_evidence(ev, *t_interval(np.log(ef / efh)), n=7)
    assert C.verdict_of(ev) == C.REPRODUCED and "with 7 reactions / E+F+H force MAE with 3" in ev.statistic
    ev = HC.judge_less_data({"curve_errors": curve_errors(efh, ef), "judged": EFH, "seeds": POWERED})
    check_evidence(ev, *t_interval(np.log(efh / ef)), n=7)
    assert C.verdict_of(ev) == C.NOT_REPRODUCED
    ev = HC.judge_less_data({"curve_errors": curve_errors(ef, ef[::-1]), "judged": EFH, "seeds": POWERED})
    assert ev.ci_low < 0 < ev.ci_high and C.verdict_of(ev) == C.INCONCLUSIVE
    one_size = [r for r in curve_errors(ef, efh) if r["n_reactions"] == 7]
    assert HC.judge_less_data({"curve_errors": one_size, "judged": EFH}) is None
    assert HC.judge_less_data({"curve": [], "judged": EFH}) is None


def test_curve_means_keeps_the_curve_layout():
    e = pd.DataFrame(curve_errors(np.ones(7), np.ones(7))).assign(err_energy=1.0, mae_hessian=2.0)
    c = S.curve_means(e)
    assert list(c.columns) == ["n_reactions", "n_structures", "mode", *S.METRICS]
    assert list(zip(c["n_reactions"], c["mode"])) == [(3, EF), (7, EF), (3, EFH), (7, EFH)]
    assert c["mae_forces"].tolist() == pytest.approx([2.0, 1.0, 1.0, 0.5])


def test_cost_rule_and_timed_claim():
    single = [{"mode": EF, "seconds_per_epoch": 1.0}, {"mode": HC.FULL, "seconds_per_epoch": 9.0},
              {"mode": EFH, "seconds_per_epoch": 2.5}]
    ev = HC.judge_cost({"costs": single})
    assert ev.n == 1 and ev.value == pytest.approx(np.log(9.0)) and np.isnan(ev.ci_low)
    assert C.verdict_of(ev) == C.INCONCLUSIVE and "9.0x" in ev.context and "k=4) 2.5x" in ev.context
    full = np.array([9.0, 8.0, 10.0, 9.5, 8.5])
    ef = np.array([1.0, 1.1, 0.9, 1.0, 1.2])
    repeated = ([{"mode": EF, "seconds_per_epoch": t} for t in ef]
                + [{"mode": HC.FULL, "seconds_per_epoch": t} for t in full])
    ev = HC.judge_cost({"costs": repeated})
    check_evidence(ev, *t_interval(np.log(full / ef)), n=5)
    assert ev.powered and C.verdict_of(ev) == C.REPRODUCED
    cheaper = [{**r, "mode": EF if r["mode"] == HC.FULL else HC.FULL} for r in repeated]
    ev = HC.judge_cost({"costs": cheaper})
    check_evidence(ev, *t_interval(np.log(ef / full)), n=5)
    assert C.verdict_of(ev) == C.NOT_REPRODUCED
    ev = HC.judge_cost({"costs": cheaper[:3] + cheaper[5:8]})   # three timings each: not powered
    assert ev.n == 3 and not ev.powered and C.verdict_of(ev) == C.INCONCLUSIVE
    assert HC.judge_cost({"costs": []}) is None
    assert [c.timed for c in HC.CLAIMS] == [False] * 5 + [True]


def test_every_judge_returns_evidence_and_rules_state_thresholds():
    assert all("Threshold 0" in c.rule for c in HC.CLAIMS)
    assert all(f">= {HC.MIN_SEEDS} training seeds" in c.rule for c in HC.CLAIMS[:5])


def test_summary_figures_hold_no_timings():
    res = {"errors": errors((0.5, 0.5, 0.5), REACTIONS[:1]),
           "searches": searches(EF, [0.1], [True], [0.05], [50.0]) + searches(EFH, [0.05], [True], [0.01], [20.0]),
           "curve": [{"n_reactions": 2, "mode": EF, "mae_forces": 1.0}], "costs": [], "judged": EFH}
    figures = HC.summary_figures(res)
    assert figures[f"test/{EFH}/mae_hessian"] == pytest.approx(0.5)
    assert figures[f"searches/{EF}/frequency_mae_cm"] == pytest.approx(50.0)
    assert not [k for k in figures if "second" in k or "cost" in k]


def test_search_table_marks_failed_searches():
    ref = S.ReferenceData(None, None, None, {"r0": {"barrier_eV": 1.0, "wavenumbers_cm": {
        "reactant": [3000.0, 1000.0], "product": [3000.0, 1000.0], "ts": [-900.0, 2000.0]}}})
    found = {EF: {"r0": {"failed": "RuntimeError: exploded"}},
             EFH: {"r0": {"barrier_eV": 1.2, "ts_imaginary": 1, "connects": True, "ts_rmsd_A": 0.05,
                          "wavenumbers_cm": {"reactant": [3010.0, 990.0], "product": [3000.0, 1000.0],
                                             "ts": [-800.0, 2000.0]}}}}
    t = S.search_table(ref, found).set_index("mode")
    assert not t.loc[EF, "ts_confirmed"] and np.isnan(t.loc[EF, "barrier_error_eV"])
    assert t.loc[EF, "note"].startswith("RuntimeError")
    assert t.loc[EFH, "ts_confirmed"] and t.loc[EFH, "barrier_error_eV"] == pytest.approx(0.2)
    assert t.loc[EFH, "freq_mae_minima_cm"] == pytest.approx(5.0) and t.loc[EFH, "freq_mae_ts_cm"] == 50.0
    assert isinstance(t, pd.DataFrame)


def synthetic_results() -> S.Results:
    """A small :class:`Results` built by hand (no training), shaped like a smoke run's."""
    err = pd.DataFrame(errors((0.5, 0.6, 0.7), REACTIONS[:2])).assign(
        kind="displaced", amplitude_A=[0.05, np.nan, 0.2, 0.05, 0.2, np.nan, 0.05, 0.2], distance_A=0.1)
    wn = {"reactant": [3000.0, 1000.0], "product": [3010.0, 990.0], "ts": [-900.0, 2000.0]}
    barriers = {"r0": 1.0, "r1": 1.2}   # different barriers, so the per-reaction differences have some spread
    summaries = {r: {"name": r, "description": f"reaction {r}", "barrier_eV": barriers[r], "reaction_energy_eV": -0.1,
                     "ts_imaginary": 1, "connects": True, "converged": True, "wavenumbers_cm": wn,
                     "path_energies_eV": [0.0, 0.5, 1.0, 0.4, -0.1], "max_asymmetry_eV_A2": 1e-4,
                     "max_translation_sum_eV_A2": 2e-4, "max_element_eV_A2": 30.0} for r in REACTIONS[:2]}
    runs = {EF: {"r0": {"failed": "RuntimeError: exploded"},
                 "r1": {"barrier_eV": 1.3, "ts_imaginary": 2, "connects": None, "ts_rmsd_A": 0.2,
                        "wavenumbers_cm": wn, "path_energies_eV": [0.0, 1.3, -0.1]}},
            EFH: {r: {"barrier_eV": 1.1, "ts_imaginary": 1, "connects": True, "ts_rmsd_A": 0.05,
                      "wavenumbers_cm": wn, "path_energies_eV": [0.0, 1.1, -0.1]} for r in REACTIONS[:2]}}
    ref = S.ReferenceData(None, None, None, summaries)
    curve_err = pd.DataFrame(curve_errors(JITTER, 0.5 * JITTER[::-1])).assign(err_energy=1.0, mae_hessian=2.0)
    costs = pd.DataFrame([{"mode": EF, "seconds_per_epoch": 0.1, "ratio_to_E+F": 1.0},
                          {"mode": HC.FULL, "seconds_per_epoch": 0.9, "ratio_to_E+F": 9.0}])
    return S.Results(reference=pd.DataFrame([{"reaction": r, "barrier (eV)": barriers[r]} for r in REACTIONS[:2]]),
                     summaries=summaries, data_sizes={"critical": 6, "path": 6, "displaced": 8, "reactions": 2},
                     modes=["E", EF, EFH], errors=err, search_runs=runs, searches=S.search_table(ref, runs),
                     curve_errors=curve_err, curve=S.curve_means(curve_err), costs=costs, judged=EFH, seeds=[0])


def test_results_round_trip_through_json():
    import json

    original = synthetic_results()
    back = S.Results.from_json(json.loads(json.dumps(original.to_json())))
    assert S.figures(back) == S.figures(original)
    assert f"searches/{EF}/barrier_mae_eV" in S.figures(original)       # the failed search is left out
    assert f"curve/{EFH}/n=3/mae_forces" in S.figures(original)
    for name in ("reference", "errors", "searches", "curve_errors", "curve", "costs"):
        pd.testing.assert_frame_equal(getattr(back, name), getattr(original, name), check_dtype=False)
    assert back.search_runs == original.search_runs and back.summaries == original.summaries
    assert (back.modes, back.judged, back.seeds, back.data_sizes) == (original.modes, EFH, [0], original.data_sizes)
    verdicts = C.judge(S.CLAIMS, back.claims_input(), "smoke")
    assert [v.evidence for v in verdicts] == [v.evidence for v in C.judge(S.CLAIMS, original.claims_input(), "smoke")]


def test_the_study_contract():
    assert S.Params.STUDY == "hessian_training" and S.CLAIMS is HC.CLAIMS
    p = S.Params.resolve("smoke", {"max_epochs": 2})
    assert p.max_epochs == 2 and "device" not in p
    config = with_runtime(S.model_config(p, "hvp"), S.RunOptions(device="cpu", devices=1))
    assert config.device == "cpu"
    # Runtime settings never enter the cache key of a model.
    job = S.train_job(p, S.Dataset(), EF, S.RunOptions(device="cpu"))
    assert S._train.key(**job) == S._train.key(**S.train_job(p, S.Dataset(), EF, S.RunOptions(device="auto",
                                                                                           executor="in-process")))
    assert "options" not in S._train.key_params(**job)
    keyed = S._train.key_params(**job)["config"]
    assert keyed.device == "auto" and keyed.train.progress is False and keyed.train.devices == 1

