"""Bulk work on a Dask cluster: [`read_blobs`][asyncbitstore.dask.read_blobs],
[`warm`][asyncbitstore.dask.warm] and [`write_blobs`][asyncbitstore.dask.write_blobs].

Install with ``pip install 'asyncbitstore[dask]'``. Each function takes a store (any store for
reads; a chain for [`warm`][asyncbitstore.dask.warm]; a content-addressed store or chain for
[`write_blobs`][asyncbitstore.dask.write_blobs]) and
returns a lazy Dask Bag (or, for [`warm`][asyncbitstore.dask.warm], computes at once on the current
client).

How a partition runs on a worker:

- The store travels inside the task graph by pickling: its configuration and any credentials
  passed to it explicitly, never a live client (see ``docs/dask.md``). Credentials not passed
  explicitly (environment, config files, instance roles) are resolved on the worker.
- Each worker process runs one asyncio event loop in a dedicated daemon thread, started on first
  use and reused by every later partition. The first partition of a store keeps its unpickled
  copy alive in that process, keyed by a digest of the store's pickle, so clients and connection
  pools (created lazily per process and loop) survive from one partition to the next.
- Partitions of one store run one at a time per worker process (an ``asyncio.Lock``); parallelism
  inside a partition comes from ``concurrency``. Use ``threads_per_worker=1``: more Dask threads
  would only wait for that lock.
- A worker that dies mid-partition loses that partition's results, and Dask reruns it elsewhere.
  Caches written by the dead worker hold whole blobs or nothing: every asyncbitstore cache write
  is atomic (temporary file or key, then rename).

The live stores and the loop are closed when the worker process exits normally (``atexit``) or
by [`close_worker_stores`][asyncbitstore.dask.close_worker_stores].
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import math
import pickle
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from typing_extensions import TypedDict, Unpack

try:
    import dask.bag as db
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("asyncbitstore.dask needs Dask: pip install 'asyncbitstore[dask]'") from exc

from ._core import bulk
from ._core.bulk_api import check_keywords
from ._core.checks import positive_int
from ._core.loop_thread import LoopThread
from .errors import NotFoundInStore, StoreNotAvailable
from .stats import ChainStats
from .store import DEFAULT_CONCURRENCY, Store

__all__ = [
    "BagOptions",
    "close_worker_stores",
    "read_blobs",
    "reset_worker_stats",
    "warm",
    "worker_stats",
    "write_blobs",
]

logger = logging.getLogger("asyncbitstore.dask")

# Dask's functions carry no annotations; calls go through this Any-typed alias (mypy strict).
_bags: Any = db

R = TypeVar("R")

#: Keys per partition when ``npartitions`` is not given, per unit of ``concurrency``.
KEYS_PER_SLOT = 8
#: Live stores kept per worker process; the least recently used idle one is closed beyond it.
MAX_LIVE_STORES = 16
_CLOSE_TIMEOUT = 30.0


# -- the per-process runtime ---------------------------------------------------------------------


@dataclass
class _Live:
    """A store kept alive in a worker process, and the lock its partitions take in turn."""

    store: Store
    lock: asyncio.Lock


class _WorkerRuntime:
    """One event loop thread per process and the live stores it serves."""

    def __init__(self) -> None:
        self._live: OrderedDict[str, _Live] = OrderedDict()
        # Dask tasks may run where a loop runs (the sync scheduler in a notebook): they block
        # it, as they always have, rather than fail.
        self.loop_thread = LoopThread(
            "asyncbitstore-dask",
            on_start=self._live.clear,
            cleanup=self._close_all,
            close_timeout=_CLOSE_TIMEOUT,
            refuse_in_loop=False,
            log=logger,
        )

    def call(self, token: str, store: Store, work: Callable[[Store], Coroutine[Any, Any, R]]) -> R:
        """Run ``work(live store)`` in this process's loop, holding the store's lock."""
        return self.loop_thread.run(self._locked(token, store, work))

    async def _locked(
        self, token: str, store: Store, work: Callable[[Store], Coroutine[Any, Any, R]]
    ) -> R:
        live = self._live.get(token)
        if live is None:
            live = self._live[token] = _Live(store, asyncio.Lock())
            await self._evict()
        self._live.move_to_end(token)
        async with live.lock:
            return await work(live.store)

    async def _evict(self) -> None:
        idle = [t for t, live in self._live.items() if not live.lock.locked()]
        for token in idle[: max(0, len(self._live) - MAX_LIVE_STORES)]:
            await self._live.pop(token).store.aclose()

    def peek(self, token: str, work: Callable[[Store], Coroutine[Any, Any, R]]) -> R | None:
        """``work(live store)`` without the lock; None when this process has no such store."""
        if self.loop_thread.loop is None or token not in self._live:
            return None
        return self.loop_thread.run(work(self._live[token].store))

    def close(self) -> None:
        """Close every live store, then stop and close the loop. Safe to call twice."""
        self.loop_thread.close()

    async def _close_all(self) -> None:
        live = list(self._live.values())
        self._live.clear()
        for entry in live:
            async with entry.lock:
                await entry.store.aclose()
        await asyncio.get_running_loop().shutdown_asyncgens()


_RUNTIME = _WorkerRuntime()


def store_token(store: Store) -> str:
    """A digest of ``store``'s pickle: equal for copies of one configuration."""
    try:
        blob = pickle.dumps(store, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # e.g. a user's store class defined in __main__: Dask uses cloudpickle
        import cloudpickle  # type: ignore[import-untyped]

        blob = cloudpickle.dumps(store, protocol=pickle.HIGHEST_PROTOCOL)
    return hashlib.sha256(blob).hexdigest()


# -- building bags -------------------------------------------------------------------------------


def _to_bag(
    items: Iterable[Any] | db.Bag, npartitions: int | None, concurrency: int, what: str
) -> Any:
    """``items`` as a Bag: a Bag as it is (or repartitioned), an iterable materialized."""
    npartitions = positive_int("npartitions", npartitions, allow_none=True)
    if isinstance(items, db.Bag):
        if npartitions is None or npartitions == items.npartitions:
            return items
        return _bags.Bag.repartition(items, npartitions)
    if isinstance(items, (str, bytes, bytearray, memoryview)):
        raise TypeError(f"{what} must be an iterable, not a single {type(items).__name__}")
    materialized = list(items)
    if npartitions is None:
        npartitions = max(1, math.ceil(len(materialized) / (KEYS_PER_SLOT * concurrency)))
    return _bags.from_sequence(materialized, npartitions=npartitions)


class BagOptions(TypedDict, total=False):
    """The keywords [`read_blobs`][asyncbitstore.dask.read_blobs],
    [`write_blobs`][asyncbitstore.dask.write_blobs] and [`warm`][asyncbitstore.dask.warm] share.

    Every key may be left out. Any other keyword raises ``TypeError``.

    Attributes:
        concurrency: calls (fetches or writes) in flight per partition, as the store's bulk
            methods bound them; a positive int, else ``ValueError``. Default 64
            (``DEFAULT_CONCURRENCY``).
        npartitions: partitions of the input Bag. Default: an iterable (materialized in the
            client) gets about ``8 * concurrency`` items per partition; a Bag keeps its
            partitions unless this is given.
    """

    concurrency: int
    npartitions: int | None


def _bag(
    function: str, items: Iterable[Any] | db.Bag, what: str, options: BagOptions
) -> tuple[Any, int]:
    """The input of ``function`` as a Bag partitioned as ``options`` say, and the checked
    ``concurrency``."""
    check_keywords(function, options, BagOptions.__optional_keys__)
    concurrency = bulk.check_concurrency(options.get("concurrency", DEFAULT_CONCURRENCY))
    return _to_bag(items, options.get("npartitions"), concurrency, what), concurrency


def _map(
    partition: Callable[..., Any],
    store: Store,
    items: Iterable[Any] | db.Bag,
    what: str,
    options: BagOptions,
    function: str,
) -> db.Bag:
    """``partition(items, store, token, concurrency)`` on each partition of ``items``."""
    bag, concurrency = _bag(function, items, what, options)
    result: db.Bag = bag.map_partitions(partition, store, store_token(store), concurrency)
    return result


def _check_store(store: object, *, writes_by_digest: bool = False) -> Store:
    if not isinstance(store, Store):
        raise TypeError(f"store must be a Store, not {type(store).__name__}")
    if writes_by_digest and store.key_algorithm is None:
        raise TypeError(f"{store.name} has no write(); pass a content-addressed store or chain")
    return store


def read_blobs(store: Store, keys: Iterable[str] | db.Bag, **options: Unpack[BagOptions]) -> db.Bag:
    """A Bag of ``(key, bytes or None)``: every key read through ``store`` on the workers.

    Args:
        store: any store or chain; it is pickled into the graph (see the module docstring).
        keys: an iterable of keys (materialized in the client) or a Bag of keys.
        **options: see [`BagOptions`][asyncbitstore.dask.BagOptions]; ``concurrency`` bounds
            the store's ``iter_get``.

    Returns:
        A lazy Bag; a missing blob gives ``None``. Within a partition, pairs come in the
        order their fetches finished; a partition returns once the cache fills it caused are
        written (``flush``). A partition's blobs are held in memory together, so
        size partitions by ``blob size * keys per partition``.

    Raises:
        TypeError: ``store`` is not a store, or ``keys`` is a single string.

    Computing the Bag raises what ``iter_get`` raises for a key, for example
    [`StoreNotAvailable`][asyncbitstore.errors.StoreNotAvailable] when every tier that might have
    it failed.
    """
    return _map(_read_partition, _check_store(store), keys, "keys", options, "read_blobs")


def _read_partition(
    keys: Iterable[str], store: Store, token: str, concurrency: int
) -> list[tuple[str, bytes | None]]:
    batch = list(keys)  # a lazy partition is evaluated here, not in the event loop

    async def work(live: Store) -> list[tuple[str, bytes | None]]:
        pairs = [pair async for pair in live.iter_get(batch, concurrency=concurrency)]
        await _flush(live)  # a finished partition has filled its caches
        return pairs

    return _RUNTIME.call(token, store, work)


def write_blobs(
    store: Store, data: Iterable[bytes] | db.Bag, **options: Unpack[BagOptions]
) -> db.Bag:
    """A Bag of the keys of ``data``, each blob written with ``store.write`` on the workers.

    Args:
        store: a content-addressed store or chain (it has ``write(data) -> key``).
        data: a Bag of bytes-like blobs, or an iterable of them (materialized in the client).
        **options: see [`BagOptions`][asyncbitstore.dask.BagOptions].

    Returns:
        A lazy Bag of keys in the order of ``data``. Background replication to further
        ``write=True`` sources is flushed before a partition returns.
    """
    store = _check_store(store, writes_by_digest=True)
    return _map(_write_partition, store, data, "data", options, "write_blobs")


def _write_partition(
    blobs: Iterable[bytes], store: Store, token: str, concurrency: int
) -> list[str]:
    batch = list(blobs)

    async def work(live: Store) -> list[str]:
        keys = await bulk.map_list(live.write, batch, concurrency=concurrency)  # type: ignore[attr-defined]
        await _flush(live)
        return keys

    return _RUNTIME.call(token, store, work)


async def _flush(store: Store) -> None:
    await store.flush()


# -- warming and figures ------------------------------------------------------------------------


def warm(
    store: Store,
    keys: Iterable[str] | db.Bag,
    *,
    client: Any = None,
    **options: Unpack[BagOptions],
) -> ChainStats:
    """Prefetch ``keys`` into the caches of ``store`` across the cluster; return the figures.

    Each partition gets its keys through the chain (so hits below a cache fill the caches
    above it), then waits for its fills (``flush``). A key missing everywhere or whose tiers
    all failed is counted in the tier figures and skipped; other errors (an invalid key) fail.

    Args:
        store: a chain (it has ``stats`` and ``flush``).
        keys: as for [`read_blobs`][asyncbitstore.dask.read_blobs].
        client: the ``distributed.Client`` to compute on (default: Dask's current scheduler).
        **options: see [`BagOptions`][asyncbitstore.dask.BagOptions].

    Returns:
        The chain's figures summed over every partition that completed: hits, misses, errors
        and bytes per tier, and the fills done, failed, dropped and declined. A partition rerun
        after its worker died is counted once (the lost attempt's figures are gone with it).
    """
    store = _check_store(store)
    if store.chain_stats is None:
        raise TypeError(
            f"{store.name} keeps no ChainStats and has no fills to flush; "
            "pass a chain (a Composite)"
        )
    bag, concurrency = _bag("warm", keys, "keys", options)
    token = store_token(store)
    per_partition = functools.partial(
        _warm_partition, store=store, token=token, concurrency=concurrency
    )
    total = bag.reduction(per_partition, _merge_all)
    result: ChainStats = total.compute() if client is None else client.compute(total).result()
    return result


def _warm_partition(keys: Iterable[str], store: Store, token: str, concurrency: int) -> ChainStats:
    batch = list(keys)

    async def fetch(live: Store, key: str) -> None:
        with contextlib.suppress(NotFoundInStore, StoreNotAvailable):
            await live.get(key)  # a miss or an outage is counted in the tier figures

    async def work(live: Store) -> ChainStats:
        before: ChainStats = live.stats  # type: ignore[attr-defined]
        await bulk.drain(lambda key: fetch(live, key), batch, concurrency=concurrency)
        await _flush(live)
        after: ChainStats = live.stats  # type: ignore[attr-defined]
        return after.minus(before)

    return _RUNTIME.call(token, store, work)


def _merge_all(parts: Iterable[ChainStats | None]) -> ChainStats:
    """The sum of several chains' figures (tiers matched by name, in first-seen order)."""
    total = ChainStats()
    for part in parts:
        if part is not None:
            total.merge(part)
    return total


def _client(client: Any) -> Any:
    if client is not None:
        return client
    from distributed import get_client

    return get_client()


def worker_stats(store: Store, *, client: Any = None) -> ChainStats:
    """The figures of ``store``'s live copies on every worker, summed.

    These accumulate over every partition of the store a worker ran since it started (or since
    [`reset_worker_stats`][asyncbitstore.dask.reset_worker_stats]): call it after
    [`read_blobs`][asyncbitstore.dask.read_blobs] to see which tiers served it.
    Figures of a worker that died are lost with it.
    """
    token = store_token(_check_store(store))
    answers = _client(client).run(_stats_here, token)
    return _merge_all(answers.values())


def reset_worker_stats(store: Store, *, client: Any = None) -> None:
    """Zero the figures of ``store``'s live copies on every worker."""
    token = store_token(_check_store(store))
    _client(client).run(_reset_here, token)


def close_worker_stores(*, client: Any = None) -> None:
    """Close the live stores and the event loop of every worker (they restart on next use)."""
    _client(client).run(_close_here)


def _close_here() -> None:
    _RUNTIME.close()


def _stats_here(token: str) -> ChainStats | None:
    async def snapshot(live: Store) -> ChainStats | None:
        return live.chain_stats

    return _RUNTIME.peek(token, snapshot)


def _reset_here(token: str) -> None:
    async def reset(live: Store) -> None:
        live.reset_stats()

    _RUNTIME.peek(token, reset)
