import dataclasses

import numpy as np
import pandas as pd
import pytest
from ase import Atoms

from paperlib import keys
from paperlib.analysis import claims as C
from paperlib.analysis import intervals
from paperlib.data.dataset import Dataset
from paperlib.params import resolve
from paperlib.studies import flexible_pes as study
from paperlib.studies import flexible_pes_claims as claims

REGION_GROUP = {"cis": "cis", "trans": "trans", "rotation": "transition", "inversion": "transition",
                "inversion-assisted rotation": "transition"}
K = study.KCAL_MOL_EV


def errors(spec: dict[tuple, dict[str, tuple[float, float]]], frames: int = 25,
           noise: tuple[float, float] = (0.3, 0.3), seed: int = 1) -> list[dict]:
    """Synthetic per-frame error records, ``frames`` test frames per region numbered alike for every model:
    {(model, n_train[, draw]): {region: (mean energy error, mean force MAE)}}, each frame's value spread
    uniformly by the relative ``noise`` (energy, forces)."""
    rng = np.random.default_rng(seed)
    rows = []
    for key, by_region in spec.items():
        model, n, draw = (*key, 0)[:3]
        frame = 0
        for region in REGION_GROUP:
            e, f = by_region[region]
            for _ in range(frames):
                rows.append({"model": model, "n_train": n, "draw": draw, "frame": frame, "region": region,
                             "group": REGION_GROUP[region],
                             "err_energy": e * rng.uniform(1 - noise[0], 1 + noise[0]),
                             "mae_forces": f * rng.uniform(1 - noise[1], 1 + noise[1])})
                frame += 1
    return rows


def uniform(e: float, f: float, transition_factor: float = 1.0, spread: float = 1.0) -> dict:
    return {"cis": (e, f), "trans": (e, f), "rotation": (e * transition_factor, f * transition_factor),
            "inversion": (e * transition_factor * spread, f * transition_factor * spread),
            "inversion-assisted rotation": (e * transition_factor, f * transition_factor)}


def profile_records(models: list[str]) -> list[dict]:
    rows = []
    for m in models:
        for mech in ("rotation", "inversion", "inversion-assisted rotation"):
            for i, e in enumerate([0.0, 0.5, 0.2]):
                rows.append({"model": m, "mechanism": mech, "image": i, "reference_eV": e,
                             "model_eV": e * (1.5 if mech == "inversion" else 1.0)})
    return rows


def results(spec, local="local_gap", glob="gap", paper=("sgdml", "gap"), split_by_trajectory=True, **kw) -> dict:
    """Synthetic results; ``split_by_trajectory`` says whether the test frames are independent of training
    (each synthetic frame is its own MD run, started in its own region)."""
    models = sorted({k[0] for k in spec})
    rows = [dict(r, trajectory=r["frame"]) for r in errors(spec, **kw)]
    return {"errors": rows, "profiles": profile_records(models), "paper_models": list(paper),
            "local": local, "global_model": glob, "split_by_trajectory": split_by_trajectory}


def column(res: dict, model: str, key: str, regions=tuple(REGION_GROUP), n_train=None, draw=0) -> np.ndarray:
    """One model's per-frame values in frame order (at the largest size unless ``n_train``)."""
    e = pd.DataFrame(res["errors"])
    n_train = e["n_train"].max() if n_train is None else n_train
    d = e[(e["model"] == model) & (e["n_train"] == n_train) & (e["draw"] == draw) & e["region"].isin(regions)]
    return d.sort_values("frame")[key].to_numpy()


BASE = claims.BASELINE


def with_baseline(spec: dict, energy: float, sizes=None) -> dict:
    """``spec`` plus the mean-energy baseline (energy error ``energy`` everywhere) at every size of ``spec``."""
    sizes = sizes or sorted({k[1] for k in spec})
    return {**spec, **{(BASE, n): uniform(energy, 1.0) for n in sizes}}


def local_spec(glob: tuple[float, float], local: tuple[float, float], draws: int = 3, n: int = 100) -> dict:
    """Global GAP and the local set at size ``n`` on ``draws`` draws (mean energy, force errors)."""
    return {**{("gap", n, d): uniform(*glob) for d in range(draws)},
            **{("local_gap", n, d): uniform(*local) for d in range(draws)}}


