"""The exception tree: hierarchy, messages, constructors and pickling."""

from __future__ import annotations

import pickle
import threading

import pytest

from asyncbitstore import (
    BitstoreError,
    InvalidDataFound,
    InvalidRange,
    InvalidURI,
    MemoryRaw,
    NotFoundInStore,
    NotWritable,
    StoreFull,
    StoreNotAvailable,
    StoreTimeout,
)


class Unpicklable:
    """A store-like object that cannot be pickled (it holds a lock), with a name."""

    name = "S3Raw(bucket)"

    def __init__(self) -> None:
        self.lock = threading.Lock()


URI = "s3://bucket/key"

# (error, the attributes it must keep)
EXAMPLES: list[tuple[BitstoreError, dict[str, object]]] = [
    (BitstoreError("plain message"), {"message": "plain message"}),
    (
        NotFoundInStore("MyStore", URI, "gone"),
        {"store": "MyStore", "uri": URI, "reason": "gone"},
    ),
    (
        InvalidDataFound("MyStore", URI, "sha1 mismatch"),
        {"store": "MyStore", "uri": URI, "reason": "sha1 mismatch"},
    ),
    (
        StoreNotAvailable("MyStore", "connection refused", uri=URI),
        {"store": "MyStore", "uri": URI, "reason": "connection refused"},
    ),
    (
        StoreTimeout("MyStore", "after 2.0 s", uri=URI),
        {"store": "MyStore", "uri": URI, "reason": "after 2.0 s"},
    ),
    (
        InvalidURI("MyStore", "s3://", "s3://<bucket>/<key>"),
        {"store": "MyStore", "uri": "s3://", "hint": "s3://<bucket>/<key>"},
    ),
    (
        InvalidRange("MyStore", URI, 5, 2, "need 0 <= start <= end"),
        {"store": "MyStore", "uri": URI, "start": 5, "end": 2},
    ),
    (NotWritable("MyStore", "delete"), {"store": "MyStore", "operation": "delete"}),
    (StoreFull("MyStore", URI, "disk full"), {"store": "MyStore", "uri": URI}),
]


def _ids() -> list[str]:
    return [type(error).__name__ for error, _ in EXAMPLES]


@pytest.mark.parametrize(("error", "attributes"), EXAMPLES, ids=_ids())
def test_every_error_pickles_with_its_message_and_attributes(
    error: BitstoreError, attributes: dict[str, object]
) -> None:
    for protocol in (0, pickle.HIGHEST_PROTOCOL):
        clone = pickle.loads(pickle.dumps(error, protocol=protocol))
        assert type(clone) is type(error)
        assert str(clone) == str(error)
        assert clone.args == error.args
        for name, value in attributes.items():
            assert getattr(error, name) == value
            assert getattr(clone, name) == value


@pytest.mark.parametrize(("error", "attributes"), EXAMPLES, ids=_ids())
def test_messages_name_the_store_and_the_uri(
    error: BitstoreError, attributes: dict[str, object]
) -> None:
    message = str(error)
    if "store" in attributes:
        assert "MyStore" in message
    if "uri" in attributes:
        assert repr(attributes["uri"]) in message
    for detail in ("reason", "hint"):
        if attributes.get(detail):
            assert str(attributes[detail]) in message


def test_errors_hold_the_store_name_so_they_pickle_even_when_the_store_does_not() -> None:
    store = Unpicklable()
    with pytest.raises(TypeError):
        pickle.dumps(store)
    for error in (
        NotFoundInStore(store, URI),
        StoreNotAvailable(store, "down"),
        InvalidURI(store, "bad"),
        NotWritable(store),
        StoreFull(store, URI, "full"),
    ):
        assert error.store == "S3Raw(bucket)"  # type: ignore[attr-defined]
        assert "S3Raw(bucket)" in str(error)
        assert str(pickle.loads(pickle.dumps(error))) == str(error)


def test_constructors_accept_a_store_object_or_a_string() -> None:
    store = MemoryRaw(max_bytes=5)
    from_object = NotFoundInStore(store, "mem://a/b")
    from_string = NotFoundInStore("MemoryRaw(max_bytes=5)", "mem://a/b")
    assert str(from_object) == str(from_string)
    assert from_object.store == "MemoryRaw(max_bytes=5)"

    class Nameless:
        pass

    assert NotWritable(Nameless()).store == "Nameless"  # no name: the class name


def test_not_found_str_is_not_quoted_like_key_error() -> None:
    error = NotFoundInStore("MyStore", "mem://a/b")
    assert str(error) == "'mem://a/b' not found in MyStore"
    assert str(KeyError(error.message)) == repr(error.message)  # what KeyError would print
    assert str(InvalidDataFound("MyStore", "mem://a/b")).startswith("invalid data for")


def test_not_writable_says_it_does_not_implement_put() -> None:
    assert str(NotWritable("ReadOnly")) == "ReadOnly does not implement put"
    assert str(NotWritable(MemoryRaw())) == "MemoryRaw does not implement put"


def test_reasons_and_hints_are_optional() -> None:
    assert str(NotFoundInStore("S", "u")) == "'u' not found in S"
    assert str(StoreNotAvailable("S")) == "S is not available"
    assert str(InvalidURI("S", "u")) == "invalid URI 'u' for S"
    assert InvalidDataFound("S", "u").reason == "data failed verification"


@pytest.mark.parametrize(
    ("cls", "bases"),
    [
        (NotFoundInStore, (BitstoreError, KeyError)),
        (InvalidDataFound, (NotFoundInStore, KeyError, BitstoreError)),
        (StoreNotAvailable, (BitstoreError,)),
        (StoreTimeout, (StoreNotAvailable, BitstoreError)),
        (InvalidURI, (BitstoreError, ValueError)),
        (InvalidRange, (BitstoreError, ValueError)),
        (NotWritable, (BitstoreError,)),
        (StoreFull, (BitstoreError,)),
        (BitstoreError, (Exception,)),
    ],
)
def test_hierarchy(cls: type[BaseException], bases: tuple[type[BaseException], ...]) -> None:
    for base in bases:
        assert issubclass(cls, base)


def test_an_outage_is_not_a_missing_blob() -> None:
    assert not issubclass(StoreNotAvailable, NotFoundInStore)
    assert not issubclass(StoreNotAvailable, KeyError)
    assert not issubclass(NotFoundInStore, StoreNotAvailable)
    assert not issubclass(InvalidURI, NotFoundInStore)


def test_not_found_is_caught_by_except_key_error_and_invalid_uri_by_value_error() -> None:
    with pytest.raises(KeyError):
        raise InvalidDataFound("S", "u")
    with pytest.raises(ValueError):
        raise InvalidURI("S", "u")


def test_an_error_carrying_an_unpicklable_attribute_still_pickles() -> None:
    import pickle
    import threading

    error = StoreNotAvailable("S3Raw", "boom", uri="s3://b/k")
    error.response = threading.Lock()  # type: ignore[attr-defined]  # cannot be pickled
    clone = pickle.loads(pickle.dumps(error))
    assert str(clone) == str(error)
    assert clone.uri == "s3://b/k" and "lock" in clone.response.lower()
