"""Response validation against OpenMeter's OpenAPI documents (openapi-core).

:class:`ResponseValidator` checks each response the client receives and returns
:class:`~contract.compare.findings.Finding` s of kind ``SCHEMA`` — a mismatch is a finding, never
an exception. Documents come from files (``from_files``) or from the running server
(``from_server``: v1 ``GET /api/swagger.json``, v3 ``GET /api/v3/openapi.json``, so a build is
checked against its own contract).

Loading is lazy and cached per document. Measured on this project's machine: parsing the YAML
takes ~0.75 s (v1, 1 MB) and ~0.3 s (v3, 0.5 MB) with libyaml; building the openapi-core object
is instant because we skip openapi-spec-validator's meta-validation (that alone costs ~3.6 s and
~1.9 s and checks OpenMeter's document, not its responses); one response validates in 2–25 ms.

Two adjustments keep findings about the server, not about the tools:

* ``nullable: true`` next to ``allOf`` (OpenAPI 3.0) is honoured the way OpenMeter's own
  validator (kin-openapi) reads it: the value may be null. openapi-core would reject the null.
* with ``tolerate_known=True`` (default) a ``null`` where the document says array or object is
  tolerated and counted in :attr:`ResponseValidator.tolerated` (Go writes nil slices and maps as
  ``null``; shared/design/public-api.md §7). ``tolerate_known=False`` reports them too.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from contract.findings import Finding, FindingKind
from contract.limits import MAX_OPENAPI_BYTES, decode_utf8, read_input

_MAX_FINDINGS_PER_RESPONSE = 20


class DocumentSource(Protocol):
    """A server that serves its OpenAPI documents (an :class:`~contract.client.OpenMeterClient`)."""

    @property
    def base_url(self) -> str: ...

    def openapi_document(self, api: Literal["v1", "v3"]) -> dict[str, Any] | None: ...


_V3_PREFIX = "/api/v3"


def _load_document(path: Path) -> dict[str, Any]:
    text = decode_utf8(read_input(path, limit=MAX_OPENAPI_BYTES, what="OpenAPI document"), str(path))
    if path.suffix == ".json":
        data = json.loads(text)
    else:
        import yaml

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        data = yaml.load(text, Loader=loader)  # a safe loader (C or Python)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not an OpenAPI document")
    return data


def _json_media(value: bytes, **_parameters: str) -> Any:
    return json.loads(value)


# openapi-core knows application/json only; OpenMeter's errors are application/problem+json
_JSON_MEDIA_TYPES: dict[str, Callable[..., Any]] = {
    "application/problem+json": _json_media,
    "application/cloudevents+json": _json_media,
    "application/cloudevents-batch+json": _json_media,
}


def _from_file(path: Path) -> Callable[[], dict[str, Any]]:
    return lambda: _load_document(path)


def _constant(data: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    return lambda: data


def _nullable_all_of(node: Any) -> Any:
    """Rewrite ``{nullable: true, allOf: [...]}`` as ``anyOf[<schema>, null]`` (kin-openapi semantics)."""
    if isinstance(node, dict):
        out = {k: _nullable_all_of(v) for k, v in node.items()}
        if out.get("nullable") is True and "allOf" in out:
            rest = {k: v for k, v in out.items() if k != "nullable"}
            return {"anyOf": [rest, {"enum": [None]}]}
        return out
    if isinstance(node, list):
        return [_nullable_all_of(v) for v in node]
    return node


@dataclass
class _Document:
    """One OpenAPI document: where it comes from, and its openapi-core object once built."""

    api: str  # "v1" | "v3"
    source: str  # file path or URL, for messages
    load: Callable[[], dict[str, Any]]
    server_url: str
    openapi: Any = None
    error: str | None = None

    def get(self, timings: dict[str, float]) -> Any:
        if self.openapi is not None or self.error is not None:
            return self.openapi
        from openapi_core import OpenAPI
        from openapi_core.configurations import Config

        started = time.perf_counter()
        try:
            data = _nullable_all_of(self.load())
            data["servers"] = [{"url": self.server_url}]
            config = Config(spec_validator_cls=None, extra_media_type_deserializers=_JSON_MEDIA_TYPES)
            self.openapi = OpenAPI.from_dict(data, config=config)
        except Exception as err:  # a broken document disables this API's checks, said once
            self.error = f"{self.api} OpenAPI document {self.source} could not be loaded: {err}"
        timings[self.api] = time.perf_counter() - started
        return self.openapi


class _Request:
    """The little openapi-core needs to find the operation (``openapi_core.protocols.Request``)."""

    def __init__(self, method: str, path: str) -> None:
        from openapi_core.datatypes import RequestParameters

        self.host_url = "http://openmeter"
        self.path = path
        self.full_url_pattern = self.host_url + path
        self.method = method.lower()
        self.body: bytes | None = None
        self.content_type = "application/json"
        self.parameters = RequestParameters()


class _Response:
    def __init__(self, status: int, data: bytes, content_type: str) -> None:
        from werkzeug.datastructures import Headers

        self.status_code = status
        self.data = data
        self.content_type = content_type
        self.headers = Headers({"Content-Type": content_type})


def _json_path(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _is_nil_collection(error: Any) -> bool:
    """A ``null`` where the schema says array/object: Go's nil slice or map."""
    return (
        getattr(error, "validator", None) == "type"
        and getattr(error, "instance", 0) is None
        and getattr(error, "validator_value", None) in ("array", "object")
    )


