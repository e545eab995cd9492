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
