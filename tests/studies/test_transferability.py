import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from paperlib.analysis import claims as C
from paperlib.params import resolve
from paperlib.sampling.liquids import SOLVENTS
from paperlib.studies import transferability as study
from paperlib.studies import transferability_analysis as analysis
from paperlib.studies import transferability_claims as claims

ALGS = ("mace", "deepmd")


SCALE = 0.1   # score_force_scale_eV_A of the synthetic records
LONG, SHORT = 10000.0, 200.0


def md_record(alg, origin, liquid, survived, ref_f, duration_fs=LONG, seed=None, md_seed=None):
    r = {"algorithm": alg, "origin": origin, "liquid": liquid, "survived fraction": survived,
         "duration (fs)": duration_fs, "own-trajectory force MAE (eV/Å)": ref_f,
         "reference-MD force MAE (eV/Å)": ref_f, "score": analysis.score(survived, ref_f, SCALE)}
    if seed is not None:
        r.update({claims.SEED: seed, claims.MD_SEED: md_seed})
    return r


def synthetic(runs: dict, test_f: dict, unseen: dict | None = None, seeds: int = 1, md_seeds: int = 1,
              duration_fs: float = LONG, jitter: float = 0.0, n_configurations: int = 0) -> dict:
    """runs: {(alg, origin): (survived, reference-MD force MAE)} on EC; test_f: {(alg, origin): test force MAE};
    unseen: {(alg, origin, liquid): survived}. With ``seeds`` > 1 or ``md_seeds`` > 1 every model is repeated per
    training seed and MD seed (the reference-MD force MAE on EC shifted by ``jitter`` x a standard normal draw);
    ``n_configurations`` test configurations per model with errors scattered around ``test_f``."""
    rng = np.random.default_rng(1)
    replicated = seeds > 1 or md_seeds > 1
    md = []
    for s in range(seeds):
        for m in range(md_seeds):
            kw = dict(duration_fs=duration_fs, seed=s if replicated else None, md_seed=m if replicated else None)
            md += [md_record(a, o, "EC", surv, f + jitter * rng.normal(), **kw) for (a, o), (surv, f) in runs.items()]
            md += [md_record(a, o, liq, surv, 0.2, **kw) for (a, o, liq), surv in (unseen or {}).items()]
    errors = [{"algorithm": a, "origin": o, "set": "test", "force MAE (eV/Å)": f} for (a, o), f in test_f.items()]
    out = {"md": md, "errors": errors, "liquid": "EC"}
    if n_configurations:
        noise = rng.lognormal(0.0, 0.2, size=n_configurations)
        out["configurations"] = [
            {"algorithm": a, "origin": o, "set": "test", "configuration": k,
             "force MAE (eV/Å)": f * noise[k] * rng.lognormal(0.0, 0.05), "force components": 30 + 3 * (k % 4)}
            for (a, o), f in test_f.items() for k in range(n_configurations)]
    return out


PAPER_RUNS = {("mace", "simple"): (1.0, 0.05), ("deepmd", "simple"): (0.2, 0.3),
              ("mace", "corrective"): (1.0, 0.045), ("deepmd", "corrective"): (0.6, 0.2),
              ("mace", "automatic_mace"): (1.0, 0.045), ("deepmd", "automatic_mace"): (0.2, 0.3),
              ("mace", "automatic_deepmd"): (1.0, 0.05), ("deepmd", "automatic_deepmd"): (0.9, 0.15)}
# the first-generation Deep Potential has the lowest test force error of all, yet the lowest MD score
PAPER_TEST = {k: (0.04 if k == ("deepmd", "simple") else 0.05 if k[0] == "mace" else 0.06) for k in PAPER_RUNS}
PAPER_UNSEEN = {(a, o, liq): (1.0 if liq == "PC" else 0.3) for a in ALGS for o in ("simple", "corrective")
                for liq in ("PC", "VC")}
