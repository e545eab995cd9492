"""A blob over a Redis server's size limit makes RedisRaw full (StoreFull), not down.

The server is started with ``proto-max-bulk-len`` at its minimum, 1 MiB. A ``SET`` of a larger
value is refused with "Protocol error: invalid bulk length" and the connection closed; a
``SETRANGE`` past the limit (how a streamed put grows its temporary key) with "string exceeds
maximum allowed size".
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from asyncbitstore import Fanout, FileRaw, RedisRaw, Retry, Sha1Store, StoreFull
from tests.servers import RedisServer

pytestmark = pytest.mark.servers

LIMIT = 1 << 20  # the smallest proto-max-bulk-len a server accepts
FAST = Retry(attempts=3, base=0.01, cap=0.02)


class SmallRedis(RedisServer):
    """A Redis server that takes no value over ``LIMIT`` bytes."""

    def _command(self) -> list[str]:
        return [*super()._command(), "--proto-max-bulk-len", str(LIMIT)]


@pytest.fixture(scope="module")
def small_redis() -> Iterator[SmallRedis]:
    with SmallRedis() as server:
        yield server


@pytest.fixture
async def redis(small_redis: SmallRedis) -> AsyncIterator[RedisRaw]:
    # One connection: the one the server closed must be the one that serves the next call.
    store = RedisRaw(small_redis.url + "/0", max_connections=1, retry=FAST, request_timeout=10)
    async with store:
        yield store


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def _no_temporary_keys(store: RedisRaw) -> None:
    client = await store._client.get()
    assert [key async for key in client.scan_iter(match=".abstmp-*")] == []


async def test_a_blob_over_the_limit_is_store_full_and_the_store_still_works(
    redis: RedisRaw,
) -> None:
    uri = redis.uri("big")
    with pytest.raises(StoreFull) as caught:
        await redis.put(uri, b"x" * (LIMIT + 1))
    message = str(caught.value)
    assert "proto-max-bulk-len" in message and repr(uri) in message
    assert "xxxx" not in message
    assert not await redis.exists(uri)
    await redis.put(uri, b"fits")  # the closed connection was replaced
    assert await redis.get(uri) == b"fits"
    await redis.put(redis.uri("edge"), b"y" * LIMIT)  # at the limit: taken
    assert await redis.size(redis.uri("edge")) == LIMIT


@pytest.mark.parametrize("chunk", [LIMIT // 4, LIMIT + 1, 1000])
async def test_a_streamed_blob_over_the_limit_is_store_full_and_leaves_nothing(
    redis: RedisRaw, chunk: int
) -> None:
    uri = redis.uri("streamed")
    await redis.put(uri, b"old")
    with pytest.raises(StoreFull):
        await redis.put(uri, _chunks(b"z" * (LIMIT + 1), chunk))
    assert await redis.get(uri) == b"old"  # not a truncated new blob
    await _no_temporary_keys(redis)
    await redis.put(uri, _chunks(b"w" * (LIMIT - 7), 1 << 18))
    assert await redis.get(uri) == b"w" * (LIMIT - 7)


async def test_a_fanout_spills_a_blob_too_big_for_redis_to_the_next_store(
    redis: RedisRaw, tmp_path: Path
) -> None:
    files = FileRaw(root=tmp_path)
    fan = Fanout(Sha1Store(redis, redis.uri("blobs/")), Sha1Store(files, f"{tmp_path}/blobs/"))
    small, big = b"small blob", b"b" * (LIMIT + 10)
    keys = [hashlib.sha1(data).hexdigest() for data in (small, big)]
    async with files:
        for key, data in zip(keys, (small, big), strict=True):
            await fan.put(key, data)
            assert await fan.get(key) == data
        assert await redis.get(redis.uri(f"blobs/{keys[0]}")) == small
        assert not await redis.exists(redis.uri(f"blobs/{keys[1]}"))
        assert (tmp_path / "blobs" / keys[1]).read_bytes() == big


async def test_the_servers_own_refusal_is_store_full_too(
    redis: RedisRaw, small_redis: SmallRedis
) -> None:
    # The store learns a higher limit, then the server's is lowered: the store sends, and the
    # server refuses a SETRANGE that would grow the temporary value past its limit.
    admin = Redis.from_url(small_redis.url)
    uri = redis.uri("refused")
    try:
        await admin.config_set("proto-max-bulk-len", str(4 * LIMIT))
        await redis.put(uri, b"a" * (2 * LIMIT))
        await admin.config_set("proto-max-bulk-len", str(LIMIT))
        with pytest.raises(StoreFull, match="proto-max-bulk-len"):
            await redis.put(uri, _chunks(b"c" * (2 * LIMIT), 1 << 16))
        assert await redis.get(uri) == b"a" * (2 * LIMIT)
        await _no_temporary_keys(redis)
        await redis.put(uri, b"fits")
        assert await redis.get(uri) == b"fits"
    finally:
        await admin.config_set("proto-max-bulk-len", str(LIMIT))
        await admin.aclose()
