"""The bounded-concurrency engine behind every bulk method.

A fixed set of worker coroutines pulls items from the input (any iterable or async iterable,
endless ones included) and applies one coroutine function to each. Creating a task per item costs
more than the work itself for fast tiers, so tasks are created once per worker, not per item.

Guarantees:
- at most ``concurrency`` calls in flight;
- for `imap`, at most ``2 * concurrency`` items pulled from the input and not yet taken by
  the consumer, so a slow consumer slows the producer (backpressure) and memory stays bounded;
- the first error cancels the other workers and propagates; cancelling the caller (or closing the
  iterator early) cancels every worker and waits for them, so no task outlives the call;
- wrapped in `capture`, a call's error becomes its result instead (``return_exceptions``),
  except for cancellation and interrupts, which always propagate.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable, Iterable, Sequence
from typing import Any, Generic, ParamSpec, TypeVar

from .checks import positive_int
from .progress import ProgressBar

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")

_END: Any = object()

#: Never turned into a result: they stop the whole operation, not one item.
_PROPAGATE = (asyncio.CancelledError, KeyboardInterrupt, SystemExit, GeneratorExit)


def capture(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R | BaseException]]:
    """``fn`` that returns the exception it raised instead of raising it.

    Cancellation, ``KeyboardInterrupt``, ``SystemExit`` and ``GeneratorExit`` still propagate.
    """

    async def call(*args: P.args, **kwargs: P.kwargs) -> R | BaseException:
        try:
            return await fn(*args, **kwargs)
        except _PROPAGATE:
            raise
        except BaseException as exc:  # the caller asked for every failure
            return exc

    return call


def check_concurrency(concurrency: object) -> int:
    """Validate a ``concurrency=`` argument."""
    return positive_int("concurrency", concurrency)


class _Source(Generic[T]):
    """Hands out items of a sync or async iterable to many workers, one at a time."""

    def __init__(self, items: Iterable[T] | AsyncIterable[T]) -> None:
        self.exhausted = False
        self._sync: Any = None
        self._async: Any = None
        self._lock: asyncio.Lock | None = None
        if isinstance(items, AsyncIterable):
            self._async = aiter(items)
            self._lock = asyncio.Lock()
        elif isinstance(items, Iterable) and not isinstance(items, (str, bytes)):
            self._sync = iter(items)
        else:
            raise TypeError(f"expected an iterable or async iterable, not {type(items).__name__}")

    async def next(self) -> T:
        """The next item, or ``_END`` once the input is exhausted."""
        if self.exhausted:
            return _END  # type: ignore[no-any-return]
        if self._sync is not None:
            item = next(self._sync, _END)
        else:
            assert self._lock is not None
            async with self._lock:  # async generators refuse concurrent __anext__
                if self.exhausted:
                    return _END
                item = await anext(self._async, _END)
        if item is _END:
            self.exhausted = True
        return item  # type: ignore[no-any-return]


async def supervise(tasks: list[asyncio.Task[None]]) -> None:
    """Wait for all tasks; on the first error, or if the caller is cancelled, cancel the rest.

    A task that ended cancelled on its own (a ``CancelledError`` raised inside the work) also
    stops the others and propagates: its share of the items was never done.
    """
    if not tasks:
        return
    try:
        pending: set[asyncio.Task[None]] | list[asyncio.Task[None]] = tasks
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if any(task.cancelled() or task.exception() is not None for task in done):
                break
    finally:
        await cancel_and_wait(tasks)
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
    if any(task.cancelled() for task in tasks):
        raise asyncio.CancelledError


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel the unfinished tasks and wait until every one has ended, even if cancelled again."""
    pending = [task for task in tasks if not task.done()]
    for task in pending:
        task.cancel()
    cancelled_again = False
    while pending:
        try:
            await asyncio.wait(pending)
        except asyncio.CancelledError:
            cancelled_again = True
        pending = [task for task in pending if not task.done()]
    for task in tasks:  # mark errors as retrieved; the caller sees the first one
        if task.done() and not task.cancelled():
            task.exception()
    if cancelled_again:
        raise asyncio.CancelledError


async def map_list(
    fn: Callable[[T], Awaitable[R]],
    items: Sequence[T],
    *,
    concurrency: int,
    progress: ProgressBar | None = None,
) -> list[R]:
    """``[await fn(x) for x in items]`` with at most ``concurrency`` calls in flight, order kept."""
    count = len(items)
    results: list[Any] = [None] * count
    cursor = 0

    async def worker() -> None:
        nonlocal cursor
        while cursor < count:
            index = cursor
            cursor += 1
            results[index] = await fn(items[index])
            if progress is not None:
                progress.update()

    workers = min(check_concurrency(concurrency), count)
    if workers == 1:
        await worker()
    else:
        await supervise([asyncio.ensure_future(worker()) for _ in range(workers)])
    return results


async def drain(
    fn: Callable[[T], Awaitable[object]],
    items: Iterable[T] | AsyncIterable[T],
    *,
    concurrency: int,
    progress: ProgressBar | None = None,
) -> int:
    """Apply ``fn`` to every item with at most ``concurrency`` in flight; return the count."""
    source: _Source[T] = _Source(items)
    done = 0

    async def worker() -> None:
        nonlocal done
        while (item := await source.next()) is not _END:
            await fn(item)
            done += 1
            if progress is not None:
                progress.update()

    await supervise(
        [asyncio.ensure_future(worker()) for _ in range(check_concurrency(concurrency))]
    )
    return done


async def imap(
    fn: Callable[[T], Awaitable[R]],
    items: Iterable[T] | AsyncIterable[T],
    *,
    concurrency: int,
    ordered: bool = False,
    progress: ProgressBar | None = None,
) -> AsyncGenerator[tuple[T, R], None]:
    """Yield ``(item, await fn(item))`` for every item, as they finish or in input order.

    Close the iterator (``contextlib.aclosing``) when stopping early to cancel pending work at
    once; otherwise that happens when it is garbage collected.
    """
    source: _Source[T] = _Source(items)
    slots = asyncio.Semaphore(2 * check_concurrency(concurrency))
    ready: dict[int, tuple[T, R]] = {}
    wake = asyncio.Event()
    sequence = 0

    async def worker() -> None:
        nonlocal sequence
        while True:
            await slots.acquire()
            item = await source.next()
            if item is _END:
                slots.release()
                return
            index = sequence
            sequence += 1
            ready[index] = (item, await fn(item))
            wake.set()

    tasks = [asyncio.ensure_future(worker()) for _ in range(concurrency)]
    running = len(tasks)
    failure: list[BaseException] = []

    def on_worker_done(task: asyncio.Task[None]) -> None:
        nonlocal running
        running -= 1
        if task.cancelled():
            failure.append(asyncio.CancelledError())  # its item would be lost otherwise
        elif task.exception() is not None:
            failure.append(task.exception())  # type: ignore[arg-type]
        wake.set()

    for task in tasks:
        task.add_done_callback(on_worker_done)

    next_index = 0
    try:
        while True:
            if failure:
                raise failure[0]
            if ordered:
                pair = ready.pop(next_index, None)
                if pair is not None:
                    next_index += 1
            else:
                pair = ready.pop(next(iter(ready))) if ready else None
            if pair is None:
                if running == 0:
                    return
                wake.clear()
                await wake.wait()
                continue
            slots.release()
            if progress is not None:
                progress.update()
            yield pair
    finally:
        await cancel_and_wait(tasks)
