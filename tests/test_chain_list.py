"""``Composite.list``: the sources' keys merged in sorted order, each once; caches left out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from asyncbitstore import FileRaw, MemoryRaw, Sha1Composite
from asyncbitstore.composite import Composite
from asyncbitstore.errors import InvalidURI, StoreNotAvailable
from asyncbitstore.hashing import HashStore
from asyncbitstore.named import PrefixCache, PrefixStore
from asyncbitstore.store import Store


async def listed(chain: Composite, prefix: str = "", flat: bool = False) -> list[str]:
    return [key async for key in chain.list(prefix, flat=flat)]


async def named_chain(tmp_path: Path) -> Composite:
    cache = PrefixCache(MemoryRaw(), "mem://cache/")
    memory = PrefixStore(MemoryRaw(), "mem://src/")
    files = PrefixStore(FileRaw(), f"{tmp_path}/files/")
    for key in ("img/1.png", "img/3.png", "b.txt"):
        await memory.put(key, b"m")
    for key in ("img/2.png", "img/3.png", "a.txt", "img/sub/4.png"):
        await files.put(key, b"f")
    await cache.put("only-in-cache.txt", b"c")
    chain = Composite()
    chain.append_cache(cache)
    chain.append_source(memory)
    chain.append_source(files)
    return chain


async def test_a_chain_lists_its_sources_merged_sorted_and_once(tmp_path: Path) -> None:
    chain = await named_chain(tmp_path)
    assert await listed(chain) == [
        "a.txt",
        "b.txt",
        "img/1.png",
        "img/2.png",
        "img/3.png",
        "img/sub/4.png",
    ]
    assert await listed(chain, "img/") == ["img/1.png", "img/2.png", "img/3.png", "img/sub/4.png"]
    assert await listed(chain, "img/", flat=True) == [
        "img/1.png",
        "img/2.png",
        "img/3.png",
        "img/sub/",
    ]
    assert await listed(chain, "none/") == []


class NoList(Store):
    """A user's store that cannot list."""

    def is_valid(self, uri: str) -> bool:
        return True

    async def get(self, uri: str, **options: object) -> bytes:
        raise NotImplementedError


class Unsorted(NoList):
    """A user's store that lists in no particular order (as Redis does)."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys

    async def list(self, prefix: str = "", flat: bool = False) -> AsyncIterator[str]:
        for key in self.keys:
            if key.startswith(prefix):
                yield key


class Broken(Unsorted):
    """Lists a few keys, then fails."""

    async def list(self, prefix: str = "", flat: bool = False) -> AsyncIterator[str]:
        yield "a"
        raise ConnectionResetError("connection reset by peer")


async def test_a_source_listing_in_no_order_is_sorted_before_the_merge() -> None:
    memory = MemoryRaw()
    for uri in ("mem://k/b", "mem://k/d"):
        await memory.put(uri, b"x")
    chain = Composite()
    chain.append_source(Unsorted(["mem://k/e", "mem://k/a", "mem://k/d", "mem://k/c"]))
    chain.append_source(memory)
    assert await listed(chain, "mem://k/") == [f"mem://k/{c}" for c in "abcde"]


async def test_a_failing_source_fails_the_listing_rather_than_shortening_it() -> None:
    memory = MemoryRaw()
    await memory.put("mem://k/z", b"x")
    chain = Composite()
    chain.append_source(memory)
    chain.append_source(Broken([]))
    with pytest.raises(StoreNotAvailable, match=r"failed while listing.*incomplete"):
        await listed(chain, "mem://")


async def test_sources_that_cannot_list_or_do_not_hold_the_prefix_are_left_out(
    tmp_path: Path,
) -> None:
    memory = MemoryRaw()
    await memory.put("mem://k/a", b"x")
    chain = Composite()
    chain.append_source(FileRaw(str(tmp_path)))  # lists no mem:// URIs
    chain.append_source(NoList())
    chain.append_source(memory)
    assert await listed(chain, "mem://k/") == ["mem://k/a"]
    only_files = Composite()
    only_files.append_source(FileRaw(str(tmp_path)))
    with pytest.raises(InvalidURI, match="a prefix that one of the chain's sources lists"):
        await listed(only_files, "mem://k/")
    lonely = Composite()
    lonely.append_source(NoList())
    with pytest.raises(NotImplementedError, match="none of its sources can list"):
        await listed(lonely)


async def test_a_keyed_chain_lists_the_digests_of_its_sources() -> None:
    import hashlib

    one, two = MemoryRaw(), MemoryRaw()
    chain = Sha1Composite()
    chain.append_source(HashStore(one, "mem://a/", algorithm="sha1"), write=True)
    chain.append_source(HashStore(two, "mem://b/", algorithm="sha1"))
    digests = [await chain.write(data) for data in (b"one", b"two", b"three")]
    await HashStore(two, "mem://b/", algorithm="sha1").put(hashlib.sha1(b"4").hexdigest(), b"4")
    assert await listed(chain) == sorted([*digests, hashlib.sha1(b"4").hexdigest()])
