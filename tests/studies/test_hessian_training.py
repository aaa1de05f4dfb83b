import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from paperlib import keys
from paperlib.analysis import claims as C
from paperlib.params import resolve
from paperlib.sampling.molecules import composition
from paperlib.sampling.paths import kabsch_rmsd, reaction_compositions
from paperlib.studies import hessian_training as S
from paperlib.studies import hessian_training_claims as HC
from paperlib.training import with_runtime

EF, EFH = S.E_AND_F, S.efh_mode("hvp", 4)


@pytest.fixture
def p():
    return resolve("hessian_training", "smoke")


@pytest.fixture(scope="module")
def smoke_reference(tmp_path_factory):
    """The smoke profile's reference data, labelled with GFN2-xTB in this process."""
    from paperlib.cache import Cache

    p = resolve("hessian_training", "smoke")
    return p, S.reference_data(p, Cache(tmp_path_factory.mktemp("hessian") / "cache"), progress=False)


def test_modes_points_and_targets(p):
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
    d = resolve("hessian_training", "default")
    points = S.model_points(d)
    # every size has E+F and the judged E+F+H with each seed; E-only is off at default
    assert len(points) == len(d.train_sizes) * 2 * d.training_seeds == 18
    assert {(pt.n_molecules, pt.mode) for pt in points} == {(n, m) for n in d.train_sizes
                                                            for m in (EF, S.judged_mode(d))}
    # E+F and E+F+H of one seed index train with the same seed; seed indices differ
    jobs = {(pt.mode, pt.seed): S.train_job(d, S.Dataset(), pt.mode, pt.seed)["config"].train.seed for pt in points}
    assert jobs[(EF, 1)] == jobs[(S.judged_mode(d), 1)] != jobs[(EF, 0)]


def test_candidates_hold_no_isomer_of_a_reaction_species():
    d = resolve("hessian_training", "default")
    candidates = S.molecule_candidates(d)
    from rdkit import Chem

    species = reaction_compositions(d.reactions)
    found = {composition(a.GetSymbol() for a in Chem.AddHs(Chem.MolFromSmiles(s)).GetAtoms()) for s, _ in candidates}
    assert not found & species
    assert composition(["C", "H", "N"]) in species   # HCN: hydrogen cyanide is not a candidate
    assert "hydrogen_cyanide" not in {n for _, n in candidates} and "acetaldehyde" not in {n for _, n in candidates}
    # the order is a seeded permutation: another seed, another order of the same molecules
    other = S.molecule_candidates(resolve("hessian_training", "default", {"seed": 1}))
    assert sorted(other) == sorted(candidates) and other != candidates


def test_the_split_is_by_molecule(smoke_reference):
    p, ref = smoke_reference
    pool = [a.info["molecule"] for a in ref.pool]
    assert len(ref.test_names) == p.test_molecules and len(pool) == max(p.train_sizes) == len(set(pool))
    assert not ref.test_names & set(pool)
    # the displacements are of held-out molecules only, at the stated RMS amplitudes from their own minimum
    assert {a.info["molecule"] for a in ref.displaced} == ref.test_names
    assert len(ref.displaced) == p.test_molecules * len(p.amplitudes_A) * p.samples_per_amplitude
    minima = {a.info["molecule"]: a for a in ref.test_minima}
    for a in ref.displaced:
        # the RMS displacement is the amplitude; an unweighted alignment removes the little that the mass-weighted
        # exclusion of rigid motions leaves, so the aligned RMSD is at most the amplitude, and most of it
        rmsd, amp = kabsch_rmsd(a, minima[a.info["molecule"]]), a.info["amplitude_A"]
        assert 0.5 * amp < rmsd <= amp * (1 + 1e-9)
        assert np.sqrt(np.mean(np.sum((a.positions - minima[a.info["molecule"]].positions) ** 2, 1))) == \
            pytest.approx(amp, rel=1e-6)   # positions pass through extxyz text
    for n in p.train_sizes:
        train = ref.training_set(n)
        names = [a.info["molecule"] for a in train if "molecule" in a.info]
        assert names == pool[:n] and len(train) == len(ref.critical) + n
    assert {a.info["reaction"] for a in ref.critical} == set(p.reactions) and len(ref.critical) == 3 * len(p.reactions)
    # every training and test minimum is a true minimum of the reference, with its Hessian
    roles = [s["role"] for s in ref.molecules]
    assert (roles.count("test"), roles.count("train")) == (p.test_molecules, max(p.train_sizes))
    assert all(min(s["wavenumbers_cm"]) > -50.0 for s in ref.molecules if s["role"] in ("test", "train"))
    for a in ref.pool + ref.test_minima:
        assert np.abs(a.arrays[keys.REF_forces]).max() < 2e-3
        assert np.reshape(a.info[keys.REF_hessian], (3 * len(a),) * 2).shape == (3 * len(a), 3 * len(a))


