"""Claims: a paper's finding, the experiment's evidence about it, and the verdict that evidence decides.

A study declares its claims (with their rules) before it computes anything; the notebook shows the rules
first and the verdicts last. A claim's judge returns :class:`Evidence` (a statistic with its 95 % interval,
the threshold the paper's claim needs it to exceed, the number of independent units and whether the
experiment met the budget its rule states for a negative verdict), never a verdict: :func:`verdict_of` is
the only place a verdict is decided, so no judge can state one its numbers do not support.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from paperlib.analysis.intervals import Interval

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive at this scale"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE)
MIN_UNITS = 3
EVIDENCE_KEYS = ("statistic", "value", "ci_low", "ci_high", "threshold", "n", "method", "powered")


def number_text(x: float | None) -> str:
    """A figure for the measured-here text: three significant digits, ``undefined`` when absent or not finite."""
    return "undefined" if x is None or not math.isfinite(x) else f"{x:.3g}"


def _finite_or_none(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


@dataclasses.dataclass(frozen=True)
class Evidence:
    """What an experiment measured about a claim, oriented so that larger values support the paper.

    ``statistic`` names the measured quantity in words; ``value`` and ``[ci_low, ci_high]`` are its point
    estimate and 95 % interval; ``threshold`` is what the paper's claim needs the statistic to exceed;
    ``n`` counts the independent units behind the interval; ``method`` says how it was computed;
    ``powered`` says whether the experiment met the budget its rule states for a negative verdict.
    ``context`` holds further figures shown beside the evidence that do not enter the verdict.
    """

    statistic: str
    value: float
    ci_low: float
    ci_high: float
    threshold: float
    n: int
    method: str
    powered: bool
    context: str = ""

    @classmethod
    def from_interval(cls, statistic: str, interval: Interval, threshold: float, powered: bool,
                      context: str = "") -> "Evidence":
        """Evidence from an :class:`~paperlib.analysis.intervals.Interval`."""
        return cls(statistic, interval.value, interval.low, interval.high, float(threshold), int(interval.n),
                   interval.method, bool(powered), context)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form kept in ``results.json`` (exactly :data:`EVIDENCE_KEYS`; non-finite numbers as null)."""
        return {"statistic": self.statistic, "value": _finite_or_none(self.value),
                "ci_low": _finite_or_none(self.ci_low), "ci_high": _finite_or_none(self.ci_high),
                "threshold": float(self.threshold), "n": int(self.n), "method": self.method,
                "powered": bool(self.powered)}

    def describe(self) -> str:
        """One line: statistic, value, interval, threshold, n (and the context)."""
        f = number_text
        text = (f"{self.statistic} = {f(self.value)} [95 % CI {f(self.ci_low)}, {f(self.ci_high)}]; "
                f"threshold {f(self.threshold)}; n = {self.n}" + ("" if self.powered else "; not powered"))
        return text + (f". {self.context}" if self.context else "")


def verdict_of(evidence: Evidence | None) -> str:
    """The verdict the evidence decides (the one rule every claim follows).

    reproduced iff ``ci_low > threshold``; not reproduced iff ``ci_high < threshold`` and ``powered``;
    otherwise (absent or non-finite evidence, fewer than :data:`MIN_UNITS` units) inconclusive at this scale.
    """
    if evidence is None or evidence.n < MIN_UNITS:
        return INCONCLUSIVE
    lo, hi, t = evidence.ci_low, evidence.ci_high, evidence.threshold
    if not all(x is not None and math.isfinite(x) for x in (evidence.value, lo, hi, t)):
        return INCONCLUSIVE
    if lo > t:
        return REPRODUCED
    if hi < t and evidence.powered:
        return NOT_REPRODUCED
    return INCONCLUSIVE


@dataclasses.dataclass(frozen=True)
class Claim:
    """One finding of a paper and how this compendium judges it.

    ``judge`` maps the study's results to :class:`Evidence` (or ``None`` when the experiment that would
    measure it was not run). ``rule`` states, before any result exists, the statistic, the threshold and the
    budget below which a negative is not powered. ``timed`` marks a claim measured in wall-clock time,
    whose figures differ between identical runs.
    """

    key: str
    paper_claim: str
    rule: str
    judge: Callable[[Mapping[str, Any]], Evidence | None]
    timed: bool = False


