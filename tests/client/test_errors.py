from __future__ import annotations

import json

from contract.client.errors import (
    OpenMeterError,
    OpenMeterProblem,
    OpenMeterUnreachable,
    parse_problem,
)
from contract.errors import EXIT_NO_OPENMETER, ContractUserError, NoOpenMeterError

V1_CONFLICT = {
    "type": "about:blank",
    "title": "Conflict",
    "status": 409,
    "detail": "only single subscription is allowed per customer at a time",
    "instance": "urn:request:abc/1",
    "extensions": {
        "validationErrors": [
            {
                "field": "customerId",
                "code": "only_single_subscription_allowed_per_customer_at_a_time",
                "message": "only single subscription is allowed per customer at a time",
            }
        ]
    },
}

V3_SCHEMA = {
    "type": "https://kongapi.info/konnect/bad-request",
    "status": 400,
    "title": "Bad Request",
    "instance": "openmeter:trace:1",
    "detail": "request body has an error: doesn't match schema",
    "invalid_parameters": [
        {
            "field": "",
            "rule": "additionalProperties",
            "reason": 'property "settlement_mode" is unsupported',
            "source": "body",
        },
        {"field": "plan.id", "rule": "pattern", "reason": "does not match ULID", "source": "body"},
    ],
}

V3_DOMAIN = {
    "type": "about:blank",
    "status": 400,
    "title": "Bad Request",
    "instance": "openmeter:trace:2",
    "detail": "validation error",
    "extensions": {
        "validationErrors": [
            {
                "code": "rate_card_billing_cadence_unaligned",
                "field": "phases[0].rate_cards[1]",
                "message": "billing cadence is not aligned",
                "severity": "critical",
            },
            {
                "code": "plan_billing_cadence_invalid",
                "field": "billing_cadence",
                "message": "invalid cadence",
                "severity": "critical",
            },
        ]
    },
}

V1_BILLING = {
    "type": "about:blank",
    "title": "Bad Request",
    "status": 400,
    "detail": "the new invoice would have no lines",
    "instance": "urn:request:x/2",
    "extensions": {
        "code": "invoice_create_no_lines",
        "message": "the new invoice would have no lines",
        "severity": "critical",
        "additionalIssues": [{"code": "second_issue", "message": "also wrong", "severity": "warning"}],
    },
}


def test_v1_validation_errors_give_codes_and_fields() -> None:
    problem = parse_problem(409, V1_CONFLICT)

    assert problem.codes == ("only_single_subscription_allowed_per_customer_at_a_time",)
    assert problem.fields == ("customerId",)
    assert problem.status == 409
    assert problem.instance == "urn:request:abc/1"


def test_v3_invalid_parameters_give_rules_and_fields_but_no_codes() -> None:
    problem = parse_problem(400, V3_SCHEMA)

    assert problem.codes == ()
    assert problem.rules == ("additionalProperties", "pattern")
    assert problem.fields == ("plan.id",)
    assert problem.mentions("settlement_mode")
    assert not problem.mentions("billing_anchor")
    assert problem.issues[0].source == "body"


def test_v3_extension_validation_errors_keep_severity_and_order() -> None:
    problem = parse_problem(400, V3_DOMAIN)

    assert problem.codes == ("rate_card_billing_cadence_unaligned", "plan_billing_cadence_invalid")
    assert [i.severity for i in problem.issues] == ["critical", "critical"]


def test_v1_billing_problem_inline_code_and_additional_issues_are_codes() -> None:
    problem = parse_problem(400, V1_BILLING)

    assert problem.codes == ("invoice_create_no_lines", "second_issue")


