"""``bitstore cp``, ``sync`` and ``mv``: streamed copies between raw stores and local folders.

Arguments are places as typed (see `_paths`): local paths from the working folder, URIs of any
backend, ``-`` for stdin (as the one source) or stdout (as the target). The stores are built
for the URIs by the configuration (a URI under a tier's prefix gets that tier's backend
options, e.g. its endpoint), and [`transfer`][asyncbitstore.transfer.transfer] copies,
``--concurrency`` blobs at once.

What is copied, and where it goes:

- one blob ``SOURCE`` to ``TARGET``; a ``TARGET`` that is a prefix (ends in ``/``, or is a local
  folder) receives it under its name;
- a prefix (``SOURCE/``, or any ``SOURCE`` with ``-r`` or in ``sync``): every blob under it,
  at the same relative name under ``TARGET``;
- a pattern with wildcards (see `_glob`): every match, named relative to the folder of the
  pattern's literal part;
- several sources: each of these into ``TARGET``, which is then a prefix.
"""

from __future__ import annotations

import asyncio
import os
import posixpath
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

from ..errors import BitstoreError, NotFoundInStore
from ..store import Store
from ..transfer import MAX_ERRORS_KEPT, TransferResult, transfer
from . import _glob
from ._io import open_input, read_chunks, write_stream
from ._paths import STDIO, Place, named, no_match, place, wrong
from ._run import NOT_FOUND, OK, UNAVAILABLE, App, fail

__all__ = ["copy"]

_SHOWN_FAILURES = 5


@dataclass
class _Totals(TransferResult):
    """The sum of the transfers of one command: their counts, the sources a move removed,
    and every failure in the order it came."""

    removed: int = 0
    failures: list[BaseException] = field(default_factory=list)

    def add(self, result: TransferResult) -> None:
        for count in _COUNTS:
            setattr(self, count, getattr(self, count) + getattr(result, count))
        self.failures.extend(result.errors.values())


_COUNTS = ("copied", "skipped", "failed", "bytes")


@dataclass(frozen=True)
class _Job:
    """One source argument: its place, and how its blobs are found."""

    source: Place
    kind: str  # "one" (a blob), "prefix" (everything under it) or "glob"


async def copy(
    app: App,
    sources: Iterable[str],
    target: str,
    *,
    sync: bool = False,
    recursive: bool = False,
    move: bool = False,
) -> int:
    """Copy (or with ``move``, move) ``sources`` to ``target``; return the exit code.

    ``sync`` copies the blobs under each source prefix that the target lacks or holds with
    another size; ``recursive`` takes every source as a prefix.
    """
    args = list(sources)
    if STDIO in args or target == STDIO:
        return await _stdio(app, args, target, recursive or sync or move)
    jobs = [_job(place(arg, "SOURCE"), recursive or sync) for arg in args]
    dst = place(target, "TARGET")
    if len(jobs) > 1 or any(job.kind != "one" for job in jobs):
        if not dst.folder and (len(jobs) > 1 or any(job.kind == "glob" for job in jobs)):
            fail(f"{named('TARGET', target)}: several blobs go into a prefix; end it with '/'")
        dst = dst.inside()
    elif dst.folder:
        dst = dst.child(posixpath.basename(jobs[0].source.uri))
    for job in jobs:
        _check_apart(job, dst)
    totals = _Totals()
    dst_store = dst.store(app)
    async with dst_store:
        for job in jobs:
            await _run_job(app, job, dst, dst_store, totals, sync=sync, move=move)
    if len(jobs) == 1 and jobs[0].kind == "one" and totals.failures:
        raise _blamed(totals.failures[0], jobs[0].source, dst)  # one blob: its error is the answer
    return _summary(app, totals, move=move)


def _job(source: Place, recursive: bool) -> _Job:
    if _glob.has_magic(source.uri):
        return _Job(source, "glob")
    if source.local and not os.path.exists(source.uri):
        fail(f"{named('SOURCE', source.arg)}: no such file or folder ({source.uri})", NOT_FOUND)
    is_file = source.local and os.path.isfile(source.uri)
    if source.uri.endswith("/") or (recursive and not is_file):
        return _Job(source.inside(), "prefix")
    return _Job(source, "one")


def _check_apart(job: _Job, dst: Place) -> None:
    """Refuse a copy onto itself, or into the prefix it reads (a move would delete what it
    wrote; a copy could read its own output)."""
    uri = job.source.uri
    if job.kind == "one":
        same = dst.uri == uri
    elif job.kind == "prefix":
        same = dst.uri.startswith(uri)
    else:
        literal = _glob.literal_prefix(uri)
        base = literal[: literal.rfind("/") + 1]
        same = dst.uri == base or ("**" in uri and dst.uri.startswith(base))
    if same:
        fail(
            f"{named('TARGET', dst.arg)} is {named('SOURCE', job.source.arg)} or inside it; "
            "give a target elsewhere"
        )


