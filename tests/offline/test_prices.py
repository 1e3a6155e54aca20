from __future__ import annotations

from decimal import Decimal

import pytest

from contract.model.domain import PaymentTerm, Price, PriceType, Tier
from contract.offline.prices import numeric, parse_price, price_v1, price_v3
from contract.offline.problems import ApiError

GRADUATED_V3 = {
    "type": "graduated",
    "tiers": [
        {"up_to_amount": "100", "unit_price": {"type": "unit", "amount": "0.10"}},
        {"unit_price": {"type": "unit", "amount": "0.05"}},
    ],
}


def test_numerics_are_normalised_like_openmeter() -> None:
    assert [numeric(Decimal(v)) for v in ("0.10", "10", "1E+1", "-0", "2.500")] == [
        "0.1",
        "10",
        "10",
        "0",
        "2.5",
    ]


def test_a_v3_graduated_price_becomes_a_tiered_engine_price_and_back() -> None:
    price = parse_price(GRADUATED_V3, "price", "v3", PaymentTerm.IN_ARREARS)
    assert price == Price(
        PriceType.TIERED,
        Decimal(0),
        mode="graduated",
        tiers=(Tier(up_to=Decimal(100), unit_amount=Decimal("0.10")), Tier(unit_amount=Decimal("0.05"))),
    )
    assert price_v3(price) == {
        "type": "graduated",
        "tiers": [
            {"up_to_amount": "100", "unit_price": {"type": "unit", "amount": "0.1"}},
            {"unit_price": {"type": "unit", "amount": "0.05"}},
        ],
    }


def test_v1_tiers_carry_both_price_keys_as_the_live_server_writes_them() -> None:
    price = parse_price(GRADUATED_V3, "price", "v3", PaymentTerm.IN_ARREARS)
    assert price_v1(price) == {
        "type": "tiered",
        "mode": "graduated",
        "tiers": [
            {"flatPrice": None, "unitPrice": {"type": "unit", "amount": "0.1"}, "upToAmount": "100"},
            {"flatPrice": None, "unitPrice": {"type": "unit", "amount": "0.05"}},
        ],
    }
    assert parse_price(price_v1(price), "price", "v1") == price


def test_a_flat_price_keeps_its_payment_term() -> None:
    price = parse_price({"type": "flat", "amount": "30"}, "price", "v3", PaymentTerm.IN_ADVANCE)
    assert price is not None and price.in_advance and price.amount == Decimal(30)
    assert price_v1(price) == {"type": "flat", "amount": "30", "paymentTerm": "in_advance"}
    assert price_v3(price) == {"type": "flat", "amount": "30"}


def test_a_free_price_is_no_price() -> None:
    assert parse_price({"type": "free"}, "price", "v3", PaymentTerm.IN_ARREARS) is None
    assert price_v3(None) == {"type": "free"}
    assert price_v1(None) is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"type": "unit", "amount": "0.1"}, "in arrears"),
        ({"type": "package", "amount": "1"}, "unsupported price type"),
        (
            {
                "type": "graduated",
                "tiers": [
                    {"unit_price": {"type": "unit", "amount": "1"}},
                    {"unit_price": {"type": "unit", "amount": "1"}},
                ],
            },
            "only the last tier",
        ),
        (
            {
                "type": "volume",
                "tiers": [{"up_to_amount": "5", "unit_price": {"type": "unit", "amount": "1"}}],
            },
            "must not have an upper bound",
        ),
        ({"type": "unit", "amount": "-1"}, "negative"),
    ],
)
def test_invalid_prices_are_400s_naming_the_field(raw: dict[str, object], message: str) -> None:
    term = (
        PaymentTerm.IN_ADVANCE if raw.get("type") == "unit" and raw.get("amount") == "0.1" else PaymentTerm.IN_ARREARS
    )
    with pytest.raises(ApiError, match=message) as caught:
        parse_price(raw, "phases[0].rate_cards[0].price", "v3", term)
    assert caught.value.status == 400
