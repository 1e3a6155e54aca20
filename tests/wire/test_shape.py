from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from contract.model.domain import SettlementMode
from contract.model.time import Duration
from contract.wire.read import ShapeError
from contract.wire.shape import BOOL, INT, NAME, REQ_STR, STR, TIME, Field, Shape, camel, camel_keys, jsonable

PLANISH = Shape.of(
    key=REQ_STR,
    name=NAME,
    billing_cadence=STR.null_in_v1_too(),
    enabled=BOOL.at(v3="pro_rating_enabled", v1="proRatingConfig.enabled"),
    feature_id=STR.at(v3="feature.id", v1=None),
    version=INT.or_(0),
)


def test_camel_converts_every_dotted_segment() -> None:
    assert camel("billing_cadence") == "billingCadence"
    assert camel("status_details.extended_status") == "statusDetails.extendedStatus"
    assert camel("key") == "key"


def test_camel_keys_converts_nested_objects_and_lists() -> None:
    assert camel_keys({"auto_advance": True, "apps": [{"app_id": "a"}]}) == {
        "autoAdvance": True,
        "apps": [{"appId": "a"}],
    }


def test_a_field_derives_its_paths_from_its_name() -> None:
    f = Field("billing_cadence")
    assert (f.path("v3"), f.path("v1")) == ("billing_cadence", "billingCadence")
    assert Field("mode", v3=None).path("v1") == "mode"
    assert Field("feature_id", v3="feature.id", v1=None).path("v1") is None
    assert PLANISH.key("enabled", "v1") == "proRatingConfig.enabled"


def test_a_key_a_version_lacks_is_an_error() -> None:
    with pytest.raises(KeyError, match="feature_id has no v1 key"):
        PLANISH.key("feature_id", "v1")


def test_read_follows_each_versions_paths_and_fills_defaults() -> None:
    v3 = PLANISH.read({"key": "k", "pro_rating_enabled": False, "feature": {"id": "f1"}}, "v3")
    v1 = PLANISH.read({"key": "k", "proRatingConfig": {"enabled": False}, "billingCadence": "P1M"}, "v1")
    assert v3 == {"key": "k", "name": "", "billing_cadence": None, "enabled": False, "feature_id": "f1", "version": 0}
    assert v1 == {"key": "k", "name": "", "billing_cadence": "P1M", "enabled": False, "feature_id": None, "version": 0}


def test_read_errors_name_the_full_path_in_the_version_read() -> None:
    with pytest.raises(ShapeError, match=r"^phases\[0\]\.proRatingConfig\.enabled: expected a boolean, got str$"):
        PLANISH.read({"key": "k", "proRatingConfig": {"enabled": "yes"}}, "v1", "phases[0]")
    with pytest.raises(ShapeError, match=r"^phases\[0\]\.key: missing$"):
        PLANISH.read({}, "v3", "phases[0]")
    with pytest.raises(ShapeError, match=r"^feature: expected an object, got list$"):
        PLANISH.read({"key": "k", "feature": []}, "v3")


def test_read_only_touches_the_named_fields() -> None:
    assert PLANISH.read({"feature": {"id": "f"}}, "v3", only=("feature_id",)) == {"feature_id": "f"}


def test_write_nests_dotted_paths_and_keeps_v1_nulls() -> None:
    values = {"key": "k", "name": "n", "billing_cadence": None, "enabled": True, "feature_id": "f", "version": None}
    assert PLANISH.write(values, "v3") == {"key": "k", "name": "n", "pro_rating_enabled": True, "feature": {"id": "f"}}
    assert PLANISH.write(values, "v1") == {
        "key": "k",
        "name": "n",
        "billingCadence": None,
        "proRatingConfig": {"enabled": True},
    }


def test_write_renders_neutral_values_as_json() -> None:
    at = datetime(2026, 1, 31, 12, 0, 0, 123456, tzinfo=UTC)
    assert jsonable(Decimal("0.10")) == "0.1"
    assert jsonable(at) == "2026-01-31T12:00:00.123456Z"
    assert jsonable(SettlementMode.CREDIT_ONLY) == "credit_only"
    assert jsonable(Duration.parse("P1M")) == "P1M"
    assert jsonable({"a": 1}) == {"a": 1}


@dataclass(frozen=True, slots=True)
class _Stamped:
    id: str
    created_at: datetime | None
    label: str = "given"


def test_build_reads_the_dataclass_fields_and_takes_the_rest_as_given() -> None:
    shape = Shape.of(id=REQ_STR, created_at=TIME)
    built = shape.build(_Stamped, {"id": "x", "createdAt": "2026-01-01T00:00:00Z"}, "v1", label="mine")
    assert built == _Stamped("x", datetime(2026, 1, 1, tzinfo=UTC), "mine")


def test_with_readers_keeps_the_paths_and_changes_how_a_field_is_read() -> None:
    strict = PLANISH.with_readers(name=REQ_STR.read)
    assert strict.key("name", "v1") == "name"
    with pytest.raises(ShapeError, match=r"^name: missing$"):
        strict.read({"key": "k"}, "v3")


def test_shapes_add_up_in_order() -> None:
    both = Shape.of(a=STR) + Shape.of(b=STR)
    assert [f.name for f in both.fields] == ["a", "b"]
