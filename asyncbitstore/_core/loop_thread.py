"""A private event loop on a daemon thread, for blocking code that needs to run coroutines.

A store's clients belong to the loop that made them, so blocking callers (memoized plain
functions, Dask tasks) share one long-lived loop per use rather than a new loop per call.
The thread starts on first use, and again in a forked child (the parent's thread does not
come along). Calls from any thread go to that loop and wait there for their result.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["InsideRunningLoop", "LoopThread"]

logger = logging.getLogger("asyncbitstore")

R = TypeVar("R")


class InsideRunningLoop(RuntimeError):
    """A blocking call was made from a thread whose event loop is running: it would stall it."""


class LoopThread:
    """An event loop run forever by a daemon thread of its own, started on first use.

    Args:
        name: the thread's name, also used in error messages.
        on_start: called (with no loop yet running) each time a loop starts: on first use, in a
            forked child, after ``close``. Use it to forget state tied to an earlier loop.
        cleanup: a coroutine function run on the loop before ``close`` stops it (errors are
            logged, not raised).
        close_timeout: seconds ``close`` waits for ``cleanup`` and then for the thread.
        refuse_in_loop: make ``run`` raise
            [`InsideRunningLoop`][asyncbitstore.sync.InsideRunningLoop] when its caller's thread
            runs an event loop, instead of blocking that loop until the result arrives.
        log: where a failed ``cleanup`` is reported (default: the ``asyncbitstore`` logger).

    ``close`` runs at interpreter exit too, once a loop has started.
    """

    def __init__(
        self,
        name: str,
        *,
        on_start: Callable[[], None] | None = None,
        cleanup: Callable[[], Coroutine[Any, Any, None]] | None = None,
        close_timeout: float = 5.0,
        refuse_in_loop: bool = True,
        log: logging.Logger | None = None,
    ) -> None:
        self.name = name
        self.close_timeout = close_timeout
        self.refuse_in_loop = refuse_in_loop
        self._on_start = on_start
        self._cleanup = cleanup
        self._log = log or logger
        self._guard = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._exit_hook = False

    def __repr__(self) -> str:
        return f"<LoopThread {self.name} {'running' if self.loop else 'idle'}>"

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop, if one runs in this process (None before first use and after ``close``)."""
        with self._guard:
            return self._loop if self._pid == os.getpid() else None

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._guard:
            if self._loop is None or self._pid != os.getpid():
                if self._on_start is not None:
                    self._on_start()
                self._loop = asyncio.new_event_loop()
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name=self.name, daemon=True
                )
                self._thread.start()
                if not self._exit_hook:
                    atexit.register(self.close)
                    self._exit_hook = True
            return self._loop

    def run(
        self,
        coro: Coroutine[Any, Any, R],
        timeout: float | None = None,
        *,
        advice: str = "await the coroutine instead",
    ) -> R:
        """Run ``coro`` on the loop (starting it if needed) and wait here for its result.

        The coroutine's exception, if any, is raised here. ``advice`` ends the message of
        [`InsideRunningLoop`][asyncbitstore.sync.InsideRunningLoop]: what the caller should do
        instead.

        Raises:
            InsideRunningLoop: the calling thread runs an event loop (with ``refuse_in_loop``);
                ``coro`` is closed without running.
            TimeoutError: ``timeout`` seconds passed (the coroutine is not cancelled).
        """
        if self.refuse_in_loop:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                pass
            else:
                coro.close()
                raise InsideRunningLoop(
                    f"{self.name}: a blocking call inside a running event loop would stall "
                    f"that loop; {advice}"
                )
        return asyncio.run_coroutine_threadsafe(coro, self._running_loop()).result(timeout)

    def close(self) -> None:
        """Run ``cleanup``, stop the loop, join the thread and close the loop.

        Does nothing when no loop runs in this process, so calling it twice is safe. A later
        ``run`` starts a fresh loop.
        """
        with self._guard:
            loop, thread, pid = self._loop, self._thread, self._pid
            self._loop = self._thread = None
            if self._exit_hook:  # the hook would keep this object (and its cleanup) alive
                atexit.unregister(self.close)
                self._exit_hook = False
        if loop is None or thread is None or pid != os.getpid():
            return
        if self._cleanup is not None:
            try:
                cleaning = asyncio.run_coroutine_threadsafe(self._cleanup(), loop)
                cleaning.result(self.close_timeout)
            except Exception as exc:
                self._log.warning("%s: cleanup before closing the loop failed: %s", self.name, exc)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(self.close_timeout)
        if not thread.is_alive():
            loop.close()
