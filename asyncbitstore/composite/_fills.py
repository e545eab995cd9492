"""The one owner of background work: cache fills and write replication.

Every task the library leaves running after a call returns is created here, so that it is
tracked (never garbage-collected mid-flight), bounded in number, counted, logged on failure, and
awaited by `BackgroundWork.flush` (which ``aclose()`` calls).

Two kinds of work:
- *fills* are optional: when ``max_pending`` tasks are already pending, a new fill is dropped and
  counted instead of queued;
- *replications* must not be lost: they wait for a free slot instead (backpressure on ``put``).

Failures are logged here at DEBUG only: the work itself notes them in its tier's health, which
logs a tier's failures once (see ``_health``). Work cut short, by its event loop ending or by
its owner being garbage-collected unclosed, is reported with a ``ResourceWarning``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .._core.checks import positive_int
from ..errors import StoreFull

__all__ = ["Abandoned", "BackgroundWork", "FillCounters"]

logger = logging.getLogger("asyncbitstore.fills")


class Abandoned(Exception):
    """Raised by background work that gave up on purpose; counted as dropped, not failed."""


@dataclass
class FillCounters:
    """Outcome counts of background work."""

    done: int = 0
    failed: int = 0
    dropped: int = 0
    declined: int = 0


class BackgroundWork:
    """Tracks, bounds and drains background tasks, grouped by key.

    Args:
        max_pending: the most tasks at once.
        owner: the name of the chain whose work this is, for warnings.
    """

    def __init__(self, max_pending: int = 1024, owner: str = "chain") -> None:
        self.max_pending = positive_int("max_pending", max_pending)
        self.owner = owner
        self.counters = FillCounters()
        self._tasks: dict[asyncio.Task[None], str] = {}
        self._by_key: dict[str, set[asyncio.Task[None]]] = {}
        self._slot_freed: asyncio.Event | None = None
        self._cancelled = 0  # tasks cancelled from outside, not reported yet
        self._disowned = False  # the owner is gone and has reported what was pending

    @property
    def pending(self) -> int:
        """How many background tasks are running."""
        return len(self._tasks)

    def busy(self, key: str) -> bool:
        """Whether background work for ``key`` is pending."""
        return key in self._by_key

    def start_fill(
        self,
        key: str,
        description: str,
        work: Callable[[], Awaitable[None]],
        finished: Callable[[], None] | None = None,
        *,
        counted: bool = True,
    ) -> bool:
        """Run ``work()`` in the background unless the bound is reached; False if dropped.

        ``finished()`` is called once the task is over, however it ended (even if it was
        cancelled before it started). Work that is not ``counted`` (it starts fills of its
        own, which are) adds to the counters only when it fails, is dropped or declined.
        """
        if len(self._tasks) >= self.max_pending:
            self.counters.dropped += 1
            logger.debug("dropped %s for %s: %d pending", description, key, len(self._tasks))
            return False
        task = self._spawn(key, description, work, counted)
        if finished is not None:
            task.add_done_callback(lambda _: finished())
        return True

    async def start_replication(
        self, key: str, description: str, work: Callable[[], Awaitable[None]]
    ) -> None:
        """Run ``work()`` in the background, first waiting for a free slot if needed."""
        while len(self._tasks) >= self.max_pending:
            if self._slot_freed is None:
                self._slot_freed = asyncio.Event()
            self._slot_freed.clear()
            await self._slot_freed.wait()
        self._spawn(key, description, work)

    def _spawn(
        self,
        key: str,
        description: str,
        work: Callable[[], Awaitable[None]],
        counted: bool = True,
    ) -> asyncio.Task[None]:
        async def run() -> None:
            try:
                await work()
            except asyncio.CancelledError:
                self.counters.failed += 1
                self._cancelled += 1
                raise
            except Abandoned as exc:
                self.counters.dropped += 1
                logger.debug("%s abandoned for %s: %s", description, key, exc)
            except StoreFull as exc:  # a size-capped or full cache said no: expected, not a fault
                self.counters.declined += 1
                logger.debug("%s declined for %s: %s", description, key, exc)
            except Exception as exc:
                self.counters.failed += 1
                logger.debug("%s failed for %s: %s", description, key, exc)
            else:
                self.counters.done += counted

        task = asyncio.ensure_future(run())
        self._tasks[task] = key
        self._by_key.setdefault(key, set()).add(task)
        task.add_done_callback(self._forget)
        return task

    def _forget(self, task: asyncio.Task[None]) -> None:
        key = self._tasks.pop(task, None)
        if key is None:
            return
        group = self._by_key.get(key)
        if group is not None:
            group.discard(task)
            if not group:
                del self._by_key[key]
        if self._slot_freed is not None:
            self._slot_freed.set()
        if self._cancelled and not self._tasks:
            self._report_cancelled()

    def _report_cancelled(self) -> None:
        """Warn once the last task is over that some were cancelled before they finished.

        Nothing in the library cancels this work, so a cancelled task was cut short from
        outside: most often by ``asyncio.run`` cancelling what is left when its loop ends.
        """
        n, self._cancelled = self._cancelled, 0
        if self._disowned:
            return  # reported when the owner was garbage-collected
        with contextlib.suppress(Exception):  # warnings made errors: a callback must not raise
            warnings.warn(
                f"{self.owner}: {n} background write{'s' if n != 1 else ''} (cache fills or "
                "replication) were cancelled before they finished, most likely because the "
                "event loop ended; `await chain.aclose()` or `async with chain:` waits for them",
                ResourceWarning,
                stacklevel=1,
            )

    def disown(self) -> int:
        """The owner is being garbage-collected: how many tasks are still running (which it
        reports, so that their cancellation later is not reported again)."""
        self._disowned = True
        return sum(1 for task in self._tasks if not task.done())

    async def wait_for_key(self, key: str) -> None:
        """Wait until the background work for ``key`` pending now has finished."""
        group = self._by_key.get(key)
        if group:
            await asyncio.wait(set(group))

    async def flush(self) -> None:
        """Wait until every background task, including ones started meanwhile, has finished."""
        loop = asyncio.get_running_loop()
        while True:
            mine = [task for task in self._tasks if task.get_loop() is loop]
            if not mine:
                break
            await asyncio.wait(mine)
        for task in [t for t in self._tasks if t.get_loop() is not loop]:
            # Left behind by an event loop that is gone (a closed loop, a forked parent).
            self._forget(task)
