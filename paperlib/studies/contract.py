"""What every study module shares: the base of its ``Params`` and ``Results``.

``Results`` of a study is a dataclass of JSON-able values, tables (``pandas.DataFrame``) and arrays; it
round-trips through JSON, so claims and figures can be recomputed from a ``results.json`` alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from paperlib.params import Params, resolve

_FRAME, _ARRAY = "__frame__", "__array__"


class StudyParams(Params):
    """Validated parameters of one study; subclasses name their study in ``STUDY``."""

    STUDY: ClassVar[str] = ""

    @classmethod
    def resolve(cls, profile: str = "default", overrides: Mapping[str, Any] | None = None) -> "StudyParams":
        """Merge ``profile`` (``paperlib/profiles/<study>.yaml``) and ``overrides`` and validate every value;
        a bad one raises :class:`~paperlib.params.ParameterError` naming it, before any compute."""
        p = resolve(cls.STUDY, profile, overrides)
        return cls(p.study, p.profile, p.to_dict(), p.overrides)


def _encode(value: Any) -> Any:
    if isinstance(value, pd.DataFrame):
        return {_FRAME: {"columns": list(map(str, value.columns)), "records": _encode(value.to_dict("records"))}}
    if isinstance(value, np.ndarray):
        return {_ARRAY: value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, Mapping):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, Mapping):
        if _FRAME in value:
            body = value[_FRAME]
            return pd.DataFrame(_decode(body["records"]), columns=body["columns"])
        if _ARRAY in value:
            return np.asarray(value[_ARRAY], dtype=value["dtype"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


@dataclasses.dataclass
class StudyResults:
    """Base of every study's ``Results``: a dataclass whose fields are JSON-able, tables or arrays."""

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (tables and arrays tagged so that :meth:`from_json` restores them)."""
        return {f.name: _encode(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "StudyResults":
        """The results that :meth:`to_json` wrote."""
        return cls(**{f.name: _decode(data[f.name]) for f in dataclasses.fields(cls)})

    def claims_input(self) -> dict[str, Any]:
        """What the claims' judges read: the JSON form with tables as lists of records."""
        return {k: (v.to_dict("records") if isinstance(v, pd.DataFrame) else v)
                for k, v in ((f.name, getattr(self, f.name)) for f in dataclasses.fields(self))}
