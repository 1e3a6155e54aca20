"""Invoicing pending gathering lines (FORMAT.md ``invoice`` steps, upstream InvoicePendingLines)."""

from __future__ import annotations

from decimal import Decimal

from contract.model import Engine, EngineState, SyncConfig, empty_state
from contract.model.domain import PaymentTerm, Price, PriceType, Tier
from contract.model.invoicing import billable_period, invoice_pending_lines
from contract.model.persisted import InvoiceLine, LineEngine
from contract.model.time import Period

from .builders import flat, phase, simple, subscription, t, usage, version

LINES = SyncConfig(credits_enabled=False)


def line(price: Price, sp: Period, invoice_at: str) -> InvoiceLine:
    return InvoiceLine("L", "G", "USD", "x", LineEngine.INVOICE, sp, t(invoice_at), price, None, None)


MONTH = Period(t("2024-01-01"), t("2024-02-01"))


def test_flat_lines_are_due_at_invoice_at_and_go_whole() -> None:
    fee = line(Price(PriceType.FLAT, Decimal(5), PaymentTerm.IN_ADVANCE), MONTH, "2024-01-01")
    assert billable_period(fee, t("2023-12-31T23:59:59Z"), False) is None
    assert billable_period(fee, t("2024-01-01T00:00:00.9Z"), False) == MONTH
    assert billable_period(fee, t("2024-01-05"), True) == MONTH


def test_usage_lines_are_due_after_their_period_unless_progressive() -> None:
    api = line(Price(PriceType.UNIT, Decimal(1)), MONTH, "2024-02-01")
    assert billable_period(api, t("2024-01-31T23:59:59.9Z"), False) is None
    assert billable_period(api, t("2024-02-01"), False) == MONTH
    assert billable_period(api, t("2024-01-02"), True) == Period(t("2024-01-01"), t("2024-01-02"))
    assert billable_period(api, t("2024-01-01T00:00:00.9Z"), True) is None


def test_volume_tiered_lines_are_never_billed_progressively() -> None:
    """Upstream's volume pricer is non-progressive (seen live: a progressive invoice 2 s into a
    volume-priced period answers invoice_create_no_lines); graduated tiers still split."""
    tiers = (Tier(Decimal(100), None, Decimal("0.10")), Tier(None, None, Decimal("0.05")))
    volume = line(Price(PriceType.TIERED, mode="volume", tiers=tiers), MONTH, "2024-02-01")
    graduated = line(Price(PriceType.TIERED, mode="graduated", tiers=tiers), MONTH, "2024-02-01")
    assert billable_period(volume, t("2024-01-02"), True) is None
    assert billable_period(volume, t("2024-02-01"), True) == MONTH
    assert billable_period(graduated, t("2024-01-02"), True) == Period(t("2024-01-01"), t("2024-01-02"))


def test_usage_lines_wait_for_invoice_at_without_progressive_billing() -> None:
    weekly = line(Price(PriceType.UNIT, Decimal(1)), Period(t("2024-01-01"), t("2024-01-08")), "2024-02-01")
    assert billable_period(weekly, t("2024-01-10"), False) is None
    assert billable_period(weekly, t("2024-01-10"), True) == Period(t("2024-01-01"), t("2024-01-08"))


def synced(engine: Engine, sub_as_of: str, *cards: tuple[str, object]) -> EngineState:
    items = {key: (version(key, card, t("2024-01-01")),) for key, card in cards}  # type: ignore[arg-type]
    sub = subscription(phase("default", **items))
    result = engine.sync(empty_state(), sub, t(sub_as_of))
    assert result.error is None
    return result.state


def test_due_lines_move_with_their_ids_to_one_draft_invoice() -> None:
    engine = Engine(LINES)
    state = synced(engine, "2024-01-05", ("fee", flat("5")), ("api", usage("1")))
    gathering_ids = {ln.id for ln in state.customer("C").lines.values()}
    result = engine.invoice(state, "C", t("2024-02-01"))
    cust = result.state.customer("C")
    [draft] = [cust.invoices[i] for i in result.invoice_ids]
    assert draft.status == "draft"
    moved = {line.line_id for line in result.invoiced}
    assert moved <= gathering_ids
    assert {line.id for line in result.invoiced} == {
        "S/default/fee/v[0]/period[0]",
        "S/default/fee/v[0]/period[1]",
        "S/default/api/v[0]/period[0]",
    }
    assert all(cust.lines[i].invoice_id == draft.id for i in moved if i is not None)
    assert not any(i.is_gathering and not i.deleted for i in cust.invoices.values())


def test_progressive_invoicing_splits_an_invoice_backed_usage_line_into_a_group() -> None:
    engine = Engine(LINES)
    state = synced(engine, "2024-01-01T00:01:00Z", ("api", usage("1")))
    result = engine.invoice(state, "C", t("2024-01-02"), progressive=True)
    [invoiced] = result.invoiced
    assert invoiced.id == "S/default/api/v[0]/period[0]"
    assert invoiced.service_period == Period(t("2024-01-01"), t("2024-01-02"))
    assert invoiced.invoice_at == t("2024-01-02")
    [remainder] = engine.snapshot(result.state, "S").items
    assert remainder.id == "S/default/api/v[0]/period[0]"
    assert remainder.service_period == Period(t("2024-01-02"), t("2024-02-01"))
    assert remainder.group_service_period == MONTH
    again = engine.sync(result.state, simple(usage("1")), t("2024-01-02"))
    assert again.error is None and again.operations.total == 0


def test_progressive_invoicing_of_a_mirror_line_realizes_part_of_the_charge() -> None:
    engine = Engine()
    state = synced(engine, "2024-01-01T00:01:00Z", ("api", usage("1")))
    result = engine.invoice(state, "C", t("2024-01-02"), progressive=True)
    [charge] = engine.snapshot(result.state, "S").items
    assert charge.service_period == MONTH
    assert charge.status == "active.realization.waiting_for_collection"
    assert charge.mirror is not None
    assert charge.mirror.service_period == Period(t("2024-01-02"), t("2024-02-01"))
    [stored] = result.state.customer("C").charges.values()
    assert [r.service_period for r in stored.runs] == [Period(t("2024-01-01"), t("2024-01-02"))]


def test_nothing_due_creates_no_invoice() -> None:
    state = synced(Engine(), "2024-01-05", ("api", usage("1")))
    result = invoice_pending_lines(state, "C", t("2024-01-06"))
    assert result.invoice_ids == () and result.state is state