# the opposite: Deep Potential good with the simple set, corrective configurations hurt MACE, the test set ranks
# the models as MD does, and unseen liquids of every kind keep their stability
OPPOSITE_RUNS = {("mace", "simple"): (0.3, 0.3), ("deepmd", "simple"): (1.0, 0.05),
                 ("mace", "corrective"): (0.1, 0.3), ("deepmd", "corrective"): (1.0, 0.05),
                 ("mace", "automatic_mace"): (0.5, 0.3), ("deepmd", "automatic_mace"): (1.0, 0.04),
                 ("mace", "automatic_deepmd"): (0.9, 0.1), ("deepmd", "automatic_deepmd"): (1.0, 0.04)}
OPPOSITE_TEST = {k: 0.3 - 0.25 * analysis.score(*v, SCALE) for k, v in OPPOSITE_RUNS.items()}
# every model runs them, so each of the four Deep Potential models stable on EC adds runs: with the two of them
# alone (18 runs per liquid) the Bonferroni upper bound of the difference of shares just straddles 0
OPPOSITE_UNSEEN = {(a, o, liq): 1.0 for a in ALGS for o in study.ORIGINS for liq in ("PC", "VC")}


def paper_like(**kw) -> dict:
    return synthetic(PAPER_RUNS, PAPER_TEST, PAPER_UNSEEN, **kw)


def opposite(**kw) -> dict:
    return synthetic(OPPOSITE_RUNS, OPPOSITE_TEST, OPPOSITE_UNSEEN, **kw)


POWERED = dict(seeds=3, md_seeds=3, jitter=0.002, n_configurations=30)


def scores_by_seed(results) -> dict:
    """{(alg, origin): [mean score over MD seeds, per training seed]} on EC, computed without the module."""
    out = {}
    for r in results["md"]:
        if r["liquid"] == "EC":
            out.setdefault((r["algorithm"], r["origin"]), {}).setdefault(r.get(claims.SEED, 0), []).append(r["score"])
    return {k: np.array([np.mean(v[s]) for s in sorted(v)]) for k, v in out.items()}


def t_interval(x, confidence=0.95):
    ci = stats.ttest_1samp(x, 0.0).confidence_interval(confidence)
    return float(np.mean(x)), float(ci.low), float(ci.high)


def smallest(parts_at):
    """The combination of margins that must all hold, computed here: ``parts_at(confidence)`` gives each part's
    (value, low, high); value and lower bound are the smallest at 95 %, the upper bound the smallest at the
    Bonferroni confidence 1 - 0.05/K for K parts."""
    first = parts_at(0.95)
    wide = parts_at(1 - 0.05 / len(first))
    return min(p[0] for p in first), min(p[1] for p in first), min(p[2] for p in wide)


def smallest_t(*margins):
    """The combination of per-seed margins, each with its Student t interval of the mean."""
    return smallest(lambda c: [t_interval(m, c) for m in margins])


def evidence(judge, results):
    ev = judge(results)
    return ev, C.verdict_of(ev)


def assert_interval(ev, expected):
    assert (ev.value, ev.ci_low, ev.ci_high) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_mixture_density_is_ideal_mixing_of_specific_volumes():
    rho = study.mixture_density(["EC", "EMC"], [3, 7])
    assert 1 / rho == pytest.approx(0.3 / SOLVENTS["EC"].density_g_cm3 + 0.7 / SOLVENTS["EMC"].density_g_cm3)
    assert study.mixture_density(["PC"], [1.0]) == pytest.approx(SOLVENTS["PC"].density_g_cm3)


# -- simple_sets ----------------------------------------------------------------------------------
def simple_sets_expected(results):
    s = scores_by_seed(results)
    mace, dp, dp_iter = s[("mace", "simple")], s[("deepmd", "simple")], s[("deepmd", "automatic_deepmd")]
    best = np.max([v for k, v in s.items() if k[0] == "mace"], axis=0)
    return smallest_t(mace - best + claims.TOL, mace - claims.WORSE * dp, dp_iter - dp - claims.TOL)