def test_global_accuracy_is_relative_to_the_mean_energy_baseline_and_bootstraps_whole_runs():
    spec = with_baseline({("sgdml", 1000): uniform(0.6 * K, 0.05), ("gap", 1000): uniform(0.4 * K, 0.05),
                          ("sgdml", 200): uniform(1.5 * K, 0.1), ("gap", 200): uniform(0.8 * K, 0.1)}, 20 * K)
    res = results(spec)
    ev = claims.judge_global_accuracy(res)
    assert C.verdict_of(ev) == C.REPRODUCED and ev.powered and ev.n == 125 and ev.threshold == 0.0
    base, worst = column(res, BASE, "err_energy"), column(res, "sgdml", "err_energy")
    best = column(res, "gap", "err_energy")
    assert ev.value == pytest.approx(min(np.log10(base.mean() / worst.mean()), np.log10(base.mean() / best.mean()))
                                     - np.log10(claims.RELATIVE_ACCURACY))
    # every synthetic frame is its own run: the bootstrap over runs resamples frames, paired between models
    direct = intervals.bootstrap_interval(
        [np.arange(125, dtype=float)],
        lambda i: min(np.log10(base[i.astype(int)].mean() / m[i.astype(int)].mean()) for m in (worst, best))
        - np.log10(claims.RELATIVE_ACCURACY), seed=claims.SEED)
    assert (ev.ci_low, ev.ci_high) == pytest.approx((direct.low, direct.high), rel=1e-9)
    assert "kcal/mol" in ev.context and "below 1 kcal/mol from 200 points" in ev.context and "1000 training" in ev.context


def test_global_accuracy_negative_needs_the_paper_budget_and_enough_runs():
    full = with_baseline({("sgdml", 1000): uniform(5.0 * K, 0.05), ("gap", 1000): uniform(0.5 * K, 0.05)}, 20 * K)
    ev = claims.judge_global_accuracy(results(full))
    assert ev.ci_high < 0 and ev.powered and C.verdict_of(ev) == C.NOT_REPRODUCED
    short = with_baseline({("sgdml", 200): uniform(5.0 * K, 0.05), ("gap", 200): uniform(0.5 * K, 0.05)}, 20 * K)
    ev = claims.judge_global_accuracy(results(short))
    assert ev.ci_high < 0 and not ev.powered and C.verdict_of(ev) == C.INCONCLUSIVE
    few = claims.judge_global_accuracy(results(full, frames=1))
    assert few.n == 5 and not few.powered and C.verdict_of(few) == C.INCONCLUSIVE


def test_global_accuracy_straddling_ignored_models_and_absent():
    edge = with_baseline({("sgdml", 1000): uniform(2.0 * K, 0.05), ("gap", 1000): uniform(0.5 * K, 0.05)}, 20 * K)
    ev = claims.judge_global_accuracy(results(edge))
    assert ev.ci_low < 0 < ev.ci_high and C.verdict_of(ev) == C.INCONCLUSIVE
    # sizes beyond the paper's 1000 points and models outside the paper's three do not count
    extra = with_baseline({**edge, ("sgdml", 2000): uniform(0.1 * K, 0.05), ("gap", 2000): uniform(0.1 * K, 0.05),
                           ("bpnn", 1000): uniform(15.0 * K, 0.05)}, 20 * K, sizes=[2000])
    ev2 = claims.judge_global_accuracy(results(extra))
    assert ev2.value == pytest.approx(ev.value) and "bpnn" not in ev2.context
    assert claims.judge_global_accuracy(results(edge, paper=())) is None
    assert claims.judge_global_accuracy(results({("gap", 1000): uniform(K, 0.05)})) is None  # no baseline
    assert claims.judge_global_accuracy(results(with_baseline({("gap", 2000): uniform(K, 0.05)}, 20 * K))) is None


def test_regions_interval_is_the_unpaired_bootstrap_of_the_force_ratio():
    # energies without noise and 10x harder in transition: the force ratio is the smaller in every resample
    spec = {("gap", 100): {**uniform(0.02, 0.05, 1.0), **{r: (0.2, 0.1) for r in claims.MECHANISMS}}}
    res = results(spec, paper=("gap",), noise=(0.0, 0.3))
    ev = claims.judge_regions(res)
    near = column(res, "gap", "mae_forces", ("cis", "trans"))
    trans = column(res, "gap", "mae_forces", claims.MECHANISMS)
    direct = intervals.bootstrap_interval([near, trans], lambda n, t: np.log(t.mean() / n.mean()), seed=claims.SEED)
    assert ev.value == pytest.approx(np.log(trans.mean() / near.mean()))
    assert (ev.ci_low, ev.ci_high) == pytest.approx((direct.low, direct.high), rel=1e-9)
    assert ev.n == 50 and ev.threshold == pytest.approx(np.log(claims.MIN_EFFECT))
    assert ev.powered and C.verdict_of(ev) == C.REPRODUCED


