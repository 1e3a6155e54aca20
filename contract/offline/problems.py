"""Errors the offline OpenMeter answers with, and reading request bodies strictly.

Handlers raise :class:`ApiError`; the server renders it as ``application/problem+json`` in the
shape of the API the request went to (public-api.md §1):

* v1: ``{type, title, status, detail, instance: "urn:request:<id>", extensions: {validationErrors:
  [{field, code, message}]}}`` (``extensions`` only when there are issues);
* v3: ``{type, status, title, instance, detail}`` plus ``invalid_parameters[] {field, rule, reason,
  source}`` for schema-level rejections or ``extensions.validationErrors[] {code, field, message,
  severity}`` for domain rejections.

:class:`Fields` reads one JSON object with the field path in every error ("``phases[0].key``:
required"), and for v3 bodies rejects unknown keys the way OpenMeter's ``additionalProperties:
false`` does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, TypeVar

import httpx

from contract.model.domain import SettlementMode
from contract.model.time import Duration, parse_time

__all__ = [
    "HTTP_TITLES",
    "NUMERIC",
    "RESOURCE_KEY",
    "Api",
    "ApiError",
    "Fields",
    "Issue",
    "Param",
    "api_of",
    "json_body",
    "problem_response",
]

Api = Literal["v1", "v3"]
T = TypeVar("T")

HTTP_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    500: "Internal Server Error",
    501: "Not Implemented",
}

#: OpenMeter's Numeric strings (money and quantities).
NUMERIC = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
#: v3 ``ResourceKey`` (meters, features, plans, phases, rate cards).
RESOURCE_KEY = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)*$")
MAX_RESOURCE_KEY = 64


@dataclass(frozen=True, slots=True)
class Issue:
    """A domain validation error (``extensions.validationErrors[]``)."""

    code: str
    message: str
    field: str | None = None
    severity: str = "critical"


@dataclass(frozen=True, slots=True)
class Param:
    """A schema-level rejection of one request field (v3 ``invalid_parameters[]``)."""

    field: str
    rule: str
    reason: str
    source: str = "body"


class ApiError(Exception):
    """An HTTP error answer: status, one-line detail, and optional validation issues."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        issues: Sequence[Issue] = (),
        params: Sequence[Param] = (),
        title: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.issues = tuple(issues)
        self.params = tuple(params)
        self.title = title or HTTP_TITLES.get(status, f"HTTP {status}")

    @classmethod
    def bad_field(cls, field: str, reason: str, rule: str = "format") -> ApiError:
        """A 400 naming one request field (v3 ``invalid_parameters``; v1 reads the detail)."""
        return cls(400, f"{field}: {reason}", params=(Param(field, rule, reason),))

    @classmethod
    def validation(cls, status: int, code: str, message: str, field: str | None = None) -> ApiError:
        """A domain rejection with one validation error code."""
        return cls(status, message, issues=(Issue(code, message, field),))

    @classmethod
    def not_found(cls, what: str, ident: str) -> ApiError:
        return cls(404, f"{what} {ident} not found")


def api_of(path: str) -> Api:
    return "v3" if path.startswith("/api/v3/") else "v1"


def problem_response(err: ApiError, api: Api, request_id: str) -> httpx.Response:
    """``err`` as an ``application/problem+json`` response in ``api``'s shape."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": err.title,
        "status": err.status,
        "detail": err.detail,
        "instance": f"urn:request:{request_id}",
    }
    if api == "v1":
        issues: list[dict[str, Any]] = [
            {"field": i.field or "", "code": i.code, "message": i.message} for i in err.issues
        ]
        issues += [{"field": p.field, "message": p.reason} for p in err.params]
        if issues:
            body["extensions"] = {"validationErrors": issues}
    else:
        if err.params:
            body["invalid_parameters"] = [
                {"field": p.field, "rule": p.rule, "reason": p.reason, "source": p.source} for p in err.params
            ]
        if err.issues:
            body["extensions"] = {
                "validationErrors": [
                    {"code": i.code, "field": i.field or "", "message": i.message, "severity": i.severity}
                    for i in err.issues
                ]
            }
    return httpx.Response(
        err.status, content=json.dumps(body).encode(), headers={"Content-Type": "application/problem+json"}
    )


def json_body(request: httpx.Request, *, required: bool = True) -> Any:
    """The request's JSON body (None when empty and not ``required``); 400 when it is not JSON."""
    raw = request.content
    if not raw or not raw.strip():
        if required:
            raise ApiError(400, "request body is required")
        return None
    try:
        return json.loads(raw)
    except ValueError as err:
        raise ApiError(400, f"request body is not valid JSON: {err}") from None


def _join(prefix: str, name: str | int) -> str:
    if isinstance(name, int):
        return f"{prefix}[{name}]"
    return f"{prefix}.{name}" if prefix else name