def test_problem_str_is_one_line_with_method_path_status_title_detail_and_code() -> None:
    err = OpenMeterProblem(
        method="POST", path="/api/v3/openmeter/subscriptions", status=409, problem=parse_problem(409, V1_CONFLICT)
    )

    assert str(err) == (
        "POST /api/v3/openmeter/subscriptions -> 409 Conflict: only single subscription is allowed per "
        "customer at a time [code: only_single_subscription_allowed_per_customer_at_a_time]"
    )
    assert err.codes == ("only_single_subscription_allowed_per_customer_at_a_time",)
    assert (err.method, err.path, err.status) == ("POST", "/api/v3/openmeter/subscriptions", 409)


def test_problem_without_codes_lists_invalid_parameters_in_the_line() -> None:
    err = OpenMeterProblem(
        method="POST", path="/api/v3/openmeter/plans", status=400, problem=parse_problem(400, V3_SCHEMA)
    )

    text = str(err)
    assert "\n" not in text
    assert text.startswith("POST /api/v3/openmeter/plans -> 400 Bad Request: request body has an error")
    assert 'property "settlement_mode" is unsupported (additionalProperties)' in text
    assert "plan.id: does not match ULID (pattern)" in text


def test_multiline_and_long_details_are_flattened_and_truncated() -> None:
    body = {"title": "Internal Server Error", "status": 500, "detail": "line one\nline two\t" + "x" * 1000}

    summary = parse_problem(500, body).summary()

    assert "\n" not in summary
    assert summary.startswith("Internal Server Error: line one line two xxx")
    assert len(summary) < 450
    assert summary.endswith("…")


def test_non_json_error_body_uses_http_reason_and_text() -> None:
    problem = parse_problem(502, None, "upstream connect error\n")

    assert problem.title == "Bad Gateway"
    assert problem.detail == "upstream connect error"
    assert problem.codes == ()


def test_problem_keeps_raw_body_for_reports() -> None:
    text = json.dumps(V3_DOMAIN)

    assert parse_problem(400, V3_DOMAIN, text).body == text


def test_unreachable_is_an_openmeter_error_and_a_no_openmeter_user_error_with_exit_code_3() -> None:
    err = OpenMeterUnreachable("cannot reach OpenMeter at http://x", method="GET", path="/version")

    assert isinstance(err, OpenMeterError)
    assert isinstance(err, NoOpenMeterError)
    assert isinstance(err, ContractUserError)
    assert err.exit_code == EXIT_NO_OPENMETER
    assert str(err) == "cannot reach OpenMeter at http://x"
    assert err.status is None and err.problem is None and err.codes == ()


def test_a_detail_repeating_the_title_and_the_reasons_is_not_said_twice() -> None:
    observed = {  # HEAD 7e57a394a, v3 plan create with settlement_mode
        "type": "https://kongapi.info/konnect/bad-request",
        "status": 400,
        "title": "Bad Request",
        "instance": "urn:request:vm/hyZVLKptnj-000013",
        "detail": 'Bad Request:  [properties]: property "settlement_mode" is unsupported',
        "invalid_parameters": [
            {"field": "", "rule": "properties", "reason": 'property "settlement_mode" is unsupported', "source": ""}
        ],
    }

    assert parse_problem(400, observed).summary() == (
        'Bad Request: [properties]: property "settlement_mode" is unsupported'
    )


def test_a_problem_without_detail_still_reads_as_one_line_with_its_code() -> None:
    observed = {  # HEAD 7e57a394a and f67a8a103, a second v3 subscription for the same customer
        "type": "about:blank",
        "title": "Conflict",
        "status": 409,
        "instance": "urn:request:vm/x-000025",
        "extensions": {
            "validationErrors": [
                {
                    "code": "only_single_subscription_allowed_per_customer_at_a_time",
                    "field": "$.plans",
                    "message": "only single subscription is allowed per customer at a time",
                }
            ]
        },
    }

    err = OpenMeterProblem(
        method="POST", path="/api/v3/openmeter/subscriptions", status=409, problem=parse_problem(409, observed)
    )

    assert str(err) == (
        "POST /api/v3/openmeter/subscriptions -> 409 Conflict "
        "[code: only_single_subscription_allowed_per_customer_at_a_time]"
    )
