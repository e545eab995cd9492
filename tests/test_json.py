"""JSON helpers beyond the contract suite: errors, encoding, and a chain."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from asyncbitstore import Composite, MemoryRaw, NotFoundInStore


async def test_get_json_of_a_missing_blob_raises_not_found() -> None:
    with pytest.raises(NotFoundInStore):
        await MemoryRaw().get_json("mem://j/missing")


async def test_get_json_of_invalid_json_raises_value_error() -> None:
    store = MemoryRaw()
    await store.put("mem://j/bad", b"{not json")
    with pytest.raises(json.JSONDecodeError):
        await store.get_json("mem://j/bad")
    await store.put("mem://j/latin1", b'"\xff"')
    with pytest.raises(ValueError):
        await store.get_json("mem://j/latin1")


async def test_put_json_of_an_unserializable_object_writes_nothing() -> None:
    store = MemoryRaw()
    with pytest.raises(TypeError):
        await store.put_json("mem://j/x", {"when": object()})
    assert not await store.exists("mem://j/x")


async def test_put_json_writes_compact_utf8_and_sorts_keys_when_asked() -> None:
    store = MemoryRaw()
    await store.put_json("mem://j/a", {"b": 1, "a": "é"}, sort_keys=True)
    assert await store.get("mem://j/a") == '{"a":"é","b":1}'.encode()
    await store.put_json("mem://j/b", {"b": 1, "a": 2})
    assert await store.get("mem://j/b") == b'{"b":1,"a":2}'


async def test_put_json_many_takes_an_async_iterable() -> None:
    store = MemoryRaw()

    async def pairs() -> AsyncIterator[tuple[str, Any]]:
        for i in range(10):
            yield f"mem://j/{i}", [i]

    assert await store.put_json_many(pairs(), concurrency=3) == 10
    assert await store.get_json_many([f"mem://j/{i}" for i in range(10)]) == [
        [i] for i in range(10)
    ]


async def test_json_through_a_chain() -> None:
    chain = Composite()
    source = MemoryRaw()
    chain.append_source(source, write=True)
    await chain.put_json("mem://c/doc", {"k": [1, 2]})
    assert await source.get("mem://c/doc") == b'{"k":[1,2]}'
    assert await chain.get_json("mem://c/doc") == {"k": [1, 2]}
    assert await chain.get_json_many(["mem://c/doc", "mem://c/none"]) == [{"k": [1, 2]}, None]
