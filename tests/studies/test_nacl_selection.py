"""The NaCl data-selection study: its claims judged on synthetic results (no training, no MD), its data
design (test set, positive control), its MD checks, and the positive control at the smoke profile."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from paperlib import keys
from paperlib.analysis import claims as C
from paperlib.analysis.intervals import crossed_bootstrap_interval, proportion_difference_interval
from paperlib.data.dataset import Dataset
from paperlib.studies import nacl_selection as study
from paperlib.studies import nacl_selection_claims as nc
from paperlib.studies.nacl_selection_claims import CLAIMS, judge_force_errors, judge_rdf

SEED_NOISE = (0.00, 0.03, -0.02, 0.05, -0.04, 0.01, -0.03)
GOOD_ERRORS = {"uniform_atomic_energy": 0.10, "uniform_force": 0.11, "uniform_energy": 0.20, "random": 0.21,
               "single_md_random": 0.5}


def config_errors(rmse: dict, n: int = 5, n_configs: int = 20, models=("schnet_small",), seed_noise=SEED_NOISE,
                  components: int = 300) -> pd.DataFrame:
    """Per-configuration errors: method m, replicate r, configuration c has RMSE
    rmse[m] * exp(seed_noise[r]) * c_scale[c] (the seed noise on the bad methods only), Max 5x its RMSE."""
    scale = np.exp(np.random.default_rng(0).normal(0, 0.2, n_configs))
    rows = []
    for model in models:
        for method, value in rmse.items():
            for r in range(n):
                for c in range(n_configs):
                    v = value * (math.exp(seed_noise[r]) if method in nc.BAD else 1.0) * scale[c]
                    rows.append({"model": model, "method": method, "replicate": r, "config": c,
                                 "sse": v * v * components, "n": components, "max_abs": 5 * v})
    return pd.DataFrame(rows)


def force_results(*args, **kw) -> dict:
    return {"config_errors": config_errors(*args, **kw).to_dict("records")}


def test_force_claim_reproduced_with_the_weakest_comparison():
    ev = judge_force_errors(force_results(GOOD_ERRORS))
    # The per-configuration scale is common to all methods and the seed noise enters the bad methods only, so
    # over all replicates the Max metric's ratio is (bad / good) x mean(exp(noise)) and the RMSE's
    # (bad / good) x sqrt(mean(exp(2 noise))), the larger by Jensen: the weakest comparison is the Max of uniform
    # force (0.11) against uniform global energy (0.20).
    noise = np.array(SEED_NOISE[:5])
    assert ev.value == pytest.approx(np.log(0.20 / 0.11) + np.log(np.mean(np.exp(noise))), rel=1e-12)
    assert np.log(nc.MIN_ERROR_RATIO) < ev.ci_low < ev.value < ev.ci_high
    assert ev.threshold == pytest.approx(np.log(1.05)) and ev.n == 5 and ev.powered
    assert ev.context.startswith("Weakest comparison: schnet_small mean per-configuration Max force error, "
                                 "uniform global energy / uniform force")
    assert C.verdict_of(ev) == C.REPRODUCED


def test_force_claim_interval_is_the_two_way_bootstrap_of_the_weakest_comparison():
    """The lower bound is the smallest 95 % lower bound over the comparisons; for the weakest one it is the
    two-way (seeds x configurations) bootstrap of its log RMSE ratio, computed here from the table."""
    df = config_errors(GOOD_ERRORS)
    ev = judge_force_errors({"config_errors": df.to_dict("records")})

    def table(method):
        sub = df[df.method == method]
        return sub.pivot(index="replicate", columns="config", values="sse").to_numpy()

    good, bad = table("uniform_force"), table("uniform_energy")

    def log_ratio(r, c):
        return np.log(np.sqrt(bad[np.ix_(r, c)].sum() / good[np.ix_(r, c)].sum()))

    direct = crossed_bootstrap_interval(log_ratio, 5, 20)
    assert ev.ci_low <= direct.low + 1e-12


def test_force_claim_not_reproduced_when_global_energy_selection_wins():
    reversed_ = {"uniform_atomic_energy": 0.30, "uniform_force": 0.31, "uniform_energy": 0.20, "random": 0.21}
    ev = judge_force_errors(force_results(reversed_))
    assert ev.ci_high < 0 and ev.powered
    assert C.verdict_of(ev) == C.NOT_REPRODUCED


def test_force_claim_negative_needs_five_replicates():
    reversed_ = {"uniform_atomic_energy": 0.30, "uniform_force": 0.31, "uniform_energy": 0.20, "random": 0.21}
    ev = judge_force_errors(force_results(reversed_, n=4))
    assert ev.n == 4 and not ev.powered and ev.ci_high < 0
    assert C.verdict_of(ev) == C.INCONCLUSIVE


def test_force_claim_refuted_when_the_methods_are_equal_within_the_margin():
    """Methods whose errors differ by 0.5 %: the interval lies below the 5 % threshold, so with five replicates
    the claim is not reproduced (a margin makes a null result decidable)."""
    equal = {"uniform_atomic_energy": 0.200, "uniform_force": 0.201, "uniform_energy": 0.201, "random": 0.202}
    ev = judge_force_errors(force_results(equal))
    assert ev.ci_high < np.log(1.05) and ev.powered
    assert C.verdict_of(ev) == C.NOT_REPRODUCED


def test_force_claim_inconclusive_when_the_interval_straddles_the_threshold():
    near = {"uniform_atomic_energy": 0.200, "uniform_force": 0.200, "uniform_energy": 0.210, "random": 0.211}
    ev = judge_force_errors(force_results(near, seed_noise=(0.00, 0.06, -0.05, 0.08, -0.07)))
    assert ev.ci_low < np.log(1.05) < ev.ci_high and ev.powered
    assert C.verdict_of(ev) == C.INCONCLUSIVE


def test_force_claim_max_metric_can_decide():
    """A second model whose Max error is worse for uniform force than for random decides the claim, although
    its RMSEs favour the per-atom methods."""
    df = config_errors(GOOD_ERRORS, models=("schnet_small", "gap"))
    worse = (df.model == "gap") & (df.method == "uniform_force")
    df.loc[worse, "max_abs"] *= 3.0
    ev = judge_force_errors({"config_errors": df.to_dict("records")})
    assert "gap mean per-configuration Max force error" in ev.context.split(";")[0]
    assert ev.ci_high < 0 and C.verdict_of(ev) == C.NOT_REPRODUCED


def test_force_claim_pairs_by_replicate():
    """Errors that vary a lot between replicates but identically for every method: pairing by replicate (the
    shared training seed) removes the replicate scale, and the claim is decided."""
    df = config_errors(GOOD_ERRORS, seed_noise=(0,) * 7)
    scale = df.replicate.map(dict(enumerate([1.0, 3.0, 0.5, 2.0, 1.5])))
    df["sse"] *= scale ** 2
    df["max_abs"] *= scale
    # A small paired spread on the bad methods (a comparison without any gives no interval).
    for method, spread in (("random", 0.02), ("uniform_energy", 0.01)):
        own = df.method == method
        df.loc[own, "sse"] *= 1.0 + spread * (-1.0) ** df.replicate[own]
        df.loc[own, "max_abs"] *= 1.0 + spread * (-1.0) ** df.replicate[own]
    ev = judge_force_errors({"config_errors": df.to_dict("records")})
    assert ev.ci_low > 0.3 and C.verdict_of(ev) == C.REPRODUCED


def test_force_claim_one_replicate_is_inconclusive_and_absent_methods_give_none():
    ev = judge_force_errors(force_results(GOOD_ERRORS, n=1))
    assert ev.n == 1 and math.isnan(ev.ci_low) and C.verdict_of(ev) == C.INCONCLUSIVE
    assert judge_force_errors(force_results({"random": 0.2, "uniform_energy": 0.2})) is None
    assert judge_force_errors({"config_errors": []}) is None


def md_runs(flags: dict, replicas: int = 3, ion_ps_per_run: float = 216 * 60.0, method_of=None) -> list[dict]:
    """ML MD runs: flags[method] is a list over models of lists over replicas of (contact, collapsed)."""
    rows = []
    for method, models in flags.items():
        for r, runs in enumerate(models):
            for k, (contact, collapsed) in enumerate(runs):
                rows.append({"model": "schnet_small", "method": method, "replicate": r, "replica": k,
                             "contact": contact, "collapsed": collapsed, "collapse_pair": "Na-Na" if collapsed else "",
                             "rdf_core": False, "ion_ps": ion_ps_per_run})
    return rows


CLEAN = [(False, False)] * 3
FLAGGED = [(True, False), (False, False), (False, True)]


def md_results(energy, atomic, control=(FLAGGED,) * 2, ion_ps_per_run=216 * 60.0):
    return {"md": md_runs({"uniform_energy": energy, "uniform_atomic_energy": atomic}, ion_ps_per_run=ion_ps_per_run),
            "control": md_runs({study.CONTROL: list(control)})}


def test_rdf_claim_reproduced_with_the_newcombe_interval_over_models():
    ev = judge_rdf(md_results([FLAGGED] * 5, [CLEAN] * 5))
    iv = proportion_difference_interval(5, 5, 0, 5)
    assert ev.value == pytest.approx(1.0) and (ev.ci_low, ev.ci_high) == pytest.approx((iv.low, iv.high))
    assert ev.n == 5 and ev.threshold == nc.MIN_FLAGGED_DIFFERENCE
    assert C.verdict_of(ev) == C.REPRODUCED


def test_a_model_is_flagged_when_any_of_its_replicas_is():
    one_bad_replica = [(False, False), (False, False), (True, False)]
    models = nc.model_flags(pd.DataFrame(md_runs({"uniform_energy": [one_bad_replica, CLEAN]})))
    assert models.flagged.tolist() == [True, False] and models.runs.tolist() == [3, 3]


def test_only_like_ion_collapses_count():
    runs = pd.DataFrame(md_runs({"uniform_energy": [[(False, True)] * 3]}))
    assert nc.run_flags(runs).all()
    runs["collapse_pair"] = ["Cl-Na", "", "Cl-Cl"]   # an unlike pair, a force blow-up, a like pair
    assert nc.run_flags(runs).tolist() == [False, False, True]


def test_rdf_claim_newcombe_by_hand():
    def wilson(k, n, z=stats.norm.ppf(0.975)):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return centre - half, centre + half

    ev = judge_rdf(md_results([FLAGGED] * 6 + [CLEAN] * 2, [FLAGGED] + [CLEAN] * 7))
    (l1, u1), (l2, u2) = wilson(6, 8), wilson(1, 8)
    d = 6 / 8 - 1 / 8
    assert ev.ci_low == pytest.approx(d - math.hypot(6 / 8 - l1, u2 - 1 / 8))
    assert ev.ci_high == pytest.approx(d + math.hypot(u1 - 6 / 8, 1 / 8 - l2))


def test_rdf_claim_not_reproduced_only_with_the_budget_and_a_flagged_positive_control():
    # 10 models x 3 runs x 216 ions x 60 ps = 388,800 ion-ps per method, above the budget.
    powered = md_results([CLEAN] * 10, [FLAGGED] * 10)
    ev = judge_rdf(powered)
    assert ev.ci_high < 0 and ev.powered and C.verdict_of(ev) == C.NOT_REPRODUCED
    short = md_results([CLEAN] * 10, [FLAGGED] * 10, ion_ps_per_run=nc.MIN_ION_PS / 31)
    assert not judge_rdf(short).powered and C.verdict_of(judge_rdf(short)) == C.INCONCLUSIVE
    blind = md_results([CLEAN] * 10, [FLAGGED] * 10, control=(CLEAN, CLEAN))
    ev = judge_rdf(blind)
    assert not ev.powered and "positive control flagged in 0.00" in ev.context
    assert C.verdict_of(ev) == C.INCONCLUSIVE


def test_rdf_claim_inconclusive_when_the_interval_straddles_zero_and_absent_runs_give_none():
    ev = judge_rdf(md_results([FLAGGED, FLAGGED, CLEAN, CLEAN], [FLAGGED, CLEAN, CLEAN, CLEAN]))
    assert ev.value == pytest.approx(0.25) and ev.ci_low < 0.2 < ev.ci_high and ev.threshold == 0.2
    assert C.verdict_of(ev) == C.INCONCLUSIVE
    assert judge_rdf({"md": [], "control": []}) is None
    assert judge_rdf({"md": md_runs({"uniform_energy": [CLEAN]}), "control": []}) is None


def test_test_set_is_random_and_stratified_by_state_point():
    p = study.Params.resolve("smoke", {"n_test": 8})
    frames = []
    from ase import Atoms

    for t in p.temperatures_K:
        for k in range(10):
            a = Atoms("NaCl", positions=[[0, 0, 0], [2.8, 0, 0]], cell=[10, 10, 10], pbc=True)
            a.info[keys.TEMPERATURE], a.info[keys.PRESSURE], a.info["k"] = t, 1.0, k
            frames.append(a)
    test = study.test_set(p, Dataset(frames))
    temps = test.info(keys.TEMPERATURE)
    assert len(test) == 8 and all(np.sum(temps == t) == 4 for t in p.temperatures_K)
    assert len({(a.info[keys.TEMPERATURE], a.info["k"]) for a in test}) == 8


def test_positive_control_covers_every_state_point_without_close_like_ion_contacts():
    from ase import Atoms

    p = study.Params.resolve("smoke", {"control_models": 3})
    frames = []
    for t in p.temperatures_K:
        for _ in range(p.frames_per_state):
            a = Atoms("NaCl", positions=[[0, 0, 0], [2.8, 0, 0]], cell=[10, 10, 10], pbc=True)
            a.info[keys.TEMPERATURE], a.info[keys.PRESSURE] = t, 1.0
            frames.append(a)
    pool = Dataset(frames)
    rng = np.random.default_rng(0)
    n = len(frames)
    # The hotter state point has closer contacts throughout: a control ranked over the whole pool would skip it.
    hot = np.repeat([0.0, -0.5], p.frames_per_state)
    contacts = pd.DataFrame({"Na-Na": rng.normal(3.0, 0.2, n) + hot, "Na-Cl": rng.normal(2.6, 0.1, n),
                             "Cl-Cl": rng.normal(3.3, 0.2, n) + hot})
    controls = study.control_selections(p, pool, contacts)
    assert list(controls) == [(study.CONTROL, r) for r in range(3)]
    quota = p.n_train // 2
    for idx in controls.values():
        assert len(idx) == p.n_train
        for k in range(2):
            state = np.arange(k * p.frames_per_state, (k + 1) * p.frames_per_state)
            local = contacts.iloc[state]
            score = np.minimum(local["Na-Na"] - local["Na-Na"].median(), local["Cl-Cl"] - local["Cl-Cl"].median())
            allowed = set(state[np.argsort(-score.to_numpy())[:2 * quota]])
            mine = [i for i in idx if i in set(state)]
            assert len(mine) == quota and set(mine) <= allowed
    assert len({tuple(v) for v in controls.values()}) > 1   # replicates draw their own sets


def test_md_summary_detects_contacts_and_collapses_and_records_ion_ps():
    from ase.build import bulk

    ref = Dataset([bulk("NaCl", "rocksalt", a=5.6, cubic=True).repeat(2) for _ in range(3)])
    thresholds = study.contact_thresholds(ref, 0.3)
    assert thresholds["Na-Na"] == pytest.approx(5.6 / np.sqrt(2) - 0.3)
    # Samples 1-3 of four hold one Na-Na pair 2.2 A apart.
    na = [i for i, s in enumerate(ref[0].get_chemical_symbols()) if s == "Na"]
    close = [ref[0].copy() for _ in range(4)]
    for a in close[1:]:
        a.positions[na[1]] = a.positions[na[0]] + [2.2, 0, 0]
    runs = {("schnet_small", "random", 0, 0): (ref, {"failure": None, "steps_done": 500, "time_to_failure_fs": None}),
            ("schnet_small", "uniform_energy", 0, 0): (Dataset(close), {"failure": None, "steps_done": 500,
                                                                         "time_to_failure_fs": None}),
            ("schnet_small", "uniform_energy", 0, 1): (Dataset(), {"failure": "Na-Na 0.80 A apart (< 1 A)", "steps_done": 40,
                                                                  "time_to_failure_fs": 80.0})}
    table, _, _ = study.md_summary(ref, runs, timestep_fs=2.0, every=10, thresholds=thresholds, consecutive=3)
    assert table.contact.tolist() == [False, True, False]
    assert table.collapsed.tolist() == [False, False, True]
    assert table.collapse_pair.tolist() == ["", "", "Na-Na"]
    # The contact starts at sample 1, taken after (1 + 1) x 10 steps of 2 fs.
    assert table.contact_ps[1] == pytest.approx(0.04)
    assert table.ion_ps.tolist() == pytest.approx([64 * 1.0, 64 * 1.0, 64 * 0.08])
    assert nc.run_flags(table).tolist() == [False, True, True]


def synthetic_results() -> study.Results:
    """A small Results as run() builds it, without training or MD."""
    rng = np.random.default_rng(3)
    cfg = config_errors(GOOD_ERRORS, n=3, n_configs=12, models=("schnet_small", "gap"))
    cfg["T"], cfg["P"] = 1200.0, 1.0
    errs = (cfg.groupby(["model", "method", "replicate"]).apply(lambda g: np.sqrt(g.sse.sum() / g.n.sum()))
            .rename("force_rmse").reset_index())
    errs["fit_s"] = rng.uniform(1, 2, len(errs))
    md = pd.DataFrame(md_runs({"uniform_energy": [FLAGGED, CLEAN], "uniform_atomic_energy": [CLEAN, CLEAN]}))
    control = pd.DataFrame(md_runs({study.CONTROL: [FLAGGED]}))
    r = np.linspace(0.05, 5.95, 60)
    rdf = {pair: np.vstack([r, rng.uniform(0, 2, r.size)]) for pair in ("Na-Na", "Na-Cl", "Cl-Cl")}
    states = pd.DataFrame({study.STATE_T: [1200.0, 2000.0], study.STATE_P: [1.0, 1.0], "frames": [12, 12],
                           "density": [1.6, 1.4], "energy_per_atom": [-3.3, -3.1]})
    probe = pd.DataFrame({"model": ["reference", "schnet_small"], "method": ["reference", "random"],
                          "replicate": [0, 0], "pair": ["Na-Na"] * 2, "frame": [0, 0], "distance_A": [2.0, 2.0],
                          "dE": [3.0, -0.5]})
    return study.Results(
        states=states, distributions={m: {col: rng.normal(size=5) for col in study.PROPERTIES} for m in GOOD_ERRORS},
        selection_states=pd.DataFrame({study.STATE_T: [1200.0], study.STATE_P: [1.0], "share": [1.0],
                                       "method": ["random"]}),
        selection_contacts=pd.DataFrame({"Na-Na": [3.1], "Na-Cl": [2.7], "Cl-Cl": [3.4], "method": ["random"]}),
        errors=errs, config_errors=cfg, probe=probe, md_density_g_cm3=1.55,
        contact_thresholds={"Na-Na": 2.5, "Cl-Cl": 2.8},
        negative_control={"contact_fired": False, "closest_A": {"Na-Na": 2.7, "Cl-Cl": 2.9}}, md=md, control=control, reference_rdf=rdf,
        model_rdfs={study.run_key("schnet_small", "random", 0, 1): rdf})


def test_results_round_trip_through_json():
    original = synthetic_results()
    back = study.Results.from_json(json.loads(json.dumps(original.to_json())))
    for name in ("errors", "config_errors", "md", "control", "states", "probe", "selection_states"):
        pd.testing.assert_frame_equal(getattr(back, name), getattr(original, name))
    np.testing.assert_array_equal(back.reference_rdf["Na-Cl"], original.reference_rdf["Na-Cl"])
    assert study.parse_run_key(next(iter(back.model_rdfs))) == ("schnet_small", "random", 0, 1)
    assert study.figures(back) == study.figures(original)
    fig = study.figures(original)
    assert fig["schnet_small/uniform_energy/md_flagged_model_fraction"] == pytest.approx(0.5)
    assert fig["positive_control/flagged_fraction"] == pytest.approx(2 / 3)
    assert fig["negative_control/contact_fired"] == 0.0
    assert study.probe_summary(original.probe).well_share.tolist() == [1.0]
    verdicts = [C.verdict_of(ev) for ev in (judge_force_errors(back.claims_input()), judge_rdf(back.claims_input()))]
    assert verdicts == [C.verdict_of(judge_force_errors(original.claims_input())),
                        C.verdict_of(judge_rdf(original.claims_input()))]


def test_results_json_follows_the_rule(tmp_path):
    results = {**force_results(GOOD_ERRORS), **md_results([FLAGGED] * 5, [CLEAN] * 5)}
    verdicts = C.judge(CLAIMS, results, "smoke")
    assert [v.verdict for v in verdicts] == [C.REPRODUCED, C.REPRODUCED]
    C.write_results(tmp_path / "results.json", study="nacl_selection", title="NaCl", profile="smoke",
                    params={}, figures={}, verdicts=verdicts, provenance={})
    data = json.loads((tmp_path / "results.json").read_text())
    assert all(C.rule_problems(c) == [] for c in data["claims"])
    assert [c.key for c in CLAIMS] == ["a", "b"]


@pytest.mark.slow
def test_positive_control_is_flagged_at_smoke(executed):
    _nb, results = executed["nacl_selection"]
    assert results["figures"]["positive_control/flagged_fraction"] == 1.0
    assert results["figures"]["positive_control/ion_ps"] > 0


def test_runtime_settings_stay_out_of_the_training_key():
    from paperlib.studies import RunOptions

    p = study.Params.resolve("smoke", {})
    for model in ("schnet_small", "gap"):
        assert not {"device", "devices", "strategy", "progress"} & set(study.train_settings(p, 0, model))
    assert study.train_settings(p, 0, "gap")["n_sparse"] == p.gap_n_sparse
    train = study.Dataset()
    args = [dict(model="schnet_small", settings=study.train_settings(p, 0), force_weight=p.force_weight,
                 train=train, runtime=RunOptions(device=d).training(), progress=d == "cpu") for d in ("cpu", "cuda")]
    assert study._train.key(**args[0]) == study._train.key(**args[1])
    assert not {"runtime", "progress"} & set(study._train.key_params(**args[0]))
