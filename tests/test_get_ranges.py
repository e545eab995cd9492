"""``get_ranges(uri, ranges)``: several ranges of one blob, in order, nearby ones read as one.

On raw stores (memory and S3 on moto), a plain `Store` that only implements ``get``, keyed and
named stores, ``Small``/``Fanout`` and the chain (where one tier serves every range).
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from asyncbitstore import (
    Composite,
    CompressedRange,
    Fanout,
    InvalidRange,
    MemoryRaw,
    NotFoundInStore,
    PrefixStore,
    S3Raw,
    Sha1Store,
    Small,
    Store,
)
from tests.contract.targets_s3 import fresh_bucket

MiB = 1 << 20
DATA = bytes(range(256)) * 16 * 1024 * 3  # 12 MiB


class CountingMemory(MemoryRaw):
    """Records every ``get_range`` asked of it."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[int, int]] = []

    async def get_range(self, uri: str, start: int, end: int) -> bytes:
        self.asked.append((start, end))
        return await super().get_range(uri, start, end)


class OnlyGet(Store):
    """The least a store implements."""

    def __init__(self, blobs: dict[str, bytes]) -> None:
        self.blobs = blobs

    def is_valid(self, uri: str) -> bool:
        return uri.startswith("only://")

    async def get(self, uri: str, *, stored: bool = False, raw: bool | None = None) -> bytes:
        try:
            return self.blobs[self.check_uri(uri)]
        except KeyError:
            raise NotFoundInStore(self, uri) from None


def expected(ranges: list[tuple[int, int]], data: bytes = DATA) -> list[bytes]:
    return [data[start:end] for start, end in ranges]


async def test_ranges_come_back_in_order_and_nearby_ones_are_one_request() -> None:
    store = CountingMemory()
    await store.put("mem://b/k", DATA)
    ranges = [
        (9 * MiB, 9 * MiB + 10),  # alone: more than 1 MiB from the others
        (0, 100),
        (50, 200),  # overlaps the one before
        (200, 300),  # touches it
        (300 + MiB, 300 + MiB + 5),  # exactly 1 MiB after: merged
        (5 * MiB, 5 * MiB),  # empty, alone
        (len(DATA) - 3, len(DATA) + 100),  # runs past the end: shorter
    ]
    assert await store.get_ranges("mem://b/k", ranges) == expected(ranges)
    assert sorted(store.asked) == [
        (0, 300 + MiB + 5),
        (5 * MiB, 5 * MiB),
        (9 * MiB, 9 * MiB + 10),
        (len(DATA) - 3, len(DATA) + 100),
    ]
    assert await store.get_ranges("mem://b/k", []) == []


async def test_a_gap_of_more_than_a_mebibyte_is_two_requests() -> None:
    store = CountingMemory()
    await store.put("mem://b/k", DATA)
    ranges = [(0, 10), (10 + MiB + 1, 20 + MiB + 1)]
    assert await store.get_ranges("mem://b/k", ranges) == expected(ranges)
    assert sorted(store.asked) == ranges


@pytest.mark.parametrize(
    ("ranges", "named"),
    [
        ([(0, 1), (5, 2)], "ranges[1]"),
        ([(0, 1), (1, 2), (-1, 2)], "ranges[2]"),
        ([(0, 1.5)], "ranges[0]"),
        ([(0, 1, 2)], "ranges[0]"),
        ([(True, 3)], "ranges[0]"),
        (["ab"], "ranges[0]"),
    ],
)
async def test_an_invalid_pair_is_named(ranges: list[Any], named: str) -> None:
    store = CountingMemory()
    await store.put("mem://b/k", DATA)
    with pytest.raises(InvalidRange, match=re.escape(named)):
        await store.get_ranges("mem://b/k", ranges)
    assert store.asked == []


async def test_ranges_must_be_a_sequence_of_pairs() -> None:
    store = CountingMemory()
    with pytest.raises(TypeError, match="sequence of"):
        await store.get_ranges("mem://b/k", "0-10")  # type: ignore[arg-type]


