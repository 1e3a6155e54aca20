"""``curl`` reproductions of a step's HTTP exchanges.

Every command carries the ``Authorization`` header as a shell placeholder
(``$OPENMETER_API_KEY``), never a key: the open-source server ignores it, a hosted one needs it,
and a report must stay safe to paste into a public issue. Arguments are single-quoted for POSIX
shells, so a body is sent byte for byte as printed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from contract.scenario.result import Exchange

AUTH_HEADER = '-H "Authorization: Bearer $OPENMETER_API_KEY"'


def shell_quote(text: str) -> str:
    """``text`` in single quotes, each ``'`` written as ``'\\''``."""
    return "'" + text.replace("'", "'\\''") + "'"


def absolute_url(url: str, base_url: str | None) -> str:
    """A recorded URL as is; a path (``/api/...``) joined to ``base_url``."""
    if base_url and url.startswith("/"):
        return base_url.rstrip("/") + url
    return url


def body_text(body: object) -> str:
    """A request body as sent: strings and bytes verbatim, anything else as compact JSON."""
    if isinstance(body, bytes):
        return body.decode("utf-8", errors="replace")
    if isinstance(body, str):
        return body
    return json.dumps(body, ensure_ascii=False, default=str)


def curl_command(exchange: Exchange, *, base_url: str | None = None) -> str:
    """One exchange as a multi-line ``curl`` command (lines joined with `` \\``)."""
    parts = [
        f"curl -X {exchange.method.upper()} {shell_quote(absolute_url(exchange.url, base_url))}",
        AUTH_HEADER,
    ]
    if exchange.request_body is not None:
        parts.append(f"-H {shell_quote('Content-Type: ' + exchange.content_type)}")
        parts.append(f"--data {shell_quote(body_text(exchange.request_body))}")
    return " \\\n  ".join(parts)


def curl_script(exchanges: Iterable[Exchange], *, base_url: str | None = None) -> str:
    """Several exchanges, each preceded by a comment with the status OpenMeter answered."""
    blocks = []
    for exchange in exchanges:
        status = f"# answered {exchange.status}\n" if exchange.status is not None else ""
        blocks.append(status + curl_command(exchange, base_url=base_url))
    return "\n\n".join(blocks)
