"""``paperlib export``: a run's trained models in their own packages' formats and its data sets as extxyz.

A study records what it trained and on what in ``results.json`` under ``artefacts`` (see
:class:`ModelArtefact`, :class:`DataArtefact`): models by the cache entry that holds them, data sets as the
structures of a cached extxyz file. :func:`export_run` copies them out of the cache into one folder with a
README naming which model was trained on which data set and seed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from paperlib.cache import Cache, cached_step
from paperlib.data.dataset import Dataset


class ExportError(ValueError):
    """A run cannot be exported: it records no artefacts, a cache entry is gone, or the target is taken."""


@dataclasses.dataclass(frozen=True)
class DataArtefact:
    """A data set of a run: the structures ``indices`` (every one when None) of the extxyz file ``source``."""

    name: str
    source: str
    indices: list[int] | None
    description: str


@dataclasses.dataclass(frozen=True)
class ModelArtefact:
    """A trained model of a run: registry kind ``kind`` saved in the directory ``path`` (its ``save``), trained
    on the data set named ``training_set`` with training seed ``seed``."""

    name: str
    kind: str
    path: str
    training_set: str
    seed: int
    description: str


FRAMES_FILE = "frames.extxyz"


@cached_step
def _frames_file(out: Path, *, frames: Dataset) -> None:
    """``frames`` as one extxyz file (keyed by their content, so a set written twice is stored once)."""
    frames.write(out / FRAMES_FILE)


def data_artefact(cache: Cache, name: str, frames: Dataset, description: str) -> DataArtefact:
    """A data set held only in memory, written to the cache as extxyz, as an artefact of the run."""
    return DataArtefact(name, str(_frames_file.entry(cache, frames=frames) / FRAMES_FILE), None, description)


def artefact_map(models: Sequence[ModelArtefact], datasets: Sequence[DataArtefact]) -> dict[str, list[dict]]:
    """The JSON form a study's ``Results.artefacts`` holds and ``results.json`` records."""
    names = [d.name for d in datasets]
    missing = sorted({m.training_set for m in models} - set(names))
    if missing or len(set(names)) != len(names):
        raise ValueError(f"artefact_map: training sets {missing} not among the data sets, or a name twice")
    return {"models": [dataclasses.asdict(m) for m in models], "datasets": [dataclasses.asdict(d) for d in datasets]}


def folder_name(name: str) -> str:
    """``name`` as a file or folder name: runs of characters other than letters, digits, ``.``, ``_`` and
    ``-`` become one ``-``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")


NATIVE_FORMATS: dict[str, str] = {
    "schnet": "a whole schnetpack model (model.pt) for schnetpack.interfaces.SpkCalculator",
    "gap": "the GAP XML potential of QUIP (quippy.potential.Potential('IP GAP', param_filename=...))",
    "mace": "a MACE model file (mace.calculators.MACECalculator(model_paths=...))",
    "deepmd": "a frozen Deep Potential graph (deepmd.calculator.DP(model=...))",
    "sgdml": "an sGDML model file (sgdml.intf.ase_calc.SGDMLCalculator(model_path=...))",
}


def _family(kind: str) -> str:
    return next((f for f in NATIVE_FORMATS if kind.startswith(f)), kind)


def _export_model(model: ModelArtefact, target: Path) -> str:
    """Write ``model`` into the directory ``target`` in its package's own format; returns that format's
    description. SchNet becomes a whole schnetpack model; the other backends already save their package's
    files, which are copied with paperlib's ``config.json`` (what :func:`paperlib.models.registry.load` reads)."""
    source = Path(model.path)
    shutil.copytree(source, target / "paperlib")
    if _family(model.kind) == "schnet":
        import torch

        from paperlib.models.registry import load

        pot = load(model.kind, source, device="cpu")
        torch.save(pot.schnetpack_model(), target / "model.pt")
        (target / "cutoff_A.txt").write_text(f"{pot.config.cutoff_A}\n")
    else:
        for f in source.iterdir():
            if f.is_file() and f.name != "config.json":
                shutil.copy2(f, target / f.name)
    return NATIVE_FORMATS.get(_family(model.kind), "paperlib's own format (paperlib.models.registry.load)")


