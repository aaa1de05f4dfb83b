"""Content-addressed on-disk cache for expensive steps (reference labels, MD runs, trained models).

An entry is a directory ``<root>/<function>/<key>/`` holding the files the step wrote plus a
``MANIFEST.json`` with the SHA-256 of each file. The key hashes the function's qualified name, the
parameters, a digest of all paperlib code the step can reach and the versions of the third-party packages
that code imports (:mod:`paperlib.reach`), so a change to any of them computes a new entry; the manifest
records the same code digest, modules and package versions, and when the entry was made.

A step is declared with :func:`cached_step`; ``step.entry(cache, **arguments)`` keys the entry by the bound
call arguments (data sets, structures and saved models by their content), so no
call site keeps a key list by hand, and arguments that cannot change the output (progress bars, the device)
are declared once, on the step.

Writes are atomic: the step writes into a temporary directory next to the entry, the manifest is written
last, and the directory is renamed into place. A killed run leaves at most a ``.tmp-*`` directory, which
is never read. An entry whose manifest is missing or whose files do not match it is treated as corrupt,
removed and recomputed.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import inspect
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Generic, ParamSpec

from ase import Atoms

import paperlib
from paperlib.data.dataset import Dataset
from paperlib.reach import step_fingerprint

MANIFEST = "MANIFEST.json"
DEFAULT_ROOT = Path(os.environ.get("PAPERLIB_CACHE", Path.home() / ".cache" / "paperlib"))


def _canonical(obj: Any) -> Any:
    """JSON-able canonical form of parameters: numpy scalars and arrays, paths, tuples and dataclasses, with
    data sets and structures replaced by their content fingerprints and any object with a ``cache_token()``
    method (a trained model read from its entry, say) by that token."""
    if hasattr(obj, "cache_token"):
        return _canonical(obj.cache_token())
    if isinstance(obj, Dataset):
        return {"dataset": obj.fingerprint()}
    if isinstance(obj, Atoms):
        return {"atoms": Dataset([obj]).fingerprint()}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {"type": type(obj).__qualname__,
                **{f.name: _canonical(getattr(obj, f.name)) for f in dataclasses.fields(obj)}}
    if isinstance(obj, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return obj


def cache_key(fn: Callable[..., Any], params: Mapping[str, Any], fingerprint: Mapping[str, Any] | None = None) -> str:
    """Hex key of ``fn`` applied to ``params``: covers the reachable code and the package versions
    (``fingerprint``: :func:`~paperlib.reach.step_fingerprint` of ``fn``, when already computed)."""
    fp = fingerprint or step_fingerprint(fn)
    payload = json.dumps({"fn": f"{fn.__module__}.{fn.__qualname__}", "code": fp["code"],
                          "packages": fp["packages"], "version": paperlib.__version__,
                          "params": _canonical(params)}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Cache:
    """An on-disk cache rooted at ``root`` (default ``$PAPERLIB_CACHE`` or ``~/.cache/paperlib``).

    ``Cache(None)`` disables caching: every call computes into a fresh temporary directory.
    """

    def __init__(self, root: str | os.PathLike | None = DEFAULT_ROOT):
        self.root = Path(root) if root is not None else None
        self.hits = 0
        self.misses = 0

    def entry_dir(self, fn: Callable[..., Any], params: Mapping[str, Any],
                  fingerprint: Mapping[str, Any] | None = None) -> Path:
        """Where the entry of ``fn(params)`` lives (whether or not it exists yet)."""
        if self.root is None:
            raise ValueError("this cache is disabled (root=None)")
        return self.root / fn.__qualname__.replace("<", "").replace(">", "") / cache_key(fn, params, fingerprint)

    def is_valid(self, path: Path) -> bool:
        """True when ``path`` holds a complete entry whose files match its manifest."""
        manifest = path / MANIFEST
        try:
            expected = json.loads(manifest.read_text())["files"]
        except (OSError, ValueError, KeyError):
            return False
        present = {str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()} - {MANIFEST}
        if present != set(expected):
            return False
        return all(_sha256(path / name) == digest for name, digest in expected.items())

    def get(self, fn: Callable[..., Any], params: Mapping[str, Any], compute: Callable[[Path], None]) -> Path:
        """Return the directory of the entry for ``fn(params)``, running ``compute(tmpdir)`` on a miss.

        ``compute`` writes its outputs into the directory it is given; it must not keep references to it.
        A corrupt entry is removed and recomputed.
        """
        if self.root is None:
            out = Path(tempfile.mkdtemp(prefix="paperlib-nocache-"))
            compute(out)
            self.misses += 1
            return out
        # One fingerprint for the key and the manifest, so both describe the code the step started with; one
        # canonical form of the parameters, so data sets and saved models are hashed once.
        fp = step_fingerprint(fn)
        params = _canonical(params)
        final = self.entry_dir(fn, params, fp)
        if final.exists():
            if self.is_valid(final):
                self.hits += 1
                # The manifest's modification time records the last use, for `paperlib cache clean --older-than`.
                os.utime(final / MANIFEST)
                return final
            shutil.rmtree(final, ignore_errors=True)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=final.parent))
        try:
            compute(tmp)
            files = {str(p.relative_to(tmp)): _sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
            meta = {"files": files, "function": f"{fn.__module__}.{fn.__qualname__}", "code": fp["code"],
                    "modules": fp["modules"], "packages": fp["packages"], "params": params,
                    "created": time.time()}
            (tmp / MANIFEST).write_text(json.dumps(meta, indent=1, default=str))
            try:
                os.rename(tmp, final)
            except OSError:
                # Another process finished the same entry first; its result is equally valid.
                if not self.is_valid(final):
                    raise
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self.misses += 1
        return final

    def clean_temporaries(self) -> int:
        """Remove ``.tmp-*`` directories left by killed runs; returns how many were removed."""
        if self.root is None or not self.root.exists():
            return 0
        stale = [p for p in self.root.glob("*/.tmp-*") if p.is_dir()]
        for p in stale:
            shutil.rmtree(p, ignore_errors=True)
        return len(stale)

    def entries(self, study: str | None = None) -> list["EntryInfo"]:
        """Every complete entry (optionally only those of one study's steps), oldest first."""
        if self.root is None or not self.root.exists():
            return []
        out = []
        for manifest in self.root.glob(f"*/*/{MANIFEST}"):
            try:
                meta = json.loads(manifest.read_text())
            except (OSError, ValueError):
                continue
            info = EntryInfo.from_manifest(manifest.parent, meta)
            if study is None or info.study == study:
                out.append(info)
        return sorted(out, key=lambda e: e.created)

    def remove(self, entries: list["EntryInfo"]) -> int:
        """Delete ``entries`` (manifest first, so a half-deleted entry is never valid); returns bytes freed."""
        freed = 0
        for e in entries:
            freed += e.size_bytes
            (e.path / MANIFEST).unlink(missing_ok=True)
            shutil.rmtree(e.path, ignore_errors=True)
        return freed


P = ParamSpec("P")


class CachedStep(Generic[P]):
    """A step ``fn(out, ...)`` that writes its outputs into the directory ``out``, made cacheable.

    Calling the step runs it directly; :meth:`entry` returns the cache entry of a call, computing it on a miss.
    The key holds every bound argument except those named in ``runtime`` (settings that cannot change the
    output, such as a progress bar or the device); see :func:`_canonical` for how arguments are keyed.
    """

    def __init__(self, fn: Callable[..., None], runtime: tuple[str, ...] = ()):
        self.fn = fn
        self.signature = inspect.signature(fn)
        names = list(self.signature.parameters)
        unknown = sorted(set(runtime) - set(names[1:]))
        if unknown:
            raise TypeError(f"cached_step {fn.__qualname__}: runtime arguments {unknown} are not parameters "
                            f"of the step; it takes {names[1:]}")
        self.out_name = names[0]
        self.runtime = tuple(runtime)
        functools.update_wrapper(self, fn)

    def __reduce__(self) -> tuple:
        # By reference, like a function: workers import the step from its module.
        return _import_step, (self.fn.__module__, self.fn.__qualname__)

    def __call__(self, out: Path, *args: P.args, **kwargs: P.kwargs) -> None:
        self.fn(out, *args, **kwargs)

    def key_params(self, *args: P.args, **kwargs: P.kwargs) -> dict[str, Any]:
        """The arguments that enter the cache key of ``step(out, *args, **kwargs)``, by name."""
        bound = self.signature.bind(None, *args, **kwargs)
        bound.apply_defaults()
        return {k: v for k, v in bound.arguments.items() if k != self.out_name and k not in self.runtime}

    def key(self, *args: P.args, **kwargs: P.kwargs) -> str:
        """The cache key of ``step(out, *args, **kwargs)``."""
        return cache_key(self.fn, self.key_params(*args, **kwargs))

    def entry(self, cache: "Cache", *args: P.args, **kwargs: P.kwargs) -> Path:
        """The directory of the entry for this call, computed into the cache on a miss."""
        return cache.get(self.fn, self.key_params(*args, **kwargs), lambda out: self.fn(out, *args, **kwargs))


def _import_step(module: str, qualname: str) -> "CachedStep":
    return getattr(importlib.import_module(module), qualname)


def cached_step(fn: Callable[..., None] | None = None, *, runtime: tuple[str, ...] = ()) -> Any:
    """Declare ``fn(out, ...)`` a cached step (see :class:`CachedStep`); usable bare or as
    ``@cached_step(runtime=("progress",))``."""
    if fn is None:
        return lambda f: CachedStep(f, runtime)
    return CachedStep(fn, runtime)


@dataclasses.dataclass(frozen=True)
class EntryInfo:
    """One cache entry as ``paperlib cache ls`` shows it."""

    path: Path
    function: str
    study: str
    created: float
    used: float
    size_bytes: int
    packages: dict

    @classmethod
    def from_manifest(cls, path: Path, meta: Mapping[str, Any]) -> "EntryInfo":
        """Describe the entry at ``path`` from its manifest ``meta``."""
        function = str(meta.get("function", "?")).split("@")[0]
        parts = function.split(".")
        study = parts[2] if len(parts) > 3 and parts[:2] == ["paperlib", "studies"] else "-"
        created = meta.get("created")
        if not isinstance(created, (int, float)):
            created = (path / MANIFEST).stat().st_mtime
        size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        used = (path / MANIFEST).stat().st_mtime
        return cls(path, function, study, float(created), used, size, dict(meta.get("packages", {})))
