"""The real OpenMeter keys of one scenario run, and the mapping of unique ids between the two.

Keys in a scenario are *logical* (``api_calls``). OpenMeter keeps one namespace per server, so a
run makes them unique (``api_calls_<run id>``, see :meth:`~contract.scenario.model.Scenario.
keys_for_run`), which lets runs repeat and run in parallel against the same server. A rate card
that references a feature must carry the feature's key (OpenMeter rule
``rate_card_key_feature_key_mismatch``), so item keys map through :meth:`RunKeys.item_key`, and
the unique reference ids an ``expect`` block names map through :meth:`RunKeys.real_unique_id`.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

#: OpenMeter's ``ResourceKey`` pattern (v3); every real key a run creates matches it.
KEY_PATTERN = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)*$")
#: OpenMeter's limit on ``ResourceKey`` length.
MAX_KEY_LENGTH = 64
#: Longest logical key a scenario may use (leaves room for ``m_`` + ``_<run id>``).
MAX_LOGICAL_KEY_LENGTH = 32
#: Longest run id :meth:`Scenario.keys_for_run` accepts.
MAX_RUN_ID_LENGTH = 24


def new_run_id() -> str:
    """A fresh run id, ``<unix millis>_<8 hex digits>``: lowercase, key-safe, 22 characters."""
    return f"{time.time_ns() // 1_000_000}_{secrets.token_hex(4)}"


_UNIQUE_ID = re.compile(r"^(?P<sub>[^/]+)/(?P<phase>[^/]+)/(?P<item>[^/]+)/(?P<rest>v\[\d+\](?:/period\[\d+\])?)$")

#: How expectation ids name the subscription (as in the oracle cases).
SUBSCRIPTION_PLACEHOLDER = "S"


@dataclass(frozen=True, slots=True, eq=False)
class RunKeys(Mapping[str, str]):
    """The real OpenMeter keys of one run. As a mapping: logical feature/plan key -> real key.

    ``item_keys`` maps every rate-card (item) key of the scenario: feature-backed ones to the
    feature's real key, the others to themselves (they only need to be unique within a phase).
    """

    run_id: str
    features: Mapping[str, str]
    plans: Mapping[str, str]
    item_keys: Mapping[str, str]
    meters: Mapping[str, str]  # logical feature key -> meter key
    event_types: Mapping[str, str]  # logical feature key -> meter event type
    customer: str
    subject: str

    def _flat(self) -> dict[str, str]:
        return {**self.plans, **self.features}

    def __getitem__(self, key: str) -> str:
        return self._flat()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._flat())

    def __len__(self) -> int:
        return len(self._flat())

    def item_key(self, logical: str) -> str:
        """The real key of a subscription item / rate card (unknown keys are kept as written)."""
        return self.item_keys.get(logical, logical)

    def real_unique_id(self, logical_id: str, subscription_id: str) -> str:
        """``S/default/api_calls/v[0]/period[0]`` -> ``<subscription id>/default/api_calls_<run>/…``."""
        m = _UNIQUE_ID.match(logical_id)
        if not m:
            raise ValueError(f"not a unique reference id: {logical_id!r}")
        sub = subscription_id if m["sub"] == SUBSCRIPTION_PLACEHOLDER else m["sub"]
        return f"{sub}/{m['phase']}/{self.item_key(m['item'])}/{m['rest']}"

    def logical_unique_id(self, real_id: str, subscription_id: str) -> str:
        """The inverse of :meth:`real_unique_id` (for reports written in the scenario's words)."""
        m = _UNIQUE_ID.match(real_id)
        if not m:
            return real_id
        back = {real: logical for logical, real in self.item_keys.items()}
        sub = SUBSCRIPTION_PLACEHOLDER if m["sub"] == subscription_id else m["sub"]
        return f"{sub}/{m['phase']}/{back.get(m['item'], m['item'])}/{m['rest']}"


def unique_id_problem(logical_id: str) -> str | None:
    """Why ``logical_id`` is not a unique reference id :meth:`RunKeys.real_unique_id` can map, or None."""
    if _UNIQUE_ID.match(logical_id):
        return None
    return (
        f"not a unique reference id: {logical_id!r} "
        "(write <subscription>/<phase>/<item>/v[n] or .../v[n]/period[k], with S for the subscription)"
    )


def check_real_key(key: str) -> str:
    if len(key) > MAX_KEY_LENGTH or not KEY_PATTERN.match(key):
        raise ValueError(f"key {key!r} is not a valid OpenMeter key ({KEY_PATTERN.pattern}, <= {MAX_KEY_LENGTH} chars)")
    return key


__all__ = [
    "KEY_PATTERN",
    "MAX_KEY_LENGTH",
    "MAX_LOGICAL_KEY_LENGTH",
    "MAX_RUN_ID_LENGTH",
    "SUBSCRIPTION_PLACEHOLDER",
    "RunKeys",
    "check_real_key",
    "new_run_id",
    "unique_id_problem",
]
