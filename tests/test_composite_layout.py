"""The chain package's public face: names and their module, reprs, and the tracing hooks."""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

import asyncbitstore.composite as composite
from asyncbitstore import (
    Composite,
    HashComposite,
    HTTPRaw,
    MemoryRaw,
    NotFoundInStore,
    S3Raw,
    Sha1Cache,
    Sha1Composite,
    Sha1Store,
    StoreNotAvailable,
)
from asyncbitstore._core.data import PutData
from asyncbitstore.composite import ChainHooks, Tier
from asyncbitstore.errors import CircuitOpen
from asyncbitstore.store import Store
from asyncbitstore.testing import CallbackStore, FaultyStore

BLOB = b"layout"
KEY = hashlib.sha1(BLOB).hexdigest()
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY"
TOKEN = "Bearer s3cr3t-t0ken-do-not-print"


def _memory_chain() -> Sha1Composite:
    chain = Sha1Composite()
    chain.append_cache(Sha1Cache(MemoryRaw(), "mem://cache/"))
    chain.append_source(Sha1Store(MemoryRaw(), "mem://source/"), write=True)
    return chain


@pytest.mark.parametrize("cls", [Composite, HashComposite, Sha1Composite, Tier, ChainHooks])
def test_public_names_belong_to_the_public_module(cls: type) -> None:
    assert cls.__module__ == "asyncbitstore.composite"
    assert getattr(composite, cls.__name__) is cls
    assert cls.__name__ in composite.__all__


def test_a_pickled_chain_names_only_public_chain_classes() -> None:
    chain = _memory_chain()
    dumped = pickle.dumps(chain)
    for private in (b"composite._chain", b"composite._keyed", b"composite._tier"):
        assert private not in dumped
    again = pickle.loads(dumped)
    assert type(again) is Sha1Composite
    assert [type(tier) for tier in again.tiers] == [Tier, Tier]


def test_circuit_open_is_an_error_class_still_importable_from_its_old_module() -> None:
    from asyncbitstore.composite._circuit import CircuitOpen as old

    assert old is CircuitOpen
    assert issubclass(CircuitOpen, StoreNotAvailable)
    assert CircuitOpen.__module__ == "asyncbitstore.errors"


# -- reprs --------------------------------------------------------------------------------------


def test_an_empty_chain_says_so() -> None:
    assert repr(Composite()) == "<Composite: no tiers>"
    assert repr(Sha1Composite(name="blobs")) == "<blobs: no tiers>"


def test_a_chain_shows_its_tiers_in_order() -> None:
    assert repr(_memory_chain()) == "<Sha1Composite: Sha1Cache(MemoryRaw) → Sha1Store(MemoryRaw)>"


def test_a_store_appended_twice_shows_as_two_tiers() -> None:
    store = MemoryRaw()
    chain = Composite()
    chain.append_cache(store)
    chain.append_source(store)
    assert repr(chain) == "<Composite: MemoryRaw → MemoryRaw#2>"


def test_a_tier_shows_its_role_store_and_options() -> None:
    chain = Sha1Composite(circuit_threshold=None)
    chain.append_cache(Sha1Cache(MemoryRaw(), "mem://c/"), read=False, timeout=2)
    chain.append_source(Sha1Store(MemoryRaw(), "mem://s/"), cache_result=True, write=True)
    cache, source = chain.tiers
    assert repr(cache) == "<Tier cache Sha1Cache(MemoryRaw): read=False, timeout=2, circuit=off>"
    assert repr(source) == (
        "<Tier source Sha1Store(MemoryRaw): write=True, cache_result=True, "
        "timeout=None, circuit=off>"
    )


async def test_a_tier_shows_its_circuit_state() -> None:
    chain = Sha1Composite(circuit_threshold=1, circuit_cooldown=60)
    chain.append_source(FaultyStore(Sha1Store(MemoryRaw(), "mem://s/"), outage=True))
    (tier,) = chain.tiers
    assert repr(tier).endswith("circuit=closed>")
    with pytest.raises(StoreNotAvailable):
        await chain.get(KEY)
    assert repr(tier).endswith("circuit=open>")
    with pytest.raises(StoreNotAvailable, match="circuit open"):
        await chain.get(KEY)