def test_frequencies_relax_only_held_out_minima(smoke_reference, monkeypatch):
    p, ref = smoke_reference
    seen = []

    def spy(cache, *, model, minima, steps):
        seen.append({a.info["molecule"] for a in minima})
        raise StopIteration

    monkeypatch.setattr(S._model_frequencies, "entry", spy)
    trained = {S.ModelPoint(max(p.train_sizes), EF, 0): S.Trained(None, None, {}),
               S.ModelPoint(min(p.train_sizes), EF, 0): S.Trained(None, None, {})}
    monkeypatch.setattr(S.Trained, "saved", lambda self, device: "model")
    with pytest.raises(StopIteration):
        S.model_frequencies(p, None, trained, ref)
    assert seen == [ref.test_names]


def test_frequency_table_compares_with_the_reference_minimum():
    reference = {"m0": [3000.0, 1500.0, 500.0], "m1": [2000.0, 1000.0]}
    found = {f"{EF} / seed 0": {"m0": {"wavenumbers_cm": [3030.0, 1500.0, 470.0], "converged": True, "rmsd_A": 0.01},
                                "m1": {"failed": "ValueError: non-finite Hessian"}},
             f"{EFH} / seed 1": {"m0": {"wavenumbers_cm": [3000.0, 1510.0, -80.0], "converged": False,
                                        "rmsd_A": 0.2}}}
    t = S.frequency_table(reference, found).set_index(["mode", "seed", "molecule"])
    assert t.loc[(EF, 0, "m0"), "freq_mae_cm"] == pytest.approx(20.0)
    assert np.isnan(t.loc[(EF, 0, "m1"), "freq_mae_cm"]) and t.loc[(EF, 0, "m1"), "note"].startswith("ValueError")
    assert t.loc[(EFH, 1, "m0"), "imaginary"] == 1 and t.loc[(EFH, 1, "m0"), "freq_mae_cm"] == pytest.approx(590 / 3)


# -- claims ---------------------------------------------------------------------------------------
SEEDS3 = [11, 12, 13]
MOLECULES = [f"m{i}" for i in range(24)]


def error_rows(factors, seeds=(0, 1, 2), molecules=MOLECULES, n=100, efh_n=None, rng_seed=0, zero=3.0
               ) -> list[dict]:
    """Two displaced test geometries per (seed, molecule); E+F+H's errors are E+F's times ``factors`` (per
    metric) times a log-normal jitter (sd 0.2) per (seed, molecule); the zero model's force and Hessian errors
    are E+F's times ``zero``."""
    rng = np.random.default_rng(rng_seed)
    rows = []
    for s in seeds:
        for j, m in enumerate(molecules):
            jit = np.exp(rng.normal(0, 0.2))
            for scale in (0.5, 1.5):
                base = {k: (j + 1) * scale for k in S.METRICS}
                common = {"seed": s, "molecule": m, "kind": "displaced", "zero_forces": zero * base["mae_forces"],
                          "zero_hessian": zero * base["mae_hessian"]}
                rows.append({"mode": EF, "n_molecules": n, **common, **base})
                rows.append({"mode": EFH, "n_molecules": efh_n or n, **common,
                             **{k: v * f * jit for (k, v), f in zip(base.items(), factors)}})
    return rows


def expected_log_ratio(rows, metric, ef_n=100, efh_n=100) -> float:
    e = pd.DataFrame(rows)
    a = e[(e["mode"] == EF) & (e["n_molecules"] == ef_n)].groupby(["seed", "molecule"])[metric].mean()
    b = e[(e["mode"] == EFH) & (e["n_molecules"] == efh_n)].groupby(["seed", "molecule"])[metric].mean()
    return float(np.mean(np.log(a / b.loc[a.index])))


def results_of(rows, seeds=SEEDS3, sizes=(100,)):
    return {"errors": rows, "judged": EFH, "seeds": list(seeds), "train_sizes": list(sizes)}


