"""The stream path: tiers asked in order, a cache's copy read ahead and verified before it is
passed on, and the chunks teed into the caches above the hit as they pass."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, TypeAlias

from .._core.data import DEFAULT_CHUNK_SIZE
from ..errors import InvalidDataFound, NotFoundInStore
from ..meta import ObjectMeta
from ._ask import first_answer
from ._base import ChainBase
from ._fresh import Found
from ._generations import Since
from ._tee import TeePipe
from ._tier import Tier

__all__ = ["StreamPath"]

#: A stream opened: the chunks read ahead, and the rest (None once it ended).
_Opened: TypeAlias = tuple[list[bytes], AsyncIterator[bytes] | None]


async def _joined(
    head: list[bytes], rest: AsyncIterator[bytes] | None
) -> AsyncGenerator[bytes, None]:
    """The chunks read ahead, then the rest of the stream."""
    for chunk in head:
        yield chunk
    if rest is not None:
        async for chunk in rest:
            yield chunk


def _whole(data: bytes, meta: ObjectMeta) -> _Opened:
    """A blob read whole (a revalidated copy's new bytes) as a stream that has ended."""
    return [data], None


class StreamPath(ChainBase):
    """``stream`` of a chain."""

    #: Bytes of a cache's stream read (and, when it ends within them, verified) before the
    #: first is passed on: a corrupt small copy is then dropped and the next tier streamed.
    stream_verify_ahead: int = 4 * DEFAULT_CHUNK_SIZE

    def _stream(self, uri: str, chunk_size: int, stored: bool) -> AsyncIterator[bytes]:
        """The blob in chunks from the first tier that has it, with bounded memory.

        Chunks from a ``cache_result`` source (or from a cache with caches before it) are teed
        into those caches as they pass; a cache keeps the blob only if the stream reaches its
        end (and, in a content-addressed chain, its digest matches). Concurrent streams of one
        key wait for the first one's fills and then read from the cache: one source fetch.
        With ``stored``, the first tier's stored form is streamed, with no fills.

        A cache's copy is read ahead up to ``stream_verify_ahead`` bytes before its first
        chunk is passed on; if it ends within them, it is verified first (by the cache's own
        ``verify`` and, in a content-addressed chain, against the key), and a corrupt copy is
        dropped and the next tier streamed instead. A larger corrupt copy is found only at its
        end, after its chunks were passed on: it is dropped from the cache and
        ``InvalidDataFound`` is raised, and the next stream of the key reads the next tier.
        """
        if stored:
            return self._stream_stored(uri, chunk_size)
        if self.tracer is not None:
            return self.tracer.stream(self, uri, self._stream_filling(uri, chunk_size))
        return self._stream_filling(uri, chunk_size)

    async def _stream_stored(self, uri: str, chunk_size: int) -> AsyncIterator[bytes]:
        key = self._key(uri)

        async def open_stored(tier: Tier, key: str) -> tuple[bytes | None, AsyncIterator[bytes]]:
            chunks = tier.store.stream(key, chunk_size, stored=True)
            try:
                return await tier.ask(key, anext, chunks, None), chunks
            except Exception:
                await chunks.aclose()  # type: ignore[attr-defined]
                raise

        _, (first, chunks) = await first_answer(self, key, self._readers(key), open_stored)
        try:
            while first is not None:
                yield first
                first = await anext(chunks, None)
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]

    async def _stream_filling(self, uri: str, chunk_size: int) -> AsyncIterator[bytes]:
        key = self._key(uri)
        self._check_negative(key)
        # Wait while another stream of this key is filling caches; then read what it cached.
        while (running := self._streaming.get(key)) is not None and not running.is_set():
            self._flight.joined += 1
            await running.wait()
        done = self._streaming[key] = asyncio.Event()
        since = self._writes.now()
        try:
            found = Found()
            tier, (head, rest) = await first_answer(
                self,
                key,
                self._readers(key),
                functools.partial(self._open, chunk_size),
                True,
                _whole,
                found,
            )
            pipes = [] if found.filled else self._tee_pipes(tier, key, since, found.stale)
            if not pipes:
                done.set()  # nothing to fill: concurrent streams need not wait for this one
            async for chunk in self._teed(tier, key, head, rest, pipes):
                yield chunk
            if not done.is_set():
                await self._background.wait_for_key(key)  # followers then find it cached
        finally:
            if self._streaming.get(key) is done:
                del self._streaming[key]
            done.set()

    async def _open(self, chunk_size: int, tier: Tier, key: str) -> _Opened:
        """A tier's stream as its first chunks and the rest (None: it ended, verified).

        Raises ``InvalidDataFound`` for a copy that failed verification before any byte was
        passed on; misses are counted in the tier's stats here, failures where they happen.
        """
        try:
            head, rest = await self._read_head(tier, key, chunk_size)
        except InvalidDataFound:
            tier.stats.corrupt += 1
            tier.stats.misses += 1
            raise
        except NotFoundInStore:
            tier.stats.misses += 1
            raise
        tier.stats.hits += 1
        return head, rest

    async def _read_head(self, tier: Tier, key: str, chunk_size: int) -> _Opened:
        """The chunks read before any is passed on, and the rest (None once it ended)."""
        chunks = tier.store.stream(key, chunk_size)
        ended = True
        try:
            first, chunks = await self._first_chunk(tier, key, chunks)
            head, ended = await self._read_ahead(tier, key, first, chunks)
        finally:
            if ended:  # (or failed)
                await chunks.aclose()  # type: ignore[attr-defined]
        return head, None if ended else chunks

    async def _first_chunk(
        self, tier: Tier, key: str, chunks: AsyncIterator[bytes]
    ) -> tuple[bytes | None, AsyncIterator[bytes]]:
        """The first chunk (None: an empty blob) and the rest (traced when tracing)."""
        started = time.perf_counter()  # a stream's latency: the wait for its first chunk
        try:
            if self.tracer is None:
                return await tier.ask(key, anext, chunks, None), chunks
            return await self.tracer.open_tier_stream(tier, key, chunks)
        finally:
            tier.stats.latency.record(time.perf_counter() - started)

    async def _read_ahead(
        self, tier: Tier, key: str, first: bytes | None, chunks: AsyncIterator[bytes]
    ) -> tuple[list[bytes], bool]:
        """The chunks read before any is passed on: only the first, or for a cache up to
        ``stream_verify_ahead`` bytes. True if the stream ended (and was verified whole)."""
        head: list[bytes] = []
        size = 0
        chunk = first
        while chunk is not None:
            head.append(chunk)
            size += len(chunk)
            if not tier.is_cache or size > self.stream_verify_ahead:
                return head, False
            try:
                chunk = await anext(chunks, None)
            except NotFoundInStore:
                raise
            except Exception as exc:  # the first chunk's failures are counted by `Tier.ask`
                tier.count_failure("stream", key, exc)
                raise
        self._check_whole(tier, key, head)
        return head, True

    def _check_whole(self, tier: Tier, key: str, chunks: list[bytes]) -> None:
        """In a content-addressed chain, raise InvalidDataFound if ``chunks`` are not ``key``."""
        hasher = self._stream_hasher()
        if hasher is not None:
            for chunk in chunks:
                hasher.update(chunk)
            _check_digest(tier, key, hasher)

    def _tee_pipes(
        self, hit: Tier, key: str, since: Since, also: Tier | None = None
    ) -> list[TeePipe]:
        """A pipe into each cache that a hit at ``hit`` fills (and into ``also``, a cache whose
        stale copy the stream replaces), each fed to a background put. A streamed copy's record
        has no source meta: it can expire, but not be revalidated."""
        pipes = []
        targets = self._fill_targets(hit, key)
        if also is not None and also not in targets:
            targets.append(also)
        for target in targets:
            pipe = TeePipe()
            chunks = pipe.chunks()
            work = functools.partial(
                self._fill, target, key, chunks, since, False, origin=hit.store
            )
            description = f"streamed fill of {target.name}"
            if self._background.start_fill(key, description, work, finished=pipe.detach):
                pipes.append(pipe)
        return pipes

    async def _teed(
        self,
        tier: Tier,
        key: str,
        head: list[bytes],
        rest: AsyncIterator[bytes] | None,
        pipes: list[TeePipe],
    ) -> AsyncIterator[bytes]:
        """The chunks, teed into ``pipes``. A copy found corrupt at its end is kept by no cache,
        and one from a cache is dropped there, so the next stream reads the next tier."""
        # A stream that ended while it was opened has been verified whole already.
        hasher = self._stream_hasher() if pipes and rest is not None else None
        chunks = _joined(head, rest)
        complete = False
        try:
            async for chunk in chunks:
                tier.stats.bytes += len(chunk)
                if hasher is not None:
                    hasher.update(chunk)
                for pipe in pipes:
                    await pipe.send(chunk)
                yield chunk
            if hasher is not None:
                _check_digest(tier, key, hasher)
            for pipe in pipes:
                await pipe.finish()
            complete = True
        except InvalidDataFound as exc:
            if not tier.is_cache:
                raise
            tier.stats.corrupt += 1
            await self._drop_corrupt(tier, key)
            raise InvalidDataFound(
                self,
                key,
                f"the copy in {tier.name} failed verification once streamed ({exc}); it was "
                "deleted there: stream it again to read it from the next tier",
            ) from exc
        except Exception as exc:  # the tier failed after its first chunks were passed on
            tier.count_failure("stream", key, exc)
            raise
        finally:
            if not complete:
                for pipe in pipes:
                    pipe.abort()
            await chunks.aclose()
            if rest is not None:
                await rest.aclose()  # type: ignore[attr-defined]


def _check_digest(tier: Tier, key: str, hasher: Any) -> None:
    if hasher.hexdigest() != key:
        raise InvalidDataFound(tier.store, key, f"streamed data has digest {hasher.hexdigest()}")
