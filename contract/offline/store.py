"""The offline OpenMeter's in-memory resources and the lookups every router shares.

One :class:`Store` holds what the routers create — meters, features, customers, billing
profiles, credit grants, plans, subscriptions, every subscription item's rate card, and the usage
events with the time they were received — and answers the questions several resources ask of
it (a customer by id or key, a feature by key, the billing profile in effect for a customer).
A lookup of something missing raises the 404 :class:`ApiError` OpenMeter answers with.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TypeVar

from contract.offline.catalog import Customer, Feature, Grant, Meter, Plan, PlanRateCard, Profile, UsageEvent
from contract.offline.problems import ApiError
from contract.offline.subscriptions import SubscriptionSpec

__all__ = ["Store", "require"]

T = TypeVar("T")


def require(table: Mapping[str, T], ident: str, what: str) -> T:
    """``table[ident]``, or the 404 problem ``<what> <ident> not found``."""
    found = table.get(ident)
    if found is None:
        raise ApiError.not_found(what, ident)
    return found


class Store:
    """The fake's resources by id (see the module docstring); insertion order is creation order.

    Not a value: the routers add and replace what they create in its tables.
    """

    def __init__(self) -> None:
        self.meters: dict[str, Meter] = {}
        self.features: dict[str, Feature] = {}
        self.customers: dict[str, Customer] = {}
        self.profiles: dict[str, Profile] = {}
        self.grants: dict[str, Grant] = {}
        self.plans: dict[str, Plan] = {}
        self.subscriptions: dict[str, SubscriptionSpec] = {}
        self.items: dict[str, PlanRateCard] = {}  # every item id ever shown -> its rate card
        self.events: list[tuple[datetime, UsageEvent]] = []  # (received at, event)
        self.event_keys: set[tuple[str, str]] = set()

    # ------------------------------------------------------------ customers and profiles

    def customer(self, customer_id: str) -> Customer:
        return require(self.customers, customer_id, "customer")

    def customer_by_key(self, key: str) -> Customer:
        found = next((c for c in self.customers.values() if c.key == key), None)
        if found is None:
            raise ApiError.not_found("customer", key)
        return found

    def customer_key(self, customer_id: str) -> str:
        """The customer's key (its id when the customer is unknown)."""
        customer = self.customers.get(customer_id)
        return customer.key if customer is not None else customer_id

    def default_profile(self) -> Profile:
        return next(p for p in self.profiles.values() if p.default)

    def effective_profile(self, customer_id: str) -> Profile:
        """The customer's own billing profile, else the default one."""
        customer = self.customers.get(customer_id)
        profile = self.profiles.get(customer.profile_id) if customer and customer.profile_id else None
        return profile if profile is not None else self.default_profile()

    # ------------------------------------------------------------ features, plans, subscriptions

    def feature_by_key(self, key: str) -> Feature | None:
        return next((f for f in self.features.values() if f.key == key), None)

    def feature_info(self, key: str) -> tuple[Feature, Meter | None] | None:
        """The feature with ``key`` and its meter (None when it has none)."""
        feature = self.feature_by_key(key)
        if feature is None:
            return None
        return feature, self.meters.get(feature.meter_id) if feature.meter_id else None

    def feature_of_item(self, item_id: str) -> tuple[str | None, str | None]:
        """``(feature key, feature id)`` of a subscription item's rate card (Nones without a feature)."""
        rate_card = self.items.get(item_id)
        if rate_card is None or rate_card.feature_key is None:
            return None, None
        feature = self.feature_by_key(rate_card.feature_key)
        return rate_card.feature_key, feature.id if feature is not None else rate_card.feature_id

    def plan(self, plan_id: str) -> Plan:
        return require(self.plans, plan_id, "plan")

    def subscription(self, subscription_id: str) -> SubscriptionSpec:
        return require(self.subscriptions, subscription_id, "subscription")

    def store_subscription(self, sub: SubscriptionSpec) -> SubscriptionSpec:
        """Keep ``sub`` (replacing its previous version) and remember its items' rate cards."""
        self.subscriptions[sub.id] = sub
        for phase in sub.phases:
            for item in phase.items:
                self.items[item.id] = item.rate_card
        return sub
