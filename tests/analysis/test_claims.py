import itertools
import json
import math

import pandas as pd
import pytest

from paperlib.analysis import claims as C
from paperlib.analysis.intervals import Interval


def ev(lo, hi, threshold=1.0, n=5, powered=True, value=None):
    value = (lo + hi) / 2 if value is None else value
    return C.Evidence("ratio", value, lo, hi, threshold, n, "test", powered)


def test_the_rule():
    assert C.verdict_of(ev(1.1, 2.0)) == C.REPRODUCED
    assert C.verdict_of(ev(0.5, 0.9)) == C.NOT_REPRODUCED
    assert C.verdict_of(ev(0.5, 0.9, powered=False)) == C.INCONCLUSIVE
    assert C.verdict_of(ev(0.9, 1.1)) == C.INCONCLUSIVE
    assert C.verdict_of(ev(1.1, 2.0, n=2)) == C.INCONCLUSIVE
    assert C.verdict_of(ev(math.nan, math.nan, value=1.5)) == C.INCONCLUSIVE
    assert C.verdict_of(None) == C.INCONCLUSIVE
    # The boundary belongs to neither decided verdict: the interval must clear the threshold.
    assert C.verdict_of(ev(1.0, 2.0)) == C.INCONCLUSIVE and C.verdict_of(ev(0.5, 1.0)) == C.INCONCLUSIVE


@pytest.mark.parametrize("lo,hi,n,powered", itertools.product([0.2, 0.99, 1.0, 1.01, 3.0], [0.5, 1.0, 1.02, 4.0],
                                                              [2, 3, 10], [True, False]))
def test_no_judge_can_state_a_verdict_its_interval_contradicts(lo, hi, n, powered):
    """Whatever evidence a judge returns, the stored verdict is the one the rule derives, and the
    independent checker (``rule_problems``) finds nothing wrong with the entry ``judge`` writes."""
    if lo > hi:
        return
    claim = C.Claim("x", "a claim", "a rule", lambda r: ev(lo, hi, n=n, powered=powered))
    (v,) = C.judge([claim], {}, "smoke")
    assert C.rule_problems(json.loads(json.dumps({**v.__dict__}))) == []
    if v.verdict == C.REPRODUCED:
        assert lo > 1.0 and n >= 3
    if v.verdict == C.NOT_REPRODUCED:
        assert hi < 1.0 and powered and n >= 3


def test_checker_catches_a_verdict_its_evidence_does_not_support():
    (v,) = C.judge([C.Claim("x", "c", "r", lambda r: ev(0.9, 1.1))], {}, "smoke")
    entry = {**v.__dict__, "verdict": C.REPRODUCED}
    assert any("decides" in p for p in C.rule_problems(entry))
    assert C.rule_problems({**v.__dict__, "evidence": None, "verdict": C.NOT_REPRODUCED})
    assert C.rule_problems({k: x for k, x in v.__dict__.items() if k != "evidence"}) == ["no 'evidence' field"]
    outside = {**v.__dict__, "evidence": {**v.evidence, "value": 5.0}}
    assert any("outside" in p for p in C.rule_problems(outside))


def test_judge_rejects_anything_but_evidence():
    bad = C.Claim("x", "claim", "rule", lambda r: ("reproduced", "typed by hand"))
    with pytest.raises(TypeError, match="Evidence or None"):
        C.judge([bad], {}, "smoke")


def test_absent_evidence_is_inconclusive_and_stored_as_null():
    (v,) = C.judge([C.Claim("x", "c", "r", lambda r: None)], {}, "smoke")
    assert v.verdict == C.INCONCLUSIVE and v.evidence is None


def test_non_finite_bounds_are_stored_as_null():
    e = C.Evidence.from_interval("s", Interval(1.0, math.nan, math.nan, 1, "t"), 0.0, True)
    d = e.as_dict()
    assert set(d) == set(C.EVIDENCE_KEYS) and d["ci_low"] is None and d["ci_high"] is None
    json.dumps(d, allow_nan=False)


def test_results_dashboard_and_table_show_the_evidence(tmp_path):
    claims = [C.Claim("a", "A holds.", "rule a", lambda r: ev(1.2, 1.6, threshold=1.0, n=4)),
              C.Claim("b", "B holds.", "rule b", lambda r: None)]
    verdicts = C.judge(claims, {}, "default")
    path = tmp_path / "s" / "results.json"
    C.write_results(path, study="s", title="Study S", profile="default", params={"n": 1}, figures={"x": 1.5},
                    verdicts=verdicts, provenance={"commit": "abc"})
    data = json.loads(path.read_text())
    assert [c["verdict"] for c in data["claims"]] == [C.REPRODUCED, C.INCONCLUSIVE]
    assert data["claims"][0]["evidence"]["ci_low"] == 1.2 and data["claims"][1]["evidence"] is None
    assert all(C.rule_problems(c) == [] for c in data["claims"])
    page = C.dashboard_markdown([path])
    assert "## Study S" in page and "1 reproduced, 0 not reproduced, 1 inconclusive" in page
    assert "| [1.2, 1.6] | 1 | 4 | **reproduced** |" in page
    table = C.claims_table(verdicts)
    assert list(table.columns) == ["claim", "paper's claim", "measured here", "value", "95 % interval", "threshold",
                                   "n", "profile", "verdict"]
    assert table.loc[1, "95 % interval"] == "-" and table.loc[1, "verdict"] == C.INCONCLUSIVE
    assert isinstance(C.rules_table(claims), pd.DataFrame)


def test_the_dashboard_sets_a_claims_profiles_side_by_side(tmp_path):
    def write(folder, profile, low, high, overrides=None, started="2026-12-01 10:00:00 UTC"):
        claims = [C.Claim("a", "A holds.", "rule a", lambda r: ev(low, high, threshold=1.0, n=4))]
        path = tmp_path / folder / "results.json"
        C.write_results(path, study="s", title="Study S", profile=profile, params={}, figures={},
                        verdicts=C.judge(claims, {}, profile),
                        provenance={"overrides": overrides or {}, "started": started})
        return path

    book = write("book", "default", 1.2, 1.6)
    assert "How each claim fares with scale" not in C.dashboard_markdown([book])
    runs = [write("gpu", "gpu", 1.1, 1.3), write("smoke-old", "smoke", 2.0, 3.0),
            write("smoke", "smoke", 0.2, 3.0, started="2026-12-02 09:00:00 UTC"),
            write("overridden", "gpu", 0.1, 0.2, overrides={"n": 2})]
    page = C.dashboard_markdown([book], runs)
    table = page.split("How each claim fares with scale")[1]
    # smallest scale first; the latest smoke run; the run with an override is not a profile's result
    assert "| claim | `smoke` | `default` | `gpu` |" in table
    assert "| a | **inconclusive at this scale** 1.6 [0.2, 3] | **reproduced** 1.4 [1.2, 1.6] | " \
           "**reproduced** 1.2 [1.1, 1.3] |" in table
