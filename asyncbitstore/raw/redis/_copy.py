"""Server-side copies and renames for ``RedisRaw``: ``COPY`` (Redis 6.2+) and ``RENAME``."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.exceptions import ResponseError

__all__ = ["copy_key", "rename_key"]


async def copy_key(client: Redis, src: str, dst: str, px: int | None) -> bool | None:
    """``COPY src dst REPLACE``, then ``PEXPIRE px`` (``PERSIST`` without ``px``).

    Returns True when copied, False when ``src`` is missing, None when the server has no
    ``COPY`` (older than Redis 6.2).
    """
    try:
        async with client.pipeline(transaction=True) as pipe:
            pipe.copy(src, dst, replace=True)
            if px is None:  # the copy takes the store's expiry, as a put would
                pipe.persist(dst)
            else:
                pipe.pexpire(dst, px)
            answers = await pipe.execute()
    except ResponseError as exc:
        if "unknown command" in str(exc).lower():
            return None
        raise
    return bool(answers[0])


async def rename_key(client: Redis, src: str, dst: str) -> bool:
    """``RENAME src dst``: True when moved, False when ``src`` is missing."""
    try:
        await client.rename(src, dst)
    except ResponseError as exc:
        if "no such key" in str(exc).lower():
            return False
        raise
    return True
