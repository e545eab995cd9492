"""Block uploads: a stream cut into blocks, several staged at once, committed as one list.

Memory stays at about ``(in_flight + 1) * block_size``: the blocks being staged and the one
being filled. Staged blocks are invisible until the block list is committed, so a failed or
cancelled upload leaves the blob as it was; Azure discards uncommitted blocks by itself
(after a week, or at the next commit to that blob).
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable

__all__ = ["blocks_of", "stage_all"]


async def blocks_of(chunks: AsyncIterable[bytes], size: int) -> AsyncIterator[bytes]:
    """The bytes of ``chunks`` regrouped into blocks of ``size`` (the last one shorter, and
    only one empty block for an empty stream)."""
    buffer = bytearray()
    sent = False
    async for chunk in chunks:
        buffer += chunk
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
            sent = True
    if buffer or not sent:
        yield bytes(buffer)


async def stage_all(
    blocks: AsyncIterable[bytes], stage: Callable[[str, bytes], Awaitable[None]], in_flight: int
) -> list[str]:
    """Stage every block (at most ``in_flight`` at once); their ids, in order.

    The first failure cancels the blocks still being staged and propagates.
    """
    prefix = uuid.uuid4().hex
    ids: list[str] = []
    pending: set[asyncio.Future[None]] = set()
    try:
        async for block in blocks:
            while len(pending) >= in_flight:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()
            block_id = base64.b64encode(f"{prefix}-{len(ids):08d}".encode()).decode()
            ids.append(block_id)
            pending.add(asyncio.ensure_future(stage(block_id, block)))
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    return ids
