"""Per-key de-duplication of concurrent calls ("single flight").

The first caller for a key (the leader) runs the call inline, with no task created; callers that
arrive while it runs (followers) wait for its outcome. If the leader is cancelled, its followers
are not: one of them takes over and runs the call again. `SingleFlight.forget` ends a
key's flight for newcomers (after a write, its outcome may be outdated): the callers already
waiting still get it, later callers start a new one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

__all__ = ["SingleFlight"]

R = TypeVar("R")

_RETRY: Any = object()


class SingleFlight(Generic[R]):
    """Runs at most one call per key at a time; concurrent callers share its result or error."""

    def __init__(self) -> None:
        self._flights: dict[str, list[asyncio.Future[Any]]] = {}
        self._running: dict[str, int] = {}  # calls under way per key, forgotten ones included
        self.joined = 0

    def __len__(self) -> int:
        return len(self._flights)

    def busy(self, key: str) -> bool:
        """Whether a call for ``key`` is under way (one that was forgotten included)."""
        return key in self._running

    def forget(self, key: str) -> None:
        """Callers arriving from now on do not join the call for ``key`` under way."""
        self._flights.pop(key, None)

    async def run(self, key: str, fn: Callable[[str], Awaitable[R]]) -> R:
        """``await fn(key)``, or the outcome of the call for ``key`` already under way."""
        while (waiters := self._flights.get(key)) is not None:
            waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            waiters.append(waiter)
            self.joined += 1
            outcome = await waiter
            if outcome is _RETRY:
                continue
            ok, value = outcome
            if ok:
                return value  # type: ignore[no-any-return]
            raise value
        waiters = self._flights[key] = []
        self._running[key] = self._running.get(key, 0) + 1
        try:
            result = await fn(key)
        except asyncio.CancelledError:
            self._finish(key, waiters, _RETRY)
            raise
        except BaseException as exc:
            self._finish(key, waiters, (False, exc))
            raise
        self._finish(key, waiters, (True, result))
        return result

    def _finish(self, key: str, waiters: list[asyncio.Future[Any]], outcome: object) -> None:
        if self._flights.get(key) is waiters:
            del self._flights[key]
        running = self._running[key] - 1
        if running:
            self._running[key] = running
        else:
            del self._running[key]
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(outcome)