def test_regions_verdicts_use_the_majority_of_the_paper_models_only():
    harder = {("sgdml", 100): uniform(0.02, 0.05, 2.0), ("gap", 100): uniform(0.02, 0.05, 2.0),
              ("schnet_small", 100): uniform(0.02, 0.05, 0.5), ("local_gap", 100): uniform(0.02, 0.05, 0.5)}
    res = results(harder, paper=("sgdml", "gap", "schnet_small"))
    ev = claims.judge_regions(res)
    assert C.verdict_of(ev) == C.REPRODUCED and "schnet_small" in ev.context and "local_gap" not in ev.context
    per_model = []
    for m in ("sgdml", "gap", "schnet_small"):
        per_model.append(min(np.log(column(res, m, k, claims.MECHANISMS).mean() /
                                    column(res, m, k, ("cis", "trans")).mean()) for k in ("err_energy", "mae_forces")))
    assert ev.value == pytest.approx(np.median(per_model))
    # a non-paper model cannot tip the majority
    tipped = {**harder, ("sgdml", 100): uniform(0.02, 0.05, 0.5), ("local_gap", 100): uniform(0.02, 0.05, 3.0)}
    easier = claims.judge_regions(results(tipped, paper=("sgdml", "gap", "schnet_small")))
    assert easier.ci_high < 0 and C.verdict_of(easier) == C.NOT_REPRODUCED
    few = claims.judge_regions(results(tipped, paper=("sgdml", "gap", "schnet_small"), frames=4))
    assert not few.powered and C.verdict_of(few) == C.INCONCLUSIVE


def test_regions_straddling_and_absent():
    edge = {("sgdml", 100): uniform(0.02, 0.05, 1.2), ("gap", 100): uniform(0.02, 0.05, 1.2)}
    ev = claims.judge_regions(results(edge))
    assert ev.ci_low < ev.threshold < ev.ci_high and C.verdict_of(ev) == C.INCONCLUSIVE
    assert claims.judge_regions(results(edge, paper=("schnet_small",))) is None
    res = results(edge)
    res["errors"] = [r for r in res["errors"] if r["group"] != study.TRANSITION]
    empty = claims.judge_regions(res)
    assert empty.n == 0 and C.verdict_of(empty) == C.INCONCLUSIVE


def test_mechanisms_interval_is_the_unpaired_bootstrap_of_the_spread():
    spec = {("gap", 100): uniform(0.02, 0.05, 1.0, 2.0)}
    res = results(spec, paper=("gap",))
    ev = claims.judge_mechanisms(res)
    groups = [column(res, "gap", "mae_forces", (m,)) for m in claims.MECHANISMS]

    def spread(*g):
        means = [x.mean() for x in g]
        return np.log(max(means) / min(means))

    direct = intervals.bootstrap_interval(groups, spread, seed=claims.SEED)
    assert ev.value == pytest.approx(spread(*groups))
    assert (ev.ci_low, ev.ci_high) == pytest.approx((direct.low, direct.high), rel=1e-9)
    assert ev.n == 25 and ev.powered and C.verdict_of(ev) == C.REPRODUCED
    assert "largest scan-barrier error: gap inversion" in ev.context


def test_mechanism_verdicts():
    same = {("sgdml", 100): uniform(0.02, 0.05, 1.0, 1.0), ("gap", 100): uniform(0.02, 0.05, 1.0, 1.0)}
    ev = claims.judge_mechanisms(results(same, frames=200, noise=(0.1, 0.1)))
    assert ev.ci_high < ev.threshold and ev.powered and C.verdict_of(ev) == C.NOT_REPRODUCED
    few = claims.judge_mechanisms(results(same, frames=10, noise=(0.1, 0.1)))
    assert not few.powered and C.verdict_of(few) == C.INCONCLUSIVE
    edge = {("sgdml", 100): uniform(0.02, 0.05, 1.0, 1.25), ("gap", 100): uniform(0.02, 0.05, 1.0, 1.25)}
    mid = claims.judge_mechanisms(results(edge))
    assert mid.ci_low < mid.threshold < mid.ci_high and C.verdict_of(mid) == C.INCONCLUSIVE
    res = results(same)
    res["errors"] = [r for r in res["errors"] if r["region"] != "rotation"]
    missing = claims.judge_mechanisms(res)
    assert missing.n == 0 and C.verdict_of(missing) == C.INCONCLUSIVE
    assert claims.judge_mechanisms(results(same, paper=())) is None


def test_local_pools_draws_and_its_interval_resamples_draws_and_runs():
    exact = results(local_spec((0.04, 0.10), (0.02, 0.08)), noise=(0.0, 0.0))
    ev = claims.judge_local(exact)
    assert ev.value == pytest.approx(min(np.log(2.0), np.log(0.10 / 0.08)))
    res = results(local_spec((0.04, 0.10), (0.02, 0.05)))
    ev = claims.judge_local(res)
    g = [column(res, "gap", "err_energy", draw=d) for d in range(3)]
    loc = [column(res, "local_gap", "err_energy", draw=d) for d in range(3)]
    gf = [column(res, "gap", "mae_forces", draw=d) for d in range(3)]
    lf = [column(res, "local_gap", "mae_forces", draw=d) for d in range(3)]
    pooled = min(np.log(np.mean(g) / np.mean(loc)), np.log(np.mean(gf) / np.mean(lf)))
    assert ev.value == pytest.approx(pooled)
    assert ev.n == 3 and ev.powered and ev.threshold == 0.0 and C.verdict_of(ev) == C.REPRODUCED
    assert "3 draws" in ev.context and "125 runs" in ev.context


