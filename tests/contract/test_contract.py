"""The behaviour every store promises (asyncbitstore.store.Store), run against each backend."""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import AsyncIterator

import pytest

from asyncbitstore import InvalidRange, InvalidURI, NotFoundInStore, NotWritable

from .target import Target

BLOB = bytes(range(256)) * 40  # 10 KiB with every byte value


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        await asyncio.sleep(0)
        yield part


class Boom(Exception):
    pass


async def _failing_after(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part
    raise Boom("producer failed")


async def test_get_of_a_missing_blob_raises_not_found(target: Target) -> None:
    with pytest.raises(NotFoundInStore) as caught:
        await target.store.get(target.uri("missing"))
    assert isinstance(caught.value, KeyError)
    assert target.uri("missing") in str(caught.value)


async def test_written_blob_reads_back_identical(target: Target) -> None:
    await target.write(target.uri("a"), BLOB)
    assert await target.store.get(target.uri("a")) == BLOB


async def test_empty_blob_round_trips(target: Target) -> None:
    await target.write(target.uri("empty"), b"")
    assert await target.store.get(target.uri("empty")) == b""
    assert await target.store.size(target.uri("empty")) == 0
    assert await target.store.exists(target.uri("empty"))


@pytest.mark.parametrize("kind", [bytearray, memoryview])
async def test_put_accepts_bytes_like(target: Target, kind: type) -> None:
    if not target.writable:
        pytest.skip("read-only store")
    await target.store.put(target.uri("b"), kind(BLOB))
    assert await target.store.get(target.uri("b")) == BLOB


async def test_put_accepts_an_async_iterable(target: Target) -> None:
    if not target.writable:
        pytest.skip("read-only store")
    await target.store.put(target.uri("s"), _chunks(BLOB[:100], b"", BLOB[100:]))
    assert await target.store.get(target.uri("s")) == BLOB


async def test_put_replaces_the_previous_blob(target: Target) -> None:
    if not target.writable:
        pytest.skip("read-only store")
    await target.store.put(target.uri("r"), b"old contents, longer")
    await target.store.put(target.uri("r"), b"new")
    assert await target.store.get(target.uri("r")) == b"new"


async def test_failed_streaming_put_keeps_the_old_blob_and_adds_nothing(target: Target) -> None:
    if not target.writable:
        pytest.skip("read-only store")
    await target.store.put(target.uri("kept"), b"original")
    with pytest.raises(Boom):
        await target.store.put(target.uri("kept"), _failing_after(b"partial "))
    with pytest.raises(Boom):
        await target.store.put(target.uri("never"), _failing_after(b"partial"))
    assert await target.store.get(target.uri("kept")) == b"original"
    assert not await target.store.exists(target.uri("never"))


async def test_put_rejects_str_data(target: Target) -> None:
    if not target.writable:
        pytest.skip("read-only store")
    with pytest.raises(TypeError, match="bytes"):
        await target.store.put(target.uri("t"), "text")  # type: ignore[arg-type]


async def test_read_only_store_refuses_put_and_delete(target: Target) -> None:
    if target.writable:
        pytest.skip("writable store")
    with pytest.raises(NotWritable, match="does not implement put"):
        await target.store.put(target.uri("x"), b"x")
    with pytest.raises(NotWritable):
        await target.store.delete(target.uri("x"))


async def test_exists_and_size(target: Target) -> None:
    assert await target.store.exists(target.uri("e")) is False
    await target.write(target.uri("e"), BLOB)
    assert await target.store.exists(target.uri("e")) is True
    assert await target.store.size(target.uri("e")) == len(BLOB)
    with pytest.raises(NotFoundInStore):
        await target.store.size(target.uri("no-such"))


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, 10, BLOB[:10]),
        (100, 5000, BLOB[100:5000]),
        (10_000, 20_000, BLOB[10_000:]),
        (7, 7, b""),
        (len(BLOB), len(BLOB) + 5, b""),
    ],
)
async def test_get_range_returns_the_slice(
    target: Target, start: int, end: int, expected: bytes
) -> None:
    await target.write(target.uri("g"), BLOB)
    assert await target.store.get_range(target.uri("g"), start, end) == expected


@pytest.mark.parametrize(("start", "end"), [(-1, 5), (5, 4), (len(BLOB) + 1, len(BLOB) + 9)])
async def test_get_range_refuses_bad_ranges(target: Target, start: int, end: int) -> None:
    await target.write(target.uri("g"), BLOB)
    with pytest.raises(InvalidRange):
        await target.store.get_range(target.uri("g"), start, end)


async def test_get_range_of_a_missing_blob_raises_not_found(target: Target) -> None:
    with pytest.raises(NotFoundInStore):
        await target.store.get_range(target.uri("missing"), 0, 1)


