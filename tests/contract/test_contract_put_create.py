"""``put(mode="create")`` and the attributes ``put`` stores, on every store of the contract suite.

Stores that keep no attributes (Redis, SQLite, SFTP) must not make any up in ``head``.
"""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import AsyncIterator

import pytest

from asyncbitstore import AlreadyExists, BitstoreError

from .target import Target

BLOB = b"the first content"
OTHER = b"another content, which must not replace the first"
#: Contract targets over a backend that keeps no attributes.
_NO_ATTRIBUTES = ("redis", "sqlite", "sftp")
#: fake-gcs-server ignores ifGenerationMatch on uploads: GSRaw's creates are checked at the
#: HTTP level instead (tests/test_put_create_gcs_wire.py).
_IGNORES_CREATE = ("gcs",)
ATTRS = {
    "content_type": "text/plain; charset=utf-8",
    "cache_control": "max-age=60",
    "metadata": {"origin": "unit-test", "x.version": "3"},
}


def _writable(target: Target) -> None:
    if not target.writable:
        pytest.skip("read-only store")


def _name(request: pytest.FixtureRequest) -> str:
    return str(request.node.callspec.params["target"])


def _keeps_attributes(request: pytest.FixtureRequest) -> bool:
    return not any(word in _name(request) for word in _NO_ATTRIBUTES)


def _creates(target: Target, request: pytest.FixtureRequest) -> None:
    _writable(target)
    if any(word in _name(request) for word in _IGNORES_CREATE):
        pytest.skip("the test server ignores the create condition (checked at the HTTP level)")


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_create_writes_where_nothing_is(target: Target) -> None:
    _writable(target)
    uri = target.uri("new")
    await target.store.put(uri, BLOB, mode="create")
    assert await target.store.get(uri) == BLOB


async def test_create_refuses_a_taken_uri_and_keeps_the_blob(
    target: Target, request: pytest.FixtureRequest
) -> None:
    _creates(target, request)
    uri = target.uri("taken")
    await target.store.put(uri, BLOB)
    with pytest.raises(AlreadyExists) as caught:
        await target.store.put(uri, OTHER, mode="create")
    assert isinstance(caught.value, BitstoreError)
    assert "already stored" in str(caught.value)
    with pytest.raises(AlreadyExists):
        await target.store.put(uri, _chunks(OTHER[:5], OTHER[5:]), mode="create")
    assert await target.store.get(uri) == BLOB


async def test_overwrite_is_still_the_default(target: Target) -> None:
    _writable(target)
    uri = target.uri("over")
    await target.store.put(uri, BLOB)
    await target.store.put(uri, OTHER, mode="overwrite")
    assert await target.store.get(uri) == OTHER


async def test_of_concurrent_creates_exactly_one_wins(
    target: Target, request: pytest.FixtureRequest
) -> None:
    _creates(target, request)
    uri = target.uri("race")
    contenders = [f"contender {i}".encode() * 10 for i in range(8)]

    async def create(data: bytes) -> bool:
        try:
            await target.store.put(uri, data, mode="create")
        except AlreadyExists:
            return False
        return True

    won = await asyncio.gather(*(create(data) for data in contenders))
    assert sum(won) == 1
    assert await target.store.get(uri) == contenders[won.index(True)]


async def test_a_streamed_create_can_win_too(target: Target) -> None:
    _writable(target)
    uri = target.uri("streamed")
    await target.store.put(uri, _chunks(BLOB[:3], BLOB[3:]), mode="create")
    assert await target.store.get(uri) == BLOB


async def test_an_unknown_mode_is_refused_before_anything_is_written(target: Target) -> None:
    _writable(target)
    uri = target.uri("mode")
    with pytest.raises(ValueError, match="'overwrite', 'create'"):
        await target.store.put(uri, BLOB, mode="append")
    assert not await target.store.exists(uri)


async def test_metadata_a_backend_cannot_carry_is_refused(target: Target) -> None:
    _writable(target)
    uri = target.uri("bad-meta")
    with pytest.raises(ValueError, match="lowercase"):
        await target.store.put(uri, BLOB, metadata={"Upper": "x"})
    with pytest.raises(ValueError, match="printable ASCII"):
        await target.store.put(uri, BLOB, metadata={"k": "caf\u00e9"})
    with pytest.raises(ValueError, match="line breaks"):
        await target.store.put(uri, BLOB, content_type="text/plain\r\nX-Evil: 1")
    with pytest.raises(TypeError):
        await target.store.put(uri, BLOB, metadata={"k": 1})  # type: ignore[dict-item]
    assert not await target.store.exists(uri)


async def test_attributes_come_back_in_head(target: Target, request: pytest.FixtureRequest) -> None:
    _writable(target)
    uri = target.uri("described")
    await target.store.put(uri, BLOB, **ATTRS)  # type: ignore[arg-type]
    meta = await target.store.head(uri)
    assert await target.store.get(uri) == BLOB
    if _keeps_attributes(request):
        assert meta.content_type == ATTRS["content_type"]
        assert dict(meta.metadata) == ATTRS["metadata"]
    else:  # not kept: head must not make any up
        assert meta.content_type in (None, "application/octet-stream")
        assert dict(meta.metadata) == {}


async def test_streamed_and_compressed_puts_keep_attributes(
    target: Target, request: pytest.FixtureRequest
) -> None:
    _writable(target)
    if not _keeps_attributes(request):
        pytest.skip("this backend keeps no attributes")
    uri = target.uri("described-stream")
    await target.store.put(uri, _chunks(BLOB, OTHER), compress="gzip", **ATTRS)  # type: ignore[arg-type]
    meta = await target.store.head(uri)
    assert await target.store.get(uri) == BLOB + OTHER
    assert meta.content_type == ATTRS["content_type"]
    assert dict(meta.metadata) == ATTRS["metadata"]


async def test_a_plain_put_over_a_described_blob_drops_its_attributes(
    target: Target, request: pytest.FixtureRequest
) -> None:
    _writable(target)
    if not _keeps_attributes(request):
        pytest.skip("this backend keeps no attributes")
    uri = target.uri("redescribed")
    await target.store.put(uri, BLOB, **ATTRS)  # type: ignore[arg-type]
    await target.store.put(uri, OTHER)
    meta = await target.store.head(uri)
    assert dict(meta.metadata) == {}
    if "seaweed" not in _name(request):  # SeaweedFS keeps the old type when none is sent
        assert meta.content_type != ATTRS["content_type"]


def test_already_exists_pickles_with_its_message() -> None:
    error = AlreadyExists("S3Raw", "s3://b/k")
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is AlreadyExists
    assert str(again) == str(error)
    assert again.uri == "s3://b/k"
    assert "S3Raw" in str(again) and "s3://b/k" in str(again)
