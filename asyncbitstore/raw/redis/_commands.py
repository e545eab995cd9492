"""Redis commands and configuration checks behind ``RedisRaw`` (kept apart to keep it short)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from redis import exceptions as rx
from redis.asyncio import Redis

from ..._core.checks import positive_number
from ..._core.temp import TEMP_PREFIX

__all__ = [
    "TEMP_PREFIX",
    "check_ttl",
    "commit",
    "disconnect",
    "max_value",
    "milliseconds",
    "parse_url",
    "ranged",
    "scan",
    "set_part",
]

_TEMP_TTL_MS = 3_600_000  # a streaming write abandoned by a crashed process vanishes in an hour
_SCAN_COUNT = 1000
#: The smallest ``proto-max-bulk-len`` a server accepts: values up to it always fit.
ALWAYS_FITS = 1 << 20
#: The limit assumed when the server will not say (Redis's default, and the string maximum).
_DEFAULT_MAX_VALUE = 512 << 20


async def max_value(client: Redis) -> int:
    """The largest value the server takes (``proto-max-bulk-len``), or Redis's default when
    ``CONFIG`` is not allowed (managed services often refuse it)."""
    try:
        found = await client.config_get("proto-max-bulk-len")
    except rx.ResponseError:
        return _DEFAULT_MAX_VALUE
    value = next(iter(found.values()), None) if isinstance(found, dict) else None
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return int(value) if isinstance(value, str) and value.isdigit() else _DEFAULT_MAX_VALUE


async def ranged(key: str, start: int, end: int, client: Redis, *, length: bool = False) -> Any:
    """``[exists, strlen, getrange?]`` in one round trip (``length``: strlen first, twice)."""
    async with client.pipeline(transaction=True) as pipe:
        pipe.strlen(key) if length else pipe.exists(key)
        pipe.strlen(key)
        if end > start:
            pipe.getrange(key, start, end - 1)  # GETRANGE's end is inclusive
        return await pipe.execute()


async def scan(client: Redis, *, cursor: int, match: str) -> Any:
    return await client.scan(cursor, match=match, count=_SCAN_COUNT)


async def set_part(temp: str, offset: int, part: bytes, client: Redis) -> None:
    async with client.pipeline(transaction=True) as pipe:
        pipe.setrange(temp, offset, part)
        pipe.pexpire(temp, _TEMP_TTL_MS)
        await pipe.execute()


async def commit(temp: str, key: str, px: int | None, client: Redis) -> None:
    """Rename the complete temporary value over ``key`` and give it its expiry."""
    async with client.pipeline(transaction=True) as pipe:
        pipe.rename(temp, key)
        pipe.pexpire(key, px) if px is not None else pipe.persist(key)
        await pipe.execute()


# RENAMENX and the expiry in one atomic step: a taken key keeps its value and its expiry.
_COMMIT_NEW = """
if redis.call('RENAMENX', KEYS[1], KEYS[2]) == 0 then return 0 end
if ARGV[1] == '' then redis.call('PERSIST', KEYS[2])
else redis.call('PEXPIRE', KEYS[2], ARGV[1]) end
return 1
"""


async def commit_new(temp: str, key: str, px: int | None, client: Redis) -> bool:
    """`commit`, but only if ``key`` is free; False (the temporary key left) if it is taken."""
    done = await client.eval(_COMMIT_NEW, 2, temp, key, "" if px is None else str(px))
    return bool(done)


async def set_new(key: str, data: Any, px: int | None, client: Redis) -> bool:
    """``SET key data NX``: False if the key was taken (and nothing was written)."""
    return bool(await client.set(key, data, px=px, nx=True))


async def disconnect(client: Redis) -> None:
    await client.aclose()
    await client.connection_pool.aclose()


def parse_url(url: object) -> tuple[str, str | None]:
    """``(base URI without credentials, password)`` for a connection URL."""
    if not isinstance(url, str):
        raise TypeError(f"url must be a str, not {type(url).__name__}")
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise ValueError("url must look like redis://[[user]:password@]host[:port][/db]")
    try:
        port = parts.port or 6379
    except ValueError:
        raise ValueError("the port in the Redis URL is not a number") from None
    db = parts.path.strip("/") or "0"
    if not db.isdigit():
        raise ValueError(f"the database in the Redis URL must be a number, not {db!r}")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}:{port}/{int(db)}/", parts.password


def check_ttl(ttl: object) -> float | None:
    return positive_number("ttl", ttl, allow_none=True)


def milliseconds(ttl: float | None) -> int | None:
    return None if ttl is None else max(1, round(ttl * 1000))