def test_local_verdicts_need_three_draws_and_use_the_largest_size_only():
    worse = results(local_spec((0.02, 0.05), (0.03, 0.06)))
    ev = claims.judge_local(worse)
    assert ev.ci_high < 0 and ev.powered and C.verdict_of(ev) == C.NOT_REPRODUCED
    two = claims.judge_local(results(local_spec((0.02, 0.05), (0.03, 0.06), draws=2)))
    assert np.isnan(two.ci_low) and not two.powered and C.verdict_of(two) == C.INCONCLUSIVE
    few = claims.judge_local(results(local_spec((0.02, 0.05), (0.03, 0.06)), frames=1))
    assert not few.powered and C.verdict_of(few) == C.INCONCLUSIVE
    mixed = claims.judge_local(results(local_spec((0.02, 0.10), (0.02, 0.05))))
    assert mixed.ci_low < 0 < mixed.ci_high and C.verdict_of(mixed) == C.INCONCLUSIVE
    spec = {**local_spec((0.02, 0.05), (0.5, 0.5), n=50), **local_spec((0.04, 0.10), (0.02, 0.05), n=100)}
    assert C.verdict_of(claims.judge_local(results(spec))) == C.REPRODUCED
    assert claims.judge_local(results({("gap", 100): uniform(0.02, 0.05)})) is None


def test_records_without_frame_numbers_pair_frames_by_order():
    harder = {("sgdml", 100): uniform(0.02, 0.05, 2.0), ("gap", 100): uniform(0.02, 0.05, 2.0)}
    res = results(harder)
    bare = dict(res, errors=[{k: v for k, v in r.items() if k != "frame"} for r in res["errors"]])
    assert claims.judge_regions(bare) == claims.judge_regions(res)


def test_majority_is_the_value_most_models_reach():
    assert claims._majority([3.0, 1.0, 2.0]) == 2.0
    assert claims._majority([3.0, 1.0]) == 1.0
    assert claims._majority([4.0, 1.0, 3.0, 2.0]) == 2.0


def test_transition_ratios_and_figures():
    harder = {("sgdml", 100): uniform(0.02, 0.05, 2.0), ("gap", 100): uniform(0.02, 0.05, 2.0)}
    res = results(harder, frames=6, noise=(0.0, 0.0))
    ratios = claims.transition_ratios(res).set_index("model")
    assert ratios.loc["gap", "mae_forces"] == pytest.approx(2.0)
    assert ratios.loc["gap", "transition frames"] == 18 and ratios.loc["gap", "near-equilibrium frames"] == 12
    fig = claims.summary_figures(res)
    assert fig["regions/gap/transition_over_near_forces"] == pytest.approx(2.0)
    assert fig["curve/gap/n=100/energy_mae_eV"] == pytest.approx(0.02 * 48 / 30)


def test_judge_derives_verdicts_for_every_claim():
    spec = with_baseline({("sgdml", 1000): uniform(0.3 * K, 0.05, 2.0, 2.0),
                          ("gap", 1000): uniform(0.3 * K, 0.05, 2.0, 2.0),
                          **{("gap", 1000, d): uniform(0.3 * K, 0.05, 2.0, 2.0) for d in (1, 2)},
                          **{("local_gap", 1000, d): uniform(0.2 * K, 0.02) for d in range(3)}}, 20 * K)
    verdicts = C.judge(claims.CLAIMS, results(spec), "smoke")
    assert [v.verdict for v in verdicts] == [C.REPRODUCED] * 4
    assert all(not C.rule_problems(dataclasses.asdict(v)) for v in verdicts)


def test_profiles_are_relative_to_the_first_image_and_barriers_are_maxima():
    atoms = [Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74 + 0.01 * i]]) for i in range(3)]
    for i, (a, e) in enumerate(zip(atoms, [-10.0, -9.2, -9.9])):
        a.info.update({keys.REF_energy: e, "mechanism": "rotation", "image": i})
    ref = study.Reference(Dataset(), Dataset(atoms), Dataset(), {})
    rows = study.profile_rows("m", ref, {"energies": [5.0, 6.0, 5.5]})
    assert rows["reference_eV"].tolist() == pytest.approx([0.0, 0.8, 0.1])
    assert rows["model_eV"].tolist() == pytest.approx([0.0, 1.0, 0.5])
    b = study.barrier_table(rows)
    assert b.loc[0, "barrier_error_eV"] == pytest.approx(0.2)


def test_error_rows_and_curves():
    frames = []
    for region, e in (("cis", -1.0), ("inversion", -0.5)):
        a = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]])
        a.info.update({keys.REF_energy: e, "region": region})
        a.arrays[keys.REF_forces] = np.ones((2, 3))
        frames.append(a)
    rows = study.error_rows("m", 10, Dataset(frames), {"energies": [-1.1, -0.2], "forces": np.zeros((4, 3)).tolist()})
    assert rows["err_energy"].tolist() == pytest.approx([0.1, 0.3])
    assert rows["mae_forces"].tolist() == pytest.approx([1.0, 1.0])
    assert rows["group"].tolist() == ["cis", study.TRANSITION] and rows["frame"].tolist() == [0, 1]
    curves = study.learning_curves(rows)
    assert curves.loc[0, "err_energy"] == pytest.approx(0.2)
    cross = study.crossing(pd.DataFrame({"model": ["a", "a", "b"], "n_train": [10, 20, 10],
                                         "err_energy": [0.05, 0.03, 0.1], "mae_forces": [0, 0, 0]}))
    cross = cross.set_index("model")
    assert cross.loc["a", "smallest size below 1 kcal/mol"] == 20 and np.isnan(cross.loc["b", "smallest size below 1 kcal/mol"])


