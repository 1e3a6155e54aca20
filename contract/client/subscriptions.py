"""Plans and subscriptions: the calls whose v1/v3 paths differ by build, with their fallbacks.

v3 is tried first; where a build refuses a field (the #4412-window build's ``settlement_mode``)
or lacks a route (``unschedule-cancelation``), the call takes the v1 path, remembers the
capability (:class:`~contract.client.core.Capabilities`) and says which path it took
(:attr:`~contract.client.core.ClientCore.fallbacks`, a recording note).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from contract.client.core import V3, ClientCore
from contract.client.errors import OpenMeterProblem
from contract.client.inputs import EditOp, PlanInput, Timing, edit_ops_v1, timing_value
from contract.client.models import ChangeResult, Plan, SubscriptionSummary, SubscriptionView
from contract.model.domain import SettlementMode
from contract.model.time import format_time, require_utc
from contract.wire import read as p


def _change_result(body: Any, summary: Callable[[Any, str], SubscriptionSummary]) -> ChangeResult:
    """A ``/change`` answer: the subscription that ends (``current``) and the one that starts (``next``)."""
    return ChangeResult(
        current=summary(p.obj(body).get("current"), "current"), next=summary(p.obj(body).get("next"), "next")
    )


class SubscriptionCalls(ClientCore):
    """Plans (create, publish, read) and subscriptions (create, read, cancel, edit, change, continue, restore)."""

    # -- plans ---------------------------------------------------------------------------------

    def create_plan(self, plan: PlanInput) -> Plan:
        """v3 ``POST /plans``; when a ``settlement_mode`` is wanted and v3 refuses the field (the
        #4412-window build, and HEAD, where it is read-only), v1 ``POST /api/v1/plans`` with
        ``settlementMode``. :attr:`Plan.created_via` says which path was used."""
        want_mode = plan.settlement_mode is not None
        if want_mode and self.capabilities.v3_plan_settlement_mode is False:
            return self._create_plan_v1(plan, "v3 plan create takes no settlement_mode on this server")
        path = f"{V3}/plans"
        try:
            reply = self._post(path, plan.v3(with_settlement_mode=want_mode))
        except OpenMeterProblem as err:
            if want_mode and err.status == 400 and err.problem.mentions("settlement_mode"):
                self.capabilities.v3_plan_settlement_mode = False
                return self._create_plan_v1(plan, f"v3 refused settlement_mode ({err.problem.summary()})")
            raise
        if want_mode:
            self.capabilities.v3_plan_settlement_mode = True
        created = self._parsed("plan", "POST", path, lambda: Plan.from_v3(reply))
        self._plan_via[created.id] = "v3"
        return created

    def _create_plan_v1(self, plan: PlanInput, reason: str) -> Plan:
        self._fallback(
            f"plan {plan.key}: created through v1 POST /api/v1/plans: {reason}", path_used="v1", operation="create_plan"
        )
        path = "/api/v1/plans"
        reply = self._post(path, plan.v1())
        created = self._parsed("plan", "POST", path, lambda: Plan.from_v1(reply))
        self._plan_via[created.id] = "v1"
        return created

    def publish_plan(self, plan_id: str) -> Plan:
        path = f"{V3}/plans/{plan_id}/publish"
        reply = self._post(path)
        via = self._plan_via.get(plan_id, "v3")
        return self._parsed("plan", "POST", path, lambda: Plan.from_v3(reply, created_via=via))

    def get_plan(self, plan_id: str) -> Plan:
        path = f"{V3}/plans/{plan_id}"
        body = self._get(path)
        via = self._plan_via.get(plan_id, "v3")
        return self._parsed("plan", "GET", path, lambda: Plan.from_v3(body, created_via=via))

    # -- subscriptions -------------------------------------------------------------------------

    def _plan_ref_v1(self, plan_id: str | None, plan_key: str | None, plan_version: int | None) -> dict[str, Any]:
        if plan_key is None:
            assert plan_id is not None
            plan = self.get_plan(plan_id)
            plan_key, plan_version = plan.key, plan_version or plan.version
        ref: dict[str, Any] = {"key": plan_key}
        if plan_version is not None:
            ref["version"] = plan_version
        return ref

    def _post_v3_subscription(
        self, path: str, body: dict[str, Any], mode: SettlementMode | None, billing_anchor: datetime | None
    ) -> tuple[Any, str | None]:
        """POST a v3 subscription body that may carry ``settlement_mode`` and ``billing_anchor``.

        Returns ``(reply, None)``, or ``(None, why)`` when the server refuses ``settlement_mode``
        (#4412-window builds): the caller then takes the v1 path. The capability is remembered."""
        if mode is not None:
            body["settlement_mode"] = mode.value
        if billing_anchor is not None:
            body["billing_anchor"] = format_time(require_utc(billing_anchor, "billing_anchor"))
        try:
            reply = self._post(path, body)
        except OpenMeterProblem as err:
            if not (mode is not None and err.status == 400 and err.problem.mentions("settlement_mode")):
                raise
            self.capabilities.v3_subscription_settlement_mode = False
            return None, f"v3 refused settlement_mode ({err.problem.summary()})"
        if mode is not None:
            self.capabilities.v3_subscription_settlement_mode = True
        return reply, None

    def create_subscription(
        self,
        customer_id: str,
        *,
        plan_id: str | None = None,
        plan_key: str | None = None,
        plan_version: int | None = None,
        settlement_mode: SettlementMode | str | None = None,
        billing_anchor: datetime | None = None,
        timing: Timing | None = None,
    ) -> SubscriptionSummary:
        """Subscribe a customer to a plan (by id, or key and optional version).

        v3 ``POST /subscriptions`` (it always starts now). v1 ``POST /api/v1/subscriptions`` when
        a ``timing`` other than ``immediate`` is given, or when v3 refuses ``settlement_mode``
        (#4412-window builds). :attr:`SubscriptionSummary.via` says which.
        """
        if plan_id is None and plan_key is None:
            raise ValueError("create_subscription needs plan_id or plan_key")
        mode = SettlementMode(settlement_mode) if settlement_mode is not None else None
        reason = None
        if timing is not None and timing != "immediate":
            reason = "v3 cannot set a subscription's start timing"
        elif mode is not None and self.capabilities.v3_subscription_settlement_mode is False:
            reason = "v3 subscription create takes no settlement_mode on this server"
        if reason is None:
            plan_ref: dict[str, Any] = {"id": plan_id} if plan_id else {"key": plan_key}
            if plan_id is None and plan_version is not None:
                plan_ref["version"] = plan_version
            body: dict[str, Any] = {"customer": {"id": customer_id}, "plan": plan_ref}
            path = f"{V3}/subscriptions"
            reply, reason = self._post_v3_subscription(path, body, mode, billing_anchor)
            if reason is None:
                return self._parsed("subscription", "POST", path, lambda: SubscriptionSummary.from_v3(reply))
        self._fallback(
            f"subscription for customer {customer_id}: created through v1 POST /api/v1/subscriptions: {reason}",
            path_used="v1",
            operation="create_subscription",
        )
        v1_body: dict[str, Any] = {
            "customerId": customer_id,
            "plan": self._plan_ref_v1(plan_id, plan_key, plan_version),
            "timing": timing_value(timing if timing is not None else "immediate"),
        }
        if billing_anchor is not None:
            v1_body["billingAnchor"] = format_time(require_utc(billing_anchor, "billing_anchor"))
        if mode is not None:
            v1_body["settlementMode"] = mode.value
        return self._post_parsed("subscription", "/api/v1/subscriptions", SubscriptionSummary.from_v1, v1_body)

    def get_subscription(self, subscription_id: str) -> SubscriptionView:
        """v1 ``GET /api/v1/subscriptions/{id}`` (both builds): phases, item timelines, µs timestamps."""
        return self._get_parsed("subscription", f"/api/v1/subscriptions/{subscription_id}", SubscriptionView.from_v1)

    def subscription_summary(self, subscription_id: str) -> SubscriptionSummary:
        """v3 ``GET /subscriptions/{id}`` (status; the #4412-window build omits ``active_from/to``)."""
        return self._get_parsed("subscription", f"{V3}/subscriptions/{subscription_id}", SubscriptionSummary.from_v3)

    def cancel_subscription(self, subscription_id: str, timing: Timing = "immediate") -> SubscriptionSummary:
        """v3 cancel: ``immediate`` | ``next_billing_cycle`` | an aligned period boundary (datetime)."""
        path = f"{V3}/subscriptions/{subscription_id}/cancel"
        reply = self._post(path, {"timing": timing_value(timing)})
        return self._parsed("subscription", "POST", path, lambda: SubscriptionSummary.from_v3(reply))

    def edit_subscription(
        self, subscription_id: str, customizations: Sequence[EditOp | Mapping[str, Any]], timing: Timing = "immediate"
    ) -> SubscriptionSummary:
        """v1 ``PATCH /api/v1/subscriptions/{id}`` with ``add_item`` / ``remove_item`` (or raw) ops."""
        path = f"/api/v1/subscriptions/{subscription_id}"
        reply = self.request(
            "PATCH", path, json_body={"customizations": edit_ops_v1(customizations), "timing": timing_value(timing)}
        ).body
        return self._parsed("subscription", "PATCH", path, lambda: SubscriptionSummary.from_v1(reply))

    def change_subscription(
        self,
        subscription_id: str,
        customer_id: str,
        plan_id: str,
        timing: Timing = "immediate",
        *,
        settlement_mode: SettlementMode | str | None = None,
        billing_anchor: datetime | None = None,
    ) -> ChangeResult:
        """v3 ``POST /subscriptions/{id}/change``: ``current`` ends, ``next`` (new id) starts.

        Falls back to v1 ``/change`` when v3 refuses ``settlement_mode``.
        """
        mode = SettlementMode(settlement_mode) if settlement_mode is not None else None
        reason = None
        if mode is not None and self.capabilities.v3_subscription_settlement_mode is False:
            reason = "v3 subscription change takes no settlement_mode on this server"
        if reason is None:
            body: dict[str, Any] = {
                "customer": {"id": customer_id},
                "plan": {"id": plan_id},
                "timing": timing_value(timing),
            }
            path = f"{V3}/subscriptions/{subscription_id}/change"
            reply, reason = self._post_v3_subscription(path, body, mode, billing_anchor)
            if reason is None:
                return self._parsed(
                    "change",
                    "POST",
                    path,
                    lambda: _change_result(reply, SubscriptionSummary.from_v3),
                )
        self._fallback(
            f"subscription {subscription_id}: plan change through v1 /change: {reason}",
            path_used="v1",
            operation="change_subscription",
        )
        v1_body: dict[str, Any] = {"timing": timing_value(timing), "plan": self._plan_ref_v1(plan_id, None, None)}
        if mode is not None:
            v1_body["settlementMode"] = mode.value
        if billing_anchor is not None:
            v1_body["billingAnchor"] = format_time(require_utc(billing_anchor, "billing_anchor"))
        path = f"/api/v1/subscriptions/{subscription_id}/change"
        reply = self._post(path, v1_body)
        return self._parsed(
            "change",
            "POST",
            path,
            lambda: _change_result(reply, SubscriptionSummary.from_v1),
        )

    def continue_subscription(self, subscription_id: str) -> SubscriptionSummary:
        """Undo a scheduled cancel (v3 ``unschedule-cancelation``; v1 when v3 lacks the route)."""
        if self.capabilities.v3_unschedule_cancelation is not False:
            path = f"{V3}/subscriptions/{subscription_id}/unschedule-cancelation"
            try:
                reply = self._post(path)
            except OpenMeterProblem as err:
                route_missing = err.status in (405, 501) or (err.status == 404 and err.problem.mentions("route"))
                if not route_missing:
                    raise
                self.capabilities.v3_unschedule_cancelation = False
            else:
                self.capabilities.v3_unschedule_cancelation = True
                return self._parsed("subscription", "POST", path, lambda: SubscriptionSummary.from_v3(reply))
        self._fallback(
            f"subscription {subscription_id}: continue through v1 (no v3 unschedule-cancelation)",
            path_used="v1",
            operation="continue_subscription",
        )
        return self._post_parsed(
            "subscription",
            f"/api/v1/subscriptions/{subscription_id}/unschedule-cancelation",
            SubscriptionSummary.from_v1,
        )

    def restore_subscription(self, subscription_id: str) -> SubscriptionSummary:
        """v1 ``restore``: continue a canceled subscription and drop any scheduled successor."""
        return self._post_parsed(
            "subscription", f"/api/v1/subscriptions/{subscription_id}/restore", SubscriptionSummary.from_v1
        )


__all__ = ["SubscriptionCalls"]
