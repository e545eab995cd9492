"""Stores for testing chains: a store from a callback, and a wrapper that injects faults.

Both are public so that users can test their own chains the way the library tests itself:

    async def handler(uri):
        return blobs.get(uri)  # None means "not found"


    flaky = FaultyStore(CallbackStore(handler), error_rate=0.1, latency=0.01, seed=1)
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable

from .compression.store_io import decode, stored_flag, stored_option
from .errors import NotFoundInStore, StoreNotAvailable
from .store import Store
from .wrappers import _Forwarding

__all__ = ["CallbackStore", "FaultyStore"]

Handler = Callable[[str], Awaitable["bytes | None"]]


class CallbackStore(Store):
    """A read-only store whose ``get`` calls ``await handler(uri)``; ``None`` means not found.

    Args:
        handler: the coroutine function answering for each URI.
        accepts: a predicate for ``is_valid`` (default: every URI).
        name: the store's name in messages and stats.

    ``calls`` counts the handler's invocations.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        accepts: Callable[[str], bool] | None = None,
        name: str = "CallbackStore",
    ) -> None:
        self.handler = handler
        self.accepts = accepts
        self._name = name
        self.calls = 0

    @property
    def name(self) -> str:
        return self._name

    def is_valid(self, uri: str) -> bool:
        """``accepts(uri)``, or True when no predicate was given."""
        if not isinstance(uri, str):
            raise TypeError(f"a URI must be a str, not {type(uri).__name__}")
        return self.accepts is None or bool(self.accepts(uri))

    async def get(self, uri: str, *, stored: bool = False, raw: bool | None = None) -> bytes:
        """``await handler(uri)``; ``None`` raises
        [`NotFoundInStore`][asyncbitstore.testing.NotFoundInStore].

        Bytes in asyncbitstore's compressed form are decoded unless ``stored``.
        """
        stored = stored_flag(stored, raw)
        self.check_uri(uri)
        self.calls += 1
        data = await self.handler(uri)
        if data is None:
            raise NotFoundInStore(self, uri)
        return bytes(data) if stored else await decode(self, uri, bytes(data))


class FaultyStore(_Forwarding):
    """Wraps a store and injects latency, random failures, or a full outage.

    Args:
        inner: the store that answers when no fault is injected.
        latency: seconds added to every call, or a ``(low, high)`` range drawn uniformly.
        error_rate: the fraction of calls (0 to 1) that raise
            [`StoreNotAvailable`][asyncbitstore.testing.StoreNotAvailable].
        outage: when true, every call raises
            [`StoreNotAvailable`][asyncbitstore.testing.StoreNotAvailable]. May be switched at
            any time, as may the other attributes.
        seed: seed of the random draws, for repeatable tests.

    Every call on a blob (``get``, ``get_range``, ``stream``, ``put``, ``exists``, ``size``,
    ``delete``) meets the injected faults first, then goes to the inner store; ``is_valid`` and
    ``list`` go straight to it. ``calls`` counts calls and ``faults`` the failures injected.
    """

    def __init__(
        self,
        inner: Store,
        *,
        latency: float | tuple[float, float] = 0.0,
        error_rate: float = 0.0,
        outage: bool = False,
        seed: int | None = None,
    ) -> None:
        if not 0.0 <= error_rate <= 1.0:
            raise ValueError(f"error_rate must be between 0 and 1, not {error_rate!r}")
        self.inner = inner
        self.latency = latency
        self.error_rate = error_rate
        self.outage = outage
        self._random = random.Random(seed)
        self.calls = 0
        self.faults = 0

    @property
    def _inner(self) -> Store:
        return self.inner

    @property
    def name(self) -> str:
        return f"FaultyStore({self.inner.name})"

    async def _before(self, uri: object) -> None:
        self.check_uri(uri)
        self.calls += 1
        delay = self.latency
        if isinstance(delay, tuple):
            delay = self._random.uniform(*delay)
        if delay > 0:
            await asyncio.sleep(delay)
        if self.outage:
            self.faults += 1
            raise StoreNotAvailable(self, "injected outage", uri=str(uri))
        if self.error_rate and self._random.random() < self.error_rate:
            self.faults += 1
            raise StoreNotAvailable(self, "injected failure", uri=str(uri))

    async def _stream(self, uri: str, chunk_size: int, stored: bool) -> AsyncIterator[bytes]:
        """The inner ``stream``, after the injected faults."""
        await self._before(uri)
        async for chunk in self.inner.stream(uri, chunk_size, **stored_option(stored)):
            yield chunk