def test_extrapolation_on_held_out_molecules():
    better = error_rows((0.5, 0.6, 0.7))
    ev = HC.judge_extrapolation(results_of(better))
    assert ev.value == pytest.approx(min(expected_log_ratio(better, k) for k in S.METRICS))
    assert ev.value == pytest.approx(expected_log_ratio(better, "mae_hessian"))   # the smallest gain decides
    assert ev.n == 3 and ev.powered and ev.ci_low > 0 and C.verdict_of(ev) == C.REPRODUCED
    assert "24 held-out molecules x 3 seed(s)" in ev.context
    # minima are reported, not judged: E+F+H doing badly at them changes nothing
    minima = [{**r, "kind": "minimum", **({k: 100.0 for k in S.METRICS} if r["mode"] == EFH else {})}
              for r in better]
    assert HC.judge_extrapolation(results_of(better + minima)).value == pytest.approx(ev.value)
    # an E+F+H that beats E+F but not a model predicting zero forces and a zero Hessian has learnt no curvature
    flat = error_rows((0.5, 0.6, 0.7), zero=0.55)
    ev = HC.judge_extrapolation(results_of(flat))
    e = pd.DataFrame(flat)
    efh = e[e["mode"] == EFH].groupby(["seed", "molecule"]).mean(numeric_only=True)
    # the Hessian part decides: log(0.55 / (0.7 jitter)) < log(0.55 / (0.6 jitter)) for forces
    assert ev.value == pytest.approx(np.mean(np.log(efh["zero_hessian"] / efh["mae_hessian"])))
    assert ev.ci_high < 0 and C.verdict_of(ev) == C.NOT_REPRODUCED
    worse = error_rows((0.5, 0.6, 1.6))
    ev = HC.judge_extrapolation(results_of(worse))
    assert ev.ci_high < 0 and C.verdict_of(ev) == C.NOT_REPRODUCED
    # two seeds or too few held-out molecules: the same data cannot decide a negative
    assert not HC.judge_extrapolation(results_of(worse, seeds=[1, 2])).powered
    few = error_rows((0.5, 0.6, 1.6), molecules=MOLECULES[:12])
    assert not HC.judge_extrapolation(results_of(few)).powered
    assert HC.judge_extrapolation(results_of([r for r in better if r["mode"] == EF])) is None


def test_the_interval_covers_seeds_as_well_as_molecules():
    rows = error_rows((0.5, 0.5, 0.5))
    # a seed-wide shift: the spread between seeds must widen the interval (a molecule-only bootstrap would not)
    shifted = [{**r, **{k: r[k] * np.exp(0.4 * (r["seed"] - 1)) for k in S.METRICS}} if r["mode"] == EFH else r
               for r in rows]
    narrow, wide = HC.judge_extrapolation(results_of(rows)), HC.judge_extrapolation(results_of(shifted))
    assert wide.value == pytest.approx(narrow.value)
    assert wide.ci_high - wide.ci_low > 2 * (narrow.ci_high - narrow.ci_low)


def test_less_data_compares_efh_with_fewer_molecules():
    rows = error_rows((0.7, 0.7, 0.7), efh_n=50) + [r for r in error_rows((1, 1, 1), n=50, rng_seed=1)
                                                     if r["mode"] == EF]
    ev = HC.judge_less_data(results_of(rows, sizes=(50, 100)))
    assert ev.value == pytest.approx(expected_log_ratio(rows, "mae_forces", 100, 50))
    assert C.verdict_of(ev) == C.REPRODUCED and "with 100 molecules / E+F+H force MAE with 50" in ev.statistic
    minima = [{**r, "kind": "minimum", "mae_forces": 9.0 if r["mode"] == EFH else 0.01} for r in rows]
    assert HC.judge_less_data(results_of(rows + minima, sizes=(50, 100))).value == pytest.approx(ev.value)
    assert HC.judge_less_data(results_of(rows, sizes=(100,))) is None


def reaction_searches(ef_err, efh_err, ref, ef_ok, efh_ok, seeds=(0, 1, 2)) -> list[dict]:
    """Per seed and reaction; errors and confirmations the same for every seed unless given per seed."""
    rows = []
    for s in seeds:
        for i, b0 in enumerate(ref):
            for mode, err, ok in ((EF, ef_err, ef_ok), (EFH, efh_err, efh_ok)):
                e = err[s][i] if np.ndim(err) == 2 else err[i]
                rows.append({"mode": mode, "seed": s, "reaction": f"r{i}", "barrier_ref_eV": b0,
                             "barrier_error_eV": e, "ts_confirmed": bool(ok[i]),
                             "ts_rmsd_A": 0.05 if mode == EFH else 0.1})
    return rows


