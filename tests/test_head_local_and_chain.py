"""`head` and revalidation on the local stores, the wrappers, keyed stores and the chain."""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

import pytest

from asyncbitstore import (
    Composite,
    Fanout,
    FileRaw,
    MemoryRaw,
    NotFoundInStore,
    ObjectMeta,
    Sha1Composite,
    Sha1Store,
    Small,
    StoreNotAvailable,
)
from asyncbitstore.bounded_cache import BoundedFileRaw
from asyncbitstore.testing import FaultyStore

DATA = b"0123456789" * 10
SAME_SIZE = b"9876543210" * 10


async def test_memory_head_has_an_etag_and_the_put_time() -> None:
    store = MemoryRaw()
    await store.put("mem://a/x", DATA)
    meta = await store.head("mem://a/x")
    assert meta.size == len(DATA)
    assert meta.etag is not None
    assert meta.last_modified is not None and meta.last_modified.utcoffset() is not None
    assert await store.head("mem://a/x") == meta  # stable while the blob is


async def test_memory_rewrite_of_the_same_size_is_seen_as_changed() -> None:
    store = MemoryRaw()
    await store.put("mem://a/x", DATA)
    known = await store.head("mem://a/x")
    await store.put("mem://a/x", SAME_SIZE)
    answer = await store.get_if_changed("mem://a/x", known)
    assert answer is not None and answer[0] == SAME_SIZE
    assert answer[1].etag != known.etag
    assert await store.get_if_changed("mem://a/x", answer[1]) is None


async def test_memory_meta_is_dropped_with_the_blob_and_survives_pickling() -> None:
    store = MemoryRaw(max_bytes=150)
    await store.put("mem://a/x", DATA)
    known = await store.head("mem://a/x")
    back = pickle.loads(pickle.dumps(store))
    assert await back.head("mem://a/x") == known
    await store.put("mem://a/y", DATA)  # evicts x
    assert store._stamps.keys() == {"mem://a/y"}
    await store.delete("mem://a/y")
    assert store._stamps == {}


async def test_memory_pickled_before_meta_existed_still_answers_head() -> None:
    store = MemoryRaw()
    await store.put("mem://a/x", DATA)
    state = store.__getstate__()
    del state["_stamps"]
    old = MemoryRaw.__new__(MemoryRaw)
    old.__setstate__(state)
    meta = await old.head("mem://a/x")
    assert meta.size == len(DATA) and meta.etag is not None and meta.last_modified is None
    await old.put("mem://a/z", DATA)
    assert (await old.head("mem://a/z")).last_modified is not None


@pytest.mark.parametrize("bounded", [False, True])
async def test_file_head_from_stat(tmp_path: Path, bounded: bool) -> None:
    if bounded:
        store: FileRaw | BoundedFileRaw = BoundedFileRaw(FileRaw(), f"{tmp_path}/", 1 << 20)
        uri = f"{tmp_path}/blob1"
    else:
        store = FileRaw()
        uri = f"{tmp_path}/k"
    await store.put(uri, DATA)
    meta = await store.head(uri)
    path = store.local_file(uri).path
    found = os.stat(path)
    assert meta.size == found.st_size == len(DATA)
    assert meta.last_modified is not None
    assert int(meta.last_modified.timestamp()) == int(found.st_mtime)
    assert meta.etag is not None and f"{found.st_ino:x}" in meta.etag
    await store.put(uri, SAME_SIZE)  # atomic rewrite: a new inode and time
    answer = await store.get_if_changed(uri, meta)
    assert answer is not None and answer[0] == SAME_SIZE
    assert await store.get_if_changed(uri, answer[1]) is None
    await store.aclose()


async def test_file_head_of_a_folder_is_not_found(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    with pytest.raises(NotFoundInStore):
        await FileRaw().head(f"{tmp_path}/d")


async def test_wrappers_forward_head_and_revalidation() -> None:
    inner = MemoryRaw()
    await inner.put("mem://a/x", DATA)
    expected = await inner.head("mem://a/x")
    for store in (Small(inner, 1000), Fanout(MemoryRaw(), inner), FaultyStore(inner)):
        assert await store.head("mem://a/x") == expected
        assert await store.get_with_meta("mem://a/x") == (DATA, expected)
        assert await store.get_if_changed("mem://a/x", expected) is None
        with pytest.raises(NotFoundInStore):
            await store.head("mem://a/missing")


async def test_faulty_wrapper_fails_head_during_an_outage() -> None:
    inner = MemoryRaw()
    await inner.put("mem://a/x", DATA)
    with pytest.raises(StoreNotAvailable):
        await FaultyStore(inner, outage=True).head("mem://a/x")


async def test_keyed_store_head_is_the_raw_meta_under_the_key() -> None:
    raw = MemoryRaw()
    store = Sha1Store(raw, "mem://sha1/")
    key = await store.write(DATA)
    assert await store.head(key) == await raw.head("mem://sha1/" + key)
    missing = hashlib.sha1(b"nothing").hexdigest()
    with pytest.raises(NotFoundInStore) as caught:
        await store.head(missing)
    assert missing in str(caught.value)


async def test_head_size_matches_size_for_compressed_blobs() -> None:
    raw = MemoryRaw()
    keyed = Sha1Store(raw, "mem://sha1/")
    key = hashlib.sha1(DATA).hexdigest()
    await keyed.put(key, DATA, compress="gzip")
    chain = Sha1Composite()
    chain.append_source(keyed)
    for store, uri in ((raw, "mem://sha1/" + key), (keyed, key), (chain, key)):
        meta = await store.head(uri)
        assert meta.size == await store.size(uri) != len(DATA)
        data, with_get = await store.get_with_meta(uri)
        assert data == DATA and with_get.size == meta.size


async def test_chain_head_comes_from_the_first_tier_that_has_the_blob() -> None:
    cache, source = MemoryRaw(), MemoryRaw()
    await source.put("mem://a/x", DATA)
    chain = Composite()
    chain.append_cache(cache)
    chain.append_source(source)
    assert await chain.head("mem://a/x") == await source.head("mem://a/x")
    await cache.put("mem://a/x", DATA)
    assert await chain.head("mem://a/x") == await cache.head("mem://a/x")
    with pytest.raises(NotFoundInStore):
        await chain.head("mem://a/missing")


async def test_chain_head_skips_a_failing_tier_and_never_calls_an_outage_a_miss() -> None:
    source = MemoryRaw()
    await source.put("mem://a/x", DATA)
    chain = Composite()
    chain.append_cache(FaultyStore(MemoryRaw(), outage=True))
    chain.append_source(source)
    assert (await chain.head("mem://a/x")).size == len(DATA)
    with pytest.raises(StoreNotAvailable):
        await chain.head("mem://a/missing")


async def test_default_head_is_built_from_size() -> None:
    from asyncbitstore.testing import CallbackStore

    async def answer(uri: str) -> bytes | None:
        return DATA if uri == "x" else None

    store = CallbackStore(answer)
    assert await store.head("x") == ObjectMeta(size=len(DATA))
    assert await store.get_with_meta("x") == (DATA, ObjectMeta(size=len(DATA)))
    fetched = await store.get_if_changed("x", ObjectMeta(size=len(DATA)))
    assert fetched == (DATA, ObjectMeta(size=len(DATA)))  # no way to tell: fetched
    assert await store.get_if_changed("x", ObjectMeta(size=1)) is not None
    with pytest.raises(NotFoundInStore):
        await store.get_if_changed("y", ObjectMeta(size=1))
