import numpy as np
import pandas as pd
import pytest
from ase import Atoms

from paperlib import keys
from paperlib.analysis import claims as C
from paperlib.data.dataset import Dataset
from paperlib.params import resolve
from paperlib.studies import flexible_pes as study
from paperlib.studies import flexible_pes_claims as claims

REGION_GROUP = {"cis": "cis", "trans": "trans", "rotation": "transition", "inversion": "transition",
                "inversion-assisted rotation": "transition"}


def errors(spec: dict[tuple[str, int], dict[str, tuple[float, float]]], frames: int = 6) -> list[dict]:
    """Synthetic per-frame error records: {(model, n_train): {region: (energy error, force MAE)}}."""
    rows = []
    for (model, n), by_region in spec.items():
        for region, (e, f) in by_region.items():
            rows += [{"model": model, "n_train": n, "region": region, "group": REGION_GROUP[region],
                      "err_energy": e, "mae_forces": f}] * frames
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


def results(spec, local="local_gap", glob="gap") -> dict:
    models = sorted({m for m, _ in spec})
    return {"errors": errors(spec), "profiles": profile_records(models), "paper_models": ["sgdml", "gap"],
            "local": local, "global": glob}


def test_global_accuracy_rules():
    good = {("sgdml", 50): uniform(0.06, 0.1), ("sgdml", 200): uniform(0.03, 0.05),
            ("gap", 50): uniform(0.04, 0.1), ("gap", 200): uniform(0.02, 0.05)}
    verdict, measured = claims.judge_global_accuracy(results(good))
    assert verdict == C.REPRODUCED and "gap: 50 points" in measured and "sgdml: 200 points" in measured
    short = {**good, ("sgdml", 200): uniform(0.05, 0.05)}
    assert claims.judge_global_accuracy(results(short))[0] == C.INCONCLUSIVE
    full = {("sgdml", 1000): uniform(0.05, 0.05), ("gap", 1000): uniform(0.02, 0.05)}
    assert claims.judge_global_accuracy(results(full))[0] == C.NOT_REPRODUCED


def test_transition_region_rules():
    harder = {("sgdml", 100): uniform(0.02, 0.05, 2.0), ("gap", 100): uniform(0.02, 0.05, 2.0),
              ("local_gap", 100): uniform(0.02, 0.05, 1.1)}
    verdict, measured = claims.judge_regions(results(harder))
    assert verdict == C.REPRODUCED and "gap 2.00x, 2.00x" in measured
    easier = {("sgdml", 100): uniform(0.02, 0.05, 0.8), ("gap", 100): uniform(0.02, 0.05, 0.5)}
    assert claims.judge_regions(results(easier))[0] == C.NOT_REPRODUCED
    ratios = claims.transition_ratios(results(harder)).set_index("model")
    assert ratios.loc["gap", "mae_forces"] == pytest.approx(2.0)
    assert ratios.loc["gap", "transition frames"] == 18 and ratios.loc["gap", "near-equilibrium frames"] == 12


def test_mechanism_rules():
    differ = {("sgdml", 100): uniform(0.02, 0.05, 1.0, 2.0), ("gap", 100): uniform(0.02, 0.05, 1.0, 1.6)}
    verdict, measured = claims.judge_mechanisms(results(differ))
    assert verdict == C.REPRODUCED and "largest scan-barrier error: gap inversion" in measured
    same = {("sgdml", 100): uniform(0.02, 0.05, 1.0, 1.05), ("gap", 100): uniform(0.02, 0.05, 1.0, 1.1)}
    assert claims.judge_mechanisms(results(same))[0] == C.NOT_REPRODUCED
    few = results(differ)
    few["errors"] = [r for r in few["errors"] if r["region"] != "rotation"]
    assert claims.judge_mechanisms(few)[0] == C.INCONCLUSIVE


def test_local_model_rules():
    better = {("gap", 100): uniform(0.04, 0.10), ("local_gap", 100): uniform(0.02, 0.05)}
    verdict, measured = claims.judge_local(results(better))
    assert verdict == C.REPRODUCED and "2.00x, 2.00x" in measured
    worse = {("gap", 100): uniform(0.02, 0.05), ("local_gap", 100): uniform(0.03, 0.06)}
    assert claims.judge_local(results(worse))[0] == C.NOT_REPRODUCED
    mixed = {("gap", 100): uniform(0.02, 0.10), ("local_gap", 100): uniform(0.03, 0.05)}
    assert claims.judge_local(results(mixed))[0] == C.INCONCLUSIVE


def test_only_the_largest_size_is_judged_for_regions_and_local():
    spec = {("gap", 50): uniform(0.02, 0.05), ("local_gap", 50): uniform(0.5, 0.5),
            ("gap", 100): uniform(0.04, 0.10), ("local_gap", 100): uniform(0.02, 0.05)}
    assert claims.judge_local(results(spec))[0] == C.REPRODUCED


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
    assert rows["group"].tolist() == ["cis", study.TRANSITION]
    curves = study.learning_curves(rows)
    assert curves.loc[0, "err_energy"] == pytest.approx(0.2)
    cross = study.crossing(pd.DataFrame({"model": ["a", "a", "b"], "n_train": [10, 20, 10],
                                         "err_energy": [0.05, 0.03, 0.1], "mae_forces": [0, 0, 0]}))
    cross = cross.set_index("model")
    assert cross.loc["a", "smallest size below 1 kcal/mol"] == 20 and np.isnan(cross.loc["b", "smallest size below 1 kcal/mol"])


def test_split_is_seeded_disjoint_and_checks_its_size():
    frames = Dataset([Atoms("H", positions=[[0, 0, 0.01 * i]]) for i in range(60)])
    p = resolve("flexible_pes", "smoke")
    a, b = study.split(frames, p), study.split(frames, p)
    assert a.test.fingerprint() == b.test.fingerprint()
    z = [float(x.positions[0, 2]) for part in (a.test, a.valid, a.pool) for x in part]
    assert len(set(z)) == 60
    assert a.train(10).fingerprint() == a.pool.subset(np.arange(10)).fingerprint()
    with pytest.raises(ValueError, match="max\\(curve_sizes\\)"):
        study.split(frames.subset(np.arange(30)), p)


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
