"""`copy` and `rename` inside one store, on every store of the contract suite."""

from __future__ import annotations

import pytest

from asyncbitstore import InvalidURI, NotFoundInStore, NotWritable

from .target import Target

BLOB = bytes(range(256)) * 40
BIG = bytes(range(251)) * 3_600  # about 900 KB: under every size bound of the targets


def _named(target: Target) -> None:
    """Skip stores whose keys are digests (a copy under another key is not the blob's key)."""
    if target.store.key_algorithm is not None:
        pytest.skip("content-addressed store: a blob has one key")


async def test_copy_duplicates_the_blob_and_keeps_the_source(target: Target) -> None:
    _named(target)
    src, dst = target.uri("src"), target.uri("dst")
    await target.write(src, BLOB)
    if not target.writable:
        with pytest.raises(NotWritable):
            await target.store.copy(src, dst)
        return
    await target.store.copy(src, dst)
    assert await target.store.get(dst) == BLOB
    assert await target.store.get(src) == BLOB


async def test_copy_of_a_larger_blob(target: Target) -> None:
    _named(target)
    if not target.writable:
        pytest.skip("read-only store")
    src, dst = target.uri("big"), target.uri("big-copy")
    await target.write(src, BIG)
    await target.store.copy(src, dst)
    assert await target.store.get(dst) == BIG


async def test_copy_replaces_the_destination(target: Target) -> None:
    _named(target)
    if not target.writable:
        pytest.skip("read-only store")
    src, dst = target.uri("src"), target.uri("dst")
    await target.write(src, b"new")
    await target.write(dst, b"old contents, longer than the new ones")
    await target.store.copy(src, dst)
    assert await target.store.get(dst) == b"new"


async def test_copy_keeps_a_compressed_blob_compressed(target: Target) -> None:
    _named(target)
    if not target.writable:
        pytest.skip("read-only store")
    src, dst = target.uri("z"), target.uri("z-copy")
    await target.store.put(src, BLOB, compress="gzip")
    stored = await target.store.get(src, stored=True)
    await target.store.copy(src, dst)
    assert await target.store.get(dst, stored=True) == stored
    assert await target.store.get(dst) == BLOB


async def test_copy_of_a_missing_blob_raises_and_writes_nothing(target: Target) -> None:
    _named(target)
    if not target.writable:
        pytest.skip("read-only store")
    dst = target.uri("dst")
    with pytest.raises(NotFoundInStore):
        await target.store.copy(target.uri("missing"), dst)
    assert not await target.store.exists(dst)


async def test_copy_onto_itself_keeps_the_blob(target: Target) -> None:
    _named(target)
    if not target.writable:
        pytest.skip("read-only store")
    uri = target.uri("self")
    await target.write(uri, BLOB)
    await target.store.copy(uri, uri)
    assert await target.store.get(uri) == BLOB
    with pytest.raises(NotFoundInStore):
        await target.store.copy(target.uri("missing"), target.uri("missing"))


async def test_copy_and_rename_refuse_uris_of_other_stores(target: Target) -> None:
    bad = next((uri for uri in target.invalid if uri), None)
    if bad is None:
        pytest.skip("no invalid URI listed")
    good = target.uri("a")
    for method in (target.store.copy, target.store.rename):
        with pytest.raises(InvalidURI):
            await method(good, bad)
        with pytest.raises(InvalidURI):
            await method(bad, good)


async def test_rename_moves_the_blob(target: Target) -> None:
    _named(target)
    if not target.writable:
        pytest.skip("read-only store")
    src, dst = target.uri("from"), target.uri("to")
    await target.store.put(src, BLOB, compress="gzip")
    stored = await target.store.get(src, stored=True)
    await target.write(dst, b"replaced")
    await target.store.rename(src, dst)
    assert not await target.store.exists(src)
    assert await target.store.get(dst, stored=True) == stored
    assert await target.store.get(dst) == BLOB


async def test_rename_of_a_missing_blob_raises_and_writes_nothing(target: Target) -> None:
    _named(target)
    if not target.writable:
        pytest.skip("read-only store")
    dst = target.uri("to")
    with pytest.raises(NotFoundInStore):
        await target.store.rename(target.uri("missing"), dst)
    assert not await target.store.exists(dst)
