"""Secrets: the one object that holds the API key, and the one function that hides it.

Everything the client writes out — error messages, recordings, log lines, ``repr`` — passes
through :func:`mask_secrets`. It replaces every known secret string and any ``Bearer <token>``
value with ``***``, recursively over dicts (keys and values), lists, tuples and strings.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "***"
API_KEY_ENV = "OPENMETER_API_KEY"

# "Bearer <token>" anywhere in a string (header echoes, curl lines, error texts).
_BEARER = re.compile(r"(?i)\b(bearer)\s+[^\s\"',;]+")
# The password of a URL's user info (``scheme://user:password@host``).
_URL_PASSWORD = re.compile(r"://([^/\s:@'\"]*):[^/\s@'\"]*@")


# What an HTTP header value may carry: visible ASCII (RFC 9110 field-value, no spaces in a token).
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")


def check_api_key(value: str) -> str:
    """``value`` stripped, when it can travel as a bearer token; else an InputError that never shows it.

    A key with a newline, a space or a non-ASCII character cannot be sent in a header (httpx would
    fail with an error that echoes the header, key included).
    """
    from contract.errors import InputError

    value = value.strip()
    if not _TOKEN_CHARS.fullmatch(value):
        raise InputError(
            "the API key must be visible ASCII characters with no spaces or line breaks "
            f"({len(value)} characters given; not shown)",
            field=API_KEY_ENV,
        )
    return value


def _mask_str(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    if "://" in text:
        text = _URL_PASSWORD.sub(lambda m: f"://{m.group(1)}:{MASK}@", text)
    return _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)


def mask_secrets(value: Any, secrets: Iterable[str | ApiKey | None] = ()) -> Any:
    """Return ``value`` with every secret and every ``Bearer …`` token replaced by ``***``.

    ``value`` may be any JSON-like structure; dicts, lists and tuples are rebuilt, strings are
    scrubbed (a URL's password too: ``http://user:***@host``), other values are returned
    unchanged. Empty secrets are ignored. The longest secrets
    are replaced first, so a key that contains another key is still fully hidden.
    """
    plain = sorted(
        {s.reveal() if isinstance(s, ApiKey) else s for s in secrets if s},
        key=len,
        reverse=True,
    )
    return _mask(value, tuple(p for p in plain if p))


def _mask(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return _mask_str(value, secrets)
    if isinstance(value, Mapping):
        return {_mask(k, secrets): _mask(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, secrets) for v in value]
    if isinstance(value, tuple):
        return tuple(_mask(v, secrets) for v in value)
    return value


class ApiKey:
    """An OpenMeter API key (bearer token). ``repr``/``str`` never show it; :meth:`reveal` does.

    The open-source server needs no key; hosted deployments do. Build one from the environment
    with :meth:`from_env` (``OPENMETER_API_KEY``).
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not value.strip():
            raise ValueError("an API key cannot be empty")
        self._value = check_api_key(value)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, name: str = API_KEY_ENV) -> ApiKey | None:
        """The key from ``$OPENMETER_API_KEY``, or None when unset or blank."""
        env = os.environ if environ is None else environ
        raw = env.get(name, "").strip()
        return cls(raw) if raw else None

    def reveal(self) -> str:
        return self._value

    def authorization(self) -> str:
        """The ``Authorization`` header value."""
        return f"Bearer {self._value}"

    def __repr__(self) -> str:
        return f"ApiKey({MASK})"

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ApiKey) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("ApiKey", self._value))

    def __reduce__(self) -> Any:  # pickling would write the key out
        raise TypeError("ApiKey cannot be pickled")


__all__ = ["API_KEY_ENV", "MASK", "ApiKey", "check_api_key", "mask_secrets"]