def test_simple_sets_reproduced_with_seed_interval():
    results = paper_like(**POWERED)
    ev, verdict = evidence(claims.judge_simple_sets, results)
    assert verdict == C.REPRODUCED and ev.n == 3 and ev.threshold == 0.0 and ev.powered
    assert_interval(ev, simple_sets_expected(results))


def test_simple_sets_not_reproduced_when_powered():
    results = opposite(**POWERED)
    ev, verdict = evidence(claims.judge_simple_sets, results)
    assert verdict == C.NOT_REPRODUCED and ev.powered and ev.ci_high < 0
    assert_interval(ev, simple_sets_expected(results))


def test_simple_sets_inconclusive_with_one_seed_or_short_runs():
    ev, verdict = evidence(claims.judge_simple_sets, paper_like())
    assert verdict == C.INCONCLUSIVE and ev.n == 1 and not ev.powered and np.isnan(ev.ci_low)
    s = {k: v[0] for k, v in scores_by_seed(paper_like()).items()}
    best = max(v for k, v in s.items() if k[0] == "mace")
    assert ev.value == pytest.approx(min(s[("mace", "simple")] - best + claims.TOL,
                                         s[("mace", "simple")] - claims.WORSE * s[("deepmd", "simple")],
                                         s[("deepmd", "automatic_deepmd")] - s[("deepmd", "simple")] - claims.TOL))
    # an interval below the threshold from runs shorter than the budget is not a negative
    ev, verdict = evidence(claims.judge_simple_sets, opposite(**{**POWERED, "duration_fs": SHORT}))
    assert ev.ci_high < 0 and not ev.powered and verdict == C.INCONCLUSIVE
    # two MD seeds per model miss the budget too
    ev, verdict = evidence(claims.judge_simple_sets, opposite(**{**POWERED, "md_seeds": 2}))
    assert ev.ci_high < 0 and not ev.powered and verdict == C.INCONCLUSIVE


def test_simple_sets_absent_without_the_iterated_deep_potential():
    runs = {k: v for k, v in PAPER_RUNS.items() if k != ("deepmd", "automatic_deepmd")}
    assert claims.judge_simple_sets(synthetic(runs, PAPER_TEST)) is None


# -- corrective_transfer --------------------------------------------------------------------------
def corrective_expected(results):
    s = scores_by_seed(results)
    gain = np.min([s[(a, "corrective")] - s[(a, "simple")] for a in ALGS], axis=0)
    other = {"mace": "deepmd", "deepmd": "mace"}
    foreign = np.max([s[(a, "corrective")] - s[(a, "automatic_" + other[a])] for a in ALGS], axis=0)
    return smallest_t(gain + claims.TOL, foreign - claims.TOL)


def test_corrective_reproduced_with_seed_interval():
    results = paper_like(**POWERED)
    ev, verdict = evidence(claims.judge_corrective, results)
    assert verdict == C.REPRODUCED and ev.n == 3
    assert_interval(ev, corrective_expected(results))


def test_corrective_not_reproduced_when_powered():
    results = opposite(**POWERED)
    ev, verdict = evidence(claims.judge_corrective, results)
    assert verdict == C.NOT_REPRODUCED and ev.ci_high < 0
    assert_interval(ev, corrective_expected(results))


def test_corrective_inconclusive_with_one_seed_and_when_nothing_separates_the_models():
    ev, verdict = evidence(claims.judge_corrective, paper_like())
    assert verdict == C.INCONCLUSIVE and ev.n == 1 and np.isnan(ev.ci_high)
    # every model alike, one seed: the margin is -TOL, but n = 1 decides nothing
    runs = {(a, o): (0.1, 0.5) for a in ALGS for o in study.ORIGINS}
    ev, verdict = evidence(claims.judge_corrective, synthetic(runs, {k: 0.5 for k in runs}))
    assert ev.value == pytest.approx(-claims.TOL) and verdict == C.INCONCLUSIVE


