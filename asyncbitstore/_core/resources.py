"""Lazily created, per-event-loop resources (clients, sessions, pools) for network backends.

A client is bound to the event loop that created it and does not survive ``os.fork()``. A
`LoopLocal` creates its resource on first use inside the running loop, hands the same one
out for the life of that loop and process, and builds a new one when either changes. It is kept
out of pickles by its owner (list it in ``Store._runtime_attrs``).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["LoopLocal"]

logger = logging.getLogger("asyncbitstore.resources")

T = TypeVar("T")

# Clients inherited from a parent process or a finished loop: unusable here, never closed, kept
# referenced so that their finalizers do not warn. A process forks or changes loops rarely.
_SET_ASIDE: list[object] = []


class LoopLocal(Generic[T]):
    """One resource per (process, event loop), created on demand and closed by
    [`aclose`][asyncbitstore.store.Store.aclose].

    Args:
        create: coroutine function building the resource (runs inside the loop).
        close: coroutine function releasing it.
    """

    def __init__(
        self, create: Callable[[], Awaitable[T]], close: Callable[[T], Awaitable[None]]
    ) -> None:
        self._create = create
        self._close = close
        self._value: T | None = None
        self._owner: tuple[int, asyncio.AbstractEventLoop] | None = None
        self._lock: asyncio.Lock | None = None

    async def get(self) -> T:
        """The resource for the running loop, creating it if needed."""
        owner = (os.getpid(), asyncio.get_running_loop())
        if self._owner == owner and self._value is not None:
            return self._value
        if self._owner != owner:
            self._forget_foreign()
            self._owner = owner
            self._lock = asyncio.Lock()
        assert self._lock is not None
        async with self._lock:
            if self._value is None:
                self._value = await self._create()
            return self._value

    def _forget_foreign(self) -> None:
        # Made by another loop or a parent process: it cannot be closed from here, and letting
        # it be garbage collected makes its library warn about an unclosed session. Keep it.
        if self._value is not None:
            logger.debug("setting aside a client created by another event loop or process")
            _SET_ASIDE.append(self._value)
        self._value = None

    async def aclose(self) -> None:
        """Close the resource if this loop created it (else set it aside). Safe to repeat."""
        if self._owner != (os.getpid(), asyncio.get_running_loop()):
            self._forget_foreign()
            return
        value, self._value = self._value, None
        if value is not None:
            await self._close(value)
