from __future__ import annotations

from decimal import Decimal

import pytest

from contract.model.domain import PaymentTerm, Price, PriceType, Tier
from contract.wire.prices import domain_price_body, kind_of, price_body, tier_body

TIERS = (Tier(up_to=Decimal(100), unit_amount=Decimal("0.10")), Tier(flat_amount=Decimal(5)))


def test_unit_and_flat_prices_in_both_versions() -> None:
    assert price_body("v3", "unit", amount=Decimal("0.10")) == {"type": "unit", "amount": "0.1"}
    assert price_body("v1", "unit", amount=Decimal("0.10"), payment_term="in_arrears") == {
        "type": "unit",
        "amount": "0.1",
    }
    assert price_body("v3", "flat", amount=Decimal(30), payment_term="in_advance") == {"type": "flat", "amount": "30"}
    assert price_body("v1", "flat", amount=Decimal(30), payment_term="in_advance") == {
        "type": "flat",
        "amount": "30",
        "paymentTerm": "in_advance",
    }


def test_free_is_a_v3_type_and_a_missing_v1_price() -> None:
    assert price_body("v3", "free") == {"type": "free"}
    assert price_body("v1", "free") is None


@pytest.mark.parametrize("mode", ["graduated", "volume"])
def test_tiered_prices_are_v3_types_and_a_v1_mode(mode: str) -> None:
    v3 = price_body("v3", mode, tiers=TIERS)
    v1 = price_body("v1", mode, tiers=TIERS)
    assert v3 == {
        "type": mode,
        "tiers": [
            {"up_to_amount": "100", "unit_price": {"type": "unit", "amount": "0.1"}},
            {"flat_price": {"type": "flat", "amount": "5"}},
        ],
    }
    assert v1 == {
        "type": "tiered",
        "mode": mode,
        "tiers": [
            {"upToAmount": "100", "unitPrice": {"type": "unit", "amount": "0.1"}, "flatPrice": None},
            {"unitPrice": None, "flatPrice": {"type": "flat", "amount": "5"}},
        ],
    }


def test_v1_tiers_carry_both_price_keys_even_when_unset() -> None:
    assert tier_body(Tier(up_to=None, unit_amount=Decimal(1)), "v1") == {
        "unitPrice": {"type": "unit", "amount": "1"},
        "flatPrice": None,
    }


def test_the_engines_prices_render_through_the_same_writer() -> None:
    flat = Price(PriceType.FLAT, Decimal(30), PaymentTerm.IN_ADVANCE)
    tiered = Price(PriceType.TIERED, Decimal(0), PaymentTerm.IN_ARREARS, "volume", TIERS)
    assert domain_price_body(flat, "v1") == price_body("v1", "flat", amount=Decimal(30), payment_term="in_advance")
    assert domain_price_body(tiered, "v3") == price_body("v3", "volume", tiers=TIERS)
    assert domain_price_body(None, "v3") == {"type": "free"}
    assert domain_price_body(None, "v1") is None


def test_kind_of_reads_v3_tiered_types_in_v1_vocabulary() -> None:
    assert kind_of("graduated", None) == ("tiered", "graduated")
    assert kind_of("tiered", "volume") == ("tiered", "volume")
    assert kind_of("unit", None) == ("unit", None)
