"""Where runs go, what their provenance names, where a chapter's links point, and where a run's output goes when it
succeeds or fails (a stand-in chapter of two cells, executed as a study's is)."""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess

import pytest

from paperlib import runner
from paperlib.params import ParameterError


def test_only_an_unchanged_default_run_is_the_books():
    assert runner.destination("gradients", "default", {}) == (runner.EXECUTED / "gradients.ipynb",
                                                               runner.RESULTS / "gradients")
    nb, results = runner.destination("gradients", "default", {"seed": 3})
    assert results.parent == runner.RUNS / "gradients" and nb == results / "gradients.ipynb"
    assert results.name == runner.run_name("default", {"seed": 3}) != runner.run_name("default", {"seed": 4})
    # the same overrides in another order land in the same folder; a profile alone is its own name
    assert runner.run_name("gpu", {"a": 1, "b": 2}) == runner.run_name("gpu", {"b": 2, "a": 1})
    assert runner.destination("gradients", "smoke", {})[1] == runner.RUNS / "gradients" / "smoke"
    assert runner.destination("gradients", "smoke", {"seed": 3}, into_book=True)[1] == runner.RESULTS / "gradients"
    assert runner.destination("gradients", "default", {}, name="mine")[1] == runner.RUNS / "gradients" / "mine"
    for bad in ("", "a/b", ".hidden"):
        with pytest.raises(ParameterError, match="--name: got"):
            runner.destination("gradients", "smoke", {}, name=bad)


def test_runs_are_listed_newest_first_with_their_verdicts(tmp_path):
    for name, started, verdicts in (("old", "2026-12-01 10:00:00 UTC", ["reproduced"]),
                                    ("new", "2026-12-03 10:00:00 UTC", ["inconclusive", "reproduced", "reproduced"])):
        folder = tmp_path / "nacl_selection" / name
        folder.mkdir(parents=True)
        (folder / "results.json").write_text(json.dumps({
            "study": "nacl_selection", "profile": "smoke", "claims": [{"verdict": v} for v in verdicts],
            "provenance": {"overrides": {"n_train": 8}, "started": started}}))
    rows = runner.list_runs(root=tmp_path)
    assert [r["name"] for r in rows] == ["new", "old"]
    assert rows[0]["verdicts"] == {"inconclusive": 1, "reproduced": 2} and rows[0]["overrides"] == {"n_train": 8}
    assert runner.list_runs("gradients", root=tmp_path) == []


def test_provenance_names_every_pinned_package_and_each_is_installed():
    pinned = set()
    for name in ("requirements.txt", "requirements-nodeps.txt"):
        for line in (runner.ROOT / name).read_text().splitlines():
            m = re.match(r"^([A-Za-z0-9_.-]+)(\[[^]]*\])?==", line.strip())
            if m:
                pinned.add(m.group(1).lower())
    # a pin says the numbers depend on that version: the chapter must say which one ran
    assert pinned and pinned <= {p.lower() for p in runner.PACKAGES}, pinned - set(runner.PACKAGES)
    versions = runner.package_versions()
    assert "missing" not in versions.values(), [k for k, v in versions.items() if v == "missing"]
    assert versions["tblite"] == importlib.metadata.version("tblite")


def test_a_chapters_links_open_files_the_repository_holds():
    held = set(subprocess.run(["git", "ls-files", "--cached"], cwd=runner.ROOT,
                              capture_output=True, text=True, check=True).stdout.split())
    url, branch = runner.repository()
    for study in ("gradients", "nacl_selection"):
        links = runner.launch_links(study)
        binder = links.pop("Binder")
        assert binder.endswith(f"/{branch}?urlpath=lab/tree/notebooks/{study}.md")
        assert f"notebooks/{study}.md" in held
        for href in links.values():
            assert href.split(f"{url}/blob/{branch}/")[1] in held, href
    top = runner.provenance_markdown({"study": "gradients", "commit": "x", "profile": "smoke", "device": "cpu",
                                      "python": "3.11", "started": "now", "overrides": {}, "packages": {}},
                                     links=True)
    assert top.startswith("Open this chapter: [Binder](https://mybinder.org/")


def _stand_in(tmp_path, monkeypatch, last_cell: str):
    """Make run_study execute, for the gradients study, a two-cell chapter whose kernel writes to descriptor 2."""
    chapter = tmp_path / "chapter.md"
    chapter.write_text("---\njupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n"
                       "kernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n---\n\n"
                       "# Stand-in\n\n```{code-cell}\nimport os\nos.write(2, b'a C library line\\n')\n```\n\n"
                       f"```{{code-cell}}\n{last_cell}\n```\n")
    monkeypatch.setattr(runner, "notebook_path", lambda study: chapter)
    return tmp_path / "out" / "gradients.ipynb"


def test_a_run_shows_its_steps_only_and_keeps_the_kernel_processs_own_output_in_its_log(tmp_path, monkeypatch,
                                                                                       capfd):
    out = _stand_in(tmp_path, monkeypatch, "import sys\nprint('[paperlib 10:00:00] fit: started', file=sys.stderr)")
    assert runner.run_study("gradients", "smoke", output=out, results_dir=tmp_path / "results") == out
    shown = capfd.readouterr()
    lines = shown.err.splitlines()
    assert len(lines) == 3 and not shown.out, shown
    assert lines[0].endswith(f"] gradients at profile smoke, into {out.parent}: started")
    assert lines[1] == "[paperlib 10:00:00] fit: started"
    assert re.fullmatch(rf"\[paperlib [0-9:]{{8}}\] gradients at profile smoke, into {out.parent}: done after "
                        r"[0-9.]+ s", lines[2])
    log = runner.stderr_log(out).read_text()
    assert "--- kernel process\n" in log and "a C library line" in log.split("--- kernel process")[1]
    assert sorted(p.name for p in out.parent.iterdir()) == ["figures", "gradients.ipynb", "gradients.stderr.log"]


def test_a_failed_run_keeps_its_notebook_and_kernel_output_aside_and_says_where(tmp_path, monkeypatch):
    import papermill

    out = _stand_in(tmp_path, monkeypatch, "raise RuntimeError('the study failed')")
    with pytest.raises(papermill.PapermillExecutionError, match="the study failed") as failure:
        runner.run_study("gradients", "smoke", output=out, results_dir=tmp_path / "results", progress=False)
    kept = {"gradients.failed.ipynb", "gradients.failed.kernel.log"}
    assert {p.name for p in out.parent.iterdir()} == kept  # nothing the book would render, no partial files
    assert "a C library line" in (out.parent / "gradients.failed.kernel.log").read_text()
    assert all(any(str(out.parent / name) in note for note in failure.value.__notes__) for name in kept)