def sampled_frames(runs_per_place: int = 6, frames_per_run: int = 3) -> Dataset:
    """Synthetic frames: ``runs_per_place`` runs started at each region, each tagged with its region, except
    that the last frame of every path run strays into cis."""
    out, traj = [], 0
    for place in REGION_GROUP:
        for _ in range(runs_per_place):
            for k in range(frames_per_run):
                a = Atoms("H", positions=[[0, 0, 0.01 * len(out)]])
                stray = place in claims.MECHANISMS and k == frames_per_run - 1
                a.info.update({keys.TRAJECTORY: traj, "sampled_at": place, "region": "cis" if stray else place})
                out.append(a)
            traj += 1
    return Dataset(out)


def test_split_keeps_runs_whole_stratifies_the_test_set_and_checks_its_size():
    frames = sampled_frames()
    p = resolve("flexible_pes", "smoke", {"test_runs": 1, "test_frames": 4, "n_valid": 6,
                                          "curve_sizes": [10, 20]})
    a, b = study.split(frames, p), study.split(frames, p)
    assert a.test.fingerprint() == b.test.fingerprint() and a.train(10, 1).fingerprint() == b.train(10, 1).fingerprint()
    runs = {name: {x.info[keys.TRAJECTORY] for x in part} for name, part in
            (("test", a.test), ("valid", a.valid), ("pool", a.pool))}
    assert not (runs["test"] & runs["valid"]) and not (runs["test"] & runs["pool"]) and not (runs["valid"] & runs["pool"])
    assert len(a.test) + len(a.valid) + len(a.pool) == len(frames)
    # a run around a minimum holds 3 frames of its region, a path run 2: 4 frames take 2 runs of either kind,
    # although test_runs = 1 (counting a run's stray frames would stop the path runs at 2 runs too, but the
    # in-region count below would fail)
    for place in REGION_GROUP:
        mine = [x for x in a.test if x.info["sampled_at"] == place]
        assert len({x.info[keys.TRAJECTORY] for x in mine}) == 2
        assert sum(x.info["region"] == place for x in mine) >= 4
    assert len(runs["test"]) == 10 and len(a.valid) == 6
    assert a.train(10).fingerprint() != a.train(10, 1).fingerprint()
    assert {x.info[keys.TRAJECTORY] for x in a.train(20, 2)} <= runs["pool"]
    roomy = {"minimum_runs": 10, "path_runs": 5}  # the schema's own frame count allows what these frames lack
    with pytest.raises(ValueError, match="test_runs = 3 and test_frames = 20"):
        study.split(frames, resolve("flexible_pes", "smoke", {**roomy, "test_runs": 3, "test_frames": 20}))
    # with 3 frames of a path run 2 in its region, 4 in-region frames need 2 runs though test_runs is 1
    strays = sampled_frames(runs_per_place=6, frames_per_run=3)
    assert sum(x.info["sampled_at"] == "rotation" for x in study.split(strays, p).test) == 6
    with pytest.raises(ValueError, match="max\\(curve_sizes\\)"):
        study.split(frames, resolve("flexible_pes", "smoke", {"test_runs": 2, "test_frames": 4, "n_valid": 6,
                                                               "curve_sizes": [10, 60]}))


def test_every_claim_has_a_rule_and_a_distinct_key():
    assert len({c.key for c in claims.CLAIMS}) == len(claims.CLAIMS) == 4
    assert all(c.rule and not c.timed for c in claims.CLAIMS)


def test_reference_table_names_the_saddle_each_refinement_found():
    def saddle(torsion, angle, imaginary):
        return {"scan_barrier_eV": 0.8, "saddle_barrier_eV": 0.7, "saddle_imaginary": imaginary,
                "saddle_wavenumber_cm": -300.0, "saddle_torsion_deg": torsion, "saddle_angle1_deg": angle,
                "saddle_angle2_deg": 118.0, "saddle_converged": True}

    summary = {"mechanisms": {"rotation": saddle(1.0, 125.0, 1), "inversion": saddle(178.0, 174.0, 1),
                              "inversion-assisted rotation": saddle(95.0, 150.0, 2)}}
    table = study.reference_table(study.Reference(Dataset(), Dataset(), Dataset(), summary),
                                  study.region_rule(resolve("flexible_pes", "smoke"))).set_index("mechanism")
    assert table["saddle region (rule)"].tolist() == ["cis", "inversion", "inversion-assisted rotation"]
    assert table["saddle of this mechanism"].tolist() == [False, True, False]


