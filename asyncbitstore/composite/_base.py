"""What every part of a chain shares: its tiers and options, keys, remembered misses and fills.

The read, stream and write paths (``_read``, ``_stream``, ``_write``) are mixins over
`ChainBase`; ``_chain.Composite`` puts them together.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from .._core.checks import non_negative_int
from .._core.data import PutData
from .._core.deadline import check_timeout
from .._core.singleflight import SingleFlight
from ..errors import NotFoundInStore
from ..meta import ObjectMeta
from ..store import Store
from ._circuit import CircuitBreaker
from ._fills import Abandoned, BackgroundWork
from ._generations import Since, WriteGenerations
from ._health import explain, logger
from ._hooks import ChainHooks
from ._names import default_tier_name, unique_tier_name
from ._tier import Tier

__all__ = ["ChainBase", "explain", "logger"]


class ChainBase(Store):
    """The state of a chain and the steps its read, stream and write paths share."""

    uri_hint = "a URI that one of the chain's tiers accepts"
    #: Called around get/put/stream and each tier tried when set (see ``ChainHooks``, and
    #: ``asyncbitstore.otel.instrument``); None: no tracing at all.
    tracer: ChainHooks | None = None
    #: Whether a cache of the chain keeps records of its copies' sources (a named cache): reads
    #: then fetch from sources with ``get_with_meta`` and fills carry the meta.
    _records: bool = False
    _runtime_attrs = ("_flight", "_background", "_streaming", "_missing", "_writes")
    #: Whole blobs of at most this many bytes are fetched to fill the caches after a range read
    #: from a tier below them (0: never). A class default, for chains pickled without it.
    fill_ranges_below: int = 64 * 2**20
    #: Seconds a read of the chain may take over all the tiers it asks (None: no limit).
    operation_timeout: float | None = None

    def __init__(
        self,
        *,
        max_pending_fills: int = 1024,
        negative_ttl: float | None = None,
        max_negative_entries: int = 100_000,
        circuit_threshold: int | None = 5,
        circuit_cooldown: float = 10.0,
        name: str | None = None,
        fill_ranges_below: int = 64 * 2**20,
        operation_timeout: float | None = None,
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
        self.fill_ranges_below = non_negative_int("fill_ranges_below", fill_ranges_below)
        self.operation_timeout = check_timeout(operation_timeout)
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._flight: SingleFlight[bytes] = SingleFlight()
        self._background = BackgroundWork(self.max_pending_fills, owner=self.name)
        self._streaming: dict[str, asyncio.Event] = {}
        self._missing: dict[str, float] = {}  # key -> monotonic expiry, oldest first
        self._writes = WriteGenerations(self._in_flight)
        self.negative_hits = 0
        self.writes_skipped = 0
        for tier in self.__dict__.get("_tiers", ()):  # unpickled: tiers start healthy
            tier.reset_health(self.name)

    @property
    def name(self) -> str:
        """The chain's name in messages and stats (its class name unless given)."""
        return self._name or type(self).__name__

    @property
    def tiers(self) -> tuple[Tier, ...]:
        """The tiers, in the order they are asked."""
        return tuple(self._tiers)

    def __del__(self) -> None:
        # Background work outlives a chain that nobody closed: say so (cheaply, never raising).
        try:
            background = self.__dict__.get("_background")
            if background is None:
                return
            pending = background.disown()
            if pending:
                warnings.warn(
                    f"{self.name} was garbage-collected with {pending} background "
                    f"write{'s' if pending != 1 else ''} (cache fills or replication) pending, "
                    "which may never finish; `await chain.aclose()` or `async with chain:` "
                    "waits for them",
                    ResourceWarning,
                    source=self,
                    stacklevel=2,
                )
        except Exception:  # interpreter shutdown, or warnings turned into errors
            pass

    def __repr__(self) -> str:
        # Tier names come from the stores' names, which carry no secret (unlike some reprs).
        if not self._tiers:
            return f"<{self.name}: no tiers>"
        return f"<{self.name}: {' → '.join(tier.name for tier in self._tiers)}>"

    # -- building the chain ---------------------------------------------------------------------

    def append_cache(
        self,
        cache: Store,
        *,
        name: str | None = None,
        read: bool = True,
        timeout: float | None = None,
    ) -> None:
        """Add a cache tier, asked after the tiers already added.

        Args:
            cache: the store that keeps copies (filled from sources with ``cache_result``).
            name: the tier's name in stats, logs and metric labels (unique in the chain); by
                default the store's class with its backing store's, as ``Sha1Cache(FileRaw)``.
            read: when false the cache is only written to, never read from.
            timeout: seconds after which a call to this tier counts as a failure.
        """
        self._append(cache, name, is_cache=True, read=read, timeout=timeout)

    def append_source(
        self,
        source: Store,
        *,
        name: str | None = None,
        cache_result: bool = False,
        write: bool = False,
        timeout: float | None = None,
    ) -> None:
        """Add a source tier, asked after the tiers already added.

        Args:
            source: the store that holds the blobs.
            name: the tier's name in stats, logs and metric labels (unique in the chain); by
                default the store's class with its backing store's, as ``Sha1Store(S3Raw)``.
            cache_result: write blobs found here to every cache.
            write: ``put`` writes here (the first such source synchronously).
            timeout: seconds after which a call to this tier counts as a failure.
        """
        self._append(
            source,
            name,
            is_cache=False,
            cache_result=cache_result,
            write=write,
            timeout=timeout,
        )

    def _append(self, store: Store, name: str | None, **options: Any) -> None:
        self._check_tier(store)
        taken = [tier.name for tier in self._tiers]
        if name is None:
            name = unique_tier_name(default_tier_name(store), taken)
        else:
            name = _given_name(name, taken)
        breaker = None
        if self.circuit_threshold is not None:
            breaker = CircuitBreaker(self.circuit_threshold, self.circuit_cooldown)
        tier = Tier(
            store,
            name=name,
            key_getter=self._key_getter(store),
            breaker=breaker,
            chain_name=self.name,
            **options,
        )
        self._tiers.append(tier)
        if store.keeps_records:
            self._records = True

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

    def _readers(self, key: str) -> Iterator[Tier]:
        """The tiers a read of ``key`` asks, in order; each checked only when it is reached, so
        a hit in the first tier asks nothing of the others."""
        return (t for t in self._tiers if t.read and (t.takes_all_keys or t.store.is_valid(key)))

    def _stream_hasher(self) -> Any:
        """A hashlib object checking streamed keys, or None when keys are not digests."""
        return None

    # -- keys that no tier had ------------------------------------------------------------------

    def _check_negative(self, key: str) -> None:
        """Raise NotFoundInStore if ``key`` was missing everywhere less than negative_ttl ago."""
        expiry = self._missing.get(key)
        if expiry is None:
            return
        if expiry > time.monotonic():
            self.negative_hits += 1
            raise NotFoundInStore(self, key, "remembered as missing (negative_ttl)")
        del self._missing[key]

    def _remember_missing(self, key: str, error: BaseException, since: Since) -> None:
        """Remember ``key`` as missing, unless a write of it began after the read (``since``)."""
        if self.negative_ttl is None or type(error) is not NotFoundInStore:
            return  # outages and corrupt copies are never remembered
        if not since.current(key):
            return  # the chain wrote the key meanwhile: the miss may be outdated
        self._missing.pop(key, None)
        self._missing[key] = time.monotonic() + self.negative_ttl
        if len(self._missing) > self.max_negative_entries:
            del self._missing[next(iter(self._missing))]  # the oldest entry

    # -- caches above a hit ---------------------------------------------------------------------

    async def _drop_corrupt(self, tier: Tier, key: str) -> None:
        await _drop_copy(tier, key, "delete of a corrupt copy")

    def _fill_targets(self, hit: Tier, key: str) -> list[Tier]:
        """The caches a hit at tier ``hit`` is written to."""
        if hit.is_cache:
            targets = []
            for tier in self._tiers:
                if tier is hit:
                    break
                if tier.is_cache:
                    targets.append(tier)
        elif hit.cache_result:
            targets = [t for t in self._tiers if t.is_cache and t is not hit]
        else:
            return []
        return [t for t in targets if t.store.is_valid(key)]

    def _fill_from(
        self,
        hit: Tier,
        key: str,
        data: bytes,
        since: Since,
        *,
        meta: ObjectMeta | None = None,
        also: Tier | None = None,
    ) -> None:
        """Write ``data`` in the background to the caches a hit at ``hit`` fills (and to
        ``also``, a cache whose stale copy it replaces), with the source's ``meta`` if known;
        ``since`` is ``self._writes.now()`` taken when the read began (see ``_fill``)."""
        targets = self._fill_targets(hit, key)
        if also is not None and also not in targets:
            targets.append(also)
        for target in targets:
            if target.store.declines(key, len(data)):
                self._background.counters.declined += 1
                continue
            work = functools.partial(
                self._fill, target, key, data, since, meta=meta, origin=hit.store
            )
            self._background.start_fill(key, f"fill of {target.name}", work)

    @staticmethod
    async def _fill(
        target: Tier,
        key: str,
        data: PutData,
        since: Since,
        timed: bool = True,
        *,
        meta: ObjectMeta | None = None,
        origin: Store | None = None,
    ) -> None:
        """Write ``data``, read by a read that began at ``since``, to the cache ``target``
        (with the source's ``meta`` and the ``origin`` store when the cache keeps records).

        If the chain wrote or deleted ``key`` since, the fill is abandoned before it writes,
        and a copy it wrote meanwhile is deleted again: it may hold the old bytes. (A put or
        delete waits for the fills of its key pending when it starts, so no outdated copy is
        visible once it returns.)
        """
        # Static, as all background work: a task must not keep a chain nobody holds alive.
        if not since.current(key):
            raise Abandoned("the chain wrote the key after the read began")
        put: Callable[[str, PutData], Awaitable[None]] = target.store.put_or_raise
        if target.store.keeps_records:  # a named cache: the copy's record goes with it
            put = functools.partial(_put_copy, target.store, meta=meta, origin=origin)
        if timed:
            await target.noted("fill", key, target.call(put, key, data))
        else:  # a streamed fill lasts as long as its reader takes; no per-call limit applies
            await target.noted("fill", key, put(key, data))
        if not since.current(key):
            await _drop_copy(target, key, "delete of an outdated fill")
            raise Abandoned("the chain wrote the key while the fill ran")

    def _in_flight(self, key: str) -> bool:
        """Whether a read, stream or background write of ``key`` is under way."""
        return self._flight.busy(key) or key in self._streaming or self._background.busy(key)

    @contextlib.contextmanager
    def _writing(self, key: str) -> Iterator[None]:
        """Around a put or delete of ``key``: reads that began before it ends fill nothing, are
        joined by no later caller, and remember no miss."""
        self._writes.begin(key)
        self._flight.forget(key)
        self._missing.pop(key, None)
        try:
            yield
        finally:
            self._writes.end(key)
            self._flight.forget(key)
            self._missing.pop(key, None)

    # -- whole blobs after a range read ---------------------------------------------------------

    def _fill_after_range(self, hit: Tier, key: str, since: Since) -> None:
        """After a range read answered by ``hit``, fetch the whole blob from it in the background
        and fill the caches above, when it is at most ``fill_ranges_below`` bytes."""
        if not self.fill_ranges_below or self._in_flight(key):
            return  # a fetch or fill of the key under way fills the caches already
        if not self._fill_targets(hit, key) or not since.current(key):
            return
        work = functools.partial(self._fetch_for_fill, hit, key, since)
        self._background.start_fill(key, f"whole-blob fetch from {hit.name}", work, counted=False)

    async def _fetch_for_fill(self, hit: Tier, key: str, since: Since) -> None:
        limit = self.fill_ranges_below
        size = await hit.noted("size for a fill", key, hit.call(hit.store.size, key))
        if size > limit:
            self._background.counters.declined += 1
            return
        data = await hit.noted("fetch for a fill", key, hit.call(hit.store.get, key))
        if len(data) > limit:  # it grew since its size was asked
            self._background.counters.declined += 1
            return
        self._fill_from(hit, key, data, since)


async def _drop_copy(tier: Tier, key: str, what: str) -> None:
    call = tier.call(tier.store.delete, key)
    with contextlib.suppress(Exception):  # noted in the tier's health
        await tier.noted(what, key, call)


def _given_name(name: object, taken: list[str]) -> str:
    """``name``, checked: a non-empty ``str`` that no tier in ``taken`` has."""
    if not isinstance(name, str):
        raise TypeError(f"a tier name must be a str, not {type(name).__name__}")
    if not name:
        raise ValueError("a tier name must not be empty; leave it out for a default name")
    if name in taken:
        raise ValueError(
            f"{name!r} is already the name of tier {taken.index(name) + 1}; "
            "give each tier of a chain its own name"
        )
    return name


async def _put_copy(
    store: Store, key: str, data: PutData, meta: ObjectMeta | None, origin: Store | None
) -> None:
    """Fill ``store`` (which keeps records) with ``data``: with ``meta`` from a source, or the
    record of the cache ``origin`` it was read from (its fetch time kept)."""
    fetched_at = None
    if meta is None and origin is not None and origin.keeps_records:
        record = await origin.copy_record(key)
        if record is not None:
            meta, fetched_at = record.meta, record.fetched_at
    await store.put_copy(key, data, meta, fetched_at)
