"""A resource's JSON shape as data: each neutral field and where v1 and v3 keep it.

OpenMeter serves the same resource twice: v1 in camelCase (``billingCadence``), v3 in snake_case
(``billing_cadence``), a few fields nested differently (v1 ``proRatingConfig.enabled`` is v3
``pro_rating_enabled``). A :class:`Shape` lists a resource's fields once, each a :class:`Field`
naming the neutral attribute, its v3 path (default: the neutral name), its v1 path (default: the
v3 path in camelCase; ``None``: that version has no such field) and the reader for it. One generic
:meth:`Shape.read` and one :meth:`Shape.write` serve both versions, for the client (responses in,
requests out) and the offline OpenMeter (requests in, responses out).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

from contract.model.time import Duration, format_time
from contract.wire import read as r

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


__all__ = [
    "BOOL",
    "DECIMAL",
    "INT",
    "LIST",
    "NAME",
    "PERIOD",
    "RAW",
    "REQ_DECIMAL",
    "REQ_PERIOD",
    "REQ_STR",
    "REQ_TIME",
    "SETTLEMENT",
    "STR",
    "TIME",
    "Api",
    "Field",
    "Reader",
    "Shape",
    "camel",
    "camel_keys",
    "dig",
    "jsonable",
    "raw",
]

T = TypeVar("T")

Api = Literal["v1", "v3"]
#: ``(data, key, path) -> value``, raising :class:`~contract.wire.read.ShapeError` with the path.
Reader = Callable[[Mapping[str, Any], str, str], Any]


def raw(data: Mapping[str, Any], key: str, path: str = "") -> Any:
    """The value as it is (a nested body another shape reads)."""
    return data.get(key)


def camel(name: str) -> str:
    """``billing_cadence`` -> ``billingCadence`` (each dotted segment)."""
    return ".".join(_camel_one(part) for part in name.split("."))


def _camel_one(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def camel_keys(value: Any) -> Any:
    """A v3 JSON value with every object key in v1's camelCase."""
    if isinstance(value, Mapping):
        return {_camel_one(str(key)): camel_keys(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [camel_keys(v) for v in value]
    return value


def jsonable(value: Any) -> Any:
    """A neutral value as JSON: Decimal as an OpenMeter Numeric, UTC instants, enums by value."""
    if isinstance(value, Decimal):
        return r.format_numeric(value)
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Duration):
        return str(value)
    return value


@dataclass(frozen=True, slots=True)
class Field:
    """One neutral field. ``v3``/``v1``: dotted paths, ``None`` where that version lacks the field;
    ``""`` derives them (v3: the name; v1: the v3 path, or the name, in camelCase)."""

    name: str
    read: Reader = r.opt_str
    v3: str | None = ""
    v1: str | None = ""
    default: Any = None
    null_in_v1: bool = False  # v1 writes the key with ``null`` rather than leaving it out

    def at(self, v3: str | None = "", v1: str | None = "") -> Field:
        """This field kept at other paths (``None``: absent in that version)."""
        return replace(self, v3=v3, v1=v1)

    def or_(self, default: Any) -> Field:
        return replace(self, default=default)

    def null_in_v1_too(self) -> Field:
        return replace(self, null_in_v1=True)

    def path(self, api: Api) -> str | None:
        v3 = self.name if self.v3 == "" else self.v3
        if api == "v3":
            return v3
        if self.v1 == "":
            return camel(v3 or self.name)
        return self.v1


@dataclass(frozen=True, slots=True)
class Shape:
    """A resource's fields, in the order request bodies are written."""

    fields: tuple[Field, ...]

    @classmethod
    def of(cls, **specs: Field) -> Shape:
        """A shape from ``name=spec`` pairs, in order (``Shape.of(id=REQ_STR, name=STR.or_(""))``)."""
        return cls(tuple(replace(spec, name=name) for name, spec in specs.items()))

    def __add__(self, other: Shape) -> Shape:
        return Shape(self.fields + other.fields)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def with_readers(self, **readers: Reader) -> Shape:
        """The same paths, some fields read differently (a view that requires what another allows)."""
        return Shape(tuple(replace(f, read=readers[f.name]) if f.name in readers else f for f in self.fields))

    def key(self, name: str, api: Api) -> str:
        """Where ``api`` keeps ``name`` (a dotted path for nested fields)."""
        path = self.field(name).path(api)
        if path is None:
            raise KeyError(f"{name} has no {api} key")
        return path

    def read(self, data: Mapping[str, Any], api: Api, path: str = "", *, only: Iterable[str] = ()) -> dict[str, Any]:
        """Every field ``api`` has (or the ``only`` ones), by neutral name; absent ones are their default."""
        wanted = set(only)
        out: dict[str, Any] = {}
        for f in self.fields:
            if wanted and f.name not in wanted:
                continue
            where = f.path(api)
            value = None if where is None else dig(data, where, path, f.read)
            out[f.name] = f.default if value is None else value
        return out

    def build(self, cls: type[T], data: Mapping[str, Any], api: Api, path: str = "", **given: Any) -> T:
        """``cls`` with its fields read from ``data`` (those not ``given``; absent ones their default)."""
        names = [f.name for f in fields(cast("type[DataclassInstance]", cls)) if f.name not in given]
        return cls(**self.read(data, api, path, only=names), **given)

    def write(self, values: Mapping[str, Any], api: Api) -> dict[str, Any]:
        """A body with the given neutral values; ``None`` leaves a key out (or writes v1's ``null``)."""
        body: dict[str, Any] = {}
        for f in self.fields:
            where = f.path(api)
            if where is None or f.name not in values:
                continue
            value = values[f.name]
            if value is None and not (api == "v1" and f.null_in_v1):
                continue
            *parents, last = where.split(".")
            target = body
            for part in parents:
                target = target.setdefault(part, {})
            target[last] = jsonable(value)
        return body


# The specs shapes are built from (``Shape.of``): a reader, optionally a default and paths.
STR = Field("")
REQ_STR = Field("", r.req_str)
NAME = STR.or_("")
BOOL = Field("", r.opt_bool)
INT = Field("", r.opt_int)
DECIMAL = Field("", r.opt_decimal)
REQ_DECIMAL = Field("", r.req_decimal)
TIME = Field("", r.opt_time)
REQ_TIME = Field("", r.req_time)
PERIOD = Field("", r.opt_period)
REQ_PERIOD = Field("", r.req_period)
SETTLEMENT = Field("", r.opt_settlement)
LIST = Field("", r.items)
RAW = Field("", raw)


def dig(data: Mapping[str, Any], where: str, path: str, reader: Reader) -> Any:
    """``reader`` at dotted ``where`` below ``data``; a missing parent object reads as empty."""
    *parents, last = where.split(".")
    for part in parents:
        data = r.opt_obj(data, part, path) or {}
        path = r.join(path, part)
    return reader(data, last, path)
