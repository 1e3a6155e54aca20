"""Parsing ``expect`` blocks (contract.oracle.expect)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from contract.compare.expectation import ExpectedMirror, Partial
from contract.errors import InputError
from contract.model.domain import Backend
from contract.model.time import parse_time
from contract.oracle.expect import expectation_from_data


def parse(data: object):  # type: ignore[no-untyped-def]
    return expectation_from_data(data, file="s.yaml", line=12)


def test_full_block() -> None:
    exp = parse(
        {
            "partial": "lines",
            "items": [
                {
                    "id": "S/p/i/v[0]/period[0]",
                    "backend": "charge",
                    "status": "active",
                    "kept": True,
                    "mirror": {
                        "service_period": ["2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z"],
                        "amount": "2",
                    },
                }
            ],
            "deleted_charges": ["S/p/i/v[0]/period[1]", {"id": "S/p/i/v[0]/period[2]", "mirror": False}],
            "absent": ["S/p/x/v[0]"],
            "no_gathering_invoice": False,
            "sync_state": {"has_billables": True, "next_sync_after": None},
            "invoiced": [{"id": "S/p/i/v[0]/period[0]", "invoice_at": "2024-01-02T00:00:00Z"}],
            "operations": {"create": 0, "delete": 0},
            "error": "duplicate",
        }
    )
    assert exp.partial is Partial.LINES
    [item] = exp.items
    assert item.backend is Backend.CHARGE and item.kept is True and item.line == 12
    assert item.mirror is not None and item.mirror.amount == Decimal("2") and item.mirror.invoice_at is None
    assert [d.id for d in exp.deleted_charges] == ["S/p/i/v[0]/period[1]", "S/p/i/v[0]/period[2]"]
    assert exp.deleted_charges[1].mirror == ExpectedMirror(present=False)
    assert exp.absent == ("S/p/x/v[0]",)
    assert exp.no_gathering_invoice is False
    assert exp.sync_state is not None and exp.sync_state.check_next_sync_after
    assert exp.sync_state.next_sync_after is None
    assert exp.invoiced is not None and exp.invoiced[0].invoice_at == parse_time("2024-01-02T00:00:00Z")
    assert exp.operations == {"create": 0, "delete": 0}
    assert exp.error == "duplicate"


def test_defaults_are_complete_and_no_error() -> None:
    exp = parse({"items": None})
    assert exp.items == () and exp.partial is Partial.NONE and exp.error is None
    assert exp.invoiced is None and exp.operations is None and exp.no_gathering_invoice is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"itemz": []}, "s.yaml:12: expect.itemz: unknown field"),
        ({"items": [{"backend": "line"}]}, "s.yaml:12: expect.items[0].id: required field is missing"),
        ({"items": [{"id": "a"}, {"id": "a"}]}, "s.yaml:12: expect.items[1]: id 'a' is listed twice"),
        ({"operations": {"create": -1}}, "s.yaml:12: expect.operations.create: must not be negative"),
        ({"operations": {"creat": 1}}, "s.yaml:12: expect.operations.creat: unknown field"),
    ],
)
def test_errors(data: object, message: str) -> None:
    with pytest.raises(InputError) as err:
        parse(data)
    assert str(err.value).startswith(message)
