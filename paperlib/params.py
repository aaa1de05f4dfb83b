"""Typed parameter schemas, one per study, and the three profiles (smoke / default / gpu).

The schema (names, types, ranges, allowed values) lives here in Python; the values of each profile live
as data in ``paperlib/profiles/<study>.yaml``. :func:`resolve` merges a profile with user overrides and
validates the result before any compute starts: a bad value raises :class:`ParameterError` naming the
parameter, the value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

PROFILES: tuple[str, ...] = ("smoke", "default", "gpu")
_PROFILE_DIR = Path(__file__).parent / "profiles"


class ParameterError(ValueError):
    """A study parameter (or a combination of them) is invalid; raised before any compute."""


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
        Allowed values for strings (for lists: for each item).
    min_len
        Smallest allowed length of a list.
    """

    name: str
    kind: str
    doc: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    min_len: int = 1

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
            parts.append("one of " + ", ".join(repr(c) for c in self.choices))
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
            if self.choices is not None and value not in self.choices:
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


class Params(Mapping[str, Any]):
    """Validated, read-only parameters of one study run, with the profile they came from."""

    def __init__(self, study: str, profile: str, values: Mapping[str, Any], overrides: Mapping[str, Any]):
        self.study = study
        self.profile = profile
        self._values = dict(values)
        self.overrides = dict(overrides)

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __getattr__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(key) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the values (JSON-serialisable)."""
        return json.loads(json.dumps(self._values))

    def __repr__(self) -> str:
        return f"Params({self.study!r}, profile={self.profile!r}, {self._values!r})"


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


def profile_values(study: str, profile: str) -> dict[str, Any]:
    """The raw values of one profile of one study, as stored in ``profiles/<study>.yaml``."""
    sch = schema(study)
    if profile not in PROFILES:
        raise ParameterError(f"parameter 'profile': got {profile!r}; allowed: one of {', '.join(PROFILES)}")
    data = yaml.safe_load((_PROFILE_DIR / f"{sch.study}.yaml").read_text())
    return dict(data[profile])


def parse_override(text: str) -> tuple[str, Any]:
    """Parse a command-line override ``key=value``; the value is read as YAML (``3``, ``0.5``, ``[a, b]``)."""
    if "=" not in text:
        raise ParameterError(f"override {text!r}: expected key=value")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def resolve(study: str, profile: str = "default", overrides: Mapping[str, Any] | None = None) -> Params:
    """Merge ``profile`` and ``overrides`` for ``study`` and validate every value.

    Raises
    ------
    ParameterError
        For an unknown study, profile or parameter name, a value of the wrong type, out of range or not
        among the allowed choices, or a failed cross-parameter check.
    """
    overrides = dict(overrides or {})
    sch = schema(study)
    values = profile_values(study, profile)
    unknown = sorted(set(overrides) - set(sch.names))
    if unknown:
        raise ParameterError(f"unknown parameter {unknown[0]!r} for study {study!r}; "
                             f"allowed: {', '.join(sch.names)}")
    values.update(overrides)
    missing = [n for n in sch.names if n not in values]
    if missing:
        raise ParameterError(f"profile {profile!r} of study {study!r} lacks parameter {missing[0]!r}")
    checked = {p.name: p.validate(values[p.name]) for p in sch.params}
    for check in sch.checks:
        msg = check(checked)
        if msg:
            raise ParameterError(msg)
    return Params(study, profile, checked, overrides)


# The study schemas register themselves on import; imported last because they use the classes above.
from paperlib import schemas as _schemas  # noqa: E402,F401