def synthetic_results() -> study.Results:
    """A small Results built from synthetic records (no reference, no training)."""
    spec = {("sgdml", 10): uniform(0.02, 0.05, 2.0), ("gap", 10): uniform(0.02, 0.05, 2.0),
            ("sgdml", 20): uniform(0.01, 0.04, 2.0, 1.5), ("gap", 20): uniform(0.01, 0.03, 2.0, 1.5),
            ("local_gap", 20): uniform(0.008, 0.02)}
    raw = results(spec, frames=5)
    errors, profiles = pd.DataFrame(raw["errors"]), pd.DataFrame(raw["profiles"])
    curves = study.learning_curves(errors)
    pair = errors[errors["model"].isin(["gap", "local_gap"]) & (errors["n_train"] == 20)]
    summary = {"minima": {"cis": {"energy_rel_cis_eV": 0.0, "torsion_deg": 8.0},
                          "trans": {"energy_rel_cis_eV": -0.1, "torsion_deg": 180.0}},
               "mechanisms": {"rotation": {"scan_barrier_eV": 1.2, "saddle_converged": True}}}
    res = study.Results(
        errors=errors, profiles=profiles,
        fit_seconds=pd.DataFrame([{"model": m, "n_train": n, "fit_s": 1.5, "notes": "ok"} for m, n in spec]),
        paper_models=["sgdml", "gap"], local="local_gap", global_model="gap", reference_summary=summary,
        saddles=pd.DataFrame([{"mechanism": "rotation", "imaginary modes": 1, "saddle of this mechanism": True}]),
        cross_check=pd.DataFrame({"energy difference (eV)": ["trans - cis", "rotation saddle - cis"],
                                  "GFN2-xTB (reference)": [0.1, 1.2], "GFN1-xTB": [-0.2, 1.4]}),
        region_counts=pd.DataFrame({"region": list(REGION_GROUP), "all frames": [5] * 5, "test": [5] * 5}),
        frame_cvs=pd.DataFrame({"torsion_deg": [1.0, 90.0], "angle_deg": [115.0, 150.0],
                                "region": ["cis", "inversion-assisted rotation"]}),
        path_cvs=pd.DataFrame({"torsion_deg": [1.0], "angle_deg": [115.0], "mechanism": ["rotation"], "image": [0]}),
        curves=curves, crossing=study.crossing(curves), region_errors=study.region_errors(errors, 20),
        transition_ratios=pd.DataFrame(), barriers=study.barrier_table(profiles),
        local_vs_global=pair.groupby(["model", "group"])[["err_energy", "mae_forces"]].mean().reset_index(),
        cutoffs=pd.DataFrame())
    res.transition_ratios = claims.transition_ratios(res.claims_input())
    res.cutoffs = claims.cutoff_table(res.claims_input(), {"gap": 5.0, "sgdml": 8.0})
    return res


def test_results_round_trip_through_json_with_the_same_figures_and_verdicts():
    import json

    original = synthetic_results()
    back = study.Results.from_json(json.loads(json.dumps(original.to_json())))
    assert study.figures(back) == study.figures(original) and len(study.figures(original)) > 10
    for f in dataclasses.fields(study.Results):
        a, b = getattr(original, f.name), getattr(back, f.name)
        if isinstance(a, pd.DataFrame):
            pd.testing.assert_frame_equal(a.reset_index(drop=True), b, check_dtype=False)
        else:
            assert a == b
    assert back.claims_input()["global_model"] == "gap"
    assert C.judge(study.CLAIMS, back.claims_input(), "smoke") == C.judge(study.CLAIMS, original.claims_input(),
                                                                            "smoke")


def test_study_module_follows_the_contract():
    from paperlib.studies import STUDIES
    from paperlib.studies.contract import StudyParams, StudyResults

    assert STUDIES["flexible_pes"] is study
    assert issubclass(study.Params, StudyParams) and study.Params.STUDY == "flexible_pes"
    assert issubclass(study.Results, StudyResults) and study.CLAIMS is claims.CLAIMS
    # local_size below the largest curve size, so that the local comparison and the cut-off test are told apart
    p = study.Params.resolve("smoke", {"max_epochs": 2, "local_size": 15})
    assert isinstance(p, study.Params) and p.max_epochs == 2 and "device" not in p.to_dict()
    jobs = study.fit_jobs(p)
    curve = [j for j in jobs if j.draw == 0 and not j.long_cutoff and j.label in p.models and j.n in p.curve_sizes]
    assert len(curve) == len(p.models) * len(p.curve_sizes)
    assert {(j.label, j.draw) for j in jobs if j.n == p.local_size and j.label in ("gap", "local_gap")} == {
        (m, d) for m in ("gap", "local_gap") for d in range(p.local_draws)}
    assert len([j for j in jobs if (j.label, j.n, j.draw) == ("gap", p.local_size, 0)]) == 1
    # a draw after the first trains with a seed of its own
    drawn = study._settings(p, study.Job("gap", "gap", p.local_size, 1))
    assert drawn.seed != p.seed and study._settings(p, study.Job("gap", "gap", p.local_size, 0)).seed == p.seed
    assert [j for j in jobs if j.long_cutoff] == [study.Job(study.GAP_LONG, "gap", p.local_size, 0, True)]
    long = study._settings(p, jobs[-1])
    assert long.gap_cutoff_A == p.gap_long_cutoff_A and study._settings(p, jobs[0]).gap_cutoff_A == p.gap_cutoff_A


