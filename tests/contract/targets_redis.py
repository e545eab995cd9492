"""Contract target for RedisRaw, against the session's real Redis-protocol server."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from asyncbitstore.raw.redis import RedisRaw
from tests.servers import RedisServer

from .target import Target

TARGETS = ["redis"]


@pytest.fixture
async def contract_redis(redis_server: RedisServer) -> AsyncIterator[Target]:
    async with RedisRaw(f"{redis_server.url}/3", max_connections=8) as store:
        # A fresh key namespace per test: the server is shared by the whole session.
        base = store.uri(f"contract-{secrets.token_hex(4)}/")
        yield Target(
            store,
            lambda n: base + n,
            base,
            invalid=[
                "",
                store.base,
                store.base + ".abstmp-x",
                f"{redis_server.url}/4/key",
                f"redis://127.0.0.2:{redis_server.port}/3/key",
                "s3://bucket/key",
            ],
            sorted_listing=False,
        )
