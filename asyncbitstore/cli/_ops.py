"""What each ``bitstore`` command does, as coroutines over the configured chain.

Each returns the exit code (see `asyncbitstore._cli_run`); errors propagate to the runner,
which prints them as one line.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import IO, Any, TypeVar

import click

from .._core import bulk
from .._core.data import DEFAULT_CHUNK_SIZE
from .._core.progress import progress_bar
from ..composite import Composite, HashComposite
from ..config import ConfigError
from ..errors import BitstoreError
from ..meta import ObjectMeta
from ..stats import ChainStats
from ..store import Store
from . import _glob
from ._io import hash_input, open_input, read_chunks, write_stream
from ._keys import Entry, Keys, Tally, read_entries
from ._listing import addressed, described, listed, when
from ._paths import no_match
from ._range import ByteRange
from ._run import NOT_FOUND, OK, App, Failure, fail

R = TypeVar("R")

__all__ = ["cat", "exists", "get", "ls", "put", "rm", "warm", "warm_on_cluster"]


async def get(app: App, key: str, output: str | None, force: bool = False) -> int:
    """Stream one blob to ``output`` (a file) or to stdout (not a terminal unless ``force``)."""
    app.refuse_terminal(output, force)
    async with app.chain() as chain:
        await write_stream(chain.stream(key), output)
    return OK


async def cat(
    app: App, keys: Keys, byte_range: ByteRange | None = None, force: bool = False
) -> int:
    """Stream blobs to stdout one after another, in order; a failed one is reported against
    its line and skipped. With ``byte_range``, only those bytes of each blob (see `_range`)."""
    app.refuse_terminal(None, force)
    tally = Tally(app, "written")
    bar = progress_bar(app.progress, keys.source, "writing", total=keys.total, count_bytes=True)
    try:
        async with app.chain() as chain:
            async for entry in keys.entries:
                try:
                    key = entry.checked()
                    chunks = (
                        chain.stream(key) if byte_range is None else _ranged(chain, key, byte_range)
                    )
                    size = await write_stream(chunks, None)
                except (BitstoreError, Failure) as exc:
                    tally.failed(entry, exc)
                    size = 0
                else:
                    tally.ok()
                if bar is not None:
                    bar.update(1, size)
    finally:
        if bar is not None:
            bar.close()
    return tally.finish(keys.from_file)


async def _each(
    app: App,
    keys: Keys,
    work: Callable[[str], Awaitable[R]],
    label: str,
    *,
    size: Callable[[R], int] | None = None,
    ordered: bool = False,
) -> AsyncIterator[tuple[Entry, R | BaseException]]:
    """Yield ``(entry, result or exception)`` for every key, ``--concurrency`` at a time, with
    a progress bar labelled ``label`` (counting bytes when ``size`` says how many)."""
    bar = progress_bar(
        app.progress, keys.source, label, total=keys.total, count_bytes=size is not None
    )
    attempt = bulk.capture(work)

    async def one(entry: Entry) -> R | BaseException:
        if entry.problem is not None:
            return Failure(entry.problem)
        return await attempt(entry.key)

    pairs = bulk.imap(one, keys.entries, concurrency=app.concurrency, ordered=ordered)
    try:
        async with contextlib.aclosing(pairs):
            async for entry, result in pairs:
                if bar is not None:
                    bar.update(
                        1, 0 if size is None or isinstance(result, BaseException) else size(result)
                    )
                yield entry, result
    finally:
        if bar is not None:
            bar.close()


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

        # The bytes to store are known unless stdin is among the inputs.
        known = None if "-" in names else await asyncio.to_thread(_total_size, names)
        bar = progress_bar(app.progress, names, "storing", total_bytes=known, count_bytes=True)

        async def one(name: str) -> str:
            hasher = keyed.keys.new()
            file = await hash_input(name, hasher)
            try:
                key: str = hasher.hexdigest()
                size = await asyncio.to_thread(_length, file)
                await keyed.put(key, read_chunks(file), compress=compress)
            finally:
                await asyncio.to_thread(file.close)
            if bar is not None:
                bar.update(1, size)
            return key

        try:
            keys = await bulk.map_list(one, names, concurrency=app.concurrency)
        finally:
            if bar is not None:
                bar.close()
    app.emit([{"file": n, "key": k} for n, k in zip(names, keys, strict=True)], "\n".join(keys))
    return OK


def _total_size(names: list[str]) -> int:
    return sum(map(os.path.getsize, names))


def _length(file: IO[bytes]) -> int:
    """The size of ``file``, left open at its start."""
    size = file.seek(0, os.SEEK_END)
    file.seek(0)
    return size


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


async def exists(app: App, keys: Keys) -> int:
    """Say for each key, in order, whether the chain has it; exit 1 if any is missing."""
    tally = Tally(app, "present")
    found: dict[str, bool] = {}
    async with app.chain() as chain:
        answers = _each(app, keys, chain.exists, "checking", ordered=True)
        async for entry, answer in answers:
            if isinstance(answer, BaseException):
                tally.failed(entry, answer)
                continue
            if answer:
                tally.ok()
            else:
                tally.absent(entry)
            if app.json:
                found[entry.key] = answer
            else:
                click.echo(f"{'present' if answer else 'missing'}  {entry.key}")
    if app.json:
        app.emit(found)
    return tally.finish(keys.from_file)


async def rm(app: App, keys: Keys) -> int:
    """Delete blobs from every writable tier and cache (missing ones are fine)."""
    tally = Tally(app, "deleted")
    deleted: list[str] = []
    async with app.chain() as chain:
        async for entry, outcome in _each(app, keys, chain.delete, "deleting"):
            if isinstance(outcome, BaseException):
                tally.failed(entry, outcome)
            else:
                tally.ok()
                deleted.append(entry.key)
    app.emit({"deleted": deleted})
    return tally.finish(keys.from_file)


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
    listed_count = shown
    if app.json:
        app.emit(seen)
    if not listed_count:  # as `aws s3 ls`: nothing matched is exit 1, said on stderr
        app.note(f"nothing stored under {prefix!r}" if prefix else "nothing stored")
        return NOT_FOUND
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
    return (entry.key for entry in read_entries(file))


async def warm(app: App, keys: Keys) -> int:
    """Fetch every key through the chain, so the caches are filled; report hits per tier.

    A key whose fetch fails is reported against its line and the others carry on; the counts
    end the output, and the exit code follows `Tally.exit_code`.
    """
    tally = Tally(app, "warmed")
    size = 0
    started = time.perf_counter()
    async with app.chain() as chain:

        async def fetch(key: str) -> int:
            return len(await chain.get(key))

        async for entry, fetched in _each(app, keys, fetch, "warming", size=int):
            if isinstance(fetched, BaseException):
                tally.failed(entry, fetched)
            else:
                tally.ok()
                size += fetched
        await chain.flush()
        stats = chain.stats
    seconds = time.perf_counter() - started
    total = tally.done + tally.failures
    failed = tally.invalid + tally.unavailable
    summary: dict[str, Any] = {
        "keys": total,
        "found": tally.done,
        "missing": tally.missing,
        "failed": failed,
        "invalid": tally.invalid,
        "bytes": size,
        "seconds": round(seconds, 3),
        "hits": stats.hits,
        "fills": stats.as_dict()["fills"],
        "missing_keys": tally.missing_keys,
        "failed_keys": tally.failed_keys,
    }
    text = [
        f"warmed {tally.done} of {total} keys ({size} bytes) in {seconds:.1f} s; "
        f"{tally.missing} missing, {failed} failed",
        "hits per tier:",
        *(f"{hits:>10}  {name}" for name, hits in stats.hits.items()),
    ]
    app.emit(summary, "\n".join(text))
    return tally.finish()


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