def test_params_pickle_for_the_executor():
    import pickle

    import cloudpickle

    p = study.Params.resolve("smoke", {"seed": 3})
    q = pickle.loads(cloudpickle.dumps(p))
    assert type(q) is study.Params and q.to_dict() == p.to_dict() and q.overrides == {"seed": 3}


def test_model_settings_keep_the_study_configs_and_take_the_device_from_the_options():
    from paperlib.studies import RunOptions

    p = study.Params.resolve("smoke")
    gap = study.make_model("gap", p).config
    assert (gap.n_max, gap.l_max, gap.cutoff_A, gap.n_sparse, gap.seed) == (6, 4, 5.0, p.gap_n_sparse, p.seed)
    assert study.make_model("sgdml", p).config.sigmas == tuple(p.sgdml_sigmas)
    net = study.make_model("bpnn", p, RunOptions(device="cpu")).config
    assert net.device == "cpu" and net.train.patience == 50 and net.train.max_epochs == p.max_epochs
    # a local set shares the global model's sparse points among its three members
    assert "device" not in study.model_settings("gap", p)
    assert study.model_settings("local_gap", p)["n_sparse"] == p.gap_n_sparse // 3 == 10
    assert study.model_settings("local_gap", p)["cutoff_A"] == p.gap_cutoff_A


def test_frames_split_one_by_one_decide_nothing():
    """With test frames taken frame by frame from the training runs, every claim's interval is undefined and
    n counts the MD runs behind the test frames."""
    spec = with_baseline({("sgdml", 200): {r: (0.001, 0.01) for r in REGION_GROUP},
                          **local_spec((0.001, 0.01), (0.0005, 0.005), n=200)}, 0.1)
    decided = results(spec)
    leaky = results(spec, split_by_trajectory=False)
    for row in leaky["errors"]:
        row["trajectory"] = row["frame"] % 4
    for judge in (claims.judge_global_accuracy, claims.judge_regions, claims.judge_local):
        ev, ev_leaky = judge(decided), judge(leaky)
        assert ev_leaky.value == pytest.approx(ev.value) and np.isnan(ev_leaky.ci_low) and ev_leaky.n == 4
        assert not ev_leaky.powered and C.verdict_of(ev_leaky) == C.INCONCLUSIVE and "one by one" in ev_leaky.method
    assert C.verdict_of(claims.judge_local(decided)) == C.REPRODUCED


def test_a_path_run_is_held_by_its_scan_images_own_targets():
    from ase.calculators.emt import EMT

    from tests.sampling.test_azobenzene import azomethane

    cis, trans = azomethane(5.0, 120.0, 120.0), azomethane(175.0, 118.0, 118.0)
    image = azomethane(88.0, 124.0, 124.0)
    image.info.update(mechanism="rotation", image=2)
    held = study.path_restraint(image, cis, trans, 5, 155.0)(EMT())
    # rotation: the torsion half way from cis to trans, the angles free (as the scan left them)
    assert held.dihedral_deg == pytest.approx(90.0) and held.angle_deg is None
    assert held.k == study.RESTRAINT_EV_RAD2 and held.indices == (0, 1, 2, 3)
    image.info.update(mechanism="inversion", image=1)
    held = study.path_restraint(image, cis, trans, 5, 155.0)(EMT())
    assert held.dihedral_deg is None and 120.0 < held.angle_deg < 176.0