REF = np.array([1.0, 2.0, 0.5, 1.5, 3.0, 0.8, 1.2])


def test_barriers_need_to_beat_e_plus_f_and_a_quarter_of_the_zero_barrier_baseline():
    ef = REF * 0.5
    efh = REF * np.array([0.1, 0.12, 0.08, 0.1, 0.11, 0.09, 0.1])
    ok = [True] * 7
    ev = HC.judge_barriers({"searches": reaction_searches(ef, efh, REF, ok, ok), "judged": EFH, "seeds": SEEDS3})
    quality = 0.25 * REF - efh
    a = stats.ttest_1samp(ef - efh, 0).confidence_interval(0.95)
    b = stats.ttest_1samp(quality, 0).confidence_interval(0.95)
    assert ev.value == pytest.approx(min(np.mean(ef - efh), np.mean(quality)))
    assert ev.ci_low == pytest.approx(min(a.low, b.low)) and ev.powered and C.verdict_of(ev) == C.REPRODUCED
    assert f"zero-barrier baseline {REF.mean():.3f} eV" in ev.context
    # better than E+F but worse than a quarter of the baseline: the ratio does not count
    poor = REF * np.array([0.4, 0.42, 0.38, 0.4, 0.41, 0.39, 0.4])
    ev = HC.judge_barriers({"searches": reaction_searches(ef, poor, REF, ok, ok), "judged": EFH, "seeds": SEEDS3})
    assert np.mean(ef - poor) > 0 and ev.value == pytest.approx(np.mean(0.25 * REF - poor))
    assert C.verdict_of(ev) == C.NOT_REPRODUCED
    # a failed search is charged the zero-barrier error |reference barrier|; errors average over seeds
    per_seed = np.array([efh, efh, efh])
    per_seed[1, 0] = np.nan
    ev = HC.judge_barriers({"searches": reaction_searches(ef, per_seed, REF, ok, ok), "judged": EFH,
                            "seeds": SEEDS3})
    charged = efh.copy()
    charged[0] = (2 * efh[0] + REF[0]) / 3
    assert ev.value == pytest.approx(min(np.mean(ef - charged), np.mean(0.25 * REF - charged)))
    assert "failed searches 0 / 1" in ev.context
    assert not HC.judge_barriers({"searches": reaction_searches(ef, efh, REF, ok, ok), "judged": EFH,
                                  "seeds": [1, 2]}).powered


def test_transition_states_by_reaction_and_rmsd_where_both_confirmed():
    ef_ok = [False, False, True, False, True, False, False]
    efh_ok = [True, True, True, True, True, False, True]
    rows = reaction_searches(REF, REF, REF, ef_ok, efh_ok)
    ev = HC.judge_transition_states({"searches": rows, "judged": EFH, "seeds": SEEDS3})
    diff = np.array(efh_ok, float) - np.array(ef_ok, float)
    ci = stats.ttest_1samp(diff, 0).confidence_interval(0.95)
    assert ev.value == pytest.approx(diff.mean()) and ev.ci_low == pytest.approx(ci.low) and ev.n == 7
    assert "where both confirmed (6 reaction-seed pairs) mean RMSD to the reference saddle 0.050 / 0.100" in ev.context
    assert HC.both_confirmed_rmsd({"searches": rows, "judged": EFH}) == (pytest.approx(0.1), pytest.approx(0.05), 6)


