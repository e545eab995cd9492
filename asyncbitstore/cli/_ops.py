"""What each ``bitstore`` command does, as coroutines over the configured chain.

Each returns the exit code (see `asyncbitstore._cli_run`); errors propagate to the runner,
which prints them as one line.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import IO, Any

import click

from .._core import bulk
from .._core.data import DEFAULT_CHUNK_SIZE
from .._core.progress import progress_bar
from ..composite import Composite, HashComposite
from ..config import ConfigError
from ..errors import NotFoundInStore
from ..meta import ObjectMeta
from ..stats import ChainStats
from ..store import Store
from . import _glob
from ._io import hash_input, open_input, read_chunks, write_stream
from ._listing import addressed, described, listed, when
from ._paths import no_match
from ._range import ByteRange
from ._run import NOT_FOUND, OK, App, fail

__all__ = ["cat", "exists", "get", "ls", "put", "rm", "warm", "warm_on_cluster"]


async def get(app: App, key: str, output: str | None) -> int:
    """Stream one blob to ``output`` (a file) or to stdout."""
    async with app.chain() as chain:
        await write_stream(chain.stream(key), output)
    return OK


async def cat(app: App, keys: Iterable[str], byte_range: ByteRange | None = None) -> int:
    """Stream blobs to stdout one after another; a missing one is reported and skipped.

    With ``byte_range``, only those bytes of each blob (see `_range`).
    """
    code = OK
    async with app.chain() as chain:
        for key in keys:
            try:
                if byte_range is None:
                    await write_stream(chain.stream(key), None)
                else:
                    await write_stream(_ranged(chain, key, byte_range), None)
            except NotFoundInStore as exc:
                code = app.report(exc)
    return code


async def _ranged(store: Store, key: str, byte_range: ByteRange) -> AsyncIterator[bytes]:
    """The bytes of ``key`` in ``byte_range``, read a chunk at a time."""
    size = await store.size(key)
    bounds = byte_range.bounds(size)
    if bounds is None:
        fail(f"range {byte_range} starts past the end of {key!r} ({size} bytes); start lower")
    position, stop = bounds
    while position < stop:
        chunk = await store.get_range(key, position, min(stop, position + DEFAULT_CHUNK_SIZE))
        if not chunk:  # the blob shrank since its size was read
            return
        yield chunk
        position += len(chunk)


def _keyed(chain: Composite) -> HashComposite:
    if not isinstance(chain, HashComposite):
        fail(
            "put needs --key KEY for a chain whose keys are names or URIs "
            "(`bitstore put --key img/1.png FILE`); "
            'a content-addressed chain ([chain] kind = "sha1" or "hash") names blobs itself'
        )
    return chain


async def put(
    app: App, names: list[str], key: str | None = None, compress: str | None = None
) -> int:
    """Store files (``-``: stdin) under their digests, streaming; print the keys in order.

    With ``key`` (named and plain chains), store the one file under that key instead. With
    ``compress`` (a codec name), each blob is stored compressed; its key is still the digest
    of the file's bytes.
    """
    if names.count("-") > 1:
        fail("stdin (-) can be given only once; save it to a file first")
    if key is not None:
        return await _put_named(app, names, key, compress)
    async with app.chain() as chain:
        keyed = _keyed(chain)

        async def one(name: str) -> str:
            hasher = keyed.keys.new()
            file = await hash_input(name, hasher)
            try:
                key: str = hasher.hexdigest()
                await keyed.put(key, read_chunks(file), compress=compress)
            finally:
                await asyncio.to_thread(file.close)
            return key

        bar = progress_bar(app.progress, names, "put")
        try:
            keys = await bulk.map_list(one, names, concurrency=app.concurrency, progress=bar)
        finally:
            if bar is not None:
                bar.close()
    app.emit([{"file": n, "key": k} for n, k in zip(names, keys, strict=True)], "\n".join(keys))
    return OK


async def _put_named(app: App, names: list[str], key: str, compress: str | None) -> int:
    """Store one file under ``key`` in a named or plain chain; print the key."""
    if len(names) != 1:
        fail(f"--key names one blob, and {len(names)} files were given; put them one at a time")
    async with app.chain() as chain:
        if isinstance(chain, HashComposite):
            fail(
                "--key does not apply to a content-addressed chain, whose keys are the blobs' "
                "digests; leave --key out, and put prints each key"
            )
        chain.check_uri(key)
        file = await open_input(names[0])
        try:
            await chain.put(key, read_chunks(file), compress=compress)
        finally:
            await asyncio.to_thread(file.close)
    app.emit([{"file": names[0], "key": key}], key)
    return OK


async def exists(app: App, keys: list[str]) -> int:
    """Say for each key whether the chain has it; exit 1 if any is missing."""
    async with app.chain() as chain:
        found = await chain.exists_many(keys, concurrency=app.concurrency, progress=app.progress)
    lines = [f"{'present' if found[key] else 'missing'}  {key}" for key in keys]
    app.emit(found, "\n".join(lines))
    return OK if all(found.values()) else NOT_FOUND


async def rm(app: App, keys: list[str]) -> int:
    """Delete blobs from every writable tier and cache (missing ones are fine)."""
    async with app.chain() as chain:
        await chain.delete_many(keys, concurrency=app.concurrency, progress=app.progress)
    app.emit({"deleted": keys})
    return OK


async def ls(app: App, prefix: str, flat: bool = False, long: bool = False) -> int:
    """The keys under ``prefix`` (or matching it, when it has wildcards), streamed.

    A key prefix lists the chain's sources (see ``Composite.list``); a URI or a local path
    lists that store, whichever tier it is. With ``long``, each blob's size and modification
    time too (a sub-prefix shows ``PRE``).
    """
    seen: list[Any] = []
    shown = 0
    async with addressed(app, prefix, "PREFIX") as target:
        entries = listed(target, flat=flat)
        rows = described(target.store, entries, app.concurrency) if long else _bare(entries)
        async for uri, meta in rows:
            if long and meta is None and not uri.endswith("/"):
                continue  # deleted since it was listed
            shown += 1
            row = _row(uri, meta) if long else uri
            if app.json:
                seen.append(row)
            else:
                click.echo(_long_line(uri, meta) if long else uri)
    if _glob.has_magic(prefix) and not shown:
        no_match("PREFIX", prefix)
    if app.json:
        app.emit(seen)
    return OK


async def _bare(uris: AsyncIterator[str]) -> AsyncIterator[tuple[str, ObjectMeta | None]]:
    async for uri in uris:
        yield uri, None


def _row(uri: str, meta: ObjectMeta | None) -> dict[str, Any]:
    if meta is None:
        return {"key": uri, "size": None, "last_modified": None}
    return {"key": uri, "size": meta.size, "last_modified": when(meta.last_modified)}


def _long_line(uri: str, meta: ObjectMeta | None) -> str:
    if meta is None:
        return f"{'PRE':>12}  {'':25}  {uri}"
    return f"{meta.size:>12}  {when(meta.last_modified) or '-':25}  {uri}"


def read_keys(file: IO[str]) -> Iterator[str]:
    """The keys in a keys file: one per line; blank lines and ``#`` comments skipped."""
    for line in file:
        key = line.strip()
        if key and not key.startswith("#"):
            yield key