def test_corrective_absent_with_one_algorithm():
    runs = {k: v for k, v in PAPER_RUNS.items() if k[0] == "mace"}
    assert claims.judge_corrective(synthetic(runs, PAPER_TEST)) is None


# -- md_stringent ---------------------------------------------------------------------------------
def md_stringent_value(results):
    """The statistic computed without the module: pairs from the mean MD score, log ratio of summed errors."""
    s = {k: v.mean() for k, v in scores_by_seed(results).items()}
    err = {}
    for r in results["configurations"]:
        err.setdefault((r["algorithm"], r["origin"]), 0.0)
        err[(r["algorithm"], r["origin"])] += r["force MAE (eV/Å)"] * r["force components"]
    return max(np.log(err[b] / err[a]) for a in s for b in s if s[b] - s[a] >= claims.TOL)


def test_md_stringent_reproduced_by_a_model_the_test_set_prefers_but_md_does_not():
    results = paper_like(**POWERED)
    ev, verdict = evidence(claims.judge_md_stringent, results)
    assert verdict == C.REPRODUCED and ev.n == 30 and ev.threshold == pytest.approx(-np.log(claims.LOWER))
    assert ev.value == pytest.approx(md_stringent_value(results))
    assert ev.ci_low <= ev.value <= ev.ci_high and "paired bootstrap" in ev.method
    # one training seed (three MD runs per model): one fit per (algorithm, set) picks the pairs, so no interval
    ev, verdict = evidence(claims.judge_md_stringent, paper_like(n_configurations=30, md_seeds=3))
    assert np.isnan(ev.ci_low) and verdict == C.INCONCLUSIVE and "1 training seed(s)" in ev.method
    # one MD run per model: the pairs are chosen by unreplicated MD scores, so there is no interval
    ev, verdict = evidence(claims.judge_md_stringent, paper_like(n_configurations=30))
    assert np.isnan(ev.ci_low) and verdict == C.INCONCLUSIVE and "1 MD run(s) per model" in ev.method


def test_md_stringent_not_reproduced_when_test_set_and_md_agree():
    results = opposite(**POWERED)
    ev, verdict = evidence(claims.judge_md_stringent, results)
    assert verdict == C.NOT_REPRODUCED and ev.powered and ev.ci_high < ev.threshold
    assert ev.value == pytest.approx(md_stringent_value(results))


def test_md_stringent_inconclusive_unpowered_few_configurations_or_no_md_contrast():
    ev, verdict = evidence(claims.judge_md_stringent, opposite(n_configurations=30, md_seeds=3, seeds=3,
                                                               duration_fs=SHORT))
    assert ev.ci_high < ev.threshold and not ev.powered and verdict == C.INCONCLUSIVE
    ev, verdict = evidence(claims.judge_md_stringent, paper_like(n_configurations=claims.MIN_CONFIGURATIONS - 1))
    assert np.isnan(ev.ci_low) and verdict == C.INCONCLUSIVE
    assert ev.value == pytest.approx(md_stringent_value(paper_like(n_configurations=claims.MIN_CONFIGURATIONS - 1)))
    runs = {(a, o): (0.1, 0.5) for a in ALGS for o in study.ORIGINS}
    ev, verdict = evidence(claims.judge_md_stringent, synthetic(runs, {k: 0.5 for k in runs}, n_configurations=30))
    assert np.isnan(ev.value) and verdict == C.INCONCLUSIVE


def test_md_stringent_absent_without_per_configuration_errors():
    assert claims.judge_md_stringent(paper_like()) is None