def test_frequency_claim_on_held_out_molecules():
    rng = np.random.default_rng(3)
    rows = []
    for s in range(3):
        for m in MOLECULES:
            base = rng.uniform(50, 150)
            rows.append({"mode": EF, "seed": s, "molecule": m, "freq_mae_cm": base})
            rows.append({"mode": EFH, "seed": s, "molecule": m, "freq_mae_cm": base * 0.6 * np.exp(rng.normal(0, .1))})
    rows[1]["freq_mae_cm"] = np.nan   # a failed relaxation is left out
    ev = HC.judge_frequencies({"frequencies": rows, "judged": EFH, "seeds": SEEDS3})
    f = pd.DataFrame(rows)
    a = f[f["mode"] == EF].set_index(["seed", "molecule"])["freq_mae_cm"]
    b = f[f["mode"] == EFH].set_index(["seed", "molecule"])["freq_mae_cm"]
    assert ev.value == pytest.approx(np.nanmean(np.log(a / b)))
    assert C.verdict_of(ev) == C.REPRODUCED and "failed relaxations 0 / 1 (left out)" in ev.context


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
    ci = stats.ttest_1samp(np.log(full / ef), 0).confidence_interval(0.95)
    assert (ev.ci_low, ev.ci_high) == (pytest.approx(ci.low), pytest.approx(ci.high)) and ev.n == 5
    assert ev.powered and C.verdict_of(ev) == C.REPRODUCED
    cheaper = [{**r, "mode": EF if r["mode"] == HC.FULL else HC.FULL} for r in repeated]
    assert C.verdict_of(HC.judge_cost({"costs": cheaper})) == C.NOT_REPRODUCED
    ev = HC.judge_cost({"costs": cheaper[:3] + cheaper[5:8]})   # three timings each: not powered
    assert ev.n == 3 and not ev.powered and C.verdict_of(ev) == C.INCONCLUSIVE
    assert HC.judge_cost({"costs": []}) is None
    assert [c.timed for c in HC.CLAIMS] == [False] * 5 + [True]


def test_rules_state_thresholds_and_budgets():
    assert all("Threshold 0" in c.rule for c in HC.CLAIMS)
    assert all(f">= {HC.MIN_SEEDS} training seeds" in c.rule for c in HC.CLAIMS[:5])


def test_search_table_marks_failed_searches():
    summaries = {"r0": {"barrier_eV": 1.0, "wavenumbers_cm": {
        "reactant": [3000.0, 1000.0], "product": [3000.0, 1000.0], "ts": [-900.0, 2000.0]}}}
    found = {f"{EF} / seed 0": {"r0": {"failed": "RuntimeError: exploded"}},
             f"{EFH} / seed 2": {"r0": {"barrier_eV": 1.2, "ts_imaginary": 1, "connects": True, "ts_rmsd_A": 0.05,
                                        "wavenumbers_cm": {"reactant": [3010.0, 990.0], "product": [3000.0, 1000.0],
                                                           "ts": [-800.0, 2000.0]}}}}
    t = S.search_table(summaries, found, {f"{EF} / seed 0": {"r0": 0.7}, f"{EFH} / seed 2": {"r0": 1.05}}
                       ).set_index("mode")
    assert t["fit_error_eV"].tolist() == pytest.approx([0.3, 0.05])
    assert not t.loc[EF, "ts_confirmed"] and np.isnan(t.loc[EF, "barrier_error_eV"])
    assert t.loc[EF, "note"].startswith("RuntimeError") and t.loc[EFH, "seed"] == 2
    assert t.loc[EFH, "ts_confirmed"] and t.loc[EFH, "barrier_error_eV"] == pytest.approx(0.2)
    assert t.loc[EFH, "freq_mae_minima_cm"] == pytest.approx(5.0) and t.loc[EFH, "freq_mae_ts_cm"] == 50.0


