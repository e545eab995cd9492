"""``bitstore cp`` and ``bitstore sync``: streamed copies between two raw stores.

The stores are built for the URIs by the configuration (a URI under a tier's prefix gets that
tier's backend options, e.g. its endpoint), and [`transfer`][asyncbitstore.transfer.transfer]
copies,
``--concurrency`` blobs at once.
"""

from __future__ import annotations

import posixpath

from ..errors import NotFoundInStore
from ..transfer import TransferResult, transfer
from ._run import NOT_FOUND, OK, UNAVAILABLE, App, fail

__all__ = ["copy"]

_SHOWN_FAILURES = 5


async def copy(app: App, source: str, target: str, *, sync: bool) -> int:
    """Copy ``source`` to ``target``; a source ending in ``/`` (or ``sync``) copies every blob
    under that prefix. ``sync`` skips blobs the target already has with the same size."""
    many = sync or source.endswith("/")
    if many and not target.endswith("/"):
        fail(f"{target!r} must end with '/' to receive the blobs under {source!r}")
    if not many and target.endswith("/"):
        target += posixpath.basename(source)
    src, dst = app.config.raw_store(source), app.config.raw_store(target)
    async with src, dst:
        if many:
            result = await transfer(
                src,
                dst,
                source,
                dst_prefix=target,
                concurrency=app.concurrency,
                skip_existing="size" if sync else False,
                progress=app.progress,
            )
        else:
            result = await transfer(src, dst, [(source, target)], concurrency=1)
            if result.errors:
                raise next(iter(result.errors.values()))  # one blob: its error is the answer
    summary = {"copied": result.copied, "skipped": result.skipped, "failed": result.failed}
    summary["bytes"] = result.bytes
    text = ", ".join(f"{value} {name}" for name, value in summary.items() if name != "bytes")
    app.emit(summary, f"{text}, {result.bytes} bytes")
    return _report_failures(app, result)


def _report_failures(app: App, result: TransferResult) -> int:
    """One line per failed blob (the first few); exit 1 if all were missing, else 3."""
    for error in list(result.errors.values())[:_SHOWN_FAILURES]:
        app.report(error)
    if not result.failed:
        return OK
    if all(isinstance(e, NotFoundInStore) for e in result.errors.values()):
        return NOT_FOUND
    return UNAVAILABLE
