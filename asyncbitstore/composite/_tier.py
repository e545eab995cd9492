"""One tier of a chain: a store plus its role, options, time limit and figures."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from .._core.deadline import check_timeout, within
from ..errors import CircuitOpen, InvalidDataFound, NotFoundInStore, StoreFull, StoreTimeout
from ..freshness import CopyState
from ..meta import ObjectMeta
from ..stats import TierStats
from ..store import Store
from ._circuit import CircuitBreaker
from ._fills import Abandoned
from ._health import TierHealth, logger

__all__ = ["Tier", "check_timeout"]

R = TypeVar("R")


class Tier:
    """A store in a chain: a cache or a source, with its options and
    [`TierStats`][asyncbitstore.stats.TierStats]."""

    __slots__ = (
        "_get",
        "_health",
        "breaker",
        "cache_result",
        "is_cache",
        "read",
        "stats",
        "store",
        "takes_all_keys",
        "timeout",
        "write",
    )

    def __init__(
        self,
        store: Store,
        *,
        name: str,
        is_cache: bool,
        read: bool = True,
        write: bool = False,
        cache_result: bool = False,
        timeout: float | None = None,
        key_getter: Callable[[str], Awaitable[bytes]] | None = None,
        breaker: CircuitBreaker | None = None,
        chain_name: str = "chain",
    ) -> None:
        """``key_getter`` replaces ``store.get`` for keys the chain has already validated and
        normalized; the tier then accepts every key the chain accepts. ``breaker`` skips the
        tier's reads for a while after repeated failures. ``chain_name`` starts the tier's log
        lines."""
        if not isinstance(store, Store):
            raise TypeError(f"a tier must be a Store, not {type(store).__name__}")
        self.store = store
        self.is_cache = is_cache
        self.read = read
        self.write = write
        self.cache_result = cache_result
        self.timeout = check_timeout(timeout)
        self.stats = TierStats(name)
        self.takes_all_keys = key_getter is not None
        self._get = key_getter or store.get
        self.breaker = breaker
        self._health = TierHealth(chain_name, name)

    @property
    def health(self) -> TierHealth:
        """Whether the tier is failing; logs the changes (see ``TierHealth``)."""
        try:
            return self._health
        except AttributeError:  # unpickled from a version that had none
            self._health = TierHealth("chain", self.name)
            return self._health

    def reset_health(self, chain_name: str) -> None:
        """Start over as healthy, with log lines starting with ``chain_name``."""
        self._health = TierHealth(chain_name, self.name)

    @property
    def name(self) -> str:
        """The tier's name in stats and messages."""
        return self.stats.name

    def __repr__(self) -> str:
        # Built from names and options only: a store's name is secret-free, its repr may not be.
        if self.is_cache:
            options = [f"read={self.read}"]
        else:
            options = [f"write={self.write}", f"cache_result={self.cache_result}"]
        options.append(f"timeout={self.timeout:g}" if self.timeout is not None else "timeout=None")
        options.append(f"circuit={self.breaker.state if self.breaker is not None else 'off'}")
        role = "cache" if self.is_cache else "source"
        return f"<Tier {role} {self.name}: {', '.join(options)}>"

    def _admit(self, key: str) -> bool:
        """Refuse the call at once while the circuit breaker is open; True for the probe."""
        breaker = self.breaker
        if breaker is None:
            return False
        was_probing = breaker.probing
        if not breaker.allow():
            self.stats.skipped += 1
            logger.debug(
                "%s: tier %s skipped for %s: circuit open", self.health.chain, self.name, key
            )
            raise CircuitOpen(self.store, "skipped: circuit open after repeated failures", uri=key)
        return breaker.probing and not was_probing

    def _released(self, probe: bool) -> None:
        """A call ended with no answer (cancelled): a probe must not leave the tier skipped."""
        if probe and self.breaker is not None:
            self.breaker.released()

    def _answered(self) -> None:
        self.health.answered()
        breaker = self.breaker
        if breaker is not None:
            was_closed = breaker.closed
            breaker.succeeded()
            if not was_closed:
                self.health.circuit_closed()

    def count_failure(self, what: str, key: str, exc: BaseException) -> None:
        """A read of ``key`` failed with ``exc``: counted in the stats, noted in the health."""
        self.stats.errors += 1
        if isinstance(exc, StoreTimeout):
            self.stats.timeouts += 1
        self.health.failed(what, key, exc)

    def _failed(self, what: str, key: str, exc: BaseException) -> None:
        self.count_failure(what, key, exc)
        breaker = self.breaker
        if breaker is not None:
            again, opened = breaker.probing, breaker.opened
            breaker.failed()
            self.stats.circuit_opened = breaker.opened
            if breaker.opened != opened:
                self.health.circuit_opened(breaker.failures, breaker.cooldown, again)

    async def get(self, key: str, fetch: Callable[[str], Awaitable[bytes]] | None = None) -> bytes:
        """The store's ``get`` (or ``fetch``), within the time limit and circuit breaker,
        counted in stats."""
        probe = self._admit(key)
        stats = self.stats
        stats.calls += 1
        started = time.perf_counter()
        fetch = fetch or self._get
        try:
            if self.timeout is None:
                data = await fetch(key)
            else:
                data = await self.call(fetch, key)
        except NotFoundInStore as exc:
            self._answered()
            if isinstance(exc, InvalidDataFound):
                stats.corrupt += 1
            stats.misses += 1
            raise
        except Exception as exc:
            self._failed("get", key, exc)
            raise
        except BaseException:
            self._released(probe)
            raise
        finally:
            stats.latency.record(time.perf_counter() - started)
        self._answered()
        stats.hits += 1
        stats.bytes += len(data)
        return data

    async def copy_state(self, key: str) -> CopyState:
        """The store's ``copy_state`` of ``key``, within the time limit; a failure is counted
        and noted like a read's. Not admitted nor counted as a call: the read that follows is.
        """
        try:
            if self.timeout is None:
                return await self.store.copy_state(key)
            return await self.call(self.store.copy_state, key)
        except Exception as exc:
            self._failed("copy_state", key, exc)
            raise

    async def get_with_meta(self, key: str) -> tuple[bytes, ObjectMeta]:
        """The store's ``get_with_meta``, counted as a ``get`` (one request where it can)."""
        metas: list[ObjectMeta] = []

        async def fetch(key: str) -> bytes:
            data, meta = await self.store.get_with_meta(key)
            metas.append(meta)
            return data

        data = await self.get(key, fetch)
        return data, metas[0]

    async def ask(self, key: str, method: Callable[..., Awaitable[R]], *args: object) -> R:
        """A read other than ``get`` (exists, size, a range, a stream's first chunk): within the
        time limit and circuit breaker, counted in ``calls`` (and ``errors``, ``timeouts``); a
        miss counts as an answer, an error as a failure."""
        probe = self._admit(key)
        self.stats.calls += 1
        try:
            result = await self.call(method, *args)
        except NotFoundInStore:
            self._answered()
            raise
        except Exception as exc:
            self._failed(_read_name(method), key, exc)
            raise
        except BaseException:
            self._released(probe)
            raise
        self._answered()
        return result

    async def noted(self, what: str, key: str, call: Awaitable[R]) -> R:
        """``await call``: a write or delete the chain makes on its own (a fill, a replication,
        dropping a stale copy), whose failure is noted in the tier's health (so logged once
        while the tier fails) and raised. A full cache or abandoned work is no failure."""
        try:
            result = await call
        except (Abandoned, StoreFull):
            raise
        except Exception as exc:
            self.health.failed(what, key, exc)
            raise
        self.health.answered()
        return result

    async def call(self, method: Callable[..., Awaitable[R]], *args: object) -> R:
        """``await method(*args)`` within the tier's time limit (a
        [`StoreTimeout`][asyncbitstore.errors.StoreTimeout])."""
        if self.timeout is None:
            return await method(*args)
        try:
            return await within(self.timeout, method(*args))
        except asyncio.TimeoutError:
            raise StoreTimeout(self.store, f"no answer within {self.timeout:g} s") from None


def _read_name(method: Callable[..., object]) -> str:
    """What a read is called in log lines: ``size``, ``get_range``, ``exists``, ``stream``."""
    if method is anext:
        return "stream"
    return getattr(method, "__name__", "read")