async def warm(app: App, keys: Iterable[str]) -> int:
    """Fetch every key through the chain, so the caches are filled; report hits per tier.

    A key whose fetch fails does not stop the others: the failed keys are listed, the first
    failure is reported, and its exit code is the command's.
    """
    found = size = 0
    missing: list[str] = []
    failed: list[str] = []
    first_error: BaseException | None = None
    started = time.perf_counter()
    async with app.chain() as chain:
        results = chain.iter_get(
            keys, concurrency=app.concurrency, progress=app.progress, return_exceptions=True
        )
        async with contextlib.aclosing(results):  # type: ignore[type-var]  # an async generator
            async for key, data in results:
                if data is None:
                    missing.append(key)
                elif isinstance(data, BaseException):
                    failed.append(key)
                    first_error = first_error or data
                else:
                    found += 1
                    size += len(data)
        await chain.flush()
        stats = chain.stats
    seconds = time.perf_counter() - started
    total = found + len(missing) + len(failed)
    summary: dict[str, Any] = {
        "keys": total,
        "found": found,
        "missing": len(missing),
        "failed": len(failed),
        "bytes": size,
        "seconds": round(seconds, 3),
        "hits": stats.hits,
        "fills": stats.as_dict()["fills"],
        "missing_keys": missing,
        "failed_keys": failed,
    }
    text = [
        f"warmed {found} of {total} keys ({size} bytes) in {seconds:.1f} s; "
        f"{len(missing)} missing, {len(failed)} failed",
        "hits per tier:",
        *(f"{hits:>10}  {name}" for name, hits in stats.hits.items()),
    ]
    app.emit(summary, "\n".join(text))
    if first_error is not None:
        return app.report(first_error)
    return NOT_FOUND if missing else OK


async def warm_on_cluster(app: App, keys: list[str], scheduler: str) -> int:
    """``warm`` on a Dask cluster: the chain is pickled to the workers; figures are merged."""
    try:
        from distributed import Client

        from ..dask import warm as cluster_warm
    except ImportError:
        raise ConfigError(
            "--scheduler needs Dask: pip install 'asyncbitstore[dask]'", origin="--scheduler"
        ) from None
    started = time.perf_counter()
    async with app.chain() as chain:

        def run() -> ChainStats:
            connect: Any = Client  # distributed ships no type information
            with connect(scheduler, timeout=30) as client:
                return cluster_warm(chain, keys, concurrency=app.concurrency, client=client)

        stats = await asyncio.to_thread(run)
    seconds = time.perf_counter() - started
    summary = {
        "keys": len(keys),
        "seconds": round(seconds, 3),
        "scheduler": scheduler,
        "hits": stats.hits,
        "fills": stats.as_dict()["fills"],
    }
    text = [
        f"warmed {len(keys)} keys on {scheduler} in {seconds:.1f} s",
        "hits per tier:",
        *(f"{hits:>10}  {name}" for name, hits in stats.hits.items()),
    ]
    app.emit(summary, "\n".join(text))
    return OK
