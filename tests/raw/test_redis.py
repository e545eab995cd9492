"""RedisRaw quirks against a real server: URIs, SCAN listing, TTLs, streaming writes, secrets."""

from __future__ import annotations

import asyncio
import pickle
import secrets
import socket
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis

from asyncbitstore import (
    InvalidURI,
    MemoryRaw,
    NotFoundInStore,
    Retry,
    Sha1Cache,
    Sha1Composite,
    Sha1Store,
    StoreNotAvailable,
)
from asyncbitstore.raw.redis import RedisRaw
from tests.servers import LOOPBACK, RedisServer

pytestmark = pytest.mark.servers


@pytest.fixture
async def store(redis_server: RedisServer) -> AsyncIterator[RedisRaw]:
    async with RedisRaw(f"{redis_server.url}/5") as raw:
        yield raw


@pytest.fixture
def base(store: RedisRaw) -> str:
    """A key namespace of this test's own."""
    return store.uri(f"t-{secrets.token_hex(4)}/")


@pytest.fixture
async def plain(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    """A plain client on the same database, to look behind the store's back."""
    client = aioredis.Redis.from_url(f"{redis_server.url}/5")
    yield client
    await client.aclose()


class PasswordRedis(RedisServer):
    """A server that requires a password."""

    def __init__(self, password: str) -> None:
        super().__init__()
        self.password = password

    def _command(self) -> list[str]:
        return [*super()._command(), "--requirepass", self.password]

    def _ready(self) -> bool:
        try:
            with socket.create_connection((LOOPBACK, self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"-NOAUTH")
        except OSError:
            return False


@pytest.fixture(scope="module")
def locked_server() -> Iterator[PasswordRedis]:
    with PasswordRedis("s3cr3t-Passw0rd") as server:
        yield server


def test_uris_name_server_database_and_key(redis_server: RedisServer) -> None:
    raw = RedisRaw(redis_server.url)
    assert raw.base == f"redis://{LOOPBACK}:{redis_server.port}/0/"
    assert raw.is_valid(raw.base + "a/b c")
    assert not raw.is_valid(raw.base)
    assert not raw.is_valid(f"redis://{LOOPBACK}:{redis_server.port}/1/key")
    assert not raw.is_valid(raw.base + ".abstmp-123")
    assert RedisRaw("rediss://cache:6380").base == "rediss://cache:6380/0/"
    for bad in ("http://host/0", "redis://", "redis://host/x", "redis://host:port/0"):
        with pytest.raises(ValueError):
            RedisRaw(bad)


async def test_round_trip_and_missing_keys(store: RedisRaw, base: str) -> None:
    await store.put(base + "k", b"value")
    assert await store.get(base + "k") == b"value"
    assert await store.get_range(base + "k", 1, 3) == b"al"
    assert await store.size(base + "k") == 5
    await store.delete(base + "k")
    with pytest.raises(NotFoundInStore, match="not found in RedisRaw"):
        await store.get(base + "k")
    with pytest.raises(NotFoundInStore):
        await store.size(base + "k")


async def test_scan_listing_follows_every_page_and_escapes_glob_characters(
    store: RedisRaw, base: str
) -> None:
    uris = {f"{base}many/{i:05d}" for i in range(2500)}  # SCAN pages hold about 1000
    await store.put_many((uri, b"x") for uri in uris)
    odd = f"{base}we*ird?[x]/"
    await store.put(odd + "1", b"1")
    await store.put(base + "weXird-not-matched", b"2")
    assert {u async for u in store.list(base + "many/")} == uris
    assert [u async for u in store.list(odd)] == [odd + "1"]
    assert len([u async for u in store.list(base)]) == 2502
    with pytest.raises(InvalidURI):
        await anext(store.list("redis://elsewhere:1/0/"))


async def test_ttl_from_store_and_per_put(
    redis_server: RedisServer, base: str, plain: aioredis.Redis
) -> None:
    async with RedisRaw(f"{redis_server.url}/5", ttl=0.2) as expiring:
        await expiring.put(base + "default", b"x")
        await expiring.put(base + "forever", b"x", ttl=None)
        await expiring.put(base + "short", b"x", ttl=0.05)
        key = base[len(expiring.base) :]
        assert 0 < await plain.pttl(key + "default") <= 200
        assert await plain.pttl(key + "forever") == -1
        await asyncio.sleep(0.1)
        assert not await expiring.exists(base + "short")
        assert await expiring.exists(base + "default")
        await asyncio.sleep(0.2)
        assert not await expiring.exists(base + "default")
        assert await expiring.get(base + "forever") == b"x"
        with pytest.raises(ValueError, match="ttl"):
            await expiring.put(base + "bad", b"x", ttl=0)


async def _chunks(count: int, size: int, fail: bool = False) -> AsyncIterator[bytes]:
    for i in range(count):
        await asyncio.sleep(0)
        yield bytes([i % 256]) * size
    if fail:
        raise RuntimeError("producer failed")


async def test_large_streaming_put_uses_a_temporary_key_and_renames_it(
    store: RedisRaw, base: str, plain: aioredis.Redis
) -> None:
    await store.put(base + "big", _chunks(5, 600_000), ttl=30)
    expected = b"".join([bytes([i]) * 600_000 for i in range(5)])
    assert await store.get(base + "big") == expected
    assert await plain.pttl(base[len(store.base) :] + "big") > 0
    streamed = [c async for c in store.stream(base + "big", chunk_size=1 << 20)]
    assert b"".join(streamed) == expected and len(streamed) == 3
    assert [k async for k in plain.scan_iter(match=".abstmp-*")] == []


async def test_failed_streaming_put_leaves_no_temporary_key(
    store: RedisRaw, base: str, plain: aioredis.Redis
) -> None:
    with pytest.raises(RuntimeError, match="producer failed"):
        await store.put(base + "broken", _chunks(3, 700_000, fail=True))
    assert not await store.exists(base + "broken")
    assert [k async for k in plain.scan_iter(match=".abstmp-*")] == []


async def test_a_non_string_value_is_reported_clearly(
    store: RedisRaw, base: str, plain: aioredis.Redis
) -> None:
    await plain.rpush(base[len(store.base) :] + "list", b"a")
    with pytest.raises(StoreNotAvailable, match="not a string"):
        await store.get(base + "list")


async def test_the_pool_bounds_connections_and_callers_wait_for_one(
    redis_server: RedisServer, base: str, plain: aioredis.Redis
) -> None:
    before = (await plain.info("clients"))["connected_clients"]
    async with RedisRaw(f"{redis_server.url}/5", max_connections=3) as narrow:
        uris = [f"{base}p{i}" for i in range(200)]
        await narrow.put_many(((u, u.encode()) for u in uris), concurrency=50)
        assert await narrow.get_many(uris, concurrency=50) == [u.encode() for u in uris]
        assert (await plain.info("clients"))["connected_clients"] - before == 3


async def test_aclose_closes_the_pool_and_the_store_reconnects(store: RedisRaw, base: str) -> None:
    await store.put(base + "c", b"1")
    client = await store._client.get()
    await store.aclose()
    assert client.connection_pool._in_use_connections == set()
    assert all(not c.is_connected for c in client.connection_pool._available_connections)
    assert await store.get(base + "c") == b"1"
    assert await store._client.get() is not client


async def test_pickled_store_reconnects(store: RedisRaw, base: str) -> None:
    await store.put(base + "p", b"pickled")
    clone = pickle.loads(pickle.dumps(store))
    try:
        assert await clone.get(base + "p") == b"pickled"
    finally:
        await clone.aclose()


async def test_unreachable_server_is_retried_then_not_available() -> None:
    with RedisServer() as server:  # a port that was just free, now closed again
        url = server.url
    quick = Retry(attempts=3, base=0.01, cap=0.01)
    async with RedisRaw(url, retry=quick, request_timeout=2) as gone:
        started = asyncio.get_running_loop().time()
        with pytest.raises(StoreNotAvailable, match="ConnectionError") as caught:
            await gone.get(gone.uri("k"))
        assert asyncio.get_running_loop().time() - started < 2
        assert caught.value.uri == gone.uri("k")


async def test_password_authenticates_and_never_appears(locked_server: PasswordRedis) -> None:
    secret = locked_server.password
    url = f"redis://:{secret}@{LOOPBACK}:{locked_server.port}/0"
    async with RedisRaw(url) as good:
        await good.put(good.uri("k"), b"v")
        assert await good.get(good.uri("k")) == b"v"
        for text in (good.name, repr(good), good.uri("k"), good.uri_hint):
            assert secret not in text
    wrong = url.replace(secret, "wrong-" + secret)
    async with RedisRaw(wrong, retry=Retry(attempts=5, base=5)) as bad:
        started = asyncio.get_running_loop().time()
        with pytest.raises(StoreNotAvailable) as caught:
            await bad.get(bad.uri("k"))
        assert asyncio.get_running_loop().time() - started < 2  # no retry for bad credentials
        assert secret not in str(caught.value) and secret not in repr(caught.value)
        assert "Authentication" in str(caught.value) or "WRONGPASS" in str(caught.value)


async def test_a_redis_cache_in_a_chain_is_filled_and_then_serves_hits(
    redis_server: RedisServer, base: str
) -> None:
    source = Sha1Store(MemoryRaw(), "mem://source/")
    key = await source.write(b"shared by the fleet")
    async with RedisRaw(f"{redis_server.url}/5") as redis:
        cache = Sha1Cache(redis, base + "blobs/")
        chain = Sha1Composite()
        chain.append_cache(cache)
        chain.append_source(source, cache_result=True)
        assert await chain.get(key) == b"shared by the fleet"
        await chain.flush()
        assert await redis.get(base + "blobs/" + key) == b"shared by the fleet"
        assert await chain.get(key) == b"shared by the fleet"
        assert chain.stats.tiers[0].hits == 1
        await chain.aclose()