# -- unseen_molecules -----------------------------------------------------------------------------
def unseen_expected(ks, ns, kf, nf):
    """Clopper-Pearson and Newcombe (from Wilson intervals) computed here from scipy."""
    lost = claims.LOST

    def parts(confidence):
        cp = stats.binomtest(ks, ns).proportion_ci(confidence, method="exact")
        w1 = stats.binomtest(ks, ns).proportion_ci(confidence, method="wilson")
        w2 = stats.binomtest(kf, nf).proportion_ci(confidence, method="wilson")
        p1, p2 = ks / ns, kf / nf
        d = p1 - p2
        newcombe = (d, d - np.hypot(p1 - w1.low, w2.high - p2), d + np.hypot(w1.high - p1, p2 - w2.low))
        return [(p1 - (1 - lost), cp.low - (1 - lost), cp.high - (1 - lost)), tuple(x - lost for x in newcombe)]

    return smallest(parts)


def test_unseen_reproduced_when_shape_runs_complete_and_functional_ones_fail():
    ev, verdict = evidence(claims.judge_unseen, paper_like(**POWERED))
    n = 2 * 9            # models stable on EC (MACE simple, corrective) x training seeds x MD seeds, per liquid
    assert verdict == C.REPRODUCED and ev.n == n and ev.powered
    assert_interval(ev, unseen_expected(n, n, 0, n))


def test_unseen_not_reproduced_when_functional_change_keeps_stability():
    ev, verdict = evidence(claims.judge_unseen, opposite(**POWERED))
    n = 4 * 9                                   # only the Deep Potential models complete the training liquid
    assert verdict == C.NOT_REPRODUCED and ev.n == n
    assert_interval(ev, unseen_expected(n, n, n, n))


def test_unseen_inconclusive_at_one_seed_and_short_runs():
    ev, verdict = evidence(claims.judge_unseen, paper_like())
    assert verdict == C.INCONCLUSIVE and ev.n == 2
    assert_interval(ev, unseen_expected(2, 2, 0, 2))
    ev, verdict = evidence(claims.judge_unseen, opposite(**{**POWERED, "duration_fs": SHORT}))
    assert ev.ci_high < 0 and not ev.powered and verdict == C.INCONCLUSIVE
    # no model survives the training liquid: nothing to judge
    runs = {(a, o): (0.1, 0.5) for a in ALGS for o in study.ORIGINS}
    unseen = {(a, "simple", liq): 1.0 for a in ALGS for liq in ("PC", "VC")}
    ev, verdict = evidence(claims.judge_unseen, synthetic(runs, {k: 0.5 for k in runs}, unseen))
    assert ev.n == 0 and verdict == C.INCONCLUSIVE


def test_unseen_absent_without_unseen_runs():
    assert claims.judge_unseen(synthetic(PAPER_RUNS, PAPER_TEST)) is None


# -- all claims together --------------------------------------------------------------------------
def test_judge_writes_evidence_that_decides_each_verdict():
    for results, expected in ((paper_like(**POWERED), C.REPRODUCED), (opposite(**POWERED), C.NOT_REPRODUCED)):
        verdicts = C.judge(claims.CLAIMS, results, "default")
        assert {v.key: v.verdict for v in verdicts} == {c.key: expected for c in claims.CLAIMS}
        for v in verdicts:
            assert C.rule_problems(dataclasses.asdict(v)) == []
    verdicts = C.judge(claims.CLAIMS, paper_like(), "smoke")
    assert {v.verdict for v in verdicts} == {C.INCONCLUSIVE}
    assert [v.evidence is None for v in verdicts] == [False, False, True, False]


def test_figures_keep_their_keys_and_average_over_seeds():
    one, many = claims.figures(paper_like()), claims.figures(paper_like(**POWERED))
    assert set(one) == set(many) == {f"score {a} {o}" for a, o in PAPER_RUNS} | {
        f"test force MAE {a} {o} (eV/A)" for a, o in PAPER_RUNS}
    assert one["score mace simple"] == pytest.approx(analysis.score(1.0, 0.05, SCALE))
    per_seed = scores_by_seed(paper_like(**POWERED))[("mace", "simple")]
    assert many["score mace simple"] == pytest.approx(np.mean(per_seed))


