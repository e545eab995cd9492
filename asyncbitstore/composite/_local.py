"""A chain's blob as a local file: the first local file tier that has it, filled if needed.

If no local file tier has the blob, it is streamed through the chain (which fills its caches as
usual) and, if no local cache got it that way, written to the first local cache explicitly. If it
is evicted again before it can be pinned (a cache too small for what is pinned at once), or it is
stored compressed, a temporary copy of the data is used instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from .._core.pinning import LocalFile, pin
from .._core.temp import temporary_copy
from ..compression.codecs import MAGIC
from ..errors import NotFoundInStore

if TYPE_CHECKING:
    from ._base import ChainBase
    from ._tier import Tier

__all__ = ["chain_local_path"]

#: Rounds of "pin, else fill" before falling back to a temporary copy.
_ATTEMPTS = 3


@contextlib.asynccontextmanager
async def chain_local_path(chain: ChainBase, uri: str) -> AsyncIterator[Path]:
    """Yield a local path holding the blob at ``uri`` until the exit."""
    key = chain._key(uri)
    local: list[tuple[Tier, LocalFile]] = [
        (tier, where)
        for tier in chain.tiers
        if tier.store.is_valid(key) and (where := tier.store.local_file(key)) is not None
    ]
    caches = [tier for tier, _ in local if tier.is_cache]
    if local:
        for attempt in range(_ATTEMPTS):
            compressed = False
            for _, where in local:
                held = await pin(where)
                if held is None:
                    continue
                try:
                    compressed = await held.head(len(MAGIC)) == MAGIC
                    if not compressed:
                        yield Path(held.path)
                        return
                finally:
                    await held.release()
                break  # stored compressed: the chain's stream decodes it into a copy
            if compressed:
                break
            if not caches:
                raise NotFoundInStore(chain, key, "not in any local file tier")
            if attempt == 0:  # a read through the chain fills its caches (and waits for fills)
                async for _ in chain.stream(key):
                    pass
            else:  # the hit did not fill a local cache, or it was evicted at once: fill one now
                await caches[0].store.put_or_raise(key, chain.stream(key))
    async with temporary_copy(chain.stream(key)) as path:
        yield path
