"""The three profiles (smoke / default / gpu) of every study, and resolving a run's parameters.

The schemas (names, types, ranges, allowed values; :mod:`paperlib.schemas`) live in Python; the values of
each profile live as data in ``paperlib/profiles/<study>.yaml``. :func:`resolve` merges a profile with user overrides and
validates the result before any compute starts: a bad value raises :class:`ParameterError` naming the
parameter, the value and what is allowed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from paperlib import schemas
from paperlib.schema import SCHEMAS, ParameterError, schema

# Importing the study schemas registers them; these names are what the rest of paperlib reads from here.
__all__ = ["PROFILES", "SCHEMAS", "ParameterError", "Params", "parse_override", "profile_values", "read_config",
           "resolve", "schema", "schemas"]

PROFILES: tuple[str, ...] = ("smoke", "default", "gpu")
_PROFILE_DIR = Path(__file__).parent / "profiles"


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
        # Private names are never parameters; refusing them keeps copy and pickle (dask workers) from recursing
        # into this method before ``_values`` exists.
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(key) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def part(self, *names: str) -> "Params":
        """Only the parameters ``names``: what a cached step takes, so that its key holds exactly the values it
        can read (reading any other raises ``AttributeError``)."""
        unknown = [n for n in names if n not in self._values]
        if unknown:
            raise KeyError(f"{self.study}: no parameters {unknown}")
        return type(self)(self.study, self.profile, {n: self._values[n] for n in names}, {})

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the values (JSON-serialisable)."""
        return json.loads(json.dumps(self._values))

    def __repr__(self) -> str:
        return f"Params({self.study!r}, profile={self.profile!r}, {self._values!r})"


def profile_values(study: str, profile: str) -> dict[str, Any]:
    """The raw values of one profile of one study, as stored in ``profiles/<study>.yaml``."""
    sch = schema(study)
    if profile not in PROFILES:
        raise ParameterError(f"parameter 'profile': got {profile!r}; allowed: one of {', '.join(PROFILES)}")
    data = yaml.safe_load((_PROFILE_DIR / f"{sch.study}.yaml").read_text())
    return dict(data[profile])


_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$|^[+-]\.\d+$")


def parse_override(text: str) -> tuple[str, Any]:
    """Parse a command-line override ``key=value``; the value is read as YAML (``3``, ``0.5``, ``[a, b]``)."""
    if "=" not in text:
        raise ParameterError(f"override {text!r}: expected key=value")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip(), _numbers(value)


def _numbers(value: Any) -> Any:
    """``value`` with every string that YAML 1.1 leaves a string although it is a number made a float, in
    lists too: an exponent without a decimal point (``1e-3``, ``5E4``) and a signed fraction without a leading
    digit (``-.5``); the error messages write numbers that way. Other strings stay strings (``"3"`` quoted
    for a text parameter). An integer parameter takes a whole float."""
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        return float(value)
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


def read_config(path: str | Path) -> dict[str, Any]:
    """Parameters and run options from the YAML mapping in ``path`` (``paperlib run STUDY --config FILE``);
    its values are read as ``-p`` reads them. A ``profile`` key names the profile.

    Raises
    ------
    ParameterError
        When the file is missing or unreadable, is not YAML, or does not hold a mapping of names to values.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as err:
        raise ParameterError(f"--config {str(path)!r}: cannot read it ({err.strerror or err})") from None
    except yaml.YAMLError as err:
        raise ParameterError(f"--config {str(path)!r}: not YAML ({str(err).splitlines()[0]})") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise ParameterError(f"--config {str(path)!r}: got {type(data).__name__}; allowed: a mapping of parameter "
                             f"and run option names to values")
    return {k: _numbers(v) for k, v in data.items()}


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
    # the overrides as validated (``seed=1E1`` is recorded as 10), so that equal runs name equal values
    return Params(study, profile, checked, {k: checked[k] for k in overrides})