def test_reprs_carry_no_secret() -> None:
    s3 = S3Raw({"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": SECRET})
    http = HTTPRaw(headers={"Authorization": TOKEN})
    chain = Sha1Composite()
    chain.append_cache(Sha1Cache(MemoryRaw(), "mem://c/"))
    chain.append_source(Sha1Store(s3, "s3://bucket/prefix/"), write=True, timeout=5)
    chain.append_source(Sha1Store(http, "https://blobs.example/sha1/"))
    shown = [repr(chain), *(repr(tier) for tier in chain.tiers)]
    assert shown[0] == (
        "<Sha1Composite: Sha1Cache(MemoryRaw) → Sha1Store(S3Raw) → Sha1Store(HTTPRaw)>"
    )
    for text in shown:
        assert SECRET not in text
        assert "s3cr3t" not in text
        assert "AKIDEXAMPLE" not in text


# -- tracing hooks ------------------------------------------------------------------------------


class RecordingHooks:
    """A ``ChainHooks`` of its own: records which hook ran, and does the work handed to it."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def get(self, chain: Store, key: str, fetch: Callable[[str], Awaitable[bytes]]) -> bytes:
        self.calls.append("get")
        return await fetch(key)

    async def put(
        self,
        chain: Store,
        key: str,
        data: PutData,
        write: Callable[[str, PutData], Awaitable[None]],
    ) -> None:
        self.calls.append("put")
        await write(key, data)

    async def stream(
        self, chain: Store, uri: str, chunks: AsyncIterator[bytes]
    ) -> AsyncIterator[bytes]:
        self.calls.append("stream")
        try:
            async for chunk in chunks:
                yield chunk
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]

    async def tier_get(self, tier: Tier, key: str) -> bytes:
        self.calls.append(f"tier_get {tier.name}")
        return await tier.get(key)

    async def tier_put(self, tier: Tier, key: str, data: PutData, **options: Any) -> None:
        self.calls.append(f"tier_put {tier.name}")
        await tier.call(tier.store.put, key, data)

    async def open_tier_stream(
        self, tier: Tier, key: str, chunks: AsyncIterator[bytes]
    ) -> tuple[bytes | None, AsyncIterator[bytes]]:
        self.calls.append(f"open_tier_stream {tier.name}")
        return await tier.ask(key, anext, chunks, None), chunks


async def test_a_chain_calls_its_hooks_around_each_operation_and_tier() -> None:
    chain = Composite()
    chain.append_cache(MemoryRaw(), read=True)
    chain.append_source(MemoryRaw(), write=True)
    hooks = RecordingHooks()
    tracer: ChainHooks = hooks  # the protocol, checked by mypy
    chain.tracer = tracer
    await chain.put("mem://b/k", BLOB)
    assert await chain.get("mem://b/k") == BLOB
    assert b"".join([chunk async for chunk in chain.stream("mem://b/k")]) == BLOB
    assert hooks.calls == [
        "put",
        "tier_put MemoryRaw#2",
        "get",
        "tier_get MemoryRaw",
        "tier_get MemoryRaw#2",
        "stream",
        "open_tier_stream MemoryRaw",
        "open_tier_stream MemoryRaw#2",
    ]
    await chain.aclose()


# -- one way of asking the tiers ----------------------------------------------------------------


def _failing(name: str) -> FaultyStore:
    return FaultyStore(CallbackStore(_nothing, name=name), outage=True)


async def _nothing(uri: str) -> bytes | None:
    return None


async def test_every_read_names_each_failed_tier_and_never_calls_an_outage_a_miss() -> None:
    chain = Composite(circuit_threshold=None)
    chain.append_source(_failing("down-a"))
    chain.append_source(CallbackStore(_nothing, name="empty"))
    chain.append_source(_failing("down-b"))
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "get": lambda: chain.get("x://k"),
        "raw get": lambda: chain.get("x://k", stored=True),
        "size": lambda: chain.size("x://k"),
        "get_range": lambda: chain.get_range("x://k", 0, 1),
        "stream": lambda: _read(chain.stream("x://k")),
        "raw stream": lambda: _read(chain.stream("x://k", stored=True)),
    }
    for what, call in calls.items():
        with pytest.raises(StoreNotAvailable) as caught:
            await call()
        assert "down-a" in str(caught.value) and "down-b" in str(caught.value), what
        assert "empty" not in str(caught.value), what


async def test_when_every_tier_misses_each_read_says_not_found() -> None:
    chain = Composite()
    chain.append_source(CallbackStore(_nothing, name="a"))
    chain.append_source(CallbackStore(_nothing, name="b"))
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: chain.get("x://k"),
        lambda: chain.size("x://k"),
        lambda: _read(chain.stream("x://k")),
    ]
    for call in calls:
        with pytest.raises(NotFoundInStore):
            await call()
    assert await chain.exists("x://k") is False


async def _read(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])
