"""A chain's blob as a local file: the first local file tier that has it, filled if needed.

Only a fresh copy is handed out: a cache whose copies expire is asked for the copy's state
first, and a stale copy is passed over (the read through the chain that follows revalidates or
replaces it). If no local file tier has the blob, it is streamed through the chain (which fills
its caches as usual) and, if no local cache got it that way, written to the first local cache
explicitly. If it is evicted again before it can be pinned (a cache too small for what is pinned
at once), is still stale after the read (its sources are down), or is stored compressed, a
temporary copy of the data is used instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from .._core.pinning import LocalFile, Pin, pin
from .._core.temp import temporary_copy
from ..compression.codecs import MAGIC
from ..errors import NotFoundInStore
from ._fresh import stale_state

if TYPE_CHECKING:
    from ._base import ChainBase
    from ._tier import Tier

__all__ = ["chain_local_path"]

#: Rounds of "pin, else fill" before falling back to a temporary copy.
_ATTEMPTS = 3


def _local_tiers(chain: ChainBase, key: str) -> list[tuple[Tier, LocalFile]]:
    return [
        (tier, where)
        for tier in chain.tiers
        if tier.store.is_valid(key) and (where := tier.store.local_file(key)) is not None
    ]


async def _fresh(tier: Tier, key: str) -> bool:
    """Whether the chain would serve ``tier``'s copy of ``key`` as it is (a failure: no)."""
    store = tier.store
    if not tier.is_cache or not store.copies_expire or store.known_fresh(key):
        return True
    try:
        return await stale_state(tier, key, full_read=False) is None
    except Exception:
        return False


async def _pin_first(
    key: str, local: list[tuple[Tier, LocalFile]]
) -> tuple[Pin | None, bool, bool]:
    """Pin the first fresh, plain copy: ``(pin, a compressed copy met, a stale copy met)``."""
    stale = False
    for tier, where in local:
        if not await _fresh(tier, key):
            stale = True
            continue
        held = await pin(where)
        if held is None:
            continue
        try:
            compressed = await held.head(len(MAGIC)) == MAGIC
        except BaseException:
            await held.release()
            raise
        if not compressed:
            return held, False, stale
        await held.release()
        return None, True, stale  # the chain's stream decodes it into a copy
    return None, False, stale


@contextlib.asynccontextmanager
async def _yield_pinned(held: Pin) -> AsyncIterator[Path]:
    try:
        yield Path(held.path)
    finally:
        await held.release()


@contextlib.asynccontextmanager
async def chain_local_path(chain: ChainBase, uri: str) -> AsyncIterator[Path]:
    """Yield a local path holding the blob at ``uri`` until the exit."""
    key = chain._key(uri)
    local = _local_tiers(chain, key)
    caches = [tier for tier, _ in local if tier.is_cache]
    if local:
        for attempt in range(_ATTEMPTS):
            held, compressed, stale = await _pin_first(key, local)
            if held is not None:
                async with _yield_pinned(held) as path:
                    yield path
                return
            if compressed or (stale and attempt > 0):
                break  # still stale after a read: that read served it while its sources were down
            if not caches:
                raise NotFoundInStore(chain, key, "not in any local file tier")
            if attempt == 0:  # a read through the chain fills its caches (and waits for fills)
                async for _ in chain.stream(key):
                    pass
            else:  # the hit did not fill a local cache, or it was evicted at once: fill one now
                await caches[0].store.put_or_raise(key, chain.stream(key))
    async with temporary_copy(chain.stream(key)) as path:
        yield path
