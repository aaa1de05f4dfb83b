"""What a cached step depends on: the paperlib code it can reach and the packages that code imports.

A step's cache key must change whenever anything that could change its output changes. Reach is found
statically, without running the step:

- in the step's own module, at the level of single functions and classes: the step's source, the sources of
  the module-level functions and classes it names (recursively), and the values of module-level constants it
  names; an edit elsewhere in a study module does not recompute the step;
- any other paperlib module it names (or whose function or class it names), and every paperlib module that
  module imports anywhere in its source (or names in a string, for ``importlib``), transitively, at the level
  of whole modules;
- the installed version of every third-party distribution those modules import.

So an edit to ``models/schnet.py`` recomputes every step that can reach the SchNet backend (trained models,
their predictions), an edit to ``plots.py`` recomputes nothing, and an edit to ``models/`` leaves reference
labels alone, because no reference step reaches ``paperlib.models``.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.metadata
import inspect
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

PACKAGE = "paperlib"
ROOT = Path(__file__).resolve().parent
_CONSTANTS = (int, float, str, bytes, bool, tuple, frozenset, type(None))


def _is_ours(name: str | None) -> bool:
    return bool(name) and (name == PACKAGE or name.startswith(PACKAGE + "."))


@functools.lru_cache(maxsize=None)
def _module_file(name: str) -> Path | None:
    """The source file of paperlib module ``name``, found without importing anything (None if no module)."""
    if not _is_ours(name):
        return None
    base = ROOT.joinpath(*name.split(".")[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _is_module(name: str) -> bool:
    return _module_file(name) is not None


def _is_package(name: str) -> bool:
    path = _module_file(name)
    return path is not None and path.name == "__init__.py"


def module_source(name: str) -> str:
    """Source text of the paperlib module ``name`` (empty when it has no source file)."""
    path = _module_file(name)
    return path.read_text(encoding="utf-8") if path else ""


def _resolve_from(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(name: str) -> tuple[set[str], set[str]]:
    """(paperlib modules, third-party top-level names) imported anywhere in module ``name``'s source."""
    src = module_source(name)
    ours, theirs = set(), set()
    is_package = _is_package(name)
    for node in ast.walk(ast.parse(src)) if src else ():
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _is_module(node.value):
            # A module named in a string is imported by importlib (e.g. the model registry's backends).
            ours.add(node.value)
            continue
        if isinstance(node, ast.Import):
            targets = [(a.name, None) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_from(name, node, is_package)
            targets = [(base, a.name) for a in node.names]
        else:
            continue
        for base, attr in targets:
            if _is_ours(base):
                sub = f"{base}.{attr}" if attr else None
                ours.add(sub if sub and _is_module(sub) else base)
            elif base:
                theirs.add(base.split(".")[0])
    return ours, theirs


def _parents(name: str) -> set[str]:
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


@functools.lru_cache(maxsize=None)
def module_closure(name: str) -> tuple[frozenset[str], frozenset[str]]:
    """paperlib modules reachable from module ``name`` by imports (itself included, with the packages whose
    ``__init__`` runs on import), and the third-party top-level names they import."""
    seen, third, todo = set(), set(), [name]
    while todo:
        mod = todo.pop()
        if mod in seen:
            continue
        seen.add(mod)
        ours, theirs = _imports(mod)
        third |= theirs
        todo += [m for m in ours | _parents(mod) if m not in seen]
    return frozenset(seen), frozenset(third)


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _object_module(obj: Any) -> str | None:
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    return getattr(obj, "__module__", None)


@functools.lru_cache(maxsize=None)
def _stdlib() -> frozenset[str]:
    return frozenset(sys.stdlib_module_names)


def step_reach(fn: Callable[..., Any]) -> tuple[dict[str, str], set[str], set[str]]:
    """What ``fn`` can reach: ``(own-module pieces {qualname: source or repr}, paperlib modules, third-party
    top-level names)``."""
    fn = inspect.unwrap(fn)
    home = fn.__module__
    pieces: dict[str, str] = {}
    modules: set[str] = set()
    third: set[str] = set()
    todo: list[Any] = [fn]
    while todo:
        obj = todo.pop()
        qual = getattr(obj, "__qualname__", repr(obj))
        if qual in pieces:
            continue
        try:
            pieces[qual] = inspect.getsource(obj)
        except (OSError, TypeError):
            pieces[qual] = repr(obj)
        members = [obj] if hasattr(obj, "__code__") else \
            [getattr(m, "__func__", getattr(m, "fget", m)) for m in vars(obj).values()]
        codes = [m.__code__ for m in members if hasattr(m, "__code__")]
        glb = getattr(obj, "__globals__", None) or vars(sys.modules[home])
        for name in set().union(*(_code_names(c) for c in codes)) if codes else ():
            if "." in name and _is_ours(name) and _is_module(name):
                modules.add(name)
                continue
            if name not in glb:
                continue
            # A decorated step (paperlib.cache.CachedStep) is followed to the function it wraps.
            val = inspect.unwrap(glb[name]) if hasattr(glb[name], "__wrapped__") else glb[name]
            mod = _object_module(val)
            if _is_ours(mod) and mod == home and not isinstance(val, types.ModuleType):
                if isinstance(val, (types.FunctionType, type)):
                    todo.append(val)
            elif _is_ours(mod):
                modules.add(mod)
            elif isinstance(val, _CONSTANTS):
                pieces[f"{home}.{name}"] = repr(val)
            elif mod and mod.split(".")[0] not in _stdlib() and mod != "builtins":
                third.add(mod.split(".")[0])
    for m in list(modules):
        ours, theirs = module_closure(m)
        modules |= ours
        third |= theirs
    return pieces, modules - {home}, {t for t in third if t not in _stdlib()}


@functools.lru_cache(maxsize=None)
def _distributions() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def distribution_version(dist: str) -> str:
    """Installed version of distribution ``dist`` (``missing`` when absent)."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "missing"


def package_versions(top_level: set[str]) -> dict[str, str]:
    """Installed distribution versions behind the import names ``top_level`` (paperlib's own excluded)."""
    out = {}
    for name in sorted(top_level):
        for dist in _distributions().get(name, []):
            if dist != PACKAGE:
                out[dist] = distribution_version(dist)
    return out


def step_fingerprint(fn: Callable[..., Any]) -> dict[str, Any]:
    """The code digest and package versions a cache entry of ``fn`` depends on."""
    pieces, modules, third = step_reach(fn)
    h = hashlib.sha256()
    for qual in sorted(pieces):
        h.update(f"{qual}\0{pieces[qual]}\0".encode())
    for mod in sorted(modules):
        h.update(f"{mod}\0{module_source(mod)}\0".encode())
    return {"code": h.hexdigest()[:16], "modules": sorted(modules), "packages": package_versions(third)}