def _readme(data: Mapping[str, Any], models: Sequence[tuple[ModelArtefact, str, str]],
            datasets: Sequence[tuple[DataArtefact, str, int]]) -> str:
    prov = data.get("provenance", {})
    overrides = ", ".join(f"{k}={v}" for k, v in prov.get("overrides", {}).items()) or "none"
    lines = [f"# {data['title']}: exported models and data", "",
             f"Study `{data['study']}`, profile `{data['profile']}`, overrides: {overrides}; commit "
             f"`{prov.get('commit', 'unknown')}`, run started {prov.get('started', 'unknown')}.", "",
             "## Data sets (extended XYZ; reference labels under the `REF_` keys)", "",
             "| file | structures | what |", "|---|---|---|"]
    lines += [f"| `{path}` | {n} | {d.description} |" for d, path, n in datasets]
    if not models:
        return "\n".join(lines + ["", "## Models", "", "This run keeps no trained model.", ""])
    lines += ["", "## Models", "", "| folder | kind | trained on | seed | format | what |", "|---|---|---|---|---|---|"]
    lines += [f"| `{folder}` | {m.kind} | `data/{folder_name(m.training_set)}.extxyz` | {m.seed} | {fmt} | "
              f"{m.description} |" for m, folder, fmt in models]
    lines += ["", "Every model folder also holds `paperlib/`, the files `paperlib.models.registry.load(kind, path)` "
              "reads.", ""]
    if not any(_family(m.kind) == "schnet" for m, _, _ in models):
        return "\n".join(lines)
    lines += ["A SchNet `model.pt` is loaded by schnetpack's own calculator (the neighbour-list cutoff is in "
              "`cutoff_A.txt`); schnetpack 2.1 reads it with `torch.load`, which from torch 2.6 on needs the "
              "environment variable `TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`:", "",
              "```python", "import schnetpack as spk", "",
              "calc = spk.interfaces.SpkCalculator(model_file='models/<folder>/model.pt', energy_unit='eV',",
              "                                    position_unit='Ang', neighbor_list=spk.transform.ASENeighborList("
              "cutoff=<cutoff_A>))", "```", ""]
    return "\n".join(lines)


def export_run(results_json: str | os.PathLike, directory: str | os.PathLike) -> dict[str, Any]:
    """Export the artefacts that ``results_json`` records into ``directory`` (which must not exist or be
    empty): ``data/<name>.extxyz``, ``models/<name>/``, ``README.md`` and ``artefacts.json`` (the map with
    paths relative to ``directory``). Everything is written to a temporary folder first and renamed into place,
    so an interrupted export leaves nothing. Returns the written map.

    Raises
    ------
    ExportError
        When the run records no artefacts, an artefact's cache entry or file is gone, or ``directory`` holds
        files.
    """
    results_json = Path(results_json)
    directory = Path(directory)
    try:
        data = json.loads(results_json.read_text())
        recorded = data.get("artefacts") or {}
        models = [ModelArtefact(**m) for m in recorded.get("models", [])]
        datasets = [DataArtefact(**d) for d in recorded.get("datasets", [])]
    except (OSError, ValueError, TypeError, AttributeError) as err:
        raise ExportError(f"{results_json}: not a results.json this version can read ({err})") from None
    if not models and not datasets:
        raise ExportError(f"{results_json}: the {data.get('study')} run records no trained models or data sets "
                          f"to export")
    gone = [m.path for m in models if not Path(m.path).is_dir()] + \
           [d.source for d in datasets if not Path(d.source).is_file()]
    if gone:
        raise ExportError(f"{results_json}: {len(gone)} artefact(s) are no longer in the cache (first: {gone[0]}); "
                          f"run the study again with the same parameters to recreate them")
    for names in ([folder_name(m.name) for m in models], [folder_name(d.name) for d in datasets]):
        if len(set(names)) != len(names):
            raise ExportError(f"{results_json}: two artefacts would share the file name of one of {sorted(names)}")
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise ExportError(f"export directory {str(directory)!r} is not empty; allowed: a new or empty directory")
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        written_data = []
        for d in datasets:
            frames = Dataset.read(d.source)
            frames = frames.subset(d.indices) if d.indices is not None else frames
            path = f"data/{folder_name(d.name)}.extxyz"
            frames.write(tmp / path)
            written_data.append((d, path, len(frames)))
        written_models = []
        for m in models:
            folder = f"models/{folder_name(m.name)}"
            (tmp / folder).mkdir(parents=True)
            written_models.append((m, folder, _export_model(m, tmp / folder)))
        exported = {"study": data["study"], "profile": data["profile"],
                    "datasets": [{**dataclasses.asdict(d), "file": path, "structures": n}
                                 for d, path, n in written_data],
                    "models": [{**dataclasses.asdict(m), "folder": folder, "format": fmt,
                                "training_file": f"data/{folder_name(m.training_set)}.extxyz"}
                               for m, folder, fmt in written_models]}
        (tmp / "artefacts.json").write_text(json.dumps(exported, indent=1))
        (tmp / "README.md").write_text(_readme(data, written_models, written_data))
        tmp.replace(directory)  # rename(2) also replaces an empty directory
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return exported
