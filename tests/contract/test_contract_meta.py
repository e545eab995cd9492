"""`head`, `get_with_meta` and `get_if_changed` on every store of the contract suite."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import pytest

from asyncbitstore import NotFoundInStore, ObjectMeta

from .target import Target

BLOB = bytes(range(256)) * 40
OTHER = b"another content, of another size"


def _has_validator(meta: ObjectMeta) -> bool:
    return bool(meta.etag or meta.version or meta.last_modified)


async def test_head_of_a_missing_blob_raises_not_found(target: Target) -> None:
    with pytest.raises(NotFoundInStore):
        await target.store.head(target.uri("missing"))


async def test_head_reports_the_size_that_size_gives(target: Target) -> None:
    uri = target.uri("a")
    await target.write(uri, BLOB)
    meta = await target.store.head(uri)
    assert isinstance(meta, ObjectMeta)
    assert meta.size == len(BLOB) == await target.store.size(uri)
    assert isinstance(meta.metadata, Mapping)
    if meta.last_modified is not None:
        assert isinstance(meta.last_modified, datetime)
        assert meta.last_modified.utcoffset() is not None


async def test_head_of_a_compressed_blob_gives_the_stored_size(target: Target) -> None:
    if not target.writable:
        pytest.skip("read-only store")
    uri = target.uri("z")
    await target.store.put(uri, BLOB, compress="gzip")
    meta = await target.store.head(uri)
    assert meta.size == await target.store.size(uri) < len(BLOB)
    data, with_get = await target.store.get_with_meta(uri)
    assert data == BLOB
    assert with_get.size == meta.size


async def test_get_with_meta_pairs_the_bytes_with_their_meta(target: Target) -> None:
    uri = target.uri("a")
    await target.write(uri, BLOB)
    data, meta = await target.store.get_with_meta(uri)
    assert data == BLOB
    assert meta.size == len(BLOB)
    head = await target.store.head(uri)
    assert meta.same_content_as(head) is not False


async def test_get_with_meta_of_a_missing_blob_raises_not_found(target: Target) -> None:
    with pytest.raises(NotFoundInStore):
        await target.store.get_with_meta(target.uri("missing"))


async def test_get_if_changed_of_an_unchanged_blob(target: Target) -> None:
    uri = target.uri("a")
    await target.write(uri, BLOB)
    known = await target.store.head(uri)
    answer = await target.store.get_if_changed(uri, known)
    if _has_validator(known):
        assert answer is None
    else:  # no way to tell: fetched again
        assert answer is not None and answer[0] == BLOB


async def test_get_if_changed_of_a_changed_blob_gives_the_new_bytes(target: Target) -> None:
    uri = target.uri("a")
    await target.write(uri, BLOB)
    known = await target.store.head(uri)
    await target.write(uri, OTHER)
    answer = await target.store.get_if_changed(uri, known)
    assert answer is not None
    data, meta = answer
    assert data == OTHER
    assert meta.size == len(OTHER)
    assert await target.store.get_if_changed(uri, meta) in (None, (OTHER, meta))


async def test_get_if_changed_of_a_deleted_blob_raises_not_found(target: Target) -> None:
    if not target.writable:
        pytest.skip("read-only store")
    uri = target.uri("a")
    await target.write(uri, BLOB)
    known = await target.store.head(uri)
    await target.store.delete(uri)
    with pytest.raises(NotFoundInStore):
        await target.store.get_if_changed(uri, known)


async def test_get_if_changed_takes_only_an_object_meta(target: Target) -> None:
    uri = target.uri("a")
    await target.write(uri, BLOB)
    with pytest.raises(TypeError, match="ObjectMeta"):
        await target.store.get_if_changed(uri, {"size": 1})  # type: ignore[arg-type]
