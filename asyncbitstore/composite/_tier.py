"""One tier of a chain: a store plus its role, options, time limit and figures."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from .._core.deadline import check_timeout, within
from ..errors import CircuitOpen, InvalidDataFound, NotFoundInStore, StoreTimeout
from ..stats import TierStats
from ..store import Store
from ._circuit import CircuitBreaker

__all__ = ["Tier", "check_timeout"]

R = TypeVar("R")


class Tier:
    """A store in a chain: a cache or a source, with its options and :class:`TierStats`."""

    __slots__ = (
        "_get",
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
    ) -> None:
        """``key_getter`` replaces ``store.get`` for keys the chain has already validated and
        normalized; the tier then accepts every key the chain accepts. ``breaker`` skips the
        tier's reads for a while after repeated failures."""
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
            raise CircuitOpen(self.store, "skipped: circuit open after repeated failures", uri=key)
        return breaker.probing and not was_probing

    def _released(self, probe: bool) -> None:
        """A call ended with no answer (cancelled): a probe must not leave the tier skipped."""
        if probe and self.breaker is not None:
            self.breaker.released()

    def _answered(self) -> None:
        if self.breaker is not None:
            self.breaker.succeeded()

    def _failed(self) -> None:
        if self.breaker is not None:
            self.breaker.failed()
            self.stats.circuit_opened = self.breaker.opened

    async def get(self, key: str) -> bytes:
        """The store's ``get``, within the time limit and circuit breaker, counted in stats."""
        probe = self._admit(key)
        stats = self.stats
        started = time.perf_counter()
        try:
            if self.timeout is None:
                data = await self._get(key)
            else:
                data = await self.call(self._get, key)
        except NotFoundInStore as exc:
            self._answered()
            if isinstance(exc, InvalidDataFound):
                stats.corrupt += 1
            stats.misses += 1
            raise
        except StoreTimeout:
            self._failed()
            stats.errors += 1
            stats.timeouts += 1
            raise
        except Exception:
            self._failed()
            stats.errors += 1
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

    async def ask(self, key: str, method: Callable[..., Awaitable[R]], *args: object) -> R:
        """A read other than ``get`` (exists, size, a range, a stream's first chunk): within the
        time limit and circuit breaker; a miss counts as an answer, an error as a failure."""
        probe = self._admit(key)
        try:
            result = await self.call(method, *args)
        except NotFoundInStore:
            self._answered()
            raise
        except Exception:
            self._failed()
            raise
        except BaseException:
            self._released(probe)
            raise
        self._answered()
        return result

    async def call(self, method: Callable[..., Awaitable[R]], *args: object) -> R:
        """``await method(*args)`` within the tier's time limit (a :class:`StoreTimeout`)."""
        if self.timeout is None:
            return await method(*args)
        try:
            return await within(self.timeout, method(*args))
        except asyncio.TimeoutError:
            raise StoreTimeout(self.store, f"no answer within {self.timeout:g} s") from None
