"""Thread hops for ``SqliteRaw``: batched calls with errors mapped, resources released after a
cancellation, reads recorded for the LRU bound in batches rather than one write each, and the
spool file of large streaming puts."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable
from typing import IO, Any, Protocol

from ...errors import StoreFull, StoreNotAvailable
from .._threads import ThreadBatcher

__all__ = ["Hops", "Recency", "close", "error_for", "now", "open_spool", "write_parts"]

logger = logging.getLogger("asyncbitstore.sqlite")

_TOUCH_BATCH = 512  # recorded reads are written together...
_TOUCH_DELAY = 1.0  # ...or once the oldest is this many seconds old

_SQLITE_FULL = 13

Mapper = Callable[[BaseException, str], BaseException]


def error_for(store: Any, exc: BaseException, uri: str) -> BaseException:
    """Our exception for a failure of SQLite or of the spool file (the one place)."""
    if isinstance(exc, sqlite3.Error):
        if getattr(exc, "sqlite_errorcode", None) == _SQLITE_FULL or "is full" in str(exc):
            return StoreFull(store, uri, str(exc))
        reason = f"{type(exc).__name__}: {exc}"
        if "locked" in str(exc) or "busy" in str(exc):
            reason += f" (waited {store.lock_timeout:g} s for other writers)"
        return StoreNotAvailable(store, reason, uri=uri)
    if isinstance(exc, OSError):
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return StoreFull(store, uri, os.strerror(exc.errno or 0))
        return StoreNotAvailable(store, f"{type(exc).__name__}: {exc.strerror}", uri=uri)
    return exc


class _Closable(Protocol):
    def close(self) -> None: ...


def open_spool(folder: str) -> IO[bytes]:
    """An unlinked temporary file in ``folder`` (nobody else ever sees it)."""
    return tempfile.TemporaryFile(dir=folder)


def write_parts(file: IO[bytes], parts: list[bytes]) -> None:
    for part in parts:
        file.write(part)


def close(resource: _Closable | None) -> None:
    if resource is not None:
        resource.close()


def now() -> int:
    """Microseconds since the epoch: recency comparable between processes of one machine."""
    return time.time_ns() // 1000


class Hops:
    """Blocking calls on worker threads (batched), with errors translated by ``error``."""

    def __init__(self, threads: int, error: Mapper, *, catch: tuple[type[BaseException], ...]):
        self.batcher = ThreadBatcher(threads=threads)
        self._error = error
        self._catch = catch

    def submit(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        return self.batcher.submit(fn, *args)

    async def run(self, uri: str, fn: Callable[..., Any], *args: Any) -> Any:
        return await self.checked(self.batcher.submit(fn, *args), uri, shield=False)

    async def checked(self, future: asyncio.Future[Any], uri: str, *, shield: bool = True) -> Any:
        try:
            # Shielded when the caller must learn when the thread is done with a resource.
            return await (asyncio.shield(future) if shield else future)
        except self._catch as exc:
            raise self._error(exc, uri) from exc

    async def acquire(self, uri: str, release: Any, fn: Any, *args: Any) -> Any:
        """``fn(*args)`` on a thread returning a resource, released if the caller is cancelled."""
        future = self.batcher.submit(fn, *args)
        try:
            return await self.checked(future, uri)
        except asyncio.CancelledError:
            await asyncio.shield(self.release_after(future, release, pass_result=True))
            raise

    async def release_after(
        self, future: asyncio.Future[Any] | None, release: Any, *, pass_result: bool = False
    ) -> None:
        """Once ``future`` is done (its thread may use the resource), run ``release`` on a thread.

        With ``pass_result``, ``future`` made the resource: ``release(result)`` if it did.
        """
        if future is not None:
            await asyncio.wait([future])
        args: tuple[Any, ...] = ()
        if pass_result:
            if future is None or future.cancelled() or future.exception() is not None:
                return
            args = (future.result(),)
        try:
            await self.batcher.submit(release, *args)
        except Exception as exc:
            logger.warning("could not release a resource: %s", exc)

    def close(self) -> None:
        self.batcher.close()


class Recency:
    """Reads waiting to be written as access times: ``write(pairs)`` runs on a thread."""

    def __init__(self, hops: Hops, write: Callable[[list[tuple[str, int]]], None]) -> None:
        self._hops = hops
        self._write = write
        self._pending: dict[str, int] = {}
        self._since = 0.0

    def touch(self, key: str) -> None:
        """Record a read; write the batch when it is full or old enough."""
        if not self._pending:
            self._since = time.monotonic()
        self._pending[key] = now()
        if len(self._pending) >= _TOUCH_BATCH or time.monotonic() - self._since >= _TOUCH_DELAY:
            future = self._hops.submit(self._write, self.take())
            future.add_done_callback(_log_failure)

    def take(self) -> list[tuple[str, int]]:
        """The pending reads, now no longer pending (a put writes them in its transaction)."""
        pending, self._pending = self._pending, {}
        return list(pending.items())

    async def flush(self, uri: str) -> None:
        """Write what is pending now; a failure is logged (recency is only a hint)."""
        if self._pending:
            try:
                await self._hops.run(uri, self._write, self.take())
            except Exception as exc:
                logger.warning("could not record reads: %s", exc)


def _log_failure(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.warning("could not record reads: %s", future.exception())
