"""``bitstore cp`` and ``bitstore sync``: streamed copies between two raw stores.

A small stand-in for a general ``transfer`` helper: blobs are streamed (``stream`` into
``put``), at most ``--concurrency`` at once, from stores built for the URIs by the
configuration (a URI under a tier's prefix gets that tier's options, e.g. its endpoint).
"""

from __future__ import annotations

import posixpath
from collections.abc import AsyncIterator
from typing import Any

from . import _bulk
from ._cli_run import OK, App, fail
from .errors import NotFoundInStore
from .progress import progress_bar
from .store import Store

__all__ = ["copy"]


async def _counted(first: bytes, chunks: AsyncIterator[bytes], tally: list[int]) -> Any:
    """``first`` then the rest of ``chunks``, adding their sizes to ``tally[0]``."""
    chunk: bytes | None = first
    while chunk is not None:
        tally[0] += len(chunk)
        yield chunk
        chunk = await anext(chunks, None)


async def _copy_one(src: Store, dst: Store, pair: tuple[str, str], tally: list[int]) -> None:
    source_uri, target_uri = pair
    chunks = src.stream(source_uri)
    try:
        # The first chunk is read before put: a missing source must not look like a failed
        # write (some backends report any error of the data they are given as their own).
        first = await anext(chunks, b"")
        await dst.put(target_uri, _counted(first, chunks, tally))
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]


async def _same_size(src: Store, dst: Store, pair: tuple[str, str]) -> bool:
    try:
        return await dst.size(pair[1]) == await src.size(pair[0])
    except NotFoundInStore:
        return False


async def _pairs(src: Store, source: str, target: str) -> AsyncIterator[tuple[str, str]]:
    async for uri in src.list(source):
        yield uri, target + uri[len(source) :]


async def copy(app: App, source: str, target: str, *, sync: bool) -> int:
    """Copy ``source`` to ``target``; a source ending in ``/`` (or ``sync``) copies every blob
    under that prefix. ``sync`` skips blobs the target already has with the same size."""
    if (sync or source.endswith("/")) and not target.endswith("/"):
        fail(f"{target!r} must end with '/' to receive the blobs under {source!r}")
    src, dst = app.config.raw_store(source), app.config.raw_store(target)
    many = sync or source.endswith("/")
    if not many and target.endswith("/"):
        target += posixpath.basename(source)
    tally, counts = [0], {"copied": 0, "skipped": 0}

    async def one(pair: tuple[str, str]) -> None:
        if sync and await _same_size(src, dst, pair):
            counts["skipped"] += 1
            return
        await _copy_one(src, dst, pair, tally)
        counts["copied"] += 1

    pairs: Any = _pairs(src, source, target) if many else [(source, target)]
    bar = progress_bar(app.progress and many, None, "sync" if sync else "cp")
    try:
        async with src, dst:
            await _bulk.drain(one, pairs, concurrency=app.concurrency, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    summary = {**counts, "bytes": tally[0]}
    app.emit(summary, f"{counts['copied']} copied, {counts['skipped']} skipped, {tally[0]} bytes")
    return OK
