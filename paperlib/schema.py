"""A typed study parameter (:class:`Param`), a study's set of them (:class:`Schema`) and the registry of
schemas. The study schemas themselves live in :mod:`paperlib.schemas`; profiles and resolution in
:mod:`paperlib.params`.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any


class ParameterError(ValueError):
    """A study parameter (or a combination of them) is invalid; raised before any compute."""


@functools.lru_cache(maxsize=None)
def _owned(reference: str) -> tuple[str, ...]:
    module, _, attribute = reference.partition(":")
    return tuple(getattr(importlib.import_module(module), attribute))


@dataclasses.dataclass(frozen=True)
class Param:
    """One parameter of a study.

    Parameters
    ----------
    name, doc
        Identifier and one-line description (with units).
    kind
        ``"int"``, ``"float"``, ``"str"``, ``"bool"``, ``"path"`` (a string naming an existing file, or
        empty for none) or ``"list[int]"``, ``"list[float]"``, ``"list[str]"``.
    low, high
        Inclusive bounds for numbers (for lists: for each item).
    choices
        Allowed values for strings (for lists: for each item): a tuple, or ``"module:attribute"`` naming the
        collection where the values are owned (its keys, for a mapping), read when first needed so that the
        schema neither repeats the owner's list nor imports it before a value is checked.
    min_len
        Smallest allowed length of a list.
    """

    name: str
    kind: str
    doc: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | str | None = None
    min_len: int = 1

    def allowed_choices(self) -> tuple[str, ...] | None:
        """The allowed values of a string (or of each item of a list), read from their owner if named."""
        return _owned(self.choices) if isinstance(self.choices, str) else self.choices

    def allowed(self) -> str:
        """Human-readable description of the allowed values."""
        what = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false",
                "path": "a path to an existing file, or empty"}.get(self.kind, f"a list ({self.kind}) of at "
                                                                       f"least {self.min_len} item(s)")
        parts = [what]
        if self.low is not None and self.high is not None:
            parts.append(f"between {self.low:g} and {self.high:g}")
        elif self.low is not None:
            parts.append(f">= {self.low:g}")
        elif self.high is not None:
            parts.append(f"<= {self.high:g}")
        if self.choices is not None:
            parts.append("one of " + ", ".join(repr(c) for c in self.allowed_choices()))
        return ", ".join(parts)

    def validate(self, value: Any) -> Any:
        """Return ``value`` coerced to this parameter's type, or raise :class:`ParameterError`."""
        def fail() -> ParameterError:
            return ParameterError(f"parameter {self.name!r}: got {value!r}; allowed: {self.allowed()}")

        if self.kind.startswith("list["):
            item = dataclasses.replace(self, kind=self.kind[5:-1])
            if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)) or len(value) < self.min_len:
                raise fail()
            try:
                return [item.validate(v) for v in value]
            except ParameterError:
                raise fail() from None
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise fail()
            return value
        if self.kind == "int":
            if isinstance(value, float) and value.is_integer():  # 5E4 and 2.0 are integers as typed
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int):
                raise fail()
            self._check_range(value, fail)
            return int(value)
        if self.kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
                raise fail()
            self._check_range(value, fail)
            return float(value)
        if self.kind in ("str", "path"):
            if value is None and self.kind == "path":
                return ""
            if not isinstance(value, str):
                raise fail()
            if self.choices is not None and value not in self.allowed_choices():
                raise fail()
            if self.kind == "path" and value and not Path(value).is_file():
                raise ParameterError(f"parameter {self.name!r}: file {value!r} does not exist; "
                                     f"allowed: {self.allowed()}")
            return value
        raise TypeError(f"unknown parameter kind {self.kind!r}")

    def _check_range(self, value: float, fail: Callable[[], ParameterError]) -> None:
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise fail()


@dataclasses.dataclass(frozen=True)
class Schema:
    """The parameters of one study, plus cross-parameter checks.

    ``checks`` are callables taking the validated values and returning an error message or ``None``.
    """

    study: str
    title: str
    params: tuple[Param, ...]
    checks: tuple[Callable[[Mapping[str, Any]], str | None], ...] = ()

    def __getitem__(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        """Parameter names in declaration order."""
        return [p.name for p in self.params]


SCHEMAS: dict[str, Schema] = {}


def register(schema: Schema) -> Schema:
    """Add a study's schema to the registry (used by the study modules)."""
    SCHEMAS[schema.study] = schema
    return schema


def schema(study: str) -> Schema:
    """The schema of ``study``; raises :class:`ParameterError` for an unknown study."""
    if study not in SCHEMAS:
        raise ParameterError(f"unknown study {study!r}; allowed: {', '.join(sorted(SCHEMAS))}")
    return SCHEMAS[study]
