"""The public test helpers: CallbackStore and FaultyStore."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from asyncbitstore import (
    InvalidURI,
    MemoryRaw,
    NotFoundInStore,
    NotWritable,
    StoreNotAvailable,
)
from asyncbitstore.testing import CallbackStore, FaultyStore

BLOBS = {"mem://t/a": b"alpha", "mem://t/b": b"bravo"}


async def _lookup(uri: str) -> bytes | None:
    return BLOBS.get(uri)


async def _filled_memory() -> MemoryRaw:
    store = MemoryRaw()
    for uri, data in BLOBS.items():
        await store.put(uri, data)
    return store


async def _outcomes(store: FaultyStore, calls: int) -> list[bool]:
    """Which of ``calls`` successive gets succeeded."""
    pattern = []
    for _ in range(calls):
        try:
            await store.get("mem://t/a")
        except StoreNotAvailable:
            pattern.append(False)
        else:
            pattern.append(True)
    return pattern


# -- CallbackStore --------------------------------------------------------------------------------


async def test_callback_store_serves_the_handler_and_none_means_not_found() -> None:
    store = CallbackStore(_lookup, name="Lookup")
    assert await store.get("mem://t/a") == b"alpha"
    with pytest.raises(NotFoundInStore) as caught:
        await store.get("mem://t/missing")
    assert "Lookup" in str(caught.value)
    assert "mem://t/missing" in str(caught.value)
    assert await store.exists("mem://t/b")
    assert not await store.exists("mem://t/missing")
    assert await store.get_many(["mem://t/b", "mem://t/zz"]) == [b"bravo", None]


async def test_callback_store_counts_handler_calls() -> None:
    store = CallbackStore(_lookup)
    assert store.calls == 0
    await store.get("mem://t/a")
    await store.exists("mem://t/missing")
    await store.get_many(["mem://t/a", "mem://t/b", "mem://t/c"])
    assert store.calls == 5


async def test_callback_store_returns_bytes_for_a_bytes_like_answer() -> None:
    async def handler(uri: str) -> bytes:
        return bytearray(b"mutable")  # type: ignore[return-value]

    data = await CallbackStore(handler).get("any")
    assert type(data) is bytes
    assert data == b"mutable"


async def test_accepts_predicate_drives_is_valid_and_rejected_uris_never_reach_the_handler() -> (
    None
):
    store = CallbackStore(_lookup, accepts=lambda uri: uri.startswith("mem://t/"))
    assert store.is_valid("mem://t/a")
    assert not store.is_valid("s3://bucket/key")
    with pytest.raises(InvalidURI):
        await store.get("s3://bucket/key")
    with pytest.raises(TypeError):
        store.is_valid(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await store.get(b"mem://t/a")  # type: ignore[arg-type]
    assert store.calls == 0


async def test_callback_store_is_read_only_and_propagates_handler_errors() -> None:
    async def broken(uri: str) -> bytes | None:
        raise ConnectionError("backend down")

    store = CallbackStore(broken)
    with pytest.raises(NotWritable):
        await store.put("x", b"data")
    with pytest.raises(ConnectionError):
        await store.get("x")
    assert store.calls == 1


# -- FaultyStore ----------------------------------------------------------------------------------


async def test_outage_can_be_switched_at_runtime() -> None:
    store = FaultyStore(await _filled_memory())
    assert await store.get("mem://t/a") == b"alpha"
    store.outage = True
    with pytest.raises(StoreNotAvailable, match="outage") as caught:
        await store.get("mem://t/a")
    assert "mem://t/a" in str(caught.value)
    assert "FaultyStore(MemoryRaw)" in str(caught.value)
    with pytest.raises(StoreNotAvailable):
        await store.exists("mem://t/a")  # an outage is never reported as "missing"
    store.outage = False
    assert await store.get("mem://t/a") == b"alpha"
    assert (store.calls, store.faults) == (4, 2)


async def test_error_rate_with_a_seed_is_repeatable() -> None:
    inner = await _filled_memory()
    first = await _outcomes(FaultyStore(inner, error_rate=0.3, seed=11), 200)
    again = await _outcomes(FaultyStore(inner, error_rate=0.3, seed=11), 200)
    other = await _outcomes(FaultyStore(inner, error_rate=0.3, seed=12), 200)
    assert first == again
    assert first != other
    assert 30 <= first.count(False) <= 90  # about 30 % of 200


async def test_error_rate_zero_and_one() -> None:
    inner = await _filled_memory()
    assert all(await _outcomes(FaultyStore(inner, error_rate=0.0), 50))
    never = FaultyStore(inner, error_rate=1.0)
    assert not any(await _outcomes(never, 50))
    assert (never.calls, never.faults) == (50, 50)


@pytest.mark.parametrize("error_rate", [-0.1, 1.5, float("nan")])
def test_an_invalid_error_rate_raises_value_error(error_rate: float) -> None:
    with pytest.raises(ValueError, match="error_rate"):
        FaultyStore(MemoryRaw(), error_rate=error_rate)


async def test_latency_is_added_to_every_call() -> None:
    store = FaultyStore(await _filled_memory(), latency=0.02)
    start = time.perf_counter()
    assert await store.get("mem://t/a") == b"alpha"
    assert time.perf_counter() - start >= 0.02


async def test_a_latency_range_draws_each_delay_from_the_seeded_generator() -> None:
    store = FaultyStore(await _filled_memory(), latency=(0.01, 0.03), seed=5)
    expected = random.Random(5)
    for _ in range(3):
        delay = expected.uniform(0.01, 0.03)
        start = time.perf_counter()
        await store.get("mem://t/b")
        assert time.perf_counter() - start >= delay


async def test_latency_happens_before_the_fault_and_calls_overlap() -> None:
    store = FaultyStore(await _filled_memory(), latency=0.05, outage=True)
    start = time.perf_counter()
    results = await asyncio.gather(
        *(store.get("mem://t/a") for _ in range(10)), return_exceptions=True
    )
    elapsed = time.perf_counter() - start
    assert all(isinstance(r, StoreNotAvailable) for r in results)
    assert 0.05 <= elapsed < 0.4  # concurrent sleeps, not ten in a row
    assert store.faults == 10


async def test_faulty_store_delegates_every_method_to_the_inner_store() -> None:
    inner = MemoryRaw()
    store = FaultyStore(inner)
    await store.put("mem://t/x", b"0123456789")
    assert await inner.get("mem://t/x") == b"0123456789"
    assert await store.get("mem://t/x") == b"0123456789"
    assert await store.exists("mem://t/x")
    assert not await store.exists("mem://t/y")
    assert await store.size("mem://t/x") == 10
    assert await store.get_range("mem://t/x", 2, 5) == b"234"
    assert [c async for c in store.stream("mem://t/x", chunk_size=4)] == [b"0123", b"4567", b"89"]
    assert [uri async for uri in store.list("mem://t/")] == ["mem://t/x"]
    with pytest.raises(NotFoundInStore):
        await store.get("mem://t/y")
    await store.delete("mem://t/x")
    assert not await inner.exists("mem://t/x")
    assert store.calls == 9  # every call but list
    assert store.faults == 0


async def test_an_outage_hits_every_method_but_list() -> None:
    inner = await _filled_memory()
    store = FaultyStore(inner, outage=True)
    calls = [
        store.get("mem://t/a"),
        store.get_range("mem://t/a", 0, 1),
        store.put("mem://t/c", b"c"),
        store.exists("mem://t/a"),
        store.size("mem://t/a"),
        store.delete("mem://t/a"),
    ]
    for call in calls:
        with pytest.raises(StoreNotAvailable):
            await call
    with pytest.raises(StoreNotAvailable):
        async for _ in store.stream("mem://t/a"):
            pass
    assert sorted(BLOBS) == [uri async for uri in store.list("mem://t/")]
    assert len(inner) == 2  # neither the put nor the delete reached the inner store
    assert store.faults == 7


async def test_faulty_store_keeps_the_inner_uri_rules() -> None:
    store = FaultyStore(MemoryRaw(), outage=True)
    assert store.is_valid("mem://t/a")
    assert not store.is_valid("s3://bucket/key")
    with pytest.raises(InvalidURI, match="mem://"):
        await store.get("s3://bucket/key")  # an invalid URI is not a fault
    assert (store.calls, store.faults) == (0, 0)
    assert store.name == "FaultyStore(MemoryRaw)"


async def test_aclose_closes_the_inner_store() -> None:
    closed = []

    class Inner(MemoryRaw):
        async def aclose(self) -> None:
            closed.append(True)

    async with FaultyStore(Inner()):
        pass
    assert closed == [True]
