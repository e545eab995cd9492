"""The bulk engine behind get_many, iter_get, put_many, exists_many and delete_many.

Bounded concurrency and read-ahead over endless inputs, order, cancellation, error propagation,
argument checks and progress bars. The generic "bulk results are right" checks live in the
contract suite; these pin the engine's guarantees.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from asyncbitstore import MemoryRaw
from asyncbitstore.testing import CallbackStore


class Boom(Exception):
    pass


def _leftover_tasks(before: set[asyncio.Task[Any]]) -> set[asyncio.Task[Any]]:
    """Tasks that are not done and did not exist in ``before`` (the current task excluded)."""
    return asyncio.all_tasks() - before - {asyncio.current_task()}


async def _aiter(items: list[str]) -> AsyncIterator[str]:
    for item in items:
        await asyncio.sleep(0)
        yield item


def _echo_store() -> CallbackStore:
    async def handler(uri: str) -> bytes:
        return uri.encode()

    return CallbackStore(handler)


class InFlight:
    """A handler that counts the calls running at once and notes which ones were cancelled."""

    def __init__(self, delay: float | Callable[[str], float] = 0.0, *, block: bool = False):
        self.delay = delay
        self.block = block  # never return: wait to be cancelled
        self.now = 0
        self.peak = 0
        self.started = 0
        self.cancelled = 0
        self.all_started = asyncio.Event()
        self.expect = 0

    async def __call__(self, uri: str) -> bytes | None:
        self.now += 1
        self.started += 1
        self.peak = max(self.peak, self.now)
        if self.expect and self.started >= self.expect:
            self.all_started.set()
        try:
            if self.block:
                await asyncio.sleep(60)
            delay = self.delay(uri) if callable(self.delay) else self.delay
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.now -= 1
        return None if uri.startswith("missing") else uri.encode()


# -- endless inputs: bounded concurrency, bounded read-ahead, prompt close -----------------------


async def test_iter_get_over_an_endless_stream_bounds_in_flight_and_read_ahead() -> None:
    handler = InFlight(delay=0.0005)
    store = CallbackStore(handler)
    pulled = consumed = ahead = 0

    async def endless() -> AsyncIterator[str]:
        nonlocal pulled, ahead
        index = 0
        while True:
            pulled += 1
            ahead = max(ahead, pulled - consumed)
            yield f"k{index}"
            index += 1

    keys = endless()
    async with contextlib.aclosing(store.iter_get(keys, concurrency=8)) as results:
        async for uri, data in results:
            assert data == uri.encode()
            consumed += 1
            await asyncio.sleep(0.0005)  # a consumer slower than the fetches
            if consumed == 300:
                break
    await keys.aclose()
    assert handler.peak == 8  # the concurrency was used, and never exceeded
    assert ahead <= 2 * 8
    assert pulled <= 300 + 2 * 8


async def test_closing_iter_get_early_leaves_no_task_behind() -> None:
    handler = InFlight(delay=0.001)
    store = CallbackStore(handler)

    async def endless() -> AsyncIterator[str]:
        index = 0
        while True:
            yield f"k{index}"
            index += 1

    keys = endless()
    before = asyncio.all_tasks()
    async with contextlib.aclosing(store.iter_get(keys, concurrency=8)) as results:
        async for _ in results:
            break
    leftover = _leftover_tasks(before)
    await keys.aclose()
    assert leftover == set()
    assert handler.now == 0


async def test_closing_the_engine_early_cancels_its_workers_at_once() -> None:
    # The engine itself keeps its promise when closed directly.
    from asyncbitstore._core import bulk as _bulk

    handler = InFlight(delay=0.001)
    before = asyncio.all_tasks()
    async with contextlib.aclosing(
        _bulk.imap(handler, (f"k{i}" for i in range(10_000)), concurrency=8)
    ) as pairs:
        async for _ in pairs:
            break
    assert _leftover_tasks(before) == set()
    assert handler.now == 0


# -- order ----------------------------------------------------------------------------------------


def _random_latency(seed: int) -> Callable[[str], float]:
    """A fixed, seeded latency of 0 to 4 ms per key."""
    return lambda uri: random.Random(f"{seed}:{uri}").uniform(0, 0.004)


async def test_iter_get_ordered_keeps_input_order_under_random_latency() -> None:
    keys = [f"k{i:03}" for i in range(200)]
    ordered_store = CallbackStore(InFlight(_random_latency(1)))
    ordered = [uri async for uri, _ in ordered_store.iter_get(keys, concurrency=16, ordered=True)]
    assert ordered == keys

    # The same latencies without ordered=True do reorder, so the check above means something.
    loose_store = CallbackStore(InFlight(_random_latency(1)))
    loose = [uri async for uri, _ in loose_store.iter_get(keys, concurrency=16)]
    assert loose != keys
    assert sorted(loose) == keys


def _as_list(keys: list[str]) -> Any:
    return list(keys)


def _as_generator(keys: list[str]) -> Any:
    return (key for key in keys)


def _as_async(keys: list[str]) -> Any:
    return _aiter(keys)


@pytest.mark.parametrize("kind", [_as_list, _as_generator, _as_async])
async def test_get_many_accepts_lists_generators_and_async_iterables_and_keeps_order(
    kind: Callable[[list[str]], Any],
) -> None:
    keys = [f"k{i:03}" for i in range(100)] + ["missing-1"]
    store = CallbackStore(InFlight(_random_latency(2)))
    results = await store.get_many(kind(keys), concurrency=10)
    assert results == [key.encode() for key in keys[:-1]] + [None]


# -- cancellation ---------------------------------------------------------------------------------


async def _get_many_list(store: CallbackStore, keys: list[str]) -> object:
    return await store.get_many(keys, concurrency=8)


async def _get_many_async(store: CallbackStore, keys: list[str]) -> object:
    return await store.get_many(_aiter(keys), concurrency=8)


async def _iter_get(store: CallbackStore, keys: list[str]) -> object:
    return [pair async for pair in store.iter_get(keys, concurrency=8)]


async def _exists_many(store: CallbackStore, keys: list[str]) -> object:
    return await store.exists_many(keys, concurrency=8)


@pytest.mark.parametrize("call", [_get_many_list, _get_many_async, _iter_get, _exists_many])
async def test_cancelling_the_caller_cancels_every_in_flight_fetch_and_leaves_no_task(
    call: Callable[[CallbackStore, list[str]], Any],
) -> None:
    handler = InFlight(block=True)
    handler.expect = 8
    store = CallbackStore(handler)
    before = asyncio.all_tasks()
    caller = asyncio.create_task(call(store, [f"k{i}" for i in range(100)]))
    await asyncio.wait_for(handler.all_started.wait(), 5)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert handler.started == 8
    assert handler.cancelled == 8
    assert handler.now == 0
    assert _leftover_tasks(before) == set()


# -- errors ---------------------------------------------------------------------------------------


def _failing_store() -> tuple[CallbackStore, InFlight]:
    """Missing blobs answer at once; ``bad`` fails after a moment; the rest hang."""
    hang = InFlight(block=True)

    async def handler(uri: str) -> bytes | None:
        if uri.startswith("missing"):
            return None
        if uri == "bad":
            await asyncio.sleep(0.01)
            raise Boom(uri)
        return await hang(uri)

    return CallbackStore(handler), hang


_FAILING_KEYS = ["missing-1", "k1", "missing-2", "bad", *(f"k{i}" for i in range(2, 50))]


@pytest.mark.parametrize("call", [_get_many_list, _get_many_async, _iter_get])
async def test_first_real_error_propagates_and_cancels_the_other_fetches(
    call: Callable[[CallbackStore, list[str]], Any],
) -> None:
    store, hang = _failing_store()
    before = asyncio.all_tasks()
    with pytest.raises(Boom, match="bad"):
        await asyncio.wait_for(call(store, _FAILING_KEYS), 5)
    assert hang.started >= 1
    assert hang.cancelled == hang.started  # every hanging fetch was cancelled, none finished
    assert hang.now == 0
    assert _leftover_tasks(before) == set()


async def test_an_error_from_a_missing_blob_does_not_stop_the_others() -> None:
    store = CallbackStore(InFlight())
    keys = ["missing-a", "k1", "missing-b", "k2"]
    assert await store.get_many(keys, concurrency=2) == [None, b"k1", None, b"k2"]
    assert dict([pair async for pair in store.iter_get(keys, concurrency=2)]) == {
        "missing-a": None,
        "k1": b"k1",
        "missing-b": None,
        "k2": b"k2",
    }


def _sync_producer(fail_after: int) -> Iterator[str]:
    for i in range(fail_after):
        yield f"k{i}"
    raise Boom("producer failed")


async def _async_producer(fail_after: int) -> AsyncIterator[str]:
    for i in range(fail_after):
        await asyncio.sleep(0)
        yield f"k{i}"
    raise Boom("producer failed")


async def _bulk_get_many(store: CallbackStore, keys: Any) -> object:
    return await store.get_many(keys, concurrency=4)


async def _bulk_iter_get(store: CallbackStore, keys: Any) -> object:
    return [pair async for pair in store.iter_get(keys, concurrency=4)]


async def _bulk_exists_many(store: CallbackStore, keys: Any) -> object:
    return await store.exists_many(keys, concurrency=4)


@pytest.mark.parametrize("producer", [_sync_producer, _async_producer])
@pytest.mark.parametrize("call", [_bulk_get_many, _bulk_iter_get, _bulk_exists_many])
async def test_a_producer_raising_midway_propagates(
    producer: Callable[[int], Any], call: Callable[[CallbackStore, Any], Any]
) -> None:
    store = _echo_store()
    before = asyncio.all_tasks()
    with pytest.raises(Boom, match="producer failed"):
        await asyncio.wait_for(call(store, producer(20)), 5)
    assert _leftover_tasks(before) == set()


async def test_a_producer_raising_midway_propagates_from_put_many_and_delete_many() -> None:
    store = MemoryRaw()

    async def pairs() -> AsyncIterator[tuple[str, bytes]]:
        async for key in _async_producer(10):
            yield f"mem://t/{key}", b"x"

    with pytest.raises(Boom):
        await store.put_many(pairs(), concurrency=3)
    with pytest.raises(Boom):
        await store.delete_many((f"mem://t/{key}" for key in _sync_producer(5)), concurrency=3)


# -- arguments ------------------------------------------------------------------------------------


async def _all_bulk_methods(store: MemoryRaw, concurrency: Any) -> list[Callable[[], Any]]:
    keys = ["mem://t/a", "mem://t/b"]

    async def iter_get() -> None:
        async for _ in store.iter_get(keys, concurrency=concurrency):
            pass

    return [
        lambda: store.get_many(keys, concurrency=concurrency),
        lambda: store.get_many(_aiter(keys), concurrency=concurrency),
        iter_get,
        lambda: store.put_many([(key, b"x") for key in keys], concurrency=concurrency),
        lambda: store.exists_many(keys, concurrency=concurrency),
        lambda: store.delete_many(keys, concurrency=concurrency),
    ]


@pytest.mark.parametrize("concurrency", [0, -1, True, 1.5])
async def test_a_bad_concurrency_raises_value_error_from_every_bulk_method(
    concurrency: Any,
) -> None:
    store = MemoryRaw()
    for method in await _all_bulk_methods(store, concurrency):
        with pytest.raises(ValueError, match="concurrency"):
            await method()
    assert len(store) == 0


async def test_concurrency_one_runs_fetches_one_at_a_time() -> None:
    handler = InFlight(delay=0.0005)
    store = CallbackStore(handler)
    keys = [f"k{i}" for i in range(20)]
    assert await store.get_many(keys, concurrency=1) == [key.encode() for key in keys]
    assert [uri async for uri, _ in store.iter_get(keys, concurrency=1)] == keys
    assert handler.peak == 1


async def _str_get_many(store: CallbackStore, uris: Any) -> object:
    return await store.get_many(uris)


async def _str_iter_get(store: CallbackStore, uris: Any) -> object:
    return [pair async for pair in store.iter_get(uris)]


async def _str_exists_many(store: CallbackStore, uris: Any) -> object:
    return await store.exists_many(uris)


@pytest.mark.parametrize(
    "call",
    [
        _str_get_many,
        _str_iter_get,
        _str_exists_many,
    ],
)
async def test_bulk_methods_refuse_a_single_str_as_the_uris(
    call: Callable[[CallbackStore, Any], Any],
) -> None:
    store = _echo_store()
    with pytest.raises(TypeError, match="str"):
        await call(store, "mem://t/abc")
    assert store.calls == 0


# -- progress bars --------------------------------------------------------------------------------


async def test_get_many_progress_bar_has_the_total_and_counts_every_item(
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = _echo_store()
    await store.get_many((f"k{i}" for i in range(50)), concurrency=4, progress=True)
    err = capsys.readouterr().err
    assert "get" in err
    assert "0/50" in err
    assert "50/50" in err


async def test_iter_get_progress_bar_counts_an_input_of_unknown_length(
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = _echo_store()
    keys = [f"k{i}" for i in range(30)]
    assert len([pair async for pair in store.iter_get(_aiter(keys), progress=True)]) == 30
    err = capsys.readouterr().err
    assert "30blob" in err
    assert "/30" not in err  # no total was known


async def test_put_exists_and_delete_many_show_progress_with_totals(
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = MemoryRaw()
    keys = [f"mem://t/{i}" for i in range(12)]
    await store.put_many([(key, b"x") for key in keys], progress=True)
    await store.exists_many(keys, progress=True)
    await store.delete_many(keys, progress=True)
    err = capsys.readouterr().err
    for description in ("put", "exists", "delete"):
        assert f"{description}: 100%" in err
    assert err.count("12/12") == 3


async def test_no_progress_bar_unless_asked(capsys: pytest.CaptureFixture[str]) -> None:
    await _echo_store().get_many(["a", "b"])
    assert capsys.readouterr().err == ""


# -- results of the write and existence helpers ---------------------------------------------------


async def test_put_many_and_delete_many_return_counts() -> None:
    store = MemoryRaw()

    async def pairs() -> AsyncIterator[tuple[str, bytes]]:
        for i in range(7):
            yield f"mem://t/async{i}", b"a"

    assert await store.put_many([(f"mem://t/{i}", b"x" * i) for i in range(25)]) == 25
    assert await store.put_many(pairs(), concurrency=3) == 7
    assert await store.put_many([]) == 0
    assert len(store) == 32
    # Missing URIs count as processed: delete is idempotent.
    deleted = await store.delete_many(f"mem://t/{i}" for i in range(30))
    assert deleted == 30
    assert len(store) == 7


async def test_exists_many_returns_a_dict_for_every_uri() -> None:
    store = MemoryRaw()
    await store.put("mem://t/a", b"1")
    await store.put("mem://t/c", b"")
    answers = await store.exists_many(_aiter(["mem://t/a", "mem://t/b", "mem://t/c"]))
    assert answers == {"mem://t/a": True, "mem://t/b": False, "mem://t/c": True}