@dataclasses.dataclass(frozen=True)
class Verdict:
    """A judged claim: the claim, its evidence (``None`` when absent) and the verdict derived from it."""

    key: str
    paper_claim: str
    rule: str
    measured: str
    verdict: str
    profile: str
    evidence: dict[str, Any] | None = None
    timed: bool = False


def rule_problems(claim: Mapping[str, Any]) -> list[str]:
    """Ways in which a ``results.json`` claim entry breaks the evidence rule (empty when it follows it).

    Checks that the entry carries ``evidence`` with exactly :data:`EVIDENCE_KEYS`, that the value lies in its
    interval, and that the stored verdict is the one :func:`verdict_of` derives from that evidence.
    """
    if claim.get("verdict") not in VERDICTS:
        return [f"unknown verdict {claim.get('verdict')!r}"]
    if "evidence" not in claim:
        return ["no 'evidence' field"]
    ev = claim["evidence"]
    if ev is None:
        return [] if claim["verdict"] == INCONCLUSIVE else [f"verdict {claim['verdict']!r} without evidence"]
    if set(ev) != set(EVIDENCE_KEYS):
        return [f"evidence keys {sorted(ev)}; expected {sorted(EVIDENCE_KEYS)}"]
    nan = math.nan
    restored = Evidence(**{k: (nan if ev[k] is None else ev[k]) for k in EVIDENCE_KEYS})
    out = []
    if all(x is not None for x in (ev["value"], ev["ci_low"], ev["ci_high"])) and \
            not ev["ci_low"] <= ev["value"] <= ev["ci_high"]:
        out.append(f"value {ev['value']} outside its interval [{ev['ci_low']}, {ev['ci_high']}]")
    if verdict_of(restored) != claim["verdict"]:
        out.append(f"verdict {claim['verdict']!r} but the evidence decides {verdict_of(restored)!r}")
    return out


def judge(claims: Sequence[Claim], results: Mapping[str, Any], profile: str) -> list[Verdict]:
    """Apply every claim's judge to ``results`` and derive each verdict from its evidence."""
    out = []
    for c in claims:
        ev = c.judge(results)
        if ev is not None and not isinstance(ev, Evidence):
            raise TypeError(f"claim {c.key!r}: its judge returned {type(ev).__name__}; allowed: Evidence or None")
        measured = ev.describe() if ev is not None else "not measured at this profile"
        out.append(Verdict(c.key, c.paper_claim, c.rule, measured, verdict_of(ev), profile,
                           ev.as_dict() if ev is not None else None, c.timed))
    return out


def rules_table(claims: Sequence[Claim]) -> pd.DataFrame:
    """The claims and their verdict rules, as declared (before any result exists)."""
    return pd.DataFrame([{"claim": c.key, "paper's claim": c.paper_claim, "verdict rule": c.rule} for c in claims])


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"


def _evidence_cells(ev: Mapping[str, Any] | None) -> dict[str, str]:
    if ev is None:
        return {"value": "-", "95 % interval": "-", "threshold": "-", "n": "-"}
    return {"value": _num(ev["value"]), "95 % interval": f"[{_num(ev['ci_low'])}, {_num(ev['ci_high'])}]",
            "threshold": _num(ev["threshold"]), "n": str(ev["n"]) + ("" if ev["powered"] else " (not powered)")}


def claims_table(verdicts: Sequence[Verdict]) -> pd.DataFrame:
    """The claims table: paper's claim, what was measured, value, interval, threshold, n, profile, verdict."""
    return pd.DataFrame([{"claim": v.key, "paper's claim": v.paper_claim, "measured here": v.measured,
                          **_evidence_cells(v.evidence), "profile": v.profile, "verdict": v.verdict}
                         for v in verdicts])