def test_cross_check_recomputes_the_same_structures_with_gfn1(cache):
    from paperlib.reference.xtb import XTBSettings, label, xtb_calculator

    water = Atoms("OH2", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    shapes = [water.copy() for _ in range(3)]
    shapes[1].positions[1, 0] += 0.05
    shapes[2].positions[2, 1] += 0.08
    gfn2 = [label(a, xtb_calculator()) for a in shapes]
    for a, kind in zip(gfn2[:2], ("cis", "trans")):
        a.info["kind"] = kind
    gfn2[2].info["mechanism"] = "rotation"
    ref = study.Reference(Dataset(gfn2[:2]), Dataset(), Dataset(gfn2[2:]), {})
    table = study.cross_check(resolve("flexible_pes", "smoke"), cache, ref).set_index("energy difference (eV)")
    e2 = [a.info[keys.REF_energy] for a in gfn2]
    e1 = [label(a, xtb_calculator(XTBSettings(method="GFN1-xTB"))).info[keys.REF_energy] for a in shapes]
    assert table.loc["trans - cis", "GFN2-xTB (reference)"] == pytest.approx(e2[1] - e2[0], abs=1e-10)
    assert table.loc["rotation saddle - cis", "GFN1-xTB"] == pytest.approx(e1[2] - e1[0], abs=1e-6)
    assert list(table.columns) == ["GFN2-xTB (reference)", "GFN1-xTB"]
    assert abs(table.loc["trans - cis", "GFN1-xTB"] - table.loc["trans - cis", "GFN2-xTB (reference)"]) > 1e-4


def runs_of_frames(spec: dict, frames_per_run: int = 5, runs: int = 12, seed: int = 2) -> dict:
    """Synthetic results whose test runs hold several frames each: ``runs`` runs per place (the minima and each
    mechanism), every run offset by its own factor (frames of a run are correlated), and the path runs' first
    frame in cis."""
    rng = np.random.default_rng(seed)
    rows, frame, traj = [], 0, 0
    for place in REGION_GROUP:
        for _ in range(runs):
            shift = rng.uniform(0.5, 1.5)
            for k in range(frames_per_run):
                region = "cis" if place in claims.MECHANISMS and k == 0 else place
                for (model, n), by_region in spec.items():
                    e, f = by_region[region]
                    rows.append({"model": model, "n_train": n, "draw": 0, "frame": frame, "trajectory": traj,
                                 "sampled_at": place, "region": region,
                                 "group": study.region_group(region, place),
                                 "err_energy": e * shift, "mae_forces": f * shift})
                frame += 1
            traj += 1
    return {"errors": rows, "profiles": [], "paper_models": ["gap"], "local": "local_gap", "global_model": "gap",
            "split_by_trajectory": True}


def test_regions_bootstrap_resamples_whole_runs_and_leaves_path_frames_near_a_minimum_out():
    spec = {("gap", 100): {**uniform(0.02, 0.05), **{r: (0.06, 0.15) for r in claims.MECHANISMS}}}
    res = runs_of_frames(spec)
    ev = claims.judge_regions(res)
    e = pd.DataFrame(res["errors"])
    near = e[e["group"].isin(["cis", "trans"])]
    trans = e[e["group"] == claims.TRANSITION]
    assert set(e.loc[e["group"] == claims.PATH_NEAR, "sampled_at"]) == set(claims.MECHANISMS)
    assert ev.value == pytest.approx(np.log(3.0), rel=0.2)
    # direct cluster bootstrap: the runs around the minima and the path runs, each resampled separately
    runs_near = [g.index.to_numpy() for _, g in near.groupby("trajectory")]
    runs_path = [g.index.to_numpy() for _, g in e[e["sampled_at"].isin(claims.MECHANISMS)].groupby("trajectory")]

    def stat(a, b):
        idx = np.concatenate([runs_near[int(k)] for k in a] + [runs_path[int(k)] for k in b])
        sub = e.loc[idx]
        return min(np.log(sub.loc[sub["group"] == claims.TRANSITION, c].mean() /
                          sub.loc[sub["group"].isin(["cis", "trans"]), c].mean()) for c in ("err_energy", "mae_forces"))

    direct = intervals.bootstrap_interval([np.arange(len(runs_near), dtype=float), np.arange(len(runs_path), dtype=float)],
                                          stat, seed=claims.SEED)
    assert (ev.ci_low, ev.ci_high) == pytest.approx((direct.low, direct.high), rel=1e-9)
    assert ev.n == 24 and ev.powered and len(near) == 120 and len(trans) == 144
    # resampling frames instead of runs would ignore the run-to-run spread: its interval is narrower
    per_frame = intervals.bootstrap_interval(
        [near["mae_forces"].to_numpy(), trans["mae_forces"].to_numpy()], lambda n, t: np.log(t.mean() / n.mean()),
        seed=claims.SEED)
    assert per_frame.high - per_frame.low < ev.ci_high - ev.ci_low


def test_region_groups_and_majority_with_an_undefined_model():
    assert study.region_group("cis", "cis") == "cis"
    assert study.region_group("cis", "rotation") == claims.PATH_NEAR
    assert study.region_group("inversion", "trans") == claims.TRANSITION
    assert np.isnan(claims._majority([np.nan, 0.1, 0.3]))


def test_mechanisms_take_every_frame_of_a_paths_runs_so_every_resample_has_each_mechanism():
    spec = {("gap", 100): {**uniform(0.02, 0.05), "inversion": (0.04, 0.10)}}
    res = runs_of_frames(spec)
    ev = claims.judge_mechanisms(res)
    e = pd.DataFrame(res["errors"])
    means = e[e["sampled_at"].isin(claims.MECHANISMS)].groupby("sampled_at")["mae_forces"].mean()
    assert ev.value == pytest.approx(np.log(means.max() / means.min()))
    assert np.isfinite(ev.ci_low) and ev.n == 12 and ev.powered and C.verdict_of(ev) == C.REPRODUCED
    assert "in its region" in ev.context
