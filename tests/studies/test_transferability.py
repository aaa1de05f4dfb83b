import numpy as np
import pytest

from paperlib.analysis import claims as C
from paperlib.params import resolve
from paperlib.sampling.liquids import SOLVENTS
from paperlib.studies import transferability as study
from paperlib.studies import transferability_analysis as analysis
from paperlib.studies import transferability_claims as claims

ALGS = ("mace", "deepmd")


def md_record(alg, origin, liquid, survived, own_f, duration_fs=10000.0):
    return {"algorithm": alg, "origin": origin, "liquid": liquid, "survived fraction": survived,
            "duration (fs)": duration_fs,
            "own-trajectory force MAE (eV/Å)": own_f, "score": analysis.score(survived, own_f, 0.1)}


def synthetic(runs: dict, test_f: dict, unseen: dict | None = None) -> dict:
    """runs: {(alg, origin): (survived, own force MAE)} on EC; test_f: {(alg, origin): test force MAE};
    unseen: {(alg, origin, liquid): survived}."""
    md = [md_record(a, o, "EC", *v) for (a, o), v in runs.items()]
    md += [md_record(a, o, liq, s, 0.2) for (a, o, liq), s in (unseen or {}).items()]
    errors = [{"algorithm": a, "origin": o, "set": "test", "force MAE (eV/Å)": f} for (a, o), f in test_f.items()]
    return {"md": md, "errors": errors, "liquid": "EC"}


def paper_like() -> dict:
    runs = {("mace", "simple"): (1.0, 0.05), ("deepmd", "simple"): (0.2, 0.3),
            ("mace", "corrective"): (1.0, 0.04), ("deepmd", "corrective"): (0.6, 0.2),
            ("mace", "automatic_mace"): (1.0, 0.04), ("deepmd", "automatic_mace"): (0.2, 0.3),
            ("mace", "automatic_deepmd"): (1.0, 0.05), ("deepmd", "automatic_deepmd"): (0.9, 0.15)}
    test_f = {k: (0.05 if k[0] == "mace" else 0.06) for k in runs}
    unseen = {(a, o, liq): (1.0 if liq == "PC" else 0.3) for a in ALGS for o in ("simple", "corrective")
              for liq in ("PC", "VC")}
    return synthetic(runs, test_f, unseen)


def test_mixture_density_is_ideal_mixing_of_specific_volumes():
    rho = study.mixture_density(["EC", "EMC"], [3, 7])
    assert 1 / rho == pytest.approx(0.3 / SOLVENTS["EC"].density_g_cm3 + 0.7 / SOLVENTS["EMC"].density_g_cm3)
    assert study.mixture_density(["PC"], [1.0]) == pytest.approx(SOLVENTS["PC"].density_g_cm3)


def test_claims_on_paper_like_results_are_reproduced():
    verdicts = {v.key: v.verdict for v in C.judge(claims.CLAIMS, paper_like(), "default")}
    assert verdicts == {"simple_sets": C.REPRODUCED, "corrective_transfer": C.REPRODUCED,
                        "md_stringent": C.REPRODUCED, "unseen_molecules": C.REPRODUCED}


def test_claims_on_opposite_results_are_not_reproduced():
    runs = {("mace", "simple"): (0.3, 0.3), ("deepmd", "simple"): (1.0, 0.05),
            ("mace", "corrective"): (0.1, 0.3), ("deepmd", "corrective"): (1.0, 0.05),
            ("mace", "automatic_mace"): (0.5, 0.3), ("deepmd", "automatic_mace"): (1.0, 0.04),
            ("mace", "automatic_deepmd"): (0.9, 0.1), ("deepmd", "automatic_deepmd"): (1.0, 0.04)}
    # test errors rank the models exactly as MD does, and accurate ones survive
    test_f = {k: 0.3 - 0.25 * analysis.score(*v, 0.1) for k, v in runs.items()}
    unseen = {("deepmd", o, liq): 1.0 for o in ("simple", "corrective") for liq in ("PC", "VC")}
    verdicts = {v.key: v.verdict for v in C.judge(claims.CLAIMS, synthetic(runs, test_f, unseen), "default")}
    assert verdicts == {"simple_sets": C.NOT_REPRODUCED, "corrective_transfer": C.NOT_REPRODUCED,
                        "md_stringent": C.NOT_REPRODUCED, "unseen_molecules": C.NOT_REPRODUCED}
    # the same outcome from runs too short to show stability: the verdicts resting on survival stay open
    short = synthetic(runs, test_f, unseen)
    for r in short["md"]:
        r["duration (fs)"] = 200.0
    verdicts = {v.key: v.verdict for v in C.judge(claims.CLAIMS, short, "default")}
    assert verdicts["md_stringent"] == verdicts["unseen_molecules"] == C.INCONCLUSIVE
    assert verdicts["simple_sets"] == verdicts["corrective_transfer"] == C.NOT_REPRODUCED


def test_claims_are_inconclusive_when_nothing_separates_the_models():
    runs = {(a, o): (0.1, 0.5) for a in ALGS for o in study.ORIGINS}
    verdicts = {v.key: v.verdict for v in C.judge(claims.CLAIMS, synthetic(runs, {k: 0.5 for k in runs}), "smoke")}
    assert verdicts["corrective_transfer"] == C.INCONCLUSIVE
    assert verdicts["unseen_molecules"] == C.INCONCLUSIVE   # no model survives the training liquid


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
    p = resolve("transferability", "smoke", {"foundation_model": str(tmp_path / "model" / "model.model")})
    evaluate = study.evaluation_sets(sets)
    fitted, run = study.foundation(p, cache, evaluate)
    assert fitted.origin == study.FOUNDATION and run.origin == study.FOUNDATION
    assert set(fitted.predictions) == set(evaluate)
    np.testing.assert_allclose(fitted.predictions["test"]["energies"], model.predict(list(sets["test"])).energies,
                               rtol=1e-12)
    assert run.summary["duration_fs"] == p.md_steps * p.timestep_fs and len(run.own) == p.own_frames
    errors = analysis.fixed_errors([fitted], evaluate)
    assert set(errors["set"]) == set(evaluate) and (errors["force MAE (eV/Å)"] > 0).all()
    assert study.foundation(resolve("transferability", "smoke"), cache, evaluate) is None
