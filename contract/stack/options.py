"""How to reach OpenMeter: attach to a URL, or boot this project's compose stack.

:meth:`StackOptions.from_env` resolves every option with the precedence *option > environment >
default*: an explicit keyword (e.g. a CLI option) wins; an override passed as ``None`` means "not
given" and falls back to the environment.

============================  =====================================================================
option                        environment
============================  =====================================================================
``url``                       ``OPENMETER_URL``, else OpenMeter's own ``OPENMETER_ADDRESS``
``api_key``                   ``OPENMETER_API_KEY`` (never printed: ``repr`` masks it)
``worker_logs``               ``OPENMETER_WORKER_LOGS`` (file, folder, or ``cmd:<shell command>``)
``postgres_dsn``              ``OPENMETER_POSTGRES`` (``repr`` masks the password)
``force_sync_command``        ``OPENMETER_FORCE_SYNC`` (shell command with ``{customer_id}``)
``image_tag``                 ``OPENMETER_IMAGE_TAG`` (default ``v1.0.0-beta.228``)
============================  =====================================================================

``variant`` (``cti`` | ``no-cti`` | ``no-credits``), ``keep_stack``, ``keep_on_failure``,
``boot_timeout`` and ``compose_dir`` are options only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import urlsplit

import httpx

from contract.client.masking import check_api_key, mask_secrets
from contract.errors import InputError
from contract.stack.syncstate import mask_dsn

__all__ = ["DEFAULT_BOOT_TIMEOUT", "DEFAULT_IMAGE_TAG", "VARIANTS", "StackOptions", "Variant"]

Variant = Literal["cti", "no-cti", "no-credits"]
VARIANTS: tuple[Variant, ...] = ("cti", "no-cti", "no-credits")
DEFAULT_IMAGE_TAG = "v1.0.0-beta.228"
DEFAULT_BOOT_TIMEOUT = 300.0

_ENV: dict[str, tuple[str, ...]] = {
    "url": ("OPENMETER_URL", "OPENMETER_ADDRESS"),
    "api_key": ("OPENMETER_API_KEY",),
    "worker_logs": ("OPENMETER_WORKER_LOGS",),
    "postgres_dsn": ("OPENMETER_POSTGRES",),
    "force_sync_command": ("OPENMETER_FORCE_SYNC",),
    "image_tag": ("OPENMETER_IMAGE_TAG",),
}


def _normalise_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", url):
        url = f"http://{url}"  # OPENMETER_ADDRESS may be host:port
    if not re.match(r"^https?://[^/\s]+", url):
        raise InputError(f"not an http(s) URL: {mask_secrets(url)!r}", field="url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
        if not parts.hostname:
            raise ValueError("no host")
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL) as err:
        raise InputError(f"not a valid URL: {mask_secrets(url)!r} ({err})", field="url") from None
    return url


@dataclass(frozen=True, slots=True)
class StackOptions:
    """Everything :func:`contract.stack.connect` needs; see the module docstring."""

    url: str | None = None
    api_key: str | None = None
    worker_logs: str | None = None
    postgres_dsn: str | None = None
    force_sync_command: str | None = None
    image_tag: str = DEFAULT_IMAGE_TAG
    variant: Variant = "cti"
    keep_stack: bool = False
    keep_on_failure: bool = False
    boot_timeout: float = DEFAULT_BOOT_TIMEOUT
    compose_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.url is not None:
            object.__setattr__(self, "url", _normalise_url(self.url))
        if self.variant not in VARIANTS:
            raise InputError(
                f"unknown variant {self.variant!r} (expected one of {', '.join(VARIANTS)})", field="variant"
            )
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", self.image_tag):
            raise InputError(f"not a Docker image tag: {self.image_tag!r}", field="image_tag")
        if not self.boot_timeout > 0:
            raise InputError(f"must be a positive number of seconds, got {self.boot_timeout!r}", field="boot_timeout")
        if self.api_key is not None:
            object.__setattr__(self, "api_key", check_api_key(self.api_key))
        if self.force_sync_command is not None and "{customer_id}" not in self.force_sync_command:
            raise InputError("the command must contain {customer_id}", field="force_sync_command")

    def __repr__(self) -> str:
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "api_key" and value is not None:
                value = "***"
            elif f.name == "postgres_dsn" and value is not None:
                value = mask_dsn(value)
            shown.append(f"{f.name}={value!r}")
        return f"StackOptions({', '.join(shown)})"

    @property
    def attach(self) -> bool:
        """True when a URL was given: use that OpenMeter instead of booting one."""
        return self.url is not None

    def with_(self, **changes: Any) -> StackOptions:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> StackOptions:
        """Options from ``overrides`` (None = not given), then the environment, then defaults."""
        env = os.environ if environ is None else environ
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"unknown StackOptions field(s): {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for name, env_names in _ENV.items():
            given = overrides.get(name)
            if given is None:
                given = next((env[n] for n in env_names if env.get(n, "").strip()), None)
            if given is not None:
                values[name] = given
        for name, value in overrides.items():
            if name not in _ENV and value is not None:
                values[name] = value
        if "variant" in values:
            values["variant"] = cast(Variant, str(values["variant"]))
        if "boot_timeout" in values:
            try:
                values["boot_timeout"] = float(values["boot_timeout"])
            except (TypeError, ValueError) as err:
                raise InputError(f"not a number: {values['boot_timeout']!r}", field="boot_timeout") from err
        if "compose_dir" in values:
            values["compose_dir"] = Path(values["compose_dir"])
        return cls(**values)
