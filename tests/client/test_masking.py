from __future__ import annotations

import pickle

import pytest

from contract.client.masking import MASK, ApiKey, check_api_key, mask_secrets
from contract.errors import InputError

from .helpers import SECRET


def test_mask_secrets_replaces_the_key_in_nested_dicts_lists_tuples_and_keys() -> None:
    value = {
        "detail": f"token {SECRET} rejected",
        SECRET: [f"x{SECRET}y", ("a", SECRET)],
        "n": 5,
        "none": None,
    }

    masked = mask_secrets(value, [SECRET])

    assert masked == {
        "detail": "token *** rejected",
        "***": ["x***y", ("a", "***")],
        "n": 5,
        "none": None,
    }
    assert value["detail"] == f"token {SECRET} rejected"  # the input is not modified


def test_mask_secrets_hides_any_bearer_token_even_when_the_key_is_unknown() -> None:
    text = 'curl -H "Authorization: Bearer abc.def-123" http://x; authorization: bearer zzz'

    assert mask_secrets(text) == 'curl -H "Authorization: Bearer ***" http://x; authorization: bearer ***'


def test_mask_secrets_accepts_api_key_objects_and_ignores_empty_secrets() -> None:
    assert mask_secrets(f"k={SECRET}", [ApiKey(SECRET), "", None]) == "k=***"
    assert mask_secrets("nothing to hide", ["", None]) == "nothing to hide"


def test_mask_secrets_replaces_the_longest_secret_first() -> None:
    assert mask_secrets("om-key-long", ["om-key", "om-key-long"]) == MASK


def test_api_key_never_shows_itself_in_repr_or_str_or_fstrings() -> None:
    key = ApiKey(SECRET)

    shown = [repr(key), str(key), f"{key}", f"{key!r}", repr([key]), repr({"k": key})]

    assert all(SECRET not in s for s in shown)
    assert repr(key) == "ApiKey(***)"
    assert key.reveal() == SECRET
    assert key.authorization() == f"Bearer {SECRET}"


def test_api_key_cannot_be_pickled_into_a_file() -> None:
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(ApiKey(SECRET))


def test_api_key_from_env_reads_openmeter_api_key_and_treats_blank_as_unset() -> None:
    assert ApiKey.from_env({"OPENMETER_API_KEY": f"  {SECRET}\n"}) == ApiKey(SECRET)
    assert ApiKey.from_env({"OPENMETER_API_KEY": "   "}) is None
    assert ApiKey.from_env({}) is None


def test_api_key_rejects_an_empty_value() -> None:
    with pytest.raises(ValueError, match="empty"):
        ApiKey("  ")


def test_mask_secrets_hides_a_url_password_but_keeps_user_host_and_path() -> None:
    text = "cannot reach http://ops:s3cr3t@om.example:8888/api and https://om.example/a@b, ftp://u@h"
    assert mask_secrets(text) == (
        "cannot reach http://ops:***@om.example:8888/api and https://om.example/a@b, ftp://u@h"
    )


@pytest.mark.parametrize("bad", ["abc\ndef", "abc def", "abcé", "abc\x00"])
def test_a_key_that_cannot_travel_in_a_header_is_refused_without_showing_it(bad: str) -> None:
    with pytest.raises(InputError) as err:
        ApiKey(bad)
    assert "abc" not in str(err.value) and err.value.field == "OPENMETER_API_KEY"
    assert check_api_key("  om_live-KEY.123  ") == "om_live-KEY.123"
