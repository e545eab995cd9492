"""Pipes that copy a stream's chunks into cache writes as they pass ("tee").

The reading side is a streaming ``put`` into a cache; it ends normally only when the writer
calls `TeePipe.finish`. If the stream stops early or fails, `TeePipe.abort` makes the
put raise instead, so the cache discards what it received and never keeps a partial blob.
Each pipe holds at most a few chunks, so memory stays bounded whatever the blob's size.

When the cache write ends first (it failed, possibly before reading anything),
`TeePipe.detach` is called: the pipe drops what it holds, wakes a writer waiting for
room, and swallows every later chunk, so the stream goes on for its own reader.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from ._fills import Abandoned

__all__ = ["TeeAborted", "TeePipe"]

_END: Any = object()
_ABORT: Any = object()


class TeeAborted(Abandoned):
    """The stream feeding a cache write stopped before its end."""


class TeePipe:
    """A bounded hand-off of chunks from one stream to one cache write."""

    def __init__(self, max_chunks: int = 4) -> None:
        self._queue: asyncio.Queue[Any] = asyncio.Queue(max_chunks)
        self.closed = False

    async def send(self, chunk: bytes) -> None:
        """Pass a chunk on (waits while the cache is behind by ``max_chunks``)."""
        await self._put(chunk)

    async def finish(self) -> None:
        """The stream is complete: let the cache write commit."""
        await self._put(_END)

    async def _put(self, item: Any) -> None:
        if self.closed:
            return
        await self._queue.put(item)
        if self.closed:  # the reader left while we waited for room: hold nothing for it
            self._drain()

    def detach(self) -> None:
        """The cache write is over, read to its end or not: never hold or wait for it again."""
        self.closed = True
        self._drain()  # also wakes a writer blocked on a full queue

    def abort(self) -> None:
        """The stream stopped early: make the cache write fail (never blocks)."""
        if self.closed:
            return
        self.closed = True
        self._drain()
        self._queue.put_nowait(_ABORT)

    def _drain(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()

    async def chunks(self) -> AsyncIterator[bytes]:
        """The chunks, for the cache's ``put``; raises `TeeAborted` on abort."""
        try:
            while True:
                item = await self._queue.get()
                if item is _END:
                    return
                if item is _ABORT:
                    raise TeeAborted("the stream stopped before its end")
                yield item
        finally:
            self.detach()
