"""Claims: a paper's finding, the rule that decides its verdict, and the verdict computed from results.

A study declares its claims (with their rules) before it computes anything; the notebook shows the rules
first and the verdicts last. Verdicts are one of :data:`VERDICTS`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive at this scale"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE)


@dataclasses.dataclass(frozen=True)
class Claim:
    """One finding of a paper and how this compendium judges it.

    ``judge`` maps the study's results to ``(verdict, measured)``: one of :data:`VERDICTS` and a short
    text with the figures that decided it. ``timed`` marks a claim decided by wall-clock measurements,
    whose measured text differs between identical runs (its rule should leave a wide margin).
    """

    key: str
    paper_claim: str
    rule: str
    judge: Callable[[Mapping[str, Any]], tuple[str, str]]
    timed: bool = False


@dataclasses.dataclass(frozen=True)
class Verdict:
    """A judged claim."""

    key: str
    paper_claim: str
    rule: str
    measured: str
    verdict: str
    profile: str
    timed: bool = False


def judge(claims: Sequence[Claim], results: Mapping[str, Any], profile: str) -> list[Verdict]:
    """Apply every claim's rule to ``results``."""
    out = []
    for c in claims:
        verdict, measured = c.judge(results)
        if verdict not in VERDICTS:
            raise ValueError(f"claim {c.key!r}: rule returned {verdict!r}; allowed: {VERDICTS}")
        out.append(Verdict(c.key, c.paper_claim, c.rule, measured, verdict, profile, c.timed))
    return out


def rules_table(claims: Sequence[Claim]) -> pd.DataFrame:
    """The claims and their verdict rules, as declared (before any result exists)."""
    return pd.DataFrame([{"claim": c.key, "paper's claim": c.paper_claim, "verdict rule": c.rule} for c in claims])


def claims_table(verdicts: Sequence[Verdict]) -> pd.DataFrame:
    """The claims table: paper's claim, figure measured here, profile, verdict."""
    return pd.DataFrame([{"claim": v.key, "paper's claim": v.paper_claim, "measured here": v.measured,
                          "profile": v.profile, "verdict": v.verdict} for v in verdicts])


def write_json_atomic(path: str | os.PathLike, payload: Any) -> None:
    """Write ``payload`` as indented JSON via a temporary file renamed into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        json.dump(payload, f, indent=1, sort_keys=True, default=float)
    os.replace(tmp, path)


def write_results(path: str | os.PathLike, *, study: str, title: str, profile: str, params: Mapping[str, Any],
                  figures: Mapping[str, Any], verdicts: Sequence[Verdict], provenance: Mapping[str, Any]) -> None:
    """Write a study's ``results.json``: measured figures, verdicts, profile, parameters and provenance.

    Provenance that varies between identical runs (times, dates) is kept under ``provenance`` only, so
    ``figures`` and ``claims`` compare equal across repeated runs.
    """
    write_json_atomic(path, {
        "study": study, "title": title, "profile": profile, "params": dict(params), "figures": dict(figures),
        "claims": [dataclasses.asdict(v) for v in verdicts], "provenance": dict(provenance)})


def dashboard_markdown(results_files: Sequence[str | os.PathLike]) -> str:
    """A MyST page collecting the claims of every study's ``results.json``."""
    lines = ["# Claims dashboard", "",
             "Every verdict below is computed by the study's own notebook from the numbers it produced; the rule "
             "behind each verdict is stated in the chapter before any result is computed.", ""]
    if not results_files:
        lines.append("No study has been executed yet: run `make book` or `paperlib run STUDY`.")
    for path in sorted(results_files, key=str):
        data = json.loads(Path(path).read_text())
        counts = {v: sum(c["verdict"] == v for c in data["claims"]) for v in VERDICTS}
        lines += [f"## {data['title']}", "",
                  f"Profile `{data['profile']}`; " + ", ".join(f"{n} {v}" for v, n in counts.items()) + ".", "",
                  "| claim | paper's claim | measured here | verdict |", "|---|---|---|---|"]
        for c in data["claims"]:
            cells = [c["key"], c["paper_claim"], c["measured"], f"**{c['verdict']}**"]
            lines.append("| " + " | ".join(str(x).replace("|", "/").replace("\n", " ") for x in cells) + " |")
        lines.append("")
    return "\n".join(lines) + "\n"