def _explain(error: Any) -> str:
    """The error's message; for a failed oneOf/anyOf, the reasons of the closest branch
    (the one with the fewest errors, the first on ties)."""
    message = str(getattr(error, "message", error))
    context = list(getattr(error, "context", None) or ())
    if getattr(error, "validator", None) not in ("oneOf", "anyOf") or not context:
        return message
    branches: dict[Any, list[Any]] = {}
    for sub in context:
        branch = next(iter(getattr(sub, "schema_path", ()) or ()), None)
        branches.setdefault(branch, []).append(sub)
    closest = min(branches.values(), key=len)
    reasons = []
    for sub in closest[:3]:
        where = _json_path(getattr(sub, "relative_path", ()))
        text = str(sub.message)
        text = text if len(text) <= 160 else text[:159] + "…"
        reasons.append(f"{where}: {text}" if where else text)
    return "matches none of the allowed shapes; closest: " + "; ".join(reasons)


class ResponseValidator:
    """Validate responses against the v1 and v3 OpenAPI documents; collect findings, never raise."""

    def __init__(self, *, v1: _Document | None, v3: _Document | None, tolerate_known: bool = True) -> None:
        self._docs = {"v1": v1, "v3": v3}
        self.tolerate_known = tolerate_known
        self.load_seconds: dict[str, float] = {}
        self.tolerated: Counter[str] = Counter()
        self.skipped = 0  # responses of routes the documents do not describe
        self.notes: list[str] = []
        self._reported_errors: set[str] = set()

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def from_files(
        cls, v1_path: str | Path | None, v3_path: str | Path | None, *, tolerate_known: bool = True
    ) -> ResponseValidator:
        """Documents from files (YAML or JSON); loaded on first use."""
        v1 = v3 = None
        if v1_path is not None:
            v1 = _Document("v1", str(v1_path), _from_file(Path(v1_path)), "/")
        if v3_path is not None:
            v3 = _Document("v3", str(v3_path), _from_file(Path(v3_path)), _V3_PREFIX)
        return cls(v1=v1, v3=v3, tolerate_known=tolerate_known)

    @classmethod
    def from_server(
        cls,
        client: DocumentSource,
        *,
        v1_fallback: str | Path | None = None,
        v3_fallback: str | Path | None = None,
        tolerate_known: bool = True,
    ) -> ResponseValidator:
        """The documents the server itself serves; a file fallback (if given) for one it does not."""
        docs: dict[str, _Document | None] = {}
        notes: list[str] = []
        apis: tuple[tuple[Literal["v1", "v3"], str | Path | None], ...] = (("v1", v1_fallback), ("v3", v3_fallback))
        for api, fallback in apis:
            server_url = "/" if api == "v1" else _V3_PREFIX
            served = client.openapi_document(api)
            if served is not None:
                docs[api] = _Document(api, f"{client.base_url} ({api})", _constant(served), server_url)
            elif fallback is not None:
                fb = Path(fallback)
                notes.append(f"{api}: the server serves no OpenAPI document; using {fb}")
                docs[api] = _Document(api, str(fb), _from_file(fb), server_url)
            else:
                notes.append(f"{api}: the server serves no OpenAPI document; {api} responses are not checked")
                docs[api] = None
        validator = cls(v1=docs["v1"], v3=docs["v3"], tolerate_known=tolerate_known)
        validator.notes.extend(notes)
        return validator

    def with_tolerance(self, tolerate_known: bool) -> ResponseValidator:
        """A validator sharing these (loaded) documents with another tolerance policy."""
        other = ResponseValidator(v1=self._docs["v1"], v3=self._docs["v3"], tolerate_known=tolerate_known)
        other.load_seconds = self.load_seconds
        return other

    def preload(self) -> dict[str, float]:
        """Build both documents now (normally lazy); returns seconds spent per API."""
        for doc in self._docs.values():
            if doc is not None:
                doc.get(self.load_seconds)
        return dict(self.load_seconds)

    # -- validation --------------------------------------------------------------------------

    def validate(
        self, method: str, url: str, status: int, body: Any, *, content_type: str | None = None
    ) -> list[Finding]:
        """Findings for one response (``body`` parsed JSON, ``""``/None when empty)."""
        try:
            return self._validate(method.upper(), url, status, body, content_type)
        except Exception as err:  # the validator must never break a run
            return [
                Finding(
                    FindingKind.SCHEMA,
                    f"{method.upper()} {urlsplit(url).path} -> {status}: "
                    f"response could not be validated ({type(err).__name__}: {err})",
                )
            ]

    def _validate(self, method: str, url: str, status: int, body: Any, content_type: str | None) -> list[Finding]:
        from openapi_core.templating.paths.exceptions import PathError
        from openapi_core.templating.responses.exceptions import ResponseNotFound

        path = urlsplit(url).path
        api = "v3" if path.startswith(_V3_PREFIX + "/") else ("v1" if path.startswith("/api/v1/") else None)
        doc = self._docs.get(api) if api else None
        if doc is None:
            self.skipped += 1
            return []
        openapi = doc.get(self.load_seconds)
        if openapi is None:
            if doc.error and doc.error not in self._reported_errors:
                self._reported_errors.add(doc.error)
                return [Finding(FindingKind.SCHEMA, doc.error)]
            return []
        if body is None or body == "":
            data = b""
        elif isinstance(body, bytes):
            data = body
        else:
            data = json.dumps(body).encode()
        ctype = content_type or ("application/problem+json" if status >= 400 else "application/json")
        ctype = ctype.split(";")[0].strip().lower()
        where = f"{method} {path} -> {status}"
        try:
            openapi.validate_response(_Request(method, path), _Response(status, data, ctype))
        except PathError:
            self.skipped += 1
            return []
        except ResponseNotFound:
            return [
                Finding(
                    FindingKind.SCHEMA,
                    f"{where}: status {status} is not documented for this operation",
                    field="status",
                    actual=str(status),
                )
            ]
        except Exception as err:
            return self._findings(where, err)
        return []

    def _findings(self, where: str, err: Exception) -> list[Finding]:
        cause = err.__cause__
        schema_errors = list(getattr(cause, "schema_errors", None) or [])
        if not schema_errors:
            reason = str(cause or err) or type(err).__name__
            return [Finding(FindingKind.SCHEMA, f"{where}: {type(err).__name__}: {reason}")]
        by_field: dict[str, list[str]] = {}
        for error in schema_errors:
            field = _json_path(getattr(error, "absolute_path", ()))
            if self.tolerate_known and _is_nil_collection(error):
                self.tolerated["null collection"] += 1
                by_field.setdefault(field, [])
                continue
            message = _explain(error)
            if message not in by_field.setdefault(field, []):
                by_field[field].append(message)
        findings = []
        for field, messages in by_field.items():
            # "None for not nullable" comes with the type error of a tolerated null: drop both
            messages = [m for m in messages if not (self.tolerate_known and m == "None for not nullable")]
            if not messages:
                continue
            label = field or "<body>"
            findings.append(Finding(FindingKind.SCHEMA, f"{where}: {label}: {'; '.join(messages)}", field=label))
        if len(findings) > _MAX_FINDINGS_PER_RESPONSE:
            more = len(findings) - _MAX_FINDINGS_PER_RESPONSE
            findings = findings[:_MAX_FINDINGS_PER_RESPONSE]
            findings.append(Finding(FindingKind.SCHEMA, f"{where}: and {more} more schema differences"))
        return findings

    def describe(self) -> Mapping[str, str | None]:
        """Where each API's document comes from (None: not checked)."""
        return {api: (doc.source if doc else None) for api, doc in self._docs.items()}


__all__ = ["DocumentSource", "ResponseValidator"]
