"""The tier chain: caches in front of sources, first hit wins, caches filled in the background.

Semantics (the contract users rely on):

- ``get`` asks the tiers in the order they were appended, skipping tiers whose ``is_valid``
  rejects the URI and caches appended with ``read=False``, and returns the first hit.
- A tier that fails (unavailable, timed out, any error) is skipped for that key. When no tier
  has the blob, :class:`NotFoundInStore` is raised only if every tier answered "not there";
  if any tier failed, :class:`StoreNotAvailable` lists each failure. An outage is never
  reported as a missing blob.
- A hit from a source appended with ``cache_result=True`` is written to every cache; a hit from a
  cache is written to the caches before it. Writes run in the background (see ``_fills``):
  ``get`` does not wait for them, ``flush()`` does, and ``aclose()`` flushes first.
- Concurrent ``get`` calls for one key share one fetch.
- A cache whose blob fails verification has it deleted and the tiers below are asked.
- ``put`` writes to the sources appended with ``write=True``: the first before returning, the
  others in the background. ``delete`` removes the blob from every writable tier and cache.
- Compression: ``put(..., compress=...)`` passes the codec to the sources it writes. ``get``
  and ``stream`` return decoded bytes, and cache fills store those plain bytes: a cache is for
  speed, and a hit then costs no decoding. ``get(raw=True)`` and ``stream(raw=True)`` return
  the first tier's stored form, with no fills (a cache may hold the plain form of a blob a
  source holds compressed).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from typing_extensions import Self

from .._core.data import DEFAULT_CHUNK_SIZE, PutData, check_put_data, check_range
from .._core.keys import HashKeys
from .._core.singleflight import SingleFlight
from ..compression.store_io import check_options, put_options, verified_stored
from ..errors import (
    InvalidDataFound,
    InvalidRange,
    NotFoundInStore,
    NotWritable,
    StoreNotAvailable,
)
from ..stats import ChainStats, TierStats
from ..store import Store
from ._circuit import CircuitBreaker
from ._fills import BackgroundWork
from ._local import chain_local_path
from ._tee import TeePipe
from ._tier import Tier, check_timeout

if TYPE_CHECKING:
    from .._core.write_source import WriteData
    from ..otel import ChainTracer

__all__ = ["Composite", "HashComposite", "Sha1Composite"]

logger = logging.getLogger("asyncbitstore.composite")

R = TypeVar("R")


def _explain(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def _joined(
    head: list[bytes], rest: AsyncIterator[bytes] | None
) -> AsyncGenerator[bytes, None]:
    """The chunks read ahead, then the rest of the stream."""
    for chunk in head:
        yield chunk
    if rest is not None:
        async for chunk in rest:
            yield chunk


class Composite(Store):
    """An ordered chain of tiers that acts as one store.

    Args:
        max_pending_fills: the most background writes pending at once; fills beyond it are
            dropped (and counted), replication of ``put`` waits for a free slot instead.
        negative_ttl: seconds during which a key that no tier had (every tier answered "not
            there") is answered as missing without asking the tiers again; outages are never
            remembered. ``put`` of the key forgets it at once.
        max_negative_entries: the most keys remembered as missing (oldest forgotten first).
        circuit_threshold: failures in a row after which a tier is skipped for
            ``circuit_cooldown`` seconds, then probed with one call (None: never skip).
        circuit_cooldown: seconds a tripped tier is skipped.
        name: the chain's name in messages and stats (default ``"Composite"``).
    """

    uri_hint = "a URI that one of the chain's tiers accepts"
    #: Traces get/put/stream when set (see :mod:`asyncbitstore.otel`); None: no tracing at all.
    tracer: ChainTracer | None = None
    _runtime_attrs = ("_flight", "_background", "_streaming", "_missing")
    #: Bytes of a cache's stream read (and, when it ends within them, verified) before the
    #: first is passed on: a corrupt small copy is then dropped and the next tier streamed.
    stream_verify_ahead: int = 4 * DEFAULT_CHUNK_SIZE

    def __init__(
        self,
        *,
        max_pending_fills: int = 1024,
        negative_ttl: float | None = None,
        max_negative_entries: int = 100_000,
        circuit_threshold: int | None = 5,
        circuit_cooldown: float = 10.0,
        name: str | None = None,
    ) -> None:
        self._tiers: list[Tier] = []
        self._name = name
        self.max_pending_fills = max_pending_fills
        self.negative_ttl = check_timeout(negative_ttl)
        self.max_negative_entries = max_negative_entries
        if circuit_threshold is not None:
            CircuitBreaker(circuit_threshold, circuit_cooldown)  # validates both
        self.circuit_threshold = circuit_threshold
        self.circuit_cooldown = circuit_cooldown
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._flight: SingleFlight[bytes] = SingleFlight()
        self._background = BackgroundWork(self.max_pending_fills)
        self._streaming: dict[str, asyncio.Event] = {}
        self._missing: dict[str, float] = {}  # key -> monotonic expiry, oldest first
        self.negative_hits = 0

    @property
    def name(self) -> str:
        return self._name or type(self).__name__

    @property
    def tiers(self) -> tuple[Tier, ...]:
        """The tiers, in the order they are asked."""
        return tuple(self._tiers)

    @classmethod
    def from_config(cls, source: Any = None) -> Self:
        """The chain a TOML file (path) or mapping describes; see :mod:`asyncbitstore.config`."""
        from ..config import build_chain

        return build_chain(source, cls=cls)

    # -- building the chain ---------------------------------------------------------------------

    def append_cache(
        self, cache: Store, *, read: bool = True, timeout: float | None = None
    ) -> None:
        """Add a cache tier. With ``read=False`` it is only written to, never read from."""
        self._append(cache, is_cache=True, read=read, timeout=timeout)

    def append_source(
        self,
        source: Store,
        *,
        cache_result: bool = False,
        write: bool = False,
        timeout: float | None = None,
    ) -> None:
        """Add a source tier.

        Args:
            cache_result: write blobs found here to every cache.
            write: ``put`` writes here (the first such source synchronously).
            timeout: seconds after which a call to this tier counts as a failure.
        """
        self._append(
            source, is_cache=False, cache_result=cache_result, write=write, timeout=timeout
        )

    def _append(self, store: Store, **options: Any) -> None:
        self._check_tier(store)
        taken = {tier.name for tier in self._tiers}
        name, n = store.name, 2
        while name in taken:
            name, n = f"{store.name}#{n}", n + 1
        breaker = None
        if self.circuit_threshold is not None:
            breaker = CircuitBreaker(self.circuit_threshold, self.circuit_cooldown)
        tier = Tier(
            store, name=name, key_getter=self._key_getter(store), breaker=breaker, **options
        )
        self._tiers.append(tier)

    def _key_getter(self, store: Store) -> Callable[[str], Awaitable[bytes]] | None:
        """A ``get`` that may skip validation of keys this chain already normalized."""
        return None

    def _check_tier(self, store: Store) -> None:
        if not isinstance(store, Store):
            raise TypeError(f"a tier must be a Store, not {type(store).__name__}")
        if store is self:
            raise ValueError("a chain cannot be a tier of itself")

    # -- keys -----------------------------------------------------------------------------------

    def is_valid(self, uri: str) -> bool:
        """Whether any tier accepts ``uri``."""
        if not isinstance(uri, str):
            raise TypeError(f"a URI must be a str, not {type(uri).__name__}")
        return any(tier.store.is_valid(uri) for tier in self._tiers)

    def _key(self, uri: object) -> str:
        """The form of ``uri`` handed to the tiers; raises for URIs no tier accepts."""
        return self.check_uri(uri)

    def _readers(self, key: str) -> list[Tier]:
        return [t for t in self._tiers if t.read and t.store.is_valid(key)]

    # -- get ------------------------------------------------------------------------------------

    async def get(self, uri: str, *, raw: bool = False) -> bytes:
        """The blob from the first tier that has it (see the module docstring).

        With ``raw``, the first tier's stored form (no single flight, no fills).
        """
        key = self._key(uri)
        if raw:
            return await self._get_stored(key)
        if self.tracer is not None:
            return await self.tracer.get(self, key, self._get_key)
        if self._missing:
            self._check_negative(key)
        return await self._flight.run(key, self._fetch)

    async def _get_key(self, key: str) -> bytes:
        if self._missing:
            self._check_negative(key)
        return await self._flight.run(key, self._fetch)

    async def _get_stored(self, key: str) -> bytes:
        async def ask(tier: Tier) -> bytes:
            return await tier.ask(key, functools.partial(tier.store.get, raw=True), key)

        return await self._first_answer(key, self._readers(key), ask)

    def _check_negative(self, key: str) -> None:
        """Raise NotFoundInStore if ``key`` was missing everywhere less than negative_ttl ago."""
        expiry = self._missing.get(key)
        if expiry is None:
            return
        if expiry > time.monotonic():
            self.negative_hits += 1
            raise NotFoundInStore(self, key, "remembered as missing (negative_ttl)")
        del self._missing[key]

    def _remember_missing(self, key: str, error: BaseException) -> None:
        if self.negative_ttl is None or type(error) is not NotFoundInStore:
            return  # outages and corrupt copies are never remembered
        self._missing.pop(key, None)
        self._missing[key] = time.monotonic() + self.negative_ttl
        if len(self._missing) > self.max_negative_entries:
            del self._missing[next(iter(self._missing))]  # the oldest entry

    async def _fetch(self, key: str) -> bytes:
        failures: list[tuple[Tier, BaseException]] = []
        corrupt: InvalidDataFound | None = None
        tracer = self.tracer
        for index, tier in enumerate(self._tiers):
            if not tier.read or not (tier.takes_all_keys or tier.store.is_valid(key)):
                continue
            try:
                data = await (tier.get(key) if tracer is None else tracer.tier_get(tier, key))
            except InvalidDataFound as exc:
                if tier.is_cache:
                    await self._drop_corrupt(tier, key)
                else:
                    corrupt = exc
                continue
            except NotFoundInStore:
                continue
            except Exception as exc:
                logger.warning(
                    "%s: tier %s failed for %s: %s", self.name, tier.name, key, _explain(exc)
                )
                failures.append((tier, exc))
                continue
            self._fill_from(index, key, data)
            return data
        error = self._nothing_found(key, failures, corrupt)
        self._remember_missing(key, error)
        raise error

    def _nothing_found(
        self,
        key: str,
        failures: list[tuple[Tier, BaseException]],
        corrupt: InvalidDataFound | None = None,
    ) -> BaseException:
        if failures:
            reason = "; ".join(f"tier {tier.name}: {_explain(exc)}" for tier, exc in failures)
            error: BaseException = StoreNotAvailable(self, reason, uri=key)
            error.__cause__ = failures[-1][1]
            return error
        if corrupt is not None:
            return InvalidDataFound(self, key, f"every copy found failed verification ({corrupt})")
        return NotFoundInStore(self, key)

    async def _drop_corrupt(self, tier: Tier, key: str) -> None:
        try:
            await tier.call(tier.store.delete, key)
        except Exception as exc:
            logger.warning(
                "%s: could not delete corrupt %s from %s: %s", self.name, key, tier.name, exc
            )

    def _fill_targets(self, index: int, key: str) -> list[Tier]:
        """The caches a hit at tier ``index`` is written to."""
        hit = self._tiers[index]
        if hit.is_cache:
            targets = [t for t in self._tiers[:index] if t.is_cache]
        elif hit.cache_result:
            targets = [t for t in self._tiers if t.is_cache and t is not hit]
        else:
            return []
        return [t for t in targets if t.store.is_valid(key)]

    def _fill_from(self, index: int, key: str, data: bytes) -> None:
        for target in self._fill_targets(index, key):
            if target.store.declines(key, len(data)):
                self._background.counters.declined += 1
                continue
            work = functools.partial(self._fill, target, key, data)
            self._background.start_fill(key, f"fill of {target.name}", work)

    @staticmethod
    async def _fill(target: Tier, key: str, data: PutData, timed: bool = True) -> None:
        put = target.store.put_or_raise  # caches hide failures in put
        if timed:
            await target.call(put, key, data)
        else:  # a streamed fill lasts as long as its reader takes; no per-call limit applies
            await put(key, data)

    # -- other reads ----------------------------------------------------------------------------

    async def _first_answer(
        self, key: str, tiers: list[Tier], call: Callable[[Tier], Awaitable[R]]
    ) -> R:
        """The first tier's answer to ``call``, skipping misses and failures."""
        failures: list[tuple[Tier, BaseException]] = []
        for tier in tiers:
            try:
                return await call(tier)
            except InvalidRange:
                raise  # about the request, not the tier
            except NotFoundInStore:
                continue
            except Exception as exc:
                failures.append((tier, exc))
        raise self._nothing_found(key, failures)

    async def get_range(self, uri: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` from the first tier that has the blob (no fills)."""
        key = self._key(uri)
        check_range(self, key, start, end)

        async def ask(tier: Tier) -> bytes:
            return await tier.ask(key, tier.store.get_range, key, start, end)

        return await self._first_answer(key, self._readers(key), ask)

    async def size(self, uri: str) -> int:
        """The blob's size from the first tier that has it."""
        key = self._key(uri)

        async def ask(tier: Tier) -> int:
            return await tier.ask(key, tier.store.size, key)

        return await self._first_answer(key, self._readers(key), ask)

    async def exists(self, uri: str) -> bool:
        """Whether any tier has the blob; API sources are asked only through ``api_exists``.

        Raises:
            StoreNotAvailable: no tier said yes and at least one failed.
        """
        key = self._key(uri)
        failures: list[tuple[Tier, BaseException]] = []
        for tier in self._readers(key):
            store = tier.store
            if not store.exists_is_cheap:
                continue
            try:
                if await tier.ask(key, store.exists, key):
                    return True
            except Exception as exc:
                failures.append((tier, exc))
        if failures:
            raise self._nothing_found(key, failures)
        return False

    def stream(
        self, uri: str, chunk_size: int = DEFAULT_CHUNK_SIZE, *, raw: bool = False
    ) -> AsyncIterator[bytes]:
        """The blob in chunks from the first tier that has it, with bounded memory.

        Chunks from a ``cache_result`` source (or from a cache with caches before it) are teed
        into those caches as they pass; a cache keeps the blob only if the stream reaches its
        end (and, in a content-addressed chain, its digest matches). Concurrent streams of one
        key wait for the first one's fills and then read from the cache: one source fetch.
        With ``raw``, the first tier's stored form is streamed, with no fills.

        A cache's copy is read ahead up to ``stream_verify_ahead`` bytes before its first
        chunk is passed on; if it ends within them, it is verified first (by the cache's own
        ``verify`` and, in a content-addressed chain, against the key), and a corrupt copy is
        dropped and the next tier streamed instead. A larger corrupt copy is found only at its
        end, after its chunks were passed on: it is dropped from the cache and
        ``InvalidDataFound`` is raised, and the next stream of the key reads the next tier.
        """
        if raw:
            return self._stream_stored(uri, chunk_size)
        if self.tracer is not None:
            return self.tracer.stream(self, uri, self._stream(uri, chunk_size))
        return self._stream(uri, chunk_size)

    async def _stream_stored(self, uri: str, chunk_size: int) -> AsyncIterator[bytes]:
        key = self._key(uri)
        failures: list[tuple[Tier, BaseException]] = []
        for tier in self._readers(key):
            chunks = tier.store.stream(key, chunk_size, raw=True)
            try:
                first = await tier.ask(key, anext, chunks, None)
            except Exception as exc:
                await chunks.aclose()  # type: ignore[attr-defined]
                if not isinstance(exc, NotFoundInStore):
                    failures.append((tier, exc))
                continue
            try:
                while first is not None:
                    yield first
                    first = await anext(chunks, None)
            finally:
                await chunks.aclose()  # type: ignore[attr-defined]
            return
        raise self._nothing_found(key, failures)

    async def _stream(self, uri: str, chunk_size: int) -> AsyncIterator[bytes]:
        key = self._key(uri)
        self._check_negative(key)
        # Wait while another stream of this key is filling caches; then read what it cached.
        while (running := self._streaming.get(key)) is not None and not running.is_set():
            self._flight.joined += 1
            await running.wait()
        done = self._streaming[key] = asyncio.Event()
        try:
            async for chunk in self._stream_tiers(key, chunk_size, done):
                yield chunk
            if not done.is_set():
                await self._background.wait_for_key(key)  # followers then find it cached
        finally:
            if self._streaming.get(key) is done:
                del self._streaming[key]
            done.set()

    async def _stream_tiers(
        self, key: str, chunk_size: int, done: asyncio.Event
    ) -> AsyncIterator[bytes]:
        failures: list[tuple[Tier, BaseException]] = []
        corrupt: list[InvalidDataFound] = []
        for index, tier in enumerate(self._tiers):
            if not tier.read or not tier.store.is_valid(key):
                continue
            opened = await self._open_stream(tier, key, chunk_size, failures, corrupt)
            if opened is None:
                continue
            head, rest = opened
            pipes = self._tee_pipes(index, key)
            if not pipes:
                done.set()  # nothing to fill: concurrent streams need not wait for this one
            async for chunk in self._teed(tier, key, head, rest, pipes):
                yield chunk
            return
        error = self._nothing_found(key, failures, corrupt[-1] if corrupt else None)
        self._remember_missing(key, error)
        raise error

    async def _open_stream(
        self,
        tier: Tier,
        key: str,
        chunk_size: int,
        failures: list[tuple[Tier, BaseException]],
        corrupt: list[InvalidDataFound],
    ) -> tuple[list[bytes], AsyncIterator[bytes] | None] | None:
        """A tier's stream as its first chunks and the rest (None: it ended, verified).

        None when the tier has no good copy: a miss, a failure (added to ``failures``) or a
        copy that failed verification before any byte was passed on (dropped from a cache).
        """
        try:
            head, rest = await self._read_head(tier, key, chunk_size)
        except InvalidDataFound as exc:
            tier.stats.corrupt += 1
            tier.stats.misses += 1
            if tier.is_cache:
                await self._drop_corrupt(tier, key)
            else:
                corrupt.append(exc)
            return None
        except NotFoundInStore:
            tier.stats.misses += 1
            return None
        except Exception as exc:
            tier.stats.errors += 1
            failures.append((tier, exc))
            return None
        tier.stats.hits += 1
        return head, rest

    async def _read_head(
        self, tier: Tier, key: str, chunk_size: int
    ) -> tuple[list[bytes], AsyncIterator[bytes] | None]:
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
            chunk = await anext(chunks, None)
        self._check_whole(tier, key, head)
        return head, True

    def _check_whole(self, tier: Tier, key: str, chunks: list[bytes]) -> None:
        """In a content-addressed chain, raise InvalidDataFound if ``chunks`` are not ``key``."""
        hasher = self._stream_hasher()
        if hasher is not None:
            for chunk in chunks:
                hasher.update(chunk)
            self._check_digest(tier, key, hasher)

    @staticmethod
    def _check_digest(tier: Tier, key: str, hasher: Any) -> None:
        if hasher.hexdigest() != key:
            raise InvalidDataFound(
                tier.store, key, f"streamed data has digest {hasher.hexdigest()}"
            )

    def _tee_pipes(self, index: int, key: str) -> list[TeePipe]:
        """A pipe into each cache that a hit at ``index`` fills, each fed to a background put."""
        pipes = []
        for target in self._fill_targets(index, key):
            pipe = TeePipe()
            work = functools.partial(self._fill, target, key, pipe.chunks(), timed=False)
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
                self._check_digest(tier, key, hasher)
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
        finally:
            if not complete:
                for pipe in pipes:
                    pipe.abort()
            await chunks.aclose()
            if rest is not None:
                await rest.aclose()  # type: ignore[attr-defined]

    def _stream_hasher(self) -> Any:
        """A hashlib object checking streamed keys, or None when keys are not digests."""
        return None

    # -- writes ---------------------------------------------------------------------------------

    async def _prepare_put(self, key: str, data: PutData, raw: bool) -> PutData:
        """Checks (and for content-addressed chains, verification) before a put."""
        return data

    async def put(
        self,
        uri: str,
        data: PutData,
        *,
        compress: str | None = None,
        level: int | None = None,
        raw: bool = False,
    ) -> None:
        """Write to the ``write=True`` sources: the first now, the others in the background.

        ``compress`` and ``level`` are passed to each source's ``put``; ``raw`` data (a stored
        form) is written as it is (see :meth:`Store.put`).

        Raises:
            NotWritable: no source was appended with ``write=True``.
        """
        key = self._key(uri)
        check_put_data(data)
        check_options(compress, level, raw)
        write = functools.partial(self._put, options=put_options(compress, level, raw))
        if self.tracer is not None:
            await self.tracer.put(self, key, data, write)
        else:
            await write(key, data)

    async def _put(self, key: str, data: PutData, options: dict[str, Any]) -> None:
        writers = [t for t in self._tiers if t.write and t.store.is_valid(key)]
        if not writers:
            raise NotWritable(self, "put (no tier was appended with write=True)")
        data = await self._prepare_put(key, data, bool(options.get("raw")))
        self._missing.pop(key, None)
        first = writers[0]
        if self.tracer is None:
            put = functools.partial(first.store.put, **options) if options else first.store.put
            await first.call(put, key, data)
        else:
            await self.tracer.tier_put(first, key, data, **options)
        await self._after_put(key)
        for tier in writers[1:]:
            await self._background.start_replication(
                key,
                f"replication to {tier.name}",
                functools.partial(self._replicate, first, tier, key, data, options),
            )

    async def _after_put(self, key: str) -> None:
        """Drop cached copies, which may hold the old bytes of ``key``."""
        await self._background.wait_for_key(key)
        for tier in self._tiers:
            if tier.is_cache and tier.store.is_valid(key):
                try:
                    await tier.call(tier.store.delete, key)
                except Exception as exc:
                    logger.warning(
                        "%s: could not drop stale %s from %s: %s", self.name, key, tier.name, exc
                    )

    @staticmethod
    async def _replicate(
        first: Tier, target: Tier, key: str, data: PutData, options: dict[str, Any]
    ) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            # The stream was consumed: copy from the first writer (its stored form as it is,
            # when that may be compressed, rather than compressing it once more).
            if options:
                data, options = first.store.stream(key, raw=True), {"raw": True}
            else:
                data = first.store.stream(key)
        put = functools.partial(target.store.put, **options) if options else target.store.put
        await target.call(put, key, data)

    async def delete(self, uri: str) -> None:
        """Remove the blob from every writable tier and every cache.

        Raises:
            NotWritable: the chain has no writable tier and no cache.
            StoreNotAvailable: some tier failed (the others were still asked).
        """
        key = self._key(uri)
        targets = [t for t in self._tiers if (t.write or t.is_cache) and t.store.is_valid(key)]
        if not targets:
            raise NotWritable(self, "delete (no writable tier or cache)")
        await self._background.wait_for_key(key)  # a pending fill must not bring it back
        failures: list[tuple[Tier, BaseException]] = []
        for tier in targets:
            try:
                await tier.call(tier.store.delete, key)
            except Exception as exc:
                failures.append((tier, exc))
        if failures:
            raise self._nothing_found(key, failures)

    # -- lifecycle and figures ------------------------------------------------------------------

    def local_path(self, uri: str) -> contextlib.AbstractAsyncContextManager[Path]:
        """The blob as a local file: its file in the first local file tier that has it.

        When no local file tier has it, the blob is read through the chain (filling the caches)
        and pinned in the first local cache; a temporary copy serves when that is not possible
        (no local cache, the blob stored compressed, or evicted again at once).

        Raises:
            NotFoundInStore: no tier has the blob.
        """
        return chain_local_path(self, uri)

    async def flush(self) -> None:
        """Wait for every pending background fill and replication."""
        await self._background.flush()

    async def aclose(self) -> None:
        """Flush pending work, then close every tier's store."""
        await self.flush()
        closed: set[int] = set()
        for tier in self._tiers:
            if id(tier.store) not in closed:
                closed.add(id(tier.store))
                await tier.store.aclose()

    @property
    def stats(self) -> ChainStats:
        """A snapshot of the per-tier figures and background-work counts."""
        counters = self._background.counters
        return ChainStats(
            tiers=[self._tier_snapshot(tier) for tier in self._tiers],
            fills_done=counters.done,
            fills_failed=counters.failed,
            fills_dropped=counters.dropped,
            fills_declined=counters.declined,
            fills_pending=self._background.pending,
            single_flight_joins=self._flight.joined,
            negative_hits=self.negative_hits,
        )

    @staticmethod
    def _tier_snapshot(tier: Tier) -> TierStats:
        snapshot = copy.deepcopy(tier.stats)
        if tier.breaker is not None:
            snapshot.circuit = tier.breaker.state
        return snapshot

    def reset_stats(self) -> None:
        """Zero every figure."""
        for tier in self._tiers:
            tier.stats = TierStats(tier.name)
        self._background.counters = type(self._background.counters)()
        self._flight.joined = 0
        self.negative_hits = 0


class HashComposite(Composite):
    """A chain of content-addressed tiers; keys are hex digests of ``algorithm``.

    Accepts ``<hex>`` and ``<algorithm>://<hex>`` in any case and hands tiers the lower-case hex.
    ``put`` refuses data whose digest is not the key, so no tier ever stores a wrong blob.
    """

    def __init__(self, *, algorithm: str = "sha256", **options: Any) -> None:
        self.keys = HashKeys(algorithm)
        super().__init__(**options)

    def _stream_hasher(self) -> Any:
        return self.keys.new()

    @property
    def algorithm(self) -> str:
        """The hashlib algorithm of the keys."""
        return self.keys.algorithm

    @property
    def uri_hint(self) -> str:  # type: ignore[override]
        return self.keys.hint

    def _check_tier(self, store: Store) -> None:
        super()._check_tier(store)
        if store.key_algorithm is not None and store.key_algorithm != self.algorithm:
            raise ValueError(
                f"{store.name} uses {store.key_algorithm} keys; this chain uses {self.algorithm}"
            )

    def _key_getter(self, store: Store) -> Callable[[str], Awaitable[bytes]] | None:
        if store.key_algorithm == self.algorithm:
            return store.get_key
        return None

    def is_valid(self, uri: str) -> bool:
        """Whether ``uri`` is a key of this chain's algorithm."""
        return self.keys.match(uri) is not None

    def _key(self, uri: object) -> str:
        return self.keys.require(self, uri)

    async def _prepare_put(self, key: str, data: PutData, raw: bool) -> PutData:
        if raw:
            return await verified_stored(self.keys, self, key, data)
        if isinstance(data, (bytes, bytearray, memoryview)):
            self.keys.check(self, key, self.keys.digest(data))
            return data
        return self.keys.verified(self, key, data)

    async def _after_put(self, key: str) -> None:
        """Nothing to invalidate: a key's content never changes."""

    async def write(
        self, data: WriteData, *, compress: str | None = None, level: int | None = None
    ) -> str:
        """Store ``data`` under its digest and return that key.

        ``data`` may be bytes-like, a path, a binary file object or an async iterable of bytes;
        the digest is computed while streaming, in bounded memory, and ``put`` checks it again
        as the bytes go to the first writable source (see :meth:`HashStore.write`). The key is
        the digest of the data as given, also when ``compress`` stores it compressed.
        """
        from .._core.write_source import keyed_source

        async with keyed_source(data, self.keys) as (key, source):
            await self.put(key, source, compress=compress, level=level)
        return key


class Sha1Composite(HashComposite):
    """A chain of SHA-1-keyed tiers: accepts ``<sha1>`` and ``sha1://<sha1>``, any case."""

    def __init__(self, **options: Any) -> None:
        """Options as for :class:`Composite` (``max_pending_fills``, ``negative_ttl``, ...)."""
        super().__init__(algorithm="sha1", **options)