async def _pairs(job: _Job, src: Store, dst: Place) -> AsyncIterator[tuple[str, str]]:
    """The (source URI, target URI) pairs of ``job``, streamed from the listing."""
    uri = job.source.uri
    if job.kind == "one":
        yield uri, dst.uri if not dst.uri.endswith("/") else dst.uri + posixpath.basename(uri)
        return
    if job.kind == "prefix":
        base, found = uri, src.list(uri)
    else:  # names relative to the folder holding the pattern's first wildcard
        literal = _glob.literal_prefix(uri)
        base, found = literal[: literal.rfind("/") + 1], _glob.matches(src, uri)
    async for each in found:
        yield each, dst.uri + each[len(base) :]


async def _run_job(
    app: App, job: _Job, dst: Place, dst_store: Store, totals: _Totals, *, sync: bool, move: bool
) -> None:
    src_store = job.source.store(app)
    before = totals.copied + totals.skipped + totals.failed
    async with src_store:
        pairs = _pairs(job, src_store, dst)
        try:
            if move:
                await _move(app, src_store, dst_store, pairs, totals)
            else:
                result = await transfer(
                    src_store,
                    dst_store,
                    pairs,
                    concurrency=app.concurrency,
                    skip_existing="size" if sync else False,
                    progress=app.progress and job.kind != "one",
                )
                totals.add(result)
        except BitstoreError as exc:  # the listing failed: the source is the one to check
            raise wrong(job.source, exc) from exc
    if job.kind == "glob" and totals.copied + totals.skipped + totals.failed == before:
        no_match("SOURCE", job.source.arg)


async def _batches(
    pairs: AsyncIterator[tuple[str, str]], size: int
) -> AsyncIterator[list[tuple[str, str]]]:
    batch: list[tuple[str, str]] = []
    async for pair in pairs:
        batch.append(pair)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


async def _move(
    app: App,
    src: Store,
    dst: Store,
    pairs: AsyncIterator[tuple[str, str]],
    totals: _Totals,
) -> None:
    """Copy ``pairs`` a batch at a time, then delete the sources copied whole. A batch is no
    larger than the errors a transfer keeps, so every failed blob is known and kept."""
    async for batch in _batches(pairs, MAX_ERRORS_KEPT):
        result = await transfer(src, dst, batch, concurrency=app.concurrency, progress=False)
        totals.add(result)
        done = [uri for uri, _ in batch if uri not in result.errors]
        await src.delete_many(done, concurrency=app.concurrency)
        totals.removed += len(done)


async def _stdio(app: App, args: list[str], target: str, many: bool) -> int:
    """``cp - TARGET`` (stdin to one blob) and ``cp SOURCE -`` (one blob to stdout)."""
    if many or len(args) != 1 or args[0] == target:
        fail(
            "'-' copies one blob: `cp - TARGET` reads stdin, `cp SOURCE -` writes stdout; "
            "it takes no -r, sync, mv or other sources"
        )
    if target == STDIO:
        src = place(args[0], "SOURCE")
        if _glob.has_magic(src.uri) or src.uri.endswith("/"):
            fail(f"{named('SOURCE', src.arg)}: stdout takes one blob, not a prefix or a pattern")
        async with src.store(app) as store:
            try:
                await write_stream(store.stream(src.uri), None)
            except BitstoreError as exc:
                raise wrong(src, exc) from exc
        return OK
    dst = place(target, "TARGET")
    if dst.folder:
        fail(f"{named('TARGET', target)}: stdin has no name; give the full key (not a prefix)")
    file = await open_input(STDIO)
    try:
        async with dst.store(app) as store:
            try:
                await store.put(dst.uri, read_chunks(file))
            except BitstoreError as exc:
                raise wrong(dst, exc) from exc
    finally:
        await asyncio.to_thread(file.close)
    return OK


def _blamed(exc: BaseException, src: Place, dst: Place) -> BaseException:
    """The error of a one-blob copy, attributed to the argument it is about."""
    uri = getattr(exc, "uri", None)
    if isinstance(exc, NotFoundInStore) or uri == src.uri:
        return wrong(src, exc)
    if uri is not None and uri.startswith(dst.uri.rstrip("/")):
        return wrong(dst, exc)
    return exc


def _summary(app: App, totals: _Totals, *, move: bool) -> int:
    """Print the counts, and one line per failed blob (the first few); exit 1 if all the
    failures were missing blobs, 3 if any was another error."""
    summary = {"copied": totals.copied, "skipped": totals.skipped, "failed": totals.failed}
    if move:
        summary["removed"] = totals.removed
    text = ", ".join(f"{value} {name}" for name, value in summary.items())
    summary["bytes"] = totals.bytes
    app.emit(summary, f"{text}, {totals.bytes} bytes")
    for error in totals.failures[:_SHOWN_FAILURES]:
        app.report(error)
    if not totals.failed:
        return OK
    if all(isinstance(e, NotFoundInStore) for e in totals.failures):
        return NOT_FOUND
    return UNAVAILABLE