def test_foundation_model_file_is_evaluated_like_the_trained_models(tmp_path):
    """A small MACE model file stands in for a foundation model: its test-set predictions are the model's own,
    and it runs the same MD of the training liquid."""
    from paperlib.cache import Cache
    from paperlib.models.base import Targets
    from paperlib.models.mace import MACEConfig, MACEPotential

    p = resolve("transferability", "smoke")
    cache = Cache(tmp_path / "cache")
    sets = study.reference_sets(p, cache)
    model = MACEPotential(MACEConfig(hidden_irreps="8x0e", max_L=0, correlation=1, num_interactions=1,
                                     r_max_A=3.5, max_epochs=1, batch_size=4))
    model.fit(sets["simple"], None, targets=Targets(1.0, 10.0))
    model.save(tmp_path / "model")
    p = resolve("transferability", "smoke", {"foundation_model": str(tmp_path / "model" / "model.model"),
                                             "foundation_models": [], "foundation_md": True})
    evaluate = study.evaluation_sets(sets)
    ((fitted, runs),) = study.foundation(p, cache, evaluate)
    assert len(runs) == p.md_seeds and [r.md_seed for r in runs] == list(range(p.md_seeds))
    run = runs[0]
    assert fitted.origin == study.FOUNDATION and run.origin == study.FOUNDATION
    assert set(fitted.predictions) == set(evaluate)
    np.testing.assert_allclose(fitted.predictions["test"]["energies"], model.predict(list(sets["test"])).energies,
                               rtol=1e-12)
    assert run.summary["duration_fs"] == p.md_steps * p.timestep_fs and len(run.own) == p.own_frames
    errors = analysis.fixed_errors([fitted], evaluate)
    assert set(errors["set"]) == set(evaluate) and (errors["force MAE (eV/Å)"] > 0).all()
    assert study.foundation(resolve("transferability", "smoke", {"foundation_models": []}), cache, evaluate) == []
    assert study.foundation_versions([fitted]) == ["mace: MACE model file"]


# -- the study contract ---------------------------------------------------------------------------
def synthetic_results(**kw) -> study.Results:
    """A Results built from the synthetic records (no training), with every table the chapter shows."""
    raw = paper_like(**kw)
    rng = np.random.default_rng(3)
    r = np.linspace(0.1, 6.0, 8)
    return study.Results(
        set_summary=pd.DataFrame([{"set": "simple", "kind": "cluster", "configurations": 4, "mean atoms": 30.0,
                                   "energy spread (eV/atom)": 0.01}]),
        energies=pd.DataFrame({"set": ["simple"] * 3, study.ENERGY_COLUMN: rng.normal(size=3)}),
        training_sets=pd.DataFrame([{"origin": o, "configurations": 4, "atoms": 120} for o in study.ORIGINS]),
        fit_times=pd.DataFrame([{"algorithm": a, "origin": o, "fit (s)": 1.5} for a, o in PAPER_RUNS]),
        foundation=[], errors=pd.DataFrame(raw["errors"]),
        configurations=pd.DataFrame(raw.get("configurations", [])), md=pd.DataFrame(raw["md"]),
        liquid=raw["liquid"], gains=claims.gains(raw), unseen=claims.unseen_table(raw),
        density_traces=pd.DataFrame([{"model": "MACE / simple", "liquid": "EC", "time (fs)": 5.0,
                                      "density / experiment": 0.98}]),
        rdfs={"MACE / simple": {"O-H": np.vstack([r, rng.random(8)]), "C-O": np.vstack([r, rng.random(8)])}},
        sel=pd.DataFrame([{"element": "C", "sel": 40, "most in MD": 31, "dropped": False}]),
        deficiencies=pd.DataFrame([{"kind": "contact", "pair": "H-O", "model_A": 1.4, "reference_A": 1.9,
                                    "ratio": np.nan, "runs": 2, "severity": 0.26}]),
        sensitivity=analysis.score_sensitivity(raw), reference_md_failures=[])


