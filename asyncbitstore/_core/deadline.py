"""Time limits for many concurrent requests, kept by one timer per event loop: `within`.

``asyncio.timeout`` schedules and cancels a timer handle for every call. On a bulk read of
small objects that is a measurable share of the client's CPU (about 20 µs a request here), so
the requests of a loop share one `_Watch` instead: entering a limit is a dict insert,
and a single timer wakes at the earliest deadline of the requests still running, cancels the
overdue ones and sleeps until the next. With one timeout for all requests, the timer fires about
once per timeout period, however many requests come and go.

The cancellation is turned into ``TimeoutError`` the way ``asyncio.timeout`` does it: only when
the task was cancelled by the watch and by nothing else.
"""

from __future__ import annotations

import asyncio
import math
import sys
import weakref
from collections.abc import Awaitable
from typing import TypeVar

from .checks import positive_number

__all__ = ["check_timeout", "within"]

R = TypeVar("R")


class _Limit:
    """One running request: its task, its deadline (loop time), and whether it ran out."""

    __slots__ = ("deadline", "expired", "task")

    def __init__(self, task: asyncio.Task[object], deadline: float) -> None:
        self.task = task
        self.deadline = deadline
        self.expired = False


class _Watch:
    """The limits of one event loop, and the one timer that enforces them."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._limits: dict[_Limit, None] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._wake_at = math.inf

    def add(self, limit: _Limit) -> None:
        self._limits[limit] = None
        if limit.deadline < self._wake_at:
            self._schedule(limit.deadline)

    def discard(self, limit: _Limit) -> None:
        self._limits.pop(limit, None)

    def _schedule(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._wake_at = when
        self._timer = self._loop.call_at(when, self._sweep)

    def _sweep(self) -> None:
        self._timer, self._wake_at = None, math.inf
        now = self._loop.time()
        earliest = math.inf
        for limit in list(self._limits):
            if limit.deadline <= now:
                del self._limits[limit]
                limit.expired = True
                limit.task.cancel()
            elif limit.deadline < earliest:
                earliest = limit.deadline
        if earliest < math.inf:
            self._schedule(earliest)


_watches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Watch] = weakref.WeakKeyDictionary()


if sys.version_info >= (3, 11):

    async def within(seconds: float | None, awaitable: Awaitable[R]) -> R:
        """``await awaitable``, cancelled after ``seconds`` (``None``: no limit).

        Raises:
            TimeoutError: the limit ran out (and the awaitable was cancelled).
        """
        if seconds is None:
            return await awaitable
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        if task is None:  # not inside a task (a bare callback): nothing to cancel
            return await asyncio.wait_for(awaitable, seconds)
        watch = _watches.get(loop)
        if watch is None:
            watch = _watches[loop] = _Watch(loop)
        limit = _Limit(task, loop.time() + seconds)
        cancelling = task.cancelling()
        watch.add(limit)
        try:
            return await awaitable
        except asyncio.CancelledError:
            if limit.expired and task.uncancel() <= cancelling:
                raise TimeoutError(f"no answer within {seconds} s") from None
            raise
        finally:
            watch.discard(limit)

else:  # pragma: no cover - Task.cancelling/uncancel are 3.11+; wait_for costs a task per call

    async def within(seconds: float | None, awaitable: Awaitable[R]) -> R:
        """``await awaitable``, cancelled after ``seconds`` (``None``: no limit)."""
        return await asyncio.wait_for(awaitable, seconds)


def check_timeout(timeout: object) -> float | None:
    """Validate a ``timeout=`` option: ``None`` or a positive number of seconds."""
    return positive_number("timeout", timeout, allow_none=True)
