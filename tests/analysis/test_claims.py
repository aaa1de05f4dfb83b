import json

import pandas as pd
import pytest

from paperlib.analysis import claims as C
from paperlib.studies.nacl_selection import CLAIMS, judge_force_errors, judge_rdf


def errors(rmse: dict, spread: float = 0.001, n: int = 3):
    rows = []
    for method, value in rmse.items():
        for r in range(n):
            v = value + spread * (r - 1)
            rows.append({"model": "schnet_small", "method": method, "replicate": r, "force_rmse": v,
                         "force_max": 10 * v})
    return {"errors": rows}


def test_force_claim_reproduced_not_reproduced_and_inconclusive():
    good = {"uniform_atomic_energy": 0.10, "uniform_force": 0.11, "uniform_energy": 0.20, "random": 0.21}
    assert judge_force_errors(errors(good))[0] == C.REPRODUCED
    reversed_ = {"uniform_atomic_energy": 0.30, "uniform_force": 0.31, "uniform_energy": 0.20, "random": 0.21}
    assert judge_force_errors(errors(reversed_))[0] == C.NOT_REPRODUCED
    mixed = {"uniform_atomic_energy": 0.20, "uniform_force": 0.2005, "uniform_energy": 0.2003, "random": 0.21}
    verdict, measured = judge_force_errors(errors(mixed))
    assert verdict == C.INCONCLUSIVE and "comparisons favour" in measured


def test_rdf_claim():
    def md(e_flags, a_flags):
        rows = [{"method": "uniform_energy", "nonphysical": f} for f in e_flags]
        rows += [{"method": "uniform_atomic_energy", "nonphysical": f} for f in a_flags]
        return {"md": rows}

    assert judge_rdf(md([True, False], [False, False]))[0] == C.REPRODUCED
    assert judge_rdf(md([False, False], [False, False]))[0] == C.NOT_REPRODUCED
    assert judge_rdf(md([True, True], [True, False]))[0] == C.INCONCLUSIVE
    assert judge_rdf({"md": []})[0] == C.INCONCLUSIVE


def test_results_and_dashboard(tmp_path):
    verdicts = C.judge(CLAIMS, {**errors({"uniform_atomic_energy": 0.1, "uniform_force": 0.1,
                                          "uniform_energy": 0.2, "random": 0.2}),
                                "md": [{"method": "uniform_energy", "nonphysical": True},
                                       {"method": "uniform_atomic_energy", "nonphysical": False}]}, "smoke")
    path = tmp_path / "nacl" / "results.json"
    C.write_results(path, study="nacl", title="NaCl", profile="smoke", params={"n": 1}, figures={"x": 1.5},
                    verdicts=verdicts, provenance={"commit": "abc"})
    data = json.loads(path.read_text())
    assert [c["verdict"] for c in data["claims"]] == [C.REPRODUCED, C.REPRODUCED]
    page = C.dashboard_markdown([path])
    assert "## NaCl" in page and "2 reproduced, 0 not reproduced" in page
    assert page.count("**reproduced**") == 2
    table = C.claims_table(verdicts)
    assert list(table.columns) == ["claim", "paper's claim", "measured here", "profile", "verdict"]


def test_rule_must_return_a_known_verdict():
    bad = C.Claim("x", "claim", "rule", lambda r: ("probably", ""))
    with pytest.raises(ValueError, match="'probably'"):
        C.judge([bad], {}, "smoke")
    assert isinstance(C.rules_table(CLAIMS), pd.DataFrame)