def write_json_atomic(path: str | os.PathLike, payload: Any) -> None:
    """Write ``payload`` as indented JSON via a temporary file renamed into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        json.dump(payload, f, indent=1, sort_keys=True, default=float)
    os.replace(tmp, path)


def write_results(path: str | os.PathLike, *, study: str, title: str, profile: str, params: Mapping[str, Any],
                  figures: Mapping[str, Any], verdicts: Sequence[Verdict], provenance: Mapping[str, Any],
                  artefacts: Mapping[str, Any] | None = None) -> None:
    """Write a study's ``results.json``: measured figures, verdicts, profile, parameters, provenance and the
    run's trained models and data sets (``artefacts``, what ``paperlib export`` writes).

    Provenance that varies between identical runs (times, dates) is kept under ``provenance`` only, so
    ``figures`` and ``claims`` compare equal across repeated runs.
    """
    write_json_atomic(path, {
        "study": study, "title": title, "profile": profile, "params": dict(params), "figures": dict(figures),
        "claims": [dataclasses.asdict(v) for v in verdicts], "provenance": dict(provenance),
        "artefacts": dict(artefacts or {})})


def dashboard_markdown(results_files: Sequence[str | os.PathLike],
                       profile_runs: Sequence[str | os.PathLike] = ()) -> str:
    """A MyST page collecting the claims of every study's ``results.json`` (the book's own runs).

    ``profile_runs`` are further ``results.json`` files (``runs/``); those of runs with no override give a
    study's claims at other profiles, and a table then sets each claim's verdict and interval side by side per
    profile (the book's own result for its profile, the latest run for each other), smallest scale first.
    """
    lines = ["# Claims dashboard", "",
             "Every verdict below is derived by one rule from the evidence the study's own notebook measured: "
             "reproduced when the 95 % interval of the claim's statistic lies above its threshold, not reproduced "
             "when it lies below and the experiment met its stated budget, otherwise inconclusive at this scale. "
             "Each chapter states its statistics and thresholds before any result is computed.", ""]
    if not results_files:
        lines.append("No study has been executed yet: run `make book` or `paperlib run STUDY`.")
    by_profile = _latest_per_profile(profile_runs)
    for path in sorted(results_files, key=str):
        data = json.loads(Path(path).read_text())
        counts = {v: sum(c["verdict"] == v for c in data["claims"]) for v in VERDICTS}
        lines += [f"## {data['title']}", "",
                  f"Profile `{data['profile']}`; " + ", ".join(f"{n} {v}" for v, n in counts.items()) + ".", "",
                  "| claim | paper's claim | measured here | value | 95 % interval | threshold | n | verdict |",
                  "|---|---|---|---|---|---|---|---|"]
        for c in data["claims"]:
            ev = _evidence_cells(c.get("evidence"))
            cells = [c["key"], c["paper_claim"], c["measured"], *ev.values(), f"**{c['verdict']}**"]
            lines.append(_row(cells))
        lines.append("")
        # the book's own result stands for its profile, whatever other run at that profile is newer
        runs = {**by_profile.get(data["study"], {}), data["profile"]: data}
        if len(runs) > 1:
            lines += _profiles_table(data, runs)
    return "\n".join(lines) + "\n"


def _row(cells: Sequence[Any]) -> str:
    return "| " + " | ".join(str(x).replace("|", "/").replace("\n", " ") for x in cells) + " |"


PROFILE_ORDER: tuple[str, ...] = ("smoke", "default", "gpu")
"""Profiles from the smallest scale to the largest."""


def _latest_per_profile(files: Sequence[str | os.PathLike]) -> dict[str, dict[str, dict]]:
    """``{study: {profile: results}}``: of the runs without overrides, the latest per study and profile."""
    out: dict[str, dict[str, dict]] = {}
    for path in files:
        data = json.loads(Path(path).read_text())
        if data.get("provenance", {}).get("overrides"):
            continue
        started = data.get("provenance", {}).get("started", "")
        held = out.setdefault(data["study"], {}).get(data["profile"])
        if held is None or started >= held.get("provenance", {}).get("started", ""):
            out[data["study"]][data["profile"]] = data
    return out


def _profiles_table(book: Mapping[str, Any], runs: Mapping[str, Mapping[str, Any]]) -> list[str]:
    profiles = sorted(runs, key=lambda p: PROFILE_ORDER.index(p) if p in PROFILE_ORDER else len(PROFILE_ORDER))
    lines = ["How each claim fares with scale: the verdict, the statistic and its 95 % interval at each profile "
             "(runs with no override; `paperlib run STUDY --profile P`).", "",
             _row(["claim", *(f"`{p}`" for p in profiles)]), "|---" * (len(profiles) + 1) + "|"]
    for c in book["claims"]:
        cells = []
        for prof in profiles:
            same = [x for x in runs[prof]["claims"] if x["key"] == c["key"]]
            if not same:
                cells.append("not judged")
                continue
            ev = _evidence_cells(same[0].get("evidence"))
            cells.append(f"**{same[0]['verdict']}** {ev['value']} {ev['95 % interval']}")
        lines.append(_row([c["key"], *cells]))
    return [*lines, ""]
