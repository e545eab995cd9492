"""Run many small blocking calls in worker threads, batched so they share one thread hop.

A hop to a thread costs far more than reading a small file from the page cache. Calls submitted
while a batch is being prepared or executed are collected and sent together in the next batch,
so a bulk read of many small files pays for one hop per batch rather than per file.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
from collections.abc import Callable
from concurrent.futures import Future as ThreadFuture
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["ThreadBatcher"]

R = TypeVar("R")

_Job = tuple[Callable[..., Any], tuple[Any, ...], "asyncio.Future[Any]"]


def _run_batch(calls: list[tuple[Callable[..., Any], tuple[Any, ...]]]) -> list[tuple[bool, Any]]:
    outcomes: list[tuple[bool, Any]] = []
    for fn, args in calls:
        try:
            outcomes.append((True, fn(*args)))
        except BaseException as exc:
            outcomes.append((False, exc))
    return outcomes


class ThreadBatcher:
    """Submits blocking calls to a small thread pool in batches, from one event loop at a time.

    Args:
        threads: worker threads (also the number of batches in flight at once).
        max_batch: the most calls sent in one hop.
    """

    def __init__(self, *, threads: int = 2, max_batch: int = 64) -> None:
        self.threads = threads
        self.max_batch = max_batch
        self.hops = 0
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._pending: list[_Job] = []
        self._in_flight = 0
        self._scheduled = False

    def submit(self, fn: Callable[..., R], *args: Any) -> asyncio.Future[R]:
        """Schedule ``fn(*args)`` on a worker thread; await the returned future for the result."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop or self._pid != os.getpid():
            self._bind(loop)
        future: asyncio.Future[R] = loop.create_future()
        self._pending.append((fn, args, future))
        if not self._scheduled and self._in_flight < self.threads:
            self._scheduled = True
            loop.call_soon(self._dispatch)
        return future

    async def run(self, fn: Callable[..., R], *args: Any) -> R:
        """``fn(*args)`` on a worker thread."""
        return await self.submit(fn, *args)

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        # A new loop (or a forked child): calls pending for the old one can never complete there.
        old = self._executor if self._pid == os.getpid() else None
        self._reset()
        if old is not None:
            old.shutdown(wait=False)
        self._loop = loop

    def _dispatch(self) -> None:
        self._scheduled = False
        loop = self._loop
        assert loop is not None
        while self._pending and self._in_flight < self.threads:
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            calls = [(fn, args) for fn, args, future in batch if not future.cancelled()]
            if not calls:
                continue
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    self.threads, thread_name_prefix="asyncbitstore"
                )
            self._in_flight += 1
            self.hops += 1
            done = self._executor.submit(_run_batch, calls)
            live = [future for _, _, future in batch if not future.cancelled()]
            done.add_done_callback(functools.partial(self._hand_back, loop, live))

    def _hand_back(
        self, loop: asyncio.AbstractEventLoop, futures: list[asyncio.Future[Any]], finished: Any
    ) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed while the batch ran
            loop.call_soon_threadsafe(self._complete, futures, finished)

    def _complete(self, futures: list[asyncio.Future[Any]], finished: ThreadFuture[Any]) -> None:
        self._in_flight -= 1
        try:
            outcomes = finished.result()
        except BaseException as exc:
            outcomes = [(False, exc)] * len(futures)
        for future, (ok, value) in zip(futures, outcomes, strict=True):
            if future.cancelled():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        if self._pending and not self._scheduled:
            self._dispatch()

    def close(self) -> None:
        """Stop the worker threads once their current batch is done."""
        if self._executor is not None and self._pid == os.getpid():
            self._executor.shutdown(wait=False)
        self._executor = None