async def test_a_range_past_the_end_raises_as_get_range_does_even_when_merged() -> None:
    store = MemoryRaw()
    await store.put("mem://b/k", b"0123456789")
    assert await store.get_ranges("mem://b/k", [(2, 4), (10, 12)]) == [b"23", b""]
    with pytest.raises(InvalidRange, match="only 10 bytes"):
        await store.get_ranges("mem://b/k", [(2, 4), (11, 12)])
    with pytest.raises(InvalidRange):
        await store.get_range("mem://b/k", 11, 12)
    with pytest.raises(NotFoundInStore):
        await store.get_ranges("mem://b/missing", [(0, 1)])


async def test_a_compressed_blob_raises_compressed_range() -> None:
    store = MemoryRaw()
    await store.put("mem://b/z", DATA, compress="gzip")
    with pytest.raises(CompressedRange):
        await store.get_ranges("mem://b/z", [(0, 10), (20, 30)])


async def test_a_store_with_only_get_serves_ranges() -> None:
    store = OnlyGet({"only://a": b"abcdefghij"})
    assert await store.get_ranges("only://a", [(8, 10), (0, 2)]) == [b"ij", b"ab"]


async def test_keyed_named_and_wrapping_stores_forward_it() -> None:
    raw = CountingMemory()
    keyed = Sha1Store(raw, "mem://b/")
    key = await keyed.write(DATA)
    named = PrefixStore(raw, "mem://b/named/")
    await named.put("x/y", DATA)
    ranges = [(0, 10), (20, 30), (8 * MiB, 8 * MiB + 1)]
    for store, uri in [
        (keyed, key),
        (named, "x/y"),
        (Small(named, 100 * MiB), "x/y"),
        (Fanout(MemoryRaw(), named), "x/y"),
    ]:
        raw.asked.clear()
        assert await store.get_ranges(uri, ranges) == expected(ranges), store
        assert sorted(raw.asked) == [(0, 30), (8 * MiB, 8 * MiB + 1)], store
    with pytest.raises(NotFoundInStore):
        await keyed.get_ranges("0" * 40, ranges)


async def test_one_tier_of_a_chain_serves_every_range() -> None:
    upper, lower = CountingMemory(), CountingMemory()
    await lower.put("mem://b/k", DATA)
    chain = Composite()
    chain.append_source(upper)
    chain.append_source(lower)
    ranges = [(0, 5), (6 * MiB, 6 * MiB + 5)]
    assert await chain.get_ranges("mem://b/k", ranges) == expected(ranges)
    assert sorted(lower.asked) == ranges
    assert chain.stats.tiers[1].hits == 1
    other = os.urandom(len(DATA))
    await upper.put("mem://b/k", other)
    assert await chain.get_ranges("mem://b/k", ranges) == expected(ranges, other)
    with pytest.raises(InvalidRange, match=r"ranges\[1\]"):
        await chain.get_ranges("mem://b/k", [(0, 1), (3, 2)])


class CountingS3(S3Raw):
    asked: list[tuple[int, int]]

    async def get_range(self, uri: str, start: int, end: int) -> bytes:
        self.asked.append((start, end))
        return await super().get_range(uri, start, end)


@pytest.fixture
async def s3_store(moto_server: Any) -> AsyncIterator[tuple[CountingS3, str]]:
    store = CountingS3(endpoint_url=moto_server.url, max_concurrency=3)
    store.asked = []
    async with fresh_bucket(moto_server.url) as (bucket, _), store:
        yield store, f"s3://{bucket}/k"


@pytest.mark.servers
async def test_s3_reads_ranges_in_parallel_and_merges_nearby_ones(
    s3_store: tuple[CountingS3, str],
) -> None:
    store, uri = s3_store
    await store.put(uri, DATA)
    ranges = [(i * MiB * 2, i * MiB * 2 + 1000) for i in range(6)] + [(500, 1500)]
    assert await store.get_ranges(uri, ranges) == expected(ranges)
    assert sorted(store.asked) == [(0, 1500)] + [
        (i * MiB * 2, i * MiB * 2 + 1000) for i in range(1, 6)
    ]
    await store.put(uri, DATA, compress="gzip")
    with pytest.raises(CompressedRange):
        await store.get_ranges(uri, ranges)
