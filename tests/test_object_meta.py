"""`ObjectMeta`: checked fields, immutable metadata, pickling, and `same_content_as`."""

from __future__ import annotations

import dataclasses
import pickle
from datetime import datetime, timedelta, timezone

import pytest

import asyncbitstore
from asyncbitstore import ObjectMeta
from asyncbitstore.meta import http_date, parse_http_date, strong_etag

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def test_exported_from_the_package() -> None:
    assert asyncbitstore.ObjectMeta is ObjectMeta
    assert "ObjectMeta" in asyncbitstore.__all__


def test_defaults_are_empty() -> None:
    meta = ObjectMeta(size=3)
    assert (meta.etag, meta.last_modified, meta.content_type, meta.version) == (None,) * 4
    assert dict(meta.metadata) == {}


def test_frozen() -> None:
    meta = ObjectMeta(size=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        meta.size = 4  # type: ignore[misc]


def test_naive_datetime_is_refused_with_a_hint() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ObjectMeta(size=1, last_modified=datetime(2026, 1, 1))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"size": -1},
        {"size": "3"},
        {"size": True},
        {"size": 1, "etag": 5},
        {"size": 1, "metadata": {"a": 1}},
        {"size": 1, "metadata": [("a", "b")]},
        {"size": 1, "last_modified": "yesterday"},
    ],
)
def test_bad_fields_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises((TypeError, ValueError), match="ObjectMeta"):
        ObjectMeta(**kwargs)  # type: ignore[arg-type]


def test_metadata_is_a_read_only_copy() -> None:
    given = {"owner": "me"}
    meta = ObjectMeta(size=1, metadata=given)
    given["owner"] = "you"
    assert meta.metadata["owner"] == "me"
    with pytest.raises(TypeError):
        meta.metadata["owner"] = "x"  # type: ignore[index]


def test_pickles_and_compares_equal() -> None:
    meta = ObjectMeta(
        size=9, etag='"abc"', last_modified=WHEN, content_type="text/plain", version="7",
        metadata={"k": "v"},
    )  # fmt: skip
    back = pickle.loads(pickle.dumps(meta))
    assert back == meta
    assert dict(back.metadata) == {"k": "v"}
    with pytest.raises(TypeError):
        back.metadata["k"] = "w"  # type: ignore[index]


def test_same_content_by_version_first() -> None:
    a = ObjectMeta(size=1, etag='"x"', version="1")
    assert a.same_content_as(ObjectMeta(size=1, etag='"y"', version="1")) is True
    assert a.same_content_as(ObjectMeta(size=1, etag='"x"', version="2")) is False


def test_same_content_by_etag_ignoring_weak_prefix_and_quotes() -> None:
    a = ObjectMeta(size=1, etag='W/"abc"')
    assert a.same_content_as(ObjectMeta(size=1, etag='"abc"')) is True
    assert a.same_content_as(ObjectMeta(size=1, etag="abc")) is True
    assert a.same_content_as(ObjectMeta(size=1, etag='"abd"')) is False


def test_same_content_by_size_and_time_last() -> None:
    a = ObjectMeta(size=1, last_modified=WHEN)
    other_zone = WHEN.astimezone(timezone(timedelta(hours=2)))
    assert a.same_content_as(ObjectMeta(size=1, last_modified=other_zone)) is True
    assert a.same_content_as(ObjectMeta(size=1, last_modified=WHEN + timedelta(1))) is False


def test_a_different_size_is_different_content() -> None:
    assert ObjectMeta(size=1, etag='"a"').same_content_as(ObjectMeta(size=2, etag='"a"')) is False


def test_no_way_to_tell_is_none() -> None:
    assert ObjectMeta(size=1).same_content_as(ObjectMeta(size=1)) is None
    assert ObjectMeta(size=1, etag='"a"').same_content_as(ObjectMeta(size=1, version="1")) is None


def test_same_content_as_refuses_other_types() -> None:
    with pytest.raises(TypeError, match="ObjectMeta"):
        ObjectMeta(size=1).same_content_as({"size": 1})  # type: ignore[arg-type]


def test_helpers() -> None:
    assert strong_etag(' W/"x" ') == "x"
    assert parse_http_date(http_date(WHEN)) == WHEN
    assert parse_http_date("not a date") is None
    assert parse_http_date(None) is None


def test_hashable() -> None:
    meta = ObjectMeta(size=1, etag='"a"', metadata={"k": "v"})
    assert {meta: 1}[ObjectMeta(size=1, etag='"a"', metadata={"k": "v"})] == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-02T03:04:05.678Z", WHEN.replace(microsecond=678000)),
        ("2026-01-02T03:04:05.123456789Z", WHEN.replace(microsecond=123456)),
        ("2026-01-02T03:04:05Z", WHEN),
        ("2026-01-02T05:04:05+02:00", WHEN),
        ("yesterday", None),
        (None, None),
    ],
)
def test_gcs_resource_times(text: str | None, expected: datetime | None) -> None:
    from asyncbitstore.raw.gs._meta import from_resource

    resource = {"size": "3", "updated": text, "generation": 17, "metadata": {"a": "b"}}
    meta = from_resource(resource)
    assert meta.last_modified == expected
    assert meta.version == "17" and dict(meta.metadata) == {"a": "b"}
