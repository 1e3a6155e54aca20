"""Every failure of an OpenMeter call, as one hierarchy rooted at :class:`OpenMeterError`.

* :class:`OpenMeterUnreachable` — no answer at all (connection refused, DNS, timeout). It is also
  a :class:`contract.errors.NoOpenMeterError`, so the CLI prints it in one line with exit code 3.
* :class:`OpenMeterProblem` — OpenMeter answered with an HTTP error; carries the parsed
  RFC 7807 :class:`Problem` (both v1 and v3 shapes) and its validation error ``codes``.
* :class:`OpenMeterResponseError` — a 2xx answer whose body is not what the API promises
  (not JSON, a missing field, a bad timestamp); names the field.

Each carries ``method``, ``path``, ``status`` and ``problem``; ``str()`` is one line and never
contains the API key (the client masks every text before it builds an error).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from contract.errors import NoOpenMeterError

_HTTP_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    412: "Precondition Failed",
    422: "Unprocessable Entity",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

_MAX_DETAIL = 400


def _one_line(text: str, limit: int = _MAX_DETAIL) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class ValidationIssue:
    """One validation error of a problem, whichever shape it came in.

    * v1 ``extensions.validationErrors[] {field, code, message}``
    * v3 ``extensions.validationErrors[] {code, field, message, severity}``
    * v3 ``invalid_parameters[] {field, rule, reason, source}`` (``rule`` set, no ``code``)
    * v1 billing ``extensions {code, message, severity, path}`` and ``extensions.additionalIssues[]``
    """

    message: str
    code: str | None = None
    field: str | None = None
    rule: str | None = None
    source: str | None = None
    severity: str | None = None

    def one_line(self) -> str:
        label = self.code or self.rule
        where = f"{self.field}: " if self.field else ""
        return f"{where}{self.message}" + (f" ({label})" if label else "")


@dataclass(frozen=True, slots=True)
class Problem:
    """An RFC 7807 problem body (``application/problem+json``), v1 or v3."""

    status: int | None
    title: str
    detail: str
    type: str | None = None
    instance: str | None = None
    issues: tuple[ValidationIssue, ...] = ()
    body: str = ""  # the raw body text (masked), for reports

    @property
    def codes(self) -> tuple[str, ...]:
        """Validation error codes, in order, without duplicates."""
        seen: dict[str, None] = {}
        for issue in self.issues:
            if issue.code:
                seen.setdefault(issue.code, None)
        return tuple(seen)

    @property
    def rules(self) -> tuple[str, ...]:
        """v3 ``invalid_parameters[].rule`` values (schema-level rejections)."""
        seen: dict[str, None] = {}
        for issue in self.issues:
            if issue.rule:
                seen.setdefault(issue.rule, None)
        return tuple(seen)

    @property
    def fields(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for issue in self.issues:
            if issue.field:
                seen.setdefault(issue.field, None)
        return tuple(seen)

    def mentions(self, text: str) -> bool:
        """True when ``text`` appears in the detail, any issue, or the raw body."""
        if text in self.detail or text in self.title or text in self.body:
            return True
        return any(
            text in (issue.field or "") or text in issue.message or text in (issue.code or "") for issue in self.issues
        )

    def summary(self) -> str:
        """``<title>: <detail> [code: a, b]`` — one line."""
        title = self.title or (_HTTP_TITLES.get(self.status or 0, "") if self.status else "")
        detail = _one_line(self.detail) if self.detail else ""
        text = title
        if detail and detail != title:
            if title and detail.startswith(title):  # v3 repeats the title: "Bad Request: Bad Request: …"
                detail = detail[len(title) :].lstrip(" :")
            text = f"{title}: {detail}" if title else detail
        if self.codes:
            text += f" [code: {', '.join(self.codes)}]"
        else:
            extra = [i for i in self.issues if i.message not in self.detail]
            if extra:
                text += " [" + "; ".join(_one_line(i.one_line(), 120) for i in extra[:5]) + "]"
        return text or "(no detail)"


def _str_or_none(value: Any) -> str | None:
    if value is None:
        return None
    return str(value)


def _issue_from(item: Mapping[str, Any]) -> ValidationIssue:
    message = item.get("message")
    if message is None:
        message = item.get("reason", "")
    return ValidationIssue(
        message=str(message),
        code=_str_or_none(item.get("code")),
        field=_str_or_none(item.get("field", item.get("path"))),
        rule=_str_or_none(item.get("rule")),
        source=_str_or_none(item.get("source")),
        severity=_str_or_none(item.get("severity")),
    )


def _issues_from(items: Any) -> Iterable[ValidationIssue]:
    if isinstance(items, list):
        for item in items:
            if isinstance(item, Mapping):
                yield _issue_from(item)


def parse_problem(status: int, body: Any, text: str = "") -> Problem:
    """Build a :class:`Problem` from a parsed error body (any JSON, or None) and its raw text.

    Unknown shapes still give a Problem: the title falls back to the HTTP reason, the detail to
    the body text.
    """
    if not isinstance(body, Mapping):
        fallback = text.strip() if text else ("" if body is None else str(body))
        return Problem(
            status=status,
            title=_HTTP_TITLES.get(status, f"HTTP {status}"),
            detail=_one_line(fallback),
            body=text,
        )
    issues: list[ValidationIssue] = list(_issues_from(body.get("invalid_parameters")))
    extensions = body.get("extensions")
    if isinstance(extensions, Mapping):
        issues.extend(_issues_from(extensions.get("validationErrors")))
        if extensions.get("code") or (extensions.get("message") and extensions.get("severity")):
            issues.append(_issue_from(extensions))  # v1 billing: the first issue inline
        issues.extend(_issues_from(extensions.get("additionalIssues")))
    raw_status = body.get("status")
    try:
        parsed_status = int(raw_status) if raw_status is not None else status
    except (TypeError, ValueError):
        parsed_status = status
    return Problem(
        status=parsed_status,
        title=str(body.get("title") or _HTTP_TITLES.get(status, f"HTTP {status}")),
        detail=str(body.get("detail") or ""),
        type=_str_or_none(body.get("type")),
        instance=_str_or_none(body.get("instance")),
        issues=tuple(issues),
        body=text or json.dumps(body, sort_keys=True),
    )


class OpenMeterError(Exception):
    """Base of every error raised by :class:`contract.client.OpenMeterClient`."""

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        path: str = "",
        status: int | None = None,
        problem: Problem | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.path = path
        self.status = status
        self.problem = problem

    @property
    def codes(self) -> tuple[str, ...]:
        return self.problem.codes if self.problem else ()

    def __str__(self) -> str:
        return self.message


class OpenMeterUnreachable(OpenMeterError, NoOpenMeterError):
    """No HTTP answer: connection refused, name not resolved, or a timeout. Exit code 3."""


class OpenMeterProblem(OpenMeterError):
    """OpenMeter answered with an HTTP error status.

    ``str()`` reads ``POST /api/v3/openmeter/subscriptions -> 409 Conflict: <detail> [code: …]``.
    """

    problem: Problem

    def __init__(self, *, method: str, path: str, status: int, problem: Problem) -> None:
        super().__init__(
            f"{method} {path} -> {status} {problem.summary()}",
            method=method,
            path=path,
            status=status,
            problem=problem,
        )
        self.problem = problem

    @property
    def codes(self) -> tuple[str, ...]:
        """The validation error codes (for steps that expect a refusal with an exact code)."""
        return self.problem.codes


class OpenMeterResponseError(OpenMeterError):
    """A successful status with a body the client cannot read (names the field and why)."""


__all__ = [
    "OpenMeterError",
    "OpenMeterProblem",
    "OpenMeterResponseError",
    "OpenMeterUnreachable",
    "Problem",
    "ValidationIssue",
    "parse_problem",
]
