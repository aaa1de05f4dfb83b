import numpy as np
import pandas as pd
import pytest

from paperlib.analysis import claims as C
from paperlib.params import resolve
from paperlib.studies import hessian_training as S
from paperlib.studies import hessian_training_claims as HC

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


def errors(ef: tuple[float, float, float], efh: tuple[float, float, float]) -> list[dict]:
    rows = []
    for mode, values in ((EF, ef), (EFH, efh)):
        for scale in (0.5, 1.5):   # two geometries per mode; the mean is ``values``
            rows.append({"mode": mode, **{k: v * scale for k, v in zip(S.METRICS, values)}})
    return rows


@pytest.mark.parametrize("efh, verdict", [((0.5, 0.5, 0.5), C.REPRODUCED), ((1.0, 0.9, 1.1), C.NOT_REPRODUCED),
                                          ((0.5, 1.0, 0.5), C.INCONCLUSIVE)])
def test_extrapolation_rule(efh, verdict):
    got, measured = HC.judge_extrapolation({"errors": errors((1.0, 1.0, 1.0), efh), "judged": EFH})
    assert got == verdict
    assert "energy 2.00x" in measured or verdict != C.REPRODUCED


def searches(mode: str, barrier_errors, confirmed, rmsd, freq) -> list[dict]:
    return [{"mode": mode, "reaction": f"r{i}", "barrier_error_eV": b, "ts_confirmed": c, "ts_rmsd_A": r,
             "freq_mae_minima_cm": f, "freq_mae_ts_cm": f}
            for i, (b, c, r, f) in enumerate(zip(barrier_errors, confirmed, rmsd, freq))]


def test_barrier_ts_and_frequency_rules():
    good = searches(EFH, [0.05, 0.05], [True, True], [0.01, 0.02], [20.0, 40.0])
    bad = searches(EF, [0.2, np.nan], [True, False], [0.1, 0.3], [100.0, 200.0])
    res = {"searches": good + bad, "judged": EFH}
    assert HC.judge_barriers(res)[0] == C.REPRODUCED
    assert HC.judge_transition_states(res)[0] == C.REPRODUCED
    assert HC.judge_frequencies(res)[0] == C.REPRODUCED
    assert "2/2" in HC.judge_transition_states(res)[1]
    swapped = [{**r, "mode": EF if r["mode"] == EFH else EFH} for r in good + bad]
    res = {"searches": swapped, "judged": EFH}
    assert HC.judge_barriers(res)[0] == C.NOT_REPRODUCED    # more failed searches
    assert HC.judge_transition_states(res)[0] == C.NOT_REPRODUCED
    assert HC.judge_frequencies(res)[0] == C.NOT_REPRODUCED
    same = searches(EF, [0.1, 0.1], [True, True], [0.05, 0.05], [50.0, 50.0])
    res = {"searches": same + [{**r, "mode": EFH} for r in same], "judged": EFH}
    assert HC.judge_barriers(res)[0] == C.INCONCLUSIVE
    assert HC.judge_transition_states(res)[0] == C.INCONCLUSIVE
    assert HC.judge_frequencies(res)[0] == C.INCONCLUSIVE


@pytest.mark.parametrize("efh_forces, verdict", [((0.9, 0.5), C.REPRODUCED), ((1.2, 0.9), C.INCONCLUSIVE),
                                                 ((1.5, 1.1), C.NOT_REPRODUCED)])
def test_less_data_rule(efh_forces, verdict):
    curve = [{"n_reactions": n, "mode": EF, "mae_forces": f} for n, f in ((2, 1.5), (4, 1.0))]
    curve += [{"n_reactions": n, "mode": EFH, "mae_forces": f} for n, f in zip((2, 4), efh_forces)]
    assert HC.judge_less_data({"curve": curve, "judged": EFH})[0] == verdict


def test_cost_rule_and_timed_claim():
    costs = [{"mode": EF, "ratio_to_E+F": 1.0}, {"mode": "E+F+H (full)", "ratio_to_E+F": 9.0},
             {"mode": EFH, "ratio_to_E+F": 2.5}]
    verdict, measured = HC.judge_cost({"costs": costs})
    assert verdict == C.REPRODUCED and "9.0x" in measured and "k=4) 2.5x" in measured
    costs[1]["ratio_to_E+F"] = 1.1
    assert HC.judge_cost({"costs": costs})[0] == C.NOT_REPRODUCED
    assert [c.timed for c in HC.CLAIMS] == [False] * 5 + [True]


def test_summary_figures_hold_no_timings():
    res = {"errors": errors((1.0, 1.0, 1.0), (0.5, 0.5, 0.5)),
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
