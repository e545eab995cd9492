"""list_flat(): one level of a listing, including unsorted listings and partial prefixes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from asyncbitstore import MemoryRaw
from asyncbitstore.listing import flat_level, list_flat


async def _listing(*uris: str) -> AsyncIterator[str]:
    for uri in uris:
        yield uri


async def test_an_unsorted_listing_yields_each_sub_prefix_once_at_first_sight() -> None:
    uris = ["p/a/1", "p/x", "p/b/2", "p/a/3", "p/b/c/4", "p/y"]
    assert [u async for u in flat_level(_listing(*uris), "p/")] == ["p/a/", "p/x", "p/b/", "p/y"]


async def test_a_prefix_not_ending_in_a_slash_groups_like_an_s3_delimiter() -> None:
    store = MemoryRaw()
    for name in ["logs/2024/a", "logs/2025/b", "logsheet", "lo/other"]:
        await store.put(f"mem://b/{name}", b"x")
    found = [u async for u in list_flat(store, "mem://b/log")]
    assert found == ["mem://b/logs/", "mem://b/logsheet"]
    assert [u async for u in list_flat(store, "mem://b/nothing/")] == []


async def test_a_store_that_cannot_list_says_so() -> None:
    from asyncbitstore.testing import CallbackStore

    async def handler(uri: str) -> bytes | None:
        return None

    with pytest.raises(NotImplementedError):
        [u async for u in list_flat(CallbackStore(handler), "x/")]


async def test_sorted_level_sorts_an_unsorted_listing_and_closes_it() -> None:
    from asyncbitstore.listing import cut_level, sorted_level

    closed = []

    async def unsorted() -> AsyncIterator[str]:
        try:
            for uri in ["p/b/2", "p/y", "p/a/1", "p/x", "p/b/c/4", "p/a/3"]:
                yield uri
        finally:
            closed.append(True)

    assert [u async for u in sorted_level(unsorted(), "p/")] == ["p/a/", "p/b/", "p/x", "p/y"]
    assert closed == [True]
    assert cut_level(["p/b/2", "p/y", "p/b/3", "p/a"], "p/") == ["p/a", "p/b/", "p/y"]


async def test_flat_listing_of_a_hash_store_is_its_recursive_listing() -> None:
    from asyncbitstore import HashStore

    store = HashStore(MemoryRaw(), "mem://keys/", algorithm="sha1")
    keys = sorted([await store.write(bytes([i])) for i in range(5)])
    assert sorted([k async for k in store.list(flat=True)]) == keys
    assert sorted([k async for k in store.list("")]) == keys


async def test_flat_listing_of_a_bounded_cache_folder_lists_its_names(tmp_path: object) -> None:
    from asyncbitstore import FileRaw
    from asyncbitstore.bounded_cache import BoundedFileRaw

    folder = f"{tmp_path}/cache/"
    store = BoundedFileRaw(FileRaw(), folder, 1 << 20)
    async with store:
        for name in ["bbbb", "aaaa1", "aaaa"]:
            await store.put(folder + name, b"x")
        expected = [folder + "aaaa", folder + "aaaa1", folder + "bbbb"]
        assert [u async for u in store.list(folder, flat=True)] == expected
        assert [u async for u in store.list(folder + "aaaa", flat=True)] == expected[:2]
