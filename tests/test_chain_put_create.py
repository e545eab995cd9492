"""A chain's ``put(mode="create")``: the first writable source decides; the attributes reach
every writable source."""

from __future__ import annotations

import pytest

from asyncbitstore import AlreadyExists, Composite, MemoryRaw


def _chain() -> tuple[Composite, MemoryRaw, MemoryRaw, MemoryRaw]:
    cache, first, second = MemoryRaw(), MemoryRaw(), MemoryRaw()
    chain = Composite()
    chain.append_cache(cache)
    chain.append_source(first, write=True)
    chain.append_source(second, write=True)
    return chain, cache, first, second


async def test_the_first_writable_source_decides_and_the_others_follow() -> None:
    chain, _, first, second = _chain()
    async with chain:
        await second.put("mem://a/k", b"old copy in the second source")
        await chain.put(
            "mem://a/k", b"new", mode="create", content_type="text/x", metadata={"a": "1"}
        )
        await chain.flush()
        assert await first.get("mem://a/k") == b"new"
        assert await second.get("mem://a/k") == b"new"  # replicated with mode="overwrite"
        meta = await second.head("mem://a/k")
        assert meta.content_type == "text/x" and dict(meta.metadata) == {"a": "1"}


async def test_a_taken_uri_raises_and_changes_nothing() -> None:
    chain, cache, first, second = _chain()
    async with chain:
        await first.put("mem://a/k", b"first")
        await cache.put("mem://a/k", b"first")
        with pytest.raises(AlreadyExists):
            await chain.put("mem://a/k", b"other", mode="create")
        await chain.flush()
        assert await first.get("mem://a/k") == b"first"
        assert not await second.exists("mem://a/k")
        assert await cache.get("mem://a/k") == b"first"  # the cached copy is still right


async def test_streamed_replication_keeps_the_attributes() -> None:
    chain, _, _, second = _chain()

    async def chunks():  # type: ignore[no-untyped-def]
        yield b"str"
        yield b"eamed"

    async with chain:
        await chain.put("mem://a/s", chunks(), compress="gzip", metadata={"b": "2"})
        await chain.flush()
        assert await second.get("mem://a/s") == b"streamed"
        assert dict((await second.head("mem://a/s")).metadata) == {"b": "2"}
