from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from contract.client.errors import parse_problem
from contract.offline.problems import ApiError, Fields, Issue, json_body, problem_response

from .helpers import problem_body


def test_v1_problem_carries_validation_errors_with_field_code_and_message() -> None:
    err = ApiError.validation(409, "only_single_subscription_allowed_per_customer_at_a_time", "only one", "customerId")
    body = problem_body(problem_response(err, "v1", "req-1"))
    assert body["status"] == 409 and body["title"] == "Conflict" and body["instance"] == "urn:request:req-1"
    assert body["extensions"] == {
        "validationErrors": [
            {
                "field": "customerId",
                "code": "only_single_subscription_allowed_per_customer_at_a_time",
                "message": "only one",
            }
        ]
    }
    assert parse_problem(409, body).codes == ("only_single_subscription_allowed_per_customer_at_a_time",)


def test_v3_problem_separates_schema_rejections_from_domain_issues() -> None:
    schema = problem_body(problem_response(ApiError.bad_field("phases[0].key", "required", "required"), "v3", "r"))
    assert schema["invalid_parameters"] == [
        {"field": "phases[0].key", "rule": "required", "reason": "required", "source": "body"}
    ]
    assert "extensions" not in schema
    domain = problem_body(
        problem_response(
            ApiError(
                400,
                "bad plan",
                issues=(Issue("rate_card_key_feature_key_mismatch", "rate card key must match", "key"),),
            ),
            "v3",
            "r",
        )
    )
    assert domain["extensions"] == {
        "validationErrors": [
            {
                "code": "rate_card_key_feature_key_mismatch",
                "field": "key",
                "message": "rate card key must match",
                "severity": "critical",
            }
        ]
    }
    assert parse_problem(400, domain).codes == ("rate_card_key_feature_key_mismatch",)


def test_a_forbidden_transition_has_no_validation_code() -> None:
    body = problem_body(problem_response(ApiError(403, "transition continue in state inactive not allowed"), "v1", "r"))
    assert "extensions" not in body
    assert parse_problem(403, body).codes == ()


def test_v3_bodies_reject_unknown_fields_naming_the_path() -> None:
    with pytest.raises(ApiError) as caught:
        Fields({"key": "k", "typo": 1}, "phases[0]", allowed=("key",))
    assert caught.value.status == 400
    assert caught.value.params[0].field == "phases[0].typo"
    assert caught.value.params[0].rule == "additionalProperties"


@pytest.mark.parametrize("value", ["0.1", "10", "-3.25"])
def test_numerics_are_strings_read_as_decimals(value: str) -> None:
    assert Fields({"amount": value}).numeric("amount") == Decimal(value)


@pytest.mark.parametrize("value", [0.1, "1e3", "abc", True])
def test_anything_but_a_numeric_string_is_refused(value: object) -> None:
    with pytest.raises(ApiError, match="amount"):
        Fields({"amount": value}).numeric("amount")


@pytest.mark.parametrize("key", ["api_calls", "a1_b2"])
def test_resource_keys_follow_openmeters_pattern(key: str) -> None:
    assert Fields({"key": key}).key("key") == key


@pytest.mark.parametrize("key", ["Api", "api-calls", "_x", "x_", "a" * 65])
def test_bad_resource_keys_are_refused(key: str) -> None:
    with pytest.raises(ApiError) as caught:
        Fields({"key": key}).key("key")
    assert caught.value.params[0].rule == "pattern"


def test_a_missing_required_field_is_named() -> None:
    with pytest.raises(ApiError, match=r"^plan\.id: required$"):
        Fields({"plan": {}}).obj("plan").req_str("id")


def test_a_body_that_is_not_json_is_a_400() -> None:
    request = httpx.Request("POST", "http://x/api", content=b"{not json")
    with pytest.raises(ApiError, match="not valid JSON") as caught:
        json_body(request)
    assert caught.value.status == 400
    assert json_body(httpx.Request("POST", "http://x/api"), required=False) is None


def test_opt_settlement_reads_a_settlement_mode_or_names_the_field() -> None:
    from contract.model.domain import SettlementMode

    f = Fields({"settlementMode": "credit_only", "bad": "credit"}, "plan")
    assert f.opt_settlement("settlementMode") is SettlementMode.CREDIT_ONLY
    assert f.opt_settlement("missing") is None
    with pytest.raises(ApiError) as caught:
        f.opt_settlement("bad")
    assert caught.value.status == 400
    assert [(p.field, p.rule, p.reason) for p in caught.value.params] == [
        ("plan.bad", "enum", "must be credit_then_invoice or credit_only")
    ]