def test_results_round_trip_through_json_keeps_figures_and_verdicts():
    import json

    for kw in ({}, POWERED):
        original = synthetic_results(**kw)
        back = study.Results.from_json(json.loads(json.dumps(original.to_json())))
        assert study.figures(back) == study.figures(original)
        assert study.figures(original) == {**claims.figures(paper_like(**kw)), "deepmd/sel_dropped_elements": 0.0}
        for name in ("errors", "md", "configurations", "gains", "unseen", "training_sets"):
            pd.testing.assert_frame_equal(getattr(back, name), getattr(original, name), check_dtype=False,
                                          check_column_type=False, check_index_type=False)
        np.testing.assert_array_equal(back.rdfs["MACE / simple"]["O-H"], original.rdfs["MACE / simple"]["O-H"])
        verdicts = [C.judge(study.CLAIMS, r.claims_input(), "default") for r in (original, back)]
        assert [(v.key, v.verdict, v.evidence) for v in verdicts[0]] == \
            [(v.key, v.verdict, v.evidence) for v in verdicts[1]]


def test_params_resolve_and_pickle_for_the_executor():
    import pickle

    import cloudpickle

    p = study.Params.resolve("smoke", {"md_steps": 30})
    assert isinstance(p, study.Params) and p.md_steps == 30 and p.study == "transferability"
    back = pickle.loads(cloudpickle.dumps(p))
    assert back.to_dict() == p.to_dict() and back.overrides == {"md_steps": 30} and back.profile == "smoke"
    assert "device" not in p.to_dict()


def test_seed_streams_are_named_and_distinct():
    p = study.Params.resolve("smoke")
    seeds = [study.seed_of(p, s) for s in ("corrective", "test", "automatic")]
    seeds += [study.seed_of(p, "periodic", k) for k in range(3)] + list(study.md_seeds(p))
    seeds += [s for name in p.unseen for s in study.md_seeds(p, name)] + [study.seed_of(p, f"test {n}")
                                                                          for n in p.unseen]
    seeds += [study.training_seed(p, k).seed for k in range(1, 3)] + [study.seed_of(p, "reference_md")]
    seeds += [study.seed_of(p, "harvest")]
    assert len(set(seeds)) == len(seeds) and p.md_seeds == 2
    assert study.md_seeds(p) == study.md_seeds(study.Params.resolve("smoke", {"unseen": ["VC"]}))
    assert study.training_seed(p, 0) is p


def test_score_sensitivity_reproduces_the_verdicts_at_the_profile_scale_and_moves_with_it():
    """At the profile's force scale the recomputed verdicts are the claims' own; the scale changes the scores,
    so at a scale much smaller than every model's error the score differences shrink to the survival alone."""
    raw = paper_like(**POWERED)
    table = analysis.score_sensitivity(raw, (SCALE, 100.0))
    judged = {v.key: v for v in C.judge(study.CLAIMS, raw, "default")}
    at_scale = table[table["F0 (eV/Å)"] == SCALE].set_index("claim")
    assert set(at_scale.index) == set(claims.SCORED)
    for key, row in at_scale.iterrows():
        assert row[analysis.SENSITIVITY_VERDICT] == judged[key].verdict
        assert row.value == pytest.approx(judged[key].evidence["value"], nan_ok=True)
    # with F0 = 100 eV/A the force term vanishes: MACE and the first Deep Potential differ only by survival
    big = table[table["F0 (eV/Å)"] == 100.0].set_index("claim")
    assert not np.isclose(big.loc["simple_sets", "value"], at_scale.loc["simple_sets", "value"])