def synthetic_results() -> S.Results:
    """A small :class:`Results` built by hand (no training)."""
    errors = pd.DataFrame(error_rows((0.5, 0.6, 0.7), seeds=(0,), molecules=MOLECULES[:3])).assign(
        amplitude_A=0.1, distance_A=0.1)
    wn = {"reactant": [3000.0, 1000.0], "product": [3010.0, 990.0], "ts": [-900.0, 2000.0]}
    summaries = {r: {"name": r, "description": f"reaction {r}", "barrier_eV": b, "reaction_energy_eV": -0.1,
                     "ts_imaginary": 1, "connects": True, "converged": True, "wavenumbers_cm": wn,
                     "path_energies_eV": [0.0, 0.5, 1.0, 0.4, -0.1], "max_asymmetry_eV_A2": 1e-4,
                     "max_translation_sum_eV_A2": 2e-4} for r, b in (("r0", 1.0), ("r1", 1.2))}
    runs = {f"{EF} / seed 0": {"r0": {"failed": "RuntimeError: exploded"},
                               "r1": {"barrier_eV": 1.3, "ts_imaginary": 2, "connects": None, "ts_rmsd_A": 0.2,
                                      "wavenumbers_cm": wn, "path_energies_eV": [0.0, 1.3, -0.1]}},
            f"{EFH} / seed 0": {r: {"barrier_eV": 1.1, "ts_imaginary": 1, "connects": True, "ts_rmsd_A": 0.05,
                                    "wavenumbers_cm": wn, "path_energies_eV": [0.0, 1.1, -0.1]} for r in summaries}}
    reference = {m: [3000.0, 1000.0] for m in MOLECULES[:3]}
    found = {f"{mode} / seed 0": {m: {"wavenumbers_cm": [3000.0 + d, 1000.0], "converged": True, "rmsd_A": 0.01}
                                  for m in MOLECULES[:3]} for mode, d in ((EF, 60.0), (EFH, 20.0))}
    costs = pd.DataFrame([{"mode": EF, "repeat": 0, "seconds_per_epoch": 0.1, "ratio_to_E+F": 1.0},
                          {"mode": HC.FULL, "repeat": 0, "seconds_per_epoch": 0.9, "ratio_to_E+F": 9.0}])
    return S.Results(reference=pd.DataFrame([{"reaction": r, "barrier (eV)": s["barrier_eV"]}
                                             for r, s in summaries.items()]),
                     summaries=summaries, molecules=pd.DataFrame([{"molecule": m, "role": "test"} for m in reference]),
                     data_sizes={"reactions": 2, "critical": 6, "test molecules": 3}, modes=[EF, EFH],
                     training=pd.DataFrame([{"mode": EF, "seed": 0, "final training loss": 0.1}]),
                     losses=pd.DataFrame([{"mode": EF, "seed": 0, "epoch": 1, "loss": 0.1}]), errors=errors,
                     frequencies=S.frequency_table(reference, found), reference_wavenumbers=reference,
                     model_wavenumbers=found, search_runs=runs, searches=S.search_table(summaries, runs), costs=costs,
                     judged=EFH, seeds=[11], train_sizes=[100])


def test_results_round_trip_and_figures():
    original = synthetic_results()
    back = S.Results.from_json(json.loads(json.dumps(original.to_json())))
    figures = S.figures(original)
    assert S.figures(back) == figures
    assert figures["baseline/zero_barrier_mae_eV"] == pytest.approx(1.1)
    assert figures[f"frequencies/{EF}/mae_cm"] == pytest.approx(30.0)
    assert figures["baseline/displaced/zero_forces_mae_forces"] == pytest.approx(
        3 * np.mean([r["mae_forces"] for r in error_rows((1, 1, 1), seeds=(0,), molecules=MOLECULES[:3])
                     if r["mode"] == EF]))
    assert figures[f"searches/{EF}/barrier_mae_eV"] == pytest.approx((1.0 + 0.1) / 2)   # the failure charged 1.0
    assert figures[f"test/displaced/n=100/{EFH}/mae_hessian"] == pytest.approx(
        np.mean([r["mae_hessian"] for r in error_rows((0.5, 0.6, 0.7), seeds=(0,), molecules=MOLECULES[:3])
                 if r["mode"] == EFH]))
    assert not [k for k in figures if "second" in k or "cost" in k]
    for name in ("reference", "errors", "searches", "frequencies", "costs", "training", "losses"):
        pd.testing.assert_frame_equal(getattr(back, name), getattr(original, name), check_dtype=False)
    assert back.model_wavenumbers == original.model_wavenumbers and back.search_runs == original.search_runs
    verdicts = C.judge(S.CLAIMS, back.claims_input(), "smoke")
    assert [v.evidence for v in verdicts] == [v.evidence for v in C.judge(S.CLAIMS, original.claims_input(), "smoke")]


def test_the_study_contract():
    assert S.Params.STUDY == "hessian_training" and S.CLAIMS is HC.CLAIMS
    p = S.Params.resolve("smoke", {"max_epochs": 2})
    assert p.max_epochs == 2 and "device" not in p
    config = with_runtime(S.model_config(p, "hvp"), S.RunOptions(device="cpu", devices=1))
    assert config.device == "cpu"
    # Runtime settings never enter the cache key of a model.
    job = S.train_job(p, S.Dataset(), EF, 0, S.RunOptions(device="cpu"))
    assert S._train.key(**job) == S._train.key(**S.train_job(p, S.Dataset(), EF, 0,
                                                             S.RunOptions(device="auto", executor="in-process")))
    assert "options" not in S._train.key_params(**job)
    keyed = S._train.key_params(**job)["config"]
    assert keyed.device == "auto" and keyed.train.progress is False and keyed.train.devices == 1
