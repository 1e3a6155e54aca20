"""contract.stack.options: option > environment > default, validation, masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract.errors import InputError
from contract.stack.options import DEFAULT_IMAGE_TAG, StackOptions

FULL_ENV = {
    "OPENMETER_URL": "http://127.0.0.1:48888/",
    "OPENMETER_ADDRESS": "http://localhost:38888",
    "OPENMETER_API_KEY": "om_live_key_123",
    "OPENMETER_WORKER_LOGS": "/var/log/billing-worker.log",
    "OPENMETER_POSTGRES": "postgres://postgres:pw@127.0.0.1:15432/om",
    "OPENMETER_FORCE_SYNC": "omnative jobs billing subscriptionsync all --n default --c {customer_id} --f",
    "OPENMETER_IMAGE_TAG": "v1.0.0-beta.227",
}


def test_defaults_boot_the_cti_variant_of_the_fixed_release() -> None:
    options = StackOptions.from_env({})
    assert options == StackOptions()
    assert (options.url, options.image_tag, options.variant, options.keep_stack, options.boot_timeout) == (
        None,
        DEFAULT_IMAGE_TAG,
        "cti",
        False,
        300.0,
    )
    assert DEFAULT_IMAGE_TAG == "v1.0.0-beta.228"
    assert not options.attach


def test_environment_fills_every_option() -> None:
    options = StackOptions.from_env(FULL_ENV)
    assert options.url == "http://127.0.0.1:48888"  # OPENMETER_URL wins over OPENMETER_ADDRESS; no trailing /
    assert options.api_key == "om_live_key_123"
    assert options.worker_logs == "/var/log/billing-worker.log"
    assert options.postgres_dsn == "postgres://postgres:pw@127.0.0.1:15432/om"
    assert options.force_sync_command == FULL_ENV["OPENMETER_FORCE_SYNC"]
    assert options.image_tag == "v1.0.0-beta.227"
    assert options.attach


def test_openmeters_own_address_variable_is_the_fallback_and_may_lack_a_scheme() -> None:
    assert StackOptions.from_env({"OPENMETER_ADDRESS": "http://localhost:38888"}).url == "http://localhost:38888"
    assert StackOptions.from_env({"OPENMETER_ADDRESS": "127.0.0.1:8888"}).url == "http://127.0.0.1:8888"
    assert StackOptions.from_env({"OPENMETER_URL": "  ", "OPENMETER_ADDRESS": "h:1"}).url == "http://h:1"


def test_options_beat_the_environment_and_none_means_not_given() -> None:
    options = StackOptions.from_env(
        FULL_ENV,
        url="http://10.0.0.5:8888",
        api_key=None,
        image_tag="main",
        worker_logs="cmd:docker logs bw",
        variant="no-cti",
        keep_stack=True,
        boot_timeout="42",
        compose_dir="compose",
    )
    assert options.url == "http://10.0.0.5:8888"
    assert options.api_key == "om_live_key_123"  # None override -> environment
    assert options.image_tag == "main"
    assert options.worker_logs == "cmd:docker logs bw"
    assert (options.variant, options.keep_stack, options.boot_timeout) == ("no-cti", True, 42.0)
    assert options.compose_dir == Path("compose")


def test_reads_the_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENMETER_URL", "http://127.0.0.1:9")
    monkeypatch.delenv("OPENMETER_IMAGE_TAG", raising=False)
    assert StackOptions.from_env().url == "http://127.0.0.1:9"
    assert StackOptions.from_env(url="http://127.0.0.1:10").url == "http://127.0.0.1:10"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"variant": "cti-please"}, "variant: unknown variant 'cti-please' (expected one of cti, no-cti, no-credits)"),
        ({"url": "ftp://x"}, "url: not an http(s) URL: 'ftp://x'"),
        ({"image_tag": "v1 beta"}, "image_tag: not a Docker image tag: 'v1 beta'"),
        ({"boot_timeout": 0}, "boot_timeout: must be a positive number of seconds, got 0.0"),
        ({"boot_timeout": "soon"}, "boot_timeout: not a number: 'soon'"),
        (
            {"force_sync_command": "omnative jobs billing subscriptionsync all"},
            "force_sync_command: the command must contain {customer_id}",
        ),
    ],
)
def test_bad_options_are_one_line_input_errors(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InputError) as err:
        StackOptions.from_env({}, **changes)
    assert str(err.value) == message


def test_unknown_option_name_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="unknown StackOptions field"):
        StackOptions.from_env({}, urll="http://x")


def test_repr_masks_the_api_key_and_the_database_password() -> None:
    text = repr(StackOptions.from_env(FULL_ENV))
    assert "om_live_key_123" not in text and ":pw@" not in text
    assert "api_key='***'" in text
    assert "postgres_dsn='postgres://postgres:***@127.0.0.1:15432/om'" in text


def test_with_changes_revalidates() -> None:
    options = StackOptions()
    assert options.with_(keep_stack=True).keep_stack is True
    with pytest.raises(InputError):
        options.with_(variant="nope")
