"""The book builds at the smoke profile and shows every chapter's figures and claims table."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from paperlib.analysis.claims import dashboard_markdown
from paperlib.runner import ROOT

pytestmark = pytest.mark.slow


def test_book_builds_with_chapters_figures_and_claims(executed, tmp_path):
    site = tmp_path / "site"
    shutil.copytree(ROOT / "book", site / "book", ignore=shutil.ignore_patterns("studies", "claims.md"))
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, site / name)
    (site / "book" / "studies").mkdir()
    results = []
    for study, (nb, _res) in executed.items():
        shutil.copy(nb, site / "book" / "studies" / f"{study}.ipynb")
        results.append(nb.parent / "results" / "results.json")
    (site / "book" / "claims.md").write_text(dashboard_markdown(results))
    jb = Path(sys.executable).parent / "jupyter-book"
    proc = subprocess.run([str(jb), "build", str(site), "--path-output", str(site)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    html = site / "_build" / "html"
    for study in executed:
        page = (html / "book" / "studies" / f"{study}.html").read_text()
        assert len(re.findall(r"<img[^>]+src=", page)) >= 3
        assert "Claims table" in page and "verdict" in page
        assert "Traceback" not in page
    dashboard = (html / "book" / "claims.html").read_text()
    assert "Data selection for molten NaCl" in dashboard
    assert re.search(r"reproduced|inconclusive", dashboard)
    assert "Tosi" in (html / "book" / "bibliography.html").read_text()
