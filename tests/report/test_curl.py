from __future__ import annotations

import shlex

from contract.report.curl import absolute_url, curl_command, curl_script, shell_quote
from contract.scenario.result import Exchange

from .results import BASE, SUB, cancel_exchange


def test_cancel_exchange_renders_as_exact_curl_command() -> None:
    assert curl_command(cancel_exchange()) == (
        f"curl -X POST '{BASE}/api/v3/openmeter/subscriptions/{SUB}/cancel' \\\n"
        '  -H "Authorization: Bearer $OPENMETER_API_KEY" \\\n'
        "  -H 'Content-Type: application/json' \\\n"
        """  --data '{"timing": "immediate"}'"""
    )


def test_get_without_body_has_neither_content_type_nor_data() -> None:
    command = curl_command(Exchange("get", f"{BASE}/version", None, 200))
    assert command == (f"curl -X GET '{BASE}/version' \\\n  -H \"Authorization: Bearer $OPENMETER_API_KEY\"")


def test_content_type_of_the_exchange_is_sent() -> None:
    command = curl_command(Exchange("POST", "/api/v1/events", {"id": "e1"}, 204, "application/cloudevents+json"))
    assert "-H 'Content-Type: application/cloudevents+json'" in command


def test_relative_url_is_joined_to_the_base_url() -> None:
    assert absolute_url("/api/v1/events", "http://om:8888/") == "http://om:8888/api/v1/events"
    assert absolute_url("http://a/b", "http://om:8888") == "http://a/b"
    assert absolute_url("/x", None) == "/x"
    assert curl_command(Exchange("GET", "/version"), base_url="http://om:8888").startswith(
        "curl -X GET 'http://om:8888/version'"
    )


def test_single_quotes_in_body_survive_shell_parsing() -> None:
    body = {"name": "O'Brien's plan", "note": "$HOME `x`"}
    command = curl_command(Exchange("POST", "http://om/api", body))
    words = shlex.split(command.replace("\\\n", " "))
    assert words[words.index("--data") + 1] == '{"name": "O\'Brien\'s plan", "note": "$HOME `x`"}'
    assert shell_quote("it's") == "'it'\\''s'"


def test_string_body_is_sent_verbatim() -> None:
    command = curl_command(Exchange("POST", "http://om/api", '{"raw":true}'))
    assert command.endswith("--data '{\"raw\":true}'")


def test_script_prefixes_each_command_with_the_status_answered() -> None:
    script = curl_script([cancel_exchange(), Exchange("GET", f"{BASE}/version")])
    blocks = script.split("\n\n")
    assert len(blocks) == 2
    assert blocks[0].startswith("# answered 200\ncurl -X POST ")
    assert blocks[1].startswith("curl -X GET ")  # no status recorded, no comment


def test_authorization_is_always_a_placeholder_never_a_key() -> None:
    command = curl_command(Exchange("POST", "http://om/api", {"a": 1}))
    assert command.count("Authorization") == 1
    assert '"Authorization: Bearer $OPENMETER_API_KEY"' in command
