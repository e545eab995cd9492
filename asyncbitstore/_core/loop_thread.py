"""The private event loop on which memoized plain (sync) functions use their store.

A store's clients belong to the loop that made them, so sync calls share one long-lived loop,
run by a daemon thread started on first use (and again in a forked child), rather than a new
loop per call. Calls from any thread go there and wait for their result; concurrent equal
calls from several threads thus meet in one single flight.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run"]

R = TypeVar("R")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None
_pid = 0


def _running_loop() -> asyncio.AbstractEventLoop:
    global _loop, _thread, _pid
    with _lock:
        if _loop is None or _pid != os.getpid():
            _loop = asyncio.new_event_loop()
            _thread = threading.Thread(
                target=_loop.run_forever, name="asyncbitstore-memoize", daemon=True
            )
            _thread.start()
            _pid = os.getpid()
        return _loop


def run(coro: Coroutine[Any, Any, R]) -> R:
    """Run ``coro`` on the private loop and wait for its result in this thread."""
    return asyncio.run_coroutine_threadsafe(coro, _running_loop()).result()


@atexit.register
def _stop() -> None:
    global _loop
    with _lock:
        loop, thread, _loop = _loop, _thread, None
    if loop is None or _pid != os.getpid() or thread is None:
        return
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    if not thread.is_alive():
        loop.close()
