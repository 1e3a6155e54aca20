"""Each transport of the client's chain on its own, over an httpx MockTransport."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from contract.client.transports import (
    ATTEMPTS,
    FINDINGS,
    STEP,
    VALIDATE,
    ListeningTransport,
    RetryTransport,
    ValidatingTransport,
    describe_failure,
)
from contract.findings import Finding, FindingKind

SECRET = "om-test-SECRET-1234"


def _answers(*responses: httpx.Response | Exception) -> tuple[httpx.MockTransport, list[str]]:
    queue = list(responses)
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return httpx.MockTransport(handler), seen


def test_retry_repeats_a_get_on_503_and_leaves_the_attempts_on_the_request() -> None:
    inner, seen = _answers(httpx.Response(503), httpx.Response(200, json={"ok": True}))
    sleeps: list[float] = []
    request = httpx.Request("GET", "http://h/version")

    response = RetryTransport(inner, retries=2, backoff=0.1, sleep=sleeps.append).handle_request(request)

    assert response.status_code == 200 and seen == ["GET", "GET"]
    assert sleeps == [0.1] and request.extensions[ATTEMPTS] == 2


def test_retry_never_repeats_a_post_the_server_may_have_seen() -> None:
    inner, seen = _answers(httpx.ReadError("reset"))
    request = httpx.Request("POST", "http://h/things", content=b"{}")

    with pytest.raises(httpx.ReadError):
        RetryTransport(inner, retries=3, backoff=0.1, sleep=lambda _: None).handle_request(request)
    assert seen == ["POST"] and request.extensions[ATTEMPTS] == 1
    assert describe_failure(httpx.ReadError("reset"), 2.0) == "failed (ReadError: reset) after the request was sent"


def test_listeners_hear_every_attempt_masked() -> None:
    inner, _ = _answers(httpx.Response(201, json={}))
    heard: list[tuple[str, str, Any, int | None]] = []
    listening = ListeningTransport(inner, secrets=[SECRET])
    listening.listeners.append(lambda *args: heard.append(args))

    listening.handle_request(httpx.Request("POST", f"http://h/things?key={SECRET}", json={"token": SECRET}))

    assert heard == [("POST", "http://h/things?key=***", {"token": "***"}, 201)]


class _Flags:
    def validate(
        self, method: str, url: str, status: int, body: Any, *, content_type: str | None = None
    ) -> list[Finding]:
        return [Finding(FindingKind.SCHEMA, f"{method} {url} -> {status}: {body['secret']}")]


def test_validation_puts_masked_findings_with_the_step_on_the_response() -> None:
    inner, _ = _answers(httpx.Response(200, json={"secret": SECRET}), httpx.Response(200, json={"secret": SECRET}))
    validating = ValidatingTransport(inner, _Flags(), secrets=[SECRET])

    checked = validating.handle_request(httpx.Request("GET", "http://h/a", extensions={STEP: "cancel"}))
    skipped = validating.handle_request(httpx.Request("GET", "http://h/a", extensions={VALIDATE: False}))

    (finding,) = checked.extensions[FINDINGS]
    assert finding.step == "cancel" and finding.message == "GET http://h/a -> 200: ***"
    assert FINDINGS not in skipped.extensions
