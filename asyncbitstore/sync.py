"""``SyncStore``: a store's methods as plain blocking functions, for code that is not async.

::

    from asyncbitstore import FileRaw, Sha1Cache, Sha1Composite, Sha1Store, S3Raw
    from asyncbitstore.sync import SyncStore

    chain = Sha1Composite()
    chain.append_cache(Sha1Cache(FileRaw(), "/var/cache/blobs/"))
    chain.append_source(Sha1Store(S3Raw(), "s3://bucket/blobs/"), cache_result=True)

    with SyncStore(chain) as store:
        data = store.get("4bc39c7d87318382feb3cc5a684c767fbd913968")
        for key, blob in store.iter_get(keys_file_lines):
            ...

**How it runs.** Each ``SyncStore`` owns one event loop, run by a daemon thread of its own
(started on first use). Every call hands a coroutine to that loop and waits for its result, so
any number of threads may call one ``SyncStore`` at once: their calls run concurrently on the
loop, share its connection pools and meet in the chain's single flight. ``close()`` (or leaving
a ``with`` block) closes the store on that loop and stops the thread; a later call starts a new
one. The thread is also closed at interpreter exit.

**Which store to give it.** The store becomes the ``SyncStore``'s: give it one that no running
event loop is using, typically a new one (``SyncStore(Sha1Composite.from_config(path))``), and
do not await the same store object elsewhere meanwhile. A store used earlier under an event
loop that has since ended (``asyncio.run`` returned) is fine: stores make their clients per
loop and make new ones here. Async code in the same program that needs the same blobs should
build a second store from the same configuration.

**Inside async code** every method raises
[`InsideRunningLoop`][asyncbitstore.sync.InsideRunningLoop] (a ``RuntimeError``)
rather than stall the caller's loop: await the store's own methods there.

**Iterators.** ``iter_get``, ``stream`` and ``list`` return plain iterators that fetch as they
are consumed (a bounded read-ahead, never the whole input or blob); ``close()`` them, or let a
``for`` loop finish, to stop the work early. Their input (``uris`` of ``iter_get``, ``items``
of ``put_many``) is read on the loop thread: pass lists or generators that do not block.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import itertools
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
    Sequence,
)
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar, cast

from ._core.bulk_api import OverSource
from ._core.data import DEFAULT_CHUNK_SIZE
from ._core.loop_thread import InsideRunningLoop, LoopThread
from .errors import NotWritable
from .meta import ObjectMeta
from .stats import ChainStats
from .store import Fetched, Store

__all__ = ["InsideRunningLoop", "SyncStore"]

S = TypeVar("S", bound=Store)
T = TypeVar("T")
In = TypeVar("In")

#: Seconds ``close`` waits for the store to close (a chain first flushes its fills).
CLOSE_TIMEOUT = 30.0

_serial = itertools.count(1)


class _Writes(Protocol):
    async def write(self, data: Any, **options: Any) -> str: ...


class SyncStore(Generic[S]):
    """Blocking versions of ``store``'s methods, run on a private event-loop thread.

    Each method takes the same arguments as the store's coroutine of the same name (keywords
    are passed through as given) and returns its result, or raises its exception unchanged.

    Args:
        store: the store to drive; ``SyncStore`` closes it on ``close``. See the module
            docstring for which store to give it.

    Raises:
        TypeError: ``store`` is not a `Store`.
    """

    def __init__(self, store: S) -> None:
        if not isinstance(store, Store):
            raise TypeError(f"SyncStore needs a Store, not {type(store).__name__}")
        self.store = store
        self._pumps: set[asyncio.Task[None]] = set()
        self._thread = LoopThread(
            f"asyncbitstore-sync-{next(_serial)}",
            cleanup=self._shutdown,
            close_timeout=CLOSE_TIMEOUT,
        )

    def __repr__(self) -> str:
        return f"<SyncStore {self.store.name}>"

    # -- plumbing -------------------------------------------------------------------------------

    def _run(self, coro: Coroutine[Any, Any, T], method: str) -> T:
        return self._thread.run(
            coro, advice=f"await store.{method}(...) of the async store instead of SyncStore"
        )

    def _run_bulk(
        self, method: OverSource[In, object, object, T], source: In, options: dict[str, Any]
    ) -> T:
        """What the store's bulk ``method`` answers for ``source`` and the keywords ``options``
        (as given: the result's type is the widest, failures included)."""
        answer: Coroutine[Any, Any, T] = method(source, **options)
        return self._run(answer, method.__name__)

    def _iterate(self, make: Callable[[], AsyncIterator[T]], method: str) -> Iterator[T]:
        """The items of the async iterator ``make()`` (called on the loop), one per step.

        A task on the loop moves items through a one-slot queue, so it runs at most one item
        ahead of the consumer; closing this iterator cancels the task, which closes ``make()``.
        """
        queue, task = self._run(self._start_pump(make), method)
        try:
            while True:
                done, value = self._run(queue.get(), method)
                if done:
                    if value is not None:
                        raise value
                    return
                yield value
        finally:
            self._stop_pump(task)

    async def _start_pump(
        self, make: Callable[[], AsyncIterator[T]]
    ) -> tuple[asyncio.Queue[tuple[bool, Any]], asyncio.Task[None]]:
        queue: asyncio.Queue[tuple[bool, Any]] = asyncio.Queue(maxsize=1)

        async def pump() -> None:
            try:
                items = make()
                try:
                    async for item in items:
                        await queue.put((False, item))
                finally:
                    if isinstance(items, AsyncGenerator):  # closing it stops its work now
                        await items.aclose()
            except Exception as exc:
                await queue.put((True, exc))
            else:
                await queue.put((True, None))

        task = asyncio.create_task(pump())
        self._pumps.add(task)
        task.add_done_callback(self._pumps.discard)
        return queue, task

    def _stop_pump(self, task: asyncio.Task[None]) -> None:
        if task.done():
            return
        try:
            self._run(_cancel(task), "close")
        except InsideRunningLoop:  # garbage collected inside some event loop: do not wait
            loop = self._thread.loop
            if loop is not None:
                loop.call_soon_threadsafe(task.cancel)

    async def _shutdown(self) -> None:
        for task in list(self._pumps):
            await _cancel(task)
        await self.store.aclose()

    # -- reads ----------------------------------------------------------------------------------

    def get(self, uri: str, **options: Any) -> bytes:
        """Blocking `Store.get`: the blob at ``uri``."""
        return self._run(self.store.get(uri, **options), "get")

    def get_range(self, uri: str, start: int, end: int) -> bytes:
        """Blocking `Store.get_range`: bytes ``[start, end)`` of the blob."""
        return self._run(self.store.get_range(uri, start, end), "get_range")

    def get_ranges(self, uri: str, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """Blocking `Store.get_ranges`: one `bytes` per ``(start, end)`` pair, in order."""
        return self._run(self.store.get_ranges(uri, ranges), "get_ranges")

    def exists(self, uri: str) -> bool:
        """Blocking `Store.exists`."""
        return self._run(self.store.exists(uri), "exists")

    def size(self, uri: str) -> int:
        """Blocking `Store.size`: the blob's size in bytes."""
        return self._run(self.store.size(uri), "size")

    def get_json(self, uri: str) -> Any:
        """Blocking `Store.get_json`: the blob decoded as JSON."""
        return self._run(self.store.get_json(uri), "get_json")

    def stream(
        self, uri: str, chunk_size: int = DEFAULT_CHUNK_SIZE, **options: Any
    ) -> Iterator[bytes]:
        """`Store.stream` as a plain iterator of chunks, fetched as they are consumed."""
        return self._iterate(lambda: self.store.stream(uri, chunk_size, **options), "stream")

    def list(self, prefix: str = "", **options: Any) -> Iterator[str]:
        """`Store.list` as a plain iterator of URIs, pages fetched as they are consumed."""
        return self._iterate(lambda: self.store.list(prefix, **options), "list")

    def local_path(self, uri: str) -> contextlib.AbstractContextManager[Path]:
        """`Store.local_path` as a plain context manager: ``with s.local_path(key) as path``."""
        return self._local_path(uri)

    @contextlib.contextmanager
    def _local_path(self, uri: str) -> Iterator[Path]:
        release, holder, path = self._run(_enter(self.store.local_path(uri)), "local_path")
        try:
            yield path
        finally:
            self._run(_leave(release, holder), "local_path")

    # -- bulk -----------------------------------------------------------------------------------

    def get_many(self, uris: Iterable[str], **options: Any) -> builtins.list[Fetched]:
        """Blocking `Store.get_many`: the blobs in order, None for a missing one (and, with
        ``return_exceptions=True``, a failed blob's exception in its place)."""
        return self._run_bulk(self.store.get_many, uris, options)

    def iter_get(self, uris: Iterable[str], **options: Any) -> Iterator[tuple[str, Fetched]]:
        """`Store.iter_get` as a plain iterator of ``(uri, data or None)``.

        As bounded as the async form: fetches run at most ``concurrency`` ahead, and ``uris``
        (which may be endless) is read only as results are consumed.
        """
        return self._iterate(lambda: self.store.iter_get(uris, **options), "iter_get")

    def exists_many(self, uris: Iterable[str], **options: Any) -> dict[str, bool | BaseException]:
        """Blocking `Store.exists_many`: ``{uri: exists}`` (or its error, with
        ``return_exceptions=True``)."""
        return self._run_bulk(self.store.exists_many, uris, options)

    def size_many(
        self, uris: Iterable[str], **options: Any
    ) -> dict[str, int | BaseException | None]:
        """Blocking `Store.size_many`: ``{uri: size}``, None for a missing blob (or its error,
        with ``return_exceptions=True``)."""
        return self._run_bulk(self.store.size_many, uris, options)

    def head_many(
        self, uris: Iterable[str], **options: Any
    ) -> dict[str, ObjectMeta | BaseException | None]:
        """Blocking `Store.head_many`: ``{uri: meta}``, None for a missing blob (or its error,
        with ``return_exceptions=True``)."""
        return self._run_bulk(self.store.head_many, uris, options)

    def put_many(
        self, items: Iterable[tuple[str, Any]], **options: Any
    ) -> int | dict[str, BaseException]:
        """Blocking `Store.put_many`: how many pairs were written, or with
        ``return_exceptions=True`` the failed URIs with their errors."""
        return self._run_bulk(self.store.put_many, items, options)

    def delete_many(self, uris: Iterable[str], **options: Any) -> int | dict[str, BaseException]:
        """Blocking `Store.delete_many`: how many URIs were processed, or with
        ``return_exceptions=True`` the failed URIs with their errors."""
        return self._run_bulk(self.store.delete_many, uris, options)

    # -- writes ---------------------------------------------------------------------------------

    def put(self, uri: str, data: Any, **options: Any) -> None:
        """Blocking `Store.put` (``data``: bytes-like, or an async iterable of bytes)."""
        self._run(self.store.put(uri, data, **options), "put")

    def put_json(self, uri: str, obj: Any, **options: Any) -> None:
        """Blocking `Store.put_json`."""
        self._run(self.store.put_json(uri, obj, **options), "put_json")

    def delete(self, uri: str) -> None:
        """Blocking `Store.delete`."""
        self._run(self.store.delete(uri), "delete")

    def write(self, data: Any, **options: Any) -> str:
        """Blocking ``write`` of a content-addressed store or chain: stores ``data`` (bytes, a
        path or a binary file) under its digest and returns that key.

        Raises:
            NotWritable: the store's keys are not digests, so it has no ``write``.
        """
        if self.store.key_algorithm is None:
            raise NotWritable(self.store, "write (its keys are not content digests)")
        return self._run(cast(_Writes, self.store).write(data, **options), "write")

    def flush(self) -> None:
        """Blocking `Store.flush`: wait for a chain's background fills and replication."""
        self._run(self.store.flush(), "flush")

    # -- figures and lifecycle ----------------------------------------------------------------

    @property
    def stats(self) -> ChainStats | None:
        """The store's figures (`Store.chain_stats`: a chain's per-tier stats, else None)."""
        return self._run(_read(lambda: self.store.chain_stats), "chain_stats")

    def close(self) -> None:
        """Close the store on its loop, then stop the loop thread. Safe to call twice."""
        self._thread.close()

    def __enter__(self) -> SyncStore[S]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


async def _read(get: Callable[[], T]) -> T:
    """``get()`` on the loop thread, where the store's figures change."""
    return get()


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _enter(
    manager: contextlib.AbstractAsyncContextManager[T],
) -> tuple[asyncio.Event, asyncio.Task[None], T]:
    """Enter ``manager`` in a task of its own, which holds it until the event is set."""
    release = asyncio.Event()
    entered: asyncio.Future[T] = asyncio.get_running_loop().create_future()

    async def hold() -> None:
        try:
            async with manager as value:
                entered.set_result(value)
                await release.wait()
        except Exception as exc:
            if entered.done():
                raise
            entered.set_exception(exc)
        finally:
            entered.cancel()  # (a no-op once it has a result or an exception)

    holder = asyncio.create_task(hold())
    try:
        return release, holder, await entered
    except BaseException:
        await _cancel(holder)
        raise


async def _leave(release: asyncio.Event, holder: asyncio.Task[None]) -> None:
    release.set()
    await holder