async def test_stream_yields_bounded_chunks_that_join_to_the_blob(target: Target) -> None:
    await target.write(target.uri("st"), BLOB)
    chunks = [c async for c in target.store.stream(target.uri("st"), chunk_size=4096)]
    assert b"".join(chunks) == BLOB
    assert all(0 < len(c) <= 4096 for c in chunks)
    assert len(chunks) >= 3


async def test_stream_of_a_missing_blob_raises_before_the_first_chunk(target: Target) -> None:
    received: list[bytes] = []
    with pytest.raises(NotFoundInStore):
        received.extend([chunk async for chunk in target.store.stream(target.uri("missing"))])
    assert received == []


async def test_delete_removes_and_is_idempotent(target: Target) -> None:
    if not target.writable:
        pytest.skip("read-only store")
    await target.store.put(target.uri("d"), b"x")
    await target.store.delete(target.uri("d"))
    assert not await target.store.exists(target.uri("d"))
    await target.store.delete(target.uri("d"))
    await target.store.delete(target.uri("never-there"))


async def test_list_yields_every_uri_under_the_prefix(target: Target) -> None:
    if not target.listable:
        with pytest.raises(NotImplementedError):
            target.store.list(target.prefix)
        return
    names = [f"l{i}" for i in range(12)]
    for name in names:
        await target.write(target.uri(name), name.encode())
    listed = [u async for u in target.store.list(target.prefix)]
    assert set(listed) == {target.uri(n) for n in names}
    if target.sorted_listing:
        assert listed == sorted(listed)


@pytest.mark.parametrize(
    "method", ["get", "exists", "size", "delete", "put", "get_range", "stream"]
)
async def test_every_method_rejects_invalid_uris(target: Target, method: str) -> None:
    for uri in target.invalid:
        assert target.store.is_valid(uri) is False, uri
        with pytest.raises(InvalidURI) as caught:
            await _call(target, method, uri)
        assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    "method", ["get", "exists", "size", "delete", "put", "get_range", "stream"]
)
async def test_every_method_raises_type_error_for_a_non_str(target: Target, method: str) -> None:
    for bad in (None, 42, b"bytes-uri"):
        with pytest.raises(TypeError):
            await _call(target, method, bad)
    with pytest.raises(TypeError):
        target.store.is_valid(None)  # type: ignore[arg-type]


async def _call(target: Target, method: str, uri: object) -> object:
    store = target.store
    if method == "put":
        return await store.put(uri, b"x")  # type: ignore[arg-type]
    if method == "get_range":
        return await store.get_range(uri, 0, 1)  # type: ignore[arg-type]
    if method == "stream":
        return [c async for c in store.stream(uri)]  # type: ignore[arg-type]
    return await getattr(store, method)(uri)


async def test_bulk_operations_keep_order_and_report_missing_blobs(target: Target) -> None:
    uris = [target.uri(f"bulk{i}") for i in range(40)]
    for i, uri in enumerate(uris[::2]):
        await target.write(uri, f"blob {i}".encode())
    wanted = [*uris, target.uri("absent")]
    got = await target.store.get_many(wanted, concurrency=7)
    assert got == [f"blob {i // 2}".encode() if i % 2 == 0 else None for i in range(40)] + [None]
    assert await target.store.exists_many(uris[:4], concurrency=3) == {
        uris[0]: True,
        uris[1]: False,
        uris[2]: True,
        uris[3]: False,
    }
    streamed = {u: d async for u, d in target.store.iter_get(uris, concurrency=5)}
    assert streamed == dict(zip(uris, got[:-1], strict=True))


async def test_put_many_and_delete_many(target: Target) -> None:
    if not target.writable:
        pytest.skip("read-only store")
    uris = [target.uri(f"pm{i}") for i in range(30)]
    assert await target.store.put_many(((u, u.encode()) for u in uris), concurrency=4) == 30
    assert await target.store.get_many(uris) == [u.encode() for u in uris]
    await target.store.delete_many(uris[:10], concurrency=4)
    assert await target.store.exists_many(uris) == {u: i >= 10 for i, u in enumerate(uris)}


async def test_store_pickles_without_live_state_and_works_after(target: Target) -> None:
    await target.write(target.uri("p"), b"pickled")
    await target.store.get(target.uri("p"))  # create clients and pools first
    clone = pickle.loads(pickle.dumps(target.store))
    try:
        assert await clone.exists(target.uri("p")) in (True, False)  # memory stores copy data
        if await clone.exists(target.uri("p")):
            assert await clone.get(target.uri("p")) == b"pickled"
    finally:
        await clone.aclose()


async def test_aclose_is_idempotent_and_the_store_stays_usable(target: Target) -> None:
    await target.write(target.uri("c"), b"closed")
    await target.store.aclose()
    await target.store.aclose()
    assert await target.store.get(target.uri("c")) == b"closed"
