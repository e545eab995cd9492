"""A bounded pool of worker threads for blocking user code called from async code.

The pool is made on first use, so a store that never calls blocking code starts no thread; it is
rebuilt in a forked child (the parent's threads do not come along) and after ``close``.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from .checks import positive_int

__all__ = ["WorkerPool"]

R = TypeVar("R")


class WorkerPool:
    """At most ``max_workers`` threads, shared by every event loop of the process.

    Args:
        max_workers: the most threads (and so the most blocking calls running at once; more
            calls wait for a free thread).
        name: prefix of the threads' names.

    Raises:
        ValueError: ``max_workers`` is not a positive int.
    """

    def __init__(self, max_workers: int, name: str) -> None:
        self.max_workers = positive_int("max_workers", max_workers)
        self.name = name
        self._guard = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._pid = 0

    def _current(self) -> ThreadPoolExecutor:
        with self._guard:
            if self._executor is None or self._pid != os.getpid():
                self._executor = ThreadPoolExecutor(self.max_workers, self.name)
                self._pid = os.getpid()
            return self._executor

    async def run(self, fn: Callable[[str], R], arg: str) -> R:
        """``fn(arg)`` on a worker thread; its exception, if any, is raised here.

        Cancelling the caller does not stop a call already running on its thread.
        """
        return await asyncio.get_running_loop().run_in_executor(self._current(), fn, arg)

    def close(self) -> None:
        """Let the threads exit once their current call returns; calls not started are dropped.

        Does not wait. Safe to call twice; a later ``run`` starts a new pool.
        """
        with self._guard:
            executor, pid = self._executor, self._pid
            self._executor = None
        if executor is not None and pid == os.getpid():
            executor.shutdown(wait=False, cancel_futures=True)