class Fields:
    """Strict reads from one JSON object; every error is a 400 naming the field's path."""

    def __init__(self, data: Any, path: str = "", *, allowed: Iterable[str] | None = None) -> None:
        if not isinstance(data, Mapping):
            raise ApiError.bad_field(path or "body", "expected an object", "type")
        self.data: Mapping[str, Any] = data
        self.path = path
        if allowed is not None:
            known = set(allowed)
            for key in self.data:
                if key not in known:
                    raise ApiError.bad_field(_join(path, key), "unknown property", "additionalProperties")

    def at(self, name: str | int) -> str:
        return _join(self.path, name)

    def has(self, name: str) -> bool:
        return self.data.get(name) is not None

    def raw(self, name: str) -> Any:
        return self.data.get(name)

    def req_str(self, name: str, *, default: str | None = None) -> str:
        value = self.opt_str(name)
        if value is None:
            if default is not None:
                return default
            raise ApiError.bad_field(self.at(name), "required", "required")
        return value

    def opt_str(self, name: str) -> str | None:
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise ApiError.bad_field(self.at(name), "expected a string", "type")
        return value

    def key(self, name: str) -> str:
        """A v3 ``ResourceKey``."""
        value = self.req_str(name)
        if len(value) > MAX_RESOURCE_KEY or not RESOURCE_KEY.match(value):
            raise ApiError.bad_field(
                self.at(name),
                f"must match {RESOURCE_KEY.pattern} and have at most {MAX_RESOURCE_KEY} characters",
                "pattern",
            )
        return value

    def _opt_parsed(self, name: str, parse: Callable[[str], T], reason: str, rule: str) -> T | None:
        """``parse`` of the string under ``name`` (None when absent); a ValueError is a 400 with
        ``reason`` (``{value}`` replaced by the value's repr)."""
        value = self.opt_str(name)
        if value is None:
            return None
        try:
            return parse(value)
        except ValueError:
            raise ApiError.bad_field(self.at(name), reason.replace("{value}", repr(value)), rule) from None

    def opt_settlement(self, name: str) -> SettlementMode | None:
        """A settlement mode (``credit_then_invoice`` or ``credit_only``), or None when absent."""
        return self._opt_parsed(name, SettlementMode, "must be credit_then_invoice or credit_only", "enum")

    def opt_bool(self, name: str) -> bool | None:
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise ApiError.bad_field(self.at(name), "expected true or false", "type")
        return value

    def opt_int(self, name: str) -> int | None:
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ApiError.bad_field(self.at(name), "expected an integer", "type")
        return value

    def obj(self, name: str, *, allowed: Iterable[str] | None = None) -> Fields:
        if self.data.get(name) is None:
            raise ApiError.bad_field(self.at(name), "required", "required")
        return Fields(self.data[name], self.at(name), allowed=allowed)

    def opt_obj(self, name: str, *, allowed: Iterable[str] | None = None) -> Fields | None:
        if self.data.get(name) is None:
            return None
        return Fields(self.data[name], self.at(name), allowed=allowed)

    def items(self, name: str, *, required: bool = False) -> list[Any]:
        value = self.data.get(name)
        if value is None:
            if required:
                raise ApiError.bad_field(self.at(name), "required", "required")
            return []
        if not isinstance(value, list):
            raise ApiError.bad_field(self.at(name), "expected a list", "type")
        return value

    def numeric(self, name: str) -> Decimal:
        value = self.opt_numeric(name)
        if value is None:
            raise ApiError.bad_field(self.at(name), "required", "required")
        return value

    def opt_numeric(self, name: str) -> Decimal | None:
        """A Numeric string (``"0.10"``); a JSON number is refused, as OpenMeter's schema does."""
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise ApiError.bad_field(self.at(name), "expected a numeric string", "type")
        text = value
        if not NUMERIC.match(text):
            raise ApiError.bad_field(self.at(name), f"not a numeric string: {text!r}", "pattern")
        try:
            return Decimal(text)
        except InvalidOperation:  # pragma: no cover - the pattern already guards it
            raise ApiError.bad_field(self.at(name), f"not a number: {text!r}", "pattern") from None

    def opt_time(self, name: str) -> datetime | None:
        return self._opt_parsed(name, parse_time, "not an RFC 3339 timestamp: {value}", "format")

    def opt_duration(self, name: str) -> Duration | None:
        duration = self._opt_parsed(name, Duration.parse, "not an ISO-8601 duration: {value}", "format")
        if duration is not None and (duration.is_zero or duration.approx_seconds() < 0):
            raise ApiError.bad_field(self.at(name), f"must be a positive duration: {self.data[name]!r}", "format")
        return duration

    def id_ref(self, name: str) -> str:
        """``{"id": "..."}`` under ``name``."""
        return self.obj(name).req_str("id")
